//! Polynomial extraction and Horner-form emission.

use std::collections::BTreeMap;

use hashbrown::HashMap;

use crate::error::{Error, Result};
use crate::node::{ExprId, Node};
use crate::pool::ExprPool;

/// Degree cap: expanding `(x + 1)**100000` must not eat the machine.
const MAX_DEGREE: usize = 4096;

/// Coefficients by degree; every coefficient is free of the variable.
type Poly = BTreeMap<usize, ExprId>;

/// Rewrite `expr`, a polynomial in the symbol `var`, into Horner form:
/// `c0 + x*(c1 + x*(c2 + ...))`. Coefficients may be any expressions free of
/// `var` (so multivariate polynomials work one variable at a time). Products
/// and non-negative integer powers of polynomials are expanded first.
pub fn horner(pool: &ExprPool, expr: ExprId, var: ExprId) -> Result<ExprId> {
    pool.check(expr)?;
    let var_name = match pool.node(var)? {
        Node::Symbol(s) => s.to_string(),
        _ => return Err(Error::NotASymbol(crate::to_string(pool, var))),
    };
    let order = pool.view().reachable(&[expr]);
    let mut polys: HashMap<ExprId, Poly> = HashMap::with_capacity(order.len());
    let not_poly = |id: ExprId, why: &str| Error::NotPolynomial {
        var: var_name.clone(),
        detail: format!("{} ({why})", crate::to_string(pool, id)),
    };
    for &id in &order {
        let node = pool.node(id)?;
        let free = |p: &Poly| p.keys().all(|&d| d == 0);
        let poly: Poly = if id == var {
            BTreeMap::from([(1, pool.integer(1)?)])
        } else {
            match &node {
                Node::Add(terms) => {
                    let mut acc = Poly::new();
                    for t in terms.iter() {
                        acc = add_poly(pool, &acc, &polys[t])?;
                    }
                    acc
                }
                Node::Mul(factors) => {
                    let mut acc = BTreeMap::from([(0, pool.integer(1)?)]);
                    for f in factors.iter() {
                        acc = mul_poly(pool, &acc, &polys[f])?;
                        if acc.keys().next_back().copied().unwrap_or(0) > MAX_DEGREE {
                            return Err(not_poly(id, "degree too large"));
                        }
                    }
                    acc
                }
                Node::Pow([b, e]) => {
                    let pb = &polys[b];
                    if free(pb) && free(&polys[e]) {
                        BTreeMap::from([(0, id)])
                    } else if !free(&polys[e]) {
                        return Err(not_poly(id, "variable in an exponent"));
                    } else {
                        let n = match pool.node(*e)? {
                            Node::Integer(n) => usize::try_from(&n).ok(),
                            _ => None,
                        }
                        .ok_or_else(|| not_poly(id, "exponent is not a non-negative integer"))?;
                        let deg = pb.keys().next_back().copied().unwrap_or(0);
                        if deg.saturating_mul(n) > MAX_DEGREE {
                            return Err(not_poly(id, "degree too large"));
                        }
                        let mut acc = BTreeMap::from([(0, pool.integer(1)?)]);
                        for _ in 0..n {
                            acc = mul_poly(pool, &acc, pb)?;
                        }
                        acc
                    }
                }
                Node::Func(_, args) => {
                    if args.iter().all(|a| free(&polys[a])) {
                        BTreeMap::from([(0, id)])
                    } else {
                        return Err(not_poly(id, "variable inside a function"));
                    }
                }
                _ => BTreeMap::from([(0, id)]),
            }
        };
        polys.insert(id, poly);
    }
    let poly = &polys[&expr];
    let zero = pool.integer(0)?;
    let coeff = |d: usize| poly.get(&d).copied().unwrap_or(zero);
    let Some(&deg) = poly.keys().next_back() else {
        return Ok(zero);
    };
    let mut acc = coeff(deg);
    for d in (0..deg).rev() {
        let t = pool.mul(&[var, acc])?;
        acc = pool.add(&[t, coeff(d)])?;
    }
    Ok(acc)
}

/// Whether [`horner`] might succeed for `var`: `false` only where it
/// certainly fails, found in one pass over the DAG without the polynomial
/// arithmetic (which interns coefficients into the pool and cost ~6 us a
/// variable on issue 17's 20-node mixed formula before failing).
///
/// Certain: a function of an argument, or an exponent, that depends on
/// `var`, or a power of a base that depends on `var` to an exponent other
/// than a non-negative integer, where no sum below it has two terms that
/// depend on `var` (only such a sum can cancel to a polynomial free of
/// `var`, which `horner` would then accept as a coefficient).
pub fn may_be_polynomial(pool: &ExprPool, expr: ExprId, var: ExprId) -> bool {
    let v = pool.view();
    let order = v.reachable(&[expr]);
    // Per node: depends on `var`; has a sum below it that may cancel.
    let mut facts: HashMap<ExprId, (bool, bool)> = HashMap::with_capacity(order.len());
    for &id in &order {
        let node = v.node(id);
        let kids = node.children();
        let dep = id == var || kids.iter().any(|k| facts[k].0);
        let dep_terms = kids.iter().filter(|&k| facts[k].0).count();
        let cancel =
            kids.iter().any(|k| facts[k].1) || (matches!(node, Node::Add(_)) && dep_terms >= 2);
        facts.insert(id, (dep, cancel));
        // Depends on `var` for certain: no cancelling sum below.
        let sure = |k: &ExprId| facts[k].0 && !facts[k].1;
        let fails = match node {
            Node::Func(_, args) => args.iter().any(sure),
            Node::Pow([b, e]) => {
                sure(e)
                    || (sure(b)
                        && !facts[e].0
                        && !matches!(v.node(*e), Node::Integer(n) if usize::try_from(n).is_ok()))
            }
            _ => false,
        };
        if fails {
            return false;
        }
    }
    true
}

fn add_poly(pool: &ExprPool, a: &Poly, b: &Poly) -> Result<Poly> {
    let mut out = a.clone();
    for (&d, &c) in b {
        let v = match out.get(&d) {
            Some(&prev) => pool.add(&[prev, c])?,
            None => c,
        };
        out.insert(d, v);
    }
    prune(pool, out)
}

fn mul_poly(pool: &ExprPool, a: &Poly, b: &Poly) -> Result<Poly> {
    let mut out = Poly::new();
    for (&da, &ca) in a {
        for (&db, &cb) in b {
            let p = pool.mul(&[ca, cb])?;
            let v = match out.get(&(da + db)) {
                Some(&prev) => pool.add(&[prev, p])?,
                None => p,
            };
            out.insert(da + db, v);
        }
    }
    prune(pool, out)
}

fn prune(pool: &ExprPool, mut p: Poly) -> Result<Poly> {
    let zero = pool.integer(0)?;
    p.retain(|_, c| *c != zero);
    Ok(p)
}
