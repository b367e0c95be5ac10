//! End-to-end checks of lowering + interpretation on hand-written cases.

use alkahest_core::{ExprPool, Func, to_string};
use alkahest_interp::Interpreter;
use alkahest_tape::{Evaluator, lower};

fn setup() -> (ExprPool, alkahest_core::ExprId, alkahest_core::ExprId) {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    (p, x, y)
}

#[test]
fn spec_example_scalar_and_batch() {
    let (p, x, y) = setup();
    let two = p.integer(2).unwrap();
    let x2 = p.pow(x, two).unwrap();
    let s = p.func(Func::Sin, &[y]).unwrap();
    let e = p.add(&[x2, s]).unwrap();
    assert_eq!(to_string(&p, e), "x**2 + sin(y)");
    let it = Interpreter::new(&lower(&p, e, &[x, y]).unwrap());
    assert_eq!(it.eval_scalar(&[3.0, 0.0]), 9.0);
    let xs: Vec<f64> = (0..1000).map(|i| i as f64 * 0.01).collect();
    let ys: Vec<f64> = (0..1000).map(|i| i as f64 * -0.02).collect();
    let mut out = vec![0.0; 1000];
    it.eval_columns(&[&xs, &ys], &mut [&mut out]);
    for i in 0..1000 {
        assert_eq!(out[i], xs[i] * xs[i] + ys[i].sin());
    }
}

#[test]
fn ieee_special_values() {
    let (p, x, _) = setup();
    let sq = p.func(Func::Sqrt, &[x]).unwrap();
    let lg = p.func(Func::Log, &[x]).unwrap();
    let one = p.integer(1).unwrap();
    let inv = p.div(one, x).unwrap();
    let f = |e| Interpreter::new(&lower(&p, e, &[x]).unwrap());
    assert!(f(sq).eval_scalar(&[-1.0]).is_nan());
    assert_eq!(f(lg).eval_scalar(&[0.0]), f64::NEG_INFINITY);
    assert_eq!(f(inv).eval_scalar(&[0.0]), f64::INFINITY);
    assert_eq!(f(inv).eval_scalar(&[-0.0]), f64::NEG_INFINITY);
}

#[test]
fn printing_is_python_syntax() {
    let (p, x, y) = setup();
    let m1 = p.integer(-1).unwrap();
    let two = p.integer(2).unwrap();
    let half = p.rational(1, 2).unwrap();
    let cases = [
        (p.sub(x, y).unwrap(), "x - y"),
        (p.div(x, y).unwrap(), "x/y"),
        (p.neg(x).unwrap(), "-x"),
        (p.pow(x, m1).unwrap(), "1/x"),
        (p.mul(&[half, x]).unwrap(), "x/2"),
        (p.pow(x, half).unwrap(), "sqrt(x)"),
        (p.mul(&[two, p.add(&[x, y]).unwrap()]).unwrap(), "2*(x + y)"),
        (p.pow(p.neg(x).unwrap(), two).unwrap(), "(-x)**2"),
        (
            p.add(&[p.integer(3).unwrap(), p.mul(&[m1, x, y]).unwrap()])
                .unwrap(),
            "-x*y + 3",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(to_string(&p, e), want);
    }
}

#[test]
fn deep_chain_builds_prints_evaluates() {
    let (p, x, _) = setup();
    let mut e = x;
    for _ in 0..100_000 {
        e = p.func(Func::Sin, &[e]).unwrap();
    }
    let s = to_string(&p, e);
    assert_eq!(s.len(), 100_000 * 5 + 1);
    let it = Interpreter::new(&lower(&p, e, &[x]).unwrap());
    let mut v = 0.5f64;
    for _ in 0..100_000 {
        v = v.sin();
    }
    assert_eq!(it.eval_scalar(&[0.5]), v);
    assert!(it.n_slots() <= 2);
}

#[test]
fn integer_powers_are_multiplication_chains() {
    let (p, x, _) = setup();
    for n in [-7i64, -2, -1, 2, 3, 5, 10, 17] {
        let e = p.pow(x, p.integer(n).unwrap()).unwrap();
        let tape = lower(&p, e, &[x]).unwrap();
        assert!(
            tape.ops().iter().all(|o| !matches!(
                o,
                alkahest_tape::Op::Binary(alkahest_tape::BinaryFn::Pow, ..)
            )),
            "x**{n} used powf"
        );
        let got = Interpreter::new(&tape).eval_scalar(&[1.1]);
        let want = 1.1f64.powi(n as i32);
        assert!(
            (got - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
            "x**{n}: {got} vs {want}"
        );
    }
}
