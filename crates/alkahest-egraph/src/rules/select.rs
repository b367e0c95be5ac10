//! `where(c, a, b)` whose condition is decided by the analysis.
//!
//! Conditions themselves are opaque: no rule matches inside a condition,
//! and a rule builds one only as the first argument of a `where` it builds
//! (see [`crate::rules`]). Here `?c` binds a condition, but only to read its analysed
//! truth; the right-hand sides are branches (numbers), so the class of the
//! `where` stays a number class. These rules only drop a `where` whose
//! branch is known; the condition's truth comes from its [`crate::Facts`],
//! which claims it only for a condition defined at every input in range.

use super::{fails, holds, rules, total};

rules! {
    /// `where(c, a, b) = a` where `c` provably holds (and is defined
    /// everywhere). Same domain: `where` is defined exactly where the
    /// branch it picks is.
    where_true: "(where ?c ?a ?b)" => "?a" if holds("?c");
    /// `where(c, a, b) = b` where `c` provably fails (and is defined
    /// everywhere). Same domain.
    where_false: "(where ?c ?a ?b)" => "?b" if fails("?c");
    /// `where(c, a, a) = a`. Needs `c` total (its operands defined).
    where_same: "(where ?c ?a ?a)" => "?a" if total("?c");
}
