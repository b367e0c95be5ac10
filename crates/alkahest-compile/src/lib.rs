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

pub use alkahest_core::Written;
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
    Ok(compile_keeping(pool, exprs, None, vars, config, false)?.0)
}

/// [`compile_many`] for expressions whose written form is known (one
/// [`Written`] per expression, e.g. recorded by the Python operators):
/// with `optimize="none"` the function evaluates the written form,
/// operation for operation, instead of the pool's canonical form (which
/// may regroup sums and products). `"accuracy"` rewrites the canonical
/// form, keeps the written form wherever its result keeps the expression
/// (unchanged, or as the fallback of a guarded rewrite), and keeps the
/// written form whole when that measures more accurate on the samples.
/// `"speed"` rewrites the canonical form alone.
pub fn compile_written(
    pool: &ExprPool,
    exprs: &[ExprId],
    written: &[Written],
    vars: &[ExprId],
    config: &CompileConfig,
) -> Result<CompiledFn> {
    Ok(compile_keeping(pool, exprs, Some(written), vars, config, false)?.0)
}

/// The written forms that change what `config` compiles: those of `exprs`
/// when one of them is not just its canonical expression and `config` reads
/// them (`optimize="none"` and `"accuracy"`; `"speed"` rewrites the
/// canonical form alone, so its functions and cache entries do not depend
/// on how an expression was grouped); `None` otherwise.
pub(crate) fn effective_written<'a>(
    exprs: &[ExprId],
    written: Option<&'a [Written]>,
    config: &CompileConfig,
) -> Result<Option<&'a [Written]>> {
    let Some(w) = written else { return Ok(None) };
    if w.len() != exprs.len() {
        return Err(Error::WrittenMismatch {
            exprs: exprs.len(),
            written: w.len(),
        });
    }
    let differs = w.iter().zip(exprs).any(|(w, &e)| w.leaf() != Some(e));
    let reads_it = matches!(config.optimize, Optimize::None | Optimize::Accuracy);
    Ok((differs && reads_it).then_some(w))
}

/// [`compile_many`]; with `keep_object`, also the object code of an LLVM
/// build (for the disk cache).
pub(crate) fn compile_keeping(
    pool: &ExprPool,
    exprs: &[ExprId],
    written: Option<&[Written]>,
    vars: &[ExprId],
    config: &CompileConfig,
    keep_object: bool,
) -> Result<(CompiledFn, Option<Vec<u8>>)> {
    // Lower once up front: it validates the variables against the
    // expressions the user wrote, before any rewriting.
    let tape = alkahest_tape::lower_many(pool, exprs, vars)?;
    check_domain(pool, vars, &config.domain)?;
    let written = effective_written(exprs, written, config)?;
    let canonical_none =
        (config.optimize == Optimize::None && written.is_some()).then(|| tape.clone());
    let (exprs, tape, rewrite, notes) = optimize::run(pool, exprs, written, vars, config, tape)?;
    // Under `optimize="none"`, tiers that start from the canonical
    // expression (MLIR) serve only where it evaluates the same operations
    // as the written form; the other settings compile the canonical
    // (rewritten) form there, as documented.
    let regrouped = canonical_none.is_some_and(|c| c != tape);
    let source = tiers::Source {
        pool: pool.clone(),
        exprs,
        vars: vars.to_vec(),
        regrouped,
        recognize: config.optimize != Optimize::None,
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
