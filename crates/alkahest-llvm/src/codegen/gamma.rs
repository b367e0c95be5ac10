//! `lgamma` on vectors: glibc's libmvec has none, and libm's `lgamma_r`
//! lane by lane took ~12 ns a point in the batch loop. For `0 < x < 1e300`
//! this computes it with one vector `log` and two polynomials, branch-free:
//!
//! * `x >= 10`: Stirling's series, `(x - 1/2)(log x - 1) + (log(2 pi) - 1)/2
//!   + S(1/x)`, eight terms of `S` (the next is below 2^-60 relative).
//! * `x < 10`: reduced to `w` in `[1, 3)`, where `lgamma(w) = (w - 1)(w - 2)
//!   R(w - 2)` with `R` a degree-28 polynomial (`scripts/fit_lgamma.py`:
//!   Chebyshev interpolation, 1.3 x 2^-53 relative error in double): the two
//!   factors carry lgamma's zeros at 1 and 2 exactly (`w - 1` and `w - 2`
//!   are exact), so the result keeps its relative accuracy next to them.
//!   `x < 1`: `w = x + 1` and `- log x` (with `w - 1 = x`, `w - 2 = x - 1`,
//!   never rounding `x + 1`); `3 <= x < 10`: `w = x - k`, `k = floor(x) - 2`
//!   (exact), and `+ log((x - 1)...(x - k))`, a sum of positive terms.
//!
//! Measured against mpmath (`tests/test_language.py`): within the bound in
//! [`crate::LGAMMA_ULPS`] of the true value, as glibc's own lgamma is within 4 (its
//! manual); the two differ in the last bits, like libmvec's other functions
//! and libm's. A vector with any lane outside `(0, 1e300)` (zero, negative,
//! NaN, infinite, huge) runs `lgamma_r` lane by lane, as does every vector
//! under `exact_math`.

use inkwell::FloatPredicate;
use inkwell::module::Linkage;
use inkwell::types::{BasicTypeEnum, VectorType};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FunctionValue, VectorValue};

use super::{Gen, cg};
use crate::error::{Error, Result};

/// `R(u)` on `[-1, 1]`, lowest power first (`scripts/fit_lgamma.py 28`).
const R: [f64; 29] = [
    0.42278433509846713,
    -0.1003173016743539,
    0.032965000621155816,
    -0.012384192193374183,
    0.004998641164698706,
    -0.0021081308338353785,
    0.0009153769221939477,
    -0.0004057073998333553,
    0.00018255264018626728,
    -8.309510094797398e-05,
    3.8168877217049974e-05,
    -1.7661849545809686e-05,
    8.22227252824938e-06,
    -3.8465374565754054e-06,
    1.8077244952477939e-06,
    -8.554195306752008e-07,
    4.0491176292722286e-07,
    -1.8624721164419038e-07,
    8.858800462314761e-08,
    -5.1889381335192836e-08,
    2.4876913129422816e-08,
    -9.172949166290702e-10,
    3.821541398410965e-10,
    -8.87711600370437e-09,
    4.305220610785349e-09,
    2.444386936885692e-09,
    -1.1901740908188623e-09,
    -8.152852870624974e-10,
    3.9592899392841773e-10,
];

/// `B_{2k} / (2k (2k - 1))` for k = 1..8: Stirling's series in `1/x`.
const STIRLING: [f64; 8] = [
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360360.0,
    1.0 / 156.0,
    -3617.0 / 122400.0,
];

/// `(log(2 pi) - 1) / 2`.
const HALF_LOG_2PI_MINUS_HALF: f64 = 0.418_938_533_204_672_7;

impl<'ctx> Gen<'ctx, '_> {
    /// `lgamma` of a vector of type `vt`, through an internal function
    /// emitted once per module and width.
    pub(super) fn vector_lgamma(
        &mut self,
        vt: VectorType<'ctx>,
        x: BasicValueEnum<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let f = self.lgamma_fn(vt)?;
        let args: [BasicMetadataValueEnum; 1] = [x.into()];
        match cg(self.b.build_call(f, &args, ""))?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v),
            inkwell::values::ValueKind::Instruction(_) => {
                Err(Error::Codegen("lgamma returned no value".into()))
            }
        }
    }

    /// `<w x double> alkahest_vlgamma_x<w>(<w x double> x)`.
    fn lgamma_fn(&mut self, vt: VectorType<'ctx>) -> Result<FunctionValue<'ctx>> {
        let w = vt.get_size();
        let name = format!("alkahest_vlgamma_x{w}");
        if let Some(&f) = self.fns.get(&name) {
            return Ok(f);
        }
        let ty: BasicTypeEnum<'ctx> = vt.into();
        let f = self.module.add_function(
            &name,
            vt.fn_type(&[ty.into()], false),
            Some(Linkage::Internal),
        );
        self.add_fn_attrs(f);
        self.fns.insert(name, f);
        let saved = self.b.get_insert_block();
        let (entry, fast, slow) = (
            self.ctx.append_basic_block(f, "entry"),
            self.ctx.append_basic_block(f, "fast"),
            self.ctx.append_basic_block(f, "slow"),
        );
        let x = f
            .get_nth_param(0)
            .ok_or_else(|| Error::Codegen("missing parameter".into()))?
            .into_vector_value();
        let f64t = self.f64t;
        let splat = |v: f64| VectorType::const_vector(&vec![f64t.const_float(v); w as usize]);

        // entry: every lane in (0, 1e300) (ordered: NaN fails).
        self.b.position_at_end(entry);
        let above = cg(self
            .b
            .build_float_compare(FloatPredicate::OGT, x, splat(0.0), ""))?;
        let below = cg(self
            .b
            .build_float_compare(FloatPredicate::OLT, x, splat(1e300), ""))?;
        let ok = cg(self.b.build_and(above, below, ""))?;
        let reduce = self.intrinsic("llvm.vector.reduce.and", &[ok.get_type().into()])?;
        let all = self.plain_call(reduce, &[ok.into()])?.into_int_value();
        cg(self.b.build_conditional_branch(all, fast, slow))?;

        self.b.position_at_end(fast);
        let y = self.lgamma_fast(vt, x)?;
        cg(self.b.build_return(Some(&y)))?;

        // slow: lgamma_r lane by lane, as without this function.
        self.b.position_at_end(slow);
        let i64t = self.ctx.i64_type();
        let mut acc = vt.get_undef();
        for lane in 0..w {
            let idx = i64t.const_int(u64::from(lane), false);
            let a = cg(self.b.build_extract_element(x, idx, ""))?;
            let v = self.scalar_lgamma(a)?.into_float_value();
            acc = cg(self.b.build_insert_element(acc, v, idx, ""))?;
        }
        cg(self.b.build_return(Some(&acc)))?;

        if let Some(bb) = saved {
            self.b.position_at_end(bb);
        }
        Ok(f)
    }

    /// The branch-free formula of the module docs, for lanes in (0, 1e300).
    fn lgamma_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let w = vt.get_size();
        let ty: BasicTypeEnum<'ctx> = vt.into();
        let f64t = self.f64t;
        let splat = |v: f64| VectorType::const_vector(&vec![f64t.const_float(v); w as usize]);
        let cmp = |g: &Self, p: FloatPredicate, a: VectorValue<'ctx>, b: VectorValue<'ctx>| {
            cg(g.b.build_float_compare(p, a, b, ""))
        };
        let sel = |g: &Self, c, a: VectorValue<'ctx>, b: VectorValue<'ctx>| {
            cg(g.b.build_select(c, a, b, "")).map(|v| v.into_vector_value())
        };
        let one = splat(1.0);
        let small = cmp(self, FloatPredicate::OLT, x, one)?;
        let big = cmp(self, FloatPredicate::OGE, x, splat(10.0))?;
        let mid = cmp(self, FloatPredicate::OGE, x, splat(3.0))?;

        // k = floor(x) - 2 for 3 <= x < 10 (else 0); w = x - k, exact.
        let floor = self.intrinsic("llvm.floor", &[ty])?;
        let fl = self.plain_call(floor, &[x.into()])?.into_vector_value();
        let k = cg(self.b.build_float_sub(fl, splat(2.0), ""))?;
        let k = sel(self, mid, k, splat(0.0))?;
        let wr = cg(self.b.build_float_sub(x, k, ""))?;
        // p = (x - 1)(x - 2)...(x - k), factors past k are 1.
        let mut p = one;
        for j in 1..=7 {
            let jv = splat(f64::from(j));
            let fac = cg(self.b.build_float_sub(x, jv, ""))?;
            let used = cmp(self, FloatPredicate::OLE, jv, k)?;
            let fac = sel(self, used, fac, one)?;
            p = cg(self.b.build_float_mul(p, fac, ""))?;
        }
        // The factors (w - 1), (w - 2) and u = w - 2 without forming w for
        // x < 1 (w = x + 1 would round): x and x - 1 there.
        let wm1 = cg(self.b.build_float_sub(wr, one, ""))?;
        let wm2 = cg(self.b.build_float_sub(wr, splat(2.0), ""))?;
        let xm1 = cg(self.b.build_float_sub(x, one, ""))?;
        let wm1 = sel(self, small, x, wm1)?;
        let u = sel(self, small, xm1, wm2)?;

        // One log per lane: of x (x < 1: subtracted; x >= 10: Stirling),
        // of p (3 <= x < 10: added), of 1 (1 <= x < 3: nothing).
        let arg = sel(self, mid, p, one)?;
        let arg = sel(self, small, x, arg)?;
        let arg = sel(self, big, x, arg)?;
        let log = self.vector_log(arg)?;

        // x < 10: (w - 1)(w - 2) R(u) -+ log.
        let fma = self.intrinsic("llvm.fma", &[ty])?;
        let mut r = splat(R[R.len() - 1]);
        for &c in R.iter().rev().skip(1) {
            r = self
                .plain_call(fma, &[r.into(), u.into(), splat(c).into()])?
                .into_vector_value();
        }
        let fac = cg(self.b.build_float_mul(wm1, u, ""))?;
        let near = cg(self.b.build_float_mul(fac, r, ""))?;
        let neg_log = cg(self.b.build_float_neg(log, ""))?;
        let corr = sel(self, small, neg_log, log)?;
        let near = cg(self.b.build_float_add(near, corr, ""))?;

        // x >= 10: Stirling.
        let z = cg(self.b.build_float_div(one, x, ""))?;
        let z2 = cg(self.b.build_float_mul(z, z, ""))?;
        let mut s = splat(STIRLING[STIRLING.len() - 1]);
        for &c in STIRLING.iter().rev().skip(1) {
            s = self
                .plain_call(fma, &[s.into(), z2.into(), splat(c).into()])?
                .into_vector_value();
        }
        let s = cg(self.b.build_float_mul(s, z, ""))?;
        let xh = cg(self.b.build_float_sub(x, splat(0.5), ""))?;
        let lm1 = cg(self.b.build_float_sub(log, one, ""))?;
        let tail = cg(self
            .b
            .build_float_add(s, splat(HALF_LOG_2PI_MINUS_HALF), ""))?;
        let far = self
            .plain_call(fma, &[xh.into(), lm1.into(), tail.into()])?
            .into_vector_value();
        sel(self, big, far, near)
    }
}
