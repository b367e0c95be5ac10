//! High-precision references for the functions MPFR lacks.

use rug::Float;
use rug::float::Round;

/// ψ₁(x) (trigamma) at precision `prec`. MPFR has digamma but no
/// trigamma, so this is digamma's central difference at a working
/// precision of 1.5·prec + 64 bits with a step 2^(-w/3) times the distance
/// to the nearest pole: truncation and cancellation each cost about 2w/3
/// bits, leaving more than `prec` correct ones. The ground truth's
/// escalating precision checks the result like any other value.
pub(crate) fn trigamma(x: &Float, prec: u32) -> Float {
    let nan = || Float::with_val(prec, f64::NAN);
    if x.is_nan() {
        return nan();
    }
    if x.is_infinite() {
        return if x.is_sign_positive() {
            Float::with_val(prec, 0)
        } else {
            nan()
        };
    }
    if !x.is_sign_positive() || x.is_zero() {
        // Poles at 0 and the negative integers: +inf from both sides.
        if x.is_integer() {
            return Float::with_val(prec, f64::INFINITY);
        }
    }
    let w = prec.saturating_mul(3) / 2 + 64;
    let xw = Float::with_val(w, x);
    // Distance to the nearest pole, at most 1.
    let d = if xw.is_sign_positive() {
        Float::with_val(w, xw.clone().min(&Float::with_val(w, 1)))
    } else {
        let r = Float::with_val(w, &xw - Float::with_val(w, xw.round_ref()));
        r.abs()
    };
    let h = d >> (w / 3);
    let xp = Float::with_val_round(w, &xw + &h, Round::Nearest).0;
    let xm = Float::with_val_round(w, &xw - &h, Round::Nearest).0;
    let den = Float::with_val(w, &xp - &xm);
    let num = Float::with_val(w, xp.digamma() - xm.digamma());
    Float::with_val(prec, num / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigamma_matches_known_values() {
        // ψ₁(1) = π²/6, ψ₁(1/2) = π²/2, ψ₁(-1/2) = π²/2 + 4.
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        let at = |x: f64| trigamma(&Float::with_val(53, x), 200).to_f64();
        assert!((at(1.0) - pi2 / 6.0).abs() < 1e-15);
        assert!((at(0.5) - pi2 / 2.0).abs() < 1e-15);
        assert!((at(-0.5) - (pi2 / 2.0 + 4.0)).abs() < 1e-14);
        assert_eq!(at(-3.0), f64::INFINITY);
        assert_eq!(at(f64::INFINITY), 0.0);
        // A 1000-bit value agrees with a 200-bit one to the 200th bit.
        let x = Float::with_val(53, 3.25);
        let a = trigamma(&x, 1000);
        let b = trigamma(&x, 200);
        let diff = Float::with_val(1000, &a - &b).abs().to_f64();
        assert!(diff < 1e-58, "{diff}");
    }
}
