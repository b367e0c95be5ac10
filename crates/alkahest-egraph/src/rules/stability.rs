//! Rearrangements whose only purpose is accuracy: they trade a
//! cancellation or an intermediate overflow for an equivalent form. The
//! stability cost and the sampled error measurement decide whether to use
//! them.

use super::{and, conjugate_ok, nonzero, pos, rules};

rules! {
    /// `sqrt(a) - sqrt(b) = (a - b) / (sqrt(a) + sqrt(b))`. Needs
    /// `sqrt(a) + sqrt(b) != 0`: `a > 0` or `b > 0` provably, or `a - b` a
    /// nonzero constant.
    sqrt_conj: "(- (sqrt ?a) (sqrt ?b))" => "(/ (- ?a ?b) (+ (sqrt ?a) (sqrt ?b)))" if conjugate_ok("?a", "?b");
    /// `sqrt(a) - b = (a - b b) / (sqrt(a) + b)`. Needs `b > 0` provably.
    sqrt_conj_sub: "(- (sqrt ?a) ?b)" => "(/ (- ?a (* ?b ?b)) (+ (sqrt ?a) ?b))" if pos("?b");
    /// `b - sqrt(a) = (b b - a) / (b + sqrt(a))`. Needs `b > 0` provably.
    sqrt_conj_sub2: "(- ?b (sqrt ?a))" => "(/ (- (* ?b ?b) ?a) (+ ?b (sqrt ?a)))" if pos("?b");
    /// `a a - b b = (a + b)(a - b)`. Unconditional.
    diff_squares: "(- (* ?a ?a) (* ?b ?b))" => "(* (+ ?a ?b) (- ?a ?b))";
    /// `sqrt(a a + b b) = hypot(a, b)`. Unconditional.
    hypot_def: "(sqrt (+ (* ?a ?a) (* ?b ?b)))" => "(hypot ?a ?b)";
    /// `sqrt(1 + a a) = hypot(1, a)`. Unconditional.
    hypot_one: "(sqrt (+ 1 (* ?a ?a)))" => "(hypot 1 ?a)";
    /// `1 / (1 + exp(-a)) = exp(min(a, 0)) / (1 + exp(-|a|))`. Unconditional;
    /// the right side never overflows.
    logistic: "(/ 1 (+ 1 (exp (neg ?a))))" => "(/ (exp (min ?a 0)) (+ 1 (exp (neg (abs ?a)))))";
    /// `exp(a) / (1 + exp(a)) = exp(min(a, 0)) / (1 + exp(-|a|))`. Unconditional.
    logistic_exp: "(/ (exp ?a) (+ 1 (exp ?a)))" => "(/ (exp (min ?a 0)) (+ 1 (exp (neg (abs ?a)))))";
    /// `log1p(exp(a)) = max(a, 0) + log1p(exp(-|a|))` (softplus). Unconditional.
    softplus: "(log1p (exp ?a))" => "(+ (max ?a 0) (log1p (exp (neg (abs ?a)))))";
    /// `log(exp(a) + exp(b)) = max(a, b) + log1p(exp(-|a - b|))`. Unconditional.
    logsumexp: "(log (+ (exp ?a) (exp ?b)))" => "(+ (max ?a ?b) (log1p (exp (neg (abs (- ?a ?b))))))";
    /// Quadratic root `(sqrt(b b - 4 a c) - b) / (2 a) = -2c / (b + sqrt(b b - 4 a c))`.
    /// Needs `a != 0` and `c != 0` provably (then the new denominator is
    /// nonzero wherever the root is real).
    quadratic_plus: "(/ (- (sqrt (- (* ?b ?b) (* 4 (* ?a ?c)))) ?b) (* 2 ?a))" => "(/ (* -2 ?c) (+ ?b (sqrt (- (* ?b ?b) (* 4 (* ?a ?c))))))" if and(nonzero("?a"), nonzero("?c"));
    /// Quadratic root `(-b - sqrt(b b - 4 a c)) / (2 a) = 2c / (sqrt(b b - 4 a c) - b)`.
    /// Needs `a != 0` and `c != 0` provably.
    quadratic_minus: "(/ (- (neg ?b) (sqrt (- (* ?b ?b) (* 4 (* ?a ?c))))) (* 2 ?a))" => "(/ (* 2 ?c) (- (sqrt (- (* ?b ?b) (* 4 (* ?a ?c)))) ?b))" if and(nonzero("?a"), nonzero("?c"));
}
