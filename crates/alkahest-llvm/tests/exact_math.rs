//! `LlvmOptions::exact_math`: the bulk entry calls scalar libm lane by lane,
//! so it is bit-identical to the scalar entry and to the interpreter at
//! every point: every function on dense sweeps and special values, random
//! expressions, and the cases where libmvec's few ulps cross a domain edge
//! or a discontinuity (found by the fuzz runs, see `differential.rs`).
//! Without it, the same sweeps show libmvec's differences on hosts that
//! have it, so these tests show the option changes something.

mod common;

use alkahest_interp::Interpreter;
use alkahest_llvm::{LlvmFn, LlvmOptions, compile, optimized_ir};
use alkahest_tape::{BinaryFn, Evaluator, Op, Tape, UnaryFn, lower};
use alkahest_testkit::exprs::{pool, programs};
use common::*;
use proptest::prelude::*;

/// Exact math at code-generation level `opt_level`.
fn exact(opt_level: u8) -> LlvmOptions {
    LlvmOptions {
        opt_level,
        exact_math: true,
        ..LlvmOptions::default()
    }
}

/// The bulk entry's output columns.
fn bulk(f: &LlvmFn, cols: &[&[f64]]) -> Vec<Vec<f64>> {
    let n = cols[0].len();
    let mut outs = vec![vec![0.0; n]; f.n_outputs()];
    let mut refs: Vec<&mut [f64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    f.eval_columns(cols, &mut refs);
    outs
}

/// The interpreter's output columns (the reference).
fn interpreted(tape: &Tape, cols: &[&[f64]]) -> Vec<Vec<f64>> {
    let n = cols[0].len();
    let mut outs = vec![vec![0.0; n]; tape.n_outputs()];
    let mut refs: Vec<&mut [f64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    Interpreter::new(tape).eval_columns(cols, &mut refs);
    outs
}

/// Points where the bulk entry differs from the interpreter or from the
/// scalar entry (`same`: equal bits, or both NaN), skipping points whose
/// result depends on a NaN's sign (see `reads_nan_sign`).
fn mismatches(tape: &Tape, f: &LlvmFn, cols: &[&[f64]]) -> Vec<String> {
    let got = bulk(f, cols);
    let want = interpreted(tape, cols);
    let mut s = vec![0.0; tape.n_outputs()];
    let mut bad = Vec::new();
    for i in 0..cols[0].len() {
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        if reads_nan_sign(tape, &tape.registers(&x)) {
            continue;
        }
        f.eval(&x, &mut s);
        for k in 0..tape.n_outputs() {
            if !same(got[k][i], want[k][i]) || !same(s[k], want[k][i]) {
                bad.push(format!(
                    "output {k} at {x:?}: bulk {:e}, scalar {:e}, interpreter {:e}",
                    got[k][i], s[k], want[k][i]
                ));
            }
        }
    }
    bad
}

/// `n` points spread over `[lo, hi]` (not a multiple of any vector width,
/// so the masked tail runs), then every special value.
fn sweep(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect();
    v.extend(SPECIALS);
    v
}

/// Where each function is interesting (its domain, or a range wide enough
/// for its vector routine to take several paths).
fn range(f: UnaryFn) -> (f64, f64) {
    match f {
        UnaryFn::Asin | UnaryFn::Acos | UnaryFn::Atanh | UnaryFn::Tanh => (-1.0, 1.0),
        UnaryFn::Log | UnaryFn::Log2 | UnaryFn::Log10 | UnaryFn::Acosh => (0.5, 1e4),
        UnaryFn::Log1p => (-0.999, 1e3),
        UnaryFn::Exp | UnaryFn::Expm1 | UnaryFn::Sinh | UnaryFn::Cosh => (-700.0, 700.0),
        UnaryFn::Erf => (-6.0, 6.0),
        UnaryFn::Erfc => (-6.0, 26.0),
        _ => (-20.0, 20.0),
    }
}

const SWEEP: usize = 20_011;

/// Every tape function alone: the bulk entry equals the interpreter and
/// the scalar entry bit for bit over a dense sweep and the special values.
#[test]
fn every_function_is_bit_identical() {
    for level in LEVELS {
        for f in UnaryFn::ALL {
            let tape = unary_tape(f);
            let (lo, hi) = range(f);
            let xs = sweep(lo, hi, SWEEP);
            let bad = mismatches(&tape, &compile(&tape, &exact(level)).unwrap(), &[&xs]);
            assert!(bad.is_empty(), "{f:?} at level {level}: {}", bad[0]);
        }
        for f in BinaryFn::ALL {
            let tape = binary_tape(f);
            let xs = sweep(-20.0, 20.0, SWEEP);
            // A second column that is not a shifted copy of the first.
            let ys: Vec<f64> = xs.iter().rev().map(|y| y * 0.37 + 0.5).collect();
            let bad = mismatches(&tape, &compile(&tape, &exact(level)).unwrap(), &[&xs, &ys]);
            assert!(bad.is_empty(), "{f:?} at level {level}: {}", bad[0]);
        }
    }
}

/// No libmvec symbol is referenced with `exact_math`, while the arithmetic
/// stays on vectors. Without it the same tape calls libmvec on hosts that
/// have it, and the sweep shows its last-bit differences there.
#[test]
fn exact_math_changes_only_the_calls() {
    let tape = unary_tape(UnaryFn::Sin);
    let ir = optimized_ir(&tape, &exact(3)).unwrap();
    assert!(!ir.contains("_ZGV"), "exact-math IR calls libmvec:\n{ir}");
    assert!(
        ir.contains(" x double>"),
        "exact-math IR lost its vectors:\n{ir}"
    );
    let default = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    if !default.contains("_ZGV") {
        // No libmvec on this host: both modes call libm lane by lane.
        return;
    }
    let xs = sweep(-20.0, 20.0, SWEEP);
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    let got = bulk(&f, &[&xs]);
    let want = interpreted(&tape, &[&xs]);
    let differ = (0..xs.len())
        .filter(|&i| !same(got[0][i], want[0][i]))
        .count();
    assert!(
        differ > 0,
        "libmvec's sin matched libm on all {} points",
        xs.len()
    );
}

/// The fuzz runs' domain-edge cases (`differential.rs`): libmvec's ulps
/// turn into NaN against a number, or a number against NaN. With exact
/// math every lane is the scalar result.
#[test]
fn domain_edges_and_discontinuities_agree() {
    for (tape, at) in [
        fmod_of_a_cancelled_divisor(),
        sqrt_past_zero(),
        acosh_past_one(),
    ] {
        // Full blocks, the two-vector loop and a masked tail.
        for n in [8, 37, 1003] {
            let cols: Vec<Vec<f64>> = at.iter().map(|&v| vec![v; n]).collect();
            let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
            for level in LEVELS {
                let f = compile(&tape, &exact(level)).unwrap();
                let bad = mismatches(&tape, &f, &refs);
                assert!(bad.is_empty(), "{tape:?}, n={n}: {}", bad[0]);
            }
        }
    }
}

/// Points per column for the random expressions: not a multiple of the
/// vector width.
const N: usize = 37;

proptest! {
    #![proptest_config(ProptestConfig { cases: alkahest_testkit::cases(128), failure_persistence: None, ..ProptestConfig::default() })]

    /// Random expressions over every function, comparison and `where`, on
    /// ordinary and special values: bit for bit.
    #[test]
    fn random_expressions_are_bit_identical(
        prog in programs(1..=14),
        seed in prop::collection::vec(-4.0f64..4.0, 8..16),
        specials in prop::collection::vec(0usize..SPECIALS.len(), 8),
        level in prop::sample::select(LEVELS.to_vec()),
    ) {
        let (p, vars) = pool(2);
        let tape = lower(&p, prog.build(&p, &vars), &vars).unwrap();
        let f = compile(&tape, &exact(level)).unwrap();
        let mut xs: Vec<f64> = (0..N).map(|i| seed[(i * 7) % seed.len()]).collect();
        let mut ys: Vec<f64> = (0..N).map(|i| seed[(i * 7 + 5) % seed.len()]).collect();
        xs.extend(specials.iter().map(|&i| SPECIALS[i]));
        ys.extend(specials.iter().rev().map(|&i| SPECIALS[i]));
        let bad = mismatches(&tape, &f, &[&xs, &ys]);
        prop_assert!(bad.is_empty(), "{}\ntape: {:?}", bad[0], tape);
    }
}

/// The other two bulk loops under exact math: staged (more than 16
/// outputs) and segmented (more than 1,500 operations), both call-bound so
/// they also take the narrower vectors.
#[test]
fn staged_and_segmented_loops_are_bit_identical() {
    // 24 outputs: sin(x*k) + exp(-y/k).
    let mut ops = vec![Op::Input(0), Op::Input(1)];
    let mut outs = Vec::new();
    for k in 1..=24 {
        let n = ops.len() as u32;
        ops.push(Op::Const(f64::from(k)));
        ops.push(Op::Mul(0, n));
        ops.push(Op::Unary(UnaryFn::Sin, n + 1));
        ops.push(Op::Div(1, n));
        ops.push(Op::Neg(n + 3));
        ops.push(Op::Unary(UnaryFn::Exp, n + 4));
        ops.push(Op::Add(n + 2, n + 5));
        outs.push(n + 6);
    }
    let staged = Tape::new(2, ops, outs).unwrap();
    // 2,000 operations: a chain alternating sin, tanh and atan2 with y.
    let mut ops = vec![Op::Input(0), Op::Input(1)];
    for i in 0..2_000u32 {
        let last = ops.len() as u32 - 1;
        ops.push(match i % 3 {
            0 => Op::Unary(UnaryFn::Sin, last),
            1 => Op::Unary(UnaryFn::Tanh, last),
            _ => Op::Binary(BinaryFn::Atan2, last, 1),
        });
    }
    let last = ops.len() as u32 - 1;
    let segmented = Tape::new(2, ops, vec![last]).unwrap();
    for tape in [staged, segmented] {
        assert!(tape.call_bound());
        let xs = sweep(-4.0, 4.0, 1_003);
        let ys: Vec<f64> = xs.iter().rev().map(|v| v * 0.5 + 0.25).collect();
        let bad = mismatches(&tape, &compile(&tape, &exact(3)).unwrap(), &[&xs, &ys]);
        assert!(bad.is_empty(), "{} ops: {}", tape.ops().len(), bad[0]);
    }
}
