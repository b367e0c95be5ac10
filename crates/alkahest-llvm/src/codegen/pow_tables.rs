//! The `pow` routine's `log` and `exp` from small tables, where the CPU has
//! AVX-512 (F and VL) and the bulk loop runs 4 or 8 lanes: each table is
//! one or two registers, read by two-source permutes (`vpermi2pd`), so no
//! gathers. The `pow` module's table-free formulas stay for other hosts.
//! Same precision scheme (`log x` as a double-double, `y log x` as one,
//! `exp` carrying the low part), shorter dependency chains: no division,
//! and polynomials of 8 and 6 terms instead of 12 and 13. Measured on this
//! project's benchmark machine, 1M points: 2.20-2.24 -> 1.43-1.60 ns a
//! point at 8 lanes (NumPy's SVML `power` 1.25-1.40), and within 0.525 ulp
//! of the true value (mpmath) on the `pow` module's ranges, where the
//! table-free formulas were within 0.58. Seven operations fewer since (an
//! exact first sum in `log`, Fast2Sum for 2Sum in `exp`, `vscalefpd` for
//! three integer operations): 2.26-2.30 -> 2.17-2.22 ns a point on the
//! Intel machine of `benches/RESULTS.md` (twenty-first session), the same
//! bits on 1M points.
//!
//! * `log`: `x = 2^k m` with `m` in `[sqrt(1/2), sqrt(2))` as before; bits
//!   47-51 of `m`'s offset from `sqrt(1/2)` pick one of 32 subintervals,
//!   and `r = m / c - 1` (`c` the subinterval's middle, `1/c` from the
//!   table) as a double-double by one exact product (`|r| <= 0.0153`). The
//!   subinterval holding 1 has `c = 1`, so `r = m - 1` exactly there and
//!   `log x` keeps its relative accuracy next to 1, where `y` may be huge.
//!   `log m = -log(1/c) + r - r^2/2 + r^3 P(r)`, `P` of degree 7
//!   ([`LOG1P_TAIL`], within 2^-70.8), `-log(1/c)` from the table as `hi +
//!   lo` (`hi` on a grid of 2^-42, so `k log 2` plus it is exact), `r^2/2`
//!   exact, the other sums by Fast2Sum (each first operand the larger:
//!   `|log c| > |r|` in every subinterval but the one holding 1).
//! * `exp`: `z = (16n + j) log(2)/16 + a` (`|a| <= 0.0217`), `2^(j/16)` as
//!   `hi + lo` from 16-entry tables, `exp(a) - 1 = a + a^2 Q(a)` with `Q`
//!   of degree 5 ([`EXP_TAIL`], within 2^-64.5), and the result
//!   `hi + (hi a + (hi (a^2 Q + a_lo (1 + a)) + lo))`, one rounding at
//!   full scale; `2^n` by `vscalefpd`.
//!
//! The same operations at 4 and 8 lanes (a 4-lane vector's table lookups
//! widen it to 8 and take half back), so the bits do not depend on the
//! width: the routine on two 4-lane vectors at once (`Gen::op_paired`)
//! gives each vector what it gets alone.

use inkwell::types::VectorType;
use inkwell::values::{BasicValueEnum, VectorValue};

use super::pow::{LN2_HI, LN2_LO};
use super::{Gen, cg};
use crate::error::{Error, Result};

/// `16 / log 2`.
const SIXTEEN_OVER_LN2: f64 = f64::from_bits(0x4037_1547_652B_82FE);
/// `log(2) / 16` to 31 significant bits: `n * L16_HI` is exact for `|n| <
/// 2^22` (`|n| <= 16,345` here).
const L16_HI: f64 = f64::from_bits(0x3FA6_2E42_FEE0_0000);
/// `log(2) / 16 - L16_HI`.
const L16_LO: f64 = f64::from_bits(0x3DAA_39EF_3579_3C76);

/// `1/c` for each subinterval (1 exactly for the one holding 1).
const LOG_INV: [f64; 32] = [
    f64::from_bits(0x3FF6_6151_710A_C422),
    f64::from_bits(0x3FF5_E6C7_4E8D_538C),
    f64::from_bits(0x3FF5_715E_F8B1_867D),
    f64::from_bits(0x3FF5_00C7_9820_2D11),
    f64::from_bits(0x3FF4_94B6_D54B_21FA),
    f64::from_bits(0x3FF4_2CE8_3485_D5DD),
    f64::from_bits(0x3FF3_C91C_851E_43A1),
    f64::from_bits(0x3FF3_6919_60F0_D944),
    f64::from_bits(0x3FF3_0CA8_BA51_EFCA),
    f64::from_bits(0x3FF2_B398_7677_B21E),
    f64::from_bits(0x3FF2_5DBA_12D2_A29D),
    f64::from_bits(0x3FF2_0AE2_53FB_929C),
    f64::from_bits(0x3FF1_BAE8_FD0D_AF0F),
    f64::from_bits(0x3FF1_6DA8_8E6B_C2B8),
    f64::from_bits(0x3FF1_22FE_0B12_31FE),
    f64::from_bits(0x3FF0_DAC8_C3B4_807F),
    f64::from_bits(0x3FF0_94EA_26FE_370E),
    f64::from_bits(0x3FF0_5145_9664_70CA),
    f64::from_bits(0x3FF0_0000_0000_0000),
    f64::from_bits(0x3FEF_4337_34BD_4D15),
    f64::from_bits(0x3FEE_561E_06E0_F274),
    f64::from_bits(0x3FED_76A9_B983_DD0A),
    f64::from_bits(0x3FEC_A3B5_3B00_DD8F),
    f64::from_bits(0x3FEB_DC3B_5EAE_5222),
    f64::from_bits(0x3FEB_1F52_A38D_34A6),
    f64::from_bits(0x3FEA_6C29_A260_CAFC),
    f64::from_bits(0x3FE9_C204_05B4_CF7D),
    f64::from_bits(0x3FE9_2037_F421_2FCD),
    f64::from_bits(0x3FE8_862B_D9A4_7FB0),
    f64::from_bits(0x3FE7_F354_8083_A2A3),
    f64::from_bits(0x3FE7_6733_6CF5_E0F3),
    f64::from_bits(0x3FE6_E155_712A_C522),
];
/// `-log(LOG_INV[i])` rounded to a multiple of 2^-42 (at most 41
/// significant bits): `k LN2_HI` is a multiple of 2^-32, so their sum, below
/// 2^10, is exact and needs no error term.
const LOG_HI: [f64; 32] = [
    f64::from_bits(0xBFD5_7A3C_2D05_7000),
    f64::from_bits(0xBFD4_1802_779D_9000),
    f64::from_bits(0xBFD2_BD47_E58E_0000),
    f64::from_bits(0xBFD1_69BC_E9E7_D000),
    f64::from_bits(0xBFD0_1D16_D04B_0000),
    f64::from_bits(0xBFCD_AE1E_B448_0000),
    f64::from_bits(0xBFCB_2EC8_CB19_6000),
    f64::from_bits(0xBFC8_BBAF_3969_0000),
    f64::from_bits(0xBFC6_545C_59B3_A000),
    f64::from_bits(0xBFC3_F861_07FD_C000),
    f64::from_bits(0xBFC1_A754_293D_8000),
    f64::from_bits(0xBFBE_C1A4_7AF6_C000),
    f64::from_bits(0xBFBA_48F9_F71B_C000),
    f64::from_bits(0xBFB5_E3F5_EADC_C000),
    f64::from_bits(0xBFB1_91EE_8898_4000),
    f64::from_bits(0xBFAA_A484_EE55_0000),
    f64::from_bits(0xBFA2_48B0_8924_8000),
    f64::from_bits(0xBF94_1E77_8FBE_0000),
    f64::from_bits(0x0000_0000_0000_0000),
    f64::from_bits(0x3F97_DFCB_C3BA_0000),
    f64::from_bits(0x3FAB_55A3_151D_8000),
    f64::from_bits(0x3FB5_2424_ECE8_C000),
    f64::from_bits(0x3FBC_6730_F745_C000),
    f64::from_bits(0x3FC1_BB7A_2CD1_C000),
    f64::from_bits(0x3FC5_2B18_017A_0000),
    f64::from_bits(0x3FC8_83B6_CB50_E000),
    f64::from_bits(0x3FCB_C682_87B3_A000),
    f64::from_bits(0x3FCE_F490_D76E_C000),
    f64::from_bits(0x3FD1_0771_94F7_4000),
    f64::from_bits(0x3FD2_8B34_535B_E000),
    f64::from_bits(0x3FD4_05FF_EF24_0000),
    f64::from_bits(0x3FD5_783C_2505_4000),
];
/// `-log(LOG_INV[i]) - LOG_HI[i]`, rounded (below 2^-43).
const LOG_LO: [f64; 32] = [
    f64::from_bits(0x3D36_EC9F_5552_A610),
    f64::from_bits(0xBD37_184F_B054_6296),
    f64::from_bits(0xBD1B_FCED_F0DE_D218),
    f64::from_bits(0xBD32_A529_0A52_3D64),
    f64::from_bits(0x3D3B_56AD_9B80_7746),
    f64::from_bits(0x3D32_7DD0_C5E7_520D),
    f64::from_bits(0xBD37_1144_A880_3C70),
    f64::from_bits(0x3D11_5493_85B7_8395),
    f64::from_bits(0x3D3D_A950_9BD7_7EB5),
    f64::from_bits(0xBD21_8743_A43D_06A9),
    f64::from_bits(0x3D3F_4F0E_DCF9_F71E),
    f64::from_bits(0xBD34_8EEC_C55A_562D),
    f64::from_bits(0xBD27_0BAA_EEA7_5F8A),
    f64::from_bits(0xBD27_223D_2919_FFC2),
    f64::from_bits(0x3D3C_CDFE_94D1_5468),
    f64::from_bits(0x3D3C_503D_B4EB_708B),
    f64::from_bits(0xBD22_772B_D39D_431A),
    f64::from_bits(0x3D18_8E85_1F98_342D),
    f64::from_bits(0x0000_0000_0000_0000),
    f64::from_bits(0xBD0A_9169_0108_BEDC),
    f64::from_bits(0xBD39_D639_7748_CD81),
    f64::from_bits(0x3D3F_1ED6_276E_7CEE),
    f64::from_bits(0xBD20_59D6_CE50_1FA8),
    f64::from_bits(0xBD16_211E_A553_112E),
    f64::from_bits(0xBD3E_0F30_6FEB_57CF),
    f64::from_bits(0x3D37_1E6B_6F5B_A267),
    f64::from_bits(0x3D2D_27BE_296C_2BEA),
    f64::from_bits(0x3D33_1260_DE9D_77F8),
    f64::from_bits(0x3D3B_CFAF_BE5D_49E3),
    f64::from_bits(0xBD24_2326_3ACA_5B8B),
    f64::from_bits(0xBD2E_F1E2_25CB_E39F),
    f64::from_bits(0xBCF8_B3D5_1BBC_F2F5),
];
/// `2^(j/16)`, rounded.
const EXP_HI: [f64; 16] = [
    f64::from_bits(0x3FF0_0000_0000_0000),
    f64::from_bits(0x3FF0_B558_6CF9_890F),
    f64::from_bits(0x3FF1_72B8_3C7D_517B),
    f64::from_bits(0x3FF2_387A_6E75_6238),
    f64::from_bits(0x3FF3_06FE_0A31_B715),
    f64::from_bits(0x3FF3_DEA6_4C12_3422),
    f64::from_bits(0x3FF4_BFDA_D536_2A27),
    f64::from_bits(0x3FF5_AB07_DD48_5429),
    f64::from_bits(0x3FF6_A09E_667F_3BCD),
    f64::from_bits(0x3FF7_A114_73EB_0187),
    f64::from_bits(0x3FF8_ACE5_422A_A0DB),
    f64::from_bits(0x3FF9_C491_82A3_F090),
    f64::from_bits(0x3FFA_E89F_995A_D3AD),
    f64::from_bits(0x3FFC_199B_DD85_529C),
    f64::from_bits(0x3FFD_5818_DCFB_A487),
    f64::from_bits(0x3FFE_A4AF_A2A4_90DA),
];
/// `2^(j/16) - EXP_HI[j]`, rounded.
const EXP_LO: [f64; 16] = [
    f64::from_bits(0x0000_0000_0000_0000),
    f64::from_bits(0x3C98_A62E_4ADC_610B),
    f64::from_bits(0xBC81_9041_B9D7_8A76),
    f64::from_bits(0x3C99_B07E_B6C7_0573),
    f64::from_bits(0x3C86_F46A_D231_82E4),
    f64::from_bits(0x3C8A_DA09_11F0_9EBC),
    f64::from_bits(0x3C7D_4397_AFEC_42E2),
    f64::from_bits(0x3C96_324C_0546_47AD),
    f64::from_bits(0xBC9B_DD34_13B2_6456),
    f64::from_bits(0xBC84_1577_EE04_992F),
    f64::from_bits(0x3C96_E9F1_5686_4B27),
    f64::from_bits(0x3C7C_7C46_B071_F2BE),
    f64::from_bits(0x3C97_A1CD_345D_CC81),
    f64::from_bits(0x3C81_1065_8950_48DD),
    f64::from_bits(0x3C82_ED02_D75B_3707),
    f64::from_bits(0xBC9E_9C23_179C_2893),
];

/// `P` in `log(1 + r) = r - r^2/2 + r^3 P(r)`, lowest power first: degree 7,
/// Chebyshev interpolation on `|r| <= 0.01527` (mpmath at 300 bits),
/// within 2^-70.8 of `log(1 + r)` relative (Taylor's series needs a ninth
/// term for 2^-69.6).
const LOG1P_TAIL: [f64; 8] = [
    f64::from_bits(0x3FD5_5555_5555_5555),
    f64::from_bits(0xBFD0_0000_0000_0000),
    f64::from_bits(0x3FC9_9999_9999_C22B),
    f64::from_bits(0xBFC5_5555_5555_9B10),
    f64::from_bits(0x3FC2_4924_8503_4B69),
    f64::from_bits(0xBFBF_FFFF_DF26_0340),
    f64::from_bits(0x3FBC_748E_946D_926A),
    f64::from_bits(0xBFB9_9C77_5292_A6FE),
];

/// `Q` in `exp(a) - 1 = a + a^2 Q(a)`, lowest power first: degree 5,
/// Chebyshev interpolation on `|a| <= 0.02167`, within 2^-64.5 of `exp(a)`
/// relative (Taylor's series needs a seventh term for 2^-68).
const EXP_TAIL: [f64; 6] = [
    f64::from_bits(0x3FE0_0000_0000_0001),
    f64::from_bits(0x3FC5_5555_5555_5556),
    f64::from_bits(0x3FA5_5555_554E_917B),
    f64::from_bits(0x3F81_1111_110C_63BD),
    f64::from_bits(0x3F56_C17E_D8DA_8FEE),
    f64::from_bits(0x3F2A_01B3_8DF5_01EC),
];

impl<'ctx> Gen<'ctx, '_> {
    /// Whether the `pow` routine takes this module's table formulas: on
    /// hosts with AVX-512 whose bulk loop runs 4 or 8 lanes, at every width
    /// of that loop (one vector or two at once), so that the bits never
    /// depend on the width.
    pub(super) fn pow_tables(&self, vt: VectorType<'ctx>) -> bool {
        self.host.own_exp && matches!(self.lanes, 4 | 8) && matches!(vt.get_size(), 4 | 8)
    }

    /// `table[idx mod 16]` (16 entries) or `table[idx mod 32]` (32) lane by
    /// lane, by one two-source permute per 16 entries; `idx` a vector of
    /// `i64` as wide as `vt` (4 or 8 lanes).
    pub(super) fn lookup(
        &mut self,
        vt: VectorType<'ctx>,
        idx: VectorValue<'ctx>,
        table: &[f64],
    ) -> Result<VectorValue<'ctx>> {
        let w = vt.get_size();
        let idx8 = match w {
            8 => idx,
            4 => cg(self
                .b
                .build_shuffle_vector(idx, idx, self.pick_lanes(0..8), ""))?,
            _ => return Err(Error::Codegen(format!("no pow tables on {w} lanes"))),
        };
        let perm = self.intrinsic("llvm.x86.avx512.vpermi2var.pd.512", &[])?;
        let consts = |t: &[f64]| {
            let v: Vec<_> = t.iter().map(|&c| self.f64t.const_float(c)).collect();
            VectorType::const_vector(&v)
        };
        let mut halves = Vec::with_capacity(2);
        for sixteen in table.chunks(16) {
            let args: [BasicValueEnum<'ctx>; 3] = [
                consts(&sixteen[..8]).into(),
                idx8.into(),
                consts(&sixteen[8..]).into(),
            ];
            halves.push(self.plain_call(perm, &args)?.into_vector_value());
        }
        let mut out = halves[0];
        if let Some(&upper) = halves.get(1) {
            let it8 = self.ctx.i64_type().vec_type(8);
            let bit = cg(self.b.build_and(idx8, self.splat_i(it8, 16), ""))?;
            let zero = it8.const_zero();
            let set = cg(self
                .b
                .build_int_compare(inkwell::IntPredicate::NE, bit, zero, ""))?;
            out = self.select_v(set, upper, out)?;
        }
        if w == 8 {
            return Ok(out);
        }
        cg(self
            .b
            .build_shuffle_vector(out, out, self.pick_lanes(0..4), ""))
    }

    /// `log x` as `hi + lo` (normalized) for positive normal finite `x`,
    /// from the 32-entry tables (module docs).
    pub(super) fn log_dd_tables(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let it = self.ctx.i64_type().vec_type(vt.get_size());
        let (t, m, kd) = self.split_exponent(vt, x)?;
        let idx = cg(self.b.build_right_shift(t, self.splat_i(it, 47), false, ""))?;
        let inv = self.lookup(vt, idx, &LOG_INV)?;
        let c_hi = self.lookup(vt, idx, &LOG_HI)?;
        let c_lo = self.lookup(vt, idx, &LOG_LO)?;

        // r + r_lo = m inv - 1, exactly (m inv - 1 within Sterbenz's range).
        let (p, pe) = self.two_prod(m, inv)?;
        let (r, r_lo) = self.fast_two_sum(self.sub(p, self.splat(vt, 1.0))?, pe)?;
        // -r^2/2 exact; the tail r^3 P(r) in double.
        let ar = self.mul(r, self.splat(vt, -0.5))?;
        let (ar2, ar2_lo) = self.two_prod(ar, r)?;
        let r2 = self.mul(r, r)?;
        let poly = self.estrin(vt, &LOG1P_TAIL, r)?;
        let tail = self.mul(self.mul(r2, r)?, poly)?;

        // k log 2 - log(1/c) + r - r^2/2: the first sum exact (`LOG_HI`),
        // the others by Fast2Sum.
        let kh = self.mul(kd, self.splat(vt, LN2_HI))?;
        let s1 = self.add(kh, c_hi)?;
        let (s2, e2) = self.fast_two_sum(s1, r)?;
        let (hi, e3) = self.fast_two_sum(s2, ar2)?;
        let low = self.add(e2, e3)?;
        let rest = self.add(ar2_lo, tail)?;
        let k_lo = self.fma_v(kd, self.splat(vt, LN2_LO), c_lo)?;
        let rest = self.add(rest, k_lo)?;
        // log(1 + r + r_lo) - log(1 + r) = r_lo (1 - r) to this precision.
        let r_lo = self.fma_v(self.neg(r_lo)?, r, r_lo)?;
        let rest = self.add(rest, r_lo)?;
        let low = self.add(low, rest)?;
        self.fast_two_sum(hi, low)
    }

    /// `exp(z + z_lo)` for `|z| <= 708` and `z_lo` within an ulp of `z`,
    /// from the 16-entry tables (module docs).
    pub(super) fn exp_dd_tables(
        &mut self,
        vt: VectorType<'ctx>,
        z: VectorValue<'ctx>,
        z_lo: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let it = self.ctx.i64_type().vec_type(vt.get_size());
        let (nb, neg_n, a) = self.reduction(vt, z, SIXTEEN_OVER_LN2, L16_HI)?;
        let rl = self.fma_v(neg_n, self.splat(vt, L16_LO), z_lo)?;
        // Fast2Sum: |a| >= |rl| unless both are below 2^-22 (as `n L16_LO`
        // is), where the error term is off by at most a few ulps of the
        // sum, below 2^-71.
        let (a, a_lo) = self.fast_two_sum(a, rl)?;
        let nbits = self.f64_as_bits(nb, it)?;
        let t_hi = self.lookup(vt, nbits, &EXP_HI)?;
        let t_lo = self.lookup(vt, nbits, &EXP_LO)?;
        // exp(a)(1 + a_lo) - 1 = a + (a^2 Q(a) + a_lo (1 + a)).
        let q = self.estrin(vt, &EXP_TAIL, a)?;
        let a2 = self.mul(a, a)?;
        let corr = self.fma_v(a_lo, a, a_lo)?;
        let small = self.fma_v(a2, q, corr)?;
        let tail = self.fma_v(t_hi, small, t_lo)?;
        let tail = self.fma_v(t_hi, a, tail)?;
        let mant = self.add(t_hi, tail)?;
        // Times 2^(n div 16) by `vscalefpd`, which takes the floor of n/16
        // (exact; the result is normal, so the scaling is too).
        let n16 = self.mul(neg_n, self.splat(vt, -1.0 / 16.0))?;
        self.scalef(vt, mant, n16)
    }
}
