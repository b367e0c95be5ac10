//! The entry point: saturate, extract candidates, measure, choose.

use std::sync::OnceLock;
use std::time::Duration;

use alkahest_core::{ExprId, ExprPool, Node};
use egg::{Runner, Symbol};
use hashbrown::HashMap;

use crate::accuracy::{Samples, error_bits_against, reference_values};
use crate::analysis::{MathAnalysis, MathGraph};
use crate::convert::{add_to_egraph, build_in_pool};
use crate::cost::{Cost, extract};
use crate::error::{Error, Result};
use crate::rules::{Rw, all};

/// Why saturation stopped. Every variant is a normal result.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// No rule adds anything new: the e-graph is saturated.
    Saturated,
    /// The e-graph reached the node limit.
    NodeLimit(usize),
    /// The time limit ran out (seconds spent).
    TimeLimit(f64),
    /// The iteration limit was reached.
    IterLimit(usize),
    /// The extracted cost did not improve for [`Options::patience`]
    /// iterations in a row (iterations run).
    NoProgress(usize),
    /// The input has more nodes than `max_input_nodes`: saturation was
    /// skipped and the expression returned unchanged.
    TooLarge {
        /// Nodes in the input DAG.
        nodes: usize,
        /// The configured threshold.
        limit: usize,
    },
}

/// Settings for [`simplify`]. Build with [`Options::new`] and the `with_*`
/// methods.
#[derive(Clone, Debug)]
pub struct Options {
    /// What extraction minimizes.
    pub cost: Cost,
    /// E-nodes saturation may add beyond those of the input itself (so a
    /// large input still gets some rewriting).
    pub node_limit: usize,
    /// Saturation iteration limit.
    pub iter_limit: usize,
    /// Saturation time limit.
    pub time_limit: Duration,
    /// Inputs with more DAG nodes than this skip saturation.
    pub max_input_nodes: usize,
    /// Number of sample points for error measurement.
    pub samples: usize,
    /// Measurement is skipped above this many `nodes * samples` (the MPFR
    /// reference is the expensive part).
    pub max_measure_work: usize,
    /// Seed of the sampler (results are deterministic for a seed).
    pub seed: u64,
    /// Declared input ranges by symbol name: sampling domain, and the facts
    /// that guarded rules may rely on.
    pub ranges: Vec<(String, f64, f64)>,
    /// Measure error before/after (always on for [`Cost::Stability`]).
    pub measure: bool,
    /// Stop once this many iterations in a row left the root's extracted
    /// cost unchanged (`None`: run to a limit). Small inputs rarely improve
    /// after a stall; the commutativity and associativity rules keep
    /// growing the e-graph regardless, so a time limit alone makes every
    /// small compile pay the whole budget.
    pub patience: Option<usize>,
}

impl Options {
    /// Defaults for `cost`: 20k e-nodes, 12 iterations, 150 ms, inputs up to
    /// 25k nodes, 128 samples.
    pub fn new(cost: Cost) -> Options {
        Options {
            cost,
            node_limit: 20_000,
            iter_limit: 12,
            time_limit: Duration::from_millis(150),
            max_input_nodes: 25_000,
            samples: 128,
            max_measure_work: 50_000,
            seed: 0x5eed_a1ca_4e57,
            ranges: Vec::new(),
            measure: cost == Cost::Stability,
            patience: None,
        }
    }

    /// Set the e-graph node limit.
    pub fn with_node_limit(mut self, n: usize) -> Self {
        self.node_limit = n;
        self
    }

    /// Set the iteration limit.
    pub fn with_iter_limit(mut self, n: usize) -> Self {
        self.iter_limit = n;
        self
    }

    /// Set the time limit of saturation.
    pub fn with_time_limit(mut self, t: Duration) -> Self {
        self.time_limit = t;
        self
    }

    /// Set the input size above which saturation is skipped.
    pub fn with_max_input_nodes(mut self, n: usize) -> Self {
        self.max_input_nodes = n;
        self
    }

    /// Set the number of sample points.
    pub fn with_samples(mut self, n: usize) -> Self {
        self.samples = n;
        self
    }

    /// Set the sampler seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Declare that symbol `name` ranges over `[lo, hi]`.
    pub fn with_range(mut self, name: &str, lo: f64, hi: f64) -> Self {
        self.ranges.push((name.to_string(), lo, hi));
        self
    }

    /// Measure error bits before/after even for [`Cost::Ops`].
    pub fn with_measure(mut self, on: bool) -> Self {
        self.measure = on;
        self
    }
}

/// What [`simplify`] did.
#[derive(Clone, Debug)]
pub struct Report {
    /// The chosen expression, in the same pool (the input when nothing better
    /// was found).
    pub expr: ExprId,
    /// Why saturation stopped.
    pub stop_reason: StopReason,
    /// Rules that fired during saturation and how often (name-sorted). They
    /// shaped the e-graph; not every one appears in the chosen result.
    pub rules_fired: Vec<(String, usize)>,
    /// Tape operations (`Tape::n_compute`) before.
    pub ops_before: usize,
    /// Tape operations after.
    pub ops_after: usize,
    /// Mean bits of error before, on the samples (when measured).
    pub error_bits_before: Option<f64>,
    /// Mean bits of error after, on the samples (when measured).
    pub error_bits_after: Option<f64>,
    /// Saturation iterations run.
    pub iterations: usize,
    /// E-graph nodes at the end of saturation.
    pub egraph_nodes: usize,
}

/// The hook's stop message for [`StopReason::NoProgress`].
const NO_PROGRESS: &str = "no progress";

/// Inputs above this many DAG nodes saturate with a tenth of the node
/// budget and at most two iterations.
const LARGE_INPUT: usize = 5_000;

fn rules() -> &'static [Rw] {
    static RULES: OnceLock<Vec<Rw>> = OnceLock::new();
    RULES.get_or_init(all)
}

/// The free symbols of `expr`, sorted by name: the variable order used for
/// lowering and sampling.
pub fn free_symbols(pool: &ExprPool, expr: ExprId) -> Result<Vec<ExprId>> {
    pool.check(expr)?;
    let v = pool.view();
    let mut syms: Vec<(String, ExprId)> = v
        .reachable(&[expr])
        .into_iter()
        .filter_map(|id| match v.node(id) {
            Node::Symbol(s) => Some((s.to_string(), id)),
            _ => None,
        })
        .collect();
    syms.sort();
    Ok(syms.into_iter().map(|(_, id)| id).collect())
}

fn ops(pool: &ExprPool, expr: ExprId, vars: &[ExprId]) -> Result<usize> {
    Ok(alkahest_kernel::lower(pool, expr, vars)?.n_compute())
}

/// Canonicalize and rewrite `expr` with the e-graph, extract by
/// `opts.cost`, and keep the candidate that measures best.
///
/// [`Cost::Ops`] never returns more tape operations than the input.
/// [`Cost::Stability`] compares the input, the fastest and the most stable
/// candidate on sampled points against an MPFR reference and keeps the most
/// accurate (ties go to fewer operations), so it is never worse than the
/// input on those samples. Limits end saturation early; they are reported in
/// [`Report::stop_reason`], never as errors.
pub fn simplify(pool: &ExprPool, expr: ExprId, opts: &Options) -> Result<Report> {
    let vars = free_symbols(pool, expr)?;
    let ops_before = ops(pool, expr, &vars)?;
    let n_nodes = pool.view().reachable(&[expr]).len();

    let mut ranges: HashMap<Symbol, (f64, f64)> = HashMap::new();
    let mut by_name: HashMap<String, (f64, f64)> = HashMap::new();
    for (name, lo, hi) in &opts.ranges {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Error::BadRange {
                var: name.clone(),
                lo: *lo,
                hi: *hi,
            });
        }
        ranges.insert(Symbol::from(name.as_str()), (*lo, *hi));
        by_name.insert(name.clone(), (*lo, *hi));
    }

    let measure = (opts.measure || opts.cost == Cost::Stability)
        && n_nodes.saturating_mul(opts.samples) <= opts.max_measure_work
        && opts.samples > 0;
    let measured = if measure {
        let v = pool.view();
        let rs: Vec<Option<(f64, f64)>> = vars
            .iter()
            .map(|&id| match v.node(id) {
                Node::Symbol(s) => by_name.get(&**s).copied(),
                _ => None,
            })
            .collect();
        drop(v);
        let samples = Samples::new(&rs, opts.samples, opts.seed)?;
        let reference = reference_values(pool, expr, &vars, &samples)?;
        let before = error_bits_against(pool, expr, &vars, &samples, &reference)?;
        Some((samples, reference, before))
    } else {
        None
    };
    let before = measured.as_ref().and_then(|m| m.2);

    if n_nodes > opts.max_input_nodes {
        return Ok(Report {
            expr,
            stop_reason: StopReason::TooLarge {
                nodes: n_nodes,
                limit: opts.max_input_nodes,
            },
            rules_fired: Vec::new(),
            ops_before,
            ops_after: ops_before,
            error_bits_before: before,
            error_bits_after: before,
            iterations: 0,
            egraph_nodes: 0,
        });
    }

    let mut eg = MathGraph::new(MathAnalysis { ranges });
    let root = add_to_egraph(pool, expr, &mut eg)?;
    eg.rebuild();
    let initial = eg.total_size();
    // Large inputs get a small growth budget and few iterations: one egg
    // iteration on a wide sum can outlast the time limit, which is only
    // checked between rules.
    let (extra, iters) = if n_nodes > LARGE_INPUT {
        (opts.node_limit / 10, opts.iter_limit.min(2))
    } else {
        (opts.node_limit, opts.iter_limit)
    };
    let mut runner = Runner::default()
        .with_egraph(eg)
        .with_node_limit(initial.saturating_add(extra))
        .with_iter_limit(iters)
        .with_time_limit(opts.time_limit);
    if let Some(patience) = opts.patience {
        // Runs before each iteration, on the rebuilt e-graph.
        let cost = opts.cost;
        let (mut best, mut stalled) = (f64::INFINITY, 0usize);
        runner = runner.with_hook(move |r| {
            let c = extract(&r.egraph, cost)
                .get(&r.egraph.find(root))
                .map_or(f64::INFINITY, |e| e.0);
            if c < best {
                (best, stalled) = (c, 0);
            } else {
                stalled += 1;
            }
            if stalled >= patience {
                Err(NO_PROGRESS.to_owned())
            } else {
                Ok(())
            }
        });
    }
    let runner = runner.run(rules());
    let stop_reason = match &runner.stop_reason {
        Some(egg::StopReason::Saturated) | None => StopReason::Saturated,
        Some(egg::StopReason::NodeLimit(n)) => StopReason::NodeLimit(*n),
        Some(egg::StopReason::TimeLimit(t)) => StopReason::TimeLimit(*t),
        Some(egg::StopReason::IterationLimit(n)) => StopReason::IterLimit(*n),
        Some(egg::StopReason::Other(why)) if why == NO_PROGRESS => {
            StopReason::NoProgress(runner.iterations.len())
        }
        Some(egg::StopReason::Other(_)) => StopReason::Saturated,
    };
    let mut fired: HashMap<String, usize> = HashMap::new();
    for it in &runner.iterations {
        for (name, n) in &it.applied {
            *fired.entry(name.to_string()).or_default() += n;
        }
    }
    let mut rules_fired: Vec<(String, usize)> = fired.into_iter().collect();
    rules_fired.sort();
    let eg = &runner.egraph;
    let root = eg.find(root);

    let build = |cost: Cost| -> Result<ExprId> {
        let best: HashMap<_, _> = extract(eg, cost)
            .into_iter()
            .map(|(k, (_, n))| (k, n))
            .collect();
        build_in_pool(pool, eg, &best, root)
    };
    // The input is always a candidate, so a failed extraction only loses
    // the improvement.
    let mut candidates = vec![expr];
    if let Ok(c) = build(Cost::Ops) {
        candidates.push(c);
    }
    if opts.cost == Cost::Stability
        && let Ok(c) = build(Cost::Stability)
    {
        candidates.push(c);
    }
    candidates.dedup();
    let mut scored: Vec<(ExprId, usize, Option<f64>)> = Vec::new();
    for &c in &candidates {
        let Ok(n) = ops(pool, c, &vars) else { continue };
        let err = match &measured {
            Some((s, r, _)) => error_bits_against(pool, c, &vars, s, r)?,
            None => None,
        };
        scored.push((c, n, err));
    }
    let pick = match opts.cost {
        Cost::Ops => scored.iter().min_by_key(|(_, n, _)| *n).copied(),
        Cost::Stability if measured.is_some() => {
            let e = |x: Option<f64>| x.unwrap_or(f64::INFINITY);
            let best_err = scored.iter().map(|s| e(s.2)).fold(f64::INFINITY, f64::min);
            scored
                .iter()
                .filter(|s| e(s.2) <= best_err + 0.05)
                .min_by_key(|s| s.1)
                .copied()
        }
        // Too large to measure: keep the input (a static guess alone is
        // not trusted for accuracy).
        Cost::Stability => scored.first().copied(),
    };
    let (chosen, ops_after, after) = pick.unwrap_or((expr, ops_before, before));
    Ok(Report {
        expr: chosen,
        stop_reason,
        rules_fired,
        ops_before,
        ops_after,
        error_bits_before: before,
        error_bits_after: if measured.is_some() { after } else { None },
        iterations: runner.iterations.len(),
        egraph_nodes: eg.total_size(),
    })
}
