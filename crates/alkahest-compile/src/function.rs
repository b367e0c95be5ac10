//! Compiled functions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use alkahest_kernel::{Evaluator, Tape, check_columns};

use crate::config::{CompileConfig, Tier};
use crate::error::Result;
use crate::tiers::{
    SCALAR_UPGRADE_CALLS, SMALL_TAPE, Source, UPGRADE_BATCH, build, build_with_fallback, clamp,
    wanted,
};

/// A compiled expression: the tape plus the evaluator of the tier that runs it.
///
/// When it was compiled for the interpreter (few planned evaluations) and
/// then meets a large batch, it compiles a native tier once and keeps it, so
/// a small expression over a million points never runs interpreted just
/// because it was small. Likewise a large expression left on the
/// interpreter (call-bound tapes are) moves its scalar calls to Cranelift
/// after [`SCALAR_UPGRADE_CALLS`] of them.
pub struct CompiledFn {
    tape: Arc<Tape>,
    config: CompileConfig,
    tier: Tier,
    evaluator: Arc<dyn Evaluator>,
    upgraded: OnceLock<(Tier, Arc<dyn Evaluator>)>,
    /// Whether scalar calls may move to Cranelift (decided once: a large
    /// tape on the interpreter, chosen implicitly, in a build with Cranelift).
    scalar_may_move: bool,
    /// Scalar calls so far (counted only while they may still move).
    scalar_calls: AtomicU64,
    /// The tier and evaluator scalar calls moved to.
    scalar_upgraded: OnceLock<(Tier, Arc<dyn Evaluator>)>,
    notes: Mutex<Vec<String>>,
    rewrite: Option<Rewrite>,
}

/// What the optimizer did before lowering (see `CompileConfig::optimize`).
#[derive(Clone, Debug, PartialEq)]
pub struct Rewrite {
    /// The expressions that were compiled, one per output (in the caller's pool).
    pub exprs: Vec<alkahest_core::ExprId>,
    /// Rules that fired, with counts.
    pub rules_fired: Vec<(String, usize)>,
    /// Why saturation stopped.
    pub stop_reason: String,
    /// Tape operations before / after.
    pub ops_before: usize,
    /// Tape operations after.
    pub ops_after: usize,
    /// Mean bits of error before (when measured).
    pub error_bits_before: Option<f64>,
    /// Mean bits of error after (when measured).
    pub error_bits_after: Option<f64>,
}

impl std::fmt::Debug for CompiledFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledFn")
            .field("tier", &self.tier())
            .field("n_inputs", &self.tape.n_inputs())
            .field("n_outputs", &self.tape.n_outputs())
            .field("ops", &self.tape.ops().len())
            .finish()
    }
}

impl CompiledFn {
    /// Compile `tape` per `config` (never fails: the interpreter always works).
    pub fn new(tape: Tape, config: CompileConfig) -> Self {
        Self::build(tape, config, None, None, Vec::new())
    }

    pub(crate) fn build(
        tape: Tape,
        config: CompileConfig,
        source: Option<Source>,
        rewrite: Option<Rewrite>,
        notes: Vec<String>,
    ) -> Self {
        Self::build_keeping(tape, config, source, rewrite, notes, None)
    }

    /// [`CompiledFn::build`]; with `object`, an LLVM build also leaves its
    /// object code there (for the disk cache).
    pub(crate) fn build_keeping(
        tape: Tape,
        config: CompileConfig,
        source: Option<Source>,
        rewrite: Option<Rewrite>,
        mut notes: Vec<String>,
        object: Option<&mut Option<Vec<u8>>>,
    ) -> Self {
        let want = wanted(&config, &tape, 0);
        let want = if config.force_tier.is_some() {
            want
        } else {
            clamp(want)
        };
        let (tier, evaluator, more) =
            build_with_fallback(want, &tape, &config, 0, source.as_ref(), object);
        notes.extend(more);
        Self::from_parts(tape, config, tier, evaluator, notes, rewrite)
    }

    /// Assemble a function whose evaluator already exists (a disk cache hit).
    pub(crate) fn from_parts(
        tape: Tape,
        config: CompileConfig,
        tier: Tier,
        evaluator: Arc<dyn Evaluator>,
        notes: Vec<String>,
        rewrite: Option<Rewrite>,
    ) -> Self {
        // The interpreter's per-op dispatch dominates a scalar call on a
        // large tape (1,000-node DAG: 16 us vs Cranelift's 8 us); on small
        // ones Python's call overhead does.
        let scalar_may_move = tier == Tier::Interpreter
            && config.force_tier.is_none()
            && tape.n_compute() > SMALL_TAPE
            && clamp(Tier::Cranelift) == Tier::Cranelift;
        CompiledFn {
            tape: Arc::new(tape),
            config,
            tier,
            evaluator,
            upgraded: OnceLock::new(),
            scalar_may_move,
            scalar_calls: AtomicU64::new(0),
            scalar_upgraded: OnceLock::new(),
            notes: Mutex::new(notes),
            rewrite,
        }
    }

    /// The tier chosen at compile time (before any batch-size upgrade).
    pub(crate) fn compiled_tier(&self) -> Tier {
        self.tier
    }

    /// Append a note (e.g. the disk cache could not be written).
    pub(crate) fn add_note(&self, note: String) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(note);
        }
    }

    /// What the optimizer rewrote, when `optimize` was not `none`.
    pub fn rewrite(&self) -> Option<&Rewrite> {
        self.rewrite.as_ref()
    }

    /// The tape every tier runs.
    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// The configuration it was compiled with.
    pub fn config(&self) -> &CompileConfig {
        &self.config
    }

    /// Number of inputs.
    pub fn n_inputs(&self) -> usize {
        self.tape.n_inputs()
    }

    /// Number of outputs (1 for a single expression).
    pub fn n_outputs(&self) -> usize {
        self.tape.n_outputs()
    }

    /// The tier that runs batches now.
    pub fn tier(&self) -> Tier {
        self.upgraded.get().map_or(self.tier, |u| u.0)
    }

    /// Why tiers were skipped (fallbacks), oldest first.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    fn batch_evaluator(&self) -> &Arc<dyn Evaluator> {
        self.upgraded.get().map_or(&self.evaluator, |u| &u.1)
    }

    /// Called before a batch of `n_points`: upgrades an implicitly chosen
    /// function to the faster tier the batch size calls for (once:
    /// interpreter to Cranelift or LLVM, Cranelift to LLVM). Returns the
    /// notes of any fallback that happened now.
    pub fn prepare_batch(&self, n_points: usize) -> Vec<String> {
        if self.config.force_tier.is_some()
            || n_points < UPGRADE_BATCH
            || self.upgraded.get().is_some()
        {
            return Vec::new();
        }
        let want = clamp(wanted(&self.config, &self.tape, n_points));
        if speed_rank(want) <= speed_rank(self.tier) {
            return Vec::new();
        }
        let mut new_notes = Vec::new();
        self.upgraded.get_or_init(|| {
            let (t, ev, notes) =
                build_with_fallback(want, &self.tape, &self.config, n_points, None, None);
            new_notes = notes;
            (t, ev)
        });
        if !new_notes.is_empty()
            && let Ok(mut n) = self.notes.lock()
        {
            n.extend(new_notes.iter().cloned());
        }
        new_notes
    }

    /// Evaluate one point into `out` (one value per output).
    pub fn eval(&self, inputs: &[f64], out: &mut [f64]) -> Result<()> {
        if inputs.len() != self.tape.n_inputs() {
            return Err(alkahest_kernel::Error::Arity {
                expected: self.tape.n_inputs(),
                got: inputs.len(),
            }
            .into());
        }
        if out.len() != self.tape.n_outputs() {
            return Err(alkahest_kernel::Error::Outputs {
                expected: self.tape.n_outputs(),
                got: out.len(),
            }
            .into());
        }
        self.scalar_evaluator().eval(inputs, out);
        Ok(())
    }

    /// The first output at one point (the value of a single expression).
    pub fn eval_scalar(&self, inputs: &[f64]) -> Result<f64> {
        let mut out = vec![0.0; self.tape.n_outputs()];
        self.eval(inputs, &mut out)?;
        Ok(out[0])
    }

    /// The tier that runs scalar calls now: the batch tier, or Cranelift
    /// once a large interpreter-tier function has had enough scalar calls.
    pub fn scalar_tier(&self) -> Tier {
        match self.scalar_upgraded.get() {
            Some(u) => u.0,
            None => self.tier(),
        }
    }

    /// The evaluator for one point. Every tier's scalar entry calls the same
    /// libm functions in the same order as the interpreter, so switching
    /// does not change results.
    fn scalar_evaluator(&self) -> &Arc<dyn Evaluator> {
        if let Some(u) = self.scalar_upgraded.get() {
            return &u.1;
        }
        if let Some(u) = self.upgraded.get() {
            return &u.1;
        }
        if self.scalar_may_move
            && self.scalar_calls.fetch_add(1, Ordering::Relaxed) + 1 >= SCALAR_UPGRADE_CALLS
        {
            let upgraded = self.scalar_upgraded.get_or_init(|| {
                match build(Tier::Cranelift, &self.tape, &self.config, 0, None, None) {
                    Ok(ev) => (Tier::Cranelift, ev),
                    Err(why) => {
                        self.add_note(format!("{why}; scalar calls stay on the interpreter"));
                        (Tier::Interpreter, Arc::clone(&self.evaluator))
                    }
                }
            });
            return &upgraded.1;
        }
        &self.evaluator
    }

    /// Evaluate many points from one column per input into one column per
    /// output (all of the same length).
    pub fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) -> Result<()> {
        let n = check_columns(self.tape.n_inputs(), self.tape.n_outputs(), columns, outs)?;
        if n > 0 {
            self.batch_evaluator().eval_columns(columns, outs);
        }
        Ok(())
    }

    /// The evaluator that runs batches (for parallel evaluation, which
    /// splits a batch into chunks and must use the same code for each).
    pub fn evaluator(&self) -> Arc<dyn Evaluator> {
        Arc::clone(self.batch_evaluator())
    }
}

/// Order of the tiers by batch speed, for upgrades (the MLIR tier is never
/// chosen implicitly, so it ranks with LLVM and is never upgraded from).
fn speed_rank(t: Tier) -> u8 {
    match t {
        Tier::Interpreter => 0,
        Tier::Cranelift => 1,
        Tier::Llvm | Tier::Mlir => 2,
    }
}
