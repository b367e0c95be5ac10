//! Bits of error as written vs `Cost::Stability`, sampling every variable
//! uniformly over the float64 bit patterns of the whole finite range
//! (points where the formula is undefined or beyond the double range are
//! redrawn). The "fresh" column re-measures both on points the optimizer
//! never saw.
//!
//! `cargo run --release -p alkahest-egraph --example hamming_report`

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/hamming.rs"]
mod hamming;

use std::time::Instant;

use alkahest_core::{ExprId, ExprPool};
use alkahest_egraph::{Cost, Options, Sampler, free_symbols, simplify};

/// Mean bits of `e` on `n` fresh whole-range points where `input` is finite.
fn fresh(pool: &ExprPool, input: ExprId, e: ExprId, n: usize) -> f64 {
    let vars = free_symbols(pool, input).unwrap();
    let mut sampler = Sampler::new(vec![None; vars.len()], n);
    sampler.seed = 0xfeed_beef;
    let s = sampler.sample(pool, input, &vars).unwrap();
    alkahest_egraph::accuracy::error_bits_against(pool, e, &vars, &s.samples, &s.reference)
        .unwrap()
        .unwrap_or(f64::NAN)
}

/// At most 100 characters (a long selection is cut, with an ellipsis).
fn short(s: &str) -> String {
    if s.chars().count() <= 100 {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(97).collect::<String>())
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let pool = ExprPool::new();
    println!(
        "| formula | written (bits) | stability (bits) | fresh: written -> stability | valid/drawn | ops | ms | result |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let (mut sb, mut sa, mut fb, mut fa, mut k) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut rb, mut ra, mut rk) = (0.0, 0.0, 0.0);
    for f in hamming::HAMMING {
        let e = common::parse(&pool, f.src);
        // Saturation bounded by nodes and iterations only (not by time), so
        // the table does not depend on the machine's load.
        let opts = Options::new(Cost::Stability)
            .with_samples(n)
            .with_time_limit(std::time::Duration::from_secs(10));
        let t = Instant::now();
        let r = simplify(&pool, e, &opts).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let (b, a) = (
            r.error_bits_before.unwrap_or(f64::NAN),
            r.error_bits_after.unwrap_or(f64::NAN),
        );
        let (xb, xa) = (fresh(&pool, e, e, n), fresh(&pool, e, r.expr, n));
        let s = r.sampling.clone().unwrap_or_default();
        if f.report_only {
            rb += b;
            ra += a;
            rk += 1.0;
        } else {
            sb += b;
            sa += a;
            fb += xb;
            fa += xa;
            k += 1.0;
        }
        let regime = r
            .regime
            .as_ref()
            .map(|g| {
                let v = if g.abs {
                    format!("|{}|", g.var)
                } else {
                    g.var.clone()
                };
                format!(" [regime on {v} at {:e}]", g.threshold)
            })
            .unwrap_or_default();
        println!(
            "| {}{} `{}` | {b:.1} | {a:.2} | {xb:.1} -> {xa:.2} | {}/{}{} | {} -> {} | {ms:.0} | `{}`{regime} |",
            f.name,
            if f.report_only { " (report)" } else { "" },
            f.src,
            s.valid,
            s.drawn,
            if s.unstable > 0 {
                format!(" ({} unstable)", s.unstable)
            } else {
                String::new()
            },
            r.ops_before,
            r.ops_after,
            short(&alkahest_core::to_string(&pool, r.expr))
        );
    }
    println!(
        "\n{} formulas: mean {:.1} -> {:.2} bits on the optimizer's samples, {:.1} -> {:.2} on fresh samples. Report-only ({}): {:.1} -> {:.2}.",
        k,
        sb / k,
        sa / k,
        fb / k,
        fa / k,
        rk,
        rb / rk,
        ra / rk
    );
}
