//! Shared test helpers: the function families each path supports, random
//! programs over them (`alkahest_testkit::exprs`), the interpreter oracle,
//! and the tolerance every differential test uses.

#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool, Func, Node};
use alkahest_interp::Interpreter;
use alkahest_tape::Evaluator;
use alkahest_testkit::{ExprGen, Program};
use proptest::prelude::*;

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

/// The one-argument functions that came with the tape crate's comparison and
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

// The comparisons, and sample points in [-2, 2)^n (not every test file
// uses both).
#[allow(unused_imports)]
pub use alkahest_testkit::exprs::COMPARISONS as CMP;
#[allow(unused_imports)]
pub use alkahest_testkit::values::points;

/// Random programs over [`UNARY`], [`BINARY`] and `fma`, without
/// conditions: what every path here supports (StableHLO has no op for the
/// newer functions; ball arithmetic no comparisons).
pub fn program(max_steps: usize) -> BoxedStrategy<Program> {
    let mut funcs = UNARY.to_vec();
    funcs.extend(BINARY);
    funcs.push(Func::Fma);
    ExprGen::all()
        .funcs(&funcs)
        .without_conditions()
        .programs(1..=max_steps)
}

/// Programs that also use the newer functions, comparisons and `where`:
/// everything `alkahest_testkit` generates.
pub fn program_ext(max_steps: usize) -> BoxedStrategy<Program> {
    alkahest_testkit::programs(1..=max_steps)
}

/// The reference value: the interpreter on the tape.
pub fn reference(p: &ExprPool, e: ExprId, vars: &[ExprId]) -> Interpreter {
    Interpreter::new(&alkahest_tape::lower(p, e, vars).unwrap())
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

/// Whether a sum in `e` cancels at `x`: its value is below 1e-6 of its
/// largest term (at the reference's rounding). The MLIR paths add terms in
/// another order (and polynomials by Horner's rule), so there the result
/// may differ by more than [`close`] allows: `x - (x + 2*x**2) + 2*x**2` is
/// 0 for one order and 1e-17 for another, and `1/` of it inf or 1e17.
pub fn cancels(p: &ExprPool, e: ExprId, vars: &[ExprId], x: &[f64]) -> bool {
    let nodes: Vec<ExprId> = p
        .view()
        .reachable(&[e])
        .into_iter()
        .filter(|&n| !p.is_condition(n))
        .collect();
    let values = alkahest_tape::lower_many(p, &nodes, vars)
        .unwrap()
        .eval_point(x);
    let value = |id: &ExprId| values[nodes.iter().position(|n| n == id).unwrap()];
    let view = p.view();
    nodes
        .iter()
        .zip(&values)
        .any(|(id, &sum)| match view.node(*id) {
            Node::Add(terms) => {
                let big = terms.iter().map(|t| value(t).abs()).fold(0.0, f64::max);
                big.is_finite() && sum.abs() <= 1e-6 * big
            }
            _ => false,
        })
}

/// Whether an argument of `asin`/`acos`/`atanh` (domain edges at ±1),
/// `acosh` (1) or `log1p` (-1) lies within 1e-9 of its edge at `x`: the
/// MLIR paths round such an argument differently (Horner's rule, another
/// order of a product), and one ulp across the edge is NaN on one side
/// only (`asin(p/(y*(p/y)))` is `asin(1)` or `asin(1 + ulp)`). Likewise
/// near a jump: `floor`/`ceil` of an argument within 1e-9 of an integer,
/// `fmod`/`Mod` whose quotient is.
pub fn near_domain_edge(p: &ExprPool, e: ExprId, vars: &[ExprId], x: &[f64]) -> bool {
    let view = p.view();
    let args: Vec<(Func, Vec<ExprId>)> = view
        .reachable(&[e])
        .into_iter()
        .filter_map(|n| match view.node(n) {
            Node::Func(f, a)
                if matches!(
                    f,
                    Func::Asin
                        | Func::Acos
                        | Func::Atanh
                        | Func::Acosh
                        | Func::Log1p
                        | Func::Floor
                        | Func::Ceil
                        | Func::Fmod
                        | Func::Mod
                ) =>
            {
                Some((*f, a.to_vec()))
            }
            _ => None,
        })
        .collect();
    if args.is_empty() {
        return false;
    }
    let ids: Vec<ExprId> = args.iter().flat_map(|a| a.1.iter().copied()).collect();
    // One value per argument, in order (as in `cancels`).
    let values = alkahest_tape::lower_many(p, &ids, vars)
        .unwrap()
        .eval_point(x);
    let mut at = 0;
    args.iter().any(|(f, a)| {
        let v = &values[at..at + a.len()];
        at += a.len();
        let near = |t: f64, e: f64| (t - e).abs() <= 1e-9 * e.abs().max(1.0);
        let near_integer = |t: f64| t.is_finite() && near(t, t.round());
        match f {
            Func::Asin | Func::Acos | Func::Atanh => near(v[0], 1.0) || near(v[0], -1.0),
            Func::Acosh => near(v[0], 1.0),
            Func::Log1p => near(v[0], -1.0),
            // The jumps: floor and ceil at integers, fmod and Mod where
            // the quotient is one (found by the long run: fmod(2x + 2 - p,
            // p) with 2x + 2 = 3p, an ulp either side of the jump).
            Func::Floor | Func::Ceil => near_integer(v[0]),
            _ => near_integer(v[0] / v[1]),
        }
    })
}

/// A known difference, skipped by the random tests: MLIR's constant folder
/// evaluates `math.atan2` of two constant zeros as NaN, where C's `atan2`
/// (the interpreter, and the MLIR engine on variables) gives ±0 or ±pi.
/// `constant_atan2_of_zeros_matches_libm` (ignored) reproduces it.
pub fn has_constant_atan2_of_zeros(p: &ExprPool, e: ExprId) -> bool {
    let view = p.view();
    view.reachable(&[e])
        .into_iter()
        .any(|id| match view.node(id) {
            Node::Func(Func::Atan2, args) => args
                .iter()
                .all(|&a| p.as_number(a).is_some_and(|n| n.to_f64() == 0.0)),
            _ => false,
        })
}
