//! The tape interpreter agrees with a direct f64 evaluation of the DAG.
//!
//! The direct evaluator walks nodes in id order and applies each node's
//! meaning literally (n-ary sums left to right, `powf` for powers), so it
//! rounds differently from the tape (which turns `a + -b` into `a - b`,
//! `a * b**-1` into `a / b`, and powers into multiplications). Agreement is
//! therefore checked to a relative 1e-9 of the largest intermediate value.

use alkahest_core::{ExprId, ExprPool, Func, Node};
use alkahest_interp::Interpreter;
use alkahest_tape::{Evaluator, lower};
use proptest::prelude::*;

fn direct(p: &ExprPool, root: ExprId, vars: &[ExprId], vals: &[f64]) -> (f64, f64) {
    let v = p.view();
    let mut val: std::collections::HashMap<ExprId, f64> = std::collections::HashMap::new();
    let mut biggest = 1.0f64;
    for id in v.reachable(&[root]) {
        let g = |c: &ExprId| val[c];
        let x = match v.node(id) {
            Node::Symbol(_) => vals[vars.iter().position(|&s| s == id).unwrap()],
            Node::Integer(i) => i.to_string().parse().unwrap(),
            Node::Rational(r) => {
                r.numer().to_string().parse::<f64>().unwrap()
                    / r.denom().to_string().parse::<f64>().unwrap()
            }
            Node::Float(b) => f64::from_bits(*b),
            Node::Add(a) => a.iter().map(g).sum(),
            Node::Mul(a) => a.iter().map(g).product(),
            Node::Pow([b, e]) => g(b).powf(g(e)),
            Node::Func(f, a) => match f {
                Func::Sin => g(&a[0]).sin(),
                Func::Exp => g(&a[0]).exp(),
                Func::Atan2 => g(&a[0]).atan2(g(&a[1])),
                _ => unreachable!("not generated"),
            },
        };
        biggest = biggest.max(x.abs());
        val.insert(id, x);
    }
    (val[&root], biggest)
}

/// A generator of its own, deliberately narrower than
/// `alkahest_testkit::exprs`: `direct` above knows only these operations
/// (sin, exp, atan2, integer powers and a divisor that cannot vanish), so
/// that the comparison needs no special cases.
#[derive(Clone, Debug)]
enum R {
    V(u8),
    C(i8),
    Add(Box<R>, Box<R>),
    Sub(Box<R>, Box<R>),
    Mul(Box<R>, Box<R>),
    Div(Box<R>, Box<R>),
    Pow(Box<R>, i8),
    Sin(Box<R>),
    ExpSin(Box<R>),
    Atan2(Box<R>, Box<R>),
}

fn rec() -> impl Strategy<Value = R> {
    prop_oneof![(0u8..2).prop_map(R::V), (-3i8..4).prop_map(R::C)].prop_recursive(5, 30, 2, |i| {
        prop_oneof![
            (i.clone(), i.clone()).prop_map(|(a, b)| R::Add(a.into(), b.into())),
            (i.clone(), i.clone()).prop_map(|(a, b)| R::Sub(a.into(), b.into())),
            (i.clone(), i.clone()).prop_map(|(a, b)| R::Mul(a.into(), b.into())),
            (i.clone(), i.clone()).prop_map(|(a, b)| R::Div(a.into(), b.into())),
            (i.clone(), 0i8..4).prop_map(|(a, n)| R::Pow(a.into(), n)),
            i.clone().prop_map(|a| R::Sin(a.into())),
            i.clone().prop_map(|a| R::ExpSin(a.into())),
            (i.clone(), i).prop_map(|(a, b)| R::Atan2(a.into(), b.into())),
        ]
    })
}

fn build(p: &ExprPool, r: &R) -> ExprId {
    let b = |r: &R| build(p, r);
    match r {
        R::V(i) => p.symbol(["x", "y"][*i as usize]).unwrap(),
        R::C(c) => p.integer(*c).unwrap(),
        R::Add(a, c) => p.add(&[b(a), b(c)]).unwrap(),
        R::Sub(a, c) => p.sub(b(a), b(c)).unwrap(),
        R::Mul(a, c) => p.mul(&[b(a), b(c)]).unwrap(),
        R::Div(a, c) => {
            // Divide by 2 + c*c, which is never zero.
            let cc = b(c);
            let d = p
                .add(&[p.integer(2).unwrap(), p.mul(&[cc, cc]).unwrap()])
                .unwrap();
            p.div(b(a), d).unwrap()
        }
        R::Pow(a, n) => p.pow(b(a), p.integer(*n).unwrap()).unwrap(),
        R::Sin(a) => p.func(Func::Sin, &[b(a)]).unwrap(),
        R::ExpSin(a) => {
            let s = p.func(Func::Sin, &[b(a)]).unwrap();
            p.func(Func::Exp, &[s]).unwrap()
        }
        R::Atan2(a, c) => p.func(Func::Atan2, &[b(a), b(c)]).unwrap(),
    }
}

proptest! {
    #[test]
    fn tape_matches_direct_evaluation(r in rec(), x in -2.0f64..2.0, y in -2.0f64..2.0) {
        let p = ExprPool::new();
        let e = build(&p, &r);
        let vars = [p.symbol("x").unwrap(), p.symbol("y").unwrap()];
        let it = Interpreter::new(&lower(&p, e, &vars).unwrap());
        let got = it.eval_scalar(&[x, y]);
        let (want, big) = direct(&p, e, &vars, &[x, y]);
        prop_assume!(want.is_finite() && big.is_finite());
        prop_assert!((got - want).abs() <= 1e-9 * big, "{got} vs {want} (scale {big})");
        // Batch evaluation of the same point gives the scalar result exactly.
        let mut out = [0.0; 3];
        it.eval_columns(&[&[x, x, x], &[y, y, y]], &mut [&mut out]);
        prop_assert!(out.iter().all(|o| o.to_bits() == got.to_bits() || (o.is_nan() && got.is_nan())));
    }
}
