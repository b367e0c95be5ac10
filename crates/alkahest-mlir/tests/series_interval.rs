//! `alkahest.series_taylor` and `alkahest.interval_eval` through the
//! ExecutionEngine, checked against the interpreter (the series'
//! coefficients themselves are tested in `alkahest-series`).

mod common;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_mlir::{Ball, compile_interval, compile_series};
use alkahest_tape::Evaluator;
use proptest::prelude::*;

/// Functions of one variable with every supported elementary function.
fn smooth_functions(pool: &ExprPool, x: ExprId) -> Vec<ExprId> {
    let i = |n: i64| pool.integer(n).unwrap();
    let mut v: Vec<ExprId> = [
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Asin,
        Func::Acos,
        Func::Atan,
        Func::Sinh,
        Func::Cosh,
        Func::Tanh,
        Func::Exp,
        Func::Log1p,
        Func::Expm1,
    ]
    .into_iter()
    .map(|f| pool.func(f, &[x]).unwrap())
    .collect();
    let shifted = pool.add(&[x, i(2)]).unwrap();
    v.push(pool.func(Func::Log, &[shifted]).unwrap());
    v.push(pool.func(Func::Sqrt, &[shifted]).unwrap());
    v.push(pool.pow(shifted, pool.rational(1, 3).unwrap()).unwrap());
    v.push(pool.div(i(1), shifted).unwrap());
    v.push(pool.func(Func::Hypot, &[x, i(1)]).unwrap());
    v.push(pool.func(Func::Atan2, &[x, i(2)]).unwrap());
    v.push(
        pool.mul(&[
            pool.func(Func::Exp, &[x]).unwrap(),
            pool.func(Func::Sin, &[x]).unwrap(),
        ])
        .unwrap(),
    );
    v
}

#[test]
fn compiled_series_converge_to_the_function() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    for f in smooth_functions(&pool, x) {
        let want = common::reference(&pool, f, &[x]);
        let s = compile_series(&pool, f, x, 0.1, 16).unwrap();
        assert_eq!(s.n_inputs(), 1);
        for h in [-0.05, 0.0, 0.02, 0.05] {
            let (g, w) = (s.eval_scalar(&[0.1 + h]), want.eval_scalar(&[0.1 + h]));
            // |h| <= 0.05 and order 16: truncation far below 1e-12 for
            // these functions (radius of convergence >= 1 around 0.1)
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{}: at {}: series {g} function {w}",
                alkahest_core::to_string(&pool, f),
                0.1 + h
            );
        }
        // at the center the series is f(center) itself
        assert!(common::close(
            s.eval_scalar(&[0.1]),
            want.eval_scalar(&[0.1])
        ));
    }
}

/// The newer functions: compiled Taylor series that converge to the
/// function (about a center inside each one's domain).
#[test]
fn newer_functions_have_taylor_series() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    for (f, center) in [
        (Func::Asinh, 0.1),
        (Func::Atanh, 0.1),
        (Func::Erf, 0.1),
        (Func::Erfc, 0.1),
        (Func::Exp2, 0.1),
        (Func::Acosh, 2.0),
        (Func::Cbrt, 2.0),
        (Func::Log2, 2.0),
        (Func::Log10, 2.0),
    ] {
        let e = pool.func(f, &[x]).unwrap();
        let want = common::reference(&pool, e, &[x]);
        let s = compile_series(&pool, e, x, center, 16).unwrap();
        for h in [-0.05, 0.0, 0.03, 0.05] {
            let (g, w) = (
                s.eval_scalar(&[center + h]),
                want.eval_scalar(&[center + h]),
            );
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{f:?} at {}: series {g} function {w}",
                center + h
            );
        }
    }
    // the tape crate's gamma, loggamma, digamma and trigamma have no series
    // (alkahest-series' error, as this crate's)
    for f in [Func::Gamma, Func::Lgamma, Func::Digamma, Func::Trigamma] {
        assert!(matches!(
            compile_series(&pool, pool.func(f, &[x]).unwrap(), x, 1.5, 3),
            Err(alkahest_mlir::Error::Unsupported {
                target: "Taylor series",
                ..
            })
        ));
    }
}

/// Ball arithmetic for the newer monotone functions encloses the reference;
/// the non-monotone or discontinuous ones are errors, not wrong balls.
#[test]
fn newer_functions_in_ball_arithmetic() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    for (f, mid, rad) in [
        (Func::Asinh, 0.3, 0.2),
        (Func::Acosh, 2.0, 0.5),
        (Func::Atanh, -0.2, 0.3),
        (Func::Cbrt, -1.0, 0.4),
        (Func::Exp2, 1.5, 0.25),
        (Func::Log2, 3.0, 1.0),
        (Func::Log10, 30.0, 5.0),
        (Func::Erf, 0.2, 0.7),
        (Func::Erfc, 0.2, 0.7),
        (Func::Floor, 1.5, 0.75),
        (Func::Ceil, -1.5, 0.75),
    ] {
        let e = pool.func(f, &[x]).unwrap();
        let want = common::reference(&pool, e, &[x]);
        let ball = compile_interval(&pool, e, &[x]).unwrap();
        let b = ball.eval(&[Ball { mid, rad }]).unwrap();
        assert!(b.rad.is_finite() && b.rad >= 0.0, "{f:?}: {b:?}");
        for k in 0..=16 {
            let p = mid - rad + rad * k as f64 / 8.0;
            let w = want.eval_scalar(&[p]);
            assert!(
                (w - b.mid).abs() <= b.rad,
                "{f:?} at {p}: {w} outside {b:?}"
            );
        }
    }
    // digamma / trigamma: enclosed on positive balls (through the root of
    // digamma at 1.4616 too); a ball that reaches 0 is unbounded.
    for (f, mid, rad) in [
        (Func::Digamma, 1.4616, 0.3),
        (Func::Digamma, 0.05, 0.04),
        (Func::Digamma, 7.0, 4.0),
        (Func::Digamma, 1e6, 1.0),
        (Func::Trigamma, 0.7, 0.5),
        (Func::Trigamma, 12.0, 3.0),
    ] {
        let e = pool.func(f, &[x]).unwrap();
        let want = common::reference(&pool, e, &[x]);
        let ball = compile_interval(&pool, e, &[x]).unwrap();
        let b = ball.eval(&[Ball { mid, rad }]).unwrap();
        assert!(b.rad.is_finite() && b.rad >= 0.0, "{f:?}: {b:?}");
        assert_eq!(b.mid, want.eval_scalar(&[mid]), "{f:?}");
        for k in 0..=16 {
            let p = mid - rad + rad * k as f64 / 8.0;
            let w = want.eval_scalar(&[p]);
            assert!(
                (w - b.mid).abs() <= b.rad,
                "{f:?} at {p}: {w} outside {b:?}"
            );
        }
        // Not a trivially wide ball: within 10x the spread of the values.
        let spread = (want.eval_scalar(&[mid - rad]) - want.eval_scalar(&[mid + rad])).abs();
        assert!(b.rad <= 10.0 * spread, "{f:?}: {b:?} spread {spread}");
        let b = ball
            .eval(&[Ball {
                mid: -0.5,
                rad: 0.1,
            }])
            .unwrap();
        assert_eq!(b.rad, f64::INFINITY, "{f:?}: {b:?}");
    }
    let lt = pool.func(Func::Lt, &[x, y]).unwrap();
    for e in [
        pool.func(Func::Gamma, &[x]).unwrap(),
        pool.func(Func::Lgamma, &[x]).unwrap(),
        pool.func(Func::Copysign, &[x, y]).unwrap(),
        pool.func(Func::Fmod, &[x, y]).unwrap(),
        pool.select(lt, x, y).unwrap(),
    ] {
        assert!(
            matches!(
                compile_interval(&pool, e, &[x, y]),
                Err(alkahest_mlir::Error::Unsupported { .. })
            ),
            "{}",
            alkahest_core::to_string(&pool, e)
        );
    }
}

#[test]
fn interval_examples() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    // x*y on [1.9, 2.1] x [2.9, 3.1] contains [5.51, 6.51]
    let f = compile_interval(&pool, pool.mul(&[x, y]).unwrap(), &[x, y]).unwrap();
    let b = f
        .eval(&[Ball { mid: 2.0, rad: 0.1 }, Ball { mid: 3.0, rad: 0.1 }])
        .unwrap();
    assert_eq!(b.mid, 6.0);
    assert!(
        b.mid - b.rad <= 5.51 && b.mid + b.rad >= 6.51 && b.rad < 0.52,
        "{b:?}"
    );
    // exact points give tight balls that still contain the true value
    let s = compile_interval(&pool, pool.func(Func::Sin, &[x]).unwrap(), &[x]).unwrap();
    let b = s.eval(&[Ball { mid: 1.0, rad: 0.0 }]).unwrap();
    assert!(b.rad > 0.0 && b.rad < 1e-14 && (b.mid - 1.0f64.sin()).abs() <= b.rad);
    // 1/x over a ball containing 0: no finite enclosure
    let r = compile_interval(&pool, pool.div(pool.integer(1).unwrap(), x).unwrap(), &[x]).unwrap();
    let b = r.eval(&[Ball { mid: 0.5, rad: 1.0 }]).unwrap();
    assert!(
        b.rad.is_infinite() || b.rad.is_nan() || b.mid.is_nan(),
        "{b:?}"
    );
    // sqrt over negative numbers: no enclosure either
    let q = compile_interval(&pool, pool.func(Func::Sqrt, &[x]).unwrap(), &[x]).unwrap();
    let b = q.eval(&[Ball { mid: 0.0, rad: 0.5 }]).unwrap();
    assert!(
        b.rad.is_nan() || b.mid.is_nan() || b.rad.is_infinite(),
        "{b:?}"
    );
    // bad arguments are errors
    assert!(f.eval(&[Ball { mid: 1.0, rad: 0.0 }]).is_err());
    assert!(
        f.eval(&[
            Ball {
                mid: 1.0,
                rad: -1.0
            },
            Ball { mid: 1.0, rad: 0.0 }
        ])
        .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Enclosure: for random expressions (no atan2) and random balls, the
    /// interpreter's value at points inside the input balls lies inside
    /// the output ball (or the ball says "unknown": NaN or infinite).
    #[test]
    fn interval_encloses_the_interpreter(
        steps in common::program(8),
        mids in prop::collection::vec(-2.0f64..2.0, 2),
        rads in prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..1e-6, 0.0f64..0.3], 2),
        samples in prop::collection::vec(prop::collection::vec(-1.0f64..=1.0, 2), 8),
    ) {
        let pool = ExprPool::new();
        let vars = [pool.symbol("x").unwrap(), pool.symbol("y").unwrap()];
        let e = steps.build(&pool, &vars);
        let ball = match compile_interval(&pool, e, &vars) {
            Ok(b) => b,
            Err(alkahest_mlir::Error::Unsupported { .. }) => return Ok(()), // atan2
            Err(err) => panic!("{err}"),
        };
        let want = common::reference(&pool, e, &vars);
        let nodes: Vec<_> = pool
            .view()
            .reachable(&[e])
            .into_iter()
            .map(|n| common::reference(&pool, n, &vars))
            .collect();
        let balls = [Ball { mid: mids[0], rad: rads[0] }, Ball { mid: mids[1], rad: rads[1] }];
        let out = ball.eval(&balls).unwrap();
        let unknown = out.mid.is_nan() || out.rad.is_nan() || out.rad.is_infinite();
        if unknown {
            return Ok(());
        }
        prop_assert!(out.rad >= 0.0);
        let mut pts = vec![mids.clone()];
        for s in &samples {
            pts.push(vec![mids[0] + s[0] * rads[0], mids[1] + s[1] * rads[1]]);
        }
        for p in pts {
            let w = want.eval_scalar(&p);
            // The ball encloses the exact value; the interpreter's `w` is
            // itself rounded, in another order (the ball uses Horner form
            // and combined coefficients). Its forward error is at most about
            // n * eps * (largest intermediate magnitude): allow 16x that.
            let biggest = nodes
                .iter()
                .map(|n| n.eval_scalar(&p).abs())
                .filter(|v| v.is_finite())
                .fold(1.0f64, f64::max);
            let slack = 16.0 * nodes.len() as f64 * f64::EPSILON * biggest;
            // (A constant infinity, such as `0.0**-1`, is the ball
            // {inf, 0}: equal, though `inf - inf` is NaN.)
            prop_assert!(
                w.is_nan() || w == out.mid || (w - out.mid).abs() <= out.rad + slack,
                "{} at {:?}: value {} outside ball {:?} (+ slack {})",
                alkahest_core::to_string(&pool, e), p, w, out, slack
            );
        }
    }
}

/// Outward rounding: on exact (radius 0) inputs, the ball of one rounded
/// operation must contain the exact real result, computed here in exact
/// rational arithmetic, and so have a positive radius whenever the
/// midpoint is inexact.
#[test]
fn balls_contain_the_exact_result_of_rounded_operations() {
    use num_rational::BigRational;
    use num_traits::Signed;
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let ops: Vec<(&str, ExprId)> = vec![
        ("add", pool.add(&[x, y]).unwrap()),
        ("mul", pool.mul(&[x, y]).unwrap()),
        ("div", pool.div(x, y).unwrap()),
    ];
    let exact = |name: &str, a: &BigRational, b: &BigRational| match name {
        "add" => a + b,
        "mul" => a * b,
        _ => a / b,
    };
    for (name, e) in ops {
        let f = compile_interval(&pool, e, &[x, y]).unwrap();
        let mut inexact = 0;
        for p in common::points(2, 200, 7) {
            let (a, b) = (p[0] * 3.7, p[1] + 2.5); // b stays away from 0
            let out = f
                .eval(&[Ball { mid: a, rad: 0.0 }, Ball { mid: b, rad: 0.0 }])
                .unwrap();
            let ra = BigRational::from_float(a).unwrap();
            let rb = BigRational::from_float(b).unwrap();
            let m = BigRational::from_float(out.mid).unwrap();
            let r = BigRational::from_float(out.rad).unwrap();
            let err = (exact(name, &ra, &rb) - m).abs();
            assert!(
                err <= r,
                "{name}({a}, {b}): ball {out:?} misses the exact value"
            );
            if err > BigRational::from_integer(0.into()) {
                inexact += 1;
            }
        }
        assert!(inexact > 50, "{name}: only {inexact} inexact cases");
    }
}

/// A random DAG of `n` well-conditioned steps over x, y (averages,
/// products of values in [-1, 1], sin, cos, tanh, divisions by 1 + b²,
/// exact and float powers), whose enclosure stays finite and tight: large
/// enough that the lowering splits the ball function into segments.
fn large_dag(pool: &ExprPool, n: usize, seed: u64) -> ExprId {
    let mut s = seed;
    let mut draw = |m: usize| {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 33) as usize) % m
    };
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let f = |v: f64| pool.float(v).unwrap();
    let one = pool.integer(1).unwrap();
    let mut nodes = vec![x, y, pool.func(Func::Sin, &[x]).unwrap()];
    for _ in 0..n {
        let a = nodes[nodes.len() - 1 - draw(nodes.len().min(30))];
        let b = nodes[nodes.len() - 1 - draw(nodes.len().min(30))];
        // Every step maps values of magnitude <= 1 to magnitude <= 1.
        let e = match draw(8) {
            0 => pool.mul(&[f(0.5), pool.add(&[a, b]).unwrap()]).unwrap(),
            1 => pool.func(Func::Sin, &[pool.mul(&[a, b]).unwrap()]).unwrap(),
            2 => pool.func(Func::Cos, &[a]).unwrap(),
            3 => pool.func(Func::Tanh, &[pool.sub(a, b).unwrap()]).unwrap(),
            4 => {
                let bb = pool.pow(b, pool.integer(2).unwrap()).unwrap();
                pool.div(a, pool.add(&[one, bb]).unwrap()).unwrap()
            }
            5 => pool
                .pow(pool.func(Func::Cos, &[b]).unwrap(), f(2.0))
                .unwrap(),
            6 => pool.mul(&[f(0.25), a, b]).unwrap(),
            _ => pool
                .func(Func::Sin, &[pool.add(&[a, f(0.125)]).unwrap()])
                .unwrap(),
        };
        nodes.push(e);
    }
    let tail: Vec<ExprId> = nodes[nodes.len() - 16..].to_vec();
    pool.add(&tail).unwrap()
}

/// A 3,000-step DAG (split into segment functions by the ball lowering)
/// still encloses the interpreter's values over its input balls.
#[test]
fn large_interval_encloses_interpreter() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let e = large_dag(&pool, 3000, 11);
    let want = common::reference(&pool, e, &[x, y]);
    let n_ops = alkahest_tape::lower(&pool, e, &[x, y]).unwrap().ops().len();
    assert!(n_ops > 3000, "{n_ops}");
    let f = compile_interval(&pool, e, &[x, y]).unwrap();
    let mut finite = 0;
    for (mx, my, rad) in [
        (0.3, -0.2, 1e-9),
        (0.3, -0.2, 0.0),
        (-0.7, 0.45, 1e-6),
        (1.2, 0.9, 1e-4),
    ] {
        let b = f
            .eval(&[Ball { mid: mx, rad }, Ball { mid: my, rad }])
            .unwrap();
        assert!(b.rad >= 0.0, "{b:?}");
        if !b.rad.is_finite() {
            continue;
        }
        finite += 1;
        for i in -4..=4 {
            for j in -4..=4 {
                let p = [mx + rad * i as f64 / 4.0, my + rad * j as f64 / 4.0];
                let w = want.eval_scalar(&p);
                assert!((w - b.mid).abs() <= b.rad, "at {p:?}: {w} outside {b:?}");
            }
        }
    }
    assert!(finite >= 3, "the enclosures should mostly be finite");
}
