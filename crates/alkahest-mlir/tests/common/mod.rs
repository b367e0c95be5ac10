//! Shared test helpers: random expressions, the interpreter oracle, and the
//! tolerance every differential test uses.

#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_kernel::Evaluator;
use proptest::prelude::*;

/// A random expression, built bottom-up: `steps[i]` combines earlier nodes
/// (indices taken modulo the number of nodes so far).
#[derive(Clone, Debug)]
pub enum Step {
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Div(usize, usize),
    PowI(usize, i64),
    PowHalf(usize, bool),
    Pow(usize, usize),
    F1(Func, usize),
    F2(Func, usize, usize),
    Fma(usize, usize, usize),
    /// A polynomial in variable `v` with small integer coefficients.
    Poly(usize, Vec<i64>),
    /// A rational function in variable `v`: numerator / (denominator).
    Rational(usize, Vec<i64>, Vec<i64>),
    /// `where(cond, c, d)` with `cond` the comparison `k(a, b)`, combined by
    /// `logic`: 0 as is, 1 `Not(cond)`, 2 `And(cond, k(b, c))`, 3
    /// `Or(cond, k(a, d))`.
    Where(Func, usize, usize, usize, usize, u8),
}

/// One-argument functions.
pub const UNARY: [Func; 15] = [
    Func::Sin,
    Func::Cos,
    Func::Tan,
    Func::Asin,
    Func::Acos,
    Func::Atan,
    Func::Sinh,
    Func::Cosh,
    Func::Tanh,
    Func::Exp,
    Func::Log,
    Func::Sqrt,
    Func::Abs,
    Func::Log1p,
    Func::Expm1,
];

/// Two-argument functions.
pub const BINARY: [Func; 4] = [Func::Atan2, Func::Hypot, Func::Min, Func::Max];

/// The one-argument functions that came with the kernel's comparison and
/// selection ops (`sign` lowers to comparisons and selections).
pub const EXTRA_UNARY: [Func; 14] = [
    Func::Asinh,
    Func::Acosh,
    Func::Atanh,
    Func::Cbrt,
    Func::Exp2,
    Func::Log2,
    Func::Log10,
    Func::Erf,
    Func::Erfc,
    Func::Gamma,
    Func::Lgamma,
    Func::Floor,
    Func::Ceil,
    Func::Sign,
];

/// Two-argument functions of the same kind (`Mod` lowers to `fmod`,
/// comparisons and selections).
pub const EXTRA_BINARY: [Func; 3] = [Func::Copysign, Func::Fmod, Func::Mod];

/// The comparisons.
pub const CMP: [Func; 6] = [Func::Lt, Func::Le, Func::Gt, Func::Ge, Func::Eq, Func::Ne];

fn step(n_vars: usize) -> impl Strategy<Value = Step> {
    let i = || 0usize..64;
    prop_oneof![
        3 => (i(), i()).prop_map(|(a, b)| Step::Add(a, b)),
        2 => (i(), i()).prop_map(|(a, b)| Step::Sub(a, b)),
        3 => (i(), i()).prop_map(|(a, b)| Step::Mul(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Step::Div(a, b)),
        1 => (i(), -3i64..=4).prop_map(|(a, n)| Step::PowI(a, n)),
        1 => (i(), any::<bool>()).prop_map(|(a, s)| Step::PowHalf(a, s)),
        1 => (i(), i()).prop_map(|(a, b)| Step::Pow(a, b)),
        3 => (0..UNARY.len(), i()).prop_map(|(f, a)| Step::F1(UNARY[f], a)),
        1 => (0..BINARY.len(), i(), i()).prop_map(|(f, a, b)| Step::F2(BINARY[f], a, b)),
        1 => (i(), i(), i()).prop_map(|(a, b, c)| Step::Fma(a, b, c)),
        2 => (0..n_vars, prop::collection::vec(-4i64..=4, 2..6)).prop_map(|(v, c)| Step::Poly(v, c)),
        1 => (0..n_vars, prop::collection::vec(-3i64..=3, 1..4), prop::collection::vec(-3i64..=3, 2..4))
            .prop_map(|(v, n, d)| Step::Rational(v, n, d)),
    ]
}

/// Programs of 1..=`max_steps` steps over `n_vars` variables.
pub fn program(n_vars: usize, max_steps: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(n_vars), 1..=max_steps)
}

fn step_ext(n_vars: usize) -> impl Strategy<Value = Step> {
    let i = || 0usize..64;
    prop_oneof![
        6 => step(n_vars),
        2 => (0..EXTRA_UNARY.len(), i()).prop_map(|(f, a)| Step::F1(EXTRA_UNARY[f], a)),
        1 => (0..EXTRA_BINARY.len(), i(), i())
            .prop_map(|(f, a, b)| Step::F2(EXTRA_BINARY[f], a, b)),
        2 => (0..CMP.len(), i(), i(), i(), i(), 0u8..4)
            .prop_map(|(k, a, b, c, d, l)| Step::Where(CMP[k], a, b, c, d, l)),
    ]
}

/// Programs that also use the newer functions, comparisons and `where`.
pub fn program_ext(n_vars: usize, max_steps: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step_ext(n_vars), 1..=max_steps)
}

fn poly(p: &ExprPool, x: ExprId, coeffs: &[i64]) -> ExprId {
    let terms: Vec<ExprId> = coeffs
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let xk = p.pow(x, p.integer(k as i64).unwrap()).unwrap();
            p.mul(&[p.integer(c).unwrap(), xk]).unwrap()
        })
        .collect();
    p.add(&terms).unwrap()
}

/// Build a program in `pool`; the result is the last node. Leaves are the
/// variables and the constants 2 and 1/3.
pub fn build(p: &ExprPool, vars: &[ExprId], steps: &[Step]) -> ExprId {
    let mut nodes: Vec<ExprId> = vars.to_vec();
    nodes.push(p.integer(2).unwrap());
    nodes.push(p.rational(1, 3).unwrap());
    for s in steps {
        let n = |i: usize| nodes[i % nodes.len()];
        let id = match s {
            Step::Add(a, b) => p.add(&[n(*a), n(*b)]).unwrap(),
            Step::Sub(a, b) => p.sub(n(*a), n(*b)).unwrap(),
            Step::Mul(a, b) => p.mul(&[n(*a), n(*b)]).unwrap(),
            Step::Div(a, b) => p.div(n(*a), n(*b)).unwrap(),
            Step::PowI(a, k) => p.pow(n(*a), p.integer(*k).unwrap()).unwrap(),
            Step::PowHalf(a, s) => p
                .pow(n(*a), p.rational(if *s { 1 } else { -1 }, 2).unwrap())
                .unwrap(),
            Step::Pow(a, b) => p.pow(n(*a), n(*b)).unwrap(),
            Step::F1(f, a) => p.func(*f, &[n(*a)]).unwrap(),
            Step::F2(f, a, b) => p.func(*f, &[n(*a), n(*b)]).unwrap(),
            Step::Fma(a, b, c) => p.func(Func::Fma, &[n(*a), n(*b), n(*c)]).unwrap(),
            Step::Poly(v, c) => poly(p, vars[*v], c),
            Step::Rational(v, num, den) => {
                let d = poly(p, vars[*v], den);
                p.div(poly(p, vars[*v], num), d).unwrap()
            }
            Step::Where(k, a, b, c, d, logic) => {
                let cmp = |x: usize, y: usize| p.func(*k, &[n(x), n(y)]).unwrap();
                let cond = cmp(*a, *b);
                let cond = match logic {
                    1 => p.func(Func::Not, &[cond]).unwrap(),
                    2 => p.func(Func::And, &[cond, cmp(*b, *c)]).unwrap(),
                    3 => p.func(Func::Or, &[cond, cmp(*a, *d)]).unwrap(),
                    _ => cond,
                };
                p.func(Func::Where, &[cond, n(*c), n(*d)]).unwrap()
            }
        };
        nodes.push(id);
    }
    *nodes.last().unwrap()
}

/// The reference value: the interpreter on the kernel tape.
pub fn reference(p: &ExprPool, e: ExprId, vars: &[ExprId]) -> Interpreter {
    Interpreter::new(&alkahest_kernel::lower(p, e, vars).unwrap())
}

/// Agreement up to a relative 1e-6 (absolute below magnitude 1): the MLIR
/// paths reassociate sums, evaluate polynomials by Horner's rule with fused
/// multiply-adds, expand rational functions, and XLA has its own
/// transcendental functions, so bitwise equality is not expected. Both NaN,
/// or equal infinities, agree.
pub fn close(got: f64, want: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return want == got
            || (want.abs() > 1e300 && got.abs() > 1e300 && want.signum() == got.signum());
    }
    (got - want).abs() <= 1e-6 * want.abs().max(1.0)
}

/// Whether a reference value is well-conditioned enough to compare: away
/// from NaN boundaries a tiny perturbation of the inputs must not flip
/// NaN-ness or change the value by more than the tolerance.
pub fn stable(f: &dyn Evaluator, x: &[f64]) -> bool {
    let v = f.eval_scalar(x);
    [1.0 + 1e-9, 1.0 - 1e-9].iter().all(|s| {
        let y: Vec<f64> = x.iter().map(|v| v * s).collect();
        let w = f.eval_scalar(&y);
        v.is_nan() == w.is_nan()
            && (v.is_nan() || close(w, v) || (v.is_infinite() && w.is_infinite()))
    })
}

/// Sample points in [-2, 2]^n, deterministic.
pub fn points(n_vars: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
    };
    (0..n)
        .map(|_| (0..n_vars).map(|_| next()).collect())
        .collect()
}
