//! Shared test helpers: random expressions and an error-propagation bound
//! for libmvec's few-ulp drift.
#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_kernel::{BinaryFn, Op, Tape, UnaryFn, lower, lower_many};
use proptest::prelude::*;

/// The code-generation levels production uses: 0 for call-bound tapes
/// below a large batch (the compile crate's dispatch), 3 otherwise.
pub const LEVELS: [u8; 2] = [0, 3];

/// Options at one of [`LEVELS`].
pub fn at_level(opt_level: u8) -> alkahest_llvm::LlvmOptions {
    alkahest_llvm::LlvmOptions {
        opt_level,
        ..alkahest_llvm::LlvmOptions::default()
    }
}

/// One construction step; operand fields are taken modulo the number of
/// nodes built so far, so every step list builds a valid DAG.
pub type Step = (u8, u8, u16, u16, u16, i8);

/// Strategy for construction steps.
pub fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(any::<Step>(), 1..max)
}

/// Every function with number arguments and a number result (what the
/// generator applies; conditions are built by their own steps).
pub fn numeric_funcs() -> Vec<Func> {
    Func::numeric().collect()
}

/// The comparisons, in `CmpOp` order.
pub const COMPARISONS: [Func; 6] = [Func::Lt, Func::Le, Func::Gt, Func::Ge, Func::Eq, Func::Ne];

/// Build an expression over `n_vars` symbols from `steps`: sums,
/// differences, products, quotients, integer powers, symbolic powers,
/// conditions (comparisons, `And`, `Or`, `Not`), `where` on them, and every
/// function with number arguments. Returns the pool, the expression and
/// the variables.
pub fn build(steps: &[Step], n_vars: usize) -> Option<(ExprPool, ExprId, Vec<ExprId>)> {
    build_with(steps, n_vars, &numeric_funcs())
}

/// [`build`], applying only functions from `funcs` (none if empty).
pub fn build_with(
    steps: &[Step],
    n_vars: usize,
    funcs: &[Func],
) -> Option<(ExprPool, ExprId, Vec<ExprId>)> {
    let (p, vars) = pool(n_vars);
    let out = *build_nodes(&p, &vars, steps, funcs)?.last()?;
    Some((p, out, vars))
}

/// A pool with the symbols `x`, `y`, `z` (the first `n_vars`).
pub fn pool(n_vars: usize) -> (ExprPool, Vec<ExprId>) {
    let p = ExprPool::new();
    let vars: Vec<ExprId> = ["x", "y", "z"][..n_vars]
        .iter()
        .map(|s| p.symbol(s).unwrap())
        .collect();
    (p, vars)
}

/// Every number node `steps` builds in `p` (the variables and the constant
/// 3/2 first), in order; `None` if a step fails.
pub fn build_nodes(
    p: &ExprPool,
    vars: &[ExprId],
    steps: &[Step],
    funcs: &[Func],
) -> Option<Vec<ExprId>> {
    let mut nodes = vars.to_vec();
    nodes.push(p.rational(3, 2).ok()?);
    // Conditions live apart: the builders refuse them as numbers.
    let mut conds: Vec<ExprId> = Vec::new();
    for &(kind, f, ia, ib, ic, n) in steps {
        let pick = |i: u16| nodes[i as usize % nodes.len()];
        let (a, b, c) = (pick(ia), pick(ib), pick(ic));
        let cmp = COMPARISONS[f as usize % COMPARISONS.len()];
        let cond_at = |i: usize| conds[i % conds.len()];
        let e = match kind % 12 {
            0 => p.add(&[a, b]),
            1 => p.sub(a, b),
            2 => p.mul(&[a, b]),
            3 => p.div(a, b),
            4 => p.pow(a, p.integer(n as i64 % 6 - 2).ok()?),
            5 => p.pow(a, b),
            6 if n % 2 == 0 => p.integer(n / 4),
            6 => p.float(n as f64 / 8.0),
            7 => {
                // A condition: a comparison of two nodes, or a connective
                // of earlier conditions.
                let (i, j) = (ic as usize, ib as usize);
                let cond = match (n.rem_euclid(4), conds.is_empty()) {
                    (2, false) => p.func(Func::And, &[cond_at(i), cond_at(j)]),
                    (3, false) if f % 2 == 0 => p.func(Func::Or, &[cond_at(i), cond_at(j)]),
                    (3, false) => p.func(Func::Not, &[cond_at(i)]),
                    _ => p.func(cmp, &[a, b]),
                }
                .ok()?;
                conds.push(cond);
                continue;
            }
            8 => {
                let cond = if conds.is_empty() {
                    p.func(cmp, &[a, c]).ok()?
                } else {
                    cond_at(ic as usize)
                };
                p.select(cond, a, b)
            }
            _ if funcs.is_empty() => p.add(&[a, c]),
            _ => {
                let func = funcs[f as usize % funcs.len()];
                let args = [a, b, c];
                p.func(func, &args[..func.arity()])
            }
        }
        .ok()?;
        nodes.push(e);
    }
    Some(nodes)
}

/// Lower a built expression.
pub fn tape_of(steps: &[Step], n_vars: usize) -> Option<Tape> {
    let (p, e, vars) = build(steps, n_vars)?;
    lower(&p, e, &vars).ok()
}

/// A multi-output tape from `steps`: the last node, then the nodes that
/// `picks` name (modulo the node count; repeats and inputs allowed), so the
/// outputs share subexpressions.
pub fn multi_tape_of(steps: &[Step], n_vars: usize, picks: &[u16]) -> Option<Tape> {
    let (p, vars) = pool(n_vars);
    let nodes = build_nodes(&p, &vars, steps, &numeric_funcs())?;
    let mut outs = vec![*nodes.last()?];
    outs.extend(picks.iter().map(|&i| nodes[i as usize % nodes.len()]));
    lower_many(&p, &outs, &vars).ok()
}

/// The register of output `k`.
pub fn out_reg(tape: &Tape, k: usize) -> usize {
    tape.outputs()[k] as usize
}

/// Distance to the next double away from zero (infinite for inf/NaN).
pub fn ulp(v: f64) -> f64 {
    let a = v.abs();
    if !a.is_finite() {
        return f64::INFINITY;
    }
    let next = f64::from_bits(a.to_bits() + 1);
    if next.is_finite() {
        next - a
    } else {
        a - f64::from_bits(a.to_bits() - 1)
    }
}

/// Distance in ulps between two doubles (0 for equal bits or two NaNs).
pub fn ulps_apart(a: f64, b: f64) -> u64 {
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    key(a).abs_diff(key(b))
}

/// Functions the bulk loop may route to libmvec (documented: within 4 ulp of
/// the true result; we allow this many ulps from libm's result).
pub const VEC_ULPS: f64 = 5.0;

/// Whether the bulk entry may call a libmvec variant for this function
/// (the others are exact instructions or scalar libm lane by lane).
pub fn unary_vectorized(f: UnaryFn) -> bool {
    !matches!(
        f,
        UnaryFn::Sqrt
            | UnaryFn::Abs
            | UnaryFn::Floor
            | UnaryFn::Ceil
            | UnaryFn::Gamma
            | UnaryFn::Lgamma
    )
}

/// As [`unary_vectorized`], for binary functions.
pub fn binary_vectorized(f: BinaryFn) -> bool {
    matches!(f, BinaryFn::Atan2 | BinaryFn::Hypot | BinaryFn::Pow)
}

/// Largest change of `f` over `a ± da` (first-order: ends of the interval).
fn spread1(f: impl Fn(f64) -> f64, a: f64, da: f64) -> f64 {
    if da == 0.0 {
        return 0.0;
    }
    let y = f(a);
    let m = (f(a + da) - y).abs().max((f(a - da) - y).abs());
    if m.is_nan() { f64::NAN } else { m }
}

fn spread2(f: impl Fn(f64, f64) -> f64, a: f64, da: f64, b: f64, db: f64) -> f64 {
    if da == 0.0 && db == 0.0 {
        return 0.0;
    }
    let y = f(a, b);
    let mut m: f64 = 0.0;
    for (x, z) in [(a + da, b), (a - da, b), (a, b + db), (a, b - db)] {
        let d = (f(x, z) - y).abs();
        if d.is_nan() {
            return f64::NAN;
        }
        m = m.max(d);
    }
    m
}

/// For each register, a bound on |bulk - reference| when every libmvec call
/// may be off by [`VEC_ULPS`] and that error propagates (first order, with
/// slack for rounding and for sampled function spreads). NaN or infinity means "no useful bound".
pub fn bulk_bounds(tape: &Tape, r: &[f64]) -> Vec<f64> {
    let mut d: Vec<f64> = Vec::with_capacity(tape.ops().len());
    for (i, op) in tape.ops().iter().enumerate() {
        let v = r[i];
        let g = |k: u32| (r[k as usize], d[k as usize]);
        // Arithmetic propagation below is exact to first order; the final
        // rounding may differ by an ulp or two once the inputs differ.
        // (Decided on the operands, not on `e`, which may underflow to 0.)
        let perturbed = op.operands().any(|k| d[k as usize] != 0.0);
        let round = |e: f64| if perturbed { e + 2.0 * ulp(v) } else { e };
        // Function spreads are sampled at the interval ends: 25% slack.
        let spread = |e: f64| round(1.25 * e);
        let e = match *op {
            Op::Input(_) | Op::Const(_) => 0.0,
            Op::Neg(a) => g(a).1,
            Op::Add(a, b) | Op::Sub(a, b) => round(g(a).1 + g(b).1),
            Op::Mul(a, b) => {
                let ((x, dx), (y, dy)) = (g(a), g(b));
                round(y.abs() * dx + x.abs() * dy + dx * dy)
            }
            Op::Div(a, b) => {
                let ((_, dx), (y, dy)) = (g(a), g(b));
                if dx == 0.0 && dy == 0.0 {
                    0.0
                } else if y.abs() > dy {
                    round((dx + v.abs() * dy) / (y.abs() - dy))
                } else {
                    f64::INFINITY
                }
            }
            Op::Fma(a, b, c) => {
                let ((x, dx), (y, dy), (_, dz)) = (g(a), g(b), g(c));
                round(y.abs() * dx + x.abs() * dy + dx * dy + dz)
            }
            Op::Unary(f, a) => {
                let (x, dx) = g(a);
                let own = if unary_vectorized(f) {
                    VEC_ULPS * ulp(v)
                } else {
                    0.0
                };
                spread(spread1(|t| f.apply(t), x, dx)) + own
            }
            Op::Binary(f, a, b) => {
                let ((x, dx), (y, dy)) = (g(a), g(b));
                let own = if binary_vectorized(f) {
                    VEC_ULPS * ulp(v)
                } else {
                    0.0
                };
                match f {
                    BinaryFn::Min | BinaryFn::Max => dx.max(dy),
                    _ => spread(spread2(|s, t| f.apply(s, t), x, dx, y, dy)) + own,
                }
            }
            // A comparison is exact unless a perturbation may flip it.
            Op::Cmp(_, a, b) => {
                let ((x, dx), (y, dy)) = (g(a), g(b));
                if (dx == 0.0 && dy == 0.0) || (x - y).abs() > 2.0 * (dx + dy) {
                    0.0
                } else {
                    f64::INFINITY
                }
            }
            // The chosen branch's bound, if the condition is exact.
            Op::Select(c, a, b) => {
                let (cv, dc) = g(c);
                match (dc == 0.0, cv != 0.0) {
                    (true, true) => g(a).1,
                    (true, false) => g(b).1,
                    (false, _) => f64::INFINITY,
                }
            }
        };
        d.push(e);
    }
    d
}

/// `got` agrees with `want` within `bound` (equal bits, both NaN, or a
/// finite bound that covers the difference; no useful bound accepts).
pub fn within(got: f64, want: f64, bound: f64) -> bool {
    if got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()) {
        return true;
    }
    if !bound.is_finite() {
        return true;
    }
    (got - want).abs() <= bound
}

/// Same bits, or both NaN.
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Interesting IEEE values: zeros, subnormals, infinities, NaN, extremes.
pub const SPECIALS: [f64; 14] = [
    0.0,
    -0.0,
    f64::MIN_POSITIVE / 4.0,
    -f64::MIN_POSITIVE / 4.0,
    5e-324,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MAX,
    f64::MIN,
    1.0,
    -1.0,
    1e300,
    -1e-300,
];

/// The bulk entry's single output column (one-output functions).
pub fn bulk1(f: &dyn alkahest_kernel::Evaluator, cols: &[&[f64]]) -> Vec<f64> {
    let n = cols.first().map_or(0, |c| c.len());
    let mut out = vec![0.0; n];
    f.eval_columns(cols, &mut [&mut out]);
    out
}
