//! `cbrt` on vectors of 4 or 8 lanes where the CPU has AVX-512 (F and VL),
//! inline: within 0.54 ulp of the true value ([`crate::CBRT_ULPS`]; 0.5225 measured on 4M points
//! over the whole range, subnormals included), where glibc's libmvec `cbrt`
//! and its scalar one are within 1 (its `cbrt(27)` is `3.0000000000000004`).
//! 0.44 ns a point at 8 lanes in a C model of the same operations, against
//! 0.65 for libmvec's `cbrt` in the batch loop and 0.52-0.54 for NumPy's
//! SVML loop.
//!
//! * `|x| = m 2^e` with `m` in `[1, 2)` by `vgetmantpd` and `e` by
//!   `vgetexppd` (both take subnormals as they are); `e = 3q + r` with
//!   `q = floor((e + 1/2) / 3)` (the half keeps the rounding of the
//!   division by 3 off the integers) and `r` in `{0, 1, 2}`, exactly.
//! * `v = m 2^r` in `[1, 8)`, exact; `cbrt(v)` first as a degree-5
//!   polynomial in `m - 3/2` (within 2^-19 of `cbrt(m)` on `[1, 2)`) times
//!   `2^(r/3)` from a three-entry table by one register permute.
//! * One Halley step, `u - u (u^3 - v) / (2u^3 + v)`: the error cubes to
//!   about 2^-57. The residual `u^3 - v` is computed from `u^2` as a
//!   double-double (two FMAs), so its rounding does not matter; the
//!   correction is 2^-19 of `u` at most, so the division's rounding
//!   reaches the result at 2^-70, and the last FMA rounds once.
//! * `2^q` by `vscalefpd`, exact: results lie in `[2^-358, 2^342)`, normal.
//! * The sign of `x` put back by its bit; zeros, infinities and NaN (where
//!   `|x|` is not in `(0, inf)`) come back as `x + x`, libm's values.
//!
//! Every lane is served, so there is no domain check and no function of its
//! own: the loop interleaves it with the rest of the tape, like `tanh`.
//! Hosts without AVX-512 keep libmvec's `cbrt`; `exact_math` keeps the
//! scalar one, lane by lane. Third powers (`x**(p/3)`) call `cbrt` before
//! their own Newton correction (`alkahest_tape::thirds`), so they get faster
//! in the batch loop too.

use inkwell::FloatPredicate;
use inkwell::types::VectorType;
use inkwell::values::{BasicValueEnum, VectorValue};

use super::{Gen, cg};
use crate::error::{Error, Result};

/// `1.5 * 2^52`: adding it rounds a small double to an integer held in the
/// low bits (the table index).
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// `cbrt(m)` on `[1, 2)` as a polynomial in `m - 3/2`, lowest power first:
/// Chebyshev interpolation of degree 5, relative error below 2^-19.
const POLY: [f64; 6] = [
    f64::from_bits(0x3FF2_50BE_863A_AEE9),
    f64::from_bits(0x3FD0_47C9_F42A_3E06),
    f64::from_bits(0xBFAC_E537_CFF0_7856),
    f64::from_bits(0x3F95_6339_6472_FB55),
    f64::from_bits(0xBF85_090D_336E_F555),
    f64::from_bits(0x3F74_C760_8A03_AAAB),
];

/// `2^(r/3)` for `r = 0, 1, 2` (rounded; the Halley step absorbs the
/// rounding), padded to the permute's eight entries.
const TABLE: [f64; 8] = [
    1.0,
    f64::from_bits(0x3FF4_28A2_F98D_728B),
    f64::from_bits(0x3FF9_65FE_A53D_6E3D),
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
];

impl<'ctx> Gen<'ctx, '_> {
    /// `cbrt` of every lane (module docs); only for [`Gen::has_own_exp`]
    /// vectors (the same AVX-512 instructions).
    pub(super) fn cbrt_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let it = self.ctx.i64_type().vec_type(vt.get_size());
        let a = self.intrinsic_v("llvm.fabs", &[x])?;
        let e = self.getexp(vt, a)?;
        let m = self.getmant_1_2(vt, a)?;
        // e = 3q + r.
        let third = self.mul(self.add(e, self.splat(vt, 0.5))?, self.splat(vt, 1.0 / 3.0))?;
        let q = self.intrinsic_v("llvm.floor", &[third])?;
        let r = self.fma_v(self.splat(vt, -3.0), q, e)?;
        let v = self.scalef(vt, m, r)?;
        let idx = self.f64_as_bits(self.add(r, self.splat(vt, SHIFTER))?, it)?;
        let scale = self.table_lookup(vt, idx, TABLE)?;

        // u = p(m - 3/2) 2^(r/3), by Estrin's scheme.
        let s = self.sub(m, self.splat(vt, 1.5))?;
        let p = self.estrin(vt, &POLY, s)?;
        let u = self.mul(p, scale)?;

        // Halley: u - u (u^3 - v) / (2u^3 + v), u^3 - v from u^2 = u2 + u2l.
        let (u2, u2l) = self.two_prod(u, u)?;
        let res = self.fma_v(u2, u, self.neg(v)?)?;
        let res = self.fma_v(u2l, u, res)?;
        let u3 = self.mul(u2, u)?;
        let den = self.fma_v(self.splat(vt, 2.0), u3, v)?;
        let c = cg(self.b.build_float_div(res, den, ""))?;
        let y = self.fma_v(self.neg(u)?, c, u)?;
        let y = self.scalef(vt, y, q)?;

        // x's sign; x + x where |x| is zero, infinite or NaN.
        let sign = self.splat_i(it, 1 << 63);
        let sign = cg(self.b.build_and(self.f64_as_bits(x, it)?, sign, ""))?;
        let y = cg(self.b.build_or(self.f64_as_bits(y, it)?, sign, ""))?;
        let y = self.bits_as_f64(y, vt)?;
        let pos = self.cmp_v(FloatPredicate::OGT, a, self.splat(vt, 0.0))?;
        let fin = self.lt_v(a, self.splat(vt, f64::INFINITY))?;
        let ok = cg(self.b.build_and(pos, fin, ""))?;
        self.select_v(ok, y, self.add(x, x)?)
    }

    /// `floor(log2 |a|)` of every lane as a double (`vgetexppd`: exact for
    /// subnormals, `-inf` for zeros).
    fn getexp(&mut self, vt: VectorType<'ctx>, a: VectorValue<'ctx>) -> Result<VectorValue<'ctx>> {
        let all = self.ctx.i8_type().const_all_ones();
        let mut args: Vec<BasicValueEnum<'ctx>> = vec![a.into(), a.into(), all.into()];
        let name = match vt.get_size() {
            8 => {
                // The rounding operand: the current direction (MXCSR).
                args.push(self.ctx.i32_type().const_int(4, false).into());
                "llvm.x86.avx512.mask.getexp.pd.512"
            }
            4 => "llvm.x86.avx512.mask.getexp.pd.256",
            w => return Err(Error::Codegen(format!("no inline cbrt on {w} lanes"))),
        };
        let f = self.intrinsic(name, &[])?;
        Ok(self.plain_call(f, &args)?.into_vector_value())
    }

    /// The significand of every lane scaled into `[1, 2)`, sign cleared
    /// (`vgetmantpd`, interval 0, sign control 1).
    fn getmant_1_2(
        &mut self,
        vt: VectorType<'ctx>,
        a: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let all = self.ctx.i8_type().const_all_ones();
        // Bits 1:0 the interval ([1, 2)), bits 3:2 the sign (cleared).
        let imm = self.ctx.i32_type().const_int(0b0100, false);
        let mut args: Vec<BasicValueEnum<'ctx>> = vec![a.into(), imm.into(), a.into(), all.into()];
        let name = match vt.get_size() {
            8 => {
                args.push(self.ctx.i32_type().const_int(4, false).into());
                "llvm.x86.avx512.mask.getmant.pd.512"
            }
            4 => "llvm.x86.avx512.mask.getmant.pd.256",
            w => return Err(Error::Codegen(format!("no inline cbrt on {w} lanes"))),
        };
        let f = self.intrinsic(name, &[])?;
        Ok(self.plain_call(f, &args)?.into_vector_value())
    }
}
