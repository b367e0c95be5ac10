//! Running on a GPU, compared with the kernel's reference semantics
//! (`Tape::eval_point`, which calls glibc's libm). Every test compiles
//! everywhere; without a driver or device it checks that the error is the
//! typed one and prints why the GPU part is skipped.
//!
//! Tolerances (libdevice and glibc are each within a few ulp of the true
//! result, in different directions):
//! - `+ - * /`, `fma`, `sqrt`, `abs`, `floor`, `ceil`, `copysign`, `min`,
//!   `max`, comparisons, selections: bit-identical (IEEE, no contraction on
//!   either side);
//! - `exp log log1p expm1`: at most 2 ulp apart (1 ulp each side);
//! - `sin cos tan asin acos atan sinh cosh tanh atan2 hypot pow`: at most
//!   4 ulp (glibc documents up to 2 ulp for the hyperbolic functions);
//! - the functions added later (`asinh acosh atanh cbrt exp2 log2 log10 erf
//!   erfc tgamma lgamma fmod`): glibc's bound (`FnInfo::ulps`) plus CUDA's
//!   documented libdevice bound, at all but 1% of the sample points (edge
//!   cases such as overflow thresholds and subnormal results are allowed to
//!   differ; lgamma is not ulp-checked on (-23.0001, -2.2637), where CUDA
//!   documents no bound);
//! - random expressions mixing them: error compounds and can be amplified
//!   arbitrarily by ill-conditioned steps (cancellation, poles), so at
//!   least 99% of points must agree to `1e-9 * (|a|+|b|) + 1e-12`
//!   (NaN with NaN, equal infinities); expressions without
//!   transcendental functions must be bit-identical at every point.

mod common;

use std::path::PathBuf;

use alkahest_cuda::{CudaFn, DeviceInfo, Error, device_available};
use alkahest_tape::{BinaryFn, CmpOp, Op, Reg, Tape, UnaryFn};
use common::{arb_tape_ordinary, has_transcendental, libdevice, reference, ulps};
use cudarc::driver::{result, sys};
use proptest::prelude::*;

/// The device, or `None` after checking the typed error and printing why
/// the test is skipped.
fn device(test: &str) -> Option<DeviceInfo> {
    match device_available() {
        Ok(info) => Some(info),
        Err(e) => {
            assert!(
                matches!(e, Error::NoDriver(_) | Error::NoDevice(_)),
                "unexpected probe error: {e}"
            );
            eprintln!("SKIPPED {test} (GPU part): {e}");
            None
        }
    }
}

fn libdevice_path() -> PathBuf {
    libdevice().expect("a GPU machine running these tests needs libdevice.10.bc")
}

/// Special and ordinary inputs.
fn sample_points() -> Vec<f64> {
    let mut xs = vec![
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        1e-310,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        1e300,
        -1e300,
        1.0,
        -1.0,
        0.5,
        -0.5,
        std::f64::consts::PI,
        std::f64::consts::FRAC_PI_2,
        700.0,
        710.0,
        -745.0,
        1e-8,
        1e22,
    ];
    xs.extend((0..2000).map(|i| -20.0 + 40.0 * (i as f64 + 0.37) / 2000.0));
    xs.extend((0..200).map(|i| 10f64.powi(i - 100)));
    xs
}

fn tape(n_inputs: usize, ops: Vec<Op>) -> Tape {
    let output = (ops.len() - 1) as Reg;
    Tape::new(n_inputs, ops, vec![output]).unwrap()
}

/// CUDA's documented maximum ulp error of the libdevice function (double
/// precision), for the functions added with the kernel's function table.
fn libdevice_doc_ulps(c_name: &str) -> u64 {
    match c_name {
        "asinh" | "acosh" => 3,
        "atanh" | "erf" => 2,
        "cbrt" | "exp2" | "log2" | "log10" => 1,
        "erfc" => 5,
        "tgamma" => 10,
        "lgamma" => 4,
        "fmod" => 0,
        other => panic!("no documented bound for {other}"),
    }
}

/// The allowed distance and whether it must hold at every point (`true`)
/// or at 99% of them (the later functions, see the module comment).
fn unary_ulps(f: UnaryFn) -> (u64, bool) {
    match f {
        UnaryFn::Sqrt | UnaryFn::Abs | UnaryFn::Floor | UnaryFn::Ceil => (0, true),
        UnaryFn::Exp | UnaryFn::Log | UnaryFn::Log1p | UnaryFn::Expm1 => (2, true),
        UnaryFn::Sin
        | UnaryFn::Cos
        | UnaryFn::Tan
        | UnaryFn::Asin
        | UnaryFn::Acos
        | UnaryFn::Atan
        | UnaryFn::Sinh
        | UnaryFn::Cosh
        | UnaryFn::Tanh => (4, true),
        _ => (
            u64::from(f.info().ulps) + libdevice_doc_ulps(f.info().c_name),
            false,
        ),
    }
}

fn binary_ulps(f: BinaryFn) -> (u64, bool) {
    match f {
        BinaryFn::Min | BinaryFn::Max | BinaryFn::Copysign => (0, true),
        BinaryFn::Atan2 | BinaryFn::Hypot | BinaryFn::Pow => (4, true),
        BinaryFn::Fmod => (
            u64::from(f.info().ulps) + libdevice_doc_ulps(f.info().c_name),
            false,
        ),
    }
}

/// Whether `f(x)` is held to the ulp bound (CUDA documents none for
/// lgamma on (-23.0001, -2.2637)).
fn ulp_checked(f: UnaryFn, x: f64) -> bool {
    !(f == UnaryFn::Lgamma && x > -23.0001 && x < -2.2637)
}

/// Check GPU values against reference values: every point within `bound`
/// ulp when `strict`, else all but 1% of the checked points. `what(i)`
/// names point `i` in messages.
fn check_ulps(
    got: &[f64],
    want: &[f64],
    (bound, strict): (u64, bool),
    checked: impl Fn(usize) -> bool,
    what: impl Fn(usize) -> String,
) {
    assert_eq!(got.len(), want.len());
    let mut bad = Vec::new();
    let mut n = 0;
    for i in (0..got.len()).filter(|&i| checked(i)) {
        n += 1;
        if ulps(got[i], want[i]) > bound {
            assert!(
                !strict,
                "{}: gpu {:e}, reference {:e} (bound {bound} ulp)",
                what(i),
                got[i],
                want[i]
            );
            bad.push(i);
        }
    }
    assert!(
        bad.len() * 100 <= n,
        "{} of {n} points beyond {bound} ulp, e.g. {}",
        bad.len(),
        bad.iter()
            .take(8)
            .map(|&i| format!("{}: gpu {:e}, reference {:e}", what(i), got[i], want[i]))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

#[test]
fn without_device_every_call_is_a_typed_error() {
    if device_available().is_ok() {
        eprintln!("SKIPPED without_device_every_call_is_a_typed_error: a device is present");
        return;
    }
    let no_device = |err: Error| {
        assert!(
            matches!(err, Error::NoDriver(_) | Error::NoDevice(_)),
            "{err}"
        )
    };
    let t = tape(1, vec![Op::Input(0), Op::Neg(0)]);
    let f = CudaFn::new(&t, None, std::path::Path::new("/nonexistent")).unwrap();
    assert_eq!(f.arch(), "sm_86");
    no_device(f.call_batch(&[&[1.0]]).unwrap_err());
    no_device(f.call_batch_many(&[&[1.0]]).unwrap_err());
    // SAFETY: fails at the driver probe, before the pointers are used.
    no_device(unsafe { f.call_device(&[8], 16, 1, None) }.unwrap_err());

    let t = Tape::new(1, vec![Op::Input(0), Op::Neg(0)], vec![1, 0]).unwrap();
    let f = CudaFn::new(&t, None, std::path::Path::new("/nonexistent")).unwrap();
    no_device(f.call_batch_many(&[&[1.0]]).unwrap_err());
    let (mut a, mut b) = ([0.0], [0.0]);
    no_device(
        f.call_batch_many_into(&[&[1.0]], &mut [&mut a, &mut b])
            .unwrap_err(),
    );
    // SAFETY: fails at the driver probe, before the pointers are used.
    no_device(unsafe { f.call_device_many(&[8], &[16, 24], 1, None) }.unwrap_err());
}

/// Argument errors come before any device work, so they are the same with
/// and without a GPU.
#[test]
fn output_count_errors_need_no_device() {
    let outputs = |e: Error| match e {
        Error::Kernel(alkahest_tape::Error::Outputs { expected, got }) => (expected, got),
        other => panic!("expected an output-count error, got {other}"),
    };
    let t = Tape::new(
        1,
        vec![Op::Input(0), Op::Neg(0), Op::Unary(UnaryFn::Abs, 0)],
        vec![1, 2, 0],
    )
    .unwrap();
    let f = CudaFn::new(&t, Some("sm_86"), std::path::Path::new("/nonexistent")).unwrap();
    assert_eq!(f.n_outputs(), 3);
    let xs = [1.0, 2.0];
    // The single-output calls refuse a function of three outputs.
    assert_eq!(outputs(f.call_batch(&[&xs]).unwrap_err()), (3, 1));
    let mut out = [0.0; 2];
    assert_eq!(
        outputs(f.call_batch_into(&[&xs], &mut out).unwrap_err()),
        (3, 1)
    );
    // SAFETY: refused before any pointer is used.
    let err = unsafe { f.call_device(&[8], 16, 2, None) }.unwrap_err();
    assert_eq!(outputs(err), (3, 1));
    // The m-output calls want exactly three columns of the right length.
    let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
    let err = f
        .call_batch_many_into(&[&xs], &mut [&mut a, &mut b])
        .unwrap_err();
    assert_eq!(outputs(err), (3, 2));
    let (mut a, mut b, mut c) = ([0.0; 2], [0.0; 2], [0.0; 3]);
    let err = f
        .call_batch_many_into(&[&xs], &mut [&mut a, &mut b, &mut c])
        .unwrap_err();
    assert!(
        matches!(err, Error::Kernel(alkahest_tape::Error::Length { .. })),
        "{err}"
    );
    // SAFETY: refused before any pointer is used.
    let err = unsafe { f.call_device_many(&[8], &[16, 24, 32, 40], 2, None) }.unwrap_err();
    assert_eq!(outputs(err), (3, 4));
    let err = unsafe { f.call_device_many(&[], &[16, 24, 32], 2, None) }.unwrap_err();
    assert!(
        matches!(err, Error::Kernel(alkahest_tape::Error::Arity { .. })),
        "{err}"
    );
    // A function of no inputs has no point count unless given outputs.
    let k = Tape::new(0, vec![Op::Const(1.0)], vec![0, 0]).unwrap();
    let f = CudaFn::new(&k, Some("sm_86"), std::path::Path::new("/nonexistent")).unwrap();
    assert!(matches!(f.call_batch_many(&[]), Err(Error::NoPointCount)));
}

/// The binary functions' sample grid: every pair of a subsample of the
/// sample points.
fn pair_grid() -> (Vec<f64>, Vec<f64>) {
    let grid: Vec<f64> = sample_points().into_iter().step_by(23).collect();
    grid.iter()
        .flat_map(|&a| grid.iter().map(move |&b| (a, b)))
        .unzip()
}

#[test]
fn every_function_matches_the_reference() {
    let Some(info) = device("every_function_matches_the_reference") else {
        return;
    };
    eprintln!("device: {info:?}");
    let libdevice = libdevice_path();
    let xs = sample_points();
    for f in UnaryFn::ALL {
        let t = tape(1, vec![Op::Input(0), Op::Unary(f, 0)]);
        let gpu = CudaFn::new(&t, None, &libdevice).unwrap();
        let got = gpu.call_batch(&[&xs]).unwrap();
        let want: Vec<f64> = xs.iter().map(|&x| t.eval_point(&[x])[0]).collect();
        check_ulps(
            &got,
            &want,
            unary_ulps(f),
            |i| ulp_checked(f, xs[i]),
            |i| format!("{f:?}({:e})", xs[i]),
        );
    }
    // Binary functions over a grid of pairs.
    let (a, b) = pair_grid();
    for f in BinaryFn::ALL {
        let t = tape(2, vec![Op::Input(0), Op::Input(1), Op::Binary(f, 0, 1)]);
        let gpu = CudaFn::new(&t, None, &libdevice).unwrap();
        let got = gpu.call_batch(&[&a, &b]).unwrap();
        let want: Vec<f64> = (0..a.len())
            .map(|i| t.eval_point(&[a[i], b[i]])[0])
            .collect();
        check_ulps(
            &got,
            &want,
            binary_ulps(f),
            |_| true,
            |i| format!("{f:?}({:e}, {:e})", a[i], b[i]),
        );
        if matches!(f, BinaryFn::Min | BinaryFn::Max | BinaryFn::Copysign) {
            for i in 0..a.len() {
                assert!(
                    got[i].is_nan() || got[i].to_bits() == want[i].to_bits(),
                    "{f:?}({:e}, {:e}) sign of zero: gpu {:e}, reference {:e}",
                    a[i],
                    b[i],
                    got[i],
                    want[i]
                );
            }
        }
    }
}

/// Every comparison and selection, bit for bit, including NaN operands
/// (false except `!=`) and NaN conditions (select the first value).
#[test]
fn comparisons_and_selections_match_the_reference() {
    let Some(_) = device("comparisons_and_selections_match_the_reference") else {
        return;
    };
    let (a, b) = pair_grid();
    let c: Vec<f64> = (0..a.len())
        .map(|i| [0.0, -0.0, 1.0, f64::NAN, -2.5][i % 5])
        .collect();
    // Outputs: a op b for each op, then select(c, a, b), then
    // select(a < b, a, b) (a lowered piecewise shape).
    let mut ops = vec![Op::Input(0), Op::Input(1), Op::Input(2)];
    for k in CmpOp::ALL {
        ops.push(Op::Cmp(k, 0, 1));
    }
    ops.push(Op::Select(2, 0, 1));
    ops.push(Op::Select(3, 0, 1));
    let outputs: Vec<Reg> = (3..ops.len() as Reg).collect();
    let t = Tape::new(3, ops, outputs).unwrap();
    let f = CudaFn::new(&t, None, &libdevice_path()).unwrap();
    let cols: [&[f64]; 3] = [&a, &b, &c];
    let got = f.call_batch_many(&cols).unwrap();
    let want = reference(&t, &cols, a.len());
    assert_eq!(got.len(), t.n_outputs());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        for i in 0..a.len() {
            assert!(
                g[i].to_bits() == w[i].to_bits() || (g[i].is_nan() && w[i].is_nan()),
                "output {k} at ({:e}, {:e}, {:e}): gpu {:e}, reference {:e}",
                a[i],
                b[i],
                c[i],
                g[i],
                w[i]
            );
        }
    }
}

/// All functions in one kernel of many outputs: each output column holds
/// its own function (the same bounds as one function per kernel).
#[test]
fn many_outputs_in_one_launch_match_the_reference() {
    let Some(_) = device("many_outputs_in_one_launch_match_the_reference") else {
        return;
    };
    let (a, b) = pair_grid();
    let mut ops = vec![Op::Input(0), Op::Input(1)];
    let mut bounds = Vec::new();
    for f in UnaryFn::ALL {
        ops.push(Op::Unary(f, 0));
        bounds.push((format!("{f:?}"), unary_ulps(f), Some(f)));
    }
    for f in BinaryFn::ALL {
        ops.push(Op::Binary(f, 0, 1));
        bounds.push((format!("{f:?}"), binary_ulps(f), None));
    }
    // A shared subexpression feeding two outputs, and a repeated output.
    ops.push(Op::Mul(0, 1));
    let prod = (ops.len() - 1) as Reg;
    ops.push(Op::Add(prod, 0));
    let mut outputs: Vec<Reg> = (2..ops.len() as Reg).collect();
    outputs.push(prod);
    bounds.push(("x*y".into(), (0, true), None));
    bounds.push(("x*y + x".into(), (0, true), None));
    bounds.push(("x*y again".into(), (0, true), None));
    let t = Tape::new(2, ops, outputs).unwrap();
    let f = CudaFn::new(&t, None, &libdevice_path()).unwrap();
    assert_eq!(f.n_outputs(), bounds.len());
    let cols: [&[f64]; 2] = [&a, &b];
    let want = reference(&t, &cols, a.len());
    // Into caller buffers (pre-filled with garbage: every value is written).
    let mut got = vec![vec![f64::NAN; a.len()]; t.n_outputs()];
    let mut refs: Vec<&mut [f64]> = got.iter_mut().map(Vec::as_mut_slice).collect();
    f.call_batch_many_into(&cols, &mut refs).unwrap();
    for (k, (name, bound, unary)) in bounds.iter().enumerate() {
        check_ulps(
            &got[k],
            &want[k],
            *bound,
            |i| unary.is_none_or(|u| ulp_checked(u, a[i])),
            |i| format!("output {k} = {name} at ({:e}, {:e})", a[i], b[i]),
        );
    }
    // The allocating form gives the same columns.
    assert_eq!(
        f.call_batch_many(&cols)
            .unwrap()
            .iter()
            .map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        got.iter()
            .map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * (a.abs() + b.abs()) + 1e-12
}

/// Input columns for the random-tape tests: uniform in [-3, 3) with 2%
/// special values.
fn random_columns(n_inputs: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let specials = [0.0, -0.0, 1.0, -1.0, f64::NAN, f64::INFINITY, 1e-310];
    (0..n_inputs)
        .map(|v| {
            (0..n)
                .map(|i| {
                    let h = (seed ^ ((v * 7919 + i) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                        .wrapping_mul(0xD1B5_4A32_D192_ED03);
                    if h.is_multiple_of(50) {
                        specials[(h >> 8) as usize % specials.len()]
                    } else {
                        ((h >> 11) as f64 / (1u64 << 53) as f64) * 6.0 - 3.0
                    }
                })
                .collect()
        })
        .collect()
}

/// GPU columns against reference columns: bit-identical without libdevice
/// calls; otherwise at least 99% of the points close (per output).
fn compare_random(tape: &Tape, got: &[Vec<f64>], want: &[Vec<f64>]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let n = w.len();
        prop_assert_eq!(g.len(), n);
        if has_transcendental(tape) {
            let bad = g.iter().zip(w).filter(|&(&g, &w)| !close(g, w)).count();
            prop_assert!(
                bad * 100 <= n,
                "output {k}: {bad} of {n} points differ\n{tape:?}"
            );
        } else {
            for i in 0..n {
                prop_assert!(
                    ulps(g[i], w[i]) == 0,
                    "output {k}, point {i}: gpu {:e}, reference {:e}\n{tape:?}",
                    g[i],
                    w[i]
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_tapes_match_the_reference(
        tape in arb_tape_ordinary(3, 20, 1),
        seed in any::<u64>(),
        n in 1usize..3000,
    ) {
        if device("random_tapes_match_the_reference").is_none() {
            return Ok(());
        }
        let cols = random_columns(tape.n_inputs(), n, seed);
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let want = reference(&tape, &refs, n);
        let gpu = CudaFn::new(&tape, None, &libdevice_path()).unwrap();
        let got = gpu.call_batch(&refs).unwrap();
        compare_random(&tape, &[got], &want)?;
    }

    #[test]
    fn random_multi_output_tapes_match_the_reference(
        tape in arb_tape_ordinary(3, 20, 4),
        seed in any::<u64>(),
        n in 1usize..3000,
    ) {
        if device("random_multi_output_tapes_match_the_reference").is_none() {
            return Ok(());
        }
        let cols = random_columns(tape.n_inputs(), n, seed);
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let want = reference(&tape, &refs, n);
        let gpu = CudaFn::new(&tape, None, &libdevice_path()).unwrap();
        let got = gpu.call_batch_many(&refs).unwrap();
        compare_random(&tape, &got, &want)?;
    }
}

fn polynomial_tape() -> Tape {
    // ((x*0.5 + 1)*x - 3)*x + 0.25
    tape(
        1,
        vec![
            Op::Input(0),
            Op::Const(0.5),
            Op::Const(1.0),
            Op::Const(3.0),
            Op::Const(0.25),
            Op::Mul(0, 1),
            Op::Add(5, 2),
            Op::Mul(6, 0),
            Op::Sub(7, 3),
            Op::Mul(8, 0),
            Op::Add(9, 4),
        ],
    )
}

/// The polynomial's reference value at each point.
fn polynomial_reference(xs: &[f64]) -> Vec<f64> {
    let t = polynomial_tape();
    xs.iter().map(|&x| t.eval_point(&[x])[0]).collect()
}

#[test]
fn sizes_beyond_one_grid_and_empty_batches() {
    let Some(_) = device("sizes_beyond_one_grid_and_empty_batches") else {
        return;
    };
    let tape = polynomial_tape();
    let f = CudaFn::new(&tape, Some("sm_60"), &libdevice_path()).unwrap();
    for n in [0usize, 1, 255, 256, 257, 100_003, 5_000_000] {
        let xs: Vec<f64> = (0..n).map(|i| i as f64 * 1e-3 - 7.0).collect();
        let got = f.call_batch(&[&xs]).unwrap();
        assert_eq!(got, polynomial_reference(&xs), "n = {n}");
    }
    // A function of no inputs.
    let konst = tape_of_no_inputs();
    let f = CudaFn::new(&konst, None, &libdevice_path()).unwrap();
    let mut out = vec![0.0; 1000];
    f.call_batch_into(&[], &mut out).unwrap();
    assert!(out.iter().all(|&v| v == 2f64.sqrt()));
    assert!(matches!(f.call_batch(&[]), Err(Error::NoPointCount)));

    // Several outputs beyond one grid, and of no inputs.
    let two = Tape::new(
        1,
        vec![
            Op::Input(0),
            Op::Unary(UnaryFn::Floor, 0),
            Op::Cmp(CmpOp::Gt, 0, 1),
        ],
        vec![1, 2, 0],
    )
    .unwrap();
    let f = CudaFn::new(&two, None, &libdevice_path()).unwrap();
    for n in [0usize, 1, 257, 3_000_001] {
        let xs: Vec<f64> = (0..n).map(|i| i as f64 * 1e-3 - 7.0).collect();
        let got = f.call_batch_many(&[&xs]).unwrap();
        assert_eq!(got, reference(&two, &[&xs], n), "n = {n}");
    }
    let konst = Tape::new(
        0,
        vec![Op::Const(2.0), Op::Unary(UnaryFn::Cbrt, 0), Op::Const(-1.0)],
        vec![2, 1],
    )
    .unwrap();
    let f = CudaFn::new(&konst, None, &libdevice_path()).unwrap();
    let (mut a, mut b) = (vec![0.0; 777], vec![0.0; 777]);
    f.call_batch_many_into(&[], &mut [&mut a, &mut b]).unwrap();
    assert!(a.iter().all(|&v| v == -1.0));
    let cbrt2 = konst.eval_point(&[])[1];
    assert!(
        b.iter().all(|&v| ulps(v, cbrt2) <= 2),
        "{} vs {cbrt2}",
        b[0]
    );
}

fn tape_of_no_inputs() -> Tape {
    tape(0, vec![Op::Const(2.0), Op::Unary(UnaryFn::Sqrt, 0)])
}

/// Device buffers in device 0's primary context for the device-path tests.
struct DeviceData {
    dev: sys::CUdevice,
    ptrs: Vec<u64>,
}

impl DeviceData {
    fn new(columns: &[&[f64]]) -> DeviceData {
        // SAFETY: the driver was probed (device() returned Some); the
        // primary context is retained here and released in Drop; the
        // context is pushed only around each driver call sequence.
        unsafe {
            let dev = result::device::get(0).unwrap();
            let ctx = result::primary_ctx::retain(dev).unwrap();
            sys::cuCtxPushCurrent_v2(ctx).result().unwrap();
            let ptrs = columns
                .iter()
                .map(|c| {
                    let p = result::malloc_sync(c.len().max(1) * 8).unwrap();
                    result::memcpy_htod_sync(p, c).unwrap();
                    p
                })
                .collect();
            let mut old = std::ptr::null_mut();
            sys::cuCtxPopCurrent_v2(&mut old).result().unwrap();
            DeviceData { dev, ptrs }
        }
    }

    fn read(&self, k: usize, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; n];
        // SAFETY: buffer k holds n doubles; the copy is synchronous.
        unsafe {
            let ctx = result::primary_ctx::retain(self.dev).unwrap();
            sys::cuCtxPushCurrent_v2(ctx).result().unwrap();
            result::memcpy_dtoh_sync(&mut out, self.ptrs[k]).unwrap();
            let mut old = std::ptr::null_mut();
            sys::cuCtxPopCurrent_v2(&mut old).result().unwrap();
            result::primary_ctx::release(self.dev).unwrap();
        }
        out
    }
}

impl Drop for DeviceData {
    fn drop(&mut self) {
        // SAFETY: the buffers were allocated in this context and all work
        // on them has been synchronized by the tests.
        unsafe {
            let ctx = result::primary_ctx::retain(self.dev).unwrap();
            sys::cuCtxPushCurrent_v2(ctx).result().unwrap();
            for &p in &self.ptrs {
                let _ = result::memory_free(p);
            }
            let mut old = std::ptr::null_mut();
            sys::cuCtxPopCurrent_v2(&mut old).result().unwrap();
            result::primary_ctx::release(self.dev).unwrap();
            result::primary_ctx::release(self.dev).unwrap();
        }
    }
}

#[test]
fn device_pointers_streams_and_in_place() {
    let Some(_) = device("device_pointers_streams_and_in_place") else {
        return;
    };
    let tape = tape(
        2,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Unary(UnaryFn::Sin, 0),
            Op::Mul(2, 1),
            Op::Binary(BinaryFn::Max, 3, 0),
        ],
    );
    let n = 300_001;
    let x: Vec<f64> = (0..n).map(|i| (i as f64).sqrt() - 100.0).collect();
    let y: Vec<f64> = (0..n).map(|i| 1.0 / (1.0 + i as f64)).collect();
    let out0 = vec![0.0; n];
    let f = CudaFn::new(&tape, None, &libdevice_path()).unwrap();
    let host = f.call_batch(&[&x, &y]).unwrap();

    let data = DeviceData::new(&[&x, &y, &out0]);
    let (dx, dy, dout) = (data.ptrs[0], data.ptrs[1], data.ptrs[2]);
    // Default stream, synchronous.
    // SAFETY: three live device buffers of n doubles on device 0.
    unsafe { f.call_device(&[dx, dy], dout, n, None) }.unwrap();
    assert_eq!(data.read(2, n), host);

    // An explicit stream: asynchronous, then synchronized by the caller.
    // SAFETY: as above; the stream belongs to the primary context.
    unsafe {
        let ctx = result::primary_ctx::retain(data.dev).unwrap();
        sys::cuCtxPushCurrent_v2(ctx).result().unwrap();
        let stream = result::stream::create(result::stream::StreamKind::NonBlocking).unwrap();
        result::memset_d8_async(dout, 0, n * 8, stream).unwrap();
        f.call_device(&[dx, dy], dout, n, Some(stream as u64))
            .unwrap();
        result::stream::synchronize(stream).unwrap();
        result::stream::destroy(stream).unwrap();
        let mut old = std::ptr::null_mut();
        sys::cuCtxPopCurrent_v2(&mut old).result().unwrap();
        result::primary_ctx::release(data.dev).unwrap();
    }
    assert_eq!(data.read(2, n), host);

    // In place: the output overwrites the first input.
    // SAFETY: each thread reads its point before writing it.
    unsafe { f.call_device(&[dx, dy], dx, n, None) }.unwrap();
    assert_eq!(data.read(0, n), host);

    // Host memory is refused, not dereferenced (unless the driver maps
    // pageable memory for the GPU (HMM), when the result must be right).
    // SAFETY: `x` lives across the synchronous call.
    match unsafe { f.call_device(&[x.as_ptr() as u64, dy], dout, n, None) } {
        Err(Error::NotDevicePointer { .. }) => {}
        Ok(()) => assert_eq!(data.read(2, n), host),
        Err(other) => panic!("host pointer: {other}"),
    }
    let err = unsafe { f.call_device(&[dx], dout, n, None) }.unwrap_err();
    assert!(matches!(err, Error::Kernel(_)), "{err}");
}

/// `call_device_many`: m output pointers on the default stream and on an
/// explicit stream, an output in place of an input, and a table cache
/// that tells input from output pointers (the same buffers in other roles
/// must not reuse a table).
#[test]
fn device_pointers_with_several_outputs() {
    let Some(_) = device("device_pointers_with_several_outputs") else {
        return;
    };
    // (asinh(x) * y, x < y, fmod(x, y), erfc(y) where x >= 0 else lgamma(x))
    let t = Tape::new(
        2,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Unary(UnaryFn::Asinh, 0),
            Op::Mul(2, 1),
            Op::Cmp(CmpOp::Lt, 0, 1),
            Op::Binary(BinaryFn::Fmod, 0, 1),
            Op::Const(0.0),
            Op::Cmp(CmpOp::Ge, 0, 6),
            Op::Unary(UnaryFn::Erfc, 1),
            Op::Unary(UnaryFn::Lgamma, 0),
            Op::Select(7, 8, 9),
        ],
        vec![3, 4, 5, 10],
    )
    .unwrap();
    let m = t.n_outputs();
    let n = 200_003;
    let x: Vec<f64> = (0..n).map(|i| (i as f64).sqrt() * 0.1 - 20.0).collect();
    let y: Vec<f64> = (0..n).map(|i| 0.5 + 1.0 / (1.0 + i as f64)).collect();
    let f = CudaFn::new(&t, None, &libdevice_path()).unwrap();
    let host = f.call_batch_many(&[&x, &y]).unwrap();
    let want = reference(&t, &[&x, &y], n);
    for (k, (g, w)) in host.iter().zip(&want).enumerate() {
        let bad = g.iter().zip(w).filter(|&(&g, &w)| !close(g, w)).count();
        assert!(bad * 100 <= n, "output {k}: {bad} of {n} points differ");
    }
    // Exact outputs are exact.
    assert_eq!(host[1], want[1]);

    let zeros = vec![0.0; n];
    let mut columns: Vec<&[f64]> = vec![&x, &y];
    columns.extend(std::iter::repeat_n(zeros.as_slice(), m));
    let data = DeviceData::new(&columns);
    let (dx, dy) = (data.ptrs[0], data.ptrs[1]);
    let outs: Vec<u64> = data.ptrs[2..].to_vec();
    let read_all = |data: &DeviceData| (2..2 + m).map(|k| data.read(k, n)).collect::<Vec<_>>();
    // SAFETY: live device buffers of n doubles on device 0.
    unsafe { f.call_device_many(&[dx, dy], &outs, n, None) }.unwrap();
    assert_eq!(read_all(&data), host);

    // An explicit stream, outputs in reverse order.
    let reversed: Vec<u64> = outs.iter().rev().copied().collect();
    // SAFETY: as above; the stream belongs to the primary context.
    unsafe {
        let ctx = result::primary_ctx::retain(data.dev).unwrap();
        sys::cuCtxPushCurrent_v2(ctx).result().unwrap();
        let stream = result::stream::create(result::stream::StreamKind::NonBlocking).unwrap();
        f.call_device_many(&[dx, dy], &reversed, n, Some(stream as u64))
            .unwrap();
        result::stream::synchronize(stream).unwrap();
        result::stream::destroy(stream).unwrap();
        let mut old = std::ptr::null_mut();
        sys::cuCtxPopCurrent_v2(&mut old).result().unwrap();
        result::primary_ctx::release(data.dev).unwrap();
    }
    let mut rev = read_all(&data);
    rev.reverse();
    assert_eq!(rev, host);

    // In place: output 0 overwrites x, output 3 overwrites y.
    let in_place = [dx, outs[1], outs[2], dy];
    // SAFETY: each thread reads its point's inputs before writing outputs.
    unsafe { f.call_device_many(&[dx, dy], &in_place, n, None) }.unwrap();
    assert_eq!(data.read(0, n), host[0]);
    assert_eq!(data.read(1, n), host[3]);

    // Wrong output count, and the single-output call, are refused.
    // SAFETY: refused before the pointers are used.
    let err = unsafe { f.call_device_many(&[dx, dy], &outs[..2], n, None) }.unwrap_err();
    assert!(matches!(err, Error::Kernel(_)), "{err}");
    let err = unsafe { f.call_device(&[dx, dy], outs[0], n, None) }.unwrap_err();
    assert!(matches!(err, Error::Kernel(_)), "{err}");
}

/// More distinct sets of device pointers than the per-module table cache
/// holds, in an order that evicts and re-uploads tables: every call must
/// read its own columns.
#[test]
fn many_pointer_sets_evict_and_reupload_tables() {
    let Some(_) = device("many_pointer_sets_evict_and_reupload_tables") else {
        return;
    };
    let tape = tape(2, vec![Op::Input(0), Op::Input(1), Op::Mul(0, 1)]);
    let f = CudaFn::new(&tape, None, &libdevice_path()).unwrap();
    let n = 1000;
    let sets = 45;
    let cols: Vec<Vec<f64>> = (0..2 * sets)
        .map(|c| (0..n).map(|i| (c * n + i) as f64).collect())
        .collect();
    let mut all: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let zeros = vec![0.0; n];
    all.extend(std::iter::repeat_n(zeros.as_slice(), sets));
    let data = DeviceData::new(&all);
    for round in 0..3 {
        for k in 0..sets {
            // Rounds 0 and 2 walk forward, round 1 backward.
            let k = if round == 1 { sets - 1 - k } else { k };
            let (a, b, out) = (
                data.ptrs[2 * k],
                data.ptrs[2 * k + 1],
                data.ptrs[2 * sets + k],
            );
            // SAFETY: live device buffers of n doubles on device 0.
            unsafe { f.call_device(&[a, b], out, n, None) }.unwrap();
            let want: Vec<f64> = cols[2 * k]
                .iter()
                .zip(&cols[2 * k + 1])
                .map(|(x, y)| x * y)
                .collect();
            assert_eq!(data.read(2 * sets + k, n), want, "round {round}, set {k}");
        }
    }
}

#[test]
fn concurrent_calls_share_one_module() {
    let Some(_) = device("concurrent_calls_share_one_module") else {
        return;
    };
    let tape = polynomial_tape();
    let f = CudaFn::new(&tape, None, &libdevice_path()).unwrap();
    let xs: Vec<f64> = (0..50_000).map(|i| i as f64 * 1e-4).collect();
    let want = polynomial_reference(&xs);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    assert_eq!(f.call_batch(&[&xs]).unwrap(), want);
                }
            });
        }
    });
}

#[test]
fn explicit_architecture_too_new_for_the_device() {
    let Some(info) = device("explicit_architecture_too_new_for_the_device") else {
        return;
    };
    if info.compute_capability >= (9, 0) {
        // sm_90a runs only on exactly 9.0: a newer device must refuse it.
        let f = CudaFn::new(&polynomial_tape(), Some("sm_90a"), &libdevice_path()).unwrap();
        let r = f.call_batch(&[&[1.0]]);
        if info.compute_capability == (9, 0) {
            assert_eq!(r.unwrap(), vec![-1.25]);
        } else {
            assert!(matches!(r, Err(Error::NoDevice(_))), "{r:?}");
        }
    } else {
        let f = CudaFn::new(&polynomial_tape(), Some("sm_90"), &libdevice_path()).unwrap();
        let r = f.call_batch(&[&[1.0]]);
        assert!(matches!(r, Err(Error::NoDevice(_))), "{r:?}");
    }
}
