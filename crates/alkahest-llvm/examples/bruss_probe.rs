//! The 60-output Brusselator right-hand side (benches/bench_ode.py's
//! `bruss` workload) through the LLVM bulk entry: ns a point into a warm
//! output at several batch sizes (and how many output groups it runs),
//! and `ASM=path` writes the assembly.
//!
//! `cargo run --release -p alkahest-llvm --example bruss_probe -- [N ...]`

use std::time::Instant;

use alkahest_core::ExprPool;
use alkahest_llvm::{LlvmOptions, compile, emit_asm};
use alkahest_tape::Evaluator;

fn main() {
    let cells = 30;
    let p = ExprPool::new();
    let num = |x: f64| p.float(x).unwrap();
    let u: Vec<_> = (0..cells)
        .map(|i| p.symbol(&format!("u{i}")).unwrap())
        .collect();
    let v: Vec<_> = (0..cells)
        .map(|i| p.symbol(&format!("v{i}")).unwrap())
        .collect();
    let alpha = num(0.02 * ((cells + 1) * (cells + 1)) as f64);
    let (one, two, three, four) = (num(1.0), num(2.0), num(3.0), num(4.0));
    let mut rhs = Vec::new();
    for i in 0..cells {
        let ul = if i > 0 { u[i - 1] } else { one };
        let ur = if i + 1 < cells { u[i + 1] } else { one };
        let vl = if i > 0 { v[i - 1] } else { three };
        let vr = if i + 1 < cells { v[i + 1] } else { three };
        let u2v = p.mul(&[u[i], u[i], v[i]]).unwrap();
        let lap = |l, c, r| {
            let m2 = p.mul(&[two, c]).unwrap();
            let s = p.sub(p.add(&[l, r]).unwrap(), m2).unwrap();
            p.mul(&[alpha, s]).unwrap()
        };
        let m4 = p.mul(&[four, u[i]]).unwrap();
        let du = p
            .sub(p.add(&[one, u2v, lap(ul, u[i], ur)]).unwrap(), m4)
            .unwrap();
        let m3 = p.mul(&[three, u[i]]).unwrap();
        let dv = p
            .sub(p.add(&[m3, lap(vl, v[i], vr)]).unwrap(), u2v)
            .unwrap();
        rhs.push(du);
        rhs.push(dv);
    }
    let vars: Vec<_> = (0..cells).flat_map(|i| [u[i], v[i]]).collect();
    let tape = alkahest_tape::lower_many(&p, &rhs, &vars).unwrap();
    let (tape, _) = alkahest_tape::contract_fma(&tape);
    let opts = LlvmOptions::default();
    if let Ok(path) = std::env::var("ASM") {
        std::fs::write(path, emit_asm(&tape, &opts).unwrap()).unwrap();
    }
    let f = compile(&tape, &opts).unwrap();
    let groups = alkahest_tape::output_groups(&tape).map_or(0, |g| g.len());
    println!(
        "{} ops, {} outputs, {groups} output groups",
        tape.n_compute(),
        tape.n_outputs()
    );
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![4096, 65536, 200_000, 1_000_000]
    } else {
        sizes
    };
    for n in sizes {
        let mut seed = 1u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            0.5 + 3.0 * ((seed >> 11) as f64 / (1u64 << 53) as f64)
        };
        let cols: Vec<Vec<f64>> = (0..2 * cells)
            .map(|_| (0..n).map(|_| rnd()).collect())
            .collect();
        // One allocation, 64-byte aligned columns (n a multiple of 8).
        let mut buf = vec![0.0f64; 2 * cells * n + 8];
        let skip = buf.as_ptr().align_offset(64);
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let mut best = f64::INFINITY;
        let reps = (20_000_000 / n).clamp(5, 200);
        for _ in 0..reps {
            let mut outs: Vec<&mut [f64]> = buf[skip..skip + 2 * cells * n].chunks_mut(n).collect();
            let t = Instant::now();
            f.eval_columns(&refs, &mut outs);
            best = best.min(t.elapsed().as_secs_f64());
        }
        let sum: f64 = buf[skip..skip + 2 * cells * n]
            .iter()
            .enumerate()
            .map(|(i, v)| v * (1.0 + (i % 7) as f64))
            .sum();
        println!(
            "n = {n:>9}: {:.2} ns/pt (checksum {sum:.6e})",
            best / n as f64 * 1e9
        );
    }
}
