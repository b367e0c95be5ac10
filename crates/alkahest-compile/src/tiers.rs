//! Which tiers exist in this build, and building one of them.

use std::sync::Arc;

use alkahest_tape::{ConstantOutputs, Evaluator, Tape};

use crate::config::Tier;
use crate::fallback::{Fallback, Reason};
use crate::plan::{LlvmPlan, below};

/// Tiers compiled into this build, in fallback order (best last).
pub fn available_tiers() -> Vec<Tier> {
    AVAILABLE.to_vec()
}

/// [`available_tiers`], without allocating.
pub(crate) const AVAILABLE: &[Tier] = &[
    Tier::Interpreter,
    #[cfg(feature = "cranelift")]
    Tier::Cranelift,
    #[cfg(feature = "jit")]
    Tier::Llvm,
    #[cfg(feature = "mlir")]
    Tier::Mlir,
];

/// Which optional backends this build contains, by cargo feature name.
pub fn features() -> Vec<(&'static str, bool)> {
    vec![
        ("interpreter", true),
        ("cranelift", cfg!(feature = "cranelift")),
        ("jit", cfg!(feature = "jit")),
        ("mlir", cfg!(feature = "mlir")),
        ("egraph", cfg!(feature = "egraph")),
    ]
}

/// The cargo feature that compiles `t` in (`"interpreter"`, as in
/// [`features`], for the tier that is always there).
pub(crate) fn cargo_feature(t: Tier) -> &'static str {
    match t {
        Tier::Interpreter => "interpreter",
        Tier::Cranelift => "cranelift",
        Tier::Llvm => "jit",
        Tier::Mlir => "mlir",
    }
}

/// The expressions a tape came from, for backends that start from the DAG
/// rather than the tape (MLIR recognizes polynomials there).
#[derive(Clone)]
#[cfg_attr(not(feature = "mlir"), allow(dead_code))]
pub(crate) struct Source {
    pub(crate) pool: alkahest_core::ExprPool,
    pub(crate) exprs: Vec<alkahest_core::ExprId>,
    pub(crate) vars: Vec<alkahest_core::ExprId>,
    /// The tape evaluates the expressions as written, in an order their
    /// canonical form lost (`optimize="none"`): a tier that starts from the
    /// canonical form would compute something else.
    pub(crate) regrouped: bool,
    /// Let MLIR recognize polynomials and rational functions (Horner,
    /// `poly_eval`): a rewrite, so off under `optimize="none"`, where it
    /// changed special values (`x**2 - x` at inf gave inf, not NaN).
    pub(crate) recognize: bool,
}

/// What [`build`] made.
pub(crate) struct Built {
    /// The tier that was built (the one asked for, or one it fell back to).
    pub(crate) tier: Tier,
    pub(crate) evaluator: Arc<dyn Evaluator>,
    /// The LLVM object code, when it was asked for and LLVM was built.
    pub(crate) object: Option<Vec<u8>>,
    /// One per tier given up on the way, in order.
    pub(crate) fallbacks: Vec<Fallback>,
}

/// Build `t` (LLVM with `llvm`), falling back down the chain until a tier
/// builds (the interpreter always does). With `keep_object`, an LLVM build
/// also returns its object code (for the disk cache).
pub(crate) fn build(
    t: Tier,
    tape: &Tape,
    llvm: LlvmPlan,
    source: Option<&Source>,
    keep_object: bool,
) -> Built {
    let mut fallbacks = Vec::new();
    let mut t = t;
    loop {
        match build_one(t, tape, llvm, source, keep_object) {
            Ok(built) => return Built { fallbacks, ..built },
            Err(reason) => {
                let to = below(t).expect("the interpreter always builds");
                fallbacks.push(Fallback::function(t, to, reason));
                t = to;
            }
        }
    }
}

/// Build `t` alone (with `keep_object`, an LLVM build also returns its
/// object code); `Err` when it is not compiled in or fails.
pub(crate) fn build_one(
    t: Tier,
    tape: &Tape,
    llvm: LlvmPlan,
    source: Option<&Source>,
    keep_object: bool,
) -> Result<Built, Reason> {
    let _ = (llvm, source, keep_object);
    #[cfg_attr(
        not(any(feature = "cranelift", feature = "jit", feature = "mlir")),
        allow(dead_code)
    )]
    fn failed(e: impl std::fmt::Display) -> Reason {
        Reason::BackendFailed(e.to_string())
    }
    // The code generators compile the computed outputs; constant ones are
    // filled in (see `ConstantOutputs`). MLIR compiles from expressions and
    // keeps every output.
    let split = match t {
        Tier::Mlir => None,
        _ => ConstantOutputs::split(tape),
    };
    let (tape, layout) = match &split {
        Some((inner, layout)) => (inner, Some(layout)),
        None => (tape, None),
    };
    let built = |evaluator: Arc<dyn Evaluator>, object| Built {
        tier: t,
        evaluator: match layout {
            Some(l) => l.clone().wrap(evaluator),
            None => evaluator,
        },
        object,
        fallbacks: Vec::new(),
    };
    match t {
        Tier::Interpreter => Ok(built(
            Arc::new(alkahest_interp::Interpreter::new(tape)),
            None,
        )),
        #[cfg(feature = "cranelift")]
        Tier::Cranelift => alkahest_cranelift::compile(tape)
            .map(|f| built(Arc::new(f), None))
            .map_err(failed),
        #[cfg(feature = "jit")]
        Tier::Llvm => {
            let opts = llvm.options();
            let compiled = if keep_object {
                // For the disk cache: objects that load with no code
                // generation, their routines inside.
                let opts = alkahest_llvm::LlvmOptions {
                    routine_library: false,
                    ..opts
                };
                alkahest_llvm::compile_keeping_object(tape, &opts).map(|(f, obj)| (f, Some(obj)))
            } else {
                alkahest_llvm::compile(tape, &opts).map(|f| (f, None))
            };
            crate::background::upgrade_library();
            compiled
                .map(|(f, obj)| built(Arc::new(f), obj))
                .map_err(failed)
        }
        #[cfg(feature = "mlir")]
        Tier::Mlir => match source {
            Some(s) if s.regrouped => Err(Reason::AsWritten),
            Some(s) => alkahest_mlir::compile_many(
                &s.pool,
                &s.exprs,
                &s.vars,
                alkahest_mlir::EmitOptions {
                    recognize: s.recognize,
                },
            )
            .map(|f| built(Arc::new(f), None))
            .map_err(failed),
            None => Err(Reason::NeedsSource),
        },
        #[cfg(not(feature = "cranelift"))]
        Tier::Cranelift => Err(Reason::NotCompiledIn(cargo_feature(t))),
        #[cfg(not(feature = "jit"))]
        Tier::Llvm => Err(Reason::NotCompiledIn(cargo_feature(t))),
        #[cfg(not(feature = "mlir"))]
        Tier::Mlir => Err(Reason::NotCompiledIn(cargo_feature(t))),
    }
}
