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
                op: (i % common::OPS as usize) as u8,
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

/// One application of every function (conditions and `where` included), on
/// symbol arguments, or on conditions where conditions are expected.
fn every_function(pool: &ExprPool) -> Vec<(Func, ExprId)> {
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let z = pool.symbol("z").unwrap();
    let lt = pool.func(Func::Lt, &[x, y]).unwrap();
    let ge = pool.func(Func::Ge, &[y, z]).unwrap();
    Func::ALL
        .into_iter()
        .map(|f| {
            let args: Vec<ExprId> = f
                .info()
                .args
                .iter()
                .zip([(x, lt), (y, ge), (z, lt)])
                .map(|(k, (num, cond))| match k {
                    alkahest_core::Kind::Number => num,
                    alkahest_core::Kind::Bool => cond,
                })
                .collect();
            (f, pool.func(f, &args).unwrap())
        })
        .collect()
}

#[test]
fn every_function_round_trips() {
    let pool = ExprPool::new();
    let apps = every_function(&pool);
    let mut roots: Vec<ExprId> = apps.iter().map(|&(_, e)| e).collect();
    // Nested: a piecewise over the new functions, and functions of `where`.
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let numbers: Vec<ExprId> = apps
        .iter()
        .filter(|(f, _)| !f.returns_bool())
        .map(|&(_, e)| e)
        .collect();
    let conds: Vec<ExprId> = apps
        .iter()
        .filter(|(f, _)| f.returns_bool())
        .map(|&(_, e)| e)
        .collect();
    let pieces: Vec<(ExprId, ExprId)> = numbers
        .iter()
        .zip(conds.iter().cycle())
        .map(|(&v, &c)| (v, c))
        .collect();
    let pw = pool.piecewise(&pieces, None).unwrap();
    let pw2 = pool.piecewise(&pieces[..3], Some(x)).unwrap();
    let g = pool.func(Func::Gamma, &[pw2]).unwrap();
    let m = pool.func(Func::Mod, &[g, y]).unwrap();
    let sum = pool.add(&[m, pw, x]).unwrap();
    roots.extend([pw, pw2, sum]);

    let check = |copy: &ExprPool, copy_roots: &[ExprId]| {
        assert_same(&pool, &roots, copy, copy_roots);
        for (&a, &b) in roots.iter().zip(copy_roots) {
            assert_eq!(
                copy.is_condition(b),
                pool.is_condition(a),
                "{}",
                to_string(&pool, a)
            );
        }
    };
    let bytes = to_bytes(&pool, &roots).unwrap();
    let (copy, copy_roots) = from_bytes(&bytes).unwrap();
    check(&copy, &copy_roots);
    for &(f, e) in &apps {
        let i = roots.iter().position(|&r| r == e).unwrap();
        assert!(
            matches!(copy.node(copy_roots[i]).unwrap(), alkahest_core::Node::Func(g, _) if g == f),
            "{f:?}"
        );
    }
    let target = ExprPool::new();
    let r = load_into(&target, &bytes).unwrap();
    check(&target, &r);

    // Through files, sub-DAG and whole pool.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("funcs.alkpool");
    save(&pool, &roots, &path).unwrap();
    let (copy, copy_roots) = load(&path).unwrap();
    check(&copy, &copy_roots);
    let whole = dir.path().join("whole.alkpool");
    save_pool(&pool, &whole).unwrap();
    let (copy, _) = load(&whole).unwrap();
    assert_eq!(copy.len(), pool.len());
    for i in 0..pool.len() as u32 {
        assert_eq!(copy.node(ExprId(i)).unwrap(), pool.node(ExprId(i)).unwrap());
        assert_eq!(copy.key(ExprId(i)).unwrap(), pool.key(ExprId(i)).unwrap());
    }
}

/// The function codes of `docs/persistence-format.md` (0-19) and of the
/// crate docs (20-46), written out independently of the implementation:
/// codes are never renumbered, so old files keep loading.
#[test]
fn function_codes_are_pinned() {
    const CODES: [(&str, u8); 49] = [
        ("sin", 0),
        ("cos", 1),
        ("tan", 2),
        ("asin", 3),
        ("acos", 4),
        ("atan", 5),
        ("atan2", 6),
        ("sinh", 7),
        ("cosh", 8),
        ("tanh", 9),
        ("exp", 10),
        ("log", 11),
        ("sqrt", 12),
        ("abs", 13),
        ("log1p", 14),
        ("expm1", 15),
        ("hypot", 16),
        ("fma", 17),
        ("Min", 18),
        ("Max", 19),
        ("asinh", 20),
        ("acosh", 21),
        ("atanh", 22),
        ("cbrt", 23),
        ("exp2", 24),
        ("log2", 25),
        ("log10", 26),
        ("erf", 27),
        ("erfc", 28),
        ("gamma", 29),
        ("loggamma", 30),
        ("floor", 31),
        ("ceiling", 32),
        ("sign", 33),
        ("copysign", 34),
        ("fmod", 35),
        ("Mod", 36),
        ("Lt", 37),
        ("Le", 38),
        ("Gt", 39),
        ("Ge", 40),
        ("Eq", 41),
        ("Ne", 42),
        ("And", 43),
        ("Or", 44),
        ("Not", 45),
        ("where", 46),
        ("digamma", 47),
        ("trigamma", 48),
    ];
    assert_eq!(CODES.len(), Func::ALL.len());
    for (name, code) in CODES {
        let f = Func::from_name(name).unwrap_or_else(|| panic!("{name}"));
        let pool = ExprPool::new();
        let (_, e) = every_function(&pool)
            .into_iter()
            .find(|&(g, _)| g == f)
            .unwrap();
        let bytes = to_bytes(&pool, &[e]).unwrap();
        // The root is the last record: tag 8, code, arity, back-references.
        // Its arguments are symbols (one byte back-references here) or an
        // earlier comparison, so the record is the last 3 + arity bytes
        // before the root entry (index varint, 16-byte key), the digest
        // and the checksum.
        let end = bytes.len() - 8 - 16 - 16 - 1;
        let rec = &bytes[end - 3 - f.arity()..end];
        assert_eq!(&rec[..3], &[8, code, f.arity() as u8], "{name}");
    }
}

/// A version-1 file with only the original functions, byte for byte as
/// the writer produced it before functions 20-46 were added:
/// `sin(x) + hypot(x, 2)*y` still loads to the same keys, and today's
/// writer still produces exactly these bytes.
#[test]
fn files_with_only_the_original_functions_are_unchanged() {
    const GOLDEN: &str = "414c4b504f4f4c0001000000000000005d000000000000000701010178010179\
                          020102080001020810020301060203000502000206\
                          8e855fa6184bc7c84b03bf634250a6cd0d23a6f4bdcbcff2d3594d0e5ec7d521\
                          dcab3ec93caf2c8b";
    let golden: Vec<u8> = (0..GOLDEN.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&GOLDEN[i..i + 2], 16).unwrap())
        .collect();
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let two = pool.integer(2).unwrap();
    let s = pool.func(Func::Sin, &[x]).unwrap();
    let h = pool.func(Func::Hypot, &[x, two]).unwrap();
    let m = pool.mul(&[h, y]).unwrap();
    let e = pool.add(&[s, m]).unwrap();
    assert_eq!(to_bytes(&pool, &[e]).unwrap(), golden);
    let (copy, r) = from_bytes(&golden).unwrap();
    assert_eq!(copy.key(r[0]).unwrap(), pool.key(e).unwrap());
    assert_eq!(to_string(&copy, r[0]), to_string(&pool, e));
}

/// The random generator reaches `where`, conditions and the new functions,
/// and never applies a condition function to numbers.
#[test]
fn generator_covers_where_and_new_functions() {
    let pool = ExprPool::new();
    let steps: Vec<common::Step> = (0..400)
        .map(|i| common::Step {
            op: (i % common::OPS as usize) as u8,
            a: i * 7 + 3,
            b: i * 13 + 1,
            c: i * 11,
            k: (i % 17) as i64 - 8,
        })
        .collect();
    let ids = common::build(&pool, &steps);
    assert!(ids.iter().all(|&id| !pool.is_condition(id)));
    let v = pool.view();
    let used: std::collections::HashSet<Func> = (0..v.len() as u32)
        .filter_map(|i| match v.node(ExprId(i)) {
            alkahest_core::Node::Func(f, _) => Some(*f),
            _ => None,
        })
        .collect();
    for f in [
        Func::Where,
        Func::Lt,
        Func::Not,
        Func::And,
        Func::Or,
        Func::Erf,
    ] {
        assert!(used.contains(&f), "{f:?} never built");
    }
    drop(v);
    let bytes = to_bytes(&pool, &ids).unwrap();
    let (copy, roots) = from_bytes(&bytes).unwrap();
    assert_same(&pool, &ids, &copy, &roots);
}
