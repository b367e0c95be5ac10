//! Hash-consing invariants, canonical forms and concurrent interning.

use std::sync::Arc;

use alkahest_core::{ExprId, ExprPool, Func, Node, to_string};
use proptest::prelude::*;

/// A random expression recipe, built into a pool by `build`.
#[derive(Clone, Debug)]
enum Recipe {
    Var(u8),
    Int(i64),
    Float(f64),
    Add(Box<Recipe>, Box<Recipe>),
    Mul(Box<Recipe>, Box<Recipe>),
    Pow(Box<Recipe>, i8),
    Sin(Box<Recipe>),
    Atan2(Box<Recipe>, Box<Recipe>),
}

fn recipe() -> impl Strategy<Value = Recipe> {
    recipe_with(true)
}

/// Recipes with exact constants only: float constants fold in the order
/// operands meet (IEEE addition and multiplication are not associative),
/// so only exact constants make the canonical form independent of how a
/// sum or product was grouped.
fn exact_recipe() -> impl Strategy<Value = Recipe> {
    recipe_with(false)
}

fn recipe_with(floats: bool) -> impl Strategy<Value = Recipe> {
    let float_weight = if floats { 1 } else { 0 };
    let leaf = prop_oneof![
        1 => (0u8..3).prop_map(Recipe::Var),
        1 => (-4i64..5).prop_map(Recipe::Int),
        float_weight => (-3.0f64..3.0).prop_map(Recipe::Float),
    ];
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Recipe::Add(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Recipe::Mul(a.into(), b.into())),
            (inner.clone(), -3i8..4).prop_map(|(a, n)| Recipe::Pow(a.into(), n)),
            inner.clone().prop_map(|a| Recipe::Sin(a.into())),
            (inner.clone(), inner).prop_map(|(a, b)| Recipe::Atan2(a.into(), b.into())),
        ]
    })
}

fn build(p: &ExprPool, r: &Recipe) -> ExprId {
    match r {
        Recipe::Var(i) => p.symbol(["x", "y", "z"][*i as usize]).unwrap(),
        Recipe::Int(n) => p.integer(*n).unwrap(),
        Recipe::Float(f) => p.float(*f).unwrap(),
        Recipe::Add(a, b) => {
            let (a, b) = (build(p, a), build(p, b));
            p.add(&[a, b]).unwrap()
        }
        Recipe::Mul(a, b) => {
            let (a, b) = (build(p, a), build(p, b));
            p.mul(&[a, b]).unwrap()
        }
        Recipe::Pow(a, n) => {
            let a = build(p, a);
            let n = p.integer(*n).unwrap();
            // 0**-k is left unevaluated (no exact value); that is fine here.
            p.pow(a, n).unwrap()
        }
        Recipe::Sin(a) => {
            let a = build(p, a);
            p.func(Func::Sin, &[a]).unwrap()
        }
        Recipe::Atan2(a, b) => {
            let (a, b) = (build(p, a), build(p, b));
            p.func(Func::Atan2, &[a, b]).unwrap()
        }
    }
}

proptest! {
    /// Building the same recipe twice gives the same id and adds no node.
    #[test]
    fn interning_is_idempotent(r in recipe()) {
        let p = ExprPool::new();
        let a = build(&p, &r);
        let n = p.len();
        let b = build(&p, &r);
        prop_assert_eq!(a, b);
        prop_assert_eq!(p.len(), n);
    }

    /// Structural equality <=> id equality: distinct ids have distinct nodes,
    /// and every node's children precede it.
    #[test]
    fn ids_are_unique_and_topological(rs in proptest::collection::vec(recipe(), 1..8)) {
        let p = ExprPool::new();
        for r in &rs {
            build(&p, r);
        }
        let v = p.view();
        let mut seen = std::collections::HashMap::new();
        for i in 0..v.len() {
            let id = ExprId(i as u32);
            let node = v.node(id).clone();
            prop_assert!(node.children().iter().all(|c| c.0 < id.0));
            prop_assert!(seen.insert(node, id).is_none(), "duplicate node");
        }
    }

    /// Commutativity and associativity are canonicalized, and the content key
    /// and printed text do not depend on the pool or creation order.
    #[test]
    fn canonical_order_is_pool_independent(a in exact_recipe(), b in exact_recipe(), c in exact_recipe()) {
        let p1 = ExprPool::new();
        let (x1, y1, z1) = (build(&p1, &a), build(&p1, &b), build(&p1, &c));
        let s1 = p1.add(&[x1, y1, z1]).unwrap();
        let m1 = p1.mul(&[z1, y1, x1]).unwrap();
        let p2 = ExprPool::new();
        let (z2, x2) = (build(&p2, &c), build(&p2, &a));
        let y2 = build(&p2, &b);
        let yz = p2.add(&[z2, y2]).unwrap();
        let s2 = p2.add(&[yz, x2]).unwrap();
        let xy = p2.mul(&[x2, y2]).unwrap();
        let m2 = p2.mul(&[xy, z2]).unwrap();
        prop_assert_eq!(p1.key(s1).unwrap(), p2.key(s2).unwrap());
        prop_assert_eq!(p1.key(m1).unwrap(), p2.key(m2).unwrap());
        prop_assert_eq!(to_string(&p1, s1), to_string(&p2, s2));
    }

    /// Sums and products are flat (a nested operand of the same kind is
    /// longer than `FLATTEN_LIMIT`) and hold at most one (leading) number.
    #[test]
    fn sums_and_products_are_flat(a in recipe(), b in recipe()) {
        let p = ExprPool::new();
        let (x, y) = (build(&p, &a), build(&p, &b));
        for id in [p.add(&[x, y, x]).unwrap(), p.mul(&[y, x, y]).unwrap()] {
            let v = p.view();
            if let Node::Add(ops) | Node::Mul(ops) = v.node(id) {
                let same = |n: &Node| std::mem::discriminant(n) == std::mem::discriminant(v.node(id));
                let mergeable = |o: ExprId| {
                    same(v.node(o)) && v.node(o).children().len() <= ExprPool::FLATTEN_LIMIT
                };
                prop_assert!(!ops.iter().any(|&o| mergeable(o)));
                let nums: Vec<usize> = ops.iter().enumerate()
                    .filter(|(_, o)| matches!(v.node(**o), Node::Integer(_) | Node::Rational(_) | Node::Float(_)))
                    .map(|(i, _)| i).collect();
                prop_assert!(nums.is_empty() || nums == vec![0]);
            }
        }
    }
}

#[test]
fn exact_folding() {
    let p = ExprPool::new();
    let third = p.rational(1, 3).unwrap();
    let two_thirds = p.rational(2, 3).unwrap();
    let one = p.integer(1).unwrap();
    assert_eq!(p.add(&[third, two_thirds]).unwrap(), one);
    let big = p.integer(2).unwrap();
    let e = p.integer(100).unwrap();
    assert_eq!(
        to_string(&p, p.pow(big, e).unwrap()),
        "1267650600228229401496703205376"
    );
    let m = p.integer(-2).unwrap();
    assert_eq!(to_string(&p, p.pow(big, m).unwrap()), "1/4");
    assert!(p.rational(1, 0).is_err());
}

#[test]
fn concurrent_interning_agrees() {
    let p = Arc::new(ExprPool::new());
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                let x = p.symbol("x").unwrap();
                let mut ids = Vec::new();
                // Threads build the same expressions in different orders.
                for k in 0..500 {
                    let k = if t % 2 == 0 { k } else { 499 - k };
                    let n = p.integer(k).unwrap();
                    let e = p.pow(x, n).unwrap();
                    let s = p.func(Func::Sin, &[e]).unwrap();
                    ids.push((k, p.add(&[s, n]).unwrap()));
                }
                ids.sort();
                ids
            })
        })
        .collect();
    let all: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(all.iter().all(|ids| *ids == all[0]));
    // No duplicates were interned under contention.
    let v = p.view();
    let nodes: std::collections::HashSet<_> = (0..v.len())
        .map(|i| v.node(ExprId(i as u32)).clone())
        .collect();
    assert_eq!(nodes.len(), v.len());
}

#[test]
fn huge_power_stays_symbolic() {
    let p = ExprPool::new();
    let ten = p.integer(10).unwrap();
    let e = p.integer(1_000_000_000).unwrap();
    let r = p.pow(ten, e).unwrap();
    assert!(matches!(p.node(r).unwrap(), Node::Pow(_)));
}

/// A DAG whose tree form is astronomically large (each level uses the
/// previous one twice) prints as a summary at once; a small one as source.
#[test]
fn huge_tree_forms_print_as_a_summary() {
    let p = ExprPool::new();
    let mut x = p.symbol("x").unwrap();
    let mut ten = x;
    for k in 0..300 {
        let s = p.func(Func::Sin, &[x]).unwrap();
        let c = p.func(Func::Cos, &[x]).unwrap();
        x = p.add(&[s, c]).unwrap();
        if k == 9 {
            ten = x;
        }
    }
    let text = to_string(&p, x);
    assert!(
        text.starts_with("<expression of 901 distinct nodes"),
        "{text}"
    );
    assert!(text.len() < 200, "{text}");
    // 10 levels: 2^10 leaves, printed in full.
    let small = to_string(&p, ten);
    assert!(!small.starts_with('<'));
    assert_eq!(small.matches('x').count(), 1 << 10);
}
