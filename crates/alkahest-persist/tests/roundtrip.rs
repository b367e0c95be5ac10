//! Round trips: random DAGs, whole pools, deep chains, special constants,
//! files. Structure is compared by content key and printed text; sharing by
//! node counts.

mod common;

use alkahest_core::{ExprId, ExprPool, Func, to_string};
use alkahest_persist::{
    FLAG_WHOLE_POOL, from_bytes, load, load_into, pool_to_bytes, save, save_pool, to_bytes,
};
use proptest::prelude::*;

fn assert_same(a: &ExprPool, ra: &[ExprId], b: &ExprPool, rb: &[ExprId]) {
    assert_eq!(ra.len(), rb.len());
    for (&x, &y) in ra.iter().zip(rb) {
        assert_eq!(a.key(x).unwrap(), b.key(y).unwrap());
        assert_eq!(to_string(a, x), to_string(b, y));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_dags_round_trip(
        steps in proptest::collection::vec(common::step(), 1..80),
        picks in proptest::collection::vec(any::<usize>(), 1..6),
    ) {
        let pool = ExprPool::new();
        let ids = common::build(&pool, &steps);
        let roots: Vec<ExprId> = picks.iter().map(|p| ids[p % ids.len()]).collect();
        let bytes = to_bytes(&pool, &roots).unwrap();

        // Into a fresh pool: same structure, and exactly the reachable
        // nodes (sharing kept, nothing duplicated).
        let (fresh, fresh_roots) = from_bytes(&bytes).unwrap();
        assert_same(&pool, &roots, &fresh, &fresh_roots);
        prop_assert_eq!(fresh.len(), pool.view().reachable(&roots).len());

        // Into a pool that already has some of the nodes: shared, not copied.
        let other = ExprPool::new();
        let x = other.symbol("x").unwrap();
        let three = other.integer(3).unwrap();
        other.add(&[x, three]).unwrap();
        let before = other.len();
        let other_roots = load_into(&other, &bytes).unwrap();
        assert_same(&pool, &roots, &other, &other_roots);
        let (fresh_all, _) = from_bytes(&bytes).unwrap();
        prop_assert!(other.len() <= before + fresh_all.len());

        // Into the original pool: every node is already there.
        let len = pool.len();
        let again = load_into(&pool, &bytes).unwrap();
        prop_assert_eq!(&again, &roots);
        prop_assert_eq!(pool.len(), len);

        // Writing is deterministic.
        prop_assert_eq!(to_bytes(&fresh, &fresh_roots).unwrap(), bytes);
    }

    #[test]
    fn whole_pool_keeps_ids(steps in proptest::collection::vec(common::step(), 0..60)) {
        let pool = ExprPool::new();
        common::build(&pool, &steps);
        let bytes = pool_to_bytes(&pool);
        prop_assert_eq!(u32::from_le_bytes(bytes[12..16].try_into().unwrap()), FLAG_WHOLE_POOL);
        let (copy, roots) = from_bytes(&bytes).unwrap();
        prop_assert_eq!(copy.len(), pool.len());
        for i in 0..pool.len() as u32 {
            prop_assert_eq!(copy.node(ExprId(i)).unwrap(), pool.node(ExprId(i)).unwrap());
            prop_assert_eq!(copy.key(ExprId(i)).unwrap(), pool.key(ExprId(i)).unwrap());
        }
        // Roots are exactly the nodes that are nobody's child.
        let v = pool.view();
        let mut is_child = vec![false; v.len()];
        for i in 0..v.len() as u32 {
            for c in v.node(ExprId(i)).children() {
                is_child[c.index()] = true;
            }
        }
        let sinks: Vec<ExprId> = (0..v.len() as u32).map(ExprId).filter(|i| !is_child[i.index()]).collect();
        prop_assert_eq!(roots, sinks);
    }
}

#[test]
fn special_constants_are_bit_exact() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let mut roots = Vec::new();
    for bits in [
        0u64,
        (-0.0f64).to_bits(),
        f64::NAN.to_bits(),
        0x7ff0_0000_0000_0001, // signalling NaN payload
        0xfff8_0000_dead_beef, // negative NaN with payload
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        1,                               // smallest subnormal
        f64::MIN_POSITIVE.to_bits() - 1, // largest subnormal
    ] {
        let f = pool.float(f64::from_bits(bits)).unwrap();
        roots.push(f);
        roots.push(pool.mul(&[f, x]).unwrap());
    }
    let big =
        num_bigint::BigInt::parse_bytes(b"-123456789012345678901234567890123456789", 10).unwrap();
    roots.push(pool.integer(big.clone()).unwrap());
    roots.push(pool.rational(big, 1_000_000_007).unwrap());
    roots.push(pool.integer(i64::MIN).unwrap());
    roots.push(pool.symbol("ünïcode_λ").unwrap());
    let bytes = to_bytes(&pool, &roots).unwrap();
    let (copy, copy_roots) = from_bytes(&bytes).unwrap();
    assert_same(&pool, &roots, &copy, &copy_roots);
    for (&a, &b) in roots.iter().zip(&copy_roots) {
        assert_eq!(pool.node(a).unwrap(), copy.node(b).unwrap());
    }
}

#[test]
fn hundred_thousand_deep_chain() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let mut e = x;
    for i in 0..100_000 {
        e = if i % 2 == 0 {
            pool.func(Func::Sin, &[e]).unwrap()
        } else {
            pool.mul(&[e, y]).unwrap()
        };
    }
    let bytes = to_bytes(&pool, &[e]).unwrap();
    let (copy, roots) = from_bytes(&bytes).unwrap();
    assert_eq!(copy.len(), pool.len());
    assert_eq!(copy.key(roots[0]).unwrap(), pool.key(e).unwrap());
    let target = ExprPool::new();
    let r = load_into(&target, &bytes).unwrap();
    assert_eq!(target.key(r[0]).unwrap(), pool.key(e).unwrap());
    assert_eq!(target.len(), pool.len());
}

/// 20k nodes where every node uses the previous two: the printed tree is
/// astronomically large, the file stays a few bytes per node.
pub fn shared_dag(nodes: usize) -> (ExprPool, ExprId) {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let mut v = vec![x, y];
    let mut i = 0usize;
    while pool.len() < nodes {
        let (a, b) = (v[v.len() - 1], v[v.len() - 2]);
        // Every kept node is a function or a power, so sums and products
        // never flatten into wide nodes: each step adds 2-3 small nodes.
        let e = match i % 4 {
            0 => pool.add(&[a, b]).and_then(|s| pool.func(Func::Sin, &[s])),
            1 => pool.mul(&[a, b]).and_then(|m| pool.func(Func::Cos, &[m])),
            2 => pool
                .integer(i as i64)
                .and_then(|k| pool.mul(&[k, a]))
                .and_then(|m| pool.add(&[m, b]))
                .and_then(|s| pool.func(Func::Exp, &[s])),
            _ => pool.add(&[a, x]).and_then(|s| pool.pow(s, b)),
        }
        .unwrap();
        v.push(e);
        i += 1;
    }
    (pool, *v.last().unwrap())
}

#[test]
fn shared_dag_stays_small() {
    let (pool, root) = shared_dag(20_000);
    let bytes = to_bytes(&pool, &[root]).unwrap();
    let n = pool.view().reachable(&[root]).len();
    assert!(n >= 19_000, "{n}");
    // Tag + count + two one- or two-byte back-references per node.
    assert!(bytes.len() <= 6 * n, "{} bytes for {n} nodes", bytes.len());
    let (copy, roots) = from_bytes(&bytes).unwrap();
    assert_eq!(copy.len(), n);
    assert_eq!(copy.key(roots[0]).unwrap(), pool.key(root).unwrap());
}

#[test]
fn files_round_trip_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let pool = ExprPool::new();
    let ids = common::build(
        &pool,
        &(0..50)
            .map(|i| common::Step {
                op: (i % 12) as u8,
                a: i * 7,
                b: i * 3 + 1,
                c: i,
                k: i as i64 % 5 - 2,
            })
            .collect::<Vec<_>>(),
    );
    let roots = [ids[ids.len() - 1], ids[ids.len() / 2]];
    let path = dir.path().join("sub.alkpool");
    save(&pool, &roots, &path).unwrap();
    // Overwrite in place: still atomic, still one file.
    save(&pool, &roots, &path).unwrap();
    let (copy, copy_roots) = load(&path).unwrap();
    assert_same(&pool, &roots, &copy, &copy_roots);

    let whole = dir.path().join("whole.alkpool");
    save_pool(&pool, &whole).unwrap();
    let (copy, _) = load(&whole).unwrap();
    assert_eq!(copy.len(), pool.len());

    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "temporary files left behind: {names:?}");
    assert!(matches!(
        load(dir.path().join("missing")),
        Err(alkahest_persist::Error::Io { .. })
    ));
}

#[test]
fn unknown_root_is_an_error() {
    let pool = ExprPool::new();
    assert!(matches!(
        to_bytes(&pool, &[ExprId(5)]),
        Err(alkahest_persist::Error::UnknownId(5))
    ));
}

#[test]
fn empty_and_repeated_roots() {
    let empty = ExprPool::new();
    let (p, r) = from_bytes(&pool_to_bytes(&empty)).unwrap();
    assert!(p.is_empty() && r.is_empty());
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let s = pool.func(Func::Sin, &[x]).unwrap();
    let (p, r) = from_bytes(&to_bytes(&pool, &[]).unwrap()).unwrap();
    assert!(p.is_empty() && r.is_empty());
    let (p, r) = from_bytes(&to_bytes(&pool, &[s, x, s]).unwrap()).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0], r[2]);
    assert_same(&pool, &[s, x, s], &p, &r);
}

#[test]
fn concurrent_loads_into_one_pool_agree() {
    let (src, root) = shared_dag(3_000);
    let bytes = to_bytes(&src, &[root]).unwrap();
    let pool = ExprPool::new();
    let y = pool.symbol("y").unwrap();
    pool.func(Func::Cos, &[y]).unwrap();
    let results: Vec<Vec<ExprId>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| load_into(&pool, &bytes).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(pool.key(results[0][0]).unwrap(), src.key(root).unwrap());
    // y is shared with the loaded DAG; cos(y) is extra.
    assert_eq!(pool.len(), src.view().reachable(&[root]).len() + 1);
}
