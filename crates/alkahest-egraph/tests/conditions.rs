//! Every function, conditions and `where` through the e-graph: conversion
//! round trips, rules that never put a condition where a number is
//! expected, sound analysis facts, values kept by `simplify`, and the MPFR
//! reference of each function.

mod common;

use alkahest_core::{ExprId, ExprPool, Func, Kind};
use alkahest_egraph::lang::Math;
use alkahest_egraph::{
    Cost, MathAnalysis, MathGraph, Options, Samples, accuracy::reference_values, add_to_egraph,
    build_in_pool, error_bits, free_symbols, rules, simplify,
};
use alkahest_interp::Interpreter;
use alkahest_tape::{Evaluator, lower};
use alkahest_testkit::programs;
use egg::{AstDepth, AstSize, CostFunction, Extractor, Id, Language, Runner, Symbol};
use hashbrown::HashMap;
use proptest::prelude::*;

/// One application of every function on symbol arguments (conditions where
/// conditions are expected).
fn every_function(pool: &ExprPool) -> Vec<(Func, ExprId)> {
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let z = pool.symbol("z").unwrap();
    let lt = pool.func(Func::Lt, &[x, y]).unwrap();
    let ge = pool.func(Func::Ge, &[y, z]).unwrap();
    Func::ALL
        .into_iter()
        .map(|f| {
            let args: Vec<ExprId> = f
                .info()
                .args
                .iter()
                .zip([(x, lt), (y, ge), (z, lt)])
                .map(|(k, (num, cond))| match k {
                    Kind::Number => num,
                    Kind::Bool => cond,
                })
                .collect();
            (f, pool.func(f, &args).unwrap())
        })
        .collect()
}

/// The e-graph's own node for every class (no rules ran: one per class).
fn identity(eg: &MathGraph) -> HashMap<Id, Math> {
    eg.classes().map(|c| (c.id, c.nodes[0].clone())).collect()
}

/// Extraction with one of egg's cost functions, as a class -> node map.
fn extract_with<CF: CostFunction<Math>>(eg: &MathGraph, cf: CF) -> HashMap<Id, Math> {
    let ex = Extractor::new(eg, cf);
    eg.classes()
        .map(|c| (c.id, ex.find_best_node(c.id).clone()))
        .collect()
}

#[test]
fn every_function_round_trips_through_the_egraph() {
    let pool = ExprPool::new();
    for (f, e) in every_function(&pool) {
        let mut eg = MathGraph::new(MathAnalysis::default());
        let root = add_to_egraph(&pool, e, &mut eg).unwrap();
        eg.rebuild();
        let node = &eg[root].nodes[0];
        assert_eq!(node.func(), Some(f), "{f:?} -> {node:?}");
        assert_eq!(node.returns_bool(), f.returns_bool());
        let back = build_in_pool(&pool, &eg, &identity(&eg), root).unwrap();
        assert_eq!(back, e, "{f:?}");
        // The node's text form parses back to the same node.
        let text = eg.id_to_expr(root).to_string();
        let parsed: egg::RecExpr<Math> = text.parse().unwrap();
        assert_eq!(parsed.as_ref().last().unwrap().func(), Some(f), "{text}");
    }
    // A piecewise of every numeric function, under functions again.
    let apps = every_function(&pool);
    let conds: Vec<ExprId> = apps
        .iter()
        .filter(|(f, _)| f.returns_bool())
        .map(|p| p.1)
        .collect();
    let pieces: Vec<(ExprId, ExprId)> = apps
        .iter()
        .filter(|(f, _)| !f.returns_bool())
        .zip(conds.iter().cycle())
        .map(|(&(_, v), &c)| (v, c))
        .collect();
    let x = pool.symbol("x").unwrap();
    let pw = pool.piecewise(&pieces, Some(x)).unwrap();
    let e = pool.func(Func::Mod, &[pw, x]).unwrap();
    let mut eg = MathGraph::new(MathAnalysis::default());
    let root = add_to_egraph(&pool, e, &mut eg).unwrap();
    eg.rebuild();
    assert_eq!(build_in_pool(&pool, &eg, &identity(&eg), root).unwrap(), e);
}

/// The kind of an e-class's value, from any of its nodes.
fn class_kind(eg: &MathGraph, id: Id) -> Kind {
    if eg[id].nodes[0].returns_bool() {
        Kind::Bool
    } else {
        Kind::Number
    }
}

/// No class mixes conditions and numbers, and every node's operands are of
/// the kinds its function expects.
fn assert_kinds(eg: &MathGraph) -> Result<(), TestCaseError> {
    for c in eg.classes() {
        let k = class_kind(eg, c.id);
        for n in c.iter() {
            prop_assert_eq!(
                n.returns_bool(),
                k == Kind::Bool,
                "class {} mixes kinds: {:?}",
                c.id,
                c.nodes
            );
            let want: Vec<Kind> = match n.func() {
                Some(f) => f.info().args.to_vec(),
                None => vec![Kind::Number; n.children().len()],
            };
            for (&ch, w) in n.children().iter().zip(want) {
                prop_assert_eq!(
                    class_kind(eg, ch),
                    w,
                    "{:?} has an operand of the wrong kind",
                    n
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Random DAGs of every numeric function and `where` over conditions:
    /// saturation keeps kinds apart, and every extraction (egg's and the
    /// crate's own, through `simplify`) builds in the pool, a number.
    #[test]
    fn random_dags_keep_conditions_apart(
        prog in programs(1..=40),
    ) {
        let (pool, vars) = alkahest_testkit::exprs::pool(3);
        let ids = prog.nodes(&pool, &vars);
        let e = *ids.last().unwrap();
        let mut a = MathAnalysis::default();
        a.ranges.insert(Symbol::from("x"), (0.5, 2.0));
        let mut eg = MathGraph::new(a);
        let root = add_to_egraph(&pool, e, &mut eg).unwrap();
        eg.rebuild();
        assert_kinds(&eg)?;
        let runner = Runner::default()
            .with_egraph(eg)
            .with_iter_limit(6)
            .with_node_limit(5_000)
            .with_time_limit(std::time::Duration::from_millis(500))
            .run(&rules::all());
        let eg = runner.egraph;
        assert_kinds(&eg)?;
        for best in [extract_with(&eg, AstSize), extract_with(&eg, AstDepth)] {
            let out = build_in_pool(&pool, &eg, &best, root);
            prop_assert!(out.is_ok(), "{:?}", out);
            prop_assert!(!pool.is_condition(out.unwrap()));
        }
        for cost in [Cost::Ops, Cost::Stability] {
            let opts = Options::new(cost)
                .with_range("x", 0.5, 2.0)
                .with_samples(16)
                .with_time_limit(std::time::Duration::from_millis(100));
            let r = simplify(&pool, e, &opts).unwrap();
            prop_assert!(!pool.is_condition(r.expr));
            let vars = free_symbols(&pool, e).unwrap();
            prop_assert!(lower(&pool, r.expr, &vars).is_ok());
            prop_assert!(r.ops_after <= r.ops_before || cost == Cost::Stability);
        }
    }

    /// The analysis facts of a random DAG (with declared ranges) hold for
    /// its real values (the MPFR reference, which like the analysis takes
    /// rational constants exactly): every value lies in the class interval,
    /// and a folded constant is the value. Conditions' truth values show
    /// through `where`, which takes the facts of the branch it claims.
    #[test]
    fn analysis_facts_hold_at_sample_points(
        prog in programs(1..=30),
        seed in any::<u64>(),
    ) {
        let (pool, vars) = alkahest_testkit::exprs::pool(3);
        let ids = prog.nodes(&pool, &vars);
        let ranges = [("x", 0.5, 2.0), ("y", -3.0, -1.0), ("z", -1.0, 4.0)];
        let mut a = MathAnalysis::default();
        for (v, lo, hi) in ranges {
            a.ranges.insert(Symbol::from(v), (lo, hi));
        }
        let mut eg = MathGraph::new(a);
        let syms: Vec<ExprId> = ["x", "y", "z"].iter().map(|s| pool.symbol(s).unwrap()).collect();
        let roots: Vec<(ExprId, Id)> = ids
            .iter()
            .map(|&e| (e, add_to_egraph(&pool, e, &mut eg).unwrap()))
            .collect();
        eg.rebuild();
        let opt_ranges: Vec<Option<(f64, f64)>> = ranges.iter().map(|r| Some((r.1, r.2))).collect();
        let samples = Samples::new(&opt_ranges, 12, seed).unwrap();
        for (e, root) in roots {
            let facts = &eg[eg.find(root)].data;
            let reference = reference_values(&pool, e, &syms, &samples).unwrap();
            for (i, v) in reference.iter().enumerate() {
                let Some(v) = *v else { continue };
                let p: Vec<f64> = samples.columns.iter().map(|c| c[i]).collect();
                prop_assert!(
                    facts.lo <= v && v <= facts.hi,
                    "{} = {} at {:?} outside [{}, {}]",
                    alkahest_core::to_string(&pool, e), v, p, facts.lo, facts.hi
                );
                if let Some(c) = &facts.constant {
                    let k = c.to_f64();
                    prop_assert!(
                        v == k,
                        "{} = {} folded to {}", alkahest_core::to_string(&pool, e), v, k
                    );
                }
            }
        }
    }
}

/// Points in (0.3, 0.9)^3, away from simple fractions.
fn points() -> Vec<[f64; 3]> {
    (0..24)
        .map(|i| {
            let t = i as f64;
            [
                0.3 + (0.618_033_988_7 * (t + 1.0)).fract() * 0.6,
                0.3 + (0.414_213_562_3 * (t + 2.0)).fract() * 0.6,
                0.3 + (0.732_050_807_5 * (t + 3.0)).fract() * 0.6,
            ]
        })
        .collect()
}

/// Expressions that use every function (conditions and `where` included),
/// each with something for the rules to do.
const EXPRS: &[&str] = &[
    "asinh(x*y + x*z) * cbrt(x*y - x*z)",
    "acosh(2 + x*x) + atanh(x/(x + 1))",
    "exp2(x + y) * exp2(x - y) + log2(x*y) + log10(x*y + x)",
    "erf(x*y + x) + erfc(x*y + x) - 1",
    "gamma(x + 1)/gamma(x + 2) + loggamma(x*y + x)",
    "digamma(x*y + x*z) + trigamma(x*y + x*z) * digamma(2*x - x)",
    "floor(3*x*y + 3*x) + ceiling(7*y - 2*y)",
    "sign(x - y) * (x*y + x*z) + sign(x*x)",
    "copysign(x*y + x*z, y - x) + fmod(x*y + x, z + 1) + Mod(x - 2*y, z)",
    "Min(x, y) + Max(x*y, z) + hypot(x, y) + atan2(y, x) + fma(x, y, z)",
    "sin(x)*cos(y) + tan(z) + asin(x) + acos(y) + atan(z) + sinh(x) + cosh(y) + tanh(z)",
    "exp(x) + log(y) + sqrt(z) + abs(x - y) + log1p(x) + expm1(y)",
    "where(Lt(x, y), x*y + x*z, exp(x)*exp(y))",
    "where(And(Gt(x, 0.5), Le(y, 0.7)), sin(x)**2 + cos(x)**2, x*y - y*x + z)",
    "where(Not(Eq(x, y)), log(exp(x)), sqrt(x*x))",
    "where(Or(Ge(x*y, 0.25), Ne(x, z)), 1/(x*y + x), 1/x)",
    "where(Lt(x, 2), x*y + x*z, log(x - 5))",
    "where(Gt(x + y, 3), log(x - 5), x*y + x*z) + where(Le(z, x), z, x)",
    "log(1 + where(Lt(x, y), exp(x) - 1, expm1(y)))",
];

fn eval(pool: &ExprPool, e: ExprId, syms: &[ExprId]) -> Vec<f64> {
    let it = Interpreter::new(&lower(pool, e, syms).unwrap());
    points().iter().map(|p| it.eval_scalar(p)).collect()
}

#[test]
fn simplify_keeps_values_of_every_function_and_where() {
    let mut covered: hashbrown::HashSet<Func> = hashbrown::HashSet::new();
    for src in EXPRS {
        let pool = ExprPool::new();
        let e = common::parse(&pool, src);
        let syms: Vec<ExprId> = ["x", "y", "z"]
            .iter()
            .map(|s| pool.symbol(s).unwrap())
            .collect();
        {
            let v = pool.view();
            for id in v.reachable(&[e]) {
                if let alkahest_core::Node::Func(f, _) = v.node(id) {
                    covered.insert(*f);
                }
            }
        }
        let before = eval(&pool, e, &syms);
        let speed = Options {
            patience: Some(3),
            ..Options::new(Cost::Ops)
        };
        let ranged = |o: Options| {
            o.with_range("x", 0.3, 0.9)
                .with_range("y", 0.3, 0.9)
                .with_range("z", 0.3, 0.9)
        };
        for opts in [
            speed.clone(),
            ranged(speed.clone()),
            Options::new(Cost::Stability),
            ranged(Options::new(Cost::Stability)),
        ] {
            let r = simplify(&pool, e, &opts).unwrap();
            let after = eval(&pool, r.expr, &syms);
            for (i, (u, v)) in before.iter().zip(&after).enumerate() {
                assert!(
                    (u - v).abs() <= 1e-9 * u.abs().max(1.0) || (u.is_nan() && v.is_nan()),
                    "{src} -> {} ({:?}) at {:?}: {u} vs {v}",
                    alkahest_core::to_string(&pool, r.expr),
                    opts.cost,
                    points()[i]
                );
            }
            if opts.cost == Cost::Ops {
                assert!(r.ops_after <= r.ops_before, "{src}");
            }
        }
    }
    let missing: Vec<Func> = Func::ALL
        .into_iter()
        .filter(|f| !covered.contains(f))
        .collect();
    assert!(missing.is_empty(), "not covered: {missing:?}");
}

#[test]
fn decided_conditions_drop_the_branch_not_taken() {
    let pool = ExprPool::new();
    let opts = Options::new(Cost::Ops)
        .with_range("x", 0.3, 0.9)
        .with_range("y", 0.3, 0.9)
        .with_range("z", 0.3, 0.9);
    // x < 2 always holds on [0.3, 0.9]: the log branch (NaN there) goes.
    let e = common::parse(&pool, "where(Lt(x, 2), x*y + x*z, log(x - 5))");
    let r = simplify(&pool, e, &opts).unwrap();
    assert_eq!(alkahest_core::to_string(&pool, r.expr), "x*(y + z)");
    let e = common::parse(&pool, "where(Not(Ge(x + y, 3)), y, log(x - 5))");
    assert_eq!(
        simplify(&pool, e, &opts).unwrap().expr,
        pool.symbol("y").unwrap()
    );
    // Without a range nothing is decided.
    let e = common::parse(&pool, "where(Lt(x, 2), y, z)");
    assert_eq!(
        simplify(&pool, e, &Options::new(Cost::Ops)).unwrap().expr,
        e
    );
    // A condition is not a number: simplify refuses it as a root.
    let c = common::parse(&pool, "Lt(x, 2)");
    assert!(simplify(&pool, c, &opts).is_err());
}

/// The MPFR reference of every numeric function (and of conditions and
/// `where`) agrees with the interpreter's libm to within its documented
/// error: a wrong reference would show as tens of bits.
#[test]
fn reference_of_every_function_matches_libm() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let z = pool.symbol("z").unwrap();
    for f in Func::numeric() {
        let xr = match f {
            Func::Asin | Func::Acos | Func::Atanh => (-0.9, 0.9),
            Func::Acosh => (1.1, 100.0),
            Func::Log | Func::Log2 | Func::Log10 | Func::Sqrt => (0.01, 100.0),
            Func::Log1p => (-0.5, 10.0),
            Func::Gamma => (0.1, 20.0),
            // Away from the zeros at 1 and 2, where lgamma's error is relative
            // to a tiny value.
            Func::Lgamma => (3.0, 50.0),
            // Positive arguments: on the negative axis digamma's error is
            // relative to the reflection's terms, not to the value.
            Func::Digamma | Func::Trigamma => (0.05, 30.0),
            Func::Fmod | Func::Mod => (-50.0, 50.0),
            _ => (-3.0, 3.0),
        };
        let e = pool.func(f, &[x, y, z][..f.arity()]).unwrap();
        let vars = free_symbols(&pool, e).unwrap();
        let ranges: Vec<Option<(f64, f64)>> = vars
            .iter()
            .map(|&v| Some(if v == x { xr } else { (0.5, 2.0) }))
            .collect();
        let s = Samples::new(&ranges, 64, 7).unwrap();
        let bits = error_bits(&pool, e, &vars, &s).unwrap();
        let limit = match f {
            Func::Gamma => 4.0,
            Func::Lgamma | Func::Erfc => 2.5,
            _ => 1.6,
        };
        assert!(bits <= limit, "{f:?}: {bits} bits");
    }
    for src in [
        "where(Lt(x, 1), 2*x, 3*x)",
        "where(And(Gt(x, 0), Le(y, 1)), x + y, x - y)",
        "where(Or(Eq(x, y), Ne(y, 1)), x*y, y)",
        "where(Not(Ge(x, 0.5)), exp(x), log(x))",
        "sign(x - 1) + copysign(y, x - 1)",
        // On [7, 8] the branch not taken is beyond 2^2200 (the reference's
        // limit): the samples still count.
        "where(Lt(x, 700), exp(x), exp(exp(x)))",
    ] {
        let e = common::parse(&pool, src);
        let vars = free_symbols(&pool, e).unwrap();
        let r = if src.contains("700") {
            (7.0, 8.0)
        } else {
            (-2.0, 2.0)
        };
        let ranges: Vec<Option<(f64, f64)>> = vars.iter().map(|_| Some(r)).collect();
        let s = Samples::new(&ranges, 64, 11).unwrap();
        let bits = error_bits(&pool, e, &vars, &s).unwrap();
        assert!(bits <= 1.0, "{src}: {bits} bits");
    }
}
