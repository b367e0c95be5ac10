//! Measured accuracy, Herbie-style: sample inputs, evaluate in float64
//! through the kernel tape and the reference interpreter, compare with a
//! correctly rounded MPFR reference, and report bits of error
//! `log2(ulps + 1)`.
//!
//! The reference evaluates the pool DAG directly at 384 bits (about 115
//! digits) and again at 768; constant subterms that the builders leave
//! unfolded (`fmod(2, 1/3)`, `floor(7/2) + 1`) are computed exactly in
//! rationals first, since a jump function of a rounded 1/3 can be off by
//! a whole step. The sample is kept only when both round to the same double and no sum absorbed a term
//! below its precision window (`1 + 1e-300`), else it is retried at
//! 1536/3072 and then 4096/8192 bits, and dropped if those still
//! disagree. Samples whose intermediates exceed `2^±2200` (far beyond the
//! double range) are dropped too, unless the value is only in a branch of
//! `where` that its condition does not pick. Comparisons are decided in
//! the working precision (two precisions that pick different branches
//! usually disagree on the result, which escalates the sample like any
//! disagreement), conditions are valued 1 or 0, and `where` picks its
//! branch, as the tape does. Samples whose real
//! value is not a finite double (outside the domain, or beyond the float
//! range) are dropped, as Herbie does.

use std::cmp::Ordering;

use alkahest_core::{ExprId, ExprPool, Func, Node};
use alkahest_interp::Interpreter;
use alkahest_kernel::Evaluator;
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

impl Samples {
    /// `n` points; variable `v` is drawn uniformly over the *doubles* of
    /// `ranges[v]` (so every binade is equally likely, as in Herbie), or over
    /// all finite doubles when its range is `None`.
    pub fn new(ranges: &[Option<(f64, f64)>], n: usize, seed: u64) -> Result<Samples> {
        let mut rng = Rng(seed);
        let mut columns = Vec::with_capacity(ranges.len());
        for (v, r) in ranges.iter().enumerate() {
            let (lo, hi) = r.unwrap_or((-f64::MAX, f64::MAX));
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(Error::BadRange {
                    var: format!("#{v}"),
                    lo,
                    hi,
                });
            }
            let (a, b) = (ordinal(lo), ordinal(hi));
            let span = (b as i128 - a as i128 + 1) as u128;
            let col = (0..n)
                .map(|_| {
                    let k = (rng.next() as u128 * span) >> 64;
                    from_ordinal((a as i128 + k as i128) as i64)
                })
                .collect();
            columns.push(col);
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
        Func::Floor => x.floor(),
        Func::Ceil => x.ceil(),
        // 1 above zero, -1 below, the argument itself at ±0 and NaN.
        Func::Sign => match x.cmp0() {
            Some(Ordering::Greater) => Float::with_val(prec, 1),
            Some(Ordering::Less) => Float::with_val(prec, -1),
            _ => x,
        },
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
    lossy: &mut bool,
) -> f64 {
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
            _ => Some(eval_node(node, &val, inputs.get(&id).copied(), prec, lossy)),
        };
        // Beyond 2^±MAX_EXP the reference gets slow (argument reduction of
        // `sin(1e5000)`) and such points say nothing about float64 results.
        let r = r.and_then(in_range);
        val.insert(id, r);
    }
    val[&expr].as_ref().map_or(f64::NAN, Float::to_f64)
}

/// One node whose children all have values (`input` is a symbol's value).
fn eval_node(
    node: &Node,
    val: &HashMap<ExprId, Option<Float>>,
    input: Option<f64>,
    prec: u32,
    lossy: &mut bool,
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
            let mut acc = Float::with_val(prec, 0);
            for x in t.iter() {
                acc += g(x);
            }
            // A term whose low bits fall below the sum's precision
            // window, or a sum that cancels to zero, may hide the
            // answer: ask for more precision.
            let window = acc.get_exp().unwrap_or(i32::MIN / 2) - prec as i32 + 16;
            for x in t.iter() {
                let tv = g(x);
                // Only when the top tier could still capture the term.
                let capturable = |e: i32| e > window - MAX_PREC as i32;
                if !tv.is_zero()
                    && (acc.is_zero()
                        || tv
                            .get_exp()
                            .is_some_and(|e| e - 64 < window && capturable(e)))
                {
                    *lossy = true;
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
        Node::Pow([b, e]) => g(b).clone().pow(g(e)),
        Node::Func(f, a) => {
            let args: Vec<&Float> = a.iter().map(g).collect();
            apply(*f, &args, prec)
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
    pool.check(expr)?;
    if vars.len() != samples.columns.len() {
        return Err(alkahest_kernel::Error::Arity {
            expected: vars.len(),
            got: samples.columns.len(),
        }
        .into());
    }
    let order = pool.view().reachable(&[expr]);
    let n = if vars.is_empty() { 1 } else { samples.len() };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let inputs: HashMap<ExprId, f64> = vars
            .iter()
            .zip(&samples.columns)
            .map(|(&v, c)| (v, c[i]))
            .collect();
        let mut r = None;
        let tiers = [(384, 768), (1536, 3072), (MAX_PREC / 2, MAX_PREC)];
        for (k, (p1, p2)) in tiers.into_iter().enumerate() {
            let last = k + 1 == tiers.len();
            let mut lossy = false;
            let a = eval_at(pool, &order, expr, &inputs, p1, &mut lossy);
            if lossy && !last {
                continue;
            }
            let b = eval_at(pool, &order, expr, &inputs, p2, &mut lossy);
            if a.to_bits() == b.to_bits() {
                r = Some(a).filter(|x| x.is_finite());
                break;
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// Mean bits of error of `expr` compiled to float64 (kernel tape run by the
/// interpreter) against precomputed reference values; `None` when no sample
/// has a reference.
pub fn error_bits_against(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    samples: &Samples,
    reference: &[Option<f64>],
) -> Result<Option<f64>> {
    let tape = alkahest_kernel::lower(pool, expr, vars)?;
    let interp = Interpreter::new(&tape);
    let n = reference.len();
    let mut got = vec![0.0; n];
    if vars.is_empty() {
        got.fill(interp.eval_scalar(&[]));
    } else {
        let cols: Vec<&[f64]> = samples.columns.iter().map(|c| &c[..n]).collect();
        interp.eval_columns(&cols, &mut [&mut got[..]]);
    }
    let (mut sum, mut k) = (0.0, 0usize);
    for (g, r) in got.iter().zip(reference) {
        if let Some(r) = r {
            sum += ulp_bits(*g, *r);
            k += 1;
        }
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
