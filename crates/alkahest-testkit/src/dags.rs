//! Random DAGs rich in numbers, for the tests of what stores and prints
//! expressions (pool files, the cache): exact integers and rationals (one
//! with a numerator past 2^32), rational and symbolic powers, special float
//! constants (signed zeros, infinities, NaN, subnormals), every numeric
//! function and `where` over comparisons and connectives. The evaluation
//! suites use [`crate::exprs`] instead, whose programs stay in well-defined
//! ranges.

use alkahest_core::{ExprId, ExprPool, Func};

use crate::exprs::COMPARISONS;

/// One step of a random DAG: an operation and operand picks (taken modulo
/// the number of nodes built so far).
#[derive(Clone, Debug)]
pub struct Step {
    /// Which operation (`0..OPS`, see [`build`]).
    pub op: u8,
    /// First operand pick.
    pub a: usize,
    /// Second operand pick (also picks a function or a float constant).
    pub b: usize,
    /// Third operand pick.
    pub c: usize,
    /// A small integer: an exponent, a multiplier, a condition pick.
    pub k: i64,
}

/// Number of distinct `Step::op` values.
pub const OPS: u8 = 13;

/// A random [`Step`].
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
