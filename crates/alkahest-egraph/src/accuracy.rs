//! Measured accuracy, Herbie-style: sample inputs, evaluate in float64
//! through the tape and the reference interpreter, compare with a
//! correctly rounded MPFR reference, and report bits of error
//! `log2(ulps + 1)`.
//!
//! **Sampling** ([`Sampler`]) draws every variable uniformly over the
//! bit patterns of the finite doubles (both signs, every binade equally
//! likely), or of a declared domain `[lo, hi]`, and keeps drawing until it
//! has the requested number of points whose ground truth is a finite
//! double (or a draw budget runs out); dropped points are counted by cause
//! ([`SampleStats`]).
//!
//! **Ground truth** ([`GroundTruth`]) evaluates the pool DAG directly in
//! MPFR at escalating precision: 128 bits, then doubling (or jumping to
//! what an absorbed term needs) up to 8192, until two successive
//! precisions round to the same double. Sums are rounded once (MPFR's
//! correctly rounded sum, so `1 + 1e300 - 1e300` is 1). A sum whose result
//! absorbed a term below its precision window (`sqrt(1e300 + 1)`) does not
//! count as settled and names the precision that would keep the term; a
//! sum that cancels to exactly zero escalates too, and so does
//! `exp`/`cos`/`tanh`/`erf`/`pow` rounded to exactly ±1 (`exp(1e-79)` at
//! 256 bits), to the precision that keeps its distance to ±1 (two
//! precisions would agree on the wrong value downstream). Points that
//! never settle are given up and counted. Constant
//! subterms that the builders leave unfolded (`fmod(2, 1/3)`,
//! `floor(7/2) + 1`) are computed exactly in rationals first, since a jump
//! function of a rounded 1/3 can be off by a whole step. Samples whose
//! intermediates exceed `2^±2200` (far beyond the double range) are
//! dropped too, unless the value is only in a branch of `where` that its
//! condition does not pick. Comparisons are decided in the working
//! precision (two precisions that pick different branches usually
//! disagree on the result, which escalates the sample like any
//! disagreement), conditions are valued 1 or 0, and `where` picks its
//! branch, as the tape does. Samples whose real value is not a finite
//! double (outside the domain, or beyond the float range) are dropped, as
//! Herbie does.

use std::cmp::Ordering;

use alkahest_core::{ExprId, ExprPool, Func, Node};
use alkahest_interp::Interpreter;
use alkahest_tape::Evaluator;
use hashbrown::HashMap;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, ToPrimitive, Zero};
use rug::Float;
use rug::ops::Pow;

use crate::error::{Error, Result};

/// Highest working precision of the reference.
const MAX_PREC: u32 = 8192;
/// Intermediate values beyond `2^±MAX_EXP` drop the sample.
const MAX_EXP: u32 = 2200;

/// Sampled input points, one column per variable.
#[derive(Clone, Debug)]
pub struct Samples {
    /// `columns[v][i]`: variable `v` at point `i`.
    pub columns: Vec<Vec<f64>>,
}

/// Monotone map from doubles to integers: adjacent doubles differ by one.
fn ordinal(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    if b < 0 { i64::MIN - b } else { b }
}

fn from_ordinal(o: i64) -> f64 {
    let b = if o < 0 { i64::MIN - o } else { o };
    f64::from_bits(b as u64)
}

/// splitmix64: a tiny deterministic generator, enough for sampling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The ordinals `[a, b]` of the finite doubles in `r` (all of them for
/// `None`; an infinite bound stands for the largest finite double).
fn span(r: Option<(f64, f64)>, v: usize) -> Result<(i64, i64)> {
    let (lo, hi) = r.unwrap_or((-f64::MAX, f64::MAX));
    if lo.is_nan() || hi.is_nan() || lo > hi || lo == f64::INFINITY || hi == f64::NEG_INFINITY {
        return Err(Error::BadRange {
            var: format!("#{v}"),
            lo,
            hi,
        });
    }
    Ok((ordinal(lo.max(-f64::MAX)), ordinal(hi.min(f64::MAX))))
}

/// A double uniform over the bit patterns of `[a, b]` (ordinals).
fn draw(rng: &mut Rng, (a, b): (i64, i64)) -> f64 {
    let span = (b as i128 - a as i128 + 1) as u128;
    let k = (rng.next() as u128 * span) >> 64;
    from_ordinal((a as i128 + k as i128) as i64)
}

impl Samples {
    /// `n` points; variable `v` is drawn uniformly over the *doubles* of
    /// `ranges[v]` (so every binade is equally likely, as in Herbie), or over
    /// all finite doubles when its range is `None`.
    pub fn new(ranges: &[Option<(f64, f64)>], n: usize, seed: u64) -> Result<Samples> {
        let mut rng = Rng(seed);
        let mut columns = Vec::with_capacity(ranges.len());
        for (v, r) in ranges.iter().enumerate() {
            let s = span(*r, v)?;
            columns.push((0..n).map(|_| draw(&mut rng, s)).collect());
        }
        Ok(Samples { columns })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// True when there are no points (or no variables).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bits of error of `approx` against the correctly rounded `exact`:
/// `log2(ulps + 1)`; 64 when `approx` is NaN.
pub fn ulp_bits(approx: f64, exact: f64) -> f64 {
    if approx.is_nan() || exact.is_nan() {
        return 64.0;
    }
    let d = (ordinal(approx) as i128 - ordinal(exact) as i128).unsigned_abs();
    (d as f64 + 1.0).log2()
}

fn big_float(prec: u32, i: &BigInt) -> Float {
    match i.to_i64() {
        Some(s) => Float::with_val(prec, s),
        None => match Float::parse(i.to_string()) {
            Ok(p) => Float::with_val(prec, p),
            Err(_) => Float::with_val(prec, f64::NAN),
        },
    }
}

/// A truth value as a number (conditions are 1 or 0, as lowered).
fn truth(prec: u32, t: bool) -> Float {
    Float::with_val(prec, u32::from(t))
}

/// `f(args)` in MPFR at the precision of the arguments, for every function
/// but the lazily evaluated `where`, `And` and `Or`. Comparisons follow
/// IEEE: false with a NaN operand, except `Ne`.
fn apply(f: Func, args: &[&Float], prec: u32) -> Float {
    let x = args[0].clone();
    let y = || args[1];
    match f {
        Func::Sin => x.sin(),
        Func::Cos => x.cos(),
        Func::Tan => x.tan(),
        Func::Asin => x.asin(),
        Func::Acos => x.acos(),
        Func::Atan => x.atan(),
        Func::Atan2 => x.atan2(y()),
        Func::Sinh => x.sinh(),
        Func::Cosh => x.cosh(),
        Func::Tanh => x.tanh(),
        Func::Exp => x.exp(),
        Func::Log => x.ln(),
        Func::Sqrt => x.sqrt(),
        Func::Abs => x.abs(),
        Func::Log1p => x.ln_1p(),
        Func::Expm1 => x.exp_m1(),
        Func::Hypot => x.hypot(y()),
        Func::Fma => x.mul_add(y(), args[2]),
        Func::Min | Func::Max => {
            if x.is_nan() || y().is_nan() {
                Float::with_val(prec, f64::NAN)
            } else if f == Func::Min {
                x.min(y())
            } else {
                x.max(y())
            }
        }
        Func::Asinh => x.asinh(),
        Func::Acosh => x.acosh(),
        Func::Atanh => x.atanh(),
        Func::Cbrt => x.cbrt(),
        Func::Exp2 => x.exp2(),
        Func::Log2 => x.log2(),
        Func::Log10 => x.log10(),
        Func::Erf => x.erf(),
        Func::Erfc => x.erfc(),
        Func::Gamma => x.gamma(),
        Func::Lgamma => x.ln_abs_gamma().0,
        Func::Digamma => x.digamma(),
        Func::Trigamma => crate::special::trigamma(&x, prec),
        Func::Floor => x.floor(),
        Func::Ceil => x.ceil(),
        // 1 above zero, -1 below, the argument itself at ±0 and NaN.
        Func::Sign => match x.cmp0() {
            Some(Ordering::Greater) => Float::with_val(prec, 1),
            Some(Ordering::Less) => Float::with_val(prec, -1),
            _ => x,
        },
        // An undefined sign source leaves the result undefined (MPFR
        // would copy the NaN's sign bit).
        Func::Copysign if y().is_nan() => Float::with_val(prec, f64::NAN),
        Func::Copysign => x.copysign(y()),
        // MPFR's fmod: exact, with the sign of the dividend, like C's.
        Func::Fmod => x % y(),
        // Python's mod: fmod, then add the divisor once when the signs of
        // a nonzero remainder and the divisor differ.
        Func::Mod => {
            let r = x % y();
            let neg = |v: &Float| v.cmp0() == Some(Ordering::Less);
            if !r.is_zero() && neg(&r) != neg(y()) {
                r + y()
            } else {
                r
            }
        }
        Func::Lt => truth(prec, x < *y()),
        Func::Le => truth(prec, x <= *y()),
        Func::Gt => truth(prec, x > *y()),
        Func::Ge => truth(prec, x >= *y()),
        Func::Eq => truth(prec, x == *y()),
        Func::Ne => truth(prec, x != *y()),
        Func::Not => truth(prec, x.is_zero()),
        Func::And => truth(prec, !x.is_zero() && !y().is_zero()),
        Func::Or => truth(prec, !x.is_zero() || !y().is_zero()),
        Func::Where => {
            if x.is_zero() {
                args[2].clone()
            } else {
                y().clone()
            }
        }
    }
}

/// `r` unless it is beyond `2^±MAX_EXP` (out of range).
fn in_range(r: Float) -> Option<Float> {
    r.get_exp()
        .is_none_or(|e| e.unsigned_abs() <= MAX_EXP)
        .then_some(r)
}

/// Largest exact constant kept, in bits of numerator plus denominator.
const MAX_EXACT_BITS: u64 = 4 * MAX_PREC as u64;

/// The exact value of a node whose operands all have exact values: the
/// constant subterms the builders do not fold (`floor(7/2) + 1`,
/// `fmod(2, 1/3)`, `1/3 < 1/2`). A jump function of a rational that no
/// binary float represents (`fmod(2, 1/3)` is 0, while MPFR's nearest
/// value of 1/3 gives 1/3 or almost 0) is only right when computed exactly,
/// as the e-graph's constant folding does. `None` for anything else
/// (symbols, transcendental functions, undefined values, huge numbers).
fn exact_node(node: &Node, exact: &HashMap<ExprId, BigRational>) -> Option<BigRational> {
    let x = |e: &ExprId| exact.get(e);
    let all = |ids: &[ExprId]| ids.iter().map(x).collect::<Option<Vec<_>>>();
    let truth = |t: bool| BigRational::from_integer(BigInt::from(u8::from(t)));
    let r = match node {
        Node::Integer(i) => BigRational::from_integer(i.clone()),
        Node::Rational(r) => r.clone(),
        Node::Add(t) => all(t)?.into_iter().sum(),
        Node::Mul(f) => all(f)?.into_iter().product(),
        Node::Pow([b, e]) => {
            let (b, e) = (x(b)?, x(e)?);
            let n = e.to_integer().to_i32().filter(|_| e.is_integer())?;
            let bits = b.numer().bits() + b.denom().bits();
            if bits.saturating_mul(u64::from(n.unsigned_abs())) > MAX_EXACT_BITS
                || (n < 0 && b.is_zero())
            {
                return None;
            }
            b.pow(n)
        }
        Node::Func(f, a) => {
            match f {
                Func::Where => {
                    return if x(&a[0])?.is_zero() {
                        x(&a[2]).cloned()
                    } else {
                        x(&a[1]).cloned()
                    };
                }
                Func::And | Func::Or => {
                    let first = !x(&a[0])?.is_zero();
                    if first == (*f == Func::Or) {
                        return Some(truth(first));
                    }
                    return x(&a[1]).cloned();
                }
                _ => {}
            }
            let v = all(a)?;
            match f {
                Func::Abs => v[0].abs(),
                Func::Floor => v[0].floor(),
                Func::Ceil => v[0].ceil(),
                Func::Sign => v[0].signum(),
                Func::Copysign if v[1].is_negative() => -v[0].abs(),
                Func::Copysign => v[0].abs(),
                Func::Min => v[0].clone().min(v[1].clone()),
                Func::Max => v[0].clone().max(v[1].clone()),
                Func::Fmod | Func::Mod if v[1].is_zero() => return None,
                Func::Fmod => v[0] - v[1] * (v[0] / v[1]).trunc(),
                Func::Mod => v[0] - v[1] * (v[0] / v[1]).floor(),
                Func::Lt => truth(v[0] < v[1]),
                Func::Le => truth(v[0] <= v[1]),
                Func::Gt => truth(v[0] > v[1]),
                Func::Ge => truth(v[0] >= v[1]),
                Func::Eq => truth(v[0] == v[1]),
                Func::Ne => truth(v[0] != v[1]),
                Func::Not => truth(v[0].is_zero()),
                _ => return None,
            }
        }
        _ => return None,
    };
    (r.numer().bits() + r.denom().bits() <= MAX_EXACT_BITS).then_some(r)
}

/// Evaluate `expr` at one point at `prec` bits and round to a double.
///
/// A value beyond `2^±MAX_EXP` is not computed with: it marks its node, and
/// every node above it, as out of range, and the sample is dropped when
/// that reaches `expr`. `where(c, a, b)` (and `And`/`Or`, which lower to
/// selections) only look at the branch the condition picks, so an out of
/// range value in the branch not taken does not drop the sample, exactly
/// as the float evaluation ignores it.
fn eval_at(
    pool: &ExprPool,
    order: &[ExprId],
    expr: ExprId,
    inputs: &HashMap<ExprId, f64>,
    prec: u32,
    loss: &mut Loss,
) -> Option<f64> {
    let v = pool.view();
    // `None`: out of range.
    let mut val: HashMap<ExprId, Option<Float>> = HashMap::with_capacity(order.len());
    // Nodes with an exact rational value (see `exact_node`).
    let mut exact: HashMap<ExprId, BigRational> = HashMap::new();
    for &id in order {
        let node = v.node(id);
        if let Some(q) = exact_node(node, &exact) {
            let r = big_float(prec, q.numer()) / big_float(prec, q.denom());
            let r = in_range(r);
            val.insert(id, r);
            exact.insert(id, q);
            continue;
        }
        let picked = |c: &ExprId, then: &ExprId, otherwise: Option<&ExprId>| {
            let c = val[c].as_ref()?;
            match (c.is_zero(), otherwise) {
                (false, _) => val[then].clone(),
                (true, Some(o)) => val[o].clone(),
                (true, None) => Some(truth(prec, false)),
            }
        };
        let r = match node {
            // where(c, a, b); And(p, q) = where(p, q, 0); Or(p, q) = where(p, 1, q).
            Node::Func(Func::Where, a) => picked(&a[0], &a[1], Some(&a[2])),
            Node::Func(Func::And, a) => picked(&a[0], &a[1], None),
            Node::Func(Func::Or, a) => match val[&a[0]].as_ref() {
                None => None,
                Some(p) if !p.is_zero() => Some(truth(prec, true)),
                Some(_) => val[&a[1]].clone(),
            },
            _ if node.children().iter().any(|c| val[c].is_none()) => None,
            _ => Some(eval_node(node, &val, inputs.get(&id).copied(), prec, loss)),
        };
        // Beyond 2^±MAX_EXP the reference gets slow (argument reduction of
        // `sin(1e5000)`) and such points say nothing about float64 results.
        let r = r.and_then(in_range);
        val.insert(id, r);
    }
    val[&expr].as_ref().map(Float::to_f64)
}

/// One node whose children all have values (`input` is a symbol's value).
fn eval_node(
    node: &Node,
    val: &HashMap<ExprId, Option<Float>>,
    input: Option<f64>,
    prec: u32,
    loss: &mut Loss,
) -> Float {
    let g = |e: &ExprId| -> &Float {
        val[e]
            .as_ref()
            .unwrap_or_else(|| unreachable!("children are checked to have values"))
    };
    match node {
        Node::Symbol(_) => Float::with_val(prec, input.unwrap_or(f64::NAN)),
        Node::Integer(i) => big_float(prec, i),
        Node::Rational(r) => big_float(prec, r.numer()) / big_float(prec, r.denom()),
        Node::Float(b) => Float::with_val(prec, f64::from_bits(*b)),
        Node::Add(t) => {
            // Correctly rounded: `1 + 1e300 - 1e300` is 1 at any precision.
            let acc = Float::with_val(prec, Float::sum(t.iter().map(g)));
            // A term whose low bits fall below the sum's precision window
            // may hide the answer: ask for enough precision to hold every
            // term's top 64 bits next to the sum's leading bit. A sum that
            // cancels to zero asks for more (it may be exactly zero).
            match acc.get_exp() {
                None if acc.is_zero() && t.iter().any(|x| !g(x).is_zero()) => {
                    loss.soft = true;
                }
                None => {}
                Some(a) => {
                    for x in t.iter() {
                        let Some(e) = g(x).get_exp() else { continue };
                        if i64::from(e) - 64 < i64::from(a) - i64::from(prec) + 16 {
                            let want = i64::from(a) - i64::from(e) + 96;
                            loss.hard = loss.hard.max(u32::try_from(want).unwrap_or(u32::MAX));
                        }
                    }
                }
            }
            acc
        }
        Node::Mul(f) => {
            let mut acc = Float::with_val(prec, 1);
            for x in f.iter() {
                acc *= g(x);
            }
            acc
        }
        Node::Pow([b, e]) => {
            let r = g(b).clone().pow(g(e));
            // `b^e` rounded to exactly 1 lost `e log b`: keep its top bits.
            if is_unit(&r) && !g(e).is_zero() && *g(b) != 1 {
                let d = g(e).clone() * g(b).clone().abs().ln();
                loss.note(d.get_exp().map(|x| 64 - i64::from(x)));
            }
            r
        }
        Node::Func(f, a) => {
            let args: Vec<&Float> = a.iter().map(g).collect();
            let r = apply(*f, &args, prec);
            // A function that saturates at ±1 (`exp` and `cos` of a tiny
            // argument, `tanh` and `erf` of a large one) rounded to exactly
            // ±1 at this precision has lost what distinguishes its argument;
            // two precisions then agree on a wrong value downstream
            // (`log(exp(-1e-79) + 0)` is -1e-79, not 0). Ask for enough bits
            // to keep the top of the distance to ±1.
            if is_unit(&r) && !args[0].is_zero() {
                let ea = args[0].get_exp().map(i64::from);
                let mag = || args[0].to_f64().abs();
                let need = match f {
                    // 1 + a, 1 + a^2/2, 1 + 2a/sqrt(pi) (erfc)
                    Func::Exp | Func::Exp2 | Func::Erfc => ea.map(|x| 64 - x),
                    Func::Cos | Func::Cosh => ea.map(|x| 64 - 2 * x),
                    // 1 - 2 e^(-2a), 1 - e^(-a^2)/(a sqrt(pi))
                    Func::Tanh => Some((64.0 + 2.9 * mag()).min(1e9) as i64),
                    Func::Erf => Some((64.0 + 1.5 * mag() * mag()).min(1e9) as i64),
                    _ => None,
                };
                loss.note(need);
            }
            r
        }
    }
}

/// What an evaluation at one precision may have lost.
#[derive(Default)]
struct Loss {
    /// Precision that would keep every term of every sum (above the
    /// working precision when a term was absorbed).
    hard: u32,
    /// A sum cancelled to exactly zero: possibly exact, possibly not;
    /// settled by agreement at the top precision.
    soft: bool,
}

impl Loss {
    /// A value needs `bits` of precision to keep what it depends on;
    /// beyond [`MAX_PREC`] it is as good as lost anyway (the distance to
    /// the rounded value is below anything a double downstream can see).
    fn note(&mut self, bits: Option<i64>) {
        if let Some(b) = bits
            && b <= i64::from(MAX_PREC)
        {
            self.hard = self.hard.max(u32::try_from(b.max(0)).unwrap_or(0));
        }
    }
}

/// `x` is exactly 1 or -1.
fn is_unit(x: &Float) -> bool {
    *x == 1 || *x == -1
}

/// Working precisions of the reference, in bits: it starts at `start` and
/// doubles (or jumps to what an absorbed term needs) until two successive
/// precisions round to the same double, giving up above `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precision {
    /// First working precision.
    pub start: u32,
    /// Highest working precision.
    pub max: u32,
}

impl Default for Precision {
    /// 128 bits, escalating up to 8192.
    fn default() -> Self {
        Precision {
            start: 128,
            max: MAX_PREC,
        }
    }
}

/// The ground truth of an expression at one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reference {
    /// The real value, correctly rounded to a finite double.
    Value(f64),
    /// No finite double: undefined there (a function outside its domain, a
    /// division by zero) or beyond the double range.
    Undefined,
    /// An intermediate value beyond `2^±2200`: not evaluated further.
    OutOfRange,
    /// Two successive precisions never rounded to the same double up to
    /// [`Precision::max`].
    Unstable,
}

impl Reference {
    /// The value, for [`Reference::Value`].
    pub fn value(self) -> Option<f64> {
        match self {
            Reference::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// Ground truth of one expression by MPFR at escalating precision.
///
/// At each precision the DAG is evaluated once; a sum that absorbed a term
/// below its precision window (`sqrt(1e300 + 1)`), or a saturating
/// function rounded to exactly ±1, marks the result as lossy and names the
/// precision that would keep what was lost; a sum that cancelled to zero
/// marks it lossy too. A point is settled when a non-lossy precision rounds
/// to the same double as the precision before it (or, at the top
/// precision, when it agrees with the one before and absorbed nothing):
/// `start`, `2 start`, ... or straight to the precision a lossy result
/// asked for. A point that never settles is [`Reference::Unstable`].
pub struct GroundTruth<'a> {
    pool: &'a ExprPool,
    expr: ExprId,
    vars: Vec<ExprId>,
    order: Vec<ExprId>,
    prec: Precision,
}

/// A double's bits with every NaN alike; `None` (out of range) as its own key.
fn settle_key(r: Option<f64>) -> Option<u64> {
    r.map(|v| {
        if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        }
    })
}

impl<'a> GroundTruth<'a> {
    /// The ground truth of `expr` over the variables `vars` (in this order).
    pub fn new(
        pool: &'a ExprPool,
        expr: ExprId,
        vars: &[ExprId],
        prec: Precision,
    ) -> Result<GroundTruth<'a>> {
        pool.check(expr)?;
        for &v in vars {
            pool.check(v)?;
        }
        let start = prec.start.clamp(16, MAX_PREC);
        let prec = Precision {
            start,
            max: prec.max.clamp(start, MAX_PREC),
        };
        Ok(GroundTruth {
            pool,
            expr,
            vars: vars.to_vec(),
            order: pool.view().reachable(&[expr]),
            prec,
        })
    }

    /// The reference at `point` (one value per variable) and the precision
    /// that settled it.
    pub fn at(&self, point: &[f64]) -> (Reference, u32) {
        let inputs: HashMap<ExprId, f64> = self
            .vars
            .iter()
            .copied()
            .zip(point.iter().copied())
            .collect();
        let (mut p, max) = (self.prec.start, self.prec.max);
        // The result at the previous precision.
        let mut prev: Option<Option<u64>> = None;
        loop {
            let mut loss = Loss::default();
            let r = eval_at(self.pool, &self.order, self.expr, &inputs, p, &mut loss);
            let key = settle_key(r);
            let last = p >= max;
            let hard = loss.hard > p;
            let lossy = hard || loss.soft;
            // A non-lossy precision that agrees with the one before settles
            // the point (what the lower one lost did not matter); at the top
            // precision, agreement is enough unless a term was absorbed there
            // too.
            let settled = match prev {
                Some(k) => k == key && if last { !hard } else { !lossy },
                None => false,
            };
            if settled {
                let out = match r {
                    None => Reference::OutOfRange,
                    Some(v) if v.is_finite() => Reference::Value(v),
                    Some(_) => Reference::Undefined,
                };
                return (out, p);
            }
            if last {
                return (Reference::Unstable, p);
            }
            prev = Some(key);
            // Straight to what the absorbed terms need (a multiple of 64).
            let jump = if hard {
                loss.hard.div_ceil(64).saturating_mul(64)
            } else {
                0
            };
            p = p.saturating_mul(2).max(jump).min(max);
        }
    }
}

/// The correctly rounded value of `expr` at each sample (`None` where the
/// real value is undefined, not a finite double, or did not settle).
pub fn reference_values(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    samples: &Samples,
) -> Result<Vec<Option<f64>>> {
    Ok(references(pool, expr, vars, samples, Precision::default())?
        .into_iter()
        .map(Reference::value)
        .collect())
}

/// The ground truth of `expr` at each sample (one entry when there are no
/// variables).
pub fn references(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    samples: &Samples,
    prec: Precision,
) -> Result<Vec<Reference>> {
    if vars.len() != samples.columns.len() {
        return Err(alkahest_tape::Error::Arity {
            expected: vars.len(),
            got: samples.columns.len(),
        }
        .into());
    }
    let truth = GroundTruth::new(pool, expr, vars, prec)?;
    let n = if vars.is_empty() { 1 } else { samples.len() };
    Ok((0..n)
        .map(|i| {
            let p: Vec<f64> = samples.columns.iter().map(|c| c[i]).collect();
            truth.at(&p).0
        })
        .collect())
}

/// What sampling drew and kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleStats {
    /// Points drawn.
    pub drawn: usize,
    /// Points kept: the ground truth is a finite double.
    pub valid: usize,
    /// Points dropped because the expression is undefined there or its
    /// value is beyond the double range.
    pub undefined: usize,
    /// Points dropped because an intermediate value exceeds `2^±2200`.
    pub out_of_range: usize,
    /// Points given up because the reference never settled.
    pub unstable: usize,
    /// Highest precision (bits) that settled a kept point.
    pub max_precision: u32,
}

/// Points where the ground truth is finite, with it.
#[derive(Clone, Debug)]
pub struct Sampled {
    /// The kept points.
    pub samples: Samples,
    /// The ground truth at each kept point (all `Some`; one entry when the
    /// expression has no variables).
    pub reference: Vec<Option<f64>>,
    /// What was drawn and dropped.
    pub stats: SampleStats,
}

/// Herbie-style sampling of the points where an expression's ground truth
/// is a finite double ([`Sampler::sample`]).
#[derive(Clone, Debug)]
pub struct Sampler {
    /// Per variable, `Some((lo, hi))` (closed; a bound may be infinite) or
    /// `None` for all finite doubles.
    pub ranges: Vec<Option<(f64, f64)>>,
    /// Points wanted.
    pub points: usize,
    /// Points drawn at most.
    pub max_draws: usize,
    /// Seed (the points are deterministic for a seed).
    pub seed: u64,
    /// Precisions of the ground truth.
    pub precision: Precision,
}

impl Sampler {
    /// `points` points over `ranges`, drawing at most 8 times as many, with
    /// a fixed seed and the default precisions.
    pub fn new(ranges: Vec<Option<(f64, f64)>>, points: usize) -> Sampler {
        Sampler {
            ranges,
            points,
            max_draws: points.saturating_mul(8),
            seed: 0x5eed_a1ca_4e57,
            precision: Precision::default(),
        }
    }

    /// Draw points until [`Sampler::points`] of them have a finite ground
    /// truth (or [`Sampler::max_draws`] were drawn): variable `v` is uniform
    /// over the *bit patterns* of the finite doubles in `ranges[v]` (both
    /// signs, every binade equally likely), or of all finite doubles when
    /// `None`. Points where `expr` is undefined, beyond the double range,
    /// out of the reference's range or unsettled are dropped and counted.
    pub fn sample(&self, pool: &ExprPool, expr: ExprId, vars: &[ExprId]) -> Result<Sampled> {
        sample_valid(
            pool,
            expr,
            vars,
            &self.ranges,
            (self.points, self.max_draws),
            self.seed,
            self.precision,
        )
    }
}

fn sample_valid(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    ranges: &[Option<(f64, f64)>],
    (n, max_draws): (usize, usize),
    seed: u64,
    prec: Precision,
) -> Result<Sampled> {
    if vars.len() != ranges.len() {
        return Err(alkahest_tape::Error::Arity {
            expected: vars.len(),
            got: ranges.len(),
        }
        .into());
    }
    let spans = ranges
        .iter()
        .enumerate()
        .map(|(v, r)| span(*r, v))
        .collect::<Result<Vec<_>>>()?;
    let truth = GroundTruth::new(pool, expr, vars, prec)?;
    let mut stats = SampleStats::default();
    let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(n); vars.len()];
    let mut reference = Vec::with_capacity(n);
    let mut rng = Rng(seed);
    let (n, max_draws) = if vars.is_empty() {
        (n.min(1), n.min(1))
    } else {
        (n, max_draws.max(n))
    };
    let mut point = vec![0.0; vars.len()];
    while stats.valid < n && stats.drawn < max_draws {
        for (x, s) in point.iter_mut().zip(&spans) {
            *x = draw(&mut rng, *s);
        }
        stats.drawn += 1;
        let (r, p) = truth.at(&point);
        match r {
            Reference::Value(v) => {
                stats.valid += 1;
                stats.max_precision = stats.max_precision.max(p);
                for (c, x) in columns.iter_mut().zip(&point) {
                    c.push(*x);
                }
                reference.push(Some(v));
            }
            Reference::Undefined => stats.undefined += 1,
            Reference::OutOfRange => stats.out_of_range += 1,
            Reference::Unstable => stats.unstable += 1,
        }
    }
    Ok(Sampled {
        samples: Samples { columns },
        reference,
        stats,
    })
}

/// Bits of error of `expr` (float64 through the tape and the
/// interpreter) at each sample against `reference`: `None` where the
/// reference is.
pub fn point_errors(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    samples: &Samples,
    reference: &[Option<f64>],
) -> Result<Vec<Option<f64>>> {
    let tape = alkahest_tape::lower(pool, expr, vars)?;
    Ok(tape_point_errors(&tape, samples, reference))
}

/// [`point_errors`] of a tape's first output (for forms the pool cannot
/// hold, such as an expression as written).
pub fn tape_point_errors(
    tape: &alkahest_tape::Tape,
    samples: &Samples,
    reference: &[Option<f64>],
) -> Vec<Option<f64>> {
    let interp = Interpreter::new(tape);
    let n = reference.len();
    let mut got = vec![0.0; n];
    if tape.n_inputs() == 0 {
        got.fill(interp.eval_scalar(&[]));
    } else {
        let cols: Vec<&[f64]> = samples.columns.iter().map(|c| &c[..n]).collect();
        interp.eval_columns(&cols, &mut [&mut got[..]]);
    }
    got.iter()
        .zip(reference)
        .map(|(g, r)| r.map(|r| ulp_bits(*g, r)))
        .collect()
}

/// Mean of [`tape_point_errors`]; `None` when no sample has a reference.
pub fn tape_error_bits(
    tape: &alkahest_tape::Tape,
    samples: &Samples,
    reference: &[Option<f64>],
) -> Option<f64> {
    let (mut sum, mut k) = (0.0, 0usize);
    for e in tape_point_errors(tape, samples, reference)
        .into_iter()
        .flatten()
    {
        sum += e;
        k += 1;
    }
    (k > 0).then(|| sum / k as f64)
}

/// Mean bits of error of `expr` compiled to float64 (tape run by the
/// interpreter) against precomputed reference values; `None` when no sample
/// has a reference.
pub fn error_bits_against(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    samples: &Samples,
    reference: &[Option<f64>],
) -> Result<Option<f64>> {
    let errs = point_errors(pool, expr, vars, samples, reference)?;
    let (mut sum, mut k) = (0.0, 0usize);
    for e in errs.into_iter().flatten() {
        sum += e;
        k += 1;
    }
    Ok((k > 0).then(|| sum / k as f64))
}

/// Mean bits of error of `expr` in float64 over `samples`, measured against
/// its own 100+-digit MPFR value; `NaN` when no sample is in the domain.
pub fn error_bits(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    samples: &Samples,
) -> Result<f64> {
    let r = reference_values(pool, expr, vars, samples)?;
    Ok(error_bits_against(pool, expr, vars, samples, &r)?.unwrap_or(f64::NAN))
}
