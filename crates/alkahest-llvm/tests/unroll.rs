//! The bulk loop's unrolled main part (several vectors per iteration) and
//! the loop finishing the remainder: every point count around the block
//! sizes, in place and with special values.

mod common;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_llvm::{LlvmOptions, compile, optimized_ir};
use alkahest_tape::{Evaluator, Tape, lower};
use common::*;

/// Point counts around 1, 4 (a vector), 8 and 16 (unrolled iterations).
const COUNTS: [usize; 14] = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 70];

/// A dense degree-10 polynomial in Horner form, in x and y (exact ops only).
fn horner() -> Tape {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let mut acc = p.rational(1, 11).unwrap();
    for k in (0..10).rev() {
        let ck = p.rational(if k % 2 == 0 { 1 } else { -1 }, k + 1).unwrap();
        acc = p.add(&[p.mul(&[acc, x]).unwrap(), ck]).unwrap();
    }
    let e = p.add(&[acc, p.div(y, x).unwrap()]).unwrap();
    lower(&p, e, &[x, y]).unwrap()
}

fn column(n: usize, shift: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match (i + shift) % 11 {
            // Special values in every position of a block, over the counts.
            3 => SPECIALS[(i + shift) % SPECIALS.len()],
            _ => ((i * 7 + shift) as f64 * 0.31).sin() * 1.7,
        })
        .collect()
}

/// Bulk output for `n` points through the raw entry, with sentinels after
/// the end that must stay untouched.
fn bulk_raw(f: &alkahest_llvm::LlvmFn, cols: &[Vec<f64>], n: usize) -> Vec<f64> {
    const SENTINEL: f64 = 12345.678;
    let mut out = vec![SENTINEL; n + 9];
    let ptrs: Vec<*const f64> = cols.iter().map(|c| c.as_ptr()).collect();
    let outs = [out.as_mut_ptr()];
    // SAFETY: every column holds `n` points and the one output column at
    // least `n`.
    unsafe { f.eval_bulk_raw(ptrs.as_ptr(), ptrs.len(), outs.as_ptr(), n) };
    assert!(
        out[n..].iter().all(|&v| v == SENTINEL),
        "wrote past n = {n}"
    );
    out.truncate(n);
    out
}

#[test]
fn exact_tape_bulk_equals_scalar_at_every_count() {
    let tape = horner();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    for n in COUNTS {
        let cols = vec![column(n, 0), column(n, 5)];
        let got = bulk_raw(&f, &cols, n);
        for i in 0..n {
            let x = [cols[0][i], cols[1][i]];
            let want = f.eval_scalar(&x);
            assert!(
                same(got[i], want),
                "n = {n}, point {i} {x:?}: {} vs {want}",
                got[i]
            );
            assert!(same(want, tape.eval_point(&x)[0]));
        }
        // In place: the output is the first column.
        let mut inplace = cols.clone();
        let ptrs: Vec<*const f64> = inplace.iter().map(|c| c.as_ptr()).collect();
        let outs = [inplace[0].as_mut_ptr()];
        // SAFETY: columns of `n` points; the output is exactly column 0,
        // which the entry allows (each point is read before it is written).
        unsafe { f.eval_bulk_raw(ptrs.as_ptr(), 2, outs.as_ptr(), n) };
        for i in 0..n {
            assert!(same(inplace[0][i], got[i]), "in place, n = {n}, point {i}");
        }
    }
}

#[test]
fn libmvec_tape_within_bounds_at_every_count() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    // x*y + sin(x)/y + exp(-x^2/2)*cos(3x)
    let s = p.func(Func::Sin, &[x]).unwrap();
    let x2 = p.mul(&[x, x]).unwrap();
    let g = p
        .func(
            Func::Exp,
            &[p.mul(&[p.rational(-1, 2).unwrap(), x2]).unwrap()],
        )
        .unwrap();
    let c = p
        .func(Func::Cos, &[p.mul(&[p.integer(3).unwrap(), x]).unwrap()])
        .unwrap();
    let terms: [ExprId; 3] = [
        p.mul(&[x, y]).unwrap(),
        p.div(s, y).unwrap(),
        p.mul(&[g, c]).unwrap(),
    ];
    let tape = lower(&p, p.add(&terms).unwrap(), &[x, y]).unwrap();
    for (level, n) in LEVELS.into_iter().flat_map(|l| COUNTS.map(|n| (l, n))) {
        let f = compile(&tape, &at_level(level)).unwrap();
        let cols = vec![column(n, 2), column(n, 9)];
        let got = bulk_raw(&f, &cols, n);
        for i in 0..n {
            let x = [cols[0][i], cols[1][i]];
            let regs = tape.registers(&x);
            let want = regs[out_reg(&tape, 0)];
            assert!(same(f.eval_scalar(&x), want));
            let bound = bulk_bounds(&tape, &regs)[out_reg(&tape, 0)];
            assert!(
                within(got[i], want, bound),
                "level {level}, n = {n}, point {i} {x:?}: {} vs {want} (bound {bound:e})",
                got[i]
            );
        }
    }
}

#[test]
fn small_tapes_are_unrolled() {
    let ir = optimized_ir(&horner(), &LlvmOptions::default()).unwrap();
    let start = ir.find("define void @alkahest_eval_bulk").unwrap();
    let end = ir[start..].find("\n}\n").unwrap() + start;
    let bulk = &ir[start..end];
    // Two full-vector stores in the main loop, one in the remainder loop.
    let stores = ["2", "4", "8"]
        .iter()
        .map(|w| bulk.matches(&format!("store <{w} x double>")).count())
        .sum::<usize>();
    assert!(stores >= 3, "{stores} vector stores:\n{bulk}");
}
