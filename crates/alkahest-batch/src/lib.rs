//! Parallel batch evaluation.
//!
//! A batch is split into chunks of [`CHUNK`] points, each evaluated by the
//! same [`Evaluator`] on a rayon worker. Points are independent and every
//! chunk but the last is a multiple of any SIMD width, so results are
//! bit-identical to one serial call over the whole batch (vectorized loops
//! see the same main-body / remainder split).

use alkahest_kernel::Evaluator;

/// Points per parallel task: large enough to amortize scheduling, a
/// multiple of every vector width times unroll factor.
pub const CHUNK: usize = 1 << 15;

/// True when this build evaluates batches on several threads.
pub const PARALLEL: bool = cfg!(feature = "parallel");

/// Evaluate like [`Evaluator::eval_columns`], on up to `threads` threads
/// (None: all cores). Arguments must already be checked (one output column
/// per output, every column of one length).
pub fn par_eval_columns(
    ev: &dyn Evaluator,
    columns: &[&[f64]],
    outs: &mut [&mut [f64]],
    threads: Option<usize>,
) {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        let n = outs.first().map_or(0, |o| o.len());
        // Chunk i of every output column, so one task writes its points of
        // all outputs (disjoint borrows, no unsafe).
        let n_chunks = n.div_ceil(CHUNK);
        let mut chunks: Vec<Vec<&mut [f64]>> = (0..n_chunks)
            .map(|_| Vec::with_capacity(outs.len()))
            .collect();
        for o in outs.iter_mut() {
            for (i, c) in o.chunks_mut(CHUNK).enumerate() {
                chunks[i].push(c);
            }
        }
        let run = move || {
            chunks
                .into_par_iter()
                .enumerate()
                .for_each(|(i, mut chunk)| {
                    let start = i * CHUNK;
                    let len = chunk.first().map_or(0, |c| c.len());
                    let cols: Vec<&[f64]> =
                        columns.iter().map(|c| &c[start..start + len]).collect();
                    ev.eval_columns(&cols, &mut chunk);
                })
        };
        match threads.filter(|&n| n > 0).and_then(pool_of) {
            Some(pool) => pool.install(run),
            None => run(),
        }
    }
    #[cfg(not(feature = "parallel"))]
    {
        let _ = threads;
        ev.eval_columns(columns, outs);
    }
}

/// Thread counts whose pools are kept (a new pool per call cost ~0.1 ms of
/// thread start-up, ~2-3% of a 1M-point batch); other counts get a pool per
/// call.
#[cfg(feature = "parallel")]
const KEPT_POOLS: usize = 8;

/// A rayon pool of `n` threads, kept for later calls while there is room
/// (`None` if the threads cannot be started: the caller runs on the global
/// pool instead).
#[cfg(feature = "parallel")]
fn pool_of(n: usize) -> Option<std::sync::Arc<rayon::ThreadPool>> {
    use std::sync::{Arc, Mutex, OnceLock};
    /// Kept pools by thread count.
    type Kept = Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>>;
    static POOLS: OnceLock<Kept> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut kept = pools.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = kept.iter().find(|(k, _)| *k == n) {
        return Some(Arc::clone(p));
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .ok()?,
    );
    if kept.len() < KEPT_POOLS {
        kept.push((n, Arc::clone(&pool)));
    }
    Some(pool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alkahest_core::{ExprPool, Func};
    use alkahest_interp::Interpreter;
    use alkahest_kernel::lower_many;

    #[test]
    fn parallel_equals_serial_bitwise() {
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let y = p.symbol("y").unwrap();
        let s = p.func(Func::Sin, &[x]).unwrap();
        let e = p.mul(&[s, p.func(Func::Exp, &[y]).unwrap()]).unwrap();
        let g = p.add(&[s, y]).unwrap();
        let it = Interpreter::new(&lower_many(&p, &[e, g], &[x, y]).unwrap());
        let n = 3 * CHUNK + 17;
        let xs: Vec<f64> = (0..n).map(|i| i as f64 * 1e-3).collect();
        let ys: Vec<f64> = (0..n).map(|i| (i % 100) as f64 * -0.01).collect();
        let (mut a0, mut a1) = (vec![0.0; n], vec![0.0; n]);
        let (mut b0, mut b1) = (vec![0.0; n], vec![0.0; n]);
        it.eval_columns(&[&xs, &ys], &mut [&mut a0, &mut a1]);
        par_eval_columns(&it, &[&xs, &ys], &mut [&mut b0, &mut b1], Some(2));
        let same = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits());
        assert!(same(&a0, &b0) && same(&a1, &b1));
        assert_eq!(b1[5], (5e-3f64).sin() + -0.05);
    }

    #[cfg(feature = "parallel")]
    #[test]
    fn pools_are_kept_per_thread_count() {
        let a = pool_of(3).unwrap();
        let b = pool_of(3).unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 3);
        assert!(!std::sync::Arc::ptr_eq(&a, &pool_of(2).unwrap()));
    }
}
