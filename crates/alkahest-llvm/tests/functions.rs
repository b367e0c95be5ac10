//! Every function on its own: accuracy of the bulk entry against libm on
//! dense sweeps (libmvec: within 4 ulp), bit-identical scalar entry, and
//! special values through both entries.

mod common;

use alkahest_core::{ExprPool, Func};
use alkahest_kernel::{BinaryFn, Evaluator, Op, Tape, UnaryFn, lower};
use alkahest_llvm::{LlvmFn, LlvmOptions, compile};
use common::*;

fn unary_tape(f: UnaryFn) -> Tape {
    Tape {
        n_inputs: 1,
        ops: vec![Op::Input(0), Op::Unary(f, 0)],
        output: 1,
    }
}

fn binary_tape(f: BinaryFn) -> Tape {
    Tape {
        n_inputs: 2,
        ops: vec![Op::Input(0), Op::Input(1), Op::Binary(f, 0, 1)],
        output: 2,
    }
}

fn domain(f: UnaryFn) -> (f64, f64) {
    match f {
        UnaryFn::Asin | UnaryFn::Acos | UnaryFn::Tanh => (-1.0, 1.0),
        UnaryFn::Log | UnaryFn::Sqrt => (1e-6, 1e6),
        UnaryFn::Log1p => (-0.999, 1e3),
        UnaryFn::Exp | UnaryFn::Expm1 => (-700.0, 700.0),
        UnaryFn::Sinh | UnaryFn::Cosh => (-700.0, 700.0),
        UnaryFn::Atan => (-1e4, 1e4),
        _ => (-20.0, 20.0),
    }
}

/// Max ulp distance between the bulk entry and libm over `xs` (and checks
/// the scalar entry is bit-identical on every point).
fn max_ulps(f: &LlvmFn, cols: &[&[f64]], reference: impl Fn(usize) -> f64) -> u64 {
    let n = cols[0].len();
    let mut out = vec![0.0; n];
    f.eval_columns(cols, &mut out);
    let mut worst = 0;
    for (i, &got) in out.iter().enumerate() {
        let want = reference(i);
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        assert!(same(f.eval(&x), want), "scalar entry at {x:?}");
        worst = worst.max(ulps_apart(got, want));
    }
    worst
}

/// Documented bound for libmvec (glibc manual: within 4 ulp).
const LIBMVEC_ULPS: u64 = 4;

#[test]
fn unary_accuracy_and_scalar_identity() {
    const N: usize = 20_011;
    for (f, level) in UnaryFn::ALL
        .into_iter()
        .flat_map(|f| LEVELS.map(|l| (f, l)))
    {
        let jit = compile(&unary_tape(f), &at_level(level)).unwrap();
        let (lo, hi) = domain(f);
        let xs: Vec<f64> = (0..N)
            .map(|i| lo + (hi - lo) * (i as f64 / (N - 1) as f64))
            .collect();
        let worst = max_ulps(&jit, &[&xs], |i| f.apply(xs[i]));
        eprintln!("{f:?} at level {level}: max {worst} ulp from libm");
        let allowed = if unary_vectorized(f) { LIBMVEC_ULPS } else { 0 };
        assert!(worst <= allowed, "{f:?} at level {level}: {worst} ulp");
    }
}

#[test]
fn binary_accuracy_and_scalar_identity() {
    const N: usize = 20_011;
    for f in [
        BinaryFn::Atan2,
        BinaryFn::Hypot,
        BinaryFn::Pow,
        BinaryFn::Min,
        BinaryFn::Max,
    ] {
        let jit = compile(&binary_tape(f), &LlvmOptions::default()).unwrap();
        let xs: Vec<f64> = (0..N)
            .map(|i| (i as f64 * 0.618).fract() * 40.0 - 20.0)
            .collect();
        let ys: Vec<f64> = (0..N)
            .map(|i| (i as f64 * 0.414).fract() * 8.0 - 2.0)
            .collect();
        let xs = if f == BinaryFn::Pow {
            xs.iter().map(|x| x.abs()).collect()
        } else {
            xs
        };
        let worst = max_ulps(&jit, &[&xs, &ys], |i| f.apply(xs[i], ys[i]));
        eprintln!("{f:?}: max {worst} ulp from libm");
        let allowed = if binary_vectorized(f) {
            LIBMVEC_ULPS
        } else {
            0
        };
        assert!(worst <= allowed, "{f:?}: {worst} ulp");
    }
}

/// Special values: the scalar entry is bit-identical; the bulk entry (whose
/// vector lanes see the value) keeps NaN, infinities and zero signs exactly
/// and finite results within the libmvec tolerance.
#[test]
fn special_values_every_function() {
    let check = |what: String, jit: &LlvmFn, cols: &[&[f64]], want: &dyn Fn(usize) -> f64| {
        let n = cols[0].len();
        let mut out = vec![0.0; n];
        jit.eval_columns(cols, &mut out);
        for (i, &got) in out.iter().enumerate() {
            let w = want(i);
            let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
            let s = jit.eval(&x);
            assert!(same(s, w), "{what} scalar at {x:?}: {s:e} vs {w:e}");
            let ok = if w.is_finite() && w != 0.0 {
                ulps_apart(got, w) <= LIBMVEC_ULPS
            } else {
                same(got, w)
            };
            assert!(ok, "{what} bulk at {x:?}: {got:e} vs {w:e}");
        }
    };
    // Each special value repeated 8 times so it lands in the vector body.
    let xs: Vec<f64> = SPECIALS.iter().flat_map(|&v| [v; 8]).collect();
    for (f, level) in UnaryFn::ALL
        .into_iter()
        .flat_map(|f| LEVELS.map(|l| (f, l)))
    {
        let jit = compile(&unary_tape(f), &at_level(level)).unwrap();
        check(format!("{f:?} at level {level}"), &jit, &[&xs], &|i| {
            f.apply(xs[i])
        });
    }
    // All pairs, each pair 4 times in a row.
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &x in &SPECIALS {
        for &y in &SPECIALS {
            a.extend([x; 4]);
            b.extend([y; 4]);
        }
    }
    for f in [
        BinaryFn::Atan2,
        BinaryFn::Hypot,
        BinaryFn::Pow,
        BinaryFn::Min,
        BinaryFn::Max,
    ] {
        for level in LEVELS {
            let jit = compile(&binary_tape(f), &at_level(level)).unwrap();
            check(format!("{f:?} at level {level}"), &jit, &[&a, &b], &|i| {
                f.apply(a[i], b[i])
            });
        }
    }
}

#[test]
fn min_max_semantics() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let cases = [
        (-0.0, 0.0),
        (0.0, -0.0),
        (f64::NAN, 1.0),
        (1.0, f64::NAN),
        (f64::INFINITY, f64::NEG_INFINITY),
        (2.0, 3.0),
        (-5e-324, 5e-324),
    ];
    for (func, bf) in [(Func::Min, BinaryFn::Min), (Func::Max, BinaryFn::Max)] {
        let e = p.func(func, &[x, y]).unwrap();
        let jit = compile(&lower(&p, e, &[x, y]).unwrap(), &LlvmOptions::default()).unwrap();
        let a: Vec<f64> = cases.iter().flat_map(|c| [c.0; 4]).collect();
        let b: Vec<f64> = cases.iter().flat_map(|c| [c.1; 4]).collect();
        let mut out = vec![0.0; a.len()];
        jit.eval_columns(&[&a, &b], &mut out);
        for i in 0..a.len() {
            let want = bf.apply(a[i], b[i]);
            assert!(
                same(out[i], want),
                "{func:?}({}, {}) bulk {}",
                a[i],
                b[i],
                out[i]
            );
            assert!(same(jit.eval(&[a[i], b[i]]), want), "{func:?} scalar");
        }
    }
    assert!(BinaryFn::Min.apply(-0.0, 0.0).is_sign_negative());
}
