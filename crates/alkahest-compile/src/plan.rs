//! The dispatch plan: which tier a function is built on, with which LLVM
//! options, and when it moves up later.
//!
//! [`Plan::new`] is a pure function of the configuration, a few numbers
//! about the tape ([`TapeStats`]), the batch about to run and the tiers
//! this build has. Building ([`CompiledFn`](crate::CompiledFn)), upgrading
//! (by batch size, by scalar call count) and the disk cache key all read
//! what it decides; nothing else in the crate compares a tape or a batch
//! against a threshold. Every number it uses is in [`POLICY`].

use alkahest_tape::Tape;

use crate::config::{CompileConfig, Tier};
use crate::fallback::{Fallback, Reason, Scope};
use crate::tiers::cargo_feature;

/// The numbers the plan is made of (measurements: benches/RESULTS.md). The
/// disk cache key hashes [`policy_key`], this struct's `Debug` form, so a
/// change to any of them, or to `rules`, starts new keys.
#[derive(Debug)]
pub(crate) struct Policy {
    /// Compute ops up to which a tape is "small": with few planned
    /// evaluations the interpreter wins there (no compile latency).
    pub(crate) small_tape: usize,
    /// Planned evaluations from which a native tier pays for its compile
    /// time on a small tape.
    pub(crate) native_evals: u64,
    /// Planned evaluations from which LLVM's slower compile pays off
    /// against Cranelift on a small arithmetic tape.
    pub(crate) llvm_evals: u64,
    /// `llvm_evals` for arithmetic tapes over `small_tape` ops.
    pub(crate) llvm_evals_large_tape: u64,
    /// `llvm_evals` for small call-bound tapes ([`Tape::call_bound`]).
    pub(crate) llvm_evals_call_bound: u64,
    /// `llvm_evals` for call-bound tapes over `small_tape` ops.
    pub(crate) llvm_evals_large_call_bound: u64,
    /// Planned evaluations from which a call-bound tape gets LLVM's full
    /// code generation (`opt_level` 3) instead of the cheapest (0).
    pub(crate) llvm_full_opt_evals: u64,
    /// Batch size from which an implicitly chosen function upgrades to the
    /// faster tier the batch calls for.
    pub(crate) upgrade_batch: usize,
    /// Scalar calls after which a large interpreter-tier function compiles
    /// Cranelift for them.
    pub(crate) scalar_upgrade_calls: u64,
    /// Revision of the rules in [`Plan::new`]: bump it when they change
    /// without any number here changing, so that disk cache entries built
    /// under the old rules are not reused.
    #[allow(dead_code, reason = "read through `Debug`, by the cache key")]
    pub(crate) rules: u32,
}

/// The dispatch policy.
pub(crate) const POLICY: Policy = Policy {
    // Below this the interpreter's zero compile latency wins.
    small_tape: 64,
    native_evals: 10_000,
    // LLVM's compile is ~10 ms plus ~0.1 ms per op: the measured crossovers
    // against Cranelift were 0.3-0.6M points on the transcendental benchmark
    // expressions and 2.5M on a pure-arithmetic polynomial
    // (benches/bench_dispatch.py; "Dispatch crossovers" in RESULTS.md).
    llvm_evals: 250_000,
    // Over `small_tape` ops LLVM's code is 3.5-4x faster per point than
    // Cranelift's and the crossover was 4k-35k points (100 to 5,000-node
    // random DAGs). No size limit: tapes over 1,500 ops compile in ~40 us
    // per op (20k DAG nodes in under a second).
    llvm_evals_large_tape: 30_000,
    // Call-bound tapes come from the interpreter and compile at LLVM's
    // cheapest level: crossovers 94k-190k points on small formulas and
    // 5k-15k on 100-5,000-node random DAGs ("Call-bound tapes").
    llvm_evals_call_bound: 100_000,
    llvm_evals_large_call_bound: 10_000,
    // On call-bound tapes level 0 compiles 3-4x faster (sin*cos 8.7 -> 3.0
    // ms, a 1,400-op DAG 118 -> 33 ms) for 1-16% more time per point
    // (0.3-0.7 ns on the small formulas, ~7% on DAGs); full optimization
    // pays for itself from ~1M points on 1,000-node DAGs and ~10M on small
    // formulas. Tapes of mostly arithmetic always get level 3: it is ~1.7x
    // faster there.
    llvm_full_opt_evals: 2_000_000,
    upgrade_batch: 65_536,
    // Cranelift's scalar call is ~8 us faster on a 1,000-node call-bound
    // DAG (16 vs 8 us) and costs ~8 ms to compile, so it pays for itself
    // within ~1,000 calls there (~8,000 on a 100-node DAG: 1.7 ms for 0.2 us
    // per call). On small tapes Python's call overhead dominates.
    scalar_upgrade_calls: 2_000,
    rules: 1,
};

/// The dispatch policy as text, for the disk cache key.
pub(crate) fn policy_key() -> String {
    format!("{POLICY:?}")
}

/// What the plan needs to know about a tape, computed once from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TapeStats {
    /// Operations that are not inputs or constants ([`Tape::n_compute`]).
    pub n_compute: usize,
    /// Whether math-library calls dominate the time per point
    /// ([`Tape::call_bound`]).
    pub call_bound: bool,
}

impl TapeStats {
    /// The statistics of `tape`.
    pub fn of(tape: &Tape) -> Self {
        TapeStats {
            n_compute: tape.n_compute(),
            call_bound: tape.call_bound(),
        }
    }

    fn large(&self) -> bool {
        self.n_compute > POLICY.small_tape
    }
}

/// How an LLVM build compiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LlvmPlan {
    /// LLVM code-generation level: 0 (cheapest) or 3 (full).
    pub opt_level: u8,
    /// Value-changing floating-point optimizations (`CompileConfig::fast_math`).
    pub fast_math: bool,
    /// Scalar libm in the batch loop, no libmvec (`CompileConfig::exact_math`).
    pub exact_math: bool,
}

impl LlvmPlan {
    #[cfg(feature = "jit")]
    pub(crate) fn options(self) -> alkahest_llvm::LlvmOptions {
        alkahest_llvm::LlvmOptions {
            fast_math: self.fast_math,
            opt_level: self.opt_level,
            exact_math: self.exact_math,
            routine_library: true,
        }
    }
}

/// From `from_batch` points on (up to the next step), a batch calls for
/// `tier`, built with `llvm` when it is LLVM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchStep {
    /// The smallest batch of this step.
    pub from_batch: usize,
    /// The tier such a batch calls for (one this build has).
    pub tier: Tier,
    /// The LLVM options for it.
    pub llvm: LlvmPlan,
}

/// Scalar calls of a function that runs on the interpreter move to `to`
/// after `after_calls` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScalarMove {
    /// Scalar calls after which they move.
    pub after_calls: u64,
    /// Where they move.
    pub to: Tier,
}

/// The dispatch decision for one function (see [`Plan::new`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// The tier to build: the forced one, or the one the planned
    /// evaluations and the tape call for, lowered to the best one this
    /// build has. Building it may still fail and fall back further.
    pub tier: Tier,
    /// Forced tiers this build lacks, passed on the way to `tier` (an
    /// implicit choice never reports a tier that is simply not compiled in).
    pub skipped: Vec<Fallback>,
    /// The options of an LLVM build under this plan.
    pub llvm: LlvmPlan,
    /// The tier a batch calls for, by batch size, from the first size that
    /// may upgrade; a function upgrades (once) when that tier is faster than
    /// the one it runs on. Empty when the tier is forced.
    pub batch_steps: Vec<BatchStep>,
    /// Whether scalar calls move off the interpreter when the function runs
    /// there (as planned, or after a fallback): implicitly chosen large
    /// tapes in builds with Cranelift.
    pub scalar_move: Option<ScalarMove>,
    /// The tier built first, to run at once while `tier` (LLVM) is built on
    /// a background thread and swapped in when ready: Cranelift when the
    /// build has it and the tape is not call-bound, else the interpreter.
    /// `None` when `tier` is built before the function returns (a forced
    /// tier, `CompileConfig::wait`, or a tier other than LLVM).
    pub interim: Option<Tier>,
    /// A tier built in the background before `tier` and swapped in when
    /// ready: Cranelift for small arithmetic tapes, whose function returns
    /// at once on the interpreter (~0.1 ms sooner than after a Cranelift
    /// compile), runs on Cranelift a fraction of a millisecond later, and on
    /// LLVM a few milliseconds after that.
    pub bridge: Option<Tier>,
}

impl Plan {
    /// The plan for a function of `config` over a tape with `stats`, with
    /// `batch_hint` points about to run (0 when none), in a build with the
    /// tiers `available` (the interpreter is always available).
    pub fn new(
        config: &CompileConfig,
        stats: &TapeStats,
        batch_hint: usize,
        available: &[Tier],
    ) -> Plan {
        let implicit = config.force_tier.is_none();
        let (tier, skipped) = match config.force_tier {
            Some(t) => settle(t, available),
            None => (
                settle(wanted(config, stats, batch_hint), available).0,
                Vec::new(),
            ),
        };
        let scalar_move =
            (implicit && stats.large() && has(available, Tier::Cranelift)).then_some(ScalarMove {
                after_calls: POLICY.scalar_upgrade_calls,
                to: Tier::Cranelift,
            });
        let (interim, bridge) = if implicit && !config.wait && tier == Tier::Llvm {
            let (first, bridge) = ready_tiers(stats, available);
            (Some(first), bridge)
        } else {
            (None, None)
        };
        Plan {
            tier,
            skipped,
            interim,
            bridge,
            llvm: llvm_plan(config, stats, batch_hint),
            batch_steps: if implicit {
                batch_steps(config, stats, available)
            } else {
                Vec::new()
            },
            scalar_move,
        }
    }

    /// The plan of a compile in this build, with no batch about to run.
    pub(crate) fn for_tape(config: &CompileConfig, tape: &Tape) -> Plan {
        Plan::new(config, &TapeStats::of(tape), 0, crate::tiers::AVAILABLE)
    }

    /// The step a batch of `n_points` falls in (`None` below the first).
    pub fn batch_step(&self, n_points: usize) -> Option<&BatchStep> {
        self.batch_steps
            .iter()
            .rev()
            .find(|s| s.from_batch <= n_points)
    }
}

/// The tier an implicit choice calls for, before availability.
fn wanted(config: &CompileConfig, stats: &TapeStats, batch_hint: usize) -> Tier {
    let evals = planned(config, batch_hint);
    if evals >= llvm_from(stats) {
        Tier::Llvm
    } else if stats.call_bound {
        // Cranelift calls libm once per point and op with every live value
        // spilled around the call; the interpreter calls it in block loops.
        // Measured on call-bound tapes: Cranelift 5-15% faster per point on
        // small formulas (crossover 70k-220k points, above LLVM's), and
        // slower on random DAGs of 100-5,000 nodes (811 vs 724 ns, 27.8 vs
        // 22.5 us per point), which also compile 15x slower.
        Tier::Interpreter
    } else if evals >= POLICY.native_evals || stats.large() {
        Tier::Cranelift
    } else {
        Tier::Interpreter
    }
}

/// The tier that runs while LLVM is built in the background (see
/// [`Plan::interim`]): the one [`wanted`] would pick below LLVM's
/// threshold, but at least Cranelift on arithmetic tapes, whose batches
/// are 3-10x faster there than interpreted, for ~0.1-0.3 ms of compile.
pub(crate) fn interim_tier(stats: &TapeStats, available: &[Tier]) -> Tier {
    if !stats.call_bound && has(available, Tier::Cranelift) {
        Tier::Cranelift
    } else {
        Tier::Interpreter
    }
}

/// The tier a function planned for LLVM returns on, and the one built in
/// the background before LLVM (see [`Plan::interim`], [`Plan::bridge`]):
/// [`interim_tier`], except that a small arithmetic tape returns on the
/// interpreter with Cranelift as the bridge (its compile is most of a
/// small function's ready time).
pub(crate) fn ready_tiers(stats: &TapeStats, available: &[Tier]) -> (Tier, Option<Tier>) {
    match interim_tier(stats, available) {
        Tier::Cranelift if !stats.large() => (Tier::Interpreter, Some(Tier::Cranelift)),
        t => (t, None),
    }
}

/// Planned evaluations from which a tape with `stats` calls for LLVM.
fn llvm_from(stats: &TapeStats) -> u64 {
    match (stats.call_bound, stats.large()) {
        (false, false) => POLICY.llvm_evals,
        (false, true) => POLICY.llvm_evals_large_tape,
        (true, false) => POLICY.llvm_evals_call_bound,
        (true, true) => POLICY.llvm_evals_large_call_bound,
    }
}

/// Evaluations planned for a compile: the configuration's expectation, or
/// the batch about to run if that is larger.
fn planned(config: &CompileConfig, batch_hint: usize) -> u64 {
    config.expected_evals.unwrap_or(0).max(batch_hint as u64)
}

fn llvm_plan(config: &CompileConfig, stats: &TapeStats, batch_hint: usize) -> LlvmPlan {
    let cheap = stats.call_bound && planned(config, batch_hint) < POLICY.llvm_full_opt_evals;
    LlvmPlan {
        opt_level: if cheap { 0 } else { 3 },
        fast_math: config.fast_math,
        exact_math: config.exact_math,
    }
}

/// The steps of [`Plan::batch_steps`]. What a batch of `n` calls for
/// changes only where `max(expected_evals, n)` crosses a threshold, so
/// looking at the first upgrading size and at each threshold above it
/// (one at or below it, or out of `usize`'s range, counts as the first)
/// finds every step.
fn batch_steps(config: &CompileConfig, stats: &TapeStats, available: &[Tier]) -> Vec<BatchStep> {
    let first = POLICY.upgrade_batch;
    let mut sizes = [
        POLICY.native_evals,
        llvm_from(stats),
        POLICY.llvm_full_opt_evals,
    ]
    .map(|t| usize::try_from(t).map_or(first, |t| t.max(first)));
    sizes.sort_unstable();
    let mut steps: Vec<BatchStep> = Vec::with_capacity(sizes.len() + 1);
    for n in std::iter::once(first).chain(sizes) {
        let step = BatchStep {
            from_batch: n,
            tier: settle(wanted(config, stats, n), available).0,
            llvm: llvm_plan(config, stats, n),
        };
        // The LLVM options matter only where LLVM is built.
        let same = steps
            .last()
            .is_some_and(|s| s.tier == step.tier && (s.tier != Tier::Llvm || s.llvm == step.llvm));
        if !same {
            steps.push(step);
        }
    }
    steps
}

fn has(available: &[Tier], t: Tier) -> bool {
    t == Tier::Interpreter || available.contains(&t)
}

/// The best available tier not above `t`, with a fallback for each tier
/// passed on the way.
fn settle(t: Tier, available: &[Tier]) -> (Tier, Vec<Fallback>) {
    let mut t = t;
    let mut skipped = Vec::new();
    while !has(available, t) {
        let to = below(t).unwrap_or(Tier::Interpreter);
        skipped.push(Fallback {
            from: t,
            to,
            reason: Reason::NotCompiledIn(cargo_feature(t)),
            scope: Scope::Function,
        });
        t = to;
    }
    (t, skipped)
}

/// The tier a failed build of `t` falls back to.
pub(crate) fn below(t: Tier) -> Option<Tier> {
    match t {
        Tier::Mlir => Some(Tier::Llvm),
        Tier::Llvm => Some(Tier::Cranelift),
        Tier::Cranelift => Some(Tier::Interpreter),
        Tier::Interpreter => None,
    }
}

/// Order of the tiers by batch speed, for upgrades (the MLIR tier is never
/// chosen implicitly, so it ranks with LLVM and is never upgraded from).
pub(crate) fn speed_rank(t: Tier) -> u8 {
    match t {
        Tier::Interpreter => 0,
        Tier::Cranelift => 1,
        Tier::Llvm | Tier::Mlir => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Tier::{Cranelift as C, Interpreter as I, Llvm as L, Mlir as M};

    const P: Policy = POLICY;
    const ALL: &[Tier] = &[I, C, L, M];
    const NO_MLIR: &[Tier] = &[I, C, L];
    const NO_JIT: &[Tier] = &[I, C];
    const NO_CRANELIFT: &[Tier] = &[I, L];
    const ONLY_I: &[Tier] = &[I];
    const O0: LlvmPlan = LlvmPlan {
        opt_level: 0,
        fast_math: false,
        exact_math: false,
    };
    const O3: LlvmPlan = LlvmPlan {
        opt_level: 3,
        fast_math: false,
        exact_math: false,
    };
    const O3_FAST: LlvmPlan = LlvmPlan {
        opt_level: 3,
        fast_math: true,
        exact_math: false,
    };
    const O0_EXACT: LlvmPlan = LlvmPlan {
        exact_math: true,
        ..O0
    };
    const O3_EXACT: LlvmPlan = LlvmPlan {
        exact_math: true,
        ..O3
    };
    const SMALL: usize = P.small_tape;
    const LARGE: usize = P.small_tape + 1;
    const UB: usize = P.upgrade_batch;
    const SCALAR: Option<u64> = Some(P.scalar_upgrade_calls);

    fn arith(n_compute: usize) -> TapeStats {
        TapeStats {
            n_compute,
            call_bound: false,
        }
    }

    fn calls(n_compute: usize) -> TapeStats {
        TapeStats {
            n_compute,
            call_bound: true,
        }
    }

    fn none() -> CompileConfig {
        CompileConfig::default()
    }

    fn evals(n: u64) -> CompileConfig {
        CompileConfig {
            expected_evals: Some(n),
            ..CompileConfig::default()
        }
    }

    fn forced(t: Tier, expected: Option<u64>) -> CompileConfig {
        CompileConfig {
            force_tier: Some(t),
            expected_evals: expected,
            ..CompileConfig::default()
        }
    }

    fn fast(mut c: CompileConfig) -> CompileConfig {
        c.fast_math = true;
        c
    }

    fn exact(mut c: CompileConfig) -> CompileConfig {
        c.exact_math = true;
        c
    }

    fn u(x: u64) -> usize {
        usize::try_from(x).unwrap()
    }

    /// A batch step to a tier other than LLVM.
    fn to(from: usize, t: Tier) -> (usize, Tier, Option<LlvmPlan>) {
        assert_ne!(t, L);
        (from, t, None)
    }

    /// A batch step to LLVM with `o`.
    fn llvm(from: usize, o: LlvmPlan) -> (usize, Tier, Option<LlvmPlan>) {
        (from, L, Some(o))
    }

    struct Case {
        what: &'static str,
        config: CompileConfig,
        stats: TapeStats,
        batch: usize,
        available: &'static [Tier],
        tier: Tier,
        llvm: LlvmPlan,
        skipped: &'static [Tier],
        steps: Vec<(usize, Tier, Option<LlvmPlan>)>,
        scalar_after: Option<u64>,
    }

    #[allow(clippy::too_many_arguments)]
    fn case(
        what: &'static str,
        config: CompileConfig,
        stats: TapeStats,
        batch: usize,
        available: &'static [Tier],
        (tier, llvm, skipped): (Tier, LlvmPlan, &'static [Tier]),
        steps: Vec<(usize, Tier, Option<LlvmPlan>)>,
        scalar_after: Option<u64>,
    ) -> Case {
        Case {
            what,
            config,
            stats,
            batch,
            available,
            tier,
            llvm,
            skipped,
            steps,
            scalar_after,
        }
    }

    /// One row per case: (what, config, tape, batch about to run, tiers in
    /// the build) -> ((tier, LLVM options, forced tiers skipped), batch
    /// steps, scalar calls after which scalar calls move).
    #[rustfmt::skip]
    fn cases() -> Vec<Case> {
        let small_arith_steps = || vec![to(UB, C), llvm(u(P.llvm_evals), O3)];
        let small_calls_steps = || vec![to(UB, I), llvm(u(P.llvm_evals_call_bound), O0), llvm(u(P.llvm_full_opt_evals), O3)];
        vec![
            // Small arithmetic tape: interpreter, then Cranelift, then LLVM by evaluations.
            case("small arith, no plan", none(), arith(5), 0, ALL, (I, O3, &[]), small_arith_steps(), None),
            case("small arith, below native", evals(P.native_evals - 1), arith(5), 0, ALL, (I, O3, &[]), small_arith_steps(), None),
            case("small arith, native", evals(P.native_evals), arith(5), 0, ALL, (C, O3, &[]), small_arith_steps(), None),
            case("small arith, below LLVM", evals(P.llvm_evals - 1), arith(5), 0, ALL, (C, O3, &[]), small_arith_steps(), None),
            case("small arith, LLVM", evals(P.llvm_evals), arith(5), 0, ALL, (L, O3, &[]), vec![llvm(UB, O3)], None),
            case("small arith, fast math", fast(evals(P.llvm_evals)), arith(5), 0, ALL, (L, O3_FAST, &[]), vec![llvm(UB, O3_FAST)], None),
            // Exact math changes only the LLVM options, never the tier choice.
            case("small arith, exact math", exact(evals(P.llvm_evals)), arith(5), 0, ALL, (L, O3_EXACT, &[]), vec![llvm(UB, O3_EXACT)], None),
            case("small calls, exact math", exact(none()), calls(5), 0, ALL, (I, O0_EXACT, &[]), vec![to(UB, I), llvm(u(P.llvm_evals_call_bound), O0_EXACT), llvm(u(P.llvm_full_opt_evals), O3_EXACT)], None),
            case("a batch counts like planned evaluations", none(), arith(5), 1_000_000, ALL, (L, O3, &[]), small_arith_steps(), None),
            case("small_tape ops is still small", none(), arith(SMALL), 0, ALL, (I, O3, &[]), small_arith_steps(), None),
            // Large arithmetic tape: native with no plan, LLVM from far fewer points, at any size.
            case("large arith, no plan", none(), arith(LARGE), 0, ALL, (C, O3, &[]), vec![llvm(UB, O3)], SCALAR),
            case("large arith, below LLVM", evals(P.llvm_evals_large_tape - 1), arith(LARGE), 0, ALL, (C, O3, &[]), vec![llvm(UB, O3)], SCALAR),
            case("large arith, LLVM", evals(P.llvm_evals_large_tape), arith(LARGE), 0, ALL, (L, O3, &[]), vec![llvm(UB, O3)], SCALAR),
            case("huge arith, LLVM", evals(1_000_000), arith(20_000), 0, ALL, (L, O3, &[]), vec![llvm(UB, O3)], SCALAR),
            // Small call-bound tape: skips Cranelift; LLVM at its cheapest level until a large plan.
            case("small calls, no plan", none(), calls(5), 0, ALL, (I, O0, &[]), small_calls_steps(), None),
            case("small calls, native", evals(P.native_evals), calls(5), 0, ALL, (I, O0, &[]), small_calls_steps(), None),
            case("small calls, below LLVM", evals(P.llvm_evals_call_bound - 1), calls(5), 0, ALL, (I, O0, &[]), vec![to(UB, I), llvm(u(P.llvm_evals_call_bound), O0), llvm(u(P.llvm_full_opt_evals), O3)], None),
            case("small calls, LLVM", evals(P.llvm_evals_call_bound), calls(5), 0, ALL, (L, O0, &[]), vec![llvm(UB, O0), llvm(u(P.llvm_full_opt_evals), O3)], None),
            case("small calls, below full opt", evals(P.llvm_full_opt_evals - 1), calls(5), 0, ALL, (L, O0, &[]), vec![llvm(UB, O0), llvm(u(P.llvm_full_opt_evals), O3)], None),
            case("small calls, full opt", evals(P.llvm_full_opt_evals), calls(5), 0, ALL, (L, O3, &[]), vec![llvm(UB, O3)], None),
            case("small calls, full-opt batch", none(), calls(5), u(P.llvm_full_opt_evals), ALL, (L, O3, &[]), small_calls_steps(), None),
            // Large call-bound tape: interpreter, LLVM from few points; scalar calls move.
            case("large calls, no plan", none(), calls(LARGE), 0, ALL, (I, O0, &[]), vec![llvm(UB, O0), llvm(u(P.llvm_full_opt_evals), O3)], SCALAR),
            case("large calls, below LLVM", evals(P.llvm_evals_large_call_bound - 1), calls(LARGE), 0, ALL, (I, O0, &[]), vec![llvm(UB, O0), llvm(u(P.llvm_full_opt_evals), O3)], SCALAR),
            case("large calls, LLVM", evals(P.llvm_evals_large_call_bound), calls(LARGE), 0, ALL, (L, O0, &[]), vec![llvm(UB, O0), llvm(u(P.llvm_full_opt_evals), O3)], SCALAR),
            case("large calls, LLVM batch", none(), calls(LARGE), u(P.llvm_evals_large_call_bound), ALL, (L, O0, &[]), vec![llvm(UB, O0), llvm(u(P.llvm_full_opt_evals), O3)], SCALAR),
            // Tiers missing from the build: implicit choices settle quietly.
            case("no LLVM: Cranelift instead", evals(P.llvm_evals), arith(5), 0, NO_JIT, (C, O3, &[]), vec![to(UB, C)], None),
            case("interpreter only", evals(P.llvm_evals), arith(LARGE), 0, ONLY_I, (I, O3, &[]), vec![to(UB, I)], None),
            case("no Cranelift: interpreter, no scalar move", none(), arith(LARGE), 0, NO_CRANELIFT, (I, O3, &[]), vec![llvm(UB, O3)], None),
            case("no Cranelift, small", none(), arith(5), 0, NO_CRANELIFT, (I, O3, &[]), vec![to(UB, I), llvm(u(P.llvm_evals), O3)], None),
            // Forcing wins over everything, never moves, and reports missing tiers.
            case("forced interpreter", forced(I, Some(u64::MAX)), arith(100), usize::MAX, ALL, (I, O3, &[]), vec![], None),
            case("forced Cranelift, large calls", forced(C, None), calls(LARGE), 0, ALL, (C, O0, &[]), vec![], None),
            case("forced LLVM keeps LLVM's policy", forced(L, None), calls(5), 0, ALL, (L, O0, &[]), vec![], None),
            case("forced MLIR", forced(M, None), arith(5), 0, ALL, (M, O3, &[]), vec![], None),
            case("forced MLIR, no MLIR", forced(M, None), arith(5), 0, NO_MLIR, (L, O3, &[M]), vec![], None),
            case("forced LLVM, no LLVM", forced(L, None), arith(5), 0, NO_JIT, (C, O3, &[L]), vec![], None),
            case("forced Cranelift, no Cranelift", forced(C, None), arith(LARGE), 0, NO_CRANELIFT, (I, O3, &[C]), vec![], None),
            case("forced MLIR, interpreter only", forced(M, None), arith(5), 0, ONLY_I, (I, O3, &[M, L, C]), vec![], None),
        ]
    }

    #[test]
    fn the_plan_table() {
        for c in cases() {
            let p = Plan::new(&c.config, &c.stats, c.batch, c.available);
            let steps: Vec<_> = p
                .batch_steps
                .iter()
                .map(|s| (s.from_batch, s.tier, (s.tier == L).then_some(s.llvm)))
                .collect();
            let skipped: Vec<Tier> = p.skipped.iter().map(|f| f.from).collect();
            assert_eq!(p.tier, c.tier, "{}: tier", c.what);
            assert_eq!(p.llvm, c.llvm, "{}: LLVM options", c.what);
            assert_eq!(skipped, c.skipped, "{}: skipped", c.what);
            assert_eq!(steps, c.steps, "{}: batch steps", c.what);
            assert_eq!(
                p.scalar_move.map(|m| m.after_calls),
                c.scalar_after,
                "{}: scalar move",
                c.what
            );
            if let Some(m) = p.scalar_move {
                assert_eq!(m.to, C, "{}", c.what);
            }
        }
    }

    #[test]
    fn llvm_plans_start_on_an_interim_tier() {
        let big = evals(10_000_000);
        let interim = |c: &CompileConfig, s: TapeStats, a: &[Tier]| Plan::new(c, &s, 0, a).interim;
        let bridge = |c: &CompileConfig, s: TapeStats, a: &[Tier]| Plan::new(c, &s, 0, a).bridge;
        // Small arithmetic: ready on the interpreter, Cranelift, then LLVM.
        assert_eq!(interim(&big, arith(SMALL), ALL), Some(I));
        assert_eq!(bridge(&big, arith(SMALL), ALL), Some(C));
        // Large arithmetic: Cranelift first (LLVM takes long).
        assert_eq!(interim(&big, arith(LARGE), NO_MLIR), Some(C));
        assert_eq!(bridge(&big, arith(LARGE), NO_MLIR), None);
        assert_eq!(interim(&big, calls(SMALL), ALL), Some(I), "call-bound");
        assert_eq!(bridge(&big, calls(SMALL), ALL), None, "call-bound");
        assert_eq!(interim(&big, arith(SMALL), NO_CRANELIFT), Some(I));
        assert_eq!(bridge(&big, arith(SMALL), NO_CRANELIFT), None);
        // Nothing to wait for: no LLVM planned, or none in the build.
        assert_eq!(interim(&none(), arith(SMALL), ALL), None);
        assert_eq!(interim(&big, arith(SMALL), NO_JIT), None);
        // Built before returning: forced, or asked to wait.
        assert_eq!(
            interim(&forced(L, Some(10_000_000)), arith(SMALL), ALL),
            None
        );
        let wait = CompileConfig { wait: true, ..big };
        assert_eq!(interim(&wait, arith(SMALL), ALL), None);
        assert_eq!(bridge(&wait, arith(SMALL), ALL), None);
    }

    #[test]
    fn skipped_tiers_say_why() {
        let p = Plan::new(&forced(M, None), &arith(5), 0, ONLY_I);
        let text: Vec<String> = p.skipped.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            text,
            [
                "this build has no MLIR tier (cargo feature 'mlir'); falling back to the llvm tier",
                "this build has no LLVM tier (cargo feature 'jit'); falling back to the cranelift tier",
                "this build has no Cranelift tier (cargo feature 'cranelift'); falling back to the interpreter tier",
            ]
        );
        assert_eq!(p.skipped[1].reason, Reason::NotCompiledIn("jit"));
        assert_eq!((p.skipped[1].from, p.skipped[1].to), (L, C));
    }

    /// The steps are a faithful summary: a batch of any size gets what a
    /// plan made for that batch would build.
    #[test]
    fn batch_steps_agree_with_planning_for_the_batch() {
        let thresholds = [
            P.native_evals,
            P.llvm_evals,
            P.llvm_evals_large_tape,
            P.llvm_evals_call_bound,
            P.llvm_evals_large_call_bound,
            P.llvm_full_opt_evals,
            P.upgrade_batch as u64,
        ];
        let mut sizes = vec![0, 1, usize::MAX];
        for t in thresholds {
            sizes.extend([u(t) - 1, u(t), u(t) + 1, 2 * u(t)]);
        }
        let mut configs = vec![none(), fast(none()), exact(none())];
        configs.extend(thresholds.iter().flat_map(|&t| [evals(t - 1), evals(t)]));
        let tapes = [arith(5), arith(SMALL), arith(LARGE), calls(5), calls(LARGE)];
        for config in &configs {
            for stats in &tapes {
                for available in [ALL, NO_JIT, NO_CRANELIFT, ONLY_I] {
                    let plan = Plan::new(config, stats, 0, available);
                    for &n in &sizes {
                        let step = plan.batch_step(n);
                        if n < UB {
                            assert!(step.is_none());
                            continue;
                        }
                        let step = step.unwrap();
                        let direct = Plan::new(config, stats, n, available);
                        assert_eq!(step.tier, direct.tier, "{config:?} {stats:?} {n}");
                        if step.tier == L {
                            assert_eq!(step.llvm, direct.llvm, "{config:?} {stats:?} {n}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stats_come_from_the_tape() {
        use alkahest_tape::{Op, UnaryFn};
        let tape = Tape::new(
            1,
            vec![
                Op::Input(0),
                Op::Const(2.0),
                Op::Unary(UnaryFn::Sin, 0),
                Op::Mul(1, 2),
            ],
            vec![3],
        )
        .unwrap();
        assert_eq!(TapeStats::of(&tape), calls(2));
    }

    #[test]
    fn the_policy_key_names_every_number() {
        let key = policy_key();
        for n in [
            P.small_tape as u64,
            P.native_evals,
            P.llvm_evals,
            P.llvm_evals_large_tape,
            P.llvm_evals_call_bound,
            P.llvm_evals_large_call_bound,
            P.llvm_full_opt_evals,
            P.upgrade_batch as u64,
            P.scalar_upgrade_calls,
            u64::from(P.rules),
        ] {
            assert!(key.contains(&n.to_string()), "{n} in {key}");
        }
    }
}
