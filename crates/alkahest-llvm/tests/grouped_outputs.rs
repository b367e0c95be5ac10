//! Wide tapes whose outputs each read a few inputs (a banded right-hand
//! side) run the grouped bulk loop: one small loop per group of outputs
//! over a block of points. Checked: that such a tape takes that loop and
//! one with work shared everywhere does not; bit identity with the
//! reference at point counts around vectors and blocks, at both code
//! levels; input columns that share their cache sets; streaming stores
//! into columns at every offset from a 64-byte boundary; outputs written
//! over the inputs; and random banded tapes
//! (every op kind) under `exact_math` against the reference.

mod common;

use alkahest_core::ExprPool;
use alkahest_llvm::{LlvmOptions, compile, optimized_ir};
use alkahest_tape::{Tape, lower_many};
use alkahest_testkit::values::columns;
use alkahest_testkit::{banded, banded_tapes, batch_mismatch};
use common::*;
use proptest::prelude::*;

fn is_grouped(tape: &Tape) -> bool {
    optimized_ir(tape, &LlvmOptions::default())
        .unwrap()
        .contains("g_head")
}

#[test]
fn banded_tapes_run_grouped_and_shared_work_does_not() {
    let p = ExprPool::new();
    let (outs, vars) = banded(&p, 12);
    assert!(is_grouped(&lower_many(&p, &outs, &vars).unwrap()));
    // Every output reads one product of all 24 inputs: no group fits.
    let all = p.mul(&vars).unwrap();
    let shared: Vec<_> = vars.iter().map(|&v| p.add(&[all, v]).unwrap()).collect();
    assert!(!is_grouped(&lower_many(&p, &shared, &vars).unwrap()));
}

/// 24 inputs: blocks of 1,024 points; counts around vectors, the block and
/// several blocks.
#[test]
fn grouped_bit_identical_at_every_count() {
    let p = ExprPool::new();
    let (outs, vars) = banded(&p, 12);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    for level in LEVELS {
        let f = compile(&tape, &at_level(level)).unwrap();
        for n in [0, 1, 3, 8, 9, 15, 1023, 1024, 1025, 2049, 3000] {
            let cols = columns(24, n, 5);
            let got = bulk_at(&f, &cols, n, |k| k % 3);
            check_points(&tape, &f, &cols, &got, 0..n, &format!("level {level}"));
        }
    }
}

/// Input columns that share their cache sets (rows of one buffer 32 KiB
/// apart, as a NumPy array of 4,096 points holds them) are read through the
/// block buffer: the same bits at counts around vectors and blocks.
#[test]
fn grouped_inputs_sharing_cache_sets() {
    let p = ExprPool::new();
    let (outs, vars) = banded(&p, 12);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    let stride = 4096;
    for level in LEVELS {
        let f = compile(&tape, &at_level(level)).unwrap();
        for n in [1, 9, 1023, 1025, 3000, 4096] {
            let cols = columns(24, n, 6);
            let mut rows = vec![0.0; 24 * stride];
            for (v, c) in cols.iter().enumerate() {
                rows[v * stride..][..n].copy_from_slice(c);
            }
            let ptrs: Vec<*const f64> = (0..24).map(|v| rows[v * stride..].as_ptr()).collect();
            let mut got = vec![vec![0.0; n]; tape.n_outputs()];
            let out_ptrs: Vec<*mut f64> = got.iter_mut().map(|o| o.as_mut_ptr()).collect();
            // SAFETY: 24 input rows of `stride >= n` points, one output
            // vector of `n` per output, all distinct.
            unsafe { f.eval_bulk_raw(ptrs.as_ptr(), ptrs.len(), out_ptrs.as_ptr(), n) };
            check_points(
                &tape,
                &f,
                &cols,
                &got,
                0..n,
                &format!("level {level}, n = {n}"),
            );
        }
    }
}

/// Calls writing 4 MiB or more stream their stores when every output column
/// is at a vector boundary, and store through the cache otherwise.
#[test]
fn grouped_streaming_columns() {
    let p = ExprPool::new();
    let (outs, vars) = banded(&p, 12);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    // 24 outputs x 8 bytes x n >= 4 MiB from n = 21,846.
    for n in [21_845, 21_846, 40_007] {
        let cols = columns(24, n, 3);
        let aligned = bulk_at(&f, &cols, n, |_| 0);
        check_points(&tape, &f, &cols, &aligned, 0..n, "aligned");
        let shifted = bulk_at(&f, &cols, n, |k| usize::from(k == 7));
        check_points(
            &tape,
            &f,
            &cols,
            &shifted,
            0..n,
            "one column off a boundary",
        );
    }
}

/// Outputs over the inputs they read: each block's inputs are copied
/// before any group writes, so the results equal those into fresh columns.
#[test]
fn grouped_in_place_over_inputs() {
    let p = ExprPool::new();
    let (outs, vars) = banded(&p, 12);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    for n in [1, 9, 1024, 1500, 5000] {
        let cols = columns(24, n, 1);
        let want = bulk_at(&f, &cols, n, |_| 0);
        let mut inplace = cols.clone();
        let ptrs: Vec<*const f64> = inplace.iter().map(|c| c.as_ptr()).collect();
        // Output k over input (k + 5) % 24: every group writes columns that
        // later groups read.
        let mut out_ptrs = [std::ptr::null_mut(); 24];
        for (v, c) in inplace.iter_mut().enumerate() {
            out_ptrs[(v + 19) % 24] = c.as_mut_ptr();
        }
        // SAFETY: 24 input columns of `n` points, which are also the 24
        // output columns (each exactly one input column).
        unsafe { f.eval_bulk_raw(ptrs.as_ptr(), 24, out_ptrs.as_ptr(), n) };
        for k in 0..24 {
            let got = &inplace[(k + 5) % 24];
            for i in 0..n {
                assert!(same(got[i], want[k][i]), "n = {n}, output {k}, point {i}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(alkahest_testkit::cases(24)))]

    /// Random banded tapes, grouped or not: with `exact_math` every lane
    /// calls libm, so the batch equals the reference bit for bit (points
    /// where a `copysign` reads a NaN's sign aside, as everywhere).
    #[test]
    fn random_banded_tapes_match_the_reference(tape in banded_tapes()) {
        let opts = LlvmOptions { exact_math: true, ..LlvmOptions::default() };
        let f = compile(&tape, &opts).unwrap();
        for n in [37, 1100] {
            let cols = columns(tape.n_inputs(), n, 7);
            let got = bulk_at(&f, &cols, n, |k| k % 2);
            let bad = batch_mismatch(&tape, &cols, &got, 0..n);
            prop_assert!(bad.is_none(), "n = {}: {}", n, bad.unwrap_or_default());
        }
    }
}
