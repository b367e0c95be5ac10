//! LLVM's routine library (`alkahest_llvm::library_routines`): a routine
//! first built at level 0 for a call-bound function is rebuilt at full
//! level on a background thread after the build that needed it, and the
//! function's results do not change when it is swapped in.

#![cfg(feature = "jit")]

use std::time::Duration;

use alkahest_compile::{CompileConfig, CompiledFn, Tier, wait_idle};
use alkahest_tape::{BinaryFn, Op, Tape};

#[test]
fn level_zero_routines_are_upgraded_in_the_background() {
    // x**y: call-bound, compiled at level 0 for a small planned count.
    let tape = Tape::new(
        2,
        vec![Op::Input(0), Op::Input(1), Op::Binary(BinaryFn::Pow, 0, 1)],
        vec![2],
    )
    .unwrap();
    let config = CompileConfig {
        force_tier: Some(Tier::Llvm),
        expected_evals: Some(10_000),
        ..CompileConfig::default()
    };
    let xs: Vec<f64> = (0..999).map(|i| 0.5 + f64::from(i) * 1e-3).collect();
    let ys: Vec<f64> = (0..999).map(|i| f64::from(i % 17) * 0.25 - 2.0).collect();
    let run = |f: &CompiledFn| {
        let mut out = vec![0.0; xs.len()];
        f.eval_columns(&[&xs, &ys], &mut [&mut out]).unwrap();
        out.iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
    };
    let f = CompiledFn::new(tape.clone(), config.clone());
    assert_eq!(f.tier(), Tier::Llvm);
    let before = run(&f);
    // One `pow` per vector width the loop calls it at: 8 lanes with
    // AVX-512; 4 and, for two vectors paired into one call, 8 with AVX2.
    let (built, _) = alkahest_llvm::library_routines();
    assert!((1..=2).contains(&built), "{built} routines");
    assert!(wait_idle(Some(Duration::from_secs(120))));
    assert_eq!(alkahest_llvm::library_routines(), (built, 0));
    assert_eq!(run(&f), before);
    // A later function shares the upgraded routines.
    let g = CompiledFn::new(tape, config);
    assert_eq!(run(&g), before);
    assert_eq!(alkahest_llvm::library_routines(), (built, 0));
}
