//! `fmod` in the bulk loop is computed on vectors (division, `trunc`, one
//! fused multiply-add) where the quotient is small and by libm elsewhere;
//! either way it must be libm's `fmod` bit for bit, at every lane, with
//! the default options (no `exact_math` needed): quotients that round up
//! to the next integer, every sign, signed zeros, subnormals, quotients
//! around 2^52 and beyond, and the special values, mixed within vectors.

use alkahest_llvm::{LlvmOptions, compile, emit_library_ir, optimized_ir};
use alkahest_tape::{BinaryFn, Evaluator};
use alkahest_testkit::tapes::binary_tape;
use proptest::prelude::*;

/// Bit-for-bit equality (NaNs compare by being NaN: libm's NaN payloads are
/// not part of the contract).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The bulk entry's `fmod(x, y)` against libm at every point.
fn check(xs: &[f64], ys: &[f64]) {
    let tape = binary_tape(BinaryFn::Fmod);
    for opts in [
        LlvmOptions::default(),
        LlvmOptions {
            opt_level: 0,
            ..LlvmOptions::default()
        },
    ] {
        let f = compile(&tape, &opts).unwrap();
        let mut out = vec![0.0; xs.len()];
        f.eval_columns(&[xs, ys], &mut [&mut out]);
        for ((&x, &y), &got) in xs.iter().zip(ys).zip(&out) {
            let want = libm_fmod(x, y);
            assert!(
                same(got, want),
                "fmod({x:e}, {y:e}) = {got:e} ({:#x}), libm {want:e} ({:#x}) at level {}",
                got.to_bits(),
                want.to_bits(),
                opts.opt_level
            );
        }
    }
}

fn libm_fmod(x: f64, y: f64) -> f64 {
    unsafe extern "C" {
        safe fn fmod(x: f64, y: f64) -> f64;
    }
    fmod(x, y)
}

/// Quotients next to an integer (where `x / y` may round up to it), both
/// signs of each operand, zeros, subnormals and large quotients.
#[test]
fn hard_cases_are_exact() {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let divisors = [
        0.1,
        0.3,
        1.0 / 3.0,
        0.7,
        1.5,
        2.0,
        3.0,
        10.0,
        1e-300,
        5e-324,
        1e300,
        std::f64::consts::PI,
    ];
    for &y in &divisors {
        for k in [
            0.0,
            1.0,
            2.0,
            3.0,
            7.0,
            1e3,
            12345.0,
            1e15,
            4503599627370495.0,
        ] {
            let base = k * y;
            let mut x = base;
            // A few representable neighbours of k*y on each side.
            for _ in 0..3 {
                x = x.next_down();
            }
            for _ in 0..7 {
                for (sx, sy) in [(1.0, 1.0), (-1.0, 1.0), (1.0, -1.0), (-1.0, -1.0)] {
                    xs.push(sx * x);
                    ys.push(sy * y);
                }
                x = x.next_up();
            }
        }
    }
    // Quotients around 2^52 and 2^53 (the vector path's edge), zeros of
    // both signs, and the special values against ordinary ones.
    for q in [
        4503599627370494.0f64,
        4503599627370496.0,
        9007199254740992.0,
        1e20,
    ] {
        for y in [0.75f64, 1.25, 3.0] {
            xs.extend([q * y, -(q * y), (q * y).next_up(), (q * y).next_down()]);
            ys.extend([y, y, -y, y]);
        }
    }
    let special = [
        0.0,
        -0.0,
        1.0,
        -2.5,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    for &x in &special {
        for &y in &special {
            xs.push(x);
            ys.push(y);
        }
    }
    check(&xs, &ys);
}

/// Lanes that need libm sit in the same vectors as ordinary ones, at
/// every position of a vector.
#[test]
fn a_special_lane_anywhere_in_a_vector() {
    for at in 0..17 {
        let mut xs: Vec<f64> = (0..17).map(|i| 7.25 + i as f64 * 1.375).collect();
        let mut ys = vec![1.1; 17];
        xs[at] = f64::INFINITY;
        check(&xs, &ys);
        xs[at] = 5.5;
        ys[at] = 0.0;
        check(&xs, &ys);
        ys[at] = 1e-310;
        check(&xs, &ys);
    }
}

/// The vector path is the one the bulk loop takes: a call of the routine
/// library's `fmod`, an FMA on vectors, with libm's `fmod` kept only for the
/// lanes it cannot serve.
#[test]
fn the_bulk_loop_uses_the_vector_path() {
    let tape = binary_tape(BinaryFn::Fmod);
    let module = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    assert!(
        module.contains("@alkahest_rt_fmod_x"),
        "no library call:\n{module}"
    );
    let ir = emit_library_ir(&tape, &LlvmOptions::default(), "fmod").unwrap();
    assert!(ir.contains("@llvm.fma.v"), "no vector FMA:\n{ir}");
    assert!(ir.contains("@llvm.trunc.v"), "no vector trunc:\n{ir}");
    assert!(ir.contains("@fmod(double"), "no libm fallback:\n{ir}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random operands of every magnitude and sign (random bit patterns,
    /// so NaNs, infinities and subnormals too), 64 points a case.
    #[test]
    fn random_bits_are_exact(bits in prop::collection::vec((any::<u64>(), any::<u64>()), 64)) {
        let xs: Vec<f64> = bits.iter().map(|&(a, _)| f64::from_bits(a)).collect();
        let ys: Vec<f64> = bits.iter().map(|&(_, b)| f64::from_bits(b)).collect();
        check(&xs, &ys);
    }

    /// Operands of nearby magnitudes (quotients below 2^52), the vector
    /// path's domain.
    #[test]
    fn nearby_magnitudes_are_exact(pairs in prop::collection::vec(
        (-1e6f64..1e6, 1e-3f64..1e3, any::<bool>()), 64,
    )) {
        let xs: Vec<f64> = pairs.iter().map(|&(x, _, _)| x).collect();
        let ys: Vec<f64> = pairs.iter().map(|&(_, y, neg)| if neg { -y } else { y }).collect();
        check(&xs, &ys);
    }
}
