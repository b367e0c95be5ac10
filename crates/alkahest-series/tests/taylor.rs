//! Taylor coefficients by truncated power-series arithmetic: known series,
//! the newer functions, and piecewise functions off and on their jumps.

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_series::taylor_coefficients;

#[test]
fn taylor_coefficients_of_known_functions() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let exp = pool.func(Func::Exp, &[x]).unwrap();
    let c = taylor_coefficients(&pool, exp, x, 0.0, 6).unwrap();
    let mut fact = 1.0;
    for (k, ck) in c.iter().enumerate() {
        if k > 0 {
            fact *= k as f64;
        }
        assert!((ck - 1.0 / fact).abs() < 1e-15, "exp: t{k} = {ck}");
    }
    // sin about pi/2: cos series, t_k = cos^(k)(0)... = 1, 0, -1/2, 0, 1/24
    let sin = pool.func(Func::Sin, &[x]).unwrap();
    let c = taylor_coefficients(&pool, sin, x, std::f64::consts::FRAC_PI_2, 4).unwrap();
    for (got, want) in c.iter().zip([1.0, 0.0, -0.5, 0.0, 1.0 / 24.0]) {
        assert!((got - want).abs() < 1e-15, "{c:?}");
    }
    // a cubic is its own series: (x - 1)-expansion of x^3 = 1 + 3t + 3t^2 + t^3
    let cube = pool.pow(x, pool.integer(3).unwrap()).unwrap();
    let c = taylor_coefficients(&pool, cube, x, 1.0, 5).unwrap();
    assert_eq!(c, vec![1.0, 3.0, 3.0, 1.0, 0.0, 0.0]);
    // log(1 + x) about 0: alternating 1/k
    let l = pool.func(Func::Log1p, &[x]).unwrap();
    let c = taylor_coefficients(&pool, l, x, 0.0, 5).unwrap();
    for (k, ck) in c.iter().enumerate().skip(1) {
        let want = if k % 2 == 1 { 1.0 } else { -1.0 } / k as f64;
        assert!((ck - want).abs() < 1e-15);
    }
}

/// Known coefficients of the newer functions.
#[test]
fn newer_functions_have_known_coefficients() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let t = |f: Func, c: f64| taylor_coefficients(&pool, pool.func(f, &[x]).unwrap(), x, c, 3);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-15);
    let k = std::f64::consts::FRAC_2_SQRT_PI;
    assert!(close(&t(Func::Erf, 0.0).unwrap(), &[0.0, k, 0.0, -k / 3.0]));
    assert!(close(
        &t(Func::Cbrt, 8.0).unwrap(),
        &[2.0, 1.0 / 12.0, -1.0 / 288.0, 5.0 / 20736.0]
    ));
    let l2 = std::f64::consts::LOG2_E;
    assert!(close(
        &t(Func::Log2, 1.0).unwrap(),
        &[0.0, l2, -l2 / 2.0, l2 / 3.0]
    ));
    // gamma and loggamma need polygamma functions: not supported
    for f in [Func::Gamma, Func::Lgamma, Func::Digamma, Func::Trigamma] {
        assert!(matches!(
            t(f, 1.5),
            Err(alkahest_series::Error::Unsupported { .. })
        ));
    }
}

/// Piecewise functions (floor, comparisons, where, sign, fmod, Mod) are
/// constant or follow one branch near a regular point, and have no series
/// where they jump.
#[test]
fn piecewise_functions_have_series_off_their_jumps() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let i = |n: i64| pool.integer(n).unwrap();
    let t = |e: ExprId, c: f64| taylor_coefficients(&pool, e, x, c, 3);
    let floor = pool.func(Func::Floor, &[x]).unwrap();
    assert_eq!(t(floor, 2.5).unwrap(), vec![2.0, 0.0, 0.0, 0.0]);
    assert!(t(floor, 2.0).is_err());
    let sq = pool.pow(x, i(2)).unwrap();
    let w = pool
        .select(pool.func(Func::Lt, &[x, i(1)]).unwrap(), sq, x)
        .unwrap();
    assert_eq!(t(w, 0.5).unwrap(), vec![0.25, 1.0, 1.0, 0.0]);
    assert_eq!(t(w, 3.0).unwrap(), vec![3.0, 1.0, 0.0, 0.0]);
    assert!(t(w, 1.0).is_err());
    let sign = pool.func(Func::Sign, &[x]).unwrap();
    assert_eq!(t(sign, -2.0).unwrap(), vec![-1.0, 0.0, 0.0, 0.0]);
    let fm = pool.func(Func::Fmod, &[x, i(1)]).unwrap();
    assert_eq!(t(fm, 2.25).unwrap(), vec![0.25, 1.0, 0.0, 0.0]);
    let m = pool.func(Func::Mod, &[x, i(-1)]).unwrap();
    assert_eq!(t(m, 2.25).unwrap(), vec![-0.75, 1.0, 0.0, 0.0]);
    let cs = pool
        .func(Func::Copysign, &[sq, pool.neg(x).unwrap()])
        .unwrap();
    assert_eq!(t(cs, 2.0).unwrap(), vec![-4.0, -4.0, -1.0, 0.0]);
    assert!(t(cs, 0.0).is_err());
}
