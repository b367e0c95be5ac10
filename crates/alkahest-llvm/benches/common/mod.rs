//! Expression builders shared by the criterion benches and the
//! `compile_profile` example (which includes this file by path), so both
//! time the same random DAGs.
#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool, Func};

/// A deterministic generator: `rnd(k)` is in `0..k` (a 64-bit LCG, so
/// runs are reproducible across machines).
pub fn lcg(seed: u64) -> impl FnMut(usize) -> usize {
    let mut s = seed;
    move |k: usize| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as usize) % k
    }
}

/// A deterministic random expression with at least `n` DAG nodes: each new
/// node combines the previous one with a random earlier one, so everything
/// stays reachable from the result.
pub fn random_expr(p: &ExprPool, vars: &[ExprId], n: usize, seed: u64) -> ExprId {
    let mut rnd = lcg(seed);
    let funcs = [
        Func::Sin,
        Func::Cos,
        Func::Exp,
        Func::Log,
        Func::Sqrt,
        Func::Tanh,
        Func::Atan,
    ];
    let mut nodes: Vec<ExprId> = vars.to_vec();
    let mut last = vars[0];
    loop {
        for _ in 0..n.div_ceil(8).max(4) {
            let b = nodes[rnd(nodes.len())];
            let e = match rnd(10) {
                0..=2 => p.add(&[last, b]),
                3..=5 => p.mul(&[last, b]),
                6 => p.sub(last, b),
                7 => p.div(last, b),
                8 => p.func(funcs[rnd(funcs.len())], &[last]),
                _ => p.mul(&[p.integer(rnd(9) as i64 + 2).unwrap(), last]),
            }
            .unwrap();
            nodes.push(e);
            last = e;
        }
        if p.view().reachable(&[last]).len() >= n {
            return last;
        }
    }
}
