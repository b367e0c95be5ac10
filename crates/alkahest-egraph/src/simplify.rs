//! The entry point: saturate, extract candidates, measure, choose.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use alkahest_core::{ExprId, ExprPool, Node};
use egg::{Runner, Symbol};
use hashbrown::HashMap;

use crate::accuracy::{GroundTruth, Precision, SampleStats, Sampled, Sampler, error_bits_against};
use crate::analysis::{MathAnalysis, MathGraph};
use crate::convert::{add_to_egraph, build_in_pool};
use crate::cost::{Cost, Extraction, extract};
use crate::error::{Error, Result};
use crate::expand::{self, Center};
use crate::regimes::{Regime, best_split, build_regime, refine_threshold};
use crate::rules::all;
use crate::rules::reach::{Kinds, RuleTable};
use crate::schedule::Backoff;
use crate::search::{Cand, Search};

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
    /// Number of sample points for error measurement: points whose ground
    /// truth is a finite double (see [`Options::draw_factor`]).
    pub samples: usize,
    /// Sampling draws at most `samples * draw_factor` points to find
    /// `samples` where the expression is defined and finite (uniform over
    /// the bit patterns of the doubles in each variable's domain, Herbie's
    /// sampling); fewer are used when the budget runs out.
    pub draw_factor: usize,
    /// Precisions of the MPFR ground truth: it starts at `precision.start`
    /// bits and escalates until two precisions agree, giving up (and
    /// counting the point in [`SampleStats::unstable`]) above
    /// `precision.max`.
    pub precision: Precision,
    /// Candidates measured against each other (the input, the fastest, the
    /// most stable by the static cost, and alternatives of the classes on
    /// the most stable term, root first).
    pub max_candidates: usize,
    /// Infer regimes ([`Cost::Stability`] only): when two candidates win
    /// on different sides of a threshold on one variable, return
    /// `where(v < t, a, b)`.
    pub regimes: bool,
    /// A regime is kept only when it lowers the mean error on the samples
    /// by at least this many bits below the best single candidate.
    pub regime_margin: f64,
    /// Measurement is skipped above this many `nodes * samples` (the MPFR
    /// reference is the expensive part).
    pub max_measure_work: usize,
    /// Seed of the sampler (results are deterministic for a seed).
    pub seed: u64,
    /// The user's domain: declared input ranges `(name, lo, hi)` by symbol
    /// name. Sampling draws each variable from its range (uniform over the
    /// bit patterns of the doubles in it; all finite doubles for a symbol
    /// without one), and guarded rules may rely on it as a fact, so the
    /// result is only promised inside it. A bound may be infinite (`x > 0`
    /// is `(0, inf)`). Set with [`Options::with_range`] or
    /// [`Options::with_domain`].
    pub ranges: Vec<(String, f64, f64)>,
    /// Measure error before/after (always on for [`Cost::Stability`]).
    pub measure: bool,
    /// Stop once this many iterations in a row left the root's extracted
    /// cost unchanged (`None`: run to a limit). Small inputs rarely improve
    /// after a stall; the commutativity and associativity rules keep
    /// growing the e-graph regardless, so a time limit alone makes every
    /// small compile pay the whole budget.
    pub patience: Option<usize>,
    /// Iterations that always run before [`Options::patience`] starts
    /// counting. The first iterations mostly commute and reassociate, which
    /// leaves the cost where it was while setting up the rewrites that
    /// lower it, so a stall there says little; after them, a stall says
    /// saturation has stopped paying.
    pub patience_from: usize,
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
            draw_factor: 8,
            precision: Precision::default(),
            max_candidates: 32,
            regimes: true,
            regime_margin: 1.0,
            max_measure_work: 50_000,
            seed: 0x5eed_a1ca_4e57,
            ranges: Vec::new(),
            measure: cost == Cost::Stability,
            patience: None,
            patience_from: 0,
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

    /// Declare a domain for several symbols at once: `(name, lo, hi)` each
    /// (what `CompileConfig(domain={x: (lo, hi)})` passes through).
    pub fn with_domain<S: AsRef<str>>(
        mut self,
        domain: impl IntoIterator<Item = (S, f64, f64)>,
    ) -> Self {
        for (name, lo, hi) in domain {
            self.ranges.push((name.as_ref().to_string(), lo, hi));
        }
        self
    }

    /// Turn regime inference on or off.
    pub fn with_regimes(mut self, on: bool) -> Self {
        self.regimes = on;
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
    /// What sampling drew and kept (when measured).
    pub sampling: Option<SampleStats>,
    /// The regime split of the result, when it is one.
    pub regime: Option<Regime>,
    /// The samples measured on (columns in the order of the variables
    /// given with them), with their ground truth: a caller can measure
    /// other forms of the same expression on the same points for free.
    pub measured: Option<(Vec<ExprId>, Sampled)>,
}

/// The hook's stop message for [`StopReason::NoProgress`].
const NO_PROGRESS: &str = "no progress";

/// Inputs above this many DAG nodes saturate with a tenth of the node
/// budget and at most two iterations.
const LARGE_INPUT: usize = 5_000;

fn rules() -> &'static RuleTable {
    static RULES: OnceLock<RuleTable> = OnceLock::new();
    RULES.get_or_init(|| RuleTable::new(all()))
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
    Ok(alkahest_tape::lower(pool, expr, vars)?.n_compute())
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
        let empty = *lo == f64::INFINITY || *hi == f64::NEG_INFINITY;
        if lo.is_nan() || hi.is_nan() || lo > hi || empty {
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
    let measured: Option<Sampled> = if measure {
        let v = pool.view();
        let rs: Vec<Option<(f64, f64)>> = vars
            .iter()
            .map(|&id| match v.node(id) {
                Node::Symbol(s) => by_name.get(&**s).copied(),
                _ => None,
            })
            .collect();
        drop(v);
        let sampler = Sampler {
            ranges: rs,
            points: opts.samples,
            max_draws: opts.samples.saturating_mul(opts.draw_factor.max(1)),
            seed: opts.seed,
            precision: opts.precision,
        };
        Some(sampler.sample(pool, expr, &vars)?)
    } else {
        None
    };
    let before = match &measured {
        Some(m) => error_bits_against(pool, expr, &vars, &m.samples, &m.reference)?,
        None => None,
    };
    let sampling = measured.as_ref().map(|m| m.stats.clone());
    let measured_on = |m: &Option<Sampled>| m.clone().map(|m| (vars.clone(), m));

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
            sampling,
            regime: None,
            measured: measured_on(&measured),
        });
    }

    let mut eg = MathGraph::new(MathAnalysis { ranges });
    let root = add_to_egraph(pool, expr, &mut eg)?;
    eg.rebuild();
    let initial = eg.total_size();
    let present = eg
        .classes()
        .flat_map(|c| c.iter())
        .fold(Kinds::NONE, |k, n| k.with(Kinds::of(n)));
    // Large inputs get a small growth budget and few iterations: one egg
    // iteration on a wide sum can outlast the time limit, which is only
    // checked between rules.
    let (extra, iters) = if n_nodes > LARGE_INPUT {
        (opts.node_limit / 10, opts.iter_limit.min(2))
    } else {
        (opts.node_limit, opts.iter_limit)
    };
    let table = rules();
    let active = table.reachable(present);
    let scheduler = Backoff::new(active.iter().map(|&i| table.needs_of(i)).collect());
    let mut runner = Runner::default()
        .with_scheduler(scheduler)
        .with_egraph(eg)
        .with_node_limit(initial.saturating_add(extra))
        .with_iter_limit(iters)
        .with_time_limit(opts.time_limit);
    // The hook's last extraction by `Cost::Ops`: when patience stops the
    // run, the e-graph is the one it was taken from, and the final
    // extraction below reuses it.
    let last_ops: Rc<RefCell<Option<Extraction>>> = Rc::default();
    if let Some(patience) = opts.patience {
        // Runs before each iteration, on the rebuilt e-graph; extracts
        // only once patience counts.
        let (cost, from) = (opts.cost, opts.patience_from);
        let (mut best, mut stalled) = (f64::INFINITY, 0usize);
        let last = Rc::clone(&last_ops);
        runner = runner.with_hook(move |r| {
            if r.iterations.len() < from {
                return Ok(());
            }
            let extracted = extract(&r.egraph, cost);
            let c = extracted
                .get(&r.egraph.find(root))
                .map_or(f64::INFINITY, |e| e.0);
            *last.borrow_mut() = (cost == Cost::Ops).then_some(extracted);
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
    let runner = runner.run(active.iter().map(|&i| table.rule(i)));
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

    let stalled = matches!(stop_reason, StopReason::NoProgress(_));
    let reusable = RefCell::new(if stalled { last_ops.take() } else { None });
    let build = |cost: Cost| -> Result<ExprId> {
        let extracted = match reusable.borrow_mut().take() {
            Some(e) if cost == Cost::Ops => e,
            _ => extract(eg, cost),
        };
        let best: HashMap<_, _> = extracted.into_iter().map(|(k, (_, n))| (k, n)).collect();
        build_in_pool(pool, eg, &best, root)
    };
    let mut regime = None;
    let pick: Option<(ExprId, usize, Option<f64>)> = match (&measured, opts.cost) {
        (Some(m), Cost::Stability) => {
            let (p, r) = choose_measured(pool, expr, &vars, eg, root, m, opts, &build)?;
            regime = r;
            p
        }
        _ => {
            // The input is always a candidate, so a failed extraction only
            // loses the improvement.
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
                let n = if c == expr {
                    ops_before
                } else {
                    let Ok(n) = ops(pool, c, &vars) else { continue };
                    n
                };
                let err = match &measured {
                    Some(m) => error_bits_against(pool, c, &vars, &m.samples, &m.reference)?,
                    None => None,
                };
                scored.push((c, n, err));
            }
            match opts.cost {
                Cost::Ops => scored.iter().min_by_key(|(_, n, _)| *n).copied(),
                // Too large to measure: keep the input (a static guess
                // alone is not trusted for accuracy).
                Cost::Stability => scored.first().copied(),
            }
        }
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
        sampling,
        regime: regime.and_then(|(r, info)| (r == chosen).then_some(info)),
        measured: measured_on(&measured),
    })
}

/// The stability choice on measured samples: the input, the fastest term,
/// the searched candidates ([`Search`]), the best of them improved by
/// climbing, and a regime split when one clears the margin; then the most
/// accurate, never worse than the input (ties within 0.05 bits go to fewer
/// operations). Returns `(expr, ops, mean error)` and the regime built, if
/// any.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn choose_measured(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    eg: &MathGraph,
    root: egg::Id,
    m: &Sampled,
    opts: &Options,
    build: &dyn Fn(Cost) -> Result<ExprId>,
) -> Result<(
    Option<(ExprId, usize, Option<f64>)>,
    Option<(ExprId, Regime)>,
)> {
    let search = Search::new(
        pool,
        eg,
        root,
        vars,
        &m.samples,
        &m.reference,
        opts.max_candidates,
    );
    let Some(input) = search.measure(expr)? else {
        return Ok((None, None));
    };
    let before = input.mean(None);
    if m.reference.is_empty() {
        return Ok((Some((expr, input.ops, None)), None));
    }
    let mut cands = vec![input];
    if let Ok(c) = build(Cost::Ops)
        && c != expr
        && let Some(k) = search.measure(c)?
    {
        cands.push(k);
    }
    for c in search.seeds(opts.max_candidates)? {
        if !cands.iter().any(|k| k.expr == c.expr) {
            cands.push(c);
        }
    }
    // Truncated series around 0 and infinity (one variable only): exact
    // where the written form cancels structurally, useless far from their
    // centre, so they mostly win one side of a regime split.
    if let [var] = vars {
        for center in [Center::Zero, Center::Infinity] {
            for e in expand::candidates(pool, expr, *var, center) {
                if !cands.iter().any(|k| k.expr == e)
                    && let Some(k) = search.measure(e)?
                {
                    cands.push(k);
                }
            }
        }
    }
    // The most accurate searched candidate, improved on all samples.
    search.add_budget(opts.max_candidates);
    let by_err = |a: &&Cand, b: &&Cand| {
        a.mean(None)
            .total_cmp(&b.mean(None))
            .then(a.ops.cmp(&b.ops))
    };
    if let Some(best) = cands.iter().filter(|c| c.overlay.is_some()).min_by(by_err) {
        let climbed = search.climb(best.clone(), None)?;
        if !cands.iter().any(|k| k.expr == climbed.expr) {
            cands.push(climbed);
        }
    }
    let mut regime = None;
    if opts.regimes && !vars.is_empty() {
        let n = m.samples.len();
        let errs: Vec<Vec<f64>> = cands.iter().map(|c| c.errs.clone()).collect();
        let n_ops: Vec<usize> = cands.iter().map(|c| c.ops).collect();
        let min_region = (n / 32).max(3);
        // Any split first (no margin): each side is then improved on its
        // own points, and the margin is checked on the final selection.
        if let Some(split) = best_split(&errs, &n_ops, &m.samples.columns, min_region, 0.0) {
            // Each side improved on its own points.
            let col = &m.samples.columns[split.var];
            let key = |i: usize| if split.abs { col[i].abs() } else { col[i] };
            let below_pts: Vec<usize> = (0..n).filter(|&i| key(i) <= split.lo).collect();
            let above_pts: Vec<usize> = (0..n).filter(|&i| key(i) >= split.hi).collect();
            search.add_budget(opts.max_candidates);
            let below = search.climb(cands[split.below].clone(), Some(&below_pts))?;
            search.add_budget(opts.max_candidates);
            let above = search.climb(cands[split.above].clone(), Some(&above_pts))?;
            let truth = GroundTruth::new(pool, expr, vars, opts.precision)?;
            let t = refine_threshold(
                pool, &truth, vars, &m.samples, &split, below.expr, above.expr,
            )?;
            let r = build_regime(pool, vars[split.var], split.abs, t, below.expr, above.expr)?;
            // The improved sides compete as single candidates too.
            for c in [&below, &above] {
                if !cands.iter().any(|k| k.expr == c.expr) {
                    cands.push(c.clone());
                }
            }
            if let Some(k) = search.measure(r)? {
                let single = cands
                    .iter()
                    .map(|c| c.mean(None))
                    .fold(f64::INFINITY, f64::min);
                // Kept only if it clears the margin with the refined
                // threshold.
                if k.mean(None) + opts.regime_margin <= single {
                    let name = match pool.view().node(vars[split.var]) {
                        Node::Symbol(s) => s.to_string(),
                        _ => String::new(),
                    };
                    regime = Some((
                        r,
                        Regime {
                            var: name,
                            abs: split.abs,
                            threshold: t,
                            below: below.expr,
                            above: above.expr,
                            single_bits: single,
                            split_bits: split.bits,
                        },
                    ));
                    cands.push(k);
                }
            }
        }
    }
    // Never worse than written: only candidates at most as inaccurate as
    // the input on the samples qualify; among those within 0.05 bits of the
    // best, the fewest operations win.
    let ok: Vec<&Cand> = cands.iter().filter(|c| c.mean(None) <= before).collect();
    let best_err = ok
        .iter()
        .map(|c| c.mean(None))
        .fold(f64::INFINITY, f64::min);
    let pick = ok
        .into_iter()
        .filter(|c| c.mean(None) <= best_err + 0.05)
        .min_by_key(|c| c.ops)
        .map(|c| (c.expr, c.ops, Some(c.mean(None))));
    Ok((pick, regime))
}
