//! Which tiers exist in this build, and how one is chosen.

use std::sync::Arc;

use alkahest_kernel::{Evaluator, Tape};

use crate::config::{CompileConfig, Tier};

/// Below this many compute ops, and with few planned evaluations, the
/// interpreter wins: it has no compile latency (see benches/RESULTS.md).
pub(crate) const SMALL_TAPE: usize = 64;
/// Planned evaluations above which a native tier pays for its compile time.
pub(crate) const NATIVE_EVALS: u64 = 10_000;
/// Planned evaluations above which LLVM's slower compile pays off.
pub(crate) const LLVM_EVALS: u64 = 1_000_000;
/// Largest tape (compute ops) that implicit dispatch sends to LLVM.
pub(crate) const LLVM_MAX_OPS: usize = 5_000;
/// A batch this large upgrades an interpreter-tier function to native code.
pub(crate) const UPGRADE_BATCH: usize = 65_536;

/// Tiers compiled into this build, in fallback order (best last).
pub fn available_tiers() -> Vec<Tier> {
    let mut t = vec![Tier::Interpreter];
    if cfg!(feature = "cranelift") {
        t.push(Tier::Cranelift);
    }
    if cfg!(feature = "jit") {
        t.push(Tier::Llvm);
    }
    if cfg!(feature = "mlir") {
        t.push(Tier::Mlir);
    }
    t
}

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

/// The tier the configuration asks for, before availability is considered.
pub(crate) fn wanted(config: &CompileConfig, tape: &Tape, batch_hint: usize) -> Tier {
    if let Some(t) = config.force_tier {
        return t;
    }
    let evals = config.expected_evals.unwrap_or(0).max(batch_hint as u64);
    if evals >= LLVM_EVALS && tape.n_compute() <= LLVM_MAX_OPS {
        Tier::Llvm
    } else if evals >= LLVM_EVALS {
        // LLVM's compile time grows ~0.14 ms per op (benches/RESULTS.md):
        // beyond this size Cranelift's much faster compile wins overall.
        Tier::Cranelift
    } else if evals >= NATIVE_EVALS || tape.n_compute() > SMALL_TAPE {
        Tier::Cranelift
    } else {
        Tier::Interpreter
    }
}

/// The best available tier not above `t` (implicit choices never warn about
/// a tier that simply is not compiled in).
pub(crate) fn clamp(t: Tier) -> Tier {
    let avail = available_tiers();
    let mut t = t;
    while !avail.contains(&t) {
        t = fallback(t).unwrap_or(Tier::Interpreter);
    }
    t
}

/// Fallback order below `t`.
fn fallback(t: Tier) -> Option<Tier> {
    match t {
        Tier::Mlir => Some(Tier::Llvm),
        Tier::Llvm => Some(Tier::Cranelift),
        Tier::Cranelift => Some(Tier::Interpreter),
        Tier::Interpreter => None,
    }
}

/// The expression a tape came from, for backends that start from the DAG
/// rather than the tape (MLIR recognizes polynomials there).
#[derive(Clone)]
#[cfg_attr(not(feature = "mlir"), allow(dead_code))]
pub(crate) struct Source {
    pub(crate) pool: alkahest_core::ExprPool,
    pub(crate) expr: alkahest_core::ExprId,
    pub(crate) vars: Vec<alkahest_core::ExprId>,
}

/// The LLVM options a configuration compiles with (one definition, shared
/// by compilation and the disk cache key).
#[cfg(feature = "jit")]
pub(crate) fn llvm_options(config: &CompileConfig) -> alkahest_llvm::LlvmOptions {
    alkahest_llvm::LlvmOptions {
        fast_math: config.fast_math,
        ..Default::default()
    }
}

/// Try to build `t`; `Err(reason)` when it is not compiled in or fails.
/// With `object`, an LLVM build also stores its object code there (for the
/// disk cache).
pub(crate) fn build(
    t: Tier,
    tape: &Tape,
    config: &CompileConfig,
    source: Option<&Source>,
    object: Option<&mut Option<Vec<u8>>>,
) -> Result<Arc<dyn Evaluator>, String> {
    let _ = (config, source, &object);
    match t {
        #[cfg(feature = "mlir")]
        Tier::Mlir => match source {
            Some(s) => alkahest_mlir::compile(&s.pool, s.expr, &s.vars)
                .map(|f| Arc::new(f) as Arc<dyn Evaluator>)
                .map_err(|e| format!("MLIR could not compile this expression ({e})")),
            None => Err("the MLIR tier needs the source expression".into()),
        },
        #[cfg(not(feature = "mlir"))]
        Tier::Mlir => Err("this build has no MLIR tier (cargo feature 'mlir')".into()),
        Tier::Interpreter => Ok(Arc::new(alkahest_interp::Interpreter::new(tape))),
        #[cfg(feature = "cranelift")]
        Tier::Cranelift => alkahest_cranelift::compile(tape)
            .map(|f| Arc::new(f) as Arc<dyn Evaluator>)
            .map_err(|e| format!("Cranelift could not compile this expression ({e})")),
        #[cfg(not(feature = "cranelift"))]
        Tier::Cranelift => {
            Err("this build has no Cranelift tier (cargo feature 'cranelift')".into())
        }
        #[cfg(feature = "jit")]
        Tier::Llvm => {
            let opts = llvm_options(config);
            let compiled = match object {
                None => alkahest_llvm::compile(tape, &opts),
                // Same work as `compile` (which is emit + load), keeping the bytes.
                Some(slot) => alkahest_llvm::emit_object(tape, &opts).and_then(|obj| {
                    // SAFETY: `obj` comes straight from `emit_object`.
                    let f = unsafe { alkahest_llvm::load_object(&obj) }?;
                    *slot = Some(obj);
                    Ok(f)
                }),
            };
            compiled
                .map(|f| Arc::new(f) as Arc<dyn Evaluator>)
                .map_err(|e| format!("LLVM could not compile this expression ({e})"))
        }
        #[cfg(not(feature = "jit"))]
        Tier::Llvm => Err("this build has no LLVM tier (cargo feature 'jit')".into()),
    }
}

/// Build `want`, falling back down the chain; returns the tier that was
/// built, its evaluator, and one note per tier that was skipped. With
/// `object`, an LLVM build leaves its object code there.
pub(crate) fn build_with_fallback(
    want: Tier,
    tape: &Tape,
    config: &CompileConfig,
    source: Option<&Source>,
    mut object: Option<&mut Option<Vec<u8>>>,
) -> (Tier, Arc<dyn Evaluator>, Vec<String>) {
    let mut notes = Vec::new();
    let mut t = want;
    loop {
        match build(t, tape, config, source, object.as_deref_mut()) {
            Ok(ev) => return (t, ev, notes),
            Err(why) => {
                let next = fallback(t).expect("the interpreter always builds");
                notes.push(format!("{why}; falling back to the {} tier", next.name()));
                t = next;
            }
        }
    }
}
