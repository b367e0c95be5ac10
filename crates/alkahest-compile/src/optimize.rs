//! Rewriting before lowering (`CompileConfig::optimize`), through the
//! e-graph crate when it is compiled in.

use alkahest_core::{ExprId, ExprPool, Written};
use alkahest_tape::Tape;

use crate::config::{CompileConfig, Optimize};
use crate::error::Result;
use crate::function::Rewrite;

/// What [`run`] returns: the expressions and tape to compile, what was
/// rewritten, and notes (e.g. optimizer not compiled in).
type Rewritten = (Vec<ExprId>, Tape, Option<Rewrite>, Vec<String>);

/// Rewrite `exprs` per `config.optimize`.
///
/// Several outputs are not put through the e-graph: it rewrites one root
/// at a time, and rewriting each output alone would undo the sharing
/// between them that one tape exploits (a Jacobian shares most of its work
/// with its function). They get the tape-level passes only (FMA
/// contraction under `speed`), and a note says so under `accuracy`.
///
/// `written` (one per expression, when their written forms differ from
/// the canonical ones and the setting reads them) is what the user wrote:
/// `optimize="none"` compiles it as it is; `"accuracy"` falls back to it
/// wherever it keeps an expression (see [`rewrite`]).
pub(crate) fn run(
    pool: &ExprPool,
    exprs: &[ExprId],
    written: Option<&[Written]>,
    vars: &[ExprId],
    config: &CompileConfig,
    tape: Tape,
) -> Result<Rewritten> {
    if config.optimize == Optimize::None {
        let tape = match written {
            Some(w) => alkahest_tape::lower_written(pool, w, vars)?,
            None => tape,
        };
        return Ok((exprs.to_vec(), tape, None, Vec::new()));
    }
    if let [expr] = exprs {
        let w = written.map(|w| &w[0]);
        let (e, t, rw, notes) = rewrite(pool, *expr, w, vars, config, tape)?;
        return Ok((vec![e], t, rw, notes));
    }
    let tape = match written {
        Some(w) => alkahest_tape::lower_written(pool, w, vars)?,
        None => tape,
    };
    let mut notes = Vec::new();
    if config.optimize == Optimize::Accuracy {
        notes.push(
            "optimize='accuracy' rewrites single expressions only; these outputs are compiled as written"
                .to_owned(),
        );
    }
    let ops_before = tape.n_compute();
    let (tape, fused) = if config.optimize == Optimize::Speed && alkahest_tape::hardware_fma() {
        alkahest_tape::contract_fma(&tape)
    } else {
        (tape, 0)
    };
    let rw = Rewrite {
        exprs: exprs.to_vec(),
        rules_fired: if fused > 0 {
            vec![("fma".to_owned(), fused)]
        } else {
            Vec::new()
        },
        stop_reason: "several outputs: e-graph not run (tape passes only)".to_owned(),
        ops_before,
        ops_after: tape.n_compute(),
        error_bits_before: None,
        error_bits_after: None,
    };
    Ok((exprs.to_vec(), tape, Some(rw), notes))
}

#[cfg(feature = "egraph")]
fn rewrite(
    pool: &ExprPool,
    expr: ExprId,
    written: Option<&Written>,
    vars: &[ExprId],
    config: &CompileConfig,
    tape: Tape,
) -> Result<(ExprId, Tape, Option<Rewrite>, Vec<String>)> {
    use alkahest_egraph::{Cost, Options, simplify};
    let n_nodes = pool.view().reachable(&[expr]).len();
    let mut opts = match config.optimize {
        Optimize::Accuracy => Options::new(Cost::Stability),
        _ => speed_options(n_nodes),
    };
    opts.cost = match config.optimize {
        Optimize::Accuracy => Cost::Stability,
        _ => Cost::Ops,
    };
    let opts = opts.with_domain(
        config
            .domain
            .entries()
            .iter()
            .map(|(n, lo, hi)| (n.as_str(), *lo, *hi)),
    );
    let ops_written = tape.n_compute();
    // Speed: a polynomial in one of the variables goes to Horner form first
    // when that takes fewer operations (the e-graph's rules do not reach it
    // within the default budget: `sum c_k x^k` is 2n-1 multiplies, Horner n).
    let horner = if config.optimize == Optimize::Speed {
        horner_form(pool, expr, vars, n_nodes, ops_written)
    } else {
        None
    };
    // A Horner form is final: the e-graph's rules only reassociate and
    // redistribute it (on the dense degree-10 polynomial they ran the whole
    // 3.4 ms budget and found nothing), so it goes straight to lowering.
    let (out, mut rules_fired, stop_reason, rewritten_ops, bits, measured) = match horner {
        Some((h, ops)) => (
            h,
            vec![("horner".to_owned(), 1)],
            "Horner form (e-graph not run)".to_owned(),
            ops,
            (None, None),
            None,
        ),
        None => match simplify(pool, expr, &opts) {
            Ok(r) => (
                r.expr,
                r.rules_fired,
                format!("{:?}", r.stop_reason),
                r.ops_after,
                (r.error_bits_before, r.error_bits_after),
                r.measured,
            ),
            Err(e) => {
                let note = format!(
                    "the e-graph optimizer failed ({e}); compiling the expression as written"
                );
                let tape = match written {
                    Some(w) => alkahest_tape::lower_written(pool, std::slice::from_ref(w), vars)?,
                    None => tape,
                };
                return Ok((expr, tape, None, vec![note]));
            }
        },
    };
    // Where the result keeps the input (unchanged, or as the fallback of a
    // guarded rewrite), it keeps it as the user wrote it.
    let (mut out, mut new_tape) = match written {
        Some(w) if out == expr => (
            out,
            alkahest_tape::lower_written(pool, std::slice::from_ref(w), vars)?,
        ),
        Some(w) => (
            out,
            alkahest_tape::lower_overriding(
                pool,
                &[Written::expr(out)],
                vars,
                &[(expr, w.clone())],
            )?,
        ),
        None if out == expr => (out, tape),
        None => (out, alkahest_tape::lower(pool, out, vars)?),
    };
    // Accuracy never ends worse than written: the e-graph measured its
    // candidates against the canonical form, so the written form (which
    // may round differently) is measured against the result here, on the
    // e-graph's own samples, and kept when it is more accurate.
    let mut bits = bits;
    let mut kept_written = false;
    if let Some(w) = written
        && config.optimize == Optimize::Accuracy
        && out != expr
    {
        let as_written = alkahest_tape::lower_written(pool, std::slice::from_ref(w), vars)?;
        if let Some((e_written, e_result)) =
            compare_on_samples(measured.as_ref(), vars, &as_written, &new_tape)
        {
            bits.0 = Some(e_written);
            if e_written < e_result {
                (out, new_tape) = (expr, as_written);
                bits.1 = Some(e_written);
                kept_written = true;
            } else {
                bits.1 = Some(e_result);
            }
        }
    }
    let stop_reason = if kept_written {
        format!("{stop_reason}; kept as written (more accurate on the samples)")
    } else {
        stop_reason
    };
    // Speed, on hardware with fused multiply-add: `a*b + c` in one rounding
    // (never less accurate; a Horner polynomial becomes one FMA per degree).
    let (new_tape, fused) = if config.optimize == Optimize::Speed && alkahest_tape::hardware_fma() {
        alkahest_tape::contract_fma(&new_tape)
    } else {
        (new_tape, 0)
    };
    if fused > 0 {
        rules_fired.push(("fma".to_owned(), fused));
    }
    let ops_after = if fused > 0 {
        new_tape.n_compute()
    } else {
        rewritten_ops
    };
    let rw = Rewrite {
        exprs: vec![out],
        rules_fired,
        stop_reason,
        ops_before: ops_written,
        ops_after,
        error_bits_before: bits.0,
        error_bits_after: bits.1,
    };
    Ok((out, new_tape, Some(rw), Vec::new()))
}

/// Inputs above this many DAG nodes are not tried for Horner form (the
/// expansion behind it is polynomial in the degree and term count).
#[cfg(feature = "egraph")]
const HORNER_MAX_NODES: usize = 2_000;

/// `expr` in Horner form in the first variable for which it is a
/// polynomial of degree >= 2 and the form has fewer tape operations than
/// `ops_written`; with its operation count.
#[cfg(feature = "egraph")]
fn horner_form(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    n_nodes: usize,
    ops_written: usize,
) -> Option<(ExprId, usize)> {
    if n_nodes > HORNER_MAX_NODES || !matches!(pool.node(expr), Ok(alkahest_core::Node::Add(_))) {
        return None;
    }
    vars.iter().find_map(|&v| {
        // `horner` would fail (after interning coefficients): skip it.
        if !alkahest_core::may_be_polynomial(pool, expr, v) {
            return None;
        }
        let h = alkahest_core::horner(pool, expr, v).ok()?;
        if h == expr {
            return None;
        }
        let ops = alkahest_tape::lower(pool, h, vars).ok()?.n_compute();
        (ops < ops_written).then_some((h, ops))
    })
}

/// Saturation budget of `optimize="speed"`, the default of every compile:
/// it scales with the input so a small expression pays well under a
/// millisecond, not the 150 ms the standalone `simplify` may spend.
///
/// The budget is counted in iterations, e-graph nodes and iterations
/// without a cheaper extraction ([`SPEED_PATIENCE`]), not in time, so the
/// same expression is rewritten the same way on a loaded machine as on an
/// idle one. The time limit is only a safety net against inputs the
/// counted limits do not bound: idle, they stop 10-node inputs in ~5 ms and
/// 1,000-node ones in ~30 ms (bench_default_compile.py), and the limit is
/// 15-20 times that, so a loaded machine (four processes on two cores in
/// `test_racing_processes_share_one_directory`) does not hit it and rewrite
/// differently. At 20 ms + 0.4 ms/node it was hit there.
/// Small inputs usually saturate well inside it; on the rest the
/// commutativity/associativity rules grow the e-graph without lowering the
/// operation count, which is what the node budget caps.
#[cfg(feature = "egraph")]
fn speed_options(input_nodes: usize) -> alkahest_egraph::Options {
    let mut o = alkahest_egraph::Options::new(alkahest_egraph::Cost::Ops);
    let micros = (100_000 + 2_000 * input_nodes as u64).min(5_000_000);
    o.time_limit = std::time::Duration::from_micros(micros);
    o.iter_limit = SPEED_ITERATIONS;
    o.node_limit = o.node_limit.min(2_000 + 4 * input_nodes);
    o.patience = Some(SPEED_PATIENCE);
    o.patience_from = SPEED_PATIENCE_FROM;
    o
}

/// Saturation iterations of `optimize="speed"`: the operation count of the
/// benchmark formulas stops falling after 3-4.
#[cfg(feature = "egraph")]
const SPEED_ITERATIONS: usize = 4;

/// Iterations without a cheaper extraction after which `optimize="speed"`
/// stops saturating, counted from iteration [`SPEED_PATIENCE_FROM`].
///
/// Measured on 83 small formulas (the e-graph crate's accuracy and Hamming
/// suites, the benchmark formulas and textbook identities): three
/// iterations, then a fourth only where the third lowered the cost, ends
/// with 285 operations in all in 9.1 ms; patience 2 counted from the start
/// ended with 292 in 11 ms (two stalled commuting iterations stopped it
/// before the rewrites they set up), and four iterations without patience
/// with 285 in 12.3 ms. Issue 17's mixed formula: 0.35 -> 0.23 ms.
#[cfg(feature = "egraph")]
const SPEED_PATIENCE: usize = 1;

/// Iterations `optimize="speed"` always runs before patience counts.
#[cfg(feature = "egraph")]
const SPEED_PATIENCE_FROM: usize = 2;

#[cfg(not(feature = "egraph"))]
fn rewrite(
    pool: &ExprPool,
    expr: ExprId,
    written: Option<&Written>,
    vars: &[ExprId],
    config: &CompileConfig,
    tape: Tape,
) -> Result<(ExprId, Tape, Option<Rewrite>, Vec<String>)> {
    let note = format!(
        "optimize='{}' needs the e-graph optimizer, which this build lacks (cargo feature 'egraph'); compiling the expression as written",
        config.optimize.name()
    );
    let tape = match written {
        Some(w) => alkahest_tape::lower_written(pool, std::slice::from_ref(w), vars)?,
        None => tape,
    };
    Ok((expr, tape, None, vec![note]))
}

/// Mean bits of error of `written` and of `result` (tapes over `vars`) on
/// the samples the e-graph measured (`(their variables, samples)`);
/// `None` when nothing was measured or no sample has a reference.
#[cfg(feature = "egraph")]
fn compare_on_samples(
    measured: Option<&(Vec<ExprId>, alkahest_egraph::Sampled)>,
    vars: &[ExprId],
    written: &Tape,
    result: &Tape,
) -> Option<(f64, f64)> {
    let (on, m) = measured?;
    let n = m.reference.len();
    // The e-graph sampled the expression's free symbols; a variable it does
    // not use can take any value.
    let columns = vars
        .iter()
        .map(|v| match on.iter().position(|u| u == v) {
            Some(i) => m.samples.columns[i].clone(),
            None => vec![0.0; n],
        })
        .collect();
    let samples = alkahest_egraph::Samples { columns };
    let e = |t: &Tape| alkahest_egraph::accuracy::tape_error_bits(t, &samples, &m.reference);
    Some((e(written)?, e(result)?))
}
