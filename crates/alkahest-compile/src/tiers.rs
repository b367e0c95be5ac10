//! Which tiers exist in this build, and how one is chosen.

use std::sync::Arc;

use alkahest_kernel::{Evaluator, Tape};

use crate::config::{CompileConfig, Tier};

/// Below this many compute ops, and with few planned evaluations, the
/// interpreter wins: it has no compile latency (see benches/RESULTS.md).
pub(crate) const SMALL_TAPE: usize = 64;
/// Planned evaluations above which a native tier pays for its compile time.
pub(crate) const NATIVE_EVALS: u64 = 10_000;
/// Planned evaluations above which LLVM's slower compile (~10 ms plus
/// ~0.1 ms per op) pays off against Cranelift on a small tape: the measured
/// crossovers were 0.3-0.6M points on the transcendental benchmark
/// expressions and 2.5M on a pure-arithmetic polynomial
/// (benches/bench_dispatch.py; "Dispatch crossovers" in benches/RESULTS.md).
pub(crate) const LLVM_EVALS: u64 = 250_000;
/// The same for tapes over [`SMALL_TAPE`] ops, where LLVM's code is 3.5-4x
/// faster per point than Cranelift's and the crossover was 4k-35k points
/// (100 to 5,000-node random DAGs). No size limit: tapes over 1,500 ops
/// compile in ~40 us per op (20k DAG nodes in under a second).
pub(crate) const LLVM_EVALS_LARGE_TAPE: u64 = 30_000;
/// [`LLVM_EVALS`] for call-bound tapes ([`Tape::call_bound`]), which come
/// from the interpreter and compile at LLVM's cheapest level: crossovers
/// 94k-190k points on small formulas and 5k-15k on 100-5,000-node random
/// DAGs (benches/RESULTS.md, "Call-bound tapes").
pub(crate) const LLVM_EVALS_CALL_BOUND: u64 = 100_000;
/// [`LLVM_EVALS_LARGE_TAPE`] for call-bound tapes.
pub(crate) const LLVM_EVALS_LARGE_CALL_BOUND: u64 = 10_000;
/// Scalar calls after which a large (> [`SMALL_TAPE`] ops) interpreter-tier
/// function compiles Cranelift for them: Cranelift's scalar call is ~8 us
/// faster on a 1,000-node call-bound DAG (16 vs 8 us) and costs ~8 ms to
/// compile, so it pays for itself within ~1,000 calls there (~8,000 on a
/// 100-node DAG: 1.7 ms for 0.2 us per call).
pub(crate) const SCALAR_UPGRADE_CALLS: u64 = 2_000;
/// A batch this large upgrades an implicitly chosen function to the faster
/// tier its size calls for (interpreter or Cranelift to native code or LLVM).
pub(crate) const UPGRADE_BATCH: usize = 65_536;
/// Planned evaluations from which a call-bound tape ([`Tape::call_bound`])
/// gets LLVM's full code generation (`opt_level` 3) instead of the cheapest
/// (0). On such tapes level 0 compiles 3-4x faster (sin*cos 8.7 -> 3.0 ms, a
/// 1,400-op DAG 118 -> 33 ms) for 1-16% more time per point (0.3-0.7 ns on
/// the small formulas, ~7% on DAGs); full optimization pays for itself
/// from ~1M points on 1,000-node DAGs and ~10M on small formulas. Tapes of
/// mostly arithmetic always get level 3: it is ~1.7x faster there.
#[cfg_attr(not(feature = "jit"), allow(dead_code))]
pub(crate) const LLVM_FULL_OPT_EVALS: u64 = 2_000_000;

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
    let evals = planned(config, batch_hint);
    let large = tape.n_compute() > SMALL_TAPE;
    let call_bound = tape.call_bound();
    let llvm_from = match (call_bound, large) {
        (false, false) => LLVM_EVALS,
        (false, true) => LLVM_EVALS_LARGE_TAPE,
        (true, false) => LLVM_EVALS_CALL_BOUND,
        (true, true) => LLVM_EVALS_LARGE_CALL_BOUND,
    };
    if evals >= llvm_from {
        Tier::Llvm
    } else if call_bound {
        // Cranelift calls libm once per point and op with every live value
        // spilled around the call; the interpreter calls it in block loops.
        // Measured on call-bound tapes: Cranelift 5-15% faster per point on
        // small formulas (crossover 70k-220k points, above LLVM's), and
        // slower on random DAGs of 100-5,000 nodes (811 vs 724 ns, 27.8 vs
        // 22.5 us per point), which also compile 15x slower.
        Tier::Interpreter
    } else if evals >= NATIVE_EVALS || large {
        Tier::Cranelift
    } else {
        Tier::Interpreter
    }
}

/// Evaluations planned for a compile: the configuration's expectation, or
/// the batch about to run if that is larger.
fn planned(config: &CompileConfig, batch_hint: usize) -> u64 {
    config.expected_evals.unwrap_or(0).max(batch_hint as u64)
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

/// The expressions a tape came from, for backends that start from the DAG
/// rather than the tape (MLIR recognizes polynomials there).
#[derive(Clone)]
#[cfg_attr(not(feature = "mlir"), allow(dead_code))]
pub(crate) struct Source {
    pub(crate) pool: alkahest_core::ExprPool,
    pub(crate) exprs: Vec<alkahest_core::ExprId>,
    pub(crate) vars: Vec<alkahest_core::ExprId>,
}

/// The LLVM options `tape` compiles with under `config`, `batch_hint`
/// points about to run. The disk cache key names this policy (see
/// `cache::backends`); the tape itself follows from the key's expression
/// and config.
#[cfg(feature = "jit")]
pub(crate) fn llvm_options(
    config: &CompileConfig,
    tape: &Tape,
    batch_hint: usize,
) -> alkahest_llvm::LlvmOptions {
    let cheap = tape.call_bound() && planned(config, batch_hint) < LLVM_FULL_OPT_EVALS;
    alkahest_llvm::LlvmOptions {
        fast_math: config.fast_math,
        opt_level: if cheap { 0 } else { 3 },
    }
}

/// Try to build `t` for `batch_hint` points about to run (0 when none);
/// `Err(reason)` when it is not compiled in or fails. With `object`, an
/// LLVM build also stores its object code there (for the disk cache).
pub(crate) fn build(
    t: Tier,
    tape: &Tape,
    config: &CompileConfig,
    batch_hint: usize,
    source: Option<&Source>,
    object: Option<&mut Option<Vec<u8>>>,
) -> Result<Arc<dyn Evaluator>, String> {
    let _ = (config, batch_hint, source, &object);
    match t {
        #[cfg(feature = "mlir")]
        Tier::Mlir => match source {
            Some(s) => alkahest_mlir::compile_many(
                &s.pool,
                &s.exprs,
                &s.vars,
                alkahest_mlir::EmitOptions::default(),
            )
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
            let opts = llvm_options(config, tape, batch_hint);
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

/// Build `want` (for `batch_hint` points about to run), falling back down
/// the chain; returns the tier that was built, its evaluator, and one note
/// per tier that was skipped. With `object`, an LLVM build leaves its
/// object code there.
pub(crate) fn build_with_fallback(
    want: Tier,
    tape: &Tape,
    config: &CompileConfig,
    batch_hint: usize,
    source: Option<&Source>,
    mut object: Option<&mut Option<Vec<u8>>>,
) -> (Tier, Arc<dyn Evaluator>, Vec<String>) {
    let mut notes = Vec::new();
    let mut t = want;
    loop {
        match build(t, tape, config, batch_hint, source, object.as_deref_mut()) {
            Ok(ev) => return (t, ev, notes),
            Err(why) => {
                let next = fallback(t).expect("the interpreter always builds");
                notes.push(format!("{why}; falling back to the {} tier", next.name()));
                t = next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alkahest_kernel::Op;

    /// A tape of `n` additions of one input.
    fn chain(n: usize) -> Tape {
        let mut ops = vec![Op::Input(0)];
        for i in 0..n {
            ops.push(Op::Add(i as u32, 0));
        }
        Tape::new(1, ops, vec![n as u32]).unwrap()
    }

    /// A tape of `n` sines, each of the one before.
    fn sines(n: usize) -> Tape {
        let mut ops = vec![Op::Input(0)];
        for i in 0..n {
            ops.push(Op::Unary(alkahest_kernel::UnaryFn::Sin, i as u32));
        }
        Tape::new(1, ops, vec![n as u32]).unwrap()
    }

    fn expecting(expected: Option<u64>) -> CompileConfig {
        CompileConfig {
            expected_evals: expected,
            ..CompileConfig::default()
        }
    }

    fn want(n_ops: usize, expected: Option<u64>, batch: usize) -> Tier {
        wanted(&expecting(expected), &chain(n_ops), batch)
    }

    #[test]
    fn call_bound_tapes_skip_cranelift() {
        let w = |n, expected, batch| wanted(&expecting(expected), &sines(n), batch);
        assert_eq!(w(5, Some(NATIVE_EVALS), 0), Tier::Interpreter);
        assert_eq!(w(5, Some(LLVM_EVALS_CALL_BOUND - 1), 0), Tier::Interpreter);
        assert_eq!(w(5, Some(LLVM_EVALS_CALL_BOUND), 0), Tier::Llvm);
        assert_eq!(w(SMALL_TAPE + 1, None, 0), Tier::Interpreter);
        let from = LLVM_EVALS_LARGE_CALL_BOUND;
        assert_eq!(w(SMALL_TAPE + 1, Some(from - 1), 0), Tier::Interpreter);
        assert_eq!(w(SMALL_TAPE + 1, None, from as usize), Tier::Llvm);
    }

    #[cfg(feature = "jit")]
    #[test]
    fn llvm_optimizes_fully_where_it_pays() {
        let level = |tape: &Tape, expected, batch| {
            llvm_options(&expecting(expected), tape, batch).opt_level
        };
        // Call-bound: cheapest code generation until a large plan or batch.
        assert_eq!(level(&sines(5), None, 0), 0);
        assert_eq!(level(&sines(5), Some(LLVM_FULL_OPT_EVALS - 1), 0), 0);
        assert_eq!(level(&sines(5), Some(LLVM_FULL_OPT_EVALS), 0), 3);
        assert_eq!(level(&sines(5), None, LLVM_FULL_OPT_EVALS as usize), 3);
        // Arithmetic: always full.
        assert_eq!(level(&chain(5), None, 0), 3);
        assert_eq!(level(&chain(5000), Some(1), 0), 3);
    }

    #[test]
    fn dispatch_follows_the_measured_crossovers() {
        // Small tape: interpreter, then Cranelift, then LLVM by evaluations.
        assert_eq!(want(5, None, 0), Tier::Interpreter);
        assert_eq!(want(5, Some(NATIVE_EVALS - 1), 0), Tier::Interpreter);
        assert_eq!(want(5, Some(NATIVE_EVALS), 0), Tier::Cranelift);
        assert_eq!(want(5, Some(LLVM_EVALS - 1), 0), Tier::Cranelift);
        assert_eq!(want(5, Some(LLVM_EVALS), 0), Tier::Llvm);
        // A batch counts like planned evaluations.
        assert_eq!(want(5, None, 1_000_000), Tier::Llvm);
        // Large tape: native even with no plan, LLVM from far fewer points,
        // and at any size.
        assert_eq!(want(SMALL_TAPE + 1, None, 0), Tier::Cranelift);
        assert_eq!(
            want(SMALL_TAPE + 1, Some(LLVM_EVALS_LARGE_TAPE), 0),
            Tier::Llvm
        );
        assert_eq!(want(20_000, Some(1_000_000), 0), Tier::Llvm);
        // Forcing wins over everything.
        let forced = CompileConfig {
            force_tier: Some(Tier::Interpreter),
            expected_evals: Some(u64::MAX),
            ..CompileConfig::default()
        };
        assert_eq!(wanted(&forced, &chain(100), usize::MAX), Tier::Interpreter);
    }
}
