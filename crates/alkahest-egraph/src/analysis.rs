//! E-class facts used by rule guards and by the stability cost: exact
//! constant folding, a conservative real interval, "provably nonzero" and
//! "total" (defined for every finite real input).
//!
//! Every fact is a property of the *real* value of the class, sound for all
//! inputs inside the declared sample ranges ([`crate::Options::with_range`]);
//! symbols without a range range over all reals.
//!
//! Conditions (comparisons, `and`/`or`/`not`) are valued as their truth
//! value, 1 or 0, exactly as they are lowered: their interval is `[0, 1]`,
//! `[1, 1]` when the condition provably holds and `[0, 0]` when it provably
//! fails, and they never get a `constant` (folding a condition into a
//! number leaf would merge a condition class with a number class). A truth
//! value is only claimed for a *total* condition (every operand defined),
//! decided from strictly separated intervals (widened outwards for
//! rounding, so they bound the float values of the same terms too), or from
//! the same class on both sides. `where(c, a, b)` takes the facts of the
//! branch that `c` provably selects, else the hull of both branches.
//!
//! Because every rule keeps the domain of definition (see the crate
//! README), all members of a class share one value and one domain, so
//! facts from any member hold for the class and merging intersects
//! intervals and ORs flags.

use std::sync::Arc;

use alkahest_tape::UnaryFn;
use egg::{Analysis, DidMerge, EGraph, Id, Symbol};
use hashbrown::HashMap;
use num_rational::BigRational;
use num_traits::{Signed, ToPrimitive, Zero};

use crate::lang::{Const, Math};

/// The e-graph type of this crate.
pub type MathGraph = EGraph<Math, MathAnalysis>;

/// What is known about an e-class.
///
/// For a condition class (a comparison or `and`/`or`/`not`) the value is
/// its truth value, 1 or 0: `lo >= 1` means it provably holds, `hi <= 0`
/// that it provably fails (claimed only when `total`), and `constant` is
/// always `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// The exact value, when the class folds to an exact constant (or is a
    /// float constant leaf).
    pub constant: Option<Const>,
    /// Lower bound of the real value (closed; `-inf` when unknown).
    pub lo: f64,
    /// Upper bound of the real value (closed; `+inf` when unknown).
    pub hi: f64,
    /// The real value is never zero where defined.
    pub nonzero: bool,
    /// Defined (a finite real) for every finite real input in range: no
    /// division by a possible zero, no log/sqrt/asin outside its domain.
    pub total: bool,
}

impl Facts {
    fn unknown(total: bool) -> Facts {
        Facts {
            constant: None,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            nonzero: false,
            total,
        }
    }

    fn range(lo: f64, hi: f64, nonzero: bool, total: bool) -> Facts {
        let lo = if lo.is_nan() { f64::NEG_INFINITY } else { lo };
        let hi = if hi.is_nan() { f64::INFINITY } else { hi };
        Facts {
            constant: None,
            lo,
            hi,
            nonzero: nonzero || lo > 0.0 || hi < 0.0,
            total,
        }
    }

    /// Provably `> 0`.
    pub fn is_pos(&self) -> bool {
        self.lo > 0.0 || (self.lo >= 0.0 && self.nonzero)
    }

    /// Provably `< 0`.
    pub fn is_neg(&self) -> bool {
        self.hi < 0.0 || (self.hi <= 0.0 && self.nonzero)
    }

    /// Provably `>= 0`.
    pub fn is_nonneg(&self) -> bool {
        self.lo >= 0.0
    }

    /// Provably `<= 0`.
    pub fn is_nonpos(&self) -> bool {
        self.hi <= 0.0
    }

    /// Provably `!= 0`.
    pub fn is_nonzero(&self) -> bool {
        self.nonzero || self.lo > 0.0 || self.hi < 0.0
    }
}

/// The analysis: facts per class, with per-symbol sample ranges as the
/// declared input domain.
#[derive(Default, Debug, Clone)]
pub struct MathAnalysis {
    /// Declared ranges `[lo, hi]` of input symbols.
    pub ranges: HashMap<Symbol, (f64, f64)>,
}

/// Widen downwards by `k` ulps (libm results may be off by about one ulp).
/// A `+0.0` bound stays: IEEE zero results carry the sign of the true value
/// (sums that round to zero are exact; products and our functions keep the
/// sign), so a `+0.0` lower bound is still a true lower bound.
fn down(x: f64, k: u32) -> f64 {
    let mut x = x;
    if x.is_nan() {
        return f64::NEG_INFINITY;
    }
    if x == 0.0 && x.is_sign_positive() {
        return x;
    }
    for _ in 0..k {
        x = x.next_down();
    }
    x
}

fn up(x: f64, k: u32) -> f64 {
    let mut x = x;
    if x.is_nan() {
        return f64::INFINITY;
    }
    if x == 0.0 && x.is_sign_negative() {
        return x;
    }
    for _ in 0..k {
        x = x.next_up();
    }
    x
}

/// An increasing function on `[lo, hi]`, widened by two ulps each side.
fn mono_up(f: impl Fn(f64) -> f64, a: &Facts, total: bool) -> Facts {
    Facts::range(down(f(a.lo), 2), up(f(a.hi), 2), false, total)
}

/// A libm function as the interpreter computes it (glibc), and how many
/// ulps to widen its results by: its documented error bound plus two.
fn libm(f: UnaryFn) -> (impl Fn(f64) -> f64, u32) {
    (move |x| f.apply(x), u32::from(f.info().ulps) + 2)
}

/// An increasing libm function on `[lo, hi]`, widened by its error bound.
fn libm_up(f: UnaryFn, a: &Facts, total: bool) -> Facts {
    let (g, k) = libm(f);
    Facts::range(down(g(a.lo), k), up(g(a.hi), k), false, total)
}

/// A decreasing libm function on `[lo, hi]`, widened by its error bound.
fn libm_down(f: UnaryFn, a: &Facts, total: bool) -> Facts {
    let (g, k) = libm(f);
    Facts::range(down(g(a.hi), k), up(g(a.lo), k), false, total)
}

/// Largest magnitude in the interval.
fn mag(a: &Facts) -> f64 {
    a.hi.abs().max(a.lo.abs())
}

/// `[lo, hi]` of `|a|`.
fn abs_i(a: &Facts) -> (f64, f64) {
    if a.lo >= 0.0 {
        (a.lo, a.hi)
    } else if a.hi <= 0.0 {
        (-a.hi, -a.lo)
    } else {
        (0.0, mag(a))
    }
}

/// Where `Gamma` is smallest on the positive reals (about 1.4616), bracketed:
/// it decreases below the first bound and increases above the second.
const GAMMA_MIN_AT: (f64, f64) = (1.4616, 1.4617);
/// Below the minimum of `Gamma` on the positive reals (0.885603...).
const GAMMA_MIN: f64 = 0.8856;
/// Below the minimum of `log|Gamma|` on the positive reals (-0.1214862...).
const LGAMMA_MIN: f64 = -0.1215;

/// `Gamma` or `log|Gamma|` on an interval of positive reals.
fn gamma_facts(f: UnaryFn, a: &Facts, floor: f64) -> Facts {
    let total = a.total && a.lo > 0.0;
    if a.lo <= 0.0 {
        return Facts::unknown(false);
    }
    if a.lo >= GAMMA_MIN_AT.1 {
        libm_up(f, a, total)
    } else if a.hi <= GAMMA_MIN_AT.0 {
        libm_down(f, a, total)
    } else {
        let (g, k) = libm(f);
        Facts::range(floor, up(g(a.lo).max(g(a.hi)), k), false, total)
    }
}

/// Whether a condition class provably holds (`Some(true)`) or provably
/// fails (`Some(false)`); `None` when unknown or not total.
pub(crate) fn truth(c: &Facts) -> Option<bool> {
    if !c.total {
        None
    } else if c.lo >= 1.0 {
        Some(true)
    } else if c.hi <= 0.0 {
        Some(false)
    } else {
        None
    }
}

/// Facts of a condition: its truth value as 1 or 0.
fn condition(t: Option<bool>, total: bool) -> Facts {
    let t = t.filter(|_| total);
    let (lo, hi) = match t {
        Some(true) => (1.0, 1.0),
        Some(false) => (0.0, 0.0),
        None => (0.0, 1.0),
    };
    Facts::range(lo, hi, t == Some(true), total)
}

/// The truth of `a < b` (`strict`) or `a <= b` from intervals.
fn less(a: &Facts, b: &Facts, strict: bool) -> Option<bool> {
    if (strict && a.hi < b.lo) || (!strict && a.hi <= b.lo) {
        Some(true)
    } else if (strict && a.lo >= b.hi) || (!strict && a.lo > b.hi) {
        Some(false)
    } else {
        None
    }
}

/// For sign-preserving functions (`f(x)` has the sign of `x`): keep the
/// argument's sign bounds that outward widening would lose.
fn keep_sign(mut r: Facts, arg: &Facts) -> Facts {
    if arg.lo >= 0.0 {
        r.lo = r.lo.max(0.0);
    }
    if arg.hi <= 0.0 {
        r.hi = r.hi.min(0.0);
    }
    r.nonzero = arg.is_nonzero();
    r
}

fn add_i(a: &Facts, b: &Facts) -> (f64, f64) {
    (down(a.lo + b.lo, 1), up(a.hi + b.hi, 1))
}

fn mul_i(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let p = [a.0 * b.0, a.0 * b.1, a.1 * b.0, a.1 * b.1];
    if p.iter().any(|x| x.is_nan()) {
        return (f64::NEG_INFINITY, f64::INFINITY);
    }
    // Ordered with -0.0 below +0.0: a product that underflowed to +0.0 may
    // be positive, one that underflowed to -0.0 negative, so the upper
    // bound is +0.0 (widened to the smallest subnormal) if any product is
    // +0.0, and the lower bound -0.0 if any is -0.0. `f64::max` may pick
    // either zero and claim `<= -0.0` for a positive product.
    let lo = p.iter().copied().fold(
        f64::INFINITY,
        |a, b| {
            if b.total_cmp(&a).is_lt() { b } else { a }
        },
    );
    let hi = p.iter().copied().fold(f64::NEG_INFINITY, |a, b| {
        if b.total_cmp(&a).is_gt() { b } else { a }
    });
    (down(lo, 1), up(hi, 1))
}

fn recip_i(b: &Facts) -> Option<(f64, f64)> {
    if b.lo > 0.0 || b.hi < 0.0 {
        Some((down(1.0 / b.hi, 1), up(1.0 / b.lo, 1)))
    } else {
        None
    }
}

/// An integer-valued exponent (exact, or a float such as `9.0`, which
/// `pow` treats as the integer: a negative base gives a real, signed
/// result) as `(n, n is odd)`, `n` saturated to the `i64` range.
fn integer_exponent(c: &Const) -> Option<(i64, bool)> {
    match c {
        Const::Exact(e) if e.is_integer() => {
            let n = e.to_integer();
            let odd = n.bits() > 0 && n.magnitude().bit(0);
            let n = n
                .to_i64()
                .unwrap_or(if n.is_negative() { i64::MIN } else { i64::MAX });
            Some((n, odd))
        }
        Const::Float(b) => {
            let v = f64::from_bits(*b);
            if !v.is_finite() || v.fract() != 0.0 {
                return None;
            }
            // Floats from 2^53 up are even; below, the cast is exact.
            let odd = v.abs() < 9_007_199_254_740_992.0 && (v as i64) % 2 != 0;
            Some((v.clamp(i64::MIN as f64, i64::MAX as f64) as i64, odd))
        }
        Const::Exact(_) => None,
    }
}

/// `|x|**n` bounds for an integer `n > 0` over the interval of `a`.
fn powi_i(a: &Facts, n: u32) -> (f64, f64) {
    let ni = n.min(i32::MAX as u32) as i32;
    if n % 2 == 1 {
        (down(a.lo.powi(ni), 2), up(a.hi.powi(ni), 2))
    } else {
        let (mlo, mhi) = if a.lo >= 0.0 {
            (a.lo, a.hi)
        } else if a.hi <= 0.0 {
            (-a.hi, -a.lo)
        } else {
            (0.0, a.hi.max(-a.lo))
        };
        (down(mlo.powi(ni), 2).max(0.0), up(mhi.powi(ni), 2))
    }
}

fn const_facts(c: &Const) -> Facts {
    let v = c.to_f64();
    // Float constants, and exact ones that a double represents (integers
    // up to 2^53, 1/2, ...), are exactly `v`; others are within an ulp.
    let is_v = match c {
        Const::Float(_) => true,
        Const::Exact(r) => BigRational::from_float(v).is_some_and(|f| f == **r),
    };
    let (lo, hi) = if v == 0.0 || !v.is_finite() || is_v {
        (v, v)
    } else if v > 0.0 {
        (down(v, 1).max(0.0), up(v, 1))
    } else {
        (down(v, 1), up(v, 1).min(0.0))
    };
    let mut f = Facts::range(lo, hi, c.is_nonzero(), !v.is_nan());
    f.constant = Some(c.clone());
    f
}

fn fold(node: &Math, c: &dyn Fn(Id) -> Option<BigRational>) -> Option<BigRational> {
    Some(match node {
        Math::Num(Const::Exact(r)) => BigRational::clone(r),
        Math::Add([a, b]) => c(*a)? + c(*b)?,
        Math::Sub([a, b]) => c(*a)? - c(*b)?,
        Math::Mul([a, b]) => c(*a)? * c(*b)?,
        Math::Div([a, b]) => {
            let d = c(*b)?;
            if d.is_zero() {
                return None;
            }
            c(*a)? / d
        }
        Math::Neg(a) => -c(*a)?,
        Math::Pow([a, b]) => {
            let base = Const::rational(c(*a)?).to_number();
            let e = Const::rational(c(*b)?).to_number();
            match Const::from_number(&base.pow(&e)?) {
                Const::Exact(r) => Arc::unwrap_or_clone(r),
                Const::Float(_) => return None,
            }
        }
        Math::Abs(a) => c(*a)?.abs(),
        Math::Floor(a) => c(*a)?.floor(),
        Math::Ceil(a) => c(*a)?.ceil(),
        Math::Sign(a) => c(*a)?.signum(),
        Math::Copysign([a, b]) => {
            let m = c(*a)?.abs();
            if c(*b)?.is_negative() { -m } else { m }
        }
        Math::Fmod([a, b]) | Math::Mod([a, b]) => {
            let (x, d) = (c(*a)?, c(*b)?);
            if d.is_zero() {
                return None;
            }
            let q = &x / &d;
            let q = if matches!(node, Math::Fmod(_)) {
                q.trunc()
            } else {
                q.floor()
            };
            x - d * q
        }
        _ => return None,
    })
}

/// Facts of one node from its children's facts.
pub(crate) fn node_facts(
    node: &Math,
    f: &dyn Fn(Id) -> Facts,
    ranges: &HashMap<Symbol, (f64, f64)>,
) -> Facts {
    use std::f64::consts::{FRAC_PI_2, PI};
    let all = |ids: &[Id]| ids.iter().all(|&i| f(i).total);
    let mut out = match node {
        Math::Num(c) => return const_facts(c),
        Math::Sym(s) => match ranges.get(s) {
            Some(&(lo, hi)) => Facts::range(lo, hi, false, true),
            None => Facts::unknown(true),
        },
        Math::Add([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let (lo, hi) = add_i(&fa, &fb);
            let nz = (fa.is_pos() && fb.is_nonneg())
                || (fa.is_nonneg() && fb.is_pos())
                || (fa.is_neg() && fb.is_nonpos())
                || (fa.is_nonpos() && fb.is_neg());
            Facts::range(lo, hi, nz, fa.total && fb.total)
        }
        Math::Sub([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let nb = Facts::range(-fb.hi, -fb.lo, fb.nonzero, fb.total);
            let (lo, hi) = add_i(&fa, &nb);
            let nz = (fa.is_pos() && nb.is_nonneg())
                || (fa.is_nonneg() && nb.is_pos())
                || (fa.is_neg() && nb.is_nonpos())
                || (fa.is_nonpos() && nb.is_neg());
            Facts::range(lo, hi, nz, fa.total && fb.total)
        }
        Math::Neg(a) => {
            let fa = f(*a);
            Facts::range(-fa.hi, -fa.lo, fa.is_nonzero(), fa.total)
        }
        Math::Mul([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let (lo, hi) = mul_i((fa.lo, fa.hi), (fb.lo, fb.hi));
            Facts::range(
                lo,
                hi,
                fa.is_nonzero() && fb.is_nonzero(),
                fa.total && fb.total,
            )
        }
        Math::Div([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let total = fa.total && fb.total && fb.is_nonzero();
            match recip_i(&fb) {
                Some(r) => {
                    let (lo, hi) = mul_i((fa.lo, fa.hi), r);
                    Facts::range(lo, hi, fa.is_nonzero(), total)
                }
                None => {
                    let mut u = Facts::unknown(total);
                    u.nonzero = fa.is_nonzero();
                    u
                }
            }
        }
        Math::Pow([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            match (
                fb.constant.as_ref().and_then(integer_exponent),
                &fb.constant,
            ) {
                (Some((n, odd)), _) => {
                    match u32::try_from(n.unsigned_abs()) {
                        // |n| >= 2^32: only the sign is worth knowing.
                        Err(_) => {
                            let total = fa.total && (n > 0 || fa.is_nonzero());
                            let mut u = Facts::unknown(total);
                            u.nonzero = fa.is_nonzero();
                            if !odd {
                                u.lo = 0.0;
                            }
                            u
                        }
                        Ok(0) => Facts::range(1.0, 1.0, true, fa.total && fa.is_nonzero()),
                        Ok(m) => {
                            let (lo, hi) = powi_i(&fa, m);
                            let p = Facts::range(lo, hi, fa.is_nonzero(), fa.total);
                            if n > 0 {
                                p
                            } else {
                                let total = fa.total && fa.is_nonzero();
                                match recip_i(&p) {
                                    Some((lo, hi)) => Facts::range(lo, hi, true, total),
                                    None => {
                                        let mut u = Facts::unknown(total);
                                        u.nonzero = true;
                                        if m % 2 == 0 {
                                            u.lo = 0.0;
                                        }
                                        u
                                    }
                                }
                            }
                        }
                    }
                }
                (None, Some(c)) => {
                    // Non-integer exponent: real only for a base >= 0.
                    let e = c.to_f64();
                    let total = fa.total && (fa.is_pos() || (fa.is_nonneg() && e > 0.0));
                    if fa.lo > 0.0 && e.is_finite() {
                        let (x, y) = (fa.lo.powf(e), fa.hi.powf(e));
                        Facts::range(down(x.min(y), 2), up(x.max(y), 2), true, total)
                    } else {
                        Facts::range(0.0, f64::INFINITY, fa.is_pos(), total)
                    }
                }
                // A variable exponent: a negative base gives a real result
                // where the exponent is an integer, of either sign.
                (None, None) if fa.is_nonneg() => Facts::range(
                    0.0,
                    f64::INFINITY,
                    fa.is_pos(),
                    fa.total && fb.total && fa.is_pos(),
                ),
                (None, None) => Facts::unknown(false),
            }
        }
        Math::Sin(a) | Math::Cos(a) => Facts::range(-1.0, 1.0, false, f(*a).total),
        Math::Tan(_) => Facts::unknown(false),
        Math::Asin(a) => {
            let fa = f(*a);
            let total = fa.total && fa.lo >= -1.0 && fa.hi <= 1.0;
            let mut r = mono_up(|x| x.clamp(-1.0, 1.0).asin(), &fa, total);
            r.lo = r.lo.max(-FRAC_PI_2 - 1e-12);
            r.hi = r.hi.min(FRAC_PI_2 + 1e-12);
            keep_sign(r, &fa)
        }
        Math::Acos(a) => {
            let fa = f(*a);
            Facts::range(
                0.0,
                PI + 1e-12,
                false,
                fa.total && fa.lo >= -1.0 && fa.hi <= 1.0,
            )
        }
        Math::Atan(a) => {
            let fa = f(*a);
            keep_sign(mono_up(f64::atan, &fa, fa.total), &fa)
        }
        Math::Atan2([a, b]) => Facts::range(-PI - 1e-12, PI + 1e-12, false, all(&[*a, *b])),
        Math::Sinh(a) | Math::Tanh(a) | Math::Expm1(a) => {
            let fa = f(*a);
            let g: fn(f64) -> f64 = match node {
                Math::Sinh(_) => f64::sinh,
                Math::Tanh(_) => f64::tanh,
                _ => f64::exp_m1,
            };
            let mut r = mono_up(g, &fa, fa.total);
            if matches!(node, Math::Tanh(_)) {
                r.lo = r.lo.max(-1.0);
                r.hi = r.hi.min(1.0);
            }
            keep_sign(r, &fa)
        }
        Math::Cosh(a) => {
            let fa = f(*a);
            let m = fa.hi.abs().max(fa.lo.abs());
            Facts::range(1.0, up(m.cosh(), 2), true, fa.total)
        }
        Math::Exp(a) => {
            let fa = f(*a);
            let mut r = mono_up(f64::exp, &fa, fa.total);
            r.lo = r.lo.max(0.0);
            r.nonzero = true;
            r
        }
        Math::Log(a) => {
            let fa = f(*a);
            let mut r = mono_up(|x| x.max(0.0).ln(), &fa, fa.total && fa.is_pos());
            if fa.lo >= 1.0 {
                r.lo = r.lo.max(0.0);
            }
            if fa.lo > 1.0 {
                r.nonzero = true;
            }
            r
        }
        Math::Log1p(a) => {
            let fa = f(*a);
            let r = mono_up(|x| x.max(-1.0).ln_1p(), &fa, fa.total && fa.lo > -1.0);
            keep_sign(r, &fa)
        }
        Math::Sqrt(a) => {
            let fa = f(*a);
            let mut r = mono_up(|x| x.max(0.0).sqrt(), &fa, fa.total && fa.is_nonneg());
            r.lo = r.lo.max(0.0);
            r.nonzero = fa.is_pos();
            r
        }
        Math::Abs(a) => {
            let fa = f(*a);
            let (lo, hi) = abs_i(&fa);
            Facts::range(lo, hi, fa.is_nonzero(), fa.total)
        }
        Math::Hypot([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let m = |x: &Facts| x.hi.abs().max(x.lo.abs());
            Facts::range(
                0.0,
                up(m(&fa).hypot(m(&fb)), 2),
                fa.is_nonzero() || fb.is_nonzero(),
                fa.total && fb.total,
            )
        }
        Math::Fma([a, b, c]) => {
            let (fa, fb, fc) = (f(*a), f(*b), f(*c));
            let (lo, hi) = mul_i((fa.lo, fa.hi), (fb.lo, fb.hi));
            let p = Facts::range(lo, hi, false, true);
            let (lo, hi) = add_i(&p, &fc);
            Facts::range(lo, hi, false, fa.total && fb.total && fc.total)
        }
        Math::Min([a, b]) | Math::Max([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let (lo, hi, nz) = if matches!(node, Math::Min(_)) {
                (
                    fa.lo.min(fb.lo),
                    fa.hi.min(fb.hi),
                    (fa.is_neg() || fb.is_neg()) || (fa.is_nonzero() && fb.is_nonzero()),
                )
            } else {
                (
                    fa.lo.max(fb.lo),
                    fa.hi.max(fb.hi),
                    (fa.is_pos() || fb.is_pos()) || (fa.is_nonzero() && fb.is_nonzero()),
                )
            };
            Facts::range(lo, hi, nz, fa.total && fb.total)
        }
        Math::Asinh(a) | Math::Cbrt(a) | Math::Erf(a) => {
            let fa = f(*a);
            let u = match node {
                Math::Asinh(_) => UnaryFn::Asinh,
                Math::Cbrt(_) => UnaryFn::Cbrt,
                _ => UnaryFn::Erf,
            };
            let mut r = libm_up(u, &fa, fa.total);
            if u == UnaryFn::Erf {
                r.lo = r.lo.max(-1.0);
                r.hi = r.hi.min(1.0);
            }
            keep_sign(r, &fa)
        }
        Math::Acosh(a) => {
            let fa = f(*a);
            let total = fa.total && fa.lo >= 1.0;
            let (g, k) = libm(UnaryFn::Acosh);
            let (lo, hi) = (g(fa.lo.max(1.0)), g(fa.hi.max(1.0)));
            Facts::range(down(lo, k).max(0.0), up(hi, k), fa.lo > 1.0, total)
        }
        Math::Atanh(a) => {
            let fa = f(*a);
            let total = fa.total && fa.lo > -1.0 && fa.hi < 1.0;
            let (g, k) = libm(UnaryFn::Atanh);
            let (lo, hi) = (g(fa.lo.clamp(-1.0, 1.0)), g(fa.hi.clamp(-1.0, 1.0)));
            keep_sign(Facts::range(down(lo, k), up(hi, k), false, total), &fa)
        }
        Math::Exp2(a) => {
            let fa = f(*a);
            let mut r = libm_up(UnaryFn::Exp2, &fa, fa.total);
            r.lo = r.lo.max(0.0);
            r.nonzero = true;
            r
        }
        Math::Log2(a) | Math::Log10(a) => {
            let fa = f(*a);
            let u = if matches!(node, Math::Log2(_)) {
                UnaryFn::Log2
            } else {
                UnaryFn::Log10
            };
            let (g, k) = libm(u);
            let (lo, hi) = (g(fa.lo.max(0.0)), g(fa.hi.max(0.0)));
            let mut r = Facts::range(down(lo, k), up(hi, k), false, fa.total && fa.is_pos());
            if fa.lo >= 1.0 {
                r.lo = r.lo.max(0.0);
            }
            if fa.lo > 1.0 {
                r.nonzero = true;
            }
            r
        }
        Math::Erfc(a) => {
            // Decreasing from 2 to 0, and never 0 over the reals.
            let fa = f(*a);
            let mut r = libm_down(UnaryFn::Erfc, &fa, fa.total);
            r.lo = r.lo.max(0.0);
            r.hi = r.hi.min(2.0);
            r.nonzero = true;
            r
        }
        Math::Gamma(a) => {
            // Total on positive intervals only (poles at 0, -1, -2, ...);
            // never 0 anywhere.
            let mut r = gamma_facts(UnaryFn::Gamma, &f(*a), GAMMA_MIN);
            r.nonzero = true;
            r
        }
        Math::Lgamma(a) => gamma_facts(UnaryFn::Lgamma, &f(*a), LGAMMA_MIN),
        // Total on positive intervals (poles at 0, -1, ...); digamma takes
        // every real value, trigamma is positive (0 only at +inf).
        Math::Digamma(a) => Facts::unknown(f(*a).total && f(*a).is_pos()),
        Math::Trigamma(a) => Facts::range(0.0, f64::INFINITY, false, f(*a).total && f(*a).is_pos()),
        Math::Floor(a) => {
            let fa = f(*a);
            let nz = fa.lo >= 1.0 || fa.hi < 0.0;
            Facts::range(fa.lo.floor(), fa.hi.floor(), nz, fa.total)
        }
        Math::Ceil(a) => {
            let fa = f(*a);
            let nz = fa.lo > 0.0 || fa.hi <= -1.0;
            Facts::range(fa.lo.ceil(), fa.hi.ceil(), nz, fa.total)
        }
        Math::Sign(a) => {
            let fa = f(*a);
            let (lo, hi) = if fa.is_pos() {
                (1.0, 1.0)
            } else if fa.is_neg() {
                (-1.0, -1.0)
            } else if fa.is_nonneg() {
                (0.0, 1.0)
            } else if fa.is_nonpos() {
                (-1.0, 0.0)
            } else {
                (-1.0, 1.0)
            };
            Facts::range(lo, hi, fa.is_nonzero(), fa.total)
        }
        Math::Copysign([a, b]) => {
            // |a| with the sign of b (its sign bit: a zero b counts as
            // either sign).
            let (fa, fb) = (f(*a), f(*b));
            let (mlo, mhi) = abs_i(&fa);
            let (lo, hi) = if fb.is_pos() {
                (mlo, mhi)
            } else if fb.is_neg() {
                (-mhi, -mlo)
            } else {
                (-mhi, mhi)
            };
            Facts::range(lo, hi, fa.is_nonzero(), fa.total && fb.total)
        }
        Math::Fmod([a, b]) => {
            // Sign of the dividend, |fmod(a, b)| <= min(|a|, |b|).
            let (fa, fb) = (f(*a), f(*b));
            let m = mag(&fa).min(mag(&fb));
            let (lo, hi) = if fa.is_nonneg() {
                (0.0, m)
            } else if fa.is_nonpos() {
                (-m, 0.0)
            } else {
                (-m, m)
            };
            Facts::range(lo, hi, false, fa.total && fb.total && fb.is_nonzero())
        }
        Math::Mod([a, b]) => {
            // Sign of the divisor, |mod(a, b)| <= |b|.
            let (fa, fb) = (f(*a), f(*b));
            let m = mag(&fb);
            let (lo, hi) = if fb.is_pos() {
                (0.0, m)
            } else if fb.is_neg() {
                (-m, 0.0)
            } else {
                (-m, m)
            };
            Facts::range(lo, hi, false, fa.total && fb.total && fb.is_nonzero())
        }
        Math::Lt([a, b]) | Math::Le([a, b]) | Math::Gt([a, b]) | Math::Ge([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let total = fa.total && fb.total;
            let t = if a == b {
                Some(matches!(node, Math::Le(_) | Math::Ge(_)))
            } else {
                match node {
                    Math::Lt(_) => less(&fa, &fb, true),
                    Math::Le(_) => less(&fa, &fb, false),
                    Math::Gt(_) => less(&fb, &fa, true),
                    _ => less(&fb, &fa, false),
                }
            };
            return condition(t, total);
        }
        Math::Eq([a, b]) | Math::Ne([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let total = fa.total && fb.total;
            let equal = if a == b {
                Some(true)
            } else if fa.hi < fb.lo || fb.hi < fa.lo {
                Some(false)
            } else {
                None
            };
            let t = equal.map(|e| e == matches!(node, Math::Eq(_)));
            return condition(t, total);
        }
        Math::And([a, b]) | Math::Or([a, b]) => {
            let (fa, fb) = (f(*a), f(*b));
            let total = fa.total && fb.total;
            let t = match (truth(&fa), truth(&fb), matches!(node, Math::And(_))) {
                (Some(x), Some(y), true) => Some(x && y),
                (Some(x), Some(y), false) => Some(x || y),
                (Some(false), _, true) | (_, Some(false), true) => Some(false),
                (Some(true), _, false) | (_, Some(true), false) => Some(true),
                _ => None,
            };
            return condition(t, total);
        }
        Math::Not(a) => {
            let fa = f(*a);
            return condition(truth(&fa).map(|t| !t), fa.total);
        }
        Math::Where([c, a, b]) => {
            let (fc, fa, fb) = (f(*c), f(*a), f(*b));
            // Conditions are never NaN, so `where` is defined wherever its
            // condition and the branch it picks are.
            let pick = match truth(&fc) {
                Some(true) => Some(fa.clone()),
                Some(false) => Some(fb.clone()),
                None if a == b && fc.total => Some(fa.clone()),
                None => None,
            };
            return match pick {
                Some(mut r) => {
                    r.total = r.total && fc.total;
                    r
                }
                None => Facts::range(
                    fa.lo.min(fb.lo),
                    fa.hi.max(fb.hi),
                    fa.is_nonzero() && fb.is_nonzero(),
                    fc.total && fa.total && fb.total,
                ),
            };
        }
    };
    let cf = |id: Id| f(id).constant.and_then(|c| c.exact().cloned());
    if let Some(r) = fold(node, &cf) {
        let c = Const::rational(r);
        let mut k = const_facts(&c);
        k.total = out.total;
        return k;
    }
    if out.lo > out.hi {
        out.lo = f64::NEG_INFINITY;
        out.hi = f64::INFINITY;
    }
    out
}

impl Analysis<Math> for MathAnalysis {
    type Data = Facts;

    fn make(egraph: &mut MathGraph, enode: &Math, _id: Id) -> Facts {
        let get = |i: Id| egraph[i].data.clone();
        node_facts(enode, &get, &egraph.analysis.ranges)
    }

    fn merge(&mut self, a: &mut Facts, b: Facts) -> DidMerge {
        let before = a.clone();
        if a.constant.is_none() {
            a.constant = b.constant.clone();
        }
        let (lo, hi) = (a.lo.max(b.lo), a.hi.min(b.hi));
        if lo <= hi {
            a.lo = lo;
            a.hi = hi;
        }
        a.nonzero |= b.nonzero;
        a.total |= b.total;
        DidMerge(*a != before, *a != b)
    }

    fn modify(egraph: &mut MathGraph, id: Id) {
        if let Some(c) = egraph[id].data.constant.clone() {
            let leaf = egraph.add(Math::Num(c));
            egraph.union(id, leaf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pow` by an integer-valued float (`9.0`) or by a variable exponent
    /// of a possibly negative base can be negative (libm's `pow` treats
    /// integral exponents as integers); both once claimed `[0, inf]`.
    #[test]
    fn powers_of_a_negative_base_keep_their_sign() {
        let ranges = HashMap::new();
        let neg = Facts::range(-3.0, -1.0, true, true);
        let nine = const_facts(&Const::Float(9.0f64.to_bits()));
        let half = const_facts(&Const::Float(0.5f64.to_bits()));
        let unknown = Facts::unknown(true);
        let classes = [neg, nine, half, unknown];
        let get = |i: Id| classes[usize::from(i)].clone();
        let (a, k) = (Id::from(0), |i: usize| Id::from(i));
        let p9 = node_facts(&Math::Pow([a, k(1)]), &get, &ranges);
        assert!(p9.lo <= -27.0 && p9.hi >= -1.0, "{p9:?}");
        let py = node_facts(&Math::Pow([a, k(3)]), &get, &ranges);
        assert!(py.lo == f64::NEG_INFINITY && !py.total, "{py:?}");
        // A non-integer constant exponent: real only for a base >= 0.
        let ph = node_facts(&Math::Pow([a, k(2)]), &get, &ranges);
        assert!(ph.lo >= 0.0 && !ph.total, "{ph:?}");
    }

    /// A product that underflows keeps its sign in the bounds: `-0.0 * t`
    /// and `t * t` (both zero in float) must not give the upper bound
    /// `-0.0` when the product may be positive.
    #[test]
    fn products_that_underflow_keep_a_positive_upper_bound() {
        let t = 1e-200;
        let (lo, hi) = mul_i((-0.0, t), (t, t));
        assert!(lo <= 0.0 && hi > 0.0, "[{lo}, {hi}]");
        let (lo, hi) = mul_i((t, t), (-0.0, t));
        assert!(lo <= 0.0 && hi > 0.0, "[{lo}, {hi}]");
        // Exact zeros of nonpositive products stay provably nonpositive.
        let (_, hi) = mul_i((-1.0, -0.0), (0.0, 1.0));
        assert!(hi <= 0.0, "{hi}");
    }
}
