//! `polynomial_1M`: a dense degree-10 polynomial at 1,000,000 points on the
//! GPU, with host transfers counted (`call_batch`) and with device-resident
//! data (`call_device`), against the CPU interpreter on the same data.
//!
//! Run with `cargo bench -p alkahest-cuda --bench polynomial_1m`; prints
//! ns/point. Without a CUDA device it prints why and exits successfully.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use alkahest_core::ExprPool;
use alkahest_cuda::{CudaFn, device_available, find_libdevice};
use alkahest_interp::Interpreter;
use alkahest_tape::{Evaluator, Tape, lower};
use cudarc::driver::{result, sys};

const N: usize = 1_000_000;
const REPS: usize = 20;

/// sum_{k=0}^{10} x^k / (k + 1), lowered like any user expression.
fn polynomial() -> Tape {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let terms: Vec<_> = (0..=10)
        .map(|k| {
            let c = p.rational(1, k + 1).unwrap();
            let xk = p.pow(x, p.integer(k).unwrap()).unwrap();
            p.mul(&[c, xk]).unwrap()
        })
        .collect();
    let e = p.add(&terms).unwrap();
    lower(&p, e, &[x]).unwrap()
}

/// Best of `REPS` runs, in ns per point.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    (0..REPS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e9 / N as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let tape = polynomial();
    let xs: Vec<f64> = (0..N).map(|i| -1.0 + 2.0 * i as f64 / N as f64).collect();
    let interp = Interpreter::new(&tape);
    let mut expected = vec![0.0; N];
    let cpu = time(|| interp.eval_columns(&[&xs], &mut [black_box(expected.as_mut_slice())]));
    println!("polynomial_1M  cpu interpreter (1 thread): {cpu:8.3} ns/point");

    // A polynomial calls no libdevice function: any path will do for it.
    let libdevice = find_libdevice(&[]).unwrap_or_else(|_| PathBuf::from("/nonexistent"));
    let t = Instant::now();
    let f = CudaFn::new(&tape, None, &libdevice).expect("PTX compilation");
    println!(
        "polynomial_1M  compile to PTX ({}):       {:8.1} ms",
        f.arch(),
        t.elapsed().as_secs_f64() * 1e3
    );

    let info = match device_available() {
        Ok(info) => info,
        Err(e) => {
            println!("polynomial_1M  GPU runs skipped: {e}");
            return;
        }
    };
    println!(
        "polynomial_1M  device: {} (compute capability {}.{}, {} SMs, driver {})",
        info.name,
        info.compute_capability.0,
        info.compute_capability.1,
        info.multiprocessors,
        info.driver_version
    );

    let got = f.call_batch(&[&xs]).expect("call_batch");
    let worst = got
        .iter()
        .zip(&expected)
        .map(|(a, b)| ((a - b) / b.abs().max(1e-300)).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-15,
        "GPU result differs from the interpreter: {worst}"
    );

    let host = time(|| {
        black_box(f.call_batch(&[&xs]).unwrap());
    });
    println!(
        "polynomial_1M  gpu incl. transfers:         {host:8.3} ns/point  ({:.1}x the interpreter)",
        cpu / host
    );

    // Device-resident: upload once, then run on device pointers.
    // SAFETY: the driver was probed by device_available; the buffers are
    // allocated in device 0's primary context, sized for N doubles, and
    // freed after the last (synchronous) call.
    unsafe {
        let dev = result::device::get(0).unwrap();
        let ctx = result::primary_ctx::retain(dev).unwrap();
        sys::cuCtxPushCurrent_v2(ctx).result().unwrap();
        let dx = result::malloc_sync(N * 8).unwrap();
        let dout = result::malloc_sync(N * 8).unwrap();
        result::memcpy_htod_sync(dx, &xs).unwrap();
        let resident = time(|| f.call_device(&[dx], dout, N, None).unwrap());
        let mut back = vec![0.0; N];
        result::memcpy_dtoh_sync(&mut back, dout).unwrap();
        assert_eq!(back, got);
        println!(
            "polynomial_1M  gpu device-resident:         {resident:8.3} ns/point  ({:.1}x the interpreter)",
            cpu / resident
        );
        result::memory_free(dx).unwrap();
        result::memory_free(dout).unwrap();
        let mut old = std::ptr::null_mut();
        sys::cuCtxPopCurrent_v2(&mut old).result().unwrap();
        result::primary_ctx::release(dev).unwrap();
    }
}
