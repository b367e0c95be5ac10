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
    /// The quadratic root `(sqrt(b b - 4 a c) - b) / (2 a)` in its
    /// cancellation-free form where it is defined the same way:
    /// `where(a != 0 and c != 0, -2c / (b + sqrt(b b - 4 a c)), (|b| - b) / (2 a))`.
    /// Same domain: with `a c != 0` both forms are defined exactly where the
    /// discriminant is `>= 0`; with `c = 0` the root is `(|b| - b)/(2a)`;
    /// with `a = 0` both sides divide by zero. Unconditional (the guarded
    /// `quadratic_plus` gives the plain form when `a` and `c` are provably
    /// nonzero). Which form wins depends on the sign of `b`: regimes.
    quadratic_plus_select: "(/ (- (sqrt (- (* ?b ?b) (* 4 (* ?a ?c)))) ?b) (* 2 ?a))" => "(where (and (!= ?a 0) (!= ?c 0)) (/ (* -2 ?c) (+ ?b (sqrt (- (* ?b ?b) (* 4 (* ?a ?c)))))) (/ (- (abs ?b) ?b) (* 2 ?a)))";
    /// The other root `(-b - sqrt(b b - 4 a c)) / (2 a)`:
    /// `where(a != 0 and c != 0, 2c / (sqrt(b b - 4 a c) - b), (-b - |b|) / (2 a))`.
    /// Same domain, by the argument of `quadratic_plus_select`.
    quadratic_minus_select: "(/ (- (neg ?b) (sqrt (- (* ?b ?b) (* 4 (* ?a ?c))))) (* 2 ?a))" => "(where (and (!= ?a 0) (!= ?c 0)) (/ (* 2 ?c) (- (sqrt (- (* ?b ?b) (* 4 (* ?a ?c)))) ?b)) (/ (- (neg ?b) (abs ?b)) (* 2 ?a)))";
    /// `1 / (1 + exp(a)) = exp(min(-a, 0)) / (1 + exp(-|a|))`. Unconditional;
    /// the right side never overflows.
    logistic_neg: "(/ 1 (+ 1 (exp ?a)))" => "(/ (exp (min (neg ?a) 0)) (+ 1 (exp (neg (abs ?a)))))";
    /// `exp(a) / expm1(a) = -1 / expm1(-a)`. Same domain (`a != 0`); the
    /// right side does not overflow to `inf/inf` for large `a`.
    exp_over_expm1: "(/ (exp ?a) (expm1 ?a))" => "(/ -1 (expm1 (neg ?a)))";
    /// `sqrt(a) - sqrt(b) = where(sqrt(a) + sqrt(b) != 0, (a - b) / (sqrt(a) + sqrt(b)), 0)`.
    /// Same domain (both roots defined); where the sum of the roots is 0,
    /// `a = b = 0` and the difference is 0. Unconditional: the selection
    /// form of `sqrt_conj` for when its guard cannot be proved (it folds
    /// away when the declared domain decides the condition).
    sqrt_conj_select: "(- (sqrt ?a) (sqrt ?b))" => "(where (!= (+ (sqrt ?a) (sqrt ?b)) 0) (/ (- ?a ?b) (+ (sqrt ?a) (sqrt ?b))) 0)";
    /// `sqrt(a) - b = where(sqrt(a) + b != 0, (a - b b) / (sqrt(a) + b), -2 b)`.
    /// Same domain; where `b = -sqrt(a)` the difference is `-2 b`.
    /// Unconditional (the selection form of `sqrt_conj_sub`).
    sqrt_conj_sub_select: "(- (sqrt ?a) ?b)" => "(where (!= (+ (sqrt ?a) ?b) 0) (/ (- ?a (* ?b ?b)) (+ (sqrt ?a) ?b)) (* -2 ?b))";
    /// `b - sqrt(a) = where(b + sqrt(a) != 0, (b b - a) / (b + sqrt(a)), 2 b)`.
    /// Same domain; where `b = -sqrt(a)` the difference is `2 b`.
    /// Unconditional (the selection form of `sqrt_conj_sub2`).
    sqrt_conj_sub2_select: "(- ?b (sqrt ?a))" => "(where (!= (+ ?b (sqrt ?a)) 0) (/ (- (* ?b ?b) ?a) (+ ?b (sqrt ?a))) (* 2 ?b))";
}
