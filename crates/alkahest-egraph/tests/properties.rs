//! Property tests: optimized and unoptimized code agree on well-conditioned
//! random points (through the interpreter); `Cost::Ops` never increases the
//! tape's op count; deep chains convert without recursion; large inputs stay
//! fast.

mod common;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_egraph::{
    Cost, MathAnalysis, MathGraph, Options, StopReason, add_to_egraph, build_in_pool, free_symbols,
    simplify,
};
use alkahest_interp::Interpreter;
use alkahest_tape::{Evaluator, lower};
use proptest::prelude::*;

/// A random well-conditioned expression over x, y in [1, 2]: sums and
/// products of positive terms, exp/sqrt/log of positive arguments, sin/cos.
#[derive(Clone, Debug)]
enum Gen {
    X,
    Y,
    K(i64),
    Add(Box<Gen>, Box<Gen>),
    Mul(Box<Gen>, Box<Gen>),
    Div(Box<Gen>, Box<Gen>),
    Sq(Box<Gen>),
    Sqrt(Box<Gen>),
    Exp(Box<Gen>),
    Log(Box<Gen>),
    Sin(Box<Gen>),
    Cos(Box<Gen>),
    /// A function from [`Func::numeric`] (by index) of the given arguments.
    Fn(usize, Vec<Gen>),
    /// `where(cmp(a, k), b, c)`: comparison (by index) of `a` against the
    /// constant `k`.
    Where(usize, Box<Gen>, i64, Box<Gen>, Box<Gen>),
}

fn gen_strategy() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![Just(Gen::X), Just(Gen::Y), (1i64..5).prop_map(Gen::K)];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Gen::Add(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Gen::Mul(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Gen::Div(a.into(), b.into())),
            inner.clone().prop_map(|a| Gen::Sq(a.into())),
            inner.clone().prop_map(|a| Gen::Sqrt(a.into())),
            inner.clone().prop_map(|a| Gen::Exp(a.into())),
            inner.clone().prop_map(|a| Gen::Log(a.into())),
            inner.clone().prop_map(|a| Gen::Sin(a.into())),
            inner.clone().prop_map(|a| Gen::Cos(a.into())),
            (any::<usize>(), proptest::collection::vec(inner.clone(), 3))
                .prop_map(|(f, args)| Gen::Fn(f, args)),
            (any::<usize>(), inner.clone(), 2i64..6, inner.clone(), inner)
                .prop_map(|(k, a, c, b, d)| Gen::Where(k, a.into(), c, b.into(), d.into())),
        ]
    })
}

/// Build into the pool; every subterm is positive on [1, 2]^2 (sin/cos are
/// shifted by 2), so nothing cancels and nothing leaves its domain.
///
/// `Fn` maps its (positive) argument `a` number `i` into
/// (0.3 + i/2, 0.7 + i/2) as `0.3 + i/2 + 0.4/(1 + a)`, where every numeric
/// function is well-conditioned (`acosh` is NaN there, on both sides; the
/// first argument of `fmod`/`Mod` stays below the second, away from their
/// jumps), and returns `exp(f(...))`, which is positive again. `Where` compares a positive subterm with a small
/// integer: the two sides agree unless a sample lands within rounding of
/// the threshold.
fn build(pool: &ExprPool, g: &Gen) -> ExprId {
    let two = || pool.integer(2).unwrap();
    match g {
        Gen::X => pool.symbol("x").unwrap(),
        Gen::Y => pool.symbol("y").unwrap(),
        Gen::K(k) => pool.integer(*k).unwrap(),
        Gen::Add(a, b) => pool.add(&[build(pool, a), build(pool, b)]).unwrap(),
        Gen::Mul(a, b) => pool.mul(&[build(pool, a), build(pool, b)]).unwrap(),
        Gen::Div(a, b) => pool.div(build(pool, a), build(pool, b)).unwrap(),
        Gen::Sq(a) => pool.pow(build(pool, a), two()).unwrap(),
        Gen::Sqrt(a) => pool.func(Func::Sqrt, &[build(pool, a)]).unwrap(),
        Gen::Exp(a) => {
            // exp(1/a) stays small.
            let one = pool.integer(1).unwrap();
            let r = pool.div(one, build(pool, a)).unwrap();
            pool.func(Func::Exp, &[r]).unwrap()
        }
        Gen::Log(a) => {
            let s = pool.add(&[build(pool, a), two()]).unwrap();
            pool.func(Func::Log, &[s]).unwrap()
        }
        Gen::Sin(a) | Gen::Cos(a) => {
            let f = if matches!(g, Gen::Sin(_)) {
                Func::Sin
            } else {
                Func::Cos
            };
            let s = pool.func(f, &[build(pool, a)]).unwrap();
            pool.add(&[s, two()]).unwrap()
        }
        Gen::Fn(k, args) => {
            let numeric: Vec<Func> = Func::numeric().collect();
            let f = numeric[k % numeric.len()];
            let width = pool.rational(2, 5).unwrap();
            let one = pool.integer(1).unwrap();
            let args: Vec<ExprId> = args[..f.arity()]
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let lo = pool.rational(3 + 5 * i as i64, 10).unwrap();
                    let d = pool.add(&[one, build(pool, a)]).unwrap();
                    let q = pool.div(width, d).unwrap();
                    pool.add(&[lo, q]).unwrap()
                })
                .collect();
            let v = pool.func(f, &args).unwrap();
            pool.func(Func::Exp, &[v]).unwrap()
        }
        Gen::Where(k, a, c, b, d) => {
            let cmp = [Func::Lt, Func::Le, Func::Gt, Func::Ge][k % 4];
            let kc = pool.integer(*c).unwrap();
            let cond = pool.func(cmp, &[build(pool, a), kc]).unwrap();
            let cond = if k % 5 == 4 {
                pool.func(Func::Not, &[cond]).unwrap()
            } else {
                cond
            };
            pool.select(cond, build(pool, b), build(pool, d)).unwrap()
        }
    }
}

fn eval(pool: &ExprPool, e: ExprId, vars: &[ExprId], pts: &[(f64, f64)]) -> Vec<f64> {
    let it = Interpreter::new(&lower(pool, e, vars).unwrap());
    pts.iter()
        .map(|&(x, y)| it.eval_scalar(&[x, y][..vars.len()]))
        .collect()
}

fn check_agree(cost: Cost, g: &Gen) -> Result<(), TestCaseError> {
    let pool = ExprPool::new();
    let e = build(&pool, g);
    let (x, y) = (pool.symbol("x").unwrap(), pool.symbol("y").unwrap());
    let opts = Options::new(cost)
        .with_range("x", 1.0, 2.0)
        .with_range("y", 1.0, 2.0)
        .with_samples(32)
        .with_time_limit(std::time::Duration::from_millis(50));
    let r = simplify(&pool, e, &opts).unwrap();
    let vars = [x, y];
    let pts: Vec<(f64, f64)> = (0..16)
        .map(|i| (1.0 + i as f64 / 16.0, 2.0 - i as f64 / 20.0))
        .collect();
    let (a, b) = (
        eval(&pool, e, &vars, &pts),
        eval(&pool, r.expr, &vars, &pts),
    );
    for (p, (u, v)) in pts.iter().zip(a.iter().zip(&b)) {
        // Well-conditioned: rounding differences stay tiny relative to the value.
        let tol = 1e-9 * u.abs().max(1.0);
        prop_assert!(
            (u - v).abs() <= tol || (u.is_nan() && v.is_nan()),
            "{} vs {} at {:?}: {} vs {}",
            alkahest_core::to_string(&pool, e),
            alkahest_core::to_string(&pool, r.expr),
            p,
            u,
            v
        );
    }
    if cost == Cost::Ops {
        let n0 = lower(&pool, e, &vars).unwrap().n_compute();
        let n1 = lower(&pool, r.expr, &vars).unwrap().n_compute();
        prop_assert!(n1 <= n0, "ops {} -> {}", n0, n1);
        prop_assert_eq!(n1, r.ops_after);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn ops_agrees_and_never_adds_ops(g in gen_strategy()) {
        check_agree(Cost::Ops, &g)?;
    }

    #[test]
    fn stability_agrees(g in gen_strategy()) {
        check_agree(Cost::Stability, &g)?;
    }
}

/// `sin(sin(...sin(x)...) + 1)` 100,000 deep.
fn deep_chain(pool: &ExprPool, depth: usize) -> ExprId {
    let mut e = pool.symbol("x").unwrap();
    let one = pool.integer(1).unwrap();
    for _ in 0..depth {
        let s = pool.func(Func::Sin, &[e]).unwrap();
        e = pool.add(&[s, one]).unwrap();
    }
    e
}

#[test]
fn deep_chain_round_trips_without_recursion() {
    let pool = ExprPool::new();
    let e = deep_chain(&pool, 100_000);
    let mut eg = MathGraph::new(MathAnalysis::default());
    let root = add_to_egraph(&pool, e, &mut eg).unwrap();
    eg.rebuild();
    let best: hashbrown::HashMap<_, _> = eg.classes().map(|c| (c.id, c.nodes[0].clone())).collect();
    let back = build_in_pool(&pool, &eg, &best, root).unwrap();
    assert_eq!(back, e, "conversion keeps the canonical form and sharing");
    // simplify on it: too large, reported, not an error.
    let r = simplify(&pool, e, &Options::new(Cost::Ops)).unwrap();
    assert!(matches!(r.stop_reason, StopReason::TooLarge { .. }));
    assert_eq!(r.expr, e);
}

#[test]
fn deep_chain_below_threshold_saturates_and_extracts() {
    let pool = ExprPool::new();
    let e = deep_chain(&pool, 10_000);
    let r = simplify(&pool, e, &Options::new(Cost::Ops)).unwrap();
    assert!(r.ops_after <= r.ops_before);
    let vars = free_symbols(&pool, e).unwrap();
    let a = eval(&pool, e, &vars, &[(0.3, 0.0)]);
    let b = eval(&pool, r.expr, &vars, &[(0.3, 0.0)]);
    assert_eq!(a, b);
}

#[test]
#[cfg_attr(debug_assertions, ignore = "a timing test: run with --release")]
fn twenty_thousand_nodes_well_under_a_second() {
    let pool = ExprPool::new();
    // A wide sum of shared products: ~20k nodes.
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let mut terms = Vec::new();
    let mut prev = x;
    for i in 0..10_000 {
        let k = pool.integer(i % 13 + 2).unwrap();
        let m = pool.mul(&[k, prev, y]).unwrap();
        let s = pool
            .func(if i % 2 == 0 { Func::Sin } else { Func::Cos }, &[m])
            .unwrap();
        terms.push(s);
        prev = s;
    }
    let e = pool.add(&terms).unwrap();
    let n = pool.view().reachable(&[e]).len();
    assert!(n >= 20_000, "{n} nodes");
    let t = std::time::Instant::now();
    let r = simplify(&pool, e, &Options::new(Cost::Ops)).unwrap();
    let el = t.elapsed();
    assert!(r.ops_after <= r.ops_before);
    assert!(el.as_secs_f64() < 1.0, "{el:?}");
}

#[test]
fn limits_are_results_not_errors() {
    let pool = ExprPool::new();
    let e = common::parse(&pool, "(x + y)*(x - y)*(x + 2*y)*(3*x - y)*sin(x*y + x)");
    let r = simplify(&pool, e, &Options::new(Cost::Ops).with_iter_limit(1)).unwrap();
    assert_eq!(r.stop_reason, StopReason::IterLimit(1));
    let r = simplify(&pool, e, &Options::new(Cost::Ops).with_node_limit(10)).unwrap();
    assert!(matches!(r.stop_reason, StopReason::NodeLimit(_)));
    let r = simplify(
        &pool,
        e,
        &Options::new(Cost::Ops).with_time_limit(std::time::Duration::ZERO),
    )
    .unwrap();
    assert!(matches!(r.stop_reason, StopReason::TimeLimit(_)));
}

#[test]
fn patience_stops_a_stalled_saturation() {
    let pool = ExprPool::new();
    // Nothing to gain (an exact product of sums), plenty to commute.
    let e = common::parse(&pool, "(x + y)*(x - y)*(x + 2*y)*(3*x - y)*sin(x*y + x)");
    let patient = Options {
        patience: Some(2),
        ..Options::new(Cost::Ops)
    };
    let r = simplify(&pool, e, &patient).unwrap();
    let StopReason::NoProgress(iters) = r.stop_reason else {
        panic!("{:?}", r.stop_reason)
    };
    assert!((2..12).contains(&iters), "{iters} iterations");
    assert!(r.ops_after <= r.ops_before);
    // A rewrite that lowers the cost is still found: x*y - 3*x -> x*(y - 3).
    let e = common::parse(&pool, "x*y - 3*x");
    let r = simplify(&pool, e, &patient).unwrap();
    assert!(r.ops_after < r.ops_before, "{:?}", r);
}

/// Patience counts from `patience_from`: the iterations before it always
/// run, so an input with nothing to gain (only commuting) stops right after
/// the first counted one.
#[test]
fn patience_counts_from_its_first_iteration() {
    let pool = ExprPool::new();
    let e = common::parse(&pool, "sin(a)*cos(b)*exp(c)*log(d)*tanh(e)");
    for from in [0, 2, 3] {
        let opts = Options {
            patience: Some(1),
            patience_from: from,
            ..Options::new(Cost::Ops)
        };
        let r = simplify(&pool, e, &opts).unwrap();
        // `from + 1` iterations ran; egg also records the one the stop
        // ended before it searched.
        assert!(
            matches!(r.stop_reason, StopReason::NoProgress(n) if n == from + 2),
            "from {from}: {:?}",
            r.stop_reason
        );
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let pool = ExprPool::new();
    let other = ExprPool::new();
    let x = other.symbol("x").unwrap();
    let _ = other.integer(5).unwrap();
    let _ = other.integer(6).unwrap();
    assert!(simplify(&pool, x, &Options::new(Cost::Ops)).is_err());
    let e = common::parse(&pool, "x + 1");
    let bad = Options::new(Cost::Stability).with_range("x", 2.0, 1.0);
    assert!(matches!(
        simplify(&pool, e, &bad),
        Err(alkahest_egraph::Error::BadRange { .. })
    ));
}
