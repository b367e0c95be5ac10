//! Criterion benches: compile latency against expression size, and bulk
//! throughput on 1M points (with the interpreter alongside for scale).

#![allow(missing_docs)]

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_cranelift::compile;
use alkahest_interp::Interpreter;
use alkahest_tape::{Evaluator, Tape, lower};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// A deterministic random DAG over x, y, z with at least `target` distinct
/// reachable nodes: each step combines the previous node with a random
/// earlier one, so the last node reaches everything.
fn random_dag(target: usize) -> (ExprPool, ExprId, Vec<ExprId>) {
    let p = ExprPool::new();
    let vars: Vec<ExprId> = ["x", "y", "z"]
        .iter()
        .map(|s| p.symbol(s).unwrap())
        .collect();
    let mut nodes = vars.clone();
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move |n: usize| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % n as u64) as usize
    };
    let mut last = vars[0];
    loop {
        // Check the size often enough to land close to the target.
        for _ in 0..(target / 32).max(1) {
            let other = nodes[rnd(nodes.len())];
            let e = match rnd(16) {
                0..=3 => p.add(&[last, other]),
                4..=6 => p.mul(&[last, other]),
                7..=8 => p.sub(last, other),
                9 => p.div(last, other),
                10 => p.pow(last, p.integer(2 + rnd(3) as i64).unwrap()),
                11 => p.add(&[last, p.integer(rnd(100) as i64 + 1).unwrap()]),
                12 => p.func(
                    [Func::Sin, Func::Cos, Func::Exp, Func::Tanh][rnd(4)],
                    &[last],
                ),
                13 => p.func([Func::Min, Func::Max, Func::Hypot][rnd(3)], &[last, other]),
                14 => p.func(Func::Sqrt, &[p.func(Func::Abs, &[last]).unwrap()]),
                _ => p.mul(&[p.float(0.5 + rnd(7) as f64).unwrap(), last, other]),
            }
            .unwrap();
            nodes.push(e);
            last = e;
        }
        if p.view().reachable(&[last]).len() >= target {
            return (p, last, vars);
        }
    }
}

fn dag_tape(target: usize) -> Tape {
    let (p, e, vars) = random_dag(target);
    lower(&p, e, &vars).unwrap()
}

fn compile_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("cranelift_compile");
    g.sample_size(10);
    for n in [10usize, 100, 1_000, 10_000, 20_000] {
        let tape = dag_tape(n);
        g.bench_with_input(BenchmarkId::new("dag_nodes", n), &tape, |b, t| {
            b.iter(|| compile(t).unwrap())
        });
    }
    g.finish();
}

fn horner_poly(p: &ExprPool, x: ExprId, degree: usize) -> ExprId {
    let mut acc = p.float(1.0 / (degree as f64 + 1.0)).unwrap();
    for k in (0..degree).rev() {
        let c = p
            .float((k as f64 + 1.0).recip() * if k % 2 == 0 { 1.0 } else { -1.0 })
            .unwrap();
        let m = p.mul(&[acc, x]).unwrap();
        acc = p.add(&[m, c]).unwrap();
    }
    acc
}

fn throughput(c: &mut Criterion) {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let sc = p
        .mul(&[
            p.func(Func::Sin, &[x]).unwrap(),
            p.func(Func::Cos, &[x]).unwrap(),
        ])
        .unwrap();
    let poly = horner_poly(&p, x, 10);
    let n = 1usize << 20;
    let xs: Vec<f64> = (0..n).map(|i| i as f64 * 1e-6).collect();
    let mut out = vec![0.0; n];
    let mut g = c.benchmark_group("cranelift_bulk_1M");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    for (name, e) in [("sin_cos", sc), ("horner_deg10", poly)] {
        let tape = lower(&p, e, &[x]).unwrap();
        let jit = compile(&tape).unwrap();
        let interp = Interpreter::new(&tape);
        g.bench_function(format!("{name}/cranelift"), |b| {
            b.iter(|| jit.eval_columns(&[&xs], &mut [&mut out]))
        });
        g.bench_function(format!("{name}/interp"), |b| {
            b.iter(|| interp.eval_columns(&[&xs], &mut [&mut out]))
        });
    }
    g.finish();

    let tape = lower(&p, poly, &[x]).unwrap();
    let jit = compile(&tape).unwrap();
    c.bench_function("cranelift_scalar/horner_deg10", |b| {
        b.iter(|| jit.eval_scalar(std::hint::black_box(&[0.3])))
    });
}

fn deep_chain(c: &mut Criterion) {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let mut g = c.benchmark_group("cranelift_compile_sin_chain");
    g.sample_size(10);
    for depth in [10_000usize, 100_000] {
        let mut e = x;
        for _ in 0..depth {
            e = p.func(Func::Sin, &[e]).unwrap();
        }
        let tape = lower(&p, e, &[x]).unwrap();
        g.bench_with_input(BenchmarkId::new("depth", depth), &tape, |b, t| {
            b.iter(|| compile(t).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, compile_latency, throughput, deep_chain);
criterion_main!(benches);
