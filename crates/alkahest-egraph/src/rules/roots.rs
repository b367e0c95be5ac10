//! Cube-root and n-th-root conjugates: `u - v = (u^n - v^n) / (u^(n-1) +
//! ... + v^(n-1))` turns the difference of two nearby roots into a
//! difference of their (often exactly cancelling) radicands.

use super::{conjugate_ok, nonzero_pair, pos_or_fractional, rules};

rules! {
    /// `cbrt(a) - cbrt(b) = (a - b) / (cbrt(a)^2 + cbrt(a) cbrt(b) + cbrt(b)^2)`.
    /// The denominator is zero only at `a = b = 0`: needs `a` or `b`
    /// provably nonzero, or `a - b` a nonzero constant.
    cbrt_conj: "(- (cbrt ?a) (cbrt ?b))" => "(/ (- ?a ?b) (+ (+ (* (cbrt ?a) (cbrt ?a)) (* (cbrt ?a) (cbrt ?b))) (* (cbrt ?b) (cbrt ?b))))" if nonzero_pair("?a", "?b");
    /// `a^(1/3) - b^(1/3)` likewise, for the real power (defined for
    /// `a, b >= 0` on both sides). The denominator is zero only at
    /// `a = b = 0`: needs `a > 0` or `b > 0` provably, or `a - b` a nonzero
    /// constant.
    root3_conj: "(- (pow ?a 1/3) (pow ?b 1/3))" => "(/ (- ?a ?b) (+ (+ (* (pow ?a 1/3) (pow ?a 1/3)) (* (pow ?a 1/3) (pow ?b 1/3))) (* (pow ?b 1/3) (pow ?b 1/3))))" if conjugate_ok("?a", "?b");
    /// `a^(1/4) - b^(1/4) = (a - b) / ((a^(1/4) + b^(1/4)) (sqrt(a) + sqrt(b)))`.
    /// Both sides need `a, b >= 0`; the denominator is zero only at
    /// `a = b = 0` (guard as for `root3_conj`).
    root4_conj: "(- (pow ?a 1/4) (pow ?b 1/4))" => "(/ (- ?a ?b) (* (+ (pow ?a 1/4) (pow ?b 1/4)) (+ (sqrt ?a) (sqrt ?b))))" if conjugate_ok("?a", "?b");
    /// `1/sqrt(a) - 1/sqrt(b) = (b - a) / (sqrt(a) sqrt(b) (sqrt(a) + sqrt(b)))`.
    /// Both sides need `a, b > 0`. Unconditional otherwise (the new
    /// denominator is positive wherever both sides are defined).
    rsqrt_conj: "(- (/ 1 (sqrt ?a)) (/ 1 (sqrt ?b)))" => "(/ (- ?b ?a) (* (* (sqrt ?a) (sqrt ?b)) (+ (sqrt ?a) (sqrt ?b))))";
    /// `(a+1)^c - a^c = (a+1)^c * -expm1(c * log1p(-1/(a+1)))`, from
    /// `(a+1)^c (1 - (a/(a+1))^c)`: the difference of two nearby powers
    /// becomes one `expm1` of a small argument (any exponent, so also the
    /// n-th roots written with a float `1/n`). Both sides are defined for
    /// `a >= 0` (at `a = 0`, `log1p(-1) = -inf` gives `(a+1)^c` for
    /// `c > 0` and `-inf` for `c < 0`, as the left side does); for `a < 0`
    /// and an integer `c` the left side is defined and the right is not,
    /// and at `a = c = 0` the right side is NaN; so it needs `a > 0`
    /// provably or `c` a constant that is not an integer (then both sides
    /// are NaN for every `a < 0`).
    pow_diff_expm1: "(- (pow (+ ?a 1) ?c) (pow ?a ?c))" => "(* (pow (+ ?a 1) ?c) (neg (expm1 (* ?c (log1p (neg (/ 1 (+ ?a 1))))))))" if pos_or_fractional("?a", "?c");
    /// `cbrt(a) - cbrt(b)` as in `cbrt_conj`, selected where its
    /// denominator is nonzero (elsewhere `a = b = 0` and the difference is
    /// 0). Unconditional: the selection form for when `cbrt_conj`'s guard
    /// cannot be proved.
    cbrt_conj_select: "(- (cbrt ?a) (cbrt ?b))" => "(where (!= (+ (+ (* (cbrt ?a) (cbrt ?a)) (* (cbrt ?a) (cbrt ?b))) (* (cbrt ?b) (cbrt ?b))) 0) (/ (- ?a ?b) (+ (+ (* (cbrt ?a) (cbrt ?a)) (* (cbrt ?a) (cbrt ?b))) (* (cbrt ?b) (cbrt ?b)))) 0)";
}
