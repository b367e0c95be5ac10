//! Series expansion as a rewrite source (Herbie's `series` step).
//!
//! Some cancellation is structural: `x - sin(x)`, `1/x - 1/tan(x)`,
//! `1/(x+1) - 2/x + 1/(x-1)` lose every bit near a point (0, or infinity)
//! because their leading terms cancel exactly there, and no identity over
//! the same operations removes that. Their Laurent series around that point
//! does: the cancelling terms drop out of the coefficients, which are
//! computed here once, at compile time, in 320-bit MPFR.
//!
//! [`candidates`] expands a one-variable expression around 0 and around
//! infinity (in `1/x`) and returns truncated polynomials of several lengths
//! as ordinary pool terms, each selected only within the radius where its
//! truncation error is below half an ulp (the written form elsewhere).
//! They are only candidates: the measured search keeps one where its
//! sampled error beats the others.
//!
//! The arithmetic is truncated Laurent series: a lowest exponent and the
//! coefficients known from there up to a truncation order. Sums lower the
//! known order to the smaller one; a sum whose leading coefficients cancel
//! (to within `2^-ZERO_BITS` of the terms that made them) shifts its lowest
//! exponent up, which is exactly the cancellation being removed. Elementary
//! functions use the usual Taylor recurrences (an argument with a pole, or
//! one at a point where the function is not analytic, gives up: `None`).

use alkahest_core::{ExprId, ExprPool, Func, Node};
use hashbrown::HashMap;
use rug::Float;

/// Working precision of the coefficients.
const PREC: u32 = 320;
/// A coefficient below `2^-ZERO_BITS` times the largest term it was summed
/// from is zero (what is left of an exact cancellation at `PREC` bits).
const ZERO_BITS: i32 = 280;
/// Leaves are known through exponent `ORDER - 1`.
const ORDER: i32 = 40;
/// Larger expressions are not expanded (the arithmetic is quadratic in
/// `ORDER` per node).
const MAX_NODES: usize = 400;
/// Largest integer power expanded by repeated multiplication.
const MAX_POWI: i64 = 64;
/// Polynomial lengths (nonzero terms) offered as candidates.
const LENGTHS: [usize; 6] = [2, 3, 4, 6, 9, 12];

/// Where the expansion is centred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Center {
    /// Around `x = 0`, in powers of `x`.
    Zero,
    /// Around `|x| = infinity`, in powers of `1/x`.
    Infinity,
}

/// `sum c[i] t^(lo + i)`, with every coefficient known (those of higher
/// exponents are not).
#[derive(Clone, Debug)]
struct Series {
    lo: i32,
    c: Vec<Float>,
}

fn fl<T>(v: T) -> Float
where
    Float: rug::Assign<T>,
{
    let mut f = Float::new(PREC);
    rug::Assign::assign(&mut f, v);
    f
}

/// `x` is zero relative to `scale` (what it was summed from).
fn negligible(x: &Float, scale: &Float) -> bool {
    if x.is_zero() {
        return true;
    }
    match (x.get_exp(), scale.get_exp()) {
        (Some(a), Some(b)) => a < b - ZERO_BITS,
        _ => false,
    }
}

impl Series {
    /// One past the highest known exponent.
    fn hi(&self) -> i32 {
        self.lo + self.c.len() as i32
    }

    /// A constant, known to every order.
    fn constant(k: Float) -> Series {
        let mut c = vec![fl(0); ORDER as usize];
        c[0] = k;
        Series { lo: 0, c }
    }

    /// The expansion variable `t^e` (`e = 1` at zero, `-1` at infinity).
    fn var(e: i32) -> Series {
        let mut c = vec![fl(0); (ORDER - e.min(0)) as usize];
        c[0] = fl(1);
        Series { lo: e, c }
    }

    /// Strip leading zero coefficients. When none is left the value is
    /// zero through the known order: no coefficients, `lo` at that order.
    /// (Always `Some`; the option keeps call sites uniform.)
    fn trimmed(mut self) -> Option<Series> {
        let k = self
            .c
            .iter()
            .position(|x| !x.is_zero())
            .unwrap_or(self.c.len());
        self.c.drain(..k);
        self.lo += k as i32;
        Some(self)
    }

    fn coef(&self, e: i32) -> Float {
        if e < self.lo || e >= self.hi() {
            fl(0)
        } else {
            self.c[(e - self.lo) as usize].clone()
        }
    }

    fn add(terms: &[Series]) -> Option<Series> {
        let lo = terms.iter().map(|s| s.lo).min()?;
        let hi = terms.iter().map(Series::hi).min()?;
        if hi <= lo {
            return None;
        }
        let mut c = Vec::with_capacity((hi - lo) as usize);
        for e in lo..hi {
            let parts: Vec<Float> = terms.iter().map(|s| s.coef(e)).collect();
            let scale = parts
                .iter()
                .map(|x| x.clone().abs())
                .fold(fl(0), |a, b| if b > a { b } else { a });
            let sum = fl(Float::sum(parts.iter()));
            c.push(if negligible(&sum, &scale) { fl(0) } else { sum });
        }
        Series { lo, c }.trimmed()
    }

    fn mul(&self, b: &Series) -> Option<Series> {
        let lo = self.lo + b.lo;
        let hi = (self.hi() + b.lo).min(b.hi() + self.lo);
        let n = (hi - lo).max(0) as usize;
        if self.c.is_empty() || b.c.is_empty() {
            // Zero through the known order.
            return Some(Series {
                lo: hi.min(self.hi() + b.hi()),
                c: Vec::new(),
            });
        }
        // Both are known for `n = min(len)` terms from their lowest
        // exponent: the product's known terms are a Taylor product.
        debug_assert_eq!(n, self.c.len().min(b.c.len()));
        Series {
            lo,
            c: t_mul(&self.c, &b.c),
        }
        .trimmed()
    }

    fn recip(&self) -> Option<Series> {
        if self.c.is_empty() {
            return None;
        }
        let mut one = vec![fl(0); self.c.len()];
        one[0] = fl(1);
        Some(Series {
            lo: -self.lo,
            c: t_div(&one, &self.c)?,
        })
    }

    fn powi(&self, n: i64) -> Option<Series> {
        if n.unsigned_abs() > MAX_POWI as u64 {
            return None;
        }
        let base = if n < 0 { self.recip()? } else { self.clone() };
        let mut acc = Series::constant(fl(1));
        for _ in 0..n.unsigned_abs() {
            acc = acc.mul(&base)?;
        }
        Some(acc)
    }

    /// The Taylor coefficients from exponent 0 (needs no negative powers).
    fn taylor(&self) -> Option<Vec<Float>> {
        if self.lo < 0 {
            return None;
        }
        let mut v = vec![fl(0); self.lo as usize];
        v.extend(self.c.iter().cloned());
        Some(v)
    }

    fn from_taylor(c: Vec<Float>) -> Option<Series> {
        Series { lo: 0, c }.trimmed()
    }
}

// Taylor arithmetic on coefficient vectors of one length.

/// The correctly rounded sum of `parts`.
fn total(parts: impl Iterator<Item = Float>) -> Float {
    let parts: Vec<Float> = parts.collect();
    fl(Float::sum(parts.iter()))
}

fn t_mul(a: &[Float], b: &[Float]) -> Vec<Float> {
    (0..a.len().min(b.len()))
        .map(|k| total((0..=k).map(|i| fl(&a[i] * &b[k - i]))))
        .collect()
}

fn t_div(a: &[Float], b: &[Float]) -> Option<Vec<Float>> {
    if b[0].is_zero() {
        return None;
    }
    let n = a.len().min(b.len());
    let mut q: Vec<Float> = Vec::with_capacity(n);
    for k in 0..n {
        let s = total((1..=k).map(|j| fl(&b[j] * &q[k - j])));
        q.push((a[k].clone() - s) / &b[0]);
    }
    Some(q)
}

/// `d/dt` (one coefficient shorter).
fn t_deriv(a: &[Float]) -> Vec<Float> {
    (1..a.len()).map(|k| fl(&a[k] * k as u32)).collect()
}

/// The antiderivative with constant term `c0` (one coefficient longer).
fn t_integ(d: &[Float], c0: Float) -> Vec<Float> {
    let mut v = vec![c0];
    v.extend(d.iter().enumerate().map(|(k, x)| fl(x / (k as u32 + 1))));
    v
}

fn t_exp(a: &[Float]) -> Vec<Float> {
    let mut e = vec![a[0].clone().exp()];
    for k in 1..a.len() {
        e.push(total((1..=k).map(|j| fl(&a[j] * &e[k - j]) * j as u32)) / k as u32);
    }
    e
}

fn t_log(a: &[Float]) -> Option<Vec<Float>> {
    if a[0] <= 0 {
        return None;
    }
    let mut l = vec![a[0].clone().ln()];
    for k in 1..a.len() {
        let s = total((1..k).map(|j| fl(&l[j] * &a[k - j]) * j as u32)) / k as u32;
        l.push((a[k].clone() - s) / &a[0]);
    }
    Some(l)
}

/// `(sin a, cos a)`, or `(sinh a, cosh a)` for `hyperbolic`.
fn t_sincos(a: &[Float], hyperbolic: bool) -> (Vec<Float>, Vec<Float>) {
    let (s0, c0) = if hyperbolic {
        (a[0].clone().sinh(), a[0].clone().cosh())
    } else {
        (a[0].clone().sin(), a[0].clone().cos())
    };
    let (mut s, mut c) = (vec![s0], vec![c0]);
    for k in 1..a.len() {
        let sk = total((1..=k).map(|j| fl(&a[j] * &c[k - j]) * j as u32)) / k as u32;
        let ck = total((1..=k).map(|j| fl(&a[j] * &s[k - j]) * j as u32)) / k as u32;
        s.push(sk);
        c.push(if hyperbolic { ck } else { -ck });
    }
    (s, c)
}

/// `a^q` for a real `q` and `a(0) > 0`.
fn t_powf(a: &[Float], q: &Float) -> Option<Vec<Float>> {
    let l = t_log(a)?;
    Some(t_exp(&l.iter().map(|x| fl(x * q)).collect::<Vec<_>>()))
}

/// `1 + s*a^2` (`s = 1` or `-1`): the radicands of the inverse functions.
fn one_plus_sq(a: &[Float], s: i32) -> Vec<Float> {
    let mut v: Vec<Float> = t_mul(a, a).into_iter().map(|x| x * s).collect();
    v[0] += 1;
    v
}

fn func(f: Func, args: &[Series]) -> Option<Series> {
    if args.len() != 1 {
        return match f {
            Func::Hypot => {
                let s = Series::add(&[args[0].mul(&args[0])?, args[1].mul(&args[1])?])?;
                func(Func::Sqrt, &[s])
            }
            _ => None,
        };
    }
    let a = args[0].taylor()?;
    let n = a.len();
    if n == 0 {
        return None;
    }
    let half = fl(0.5);
    let r = match f {
        Func::Exp => t_exp(&a),
        Func::Expm1 => {
            let mut e = t_exp(&a);
            e[0] = a[0].clone().exp_m1();
            e
        }
        Func::Log => t_log(&a)?,
        Func::Log1p => {
            let mut b = a.clone();
            b[0] += 1;
            let mut l = t_log(&b)?;
            l[0] = a[0].clone().ln_1p();
            l
        }
        Func::Sin => t_sincos(&a, false).0,
        Func::Cos => t_sincos(&a, false).1,
        Func::Tan => {
            let (s, c) = t_sincos(&a, false);
            t_div(&s, &c)?
        }
        Func::Sinh => t_sincos(&a, true).0,
        Func::Cosh => t_sincos(&a, true).1,
        Func::Tanh => {
            let (s, c) = t_sincos(&a, true);
            t_div(&s, &c)?
        }
        Func::Sqrt => t_powf(&a, &half)?,
        Func::Cbrt => {
            let third = fl(1) / 3u32;
            if a[0] < 0 {
                let neg: Vec<Float> = a.iter().map(|x| -x.clone()).collect();
                t_powf(&neg, &third)?.into_iter().map(|x| -x).collect()
            } else {
                t_powf(&a, &third)?
            }
        }
        Func::Abs => {
            if a[0].is_zero() {
                return None;
            }
            if a[0] < 0 {
                a.iter().map(|x| -x.clone()).collect()
            } else {
                a
            }
        }
        Func::Atan => {
            let d = t_div(&t_deriv(&a), &one_plus_sq(&a, 1))?;
            t_integ(&d, a[0].clone().atan())
        }
        Func::Asinh => {
            let d = t_div(&t_deriv(&a), &t_powf(&one_plus_sq(&a, 1), &half)?)?;
            t_integ(&d, a[0].clone().asinh())
        }
        Func::Asin | Func::Acos => {
            let root = t_powf(&one_plus_sq(&a, -1), &half)?;
            let d = t_div(&t_deriv(&a), &root)?;
            if f == Func::Asin {
                t_integ(&d, a[0].clone().asin())
            } else {
                let d: Vec<Float> = d.into_iter().map(|x| -x).collect();
                t_integ(&d, a[0].clone().acos())
            }
        }
        Func::Atanh => {
            let d = t_div(&t_deriv(&a), &one_plus_sq(&a, -1))?;
            t_integ(&d, a[0].clone().atanh())
        }
        Func::Erf | Func::Erfc => {
            let sq: Vec<Float> = t_mul(&a, &a).into_iter().map(|x| -x).collect();
            let k = fl(2) / fl(rug::float::Constant::Pi).sqrt();
            let g: Vec<Float> = t_mul(&t_exp(&sq), &t_deriv(&a))
                .into_iter()
                .map(|x| x * &k)
                .collect();
            if f == Func::Erf {
                t_integ(&g, a[0].clone().erf())
            } else {
                let g: Vec<Float> = g.into_iter().map(|x| -x).collect();
                t_integ(&g, a[0].clone().erfc())
            }
        }
        _ => return None,
    };
    // A derivative-based rule is one coefficient shorter before
    // integrating; keep what is known.
    let mut r = r;
    r.truncate(n);
    Series::from_taylor(r)
}

fn constant(node: &Node) -> Option<Float> {
    let r = match node {
        Node::Integer(i) => fl(Float::parse(i.to_string()).ok()?),
        Node::Rational(q) => {
            fl(Float::parse(q.numer().to_string()).ok()?)
                / fl(Float::parse(q.denom().to_string()).ok()?)
        }
        Node::Float(b) => fl(f64::from_bits(*b)),
        _ => return None,
    };
    r.is_finite().then_some(r)
}

/// The Laurent series of `expr` in `var` around `center` (in `1/var` at
/// infinity), or `None` when some subterm has no usable expansion.
fn expand(pool: &ExprPool, expr: ExprId, var: ExprId, center: Center) -> Option<Series> {
    let v = pool.view();
    let mut val: HashMap<ExprId, Series> = HashMap::new();
    let order = v.reachable(&[expr]);
    if order.len() > MAX_NODES {
        return None;
    }
    for id in order {
        let node = v.node(id);
        let s = if let Some(k) = constant(node) {
            if k.is_zero() {
                Series {
                    lo: ORDER,
                    c: Vec::new(),
                }
            } else {
                Series::constant(k)
            }
        } else {
            let kid = |e: &ExprId| val.get(e);
            match node {
                Node::Symbol(_) if id == var => Series::var(match center {
                    Center::Zero => 1,
                    Center::Infinity => -1,
                }),
                Node::Add(t) => {
                    let parts: Option<Vec<Series>> = t.iter().map(|e| kid(e).cloned()).collect();
                    Series::add(&parts?)?
                }
                Node::Mul(f) => {
                    let mut acc = Series::constant(fl(1));
                    for e in f.iter() {
                        acc = acc.mul(kid(e)?)?;
                    }
                    acc
                }
                Node::Pow([b, e]) => {
                    let base = kid(b)?;
                    match v.node(*e) {
                        Node::Integer(i) => base.powi(i64::try_from(i).ok()?)?,
                        other => {
                            let q = constant(other)?;
                            // A real power needs a positive constant term.
                            if base.lo != 0 {
                                return None;
                            }
                            Series::from_taylor(t_powf(&base.taylor()?, &q)?)?
                        }
                    }
                }
                Node::Func(f, args) => {
                    let parts: Option<Vec<Series>> = args.iter().map(|e| kid(e).cloned()).collect();
                    func(*f, &parts?)?
                }
                _ => return None,
            }
        };
        val.insert(id, s);
    }
    val.remove(&expr)
}

/// Truncations of the series of `expr` (one free variable `var`) around
/// `center`, as pool terms, each used only where it is provably close:
/// `where(|var| < r, series, expr)` around 0, `where(|var| > R, series,
/// expr)` at infinity. The first 2, 3, 4, 6, 9 and 12 nonzero terms are
/// offered (as many as are known with three more known terms behind
/// them), in Horner form in `t^g` (`g` the gcd of the exponent gaps, so
/// odd and even series step by `t^2`) times the leading power.
///
/// The radius `r` is where the next three known terms are each below
/// `2^-56` of the leading one. The guard matters more than it seems:
/// samples uniform over the bit patterns hardly ever land in `[1e-3, 1e3]`,
/// so a bare truncation (`2/x^3` for `1/(x+1) - 2/x + 1/(x-1)`) looks exact
/// on them while being wrong by 10% at `x = 3`.
pub(crate) fn candidates(
    pool: &ExprPool,
    expr: ExprId,
    var: ExprId,
    center: Center,
) -> Vec<ExprId> {
    let Some(s) = expand(pool, expr, var, center) else {
        return Vec::new();
    };
    let terms: Vec<(i32, f64, Float)> =
        s.c.iter()
            .enumerate()
            .filter(|(_, c)| !c.is_zero())
            .map(|(i, c)| (s.lo + i as i32, c.to_f64(), c.clone()))
            .take_while(|(_, c, _)| c.is_finite() && *c != 0.0)
            .collect();
    let mut out = Vec::new();
    for &m in &LENGTHS {
        if m + LOOKAHEAD > terms.len() {
            break;
        }
        let Some(r) = radius(&terms[0], &terms[m..m + LOOKAHEAD]) else {
            continue;
        };
        let kept: Vec<(i32, f64)> = terms[..m].iter().map(|(e, c, _)| (*e, *c)).collect();
        if let Some(e) = guarded(pool, var, center, &kept, r, expr)
            && !out.contains(&e)
        {
            out.push(e);
        }
    }
    out
}

/// Known terms checked beyond a truncation.
const LOOKAHEAD: usize = 3;

/// The largest `|t|` (a short decimal, rounded down) at which each term of
/// `next` is below `2^-56` of `lead`.
fn radius(lead: &(i32, f64, Float), next: &[(i32, f64, Float)]) -> Option<f64> {
    let mut r = f64::INFINITY;
    for (e, _, c) in next {
        let gap = e - lead.0;
        if gap <= 0 {
            return None;
        }
        // |c| t^gap <= 2^-56 |lead|  <=>  t <= (2^-56 |lead/c|)^(1/gap)
        let ratio = (fl(&lead.2 / c).abs() >> 56u32).to_f64();
        r = r.min(ratio.powf(1.0 / f64::from(gap)));
    }
    if !(r.is_finite() && r > 0.0) {
        return None;
    }
    // Two significant digits, rounded down (and checked: the guard must
    // not reach beyond the radius).
    let k = 10f64.powi(r.log10().floor() as i32 - 1);
    let short = (r / k).floor() * k;
    Some(if short <= r && short > 0.0 { short } else { r })
}

/// `where(|var| < r, poly, fallback)` at 0, `where(|var| > 1/r, poly,
/// fallback)` at infinity (`1/r` rounded up to two digits).
fn guarded(
    pool: &ExprPool,
    var: ExprId,
    center: Center,
    terms: &[(i32, f64)],
    r: f64,
    fallback: ExprId,
) -> Option<ExprId> {
    let poly = polynomial(pool, var, center, terms)?;
    let mag = pool.func(Func::Abs, &[var]).ok()?;
    let cond = match center {
        Center::Zero => pool.func(Func::Lt, &[mag, pool.float(r).ok()?]).ok()?,
        Center::Infinity => {
            let big = 1.0 / r;
            let k = 10f64.powi(big.log10().floor() as i32 - 1);
            let mut short = (big / k).ceil() * k;
            if short < big || !short.is_finite() {
                short = big;
            }
            pool.func(Func::Gt, &[mag, pool.float(short).ok()?]).ok()?
        }
    };
    pool.select(cond, poly, fallback).ok()
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

/// `sum c t^e` over `terms` (ascending exponents) in Horner form.
fn polynomial(
    pool: &ExprPool,
    var: ExprId,
    center: Center,
    terms: &[(i32, f64)],
) -> Option<ExprId> {
    let t = match center {
        Center::Zero => var,
        Center::Infinity => pool.pow(var, pool.integer(-1).ok()?).ok()?,
    };
    let e0 = terms.first()?.0;
    let g = terms.iter().fold(0, |g, (e, _)| gcd(g, e - e0)).max(1);
    let power = |k: i32| -> Option<ExprId> {
        match k {
            0 => None,
            1 => Some(t),
            _ => pool.pow(t, pool.integer(k).ok()?).ok(),
        }
    };
    let z = power(g)?;
    let (last_e, last_c) = *terms.last()?;
    let mut acc = pool.float(last_c).ok()?;
    let mut prev = last_e;
    for &(e, c) in terms[..terms.len() - 1].iter().rev() {
        let step = (prev - e) / g;
        let zk = if step == 1 {
            z
        } else {
            pool.pow(z, pool.integer(step).ok()?).ok()?
        };
        let prod = pool.mul(&[zk, acc]).ok()?;
        acc = pool.add(&[pool.float(c).ok()?, prod]).ok()?;
        prev = e;
    }
    match power(e0) {
        Some(p) => pool.mul(&[p, acc]).ok(),
        None if e0 == 0 => Some(acc),
        // A leading power other than 0 or 1 that `power` could not build.
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coefs(pool: &ExprPool, e: ExprId, x: ExprId, c: Center) -> (i32, Vec<f64>) {
        let s = expand(pool, e, x, c).expect("expands");
        (s.lo, s.c.iter().take(6).map(Float::to_f64).collect())
    }

    #[test]
    fn x_minus_sin_starts_at_the_cube() {
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let e = p.sub(x, p.func(Func::Sin, &[x]).unwrap()).unwrap();
        let (lo, c) = coefs(&p, e, x, Center::Zero);
        assert_eq!(lo, 3);
        assert_eq!(c[0], 1.0 / 6.0);
        assert_eq!(c[1], 0.0);
        assert_eq!(c[2], -1.0 / 120.0);
    }

    #[test]
    fn inverse_minus_cotangent_cancels_the_pole() {
        // 1/x - 1/tan(x) = x/3 + x^3/45 + 2x^5/945 + ...
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let one = p.integer(1).unwrap();
        let tan = p.func(Func::Tan, &[x]).unwrap();
        let e = p
            .sub(p.div(one, x).unwrap(), p.div(one, tan).unwrap())
            .unwrap();
        let (lo, c) = coefs(&p, e, x, Center::Zero);
        assert_eq!(lo, 1);
        assert!((c[0] - 1.0 / 3.0).abs() < 1e-16);
        assert!((c[2] - 1.0 / 45.0).abs() < 1e-17);
        assert!((c[4] - 2.0 / 945.0).abs() < 1e-18);
    }

    /// `1/(x+1) - 2/x + 1/(x-1)` (= 2/x^3 + 2/x^5 + ...) and its `x`.
    fn three_fractions(p: &ExprPool) -> (ExprId, ExprId) {
        let x = p.symbol("x").unwrap();
        let one = p.integer(1).unwrap();
        let two = p.integer(2).unwrap();
        let a = p.div(one, p.add(&[x, one]).unwrap()).unwrap();
        let b = p.div(two, x).unwrap();
        let c = p.div(one, p.sub(x, one).unwrap()).unwrap();
        (x, p.add(&[a, p.neg(b).unwrap(), c]).unwrap())
    }

    #[test]
    fn three_fractions_at_infinity() {
        let p = ExprPool::new();
        let (x, e) = three_fractions(&p);
        let (lo, c) = coefs(&p, e, x, Center::Infinity);
        assert_eq!(lo, 3);
        assert_eq!(c[..3], [2.0, 0.0, 2.0]);
    }

    #[test]
    fn truncations_are_used_only_within_their_radius() {
        use alkahest_interp::Interpreter;
        use alkahest_tape::Evaluator;
        let p = ExprPool::new();
        let (x, e) = three_fractions(&p);
        let written = Interpreter::new(&alkahest_tape::lower(&p, e, &[x]).unwrap());
        let cands = candidates(&p, e, x, Center::Infinity);
        assert!(cands.len() >= 3, "{}", cands.len());
        for k in cands {
            let f = Interpreter::new(&alkahest_tape::lower(&p, k, &[x]).unwrap());
            // Near the middle the written form is taken, bit for bit.
            for v in [3.0, -3.0, 1.5, 0.5] {
                assert_eq!(f.eval_scalar(&[v]), written.eval_scalar(&[v]), "{v}");
            }
            // Everywhere else at least as accurate as written, within a few
            // ulps of 2/(x (x-1) (x+1)) (no cancellation in that form).
            let mut v = 1.25f64;
            while v < 1e100 {
                for x in [v, -v] {
                    let truth = 2.0 / x / (x - 1.0) / (x + 1.0);
                    let err = |y: f64| ((y - truth) / truth).abs();
                    let (got, w) = (f.eval_scalar(&[x]), written.eval_scalar(&[x]));
                    assert!(
                        err(got) <= err(w).max(8.0 * f64::EPSILON),
                        "{x}: {got} vs {truth}"
                    );
                }
                v *= 1.7;
            }
        }
    }

    #[test]
    fn no_expansion_at_a_singular_point() {
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let e = p.func(Func::Log, &[x]).unwrap();
        assert!(expand(&p, e, x, Center::Zero).is_none());
        assert!(candidates(&p, e, x, Center::Zero).is_empty());
        let s = p.func(Func::Sqrt, &[x]).unwrap();
        assert!(expand(&p, s, x, Center::Zero).is_none());
        assert!(expand(&p, p.func(Func::Exp, &[x]).unwrap(), x, Center::Infinity).is_none());
    }
}
