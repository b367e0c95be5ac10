//! `sinh` and `cosh` on vectors where the CPU has AVX-512 (the `exp`
//! module's hosts and widths), inline, from that module's `exp` parts: with
//! `E = e^|x|`,
//!
//! * `cosh x = E/2 + (1/2)/E`, one division and one addition;
//! * `sinh x = ±(E/2 - (1/2)/E)` for `|x| >= 1`, and the odd Taylor
//!   polynomial to `x^19/19!` below 1 (where the difference cancels; the
//!   next term is below 2^-65 of `x`, 0.04 ulp);
//! * both as `h ± (1/4)/h` with `h = E/2` taken from `exp`'s parts with its
//!   table halved, so that they overflow where the functions do
//!   (`|x| > 710.47`), not where `E` does (709.78); from `|x| = 20` on the
//!   quotient is below half an ulp of `h` and the sum is `h` itself. This
//!   form gives the same bits as `E/2 ± (1/2)/E` with a select of `E/2`
//!   above 20, in five operations fewer (one clamp, one `vscalefpd`, a
//!   subtraction, a compare and a select): 11% faster for both on the Intel
//!   AVX-512 machine (benches/RESULTS.md).
//!
//! Accuracy against mpmath (4k points per range from `[-1e-5, 1e-5]` to
//! `[700, 710.4]`): `cosh` within 1.02 ulp, `sinh` within 1.38 (the
//! difference at `|x|` just above 1, where `1/E` is `e^-2` of `E`); glibc's
//! libmvec variants measured 1.82 and 1.63 on the same points. `-0.0`, NaN
//! and the infinities come out as libm's. Speed: see `inline_routine` (the `exp` module) and
//! benches/RESULTS.md.

use inkwell::types::VectorType;
use inkwell::values::VectorValue;

use super::{Gen, cg};
use crate::error::Result;

/// The clamp of `|x|` before `exp`'s parts: past both functions' overflow.
const CLAMP: f64 = 711.0;
/// Below this `|x|`, `sinh` is its odd Taylor polynomial.
const SMALL: f64 = 1.0;

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
        // |x| < 1: a + a^3 (1/3! + a^2/5! + ... + a^16/19!).
        let a2 = self.mul(a, a)?;
        let coef: Vec<f64> = (1..=9u32)
            .map(|k| (1..=2 * k + 1).fold(1.0, |f, i| f / f64::from(i)))
            .collect();
        let poly = self.estrin(vt, &coef, a2)?;
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
