//! Compile latency by expression size, in thread CPU time, for the same
//! random DAGs as the `llvm_compile` criterion bench.
//!
//! `cargo run --release -p alkahest-llvm --example compile_profile -- [N ...]`
//! (default sizes 10 100 1000 10000 20000). Also prints the bulk entry's
//! time per point on 4096 points. Environment: `REPS` (default 3);
//! `BOUNDED=1` for a mostly-arithmetic DAG with finite values, with a
//! function every `CALL_EVERY` (default 8) nodes; `OPT_LEVEL` (0-3) sets the
//! code generator's optimization level; `ALKAHEST_LLVM_ARGS` passes
//! LLVM command-line options (e.g. `-time-passes`) for diagnostics.

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_llvm::{LlvmOptions, compile};
use alkahest_tape::{Evaluator, lower};

#[path = "../benches/common/mod.rs"]
mod common;

use common::{lcg, random_expr};

/// A random DAG of mostly arithmetic with bounded values: averages,
/// differences and products of earlier nodes, and every eighth node a
/// bounded function (`sin`, `tanh`), so the bulk timing runs on finite data.
fn bounded_expr(p: &ExprPool, vars: &[ExprId], n: usize, seed: u64) -> ExprId {
    let mut rnd = lcg(seed);
    let half = p.rational(1, 2).unwrap();
    let mut nodes: Vec<ExprId> = vars.to_vec();
    while nodes.len() < n {
        let len = nodes.len();
        let a = nodes[len - 1 - rnd(8.min(len))];
        let b = nodes[rnd(len)];
        let e = match rnd(3) {
            0 => p.mul(&[half, p.add(&[a, b]).unwrap()]),
            1 => p.mul(&[a, b]),
            _ => p.mul(&[half, p.sub(a, b).unwrap()]),
        }
        .unwrap();
        let every: usize = std::env::var("CALL_EVERY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8);
        let e = if len.is_multiple_of(every) {
            let f = if rnd(2) == 0 { Func::Sin } else { Func::Tanh };
            p.func(f, &[e]).unwrap()
        } else {
            e
        };
        nodes.push(e);
    }
    let tail: Vec<ExprId> = nodes[nodes.len() - 5..].to_vec();
    p.add(&tail).unwrap()
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    // Extra LLVM command-line options for this process only, e.g.
    // `ALKAHEST_LLVM_ARGS=-time-passes`.
    if let Ok(extra) = std::env::var("ALKAHEST_LLVM_ARGS") {
        let owned: Vec<std::ffi::CString> = std::iter::once("compile_profile")
            .chain(extra.split_whitespace())
            .map(|a| std::ffi::CString::new(a).expect("no NUL in arguments"))
            .collect();
        let ptrs: Vec<_> = owned.iter().map(|a| a.as_ptr()).collect();
        // SAFETY: NUL-terminated strings that outlive the call; a null overview.
        unsafe {
            llvm_sys::support::LLVMParseCommandLineOptions(
                ptrs.len() as i32,
                ptrs.as_ptr(),
                std::ptr::null(),
            )
        };
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10, 100, 1_000, 10_000, 20_000]
    } else {
        sizes
    };
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut opts = LlvmOptions::default();
    if let Some(level) = std::env::var("OPT_LEVEL").ok().and_then(|v| v.parse().ok()) {
        opts.opt_level = level;
    }
    for n in sizes {
        let p = ExprPool::new();
        let vars: Vec<ExprId> = ["x", "y", "z"]
            .iter()
            .map(|s| p.symbol(s).unwrap())
            .collect();
        let e = if std::env::var_os("BOUNDED").is_some() {
            bounded_expr(&p, &vars, n, 0x5eed + n as u64)
        } else {
            random_expr(&p, &vars, n, 0x5eed + n as u64)
        };
        let tape = lower(&p, e, &vars).unwrap();
        let mut best = f64::INFINITY;
        let mut f = None;
        for _ in 0..reps {
            let t0 = thread_cpu();
            let g = compile(&tape, &opts).unwrap();
            best = best.min(thread_cpu() - t0);
            f = Some(g);
        }
        let f = f.expect("reps >= 1");
        // Bulk throughput on 4096 points in [0.5, 1.5).
        let m = 4096;
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|v| {
                (0..m)
                    .map(|i| 0.25 + 0.5 * ((i * 7 + v * 13) % m) as f64 / m as f64)
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let mut out = vec![0.0; m];
        let mut eval_best = f64::INFINITY;
        for _ in 0..5 {
            let t0 = thread_cpu();
            f.eval_columns(&refs, &mut [&mut out]);
            eval_best = eval_best.min(thread_cpu() - t0);
        }
        let checksum: f64 = out.iter().filter(|v| v.is_finite()).sum();
        println!(
            "{n:>6} nodes  {:>6} ops  {:>9.1} ms CPU (best of {reps})  bulk {:>9.1} ns/point  (checksum {checksum:.6e})",
            tape.ops().len(),
            best * 1e3,
            eval_best / m as f64 * 1e9
        );
    }
}
