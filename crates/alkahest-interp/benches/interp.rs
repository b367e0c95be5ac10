//! Criterion benches: interning throughput and tape interpretation.
#![allow(missing_docs)] // criterion macros generate undocumented items

use alkahest_core::{ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_tape::{Evaluator, lower};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn intern(c: &mut Criterion) {
    c.bench_function("intern/sum_10k_terms", |b| {
        b.iter(|| {
            let p = ExprPool::new();
            let x = p.symbol("x").unwrap();
            let terms: Vec<_> = (0..10_000)
                .map(|i| {
                    let k = p.integer(i).unwrap();
                    let e = p.pow(x, k).unwrap();
                    p.mul(&[k, e]).unwrap()
                })
                .collect();
            p.add(&terms).unwrap()
        })
    });
}

fn eval(c: &mut Criterion) {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let s = p.func(Func::Sin, &[x]).unwrap();
    let co = p.func(Func::Cos, &[x]).unwrap();
    let e = p.mul(&[s, co]).unwrap();
    let interp = Interpreter::new(&lower(&p, e, &[x]).unwrap());
    let n = 1 << 20;
    let xs: Vec<f64> = (0..n).map(|i| i as f64 * 1e-6).collect();
    let mut out = vec![0.0; n];
    let mut g = c.benchmark_group("interp");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function("sin_cos_1M", |b| {
        b.iter(|| interp.eval_columns(&[&xs], &mut [&mut out]))
    });
    g.finish();
}

criterion_group!(benches, intern, eval);
criterion_main!(benches);
