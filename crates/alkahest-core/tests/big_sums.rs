//! Long sums and products built term by term (issue 15): the pool grows
//! linearly, and the nested groups the bounded flattening leaves behind
//! mean the same value to every pass in this crate (printing,
//! differentiation, Horner form).

use alkahest_core::{ExprId, ExprPool, Node, horner, to_string};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, ToPrimitive, Zero};

const K: usize = ExprPool::FLATTEN_LIMIT;
/// Most operands one loop step may build: the limit may be tuned, but a
/// step must stay a small constant (the old unbounded flattening built
/// n operands at step n).
const STEP: usize = 257;

#[test]
fn the_flatten_limit_is_a_small_constant() {
    assert!((2..STEP).contains(&K), "FLATTEN_LIMIT = {K}");
}

/// Every child slot the pool holds: what quadratic flattening filled up.
fn child_slots(p: &ExprPool) -> usize {
    let v = p.view();
    (0..v.len())
        .map(|i| v.node(ExprId(i as u32)).children().len())
        .sum()
}

fn arity(p: &ExprPool, id: ExprId) -> usize {
    p.node(id).unwrap().children().len()
}

/// Exact value at a point (symbols -> rationals), for sums, products and
/// integer powers: a loop in id order, so deep chains are fine.
fn exact(p: &ExprPool, root: ExprId, env: &dyn Fn(&str) -> BigRational) -> BigRational {
    let v = p.view();
    let mut val: Vec<Option<BigRational>> = vec![None; root.index() + 1];
    for id in v.reachable(&[root]) {
        let get = |c: &ExprId| val[c.index()].clone().expect("child first");
        let x = match v.node(id) {
            Node::Symbol(s) => env(s),
            Node::Integer(i) => BigRational::from_integer(i.clone()),
            Node::Rational(r) => r.clone(),
            Node::Add(t) => t.iter().map(get).fold(BigRational::zero(), |a, b| a + b),
            Node::Mul(f) => f.iter().map(get).fold(BigRational::one(), |a, b| a * b),
            Node::Pow([b, e]) => get(b).pow(get(e).to_integer().to_i32().unwrap()),
            other => panic!("not in this test: {other:?}"),
        };
        val[id.index()] = Some(x);
    }
    val[root.index()].clone().unwrap()
}

fn int(n: i64) -> BigRational {
    BigRational::from_integer(BigInt::from(n))
}

/// `x_i`'s value: `i + 1`.
fn index_env(name: &str) -> BigRational {
    int(name[1..].parse::<i64>().unwrap() + 1)
}

/// `c_i * x_i` for i < n, c_i in 2..=8: no two terms share a node.
fn terms(p: &ExprPool, n: usize) -> Vec<ExprId> {
    (0..n)
        .map(|i| {
            let x = p.symbol(&format!("x{i}")).unwrap();
            let c = p.integer((i % 7 + 2) as i64).unwrap();
            p.mul(&[c, x]).unwrap()
        })
        .collect()
}

#[test]
fn a_sum_built_term_by_term_grows_the_pool_linearly() {
    let n = 20_000;
    let p = ExprPool::new();
    let ts = terms(&p, n);
    let before = child_slots(&p);
    let mut s = ts[0];
    for &t in &ts[1..] {
        s = p.add(&[s, t]).unwrap();
        // Each step copies at most one group (checked at every step, so the
        // old unbounded flattening fails here at step STEP + 1).
        assert!(
            arity(&p, s) <= STEP,
            "a loop step built {} operands",
            arity(&p, s)
        );
        assert!(arity(&p, s) <= K + 1);
    }
    // One new node per step, of at most K + 1 operands.
    let slots = child_slots(&p) - before;
    assert!(slots <= STEP * n, "{slots} child slots for {n} terms");
    assert!(slots <= (K + 1) * n);
    assert!(p.len() <= 3 * n + 10, "{} nodes", p.len());
    // The same value as the flat sum (built in one call).
    let flat = p.add(&ts).unwrap();
    assert_eq!(arity(&p, flat), n);
    assert_eq!(exact(&p, s, &index_env), exact(&p, flat, &index_env));
}

#[test]
fn builtin_sum_order_and_products_grow_linearly() {
    let n = 20_000;
    // Python's `sum(terms)` starts from 0; reversed order; subtraction.
    let p = ExprPool::new();
    let ts = terms(&p, n);
    let before = child_slots(&p);
    let mut s = p.integer(0).unwrap();
    let mut d = p.integer(0).unwrap();
    for &t in ts.iter().rev() {
        s = p.add(&[t, s]).unwrap();
        d = p.sub(d, t).unwrap();
        assert!(arity(&p, s) <= STEP && arity(&p, d) <= STEP);
    }
    let slots = child_slots(&p) - before;
    assert!(slots <= 2 * (STEP + 2) * n, "{slots} child slots");
    let flat = p.add(&ts).unwrap();
    let (vs, vd, vf) = (
        exact(&p, s, &index_env),
        exact(&p, d, &index_env),
        exact(&p, flat, &index_env),
    );
    assert_eq!(vs, vf);
    assert_eq!(vd, -vf);

    // Products, `p = p * x` and `p = p / x`.
    let q = ExprPool::new();
    let xs: Vec<ExprId> = (0..n)
        .map(|i| q.symbol(&format!("x{i}")).unwrap())
        .collect();
    let before = child_slots(&q);
    let mut m = xs[0];
    let mut r = q.integer(1).unwrap();
    for (i, &x) in xs.iter().enumerate().skip(1) {
        m = q.mul(&[m, x]).unwrap();
        r = if i % 2 == 0 {
            q.mul(&[r, x])
        } else {
            q.div(r, x)
        }
        .unwrap();
        assert!(arity(&q, m) <= STEP && arity(&q, r) <= STEP);
    }
    let slots = child_slots(&q) - before;
    assert!(slots <= 2 * (STEP + 2) * n, "{slots} child slots");
    // Exact values over a smaller prefix (the full product is a huge integer).
    let small = ExprPool::new();
    let ys: Vec<ExprId> = (0..300)
        .map(|i| small.symbol(&format!("x{i}")).unwrap())
        .collect();
    let mut m = ys[0];
    for &y in &ys[1..] {
        m = small.mul(&[m, y]).unwrap();
    }
    let want = (1..=300).fold(BigRational::one(), |a, k| a * int(k));
    assert_eq!(exact(&small, m, &index_env), want);
    assert_eq!(exact(&small, small.mul(&ys).unwrap(), &index_env), want);
}

#[test]
fn nested_groups_are_canonical_where_it_matters() {
    let p = ExprPool::new();
    let ts = terms(&p, 500);
    let mut s = ts[0];
    for &t in &ts[1..] {
        s = p.add(&[s, t]).unwrap();
    }
    let Node::Add(ops) = p.node(s).unwrap() else {
        panic!("a sum")
    };
    // A long sum is kept as one operand, never re-flattened...
    let nested: Vec<ExprId> = ops
        .iter()
        .copied()
        .filter(|&o| matches!(p.node(o).unwrap(), Node::Add(_)))
        .collect();
    assert_eq!(nested.len(), 1);
    assert!(arity(&p, nested[0]) > K);
    // ...operand order does not matter...
    let x = p.symbol("y").unwrap();
    assert_eq!(p.add(&[s, x]).unwrap(), p.add(&[x, s]).unwrap());
    // ...and rebuilding a node from its operands gives the node itself
    // (pool files are checked that way when loaded).
    assert_eq!(p.add(&ops).unwrap(), s);
    // Small sums and products are exactly as before: flat.
    let a = p.add(&ts[..10]).unwrap();
    let b = p.add(&ts[10..20]).unwrap();
    let ab = p.add(&[a, b]).unwrap();
    assert_eq!(ab, p.add(&ts[..20]).unwrap());
    // Constants fold within a level: both stay, the value is right.
    let big = p.add(&ts[..K + 1]).unwrap();
    let one = p.integer(1).unwrap();
    let two = p.integer(2).unwrap();
    let b1 = p.add(&[big, one]).unwrap();
    let b3 = p.add(&[b1, two]).unwrap();
    assert_eq!(
        exact(&p, b3, &index_env),
        exact(&p, big, &index_env) + int(3)
    );
    let k_plus_2 = p.add(&[big, one, two]).unwrap();
    assert_eq!(p.node(k_plus_2).unwrap().children().len(), 2);
}

#[test]
fn nested_sums_print_as_one_flat_sum() {
    let n = 300;
    let p = ExprPool::new();
    let x: Vec<ExprId> = (0..n)
        .map(|i| p.symbol(&format!("x{i}")).unwrap())
        .collect();
    let mut s = p.integer(0).unwrap();
    let mut flat_terms = Vec::new();
    for (i, &xi) in x.iter().enumerate() {
        // Alternate signs and a constant now and then.
        let t = if i % 2 == 0 { xi } else { p.neg(xi).unwrap() };
        s = p.add(&[s, t]).unwrap();
        flat_terms.push(t);
        if i % 100 == 50 {
            let c = p.integer(1).unwrap();
            s = p.add(&[s, c]).unwrap();
            flat_terms.push(c);
        }
    }
    let text = to_string(&p, s);
    assert!(!text.contains('('), "{}", &text[..200]);
    assert!(!text.contains("+ -"), "a negated term prints as `- x`");
    let flat = to_string(&p, p.add(&flat_terms).unwrap());
    let mut a: Vec<&str> = text.split(' ').collect();
    let mut b: Vec<&str> = flat.split(' ').collect();
    // Same terms with the same signs; the constants (one per level here)
    // print last, as in the flat sum.
    assert!(
        text.ends_with(" + 1 + 1 + 1"),
        "{}",
        &text[text.len() - 40..]
    );
    assert!(flat.ends_with(" + 3"));
    a.retain(|w| *w != "1" && *w != "3");
    b.retain(|w| *w != "1" && *w != "3");
    let key = |v: &mut Vec<&str>| {
        // Pair each term with its sign.
        let mut out: Vec<String> = Vec::new();
        let mut sign = "+";
        for w in v.iter() {
            match *w {
                "+" | "-" => sign = w,
                t => match t.strip_prefix('-') {
                    Some(t) => out.push(format!("{}{t}", if sign == "+" { "-" } else { "+" })),
                    None => out.push(format!("{sign}{t}")),
                },
            }
        }
        out.sort();
        out
    };
    let (ka, kb) = (key(&mut a), key(&mut b));
    assert_eq!(ka.len(), n);
    assert_eq!(ka, kb);

    // Products: exact coefficients of the groups fold into one.
    let mut m = p.integer(1).unwrap();
    for &xi in &x {
        let two = p.integer(2).unwrap();
        m = p.mul(&[m, xi, two]).unwrap();
    }
    let text = to_string(&p, m);
    assert!(!text.contains('('));
    let coeff = BigInt::from(2).pow(n as u32).to_string();
    assert!(text.starts_with(&format!("{coeff}*")));
    assert_eq!(text.matches('*').count(), n);
    let neg = to_string(&p, p.neg(m).unwrap());
    assert_eq!(neg, format!("-{text}"));
}

#[test]
fn derivatives_and_horner_form_of_nested_sums() {
    // P(x) = sum_k (k + 1) x^k, k < 200, built term by term: nested groups.
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let mut s = p.integer(0).unwrap();
    let mut flat = Vec::new();
    for k in 0..200i64 {
        let e = p.integer(k).unwrap();
        let xk = p.pow(x, e).unwrap();
        let c = p.integer(k + 1).unwrap();
        let t = p.mul(&[c, xk]).unwrap();
        s = p.add(&[s, t]).unwrap();
        flat.push(t);
    }
    let flat = p.add(&flat).unwrap();
    assert_ne!(s, flat, "the loop built nested groups");
    let at = |v: i64| move |_: &str| int(v);
    let third = |_: &str| BigRational::new(BigInt::from(1), BigInt::from(3));
    for env in [&at(3) as &dyn Fn(&str) -> BigRational, &at(-2), &third] {
        assert_eq!(exact(&p, s, env), exact(&p, flat, env));
        let (ds, df) = (p.diff(s, x).unwrap(), p.diff(flat, x).unwrap());
        assert_eq!(exact(&p, ds, env), exact(&p, df, env));
        let (d2s, d2f) = (p.diff_n(s, x, 2).unwrap(), p.diff_n(flat, x, 2).unwrap());
        assert_eq!(exact(&p, d2s, env), exact(&p, d2f, env));
        let h = horner(&p, s, x).unwrap();
        assert_eq!(exact(&p, h, env), exact(&p, flat, env));
    }
    // Horner form sees through the groups: the same form as the flat sum.
    assert_eq!(horner(&p, s, x).unwrap(), horner(&p, flat, x).unwrap());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
    /// Any grouping of a long sum or product (a random binary tree over 300
    /// operands, plus constants) is the same value, and no node the
    /// builders make has a nested operand of the same kind that they could
    /// have merged.
    #[test]
    fn every_grouping_is_the_same_value(picks in proptest::collection::vec(0usize..1000, 299)) {
        let p = ExprPool::new();
        let mut ts = terms(&p, 300);
        ts[17] = p.integer(5).unwrap();
        ts[201] = p.rational(-1, 3).unwrap();
        let flat_sum = p.add(&ts).unwrap();
        let flat_prod = p.mul(&ts[..120]).unwrap();
        for product in [false, true] {
            let mut work = if product { ts[..120].to_vec() } else { ts.clone() };
            for &k in &picks {
                if work.len() == 1 {
                    break;
                }
                let i = k % (work.len() - 1);
                let (a, b) = (work[i], work[i + 1]);
                work[i] = if product { p.mul(&[a, b]) } else { p.add(&[a, b]) }.unwrap();
                work.remove(i + 1);
            }
            let want = if product { flat_prod } else { flat_sum };
            proptest::prop_assert_eq!(exact(&p, work[0], &index_env), exact(&p, want, &index_env));
        }
        let v = p.view();
        for i in 0..v.len() {
            let node = v.node(ExprId(i as u32));
            if let Node::Add(ops) | Node::Mul(ops) = node {
                for &o in ops.iter() {
                    let same = std::mem::discriminant(v.node(o)) == std::mem::discriminant(node);
                    proptest::prop_assert!(!same || v.node(o).children().len() > K);
                }
            }
        }
    }
}
