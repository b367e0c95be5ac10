//! Background builds: the threads that compile a function's final tier
//! while it already runs on a cheaper one ([`Plan::interim`]). Builds wait
//! in one queue for at most `max_workers()` threads (half the CPUs, 1 to
//! 4), which exit when it is empty.
//!
//! Every background build is counted here, for three reasons:
//! - **exit**: the process must not tear down LLVM's global state (its C++
//!   static destructors run at `exit`) under a thread that is using it.
//!   LLVM registers most of those destructors lazily, when a compile first
//!   touches them, so a C `atexit` handler registered before them would run
//!   after them. The Python module therefore waits in Python's own `atexit`
//!   (which runs before any C-level exit handler), and here a C handler is
//!   registered when the first background build has finished (after the
//!   statics a compile creates), for Rust programs; a Rust program that may
//!   exit within the first build should call [`wait_idle`] first;
//! - **fork**: a `pthread_atfork` handler waits for them too and holds the
//!   count's lock across `fork`, so a child never inherits LLVM's internal
//!   locks taken by a thread that does not exist there, and no build can
//!   start during the fork;
//! - **waiting**: [`wait_idle`] lets a caller (tests, benchmarks, a process
//!   about to time something) wait for every build.
//!
//! Both handlers wait at most [`EXIT_WAIT`]: a compile always ends, but a
//! process must not hang on one that is pathologically slow.
//!
//! [`Plan::interim`]: crate::Plan::interim

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

/// The longest the exit and fork handlers wait for running builds.
pub const EXIT_WAIT: Duration = Duration::from_secs(120);

/// A queued build.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// The build queue: jobs wait here for one of at most [`max_workers`]
/// threads, so a loop compiling thousands of functions queues their LLVM
/// builds instead of starting thousands of threads. A worker with nothing
/// to do waits [`LINGER`] for more before it exits, so compiles in a row
/// do not pay for a new thread each (~0.1-0.2 ms on the ready path).
struct Queue {
    jobs: VecDeque<Job>,
    /// Worker threads alive.
    workers: usize,
    /// Of those, waiting for a job.
    idle: usize,
    /// Builds queued or running (what exit, fork and [`wait_idle`] wait for).
    pending: usize,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    jobs: VecDeque::new(),
    workers: 0,
    idle: 0,
    pending: 0,
});
/// Signalled when a job is queued (wakes an idle worker).
static WORK: Condvar = Condvar::new();
/// How long an idle worker waits for a job before it exits.
const LINGER: Duration = Duration::from_millis(500);
/// Signalled whenever [`Queue::pending`] drops.
static IDLE: Condvar = Condvar::new();
/// Forks this process has gone through (a build recorded under another
/// generation ran in the parent; its thread does not exist here).
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn queue() -> MutexGuard<'static, Queue> {
    // Every update leaves the queue consistent, so a poisoned lock (a
    // panic elsewhere while holding it) is safe to keep using.
    QUEUE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Background build threads at most: half the CPUs (LLVM's code
/// generation is CPU-bound; the other half stays with the caller), 1 to 4.
fn max_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus / 2).clamp(1, 4)
}

/// The fork generation of this process (see [`spawn`]).
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// Queue `job` for a background thread, counted until it returns. When no
/// worker exists and none could be started, hands the job back unrun, so
/// the caller can build in the foreground instead.
pub(crate) fn spawn(job: impl FnOnce() + Send + 'static) -> Result<(), Job> {
    install_handlers();
    let mut q = queue();
    q.jobs.push_back(Box::new(job));
    q.pending += 1;
    if q.idle > 0 {
        WORK.notify_one();
    } else if q.workers < max_workers() {
        q.workers += 1;
        let started = std::thread::Builder::new()
            .name("alkahest-tier-up".into())
            .spawn(worker)
            .is_ok();
        if !started {
            q.workers -= 1;
            if q.workers == 0 {
                // Nobody will run it: hand it back.
                let job = q.jobs.pop_back().expect("queued just above");
                q.pending -= 1;
                IDLE.notify_all();
                return Err(job);
            }
        }
    }
    Ok(())
}

/// Queue a background rebuild of the LLVM routine library's routines that
/// still run their first, cheapest build (`alkahest_llvm::upgrade_library`:
/// the same bits, 6-15% faster), unless one is queued already. Called
/// after every LLVM build or load, which is when a routine may have been
/// built. Where no thread can start, they stay as they are.
#[cfg(feature = "jit")]
pub(crate) fn upgrade_library() {
    use std::sync::atomic::AtomicBool;
    static QUEUED: AtomicBool = AtomicBool::new(false);
    // Work to do, and nobody queued for it yet: now we are.
    let claim = || alkahest_llvm::library_routines().1 > 0 && !QUEUED.swap(true, Ordering::AcqRel);
    if !claim() {
        return;
    }
    let job = move || {
        loop {
            // A failed rebuild leaves that routine as it was.
            while let Ok(true) = alkahest_llvm::upgrade_library() {}
            QUEUED.store(false, Ordering::Release);
            // A routine built since the last look, whose caller saw this
            // job queued, is this job's too.
            if !claim() {
                break;
            }
        }
    };
    if spawn(job).is_err() {
        QUEUED.store(false, Ordering::Release);
    }
}

/// A worker: run queued jobs; exit after [`LINGER`] without one.
fn worker() {
    loop {
        let job = {
            let mut q = queue();
            let deadline = Instant::now() + LINGER;
            loop {
                if let Some(j) = q.jobs.pop_front() {
                    break j;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    q.workers -= 1;
                    return;
                }
                q.idle += 1;
                q = WORK
                    .wait_timeout(q, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                q.idle -= 1;
            }
        };
        // A backend bug must not kill the worker or leave the count up
        // (exit and fork would wait for it).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        #[cfg(unix)]
        unix::install_exit_handler();
        let mut q = queue();
        q.pending = q.pending.saturating_sub(1);
        IDLE.notify_all();
    }
}

/// Wait until no background build is queued or running, at most `timeout`
/// (forever with `None`). Returns whether none is.
pub fn wait_idle(timeout: Option<Duration>) -> bool {
    wait_zero(queue(), timeout).1
}

fn wait_zero(
    mut q: MutexGuard<'static, Queue>,
    timeout: Option<Duration>,
) -> (MutexGuard<'static, Queue>, bool) {
    let deadline = timeout.map(|t| Instant::now() + t);
    while q.pending > 0 {
        match deadline {
            None => q = IDLE.wait(q).unwrap_or_else(|p| p.into_inner()),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return (q, false);
                }
                q = IDLE
                    .wait_timeout(q, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }
    (q, true)
}

/// Number of background builds queued or running now.
pub fn running_builds() -> usize {
    queue().pending
}

fn install_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        unix::install();
    });
}

#[cfg(unix)]
mod unix {
    use std::cell::RefCell;
    use std::sync::MutexGuard;
    use std::sync::atomic::Ordering;

    use super::{EXIT_WAIT, GENERATION, Queue, queue, wait_zero};

    thread_local! {
        /// The queue's lock, held by the forking thread across `fork`.
        static HELD: RefCell<Option<MutexGuard<'static, Queue>>> = const { RefCell::new(None) };
    }

    extern "C" fn at_exit() {
        let _ = super::wait_idle(Some(EXIT_WAIT));
    }

    unsafe extern "C" fn prepare() {
        let (guard, _) = wait_zero(queue(), Some(EXIT_WAIT));
        let _ = HELD.try_with(|h| *h.borrow_mut() = Some(guard));
    }

    unsafe extern "C" fn parent() {
        let _ = HELD.try_with(|h| drop(h.borrow_mut().take()));
    }

    unsafe extern "C" fn child() {
        GENERATION.fetch_add(1, Ordering::SeqCst);
        let _ = HELD.try_with(|h| {
            if let Some(mut q) = h.borrow_mut().take() {
                // Only this thread was copied: no worker runs here, and
                // builds left queued (after a timed-out wait) belong to
                // the parent's functions (their pending marks carry the
                // parent's generation). Forget them without running them.
                let jobs = std::mem::take(&mut q.jobs);
                q.workers = 0;
                q.idle = 0;
                q.pending = 0;
                drop(q);
                std::mem::forget(jobs);
            }
        });
    }

    /// Register the fork handlers (once per process, before the first
    /// background thread starts).
    pub(super) fn install() {
        // SAFETY: the handlers take and release one std mutex, wait on its
        // condition variable and bump an atomic; they never unwind into C
        // (a poisoned lock is recovered, not unwrapped).
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    }

    /// Register the exit handler, once, after a build has created LLVM's
    /// lazily registered statics (handlers run in reverse order of
    /// registration, so this one runs before their destructors).
    pub(super) fn install_exit_handler() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: as in `install`; `at_exit` only waits on the count.
            unsafe {
                libc::atexit(at_exit);
            }
        });
    }
}
