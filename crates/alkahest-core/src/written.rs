//! The written form of an expression: its operations as the user wrote them.
//!
//! The pool stores every expression in canonical form: sums and products
//! are flattened and sorted, float constants fold, `a/b` is `a*b**-1`. That
//! is what makes equality and hashing O(1), but IEEE arithmetic is not
//! associative, so the canonical form can evaluate differently from the
//! formula the user wrote: `(x*y)*z` and `x*(y*z)` are one node, yet they
//! round (and overflow) differently. `optimize="none"` promises to evaluate
//! the formula as written, operation for operation, so the builders record,
//! next to the canonical id, a [`Written`] tree of the operations applied.
//!
//! A [`Written`] is an immutable tree of reference-counted steps whose
//! leaves are canonical expressions ([`Written::expr`]): a symbol, a
//! constant, or anything that did not come from an operator (a derivative,
//! a pool file, SymPy's own canonical form). A step whose canonical result
//! evaluates exactly like the step itself collapses into a leaf
//! ([`Written::op`]), so an expression written in canonical order carries
//! no extra tree at all, and only the regrouped parts keep their steps.
//! Equality and hashing of expressions stay canonical: `(x*y)*z == x*(y*z)`.
//!
//! Like every traversal in this crate, the ones here are loops (a 10^6-step
//! chain from `s = s + t` in a loop cannot overflow the stack), and so is
//! dropping a long chain.

use std::sync::Arc;

use hashbrown::HashMap;
use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::error::Result;
use crate::node::{ContentKey, ExprId, Func, Node};
use crate::number::Number;
use crate::pool::ExprPool;

/// One operation as written; its operands are the step's arguments, in order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum WrittenOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `-a`.
    Neg,
    /// `a ** b`.
    Pow,
    /// A function applied to its arguments.
    Func(Func),
}

impl WrittenOp {
    /// How many operands the operation takes.
    pub fn arity(self) -> usize {
        match self {
            WrittenOp::Neg => 1,
            WrittenOp::Add | WrittenOp::Sub | WrittenOp::Mul | WrittenOp::Div | WrittenOp::Pow => 2,
            WrittenOp::Func(f) => f.arity(),
        }
    }

    /// Stable byte tag and argument (content keys and the pool file's
    /// written-forms section): the argument is the function's position in
    /// [`Func`] for a function, else 0.
    pub fn code(self) -> (u8, u8) {
        match self {
            WrittenOp::Add => (1, 0),
            WrittenOp::Sub => (2, 0),
            WrittenOp::Mul => (3, 0),
            WrittenOp::Div => (4, 0),
            WrittenOp::Neg => (5, 0),
            WrittenOp::Pow => (6, 0),
            WrittenOp::Func(f) => (7, f as u8),
        }
    }

    /// Inverse of [`WrittenOp::code`]; `None` for an unknown tag.
    pub fn from_code(tag: u8, arg: u8) -> Option<WrittenOp> {
        Some(match tag {
            1 => WrittenOp::Add,
            2 => WrittenOp::Sub,
            3 => WrittenOp::Mul,
            4 => WrittenOp::Div,
            5 => WrittenOp::Neg,
            6 => WrittenOp::Pow,
            7 => WrittenOp::Func(*Func::ALL.get(arg as usize)?),
            _ => return None,
        })
    }
}

enum Step {
    Expr(ExprId),
    Op(WrittenOp, Box<[Written]>),
}

/// How an expression was written (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Written(Arc<Step>);

/// One step of a [`Written`] tree, for walking it.
pub enum WrittenView<'a> {
    /// A canonical expression, evaluated as the pool stores it.
    Expr(ExprId),
    /// An operation on written operands.
    Op(WrittenOp, &'a [Written]),
}

impl std::fmt::Debug for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.view() {
            WrittenView::Expr(id) => write!(f, "Expr({})", id.0),
            WrittenView::Op(op, args) => write!(f, "{op:?}{args:?}"),
        }
    }
}

impl Drop for Step {
    /// Unlink children iteratively: the default recursive drop of a
    /// 10^6-step chain would overflow the stack.
    fn drop(&mut self) {
        let Step::Op(_, args) = self else { return };
        let mut stack: Vec<Written> = std::mem::take(args).into_vec();
        while let Some(w) = stack.pop() {
            if let Some(mut step) = Arc::into_inner(w.0)
                && let Step::Op(_, args) = &mut step
            {
                stack.extend(std::mem::take(args).into_vec());
            }
        }
    }
}

/// A node's address, for memo tables over a shared tree.
fn addr(w: &Written) -> usize {
    Arc::as_ptr(&w.0) as usize
}

impl Written {
    /// A canonical expression as a leaf.
    pub fn expr(id: ExprId) -> Written {
        Written(Arc::new(Step::Expr(id)))
    }

    /// `op(args)`, whose canonical form (what the pool's builder returned
    /// for the same operands) is `canonical`. It collapses into the leaf
    /// `canonical` when every operand is a leaf and the canonical node is
    /// exactly that operation on them, so it lowers to the same IEEE
    /// operation (see [`collapses`]). Panics if `args` has the wrong length
    /// for `op` (a bug in the caller, not an input error).
    pub fn op(pool: &ExprPool, op: WrittenOp, args: Vec<Written>, canonical: ExprId) -> Written {
        assert_eq!(
            args.len(),
            op.arity(),
            "{op:?} takes {} operands",
            op.arity()
        );
        let leaves: Option<Vec<ExprId>> = args.iter().map(Written::leaf).collect();
        if let Some(leaves) = leaves
            && collapses(pool, op, &leaves, canonical)
        {
            return Written::expr(canonical);
        }
        Written(Arc::new(Step::Op(op, args.into_boxed_slice())))
    }

    /// `op(args)` kept as a step whatever its canonical form (for forms
    /// built in several steps at once, e.g. a sum of many terms written
    /// left to right). Panics if `args` has the wrong length for `op`.
    pub fn step(op: WrittenOp, args: Vec<Written>) -> Written {
        assert_eq!(
            args.len(),
            op.arity(),
            "{op:?} takes {} operands",
            op.arity()
        );
        Written(Arc::new(Step::Op(op, args.into_boxed_slice())))
    }

    /// The address of this step, the same for every clone: a key for memo
    /// tables over a shared tree.
    pub fn identity(&self) -> *const () {
        Arc::as_ptr(&self.0) as *const ()
    }

    /// The canonical expression, when this is a leaf.
    pub fn leaf(&self) -> Option<ExprId> {
        match *self.0 {
            Step::Expr(id) => Some(id),
            Step::Op(..) => None,
        }
    }

    /// This step, for walking the tree.
    pub fn view(&self) -> WrittenView<'_> {
        match &*self.0 {
            Step::Expr(id) => WrittenView::Expr(*id),
            Step::Op(op, args) => WrittenView::Op(*op, args),
        }
    }

    /// The distinct steps reachable from `roots`, children before parents
    /// (each once, however often it is shared).
    pub fn post_order(roots: &[Written]) -> Vec<Written> {
        let mut seen: HashMap<usize, ()> = HashMap::new();
        let mut order = Vec::new();
        let mut stack: Vec<(Written, bool)> =
            roots.iter().rev().map(|w| (w.clone(), false)).collect();
        while let Some((w, expanded)) = stack.pop() {
            if expanded {
                order.push(w);
                continue;
            }
            if seen.insert(addr(&w), ()).is_some() {
                continue;
            }
            let children: Vec<Written> = match w.view() {
                WrittenView::Expr(_) => Vec::new(),
                WrittenView::Op(_, args) => args.to_vec(),
            };
            stack.push((w, true));
            for c in children.into_iter().rev() {
                if !seen.contains_key(&addr(&c)) {
                    stack.push((c, false));
                }
            }
        }
        order
    }

    /// The canonical leaves reachable from `roots`, each once, in first-seen
    /// order.
    pub fn leaves(roots: &[Written]) -> Vec<ExprId> {
        let mut out = Vec::new();
        let mut seen = hashbrown::HashSet::new();
        for w in Written::post_order(roots) {
            if let Some(id) = w.leaf()
                && seen.insert(id)
            {
                out.push(id);
            }
        }
        out
    }

    /// Content keys of `roots` (a leaf's is its expression's
    /// [`ContentKey`]): equal written forms give equal keys in every pool
    /// and process, so compiled code can be cached by them.
    pub fn content_keys(pool: &ExprPool, roots: &[Written]) -> Result<Vec<ContentKey>> {
        let mut keys: HashMap<usize, ContentKey> = HashMap::new();
        for w in Written::post_order(roots) {
            let k = match w.view() {
                WrittenView::Expr(id) => pool.key(id)?,
                WrittenView::Op(op, args) => {
                    let (tag, arg) = op.code();
                    let mut bytes = Vec::with_capacity(3 + 16 * args.len());
                    bytes.extend_from_slice(&[b'W', tag, arg]);
                    for a in args {
                        bytes.extend_from_slice(&keys[&addr(a)].0.to_le_bytes());
                    }
                    ContentKey(xxh3_128_with_seed(&bytes, 0x0077_7269_7474_656e))
                }
            };
            keys.insert(addr(&w), k);
        }
        Ok(roots.iter().map(|r| keys[&addr(r)]).collect())
    }
}

/// Whether `op(leaves)` lowers to the same IEEE operations as its canonical
/// form `canonical`, so the step can be forgotten. Deliberately narrow: the
/// canonical node must be exactly that one operation on exactly those
/// operands; anything the builder regrouped, reordered across more than two
/// operands, folded or simplified keeps its written step.
fn collapses(pool: &ExprPool, op: WrittenOp, leaves: &[ExprId], canonical: ExprId) -> bool {
    let v = pool.view();
    let Some(node) = v.get(canonical) else {
        return false;
    };
    let is_number = |id: ExprId| {
        matches!(
            v.get(id),
            Some(Node::Integer(_) | Node::Rational(_) | Node::Float(_))
        )
    };
    // A factor that lowering would move into a denominator (an exact
    // negative exponent), or a product it would merge with: `a * b` over
    // such operands is not one multiplication.
    let plain_factor = |id: ExprId| match v.get(id) {
        Some(Node::Pow([_, e])) => match v.get(*e) {
            Some(Node::Integer(i)) => !Number::Int(i.clone()).is_negative(),
            Some(Node::Rational(r)) => !Number::Rat(r.clone()).is_negative(),
            _ => true,
        },
        Some(Node::Mul(_)) => false,
        Some(_) => true,
        None => false,
    };
    let is_minus_one =
        |id: ExprId| matches!(v.get(id), Some(Node::Integer(i)) if *i == (-1).into());
    let same_pair = |ops: &[ExprId], a: ExprId, b: ExprId| {
        ops.len() == 2 && ((ops[0] == a && ops[1] == b) || (ops[0] == b && ops[1] == a))
    };
    match (op, node) {
        // A sum of two terms lowers to one addition or subtraction, and
        // `a + (-b)` equals `a - b` in IEEE arithmetic.
        (WrittenOp::Add, Node::Add(ops)) => {
            same_pair(ops, leaves[0], leaves[1])
                && !matches!(v.get(leaves[0]), Some(Node::Add(_)))
                && !matches!(v.get(leaves[1]), Some(Node::Add(_)))
        }
        (WrittenOp::Mul, Node::Mul(ops)) => {
            same_pair(ops, leaves[0], leaves[1])
                && leaves.iter().all(|&l| is_number(l) || plain_factor(l))
        }
        // `-a` is `(-1)*a`, which lowers to one negation.
        (WrittenOp::Neg, Node::Mul(ops)) => {
            ops.len() == 2 && is_minus_one(ops[0]) && ops[1] == leaves[0] && plain_factor(leaves[0])
        }
        // `a - b` is `a + (-1)*b`, which lowers to one subtraction.
        (WrittenOp::Sub, Node::Add(ops)) => {
            let negated_b = |t: ExprId| {
                matches!(v.get(t), Some(Node::Mul(m))
                    if m.len() == 2 && is_minus_one(m[0]) && m[1] == leaves[1])
            };
            ops.len() == 2
                && plain_factor(leaves[1])
                && !is_number(leaves[1])
                && !matches!(v.get(leaves[0]), Some(Node::Add(_)))
                && ((ops[0] == leaves[0] && negated_b(ops[1]))
                    || (ops[1] == leaves[0] && negated_b(ops[0])))
        }
        (WrittenOp::Pow, Node::Pow([b, e])) => *b == leaves[0] && *e == leaves[1],
        (WrittenOp::Func(f), Node::Func(g, args)) => f == *g && **args == *leaves,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(p: &ExprPool, op: WrittenOp, a: &Written, b: &Written, canonical: ExprId) -> Written {
        Written::op(p, op, vec![a.clone(), b.clone()], canonical)
    }

    #[test]
    fn canonical_order_collapses_and_regrouping_does_not() {
        let p = ExprPool::new();
        let (x, y, z) = (
            p.symbol("x").unwrap(),
            p.symbol("y").unwrap(),
            p.symbol("z").unwrap(),
        );
        let (wx, wy, wz) = (Written::expr(x), Written::expr(y), Written::expr(z));
        let xy = p.mul(&[x, y]).unwrap();
        let w_xy = build(&p, WrittenOp::Mul, &wx, &wy, xy);
        assert_eq!(w_xy.leaf(), Some(xy));
        let yz = p.mul(&[y, z]).unwrap();
        let w_yz = build(&p, WrittenOp::Mul, &wy, &wz, yz);
        let xyz = p.mul(&[x, yz]).unwrap();
        // x*(y*z) is the flat x*y*z in the pool, but not as written.
        let w = build(&p, WrittenOp::Mul, &wx, &w_yz, xyz);
        assert!(w.leaf().is_none());
        // sin(x) and x**y are one operation either way.
        let s = p.func(Func::Sin, &[x]).unwrap();
        assert_eq!(
            Written::op(&p, WrittenOp::Func(Func::Sin), vec![wx.clone()], s).leaf(),
            Some(s)
        );
        // a / b is not a * (1/b): dividing keeps its step unless it is the
        // canonical two-factor form.
        let d = p.div(x, y).unwrap();
        let w_d = build(&p, WrittenOp::Div, &wx, &wy, d);
        assert!(w_d.leaf().is_none());
    }

    #[test]
    fn keys_tell_groupings_apart() {
        let p = ExprPool::new();
        let (x, y, z) = (
            p.symbol("x").unwrap(),
            p.symbol("y").unwrap(),
            p.symbol("z").unwrap(),
        );
        let (wx, wy, wz) = (Written::expr(x), Written::expr(y), Written::expr(z));
        let xy = p.add(&[x, y]).unwrap();
        let yz = p.add(&[y, z]).unwrap();
        let all = p.add(&[x, y, z]).unwrap();
        let left = Written(Arc::new(Step::Op(
            WrittenOp::Add,
            vec![Written::expr(xy), wz.clone()].into(),
        )));
        let right = Written(Arc::new(Step::Op(
            WrittenOp::Add,
            vec![wx.clone(), Written::expr(yz)].into(),
        )));
        let _ = (wy, all);
        let k = Written::content_keys(&p, &[left.clone(), right.clone()]).unwrap();
        assert_ne!(k[0], k[1]);
    }

    #[test]
    fn a_million_step_chain_drops_without_recursion() {
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let mut w = Written::expr(x);
        for _ in 0..1_000_000 {
            w = Written(Arc::new(Step::Op(WrittenOp::Neg, vec![w].into())));
        }
        assert_eq!(
            Written::post_order(std::slice::from_ref(&w)).len(),
            1_000_001
        );
        drop(w);
    }
}
