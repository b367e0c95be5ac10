//! The compile pipeline: expression -> tape -> a tier's evaluator.
//!
//! [`compile`] lowers an expression once and hands the tape to the tier that
//! [`CompileConfig`] and the expression's size select. A tier that is not
//! compiled in, or fails on an expression, falls back to the next one
//! (LLVM -> Cranelift -> interpreter) and records why in
//! [`CompiledFn::notes`], which the Python layer turns into warnings. The
//! interpreter always works, so compilation never fails for a backend reason.

mod cache;
mod config;
mod entry;
mod error;
mod function;
mod optimize;
mod tiers;

pub use cache::{CacheKey, CacheStats, CompileCache};
pub use config::{CompileConfig, Optimize, Tier};
pub use entry::{PAYLOAD_MAGIC, PAYLOAD_VERSION};
pub use error::{Error, Result};
pub use function::{CompiledFn, Rewrite};
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
    compile_keeping(pool, &[expr], vars, config, None)
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
    compile_keeping(pool, exprs, vars, config, None)
}

/// [`compile_many`]; with `object`, an LLVM build also leaves its object
/// code there (for the disk cache).
pub(crate) fn compile_keeping(
    pool: &ExprPool,
    exprs: &[ExprId],
    vars: &[ExprId],
    config: &CompileConfig,
    object: Option<&mut Option<Vec<u8>>>,
) -> Result<CompiledFn> {
    // Lower once up front: it validates the variables against the
    // expressions the user wrote, before any rewriting.
    let tape = alkahest_kernel::lower_many(pool, exprs, vars)?;
    let (exprs, tape, rewrite, notes) = optimize::run(pool, exprs, vars, config, tape)?;
    let source = tiers::Source {
        pool: pool.clone(),
        exprs,
        vars: vars.to_vec(),
    };
    Ok(CompiledFn::build_keeping(
        tape,
        config.clone(),
        Some(source),
        rewrite,
        notes,
        object,
    ))
}
