//! `cbrt` in the bulk loop is the routine library's own where the host has
//! AVX-512 (`codegen/cbrt.rs`), libmvec's elsewhere. The own routine is
//! checked against the true value through an exact residual: within
//! [`alkahest_llvm::CBRT_ULPS`] over the whole range, exact on exact cubes,
//! libm's values at zeros, infinities and NaN; and libm's bits everywhere
//! under `exact_math`.

use alkahest_llvm::{CBRT_ULPS, LlvmOptions, compile, own_vector_exp};
use alkahest_tape::{Evaluator, UnaryFn};
use alkahest_testkit::tapes::unary_tape;
use alkahest_testkit::values::{Rng, ulps_off, uniform};

/// The bulk entry's `cbrt` of `xs`.
fn bulk(xs: &[f64], opts: &LlvmOptions) -> Vec<f64> {
    let f = compile(&unary_tape(UnaryFn::Cbrt), opts).unwrap();
    let mut out = vec![0.0; xs.len()];
    f.eval_columns(&[xs], &mut [&mut out]);
    out
}

/// How far `y` is from the true `cbrt(x)`, in ulps of `y`, for `|x|` in
/// `[2^-1000, 2^1000]`: `y = t (1 + d)` gives `y^3 - x = 3 x d` to first
/// order, and `y^3 - x` is computed exactly enough (`y^2` and `y^3` as
/// double-doubles by FMA; `y^3`'s high part minus `x` is exact by Sterbenz).
fn ulps_from_true(x: f64, y: f64) -> f64 {
    let (h, l) = (y * y, y.mul_add(y, -(y * y)));
    let p = h * y;
    let pe = h.mul_add(y, -p);
    let diff = (p - x) + (pe + l * y);
    let d = diff / (3.0 * x);
    let ulp = f64::from_bits(y.abs().to_bits() + 1) - y.abs();
    (d * y / ulp).abs()
}

#[test]
fn within_its_bound_exact_on_cubes_with_libm_special_values() {
    let mut xs = uniform(8192, -10.0, 10.0, 1);
    xs.extend(uniform(2048, -1e6, 1e6, 2));
    // Every exponent: random bits, finite ones.
    let mut rng = Rng::new(3);
    while xs.len() < 30_000 {
        let x = f64::from_bits(rng.next_u64());
        if x.is_finite() {
            xs.push(x);
        }
    }
    // Subnormals, exact cubes, and the special values.
    xs.extend([5e-324, -5e-324, 1e-310, -2.5e-320, f64::MIN_POSITIVE]);
    let cubes: Vec<f64> = (1..2000)
        .map(|k| f64::from(k).powi(3))
        .chain((-340..340).map(|j| 8f64.powi(j)))
        .collect();
    xs.extend(cubes.iter().flat_map(|&c| [c, -c]));
    let specials = [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
    xs.extend(specials);
    // An odd length: the masked tail runs the routine too.
    xs.push(0.5);

    let got = bulk(&xs, &LlvmOptions::default());
    let own = own_vector_exp().unwrap();
    let mut worst: f64 = 0.0;
    for (&x, &g) in xs.iter().zip(&got) {
        let libm = x.cbrt();
        if !x.is_finite() || x == 0.0 {
            assert!(
                g.to_bits() == libm.to_bits() || (x.is_nan() && g.is_nan()),
                "cbrt({x:e}) = {g:e}, libm {libm:e}"
            );
            continue;
        }
        assert_eq!(
            g.is_sign_negative(),
            x.is_sign_negative(),
            "cbrt({x:e}) = {g:e}"
        );
        if !own {
            // libmvec's: within a few ulp of libm's.
            assert!(
                ulps_off(g, libm) <= 4.0,
                "cbrt({x:e}) = {g:e}, libm {libm:e}"
            );
            continue;
        }
        let a = x.abs();
        if (2f64.powi(-1000)..=2f64.powi(1000)).contains(&a) {
            let d = ulps_from_true(a, g.abs());
            assert!(
                d <= CBRT_ULPS,
                "cbrt({x:e}) = {g:e}: {d} ulp from the true value"
            );
            worst = worst.max(d);
        } else {
            // Subnormal or huge: no exact residual here; libm's is within 1.
            assert!(
                ulps_off(g, libm) <= 1.0,
                "cbrt({x:e}) = {g:e}, libm {libm:e}"
            );
        }
    }
    if own {
        assert!(worst > 0.4, "worst {worst}: the check measured nothing");
        let signed: Vec<f64> = cubes.iter().flat_map(|&c| [c, -c]).collect();
        for (&c, &g) in signed.iter().zip(&bulk(&signed, &LlvmOptions::default())) {
            assert_eq!(g * g * g, c, "cbrt({c:e}) = {g:e}, not exact");
        }
    }

    let exact = LlvmOptions {
        exact_math: true,
        ..LlvmOptions::default()
    };
    for (&x, &g) in xs.iter().zip(&bulk(&xs, &exact)) {
        let libm = x.cbrt();
        assert!(
            g.to_bits() == libm.to_bits() || (x.is_nan() && g.is_nan()),
            "exact_math cbrt({x:e}) = {g:e}, libm {libm:e}"
        );
    }
}
