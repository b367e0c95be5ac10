//! The compile pipeline: expression -> tape -> a tier's evaluator.
//!
//! [`compile`] lowers an expression once and hands the tape to the tier that
//! [`CompileConfig`] and the expression's size select: the [`Plan`], a pure
//! function of the configuration, the tape's statistics, the batch about to
//! run and the tiers in the build, which also says when a function moves up
//! later. A tier that is not compiled in, or fails on an expression, falls
//! back to the next one (LLVM -> Cranelift -> interpreter) and records why
//! ([`CompiledFn::fallbacks`], and as text in [`CompiledFn::notes`], which
//! the Python layer turns into warnings). The interpreter always works, so
//! compilation never fails for a backend reason.

mod background;
mod cache;
mod config;
mod entry;
mod error;
mod fallback;
mod function;
mod optimize;
mod plan;
mod tiers;

pub use background::{EXIT_WAIT, running_builds, wait_idle};
pub use cache::{CacheKey, CacheStats, CompileCache};
pub use config::{CompileConfig, Domain, Optimize, Tier};
pub use entry::{PAYLOAD_MAGIC, PAYLOAD_VERSION};
pub use error::{Error, Result};
pub use fallback::{Fallback, Reason, Scope};
pub use function::{CompiledFn, Rewrite};
pub use plan::{BatchStep, LlvmPlan, Plan, ScalarMove, TapeStats};
pub use tiers::{available_tiers, features};

use alkahest_core::{ExprId, ExprPool};

/// Lower `expr` over `vars` and compile it per `config` (rewriting it
/// first when `config.optimize` asks for it).
pub fn compile(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    config: &CompileConfig,
) -> Result<CompiledFn> {
    compile_many(pool, &[expr], vars, config)
}

/// Compile several expressions over the same inputs into one function with
/// an output per expression: shared subexpressions are computed once per
/// point, in every tier.
pub fn compile_many(
    pool: &ExprPool,
    exprs: &[ExprId],
    vars: &[ExprId],
    config: &CompileConfig,
) -> Result<CompiledFn> {
    Ok(compile_keeping(pool, exprs, vars, config, false)?.0)
}

/// [`compile_many`]; with `keep_object`, also the object code of an LLVM
/// build (for the disk cache).
pub(crate) fn compile_keeping(
    pool: &ExprPool,
    exprs: &[ExprId],
    vars: &[ExprId],
    config: &CompileConfig,
    keep_object: bool,
) -> Result<(CompiledFn, Option<Vec<u8>>)> {
    // Lower once up front: it validates the variables against the
    // expressions the user wrote, before any rewriting.
    let tape = alkahest_kernel::lower_many(pool, exprs, vars)?;
    check_domain(pool, vars, &config.domain)?;
    let (exprs, tape, rewrite, notes) = optimize::run(pool, exprs, vars, config, tape)?;
    let source = tiers::Source {
        pool: pool.clone(),
        exprs,
        vars: vars.to_vec(),
    };
    Ok(CompiledFn::build(
        tape,
        config.clone(),
        Some(source),
        rewrite,
        notes,
        keep_object,
    ))
}

/// Every name in `domain` must be one of the variables.
fn check_domain(pool: &ExprPool, vars: &[ExprId], domain: &Domain) -> Result<()> {
    for (name, ..) in domain.entries() {
        let known = vars.iter().any(|&v| {
            matches!(pool.node(v), Ok(alkahest_core::Node::Symbol(s)) if s.as_ref() == name.as_str())
        });
        if !known {
            return Err(Error::BadDomain {
                var: name.clone(),
                reason: "not one of the function's variables".to_owned(),
            });
        }
    }
    Ok(())
}
