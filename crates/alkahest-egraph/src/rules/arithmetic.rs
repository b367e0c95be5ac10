//! Field axioms and cancellations.
//!
//! Reassociation changes rounding and where overflow happens; that is the
//! cost every symbolic simplifier pays (the pool's builders already flatten
//! sums). Rules that drop a subterm require it to be total, so no undefined
//! point becomes defined.

use super::{nonzero, rules, total};

rules! {
    /// `a + b = b + a`. Unconditional.
    add_comm: "(+ ?a ?b)" => "(+ ?b ?a)";
    /// `a * b = b * a`. Unconditional.
    mul_comm: "(* ?a ?b)" => "(* ?b ?a)";
    /// `a + (b + c) = (a + b) + c`. Unconditional over the reals.
    add_assoc_l: "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)";
    /// `(a + b) + c = a + (b + c)`. Unconditional over the reals.
    add_assoc_r: "(+ (+ ?a ?b) ?c)" => "(+ ?a (+ ?b ?c))";
    /// `a * (b * c) = (a * b) * c`. Unconditional over the reals.
    mul_assoc_l: "(* ?a (* ?b ?c))" => "(* (* ?a ?b) ?c)";
    /// `(a * b) * c = a * (b * c)`. Unconditional over the reals.
    mul_assoc_r: "(* (* ?a ?b) ?c)" => "(* ?a (* ?b ?c))";
    /// `a - b = a + (-b)`. Unconditional.
    sub_to_add: "(- ?a ?b)" => "(+ ?a (neg ?b))";
    /// `a + (-b) = a - b`. Unconditional.
    add_to_sub: "(+ ?a (neg ?b))" => "(- ?a ?b)";
    /// `-a = -1 * a`. Unconditional.
    neg_to_mul: "(neg ?a)" => "(* -1 ?a)";
    /// `-1 * a = -a`. Unconditional.
    mul_to_neg: "(* -1 ?a)" => "(neg ?a)";
    /// `a / b = a * (1/b)`. Both sides undefined exactly where `b = 0`.
    div_to_mul: "(/ ?a ?b)" => "(* ?a (/ 1 ?b))";
    /// `a * (1/b) = a / b`. Both sides undefined exactly where `b = 0`.
    mul_to_div: "(* ?a (/ 1 ?b))" => "(/ ?a ?b)";
    /// `a * (b / c) = (a * b) / c`. Same domain.
    mul_div_assoc: "(* ?a (/ ?b ?c))" => "(/ (* ?a ?b) ?c)";
    /// `(a * b) / c = a * (b / c)`. Same domain.
    div_mul_assoc: "(/ (* ?a ?b) ?c)" => "(* ?a (/ ?b ?c))";
    /// `a + 0 = a`. Unconditional.
    add_zero: "(+ ?a 0)" => "?a";
    /// `a * 1 = a`. Unconditional.
    mul_one: "(* ?a 1)" => "?a";
    /// `a / 1 = a`. Unconditional.
    div_one: "(/ ?a 1)" => "?a";
    /// `a * 0 = 0`. Needs `a` total (else `log(x) * 0` would become defined at `x < 0`).
    mul_zero: "(* ?a 0)" => "0" if total("?a");
    /// `-(-a) = a`. Unconditional.
    neg_neg: "(neg (neg ?a))" => "?a";
    /// `a - a = 0`. Needs `a` total.
    sub_self: "(- ?a ?a)" => "0" if total("?a");
    /// `a / a = 1`. Needs `a` total and provably nonzero (at `a = 0` the left side is undefined).
    div_self: "(/ ?a ?a)" => "1" if total("?a") if nonzero("?a");
    /// `a (b + c) = ab + ac`. Unconditional over the reals.
    distribute: "(* ?a (+ ?b ?c))" => "(+ (* ?a ?b) (* ?a ?c))";
    /// `ab + ac = a (b + c)`. Unconditional over the reals.
    factor: "(+ (* ?a ?b) (* ?a ?c))" => "(* ?a (+ ?b ?c))";
    /// `a (b - c) = ab - ac`. Unconditional over the reals.
    distribute_sub: "(* ?a (- ?b ?c))" => "(- (* ?a ?b) (* ?a ?c))";
    /// `ab - ac = a (b - c)`. Unconditional over the reals.
    factor_sub: "(- (* ?a ?b) (* ?a ?c))" => "(* ?a (- ?b ?c))";
    /// `(-a) b = -(ab)`. Unconditional.
    mul_neg: "(* (neg ?a) ?b)" => "(neg (* ?a ?b))";
    /// `-(ab) = (-a) b`. Unconditional.
    neg_mul: "(neg (* ?a ?b))" => "(* (neg ?a) ?b)";
    /// `a - (-b) = a + b`. Unconditional.
    sub_neg: "(- ?a (neg ?b))" => "(+ ?a ?b)";
    /// `-(a - b) = b - a`. Unconditional.
    neg_sub: "(neg (- ?a ?b))" => "(- ?b ?a)";
    /// `(a + b) - a = b`. Needs `a` total.
    add_sub_cancel: "(- (+ ?a ?b) ?a)" => "?b" if total("?a");
    /// `(a - b) + b = a`. Needs `b` total.
    sub_add_cancel: "(+ (- ?a ?b) ?b)" => "?a" if total("?b");
    /// `a - (a + b) = -b`. Needs `a` total.
    sub_sub_cancel: "(- ?a (+ ?a ?b))" => "(neg ?b)" if total("?a");
    /// `(a - b) - a = -b`. Needs `a` total.
    sub_sub_cancel2: "(- (- ?a ?b) ?a)" => "(neg ?b)" if total("?a");
    /// `(a / b) / c = a / (b c)`. Same domain (`b = 0` or `c = 0` on both sides).
    div_div: "(/ (/ ?a ?b) ?c)" => "(/ ?a (* ?b ?c))";
    /// `(a + b) / c = a/c + b/c`. Same domain.
    div_add: "(/ (+ ?a ?b) ?c)" => "(+ (/ ?a ?c) (/ ?b ?c))";
    /// `a/c + b/c = (a + b) / c`. Same domain.
    add_div: "(+ (/ ?a ?c) (/ ?b ?c))" => "(/ (+ ?a ?b) ?c)";
    /// `(a b) / b = a`. Needs `b` total and provably nonzero.
    mul_div_cancel: "(/ (* ?a ?b) ?b)" => "?a" if total("?b") if nonzero("?b");
    /// `(a / b) b = a`. Needs `b` total and provably nonzero.
    div_mul_cancel: "(* (/ ?a ?b) ?b)" => "?a" if total("?b") if nonzero("?b");
    /// `1/a - 1/b = (b - a) / (a b)`. Same domain (`a = 0` or `b = 0` on both sides).
    recip_sub: "(- (/ 1 ?a) (/ 1 ?b))" => "(/ (- ?b ?a) (* ?a ?b))";
}

/// Moves the sign out of a negative constant operand, so that rules written
/// with `-` and `neg` see the pool's `x + (-1)` and `-4 * y`.
struct NegConst {
    a: egg::Var,
    c: egg::Var,
    product: bool,
}

impl egg::Applier<crate::lang::Math, crate::analysis::MathAnalysis> for NegConst {
    fn apply_one(
        &self,
        eg: &mut crate::analysis::MathGraph,
        eclass: egg::Id,
        subst: &egg::Subst,
        _ast: Option<&egg::PatternAst<crate::lang::Math>>,
        _rule: egg::Symbol,
    ) -> Vec<egg::Id> {
        use crate::lang::{Const, Math};
        let Some(c) = eg[subst[self.c]].data.constant.clone() else {
            return vec![];
        };
        if !c.is_negative() {
            return vec![];
        }
        let mag = match c {
            Const::Exact(r) => Const::rational(-num_rational::BigRational::clone(&r)),
            Const::Float(b) => Const::Float((-f64::from_bits(b)).to_bits()),
        };
        let k = eg.add(Math::Num(mag));
        let a = subst[self.a];
        let new = if self.product {
            let m = eg.add(Math::Mul([k, a]));
            eg.add(Math::Neg(m))
        } else {
            eg.add(Math::Sub([a, k]))
        };
        if eg.union(eclass, new) {
            vec![new]
        } else {
            vec![]
        }
    }
}

/// `a + c = a - |c|` and `c a = -(|c| a)` for a negative constant `c`
/// (exact or float; a float keeps its magnitude bits). Unconditional.
pub fn negative_constant_rules() -> Vec<super::Rw> {
    let mk = |name: &str, pat: &str, product: bool| -> Option<super::Rw> {
        let searcher: egg::Pattern<crate::lang::Math> = pat.parse().ok()?;
        let applier = NegConst {
            a: "?a".parse().ok()?,
            c: "?c".parse().ok()?,
            product,
        };
        egg::Rewrite::new(name, searcher, applier).ok()
    };
    [
        mk("add_neg_const", "(+ ?a ?c)", false),
        mk("mul_neg_const", "(* ?c ?a)", true),
    ]
    .into_iter()
    .flatten()
    .collect()
}
