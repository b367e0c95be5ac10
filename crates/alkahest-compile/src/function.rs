//! Compiled functions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use alkahest_tape::{Evaluator, Op, Tape, check_columns};

use crate::background;
use crate::config::{CompileConfig, Tier};
use crate::error::Result;
use crate::fallback::{Fallback, Note, Scope};
use crate::plan::{BatchStep, LlvmPlan, Plan, ScalarMove, TapeStats, interim_tier, speed_rank};
use crate::tiers::{self, AVAILABLE, Source};

/// A compiled expression: the tape plus the evaluator of the tier that runs it.
///
/// Its [`Plan`] decides the tier, and when it moves up: compiled for the
/// interpreter (few planned evaluations) and then meeting a large batch, it
/// compiles a native tier once and keeps it, so a small expression over a
/// million points never runs interpreted just because it was small.
/// Likewise a large expression left on the interpreter (call-bound tapes
/// are) moves its scalar calls to Cranelift after enough of them
/// ([`Plan::scalar_move`]).
///
/// LLVM is built in the background unless the configuration says `wait`
/// ([`Plan::interim`]): the function runs on a cheaper tier meanwhile, and
/// each call takes the best evaluator built when it starts, so no call
/// waits for LLVM or sees part of a build ([`CompiledFn::pending_tier`],
/// [`CompiledFn::wait`]).
pub struct CompiledFn {
    tape: Arc<Tape>,
    config: CompileConfig,
    plan: Plan,
    stats: TapeStats,
    /// Whether every tier's batches give the same bits (no math-library
    /// call: LLVM's batch loop alone uses vector math for those).
    same_bits: bool,
    tier: Tier,
    evaluator: Arc<dyn Evaluator>,
    /// Upgrades and notes, shared with background builds.
    shared: Arc<Shared>,
    /// Serializes foreground upgrades (two batches meeting the same step
    /// build it once).
    upgrading: Mutex<()>,
    /// The plan's scalar move, when it applies (the function was built on
    /// the interpreter).
    scalar_move: Option<ScalarMove>,
    /// Scalar calls so far (counted only while they may still move).
    scalar_calls: AtomicU64,
    /// The tier and evaluator scalar calls moved to.
    scalar_upgraded: OnceLock<(Tier, Arc<dyn Evaluator>)>,
    rewrite: Option<Rewrite>,
}

/// The part of a function a background build writes to.
struct Shared {
    /// Evaluators built after the first, by [`speed_rank`] (Cranelift 1,
    /// LLVM 2): each is set once, and a call uses the fastest set when it
    /// starts. Setting is atomic, so a call sees a finished evaluator or
    /// none.
    upgrades: [OnceLock<(Tier, Arc<dyn Evaluator>)>; 3],
    /// The tier a background build is making, with the fork generation it
    /// started in (a build from before a `fork` is not running in the child).
    pending: Mutex<Option<(Tier, u64)>>,
    /// Signalled when a background build ends.
    done: Condvar,
    notes: Mutex<Vec<Note>>,
}

impl Shared {
    fn best(&self) -> Option<&(Tier, Arc<dyn Evaluator>)> {
        self.upgrades.iter().rev().find_map(OnceLock::get)
    }

    fn pending(&self) -> MutexGuard<'_, Option<(Tier, u64)>> {
        // One Option: consistent even if a holder panicked.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tier being built in the background of this process, if any.
    fn live_pending(&self) -> Option<Tier> {
        self.pending()
            .filter(|(_, g)| *g == background::generation())
            .map(|(t, _)| t)
    }

    fn add_notes(&self, notes: impl IntoIterator<Item = Note>) {
        if let Ok(mut n) = self.notes.lock() {
            n.extend(notes);
        }
    }

    /// Keep an evaluator of `tier` if it is faster than what the function
    /// (built on `base`) has.
    fn offer(&self, base: Tier, tier: Tier, evaluator: Arc<dyn Evaluator>) {
        let best = self.best().map_or(base, |b| b.0);
        if speed_rank(tier) > speed_rank(best) {
            let _ = self.upgrades[usize::from(speed_rank(tier))].set((tier, evaluator));
        }
    }
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

    /// Build the tier the plan names (or its interim tier, starting the
    /// planned one in the background); with `keep_object`, build the
    /// planned tier at once and also return the object code of an LLVM
    /// build (for the disk cache). `notes` come first (the optimizer's).
    pub(crate) fn build(
        tape: Tape,
        config: CompileConfig,
        source: Option<Source>,
        rewrite: Option<Rewrite>,
        notes: Vec<String>,
        keep_object: bool,
    ) -> (Self, Option<Vec<u8>>) {
        let plan = Plan::for_tape(&config, &tape);
        let interim = plan.interim.filter(|_| !keep_object);
        let first = interim.unwrap_or(plan.tier);
        let built = tiers::build(first, &tape, plan.llvm, source.as_ref(), keep_object);
        let notes = notes
            .into_iter()
            .map(Note::Text)
            .chain(plan.skipped.iter().cloned().map(Note::Fallback))
            .chain(built.fallbacks.into_iter().map(Note::Fallback))
            .collect();
        let (tier, llvm, bridge) = (plan.tier, plan.llvm, plan.bridge);
        let f = Self::from_parts(
            tape,
            config,
            plan,
            built.tier,
            built.evaluator,
            notes,
            rewrite,
        );
        if interim.is_some() {
            f.start_background(bridge, tier, llvm);
        }
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
            stats: TapeStats::of(&tape),
            same_bits: same_bits_on_every_tier(&tape),
            tape: Arc::new(tape),
            config,
            plan,
            tier,
            evaluator,
            shared: Arc::new(Shared {
                upgrades: Default::default(),
                pending: Mutex::new(None),
                done: Condvar::new(),
                notes: Mutex::new(notes),
            }),
            upgrading: Mutex::new(()),
            scalar_move,
            scalar_calls: AtomicU64::new(0),
            scalar_upgraded: OnceLock::new(),
            rewrite,
        }
    }

    /// The tier built before the function was returned (before any
    /// upgrade).
    pub(crate) fn compiled_tier(&self) -> Tier {
        self.tier
    }

    /// Append a note (e.g. the disk cache could not be written).
    pub(crate) fn add_note(&self, note: String) {
        self.shared.add_notes([Note::Text(note)]);
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
        self.shared.best().map_or(self.tier, |u| u.0)
    }

    /// The tier a background thread is building for this function, to be
    /// swapped in when ready (`None` when nothing is being built).
    pub fn pending_tier(&self) -> Option<Tier> {
        self.shared.live_pending()
    }

    /// Wait until no background build of this function runs, at most
    /// `timeout` (forever with `None`); returns whether none runs. Calls
    /// never need this: it is for callers that want the final tier (or
    /// time how long it takes to arrive).
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut p = self.shared.pending();
        loop {
            if !p.is_some_and(|(_, g)| g == background::generation()) {
                return true;
            }
            p = match deadline {
                None => self.shared.done.wait(p).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.shared
                        .done
                        .wait_timeout(p, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Why tiers were skipped (fallbacks) and other notes (the optimizer
    /// or the disk cache), as text, oldest first.
    pub fn notes(&self) -> Vec<String> {
        self.shared
            .notes
            .lock()
            .map(|n| n.iter().map(Note::to_string).collect())
            .unwrap_or_default()
    }

    /// The fallbacks among [`CompiledFn::notes`], as values, oldest first.
    pub fn fallbacks(&self) -> Vec<Fallback> {
        self.shared
            .notes
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
        self.shared.best().map_or(&self.evaluator, |u| &u.1)
    }

    /// Build `tier` on a background thread and offer it to this function
    /// when done (unless a build is already running). Where no thread can
    /// be started it is built here and now.
    fn start_background(&self, bridge: Option<Tier>, tier: Tier, llvm: LlvmPlan) {
        {
            let mut p = self.shared.pending();
            if p.is_some_and(|(_, g)| g == background::generation()) {
                return;
            }
            *p = Some((tier, background::generation()));
        }
        let (shared, tape, base) = (Arc::clone(&self.shared), Arc::clone(&self.tape), self.tier);
        let job = move || {
            // The bridge first (see `Plan::bridge`), then the planned tier.
            for t in bridge.into_iter().chain([tier]) {
                let built = tiers::build(t, &tape, llvm, None, false);
                shared.add_notes(built.fallbacks.into_iter().map(Note::Fallback));
                shared.offer(base, built.tier, built.evaluator);
            }
            *shared.pending() = None;
            shared.done.notify_all();
        };
        // No thread could be started: build in the foreground.
        if let Err(job) = background::spawn(job) {
            job();
        }
    }

    /// Whether [`CompiledFn::prepare_batch`] has work to do for a batch of
    /// `n_points`: the plan calls for a faster tier than the one running,
    /// and none as fast is being built. Cheap (the pending build's lock,
    /// which no one holds for long, only when a faster tier is due), so
    /// that a caller holding an interpreter lock can skip releasing it for
    /// nothing.
    pub fn batch_needs_preparing(&self, n_points: usize) -> bool {
        self.due_step(n_points).is_some()
    }

    /// The plan's step for a batch of `n_points` when it calls for a faster
    /// tier than the one running and none as fast is being built.
    fn due_step(&self, n_points: usize) -> Option<&BatchStep> {
        let step = self.plan.batch_step(n_points)?;
        (speed_rank(step.tier) > speed_rank(self.tier())
            && self
                .pending_tier()
                .is_none_or(|p| speed_rank(p) < speed_rank(step.tier)))
        .then_some(step)
    }

    /// Called before a batch of `n_points`: upgrades an implicitly chosen
    /// function to the faster tier the batch size calls for
    /// ([`Plan::batch_steps`]; interpreter to Cranelift or LLVM, Cranelift
    /// to LLVM). Cranelift is built now. LLVM is built in the background,
    /// with Cranelift built now for this batch where the plan would run it
    /// ([`Plan::interim`]), when the swap cannot change results: the tape
    /// makes no math-library call (whose LLVM batch loop uses vector math,
    /// within documented ulps of the scalar libm) and the configuration
    /// does not say `wait`. Otherwise LLVM is built now, so that successive
    /// batches of a function give the same bits. Returns the notes of any
    /// fallback that happened now.
    pub fn prepare_batch(&self, n_points: usize) -> Vec<String> {
        let Some(step) = self.due_step(n_points) else {
            return Vec::new();
        };
        let now = self.tier();
        let mut target = (step.tier, step.llvm);
        if step.tier == Tier::Llvm && !self.config.wait && self.same_bits {
            self.start_background(None, Tier::Llvm, step.llvm);
            let interim = interim_tier(&self.stats, AVAILABLE);
            if speed_rank(interim) <= speed_rank(now) {
                return Vec::new();
            }
            target = (interim, step.llvm);
        }
        let _one = self.upgrading.lock().unwrap_or_else(|p| p.into_inner());
        if speed_rank(target.0) <= speed_rank(self.tier()) {
            return Vec::new();
        }
        let built = tiers::build(target.0, &self.tape, target.1, None, false);
        let notes = built.fallbacks.iter().map(Fallback::to_string).collect();
        self.shared
            .add_notes(built.fallbacks.into_iter().map(Note::Fallback));
        self.shared.offer(self.tier, built.tier, built.evaluator);
        notes
    }

    /// Evaluate one point into `out` (one value per output).
    pub fn eval(&self, inputs: &[f64], out: &mut [f64]) -> Result<()> {
        if inputs.len() != self.tape.n_inputs() {
            return Err(alkahest_tape::Error::Arity {
                expected: self.tape.n_inputs(),
                got: inputs.len(),
            }
            .into());
        }
        if out.len() != self.tape.n_outputs() {
            return Err(alkahest_tape::Error::Outputs {
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
        match (self.scalar_upgraded.get(), self.shared.best()) {
            (Some(s), Some(b)) if speed_rank(b.0) > speed_rank(s.0) => b.0,
            (Some(s), _) => s.0,
            (None, _) => self.tier(),
        }
    }

    /// The evaluator for one point. Every tier's scalar entry calls the same
    /// libm functions in the same order as the interpreter, so switching
    /// does not change results.
    fn scalar_evaluator(&self) -> &Arc<dyn Evaluator> {
        let best = self.shared.best();
        if let Some(u) = self.scalar_upgraded.get() {
            return match best {
                Some(b) if speed_rank(b.0) > speed_rank(u.0) => &b.1,
                _ => &u.1,
            };
        }
        if let Some(u) = best {
            return &u.1;
        }
        if let Some(m) = self.scalar_move
            && self.scalar_calls.fetch_add(1, Ordering::Relaxed) + 1 >= m.after_calls
        {
            let upgraded = self.scalar_upgraded.get_or_init(|| {
                match tiers::build_one(m.to, &self.tape, self.plan.llvm, None, false) {
                    Ok(built) => (built.tier, built.evaluator),
                    Err(reason) => {
                        self.shared.add_notes([Note::Fallback(Fallback {
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

    /// [`CompiledFn::eval_columns`] into output columns that hold `+0.0`
    /// everywhere (a fresh zeroed allocation): outputs that are the constant
    /// `+0.0` may be left unwritten (see [`CompiledFn::skips_zero_outputs`]).
    pub fn eval_columns_zeroed(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) -> Result<()> {
        let n = check_columns(self.tape.n_inputs(), self.tape.n_outputs(), columns, outs)?;
        if n > 0 {
            self.batch_evaluator().eval_columns_zeroed(columns, outs);
        }
        Ok(())
    }

    /// Whether a batch into zeroed columns leaves some outputs unwritten
    /// (constant `+0.0` outputs of a many-output tape, on the tiers that
    /// compile the tape): the reason to allocate a result zeroed.
    pub fn skips_zero_outputs(&self) -> bool {
        self.tier() != Tier::Mlir
            && alkahest_tape::ConstantOutputs::of(&self.tape).is_some_and(|l| l.has_zeros())
    }

    /// The evaluator that runs batches (for parallel evaluation, which
    /// splits a batch into chunks and must use the same code for each).
    pub fn evaluator(&self) -> Arc<dyn Evaluator> {
        Arc::clone(self.batch_evaluator())
    }
}

/// Whether batches give the same bits on every tier: true unless the tape
/// calls the math library (see [`CompiledFn::prepare_batch`]).
fn same_bits_on_every_tier(tape: &Tape) -> bool {
    !tape.ops().iter().any(|op| match op {
        Op::Unary(f, _) => f.info().call,
        Op::Binary(f, ..) => f.info().call,
        _ => false,
    })
}
