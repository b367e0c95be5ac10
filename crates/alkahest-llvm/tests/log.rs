//! `log` in the bulk loop is the crate's own inline routine where the host
//! has AVX-512 (and libmvec's elsewhere). Checked against libm (within half
//! an ulp of the true value): within 1.1 ulp on every lane where the
//! routine runs (it is within [`alkahest_llvm::LOG_ULPS`] of the true
//! value, which `tests/test_language.py` checks against mpmath; libmvec's
//! within 4.5, glibc's bound), libm's bits for the special values, and
//! libm's bits everywhere under `exact_math`.

mod common;

use alkahest_llvm::{LlvmOptions, compile, own_vector_log};
use alkahest_tape::{Evaluator, UnaryFn};
use alkahest_testkit::tapes::unary_tape;
use alkahest_testkit::values::{ulps_off, uniform};

/// The bulk entry's `log` of `xs`.
fn bulk(xs: &[f64], opts: &LlvmOptions) -> Vec<f64> {
    let f = compile(&unary_tape(UnaryFn::Log), opts).unwrap();
    let mut out = vec![0.0; xs.len()];
    f.eval_columns(&[xs], &mut [&mut out]);
    out
}

/// Points on a log scale between `lo` and `hi`.
fn log_uniform(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    uniform(n, lo.ln(), hi.ln(), seed)
        .into_iter()
        .map(f64::exp)
        .collect()
}

fn inputs() -> Vec<f64> {
    let mut xs = log_uniform(8192, 1e-300, 1e300, 1);
    xs.extend(uniform(4096, 0.5, 2.0, 2)); // every subinterval of the tables
    xs.extend(uniform(2048, 1.0 - 1e-3, 1.0 + 1e-3, 3)); // next to 1
    xs.extend(log_uniform(1024, 5e-324, 2.2e-308, 4)); // subnormal inputs
    // The subintervals' edges, and the ends of [3/4, 3/2) on either side.
    for j in 0..32 {
        let edge = if j < 16 {
            1.0 + f64::from(j) / 32.0
        } else {
            0.5 + f64::from(j) / 64.0
        };
        for x in [edge, edge.next_down(), edge.next_up()] {
            xs.extend([x, 2.0 * x, 0.5 * x]);
        }
    }
    xs.extend([
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::MIN_POSITIVE,
        f64::MAX,
        5e-324,
        -5e-324,
        -1e300,
    ]);
    // An odd length: the masked tail runs the routine too.
    xs.push(3.0);
    xs
}

#[test]
fn near_libm_with_its_special_values() {
    let xs = inputs();
    let got = bulk(&xs, &LlvmOptions::default());
    let own = own_vector_log().unwrap();
    let bound = if own { 1.1 } else { 4.5 };
    let mut worst: f64 = 0.0;
    for (&x, &g) in xs.iter().zip(&got) {
        let want = x.ln();
        let d = ulps_off(g, want);
        if !want.is_finite() || x == 1.0 {
            assert_eq!(d, 0.0, "log({x:e}) = {g:e}, libm {want:e}");
        } else {
            assert!(d <= bound, "log({x:e}) = {g:e}, libm {want:e}: {d} ulp");
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
    for (&x, &g) in xs.iter().zip(&bulk(&xs, &exact)) {
        assert_eq!(ulps_off(g, x.ln()), 0.0, "exact_math log({x:e}) = {g:e}");
    }
}

/// A tape with more `log`s than the inline form takes calls one function
/// per width (`alkahest_vlog_x<w>`) instead: the same bits as the inline
/// form of a one-operation tape.
#[test]
fn many_logs_share_one_function() {
    let own = own_vector_log().unwrap();
    common::function_form_matches_inline(UnaryFn::Log, "log", own, |i| {
        log_uniform(1001, 1e-5, 1e5, 10 + i as u64)
    });
}
