//! `exp` (and `sinh`, `cosh`, at the end) in the bulk loop is the crate's
//! own inline routine where the host has AVX-512 (and libmvec's elsewhere). Checked against libm (within half
//! an ulp of the true value): within 1.5 ulp on every lane (the routine is
//! within [`alkahest_llvm::EXP_ULPS`] of the true value; libmvec's within
//! 4.5, glibc's bound), libm's bits for the special values and the ends of
//! the range, and libm's bits everywhere under `exact_math`.

mod common;

use alkahest_llvm::own_vector_exp;
use alkahest_tape::UnaryFn;
use alkahest_testkit::values::uniform;

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
    let own = own_vector_exp().unwrap();
    let bound = if own { 1.5 } else { 4.5 };
    common::near_libm(UnaryFn::Exp, f64::exp, &xs, own, bound, |x, _| {
        !x.is_finite() || !(-745.0..=709.7).contains(&x) || x == 0.0
    });
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
/// near libm (both within 1.45 ulp of the true value measured, glibc's
/// within 2; libmvec's within 4), libm's bits at the special values and
/// where the results overflow, libm's bits everywhere under `exact_math`,
/// and where the host has the own routines, a difference from libm
/// somewhere (they ran).
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
    for (f, libm) in [
        (UnaryFn::Sinh, f64::sinh as fn(f64) -> f64),
        (UnaryFn::Cosh, f64::cosh),
    ] {
        common::near_libm(f, libm, &xs, own, bound, |x, want| {
            !want.is_finite() || x == 0.0 || x.abs() < 1e-300
        });
    }
}
