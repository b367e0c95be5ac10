//! The one-point path (`eval`) against the block path (`eval_columns`) and
//! the tape's reference semantics (`Tape::registers`), on random tapes with
//! every kind of op, small (stack slots) and large (heap slots).

use alkahest_interp::Interpreter;
use alkahest_tape::Evaluator;
use alkahest_testkit::{SPECIALS, TapeGen, same};
use proptest::prelude::*;

proptest! {
    #[test]
    fn one_point_matches_blocks_and_reference(
        tape in TapeGen::new(2..=2, 1..=400, 1..=4).strategy(),
        xs in prop::collection::vec(prop_oneof![-4.0f64..4.0, prop::sample::select(SPECIALS.to_vec())], 2..12),
    ) {
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
