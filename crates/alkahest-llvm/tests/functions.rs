//! Every function on its own: accuracy of the bulk entry against libm on
//! dense sweeps (libmvec: within 4 ulp; lane-by-lane libm and exact
//! instructions: bit-identical), bit-identical scalar entry, and special
//! values through both entries; comparisons and selections.

mod common;

use alkahest_core::{ExprPool, Func};
use alkahest_llvm::{LlvmFn, compile};
use alkahest_tape::{BinaryFn, CmpOp, Evaluator, Op, Tape, UnaryFn, lower, select};
use common::*;

fn domain(f: UnaryFn) -> (f64, f64) {
    match f {
        UnaryFn::Asin | UnaryFn::Acos | UnaryFn::Tanh | UnaryFn::Atanh => (-1.0, 1.0),
        UnaryFn::Log | UnaryFn::Sqrt | UnaryFn::Log2 | UnaryFn::Log10 => (1e-6, 1e6),
        UnaryFn::Acosh => (1.0, 1e6),
        UnaryFn::Log1p => (-0.999, 1e3),
        UnaryFn::Exp | UnaryFn::Expm1 => (-700.0, 700.0),
        UnaryFn::Sinh | UnaryFn::Cosh => (-700.0, 700.0),
        UnaryFn::Exp2 => (-1000.0, 1000.0),
        UnaryFn::Atan | UnaryFn::Asinh => (-1e4, 1e4),
        UnaryFn::Cbrt => (-1e6, 1e6),
        UnaryFn::Erf => (-6.0, 6.0),
        // Up to where erfc leaves the normal range.
        UnaryFn::Erfc => (-6.0, 26.0),
        UnaryFn::Gamma => (-30.0, 171.0),
        UnaryFn::Lgamma => (-30.0, 1e4),
        _ => (-20.0, 20.0),
    }
}

/// One scalar call through the entry.
fn scalar(f: &LlvmFn, x: &[f64]) -> f64 {
    let mut out = [0.0];
    f.eval(x, &mut out);
    out[0]
}

/// The bulk entry on one output column.
fn bulk(f: &LlvmFn, cols: &[&[f64]]) -> Vec<f64> {
    let mut out = vec![0.0; cols[0].len()];
    f.eval_columns(cols, &mut [&mut out]);
    out
}

/// Max ulp distance between the bulk entry and libm over `xs` (and checks
/// the scalar entry is bit-identical on every point).
fn max_ulps(f: &LlvmFn, cols: &[&[f64]], reference: impl Fn(usize) -> f64) -> u64 {
    let out = bulk(f, cols);
    let mut worst = 0;
    for (i, &got) in out.iter().enumerate() {
        let want = reference(i);
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        let s = scalar(f, &x);
        assert!(same(s, want), "scalar entry at {x:?}: {s:e} vs {want:e}");
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
        let allowed = match f {
            // The own vector tgamma (module `gamma`): within 9 ulp of the
            // true value, glibc's scalar one too.
            UnaryFn::Gamma => alkahest_testkit::drift::TGAMMA_VEC_ULPS as u64,
            _ if unary_vectorized(f) => LIBMVEC_ULPS,
            _ => 0,
        };
        assert!(worst <= allowed, "{f:?} at level {level}: {worst} ulp");
    }
}

#[test]
fn binary_accuracy_and_scalar_identity() {
    const N: usize = 20_011;
    for (f, level) in BinaryFn::ALL
        .into_iter()
        .flat_map(|f| LEVELS.map(|l| (f, l)))
    {
        let jit = compile(&binary_tape(f), &at_level(level)).unwrap();
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
        eprintln!("{f:?} at level {level}: max {worst} ulp from libm");
        let allowed = if binary_vectorized(f) {
            LIBMVEC_ULPS
        } else {
            0
        };
        assert!(worst <= allowed, "{f:?} at level {level}: {worst} ulp");
    }
}

/// [`SPECIALS`] and values special to the newer functions: poles and
/// integers of `tgamma`/`lgamma` (0, negative integers), half-integers,
/// overflow thresholds, the ends of `atanh`/`acosh`, large arguments of
/// `erfc`, and values next to integers for `floor`/`ceil`.
fn function_specials() -> Vec<f64> {
    let mut v = SPECIALS.to_vec();
    v.extend([
        -2.0,
        -3.0,
        -171.0,
        0.5,
        -0.5,
        -2.5,
        2.0,
        3.0,
        171.5,
        172.0,
        -170.5,
        -180.5,
        1e-310,
        0.1,
        27.5,
        -27.5,
        1.0 - f64::EPSILON,
        -1.0 + f64::EPSILON / 2.0,
        4503599627370495.5,
        -4503599627370495.5,
        710.0,
        -745.5,
        1025.0,
    ]);
    v
}

/// Special values: the scalar entry is bit-identical; the bulk entry is
/// bit-identical for functions computed exactly or lane by lane, and for
/// libmvec ones keeps NaN, infinities and zero signs exactly and finite
/// results within the libmvec tolerance.
#[test]
fn special_values_every_function() {
    let check = |what: String,
                 vectorized: bool,
                 jit: &LlvmFn,
                 cols: &[&[f64]],
                 want: &dyn Fn(usize) -> f64| {
        let out = bulk(jit, cols);
        for (i, &got) in out.iter().enumerate() {
            let w = want(i);
            let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
            let s = scalar(jit, &x);
            assert!(same(s, w), "{what} scalar at {x:?}: {s:e} vs {w:e}");
            let ok = if vectorized && w.is_finite() && w != 0.0 {
                ulps_apart(got, w) <= LIBMVEC_ULPS
            } else {
                same(got, w)
            };
            assert!(ok, "{what} bulk at {x:?}: {got:e} vs {w:e}");
        }
    };
    // Each special value repeated 8 times so it lands in the vector body,
    // then once more in a masked tail of 3.
    let specials = function_specials();
    let mut xs: Vec<f64> = specials.iter().flat_map(|&v| [v; 8]).collect();
    xs.extend(&specials[..3]);
    for (f, level) in UnaryFn::ALL
        .into_iter()
        .flat_map(|f| LEVELS.map(|l| (f, l)))
    {
        let jit = compile(&unary_tape(f), &at_level(level)).unwrap();
        check(
            format!("{f:?} at level {level}"),
            unary_vectorized(f),
            &jit,
            &[&xs],
            &|i| f.apply(xs[i]),
        );
    }
    // All pairs, each pair 4 times in a row.
    let mut a = Vec::new();
    let mut b = Vec::new();
    let pair_values: Vec<f64> = SPECIALS
        .iter()
        .copied()
        .chain([-2.0, 3.0, 0.5, -7.25])
        .collect();
    for &x in &pair_values {
        for &y in &pair_values {
            a.extend([x; 4]);
            b.extend([y; 4]);
        }
    }
    for (f, level) in BinaryFn::ALL
        .into_iter()
        .flat_map(|f| LEVELS.map(|l| (f, l)))
    {
        let jit = compile(&binary_tape(f), &at_level(level)).unwrap();
        check(
            format!("{f:?} at level {level}"),
            binary_vectorized(f),
            &jit,
            &[&a, &b],
            &|i| f.apply(a[i], b[i]),
        );
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
        let jit = compile(&lower(&p, e, &[x, y]).unwrap(), &at_level(3)).unwrap();
        let a: Vec<f64> = cases.iter().flat_map(|c| [c.0; 4]).collect();
        let b: Vec<f64> = cases.iter().flat_map(|c| [c.1; 4]).collect();
        let out = bulk(&jit, &[&a, &b]);
        for i in 0..a.len() {
            let want = bf.apply(a[i], b[i]);
            assert!(
                same(out[i], want),
                "{func:?}({}, {}) bulk {}",
                a[i],
                b[i],
                out[i]
            );
            assert!(same(scalar(&jit, &[a[i], b[i]]), want), "{func:?} scalar");
        }
    }
    assert!(BinaryFn::Min.apply(-0.0, 0.0).is_sign_negative());
}

/// Operand pairs for comparisons: NaN on either side, signed zeros,
/// infinities, equal and neighbouring values, subnormals.
fn comparison_pairs() -> (Vec<f64>, Vec<f64>) {
    let vals = [
        f64::NAN,
        0.0,
        -0.0,
        1.0,
        1.0 + f64::EPSILON,
        -1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        5e-324,
        -5e-324,
    ];
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &x in &vals {
        for &y in &vals {
            a.push(x);
            b.push(y);
        }
    }
    (a, b)
}

/// Every comparison, through both entries at both levels: exactly 1.0 or
/// 0.0 as `CmpOp::apply` says (false with a NaN except `Ne`; `-0 == 0`).
#[test]
fn comparisons_follow_ieee_with_nan() {
    let (a, b) = comparison_pairs();
    for (k, level) in CmpOp::ALL.into_iter().flat_map(|k| LEVELS.map(|l| (k, l))) {
        let tape = Tape::new(
            2,
            vec![Op::Input(0), Op::Input(1), Op::Cmp(k, 0, 1)],
            vec![2],
        )
        .unwrap();
        let jit = compile(&tape, &at_level(level)).unwrap();
        let out = bulk(&jit, &[&a, &b]);
        for i in 0..a.len() {
            let want = k.apply(a[i], b[i]);
            assert_eq!(tape.eval_point(&[a[i], b[i]])[0].to_bits(), want.to_bits());
            let s = scalar(&jit, &[a[i], b[i]]);
            assert_eq!(
                s.to_bits(),
                want.to_bits(),
                "{k:?}({}, {}) scalar {s}",
                a[i],
                b[i]
            );
            assert_eq!(
                out[i].to_bits(),
                want.to_bits(),
                "{k:?}({}, {}) bulk {}",
                a[i],
                b[i],
                out[i]
            );
        }
        // NaN: false for every comparison but `Ne`.
        assert_eq!(
            scalar(&jit, &[f64::NAN, f64::NAN]),
            if k == CmpOp::Ne { 1.0 } else { 0.0 }
        );
    }
}

/// `Select(c, a, b)` is `a` where `c != 0` (NaN included: `une`), both
/// sides' values passed through untouched (NaN payloads, signed zeros).
#[test]
fn select_semantics() {
    let conds = [1.0, 0.0, -0.0, f64::NAN, 2.0, -1.0, 5e-324, f64::INFINITY];
    let branch_a = [7.5, -0.0, f64::NAN, f64::INFINITY];
    let branch_b = [0.0, -3.25, f64::NEG_INFINITY, 5e-324];
    let (mut cs, mut xs, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    for &c in &conds {
        for (&x, &y) in branch_a.iter().zip(&branch_b) {
            cs.push(c);
            xs.push(x);
            ys.push(y);
        }
    }
    let tape = Tape::new(
        3,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Input(2),
            Op::Select(0, 1, 2),
        ],
        vec![3],
    )
    .unwrap();
    for level in LEVELS {
        let jit = compile(&tape, &at_level(level)).unwrap();
        let out = bulk(&jit, &[&cs, &xs, &ys]);
        for i in 0..cs.len() {
            let want = select(cs[i], xs[i], ys[i]);
            let s = scalar(&jit, &[cs[i], xs[i], ys[i]]);
            assert!(
                same(s, want),
                "select({}, {}, {}) scalar {s}",
                cs[i],
                xs[i],
                ys[i]
            );
            assert!(
                same(out[i], want),
                "select({}, {}, {}) bulk {}",
                cs[i],
                xs[i],
                ys[i],
                out[i]
            );
            assert_eq!(out[i].is_sign_negative(), want.is_sign_negative());
        }
    }
}

/// The functions the kernel lowers to comparisons and selections (`sign`,
/// `Mod`, `where` on And/Or/Not), at special values, through both entries.
#[test]
fn lowered_conditions_match_reference() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let lt = p.func(Func::Lt, &[x, y]).unwrap();
    let ge = p.func(Func::Ge, &[x, p.integer(0).unwrap()]).unwrap();
    let ne = p.func(Func::Ne, &[x, x]).unwrap();
    let both = p.func(Func::And, &[lt, ge]).unwrap();
    let either = p.func(Func::Or, &[both, ne]).unwrap();
    let not = p.func(Func::Not, &[either]).unwrap();
    let exprs = [
        p.func(Func::Sign, &[x]).unwrap(),
        p.func(Func::Mod, &[x, y]).unwrap(),
        p.func(Func::Fmod, &[x, y]).unwrap(),
        p.select(both, x, y).unwrap(),
        p.select(
            either,
            p.func(Func::Floor, &[x]).unwrap(),
            p.func(Func::Ceil, &[y]).unwrap(),
        )
        .unwrap(),
        p.select(
            not,
            p.func(Func::Copysign, &[x, y]).unwrap(),
            p.integer(-4).unwrap(),
        )
        .unwrap(),
    ];
    let vals: Vec<f64> = SPECIALS
        .iter()
        .copied()
        .chain([-2.5, 3.0, -7.0, 0.75])
        .collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for &u in &vals {
        for &v in &vals {
            a.push(u);
            b.push(v);
        }
    }
    for (e, level) in exprs.into_iter().flat_map(|e| LEVELS.map(|l| (e, l))) {
        let tape = lower(&p, e, &[x, y]).unwrap();
        let jit = compile(&tape, &at_level(level)).unwrap();
        let out = bulk(&jit, &[&a, &b]);
        for i in 0..a.len() {
            let want = tape.eval_point(&[a[i], b[i]])[0];
            let s = scalar(&jit, &[a[i], b[i]]);
            assert!(
                same(s, want),
                "{tape:?} at ({}, {}): scalar {s} vs {want}",
                a[i],
                b[i]
            );
            assert!(
                same(out[i], want),
                "{tape:?} at ({}, {}): bulk {} vs {want}",
                a[i],
                b[i],
                out[i]
            );
        }
    }
}
