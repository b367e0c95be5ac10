//! Conditionals, the new functions and many outputs, lowered from the pool
//! and run on the interpreter (the reference every backend is held to).

use alkahest_core::{Error as CoreError, ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_tape::{Error, Evaluator, lower, lower_many};

fn f1(p: &ExprPool, f: Func, a: alkahest_core::ExprId) -> alkahest_core::ExprId {
    p.func(f, &[a]).unwrap()
}

#[test]
fn sign_and_mod_follow_numpy_and_python() {
    let p = ExprPool::new();
    let (x, y) = (p.symbol("x").unwrap(), p.symbol("y").unwrap());
    let sign = Interpreter::new(&lower(&p, f1(&p, Func::Sign, x), &[x]).unwrap());
    assert_eq!(sign.eval_scalar(&[3.5]), 1.0);
    assert_eq!(sign.eval_scalar(&[-1e-300]), -1.0);
    assert_eq!(sign.eval_scalar(&[0.0]).to_bits(), 0f64.to_bits());
    assert_eq!(sign.eval_scalar(&[-0.0]).to_bits(), (-0f64).to_bits());
    assert!(sign.eval_scalar(&[f64::NAN]).is_nan());
    let m = p.func(Func::Mod, &[x, y]).unwrap();
    let fm = p.func(Func::Fmod, &[x, y]).unwrap();
    let t = Interpreter::new(&lower_many(&p, &[m, fm], &[x, y]).unwrap());
    for (a, b) in [
        (-1.0, 3.0),
        (1.0, -3.0),
        (7.5, 2.0),
        (-7.5, -2.0),
        (6.0, 3.0),
        (-5.0, f64::INFINITY),
    ] {
        let mut out = [0.0; 2];
        t.eval(&[a, b], &mut out);
        // Python's float % is the reference for Mod.
        let py = a - b * (a / b).floor();
        let want = if b.is_infinite() { f64::INFINITY } else { py };
        assert_eq!(out[0], want, "Mod({a}, {b})");
        assert_eq!(out[1], a % b, "fmod({a}, {b})");
    }
}

#[test]
fn piecewise_and_logic_select_per_point() {
    let p = ExprPool::new();
    let (x, y) = (p.symbol("x").unwrap(), p.symbol("y").unwrap());
    let zero = p.integer(0).unwrap();
    let lt = p.func(Func::Lt, &[x, zero]).unwrap();
    let gt = p.func(Func::Gt, &[y, zero]).unwrap();
    let both = p.func(Func::And, &[lt, gt]).unwrap();
    let either = p.func(Func::Or, &[lt, gt]).unwrap();
    let neither = p.func(Func::Not, &[either]).unwrap();
    let e = p
        .piecewise(
            &[(x, both), (y, either), (p.integer(7).unwrap(), neither)],
            None,
        )
        .unwrap();
    let it = Interpreter::new(&lower(&p, e, &[x, y]).unwrap());
    assert_eq!(it.eval_scalar(&[-1.0, 2.0]), -1.0);
    assert_eq!(it.eval_scalar(&[-1.0, -2.0]), -2.0);
    assert_eq!(it.eval_scalar(&[1.0, 2.0]), 2.0);
    assert_eq!(it.eval_scalar(&[1.0, -2.0]), 7.0);
    // NaN compares false: x < 0 and y > 0 both fail, Not(Or) holds.
    assert_eq!(it.eval_scalar(&[f64::NAN, f64::NAN]), 7.0);
    // The printed form is SymPy's Piecewise.
    let s = alkahest_core::to_string(&p, e);
    assert!(
        s.starts_with("Piecewise((x, And(Lt(x, 0), Gt(y, 0))), "),
        "{s}"
    );
    assert!(s.ends_with("(float('nan'), True))"), "{s}");
}

#[test]
fn conditions_are_not_numbers() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let c = p.func(Func::Le, &[x, x]).unwrap();
    assert!(matches!(
        p.add(&[c, x]),
        Err(CoreError::ConditionAsNumber(_))
    ));
    assert!(matches!(
        p.func(Func::Sin, &[c]),
        Err(CoreError::ConditionAsNumber(_))
    ));
    assert!(matches!(p.pow(x, c), Err(CoreError::ConditionAsNumber(_))));
    assert!(matches!(
        p.select(x, x, x),
        Err(CoreError::NumberAsCondition(_))
    ));
    assert!(matches!(
        p.func(Func::Not, &[x]),
        Err(CoreError::NumberAsCondition(_))
    ));
    assert!(matches!(
        lower(&p, c, &[x]),
        Err(Error::Core(CoreError::ConditionAsNumber(_)))
    ));
    // Equal branches fold.
    assert_eq!(p.select(c, x, x).unwrap(), x);
}

#[test]
fn new_functions_match_known_values() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let cases: [(Func, f64, f64); 13] = [
        (Func::Asinh, 1.0, 0.881_373_587_019_543),
        (Func::Acosh, 2.0, 1.316_957_896_924_816_6),
        (Func::Atanh, 0.5, 0.549_306_144_334_054_9),
        (Func::Cbrt, -27.0, -3.0),
        (Func::Exp2, 10.0, 1024.0),
        (Func::Log2, 1024.0, 10.0),
        (Func::Log10, 1e-5, -5.0),
        (Func::Erf, 0.5, 0.520_499_877_813_046_5),
        (Func::Erfc, 3.0, 2.209_049_699_858_544e-5),
        (Func::Gamma, 5.0, 24.0),
        (Func::Lgamma, 0.5, 0.572_364_942_924_700_1),
        (Func::Floor, -2.5, -3.0),
        (Func::Ceil, -2.5, -2.0),
    ];
    for (f, at, want) in cases {
        let it = Interpreter::new(&lower(&p, f1(&p, f, x), &[x]).unwrap());
        let got = it.eval_scalar(&[at]);
        assert!(
            (got - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
            "{f:?}({at}) = {got}, want {want}"
        );
    }
    let c = p
        .func(Func::Copysign, &[x, p.float(-0.0).unwrap()])
        .unwrap();
    assert_eq!(
        Interpreter::new(&lower(&p, c, &[x]).unwrap()).eval_scalar(&[2.0]),
        -2.0
    );
}

#[test]
fn many_outputs_share_work_and_keep_order() {
    let p = ExprPool::new();
    let (x, y) = (p.symbol("x").unwrap(), p.symbol("y").unwrap());
    let s = f1(&p, Func::Sin, x);
    let a = p.mul(&[s, y]).unwrap();
    let b = p.add(&[s, y]).unwrap();
    let tape = lower_many(&p, &[a, b, s, a], &[x, y]).unwrap();
    let sines = tape
        .ops()
        .iter()
        .filter(|o| matches!(o, alkahest_tape::Op::Unary(..)))
        .count();
    assert_eq!(sines, 1);
    assert_eq!(tape.n_outputs(), 4);
    let it = Interpreter::new(&tape);
    let (xs, ys) = (vec![0.5, 1.0, 2.0], vec![3.0, -1.0, 0.25]);
    let mut cols = vec![vec![0.0; 3]; 4];
    {
        let mut outs: Vec<&mut [f64]> = cols.iter_mut().map(|c| c.as_mut_slice()).collect();
        it.eval_columns(&[&xs, &ys], &mut outs);
    }
    for i in 0..3 {
        let sv = xs[i].sin();
        assert_eq!(
            [cols[0][i], cols[1][i], cols[2][i], cols[3][i]],
            [sv * ys[i], sv + ys[i], sv, sv * ys[i]]
        );
    }
    assert!(lower_many(&p, &[], &[x]).is_err());
}
