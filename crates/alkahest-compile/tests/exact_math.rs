//! `CompileConfig::exact_math` reaches the LLVM build (through the plan's
//! `LlvmPlan`) and the disk cache key: an LLVM batch gives the
//! interpreter's bits, and a libmvec build stored under the default config
//! is never loaded for an exact-math request.
#![cfg(feature = "jit")]

use alkahest_compile::{CompileCache, CompileConfig, CompiledFn, Tier};
use alkahest_tape::{BinaryFn, Op, Tape, UnaryFn};

/// `tanh(x) * exp(-x*y) + pow(1 + y*y, x) + atan2(x, y) + erf(y)`: libm
/// functions that all have libmvec forms.
fn tape() -> Tape {
    let ops = vec![
        Op::Input(0),
        Op::Input(1),
        Op::Unary(UnaryFn::Tanh, 0),
        Op::Mul(0, 1),
        Op::Neg(3),
        Op::Unary(UnaryFn::Exp, 4),
        Op::Mul(2, 5),
        Op::Mul(1, 1),
        Op::Const(1.0),
        Op::Add(8, 7),
        Op::Binary(BinaryFn::Pow, 9, 0),
        Op::Add(6, 10),
        Op::Binary(BinaryFn::Atan2, 0, 1),
        Op::Add(11, 12),
        Op::Unary(UnaryFn::Erf, 1),
        Op::Add(13, 14),
    ];
    Tape::new(2, ops, vec![15]).unwrap()
}

/// 4,099 points (not a multiple of any vector width).
fn columns() -> (Vec<f64>, Vec<f64>) {
    let n = 4099;
    let xs = (0..n).map(|i| -3.0 + 6.0 * i as f64 / n as f64).collect();
    let ys = (0..n).map(|i| 2.9 - 0.011 * (i % 531) as f64).collect();
    (xs, ys)
}

fn batch_bits(f: &CompiledFn) -> Vec<u64> {
    let (xs, ys) = columns();
    let mut out = vec![0.0; xs.len()];
    f.eval_columns(&[&xs, &ys], &mut [&mut out]).unwrap();
    out.iter().map(|v| v.to_bits()).collect()
}

fn config(t: Tier, exact_math: bool) -> CompileConfig {
    CompileConfig {
        force_tier: Some(t),
        exact_math,
        ..Default::default()
    }
}

#[test]
fn llvm_batches_give_the_interpreters_bits() {
    let f = CompiledFn::new(tape(), config(Tier::Llvm, true));
    assert_eq!(f.tier(), Tier::Llvm);
    assert!(f.plan().llvm.exact_math);
    let reference = CompiledFn::new(tape(), config(Tier::Interpreter, false));
    assert_eq!(batch_bits(&f), batch_bits(&reference));
}

#[test]
fn the_disk_cache_keeps_the_two_modes_apart() {
    let dir = tempfile::tempdir().unwrap();
    let pool = alkahest_core::ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let xy = pool.mul(&[x, y]).unwrap();
    let e = pool
        .add(&[
            pool.func(alkahest_core::Func::Sin, &[xy]).unwrap(),
            pool.func(alkahest_core::Func::Exp, &[x]).unwrap(),
        ])
        .unwrap();
    let vars = [x, y];
    let interp = CompileCache::new()
        .compile(&pool, e, &vars, &config(Tier::Interpreter, false))
        .unwrap();
    let want = batch_bits(&interp);

    let default = CompileCache::with_dir(dir.path()).unwrap();
    default
        .compile(&pool, e, &vars, &config(Tier::Llvm, false))
        .unwrap();
    // Another handle on the directory, as another process would be.
    let exact = CompileCache::with_dir(dir.path()).unwrap();
    let f = exact
        .compile(&pool, e, &vars, &config(Tier::Llvm, true))
        .unwrap();
    let s = exact.stats();
    assert_eq!((s.disk_hits, s.compiles), (0, 1));
    assert_eq!(batch_bits(&f), want);
    // Stored now: the next handle loads it, with the same bits.
    let again = CompileCache::with_dir(dir.path()).unwrap();
    let g = again
        .compile(&pool, e, &vars, &config(Tier::Llvm, true))
        .unwrap();
    assert_eq!(again.stats().disk_hits, 1);
    assert_eq!(g.tier(), Tier::Llvm);
    assert_eq!(batch_bits(&g), want);
}
