//! `log` on vectors of 4 or 8 lanes where the CPU has AVX-512 (F and VL),
//! inline like `exp` (the `exp` module). On this project's benchmark
//! machine, 1M points at 8 lanes: 0.48-0.55 ns a point at the default
//! code-generation level and 0.42-0.44 at full level, against 0.65-0.75 for
//! glibc's libmvec `log` in the same loop (NumPy's SVML `log` 0.52-0.56; a
//! C model of these operations 0.38); formulas with `log` beside `exp`,
//! `tanh` or `sin` 16-24% faster. Within 0.534 ulp of the true value
//! (libmvec's within 1.5; both against `logl`, 1M points per range).
//!
//! Not `log1p`: `log(1 + z)` with the rounding of `1 + z` carried took 7
//! more operations and a second fixup, level with libmvec's `log1p` alone
//! and 5-11% slower beside `tanh` (measured, not kept).
//!
//! * `x = 2^k m` with `m` in `[3/4, 3/2)`: `vgetmantpd` and `vgetexppd`
//!   (subnormal `x` included), `k` one more where `m < 1`.
//! * Bits 47-51 of `m` pick one of 32 subintervals: 16 of width 1/32 in
//!   `[1, 3/2)`, 16 of width 1/64 in `[3/4, 1)`. From tables of 32 entries
//!   held in registers (two two-source permutes each, `vpermi2pd`; no
//!   gathers): `1/c`, and `-log(1/c)` rounded to a multiple of 2^-42. `1/c`
//!   was searched for (next to the reciprocal of the subinterval's middle)
//!   so that this rounding is below 2^-65, which spares a third table for
//!   the remainder. The two subintervals that touch 1 have `c = 1`, so
//!   `log x` keeps its relative accuracy next to 1.
//! * `m / c - 1 = r + p_lo` exactly: `p = m (1/c)` and its error `p_lo` by
//!   one FMA, `r = p - 1` exact (Sterbenz). `r` lies in `[-1/64, 1/32]`.
//! * `log x = (k LN2_HI - log(1/c)) + r + (k LN2_LO + p_lo (1 - r) + r^2
//!   Q(r))`: the first sum exact (both multiples of 2^-42), the second by
//!   Fast2Sum (`|k LN2_HI + hi| >= |r|` wherever it is not 0, checked on
//!   every subinterval when the tables were made), `Q` of degree 7
//!   ([`LOG1P_Q`]), one rounding at full scale.
//! * `vfixupimmpd` gives libm's results where `x` is not positive and
//!   finite: `-inf` at `±0`, `+inf` at `+inf`, NaN below 0 and at `-inf`,
//!   NaN at NaN (quieted), `+0` at 1.
//!
//! The same operations at both widths (a 4-lane vector's lookups widen it
//! to 8), so the bits do not depend on the width. `exact_math` keeps libm's
//! `log`, other hosts libmvec's.

use alkahest_tape::UnaryFn;
use inkwell::types::VectorType;
use inkwell::values::{BasicValueEnum, VectorValue};

use super::{Gen, cg};
use crate::error::{Error, Result};

/// `1/c` by subinterval: 1 on the two that touch 1, elsewhere a double
/// next to the reciprocal of the subinterval's middle for which `-log(1/c)`
/// lies within 2^-65 of a multiple of 2^-42 (found by search and checked
/// with mpmath: `scripts/log_tables.py`, which prints these tables).
const LOG_INV: [f64; 32] = [
    f64::from_bits(0x3FF0_0000_0000_0000),
    f64::from_bits(0x3FEE_9131_ACD7_4E26),
    f64::from_bits(0x3FED_AE60_7750_D941),
    f64::from_bits(0x3FEC_D856_8831_0604),
    f64::from_bits(0x3FEC_0E07_02D7_76DF),
    f64::from_bits(0x3FEB_4E81_B44D_8B55),
    f64::from_bits(0x3FEA_98EF_60D4_0BDA),
    f64::from_bits(0x3FE9_EC8E_9487_6472),
    f64::from_bits(0x3FE9_48B0_FD52_C7AF),
    f64::from_bits(0x3FE8_ACB9_0F3E_9464),
    f64::from_bits(0x3FE8_1818_1775_5AE1),
    f64::from_bits(0x3FE7_8A4C_81B1_74EF),
    f64::from_bits(0x3FE7_02E0_5B6A_0E72),
    f64::from_bits(0x3FE6_8168_16FB_58DB),
    f64::from_bits(0x3FE6_0581_60C7_9751),
    f64::from_bits(0x3FE5_8ED2_2FF0_FFA8),
    f64::from_bits(0x3FF5_1D07_EA56_3B85),
    f64::from_bits(0x3FF4_AFD6_9FE8_1726),
    f64::from_bits(0x3FF4_46F8_652A_B3F3),
    f64::from_bits(0x3FF3_E22C_BC4B_E350),
    f64::from_bits(0x3FF3_8138_1345_85DE),
    f64::from_bits(0x3FF3_23E3_49A4_C295),
    f64::from_bits(0x3FF2_C9FB_4E0E_97DF),
    f64::from_bits(0x3FF2_7350_B834_857A),
    f64::from_bits(0x3FF2_1FB7_80AE_0C14),
    f64::from_bits(0x3FF1_CF06_ADA2_B91B),
    f64::from_bits(0x3FF1_8118_1112_45F5),
    f64::from_bits(0x3FF1_35C8_10E4_0704),
    f64::from_bits(0x3FF0_ECF5_6C10_9AE2),
    f64::from_bits(0x3FF0_A681_0A2E_9AEE),
    f64::from_bits(0x3FF0_624D_D2CD_06FF),
    f64::from_bits(0x3FF0_0000_0000_0000),
];
/// `-log(1/c)` rounded to a multiple of 2^-42, so that `k LN2_HI +
/// LOG_HI[j]` is exact; within 2^-59.3 of `log m` relative, for every `m`
/// of its subinterval.
const LOG_HI: [f64; 32] = [
    f64::from_bits(0x0000_0000_0000_0000),
    f64::from_bits(0x3FA7_7458_E71C_8000),
    f64::from_bits(0x3FB3_41D7_9102_8000),
    f64::from_bits(0x3FBA_926D_4197_C000),
    f64::from_bits(0x3FC0_D77E_7FD9_8000),
    f64::from_bits(0x3FC4_4D2B_6FA0_0000),
    f64::from_bits(0x3FC7_AB89_0014_6000),
    f64::from_bits(0x3FCA_F3C9_5124_4000),
    f64::from_bits(0x3FCE_2707_6BB7_E000),
    f64::from_bits(0x3FD0_A324_E2E9_4000),
    f64::from_bits(0x3FD2_2941_FD7F_C000),
    f64::from_bits(0x3FD3_A64C_54CE_D000),
    f64::from_bits(0x3FD5_1AAD_88EF_0000),
    f64::from_bits(0x3FD6_86C8_1D40_5000),
    f64::from_bits(0x3FD7_EAF8_3A3E_A000),
    f64::from_bits(0x3FD9_4794_1DCD_A000),
    f64::from_bits(0xBFD1_BF99_61AF_D000),
    f64::from_bits(0xBFD0_7138_5F03_6000),
    f64::from_bits(0xBFCE_530E_FE84_A000),
    f64::from_bits(0xBFCB_D087_3464_6000),
    f64::from_bits(0xBFC9_5A5A_DB6F_4000),
    f64::from_bits(0xBFC6_F012_87F3_4000),
    f64::from_bits(0xBFC4_913D_86F7_2000),
    f64::from_bits(0xBFC2_3D71_2836_2000),
    f64::from_bits(0xBFBF_E891_3376_4000),
    f64::from_bits(0xBFBB_6AC8_8DB0_8000),
    f64::from_bits(0xBFB7_00D3_0496_0000),
    f64::from_bits(0xBFB2_AA04_9F87_0000),
    f64::from_bits(0xBFAC_CB73_D2D4_0000),
    f64::from_bits(0xBFA4_66AE_CD47_0000),
    f64::from_bits(0xBF98_4925_1FD7_0000),
    f64::from_bits(0x0000_0000_0000_0000),
];
/// `Q` with `log(1 + r) = r + r^2 Q(r)`, coefficients from `r^0`: Chebyshev
/// interpolation of degree 7 on `[-1/64, 1/32]` (mpmath, 300 bits),
/// within 2^-58 relative there.
const LOG1P_Q: [f64; 8] = [
    f64::from_bits(0xBFE0_0000_0000_0001),
    f64::from_bits(0x3FD5_5555_5555_560A),
    f64::from_bits(0xBFCF_FFFF_FFFD_D6A8),
    f64::from_bits(0x3FC9_9999_98FE_CA82),
    f64::from_bits(0xBFC5_5555_9F80_F54C),
    f64::from_bits(0x3FC2_4938_81FE_3141),
    f64::from_bits(0xBFBF_FC5B_B696_EE95),
    f64::from_bits(0x3FBA_EB0F_9635_D65D),
];

/// `log 2` rounded to a multiple of 2^-42: `k LN2_HI` is exact for `|k| <
/// 2^11` (`|k| <= 1,075` here).
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEFA_3800);
/// `log 2 - LN2_HI`.
const LN2_LO: f64 = f64::from_bits(0x3D2E_F357_93C7_6730);

/// `vgetmantpd`'s immediate: interval `[3/4, 3/2)`, the sign of the source.
const MANT_P75_1P5: u64 = 3;

/// `vfixupimmpd`'s response table (4 bits per class of `x`, from the low
/// end: QNaN, SNaN, zero, one, -inf, +inf, negative, positive): the QNaN
/// itself (1), the SNaN quieted (2), `-inf` (4), `+0` (8), the default NaN
/// (3), `+inf` (5), the default NaN (3), and the computed value (0).
const FIXUP: u64 = 0x0353_8421;

impl<'ctx> Gen<'ctx, '_> {
    /// Whether vectors of type `vt` get this module's `log`: on hosts with
    /// AVX-512 whose bulk loop runs 4 or 8 lanes, at every width of that
    /// loop (one vector or two at once), as for the `pow` tables.
    pub(super) fn has_own_log(&self, vt: VectorType<'ctx>) -> bool {
        self.pow_tables(vt)
    }

    /// `log` of every lane by this module's routine: inline, or through
    /// `<w x double> alkahest_vlog_x<w>(<w x double>)`, emitted once per
    /// module and width ([`super::exp::inline_routine`]).
    pub(super) fn own_log(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        self.inline_or_call(self.inline_log, UnaryFn::Log, vt, x, |g, a| {
            g.log_fast(vt, a)
        })
    }

    /// `log x` (module docs).
    fn log_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let it = self.ctx.i64_type().vec_type(vt.get_size());
        let (m, e) = self.mantissa_exponent(vt, x)?;
        let one = self.splat(vt, 1.0);
        let below = self.lt_v(m, one)?;
        let k = self.add(e, self.select_v(below, one, self.splat(vt, 0.0))?)?;
        let mbits = self.f64_as_bits(m, it)?;
        let idx = cg(self
            .b
            .build_right_shift(mbits, self.splat_i(it, 47), false, ""))?;
        let inv = self.lookup(vt, idx, &LOG_INV)?;
        let log_c = self.lookup(vt, idx, &LOG_HI)?;

        // m inv - 1 = r + p_lo; log(1 + r + p_lo) = log(1 + r) + p_lo (1 - r)
        // to this precision.
        let (p, p_lo) = self.two_prod(m, inv)?;
        let r = self.sub(p, one)?;
        let corr = self.fma_v(self.neg(p_lo)?, r, p_lo)?;

        // Q(r) by Estrin's scheme.
        let q: Vec<_> = LOG1P_Q.iter().map(|&c| self.splat(vt, c)).collect();
        let r2 = self.mul(r, r)?;
        let r4 = self.mul(r2, r2)?;
        let q01 = self.fma_v(q[1], r, q[0])?;
        let q23 = self.fma_v(q[3], r, q[2])?;
        let q45 = self.fma_v(q[5], r, q[4])?;
        let q67 = self.fma_v(q[7], r, q[6])?;
        let q03 = self.fma_v(q23, r2, q01)?;
        let q47 = self.fma_v(q67, r2, q45)?;
        let poly = self.fma_v(q47, r4, q03)?;

        let t = self.fma_v(k, self.splat(vt, LN2_HI), log_c)?;
        let (s, s_lo) = self.fast_two_sum(t, r)?;
        let tail = self.fma_v(k, self.splat(vt, LN2_LO), s_lo)?;
        let tail = self.add(tail, corr)?;
        let tail = self.fma_v(r2, poly, tail)?;
        let y = self.add(s, tail)?;
        self.fixup(vt, y, x)
    }

    /// `(m, e)` with `x = 2^e m`, `m` in `[1, 2)` scaled into `[3/4, 3/2)`
    /// by `vgetmantpd` (`e` is `floor(log2 |x|)` from `vgetexppd`, so it is
    /// one less than the true exponent of `x` where `m < 1`).
    fn mantissa_exponent(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let all = self.ctx.i8_type().const_all_ones();
        let imm = self.ctx.i32_type().const_int(MANT_P75_1P5, false);
        let mut mant: Vec<BasicValueEnum<'ctx>> = vec![x.into(), imm.into(), x.into(), all.into()];
        let mut exp: Vec<BasicValueEnum<'ctx>> = vec![x.into(), x.into(), all.into()];
        let (getmant, getexp) = match vt.get_size() {
            8 => {
                // The rounding operand: the current direction (MXCSR).
                let cur = self.ctx.i32_type().const_int(4, false);
                mant.push(cur.into());
                exp.push(cur.into());
                (
                    "llvm.x86.avx512.mask.getmant.pd.512",
                    "llvm.x86.avx512.mask.getexp.pd.512",
                )
            }
            4 => (
                "llvm.x86.avx512.mask.getmant.pd.256",
                "llvm.x86.avx512.mask.getexp.pd.256",
            ),
            w => return Err(Error::Codegen(format!("no inline log on {w} lanes"))),
        };
        let f = self.intrinsic(getmant, &[])?;
        let m = self.plain_call(f, &mant)?.into_vector_value();
        let f = self.intrinsic(getexp, &[])?;
        let e = self.plain_call(f, &exp)?.into_vector_value();
        Ok((m, e))
    }

    /// `y` where `x` is positive and finite, libm's `log(x)` elsewhere
    /// (`vfixupimmpd`, [`FIXUP`]).
    fn fixup(
        &mut self,
        vt: VectorType<'ctx>,
        y: VectorValue<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let it = self.ctx.i64_type().vec_type(vt.get_size());
        let all = self.ctx.i8_type().const_all_ones();
        let imm = self.ctx.i32_type().const_zero();
        let table = self.splat_i(it, FIXUP);
        let mut args: Vec<BasicValueEnum<'ctx>> =
            vec![y.into(), x.into(), table.into(), imm.into(), all.into()];
        let name = if vt.get_size() == 8 {
            args.push(self.ctx.i32_type().const_int(4, false).into());
            "llvm.x86.avx512.mask.fixupimm.pd.512"
        } else {
            "llvm.x86.avx512.mask.fixupimm.pd.256"
        };
        let f = self.intrinsic(name, &[])?;
        Ok(self.plain_call(f, &args)?.into_vector_value())
    }
}
