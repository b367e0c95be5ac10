//! Printing as Python / SymPy source text.
//!
//! The printer is an explicit task stack, not recursion, so a 100,000-deep
//! chain prints in linear time without growing the call stack. Whatever
//! comes first in the output is written at once; the rest is pushed in
//! reverse order.

use num_traits::{One, Signed};

use crate::node::{ExprId, Func, Node};
use crate::number::Number;
use crate::pool::{ExprPool, NodeView};

const PREC_ADD: u8 = 10;
const PREC_MUL: u8 = 20;
const PREC_NEG: u8 = 30;
const PREC_POW: u8 = 40;
const PREC_ATOM: u8 = 100;

enum Task {
    Expr(ExprId, u8),
    /// A product given as coefficient and factors (lets `a - 2*b` print the
    /// flipped coefficient without interning a new node).
    Product(Number, Vec<ExprId>, u8),
    Text(&'static str),
    Owned(String),
}

/// Nodes of an expression's tree form (a shared subexpression counted at
/// each use) above which [`to_string`] prints a summary instead of source.
///
/// Why: a DAG with heavy sharing, which is what a pool builds cheaply (a
/// random 1,000-step DAG, `x_{k+1} = f(x_k, x_k)`), has a tree form of
/// astronomically many nodes: printing it never finished and took all
/// memory, and so did printing anything holding it (`explain()`). Two
/// million nodes print in well under a second.
pub const MAX_PRINTED_NODES: f64 = 2_000_000.0;

/// Print `id` as Python source; SymPy's `sympify` reads it back. An
/// expression whose tree form has more than [`MAX_PRINTED_NODES`] nodes
/// prints as a one-line summary in angle brackets instead.
pub fn to_string(pool: &ExprPool, id: ExprId) -> String {
    let v = pool.view();
    let mut out = String::new();
    if v.get(id).is_none() {
        return format!("<invalid expression id {}>", id.0);
    }
    let (distinct, tree) = tree_size(&v, id);
    if tree > MAX_PRINTED_NODES {
        return format!(
            "<expression of {distinct} distinct nodes, about {tree:.1e} as a tree: too \
             large to print (alkahest.emit_c writes it with shared subexpressions)>"
        );
    }
    let mut stack = vec![Task::Expr(id, 0)];
    while let Some(t) = stack.pop() {
        match t {
            Task::Text(s) => out.push_str(s),
            Task::Owned(s) => out.push_str(&s),
            Task::Expr(id, ctx) => expand(&v, id, ctx, &mut out, &mut stack),
            Task::Product(c, f, ctx) => {
                let tasks = product_tasks(&v, c, &f, ctx);
                emit(tasks, &mut out, &mut stack);
            }
        }
    }
    out
}

/// Distinct nodes under `id`, and nodes of its tree form (each use of a
/// shared node counted; a float, so it cannot overflow), in one pass over
/// the DAG.
fn tree_size(v: &NodeView<'_>, id: ExprId) -> (usize, f64) {
    let order = v.reachable(&[id]);
    // Ascending ids are topological: children come before their parents.
    let mut size: hashbrown::HashMap<ExprId, f64> = hashbrown::HashMap::with_capacity(order.len());
    for &n in &order {
        let kids: f64 = v.node(n).children().iter().map(|c| size[c]).sum();
        size.insert(n, 1.0 + kids);
    }
    (order.len(), size[&id])
}

/// Write the first task's text now and push the others in reverse.
fn emit(tasks: Vec<Task>, out: &mut String, stack: &mut Vec<Task>) {
    let mut it = tasks.into_iter();
    let first = it.next();
    let rest: Vec<Task> = it.collect();
    stack.extend(rest.into_iter().rev());
    match first {
        Some(Task::Text(s)) => out.push_str(s),
        Some(Task::Owned(s)) => out.push_str(&s),
        Some(t) => stack.push(t),
        None => {}
    }
}

fn wrap(tasks: Vec<Task>, prec: u8, ctx: u8) -> Vec<Task> {
    if prec >= ctx {
        return tasks;
    }
    let mut w = Vec::with_capacity(tasks.len() + 2);
    w.push(Task::Text("("));
    w.extend(tasks);
    w.push(Task::Text(")"));
    w
}

fn number_text(n: &Number) -> (String, u8) {
    match n {
        Number::Int(i) => {
            let p = if i.is_negative() { PREC_NEG } else { PREC_ATOM };
            (i.to_string(), p)
        }
        Number::Rat(r) => (format!("{}/{}", r.numer(), r.denom()), PREC_MUL),
        Number::Float(f) => float_text(*f),
    }
}

/// Shortest round-trip text of a double, as Python reads it.
pub(crate) fn float_text(f: f64) -> (String, u8) {
    if f.is_nan() {
        ("float('nan')".into(), PREC_ATOM)
    } else if f.is_infinite() {
        if f > 0.0 {
            ("float('inf')".into(), PREC_ATOM)
        } else {
            ("-float('inf')".into(), PREC_NEG)
        }
    } else {
        let mut s = format!("{f:?}");
        if !s.contains(['.', 'e', 'E']) {
            s.push_str(".0");
        }
        let p = if f.is_sign_negative() {
            PREC_NEG
        } else {
            PREC_ATOM
        };
        (s, p)
    }
}

/// The operands of a sum (or product) with nested sums (products) spliced
/// in, in order: a long sum built term by term is a chain of groups (see
/// [`ExprPool::FLATTEN_LIMIT`]) and prints as one flat sum. A loop, not
/// recursion, however long the chain.
fn spliced(v: &NodeView<'_>, ops: &[ExprId], product: bool) -> Vec<ExprId> {
    let mut out = Vec::with_capacity(ops.len());
    let mut stack: Vec<ExprId> = ops.iter().rev().copied().collect();
    while let Some(t) = stack.pop() {
        match (v.node(t), product) {
            (Node::Add(inner), false) | (Node::Mul(inner), true) => {
                stack.extend(inner.iter().rev());
            }
            _ => out.push(t),
        }
    }
    out
}

/// Split a product node into (coefficient, other factors). Nested products
/// are spliced in; their exact coefficients multiply into the one
/// coefficient, a float one stays a factor (folding it would round).
fn split_product(v: &NodeView<'_>, id: ExprId) -> (Number, Vec<ExprId>) {
    let exact = |n: &Number| !matches!(n, Number::Float(_));
    match v.node(id) {
        Node::Mul(f) => {
            let mut coeff = Number::Int(1.into());
            let mut factors = Vec::with_capacity(f.len());
            for (i, t) in spliced(v, f, true).into_iter().enumerate() {
                match v.node(t).number() {
                    Some(c) if i == 0 || (exact(&c) && exact(&coeff)) => {
                        coeff = coeff.mul(&c);
                    }
                    _ => factors.push(t),
                }
            }
            (coeff, factors)
        }
        _ => (Number::Int(1.into()), vec![id]),
    }
}

fn negative_exponent(v: &NodeView<'_>, id: ExprId) -> Option<(ExprId, Number)> {
    if let Node::Pow([b, e]) = v.node(id)
        && let Some(n) = v.node(*e).number()
        && n.is_negative()
    {
        return Some((*b, n.neg()));
    }
    None
}

fn product_tasks(v: &NodeView<'_>, coeff: Number, factors: &[ExprId], ctx: u8) -> Vec<Task> {
    let negative = coeff.is_negative();
    let c = if negative { coeff.neg() } else { coeff };
    let (c_num, c_den): (Option<String>, Option<String>) = match &c {
        Number::Int(i) if i.is_one() => (None, None),
        Number::Rat(r) => (
            (!r.numer().is_one()).then(|| r.numer().to_string()),
            Some(r.denom().to_string()),
        ),
        other => (Some(number_text(other).0), None),
    };
    let mut num: Vec<Task> = Vec::new();
    let mut den: Vec<Vec<Task>> = Vec::new();
    if let Some(s) = c_num {
        num.push(Task::Owned(s));
    }
    if let Some(s) = c_den {
        den.push(vec![Task::Owned(s)]);
    }
    for &f in factors {
        match negative_exponent(v, f) {
            Some((b, e)) if e.is_exact_one() => den.push(vec![Task::Expr(b, PREC_MUL + 1)]),
            Some((b, e)) => {
                let (et, ep) = number_text(&e);
                let mut t = vec![Task::Expr(b, PREC_POW + 1), Task::Text("**")];
                t.extend(wrap(vec![Task::Owned(et)], ep, PREC_NEG));
                den.push(t);
            }
            None => {
                if !num.is_empty() {
                    num.push(Task::Text("*"));
                }
                num.push(Task::Expr(f, PREC_MUL));
            }
        }
    }
    let single = num.len() <= 1 && den.is_empty();
    let mut tasks = Vec::new();
    if negative {
        tasks.push(Task::Text("-"));
    }
    if num.is_empty() {
        tasks.push(Task::Text("1"));
    } else {
        tasks.extend(num);
    }
    if !den.is_empty() {
        tasks.push(Task::Text("/"));
        let many = den.len() > 1;
        if many {
            tasks.push(Task::Text("("));
        }
        for (i, d) in den.into_iter().enumerate() {
            if i > 0 {
                tasks.push(Task::Text("*"));
            }
            tasks.extend(d);
        }
        if many {
            tasks.push(Task::Text(")"));
        }
    }
    let prec = match (single, negative) {
        (true, true) => PREC_NEG,
        (true, false) => PREC_ATOM,
        _ => PREC_MUL,
    };
    wrap(tasks, prec, ctx)
}

fn expand(v: &NodeView<'_>, id: ExprId, ctx: u8, out: &mut String, stack: &mut Vec<Task>) {
    let node = v.node(id);
    let tasks: Vec<Task> = match node {
        Node::Symbol(s) => vec![Task::Owned(s.to_string())],
        Node::Integer(_) | Node::Rational(_) | Node::Float(_) => {
            let (s, p) = number_text(&node.number().expect("numeric node"));
            wrap(vec![Task::Owned(s)], p, ctx)
        }
        Node::Add(terms) => {
            // Symbolic terms first, the constant(s) last: `x**2 + 1`.
            let terms = spliced(v, terms, false);
            let mut order: Vec<ExprId> = terms
                .iter()
                .copied()
                .filter(|t| v.node(*t).number().is_none())
                .collect();
            order.extend(
                terms
                    .iter()
                    .copied()
                    .filter(|t| v.node(*t).number().is_some()),
            );
            let mut t = Vec::new();
            for (i, &term) in order.iter().enumerate() {
                let (c, f) = split_product(v, term);
                let neg = c.is_negative() && !matches!(c, Number::Float(x) if x.is_nan());
                if i > 0 {
                    t.push(Task::Text(if neg { " - " } else { " + " }));
                }
                let c = if neg && i > 0 { c.neg() } else { c };
                if f.is_empty() {
                    let (s, p) = number_text(&c);
                    t.extend(wrap(vec![Task::Owned(s)], p, PREC_ADD + 1));
                } else if matches!(v.node(term), Node::Mul(_)) || (neg && i > 0) {
                    t.push(Task::Product(c, f, PREC_ADD + 1));
                } else {
                    t.push(Task::Expr(term, PREC_ADD));
                }
            }
            wrap(t, PREC_ADD, ctx)
        }
        Node::Mul(_) => {
            let (c, f) = split_product(v, id);
            vec![Task::Product(c, f, ctx)]
        }
        Node::Pow([b, e]) => {
            let en = v.node(*e).number();
            match en {
                Some(n) if n.is_negative() => {
                    vec![Task::Product(Number::Int(1.into()), vec![id], ctx)]
                }
                Some(Number::Rat(r)) if *r.numer() == 1.into() && *r.denom() == 2.into() => {
                    vec![Task::Text("sqrt("), Task::Expr(*b, 0), Task::Text(")")]
                }
                _ => wrap(
                    vec![
                        Task::Expr(*b, PREC_POW + 1),
                        Task::Text("**"),
                        Task::Expr(*e, PREC_NEG),
                    ],
                    PREC_POW,
                    ctx,
                ),
            }
        }
        Node::Func(Func::Where, args) => {
            // A chain of selections prints as one SymPy Piecewise.
            let mut t = vec![Task::Text("Piecewise(")];
            let mut rest = args.clone();
            loop {
                t.extend([
                    Task::Text("("),
                    Task::Expr(rest[1], 0),
                    Task::Text(", "),
                    Task::Expr(rest[0], 0),
                    Task::Text("), "),
                ]);
                match v.node(rest[2]) {
                    Node::Func(Func::Where, next) => rest = next.clone(),
                    _ => break,
                }
            }
            t.extend([
                Task::Text("("),
                Task::Expr(rest[2], 0),
                Task::Text(", True))"),
            ]);
            t
        }
        Node::Func(f, args) => {
            let mut t = vec![Task::Text(f.name()), Task::Text("(")];
            for (i, &a) in args.iter().enumerate() {
                if i > 0 {
                    t.push(Task::Text(", "));
                }
                t.push(Task::Expr(a, 0));
            }
            t.push(Task::Text(")"));
            t
        }
    };
    emit(tasks, out, stack);
}
