//! The one-point path (`eval`) against the block path (`eval_columns`) and
//! the tape's reference semantics (`Tape::registers`), on random tapes with
//! every kind of op, small (stack slots) and large (heap slots).

use alkahest_interp::Interpreter;
use alkahest_kernel::{BinaryFn, CmpOp, Evaluator, Op, Tape, UnaryFn};
use proptest::prelude::*;

/// An op kind and two operand picks (taken modulo the registers so far).
type Pick = (u8, u32, u32, u32);

fn tape_of(picks: &[Pick]) -> Tape {
    let mut ops = vec![Op::Input(0), Op::Input(1), Op::Const(0.75)];
    for &(k, a, b, c) in picks {
        let n = ops.len() as u32;
        let (a, b, c) = (a % n, b % n, c % n);
        ops.push(match k % 11 {
            0 => Op::Add(a, b),
            1 => Op::Sub(a, b),
            2 => Op::Mul(a, b),
            3 => Op::Div(a, b),
            4 => Op::Neg(a),
            5 => Op::Fma(a, b, c),
            6 => Op::Unary(UnaryFn::ALL[(b as usize) % UnaryFn::ALL.len()], a),
            7 => Op::Binary(BinaryFn::ALL[(c as usize) % BinaryFn::ALL.len()], a, b),
            8 => Op::Cmp(CmpOp::ALL[(c as usize) % CmpOp::ALL.len()], a, b),
            9 => Op::Select(a, b, c),
            _ => Op::Const(f64::from(b) * 0.5 - 3.0),
        });
    }
    // Three outputs: the last op, the first compute op and an input.
    let outs = vec![(ops.len() - 1) as u32, 3.min(ops.len() as u32 - 1), 0];
    Tape::new(2, ops, outs).unwrap()
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

const SPECIALS: [f64; 8] = [
    0.0,
    -0.0,
    1.5,
    -2.25,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    5e-324,
];

proptest! {
    #[test]
    fn one_point_matches_blocks_and_reference(
        picks in prop::collection::vec((any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>()), 1..400),
        xs in prop::collection::vec(prop_oneof![-4.0f64..4.0, prop::sample::select(SPECIALS.to_vec())], 2..12),
    ) {
        let tape = tape_of(&picks);
        let it = Interpreter::new(&tape);
        let (x, y): (Vec<f64>, Vec<f64>) = xs.iter().map(|&v| (v, v * 0.5 - 1.0)).unzip();
        let m = tape.n_outputs();
        let mut bulk = vec![vec![0.0; x.len()]; m];
        {
            let mut outs: Vec<&mut [f64]> = bulk.iter_mut().map(|c| c.as_mut_slice()).collect();
            it.eval_columns(&[&x, &y], &mut outs);
        }
        for i in 0..x.len() {
            let mut one = vec![0.0; m];
            it.eval(&[x[i], y[i]], &mut one);
            let want = tape.eval_point(&[x[i], y[i]]);
            for k in 0..m {
                prop_assert!(same(one[k], want[k]), "eval {:e} vs reference {:e} at {i}/{k}", one[k], want[k]);
                prop_assert!(same(one[k], bulk[k][i]), "eval {:e} vs block {:e} at {i}/{k}", one[k], bulk[k][i]);
            }
        }
    }
}
