//! `asin` and `acos` on vectors where the CPU has AVX-512 (the `exp`
//! module's hosts and widths), inline, from generic vector operations (no
//! table, no target intrinsic), so the bits do not depend on the width.
//!
//! * `|x| <= 1/2`: `asin |x| = v + t`, `t = v w P(w)` with `v = |x|`, `w =
//!   x^2` and `P` of degree 11 ([`ASIN_P`], Chebyshev interpolation on `[0,
//!   1/4]`, within 2^-54 of `asin` relative).
//! * `|x| > 1/2`: `asin |x| = pi/2 - 2 asin(s)` with `z = (1 - |x|)/2`
//!   (exact) and `s = sqrt(z)`, the same polynomial with `v = s`, `w = z`.
//! * Every result is `C + A + B` with `|C| >= |A|` or `C = 0`: `C + A` by
//!   Fast2Sum, its error and `B` (the small terms and the low parts of
//!   `pi/2` and `pi`) added before the one rounding at full scale. So only
//!   `sqrt`'s rounding (doubled) and the polynomial's tail reach the result:
//!   `asin` within 1.58 ulp and `acos` within 1.34 of the true value
//!   measured against mpmath (glibc's libmvec `asin` within 2.48 against
//!   `asinl` on 1M points).
//!
//! Speed, in one process against libmvec's at the default code-generation
//! level on this project's benchmark machine: `asin` 0.82-0.87 -> 0.48-0.49
//! ns a point, `acos` 0.80-0.84 -> 0.56; formulas with them beside `cos`,
//! `exp`, `log` or `sqrt` 1.2-1.5x faster, beside `tanh` level.
//!
//! `|x| > 1` and NaN give NaN (`sqrt` of a negative `z`), `±1` give `±pi/2`
//! (`acos`: `0`, `pi`), `±0` keep their sign in `asin`. `exact_math` keeps
//! libm's routines, other hosts libmvec's.

use alkahest_tape::UnaryFn;
use inkwell::FloatPredicate;
use inkwell::types::VectorType;
use inkwell::values::VectorValue;

use super::Gen;
use crate::error::Result;

/// `(asin(sqrt w) - sqrt w) / w^(3/2)` on `[0, 1/4]`, coefficients from
/// `w^0` (Chebyshev interpolation of degree 11, mpmath:
/// `scripts/fit_asin.py`).
const ASIN_P: [f64; 12] = [
    f64::from_bits(0x3FC5_5555_5555_554F),
    f64::from_bits(0x3FB3_3333_3333_6DA5),
    f64::from_bits(0x3FA6_DB6D_B684_B6A1),
    f64::from_bits(0x3F9F_1C71_F952_69AF),
    f64::from_bits(0x3F96_E8B2_B3B1_0BE4),
    f64::from_bits(0x3F91_C593_C7B1_D958),
    f64::from_bits(0x3F8C_8726_5D47_EF49),
    f64::from_bits(0x3F88_522D_DFFA_6208),
    f64::from_bits(0x3F7F_F5FC_4D14_C735),
    f64::from_bits(0x3F90_6B9D_26D1_0838),
    f64::from_bits(0xBF86_0399_1D60_60E0),
    f64::from_bits(0x3F9C_D864_394D_2FF2),
];
/// `pi/2` rounded, and the rest.
const PIO2_HI: f64 = f64::from_bits(0x3FF9_21FB_5444_2D18);
const PIO2_LO: f64 = f64::from_bits(0x3C91_A626_3314_5C07);
/// `pi` rounded, and the rest.
const PI_HI: f64 = f64::from_bits(0x4009_21FB_5444_2D18);
const PI_LO: f64 = f64::from_bits(0x3CA1_A626_3314_5C07);

/// The shared parts of both functions (module docs).
struct Parts<'ctx> {
    ax: VectorValue<'ctx>,
    big: VectorValue<'ctx>,
    s: VectorValue<'ctx>,
    t: VectorValue<'ctx>,
}

impl<'ctx> Gen<'ctx, '_> {
    /// `f` (`asin` or `acos`) of every lane: inline, or through
    /// `alkahest_v<f>_x<w>` ([`super::exp::inline_routine`]).
    pub(super) fn own_asin(
        &mut self,
        f: UnaryFn,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        self.inline_or_call(self.inline_asin, f, vt, x, |g, a| {
            if f == UnaryFn::Acos {
                g.acos_fast(vt, a)
            } else {
                g.asin_fast(vt, a)
            }
        })
    }

    /// `|x|`, the lanes above 1/2, `s = sqrt((1 - |x|)/2)` and `t` with
    /// `asin(v) = v + t` for `v` the polynomial's argument (module docs).
    fn asin_parts(&mut self, vt: VectorType<'ctx>, x: VectorValue<'ctx>) -> Result<Parts<'ctx>> {
        let ax = self.intrinsic_v("llvm.fabs", &[x])?;
        let half = self.splat(vt, 0.5);
        let big = self.cmp_v(FloatPredicate::OGT, ax, half)?;
        let z = self.fma_v(self.neg(ax)?, half, half)?;
        let s = self.intrinsic_v("llvm.sqrt", &[z])?;
        let w = self.select_v(big, z, self.mul(x, x)?)?;
        let v = self.select_v(big, s, ax)?;
        let p = self.estrin(vt, &ASIN_P, w)?;
        let t = self.mul(self.mul(v, w)?, p)?;
        Ok(Parts { ax, big, s, t })
    }

    /// `C + A + B` with `|C| >= |A|` or `C = 0`, rounded once (module docs).
    fn three_sum(
        &mut self,
        c: VectorValue<'ctx>,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let (h, e) = self.fast_two_sum(c, a)?;
        self.add(h, self.add(e, b)?)
    }

    fn asin_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let Parts { ax, big, s, t } = self.asin_parts(vt, x)?;
        // Small: 0 + |x| + t. Large: pi/2 - 2s + (pi/2's low part - 2t).
        let c = self.select_v(big, self.splat(vt, PIO2_HI), self.splat(vt, 0.0))?;
        let two_s = self.mul(s, self.splat(vt, -2.0))?;
        let a = self.select_v(big, two_s, ax)?;
        let b_big = self.fma_v(t, self.splat(vt, -2.0), self.splat(vt, PIO2_LO))?;
        let b = self.select_v(big, b_big, t)?;
        let y = self.three_sum(c, a, b)?;
        self.intrinsic_v("llvm.copysign", &[y, x])
    }

    fn acos_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let Parts { big, s, t, .. } = self.asin_parts(vt, x)?;
        let zero = self.splat(vt, 0.0);
        let neg = self.lt_v(x, zero)?;
        // Small: pi/2 - x - (sign(x) t - pi/2's low part).
        let st = self.intrinsic_v("llvm.copysign", &[t, x])?;
        let b_small = self.sub(self.splat(vt, PIO2_LO), st)?;
        // Large, x > 0: 0 + 2s + 2t. x < 0: pi - 2s + (pi's low part - 2t).
        let two_s = self.mul(s, self.splat(vt, 2.0))?;
        let two_t = self.mul(t, self.splat(vt, 2.0))?;
        let c_big = self.select_v(neg, self.splat(vt, PI_HI), zero)?;
        let a_big = self.select_v(neg, self.neg(two_s)?, two_s)?;
        let b_neg = self.sub(self.splat(vt, PI_LO), two_t)?;
        let b_big = self.select_v(neg, b_neg, two_t)?;
        let c = self.select_v(big, c_big, self.splat(vt, PIO2_HI))?;
        let a = self.select_v(big, a_big, self.neg(x)?)?;
        let b = self.select_v(big, b_big, b_small)?;
        self.three_sum(c, a, b)
    }
}
