//! Rescaling against overflow and underflow: squares of large (or tiny)
//! numbers leave the double range long before the result does.

use super::{and, nonneg, rules};

rules! {
    /// `sqrt(a a + b b + c c) = hypot(hypot(a, b), c)`. Unconditional.
    hypot3: "(sqrt (+ (+ (* ?a ?a) (* ?b ?b)) (* ?c ?c)))" => "(hypot (hypot ?a ?b) ?c)";
    /// `log(a a + b b) = 2 log(hypot(a, b))`. Same domain (both need
    /// `a a + b b > 0`).
    log_hypot: "(log (+ (* ?a ?a) (* ?b ?b)))" => "(* 2 (log (hypot ?a ?b)))";
    /// `sqrt(a b) = sqrt(a) sqrt(b)`. Needs `a >= 0` and `b >= 0` provably
    /// (else the left side is defined for two negative factors).
    sqrt_mul: "(sqrt (* ?a ?b))" => "(* (sqrt ?a) (sqrt ?b))" if and(nonneg("?a"), nonneg("?b"));
    /// `a^2 / b^2 = (a / b)^2`. Same domain (`b != 0`).
    pow2_div: "(/ (pow ?a 2) (pow ?b 2))" => "(pow (/ ?a ?b) 2)";
    /// The discriminant without squaring: `sqrt(b b - 4 a c) =
    /// where(sign(a) c < 0, hypot(b, g), sqrt(|b| - g) sqrt(|b| + g))` with
    /// `g = 2 sqrt|a| sqrt|c|` (`g^2 = 4|a c|`). Same domain: for `a c < 0`
    /// both sides are always defined; otherwise `|b| >= g` exactly where
    /// `b b >= 4 a c`. Unconditional. Nothing is squared, so it holds for
    /// `|b|` up to the largest double, where `b b` overflows.
    discriminant_scaled: "(sqrt (- (* ?b ?b) (* 4 (* ?a ?c))))" => "(where (< (* (copysign 1 ?a) ?c) 0) (hypot ?b (* 2 (* (sqrt (abs ?a)) (sqrt (abs ?c))))) (* (sqrt (- (abs ?b) (* 2 (* (sqrt (abs ?a)) (sqrt (abs ?c)))))) (sqrt (+ (abs ?b) (* 2 (* (sqrt (abs ?a)) (sqrt (abs ?c))))))))";
    /// `sqrt(a a - 1) = where(a > 0, sqrt(a + 1) sqrt(a - 1), sqrt(-a - 1) sqrt(1 - a))`.
    /// Same domain: `|a| >= 1` on both sides (`a >= 1` in the first branch,
    /// `a <= -1` in the second). Unconditional; nothing is squared.
    sqrt_sq_minus_one: "(sqrt (- (* ?a ?a) 1))" => "(where (> ?a 0) (* (sqrt (+ ?a 1)) (sqrt (- ?a 1))) (* (sqrt (- (neg ?a) 1)) (sqrt (- 1 ?a))))";
}
