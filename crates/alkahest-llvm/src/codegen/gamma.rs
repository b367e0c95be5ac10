//! `lgamma` and `tgamma` on vectors: glibc's libmvec has neither, and
//! libm lane by lane took ~12 ns (`lgamma_r`) and ~46 ns (`tgamma`) a point
//! in the batch loop. Both are computed branch-free on lanes in their
//! domain (`lgamma`: `0 < x < 1e300`; `tgamma`: `1e-300 < x < 171.5`):
//!
//! * `x < 10`: reduced to `w` in `[1, 3)`, where `lgamma(w) = (w - 1)(w - 2)
//!   R(w - 2)` with `R` a degree-28 polynomial (`scripts/fit_lgamma.py`:
//!   Chebyshev interpolation, 1.3 x 2^-53 relative error in double): the two
//!   factors carry lgamma's zeros at 1 and 2 exactly (`w - 1` and `w - 2`
//!   are exact), so the result keeps its relative accuracy next to them.
//!   `x < 1`: `w = x + 1` (with `w - 1 = x`, `w - 2 = x - 1`, never rounding
//!   `x + 1`), and `- log x` (`tgamma`: `/ x`); `3 <= x < 10`: `w = x - k`,
//!   `k = floor(x) - 2` (exact), and `+ log p` (`tgamma`: `* p`) for
//!   `p = (x - 1)...(x - k)`, a sum of positive terms. `tgamma(w)` is
//!   `exp(lgamma(w))`, an exponent in `[-0.13, 0.7]`.
//! * `x >= 10`: Stirling's series `S(1/x)`, eight terms (the next is below
//!   2^-60 relative): `lgamma = (x - 1/2)(log x - 1) + (log(2 pi) - 1)/2 + S`;
//!   `tgamma = ((t e^-x) t) sqrt(2 pi) e^S` with `t = x^((x - 1/2)/2)`, an
//!   order that neither overflows nor underflows below 171.5.
//!
//! The vector `log` and `exp` are libmvec's (libm lane by lane where the
//! process has no libmvec), `pow` the crate's own (the `pow` module). Measured against mpmath
//! (`tests/test_language.py` asserts the bounds): `lgamma` within
//! [`crate::LGAMMA_ULPS`] (4; 2.94 measured), `tgamma` within 9 (glibc's
//! documented bound for its own; 3.9 measured below 10, 7.2 above). They
//! differ from glibc's scalar results in the last bits, like libmvec's other
//! functions. A vector with any lane outside the domain (zero, negative,
//! NaN, infinite, overflowing) runs libm lane by lane (`lgamma_r`, which
//! does not write the global `signgam`), as does every vector under
//! `exact_math` (the `routine` module).

use alkahest_tape::{BinaryFn, UnaryFn};
use inkwell::FloatPredicate;
use inkwell::types::VectorType;
use inkwell::values::VectorValue;

use super::ops::MathFn;
use super::{Gen, cg};
use crate::error::Result;

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

/// `sqrt(2 pi)`.
const SQRT_2PI: f64 = 2.506_628_274_631_000_7;

/// The lanes each routine computes (ordered compares: NaN is outside);
/// the others take libm lane by lane. `tgamma` overflows above ~171.62.
fn domain(f: UnaryFn) -> (f64, f64) {
    match f {
        UnaryFn::Lgamma => (0.0, 1e300),
        _ => (1e-300, 171.5),
    }
}

/// `x` reduced for `x < 10` (module docs): `w - 1` and `u = w - 2` with
/// `w` in `[1, 3)`, and the product `p` of the recurrence for `3 <= x`.
struct Reduced<'ctx> {
    /// Lanes with `x < 1` (a mask).
    small: VectorValue<'ctx>,
    /// Lanes with `x >= 3` (a mask; `x >= 10` lanes too).
    mid: VectorValue<'ctx>,
    /// Lanes with `x >= 10` (a mask): Stirling's series.
    big: VectorValue<'ctx>,
    /// `w - 1`.
    wm1: VectorValue<'ctx>,
    /// `w - 2`, the polynomial's variable.
    u: VectorValue<'ctx>,
    /// `(x - 1)...(x - k)`, 1 where `x < 3`.
    p: VectorValue<'ctx>,
}

impl<'ctx> Gen<'ctx, '_> {
    /// Lanes `f`'s fast formula serves: its [`domain`] (ordered compares:
    /// a NaN lane fails them).
    pub(super) fn gamma_domain(
        &mut self,
        f: UnaryFn,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let (lo, hi) = domain(f);
        let above = self.lt_v(self.splat(vt, lo), x)?;
        let below = self.lt_v(x, self.splat(vt, hi))?;
        cg(self.b.build_and(above, below, ""))
    }

    /// The reduction of `x < 10` to `w` in `[1, 3)` (module docs).
    fn reduce(&mut self, vt: VectorType<'ctx>, x: VectorValue<'ctx>) -> Result<Reduced<'ctx>> {
        let one = self.splat(vt, 1.0);
        let two = self.splat(vt, 2.0);
        let small = self.cmp_v(FloatPredicate::OLT, x, one)?;
        let big = self.cmp_v(FloatPredicate::OGE, x, self.splat(vt, 10.0))?;
        let mid = self.cmp_v(FloatPredicate::OGE, x, self.splat(vt, 3.0))?;
        // k = floor(x) - 2 for 3 <= x < 10 (else 0); w = x - k, exact.
        let fl = self.intrinsic_v("llvm.floor", &[x])?;
        let k = cg(self.b.build_float_sub(fl, two, ""))?;
        let k = self.select_v(mid, k, self.splat(vt, 0.0))?;
        let wr = cg(self.b.build_float_sub(x, k, ""))?;
        // p = (x - 1)(x - 2)...(x - k): factors past k are 1.
        let mut p = one;
        for j in 1..=7 {
            let jv = self.splat(vt, f64::from(j));
            let fac = cg(self.b.build_float_sub(x, jv, ""))?;
            let used = self.cmp_v(FloatPredicate::OLE, jv, k)?;
            let fac = self.select_v(used, fac, one)?;
            p = cg(self.b.build_float_mul(p, fac, ""))?;
        }
        // (w - 1) and u = w - 2 without forming w for x < 1 (w = x + 1
        // would round): x and x - 1 there.
        let wm1 = cg(self.b.build_float_sub(wr, one, ""))?;
        let wm2 = cg(self.b.build_float_sub(wr, two, ""))?;
        let xm1 = cg(self.b.build_float_sub(x, one, ""))?;
        Ok(Reduced {
            small,
            mid,
            big,
            wm1: self.select_v(small, x, wm1)?,
            u: self.select_v(small, xm1, wm2)?,
            p,
        })
    }

    /// `lgamma(w) = (w - 1)(w - 2) R(w - 2)` for `w` in `[1, 3)`.
    fn lgamma_near(
        &mut self,
        vt: VectorType<'ctx>,
        r: &Reduced<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let poly = self.poly_v(vt, &R, r.u)?;
        let fac = cg(self.b.build_float_mul(r.wm1, r.u, ""))?;
        cg(self.b.build_float_mul(fac, poly, ""))
    }

    /// Stirling's `S(1/x)`.
    fn stirling(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let z = cg(self.b.build_float_div(self.splat(vt, 1.0), x, ""))?;
        let z2 = cg(self.b.build_float_mul(z, z, ""))?;
        let s = self.poly_v(vt, &STIRLING, z2)?;
        cg(self.b.build_float_mul(s, z, ""))
    }

    /// lgamma for lanes in its [`domain`] (module docs).
    pub(super) fn lgamma_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let one = self.splat(vt, 1.0);
        let r = self.reduce(vt, x)?;
        // One log per lane: of x (x < 1: subtracted; x >= 10: Stirling),
        // of p (3 <= x < 10: added), of 1 (1 <= x < 3: nothing).
        let arg = self.select_v(r.mid, r.p, one)?;
        let arg = self.select_v(r.small, x, arg)?;
        let arg = self.select_v(r.big, x, arg)?;
        let log = self.vector_math(MathFn::Unary(UnaryFn::Log), &[arg])?;
        let near = self.lgamma_near(vt, &r)?;
        let neg_log = cg(self.b.build_float_neg(log, ""))?;
        let corr = self.select_v(r.small, neg_log, log)?;
        let near = cg(self.b.build_float_add(near, corr, ""))?;
        // x >= 10: (x - 1/2)(log x - 1) + (log(2 pi) - 1)/2 + S(1/x).
        let s = self.stirling(vt, x)?;
        let xh = cg(self.b.build_float_sub(x, self.splat(vt, 0.5), ""))?;
        let lm1 = cg(self.b.build_float_sub(log, one, ""))?;
        let tail = cg(self
            .b
            .build_float_add(s, self.splat(vt, HALF_LOG_2PI_MINUS_HALF), ""))?;
        let far = self.fma_v(xh, lm1, tail)?;
        self.select_v(r.big, far, near)
    }

    /// tgamma for lanes in its [`domain`] (module docs).
    pub(super) fn tgamma_fast(
        &mut self,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let r = self.reduce(vt, x)?;
        // One exp per lane: of lgamma(w) (x < 10) or of -x (x >= 10).
        let near = self.lgamma_near(vt, &r)?;
        let neg_x = cg(self.b.build_float_neg(x, ""))?;
        let arg = self.select_v(r.big, neg_x, near)?;
        let e = self.vector_math(MathFn::Unary(UnaryFn::Exp), &[arg])?;
        // x < 10: G = Gamma(w); G / x (x < 1), G p (3 <= x), else G.
        let over_x = cg(self.b.build_float_div(e, x, ""))?;
        let times_p = cg(self.b.build_float_mul(e, r.p, ""))?;
        let near = self.select_v(r.mid, times_p, e)?;
        let near = self.select_v(r.small, over_x, near)?;
        // x >= 10: t = x^((x - 1/2)/2), ((t e^-x) t) sqrt(2 pi) e^S, in an
        // order that neither overflows nor underflows below x = 171.5.
        let xh = cg(self.b.build_float_sub(x, self.splat(vt, 0.5), ""))?;
        let half = cg(self.b.build_float_mul(xh, self.splat(vt, 0.5), ""))?;
        let t = self.vector_math(MathFn::Binary(BinaryFn::Pow), &[x, half])?;
        let s = self.stirling(vt, x)?;
        let es = self.vector_math(MathFn::Unary(UnaryFn::Exp), &[s])?;
        let te = cg(self.b.build_float_mul(t, e, ""))?;
        let tet = cg(self.b.build_float_mul(te, t, ""))?;
        let c = cg(self.b.build_float_mul(es, self.splat(vt, SQRT_2PI), ""))?;
        let far = cg(self.b.build_float_mul(tet, c, ""))?;
        self.select_v(r.big, far, near)
    }
}
