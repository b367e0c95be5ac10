//! Helpers shared by the integration tests: random DAGs and an independent
//! encoder of the documented file layout (so tests also check the doc).

#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool, Func};
use xxhash_rust::xxh3::xxh3_64;

/// One step of a random DAG: an operation and operand picks (taken modulo
/// the number of nodes built so far).
#[derive(Clone, Debug)]
pub struct Step {
    pub op: u8,
    pub a: usize,
    pub b: usize,
    pub c: usize,
    pub k: i64,
}

/// Number of distinct `Step::op` values.
pub const OPS: u8 = 13;

pub fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    (
        0u8..OPS,
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        -9i64..9,
    )
        .prop_map(|(op, a, b, c, k)| Step { op, a, b, c, k })
}

/// Interesting float constants: signed zeros, infinities, NaN, subnormals.
pub const FLOATS: [f64; 8] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    5e-324,
    -2.5,
    1e300,
];

/// The comparisons, for picking one by index.
pub const COMPARISONS: [Func; 6] = [Func::Lt, Func::Le, Func::Gt, Func::Ge, Func::Eq, Func::Ne];

/// A random condition over numbers `a`, `b`, `c`, `d`: a comparison of `a`
/// and `b` (`Lt` for `pick % 8 < 3`), sometimes negated or combined with a
/// second comparison by `And`/`Or`.
pub fn condition(pool: &ExprPool, pick: usize, [a, b, c, d]: [ExprId; 4]) -> ExprId {
    let cmp = if pick % 8 < 3 {
        Func::Lt
    } else {
        COMPARISONS[pick % COMPARISONS.len()]
    };
    let first = pool.func(cmp, &[a, b]).unwrap();
    match (pick / 8) % 4 {
        0 => first,
        1 => pool.func(Func::Not, &[first]).unwrap(),
        2 => {
            let second = pool.func(Func::Ge, &[c, d]).unwrap();
            pool.func(Func::And, &[first, second]).unwrap()
        }
        _ => {
            let second = pool.func(Func::Ne, &[d, a]).unwrap();
            pool.func(Func::Or, &[first, second]).unwrap()
        }
    }
}

/// Build a random DAG with the canonical builders; returns every id built
/// (all of them numbers: conditions only appear inside `where`).
///
/// Functions are picked from [`Func::numeric`] (conditions cannot take or
/// be numbers); op 12 builds `where(cond, c, d)` with `cond` mostly
/// `Lt(a, b)` (see [`condition`]).
pub fn build(pool: &ExprPool, steps: &[Step]) -> Vec<ExprId> {
    let numeric: Vec<Func> = Func::numeric().collect();
    let mut ids = vec![
        pool.symbol("x").unwrap(),
        pool.symbol("y").unwrap(),
        pool.symbol("zeta_1").unwrap(),
        pool.integer(3).unwrap(),
    ];
    for s in steps {
        let n = ids.len();
        let (a, b, c) = (ids[s.a % n], ids[s.b % n], ids[s.c % n]);
        let id = match s.op {
            0 => pool.add(&[a, b]),
            1 => pool.add(&[a, b, c]),
            2 => pool.mul(&[a, b]),
            3 => pool.mul(&[a, b, c]),
            4 => pool.integer(s.k).and_then(|e| pool.pow(a, e)),
            5 => pool.rational(s.k, 7).and_then(|e| pool.pow(a, e)),
            6 => pool.pow(a, b),
            7 => {
                let f = numeric[s.b % numeric.len()];
                pool.func(f, &[a, b, c][..f.arity()])
            }
            8 => pool.sub(a, b),
            9 => pool.div(a, b),
            10 => pool.float(FLOATS[s.b % FLOATS.len()]),
            12 => {
                let d = ids[(s.a / 3 + s.c / 5) % n];
                let cond = condition(
                    pool,
                    (s.k.unsigned_abs() as usize).wrapping_add(s.c),
                    [a, b, c, d],
                );
                pool.select(cond, c, d)
            }
            _ => pool
                .rational(s.k * 1_000_000_007_i64, 3 + (s.b % 5) as i64)
                .and_then(|r| pool.mul(&[r, a])),
        };
        ids.push(id.unwrap());
    }
    ids
}

/// Recompute the announced length and the trailing checksum after an edit,
/// following `docs/persistence-format.md`, so that a mutation reaches the
/// structural checks instead of stopping at the checksum.
pub fn reseal(bytes: &mut [u8]) {
    if bytes.len() < 32 {
        return;
    }
    let n = bytes.len();
    bytes[16..24].copy_from_slice(&(n as u64).to_le_bytes());
    let sum = xxh3_64(&bytes[..n - 8]);
    bytes[n - 8..].copy_from_slice(&sum.to_le_bytes());
}

pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Assemble a version-1 file from raw record bytes: header, counts,
/// records, roots (index + key), digest, checksum.
pub fn raw_file(n_nodes: u64, records: &[u8], roots: &[(u64, u128)], digest: u128) -> Vec<u8> {
    let mut out = b"ALKPOOL\0".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    varint(&mut out, n_nodes);
    varint(&mut out, roots.len() as u64);
    out.extend_from_slice(records);
    for &(i, k) in roots {
        varint(&mut out, i);
        out.extend_from_slice(&k.to_le_bytes());
    }
    out.extend_from_slice(&digest.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    reseal(&mut out);
    out
}
