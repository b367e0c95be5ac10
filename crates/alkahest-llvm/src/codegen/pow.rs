//! `pow(x, y)` on vectors, with a variable (or any non-special constant)
//! exponent. Hosts with AVX-512 take `log` and `exp` from small tables
//! instead (the `pow_tables` module: 2.2 -> 1.55 ns a point); the formulas
//! below serve the others, and the domain, fallback and pairing described
//! here serve both. glibc's libmvec `pow` took 7.7 ns a point at 4 lanes (AVX2
//! width) against 1.9 for `exp(y*log(x))` on this project's benchmark
//! machine, and 2.3 against 1.5 at 8; issue 17's mixed formula spent most
//! of its time there. `exp(y*log(x))` itself is not good enough: an error
//! of one ulp in `log x` becomes `|y log x|` ulps of the result, up to ~700.
//!
//! So `log x` is computed to about 2^-64 relative, as a double-double:
//!
//! * `x = 2^k m` with `m` in `[sqrt(1/2), sqrt(2))` (integer operations on
//!   the bits; `k` converted exactly through the `1.5 * 2^52` shifter).
//! * `f = m - 1` (exact) and `s = f / (2 + f)` as a double-double (one
//!   division, the remainder by FMA), so `log m = 2 atanh s = 2s + (2/3)s^3
//!   + s^5 T(s^2)`, where `T(z) = sum 2 z^j / (2j + 5)`, twelve terms
//!   (`|s| <= 0.1716`: the next term is below 2^-66 of `2s`). `2s`,
//!   `(2/3)s^3` and `(2/5)s^5` are double-double, the rest of the tail
//!   (below 2^-18 of `log m`) plain double. With `(2/5)s^5` in the tail too,
//!   its roundings reached 2^-64 of `log m`, which `y` up to ~5e4 (`x`
//!   anywhere in `[0.5, 2]`, `|y log x|` near 700) made 1.15 ulp of the
//!   result; now 0.57 there, at 11% more time (5.0 -> 5.6 ns a point at 2
//!   lanes on the Intel machine of `benches/RESULTS.md`).
//! * `+ k log 2` with `log 2` split so `k * LN2_HI` is exact.
//!
//! Then `z = y log x` as a double-double, `z = n log 2 + a` (`n` rounded to
//! nearest, `|a| <= 0.3466`; `a` carries `z`'s low part through Fast2Sum),
//! and `exp(a) = 1 + a + a^2 Q(a)` with `Q` the Taylor series to `a^14/14!`
//! (truncation below 2^-62), summed so that only the final addition
//! rounds at full scale. `2^n` goes into the exponent bits.
//!
//! Measured against mpmath on 80k points (`x` in `[0.1, 2]` with `y` in
//! `[-2, 2]`; `x` over `2^±1020` and `x` within 1e-3 of 1 with `|y log x|`
//! up to 700; integer `y`): within 0.58 ulp everywhere (0.61 on another
//! draw of 20k a range), libm's own `pow` within 0.50. `tests/pow.rs`
//! checks 2 ulp from libm; the Python test `test_batch_pow_against_mpmath`
//! asserts [`crate::POW_ULPS`] from the true value (mpmath), at the loop's
//! width and at 2 lanes.
//!
//! The formula serves lanes with `x` a positive normal finite double, `y`
//! finite and `|y log x| <= 708` (no overflow, no subnormal result). A
//! vector with any other lane (zero, negative or subnormal `x`, infinities,
//! NaN, a result that overflows or underflows) runs libm's `pow` lane by
//! lane (the `routine` module), so every special case is libm's. At 4
//! lanes or fewer the unrolled bulk loop calls it on two vectors at once, as
//! one vector twice as wide (`Gen::op_paired`): the formula is one long
//! dependency chain, and two interleaved chains in one call ran 4.7 -> 2.6
//! ns a point at 4 lanes (2.5 -> 2.2 at 8, not worth its compile time).

use inkwell::FloatPredicate;
use inkwell::types::VectorType;
use inkwell::values::{BasicValueEnum, VectorValue};

use super::{Gen, cg};
use crate::error::Result;

/// `log 2` to 32 significant bits: `k * LN2_HI` is exact for `|k| < 2^21`.
pub(super) const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
/// `log 2 - LN2_HI`.
pub(super) const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// `1.5 * 2^52`: adding it rounds a double of magnitude below 2^51 to an
/// integer, which its low bits then hold in two's complement.
const SHIFTER: f64 = 6_755_399_441_055_744.0;
/// The bits of `sqrt(1/2)`: subtracting them from `x`'s bits puts the
/// exponent of `x / sqrt(1/2)` rounded down in the top 12 bits.
const SQRT_HALF_BITS: u64 = 0x3FE6_A09E_667F_3BCD;
/// `2/3` as a double-double.
const TWO_THIRDS: (f64, f64) = (2.0 / 3.0, 3.700_743_415_417_188e-17);
/// `2/5` as a double-double.
const TWO_FIFTHS: (f64, f64) = (0.4, -2.220_446_049_250_313_2e-17);
/// Largest `|y log x|` the formula serves: `exp` of it and of its negative
/// are normal doubles.
const MAX_EXPONENT: f64 = 708.0;

/// `T`'s coefficients, `2 / (2j + 5)`, lowest power first.
fn log_tail() -> [f64; 12] {
    std::array::from_fn(|j| 2.0 / (2 * j + 5) as f64)
}

/// `Q`'s coefficients, `1 / (j + 2)!`, lowest power first.
pub(super) fn exp_tail() -> [f64; 13] {
    let mut fact = 2.0;
    std::array::from_fn(|j| {
        let c = 1.0 / fact;
        fact *= (j + 3) as f64;
        c
    })
}

impl<'ctx> Gen<'ctx, '_> {
    /// Lanes the formula may serve before `y log x` is known: `x` positive,
    /// normal and finite, `y` finite (ordered compares: NaN fails).
    pub(super) fn pow_domain(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
        y: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let ay = self.intrinsic_v("llvm.fabs", &[y])?;
        let lo = self.cmp_v(FloatPredicate::OGE, x, self.splat(vt, f64::MIN_POSITIVE))?;
        let hi = self.lt_v(x, self.splat(vt, f64::INFINITY))?;
        let fin = self.lt_v(ay, self.splat(vt, f64::INFINITY))?;
        let ok = cg(self.b.build_and(lo, hi, ""))?;
        cg(self.b.build_and(ok, fin, ""))
    }

    /// `pow(x, y)` on lanes in [`Gen::pow_domain`], and the mask of lanes
    /// whose `|y log x|` the formula serves (module docs).
    pub(super) fn pow_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
        y: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let tables = self.pow_tables(vt);
        let (hi, lo) = if tables {
            self.log_dd_tables(vt, x)?
        } else {
            self.log_dd(vt, x)?
        };
        // z = y (hi + lo), as a double-double.
        let (z, zr) = self.two_prod(y, hi)?;
        let z_lo = self.fma_v(y, lo, zr)?;
        let az = self.intrinsic_v("llvm.fabs", &[z])?;
        let ok = self.cmp_v(FloatPredicate::OLE, az, self.splat(vt, MAX_EXPONENT))?;
        let y = if tables {
            self.exp_dd_tables(vt, z, z_lo)?
        } else {
            self.exp_dd(vt, z, z_lo)?
        };
        Ok((y, ok))
    }

    /// `log x` as `hi + lo` (normalized) for positive normal finite `x`.
    fn log_dd(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let (_, m, kd) = self.split_exponent(vt, x)?;

        // s = f / (2 + f) as s_hi + s_lo, with 2 + f = d_hi + d_lo exactly.
        let (one, two) = (self.splat(vt, 1.0), self.splat(vt, 2.0));
        let f = self.sub(m, one)?;
        let d_hi = self.add(f, two)?;
        let d_lo = self.sub(f, self.sub(d_hi, two)?)?;
        let inv = cg(self.b.build_float_div(one, d_hi, ""))?;
        let s_hi = self.mul(f, inv)?;
        let neg_s = self.neg(s_hi)?;
        let r = self.fma_v(neg_s, d_hi, f)?;
        let r = self.fma_v(neg_s, d_lo, r)?;
        let s_lo = self.mul(r, inv)?;

        // s^2 and s^3 as double-doubles; t = (2/3) s^3.
        let two_s = self.mul(s_hi, two)?;
        let (s2, s2_lo) = self.two_prod(s_hi, s_hi)?;
        let s2_lo = self.fma_v(two_s, s_lo, s2_lo)?;
        let (s3, s3_lo) = self.two_prod(s2, s_hi)?;
        let cross = self.fma_v(s2, s_lo, self.mul(s2_lo, s_hi)?)?;
        let s3_lo = self.add(s3_lo, cross)?;
        let (c_hi, c_lo) = (self.splat(vt, TWO_THIRDS.0), self.splat(vt, TWO_THIRDS.1));
        let (t, t_lo) = self.two_prod(s3, c_hi)?;
        let cross = self.fma_v(s3, c_lo, self.mul(s3_lo, c_hi)?)?;
        let t_lo = self.add(t_lo, cross)?;
        // u = (2/5) s^5 as a double-double too (the low parts summed with
        // FMAs), and the rest, s^7 (2/7 + (2/9) s^2 + ...), in double.
        let (s5, s5_lo) = self.two_prod(s3, s2)?;
        let s5_lo = self.fma_v(s3, s2_lo, s5_lo)?;
        let s5_lo = self.fma_v(s3_lo, s2, s5_lo)?;
        let (f_hi, f_lo) = (self.splat(vt, TWO_FIFTHS.0), self.splat(vt, TWO_FIFTHS.1));
        let (u, u_lo) = self.two_prod(s5, f_hi)?;
        let u_lo = self.fma_v(s5, f_lo, u_lo)?;
        let u_lo = self.fma_v(s5_lo, f_hi, u_lo)?;
        let poly = self.estrin(vt, &log_tail()[1..], s2)?;
        let tail = self.mul(self.mul(s5, s2)?, poly)?;

        // log m = 2 s_hi + t + u + (2 s_lo + t_lo + u_lo + tail).
        let (h, e) = self.fast_two_sum(two_s, t)?;
        let (h, e2) = self.fast_two_sum(h, u)?;
        let low = self.fma_v(two, s_lo, t_lo)?;
        let low = self.add(low, self.add(u_lo, tail)?)?;
        let low = self.add(self.add(e, e2)?, low)?;
        // + k log 2: k LN2_HI is exact and at least |h| unless k = 0.
        let kh = self.mul(kd, self.splat(vt, LN2_HI))?;
        let (hh, ee) = self.fast_two_sum(kh, h)?;
        let low = self.fma_v(kd, self.splat(vt, LN2_LO), self.add(ee, low)?)?;
        self.fast_two_sum(hh, low)
    }

    /// `x = 2^k m` for positive normal finite `x`, with `m` in
    /// `[sqrt(1/2), sqrt(2))`: the bits of `x` less those of `sqrt(1/2)`
    /// (whose top 12 bits are `k`, the rest `m`'s offset from `sqrt(1/2)`),
    /// `m`, and `k` as a double.
    pub(super) fn split_exponent(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>, VectorValue<'ctx>)> {
        let it = self.ctx.i64_type().vec_type(vt.get_size());
        let bits = self.f64_as_bits(x, it)?;
        let t = cg(self
            .b
            .build_int_sub(bits, self.splat_i(it, SQRT_HALF_BITS), ""))?;
        let k = cg(self.b.build_right_shift(t, self.splat_i(it, 52), true, ""))?;
        let k52 = cg(self.b.build_left_shift(k, self.splat_i(it, 52), ""))?;
        let m = self.bits_as_f64(cg(self.b.build_int_sub(bits, k52, ""))?, vt)?;
        // k as a double, exactly: the shifter's bits plus k, minus the shifter.
        let kb = cg(self
            .b
            .build_int_add(k, self.splat_i(it, SHIFTER.to_bits()), ""))?;
        let kd = self.sub(self.bits_as_f64(kb, vt)?, self.splat(vt, SHIFTER))?;
        Ok((t, m, kd))
    }

    /// The reduction of `exp`'s argument: `n = round(z / log 2)` held in
    /// the low bits of `nb` (`1.5 2^52 + n`), `-n`, and `z - n LN2_HI`,
    /// exact for `|n| < 2^21`; the caller subtracts `n LN2_LO` as its
    /// precision needs.
    pub(super) fn ln2_reduction(
        &mut self,
        vt: VectorType<'ctx>,
        z: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>, VectorValue<'ctx>)> {
        self.reduction(vt, z, std::f64::consts::LOG2_E, LN2_HI)
    }

    /// [`Gen::ln2_reduction`] by a step `c` (its reciprocal `inv`): `nb`,
    /// `-n` and `z - n c`, rounded once (exact where `c` has few enough
    /// bits, as `LN2_HI` has; the caller adds the rest of the step).
    pub(super) fn reduction(
        &mut self,
        vt: VectorType<'ctx>,
        z: VectorValue<'ctx>,
        inv: f64,
        c: f64,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>, VectorValue<'ctx>)> {
        let shifter = self.splat(vt, SHIFTER);
        let nb = self.fma_v(z, self.splat(vt, inv), shifter)?;
        let n = self.sub(nb, shifter)?;
        let neg_n = self.neg(n)?;
        let hi = self.fma_v(neg_n, self.splat(vt, c), z)?;
        Ok((nb, neg_n, hi))
    }

    /// `exp(z + z_lo)` for `|z| <= 708` and `z_lo` within an ulp of `z`.
    fn exp_dd(
        &mut self,
        vt: VectorType<'ctx>,
        z: VectorValue<'ctx>,
        z_lo: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let it = self.ctx.i64_type().vec_type(vt.get_size());
        // a + a_lo = z + z_lo - n log 2.
        let (nb, neg_n, a) = self.ln2_reduction(vt, z)?;
        let rl = self.fma_v(neg_n, self.splat(vt, LN2_LO), z_lo)?;
        // Fast2Sum: |a| >= |rl| unless both are below 2^-22 (as `n LN2_LO`
        // is), where the error term is off by at most a few ulps of the
        // sum, below 2^-71.
        let (a, a_lo) = self.fast_two_sum(a, rl)?;
        // exp(a)(1 + a_lo) = 1 + a + (a^2 Q(a) + a_lo (1 + a)).
        let q = self.estrin(vt, &exp_tail(), a)?;
        let a2 = self.mul(a, a)?;
        let corr = self.fma_v(a_lo, a, a_lo)?;
        let small = self.fma_v(a2, q, corr)?;
        let (s, e) = self.fast_two_sum(self.splat(vt, 1.0), a)?;
        let mant = self.add(s, self.add(e, small)?)?;
        // Times 2^n: n << 52 added to the exponent bits (the result is normal).
        let nbits = self.f64_as_bits(nb, it)?;
        let scale = cg(self.b.build_left_shift(nbits, self.splat_i(it, 52), ""))?;
        let out = cg(self.b.build_int_add(self.f64_as_bits(mant, it)?, scale, ""))?;
        self.bits_as_f64(out, vt)
    }

    /// The polynomial with coefficients `coef` (lowest power first) at `t`
    /// by Estrin's scheme: pairs `c0 + c1 t`, then pairs of those with
    /// `t^2`, and so on. A depth of about log2 of the degree instead of
    /// Horner's degree: these routines are latency-bound (each vector's
    /// chain is ~50 operations long, more than out-of-order execution
    /// overlaps across loop iterations).
    pub(super) fn estrin(
        &mut self,
        vt: VectorType<'ctx>,
        coef: &[f64],
        t: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let mut terms: Vec<VectorValue<'ctx>> = coef.iter().map(|&c| self.splat(vt, c)).collect();
        let mut p = t;
        while terms.len() > 1 {
            let mut next = Vec::with_capacity(terms.len().div_ceil(2));
            for pair in terms.chunks(2) {
                next.push(match pair {
                    [lo, hi] => self.fma_v(*hi, p, *lo)?,
                    _ => pair[0],
                });
            }
            terms = next;
            if terms.len() > 1 {
                p = self.mul(p, p)?;
            }
        }
        Ok(terms[0])
    }

    /// `a b = p + e` exactly (the error by one FMA).
    pub(super) fn two_prod(
        &mut self,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let p = self.mul(a, b)?;
        let e = self.fma_v(a, b, self.neg(p)?)?;
        Ok((p, e))
    }

    /// `a + b = s + e` exactly, for `|a| >= |b|` or `a = 0` (Fast2Sum).
    pub(super) fn fast_two_sum(
        &self,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let s = self.add(a, b)?;
        let e = self.sub(b, self.sub(s, a)?)?;
        Ok((s, e))
    }

    pub(super) fn add(
        &self,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        cg(self.b.build_float_add(a, b, ""))
    }

    pub(super) fn sub(
        &self,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        cg(self.b.build_float_sub(a, b, ""))
    }

    pub(super) fn mul(
        &self,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        cg(self.b.build_float_mul(a, b, ""))
    }

    pub(super) fn neg(&self, a: VectorValue<'ctx>) -> Result<VectorValue<'ctx>> {
        cg(self.b.build_float_neg(a, ""))
    }

    /// `v` in every lane of an integer vector of type `it`.
    pub(super) fn splat_i(&self, it: VectorType<'ctx>, v: u64) -> VectorValue<'ctx> {
        let e = self.ctx.i64_type().const_int(v, false);
        VectorType::const_vector(&vec![e; it.get_size() as usize])
    }

    pub(super) fn f64_as_bits(
        &self,
        v: VectorValue<'ctx>,
        it: VectorType<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let b: BasicValueEnum<'ctx> = cg(self.b.build_bit_cast(v, it, ""))?;
        Ok(b.into_vector_value())
    }

    pub(super) fn bits_as_f64(
        &self,
        v: VectorValue<'ctx>,
        vt: VectorType<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let b: BasicValueEnum<'ctx> = cg(self.b.build_bit_cast(v, vt, ""))?;
        Ok(b.into_vector_value())
    }
}
