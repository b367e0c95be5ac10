//! The long differential campaign (issue 15, item 6): random programs
//! through the whole compile pipeline, every CPU code generator, the
//! default optimizer and the persistence round trips, against the
//! interpreter.
//!
//! One case is a random program (`alkahest_testkit::exprs`: every numeric
//! function, comparisons, `And`/`Or`/`Not`, `where`, polynomials, symbolic
//! powers) with 1 to 8 outputs (a quarter of the cases 17 to 32) sharing
//! subexpressions, over 1 to 3 variables, evaluated at 37 points of which
//! about half are special values (NaN, ±inf, ±0, subnormals, ±1e308, ...).
//! Per case:
//!
//! * with `optimize="none"`, the scalar entry of Cranelift, LLVM and LLVM
//!   with `exact_math` gives the interpreter's bits at every point, as do the
//!   batch entries of the interpreter, Cranelift and exact-math LLVM (the
//!   promise table in `CompileConfig`'s docs);
//! * the default LLVM batch (libmvec) stays within the propagated libmvec
//!   bound (`alkahest_testkit::drift`);
//! * the pool file round trip (`to_bytes` / `load_into` in a fresh pool)
//!   lowers to the same tape;
//! * every 4th case: the default optimizer's rewrite (`optimize="speed"`)
//!   finishes, and Cranelift and exact-math LLVM give the interpreter's bits
//!   on the rewritten tape;
//! * every 32nd case: a disk cache entry written by one handle and loaded by
//!   another gives the same bits.
//!
//! `make test` runs a short profile (`ALKAHEST_FUZZ_CASES` unset: 2 × 128
//! cases, fixed seed); `make fuzz` sets `ALKAHEST_FUZZ_CASES` and leaves the
//! seed random, split over two shards that run on two threads. Run alone
//! with `--nocapture` it prints progress. The optimizer's results are
//! checked against mpmath by `tests/test_fuzz.py` (no high-precision
//! reference on this side), and the MLIR tier by its own crate's engine
//! property.
#![cfg(all(feature = "cranelift", feature = "jit"))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alkahest_compile::{CompileCache, CompileConfig, CompiledFn, Optimize, Tier, compile_many};
use alkahest_core::ExprId;
use alkahest_tape::{Op, Tape, lower_many};
use alkahest_testkit::drift::{bulk_bounds, out_reg, within};
use alkahest_testkit::exprs::{pool, programs};
use alkahest_testkit::{Program, SPECIALS, reads_nan_sign, same};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};

/// Points per case: not a multiple of any vector width (masked tails run).
const N: usize = 37;

/// Cases per shard without `ALKAHEST_FUZZ_CASES`.
const CI_CASES: u32 = 128;

/// The longest one rewrite may take before the campaign calls it a hang.
const REWRITE_LIMIT: Duration = Duration::from_secs(10);

/// One generated case.
#[derive(Debug, Clone)]
struct Case {
    prog: Program,
    picks: Vec<usize>,
    n_vars: usize,
    seed: Vec<f64>,
    /// Per point and variable: a special value's index, or `None` for a
    /// value from `seed`.
    specials: Vec<Option<usize>>,
    /// Which extra checks run (optimizer, disk cache), from its low bits.
    salt: u32,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        programs(1..=16),
        // Mostly a few outputs; a quarter of the cases more than 16 (the
        // staged loops, and constant outputs filled in rather than
        // computed).
        prop_oneof![
            3 => prop::collection::vec(0usize..64, 0..8),
            1 => prop::collection::vec(0usize..64, 16..32),
        ],
        1usize..=3,
        prop::collection::vec(-4.0f64..4.0, 8..16),
        prop::collection::vec(prop::option::weighted(0.5, 0..SPECIALS.len()), N * 3),
        any::<u32>(),
    )
        .prop_map(|(prog, picks, n_vars, seed, specials, salt)| Case {
            prog,
            picks,
            n_vars,
            seed,
            specials,
            salt,
        })
}

impl Case {
    /// One column per variable.
    fn columns(&self) -> Vec<Vec<f64>> {
        (0..self.n_vars)
            .map(|v| {
                (0..N)
                    .map(|i| match self.specials[i * 3 + v] {
                        Some(k) => SPECIALS[k],
                        None => self.seed[(i * 7 + v * 3) % self.seed.len()],
                    })
                    .collect()
            })
            .collect()
    }
}

fn config(tier: Tier, optimize: Optimize, exact_math: bool) -> CompileConfig {
    CompileConfig {
        force_tier: Some(tier),
        optimize,
        exact_math,
        ..Default::default()
    }
}

/// The batch entry's output columns.
fn batch(f: &CompiledFn, cols: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, TestCaseError> {
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut outs = vec![vec![0.0; N]; f.n_outputs()];
    let mut out_refs: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    f.eval_columns(&refs, &mut out_refs)
        .map_err(|e| TestCaseError::fail(format!("{} batch: {e}", f.tier().name())))?;
    Ok(outs)
}

/// `f` against the interpreter's batch `want` on `tape` (which `f`
/// compiled): scalar entry bit for bit; the batch bit for bit, or within
/// the libmvec bound when `drift` is set.
fn agree(
    f: &CompiledFn,
    tape: &Tape,
    cols: &[Vec<f64>],
    want: &[Vec<f64>],
    drift: bool,
) -> Result<(), TestCaseError> {
    let what = format!(
        "{}{}",
        f.tier().name(),
        if f.config().exact_math {
            " (exact_math)"
        } else {
            ""
        }
    );
    let got = batch(f, cols)?;
    let mut s = vec![0.0; f.n_outputs()];
    for i in 0..N {
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        let regs = tape.registers(&x);
        if reads_nan_sign(tape, &regs) {
            continue;
        }
        f.eval(&x, &mut s)
            .map_err(|e| TestCaseError::fail(format!("{what} scalar: {e}")))?;
        let bounds = if drift {
            bulk_bounds(tape, &regs)
        } else {
            Vec::new()
        };
        for k in 0..f.n_outputs() {
            let w = want[k][i];
            prop_assert!(
                same(s[k], w),
                "{what} scalar, output {k} at {x:?}: {:e} != {w:e}\n{tape:?}",
                s[k]
            );
            let ok = if drift {
                within(got[k][i], w, bounds[out_reg(tape, k)])
            } else {
                same(got[k][i], w)
            };
            prop_assert!(
                ok,
                "{what} batch, output {k} at {x:?}: {:e} vs {w:e}\n{tape:?}",
                got[k][i]
            );
        }
    }
    Ok(())
}

/// A tape's ops and outputs as text: equal texts are equal tapes, NaN
/// constants included (which `PartialEq` on `f64` calls unequal).
fn same_tape(t: &Tape) -> String {
    format!("{t:?}")
}

/// The distinct expressions a case compiled: its outputs' registers, once
/// each, that compute something (not an input or a constant).
fn expressions(t: &Tape) -> u64 {
    let mut regs: Vec<u32> = t.outputs().to_vec();
    regs.sort_unstable();
    regs.dedup();
    regs.iter()
        .filter(|&&r| !matches!(t.ops()[r as usize], Op::Input(_) | Op::Const(_)))
        .count() as u64
}

fn counts() -> String {
    format!(
        "{} cases, {} outputs, {} distinct computed expressions, {} rewrites (slowest {} ms)",
        CASES.load(Ordering::Relaxed),
        OUTPUTS.load(Ordering::Relaxed),
        EXPRESSIONS.load(Ordering::Relaxed),
        REWRITES.load(Ordering::Relaxed),
        SLOWEST_REWRITE_US.load(Ordering::Relaxed) / 1000,
    )
}

/// Counts shared by the shards, for the progress line and the summary.
static CASES: AtomicU64 = AtomicU64::new(0);
static OUTPUTS: AtomicU64 = AtomicU64::new(0);
static EXPRESSIONS: AtomicU64 = AtomicU64::new(0);
static REWRITES: AtomicU64 = AtomicU64::new(0);
static SLOWEST_REWRITE_US: AtomicU64 = AtomicU64::new(0);

fn run_case(c: &Case, started: Instant) -> Result<(), TestCaseError> {
    let (p, vars) = pool(c.n_vars);
    let outs: Vec<ExprId> = c.prog.outputs(&p, &vars, &c.picks);
    let cols = c.columns();
    let none = Optimize::None;
    let compiled = |t: Tier, o: Optimize, exact: bool| {
        compile_many(&p, &outs, &vars, &config(t, o, exact))
            .map_err(|e| TestCaseError::fail(format!("{} compile: {e}", t.name())))
    };

    // The reference: the interpreter's batch, equal to its scalar entry.
    let interp = compiled(Tier::Interpreter, none, false)?;
    let tape = interp.tape().clone();
    prop_assert_eq!(
        same_tape(&tape),
        same_tape(&lower_many(&p, &outs, &vars).unwrap())
    );
    let want = batch(&interp, &cols)?;
    agree(&interp, &tape, &cols, &want, false)?;

    for (tier, exact, drift) in [
        (Tier::Cranelift, false, false),
        (Tier::Llvm, true, false),
        (Tier::Llvm, false, true),
    ] {
        let f = compiled(tier, none, exact)?;
        prop_assert_eq!(f.tier(), tier, "fell back: {:?}", f.fallbacks());
        agree(&f, &tape, &cols, &want, drift)?;
    }

    // The pool file: a fresh pool lowers the loaded roots to the same tape.
    let bytes =
        alkahest_persist::to_bytes(&p, &outs).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (q, qvars) = pool(c.n_vars);
    let loaded =
        alkahest_persist::load_into(&q, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        same_tape(&lower_many(&q, &loaded, &qvars).unwrap()),
        same_tape(&tape),
        "pool file round trip"
    );

    if c.salt.is_multiple_of(4) {
        let t0 = Instant::now();
        let fast = compiled(Tier::Interpreter, Optimize::Speed, false)?;
        let took = t0.elapsed();
        prop_assert!(took < REWRITE_LIMIT, "the rewrite took {took:?}\n{tape:?}");
        SLOWEST_REWRITE_US.fetch_max(took.as_micros() as u64, Ordering::Relaxed);
        REWRITES.fetch_add(1, Ordering::Relaxed);
        let rewritten = fast.tape().clone();
        let fast_want = batch(&fast, &cols)?;
        agree(&fast, &rewritten, &cols, &fast_want, false)?;
        for (tier, exact) in [(Tier::Cranelift, false), (Tier::Llvm, true)] {
            let f = CompiledFn::new(rewritten.clone(), config(tier, none, exact));
            prop_assert_eq!(f.tier(), tier);
            agree(&f, &rewritten, &cols, &fast_want, false)?;
        }
    }

    if c.salt % 32 == 1 {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(Tier::Llvm, none, true);
        let writer = CompileCache::with_dir(dir.path()).unwrap();
        writer.compile_many(&p, &outs, &vars, &cfg).unwrap();
        let reader = CompileCache::with_dir(dir.path()).unwrap();
        let f = reader.compile_many(&p, &outs, &vars, &cfg).unwrap();
        prop_assert_eq!(reader.stats().disk_hits, 1);
        agree(&f, &tape, &cols, &want, false)?;
    }

    let n = CASES.fetch_add(1, Ordering::Relaxed) + 1;
    OUTPUTS.fetch_add(outs.len() as u64, Ordering::Relaxed);
    EXPRESSIONS.fetch_add(expressions(&tape), Ordering::Relaxed);
    if n.is_multiple_of(10_000) {
        eprintln!(
            "fuzz campaign: {}, {:.0} s",
            counts(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The seed for shard `k`: `PROPTEST_RNG_SEED` (what `make test` fixes) mixed
/// with the shard, or a random one (printed, to replay a run).
fn shard_seed(k: u64) -> u64 {
    let base = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let s = t.as_nanos() as u64 ^ u64::from(std::process::id());
            eprintln!("fuzz campaign: PROPTEST_RNG_SEED={s}");
            s
        });
    base ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn shard(k: u64) {
    let n_cases = std::env::var("ALKAHEST_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(CI_CASES, |n| n.div_ceil(2));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: n_cases,
        rng_seed: RngSeed::Fixed(shard_seed(k)),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let started = Instant::now();
    let result = runner.run(&cases(), |c| run_case(&c, started));
    eprintln!(
        "fuzz campaign (shard {k} done): {} in {:.0} s",
        counts(),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn campaign_shard_0() {
    shard(0);
}

#[test]
fn campaign_shard_1() {
    shard(1);
}
