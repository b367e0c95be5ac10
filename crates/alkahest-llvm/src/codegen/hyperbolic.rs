//! `sinh` and `cosh` on vectors where the CPU has AVX-512 (the `exp`
//! module's hosts and widths), inline, from that module's `exp` parts: with
//! `E = e^|x|`,
//!
//! * `cosh x = E/2 + (1/2)/E`, one division and one FMA;
//! * `sinh x = ±(E/2 - (1/2)/E)` for `|x| >= 1`, and the odd Taylor
//!   polynomial to `x^21/21!` below 1 (where the difference cancels; the
//!   next term is below 2^-74 of `x`);
//! * from `|x| = 20` on, where `e^-|x|` is below 2^-57 of `E`, `E/2` itself,
//!   as `p 2^(n-1)` from `exp`'s parts so that it overflows where the
//!   function does (`|x| > 710.47`), not where `E` does (709.78).
//!
//! Accuracy against mpmath (4k points per range from `[-1e-5, 1e-5]` to
//! `[700, 710.4]`): `cosh` within 1.02 ulp, `sinh` within 1.38 (the
//! difference at `|x|` just above 1, where `1/E` is `e^-2` of `E`); glibc's
//! libmvec variants measured 1.82 and 1.63 on the same points. `-0.0`, NaN
//! and the infinities come out as libm's. Speed: see `inline_routine` (the `exp` module) and
//! benches/RESULTS.md.

use inkwell::FloatPredicate;
use inkwell::types::VectorType;
use inkwell::values::VectorValue;

use super::{Gen, cg};
use crate::error::Result;

/// From this `|x|` on, the result is `e^|x| / 2` (module docs).
const BIG: f64 = 20.0;
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
        // |x| < 1: a + a^3 (1/3! + a^2/5! + ... + a^18/21!).
        let a2 = self.mul(a, a)?;
        let coef: Vec<f64> = (1..=10u32)
            .map(|k| (1..=2 * k + 1).fold(1.0, |f, i| f / f64::from(i)))
            .collect();
        let poly = self.estrin(vt, &coef, a2)?;
        let a3 = self.mul(a, a2)?;
        let small = self.fma_v(a3, poly, a)?;
        let below = self.lt_v(a, self.splat(vt, SMALL))?;
        let r = self.select_v(below, small, r)?;
        self.intrinsic_v("llvm.copysign", &[r, x])
    }

    /// `a = |x|` and `E/2 + c/E` with `E = e^a` (`c = ±1/2`), or `E/2`
    /// alone from `a = 20` on, taken as `p 2^(n-1)` so that it overflows
    /// only from 710.47 on (`E` does from 709.78).
    fn exp_halves(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
        c: f64,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let a = self.intrinsic_v("llvm.fabs", &[x])?;
        let (p, n) = self.exp_parts(vt, a, CLAMP)?;
        let e = self.scalef(vt, p, n)?;
        let n_half = self.sub(n, self.splat(vt, 1.0))?;
        let half = self.scalef(vt, p, n_half)?;
        let inv = cg(self.b.build_float_div(self.splat(vt, c), e, ""))?;
        let mid = self.fma_v(e, self.splat(vt, 0.5), inv)?;
        let big = self.cmp_v(FloatPredicate::OGE, a, self.splat(vt, BIG))?;
        Ok((a, self.select_v(big, half, mid)?))
    }
}
