//! Digamma and trigamma as straight-line programs over the tape's own
//! operations.
//!
//! Neither glibc, CUDA's libdevice nor MLIR has a digamma, so these two
//! functions are written once, here, as a branch-free recipe of
//! arithmetic, `floor`, `log`, `tan`/`sin`, comparisons and selections
//! ([`Emit`]). The kernel's lowering expands `digamma(x)` / `trigamma(x)`
//! into tape operations with it, so the interpreter, Cranelift, LLVM
//! (scalar and vector loops), CUDA and C source run the same operations
//! and agree bit for bit wherever they agree on `log`, `tan` and `sin`; the
//! MLIR backend expands the same recipe into its own ops. There is no
//! second implementation to drift: [`Scalar`] evaluates the recipe in
//! plain `f64` for tests and analyses.
//!
//! **Digamma** ψ(x):
//! * x ≥ 10: the asymptotic series `ln x - 1/(2x) - Σ B₂ₖ/(2k x²ᵏ)`,
//!   k = 1..8 (the first omitted term is below 2⁻⁶⁰ relative).
//! * 0 ≤ x < 10: `y = x - n` in [1, 2) with `n = floor(x) - 1` (exact for
//!   x ≥ 1; `x + 1` for x < 1, whose rounding error, and that of `1 - x`
//!   below, is carried exactly into `y - x₀`), then `ψ(x) = ψ(y) + Σₖ₌₁ⁿ 1/(x-k)` (or
//!   `- 1/x` when n = -1). On [1, 2), `ψ(y) = (y - x₀) (G(y) + 1/(x₀ y))`
//!   where x₀ = 1.46163... is the positive root, carried as two doubles so
//!   that `y - x₀` is exact to the last bit, and G (analytic on [1, 2], its
//!   nearest pole at -1) is a degree-16 polynomial in `2y - 3`, the
//!   Chebyshev interpolant computed with mpmath and rounded. Relative
//!   accuracy therefore holds right through the root.
//! * x < 0: the reflection `ψ(x) = ψ(1 - x) - π cot(π r)` with
//!   `r = x - floor(x + 1/2)` (exact), and the cotangent from a `tan` of an
//!   exactly reduced argument (`π tan(π (1/2 - |r|))` near |r| = 1/2), so it
//!   is accurate to a few ulps next to a pole and next to its own zeros.
//!   Near ψ's negative zeros the two terms cancel and the error is absolute
//!   (a few ε·(|ψ(1-x)| + |π cot(πx)|)), as in every reflection-based
//!   implementation.
//! * Poles: ψ(+0) = -inf, ψ(-0) = +inf, ψ(negative integer) = NaN,
//!   ψ(-inf) = NaN, ψ(+inf) = +inf (scipy's `digamma`; mpmath raises).
//!
//! **Trigamma** ψ₁(x): for x < 10, `Σₖ₌₀⁹ 1/(x+k)² + ψ₁(x+10)` (all terms
//! positive: no cancellation), else directly the asymptotic series
//! `1/z + 1/(2z²) + Σ B₂ₖ/z²ᵏ⁺¹`, k = 1..10; for x < 0 the reflection
//! `ψ₁(x) = π²/sin²(π r) - ψ₁(1 - x)`. Poles (0 and the negative integers)
//! give +inf from both sides, as the function does; ψ₁(-inf) = NaN.
//!
//! Accuracy against mpmath is measured and listed in `docs/functions.md`.

use std::convert::Infallible;
use std::f64::consts::PI;

use crate::tape::{BinaryFn, CmpOp, UnaryFn, select};

/// The operations a recipe is written in: a tape builder, MLIR ops or
/// plain `f64` implement them. Every method is one rounding (or exact).
pub trait Emit {
    /// A value (a register, an SSA value, a number).
    type V: Copy;
    /// What building an operation can fail with.
    type Err;
    /// A constant.
    fn konst(&mut self, c: f64) -> Result<Self::V, Self::Err>;
    /// `a + b`.
    fn add(&mut self, a: Self::V, b: Self::V) -> Result<Self::V, Self::Err>;
    /// `a - b`.
    fn sub(&mut self, a: Self::V, b: Self::V) -> Result<Self::V, Self::Err>;
    /// `a * b`.
    fn mul(&mut self, a: Self::V, b: Self::V) -> Result<Self::V, Self::Err>;
    /// `a / b`.
    fn div(&mut self, a: Self::V, b: Self::V) -> Result<Self::V, Self::Err>;
    /// `f(a)`.
    fn unary(&mut self, f: UnaryFn, a: Self::V) -> Result<Self::V, Self::Err>;
    /// `f(a, b)`.
    fn binary(&mut self, f: BinaryFn, a: Self::V, b: Self::V) -> Result<Self::V, Self::Err>;
    /// `a op b` as 1.0 / 0.0.
    fn cmp(&mut self, k: CmpOp, a: Self::V, b: Self::V) -> Result<Self::V, Self::Err>;
    /// `c != 0 ? a : b`.
    fn select(&mut self, c: Self::V, a: Self::V, b: Self::V) -> Result<Self::V, Self::Err>;
    /// `-a`.
    fn neg(&mut self, a: Self::V) -> Result<Self::V, Self::Err>;
    /// `a * b + c`, rounded once where the target fuses it.
    fn fma(&mut self, a: Self::V, b: Self::V, c: Self::V) -> Result<Self::V, Self::Err>;
}

/// `b ** n` for `n > 0` by square-and-multiply, most significant bit first:
/// the multiplication order every backend shares.
pub fn powi<E: Emit>(e: &mut E, b: E::V, n: u64) -> Result<E::V, E::Err> {
    debug_assert!(n > 0);
    let bits = 64 - n.leading_zeros();
    let mut acc = b;
    for i in (0..bits - 1).rev() {
        acc = e.mul(acc, acc)?;
        if (n >> i) & 1 == 1 {
            acc = e.mul(acc, b)?;
        }
    }
    Ok(acc)
}

/// The special functions written as recipes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Special {
    /// ψ(x).
    Digamma,
    /// ψ₁(x).
    Trigamma,
}

impl Special {
    /// Both, in a fixed order.
    pub const ALL: [Special; 2] = [Special::Digamma, Special::Trigamma];

    /// The function's name (as in the core's function table).
    pub fn name(self) -> &'static str {
        match self {
            Special::Digamma => "digamma",
            Special::Trigamma => "trigamma",
        }
    }

    /// The recipe for this function applied to `x`.
    pub fn expand<E: Emit>(self, e: &mut E, x: E::V) -> Result<E::V, E::Err> {
        match self {
            Special::Digamma => digamma(e, x),
            Special::Trigamma => trigamma(e, x),
        }
    }

    /// How many tape operations the recipe emits, constants not counted
    /// (what `Tape::n_compute` sees; cost models weigh the function by it).
    pub fn ops(self) -> usize {
        let mut c = Counter(0);
        match self.expand(&mut c, ()) {
            Ok(()) => c.0,
            Err(never) => match never {},
        }
    }

    /// The recipe evaluated in plain `f64` (what every tier computes, up
    /// to the platform's `log`, `tan` and `sin`).
    pub fn eval(self, x: f64) -> f64 {
        match self.expand(&mut Scalar, x) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }
}

/// Where ψ crosses zero on the positive axis, as a sum of two doubles.
const X0_HI: f64 = 1.4616321449683622;
const X0_LO: f64 = 9.549995429965697e-17;
/// `1 / x0`, rounded.
const INV_X0: f64 = 0.6841666717870696;
/// `G(y) = (ψ(y + 1) - 1/x0) / (y - x0)` on [1, 2] as a polynomial in
/// `s = 2y - 3`, ascending powers (Chebyshev interpolant, 48 nodes,
/// truncated at degree 16: the next coefficient is below 4e-17 * G).
const G: [f64; 17] = [
    0.49494476150711986,
    -0.05977667246582584,
    0.009456608335228552,
    -0.0016576111400868033,
    0.0003057938644235154,
    -5.806619340162578e-05,
    1.1221206504017734e-05,
    -2.192805168580286e-06,
    4.316533238606273e-07,
    -8.538683115712132e-08,
    1.6947087060335517e-08,
    -3.373052909347309e-09,
    6.721534243315687e-10,
    -1.3216809093091122e-10,
    2.6331522999945482e-11,
    -6.347650161991732e-12,
    1.2813527228300265e-12,
];
/// `B₂ₖ / (2k)`, k = 1..8: the digamma asymptotic series.
const DIGAMMA_ASYM: [f64; 8] = [
    1.0 / 12.0,
    -1.0 / 120.0,
    1.0 / 252.0,
    -1.0 / 240.0,
    1.0 / 132.0,
    -691.0 / 32760.0,
    1.0 / 12.0,
    -3617.0 / 8160.0,
];
/// `B₂ₖ`, k = 1..10: the trigamma asymptotic series.
const TRIGAMMA_ASYM: [f64; 10] = [
    1.0 / 6.0,
    -1.0 / 30.0,
    1.0 / 42.0,
    -1.0 / 30.0,
    5.0 / 66.0,
    -691.0 / 2730.0,
    7.0 / 6.0,
    -3617.0 / 510.0,
    43867.0 / 798.0,
    -174611.0 / 330.0,
];
/// Where the asymptotic series take over.
const ASYM_FROM: f64 = 10.0;

/// Horner's rule with separate multiply and add (as written, so that the
/// as-written compile of every tier rounds alike), ascending coefficients.
fn horner<E: Emit>(e: &mut E, x: E::V, coeffs: &[f64]) -> Result<E::V, E::Err> {
    let (&last, rest) = coeffs.split_last().expect("a polynomial has a coefficient");
    let mut acc = e.konst(last)?;
    for &c in rest.iter().rev() {
        let m = e.mul(acc, x)?;
        let k = e.konst(c)?;
        acc = e.add(m, k)?;
    }
    Ok(acc)
}

/// `x - floor(x + 1/2)`: x reduced to about [-1/2, 1/2] by an integer,
/// exactly (the subtraction is exact by Sterbenz's lemma).
fn reduce_half<E: Emit>(e: &mut E, x: E::V) -> Result<E::V, E::Err> {
    let half = e.konst(0.5)?;
    let h = e.add(x, half)?;
    let n = e.unary(UnaryFn::Floor, h)?;
    e.sub(x, n)
}

/// `π cot(π r)` for |r| <= 1/2 with a relative error of a few ulps: near
/// r = ±1/2, where cot vanishes, as `±π tan(π (1/2 - |r|))` (the
/// subtraction is exact), else `π / tan(π r)`; one `tan` either way.
fn pi_cot_pi<E: Emit>(e: &mut E, r: E::V) -> Result<E::V, E::Err> {
    let ar = e.unary(UnaryFn::Abs, r)?;
    let quarter = e.konst(0.25)?;
    let far = e.cmp(CmpOp::Ge, ar, quarter)?;
    let half = e.konst(0.5)?;
    let comp = e.sub(half, ar)?;
    let arg = e.select(far, comp, r)?;
    let pi = e.konst(PI)?;
    let th = e.mul(pi, arg)?;
    let tn = e.unary(UnaryFn::Tan, th)?;
    let one = e.konst(1.0)?;
    let sign = e.binary(BinaryFn::Copysign, one, r)?;
    let ptn = e.mul(pi, tn)?;
    let far_v = e.mul(ptn, sign)?;
    let near_v = e.div(pi, tn)?;
    e.select(far, far_v, near_v)
}

/// What ψ and ψ₁ both start from: the constants 0, 1 and [`ASYM_FROM`],
/// whether `x < 0`, `1 - x`, and the argument on the positive side (`1 -
/// x` for a negative `x`, the reflection's partner).
struct Prologue<V> {
    zero: V,
    one: V,
    big: V,
    neg: V,
    one_minus_x: V,
    xp: V,
}

fn prologue<E: Emit>(e: &mut E, x: E::V) -> Result<Prologue<E::V>, E::Err> {
    let zero = e.konst(0.0)?;
    let one = e.konst(1.0)?;
    let big = e.konst(ASYM_FROM)?;
    let neg = e.cmp(CmpOp::Lt, x, zero)?;
    let one_minus_x = e.sub(one, x)?;
    let xp = e.select(neg, one_minus_x, x)?;
    Ok(Prologue {
        zero,
        one,
        big,
        neg,
        one_minus_x,
        xp,
    })
}

/// ψ(x) (see the module docs).
pub fn digamma<E: Emit>(e: &mut E, x: E::V) -> Result<E::V, E::Err> {
    let Prologue {
        zero,
        one,
        big,
        neg,
        one_minus_x,
        xp,
    } = prologue(e, x)?;

    // x >= 10: asymptotic series at z = max(x, 10).
    let z = e.binary(BinaryFn::Max, xp, big)?;
    let zz = e.mul(z, z)?;
    let w = e.div(one, zz)?;
    let p = horner(e, w, &DIGAMMA_ASYM)?;
    let lz = e.unary(UnaryFn::Log, z)?;
    let half = e.konst(0.5)?;
    let h = e.div(half, z)?;
    let a1 = e.sub(lz, h)?;
    let wp = e.mul(w, p)?;
    let asym = e.sub(a1, wp)?;

    // 0 <= x < 10: down (or, below 1, up) to y in [1, 2).
    let xs = e.binary(BinaryFn::Min, xp, big)?;
    let fl = e.unary(UnaryFn::Floor, xs)?;
    let n = e.sub(fl, one)?;
    let y = e.sub(xs, n)?;
    // y is exact except for the roundings of 1 - x (x < 0) and x + 1
    // (x < 1); their exact errors (2Sum / Fast2Sum) go into y - x0 below,
    // where ψ(y) is small and the rounding would show.
    let bb = e.sub(one_minus_x, one)?;
    let t1 = e.sub(one_minus_x, bb)?;
    let t2 = e.sub(one, t1)?;
    let t3 = e.add(x, bb)?;
    let reflect_err = e.sub(t2, t3)?;
    let reflect_err = e.select(neg, reflect_err, zero)?;
    let yn = e.add(y, n)?;
    let shift_err = e.sub(xs, yn)?;
    let y_err = e.add(shift_err, reflect_err)?;
    let two = e.konst(2.0)?;
    let three = e.konst(3.0)?;
    let y2 = e.mul(two, y)?;
    let s = e.sub(y2, three)?;
    let g = horner(e, s, &G)?;
    let c = e.konst(INV_X0)?;
    let cy = e.div(c, y)?;
    let pp = e.add(g, cy)?;
    let hi = e.konst(X0_HI)?;
    let lo = e.konst(X0_LO)?;
    let t = e.sub(y, hi)?;
    let t = e.add(t, y_err)?;
    let t = e.sub(t, lo)?;
    let core = e.mul(t, pp)?;
    // Σ_{k=1}^{n} 1/(x - k), smallest terms first; terms past n are 0.
    let mut acc: Option<E::V> = None;
    for k in 1..=8 {
        let kc = e.konst(k as f64)?;
        let d = e.sub(xs, kc)?;
        let r = e.div(one, d)?;
        let on = e.cmp(CmpOp::Ge, n, kc)?;
        let term = e.select(on, r, zero)?;
        acc = Some(match acc {
            None => term,
            Some(a) => e.add(a, term)?,
        });
    }
    let sum = e.add(acc.expect("eight terms"), core)?;
    let inv = e.div(one, xs)?;
    let below_one = e.cmp(CmpOp::Lt, n, zero)?;
    let corr = e.select(below_one, inv, zero)?;
    let small = e.sub(sum, corr)?;
    let is_big = e.cmp(CmpOp::Ge, xp, big)?;
    let pos = e.select(is_big, asym, small)?;

    // x < 0: reflection; negative integers (and -inf) are NaN.
    let r = reduce_half(e, x)?;
    let pcot = pi_cot_pi(e, r)?;
    let refl = e.sub(pos, pcot)?;
    let res = e.select(neg, refl, pos)?;
    let fx = e.unary(UnaryFn::Floor, x)?;
    let is_int = e.cmp(CmpOp::Eq, fx, x)?;
    let pole = e.select(neg, is_int, zero)?;
    let nan = e.konst(f64::NAN)?;
    e.select(pole, nan, res)
}

/// ψ₁(x) (see the module docs).
pub fn trigamma<E: Emit>(e: &mut E, x: E::V) -> Result<E::V, E::Err> {
    let Prologue {
        zero,
        one,
        big,
        neg,
        xp,
        ..
    } = prologue(e, x)?;

    // Shift x < 10 by ten, then the asymptotic series at z >= 10.
    let small = e.cmp(CmpOp::Lt, xp, big)?;
    let shifted = e.add(xp, big)?;
    let z = e.select(small, shifted, xp)?;
    let iz = e.div(one, z)?;
    let w = e.mul(iz, iz)?;
    let p = horner(e, w, &TRIGAMMA_ASYM)?;
    let half = e.konst(0.5)?;
    let h = e.mul(iz, half)?;
    let a = e.add(one, h)?;
    let wp = e.mul(w, p)?;
    let a = e.add(a, wp)?;
    let mut acc = e.mul(iz, a)?;
    // + Σ_{k=0}^{9} 1/(x+k)², smallest first.
    for k in (0..10).rev() {
        let d = if k == 0 {
            xp
        } else {
            let kc = e.konst(k as f64)?;
            e.add(xp, kc)?
        };
        let dd = e.mul(d, d)?;
        let r = e.div(one, dd)?;
        let term = e.select(small, r, zero)?;
        acc = e.add(acc, term)?;
    }

    // x < 0: π²/sin²(π r) - ψ₁(1 - x).
    let r = reduce_half(e, x)?;
    let pi = e.konst(PI)?;
    let pr = e.mul(pi, r)?;
    let sn = e.unary(UnaryFn::Sin, pr)?;
    let q = e.div(pi, sn)?;
    let qq = e.mul(q, q)?;
    let refl = e.sub(qq, acc)?;
    e.select(neg, refl, acc)
}

/// Counts the non-constant operations of a recipe.
pub(crate) struct Counter(pub(crate) usize);

impl Emit for Counter {
    type V = ();
    type Err = Infallible;
    fn konst(&mut self, _: f64) -> Result<(), Infallible> {
        Ok(())
    }
    fn add(&mut self, _: (), _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn sub(&mut self, _: (), _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn mul(&mut self, _: (), _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn div(&mut self, _: (), _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn unary(&mut self, _: UnaryFn, _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn binary(&mut self, _: BinaryFn, _: (), _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn cmp(&mut self, _: CmpOp, _: (), _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn select(&mut self, _: (), _: (), _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn neg(&mut self, _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
    fn fma(&mut self, _: (), _: (), _: ()) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
}

/// Plain `f64` evaluation of a recipe (the reference for tests).
pub struct Scalar;

impl Emit for Scalar {
    type V = f64;
    type Err = Infallible;
    fn konst(&mut self, c: f64) -> Result<f64, Infallible> {
        Ok(c)
    }
    fn add(&mut self, a: f64, b: f64) -> Result<f64, Infallible> {
        Ok(a + b)
    }
    fn sub(&mut self, a: f64, b: f64) -> Result<f64, Infallible> {
        Ok(a - b)
    }
    fn mul(&mut self, a: f64, b: f64) -> Result<f64, Infallible> {
        Ok(a * b)
    }
    fn div(&mut self, a: f64, b: f64) -> Result<f64, Infallible> {
        Ok(a / b)
    }
    fn unary(&mut self, f: UnaryFn, a: f64) -> Result<f64, Infallible> {
        Ok(f.apply(a))
    }
    fn binary(&mut self, f: BinaryFn, a: f64, b: f64) -> Result<f64, Infallible> {
        Ok(f.apply(a, b))
    }
    fn cmp(&mut self, k: CmpOp, a: f64, b: f64) -> Result<f64, Infallible> {
        Ok(k.apply(a, b))
    }
    fn select(&mut self, c: f64, a: f64, b: f64) -> Result<f64, Infallible> {
        Ok(select(c, a, b))
    }
    fn neg(&mut self, a: f64) -> Result<f64, Infallible> {
        Ok(-a)
    }
    fn fma(&mut self, a: f64, b: f64, c: f64) -> Result<f64, Infallible> {
        Ok(a.mul_add(b, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mpmath values (30 digits, rounded to f64 by the literal).
    #[test]
    fn digamma_matches_mpmath() {
        let cases: &[(f64, f64)] = &[
            (1.4616321449683622, -9.241265521729427e-17),
            (1.5, 0.03648997397857652),
            (1.0, -0.5772156649015329),
            (2.0, 0.42278433509846713),
            (0.25, -4.2274535333762655),
            (1e-10, -10000000000.577215),
            (3.75, 1.1825373886117962),
            (9.999, 2.2516474172057355),
            (10.0, 2.251752589066721),
            (123.456, 4.811829323828985),
            (1000000000000000.0, 34.538776394910684),
            (1e+300, 690.7755278982137),
            (-0.5, 0.03648997397857652),
            (-2.75, -1.959055264977997),
            (-10.3, 4.662403493582087),
            (-100000.25, 14.654525618536063),
            (1.4616321449683625, 1.2245374622004068e-16),
        ];
        for &(x, want) in cases {
            let got = Special::Digamma.eval(x);
            // Relative on the positive axis; on the negative axis the
            // reflection's two terms cancel near ψ's zeros, so the bound is
            // relative to their size.
            let scale = if x < 0.0 {
                Special::Digamma.eval(1.0 - x).abs() + (PI / (PI * x).tan()).abs()
            } else {
                want.abs()
            };
            let ulp = f64::EPSILON * scale;
            assert!(
                (got - want).abs() <= 4.0 * ulp,
                "digamma({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn trigamma_matches_mpmath() {
        let cases: &[(f64, f64)] = &[
            (0.5, 4.934802200544679),
            (1.0, 1.6449340668482264),
            (1.4616321449683622, 0.9676722454476212),
            (3.3, 0.3535015418410618),
            (9.9, 0.1062830416287406),
            (10.0, 0.10516633568168575),
            (77.7, 0.012953186766097862),
            (10000000000.0, 1.00000000005e-10),
            (1e-05, 10000000001.644909),
            (-0.5, 8.934802200544679),
            (-2.25, 19.37941051186914),
            (-99.9, 103.34587903325719),
        ];
        for &(x, want) in cases {
            let got = Special::Trigamma.eval(x);
            let ulp = f64::EPSILON * want.abs();
            assert!(
                (got - want).abs() <= 4.0 * ulp,
                "trigamma({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn op_counts_match_the_lowered_tape() {
        use alkahest_core::{ExprPool, Func};
        let pool = ExprPool::new();
        let x = pool.symbol("x").unwrap();
        for (f, sp) in [
            (Func::Digamma, Special::Digamma),
            (Func::Trigamma, Special::Trigamma),
        ] {
            let e = pool.func(f, &[x]).unwrap();
            let tape = crate::lower(&pool, e, &[x]).unwrap();
            assert_eq!(tape.n_compute(), sp.ops(), "{f:?}");
            // Every point runs the tape: the interpreter's value is the recipe's.
            for v in [0.3, 1.5, -2.5, 17.0] {
                assert_eq!(tape.eval_point(&[v])[0].to_bits(), sp.eval(v).to_bits());
            }
        }
    }

    #[test]
    fn poles_and_infinities() {
        let d = |x| Special::Digamma.eval(x);
        let t = |x| Special::Trigamma.eval(x);
        assert_eq!(d(0.0), f64::NEG_INFINITY);
        assert_eq!(d(-0.0), f64::INFINITY);
        assert!(d(-1.0).is_nan() && d(-7.0).is_nan() && d(-2f64.powi(60)).is_nan());
        assert!(d(f64::NEG_INFINITY).is_nan() && d(f64::NAN).is_nan());
        assert_eq!(d(f64::INFINITY), f64::INFINITY);
        for x in [0.0, -0.0, -1.0, -3.0] {
            assert_eq!(t(x), f64::INFINITY, "{x}");
        }
        assert_eq!(t(f64::INFINITY), 0.0);
        assert!(t(f64::NEG_INFINITY).is_nan() && t(f64::NAN).is_nan());
        // Just beside a pole the reflection keeps full accuracy:
        // ψ(-1e-9) = 1e9 - γ + ... (mpmath: 999999999.42278427...).
        let v = d(-1e-9);
        assert!((v - 999_999_999.422_784_3).abs() < 1e-6, "{v}");
    }
}
