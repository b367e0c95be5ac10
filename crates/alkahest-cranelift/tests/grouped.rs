//! Wide tapes whose outputs each read a few inputs (a banded right-hand
//! side) run their large batches group by group once enough points have
//! gone through batches: checked bit for bit against the reference before
//! and after that switch, at point counts around the block and below the
//! grouped loop's minimum, and on a tape that shares work everywhere (never
//! grouped); and random banded tapes (every op kind) past the switch.

use alkahest_core::ExprPool;
use alkahest_tape::{Evaluator, Tape, lower_many};
use alkahest_testkit::values::columns;
use alkahest_testkit::{banded, banded_tapes, batch_mismatch, same};
use proptest::prelude::*;

/// `f`'s batch on `cols`: output `k` at point `i` is `[k][i]`.
fn batch(f: &dyn Evaluator, cols: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = cols.first().map_or(0, Vec::len);
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut outs = vec![vec![f64::NAN; n]; f.n_outputs()];
    let mut o: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    f.eval_columns(&refs, &mut o);
    outs
}

/// A batch of `n` points, checked against the reference bit for bit.
fn check_batch(tape: &Tape, f: &dyn Evaluator, n: usize, what: &str) {
    let cols = columns(tape.n_inputs(), n, 5);
    let outs = batch(f, &cols);
    // Every point near the ends and the block edges, every 97th elsewhere.
    let points = (0..n).filter(|i| i % 97 == 0 || i % 512 < 3 || i % 512 > 509 || n - i < 9);
    if let Some(m) = batch_mismatch(tape, &cols, &outs, points) {
        panic!("{what}: n = {n}, {m}");
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
        // One batch past the switch, so the checked ones run grouped.
        batch(&f, &columns(tape.n_inputs(), 66_000, 3));
        for n in [300, 1100] {
            let cols = columns(tape.n_inputs(), n, 7);
            let bad = batch_mismatch(&tape, &cols, &batch(&f, &cols), 0..n);
            prop_assert!(bad.is_none(), "n = {}: {}", n, bad.unwrap_or_default());
        }
    }
}
