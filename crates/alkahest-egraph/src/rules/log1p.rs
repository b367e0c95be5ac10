//! Logarithms of ratios and differences of logarithms, rewritten so the
//! small quantity reaches `log1p` (or `atanh`) instead of being rounded
//! into `1 + small` first.

use super::rules;

rules! {
    /// `log(a / b) = log1p((a - b) / b)`. Same domain: `1 + (a - b)/b = a/b`,
    /// and both sides divide by `b`.
    log_ratio_log1p: "(log (/ ?a ?b))" => "(log1p (/ (- ?a ?b) ?b))";
    /// `log(a) - log(b) = where(b > 0, log(a / b), NaN)`. Same domain: the
    /// left side is defined exactly where `a > 0` and `b > 0`; the right
    /// side is NaN (undefined) unless `b > 0`, and then `log(a / b)` is
    /// defined exactly where `a > 0`. The selection disappears when the
    /// declared domain proves `b > 0` (see `select`); `log_sub` covers the
    /// case where both operands are provably positive.
    log_sub_select: "(- (log ?a) (log ?b))" => "(where (> ?b 0) (log (/ ?a ?b)) NaNf)";
    /// `log((1 + a) / (1 - a)) = 2 atanh(a)`. Same domain: both sides are
    /// defined exactly for `-1 < a < 1`.
    log_ratio_atanh: "(log (/ (+ 1 ?a) (- 1 ?a)))" => "(* 2 (atanh ?a))";
    /// `log((1 - a) / (1 + a)) = -2 atanh(a)`. Same domain (`-1 < a < 1`).
    log_ratio_atanh_neg: "(log (/ (- 1 ?a) (+ 1 ?a)))" => "(* -2 (atanh ?a))";
    /// `log(1 - exp(a)) = log(-expm1(a))`. Same domain (`a < 0`).
    log_one_minus_exp: "(log (- 1 (exp ?a)))" => "(log (neg (expm1 ?a)))";
    /// `log(exp(a) - exp(b)) = a + log(-expm1(b - a))`. Same domain
    /// (`a > b`).
    log_diff_exp: "(log (- (exp ?a) (exp ?b)))" => "(+ ?a (log (neg (expm1 (- ?b ?a)))))";
    /// `log(exp(a) + b) = a + log1p(b / exp(a))`. Same domain:
    /// `1 + b/exp(a) > 0` exactly where `exp(a) + b > 0`.
    log_exp_plus: "(log (+ (exp ?a) ?b))" => "(+ ?a (log1p (/ ?b (exp ?a))))";
}
