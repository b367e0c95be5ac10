//! `pow(x, y)` in the bulk loop is the crate's own vector routine (a
//! double-double `log`, then `exp`) on lanes with a positive normal `x`, a
//! finite `y` and `|y log x| <= 708`, and libm's `pow` lane by lane
//! elsewhere. Checked against libm: within 2 ulp on the routine's lanes
//! (each within [`alkahest_llvm::POW_ULPS`] of the true value; libm within
//! 1/2), bit for bit on the others, also when both kinds of lane share a
//! vector, and bit for bit everywhere under `exact_math`.

use alkahest_llvm::{LlvmOptions, compile};
use alkahest_tape::{BinaryFn, Evaluator};
use alkahest_testkit::tapes::binary_tape;
use alkahest_testkit::values::{ulps_off, uniform};
use proptest::prelude::*;

fn libm_pow(x: f64, y: f64) -> f64 {
    unsafe extern "C" {
        safe fn pow(x: f64, y: f64) -> f64;
    }
    pow(x, y)
}

/// Whether the routine computes this lane (module docs).
fn in_formula(x: f64, y: f64) -> bool {
    x >= f64::MIN_POSITIVE && x.is_finite() && y.is_finite() && (y * x.ln()).abs() <= 707.0
}

/// The bulk entry's `pow` at every point against libm; returns the largest
/// distance in ulps on the routine's lanes.
fn check(xs: &[f64], ys: &[f64], opts: &LlvmOptions) -> f64 {
    let f = compile(&binary_tape(BinaryFn::Pow), opts).unwrap();
    let mut out = vec![0.0; xs.len()];
    f.eval_columns(&[xs, ys], &mut [&mut out]);
    let mut worst: f64 = 0.0;
    for ((&x, &y), &got) in xs.iter().zip(ys).zip(&out) {
        let want = libm_pow(x, y);
        let d = ulps_off(got, want);
        if opts.exact_math || !in_formula(x, y) {
            // libm's lanes: its bits (NaN payloads aside).
            let near_edge = (y * x.ln()).abs() > 700.0 && (y * x.ln()).abs() < 712.0;
            assert!(
                d == 0.0 || (near_edge && !opts.exact_math && d <= 2.0),
                "pow({x:e}, {y:e}) = {got:e}, libm {want:e}"
            );
        } else {
            assert!(
                d <= 2.0,
                "pow({x:e}, {y:e}) = {got:e}, libm {want:e}: {d} ulp"
            );
            worst = worst.max(d);
        }
    }
    worst
}

/// Typical ranges, huge and tiny bases with large results, bases next to 1
/// and anywhere in `[0.5, 2]` with huge exponents (where an error in
/// `log x` is multiplied by `y`), integer exponents: within 2 ulp of libm,
/// and not bit-identical everywhere (the routine really ran).
#[test]
fn regimes_are_within_two_ulp_of_libm() {
    let n = 4096;
    let mut xs = uniform(n, 0.1, 2.0, 1);
    let mut ys = uniform(n, -2.0, 2.0, 2);
    // Bases with y drawn so that |y log x| is uniform up to 700 (1 stands for
    // any y): where an error in log x is multiplied by y.
    let mut huge_exponents = |bases: Vec<f64>, seed: u64| {
        for (x, t) in bases.into_iter().zip(uniform(n, -700.0, 700.0, seed)) {
            xs.push(x);
            ys.push(if x == 1.0 { t } else { t / x.ln() });
        }
    };
    // x over 2^-1000..2^1000.
    let e = uniform(n, -1000.0, 1000.0, 3);
    huge_exponents(e.into_iter().map(f64::exp2).collect(), 4);
    // x within 1e-3 of 1.
    let d = uniform(n, -1e-3, 1e-3, 5);
    huge_exponents(d.into_iter().map(|d| 1.0 + d).collect(), 6);
    // x over [0.5, 2] (every subinterval of the tables' log): y up to ~5e4
    // away from 1, so log's low part counts.
    huge_exponents(uniform(n, 0.5, 2.0, 9), 10);
    // Integer exponents.
    for (x, k) in uniform(n, 0.5, 2.0, 7)
        .into_iter()
        .zip(uniform(n, -40.0, 40.0, 8))
    {
        xs.push(x);
        ys.push(k.round());
    }
    let worst = check(&xs, &ys, &LlvmOptions::default());
    assert!(
        worst > 0.0,
        "never differed from libm: the routine did not run"
    );
    let at0 = LlvmOptions {
        opt_level: 0,
        ..LlvmOptions::default()
    };
    check(&xs, &ys, &at0);
    let exact = LlvmOptions {
        exact_math: true,
        ..LlvmOptions::default()
    };
    check(&xs, &ys, &exact);
}

/// Exact cases stay exact: powers of two, small integer powers, `x^0`,
/// `1^y`, square roots of squares.
#[test]
fn exact_results_are_exact() {
    let cases: [(f64, f64, f64); 13] = [
        (2.0, 10.0, 1024.0),
        (2.0, -3.0, 0.125),
        (3.0, 4.0, 81.0),
        (10.0, 5.0, 1e5),
        (0.5, 20.0, 1.0 / 1_048_576.0),
        (1.7, 0.0, 1.0),
        (1.7, -0.0, 1.0),
        (1.0, 123.25, 1.0),
        (1.0, -1e300, 1.0),
        (4.0, 0.5, 2.0),
        (1e10, 0.5, 1e5),
        (f64::MIN_POSITIVE, 1.0, f64::MIN_POSITIVE),
        (f64::MAX, 1.0, f64::MAX),
    ];
    let xs: Vec<f64> = cases.iter().map(|c| c.0).collect();
    let ys: Vec<f64> = cases.iter().map(|c| c.1).collect();
    let f = compile(&binary_tape(BinaryFn::Pow), &LlvmOptions::default()).unwrap();
    let mut out = vec![0.0; xs.len()];
    f.eval_columns(&[&xs, &ys], &mut [&mut out]);
    for (&(x, y, want), &got) in cases.iter().zip(&out) {
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "pow({x:e}, {y:e}) = {got:e}, want {want:e}"
        );
    }
}

/// Every special operand (zeros, negatives with integer and non-integer
/// exponents, subnormals, infinities, NaN, overflow and underflow at the
/// formula's edge) next to ordinary lanes in every position of a vector:
/// libm's bits on the special lanes, and the ordinary ones within 2 ulp.
#[test]
fn special_lanes_are_libm_in_every_position() {
    let specials: [(f64, f64); 18] = [
        (0.0, 2.5),
        (-0.0, -3.0),
        (0.0, -1.5),
        (-2.0, 3.0),
        (-2.0, 0.5),
        (-8.0, -1.0 / 3.0),
        (5e-324, 0.5),
        (1e-310, 2.0),
        (f64::INFINITY, -2.0),
        (f64::NEG_INFINITY, 3.0),
        (1.5, f64::INFINITY),
        (0.5, f64::NEG_INFINITY),
        (f64::NAN, 0.0),
        (1.0, f64::NAN),
        (2.0, 1024.0),
        (2.0, -1075.0),
        (10.0, 307.9),
        (0.1, 309.0),
    ];
    for w in [2usize, 4, 8, 16] {
        for &(sx, sy) in &specials {
            for pos in 0..w {
                let mut xs = uniform(w, 0.5, 2.0, (w + pos) as u64);
                let mut ys = uniform(w, -3.0, 3.0, (w * pos + 7) as u64);
                xs[pos] = sx;
                ys[pos] = sy;
                check(&xs, &ys, &LlvmOptions::default());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random bit patterns for both operands, in vectors of 32: libm's bits
    /// wherever the formula does not serve, within 2 ulp where it does.
    #[test]
    fn random_bit_patterns(bits in prop::collection::vec((any::<u64>(), any::<u64>()), 32)) {
        let xs: Vec<f64> = bits.iter().map(|b| f64::from_bits(b.0)).collect();
        // Exponents mostly of moderate size, so the formula runs often.
        let ys: Vec<f64> = bits.iter().map(|b| {
            let y = f64::from_bits(b.1);
            if b.1 % 4 == 0 { y } else { (b.1 >> 11) as f64 / (1u64 << 53) as f64 * 8.0 - 4.0 }
        }).collect();
        check(&xs, &ys, &LlvmOptions::default());
    }
}
