//! Tapes with several outputs: one pass shares subexpressions, one register
//! may be several outputs (or an input or a constant), and every entry
//! writes every output — the scalar entry to `out[k]`, the bulk entry to
//! `outs[k][i]` in the unrolled loop, the one-vector loop and the masked
//! tail alike; object files record and restore the output count.

mod common;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_llvm::{LlvmFn, LlvmOptions, compile, emit_object, load_object, optimized_ir};
use alkahest_tape::{Evaluator, Op, Tape, UnaryFn, lower_many};
use common::*;

/// Point counts around 1, 4 (a vector), 8 and 16 (unrolled iterations).
const COUNTS: [usize; 14] = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 70];

/// Outputs over x, y sharing `g = tgamma(x) * floor(y)` (no libmvec call,
/// so the bulk entry is bit-identical): `g + y`, `x` (an input), `g` twice
/// (one register, two outputs), `where(x < y, g, -y)`, the constant 2.5.
fn exact_shared() -> Tape {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let gx = p.func(Func::Gamma, &[x]).unwrap();
    let g = p.mul(&[gx, p.func(Func::Floor, &[y]).unwrap()]).unwrap();
    let lt = p.func(Func::Lt, &[x, y]).unwrap();
    let sel = p.select(lt, g, p.neg(y).unwrap()).unwrap();
    let outs = [
        p.add(&[g, y]).unwrap(),
        x,
        g,
        sel,
        g,
        p.float(2.5).unwrap(),
        p.func(Func::Fmod, &[g, y]).unwrap(),
    ];
    let t = lower_many(&p, &outs, &[x, y]).unwrap();
    assert_eq!(t.outputs()[2], t.outputs()[4], "one register, two outputs");
    assert_eq!(t.outputs()[1], 0, "an input as an output");
    assert!(matches!(t.ops()[out_reg(&t, 5)], Op::Const(_)));
    t
}

/// `sin(x)` shared by three outputs, with libmvec calls in the bulk loop.
fn libmvec_shared(p: &ExprPool, x: ExprId, y: ExprId) -> Vec<ExprId> {
    let s = p.func(Func::Sin, &[x]).unwrap();
    vec![
        p.mul(&[s, y]).unwrap(),
        p.add(&[s, y]).unwrap(),
        p.mul(&[p.func(Func::Exp, &[y]).unwrap(), s]).unwrap(),
    ]
}

fn column(n: usize, shift: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match (i + shift) % 11 {
            3 => SPECIALS[(i + shift) % SPECIALS.len()],
            _ => ((i * 7 + shift) as f64 * 0.31).sin() * 3.7,
        })
        .collect()
}

/// All outputs at one point through the scalar entry.
fn scalar(f: &LlvmFn, x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; f.n_outputs()];
    f.eval(x, &mut out);
    out
}

/// The bulk entry through the raw pointer table, every output column with
/// sentinels after the end that must stay untouched.
fn bulk_raw(f: &LlvmFn, cols: &[Vec<f64>], n: usize) -> Vec<Vec<f64>> {
    const SENTINEL: f64 = -98765.4321;
    let mut outs = vec![vec![SENTINEL; n + 9]; f.n_outputs()];
    let ptrs: Vec<*const f64> = cols.iter().map(|c| c.as_ptr()).collect();
    let out_ptrs: Vec<*mut f64> = outs.iter_mut().map(|o| o.as_mut_ptr()).collect();
    // SAFETY: every input column holds `n` points, every output column
    // `n + 9` distinct slots.
    unsafe { f.eval_bulk_raw(ptrs.as_ptr(), ptrs.len(), out_ptrs.as_ptr(), n) };
    for (k, o) in outs.iter_mut().enumerate() {
        assert!(
            o[n..].iter().all(|&v| v == SENTINEL),
            "output {k} written past n = {n}"
        );
        o.truncate(n);
    }
    outs
}

#[test]
fn exact_outputs_bit_identical_at_every_count() {
    let tape = exact_shared();
    for level in LEVELS {
        let f = compile(&tape, &at_level(level)).unwrap();
        assert_eq!((f.n_inputs(), f.n_outputs()), (2, 7));
        for n in COUNTS {
            let cols = vec![column(n, 0), column(n, 5)];
            let got = bulk_raw(&f, &cols, n);
            for i in 0..n {
                let x = [cols[0][i], cols[1][i]];
                let want = tape.eval_point(&x);
                let s = scalar(&f, &x);
                for k in 0..want.len() {
                    assert!(
                        same(s[k], want[k]),
                        "level {level} output {k} scalar at {x:?}"
                    );
                    assert!(
                        same(got[k][i], want[k]),
                        "level {level}, n = {n}, output {k}, point {i} {x:?}: {} vs {}",
                        got[k][i],
                        want[k]
                    );
                }
            }
        }
    }
}

#[test]
fn libmvec_outputs_within_bounds_at_every_count() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let tape = lower_many(&p, &libmvec_shared(&p, x, y), &[x, y]).unwrap();
    for level in LEVELS {
        let f = compile(&tape, &at_level(level)).unwrap();
        for n in COUNTS {
            let cols = vec![column(n, 2), column(n, 9)];
            let got = bulk_raw(&f, &cols, n);
            for i in 0..n {
                let x = [cols[0][i], cols[1][i]];
                let regs = tape.registers(&x);
                let bounds = bulk_bounds(&tape, &regs);
                let s = scalar(&f, &x);
                for k in 0..tape.n_outputs() {
                    let r = out_reg(&tape, k);
                    assert!(same(s[k], regs[r]), "scalar output {k} at {x:?}");
                    assert!(
                        within(got[k][i], regs[r], bounds[r]),
                        "level {level}, n = {n}, output {k}, point {i}: {} vs {}",
                        got[k][i],
                        regs[r]
                    );
                }
            }
        }
    }
}

/// A shared subexpression is one call per point: `sin(x)` appears once in
/// the scalar entry although three outputs use it.
#[test]
fn shared_subexpressions_are_computed_once() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let tape = lower_many(&p, &libmvec_shared(&p, x, y), &[x, y]).unwrap();
    let sins = tape
        .ops()
        .iter()
        .filter(|op| matches!(op, Op::Unary(UnaryFn::Sin, _)))
        .count();
    assert_eq!(sins, 1);
    let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    let start = ir.find("define void @alkahest_eval_scalar").unwrap();
    let end = ir[start..].find("\n}\n").unwrap() + start;
    let scalar_ir = &ir[start..end];
    let calls = scalar_ir.matches("@llvm.sin.f64(").count() + scalar_ir.matches("@sin(").count();
    assert_eq!(calls, 1, "{scalar_ir}");
    // Three stores, one per output.
    assert_eq!(scalar_ir.matches("store double").count(), 3, "{scalar_ir}");
}

/// Output columns may be the input columns themselves (every point is read
/// before it is written), here both at once.
#[test]
fn outputs_in_place_over_inputs() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    // (y, x*y + 1, floor(x)): output 0 overwrites x with y, output 1
    // overwrites y.
    let outs = [
        y,
        p.add(&[p.mul(&[x, y]).unwrap(), p.integer(1).unwrap()])
            .unwrap(),
        p.func(Func::Floor, &[x]).unwrap(),
    ];
    let tape = lower_many(&p, &outs, &[x, y]).unwrap();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    for n in COUNTS {
        let cols = vec![column(n, 1), column(n, 6)];
        let want = bulk_raw(&f, &cols, n);
        let mut inplace = cols.clone();
        let mut third = vec![0.0; n];
        let ptrs: Vec<*const f64> = inplace.iter().map(|c| c.as_ptr()).collect();
        let outs = [
            inplace[0].as_mut_ptr(),
            inplace[1].as_mut_ptr(),
            third.as_mut_ptr(),
        ];
        // SAFETY: columns of `n` points; outputs 0 and 1 are exactly input
        // columns 0 and 1, which the entry allows; output 2 is separate.
        unsafe { f.eval_bulk_raw(ptrs.as_ptr(), 2, outs.as_ptr(), n) };
        for i in 0..n {
            assert!(same(inplace[0][i], want[0][i]), "n = {n}, point {i}");
            assert!(same(inplace[1][i], want[1][i]), "n = {n}, point {i}");
            assert!(same(third[i], want[2][i]), "n = {n}, point {i}");
        }
    }
}

#[test]
fn multi_output_object_round_trip() {
    let tape = exact_shared();
    let direct = compile(&tape, &LlvmOptions::default()).unwrap();
    let obj = emit_object(&tape, &LlvmOptions::default()).unwrap();
    // SAFETY: the bytes come from `emit_object` in this process.
    let f = unsafe { load_object(&obj) }.unwrap();
    assert_eq!((f.n_inputs(), f.n_outputs()), (2, 7));
    let n = 23;
    let cols = vec![column(n, 3), column(n, 8)];
    let a = bulk_raw(&f, &cols, n);
    let b = bulk_raw(&direct, &cols, n);
    for i in 0..n {
        let x = [cols[0][i], cols[1][i]];
        let want = tape.eval_point(&x);
        let s = scalar(&f, &x);
        for k in 0..7 {
            assert!(same(s[k], want[k]), "loaded scalar output {k} at {x:?}");
            assert!(
                same(a[k][i], b[k][i]) && same(a[k][i], want[k]),
                "output {k}, point {i}"
            );
        }
    }
    // Through the safe API too, and a second independent load.
    drop(f);
    // SAFETY: as above.
    let g = unsafe { load_object(&obj) }.unwrap();
    let mut outs = vec![vec![0.0; n]; 7];
    let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
    let mut out_refs: Vec<&mut [f64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    g.eval_columns(&refs, &mut out_refs);
    for k in 0..7 {
        assert!(
            outs[k].iter().zip(&b[k]).all(|(u, v)| same(*u, *v)),
            "output {k}"
        );
    }
}

/// Short or missing columns fill every output with NaN.
#[test]
fn bad_shapes_fill_every_output_with_nan() {
    let f = compile(&exact_shared(), &LlvmOptions::default()).unwrap();
    let mut outs = vec![vec![0.0; 6]; 7];
    let mut out_refs: Vec<&mut [f64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    f.eval_columns(&[&[1.0; 6], &[1.0; 5]], &mut out_refs);
    assert!(outs.iter().flatten().all(|v| v.is_nan()));
    let mut out = vec![0.0; 7];
    f.eval(&[1.0], &mut out);
    assert!(out.iter().all(|v| v.is_nan()));
    // The raw entry with too few columns.
    let mut outs = vec![vec![0.0; 6]; 7];
    let out_ptrs: Vec<*mut f64> = outs.iter_mut().map(|o| o.as_mut_ptr()).collect();
    let col = [1.0; 6];
    // SAFETY: one input pointer (none is read with n_vars < 2), seven
    // output columns of 6 points.
    unsafe { f.eval_bulk_raw([col.as_ptr()].as_ptr(), 1, out_ptrs.as_ptr(), 6) };
    assert!(outs.iter().flatten().all(|v| v.is_nan()));
}

/// A tape long enough to be segmented, with outputs defined in different
/// segments (and an input, a constant and a repeated register among them).
#[test]
fn segmented_multi_output() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let mut acc = x;
    let mut outs = vec![y];
    for k in 0..900 {
        let c = p.rational(k % 13 + 1, 7).unwrap();
        let t = p.func(Func::Tanh, &[p.add(&[acc, c]).unwrap()]).unwrap();
        let lt = p.func(Func::Lt, &[t, p.mul(&[c, y]).unwrap()]).unwrap();
        acc = p
            .select(
                lt,
                p.mul(&[t, y]).unwrap(),
                p.func(Func::Cos, &[t]).unwrap(),
            )
            .unwrap();
        if k % 200 == 50 {
            outs.push(acc);
        }
    }
    outs.push(acc);
    outs.push(outs[1]);
    outs.push(p.integer(-3).unwrap());
    let tape = lower_many(&p, &outs, &[x, y]).unwrap();
    assert!(tape.n_compute() > 1500, "{} ops", tape.n_compute());
    let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    assert!(ir.contains("@alkahest_seg1_x"), "not segmented");
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    assert_eq!(f.n_outputs(), outs.len());
    let n = 29;
    let cols = vec![column(n, 4), column(n, 7)];
    let got = bulk_raw(&f, &cols, n);
    let mut checked = 0;
    for i in 0..n {
        let x = [cols[0][i], cols[1][i]];
        let regs = tape.registers(&x);
        let bounds = bulk_bounds(&tape, &regs);
        let s = scalar(&f, &x);
        for k in 0..tape.n_outputs() {
            let r = out_reg(&tape, k);
            assert!(
                same(s[k], regs[r]),
                "scalar output {k} at {x:?}: {} vs {}",
                s[k],
                regs[r]
            );
            assert!(
                within(got[k][i], regs[r], bounds[r]),
                "bulk output {k} at {x:?}: {} vs {}",
                got[k][i],
                regs[r]
            );
            checked += usize::from(bounds[r].is_finite());
        }
    }
    assert!(checked * 2 > n * tape.n_outputs(), "only {checked} checked");
}
