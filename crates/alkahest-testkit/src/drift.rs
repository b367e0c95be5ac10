//! How far the LLVM bulk loop may drift from the interpreter when it calls
//! libmvec (within a few ulps of libm per call): a first-order propagation
//! of those ulps through the rest of a tape, per register. Shared by the
//! LLVM crate's differential tests and the compile crate's fuzz campaign,
//! which check the default (non-exact) batch against it.

use alkahest_tape::{BinaryFn, Op, Tape, UnaryFn};

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

/// Functions the bulk loop may route to libmvec (documented: within 4 ulp of
/// the true result) or to its own vector `lgamma`, `pow`, `tanh`, `exp`,
/// `sinh` or `cosh` (within `alkahest_llvm::LGAMMA_ULPS`, 4, `POW_ULPS`, 1,
/// `TANH_ULPS`, 3, `EXP_ULPS`, 1, and `HYPERBOLIC_ULPS`, 1.5, of the true
/// result); we allow this many ulps from libm's result.
pub const VEC_ULPS: f64 = 5.0;

/// Whether the bulk entry may compute this function with a vector routine
/// (libmvec's, or its own `lgamma`) rather than an exact instruction or
/// scalar libm lane by lane.
pub fn unary_vectorized(f: UnaryFn) -> bool {
    !matches!(
        f,
        UnaryFn::Sqrt | UnaryFn::Abs | UnaryFn::Floor | UnaryFn::Ceil
    )
}

/// How many ulps from libm's result the bulk loop's `f` may be:
/// [`VEC_ULPS`] for libmvec's routines and the own `lgamma`, more for the
/// own `tgamma` (within 9 of the true value, as glibc documents for its
/// own; the two together up to [`TGAMMA_VEC_ULPS`]), 0 for the rest.
pub fn unary_vec_ulps(f: UnaryFn) -> f64 {
    match f {
        UnaryFn::Gamma => TGAMMA_VEC_ULPS,
        _ if unary_vectorized(f) => VEC_ULPS,
        _ => 0.0,
    }
}

/// Ulps between the bulk loop's own vector `tgamma` and glibc's scalar one
/// that tests allow (each within 9 of the true value by its documentation;
/// 9 apart measured by `tests/functions.rs`).
pub const TGAMMA_VEC_ULPS: f64 = 12.0;

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
    // NaN at either end (a perturbed argument past a domain edge: `sqrt`
    // of a cancelled difference, `acosh` of a cosine rounded just below 1)
    // means any result; `f64::max` would drop it.
    let (lo, hi) = ((f(a - da) - y).abs(), (f(a + da) - y).abs());
    if lo.is_nan() || hi.is_nan() {
        f64::NAN
    } else {
        lo.max(hi)
    }
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

/// Whether `f` has a pole in `[x - dx, x + dx]` (or the interval is not
/// finite).
fn pole_within(f: UnaryFn, x: f64, dx: f64) -> bool {
    let (lo, hi) = (x - dx, x + dx);
    if !(lo.is_finite() && hi.is_finite()) {
        return true;
    }
    match f {
        // The largest integer at most `hi`, if it is >= lo, is a pole when
        // it is <= 0 (and any non-positive integer in range is).
        UnaryFn::Gamma | UnaryFn::Lgamma => lo <= 0.0 && hi.floor().min(0.0) >= lo.ceil(),
        UnaryFn::Tan => {
            let k = |t: f64| (t / std::f64::consts::PI - 0.5).floor();
            k(lo) != k(hi)
        }
        _ => false,
    }
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
                    // The divisor's relative error first: `|v| * dy`
                    // underflows to 0 for a tiny quotient (`1e-310 /
                    // erfc(2)**2`, found by the long fuzz run).
                    let below = y.abs() - dy;
                    round(dx / below + v.abs() * (dy / below))
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
                let own = unary_vec_ulps(f) * ulp(v);
                let moved = match f {
                    // Sampling the ends of the interval misses the swings
                    // of a periodic function once it is wider than a
                    // period (sin(1e99 + a few ulps) is anything): sin and
                    // cos move by at most dx (and 2), tan by anything.
                    // An argument with no bound may be infinite, and
                    // sin(inf) is NaN (found by the fuzz campaign:
                    // sin(.. sinh(asinh(-1.8e308)) ..), where libmvec's sinh
                    // overflows and libm's does not).
                    UnaryFn::Sin | UnaryFn::Cos if !dx.is_finite() => f64::INFINITY,
                    UnaryFn::Sin | UnaryFn::Cos => round(dx.min(2.0)),
                    UnaryFn::Tan if dx > 0.1 => f64::INFINITY,
                    // A pole inside `x ± dx` is missed by sampling the ends
                    // (found by the fuzz campaign: `gamma(x - sinh(x))` at
                    // 1e-8, where the cancelled difference changes sign):
                    // gamma and loggamma at 0, -1, -2, ..., tan at odd
                    // multiples of pi/2.
                    _ if dx != 0.0 && pole_within(f, x, dx) => f64::INFINITY,
                    _ => spread(spread1(|t| f.apply(t), x, dx)),
                };
                moved + own
            }
            Op::Binary(f, a, b) => {
                let ((x, dx), (y, dy)) = (g(a), g(b));
                let own = if binary_vectorized(f) {
                    VEC_ULPS * ulp(v)
                } else {
                    0.0
                };
                match f {
                    // `f64::max` would drop a NaN bound (found by the fuzz
                    // campaign: `max(pow(log1p(x), x)**2 * c, 0)` at a
                    // subnormal x, whose pow bound is NaN).
                    BinaryFn::Min | BinaryFn::Max if dx.is_nan() || dy.is_nan() => f64::NAN,
                    BinaryFn::Min | BinaryFn::Max => dx.max(dy),
                    // fmod is a sawtooth in its dividend: sampling the
                    // ends of the interval misses the jumps. |fmod(a, b)|
                    // < |b|, so a perturbed result is within 2|b| + db.
                    // A perturbed divisor that may be 0 may give NaN
                    // (found by the long fuzz run: a divisor that cancels
                    // to exactly 0 with libm's exp and not with libmvec's).
                    BinaryFn::Fmod if dy != 0.0 && y.abs() <= dy => f64::INFINITY,
                    BinaryFn::Fmod if dx != 0.0 || dy != 0.0 => round(2.0 * y.abs() + dy),
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
        // A value within its bound of the largest double may be infinite in
        // the batch, and what reads it then anything (found by the fuzz
        // campaign: `1 / pow(z, 0.5)**2` at z = 1.8e308, whose square
        // overflows with the vector pow and not with libm's): no bound.
        let e = if e != 0.0 && v.is_finite() && v.abs() + e >= f64::MAX {
            f64::INFINITY
        } else {
            e
        };
        d.push(e);
    }
    d
}

/// `got` agrees with `want` within `bound` (equal bits, both NaN, a finite
/// bound that covers the difference, or one that reaches past the largest
/// double when `got` overflowed; no useful bound accepts).
pub fn within(got: f64, want: f64, bound: f64) -> bool {
    if got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()) {
        return true;
    }
    if !bound.is_finite() {
        return true;
    }
    // A finite result within the bound of the largest double may round to
    // infinity (found by the fuzz campaign: `l / (l * 5.6e-309)` with `l` a
    // libmvec log, 1.8e308 in the interpreter and +inf in the batch).
    if got.is_infinite() && want.is_finite() && got.signum() == want.signum() {
        return want.abs() + bound >= f64::MAX;
    }
    (got - want).abs() <= bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poles_inside_an_interval() {
        assert!(pole_within(UnaryFn::Gamma, -1.7e-25, 8e-24));
        assert!(pole_within(UnaryFn::Lgamma, -1.5, 0.6));
        assert!(!pole_within(UnaryFn::Gamma, 0.5, 0.1));
        assert!(!pole_within(UnaryFn::Gamma, -1.5, 0.4));
        assert!(!pole_within(UnaryFn::Gamma, 3.0, 2.5));
        assert!(pole_within(
            UnaryFn::Tan,
            std::f64::consts::FRAC_PI_2 - 1e-4,
            0.001
        ));
        assert!(!pole_within(UnaryFn::Tan, 1.0, 0.1));
        assert!(!pole_within(UnaryFn::Exp, 0.0, 1.0));
    }
}
