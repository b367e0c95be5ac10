//! Running on a GPU, compared with the CPU interpreter. Every test compiles
//! everywhere; without a driver or device it checks that the error is the
//! typed one and prints why the GPU part is skipped.
//!
//! Tolerances (libdevice and glibc are each within 1-2 ulp of the true
//! result, in different directions):
//! - `+ - * /`, `fma`, `sqrt`, `abs`, `min`, `max`: bit-identical (IEEE,
//!   no contraction on either side);
//! - `exp log log1p expm1`: at most 2 ulp apart (1 ulp each side);
//! - `sin cos tan asin acos atan sinh cosh tanh atan2 hypot pow`: at most
//!   4 ulp (glibc documents up to 2 ulp for the hyperbolic functions);
//! - random expressions mixing them: error compounds and can be amplified
//!   arbitrarily by ill-conditioned steps (cancellation, poles), so at
//!   least 99% of points must agree to `1e-9 * (|a|+|b|) + 1e-12`
//!   (NaN with NaN, equal infinities); expressions without
//!   transcendental functions must be bit-identical at every point.

mod common;

use std::path::PathBuf;

use alkahest_cuda::{CudaFn, DeviceInfo, Error, device_available};
use alkahest_interp::Interpreter;
use alkahest_kernel::{BinaryFn, Evaluator, Op, Tape, UnaryFn};
use common::{arb_tape, has_transcendental, libdevice, ulps};
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

fn unary_ulps(f: UnaryFn) -> u64 {
    match f {
        UnaryFn::Sqrt | UnaryFn::Abs => 0,
        UnaryFn::Exp | UnaryFn::Log | UnaryFn::Log1p | UnaryFn::Expm1 => 2,
        _ => 4,
    }
}

fn binary_ulps(f: BinaryFn) -> u64 {
    match f {
        BinaryFn::Min | BinaryFn::Max => 0,
        BinaryFn::Atan2 | BinaryFn::Hypot | BinaryFn::Pow => 4,
    }
}

#[test]
fn without_device_every_call_is_a_typed_error() {
    if device_available().is_ok() {
        eprintln!("SKIPPED without_device_every_call_is_a_typed_error: a device is present");
        return;
    }
    let tape = Tape {
        n_inputs: 1,
        ops: vec![Op::Input(0), Op::Neg(0)],
        output: 1,
    };
    let f = CudaFn::new(&tape, None, std::path::Path::new("/nonexistent")).unwrap();
    assert_eq!(f.arch(), "sm_86");
    let err = f.call_batch(&[&[1.0]]).unwrap_err();
    assert!(
        matches!(err, Error::NoDriver(_) | Error::NoDevice(_)),
        "{err}"
    );
    // SAFETY: fails at the driver probe, before the pointers are used.
    let err = unsafe { f.call_device(&[8], 16, 1, None) }.unwrap_err();
    assert!(
        matches!(err, Error::NoDriver(_) | Error::NoDevice(_)),
        "{err}"
    );
}

#[test]
fn every_function_matches_the_interpreter() {
    let Some(info) = device("every_function_matches_the_interpreter") else {
        return;
    };
    eprintln!("device: {info:?}");
    let libdevice = libdevice_path();
    let xs = sample_points();
    for f in UnaryFn::ALL {
        let tape = Tape {
            n_inputs: 1,
            ops: vec![Op::Input(0), Op::Unary(f, 0)],
            output: 1,
        };
        let gpu = CudaFn::new(&tape, None, &libdevice).unwrap();
        let got = gpu.call_batch(&[&xs]).unwrap();
        for (&x, &g) in xs.iter().zip(&got) {
            let want = f.apply(x);
            assert!(
                ulps(g, want) <= unary_ulps(f),
                "{f:?}({x:e}): gpu {g:e}, cpu {want:e}"
            );
        }
    }
    // Binary functions over a grid of pairs.
    let grid: Vec<f64> = xs.iter().step_by(23).copied().collect();
    let (a, b): (Vec<f64>, Vec<f64>) = grid
        .iter()
        .flat_map(|&a| grid.iter().map(move |&b| (a, b)))
        .unzip();
    for f in [
        BinaryFn::Atan2,
        BinaryFn::Hypot,
        BinaryFn::Min,
        BinaryFn::Max,
        BinaryFn::Pow,
    ] {
        let tape = Tape {
            n_inputs: 2,
            ops: vec![Op::Input(0), Op::Input(1), Op::Binary(f, 0, 1)],
            output: 2,
        };
        let gpu = CudaFn::new(&tape, None, &libdevice).unwrap();
        let got = gpu.call_batch(&[&a, &b]).unwrap();
        for i in 0..a.len() {
            let want = f.apply(a[i], b[i]);
            assert!(
                ulps(got[i], want) <= binary_ulps(f),
                "{f:?}({:e}, {:e}): gpu {:e}, cpu {want:e}",
                a[i],
                b[i],
                got[i]
            );
            if matches!(f, BinaryFn::Min | BinaryFn::Max) {
                assert_eq!(got[i].to_bits(), want.to_bits(), "{f:?} sign of zero");
            }
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * (a.abs() + b.abs()) + 1e-12
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_tapes_match_the_interpreter(
        tape in arb_tape(3, 20),
        seed in any::<u64>(),
        n in 1usize..3000,
    ) {
        if device("random_tapes_match_the_interpreter").is_none() {
            return Ok(());
        }
        let specials = [0.0, -0.0, 1.0, -1.0, f64::NAN, f64::INFINITY, 1e-310];
        let cols: Vec<Vec<f64>> = (0..tape.n_inputs)
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
            .collect();
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let mut want = vec![0.0; n];
        Interpreter::new(&tape).eval_columns(&refs, &mut want);
        let gpu = CudaFn::new(&tape, None, &libdevice_path()).unwrap();
        let got = gpu.call_batch(&refs).unwrap();
        if has_transcendental(&tape) {
            let bad = got.iter().zip(&want).filter(|&(&g, &w)| !close(g, w)).count();
            prop_assert!(bad * 100 <= n, "{bad} of {n} points differ\n{tape:?}");
        } else {
            for i in 0..n {
                prop_assert!(ulps(got[i], want[i]) == 0,
                    "point {i}: gpu {:e}, cpu {:e}\n{tape:?}", got[i], want[i]);
            }
        }
    }
}

fn polynomial_tape() -> Tape {
    // ((x*0.5 + 1)*x - 3)*x + 0.25
    Tape {
        n_inputs: 1,
        ops: vec![
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
        output: 10,
    }
}

#[test]
fn sizes_beyond_one_grid_and_empty_batches() {
    let Some(_) = device("sizes_beyond_one_grid_and_empty_batches") else {
        return;
    };
    let tape = polynomial_tape();
    let f = CudaFn::new(&tape, Some("sm_60"), &libdevice_path()).unwrap();
    let interp = Interpreter::new(&tape);
    for n in [0usize, 1, 255, 256, 257, 100_003, 5_000_000] {
        let xs: Vec<f64> = (0..n).map(|i| i as f64 * 1e-3 - 7.0).collect();
        let got = f.call_batch(&[&xs]).unwrap();
        let mut want = vec![0.0; n];
        interp.eval_columns(&[&xs], &mut want);
        assert_eq!(got, want, "n = {n}");
    }
    // A function of no inputs.
    let konst = Tape {
        n_inputs: 0,
        ops: vec![Op::Const(2.0), Op::Unary(UnaryFn::Sqrt, 0)],
        output: 1,
    };
    let f = CudaFn::new(&konst, None, &libdevice_path()).unwrap();
    let mut out = vec![0.0; 1000];
    f.call_batch_into(&[], &mut out).unwrap();
    assert!(out.iter().all(|&v| v == 2f64.sqrt()));
    assert!(matches!(f.call_batch(&[]), Err(Error::NoPointCount)));
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
    let tape = Tape {
        n_inputs: 2,
        ops: vec![
            Op::Input(0),
            Op::Input(1),
            Op::Unary(UnaryFn::Sin, 0),
            Op::Mul(2, 1),
            Op::Binary(BinaryFn::Max, 3, 0),
        ],
        output: 4,
    };
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

/// More distinct sets of device pointers than the per-module table cache
/// holds, in an order that evicts and re-uploads tables: every call must
/// read its own columns.
#[test]
fn many_pointer_sets_evict_and_reupload_tables() {
    let Some(_) = device("many_pointer_sets_evict_and_reupload_tables") else {
        return;
    };
    let tape = Tape {
        n_inputs: 2,
        ops: vec![Op::Input(0), Op::Input(1), Op::Mul(0, 1)],
        output: 2,
    };
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
    let mut want = vec![0.0; xs.len()];
    Interpreter::new(&tape).eval_columns(&[&xs], &mut want);
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
