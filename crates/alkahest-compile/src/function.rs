//! Compiled functions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use alkahest_kernel::{Evaluator, Tape, check_columns};

use crate::config::{CompileConfig, Tier};
use crate::error::Result;
use crate::fallback::{Fallback, Note, Scope};
use crate::plan::{Plan, ScalarMove, speed_rank};
use crate::tiers::{self, Source};

/// A compiled expression: the tape plus the evaluator of the tier that runs it.
///
/// Its [`Plan`] decides the tier, and when it moves up: compiled for the
/// interpreter (few planned evaluations) and then meeting a large batch, it
/// compiles a native tier once and keeps it, so a small expression over a
/// million points never runs interpreted just because it was small.
/// Likewise a large expression left on the interpreter (call-bound tapes
/// are) moves its scalar calls to Cranelift after enough of them
/// ([`Plan::scalar_move`]).
pub struct CompiledFn {
    tape: Arc<Tape>,
    config: CompileConfig,
    plan: Plan,
    tier: Tier,
    evaluator: Arc<dyn Evaluator>,
    upgraded: OnceLock<(Tier, Arc<dyn Evaluator>)>,
    /// The plan's scalar move, when it applies (the function was built on
    /// the interpreter).
    scalar_move: Option<ScalarMove>,
    /// Scalar calls so far (counted only while they may still move).
    scalar_calls: AtomicU64,
    /// The tier and evaluator scalar calls moved to.
    scalar_upgraded: OnceLock<(Tier, Arc<dyn Evaluator>)>,
    notes: Mutex<Vec<Note>>,
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
        Self::build(tape, config, None, None, Vec::new(), false).0
    }

    /// Build the tier the plan names; with `keep_object`, also return the
    /// object code of an LLVM build (for the disk cache). `notes` come
    /// first (the optimizer's).
    pub(crate) fn build(
        tape: Tape,
        config: CompileConfig,
        source: Option<Source>,
        rewrite: Option<Rewrite>,
        notes: Vec<String>,
        keep_object: bool,
    ) -> (Self, Option<Vec<u8>>) {
        let plan = Plan::for_tape(&config, &tape);
        let built = tiers::build(plan.tier, &tape, plan.llvm, source.as_ref(), keep_object);
        let notes = notes
            .into_iter()
            .map(Note::Text)
            .chain(plan.skipped.iter().cloned().map(Note::Fallback))
            .chain(built.fallbacks.into_iter().map(Note::Fallback))
            .collect();
        let f = Self::from_parts(
            tape,
            config,
            plan,
            built.tier,
            built.evaluator,
            notes,
            rewrite,
        );
        (f, built.object)
    }

    /// Assemble a function whose evaluator already exists (built per
    /// `plan`, or loaded from a disk cache entry).
    pub(crate) fn from_parts(
        tape: Tape,
        config: CompileConfig,
        plan: Plan,
        tier: Tier,
        evaluator: Arc<dyn Evaluator>,
        notes: Vec<Note>,
        rewrite: Option<Rewrite>,
    ) -> Self {
        let scalar_move = plan.scalar_move.filter(|_| tier == Tier::Interpreter);
        CompiledFn {
            tape: Arc::new(tape),
            config,
            plan,
            tier,
            evaluator,
            upgraded: OnceLock::new(),
            scalar_move,
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
        self.add_notes([Note::Text(note)]);
    }

    fn add_notes(&self, notes: impl IntoIterator<Item = Note>) {
        if let Ok(mut n) = self.notes.lock() {
            n.extend(notes);
        }
    }

    /// The dispatch plan it was compiled under.
    pub fn plan(&self) -> &Plan {
        &self.plan
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

    /// Why tiers were skipped (fallbacks) and other notes (the optimizer
    /// or the disk cache), as text, oldest first.
    pub fn notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|n| n.iter().map(Note::to_string).collect())
            .unwrap_or_default()
    }

    /// The fallbacks among [`CompiledFn::notes`], as values, oldest first.
    pub fn fallbacks(&self) -> Vec<Fallback> {
        self.notes
            .lock()
            .map(|n| {
                n.iter()
                    .filter_map(|n| match n {
                        Note::Fallback(f) => Some(f.clone()),
                        Note::Text(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn batch_evaluator(&self) -> &Arc<dyn Evaluator> {
        self.upgraded.get().map_or(&self.evaluator, |u| &u.1)
    }

    /// Called before a batch of `n_points`: upgrades an implicitly chosen
    /// function to the faster tier the batch size calls for
    /// ([`Plan::batch_steps`]; once: interpreter to Cranelift or LLVM,
    /// Cranelift to LLVM). Returns the notes of any fallback that happened
    /// now.
    pub fn prepare_batch(&self, n_points: usize) -> Vec<String> {
        if self.upgraded.get().is_some() {
            return Vec::new();
        }
        let Some(step) = self.plan.batch_step(n_points) else {
            return Vec::new();
        };
        if speed_rank(step.tier) <= speed_rank(self.tier) {
            return Vec::new();
        }
        let mut new = Vec::new();
        self.upgraded.get_or_init(|| {
            let built = tiers::build(step.tier, &self.tape, step.llvm, None, false);
            new = built.fallbacks;
            (built.tier, built.evaluator)
        });
        let notes = new.iter().map(Fallback::to_string).collect();
        if !new.is_empty() {
            self.add_notes(new.into_iter().map(Note::Fallback));
        }
        notes
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
        if let Some(m) = self.scalar_move
            && self.scalar_calls.fetch_add(1, Ordering::Relaxed) + 1 >= m.after_calls
        {
            let upgraded = self.scalar_upgraded.get_or_init(|| {
                match tiers::build_one(m.to, &self.tape, self.plan.llvm, None, false) {
                    Ok(built) => (built.tier, built.evaluator),
                    Err(reason) => {
                        self.add_notes([Note::Fallback(Fallback {
                            scope: Scope::ScalarCalls,
                            ..Fallback::function(m.to, self.tier, reason)
                        })]);
                        (self.tier, Arc::clone(&self.evaluator))
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
