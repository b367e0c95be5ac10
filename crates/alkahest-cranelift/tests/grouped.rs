//! Wide tapes whose outputs each read a few inputs (a banded right-hand
//! side) run their large batches group by group once enough points have
//! gone through batches: checked bit for bit against the reference before
//! and after that switch, at point counts around the block and below the
//! grouped loop's minimum, and on a tape that shares work everywhere (never
//! grouped); and random banded tapes (every op kind) past the switch.

use alkahest_core::ExprPool;
use alkahest_tape::{Evaluator, Tape, lower_many};
use alkahest_testkit::{SPECIALS, banded, banded_tapes, reads_nan_sign, same};
use proptest::prelude::*;

fn column(n: usize, shift: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match (i + shift) % 17 {
            4 => SPECIALS[(i + shift) % SPECIALS.len()],
            _ => ((i * 7 + shift) as f64 * 0.29).sin() * 3.1,
        })
        .collect()
}

/// A batch of `n` points, checked against `tape.eval_point` bit for bit.
fn check_batch(tape: &Tape, f: &dyn Evaluator, n: usize, what: &str) {
    let cols: Vec<_> = (0..tape.n_inputs()).map(|v| column(n, 5 * v)).collect();
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut outs = vec![vec![f64::NAN; n]; tape.n_outputs()];
    let mut o: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    f.eval_columns(&refs, &mut o);
    // Every point near the ends and the block edges, every 97th elsewhere.
    for i in (0..n).filter(|i| i % 97 == 0 || i % 512 < 3 || i % 512 > 509 || n - i < 9) {
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        let want = tape.eval_point(&x);
        for (k, w) in want.iter().enumerate() {
            assert!(
                same(outs[k][i], *w),
                "{what}: n = {n}, output {k}, point {i}: {} vs {w}",
                outs[k][i]
            );
        }
    }
}

#[test]
fn banded_batches_are_bit_identical_before_and_after_grouping() {
    let p = ExprPool::new();
    let (outs, vars) = banded(&p, 30);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    assert!(alkahest_tape::output_groups(&tape).is_some());
    let f = alkahest_cranelift::compile(&tape).unwrap();
    // Before: the whole tape's loop (fewer points than the switch needs).
    for n in [1, 7, 255, 256, 1000] {
        check_batch(&tape, &f, n, "before");
    }
    // This batch passes the switch and runs grouped.
    check_batch(&tape, &f, 70_000, "switch");
    for n in [1, 255, 256, 511, 512, 513, 1500, 5000] {
        check_batch(&tape, &f, n, "after");
    }
    // Single points are unchanged.
    let x: Vec<f64> = (0..60).map(|v| 0.25 + v as f64 * 0.1).collect();
    let mut out = vec![0.0; 60];
    f.eval(&x, &mut out);
    for (k, w) in tape.eval_point(&x).iter().enumerate() {
        assert!(same(out[k], *w), "point call, output {k}");
    }
}

#[test]
fn shared_work_is_never_grouped_and_stays_exact() {
    let p = ExprPool::new();
    let (_, vars) = banded(&p, 10);
    let all = p.mul(&vars).unwrap();
    let outs: Vec<_> = vars.iter().map(|&v| p.add(&[all, v]).unwrap()).collect();
    let tape = lower_many(&p, &outs, &vars).unwrap();
    assert!(alkahest_tape::output_groups(&tape).is_none());
    let f = alkahest_cranelift::compile(&tape).unwrap();
    check_batch(&tape, &f, 70_000, "shared");
    check_batch(&tape, &f, 600, "shared");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(alkahest_testkit::cases(16)))]

    /// Random banded tapes, grouped or not, past the switch: the batch
    /// equals the reference bit for bit (points where a `copysign` reads a
    /// NaN's sign aside, as everywhere).
    #[test]
    fn random_banded_tapes_match_the_reference(tape in banded_tapes()) {
        let f = alkahest_cranelift::compile(&tape).unwrap();
        let m = tape.n_outputs();
        let run = |n: usize| {
            let cols: Vec<_> = (0..tape.n_inputs()).map(|v| column(n, 3 * v + 1)).collect();
            let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            let mut outs = vec![vec![f64::NAN; n]; m];
            let mut o: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            f.eval_columns(&refs, &mut o);
            (cols, outs)
        };
        run(66_000);
        for n in [300, 1100] {
            let (cols, outs) = run(n);
            for i in 0..n {
                let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
                let regs = tape.registers(&x);
                if reads_nan_sign(&tape, &regs) {
                    continue;
                }
                for (k, &o) in tape.outputs().iter().enumerate() {
                    let want = regs[o as usize];
                    prop_assert!(
                        same(outs[k][i], want),
                        "n = {}, output {}, point {}: {} vs {}", n, k, i, outs[k][i], want
                    );
                }
            }
        }
    }
}
