//! Pool <-> e-graph conversion. Both directions are loops over a
//! topological order (ascending ids into the e-graph, an explicit stack out
//! of it), so chain depth never touches the call stack, and both keep
//! sharing: one e-class per pool node, one pool node per e-class.

use alkahest_core::{ExprId, ExprPool, Node};
use egg::{Id, Language, Symbol};
use hashbrown::HashMap;

use crate::analysis::MathGraph;
use crate::error::{Error, Result};
use crate::lang::{Const, Math};

/// Add `expr` (and everything below it) to `eg`; returns its e-class.
///
/// Sums and products are folded left into binary nodes, `-1 * x` becomes
/// `neg x` and `x ** -1` becomes `1 / x`.
pub fn add_to_egraph(pool: &ExprPool, expr: ExprId, eg: &mut MathGraph) -> Result<Id> {
    pool.check(expr)?;
    let v = pool.view();
    let order = v.reachable(&[expr]);
    let mut map: HashMap<ExprId, Id> = HashMap::with_capacity(order.len());
    for id in order {
        let c = |e: &ExprId| map[e];
        let new = match v.node(id) {
            Node::Symbol(s) => eg.add(Math::Sym(Symbol::from(&**s))),
            Node::Integer(_) | Node::Rational(_) | Node::Float(_) => {
                let n = pool
                    .as_number(id)
                    .ok_or(Error::Extraction("constant without a value"))?;
                eg.add(Math::Num(Const::from_number(&n)))
            }
            Node::Add(t) => fold(eg, t.iter().map(c), Math::Add),
            Node::Mul(f) => {
                let minus_one = matches!(v.node(f[0]), Node::Integer(i) if *i == (-1).into());
                if minus_one {
                    let rest = fold(eg, f[1..].iter().map(c), Math::Mul);
                    eg.add(Math::Neg(rest))
                } else {
                    fold(eg, f.iter().map(c), Math::Mul)
                }
            }
            Node::Pow([b, e]) => {
                if matches!(v.node(*e), Node::Integer(i) if *i == (-1).into()) {
                    let one = eg.add(Math::Num(Const::int(1)));
                    eg.add(Math::Div([one, map[b]]))
                } else {
                    eg.add(Math::Pow([map[b], map[e]]))
                }
            }
            Node::Func(f, args) => {
                let a: Vec<Id> = args.iter().map(c).collect();
                let node = Math::from_func(*f, &a).ok_or(alkahest_core::Error::FuncArity {
                    func: f.name(),
                    expected: f.arity(),
                    got: a.len(),
                })?;
                eg.add(node)
            }
        };
        map.insert(id, new);
    }
    Ok(map[&expr])
}

fn fold(eg: &mut MathGraph, mut ids: impl Iterator<Item = Id>, mk: fn([Id; 2]) -> Math) -> Id {
    // Builders guarantee at least two operands.
    let first = ids
        .next()
        .unwrap_or_else(|| eg.add(Math::Num(Const::int(0))));
    ids.fold(first, |acc, x| eg.add(mk([acc, x])))
}

/// Build the term chosen by `best` (class -> node) for `root` in `pool`
/// through the canonical builders. Fails on a cycle in `best` (cannot
/// happen with the crate's extractor, checked anyway).
///
/// Chains of binary sums (`+`, `-`) and products whose inner links are used
/// once are collected and built with one n-ary builder call, so a
/// 10,000-term sum costs one sort instead of 10,000 re-flattenings.
pub fn build_in_pool(
    pool: &ExprPool,
    eg: &MathGraph,
    best: &HashMap<Id, Math>,
    root: Id,
) -> Result<ExprId> {
    build_with(pool, eg, &|c| best.get(&c), root)
}

/// [`build_in_pool`] with the chosen node of each class given by `choice`.
pub(crate) fn build_with<'a>(
    pool: &ExprPool,
    eg: &MathGraph,
    choice: &dyn Fn(Id) -> Option<&'a Math>,
    root: Id,
) -> Result<ExprId> {
    let root = eg.find(root);
    let chosen = |c: Id| -> Result<&'a Math> {
        choice(c).ok_or(Error::Extraction("class without a chosen node"))
    };
    // Uses of each class within the chosen term (DAG parents), and a check
    // that the chosen nodes are acyclic (iterative depth-first search: a
    // class met again while still open closes a cycle).
    let mut uses: HashMap<Id, u32> = HashMap::new();
    let mut open: hashbrown::HashSet<Id> = hashbrown::HashSet::new();
    let mut closed: hashbrown::HashSet<Id> = hashbrown::HashSet::new();
    let mut stack = vec![(root, false)];
    while let Some((c, exit)) = stack.pop() {
        if exit {
            open.remove(&c);
            closed.insert(c);
            continue;
        }
        if closed.contains(&c) {
            continue;
        }
        if !open.insert(c) {
            return Err(Error::Extraction("cycle in chosen nodes"));
        }
        stack.push((c, true));
        for &ch in chosen(c)?.children() {
            let ch = eg.find(ch);
            *uses.entry(ch).or_default() += 1;
            if open.contains(&ch) {
                return Err(Error::Extraction("cycle in chosen nodes"));
            }
            if !closed.contains(&ch) {
                stack.push((ch, false));
            }
        }
    }
    let is_sum = |n: &Math| matches!(n, Math::Add(_) | Math::Sub(_));
    let is_prod = |n: &Math| matches!(n, Math::Mul(_));
    // Operands of the sum/product chain rooted at `c`: (class, negated).
    let operands = |c: Id| -> Result<Vec<(Id, bool)>> {
        let top = chosen(c)?;
        let sum = is_sum(top);
        let mut out = Vec::new();
        let mut work = vec![(c, false, true)];
        while let Some((k, neg, is_top)) = work.pop() {
            let n = chosen(k)?;
            let inline = is_top
                || (uses.get(&k).copied().unwrap_or(0) == 1
                    && if sum { is_sum(n) } else { is_prod(n) });
            if !inline {
                out.push((k, neg));
                continue;
            }
            match n {
                Math::Add([a, b]) | Math::Mul([a, b]) => {
                    work.push((eg.find(*b), neg, false));
                    work.push((eg.find(*a), neg, false));
                }
                Math::Sub([a, b]) => {
                    work.push((eg.find(*b), !neg, false));
                    work.push((eg.find(*a), neg, false));
                }
                _ => out.push((k, neg)),
            }
        }
        Ok(out)
    };
    let mut done: HashMap<Id, ExprId> = HashMap::new();
    let mut on_stack: hashbrown::HashSet<Id> = hashbrown::HashSet::new();
    let mut stack: Vec<(Id, bool)> = vec![(root, false)];
    while let Some((cls, expanded)) = stack.pop() {
        if done.contains_key(&cls) {
            continue;
        }
        let node = chosen(cls)?;
        let chain = is_sum(node) || is_prod(node);
        let deps: Vec<Id> = if chain {
            operands(cls)?.into_iter().map(|(c, _)| c).collect()
        } else {
            node.children().iter().map(|&c| eg.find(c)).collect()
        };
        if !expanded {
            if !on_stack.insert(cls) {
                return Err(Error::Extraction("cycle in chosen nodes"));
            }
            stack.push((cls, true));
            for ch in deps {
                if !done.contains_key(&ch) {
                    stack.push((ch, false));
                }
            }
            continue;
        }
        let k = |i: &Id| done[&eg.find(*i)];
        let id = match node {
            _ if chain => {
                let mut ids = Vec::new();
                for (c, neg) in operands(cls)? {
                    let v = done[&c];
                    ids.push(if neg { pool.neg(v)? } else { v });
                }
                if is_sum(node) {
                    pool.add(&ids)?
                } else {
                    pool.mul(&ids)?
                }
            }
            Math::Num(c) => pool.number(c.to_number())?,
            Math::Sym(s) => pool.symbol(s.as_str())?,
            Math::Div([a, b]) => pool.div(k(a), k(b))?,
            Math::Neg(a) => pool.neg(k(a))?,
            Math::Pow([a, b]) => pool.pow(k(a), k(b))?,
            other => {
                let f = other.func().ok_or(Error::Extraction("unknown node kind"))?;
                let args: Vec<ExprId> = other.children().iter().map(k).collect();
                pool.func(f, &args)?
            }
        };
        on_stack.remove(&cls);
        done.insert(cls, id);
    }
    done.get(&root)
        .copied()
        .ok_or(Error::Extraction("root not built"))
}
