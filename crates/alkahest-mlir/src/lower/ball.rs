//! Midpoint-radius ball arithmetic built on the `arith` sink: the lowering
//! of `alkahest.interval_eval`.

use alkahest_tape::special::Special;
use alkahest_tape::{BinaryFn, CmpOp, Monotone, UnaryFn};
use melior::ir::Value;

use super::arith::ArithSink;
use super::walk::{Sink, Via};
use crate::error::{Error, Result};

/// Unit roundoff of f64.
const U: f64 = f64::EPSILON / 2.0;
/// Smallest positive subnormal: absorbs underflow in every bound.
const ETA: f64 = f64::from_bits(1);
/// Relative error allowed for a libm call (glibc documents at most a few
/// ulp for the functions used; this is 8 u = 4 ulp).
const LIBM: f64 = 8.0 * U;
/// Relative error allowed for the digamma / trigamma recipes on positive
/// arguments (measured at most 2.6 ulp against mpmath, docs/functions.md;
/// this is 16 u = 8 ulp).
const RECIPE: f64 = 16.0 * U;

/// Midpoint-radius ball arithmetic over f64 built from arith/math ops.
/// Outward rounding: every radius adds the rounding error of its midpoint
/// (u |m|) and is then inflated by `up(r) = r (1 + 8u) + eta`, which bounds
/// the rounding of the few nonnegative terms it sums.
pub(crate) struct BallSink<'s, 'c, 'a, 'm> {
    pub(super) p: &'s mut ArithSink<'c, 'a, 'm>,
}

impl<'c, 'a> BallSink<'_, 'c, 'a, '_> {
    fn up(&mut self, r: Value<'c, 'a>) -> Result<Value<'c, 'a>> {
        let k = self.p.konst(1.0 + 8.0 * U)?;
        let e = self.p.konst(ETA)?;
        self.p.fma(r, k, e)
    }
    /// `|x| * k`.
    fn rel(&mut self, x: Value<'c, 'a>, k: f64) -> Result<Value<'c, 'a>> {
        let a = self.p.unary(UnaryFn::Abs, x)?;
        let kk = self.p.konst(k)?;
        self.p.mul(a, kk)
    }
    /// Radius of a rounded midpoint `m` with propagated radius `r`.
    fn finish(
        &mut self,
        m: Value<'c, 'a>,
        r: Value<'c, 'a>,
    ) -> Result<(Value<'c, 'a>, Value<'c, 'a>)> {
        let e = self.rel(m, U)?;
        let s = self.p.add(r, e)?;
        Ok((m, self.up(s)?))
    }
    /// `x` moved outward by a few ulp: `x - (|x| 2u + eta)` or `+`.
    fn widen(&mut self, x: Value<'c, 'a>, down: bool) -> Result<Value<'c, 'a>> {
        let d = self.rel(x, 2.0 * U)?;
        let e = self.p.konst(ETA)?;
        let d = self.p.add(d, e)?;
        if down {
            self.p.sub(x, d)
        } else {
            self.p.add(x, d)
        }
    }
    /// A monotone function on a ball: evaluate at outward-widened endpoints.
    fn monotone(
        &mut self,
        f: UnaryFn,
        a: (Value<'c, 'a>, Value<'c, 'a>),
        increasing: bool,
    ) -> Result<(Value<'c, 'a>, Value<'c, 'a>)> {
        let (fm, rad, _) = self.monotone_by(a, increasing, LIBM, &mut |s, v| s.p.unary(f, v))?;
        Ok((fm, rad))
    }

    /// A monotone function computed by `eval` with relative error at most
    /// `rel_err`, on a ball: `(f(mid), radius, widened lower end)`. The
    /// radius covers `f` at the outward-widened endpoints plus `eval`'s
    /// error at them.
    #[allow(clippy::type_complexity)]
    fn monotone_by(
        &mut self,
        (m, r): (Value<'c, 'a>, Value<'c, 'a>),
        increasing: bool,
        rel_err: f64,
        eval: &mut dyn FnMut(&mut Self, Value<'c, 'a>) -> Result<Value<'c, 'a>>,
    ) -> Result<(Value<'c, 'a>, Value<'c, 'a>, Value<'c, 'a>)> {
        let lo = self.p.sub(m, r)?;
        let lo = self.widen(lo, true)?;
        let hi = self.p.add(m, r)?;
        let hi = self.widen(hi, false)?;
        let fm = eval(self, m)?;
        let (flo, fhi) = if increasing {
            (eval(self, lo)?, eval(self, hi)?)
        } else {
            (eval(self, hi)?, eval(self, lo)?)
        };
        let d1 = self.p.sub(fm, flo)?;
        let d2 = self.p.sub(fhi, fm)?;
        let d = self.p.binary(BinaryFn::Max, d1, d2)?;
        let a1 = self.p.unary(UnaryFn::Abs, flo)?;
        let a2 = self.p.unary(UnaryFn::Abs, fhi)?;
        let big = self.p.binary(BinaryFn::Max, a1, a2)?;
        let k = self.p.konst(rel_err)?;
        let slack = self.p.mul(big, k)?;
        let s = self.p.add(d, slack)?;
        Ok((fm, self.up(s)?, lo))
    }
}

impl<'c, 'a> BallSink<'_, 'c, 'a, '_> {
    /// `f(v)` by the tape crate's recipe in the arith sink (a point value).
    fn recipe(&mut self, f: Special, v: Value<'c, 'a>) -> Result<Value<'c, 'a>> {
        f.expand(&mut Via(&mut *self.p), v)
    }
}

impl<'c, 'a> Sink for BallSink<'_, 'c, 'a, '_> {
    /// digamma increases (between consecutive poles) and trigamma decreases
    /// on the positive reals; a ball of positive reals is enclosed from its widened endpoints like
    /// [`BallSink::monotone`] (with the recipe's error bound). A ball that
    /// reaches 0 or below may contain a pole (or needs the reflection's
    /// absolute error bound): its radius is +inf, an honest "unbounded".
    fn special(&mut self, f: Special, a: Self::V) -> Result<Self::V> {
        let increasing = match f {
            Special::Digamma => true,
            Special::Trigamma => false,
        };
        let (fm, rad, lo) = self.monotone_by(a, increasing, RECIPE, &mut |s, v| s.recipe(f, v))?;
        let zero = self.p.konst(0.0)?;
        let positive = self.p.cmp(CmpOp::Gt, lo, zero)?;
        let inf = self.p.konst(f64::INFINITY)?;
        let rad = self.p.select(positive, rad, inf)?;
        Ok((fm, rad))
    }
    type V = (Value<'c, 'a>, Value<'c, 'a>);
    const TARGET: &'static str = "interval arithmetic";
    /// `x**2.0` is enclosed as `x*x`, `x**0.5` as `sqrt(x)`: the same real
    /// function, with tighter balls than `exp(y log x)` (defined for
    /// negative bases too).
    const FOLD_FLOAT_EXPONENTS: bool = true;
    /// A ball is two buffer entries: slot `i` is `2i` (mid), `2i + 1` (rad).
    fn load(&mut self, i: u32) -> Result<Self::V> {
        Ok((self.p.load(2 * i)?, self.p.load(2 * i + 1)?))
    }
    fn store(&mut self, i: u32, (m, r): Self::V) -> Result<()> {
        self.p.store(2 * i, m)?;
        self.p.store(2 * i + 1, r)
    }
    fn konst(&mut self, c: f64) -> Result<Self::V> {
        let m = self.p.konst(c)?;
        let exact = c.fract() == 0.0 && c.abs() < 9.007_199_254_740_992e15;
        let r = self.p.konst(if exact || !c.is_finite() {
            0.0
        } else {
            U * c.abs()
        })?;
        Ok((m, r))
    }
    fn add(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        let m = self.p.add(a.0, b.0)?;
        let r = self.p.add(a.1, b.1)?;
        self.finish(m, r)
    }
    fn sub(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        let m = self.p.sub(a.0, b.0)?;
        let r = self.p.add(a.1, b.1)?;
        self.finish(m, r)
    }
    fn mul(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        let m = self.p.mul(a.0, b.0)?;
        let am = self.p.unary(UnaryFn::Abs, a.0)?;
        let bm = self.p.unary(UnaryFn::Abs, b.0)?;
        let t1 = self.p.mul(am, b.1)?;
        let t2 = self.p.mul(a.1, bm)?;
        let t3 = self.p.mul(a.1, b.1)?;
        let s = self.p.add(t1, t2)?;
        let s = self.p.add(s, t3)?;
        self.finish(m, s)
    }
    fn div(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        // |a/b - ma/mb| <= (ra + |ma/mb| rb) / (|mb| - rb) when |mb| > rb;
        // the denominator is rounded down and clamped at +0, so a ball
        // that contains 0 gets an infinite (or NaN) radius.
        let m = self.p.div(a.0, b.0)?;
        let bm = self.p.unary(UnaryFn::Abs, b.0)?;
        let d = self.p.sub(bm, b.1)?;
        let k = self.p.konst(1.0 - 4.0 * U)?;
        let e = self.p.konst(-ETA)?;
        let d = self.p.fma(d, k, e)?;
        let zero = self.p.konst(0.0)?;
        let d = self.p.binary(BinaryFn::Max, d, zero)?;
        let am = self.p.unary(UnaryFn::Abs, m)?;
        let n = self.p.fma(am, b.1, a.1)?;
        let r = self.p.div(n, d)?;
        self.finish(m, r)
    }
    fn neg(&mut self, a: Self::V) -> Result<Self::V> {
        Ok((self.p.neg(a.0)?, a.1))
    }
    fn fma(&mut self, a: Self::V, b: Self::V, c: Self::V) -> Result<Self::V> {
        // The midpoint is the fused result, rounded once like every other
        // tier's fma; the radius propagates the input radii as a product
        // plus a sum would, and `finish` adds that single rounding.
        let m = self.p.fma(a.0, b.0, c.0)?;
        let am = self.p.unary(UnaryFn::Abs, a.0)?;
        let bm = self.p.unary(UnaryFn::Abs, b.0)?;
        let t1 = self.p.mul(am, b.1)?;
        let t2 = self.p.mul(a.1, bm)?;
        let t3 = self.p.mul(a.1, b.1)?;
        let s = self.p.add(t1, t2)?;
        let s = self.p.add(s, t3)?;
        let s = self.p.add(s, c.1)?;
        self.finish(m, s)
    }
    fn unary(&mut self, f: UnaryFn, a: Self::V) -> Result<Self::V> {
        // Monotone functions (the tape crate's table says which) are
        // enclosed from the ends of the ball; the others have rules here.
        match f.info().monotone {
            Monotone::Increasing => return self.monotone(f, a, true),
            Monotone::Decreasing => return self.monotone(f, a, false),
            Monotone::No => {}
        }
        match f {
            UnaryFn::Abs => Ok((self.p.unary(UnaryFn::Abs, a.0)?, a.1)),
            UnaryFn::Sin | UnaryFn::Cos => {
                // 1-Lipschitz, plus the libm error of f(m).
                let m = self.p.unary(f, a.0)?;
                let e = self.rel(m, LIBM)?;
                let s = self.p.add(a.1, e)?;
                Ok((m, self.up(s)?))
            }
            UnaryFn::Tan => {
                let s = self.unary(UnaryFn::Sin, a)?;
                let c = self.unary(UnaryFn::Cos, a)?;
                self.div(s, c)
            }
            UnaryFn::Cosh => {
                // Convex with minimum 1: the maximum is at an endpoint.
                let (m, r) = a;
                let lo = self.p.sub(m, r)?;
                let lo = self.widen(lo, true)?;
                let hi = self.p.add(m, r)?;
                let hi = self.widen(hi, false)?;
                let fm = self.p.unary(f, m)?;
                let c1 = self.p.unary(f, lo)?;
                let c2 = self.p.unary(f, hi)?;
                let top = self.p.binary(BinaryFn::Max, c1, c2)?;
                let k = self.p.konst(1.0 + LIBM)?;
                let top = self.p.mul(top, k)?;
                let one = self.p.konst(1.0)?;
                let d1 = self.p.sub(top, fm)?;
                let d2 = self.p.sub(fm, one)?;
                let d = self.p.binary(BinaryFn::Max, d1, d2)?;
                Ok((fm, self.up(d)?))
            }
            // gamma and loggamma (poles, and not monotone), and any new
            // row of the table with neither a direction nor a rule here.
            _ => Err(Error::Unsupported {
                what: f.info().c_name.into(),
                target: Self::TARGET,
            }),
        }
    }
    fn binary(&mut self, f: BinaryFn, a: Self::V, b: Self::V) -> Result<Self::V> {
        match f {
            BinaryFn::Min | BinaryFn::Max => {
                let m = self.p.binary(f, a.0, b.0)?;
                let r = self.p.binary(BinaryFn::Max, a.1, b.1)?;
                Ok((m, r))
            }
            BinaryFn::Hypot => {
                let x2 = self.mul(a, a)?;
                let y2 = self.mul(b, b)?;
                let s = self.add(x2, y2)?;
                self.unary(UnaryFn::Sqrt, s)
            }
            BinaryFn::Pow => {
                let l = self.unary(UnaryFn::Log, a)?;
                let t = self.mul(b, l)?;
                self.unary(UnaryFn::Exp, t)
            }
            BinaryFn::Atan2 | BinaryFn::Copysign | BinaryFn::Fmod => Err(Error::Unsupported {
                what: f.info().c_name.into(),
                target: Self::TARGET,
            }),
        }
    }
}
