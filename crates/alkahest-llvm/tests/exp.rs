//! `exp` (and `sinh`, `cosh`, at the end) in the bulk loop is the crate's
//! own inline routine where the host has AVX-512 (and libmvec's elsewhere). Checked against libm (within half
//! an ulp of the true value): within 1.5 ulp on every lane (the routine is
//! within [`alkahest_llvm::EXP_ULPS`] of the true value; libmvec's within
//! 4.5, glibc's bound), libm's bits for the special values and the ends of
//! the range, and libm's bits everywhere under `exact_math`.

mod common;

use alkahest_llvm::{LlvmOptions, compile, own_vector_exp};
use alkahest_tape::{Evaluator, UnaryFn};
use alkahest_testkit::tapes::unary_tape;
use alkahest_testkit::values::{ulps_off, uniform};

/// The bulk entry's `f` of `xs`.
fn bulk(f: UnaryFn, xs: &[f64], opts: &LlvmOptions) -> Vec<f64> {
    let f = compile(&unary_tape(f), opts).unwrap();
    let mut out = vec![0.0; xs.len()];
    f.eval_columns(&[xs], &mut [&mut out]);
    out
}

#[test]
fn near_libm_with_its_special_values() {
    let mut xs = uniform(8192, -745.2, 709.8, 1);
    xs.extend(uniform(4096, -1.0, 1.0, 2));
    xs.extend(uniform(2048, -745.2, -708.0, 3)); // subnormal results
    xs.extend([
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        709.78,
        709.79,
        710.0,
        -745.13,
        -745.14,
        -746.0,
        1e300,
        -1e300,
        f64::MIN_POSITIVE,
        -5e-324,
    ]);
    // An odd length: the masked tail runs the routine too.
    xs.push(0.5);
    let got = bulk(UnaryFn::Exp, &xs, &LlvmOptions::default());
    let own = own_vector_exp().unwrap();
    let bound = if own { 1.5 } else { 4.5 };
    let mut worst: f64 = 0.0;
    for (&x, &g) in xs.iter().zip(&got) {
        let want = x.exp();
        let d = ulps_off(g, want);
        let special = !x.is_finite() || !(-745.0..=709.7).contains(&x) || x == 0.0;
        if special {
            assert_eq!(d, 0.0, "exp({x:e}) = {g:e}, libm {want:e}");
        } else {
            assert!(d <= bound, "exp({x:e}) = {g:e}, libm {want:e}: {d} ulp");
        }
        worst = worst.max(d);
    }
    if own {
        assert!(
            worst > 0.0,
            "never differed from libm: the routine did not run"
        );
    }
    let exact = LlvmOptions {
        exact_math: true,
        ..LlvmOptions::default()
    };
    for (&x, &g) in xs.iter().zip(&bulk(UnaryFn::Exp, &xs, &exact)) {
        assert_eq!(ulps_off(g, x.exp()), 0.0, "exact_math exp({x:e}) = {g:e}");
    }
}

/// A tape with more `exp`s (`sinh`s, `cosh`s) than the inline form takes
/// calls one function per width (`alkahest_vexp_x<w>`, ...) instead: the
/// same bits as the inline form of a one-operation tape.
#[test]
fn many_exps_share_one_function() {
    let own = own_vector_exp().unwrap();
    for (func, name, lo, hi) in [
        (UnaryFn::Exp, "exp", -745.0, 709.7),
        (UnaryFn::Sinh, "sinh", -30.0, 30.0),
        (UnaryFn::Cosh, "cosh", -30.0, 30.0),
    ] {
        common::function_form_matches_inline(func, name, own, |i| {
            uniform(1001, lo, hi, 10 + i as u64)
        });
    }
}

/// `sinh` and `cosh` (built from `exp`'s parts where the host has AVX-512):
/// near libm (both within 1.4 ulp of the true value measured, glibc's
/// within 2; libmvec's within 4), libm's bits at the special values and
/// where the results overflow, and libm's bits everywhere under
/// `exact_math`.
#[test]
fn sinh_and_cosh_near_libm_with_its_special_values() {
    let mut xs = uniform(4096, -5.0, 5.0, 20);
    xs.extend(uniform(2048, -1.2, 1.2, 21)); // sinh's polynomial and its edge
    xs.extend(uniform(2048, -30.0, 30.0, 22)); // the E/2 edge at 20
    xs.extend(uniform(1024, 700.0, 710.4, 23)); // past exp's overflow
    xs.extend(uniform(512, -1e-5, 1e-5, 24));
    xs.extend([
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1.0,
        -1.0,
        20.0,
        710.47,
        710.48,
        -710.48,
        1e300,
        5e-324,
        -1e-310,
    ]);
    let own = own_vector_exp().unwrap();
    let bound = if own { 4.0 } else { 6.0 };
    for f in [UnaryFn::Sinh, UnaryFn::Cosh] {
        let reference = |x: f64| {
            if f == UnaryFn::Sinh {
                x.sinh()
            } else {
                x.cosh()
            }
        };
        let got = bulk(f, &xs, &LlvmOptions::default());
        for (&x, &g) in xs.iter().zip(&got) {
            let want = reference(x);
            let d = ulps_off(g, want);
            if !want.is_finite() || x == 0.0 || x.abs() < 1e-300 {
                assert_eq!(d, 0.0, "{f:?}({x:e}) = {g:e}, libm {want:e}");
            } else {
                assert!(d <= bound, "{f:?}({x:e}) = {g:e}, libm {want:e}: {d} ulp");
            }
        }
        let exact = LlvmOptions {
            exact_math: true,
            ..LlvmOptions::default()
        };
        for (&x, &g) in xs.iter().zip(&bulk(f, &xs, &exact)) {
            assert_eq!(
                ulps_off(g, reference(x)),
                0.0,
                "exact_math {f:?}({x:e}) = {g:e}"
            );
        }
    }
}
