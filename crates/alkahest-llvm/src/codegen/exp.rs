//! `exp` on vectors of 4 or 8 lanes where the CPU has AVX-512 (F and VL),
//! inline: 0.28-0.33 ns a point at 8 lanes on this project's benchmark
//! machine against 0.53-0.58 for glibc's libmvec `exp`, 0.59 against 0.85 at
//! 4 lanes. Within 0.60 ulp of the true value for normal results where
//! libmvec's is within 2.9 (a C model of the same operations against
//! quad-precision `expq`, 1M points per range). XLA's own vector `exp`
//! (JAX) takes 0.33 ns at 1.33 ulp.
//!
//! * `x` is clamped to `[-746, 710]` by ordered compares, so NaN passes
//!   through and the clamped ends still underflow to 0 and overflow to
//!   infinity.
//! * `x = (8n + j) log(2)/8 + r` with `k = 8n + j` rounded to nearest by the
//!   `1.5 * 2^52` shifter (whose low bits then hold `k`, `j` in the lowest
//!   three) and `r` by two FMAs with `log(2)/8` split in two (`|r| <= 0.0434`).
//! * `exp(r) - 1 = r + r^2/2 + ... + r^8/8!` (the next term is below
//!   2^-59), with the powers of `r^2` arranged for a short dependency chain.
//! * `2^(j/8)` comes from an eight-entry table by a variable permute (one
//!   instruction, no memory access) as `hi + lo`, so that `hi + (hi q + lo)`
//!   rounds once.
//! * `vscalefpd` multiplies by `2^n` with one rounding: results that are
//!   subnormal, overflow or underflow come out right without a branch
//!   (within 1 ulp for subnormal results, the second rounding).
//!
//! A tape with few `exp`s gets the code inline in its loop (the unrolled
//! body's two copies and the tail's); one with more, or a segmented one,
//! calls one internal function per width ([`inline_routine`]).
//!
//! `sinh` and `cosh` are built from the same parts (the `hyperbolic`
//! module).
//!
//! The same operations at both widths (an eight-wide vector's table is one
//! register, a four-wide one's two halves of a two-source permute), so the
//! bits do not depend on the vector width, which the paired routine calls
//! of `tgamma` rely on (`Gen::op_paired`). Hosts without AVX-512 keep
//! libmvec's `exp`; `exact_math` keeps libm's.

use alkahest_tape::{Op, Tape, UnaryFn};
use inkwell::FloatPredicate;
use inkwell::types::VectorType;
use inkwell::values::{BasicValueEnum, VectorValue};

use super::Gen;
use crate::error::{Error, Result};

/// Inputs above this overflow (`exp` does from 709.79 on).
const CLAMP_HI: f64 = 710.0;
/// Inputs below this underflow to 0 (`exp` does below -745.14).
const CLAMP_LO: f64 = -746.0;
/// `8 / log 2`.
const EIGHT_OVER_LN2: f64 = 11.541_560_327_111_707;
/// `log(2) / 8`, rounded.
const LN2_8_HI: f64 = f64::from_bits(0x3FB6_2E42_FEFA_39EF);
/// `log(2) / 8 - LN2_8_HI`.
const LN2_8_LO: f64 = f64::from_bits(0x3C4A_BC9E_3B39_803F);

/// `2^(j/8)` for `j = 0..8`, as the nearest double and the remainder
/// (from mpmath at 200 bits).
const TABLE: [(f64, f64); 8] = [
    (
        f64::from_bits(0x3FF0_0000_0000_0000),
        f64::from_bits(0x0000_0000_0000_0000),
    ),
    (
        f64::from_bits(0x3FF1_72B8_3C7D_517B),
        f64::from_bits(0xBC81_9041_B9D7_8A76),
    ),
    (
        f64::from_bits(0x3FF3_06FE_0A31_B715),
        f64::from_bits(0x3C86_F46A_D231_82E4),
    ),
    (
        f64::from_bits(0x3FF4_BFDA_D536_2A27),
        f64::from_bits(0x3C7D_4397_AFEC_42E2),
    ),
    (
        f64::from_bits(0x3FF6_A09E_667F_3BCD),
        f64::from_bits(0xBC9B_DD34_13B2_6456),
    ),
    (
        f64::from_bits(0x3FF8_ACE5_422A_A0DB),
        f64::from_bits(0x3C96_E9F1_5686_4B27),
    ),
    (
        f64::from_bits(0x3FFA_E89F_995A_D3AD),
        f64::from_bits(0x3C97_A1CD_345D_CC81),
    ),
    (
        f64::from_bits(0x3FFD_5818_DCFB_A487),
        f64::from_bits(0x3C82_ED02_D75B_3707),
    ),
];

/// Most operations of one inline routine's family a tape may have for the
/// inline form.
const INLINE_MAX: usize = 4;

/// Whether `tape`'s vector routines for `fns` (one family: `exp`, `sinh`
/// and `cosh`; `log`; `asin` and `acos`) go inline into its loop rather
/// than through a function of their own ([`Gen::inline_or_call`]). For
/// `exp`, inline ran 5-16% faster per point on formulas with one `exp` (the
/// loop's values stay in registers), but each copy is compiled (+0.8 ms of
/// a 1.2 ms compile for `exp(x)` alone at level 0, against +0.4 as a
/// function). On the 2,700-operation random DAG (hundreds of `exp`s, a
/// segmented tape whose blocks fast instruction selection otherwise
/// handles) the function was 5% faster and compiled in 131-162 against
/// 162-166 ms.
pub(super) fn inline_routine(tape: &Tape, segmented: bool, fns: &[UnaryFn]) -> bool {
    let n = tape
        .ops()
        .iter()
        .filter(|op| matches!(op, Op::Unary(f, _) if fns.contains(f)))
        .count();
    !segmented && n <= INLINE_MAX
}

/// The `exp` family, for [`inline_routine`].
pub(super) const EXP_FAMILY: [UnaryFn; 3] = [UnaryFn::Exp, UnaryFn::Sinh, UnaryFn::Cosh];

impl<'ctx> Gen<'ctx, '_> {
    /// Whether vectors of type `vt` get the inline `exp`, `sinh` and `cosh`
    /// (module docs): 4 or 8 lanes on a host whose bulk loop uses them.
    pub(super) fn has_own_exp(&self, vt: VectorType<'ctx>) -> bool {
        self.host.own_exp && matches!(vt.get_size(), 4 | 8)
    }

    /// `exp` of every lane (module docs); only for [`Gen::has_own_exp`]
    /// vectors.
    pub(super) fn exp_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let (p, n) = self.exp_parts(vt, x, CLAMP_HI)?;
        self.scalef(vt, p, n)
    }

    /// `exp(x) = p 2^n` with `p` in about `[0.95, 2.1]` and `n` integral,
    /// `x` clamped to `[CLAMP_LO, hi]` first (module docs).
    pub(super) fn exp_parts(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
        hi: f64,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        self.exp_scaled_parts(vt, x, Some(CLAMP_LO), hi, 1.0)
    }

    /// `scale exp(x) = p 2^n` as [`Gen::exp_parts`] has it, for `scale` 1
    /// or 1/2 (the table scaled, exactly) and `x` clamped to `[lo, hi]`:
    /// `lo` is `None` for `x >= 0`, whose clamp from below would be an
    /// operation that does nothing.
    pub(super) fn exp_scaled_parts(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
        lo: Option<f64>,
        hi: f64,
        scale: f64,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let w = vt.get_size();
        let it = self.ctx.i64_type().vec_type(w);
        let hi = self.splat(vt, hi);
        let above = self.cmp_v(FloatPredicate::OGT, x, hi)?;
        let mut xc = self.select_v(above, hi, x)?;
        if let Some(lo) = lo {
            let lo = self.splat(vt, lo);
            let below = self.lt_v(xc, lo)?;
            xc = self.select_v(below, lo, xc)?;
        }

        let (t, neg_k, r) = self.reduction(vt, xc, EIGHT_OVER_LN2, LN2_8_HI)?;
        let r = self.fma_v(neg_k, self.splat(vt, LN2_8_LO), r)?;
        // floor(k / 8), k = -neg_k (both products exact).
        let n = self.mul(neg_k, self.splat(vt, -0.125))?;
        let n = self.intrinsic_v("llvm.floor", &[n])?;

        // q = exp(r) - 1 = r + r^2 (a + r^2 (b + r^2 c)).
        let c = |k: u32| (1..=k).fold(1.0, |f, i| f / f64::from(i));
        let r2 = self.mul(r, r)?;
        let a = self.fma_v(self.splat(vt, c(3)), r, self.splat(vt, c(2)))?;
        let b = self.fma_v(self.splat(vt, c(5)), r, self.splat(vt, c(4)))?;
        let cc = self.fma_v(self.splat(vt, c(7)), r, self.splat(vt, c(6)))?;
        let cc = self.fma_v(self.splat(vt, c(8)), r2, cc)?;
        let b = self.fma_v(cc, r2, b)?;
        let a = self.fma_v(b, r2, a)?;
        let q = self.fma_v(a, r2, r)?;

        let idx = self.f64_as_bits(t, it)?;
        let t_hi = self.table_lookup(vt, idx, TABLE.map(|e| e.0 * scale))?;
        let t_lo = self.table_lookup(vt, idx, TABLE.map(|e| e.1 * scale))?;
        let tail = self.fma_v(t_hi, q, t_lo)?;
        Ok((self.add(t_hi, tail)?, n))
    }

    /// `f` (`exp`, `sinh` or `cosh`) of every lane by this module's routine:
    /// inline, or through `<w x double> alkahest_v<f>_x<w>(<w x double>)`,
    /// emitted once per module and width ([`inline_routine`]).
    pub(super) fn own_exp_family(
        &mut self,
        f: UnaryFn,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        self.inline_or_call(self.inline_exp, f, vt, x, |g, a| {
            g.exp_family_body(f, vt, a)
        })
    }

    fn exp_family_body(
        &mut self,
        f: UnaryFn,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        match f {
            UnaryFn::Sinh => self.sinh_fast(vt, x),
            UnaryFn::Cosh => self.cosh_fast(vt, x),
            _ => self.exp_fast(vt, x),
        }
    }

    /// `table[idx & 7]` lane by lane, by one variable permute.
    fn table_lookup(
        &mut self,
        vt: VectorType<'ctx>,
        idx: VectorValue<'ctx>,
        table: [f64; 8],
    ) -> Result<VectorValue<'ctx>> {
        let consts = |t: &[f64]| {
            let v: Vec<_> = t.iter().map(|&c| self.f64t.const_float(c)).collect();
            VectorType::const_vector(&v)
        };
        let args: Vec<BasicValueEnum<'ctx>> = match vt.get_size() {
            8 => vec![consts(&table).into(), idx.into()],
            4 => vec![
                consts(&table[..4]).into(),
                idx.into(),
                consts(&table[4..]).into(),
            ],
            w => return Err(Error::Codegen(format!("no inline exp on {w} lanes"))),
        };
        let name = if vt.get_size() == 8 {
            "llvm.x86.avx512.permvar.df.512"
        } else {
            "llvm.x86.avx512.vpermi2var.pd.256"
        };
        let f = self.intrinsic(name, &[])?;
        Ok(self.plain_call(f, &args)?.into_vector_value())
    }

    /// `p 2^n` with one rounding (`vscalefpd`; `n` integral).
    pub(super) fn scalef(
        &mut self,
        vt: VectorType<'ctx>,
        p: VectorValue<'ctx>,
        n: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let all = self.ctx.i8_type().const_all_ones();
        let mut args: Vec<BasicValueEnum<'ctx>> = vec![p.into(), n.into(), p.into(), all.into()];
        let name = if vt.get_size() == 8 {
            // The rounding operand: the current direction (MXCSR).
            args.push(self.ctx.i32_type().const_int(4, false).into());
            "llvm.x86.avx512.mask.scalef.pd.512"
        } else {
            "llvm.x86.avx512.mask.scalef.pd.256"
        };
        let f = self.intrinsic(name, &[])?;
        Ok(self.plain_call(f, &args)?.into_vector_value())
    }
}
