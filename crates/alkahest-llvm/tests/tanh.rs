//! Where the vector `tanh` goes inline and where it is one function per
//! width (`codegen/tanh.rs`, `inline_tanh`): the two forms give the same
//! bits, so the choice is only about speed and compile time.

mod common;

use alkahest_llvm::{LlvmOptions, compile, optimized_ir, vector_registers};
use alkahest_tape::{Evaluator, Op, Tape, UnaryFn};
use alkahest_testkit::values::uniform;

fn at_level(level: u8) -> LlvmOptions {
    LlvmOptions {
        opt_level: level,
        ..LlvmOptions::default()
    }
}

fn bulk(tape: &Tape, opts: &LlvmOptions, xs: &[f64]) -> Vec<f64> {
    let f = compile(tape, opts).unwrap();
    let mut out = vec![0.0; xs.len()];
    f.eval_columns(&[xs], &mut [&mut out]);
    out
}

/// At level 0 a host with 16 vector registers calls `alkahest_vtanh_x<w>`;
/// at level 3, and at any level with 32 registers, the routine is inline.
/// Both give the same bits, special values included.
#[test]
fn level_zero_form_matches_inline() {
    let tape = common::unary_tape(UnaryFn::Tanh);
    let called = |level: u8| {
        optimized_ir(&tape, &at_level(level))
            .unwrap()
            .contains("@alkahest_vtanh_x")
    };
    assert_eq!(called(0), vector_registers().unwrap() == 16);
    assert!(!called(3));

    let mut xs = uniform(4096, -25.0, 25.0, 1);
    xs.extend(uniform(2048, -1e-3, 1e-3, 2));
    xs.extend(common::SPECIALS);
    xs.extend([19.0, 19.1, 20.0, -20.0, 5e-324, -5e-324, 1e-300]);
    xs.push(0.25); // an odd length: the tail runs the routine too
    let (zero, three) = (
        bulk(&tape, &at_level(0), &xs),
        bulk(&tape, &at_level(3), &xs),
    );
    for ((x, a), b) in xs.iter().zip(&zero).zip(&three) {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "tanh({x:e}): {a:e} at level 0, {b:e} at level 3"
        );
    }
}

/// A segmented tape (more than 1,500 operations) calls the function: its
/// segments are compiled with fast instruction selection, where an inline
/// copy per `tanh` cost compile time and no speed.
#[test]
fn segmented_tapes_call_it() {
    let k = 1600;
    let mut ops = vec![Op::Input(0)];
    ops.extend((0..k).map(|i| Op::Unary(UnaryFn::Tanh, i)));
    let tape = Tape::new(1, ops, vec![k]).unwrap();
    let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    assert!(ir.contains("@alkahest_vtanh_x"));
    let xs = uniform(257, -3.0, 3.0, 3);
    let mut want = xs.clone();
    let one = compile(&common::unary_tape(UnaryFn::Tanh), &LlvmOptions::default()).unwrap();
    for _ in 0..k {
        let mut next = vec![0.0; want.len()];
        one.eval_columns(&[&want], &mut [&mut next]);
        want = next;
    }
    let got = bulk(&tape, &LlvmOptions::default(), &xs);
    for ((x, g), w) in xs.iter().zip(&got).zip(&want) {
        assert_eq!(g.to_bits(), w.to_bits(), "tanh^{k}({x:e})");
    }
}
