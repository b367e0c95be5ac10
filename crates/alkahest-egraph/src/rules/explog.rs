//! Exponentials and logarithms.

use super::{and, gt_minus_one, pos, rules, total};

rules! {
    /// `exp(0) = 1`. Unconditional.
    exp_zero: "(exp 0)" => "1";
    /// `log(1) = 0`. Unconditional.
    log_one: "(log 1)" => "0";
    /// `exp(a + b) = exp(a) exp(b)`. Unconditional over the reals.
    exp_add: "(exp (+ ?a ?b))" => "(* (exp ?a) (exp ?b))";
    /// `exp(a) exp(b) = exp(a + b)`. Unconditional over the reals.
    exp_mul: "(* (exp ?a) (exp ?b))" => "(exp (+ ?a ?b))";
    /// `exp(-a) = 1 / exp(a)`. Unconditional (`exp` is never 0 over the reals).
    exp_neg: "(exp (neg ?a))" => "(/ 1 (exp ?a))";
    /// `1 / exp(a) = exp(-a)`. Unconditional.
    recip_exp: "(/ 1 (exp ?a))" => "(exp (neg ?a))";
    /// `log(exp(a)) = a`. Unconditional.
    log_exp: "(log (exp ?a))" => "?a";
    /// `exp(log(a)) = a`. Needs `a > 0` provably and `a` total.
    exp_log: "(exp (log ?a))" => "?a" if pos("?a") if total("?a");
    /// `log(a b) = log(a) + log(b)`. Needs `a > 0` and `b > 0` provably.
    log_mul: "(log (* ?a ?b))" => "(+ (log ?a) (log ?b))" if and(pos("?a"), pos("?b"));
    /// `log(a) + log(b) = log(a b)`. Needs `a > 0` and `b > 0` provably.
    log_add: "(+ (log ?a) (log ?b))" => "(log (* ?a ?b))" if and(pos("?a"), pos("?b"));
    /// `log(a / b) = log(a) - log(b)`. Needs `a > 0` and `b > 0` provably.
    log_div: "(log (/ ?a ?b))" => "(- (log ?a) (log ?b))" if and(pos("?a"), pos("?b"));
    /// `log(a) - log(b) = log(a / b)`. Needs `a > 0` and `b > 0` provably.
    log_sub: "(- (log ?a) (log ?b))" => "(log (/ ?a ?b))" if and(pos("?a"), pos("?b"));
    /// `log(a^b) = b log(a)`. Needs `a > 0` provably.
    log_pow: "(log (pow ?a ?b))" => "(* ?b (log ?a))" if pos("?a");
    /// `exp(a) - 1 = expm1(a)`. Unconditional.
    expm1_def: "(- (exp ?a) 1)" => "(expm1 ?a)";
    /// `expm1(a) = exp(a) - 1`. Unconditional.
    expm1_expand: "(expm1 ?a)" => "(- (exp ?a) 1)";
    /// `log(1 + a) = log1p(a)`. Both defined exactly for `a > -1`.
    log1p_def: "(log (+ 1 ?a))" => "(log1p ?a)";
    /// `log1p(a) = log(1 + a)`. Both defined exactly for `a > -1`.
    log1p_expand: "(log1p ?a)" => "(log (+ 1 ?a))";
    /// `log1p(expm1(a)) = a`. Unconditional (`expm1(a) > -1`).
    log1p_expm1: "(log1p (expm1 ?a))" => "?a";
    /// `(1 + a)^b = exp(b log1p(a))`. Needs `a > -1` provably (else a
    /// negative base with an integer `b` is defined on the left only).
    pow_log1p: "(pow (+ 1 ?a) ?b)" => "(exp (* ?b (log1p ?a)))" if gt_minus_one("?a");
    /// `exp(a) - exp(-a) = 2 sinh(a)`. Unconditional.
    sinh_def: "(- (exp ?a) (exp (neg ?a)))" => "(* 2 (sinh ?a))";
    /// `exp(a) + exp(-a) = 2 cosh(a)`. Unconditional.
    cosh_def: "(+ (exp ?a) (exp (neg ?a)))" => "(* 2 (cosh ?a))";
    /// `sinh(a) / cosh(a) = tanh(a)`. Unconditional (`cosh >= 1`).
    tanh_def: "(/ (sinh ?a) (cosh ?a))" => "(tanh ?a)";
    /// `(2 a) / (2 b) = a / b`. Same domain.
    div_two: "(/ (* 2 ?a) (* 2 ?b))" => "(/ ?a ?b)";
    /// `1 - exp(a) = -expm1(a)`. Unconditional.
    one_minus_exp: "(- 1 (exp ?a))" => "(neg (expm1 ?a))";
    /// `exp(a) - exp(b) = exp(b) expm1(a - b)`. Unconditional.
    exp_diff: "(- (exp ?a) (exp ?b))" => "(* (exp ?b) (expm1 (- ?a ?b)))";
}
