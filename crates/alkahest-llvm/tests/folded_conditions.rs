//! Conditions LLVM's x86 backend folds to a constant (`x > x`, `x < x`,
//! `x > NaN`): with a comparison's 1.0 / 0.0 written as `select(mask, 1,
//! 0)`, LLVM 19 compiled `c / ne(0, c)` (that is, `0 / 0`) to `0` in the
//! vector loop, where the reference and the scalar entry give NaN (found
//! by the random banded tapes of `grouped_outputs.rs`). Checked on every
//! path: the direct vector loop, the staged and grouped loops for many
//! outputs, segmented tapes, and the scalar entry, at both code levels.

mod common;

use alkahest_llvm::compile;
use alkahest_tape::{CmpOp, Evaluator, Op, Reg, Tape};
use common::*;

/// `n_inputs` inputs; output 0 is `c / ne(0, c)` with `c = cmp(x0, rhs)`,
/// then `extra` outputs `x_k + 1`, each its own work.
fn tape(k: CmpOp, nan_rhs: bool, n_inputs: u32, extra: u32, segmented: bool) -> Tape {
    let mut ops: Vec<Op> = (0..n_inputs).map(Op::Input).collect();
    let rhs = if nan_rhs {
        ops.push(Op::Const(f64::NAN));
        ops.len() as Reg - 1
    } else {
        0
    };
    ops.push(Op::Cmp(k, 0, rhs));
    let c = ops.len() as Reg - 1;
    ops.push(Op::Const(0.0));
    ops.push(Op::Cmp(CmpOp::Ne, c + 1, c));
    ops.push(Op::Div(c, c + 2));
    let mut outs = vec![c + 3];
    if segmented {
        // A chain long enough to split the tape into segments (compiled
        // with fast instruction selection), output last.
        for _ in 0..1600 {
            let a = ops.len() as Reg - 1;
            ops.push(Op::Mul(a, 0));
        }
        outs.push(ops.len() as Reg - 1);
    }
    ops.push(Op::Const(1.0));
    let one = ops.len() as Reg - 1;
    for j in 0..extra {
        ops.push(Op::Add(j % n_inputs, one));
        outs.push(ops.len() as Reg - 1);
    }
    Tape::new(n_inputs as usize, ops, outs).unwrap()
}

#[test]
fn zero_over_zero_from_folded_conditions_is_nan() {
    for (k, nan_rhs) in [(CmpOp::Gt, false), (CmpOp::Lt, false), (CmpOp::Gt, true)] {
        // Direct loop (few outputs), staged (16 inputs), grouped (17),
        // segmented (direct and staged).
        for (n_inputs, extra, seg) in [
            (2, 1, false),
            (16, 17, false),
            (17, 17, false),
            (2, 1, true),
            (16, 17, true),
        ] {
            let t = tape(k, nan_rhs, n_inputs, extra, seg);
            for level in LEVELS {
                let f = compile(&t, &at_level(level)).unwrap();
                let n = 13;
                let cols: Vec<Vec<f64>> = (0..n_inputs).map(|v| vec![1.25 + v as f64; n]).collect();
                let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
                let mut outs = vec![vec![7.0; n]; t.n_outputs()];
                let mut o: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
                f.eval_columns(&refs, &mut o);
                let x: Vec<f64> = cols.iter().map(|c| c[0]).collect();
                let mut s = vec![0.0; t.n_outputs()];
                f.eval(&x, &mut s);
                let what = format!(
                    "{k:?} (NaN rhs: {nan_rhs}), {n_inputs} inputs, segmented {seg}, level {level}"
                );
                assert!(t.eval_point(&x)[0].is_nan(), "{what}: reference");
                assert!(s[0].is_nan(), "{what}: scalar entry gave {}", s[0]);
                assert!(
                    outs[0].iter().all(|v| v.is_nan()),
                    "{what}: batch gave {:?}",
                    &outs[0][..3]
                );
            }
        }
    }
}
