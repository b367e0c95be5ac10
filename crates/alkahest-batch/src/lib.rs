//! Parallel batch evaluation.
//!
//! A batch is split into chunks of [`CHUNK`] points, each evaluated by the
//! same [`Evaluator`] on a rayon worker. Points are independent and every
//! chunk but the last is a multiple of any SIMD width, so results are
//! bit-identical to one serial call over the whole batch (vectorized loops
//! see the same main-body / remainder split).
//!
//! Reliability guarantees:
//!
//! - **Threads are bounded.** A request for more than [`max_threads`]
//!   threads is refused with [`Error::TooManyThreads`] before any thread
//!   starts. At most [`KEPT_POOLS`] pools are kept between calls, each of at
//!   most [`default_threads`] threads; any other pool lives for one call and
//!   its threads exit when the call returns.
//! - **Fork-safe.** Rayon's global pool is never used. The kept pools are
//!   forgotten in a child process created by `fork` (on Unix, through a
//!   `pthread_atfork` handler; their threads do not exist there) and the
//!   child builds fresh ones, so a batch in a forked child runs instead of
//!   waiting forever for threads that were not copied.
//! - **Interruptible.** [`eval_columns_polled`] calls a `poll` function on
//!   the calling thread between chunks, at most every [`POLL_INTERVAL`];
//!   when it returns `true` no further chunk starts and the call returns
//!   [`Error::Cancelled`] once the chunks already running finish. Chunks
//!   never change which points are evaluated together within a SIMD group,
//!   so the results of a call that is not cancelled are bit-identical to
//!   one unchunked call.

use std::fmt;
use std::time::{Duration, Instant};

use alkahest_tape::Evaluator;

/// Points per parallel task: large enough to amortize scheduling, a
/// multiple of every vector width times unroll factor.
pub const CHUNK: usize = 1 << 15;

/// True when this build evaluates batches on several threads.
pub const PARALLEL: bool = cfg!(feature = "parallel");

/// The thread limit is `max(MIN_THREAD_LIMIT, cores)`: see [`max_threads`].
pub const MIN_THREAD_LIMIT: usize = 256;

/// Thread counts whose pools are kept between calls (a new pool per call
/// costs ~0.1 ms of thread start-up, ~2-3% of a 1M-point batch); other
/// counts get a pool per call, whose threads exit when it returns.
pub const KEPT_POOLS: usize = 8;

/// Shortest time between two calls of the `poll` function of
/// [`eval_columns_polled`] (polling may take a lock, e.g. Python's GIL).
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Why a batch did not run to completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More threads were asked for than [`max_threads`] allows. Nothing was
    /// evaluated.
    TooManyThreads {
        /// The thread count asked for.
        requested: usize,
        /// [`max_threads`].
        limit: usize,
    },
    /// The `poll` function asked to stop. Chunks that had started were
    /// written completely; the other points of the outputs were not written.
    Cancelled,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooManyThreads { requested, limit } => write!(
                f,
                "threads={requested} is more than the limit of {limit} threads \
                 (the larger of {MIN_THREAD_LIMIT} and the number of CPUs); \
                 more threads than cores do not make a batch faster"
            ),
            Error::Cancelled => f.write_str("batch evaluation was cancelled"),
        }
    }
}

impl std::error::Error for Error {}

/// Threads used when no count is given: `RAYON_NUM_THREADS` when it is set
/// to a positive number, else the number of CPUs this process may use.
pub fn default_threads() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(cpus)
    })
}

fn cpus() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The largest thread count a batch accepts: the larger of
/// [`MIN_THREAD_LIMIT`] (256) and the number of CPUs.
pub fn max_threads() -> usize {
    MIN_THREAD_LIMIT.max(cpus())
}

/// Check a requested thread count (`None` or `Some(0)`: the default)
/// against [`max_threads`].
pub fn check_threads(threads: Option<usize>) -> Result<(), Error> {
    match threads {
        Some(n) if n > max_threads() => Err(Error::TooManyThreads {
            requested: n,
            limit: max_threads(),
        }),
        _ => Ok(()),
    }
}

/// Evaluate like [`Evaluator::eval_columns`], on up to `threads` threads
/// (None or 0: [`default_threads`]). Arguments must already be checked (one
/// output column per output, every column of one length). Fails only with
/// [`Error::TooManyThreads`], before evaluating anything.
pub fn par_eval_columns(
    ev: &dyn Evaluator,
    columns: &[&[f64]],
    outs: &mut [&mut [f64]],
    threads: Option<usize>,
) -> Result<(), Error> {
    eval_columns_polled(ev, columns, outs, Some(threads), None)
}

/// Evaluate like [`Evaluator::eval_columns`], on the calling thread
/// (`parallel = None`) or on up to `threads` threads (`Some(threads)`, as
/// [`par_eval_columns`]; serial in a build without the `parallel`
/// feature), calling `poll` on the calling thread between chunks at most
/// every [`POLL_INTERVAL`]. When `poll` returns `true` the call stops
/// starting chunks and returns [`Error::Cancelled`] once the running ones
/// finish: the outputs are then partly written. Arguments must already be
/// checked (one output column per output, every column of one length).
pub fn eval_columns_polled(
    ev: &dyn Evaluator,
    columns: &[&[f64]],
    outs: &mut [&mut [f64]],
    parallel: Option<Option<usize>>,
    poll: Option<&mut dyn FnMut() -> bool>,
) -> Result<(), Error> {
    if let Some(threads) = parallel {
        check_threads(threads)?;
    }
    let n = outs.first().map_or(0, |o| o.len());
    if n <= CHUNK {
        // One chunk: nothing to share out or to interrupt.
        ev.eval_columns(columns, outs);
        return Ok(());
    }
    #[cfg(feature = "parallel")]
    if let Some(threads) = parallel {
        let want = threads.filter(|&t| t > 0).unwrap_or_else(default_threads);
        if want > 1
            && let Some(pool) = pools::pool_of(want)
        {
            return parallel::run(&pool, ev, columns, outs, poll);
        }
    }
    serial(ev, columns, outs, poll)
}

/// Chunk by chunk on the calling thread (the whole batch in one call when
/// nobody polls).
fn serial(
    ev: &dyn Evaluator,
    columns: &[&[f64]],
    outs: &mut [&mut [f64]],
    poll: Option<&mut dyn FnMut() -> bool>,
) -> Result<(), Error> {
    let Some(poll) = poll else {
        ev.eval_columns(columns, outs);
        return Ok(());
    };
    let n = outs.first().map_or(0, |o| o.len());
    let mut last = Instant::now();
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let cols: Vec<&[f64]> = columns.iter().map(|c| &c[start..end]).collect();
        let mut chunk: Vec<&mut [f64]> = outs.iter_mut().map(|o| &mut o[start..end]).collect();
        ev.eval_columns(&cols, &mut chunk);
        start = end;
        if start < n && last.elapsed() >= POLL_INTERVAL {
            if poll() {
                return Err(Error::Cancelled);
            }
            last = Instant::now();
        }
    }
    Ok(())
}

#[cfg(feature = "parallel")]
mod parallel {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;

    use alkahest_tape::Evaluator;
    use rayon::prelude::*;

    use super::{CHUNK, Error, POLL_INTERVAL};

    /// Evaluate on `pool`, polling from the calling thread while the
    /// workers run.
    pub(crate) fn run(
        pool: &rayon::ThreadPool,
        ev: &dyn Evaluator,
        columns: &[&[f64]],
        outs: &mut [&mut [f64]],
        poll: Option<&mut dyn FnMut() -> bool>,
    ) -> Result<(), Error> {
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
        let cancel = AtomicBool::new(false);
        let work = |chunks: Vec<Vec<&mut [f64]>>| {
            chunks
                .into_par_iter()
                .enumerate()
                .for_each(|(i, mut chunk)| {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    let start = i * CHUNK;
                    let len = chunk.first().map_or(0, |c| c.len());
                    let cols: Vec<&[f64]> =
                        columns.iter().map(|c| &c[start..start + len]).collect();
                    ev.eval_columns(&cols, &mut chunk);
                })
        };
        // Polling needs the calling thread free while the workers run; a
        // rayon worker calling in must not block, so it just waits.
        let poll = poll.filter(|_| rayon::current_thread_index().is_none());
        let Some(poll) = poll else {
            pool.install(|| work(chunks));
            return Ok(());
        };
        let (done_tx, done_rx) = mpsc::channel::<()>();
        pool.in_place_scope(|s| {
            s.spawn(|_| {
                // Dropped when the work ends, normally or by a panic.
                let _done = done_tx;
                work(chunks);
            });
            // Wait for the work, polling every POLL_INTERVAL; the scope
            // then waits for the chunks still running.
            while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(POLL_INTERVAL) {
                if poll() {
                    cancel.store(true, Ordering::Relaxed);
                    break;
                }
            }
        });
        if cancel.load(Ordering::Relaxed) {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// The kept thread pools, and their replacement after `fork`.
#[cfg(feature = "parallel")]
mod pools {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard};

    use rayon::ThreadPool;

    use super::{KEPT_POOLS, default_threads};

    /// Kept pools by thread count, valid in process generation `forks`.
    struct Kept {
        forks: u64,
        pools: Vec<(usize, Arc<ThreadPool>)>,
    }

    static KEPT: Mutex<Kept> = Mutex::new(Kept {
        forks: 0,
        pools: Vec::new(),
    });

    /// Number of `fork`s this process descends from (since the handlers
    /// were installed): bumped in the child.
    static FORKS: AtomicU64 = AtomicU64::new(0);

    fn lock() -> MutexGuard<'static, Kept> {
        KEPT.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A rayon pool of `n` threads, kept for later calls while there is
    /// room and `n` is at most [`default_threads`] (`None` if the threads
    /// cannot be started: the caller runs serially instead).
    pub(crate) fn pool_of(n: usize) -> Option<Arc<ThreadPool>> {
        fork_handlers::install();
        let keepable = n <= default_threads();
        if keepable {
            let mut kept = lock();
            let forks = FORKS.load(Ordering::SeqCst);
            if kept.forks != forks {
                // Forked: the pools' threads were not copied into this
                // process. Dropping a pool would talk to those threads
                // (and could block on a lock one of them held), so the
                // pools are leaked instead.
                for (_, p) in kept.pools.drain(..) {
                    std::mem::forget(p);
                }
                kept.forks = forks;
            }
            if let Some((_, p)) = kept.pools.iter().find(|(k, _)| *k == n) {
                return Some(Arc::clone(p));
            }
            if kept.pools.len() < KEPT_POOLS {
                let pool = Arc::new(build(n)?);
                kept.pools.push((n, Arc::clone(&pool)));
                return Some(pool);
            }
        }
        // Not kept: its threads exit when the last handle is dropped.
        build(n).map(Arc::new)
    }

    fn build(n: usize) -> Option<ThreadPool> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("alkahest-batch-{i}"))
            .build()
            .ok()
    }

    #[cfg(test)]
    pub(crate) fn simulate_fork() {
        FORKS.fetch_add(1, Ordering::SeqCst);
    }

    #[cfg(unix)]
    mod fork_handlers {
        use std::cell::RefCell;
        use std::sync::atomic::Ordering;
        use std::sync::{MutexGuard, Once};

        use super::{FORKS, Kept, lock};

        thread_local! {
            /// The kept-pools lock, held by the forking thread across
            /// `fork` so that the child never inherits it locked by a
            /// thread that does not exist there.
            static HELD: RefCell<Option<MutexGuard<'static, Kept>>> = const { RefCell::new(None) };
        }

        unsafe extern "C" fn prepare() {
            let _ = HELD.try_with(|h| *h.borrow_mut() = Some(lock()));
        }

        unsafe extern "C" fn parent() {
            let _ = HELD.try_with(|h| drop(h.borrow_mut().take()));
        }

        unsafe extern "C" fn child() {
            FORKS.fetch_add(1, Ordering::SeqCst);
            let _ = HELD.try_with(|h| drop(h.borrow_mut().take()));
        }

        /// Install the `fork` handlers (once per process).
        pub(crate) fn install() {
            static ONCE: Once = Once::new();
            ONCE.call_once(|| {
                // SAFETY: the handlers only take and release a lock no
                // handler holds, and bump an atomic; they never unwind.
                unsafe {
                    libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
                }
            });
        }
    }

    #[cfg(not(unix))]
    mod fork_handlers {
        /// No `fork` on this platform.
        pub(crate) fn install() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alkahest_core::{ExprPool, Func};
    use alkahest_interp::Interpreter;
    use alkahest_tape::lower_many;

    fn sample() -> (Interpreter, Vec<f64>, Vec<f64>) {
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
        (it, xs, ys)
    }

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits())
    }

    #[test]
    fn parallel_equals_serial_bitwise() {
        let (it, xs, ys) = sample();
        let n = xs.len();
        let (mut a0, mut a1) = (vec![0.0; n], vec![0.0; n]);
        let (mut b0, mut b1) = (vec![0.0; n], vec![0.0; n]);
        it.eval_columns(&[&xs, &ys], &mut [&mut a0, &mut a1]);
        par_eval_columns(&it, &[&xs, &ys], &mut [&mut b0, &mut b1], Some(2)).unwrap();
        assert!(same(&a0, &b0) && same(&a1, &b1));
        assert_eq!(b1[5], (5e-3f64).sin() + -0.05);
        for threads in [None, Some(0), Some(1), Some(3)] {
            let (mut c0, mut c1) = (vec![0.0; n], vec![0.0; n]);
            par_eval_columns(&it, &[&xs, &ys], &mut [&mut c0, &mut c1], threads).unwrap();
            assert!(same(&a0, &c0) && same(&a1, &c1), "{threads:?}");
        }
    }

    #[test]
    fn polled_equals_unpolled_bitwise() {
        let (it, xs, ys) = sample();
        let n = xs.len();
        let (mut a0, mut a1) = (vec![0.0; n], vec![0.0; n]);
        it.eval_columns(&[&xs, &ys], &mut [&mut a0, &mut a1]);
        for parallel in [None, Some(None), Some(Some(2))] {
            let (mut c0, mut c1) = (vec![0.0; n], vec![0.0; n]);
            let mut never = || false;
            eval_columns_polled(
                &it,
                &[&xs, &ys],
                &mut [&mut c0, &mut c1],
                parallel,
                Some(&mut never),
            )
            .unwrap();
            assert!(same(&a0, &c0) && same(&a1, &c1), "{parallel:?}");
        }
    }

    /// An evaluator that takes `delay` per chunk and counts the points it
    /// evaluated.
    struct Slow {
        delay: Duration,
        points: std::sync::atomic::AtomicUsize,
    }

    impl Evaluator for Slow {
        fn n_inputs(&self) -> usize {
            1
        }
        fn n_outputs(&self) -> usize {
            1
        }
        fn eval(&self, inputs: &[f64], out: &mut [f64]) {
            out[0] = inputs[0];
        }
        fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
            std::thread::sleep(self.delay);
            outs[0].copy_from_slice(columns[0]);
            self.points
                .fetch_add(columns[0].len(), std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn a_poll_returning_true_stops_the_batch_early() {
        let n = 400 * CHUNK;
        let xs = vec![1.0; n];
        for parallel in [None, Some(Some(2))] {
            let ev = Slow {
                delay: Duration::from_millis(2),
                points: Default::default(),
            };
            let mut out = vec![0.0; n];
            let mut polls = 0;
            let mut stop = || {
                polls += 1;
                true
            };
            let t = Instant::now();
            let r = eval_columns_polled(&ev, &[&xs], &mut [&mut out], parallel, Some(&mut stop));
            assert_eq!(r, Err(Error::Cancelled), "{parallel:?}");
            assert_eq!(polls, 1);
            // 400 chunks of 2 ms would take 0.4 s (serial) or 0.8 s / 2.
            assert!(
                t.elapsed() < Duration::from_millis(300),
                "{:?}",
                t.elapsed()
            );
            let done = ev.points.load(std::sync::atomic::Ordering::Relaxed);
            assert!(done > 0 && done < n, "{done}");
            // Evaluated chunks are complete; the rest is untouched.
            assert_eq!(out.iter().filter(|&&v| v == 1.0).count(), done);
        }
    }

    #[test]
    fn thread_counts_above_the_limit_are_refused() {
        let (it, xs, ys) = sample();
        let n = xs.len();
        let (mut a0, mut a1) = (vec![7.0; n], vec![7.0; n]);
        let too_many = max_threads() + 1;
        let e = par_eval_columns(&it, &[&xs, &ys], &mut [&mut a0, &mut a1], Some(too_many))
            .unwrap_err();
        assert_eq!(
            e,
            Error::TooManyThreads {
                requested: too_many,
                limit: max_threads()
            }
        );
        assert!(e.to_string().contains("limit of"), "{e}");
        assert!(a0.iter().all(|&v| v == 7.0), "nothing is evaluated");
        assert!(max_threads() >= MIN_THREAD_LIMIT);
        assert!(check_threads(Some(max_threads())).is_ok());
        assert!(check_threads(None).is_ok() && check_threads(Some(0)).is_ok());
        // Serial evaluation checks nothing.
        eval_columns_polled(&it, &[&xs, &ys], &mut [&mut a0, &mut a1], None, None).unwrap();
    }

    #[cfg(feature = "parallel")]
    #[test]
    fn pools_are_kept_per_thread_count_and_renewed_after_fork() {
        // Only counts up to the default are kept; this host may have one CPU.
        let (a, b) = (pools::pool_of(1).unwrap(), pools::pool_of(1).unwrap());
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 1);
        let big = default_threads() + 1;
        let (c, d) = (pools::pool_of(big).unwrap(), pools::pool_of(big).unwrap());
        assert!(
            !std::sync::Arc::ptr_eq(&c, &d),
            "above the default: not kept"
        );
        assert_eq!(c.current_num_threads(), big);
        pools::simulate_fork();
        let e = pools::pool_of(1).unwrap();
        assert!(!std::sync::Arc::ptr_eq(&a, &e), "a fork renews kept pools");
        assert!(std::sync::Arc::ptr_eq(&e, &pools::pool_of(1).unwrap()));
    }
}
