//! Third powers `x ** (p/3)` from `cbrt`, for the exact rational exponents
//! with denominator 3 (`sympy.cbrt(x)` is `x**(1/3)`).
//!
//! `pow` cannot compute them: `1/3` is not a double, and `pow(x,
//! 0.333...)` is off from the cube root by `|log x| 2^-54` relative, 110 ulp
//! at `x = 1e300` (`x**(2/3)` 224 ulp, `x**(4/3)` 343). Instead `c =
//! cbrt(|x|)` gets one Newton correction `lo = (|x| - c^3) / (3 c^2)`, with
//! `c^3` exact as a sum of three doubles by FMAs, so `c + lo` is the cube
//! root to ~2^-100 whatever the library's `cbrt` (libmvec's is off by 1.7
//! ulp); `c^(p mod 3)`, times `|x|^(p div 3)` and inverted for a negative
//! exponent, is then carried as `hi + lo` and rounded about once. Within
//! 0.5 ulp of the true value for `|p| <= 5` on 3,000 points of `[0.1, 10]`
//! and of `[1e-300, 1e300]`, against 0.9-2.0 and 110-343 for `pow` of the
//! rounded exponent (mpmath, every CPU tier and LLVM's vector loop); a
//! larger whole part adds the roundings of its multiplication chain
//! (`x**(-7/3)`: 1.09).
//!
//! `|x|` below 2^-900 or above 2^900 is scaled by 2^(±300) first (exact),
//! so that the residuals of `c^3` are neither subnormal nor infinite, and
//! the cube root scaled back by 2^(∓100). `pow`'s special values are kept:
//! NaN for a finite negative base, `-0` and `-inf` as `+0` and `+inf`,
//! overflow and underflow where `pow` has them.
//!
//! The recipe is written once over [`Emit`]: the tape crate's lowering and
//! MLIR's expand it into their own operations.

use num_bigint::Sign;
use num_rational::BigRational;

use crate::special::{Counter, Emit, powi};
use crate::tape::{CmpOp, UnaryFn};

/// `|x|` below this is scaled up by 2^300 (above its inverse, down).
const SMALL: f64 = f64::from_bits((1023 - 900) << 52);
/// The scale of the cube root: 2^100.
const SCALE: f64 = f64::from_bits((1023 + 100) << 52);

/// `(p, negative)` when the exact exponent `r` is `±p/3` in lowest terms
/// with a whole part `p div 3` the lowering chains: the exponents the tape
/// crate computes with [`third_power`] (and MLIR and the e-graph's cost
/// model recognize through this same test).
pub fn third_exponent(r: &BigRational) -> Option<(u64, bool)> {
    if *r.denom() != 3u32.into() {
        return None;
    }
    let p = u64::try_from(r.numer().magnitude()).ok()?;
    (p / 3 <= crate::lower::MAX_POWI).then_some((p, r.numer().sign() == Sign::Minus))
}

/// `x ** (±p/3)`, `p` not a multiple of 3 (module docs).
pub fn third_power<E: Emit>(e: &mut E, x: E::V, p: u64, negative: bool) -> Result<E::V, E::Err> {
    let a = e.unary(UnaryFn::Abs, x)?;
    let (zero, one) = (e.konst(0.0)?, e.konst(1.0)?);
    // a_s = a s (exact) in [2^-900, 2^900]; cbrt(a) = cbrt(a_s) u.
    let (small, big) = (e.konst(SMALL)?, e.konst(1.0 / SMALL)?);
    let is_small = e.cmp(CmpOp::Lt, a, small)?;
    let is_big = e.cmp(CmpOp::Gt, a, big)?;
    let (up, down) = (e.konst(SCALE.powi(3))?, e.konst(SCALE.powi(-3))?);
    let s = e.select(is_big, down, one)?;
    let s = e.select(is_small, up, s)?;
    let (up, down) = (e.konst(1.0 / SCALE)?, e.konst(SCALE)?);
    let u = e.select(is_big, down, one)?;
    let u = e.select(is_small, up, u)?;
    let a_s = e.mul(a, s)?;
    let c_s = e.unary(UnaryFn::Cbrt, a_s)?;
    // c^2 = c2 + c2e and c^3 = c3 + c3e (to ~2^-106), then the correction.
    let c2 = e.mul(c_s, c_s)?;
    let neg_c2 = e.neg(c2)?;
    let c2e = e.fma(c_s, c_s, neg_c2)?;
    let c3 = e.mul(c2, c_s)?;
    let neg_c3 = e.neg(c3)?;
    let c3e = e.fma(c2, c_s, neg_c3)?;
    let c3e = e.fma(c2e, c_s, c3e)?;
    let d = e.sub(a_s, c3)?;
    let r = e.sub(d, c3e)?;
    let three = e.konst(3.0)?;
    let den = e.mul(three, c2)?;
    let lo = e.div(r, den)?;
    let lo = e.mul(lo, u)?;
    let c = e.mul(c_s, u)?;
    // c^(p mod 3) as hi + lo (c^2's parts scaled back exactly).
    let (hi, lo) = if p % 3 == 2 {
        let c2 = e.mul(c2, u)?;
        let c2 = e.mul(c2, u)?;
        let c2e = e.mul(c2e, u)?;
        let c2e = e.mul(c2e, u)?;
        let two_c = e.add(c, c)?;
        (c2, e.fma(two_c, lo, c2e)?)
    } else {
        (c, lo)
    };
    // Times a^(p div 3), still as hi + lo.
    let (hi, lo) = if p / 3 > 0 {
        let whole = powi(e, a, p / 3)?;
        let h = e.mul(whole, hi)?;
        let neg_h = e.neg(h)?;
        let err = e.fma(whole, hi, neg_h)?;
        (h, e.fma(whole, lo, err)?)
    } else {
        (hi, lo)
    };
    let (main, m) = if negative {
        // 1/(hi + lo): q = 1/hi, then q + q (1 - hi q - lo q).
        let q = e.div(one, hi)?;
        let neg_q = e.neg(q)?;
        let err = e.fma(neg_q, hi, one)?;
        let err = e.fma(neg_q, lo, err)?;
        (q, e.fma(q, err, q)?)
    } else {
        (hi, e.add(hi, lo)?)
    };
    // The residuals are NaN where `a` is 0 or infinite or a part overflows
    // or underflows to 0; the uncorrected value is right there.
    let failed = e.cmp(CmpOp::Ne, m, m)?;
    let m = e.select(failed, main, m)?;
    // NaN where `x` is negative and finite.
    let neg_inf = e.konst(f64::NEG_INFINITY)?;
    let below = e.cmp(CmpOp::Lt, x, zero)?;
    let above_inf = e.cmp(CmpOp::Gt, x, neg_inf)?;
    let bad = e.select(below, above_inf, zero)?;
    let nan = e.konst(f64::NAN)?;
    e.select(bad, nan, m)
}

/// Operations (`Tape::n_compute`) of [`third_power`]: the e-graph's cost
/// model counts what the tape will run.
pub fn third_power_ops(p: u64, negative: bool) -> usize {
    let mut count = Counter(0);
    let Ok(()) = third_power(&mut count, (), p, negative);
    count.0
}
