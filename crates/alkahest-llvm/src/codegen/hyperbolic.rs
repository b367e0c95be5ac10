//! `sinh` and `cosh` on vectors where the CPU has AVX-512 (the `exp`
//! module's hosts and widths), inline, from that module's `exp` parts: with
//! `E = e^|x|`,
//!
//! * `cosh x = E/2 + (1/2)/E`, one division and one addition;
//! * `sinh x = ±(E/2 - (1/2)/E)` for `|x| >= 1`, and an odd polynomial of
//!   degree 15 below 1, where the difference cancels ([`SINH_TAIL`]: as
//!   accurate as the Taylor series to `x^19/19!`, in two terms fewer);
//! * both as `h ± (1/4)/h` with `h = E/2` taken from `exp`'s parts with its
//!   table halved, so that they overflow where the functions do
//!   (`|x| > 710.47`), not where `E` does (709.78); from `|x| = 20` on the
//!   quotient is below half an ulp of `h` and the sum is `h` itself. This
//!   form gives the same bits as `E/2 ± (1/2)/E` with a select of `E/2`
//!   above 20, in five operations fewer (one clamp, one `vscalefpd`, a
//!   subtraction, a compare and a select): 11% faster for both on the Intel
//!   AVX-512 machine (benches/RESULTS.md); `sinh`'s shorter polynomial
//!   took 9% more off it there.
//!
//! Accuracy against mpmath (4k points per range from `[-1e-5, 1e-5]` to
//! `[700, 710.4]`): `cosh` within 1.02 ulp, `sinh` within 1.38 (the
//! difference at `|x|` just above 1, where `1/E` is `e^-2` of `E`; another
//! draw of 4k points on `[-5, 5]` found 1.44); glibc's libmvec variants
//! measured 1.82 and 1.63 on the first draw's points. `sinh` below 1: within
//! 0.79 ulp on 50k points. `-0.0`, NaN and the infinities come out as
//! libm's. Speed: see `inline_routine` (the `exp` module) and
//! benches/RESULTS.md.

use inkwell::types::VectorType;
use inkwell::values::VectorValue;

use super::{Gen, cg};
use crate::error::Result;

/// The clamp of `|x|` before `exp`'s parts: past both functions' overflow.
const CLAMP: f64 = 711.0;
/// Below this `|x|`, `sinh` is its odd polynomial.
const SMALL: f64 = 1.0;
/// `(sinh x - x) / x^3` as a polynomial in `x^2` on `[0, 1]`, lowest power
/// first: the interpolant at seven Chebyshev nodes (mpmath, 200 bits),
/// rounded. Its error in `sinh` is below 2^-56.6 of the result on `[0, 1]`,
/// as the Taylor series to `x^19/19!` with its rounded coefficients
/// (2^-56.8), in two terms fewer.
const SINH_TAIL: [f64; 7] = [
    f64::from_bits(0x3FC5_5555_5555_5555),
    f64::from_bits(0x3F81_1111_1111_10FD),
    f64::from_bits(0x3F2A_01A0_1A01_EE70),
    f64::from_bits(0x3EC7_1DE3_A4E1_4F40),
    f64::from_bits(0x3E5A_E646_0FAE_3728),
    f64::from_bits(0x3DE6_11CB_330C_1FE8),
    f64::from_bits(0x3D6B_4123_2CF9_950F),
];

impl<'ctx> Gen<'ctx, '_> {
    /// `cosh` of every lane (module docs).
    pub(super) fn cosh_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        Ok(self.exp_halves(vt, x, 0.5)?.1)
    }

    /// `sinh` of every lane (module docs).
    pub(super) fn sinh_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let (a, r) = self.exp_halves(vt, x, -0.5)?;
        // |x| < 1: a + a^3 P(a^2).
        let a2 = self.mul(a, a)?;
        let poly = self.estrin(vt, &SINH_TAIL, a2)?;
        let a3 = self.mul(a, a2)?;
        let small = self.fma_v(a3, poly, a)?;
        let below = self.lt_v(a, self.splat(vt, SMALL))?;
        let r = self.select_v(below, small, r)?;
        self.intrinsic_v("llvm.copysign", &[r, x])
    }

    /// `a = |x|` and `E/2 + c/E` with `E = e^a` (`c = ±1/2`), as
    /// `h + (c/2)/h` with `h = E/2 = p 2^n` from `exp`'s parts with the
    /// table halved, so that it overflows only from 710.47 on (`E` does from
    /// 709.78), and from `a = 20` on the quotient is below half an ulp of
    /// `h`, so the sum is `h` itself.
    fn exp_halves(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
        c: f64,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let a = self.intrinsic_v("llvm.fabs", &[x])?;
        let (p, n) = self.exp_scaled_parts(vt, a, None, CLAMP, 0.5)?;
        let h = self.scalef(vt, p, n)?;
        let q = cg(self.b.build_float_div(self.splat(vt, c / 2.0), h, ""))?;
        Ok((a, self.add(h, q)?))
    }
}
