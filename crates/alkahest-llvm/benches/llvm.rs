//! Criterion benches for the LLVM backend.
//!
//! * `llvm_compile/N`: tape -> ready-to-call function, for deterministic
//!   random expressions of N DAG nodes (3 variables; sums, products,
//!   quotients, integer multiples and elementary functions).
//! * `bulk_1M/<expr>/<engine>`: 1M points through `eval_columns` for the
//!   LLVM bulk entry (default and fast-math), the reference interpreter,
//!   and a plain copy of the input column (the memory floor).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_llvm::{LlvmOptions, compile};
use alkahest_tape::{Evaluator, Tape, lower};
mod common;

use common::random_expr;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn compile_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("llvm_compile");
    g.sample_size(10);
    for n in [10usize, 100, 1_000, 10_000, 20_000] {
        let p = ExprPool::new();
        let vars: Vec<ExprId> = ["x", "y", "z"]
            .iter()
            .map(|s| p.symbol(s).unwrap())
            .collect();
        let e = random_expr(&p, &vars, n, 0x5eed + n as u64);
        let tape = lower(&p, e, &vars).unwrap();
        eprintln!(
            "llvm_compile/{n}: {} DAG nodes, {} tape ops",
            p.view().reachable(&[e]).len(),
            tape.ops().len()
        );
        g.measurement_time(Duration::from_secs(if n >= 10_000 { 20 } else { 5 }));
        g.bench_with_input(BenchmarkId::from_parameter(n), &tape, |b, t| {
            b.iter(|| compile(black_box(t), &LlvmOptions::default()).unwrap())
        });
    }
    g.finish();
}

/// `sin(x)*cos(x)`.
fn sin_cos(p: &ExprPool, x: ExprId) -> ExprId {
    let s = p.func(Func::Sin, &[x]).unwrap();
    let c = p.func(Func::Cos, &[x]).unwrap();
    p.mul(&[s, c]).unwrap()
}

/// A dense degree-10 polynomial in Horner form:
/// `((c10*x + c9)*x + ... )*x + c0`.
fn poly10(p: &ExprPool, x: ExprId) -> ExprId {
    let mut acc = p.rational(1, 11).unwrap();
    for k in (0..10).rev() {
        let ck = p
            .rational(if k % 2 == 0 { k + 1 } else { -(k + 1) }, 7)
            .unwrap();
        acc = p.add(&[p.mul(&[acc, x]).unwrap(), ck]).unwrap();
    }
    acc
}

/// `exp(-x*x/2)*cos(3*x) + log1p(x*x)`.
fn gauss(p: &ExprPool, x: ExprId) -> ExprId {
    let x2 = p.mul(&[x, x]).unwrap();
    let g = p
        .func(
            Func::Exp,
            &[p.mul(&[p.rational(-1, 2).unwrap(), x2]).unwrap()],
        )
        .unwrap();
    let c = p
        .func(Func::Cos, &[p.mul(&[p.integer(3).unwrap(), x]).unwrap()])
        .unwrap();
    let l = p.func(Func::Log1p, &[x2]).unwrap();
    p.add(&[p.mul(&[g, c]).unwrap(), l]).unwrap()
}

fn bulk(c: &mut Criterion) {
    const N: usize = 1 << 20;
    let xs: Vec<f64> = (0..N).map(|i| (i as f64 / N as f64) * 6.0 - 3.0).collect();
    let mut out = vec![0.0; N];
    let mut g = c.benchmark_group("bulk_1M");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));
    type Build = fn(&ExprPool, ExprId) -> ExprId;
    let exprs: [(&str, Build); 3] = [
        ("sin_cos", sin_cos),
        ("poly10", poly10),
        ("gauss_log1p", gauss),
    ];
    for (name, build) in exprs {
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let tape: Tape = lower(&p, build(&p, x), &[x]).unwrap();
        let llvm = compile(&tape, &LlvmOptions::default()).unwrap();
        let fast = compile(
            &tape,
            &LlvmOptions {
                fast_math: true,
                ..LlvmOptions::default()
            },
        )
        .unwrap();
        let interp = Interpreter::new(&tape);
        g.bench_function(BenchmarkId::new(name, "llvm"), |b| {
            b.iter(|| llvm.eval_columns(&[black_box(&xs)], &mut [&mut out]))
        });
        g.bench_function(BenchmarkId::new(name, "llvm_fast_math"), |b| {
            b.iter(|| fast.eval_columns(&[black_box(&xs)], &mut [&mut out]))
        });
        g.bench_function(BenchmarkId::new(name, "interp"), |b| {
            b.iter(|| interp.eval_columns(&[black_box(&xs)], &mut [&mut out]))
        });
    }
    g.bench_function("copy", |b| b.iter(|| out.copy_from_slice(black_box(&xs))));
    g.finish();
}

criterion_group!(benches, bulk, compile_latency);
criterion_main!(benches);
