//! `asin` and `acos` in the bulk loop are the crate's own inline routines
//! where the host has AVX-512 (and libmvec's elsewhere). Checked against
//! libm (within half an ulp of the true value): within 2.5 ulp on every
//! lane where the routines run (they are within
//! [`alkahest_llvm::ASIN_ULPS`] of the true value, which
//! `tests/test_language.py` checks against mpmath; libmvec's within 4.5,
//! glibc's bound), libm's special values, and libm's bits everywhere under
//! `exact_math`.

mod common;

use alkahest_llvm::own_vector_exp;
use alkahest_tape::UnaryFn;
use alkahest_testkit::values::uniform;

fn inputs() -> Vec<f64> {
    let mut xs = uniform(8192, -1.0, 1.0, 1);
    xs.extend(uniform(2048, 0.49, 0.51, 2)); // the switch of formula at 1/2
    xs.extend(uniform(2048, -0.51, -0.49, 3));
    xs.extend(uniform(1024, 0.999, 1.0, 4));
    xs.extend(uniform(1024, -1.0, -0.999, 5));
    xs.extend(uniform(1024, -1e-6, 1e-6, 6));
    xs.extend([
        0.0,
        -0.0,
        0.5,
        -0.5,
        0.5f64.next_up(),
        (-0.5f64).next_down(),
        1.0,
        -1.0,
        1.0f64.next_down(),
        1.0f64.next_up(),
        -1.5,
        2.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        5e-324,
        -5e-324,
        1e-300,
    ]);
    // An odd length: the masked tail runs the routine too.
    xs.push(0.25);
    xs
}

#[test]
fn near_libm_with_its_special_values() {
    let xs = inputs();
    let own = own_vector_exp().unwrap();
    let bound = if own { 2.5 } else { 4.5 };
    for (f, libm) in [
        (UnaryFn::Asin, f64::asin as fn(f64) -> f64),
        (UnaryFn::Acos, f64::acos),
    ] {
        common::near_libm(f, libm, &xs, own, bound, |x, want| {
            !want.is_finite() || x == 0.0 || x.abs() == 1.0 || x.abs() < 1e-200
        });
    }
}

/// A tape with more `asin`s (`acos`s) than the inline form takes calls one
/// function per width (`alkahest_vasin_x<w>`, ...) instead: the same bits
/// as the inline form of a one-operation tape.
#[test]
fn many_share_one_function() {
    let own = own_vector_exp().unwrap();
    for (func, name) in [(UnaryFn::Asin, "asin"), (UnaryFn::Acos, "acos")] {
        common::function_form_matches_inline(func, name, own, |i| {
            uniform(1001, -1.0, 1.0, 10 + i as u64)
        });
    }
}
