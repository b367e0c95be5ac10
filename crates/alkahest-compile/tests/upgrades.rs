//! A function's tier can move up after it was compiled, where its plan
//! says: batch calls by batch size, scalar calls of a large
//! interpreter-tier function by count. Results never change when they do.
//! (When each happens is the plan's table test, in `src/plan.rs`.)

use alkahest_compile::{CompileConfig, CompiledFn, Fallback, Reason, Tier};
use alkahest_kernel::{Op, Tape, UnaryFn};

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
    let tape = Tape::new(1, ops, vec![9]).unwrap();
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
    f.eval_columns(&[&xs], &mut [&mut out]).unwrap();
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
