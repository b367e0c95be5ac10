//! Regime inference: when two candidates win on different parts of the
//! sampled input space, a branch-free selection between them.
//!
//! Herbie's method, restricted to one split on one variable or its
//! magnitude (`|x| < t` keeps a middle region, where a series around 0
//! wins, in one split): for each variable and each magnitude, sort the
//! samples by it; with prefix sums of every candidate's
//! per-point error, the split index that minimizes "best candidate left of
//! it + best candidate right of it" is found in `O(candidates * points)`.
//! The best split over all variables is kept only when it beats the best
//! single candidate by a margin (mean bits) and both sides hold enough
//! points. The boundary between the two samples around the split is then
//! refined by bisection over the doubles between them (in bit-pattern
//! order), comparing the two candidates against the ground truth at each
//! probe; the result is `where(v < t, below, above)` (or `|v| < t`).

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_tape::Evaluator;

use crate::accuracy::{GroundTruth, Samples, ulp_bits};
use crate::error::Result;

/// A regime split: `var < threshold` (`|var| < threshold` when `abs`)
/// takes `below`, else `above`.
#[derive(Clone, Debug, PartialEq)]
pub struct Regime {
    /// The variable split on (its name).
    pub var: String,
    /// Whether the split is on the variable's magnitude.
    pub abs: bool,
    /// Points with `var < threshold` use `below`, the others `above`.
    pub threshold: f64,
    /// The candidate used below the threshold.
    pub below: ExprId,
    /// The candidate used at and above the threshold.
    pub above: ExprId,
    /// Mean bits of error of the best single candidate on the samples.
    pub single_bits: f64,
    /// Mean bits of error of the split as first found on the samples (the
    /// two candidates before each was improved on its side, the threshold
    /// before bisection); the selection's own error is
    /// [`crate::Report::error_bits_after`].
    pub split_bits: f64,
}

/// The best split found on the samples.
#[derive(Clone, Debug)]
pub(crate) struct Split {
    /// Index of the variable.
    pub var: usize,
    /// Split on the variable's magnitude (`lo`, `hi` are magnitudes).
    pub abs: bool,
    /// Candidate indices below and above.
    pub below: usize,
    pub above: usize,
    /// Largest sample value below the split and smallest above.
    pub lo: f64,
    pub hi: f64,
    /// Sample (point index) just below and just above the split.
    pub lo_point: usize,
    pub hi_point: usize,
    /// Mean error of the split and of the best single candidate.
    pub bits: f64,
    pub single_bits: f64,
}

/// The best single split over all variables, if it beats the best single
/// candidate by `margin` mean bits with at least `min_region` points on
/// each side. `errs[c][i]` is candidate `c`'s error at point `i`;
/// `cols[v][i]` the value of variable `v` there.
pub(crate) fn best_split(
    errs: &[Vec<f64>],
    ops: &[usize],
    cols: &[Vec<f64>],
    min_region: usize,
    margin: f64,
) -> Option<Split> {
    let n = errs.first()?.len();
    if n == 0 || errs.len() < 2 || n < 2 * min_region.max(1) {
        return None;
    }
    let totals: Vec<f64> = errs.iter().map(|e| e.iter().sum()).collect();
    let (single, single_total) = totals
        .iter()
        .copied()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let _ = single;
    let mut best: Option<(f64, Split)> = None;
    let mags: Vec<Vec<f64>> = cols
        .iter()
        .map(|c| c.iter().map(|x| x.abs()).collect())
        .collect();
    let keys = cols
        .iter()
        .enumerate()
        .map(|(v, c)| (v, false, c))
        .chain(mags.iter().enumerate().map(|(v, c)| (v, true, c)));
    for (v, abs, col) in keys {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| col[a].total_cmp(&col[b]));
        // prefix[c][s]: error of candidate c on the first s sorted points.
        let prefix: Vec<Vec<f64>> = errs
            .iter()
            .map(|e| {
                let mut acc = 0.0;
                let mut p = Vec::with_capacity(n + 1);
                p.push(0.0);
                for &i in &order {
                    acc += e[i];
                    p.push(acc);
                }
                p
            })
            .collect();
        for s in min_region.max(1)..=(n - min_region.max(1)) {
            let (a, b) = (col[order[s - 1]], col[order[s]]);
            // Only between distinct values (a threshold must separate them).
            if a.total_cmp(&b).is_ge() || a == b {
                continue;
            }
            let (below, left) = cheapest_best(errs.len(), ops, s, |c| prefix[c][s])?;
            let (above, right) =
                cheapest_best(errs.len(), ops, n - s, |c| totals[c] - prefix[c][s])?;
            if below == above {
                continue;
            }
            let cost = left + right;
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((
                    cost,
                    Split {
                        var: v,
                        abs,
                        below,
                        above,
                        lo: a,
                        hi: b,
                        lo_point: order[s - 1],
                        hi_point: order[s],
                        bits: cost / n as f64,
                        single_bits: single_total / n as f64,
                    },
                ));
            }
        }
    }
    let (_, split) = best?;
    (split.bits + margin <= split.single_bits).then_some(split)
}

/// Among `k` candidates, the one with the fewest operations whose error
/// sum over a region of `len` points is within 0.05 bits per point of the
/// smallest; with its sum.
fn cheapest_best(
    k: usize,
    ops: &[usize],
    len: usize,
    sum: impl Fn(usize) -> f64,
) -> Option<(usize, f64)> {
    let min = (0..k).map(&sum).fold(f64::INFINITY, f64::min);
    let tol = 0.05 * len as f64;
    (0..k)
        .filter(|&c| sum(c) <= min + tol)
        .min_by_key(|&c| ops.get(c).copied().unwrap_or(usize::MAX))
        .map(|c| (c, sum(c)))
}

/// The double in `(lo, hi]` with the fewest significant decimal digits
/// (0 when the interval holds it): thresholds read like `1e-8`, not
/// `1.0860055100622602e-75`.
fn simplest_between(lo: f64, hi: f64) -> f64 {
    if lo < 0.0 && hi >= 0.0 {
        return 0.0;
    }
    for digits in 0..17 {
        for x in [hi, lo + (hi - lo) / 2.0] {
            let c: f64 = format!("{x:.digits$e}").parse().unwrap_or(hi);
            if lo < c && c <= hi {
                return c;
            }
        }
    }
    hi
}

/// Monotone map from doubles to integers (adjacent doubles differ by one).
fn ordinal(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    if b < 0 { i64::MIN - b } else { b }
}

fn from_ordinal(o: i64) -> f64 {
    let b = if o < 0 { i64::MIN - o } else { o };
    f64::from_bits(b as u64)
}

/// Bisection steps of the threshold search.
const BISECT_STEPS: usize = 40;

/// The threshold between `split.lo` and `split.hi`: bisect over the doubles
/// between them while the `below` candidate is at least as accurate as
/// `above` at the probe (the probe point is the sample just above the split
/// with the split variable moved to the probe; the one just below when the
/// ground truth is not finite there). Returns `t` with `lo < t <= hi`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn refine_threshold(
    pool: &ExprPool,
    truth: &GroundTruth<'_>,
    vars: &[ExprId],
    samples: &Samples,
    split: &Split,
    below: ExprId,
    above: ExprId,
) -> Result<f64> {
    let tb = alkahest_tape::lower(pool, below, vars)?;
    let ta = alkahest_tape::lower(pool, above, vars)?;
    let (ib, ia) = (Interpreter::new(&tb), Interpreter::new(&ta));
    let point = |i: usize| -> Vec<f64> { samples.columns.iter().map(|c| c[i]).collect() };
    let bases = [point(split.hi_point), point(split.lo_point)];
    let (mut lo, mut hi) = (ordinal(split.lo), ordinal(split.hi));
    for step in 0..BISECT_STEPS {
        let gap = i128::from(hi) - i128::from(lo);
        if gap <= 1 {
            break;
        }
        // A boundary at zero is tried first when the gap straddles it.
        let m = if step == 0 && split.lo < 0.0 && split.hi > 0.0 {
            0
        } else {
            (i128::from(lo) + gap / 2) as i64
        };
        let x = from_ordinal(m);
        let mut verdict = None;
        for base in &bases {
            let mut p = base.clone();
            p[split.var] = if split.abs {
                x.copysign(base[split.var])
            } else {
                x
            };
            if let Some(r) = truth.at(&p).0.value() {
                let eb = ulp_bits(ib.eval_scalar(&p), r);
                let ea = ulp_bits(ia.eval_scalar(&p), r);
                verdict = Some(eb.total_cmp(&ea));
                break;
            }
        }
        match verdict {
            // Both as good at zero: split there.
            Some(std::cmp::Ordering::Equal) if m == 0 => return Ok(0.0),
            Some(std::cmp::Ordering::Greater) => hi = m,
            Some(_) => lo = m,
            None => break,
        }
    }
    // `v < t` must hold for `lo` and fail for `hi`.
    Ok(simplest_between(from_ordinal(lo), from_ordinal(hi)))
}

/// `where(var < t, below, above)` (`|var| < t` for `abs`) in the pool.
pub(crate) fn build_regime(
    pool: &ExprPool,
    var: ExprId,
    abs: bool,
    t: f64,
    below: ExprId,
    above: ExprId,
) -> Result<ExprId> {
    let k = pool.float(t)?;
    let v = if abs {
        pool.func(Func::Abs, &[var])?
    } else {
        var
    };
    let c = pool.func(Func::Lt, &[v, k])?;
    Ok(pool.select(c, below, above)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_split_finds_the_boundary() {
        // Candidate 0 is exact below 0.5, candidate 1 above; 2 is mediocre.
        let xs: Vec<f64> = (0..64).map(|i| i as f64 / 64.0).collect();
        let e0: Vec<f64> = xs
            .iter()
            .map(|&x| if x < 0.5 { 0.0 } else { 40.0 })
            .collect();
        let e1: Vec<f64> = xs
            .iter()
            .map(|&x| if x < 0.5 { 40.0 } else { 0.0 })
            .collect();
        let e2 = vec![10.0; 64];
        let s = best_split(&[e0, e1, e2], &[1, 1, 1], &[xs], 3, 1.0).unwrap();
        assert_eq!((s.below, s.above), (0, 1));
        assert!(s.lo < 0.5 && s.hi >= 0.5, "{s:?}");
        assert_eq!(s.bits, 0.0);
        assert_eq!(s.single_bits, 10.0);
    }

    #[test]
    fn no_split_without_margin_or_room() {
        let xs: Vec<f64> = (0..64).map(|i| i as f64).collect();
        let flat = vec![vec![1.0; 64], vec![1.2; 64]];
        assert!(best_split(&flat, &[1, 1], std::slice::from_ref(&xs), 3, 1.0).is_none());
        // Candidate 1 wins on the last two points only: the split must
        // leave at least 8 points on that side.
        let mut e0 = vec![0.0; 64];
        e0[62] = 64.0;
        e0[63] = 64.0;
        let e1 = vec![5.0; 64];
        let s = best_split(&[e0, e1], &[1, 1], &[xs], 8, 1.0).unwrap();
        assert_eq!(s.hi, 56.0, "{s:?}");
    }

    #[test]
    fn ties_go_to_fewer_operations() {
        let xs: Vec<f64> = (0..32).map(|i| i as f64).collect();
        let good: Vec<f64> = (0..32).map(|i| if i < 16 { 0.0 } else { 50.0 }).collect();
        let bad: Vec<f64> = (0..32).map(|i| if i < 16 { 50.0 } else { 0.0 }).collect();
        // Candidates 1 and 2 are equally accurate above; 2 is cheaper.
        let s = best_split(&[good, bad.clone(), bad], &[3, 9, 4], &[xs], 3, 1.0).unwrap();
        assert_eq!((s.below, s.above), (0, 2));
    }

    #[test]
    fn thresholds_are_short_numbers() {
        assert_eq!(simplest_between(-1e-300, 1e-200), 0.0);
        assert_eq!(simplest_between(0.0042, 0.0061), 0.006);
        assert_eq!(simplest_between(1.0, 1.0f64.next_up()), 1.0f64.next_up());
        assert_eq!(simplest_between(123.4, 187.9), 160.0);
    }
}
