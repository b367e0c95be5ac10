//! Rewrite rules, grouped by topic.
//!
//! Every rule is a named function whose doc comment states the identity and
//! its side conditions; `rules()` of each module lists them. The invariants
//! all rules keep are in the crate README: both sides are defined (finite
//! reals) on exactly the same finite real inputs of the declared domain and
//! equal there. A rule that would change the domain (`x/x -> 1` at `x = 0`,
//! `x*0 -> 0` where `x` may be undefined) carries a guard that proves it
//! from the e-class facts ([`crate::Facts`]).
//!
//! Conditions (comparisons, `and`/`or`/`not`) are opaque: no pattern
//! matches inside one, and every pattern variable binds a number except the
//! condition `?c` of [`select`]'s `where` patterns, which is only read (its
//! analysed truth value), never placed anywhere. A right-hand side may
//! build a *fresh* condition over numbers, only as the first argument of a
//! `where` it builds (the domain-keeping selections: `log_sub_select`,
//! `quadratic_plus_select`, `sqrt_conj_select`, `discriminant_scaled`,
//! ...). So rules cannot move a condition where a number is expected, and
//! no e-class mixes conditions and numbers.
//!
//! Such a selection's other branch is never the left side itself (an
//! e-class cannot use itself) but a form equal to it only where the
//! condition fails (`0`, `-2b`, `(|b| - b)/(2a)`) or NaN where the left
//! side is undefined there.

use egg::{Id, Subst, Var};

use crate::analysis::{Facts, MathGraph};
use crate::lang::{Const, Math};

pub mod arithmetic;
pub mod explog;
pub mod log1p;
pub mod overflow;
pub mod powers;
pub(crate) mod reach;
pub mod roots;
pub mod select;
pub mod stability;
pub mod trig;

/// A rewrite over this crate's language and analysis.
pub type Rw = egg::Rewrite<Math, crate::analysis::MathAnalysis>;

/// Declare rules: `/// doc` then `name: "lhs" => "rhs" [if guard]*;`.
/// Each becomes `pub fn name() -> Rw`, and `rules()` lists them all.
macro_rules! rules {
    ($( $(#[doc = $doc:expr])* $name:ident : $lhs:literal => $rhs:literal $(if $cond:expr)* ;)*) => {
        $(
            $(#[doc = $doc])*
            pub fn $name() -> crate::rules::Rw {
                egg::rewrite!(stringify!($name); $lhs => $rhs $(if $cond)*)
            }
        )*
        /// Every rule of this module, in declaration order.
        pub fn rules() -> Vec<crate::rules::Rw> {
            vec![$($name()),*]
        }
        /// `(name, lhs, rhs)` of every rule of this module (guards left out).
        pub fn patterns() -> Vec<(&'static str, &'static str, &'static str)> {
            vec![$((stringify!($name), $lhs, $rhs)),*]
        }
    };
}
pub(crate) use rules;

/// Every rule of every topic.
pub fn all() -> Vec<Rw> {
    let mut v = arithmetic::rules();
    v.extend(arithmetic::negative_constant_rules());
    v.extend(powers::rules());
    v.extend(explog::rules());
    v.extend(trig::rules());
    v.extend(stability::rules());
    v.extend(log1p::rules());
    v.extend(roots::rules());
    v.extend(overflow::rules());
    v.extend(select::rules());
    v
}

/// `(name, lhs, rhs)` of the rules whose purpose is accuracy (the
/// `stability`, `log1p`, `roots`, `overflow`, `trig` and `explog` topics):
/// the candidate search tries the nodes they built first.
pub fn accuracy_patterns() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut v = stability::patterns();
    v.extend(log1p::patterns());
    v.extend(roots::patterns());
    v.extend(overflow::patterns());
    v.extend(trig::patterns());
    v.extend(explog::patterns());
    v
}

fn var(name: &str) -> Var {
    // Only called with the literal names below, which always parse.
    name.parse()
        .unwrap_or_else(|_| unreachable!("pattern variable {name}"))
}

fn facts<'a>(eg: &'a MathGraph, s: &Subst, v: Var) -> Option<&'a Facts> {
    s.get(v).map(|&id| &eg[id].data)
}

type Guard = Box<dyn Fn(&mut MathGraph, Id, &Subst) -> bool + Send + Sync>;

fn fact_guard(name: &str, p: fn(&Facts) -> bool) -> Guard {
    let v = var(name);
    Box::new(move |eg: &mut MathGraph, _, s: &Subst| facts(eg, s, v).is_some_and(p))
}

/// `?v` is defined for every input (safe to drop or to duplicate).
pub(crate) fn total(name: &str) -> Guard {
    fact_guard(name, |f| f.total)
}

/// `?v` is provably nonzero.
pub(crate) fn nonzero(name: &str) -> Guard {
    fact_guard(name, Facts::is_nonzero)
}

/// `?v` is provably positive.
pub(crate) fn pos(name: &str) -> Guard {
    fact_guard(name, Facts::is_pos)
}

/// `?v` is provably nonnegative.
pub(crate) fn nonneg(name: &str) -> Guard {
    fact_guard(name, Facts::is_nonneg)
}

/// The condition `?v` provably holds (at every input in range, where it
/// is defined everywhere).
pub(crate) fn holds(name: &str) -> Guard {
    fact_guard(name, |f| crate::analysis::truth(f) == Some(true))
}

/// The condition `?v` provably fails (at every input in range, where it
/// is defined everywhere).
pub(crate) fn fails(name: &str) -> Guard {
    fact_guard(name, |f| crate::analysis::truth(f) == Some(false))
}

/// `?v > -1` provably (so `1 + ?v > 0`).
pub(crate) fn gt_minus_one(name: &str) -> Guard {
    fact_guard(name, |f| f.lo > -1.0)
}

/// `?a * ?b > -1` provably (interval product).
pub(crate) fn product_gt_minus_one(a: &str, b: &str) -> Guard {
    let (va, vb) = (var(a), var(b));
    Box::new(move |eg: &mut MathGraph, _, s: &Subst| {
        let (Some(fa), Some(fb)) = (facts(eg, s, va), facts(eg, s, vb)) else {
            return false;
        };
        let p = [fa.lo * fb.lo, fa.lo * fb.hi, fa.hi * fb.lo, fa.hi * fb.hi];
        !p.iter().any(|x| x.is_nan()) && p.iter().all(|&x| x > -1.0 + 1e-9)
    })
}

/// `sqrt(?a) + sqrt(?b) != 0` wherever both roots are defined: one side is
/// provably positive, or `?a - ?b` is a nonzero constant (`?a` contains
/// `?b + k` or `k + ?b`, or the other way round).
pub(crate) fn conjugate_ok(a: &str, b: &str) -> Guard {
    let (va, vb) = (var(a), var(b));
    Box::new(move |eg: &mut MathGraph, _, s: &Subst| {
        let (Some(&ia), Some(&ib)) = (s.get(va), s.get(vb)) else {
            return false;
        };
        if eg[ia].data.is_pos() || eg[ib].data.is_pos() {
            return true;
        }
        differ_by_constant(eg, ia, ib) || differ_by_constant(eg, ib, ia)
    })
}

/// `?a` or `?b` is provably nonzero, or `?a - ?b` is a nonzero constant
/// (as in [`conjugate_ok`]): then `?a` and `?b` are never both zero.
pub(crate) fn nonzero_pair(a: &str, b: &str) -> Guard {
    let (va, vb) = (var(a), var(b));
    Box::new(move |eg: &mut MathGraph, _, s: &Subst| {
        let (Some(&ia), Some(&ib)) = (s.get(va), s.get(vb)) else {
            return false;
        };
        if eg[ia].data.is_nonzero() || eg[ib].data.is_nonzero() {
            return true;
        }
        differ_by_constant(eg, ia, ib) || differ_by_constant(eg, ib, ia)
    })
}

/// Class `x` holds `y + k` or `k + y` for a nonzero constant `k`.
fn differ_by_constant(eg: &MathGraph, x: Id, y: Id) -> bool {
    let y = eg.find(y);
    let is_k = |id: Id| eg[id].data.constant.as_ref().is_some_and(Const::is_nonzero);
    eg[x].nodes.iter().any(|n| match n {
        Math::Add([p, q]) => (eg.find(*p) == y && is_k(*q)) || (eg.find(*q) == y && is_k(*p)),
        _ => false,
    })
}

/// `?a > 0` provably, or `?c` is a constant that is not an integer (so
/// `?a ** ?c` is NaN for every negative `?a`).
pub(crate) fn pos_or_fractional(a: &str, c: &str) -> Guard {
    let (va, vc) = (var(a), var(c));
    Box::new(move |eg: &mut MathGraph, _, s: &Subst| {
        if facts(eg, s, va).is_some_and(Facts::is_pos) {
            return true;
        }
        facts(eg, s, vc)
            .and_then(|f| f.constant.as_ref())
            .is_some_and(|k| {
                let v = k.to_f64();
                v.is_finite() && v.fract() != 0.0
            })
    })
}

/// Both guards hold.
pub(crate) fn and(a: Guard, b: Guard) -> Guard {
    Box::new(move |eg: &mut MathGraph, id, s: &Subst| a(eg, id, s) && b(eg, id, s))
}
