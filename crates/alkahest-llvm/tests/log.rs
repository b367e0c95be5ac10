//! `log` in the bulk loop is the crate's own inline routine where the host
//! has AVX-512 (and libmvec's elsewhere). Checked against libm (within half
//! an ulp of the true value): within 1.1 ulp on every lane where the
//! routine runs (it is within [`alkahest_llvm::LOG_ULPS`] of the true
//! value, which `tests/test_language.py` checks against mpmath; libmvec's
//! within 4.5, glibc's bound), libm's bits for the special values, and
//! libm's bits everywhere under `exact_math`.

mod common;

use alkahest_llvm::own_vector_log;
use alkahest_tape::UnaryFn;
use alkahest_testkit::values::uniform;

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
    let own = own_vector_log().unwrap();
    let bound = if own { 1.1 } else { 4.5 };
    common::near_libm(UnaryFn::Log, f64::ln, &inputs(), own, bound, |x, want| {
        !want.is_finite() || x == 1.0
    });
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
