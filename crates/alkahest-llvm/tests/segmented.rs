//! Large tapes are compiled as several segment functions exchanging values
//! through a scratch array (on the stack, or on the heap when large). Same
//! semantics as small ones: checked against the interpreter.

mod common;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_llvm::{LlvmOptions, compile, optimized_ir};
use alkahest_tape::{Evaluator, Tape, lower};
use common::*;

/// A deterministic random DAG whose values stay bounded: every node is a
/// bounded function (sin, cos, tanh, atan) of a sum, product or difference
/// of two earlier nodes, so errors neither explode nor vanish into NaN.
fn bounded_dag(n: usize, seed: u64) -> (Tape, usize) {
    let p = ExprPool::new();
    let vars: Vec<ExprId> = ["x", "y", "z"]
        .iter()
        .map(|s| p.symbol(s).unwrap())
        .collect();
    let mut s = seed;
    let mut rnd = move |k: usize| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as usize) % k
    };
    let mut nodes = vars.clone();
    let funcs = [Func::Sin, Func::Cos, Func::Tanh, Func::Atan];
    while nodes.len() < n {
        let len = nodes.len();
        let a = nodes[len - 1 - rnd(8.min(len))];
        let b = nodes[rnd(len)];
        let inner = match rnd(3) {
            0 => p.add(&[a, b]),
            1 => p.mul(&[a, b]),
            _ => p.sub(a, b),
        }
        .unwrap();
        nodes.push(p.func(funcs[rnd(funcs.len())], &[inner]).unwrap());
    }
    let tail: Vec<ExprId> = nodes[nodes.len() - 5..].to_vec();
    let e = p.add(&tail).unwrap();
    let tape = lower(&p, e, &vars).unwrap();
    let n_compute = tape.n_compute();
    (tape, n_compute)
}

fn check(tape: &Tape, n: usize) {
    let f = compile(tape, &LlvmOptions::default()).unwrap();
    let interp = Interpreter::new(tape);
    let cols: Vec<Vec<f64>> = (0..tape.n_inputs())
        .map(|v| {
            (0..n)
                .map(|i| ((i * 3 + v) as f64 * 0.173).sin() * 2.0)
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
    let bulk = bulk1(&f, &refs);
    let want = bulk1(&interp, &refs);
    let mut finite = 0;
    for i in 0..n {
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        let regs = tape.registers(&x);
        let r = regs[out_reg(tape, 0)];
        assert!(same(r, want[i]));
        assert!(same(f.eval_scalar(&x), r), "scalar entry at point {i}");
        let bound = bulk_bounds(tape, &regs)[out_reg(tape, 0)];
        assert!(
            within(bulk[i], r, bound),
            "bulk {} vs {r} (bound {bound:e})",
            bulk[i]
        );
        finite += usize::from(r.is_finite() && bound.is_finite());
    }
    // The check must have had teeth: most points carry a finite bound.
    assert!(finite * 2 > n, "only {finite} of {n} points checked");
}

#[test]
fn segmented_random_dag_matches_interpreter() {
    let (tape, n_compute) = bounded_dag(3000, 7);
    assert!(
        n_compute > 1500,
        "tape too small to be segmented: {n_compute}"
    );
    let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    assert!(ir.contains("@alkahest_seg1_x"), "not segmented");
    check(&tape, 41);
}

#[test]
fn heap_scratch_for_many_live_values() {
    // 3000 sines of shifted x, all live until the final sum: the vector
    // scratch array (32 bytes a slot) is larger than the stack limit.
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let terms: Vec<ExprId> = (1..=3000)
        .map(|k| {
            let c = p.rational(k, 1000).unwrap();
            p.func(Func::Sin, &[p.add(&[x, c]).unwrap()]).unwrap()
        })
        .collect();
    let e = p.add(&terms).unwrap();
    let tape = lower(&p, e, &[x]).unwrap();
    let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    assert!(ir.contains("@malloc"), "expected a heap scratch array");
    check(&tape, 13);
}

#[test]
fn segmented_every_op_and_special_values() {
    // Every function and arithmetic operation, repeated until the tape is
    // segmented (compiled with fast instruction selection, constants loaded
    // from globals); inputs include NaN, infinities, zeros and subnormals.
    let p = ExprPool::new();
    let v: Vec<ExprId> = ["x", "y", "z"]
        .iter()
        .map(|s| p.symbol(s).unwrap())
        .collect();
    let mut acc = v[0];
    let mut terms = Vec::new();
    for k in 0..60 {
        let c = p.rational(k + 1, 7).unwrap();
        for f in Func::numeric() {
            let args = [p.add(&[acc, c]).unwrap(), v[1], v[2]];
            terms.push(p.func(f, &args[..f.arity()]).unwrap());
        }
        let t = p.sub(v[2], acc).unwrap();
        acc = p.add(&[p.mul(&[acc, v[1]]).unwrap(), t]).unwrap();
        acc = p
            .div(acc, p.pow(v[2], p.integer(3).unwrap()).unwrap())
            .unwrap();
        acc = p.func(Func::Tanh, &[acc]).unwrap();
        terms.push(p.mul(&[p.integer(-1).unwrap(), acc]).unwrap());
    }
    let e = p.add(&terms).unwrap();
    let tape = lower(&p, e, &v).unwrap();
    assert!(tape.n_compute() > 1500, "{} ops", tape.n_compute());
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for (i, &s) in SPECIALS.iter().enumerate() {
        for (k, c) in cols.iter_mut().enumerate() {
            c.push(if k == i % 3 { s } else { 0.3 + 0.1 * k as f64 });
        }
    }
    for i in 0..23 {
        for (k, c) in cols.iter_mut().enumerate() {
            c.push(((i * 5 + k) as f64 * 0.37).sin() * 1.5);
        }
    }
    let n = cols[0].len();
    let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
    let bulk = bulk1(&f, &refs);
    for i in 0..n {
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        let regs = tape.registers(&x);
        let r = regs[out_reg(&tape, 0)];
        assert!(same(f.eval_scalar(&x), r), "scalar entry at {x:?}");
        let bound = bulk_bounds(&tape, &regs)[out_reg(&tape, 0)];
        assert!(
            within(bulk[i], r, bound),
            "bulk at {x:?}: {} vs {r}",
            bulk[i]
        );
    }
}
