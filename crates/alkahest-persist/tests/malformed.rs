//! The loader against bad input: every malformed file gives a typed error,
//! never a panic or a hang, and leaves the target pool exactly as it was.

mod common;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_persist::{Error, from_bytes, load_into, to_bytes};
use common::{raw_file, reseal, varint};
use proptest::prelude::*;

/// A target pool with a few nodes of its own.
fn target() -> ExprPool {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let s = p.func(Func::Sin, &[x]).unwrap();
    p.add(&[x, s]).unwrap();
    p
}

/// Load into a fresh target; on error check that nothing was interned.
fn try_load(bytes: &[u8]) -> Result<Vec<ExprId>, Error> {
    let t = target();
    let before = t.len();
    let r = load_into(&t, bytes);
    match &r {
        Ok(ids) => assert!(ids.iter().all(|i| i.index() < t.len())),
        Err(_) => assert_eq!(t.len(), before, "pool changed by a failed load: {r:?}"),
    }
    // `from_bytes` must agree on success or failure.
    assert_eq!(from_bytes(bytes).is_ok(), r.is_ok());
    r
}

fn sample_file() -> (ExprPool, Vec<ExprId>, Vec<u8>) {
    let pool = ExprPool::new();
    let steps: Vec<common::Step> = (0..40)
        .map(|i| common::Step {
            op: (i * 5 % common::OPS as usize) as u8,
            a: i * 7 + 3,
            b: i * 3 + 1,
            c: i * 11,
            k: (i % 7) as i64 - 3,
        })
        .collect();
    let ids = common::build(&pool, &steps);
    let roots = vec![ids[ids.len() - 1], ids[ids.len() - 5], ids[7]];
    let bytes = to_bytes(&pool, &roots).unwrap();
    (pool, roots, bytes)
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::Set(p, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, v)| Mutation::Insert(p, v)),
        (any::<usize>(), 1usize..8).prop_map(|(p, n)| Mutation::Delete(p, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len().max(1);
    match m {
        Mutation::Flip(p, b) => {
            if !bytes.is_empty() {
                bytes[p % n] ^= 1 << b;
            }
        }
        Mutation::Set(p, v) => {
            if !bytes.is_empty() {
                bytes[p % n] = *v;
            }
        }
        Mutation::Truncate(p) => bytes.truncate(p % n),
        Mutation::Insert(p, v) => {
            let at = p % (bytes.len() + 1);
            bytes.splice(at..at, v.iter().copied());
        }
        Mutation::Delete(p, k) => {
            let at = p % n;
            let end = (at + k).min(bytes.len());
            if at < end {
                bytes.drain(at..end);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Mutations as they come: caught by the envelope (length, checksum).
    #[test]
    fn mutated_files_fail_cleanly(ms in proptest::collection::vec(mutation(), 1..4)) {
        let (_, _, good) = sample_file();
        let mut bytes = good.clone();
        ms.iter().for_each(|m| apply(&mut bytes, m));
        let r = try_load(&bytes);
        if bytes != good {
            prop_assert!(r.is_err(), "mutated file accepted");
        }
    }

    /// Mutations with the length and checksum repaired: these reach the
    /// body parser and the canonical rebuild. Acceptance is possible only
    /// when the result is the same DAG.
    #[test]
    fn resealed_mutations_fail_cleanly(ms in proptest::collection::vec(mutation(), 1..4)) {
        let (pool, roots, good) = sample_file();
        let mut bytes = good.clone();
        ms.iter().for_each(|m| apply(&mut bytes, m));
        reseal(&mut bytes);
        if let Ok(ids) = try_load(&bytes) {
            let (copy, copy_roots) = from_bytes(&bytes).unwrap();
            prop_assert_eq!(ids.len(), copy_roots.len());
            // Every accepted root is one of the original roots.
            for r in copy_roots {
                let k = copy.key(r).unwrap();
                prop_assert!(roots.iter().any(|&o| pool.key(o).unwrap() == k));
            }
        }
    }

    #[test]
    fn random_bytes_fail_cleanly(mut bytes in proptest::collection::vec(any::<u8>(), 0..200), header in any::<bool>()) {
        if header {
            // A valid header followed by garbage, resealed.
            let mut h = b"ALKPOOL\0".to_vec();
            h.extend_from_slice(&1u32.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes());
            h.extend_from_slice(&[0; 8]);
            h.append(&mut bytes);
            h.extend_from_slice(&[0; 8]);
            reseal(&mut h);
            bytes = h;
        }
        prop_assert!(try_load(&bytes).is_err());
    }
}

#[test]
fn every_truncation_is_typed() {
    let (_, _, good) = sample_file();
    for len in 0..good.len() {
        match try_load(&good[..len]) {
            Err(Error::Truncated { found, .. }) => assert_eq!(found, len as u64),
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(
        try_load(&long),
        Err(Error::TrailingBytes { extra: 1 })
    ));
}

#[test]
fn every_bit_flip_is_caught() {
    let (_, _, good) = sample_file();
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            let r = try_load(&b);
            match (i, &r) {
                (0..8, Err(Error::BadMagic)) => {}
                (8..12, Err(Error::UnsupportedVersion { .. })) => {}
                (16..24, Err(Error::Truncated { .. } | Error::TrailingBytes { .. })) => {}
                (_, Err(Error::ChecksumMismatch { .. })) if i >= 12 => {}
                _ => panic!("flip of bit {bit} at {i}: {r:?}"),
            }
        }
    }
}

#[test]
fn newer_version_and_unknown_flags() {
    let (_, _, good) = sample_file();
    let mut b = good.clone();
    b[8..12].copy_from_slice(&3u32.to_le_bytes());
    // Checked before the checksum: a newer writer may change everything after.
    assert!(matches!(
        try_load(&b),
        Err(Error::UnsupportedVersion {
            found: 3,
            supported: 2
        })
    ));
    let mut b = good.clone();
    b[12..16].copy_from_slice(&0x10u32.to_le_bytes());
    reseal(&mut b);
    assert!(matches!(try_load(&b), Err(Error::UnsupportedFlags(0x10))));
    assert!(matches!(
        try_load(b"hello world, this is not a pool file"),
        Err(Error::BadMagic)
    ));
    assert!(matches!(try_load(b""), Err(Error::Truncated { .. })));
}

// Records for hand-made files (layout from docs/persistence-format.md).
fn sym(out: &mut Vec<u8>, name: &[u8]) {
    out.push(1);
    varint(out, name.len() as u64);
    out.extend_from_slice(name);
}
fn int(out: &mut Vec<u8>, v: i64) {
    let b = num_bigint::BigInt::from(v).to_signed_bytes_le();
    out.push(2);
    varint(out, b.len() as u64);
    out.extend_from_slice(&b);
}
fn nary(out: &mut Vec<u8>, tag: u8, backs: &[u64]) {
    out.push(tag);
    varint(out, backs.len() as u64);
    backs.iter().for_each(|&b| varint(out, b));
}

#[test]
fn crafted_structural_errors() {
    let xy = {
        let mut r = Vec::new();
        sym(&mut r, b"y");
        sym(&mut r, b"x");
        r
    };
    let case = |n: u64, extra: &[u8]| {
        let mut r = xy.clone();
        r.extend_from_slice(extra);
        try_load(&raw_file(n, &r, &[], 0))
    };
    // Child index not smaller than the node's own index.
    assert!(matches!(
        case(3, &[5, 2, 0, 2]),
        Err(Error::BadChild { index: 2 })
    ));
    // sin with two arguments.
    assert!(matches!(
        case(3, &[8, 0, 2, 0, 1]),
        Err(Error::BadArity {
            index: 2,
            expected: 1,
            got: 2,
            ..
        })
    ));
    // Kinds: with record 2 = `x < y`, a sum, a power and `sin` of the
    // comparison, and `where` / `Not` with a number as the condition.
    let lt = [8u8, 37, 2, 0, 1];
    for (rec, bad) in [
        (
            vec![5u8, 2, 2, 0],
            "a condition is used where a number is expected",
        ),
        (
            vec![7, 0, 1],
            "a condition is used where a number is expected",
        ),
        (
            vec![8, 0, 1, 0],
            "a condition is used where a number is expected",
        ),
        (
            vec![8, 46, 3, 1, 1, 2],
            "a number is used where a condition is expected",
        ),
        (
            vec![8, 45, 1, 1],
            "a number is used where a condition is expected",
        ),
        (
            vec![8, 43, 2, 0, 1],
            "a number is used where a condition is expected",
        ),
    ] {
        let mut r = lt.to_vec();
        r.extend_from_slice(&rec);
        match case(4, &r) {
            Err(Error::BadKind { index: 3, what }) => assert_eq!(what, bad, "{rec:?}"),
            other => panic!("{rec:?}: {other:?}"),
        }
    }
    // A well-kinded `where(x < y, y, x)` with a wrong digest reaches the
    // key check; `where(x < y, x, x)` folds to `x`, so it is not canonical.
    let mut r = lt.to_vec();
    r.extend_from_slice(&[8, 46, 3, 0, 2, 1]);
    assert!(matches!(case(4, &r), Err(Error::KeyMismatch { .. })));
    let mut r = lt.to_vec();
    r.extend_from_slice(&[8, 46, 3, 0, 1, 1]);
    assert!(matches!(case(4, &r), Err(Error::NonCanonical { index: 3 })));
    // Unknown function code and unknown tag.
    assert!(matches!(
        case(3, &[8, 99, 1, 0]),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(case(3, &[42]), Err(Error::Malformed { .. })));
    // Denominators 0, 1 and -2.
    for den in [0u8, 1, 0xfe] {
        assert!(matches!(
            case(3, &[3, 1, 1, 1, den]),
            Err(Error::BadRational { index: 2 })
        ));
    }
    // Non-reduced 2/4 is a valid value but not canonical.
    assert!(matches!(
        case(3, &[3, 1, 2, 1, 4]),
        Err(Error::NonCanonical { index: 2 })
    ));
    // Symbols: invalid UTF-8, empty.
    assert!(matches!(
        case(3, &[1, 2, 0xc3, 0x28]),
        Err(Error::BadSymbol { index: 2 })
    ));
    assert!(matches!(
        case(3, &[1, 0]),
        Err(Error::BadSymbol { index: 2 })
    ));
    // `y + x` in the wrong operand order; a sum of one operand.
    assert!(matches!(
        case(3, &[5, 2, 1, 0]),
        Err(Error::NonCanonical { index: 2 })
    ));
    assert!(matches!(
        case(3, &[5, 1, 0]),
        Err(Error::NonCanonical { index: 2 })
    ));
    // `y ** 1` folds to `y`; the same symbol twice.
    let mut one = Vec::new();
    int(&mut one, 1);
    one.extend_from_slice(&[7, 2, 0]);
    assert!(matches!(
        case(4, &one),
        Err(Error::NonCanonical { index: 3 })
    ));
    let mut dup = Vec::new();
    sym(&mut dup, b"x");
    assert!(matches!(
        case(3, &dup),
        Err(Error::NonCanonical { index: 2 })
    ));
    // Canonical `x + y`, but the stored node-key digest is wrong.
    assert!(matches!(
        case(3, &[5, 2, 0, 1]),
        Err(Error::KeyMismatch {
            what: "node digest",
            ..
        })
    ));
    // Counts the data cannot hold: rejected before allocating.
    assert!(matches!(
        case(1 << 60, &[]),
        Err(Error::LimitExceeded {
            what: "node count",
            ..
        })
    ));
    let mut huge_len = xy.clone();
    huge_len.push(1);
    varint(&mut huge_len, 1 << 62);
    assert!(matches!(
        try_load(&raw_file(3, &huge_len, &[], 0)),
        Err(Error::LimitExceeded { .. })
    ));
    let mut wide = xy.clone();
    wide.push(5);
    varint(&mut wide, 1 << 40);
    assert!(matches!(
        try_load(&raw_file(3, &wide, &[], 0)),
        Err(Error::Malformed { .. })
    ));
    // Records missing: node count larger than the records present.
    assert!(matches!(
        case(4, &[]),
        Err(Error::Malformed { .. } | Error::LimitExceeded { .. })
    ));
    // Root index out of range.
    assert!(matches!(
        try_load(&raw_file(2, &xy, &[(2, 0)], 0)),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn wrong_root_key_is_detected() {
    let (pool, roots, _) = sample_file();
    let one = to_bytes(&pool, &roots[..1]).unwrap();
    // The root key is the 16 bytes before the digest and checksum.
    let at = one.len() - 8 - 16 - 16;
    let mut b = one.clone();
    b[at] ^= 1;
    reseal(&mut b);
    assert!(matches!(
        try_load(&b),
        Err(Error::KeyMismatch {
            what: "root",
            index: 0
        })
    ));
    let mut b = one;
    let d = b.len() - 8 - 16;
    b[d] ^= 1;
    reseal(&mut b);
    assert!(matches!(
        try_load(&b),
        Err(Error::KeyMismatch {
            what: "node digest",
            ..
        })
    ));
}

#[test]
fn expensive_files_are_refused_quickly() {
    let start = std::time::Instant::now();
    // A 1 MiB / 1 MiB rational: its gcd alone would take minutes.
    let mut big = Vec::new();
    let digits = vec![0x55u8; 1 << 20];
    big.push(3);
    varint(&mut big, digits.len() as u64);
    big.extend_from_slice(&digits);
    varint(&mut big, digits.len() as u64);
    big.extend_from_slice(&digits);
    assert!(matches!(
        try_load(&raw_file(1, &big, &[], 0)),
        Err(Error::LimitExceeded { .. })
    ));

    // A 16 KiB rational (fine on its own) used as the coefficient of
    // thousands of sums, each of which would redo its gcd.
    let mut r = Vec::new();
    let digits = vec![0x35u8; 1 << 14];
    r.push(3);
    varint(&mut r, digits.len() as u64);
    r.extend_from_slice(&digits);
    r.extend_from_slice(&[1, 3]);
    sym(&mut r, b"x");
    for i in 0..10_000u64 {
        nary(&mut r, 5, &[i + 1, i]);
    }
    assert!(matches!(
        try_load(&raw_file(10_002, &r, &[], 0)),
        Err(Error::LimitExceeded { .. })
    ));

    // Long symbol names sorted over and over in wide sums.
    let mut r = Vec::new();
    let names = 200u64;
    for i in 0..names {
        let mut name = vec![b'a'; 60_000];
        name.extend_from_slice(format!("{i:04}").as_bytes());
        sym(&mut r, &name);
    }
    for j in 0..2_000u64 {
        let backs: Vec<u64> = (0..names).map(|k| j + k).collect();
        nary(&mut r, 5, &backs);
    }
    assert!(matches!(
        try_load(&raw_file(names + 2_000, &r, &[], 0)),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}
