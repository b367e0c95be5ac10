//! `tanh` on vectors as `copysign(e / (e + 2), x)` with `e = expm1(2 min(|x|,
//! 20))`, `expm1` computed inline ([`Gen::expm1_nonneg`]): 0.52 ns a point
//! at 8 lanes and 1.02 at 4 on this project's benchmark machine, against
//! 1.31 and 2.01 for libmvec's `tanh` and 0.94 and 1.29 for the same
//! quotient through libmvec's `expm1` (a call, with the loop's live values
//! spilled around it). Issue 17's mixed formula calls it.
//!
//! Accuracy: on `|x|`, `e >= 0`, so the quotient's sensitivity to `e` is
//! `2 / (e + 2) <= 1` and `expm1`'s error passes through unamplified, plus
//! the rounding of `e + 2` and of the division. `expm1(r)` on the reduced
//! argument is within about half an ulp; `2^n expm1(r) + (2^n - 1)` in one
//! FMA adds at most `2^n |expm1(r)| / e` of that (largest, about 1.4, at `n
//! = 1` with `r < 0`). Within 3 ulp of the true value measured against
//! mpmath, 2.35 at most on 105k points (`tests/test_language.py` asserts
//! [`crate::TANH_ULPS`]). Small `x`:
//! `expm1(2x) = 2x(1 + x + ...)` keeps relative accuracy, and a subnormal
//! `x` comes back as itself. From `|x| = 20` on, `tanh` rounds to 1, which
//! the clamp gives without `expm1` overflowing. `-0.0` stays `-0.0`
//! (copysign), infinities give `±1`, NaN stays NaN (`llvm.minimum`
//! propagates it). Every lane is served; `exact_math` keeps libm's `tanh`.

use inkwell::types::VectorType;
use inkwell::values::VectorValue;

use super::pow::{LN2_LO, exp_tail};
use super::{Gen, cg};
use crate::error::Result;
use crate::host::Host;

/// Whether a tape's `tanh`s go inline into its loop rather than through
/// one function per width (`alkahest_vtanh_x<w>`, [`Gen::inline_or_call`];
/// the same bits). Inline, the loop's values stay in registers, but each
/// copy is compiled (the unrolled body's two and the tail's), and on a
/// host with 16 vector registers level 0's fast register allocator spills
/// the routine's live vectors around every step. Measured on a 4-lane
/// AVX2 host (Zen 3, ns a point): at level 0 the function form took
/// `tanh(x)` from 2.9 to 2.5-2.65, `tanh(x)*tanh(y) + z` from 11.5 to 5.0
/// and issue 17's mixed formula from 16-17 to 13.1-13.7; at level 3
/// inline was faster (2.2 against 2.5, 4.7 against 5.5). Segmented tapes
/// (fast instruction selection) take the function: on the 2,700-operation
/// random DAG it ran as fast and halved the compile. With 32 registers
/// (AVX-512) unsegmented tapes keep it inline, as the `exp` family.
pub(super) fn inline_tanh(segmented: bool, opt_level: u8, host: &Host) -> bool {
    !segmented && (opt_level > 0 || host.vector_registers() > 16)
}

/// Above this `|x|`, `tanh(x)` rounds to `±1` (it does from ~19.06 on).
const CLAMP: f64 = 20.0;

impl<'ctx> Gen<'ctx, '_> {
    /// `tanh` of every lane (module docs).
    pub(super) fn tanh_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let ax = self.intrinsic_v("llvm.fabs", &[x])?;
        let a = self.intrinsic_v("llvm.minimum", &[ax, self.splat(vt, CLAMP)])?;
        let two = self.splat(vt, 2.0);
        let a2 = self.mul(a, two)?;
        let e = self.expm1_nonneg(vt, a2)?;
        let den = self.add(e, two)?;
        let t = cg(self.b.build_float_div(e, den, ""))?;
        self.intrinsic_v("llvm.copysign", &[t, x])
    }

    /// `expm1(z)` for `0 <= z <= 2 CLAMP` (or NaN), inline: `z = n log 2 +
    /// r` with `|r| <= log(2)/2`, `expm1(r) = r + r^2 Q(r)` (`Q` the Taylor
    /// series to `r^14/14!`), and `expm1(z) = 2^n expm1(r) + (2^n - 1)` in
    /// one FMA; `2^n - 1` is exact for `n <= 53`, and `n <= 58`.
    fn expm1_nonneg(
        &mut self,
        vt: VectorType<'ctx>,
        z: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let it = self.ctx.i64_type().vec_type(vt.get_size());
        // r = z - n log 2.
        let (nb, neg_n, r) = self.ln2_reduction(vt, z)?;
        let r = self.fma_v(neg_n, self.splat(vt, LN2_LO), r)?;
        let q = self.estrin(vt, &exp_tail(), r)?;
        let r2 = self.mul(r, r)?;
        let p = self.fma_v(r2, q, r)?;
        // 2^n: n << 52 added to the bits of 1.0.
        let nbits = self.f64_as_bits(nb, it)?;
        let scale = cg(self.b.build_left_shift(nbits, self.splat_i(it, 52), ""))?;
        let one = self.splat(vt, 1.0);
        let tb = cg(self.b.build_int_add(self.f64_as_bits(one, it)?, scale, ""))?;
        let t = self.bits_as_f64(tb, vt)?;
        let t_minus_one = self.sub(t, one)?;
        self.fma_v(t, p, t_minus_one)
    }
}
