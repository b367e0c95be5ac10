//! Constant exponents follow the tape crate's rule (`pow_number`): an exact
//! integer is a multiplication chain, an exact ±1/2 is `sqrt`, an exact
//! `p/3` the `thirds` recipe (`cbrt` corrected), and every other exponent (a float such as `2.0`, `0.5`, `-2.0`) stays libm's
//! `pow`. The JIT must then agree with the interpreter bit for bit, special
//! values included: `(-inf)**0.5` is +inf (sqrt gives NaN), `(-0.0)**0.5`
//! is +0.0 (sqrt gives -0.0), `1e156**-2.0` is 1e-312 (1/(x*x) gives 0).

mod common;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_mlir::{Ball, EmitOptions, Target, compile_interval, compile_with, to_mlir};
use alkahest_tape::Evaluator;

/// Inputs where `pow` and its rewrites part ways, and ordinary ones where
/// a chain of multiplications and `pow` round differently.
const SPECIAL: [f64; 18] = [
    1.1,
    0.7,
    -3.3,
    1.234_567_89,
    17.25,
    0.1,
    f64::NEG_INFINITY,
    -0.0,
    0.0,
    1e156,
    -1e156,
    1e-160,
    f64::NAN,
    f64::INFINITY,
    -2.5,
    2.0,
    3.0,
    5e-324,
];

/// Exponents written every way the user can: floats, Python-style
/// integers, exact rationals.
fn exponents(pool: &ExprPool) -> Vec<(&'static str, ExprId)> {
    vec![
        ("0.5", pool.float(0.5).unwrap()),
        ("-0.5", pool.float(-0.5).unwrap()),
        ("-2.0", pool.float(-2.0).unwrap()),
        ("2.0", pool.float(2.0).unwrap()),
        ("3.0", pool.float(3.0).unwrap()),
        ("1.5", pool.float(1.5).unwrap()),
        ("3", pool.integer(3).unwrap()),
        ("-1", pool.integer(-1).unwrap()),
        ("-2", pool.integer(-2).unwrap()),
        ("1/2", pool.rational(1, 2).unwrap()),
        ("-1/2", pool.rational(-1, 2).unwrap()),
        ("1/3", pool.rational(1, 3).unwrap()),
        ("-1/3", pool.rational(-1, 3).unwrap()),
        ("2/3", pool.rational(2, 3).unwrap()),
        ("-2/3", pool.rational(-2, 3).unwrap()),
        ("-7/3", pool.rational(-7, 3).unwrap()),
        ("0.333...", pool.float(1.0 / 3.0).unwrap()),
        ("2**40", pool.integer(1_u64 << 40).unwrap()),
    ]
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The JIT against the interpreter, bit for bit, with polynomial
/// recognition off, and on too unless `horner` (a recognized polynomial is
/// evaluated by Horner's rule with fused multiply-adds, which rounds
/// differently).
fn assert_matches(pool: &ExprPool, e: ExprId, vars: &[ExprId], what: &str, horner: bool) {
    let want = common::reference(pool, e, vars);
    for recognize in [false, true].into_iter().filter(|&r| !(r && horner)) {
        let got = compile_with(pool, e, vars, EmitOptions { recognize }).unwrap();
        for &x in &SPECIAL {
            let (g, w) = (got.eval_scalar(&[x]), want.eval_scalar(&[x]));
            assert!(
                same(g, w),
                "{what} at x = {x:e} (recognize: {recognize}): mlir {g:e}, interpreter {w:e}"
            );
        }
    }
}

#[test]
fn constant_powers_match_the_interpreter_bit_for_bit() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    for (name, k) in exponents(&pool) {
        let e = pool.pow(x, k).unwrap();
        assert_matches(&pool, e, &[x], &format!("x**{name}"), false);
    }
}

#[test]
fn float_powers_in_products_and_sums_stay_pow() {
    // The tape crate keeps `x**-2.0` a pow factor of a product (no division by
    // x*x, which overflows at 1e156) and never regroups a float power into
    // a polynomial; exact negative exponents go to the denominator.
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let f = |v: f64| pool.float(v).unwrap();
    let three = pool.integer(3).unwrap();
    let p = |k: ExprId| pool.pow(x, k).unwrap();
    let cases = [
        ("3*x**-2.0", pool.mul(&[three, p(f(-2.0))]).unwrap()),
        ("0.5*x**-2.0", pool.mul(&[f(0.5), p(f(-2.0))]).unwrap()),
        ("x*x**0.5", pool.mul(&[x, p(f(0.5))]).unwrap()),
        // An exact -1/2 divides, as an exact negative integer does: 3/sqrt(x).
        ("3*x**(-1/2)", {
            let h = pool.rational(-1, 2).unwrap();
            pool.mul(&[three, p(h)]).unwrap()
        }),
        ("x**2.0 + x", pool.add(&[p(f(2.0)), x]).unwrap()),
        ("x**2.0 + 3*x + 1", {
            let t = pool.mul(&[three, x]).unwrap();
            pool.add(&[p(f(2.0)), t, f(1.0)]).unwrap()
        }),
    ];
    for (name, e) in cases {
        assert_matches(&pool, e, &[x], name, name == "x**2.0 + 3*x + 1");
    }
}

#[test]
fn an_exponent_shared_with_another_use_is_still_exact() {
    // The constant 3 is also a summand, lowered before the power: the power
    // must still be the chain x*x*x, not pow(x, 3.0).
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let three = pool.integer(3).unwrap();
    let s = pool
        .add(&[pool.func(Func::Sin, &[x]).unwrap(), three])
        .unwrap();
    let e = pool.mul(&[s, pool.pow(x, three).unwrap()]).unwrap();
    assert_matches(&pool, e, &[x], "(sin(x) + 3) * x**3", false);
    let m = pool.integer(-1).unwrap();
    let s = pool.add(&[pool.func(Func::Cos, &[x]).unwrap(), m]).unwrap();
    let e = pool
        .mul(&[
            s,
            pool.pow(x, m).unwrap(),
            pool.pow(x, pool.rational(-1, 2).unwrap()).unwrap(),
        ])
        .unwrap();
    assert_matches(&pool, e, &[x], "(cos(x) - 1) * x**-1 * x**(-1/2)", false);
}

#[test]
fn a_float_exponent_is_a_pow_call_in_the_dialect() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let half = pool.pow(x, pool.float(0.5).unwrap()).unwrap();
    let alk = to_mlir(&pool, half, &[x], "f", Target::Alkahest).unwrap();
    assert!(alk.contains("math.powf"), "{alk}");
    assert!(!alk.contains("alkahest.pow"), "{alk}");
    let arith = to_mlir(&pool, half, &[x], "f", Target::Arith).unwrap();
    assert!(
        arith.contains("math.powf") && !arith.contains("sqrt"),
        "{arith}"
    );
    // The exact 1/2 is still sqrt.
    let exact = pool.pow(x, pool.rational(1, 2).unwrap()).unwrap();
    let arith = to_mlir(&pool, exact, &[x], "f", Target::Arith).unwrap();
    assert!(
        arith.contains("math.sqrt") && !arith.contains("powf"),
        "{arith}"
    );
}

#[test]
fn balls_of_float_powers_are_those_of_exact_ones() {
    // Ball arithmetic encloses the real power: x**2.0 is enclosed as x*x and
    // x**0.5 as sqrt(x), exactly the balls of x**2 and x**(1/2).
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let pairs = [
        (pool.float(2.0).unwrap(), pool.integer(2).unwrap()),
        (pool.float(-2.0).unwrap(), pool.integer(-2).unwrap()),
        (pool.float(0.5).unwrap(), pool.rational(1, 2).unwrap()),
        (pool.float(-0.5).unwrap(), pool.rational(-1, 2).unwrap()),
    ];
    for (float, exact) in pairs {
        let a = compile_interval(&pool, pool.pow(x, float).unwrap(), &[x]).unwrap();
        let b = compile_interval(&pool, pool.pow(x, exact).unwrap(), &[x]).unwrap();
        for (mid, rad) in [(2.0, 0.0), (2.0, 0.25), (-3.0, 0.5), (1e-3, 1e-4)] {
            let ball = [Ball { mid, rad }];
            let (p, q) = (a.eval(&ball).unwrap(), b.eval(&ball).unwrap());
            assert!(
                same(p.mid, q.mid) && same(p.rad, q.rad),
                "{mid} ± {rad}: {p:?} vs {q:?}"
            );
        }
    }
}
