//! Truncated power-series arithmetic: a series is its first `n`
//! coefficients, lowest degree first; every operation keeps `n` terms.

use alkahest_tape::{BinaryFn, CmpOp, UnaryFn};

use crate::error::{Error, Result};

/// A truncated series.
pub(crate) type S = Vec<f64>;

pub(crate) fn mul(a: &[f64], b: &[f64]) -> S {
    let n = a.len();
    (0..n)
        .map(|k| (0..=k).map(|j| a[j] * b[k - j]).sum())
        .collect()
}

pub(crate) fn div(a: &[f64], b: &[f64]) -> S {
    let n = a.len();
    let mut c = vec![0.0; n];
    for k in 0..n {
        let s: f64 = (1..=k).map(|j| b[j] * c[k - j]).sum();
        c[k] = (a[k] - s) / b[0];
    }
    c
}

pub(crate) fn scale(a: &[f64], s: f64) -> S {
    a.iter().map(|x| x * s).collect()
}

pub(crate) fn add(a: &[f64], b: &[f64]) -> S {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

pub(crate) fn constant(c: f64, n: usize) -> S {
    let mut v = vec![0.0; n];
    v[0] = c;
    v
}

/// `b` with `b' = g * a'` and `b[0] = b0`.
fn integrate(a: &[f64], g: &[f64], b0: f64) -> S {
    let n = a.len();
    // a' as a series: (k+1) a[k+1]
    let da: S = (0..n)
        .map(|k| {
            if k + 1 < n {
                (k + 1) as f64 * a[k + 1]
            } else {
                0.0
            }
        })
        .collect();
    let d = mul(g, &da);
    let mut b = vec![0.0; n];
    b[0] = b0;
    for k in 1..n {
        b[k] = d[k - 1] / k as f64;
    }
    b
}

fn exp(a: &[f64]) -> S {
    let n = a.len();
    let mut b = vec![0.0; n];
    b[0] = a[0].exp();
    for k in 1..n {
        let s: f64 = (1..=k).map(|j| j as f64 * a[j] * b[k - j]).sum();
        b[k] = s / k as f64;
    }
    b
}

fn sin_cos(a: &[f64]) -> (S, S) {
    let n = a.len();
    let mut s = vec![0.0; n];
    let mut c = vec![0.0; n];
    s[0] = a[0].sin();
    c[0] = a[0].cos();
    for k in 1..n {
        let mut ss = 0.0;
        let mut cs = 0.0;
        for j in 1..=k {
            ss += j as f64 * a[j] * c[k - j];
            cs += j as f64 * a[j] * s[k - j];
        }
        s[k] = ss / k as f64;
        c[k] = -cs / k as f64;
    }
    (s, c)
}

fn sqrt(a: &[f64]) -> S {
    let n = a.len();
    let mut b = vec![0.0; n];
    b[0] = a[0].sqrt();
    for k in 1..n {
        let s: f64 = (1..k).map(|j| b[j] * b[k - j]).sum();
        b[k] = (a[k] - s) / (2.0 * b[0]);
    }
    b
}

/// `a ** p` for a real `p` by the recurrence `a b' = p a' b`.
fn powf(a: &[f64], p: f64, b0: f64) -> S {
    let n = a.len();
    let mut b = vec![0.0; n];
    b[0] = b0;
    for k in 1..n {
        let s: f64 = (1..=k)
            .map(|j| (p * j as f64 - (k - j) as f64) * a[j] * b[k - j])
            .sum();
        b[k] = s / (k as f64 * a[0]);
    }
    b
}

/// Whether a series is a constant (no term beyond the first).
fn is_constant(a: &[f64]) -> bool {
    a[1..].iter().all(|&c| c == 0.0)
}

/// A function that is constant near `a[0]` (floor, ceil, comparisons):
/// `value` there, or NaN coefficients where it jumps at `a[0]` and `a`
/// moves (no Taylor series).
fn piecewise_constant(value: f64, jumps: bool, n: usize) -> S {
    if jumps {
        vec![f64::NAN; n]
    } else {
        constant(value, n)
    }
}

/// The Taylor series of a one-argument function. `tgamma` and `lgamma`
/// have none here (their derivatives need polygamma functions).
pub(crate) fn unary(f: UnaryFn, a: &[f64]) -> Result<S> {
    let n = a.len();
    let one = constant(1.0, n);
    let a2 = || mul(a, a);
    Ok(match f {
        UnaryFn::Exp => exp(a),
        UnaryFn::Expm1 => {
            let mut e = exp(a);
            e[0] = a[0].exp_m1();
            e
        }
        UnaryFn::Log => integrate(a, &div(&one, a), a[0].ln()),
        UnaryFn::Log1p => integrate(a, &div(&one, &add(&one, a)), a[0].ln_1p()),
        UnaryFn::Sqrt => sqrt(a),
        UnaryFn::Sin => sin_cos(a).0,
        UnaryFn::Cos => sin_cos(a).1,
        UnaryFn::Tan => {
            let (s, c) = sin_cos(a);
            let mut t = div(&s, &c);
            t[0] = a[0].tan();
            t
        }
        UnaryFn::Sinh | UnaryFn::Cosh | UnaryFn::Tanh => {
            let ep = exp(a);
            let em = exp(&scale(a, -1.0));
            let sh = scale(&add(&ep, &scale(&em, -1.0)), 0.5);
            let ch = scale(&add(&ep, &em), 0.5);
            let mut r = match f {
                UnaryFn::Sinh => sh,
                UnaryFn::Cosh => ch,
                _ => div(&sh, &ch),
            };
            r[0] = f.apply(a[0]);
            r
        }
        UnaryFn::Atan => integrate(a, &div(&one, &add(&one, &mul(a, a))), a[0].atan()),
        UnaryFn::Asin | UnaryFn::Acos => {
            let g = div(&one, &sqrt(&add(&one, &scale(&mul(a, a), -1.0))));
            let sign = if f == UnaryFn::Asin { 1.0 } else { -1.0 };
            integrate(a, &scale(&g, sign), f.apply(a[0]))
        }
        UnaryFn::Abs => {
            let s = if a[0] < 0.0 {
                -1.0
            } else if a[0] > 0.0 {
                1.0
            } else {
                f64::NAN
            };
            let mut r = scale(a, s);
            r[0] = a[0].abs();
            r
        }
        UnaryFn::Asinh => {
            let g = div(&one, &sqrt(&add(&one, &a2())));
            integrate(a, &g, f.apply(a[0]))
        }
        UnaryFn::Acosh => {
            let g = div(&one, &sqrt(&add(&a2(), &scale(&one, -1.0))));
            integrate(a, &g, f.apply(a[0]))
        }
        UnaryFn::Atanh => {
            let g = div(&one, &add(&one, &scale(&a2(), -1.0)));
            integrate(a, &g, f.apply(a[0]))
        }
        UnaryFn::Cbrt => powf(a, 1.0 / 3.0, f.apply(a[0])),
        UnaryFn::Exp2 => {
            let mut r = exp(&scale(a, std::f64::consts::LN_2));
            r[0] = f.apply(a[0]);
            r
        }
        UnaryFn::Log2 | UnaryFn::Log10 => {
            let ln_base = if f == UnaryFn::Log2 {
                std::f64::consts::LN_2
            } else {
                std::f64::consts::LN_10
            };
            let mut r = scale(&unary(UnaryFn::Log, a)?, 1.0 / ln_base);
            r[0] = f.apply(a[0]);
            r
        }
        UnaryFn::Erf | UnaryFn::Erfc => {
            // erf' = 2/sqrt(pi) exp(-x^2); erfc = 1 - erf.
            let k = std::f64::consts::FRAC_2_SQRT_PI;
            let sign = if f == UnaryFn::Erf { 1.0 } else { -1.0 };
            let g = scale(&exp(&scale(&a2(), -1.0)), sign * k);
            integrate(a, &g, f.apply(a[0]))
        }
        UnaryFn::Floor | UnaryFn::Ceil => {
            piecewise_constant(f.apply(a[0]), a[0].fract() == 0.0 && !is_constant(a), n)
        }
        UnaryFn::Gamma | UnaryFn::Lgamma => {
            return Err(Error::Unsupported {
                what: f.info().c_name.into(),
            });
        }
    })
}

pub(crate) fn binary(f: BinaryFn, a: &[f64], b: &[f64]) -> Result<S> {
    Ok(match f {
        BinaryFn::Pow => {
            let mut r = exp(&mul(b, &unary(UnaryFn::Log, a)?));
            r[0] = a[0].powf(b[0]);
            r
        }
        BinaryFn::Hypot => {
            let mut r = sqrt(&add(&mul(a, a), &mul(b, b)));
            r[0] = a[0].hypot(b[0]);
            r
        }
        BinaryFn::Atan2 => {
            // d atan2(a, b) = (b a' - a b') / (a^2 + b^2)
            let n = a.len();
            let r2 = add(&mul(a, a), &mul(b, b));
            let d = |s: &[f64]| -> S {
                (0..n)
                    .map(|k| {
                        if k + 1 < n {
                            (k + 1) as f64 * s[k + 1]
                        } else {
                            0.0
                        }
                    })
                    .collect()
            };
            let num = add(&mul(b, &d(a)), &scale(&mul(a, &d(b)), -1.0));
            let q = div(&num, &r2);
            let mut out = vec![0.0; n];
            out[0] = a[0].atan2(b[0]);
            for k in 1..n {
                out[k] = q[k - 1] / k as f64;
            }
            out
        }
        BinaryFn::Min | BinaryFn::Max => {
            let pick_a = if f == BinaryFn::Min {
                a[0] < b[0]
            } else {
                a[0] > b[0]
            };
            if a[0] == b[0] && a[1..] != b[1..] {
                vec![f64::NAN; a.len()] // not differentiable there
            } else if pick_a || a[0] == b[0] {
                a.to_vec()
            } else {
                b.to_vec()
            }
        }
        BinaryFn::Copysign => {
            // |a| with the sign of b: fixed near the center unless b
            // crosses zero there.
            if b[0] == 0.0 && !is_constant(b) || b[0].is_nan() {
                vec![f64::NAN; a.len()]
            } else {
                let mut r = unary(UnaryFn::Abs, a)?;
                if b[0].is_sign_negative() {
                    r = scale(&r, -1.0);
                }
                r[0] = a[0].copysign(b[0]);
                r
            }
        }
        BinaryFn::Fmod => {
            // a - q b with q = trunc(a / b), constant near the center
            // unless the remainder is zero there (a jump).
            let r0 = f.apply(a[0], b[0]);
            if r0 == 0.0 && !(is_constant(a) && is_constant(b)) || !r0.is_finite() {
                vec![f64::NAN; a.len()]
            } else {
                let q = ((a[0] - r0) / b[0]).round();
                let mut r = add(a, &scale(b, -q));
                r[0] = r0;
                r
            }
        }
    })
}

/// `a op b` near the center: constant, except where `a` and `b` meet and
/// separate (a jump).
pub(crate) fn compare(k: CmpOp, a: &[f64], b: &[f64]) -> S {
    piecewise_constant(
        k.apply(a[0], b[0]),
        a[0] == b[0] && a[1..] != b[1..],
        a.len(),
    )
}

/// `c ? a : b` for a condition series `c` (constant 0 or 1, or NaN at a jump).
pub(crate) fn choose(c: &[f64], a: &[f64], b: &[f64]) -> S {
    if c.iter().any(|v| v.is_nan()) || !is_constant(c) {
        vec![f64::NAN; a.len()]
    } else {
        // The reference's test (`alkahest_tape::select`): c != 0.
        if c[0] != 0.0 { a.to_vec() } else { b.to_vec() }
    }
}
