//! Trigonometric identities, including the sum-to-product forms that avoid
//! cancellation.

use super::{product_gt_minus_one, rules, total};

rules! {
    /// `sin(-a) = -sin(a)`. Unconditional.
    sin_neg: "(sin (neg ?a))" => "(neg (sin ?a))";
    /// `-sin(a) = sin(-a)`. Unconditional.
    neg_sin: "(neg (sin ?a))" => "(sin (neg ?a))";
    /// `cos(-a) = cos(a)`. Unconditional.
    cos_neg: "(cos (neg ?a))" => "(cos ?a)";
    /// `sin^2 + cos^2 = 1`. Needs `a` total.
    pythagoras: "(+ (* (sin ?a) (sin ?a)) (* (cos ?a) (cos ?a)))" => "1" if total("?a");
    /// `tan(a) = sin(a) / cos(a)`. Both undefined exactly where `cos(a) = 0`.
    tan_def: "(tan ?a)" => "(/ (sin ?a) (cos ?a))";
    /// `sin(a) / cos(a) = tan(a)`. Same domain.
    tan_fold: "(/ (sin ?a) (cos ?a))" => "(tan ?a)";
    /// `1 - cos(a) = 2 sin(a/2)^2`. Unconditional.
    one_minus_cos: "(- 1 (cos ?a))" => "(* 2 (pow (sin (* 1/2 ?a)) 2))";
    /// `cosh(a) - 1 = 2 sinh(a/2)^2`. Unconditional.
    cosh_minus_one: "(- (cosh ?a) 1)" => "(* 2 (pow (sinh (* 1/2 ?a)) 2))";
    /// `sin(a) - sin(b) = 2 cos((a+b)/2) sin((a-b)/2)`. Unconditional.
    sin_diff: "(- (sin ?a) (sin ?b))" => "(* 2 (* (cos (* 1/2 (+ ?a ?b))) (sin (* 1/2 (- ?a ?b)))))";
    /// `cos(a) - cos(b) = -2 sin((a+b)/2) sin((a-b)/2)`. Unconditional.
    cos_diff: "(- (cos ?a) (cos ?b))" => "(* -2 (* (sin (* 1/2 (+ ?a ?b))) (sin (* 1/2 (- ?a ?b)))))";
    /// `tan(a) - tan(b) = sin(a - b) / (cos(a) cos(b))`. Both undefined
    /// exactly where `cos(a) = 0` or `cos(b) = 0`.
    tan_diff: "(- (tan ?a) (tan ?b))" => "(/ (sin (- ?a ?b)) (* (cos ?a) (cos ?b)))";
    /// `atan(a) - atan(b) = atan((a - b) / (1 + a b))`. Needs `a b > -1`
    /// provably (otherwise the two differ by pi, or the right side divides by 0).
    atan_diff: "(- (atan ?a) (atan ?b))" => "(atan (/ (- ?a ?b) (+ 1 (* ?a ?b))))" if product_gt_minus_one("?a", "?b");
    /// `atan(a) - atan(b) = atan2(a - b, 1 + a b)`. Unconditional: with
    /// `t = atan(a) - atan(b)` in `(-pi, pi)`, `(cos t, sin t)` is a
    /// positive multiple of `(1 + a b, a - b)`, which is never `(0, 0)`.
    atan_diff_atan2: "(- (atan ?a) (atan ?b))" => "(atan2 (- ?a ?b) (+ 1 (* ?a ?b)))";
    /// `cos(a) - 1 = -2 sin(a/2)^2`. Unconditional.
    cos_minus_one: "(- (cos ?a) 1)" => "(* -2 (pow (sin (* 1/2 ?a)) 2))";
    /// `cos(a)^2 - sin(a)^2 = cos(2a)`. Unconditional.
    cos_double: "(- (* (cos ?a) (cos ?a)) (* (sin ?a) (sin ?a)))" => "(cos (* 2 ?a))";
    /// `tan(a) - sin(a) = tan(a) 2 sin(a/2)^2`. Same domain (`cos(a) != 0`).
    tan_minus_sin: "(- (tan ?a) (sin ?a))" => "(* (tan ?a) (* 2 (pow (sin (* 1/2 ?a)) 2)))";
    /// `(1 - cos(a)) / sin(a) = tan(a/2)` (the half-angle formula; the left
    /// side cancels near `a = 0`). Where `sin(a) = 0` in floats (only at
    /// `a = 0`) the left side is 0/0 and the right side its limit, 0.
    half_angle_tan: "(/ (- 1 (cos ?a)) (sin ?a))" => "(tan (* 1/2 ?a))";
    /// `sin(a) / (1 + cos(a)) = tan(a/2)`. Same domain up to the points
    /// where both sides are infinite.
    half_angle_tan_sin: "(/ (sin ?a) (+ 1 (cos ?a)))" => "(tan (* 1/2 ?a))";
    /// `sin(a + b) - sin(a) = cos(a) sin(b) - 2 sin(a) sin(b/2)^2`.
    /// Unconditional. Unlike `sin_diff` it never rounds `a + b`, which
    /// loses everything when `a` is large and `b` small.
    sin_sum_diff: "(- (sin (+ ?a ?b)) (sin ?a))" => "(- (* (cos ?a) (sin ?b)) (* 2 (* (sin ?a) (pow (sin (* 1/2 ?b)) 2))))";
    /// `cos(a + b) - cos(a) = -(sin(a) sin(b) + 2 cos(a) sin(b/2)^2)`.
    /// Unconditional (no rounded `a + b`).
    cos_sum_diff: "(- (cos (+ ?a ?b)) (cos ?a))" => "(neg (+ (* (sin ?a) (sin ?b)) (* 2 (* (cos ?a) (pow (sin (* 1/2 ?b)) 2)))))";
    /// `tan(a + b) - tan(a) = sin(b) / (cos(a) (cos(a) cos(b) - sin(a) sin(b)))`.
    /// Same domain: the new denominator is `cos(a) cos(a + b)` as a real.
    tan_sum_diff: "(- (tan (+ ?a ?b)) (tan ?a))" => "(/ (sin ?b) (* (cos ?a) (- (* (cos ?a) (cos ?b)) (* (sin ?a) (sin ?b)))))";
}
