//! Prints bits of error before/after accuracy optimization per formula, and
//! the compile-time cost of `simplify` against expression size.
//!
//! `cargo run --release -p alkahest-egraph --example accuracy_report`

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/formulas.rs"]
mod formulas;

use std::time::Instant;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_egraph::{Cost, Options, simplify};

fn options(cost: Cost, f: &formulas::Formula) -> Options {
    let mut o = Options::new(cost).with_samples(256);
    for &(v, lo, hi) in f.ranges {
        o = o.with_range(v, lo, hi);
    }
    o
}

/// A random-ish DAG with about `n` nodes (sharing included), built from
/// `+`, `*`, `sin`, `cos` and small constants over three variables.
pub fn sized_expr(pool: &ExprPool, n: usize) -> ExprId {
    let mut nodes: Vec<ExprId> = ["x", "y", "z"]
        .iter()
        .map(|s| pool.symbol(s).unwrap())
        .collect();
    let mut seed = 0x1234_5678_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut last = nodes[0];
    let mut step = 0usize;
    // Checking the size costs O(n): do it every few steps only.
    while !step.is_multiple_of(16) || pool.view().reachable(&[last]).len() < n {
        step += 1;
        let a = nodes[nodes.len() - 1 - (next() as usize % nodes.len().min(8))];
        let b = nodes[next() as usize % nodes.len()];
        let e = match next() % 5 {
            0 => pool.add(&[a, b]).unwrap(),
            1 => pool.mul(&[a, b]).unwrap(),
            2 => pool.func(Func::Sin, &[a]).unwrap(),
            3 => {
                let k = pool.integer((next() % 7) as i64 + 2).unwrap();
                pool.mul(&[k, a]).unwrap()
            }
            _ => pool.func(Func::Cos, &[b]).unwrap(),
        };
        nodes.push(e);
        last = e;
    }
    last
}

fn main() {
    let pool = ExprPool::new();
    println!(
        "| formula | naive (bits) | optimized (bits) | ops before -> after | simplify (ms) | result |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    let (mut sb, mut sa, mut k) = (0.0, 0.0, 0.0);
    for f in formulas::UNSTABLE.iter().chain(formulas::STABLE) {
        let e = common::parse(&pool, f.src);
        let t = Instant::now();
        let r = simplify(&pool, e, &options(Cost::Stability, f)).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let (b, a) = (
            r.error_bits_before.unwrap_or(f64::NAN),
            r.error_bits_after.unwrap_or(f64::NAN),
        );
        if formulas::UNSTABLE.iter().any(|u| u.name == f.name) {
            sb += b;
            sa += a;
            k += 1.0;
        }
        println!(
            "| `{}` | {b:.1} | {a:.2} | {} -> {} | {ms:.0} | `{}` |",
            f.src,
            r.ops_before,
            r.ops_after,
            alkahest_core::to_string(&pool, r.expr)
        );
    }
    println!(
        "\nUnstable formulas: mean {:.1} bits naive, {:.2} bits optimized ({} formulas).\n",
        sb / k,
        sa / k,
        k
    );
    println!(
        "| DAG nodes | Cost::Ops (ms) | stop reason | ops before -> after | Cost::Stability (ms) |"
    );
    println!("|---:|---:|---|---:|---:|");
    for n in [10, 100, 1_000, 10_000, 20_000] {
        let e = sized_expr(&pool, n);
        let nodes = pool.view().reachable(&[e]).len();
        let t = Instant::now();
        let r = simplify(&pool, e, &Options::new(Cost::Ops)).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let _ = simplify(&pool, e, &Options::new(Cost::Stability)).unwrap();
        let ms2 = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "| {nodes} | {ms:.0} | {:?} | {} -> {} | {ms2:.0} |",
            r.stop_reason, r.ops_before, r.ops_after
        );
    }
}
