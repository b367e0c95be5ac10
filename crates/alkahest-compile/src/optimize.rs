//! Rewriting before lowering (`CompileConfig::optimize`), through the
//! e-graph crate when it is compiled in.

use alkahest_core::{ExprId, ExprPool};
use alkahest_kernel::Tape;

use crate::config::{CompileConfig, Optimize};
use crate::error::Result;
use crate::function::Rewrite;

/// Rewrite `expr` per `config.optimize`; returns the expression and tape to
/// compile, what was rewritten, and notes (e.g. optimizer not compiled in).
pub(crate) fn run(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    config: &CompileConfig,
    tape: Tape,
) -> Result<(ExprId, Tape, Option<Rewrite>, Vec<String>)> {
    if config.optimize == Optimize::None {
        return Ok((expr, tape, None, Vec::new()));
    }
    rewrite(pool, expr, vars, config, tape)
}

#[cfg(feature = "egraph")]
fn rewrite(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    config: &CompileConfig,
    tape: Tape,
) -> Result<(ExprId, Tape, Option<Rewrite>, Vec<String>)> {
    use alkahest_egraph::{Cost, Options, simplify};
    let mut opts = match config.optimize {
        Optimize::Accuracy => Options::new(Cost::Stability),
        _ => speed_options(pool.view().reachable(&[expr]).len()),
    };
    opts.cost = match config.optimize {
        Optimize::Accuracy => Cost::Stability,
        _ => Cost::Ops,
    };
    let report = match simplify(pool, expr, &opts) {
        Ok(r) => r,
        Err(e) => {
            let note =
                format!("the e-graph optimizer failed ({e}); compiling the expression as written");
            return Ok((expr, tape, None, vec![note]));
        }
    };
    let new_tape = if report.expr == expr {
        tape
    } else {
        alkahest_kernel::lower(pool, report.expr, vars)?
    };
    let rw = Rewrite {
        expr: report.expr,
        rules_fired: report.rules_fired.clone(),
        stop_reason: format!("{:?}", report.stop_reason),
        ops_before: report.ops_before,
        ops_after: report.ops_after,
        error_bits_before: report.error_bits_before,
        error_bits_after: report.error_bits_after,
    };
    Ok((report.expr, new_tape, Some(rw), Vec::new()))
}

/// Saturation budget of `optimize="speed"`, the default of every compile:
/// it scales with the input so a small expression pays milliseconds, not
/// the 150 ms the standalone `simplify` may spend. Small inputs usually
/// saturate well inside it; on the rest the commutativity/associativity
/// rules grow the e-graph without lowering the operation count, which is
/// what the node budget caps.
#[cfg(feature = "egraph")]
fn speed_options(input_nodes: usize) -> alkahest_egraph::Options {
    let mut o = alkahest_egraph::Options::new(alkahest_egraph::Cost::Ops);
    let micros = (2_000 + 40 * input_nodes as u64).min(150_000);
    o.time_limit = std::time::Duration::from_micros(micros);
    o.node_limit = o.node_limit.min(2_000 + 10 * input_nodes);
    o
}

#[cfg(not(feature = "egraph"))]
fn rewrite(
    _pool: &ExprPool,
    expr: ExprId,
    _vars: &[ExprId],
    config: &CompileConfig,
    tape: Tape,
) -> Result<(ExprId, Tape, Option<Rewrite>, Vec<String>)> {
    let note = format!(
        "optimize='{}' needs the e-graph optimizer, which this build lacks (cargo feature 'egraph'); compiling the expression as written",
        config.optimize.name()
    );
    Ok((expr, tape, None, vec![note]))
}
