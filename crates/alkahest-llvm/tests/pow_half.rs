//! `x^(k + 1/2)` for a constant exponent (k = 1, 2, 3) in the bulk loop is
//! `x^k sqrt(x)`: within 2 ulp of libm's `pow` everywhere, with `pow`'s
//! special values (signed zeros, infinities, NaN for negative `x`) exactly;
//! the scalar entry and `exact_math` keep libm's `pow`.

use alkahest_llvm::{LlvmOptions, compile, optimized_ir};
use alkahest_tape::{BinaryFn, Evaluator, Op, Tape};
use alkahest_testkit::{same, ulps_apart};

fn tape(c: f64) -> Tape {
    Tape::new(
        1,
        vec![Op::Input(0), Op::Const(c), Op::Binary(BinaryFn::Pow, 0, 1)],
        vec![2],
    )
    .unwrap()
}

/// Positive values over the whole range (subnormal to huge), then
/// negatives and the special values.
fn points() -> Vec<f64> {
    let mut xs: Vec<f64> = (0..40_000)
        .map(|i| 10f64.powf(-320.0 + 628.0 * f64::from(i) / 40_000.0))
        .collect();
    xs.extend((0..2_000).map(|i| 0.5 + f64::from(i) * 1e-3));
    xs.extend([
        0.0,
        -0.0,
        -1.0,
        -2.5,
        -1e-300,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ]);
    xs
}

#[test]
fn half_integer_powers_stay_within_two_ulp_of_libm() {
    for c in [1.5, 2.5, 3.5] {
        let f = compile(&tape(c), &LlvmOptions::default()).unwrap();
        let xs = points();
        let mut out = vec![0.0; xs.len()];
        f.eval_columns(&[&xs], &mut [&mut out]);
        for (&x, &got) in xs.iter().zip(&out) {
            let want = x.powf(c);
            let ok = if want.is_finite() && want != 0.0 {
                ulps_apart(got, want) <= 2
            } else {
                same(got, want)
            };
            assert!(ok, "{x:e}^{c}: {got:e} vs libm {want:e}");
            // The scalar entry is libm's pow itself.
            let mut s = [0.0];
            f.eval(&[x], &mut s);
            assert!(same(s[0], want), "scalar {x:e}^{c}: {:e} vs {want:e}", s[0]);
        }
    }
}

#[test]
fn the_bulk_loop_uses_a_square_root_and_exact_math_keeps_pow() {
    let ir = optimized_ir(&tape(1.5), &LlvmOptions::default()).unwrap();
    let bulk = &ir[ir.find("define void @alkahest_eval_bulk").unwrap()..];
    assert!(bulk.contains("@llvm.sqrt.v"), "no vector sqrt:\n{bulk}");
    assert!(!bulk.contains("pow"), "still a pow call:\n{bulk}");
    let exact = LlvmOptions {
        exact_math: true,
        ..LlvmOptions::default()
    };
    let ir = optimized_ir(&tape(1.5), &exact).unwrap();
    let bulk = &ir[ir.find("define void @alkahest_eval_bulk").unwrap()..];
    assert!(bulk.contains("pow"), "exact_math lost libm's pow:\n{bulk}");
    // Other exponents keep pow.
    let ir = optimized_ir(&tape(1.25), &LlvmOptions::default()).unwrap();
    let bulk = &ir[ir.find("define void @alkahest_eval_bulk").unwrap()..];
    assert!(bulk.contains("pow"), "x^1.25 without pow:\n{bulk}");
}

/// Constant exponents and operands that are not half-integers still compile
/// and match libm: 0.0 (an all-zero constant vector in LLVM, which has no
/// elements to read), 2.0, -1.5, and a constant second operand of the other
/// binary functions.
#[test]
fn other_constant_operands_keep_libm() {
    let xs: Vec<f64> = (0..1_000).map(|i| f64::from(i) * 0.01 - 3.0).collect();
    for f in BinaryFn::ALL {
        for c in [0.0, -0.0, 2.0, -1.5] {
            let t = Tape::new(
                1,
                vec![Op::Input(0), Op::Const(c), Op::Binary(f, 0, 1)],
                vec![2],
            )
            .unwrap();
            let jit = compile(&t, &LlvmOptions::default()).unwrap();
            let mut out = vec![0.0; xs.len()];
            jit.eval_columns(&[&xs], &mut [&mut out]);
            for (&x, &got) in xs.iter().zip(&out) {
                let want = f.apply(x, c);
                let ok = same(got, want) || ulps_apart(got, want) <= 4;
                assert!(ok, "{f:?}({x:e}, {c:e}): {got:e} vs libm {want:e}");
            }
        }
    }
}
