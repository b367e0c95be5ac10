//! Integer powers, square roots and absolute values.

use super::{nonneg, rules, total};

rules! {
    /// `a^2 = a a`. Unconditional.
    pow_two: "(pow ?a 2)" => "(* ?a ?a)";
    /// `a a = a^2`. Unconditional.
    sq_pow: "(* ?a ?a)" => "(pow ?a 2)";
    /// `a^3 = a a^2`. Unconditional.
    pow_three: "(pow ?a 3)" => "(* ?a (pow ?a 2))";
    /// `a^1 = a`. Unconditional.
    pow_one: "(pow ?a 1)" => "?a";
    /// `a^-1 = 1/a`. Both undefined exactly at `a = 0`.
    pow_neg_one: "(pow ?a -1)" => "(/ 1 ?a)";
    /// `1/a = a^-1`. Both undefined exactly at `a = 0`.
    recip_pow: "(/ 1 ?a)" => "(pow ?a -1)";
    /// `a^(1/2) = sqrt(a)`. Both defined exactly for `a >= 0`.
    pow_half: "(pow ?a 1/2)" => "(sqrt ?a)";
    /// `sqrt(a) = a^(1/2)`. Both defined exactly for `a >= 0`.
    sqrt_pow: "(sqrt ?a)" => "(pow ?a 1/2)";
    /// `sqrt(a a) = |a|`. Unconditional (the square is never negative).
    sqrt_sq: "(sqrt (* ?a ?a))" => "(abs ?a)";
    /// `sqrt(a) sqrt(a) = a`. Needs `a >= 0` provably and `a` total.
    sq_sqrt: "(* (sqrt ?a) (sqrt ?a))" => "?a" if nonneg("?a") if total("?a");
    /// `|a| |a| = a a`. Unconditional.
    abs_sq: "(* (abs ?a) (abs ?a))" => "(* ?a ?a)";
    /// `|a| = a`. Needs `a >= 0` provably.
    abs_nonneg: "(abs ?a)" => "?a" if nonneg("?a");
}
