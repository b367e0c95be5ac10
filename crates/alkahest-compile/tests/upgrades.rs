//! A function's tier can move up after it was compiled, where its plan
//! says: batch calls by batch size, scalar calls of a large
//! interpreter-tier function by count. Results never change when they do.
//! (When each happens is the plan's table test, in `src/plan.rs`.)

use alkahest_compile::{CompileConfig, CompiledFn, Fallback, Reason, Tier};
#[cfg(all(feature = "cranelift", feature = "jit"))]
use std::time::Duration;

#[cfg(all(feature = "cranelift", feature = "jit"))]
use alkahest_compile::wait_idle;
use alkahest_tape::{Op, Tape, UnaryFn};

/// 40 nested `sin`/`exp(cos(.)*y)` steps: > 64 ops, call-bound.
fn call_bound() -> Tape {
    let mut ops = vec![Op::Input(0), Op::Input(1)];
    let mut last = 0u32;
    for k in 0..40 {
        let n = ops.len() as u32;
        if k % 2 == 1 {
            ops.push(Op::Mul(1, 1));
            ops.push(Op::Add(last, n));
            ops.push(Op::Unary(UnaryFn::Sin, n + 1));
            last = n + 2;
        } else {
            ops.push(Op::Unary(UnaryFn::Cos, last));
            ops.push(Op::Mul(n, 1));
            ops.push(Op::Unary(UnaryFn::Exp, n + 1));
            last = n + 2;
        }
    }
    Tape::new(2, ops, vec![last]).unwrap()
}

fn points() -> Vec<[f64; 2]> {
    (0..64)
        .map(|i| [i as f64 * 0.05 - 1.6, (i % 7) as f64 * 0.3 - 0.9])
        .collect()
}

#[test]
fn scalar_calls_move_to_cranelift_on_large_interpreter_tapes() {
    let tape = call_bound();
    assert!(tape.call_bound() && tape.n_compute() > 64);
    let f = CompiledFn::new(tape, CompileConfig::default());
    assert_eq!(f.tier(), Tier::Interpreter);
    let pts = points();
    let before: Vec<u64> = pts
        .iter()
        .map(|p| f.eval_scalar(p).unwrap().to_bits())
        .collect();
    let moves = f.plan().scalar_move;
    assert_eq!(moves.is_some(), cfg!(feature = "cranelift"));
    let Some(m) = moves else { return };
    let after_calls = usize::try_from(m.after_calls).unwrap();
    for i in pts.len()..after_calls - 1 {
        f.eval_scalar(&pts[i % pts.len()]).unwrap();
    }
    assert_eq!(f.scalar_tier(), Tier::Interpreter, "one call short");
    f.eval_scalar(&pts[0]).unwrap();
    assert_eq!(f.scalar_tier(), m.to);
    assert_eq!(f.tier(), Tier::Interpreter, "batches stay where they were");
    let after: Vec<u64> = pts
        .iter()
        .map(|p| f.eval_scalar(p).unwrap().to_bits())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn fallbacks_are_values_and_notes() {
    // MLIR starts from the expression, which a bare tape lacks (or is not
    // compiled in); either way the function falls back to LLVM's tier or
    // below, and says why in both forms.
    let config = CompileConfig {
        force_tier: Some(Tier::Mlir),
        ..CompileConfig::default()
    };
    let f = CompiledFn::new(call_bound(), config);
    let fallbacks = f.fallbacks();
    assert_eq!(fallbacks[0].from, Tier::Mlir);
    assert_eq!(fallbacks[0].to, Tier::Llvm);
    let want = if cfg!(feature = "mlir") {
        Reason::NeedsSource
    } else {
        Reason::NotCompiledIn("mlir")
    };
    assert_eq!(fallbacks[0].reason, want);
    assert_eq!(fallbacks.last().unwrap().to, f.tier());
    let text: Vec<String> = fallbacks.iter().map(Fallback::to_string).collect();
    assert_eq!(f.notes(), text);
    assert!(text[0].ends_with("; falling back to the llvm tier"));
}

#[cfg(all(feature = "cranelift", feature = "jit"))]
#[test]
fn large_batches_move_cranelift_functions_to_llvm() {
    // 2x^3 + 5x - 1: arithmetic, Cranelift for 10k planned evaluations.
    let tape = cubic();
    let config = CompileConfig {
        expected_evals: Some(10_000),
        ..CompileConfig::default()
    };
    let f = CompiledFn::new(tape.clone(), config);
    assert_eq!(f.tier(), Tier::Cranelift);
    let xs: Vec<f64> = (0..1_000_000).map(|i| i as f64 * 4e-6 - 2.0).collect();
    let mut small = vec![0.0; 1_000];
    f.prepare_batch(small.len());
    f.eval_columns(&[&xs[..1_000]], &mut [&mut small]).unwrap();
    assert_eq!(f.tier(), Tier::Cranelift, "a small batch does not upgrade");
    let mut out = vec![0.0; xs.len()];
    f.prepare_batch(xs.len());
    // LLVM is built in the background; this batch runs on what is ready.
    assert!(f.pending_tier() == Some(Tier::Llvm) || f.tier() == Tier::Llvm);
    f.eval_columns(&[&xs], &mut [&mut out]).unwrap();
    assert!(f.wait(Some(Duration::from_secs(120))));
    assert_eq!(f.pending_tier(), None);
    assert_eq!(f.tier(), Tier::Llvm);
    assert_eq!(
        f.scalar_tier(),
        Tier::Llvm,
        "scalar calls follow the upgrade"
    );
    let reference = CompiledFn::new(
        tape,
        CompileConfig {
            force_tier: Some(Tier::Interpreter),
            ..CompileConfig::default()
        },
    );
    let mut want = vec![0.0; xs.len()];
    reference.eval_columns(&[&xs], &mut [&mut want]).unwrap();
    assert!(
        out.iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    assert_eq!(
        f.eval_scalar(&[0.3]).unwrap(),
        reference.eval_scalar(&[0.3]).unwrap()
    );
}

/// 2x^3 + 5x - 1 as a tape: arithmetic, so every tier's result is the same.
#[cfg(all(feature = "cranelift", feature = "jit"))]
fn cubic() -> Tape {
    let ops = vec![
        Op::Input(0),
        Op::Mul(0, 0),
        Op::Mul(1, 0),
        Op::Const(2.0),
        Op::Mul(2, 3),
        Op::Const(5.0),
        Op::Mul(5, 0),
        Op::Add(4, 6),
        Op::Const(1.0),
        Op::Sub(7, 8),
    ];
    Tape::new(1, ops, vec![9]).unwrap()
}

#[cfg(all(feature = "cranelift", feature = "jit"))]
#[test]
fn llvm_is_built_in_the_background_and_swapped_in() {
    let config = CompileConfig {
        expected_evals: Some(10_000_000),
        ..CompileConfig::default()
    };
    let f = std::sync::Arc::new(CompiledFn::new(cubic(), config));
    assert_eq!(f.plan().tier, Tier::Llvm);
    // A small arithmetic tape: ready at once on the interpreter, then
    // Cranelift and LLVM from the background (unless they won the race).
    assert_eq!(f.plan().interim, Some(Tier::Interpreter));
    assert_eq!(f.plan().bridge, Some(Tier::Cranelift));
    assert!(matches!(
        f.tier(),
        Tier::Interpreter | Tier::Cranelift | Tier::Llvm
    ));
    let xs: Vec<f64> = (0..4096).map(|i| f64::from(i) * 1e-3 - 2.0).collect();
    let want: Vec<u64> = xs
        .iter()
        .map(|x| (2.0 * (x * x * x) + 5.0 * x - 1.0f64).to_bits())
        .collect();
    // Calls on other threads while the swap happens all see a whole
    // evaluator: every result is exact.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (f, xs, want) = (std::sync::Arc::clone(&f), xs.clone(), want.clone());
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let mut out = vec![0.0; xs.len()];
                    f.eval_columns(&[&xs], &mut [&mut out]).unwrap();
                    assert!(out.iter().zip(&want).all(|(a, b)| a.to_bits() == *b));
                    assert_eq!(f.eval_scalar(&[xs[7]]).unwrap().to_bits(), want[7]);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(f.wait(Some(Duration::from_secs(120))));
    assert_eq!(f.tier(), Tier::Llvm);
    assert_eq!(f.scalar_tier(), Tier::Llvm);
    assert!(f.notes().is_empty(), "{:?}", f.notes());
    assert!(wait_idle(Some(Duration::from_secs(120))));
}

#[cfg(all(feature = "cranelift", feature = "jit"))]
#[test]
fn wait_builds_the_planned_tier_before_returning() {
    let config = CompileConfig {
        expected_evals: Some(10_000_000),
        wait: true,
        ..CompileConfig::default()
    };
    let f = CompiledFn::new(cubic(), config.clone());
    assert_eq!(f.plan().interim, None);
    assert_eq!(f.tier(), Tier::Llvm);
    assert_eq!(f.pending_tier(), None);
    // A batch upgrade is built in the foreground too.
    let g = CompiledFn::new(
        cubic(),
        CompileConfig {
            expected_evals: Some(10_000),
            ..config
        },
    );
    assert_eq!(g.tier(), Tier::Cranelift);
    g.prepare_batch(1_000_000);
    assert_eq!(g.tier(), Tier::Llvm);
    assert_eq!(g.pending_tier(), None);
}

#[cfg(all(feature = "cranelift", feature = "jit"))]
#[test]
fn forced_tiers_are_built_before_returning() {
    let config = CompileConfig {
        expected_evals: Some(10_000_000),
        force_tier: Some(Tier::Llvm),
        ..CompileConfig::default()
    };
    let f = CompiledFn::new(cubic(), config);
    assert_eq!((f.tier(), f.pending_tier()), (Tier::Llvm, None));
}

/// Threads of this process, from /proc (Linux).
#[cfg(all(feature = "cranelift", feature = "jit", target_os = "linux"))]
fn threads() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

#[cfg(all(feature = "cranelift", feature = "jit", target_os = "linux"))]
#[test]
fn many_background_builds_share_a_few_threads() {
    // 40 functions planned for LLVM, compiled back to back: their builds
    // queue for at most 4 workers instead of starting 40 threads.
    let before = threads();
    let config = CompileConfig {
        expected_evals: Some(10_000_000),
        ..CompileConfig::default()
    };
    let fs: Vec<CompiledFn> = (0..40)
        .map(|k| {
            let mut ops = vec![Op::Input(0)];
            for i in 0..30 {
                let n = ops.len() as u32;
                ops.push(Op::Const(f64::from(k * 100 + i)));
                ops.push(Op::Mul(n - 1, 0));
                ops.push(Op::Add(n + 1, n));
            }
            let last = ops.len() as u32 - 1;
            CompiledFn::new(Tape::new(1, ops, vec![last]).unwrap(), config.clone())
        })
        .collect();
    let peak = threads();
    // Other tests of this binary run in parallel threads of their own;
    // allow for them, but not for one thread per build.
    assert!(peak <= before + 4 + 8, "{before} -> {peak} threads");
    assert!(wait_idle(Some(Duration::from_secs(300))));
    for f in &fs {
        assert_eq!(f.tier(), Tier::Llvm);
        assert_eq!(f.pending_tier(), None);
    }
}
