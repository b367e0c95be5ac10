//! Ownership, threads, memory, object files, errors and extreme shapes.

mod common;

use std::sync::Arc;
use std::time::Instant;

use alkahest_core::{ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_llvm::{Error, LlvmFn, LlvmOptions, compile, emit_object, load_object};
use alkahest_tape::{Evaluator, Op, Tape, UnaryFn, lower};
use common::*;

fn sample_tape() -> Tape {
    // sin(x)*y + exp(-x*x)/(1 + y*y) + atan2(y, x)
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let s = p.mul(&[p.func(Func::Sin, &[x]).unwrap(), y]).unwrap();
    let mx2 = p.neg(p.mul(&[x, x]).unwrap()).unwrap();
    let one = p.integer(1).unwrap();
    let den = p.add(&[one, p.mul(&[y, y]).unwrap()]).unwrap();
    let g = p.div(p.func(Func::Exp, &[mx2]).unwrap(), den).unwrap();
    let a = p.func(Func::Atan2, &[y, x]).unwrap();
    let e = p.add(&[s, g, a]).unwrap();
    lower(&p, e, &[x, y]).unwrap()
}

fn columns(n: usize) -> (Vec<f64>, Vec<f64>) {
    let xs = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
    let ys = (0..n).map(|i| (i as f64 * 0.11).cos() * 2.0).collect();
    (xs, ys)
}

fn check_against_interp(f: &LlvmFn, tape: &Tape, n: usize) {
    let (xs, ys) = columns(n);
    let got = bulk1(f, &[&xs, &ys]);
    let interp = Interpreter::new(tape);
    for i in 0..n {
        let regs = tape.registers(&[xs[i], ys[i]]);
        let want = regs[out_reg(tape, 0)];
        assert!(same(interp.eval_scalar(&[xs[i], ys[i]]), want));
        let bound = bulk_bounds(tape, &regs)[out_reg(tape, 0)];
        assert!(within(got[i], want, bound), "{i}: {} vs {want}", got[i]);
        assert!(same(f.eval_scalar(&[xs[i], ys[i]]), want));
    }
}

#[test]
fn eight_threads_share_one_function() {
    let tape = sample_tape();
    let f = Arc::new(compile(&tape, &LlvmOptions::default()).unwrap());
    let (xs, ys) = columns(100_003);
    let want = bulk1(&*f, &[&xs, &ys]);
    let (xs, ys, want) = (Arc::new(xs), Arc::new(ys), Arc::new(want));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (f, xs, ys, want) = (f.clone(), xs.clone(), ys.clone(), want.clone());
            std::thread::spawn(move || {
                for round in 0..20 {
                    let out = bulk1(&*f, &[&xs, &ys]);
                    assert!(out.iter().zip(want.iter()).all(|(a, b)| same(*a, *b)));
                    let i = (t * 977 + round * 131) % xs.len();
                    let s = f.eval_scalar(&[xs[i], ys[i]]);
                    assert!(same(s, sample_tape().eval_point(&[xs[i], ys[i]])[0]));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn threads_compile_concurrently() {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let tape = sample_tape();
                for _ in 0..10 {
                    let f = compile(&tape, &LlvmOptions::default()).unwrap();
                    check_against_interp(&f, &tape, 101);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn object_round_trip() {
    let tape = sample_tape();
    let obj = emit_object(&tape, &LlvmOptions::default()).unwrap();
    if cfg!(target_os = "linux") {
        assert_eq!(&obj[..4], b"\x7fELF");
    }
    // SAFETY: the bytes come from `emit_object` in this process.
    let f = unsafe { load_object(&obj) }.unwrap();
    assert_eq!((f.n_inputs(), f.n_outputs()), (2, 1));
    check_against_interp(&f, &tape, 1001);
    // Loading twice gives two independent functions.
    // SAFETY: as above.
    let g = unsafe { load_object(&obj) }.unwrap();
    drop(f);
    check_against_interp(&g, &tape, 17);
}

#[test]
fn foreign_objects_are_rejected() {
    let tape = sample_tape();
    let obj = emit_object(&tape, &LlvmOptions::default()).unwrap();
    // Another host: patch the fingerprint's CPU name.
    let needle = b"alkahest-llvm/";
    let at = obj
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("fingerprint in the object");
    let mut other = obj.clone();
    other[at + needle.len() + 3] ^= 0x20; // "3;llvm19" -> "3;lLvm19"
    // SAFETY: derived from our own object; it is rejected before any call.
    let err = unsafe { load_object(&other) }.unwrap_err();
    assert!(matches!(err, Error::IncompatibleObject(_)), "{err}");
    // Not an object at all.
    // SAFETY: garbage is rejected by the linker; nothing is called.
    let err = unsafe { load_object(b"definitely not an object file") }.unwrap_err();
    assert!(matches!(err, Error::Jit(_)), "{err}");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let tape = sample_tape();
    let err = compile(
        &tape,
        &LlvmOptions {
            opt_level: 4,
            ..LlvmOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)));
    // (Malformed tapes cannot reach the backend: `Tape::new` rejects them,
    // and holding a `Tape` is proof of validity.)
    // Wrong call shapes give NaN, never out-of-bounds reads.
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    let mut one = [0.0];
    f.eval(&[1.0], &mut one);
    assert!(one[0].is_nan());
    let mut out = vec![0.0; 8];
    f.eval_columns(&[&[1.0; 8]], &mut [&mut out]);
    assert!(out.iter().all(|v| v.is_nan()));
    out.fill(0.0);
    f.eval_columns(&[&[1.0; 8], &[1.0; 3]], &mut [&mut out]);
    assert!(out.iter().all(|v| v.is_nan()));
    // The raw entry checks n_vars too.
    let col = [1.0f64; 8];
    let cols = [col.as_ptr()];
    let mut out = vec![0.0; 8];
    let outs = [out.as_mut_ptr()];
    // SAFETY: `cols` holds 1 pointer (the entry reads none when n_vars < 2)
    // and the one output column has 8 slots.
    unsafe { f.eval_bulk_raw(cols.as_ptr(), 1, outs.as_ptr(), 8) };
    assert!(out.iter().all(|v| v.is_nan()));
}

#[test]
#[should_panic(expected = "output slots")]
fn eval_without_room_for_outputs_panics() {
    let f = compile(&sample_tape(), &LlvmOptions::default()).unwrap();
    f.eval(&[1.0, 2.0], &mut []);
}

#[test]
#[should_panic(expected = "wrong number of output columns")]
fn eval_columns_with_wrong_output_count_panics() {
    let f = compile(&sample_tape(), &LlvmOptions::default()).unwrap();
    let (xs, ys) = columns(4);
    let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
    f.eval_columns(&[&xs, &ys], &mut [&mut a, &mut b]);
}

#[test]
fn constant_and_wide_expressions() {
    // No inputs at all.
    let t = Tape::new(
        0,
        vec![Op::Const(2.5), Op::Unary(UnaryFn::Sqrt, 0)],
        vec![1],
    )
    .unwrap();
    let f = compile(&t, &LlvmOptions::default()).unwrap();
    assert_eq!(f.eval_scalar(&[]), 2.5f64.sqrt());
    let mut out = vec![0.0; 5];
    f.eval_columns(&[], &mut [&mut out]);
    assert!(out.iter().all(|&v| v == 2.5f64.sqrt()));
    // 40 inputs (more than fit the stack table), summed with sines.
    let p = ExprPool::new();
    let vars: Vec<_> = (0..40)
        .map(|i| p.symbol(&format!("v{i}")).unwrap())
        .collect();
    let terms: Vec<_> = vars
        .iter()
        .map(|&v| p.func(Func::Sin, &[v]).unwrap())
        .collect();
    let e = p.add(&terms).unwrap();
    let tape = lower(&p, e, &vars).unwrap();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    let n = 103;
    let cols: Vec<Vec<f64>> = (0..40)
        .map(|v| (0..n).map(|i| (i * 40 + v) as f64 * 1e-3).collect())
        .collect();
    let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
    let got = bulk1(&f, &refs);
    let want = bulk1(&Interpreter::new(&tape), &refs);
    for i in 0..n {
        assert!(
            (got[i] - want[i]).abs() <= 1e-13,
            "{i}: {} vs {}",
            got[i],
            want[i]
        );
    }
}

#[test]
fn deep_chains_compile() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    // 100,000 nested sines, and a 100,000-step arithmetic chain.
    let mut e = x;
    for _ in 0..100_000 {
        e = p.func(Func::Sin, &[e]).unwrap();
    }
    let tape = lower(&p, e, &[x]).unwrap();
    let t = Instant::now();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    eprintln!(
        "100k-deep sin chain: compiled in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let mut v = 0.5f64;
    for _ in 0..100_000 {
        v = v.sin();
    }
    assert_eq!(f.eval_scalar(&[0.5]), v);

    let mut e = x;
    let c = p.float(0.999).unwrap();
    for i in 0..100_000 {
        e = if i % 2 == 0 {
            p.mul(&[e, c]).unwrap()
        } else {
            p.add(&[e, x]).unwrap()
        };
    }
    let tape = lower(&p, e, &[x]).unwrap();
    let t = Instant::now();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    eprintln!(
        "100k-step arithmetic chain: compiled in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let interp = Interpreter::new(&tape);
    let want = interp.eval_scalar(&[0.3]);
    assert!(same(f.eval_scalar(&[0.3]), want));
    let out = bulk1(&f, &[&[0.3; 9]]);
    assert!(out.iter().all(|&o| same(o, want)));
}

#[test]
fn fast_math_is_close() {
    let tape = sample_tape();
    let fast = compile(
        &tape,
        &LlvmOptions {
            fast_math: true,
            ..LlvmOptions::default()
        },
    )
    .unwrap();
    let (xs, ys) = columns(1001);
    let got = bulk1(&fast, &[&xs, &ys]);
    let interp = Interpreter::new(&tape);
    for i in 0..xs.len() {
        let want = interp.eval_scalar(&[xs[i], ys[i]]);
        let tol = 1e-12 * (1.0 + want.abs());
        assert!((got[i] - want).abs() <= tol, "{i}: {} vs {want}", got[i]);
        assert!((fast.eval_scalar(&[xs[i], ys[i]]) - want).abs() <= tol);
    }
}
