//! Measured accuracy, Herbie-style: sample inputs, evaluate in float64
//! through the kernel tape and the reference interpreter, compare with a
//! correctly rounded MPFR reference, and report bits of error
//! `log2(ulps + 1)`.
//!
//! The reference evaluates the pool DAG directly (exact rationals stay
//! exact) at 384 bits (about 115 digits) and again at 768; the sample is
//! kept only when both round to the same double and no sum absorbed a term
//! below its precision window (`1 + 1e-300`), else it is retried at
//! 1536/3072 and then 4096/8192 bits, and dropped if those still
//! disagree. Samples whose intermediates exceed `2^±2200` (far beyond the
//! double range) are dropped too. Samples whose real
//! value is not a finite double (outside the domain, or beyond the float
//! range) are dropped, as Herbie does.

use alkahest_core::{ExprId, ExprPool, Func, Node};
use alkahest_interp::Interpreter;
use alkahest_kernel::Evaluator;
use hashbrown::HashMap;
use num_bigint::BigInt;
use num_traits::ToPrimitive;
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

/// Evaluate `expr` at one point at `prec` bits and round to a double.
fn eval_at(
    pool: &ExprPool,
    order: &[ExprId],
    expr: ExprId,
    inputs: &HashMap<ExprId, f64>,
    prec: u32,
    lossy: &mut bool,
) -> f64 {
    let v = pool.view();
    let mut val: HashMap<ExprId, Float> = HashMap::with_capacity(order.len());
    for &id in order {
        let g = |e: &ExprId| &val[e];
        let r = match v.node(id) {
            Node::Symbol(_) => Float::with_val(prec, inputs.get(&id).copied().unwrap_or(f64::NAN)),
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
                let x = g(&a[0]).clone();
                match f {
                    Func::Sin => x.sin(),
                    Func::Cos => x.cos(),
                    Func::Tan => x.tan(),
                    Func::Asin => x.asin(),
                    Func::Acos => x.acos(),
                    Func::Atan => x.atan(),
                    Func::Atan2 => x.atan2(g(&a[1])),
                    Func::Sinh => x.sinh(),
                    Func::Cosh => x.cosh(),
                    Func::Tanh => x.tanh(),
                    Func::Exp => x.exp(),
                    Func::Log => x.ln(),
                    Func::Sqrt => x.sqrt(),
                    Func::Abs => x.abs(),
                    Func::Log1p => x.ln_1p(),
                    Func::Expm1 => x.exp_m1(),
                    Func::Hypot => x.hypot(g(&a[1])),
                    Func::Fma => x.mul_add(g(&a[1]), g(&a[2])),
                    Func::Min => {
                        let y = g(&a[1]);
                        if x.is_nan() || y.is_nan() {
                            Float::with_val(prec, f64::NAN)
                        } else {
                            x.min(y)
                        }
                    }
                    Func::Max => {
                        let y = g(&a[1]);
                        if x.is_nan() || y.is_nan() {
                            Float::with_val(prec, f64::NAN)
                        } else {
                            x.max(y)
                        }
                    }
                }
            }
        };
        // Beyond 2^±MAX_EXP the reference gets slow (argument reduction of
        // `sin(1e5000)`) and such points say nothing about float64 results:
        // give up on this sample.
        if r.get_exp().is_some_and(|e| e.unsigned_abs() > MAX_EXP) {
            return f64::NAN;
        }
        val.insert(id, r);
    }
    val[&expr].to_f64()
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
        got.iter_mut().for_each(|g| *g = interp.eval(&[]));
    } else {
        let cols: Vec<&[f64]> = samples.columns.iter().map(|c| &c[..n]).collect();
        interp.eval_columns(&cols, &mut got);
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
