//! Background builds: the threads that compile a function's final tier
//! while it already runs on a cheaper one ([`Plan::interim`]).
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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

/// The longest the exit and fork handlers wait for running builds.
pub const EXIT_WAIT: Duration = Duration::from_secs(120);

/// Builds running now.
static RUNNING: Mutex<usize> = Mutex::new(0);
/// Signalled whenever [`RUNNING`] drops.
static IDLE: Condvar = Condvar::new();
/// Forks this process has gone through (a build recorded under another
/// generation ran in the parent; its thread does not exist here).
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn running() -> MutexGuard<'static, usize> {
    // The count stays consistent if a holder panicked: it is one integer.
    RUNNING.lock().unwrap_or_else(|p| p.into_inner())
}

/// The fork generation of this process (see [`spawn`]).
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// Run `job` on a new thread, counted until it returns. Returns `false`
/// (and does not run it) when no thread could be started, so the caller
/// can build in the foreground instead.
pub(crate) fn spawn(job: impl FnOnce() + Send + 'static) -> bool {
    install_handlers();
    *running() += 1;
    let counted = move || {
        // Decrement even if the build panics (a backend bug must not make
        // exit or fork wait forever).
        struct Done;
        impl Drop for Done {
            fn drop(&mut self) {
                let mut n = running();
                *n = n.saturating_sub(1);
                IDLE.notify_all();
            }
        }
        let _done = Done;
        job();
        #[cfg(unix)]
        unix::install_exit_handler();
    };
    match std::thread::Builder::new()
        .name("alkahest-tier-up".into())
        .spawn(counted)
    {
        Ok(_) => true,
        Err(_) => {
            let mut n = running();
            *n = n.saturating_sub(1);
            IDLE.notify_all();
            false
        }
    }
}

/// Wait until no background build runs, at most `timeout` (forever with
/// `None`). Returns whether none runs.
pub fn wait_idle(timeout: Option<Duration>) -> bool {
    wait_zero(running(), timeout).1
}

fn wait_zero(
    mut n: MutexGuard<'static, usize>,
    timeout: Option<Duration>,
) -> (MutexGuard<'static, usize>, bool) {
    let deadline = timeout.map(|t| Instant::now() + t);
    while *n > 0 {
        match deadline {
            None => n = IDLE.wait(n).unwrap_or_else(|p| p.into_inner()),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return (n, false);
                }
                n = IDLE
                    .wait_timeout(n, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }
    (n, true)
}

/// Number of background builds running now.
pub fn running_builds() -> usize {
    *running()
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

    use super::{EXIT_WAIT, GENERATION, running, wait_zero};

    thread_local! {
        /// The count's lock, held by the forking thread across `fork`.
        static HELD: RefCell<Option<MutexGuard<'static, usize>>> = const { RefCell::new(None) };
    }

    extern "C" fn at_exit() {
        let _ = super::wait_idle(Some(EXIT_WAIT));
    }

    unsafe extern "C" fn prepare() {
        let (guard, _) = wait_zero(running(), Some(EXIT_WAIT));
        let _ = HELD.try_with(|h| *h.borrow_mut() = Some(guard));
    }

    unsafe extern "C" fn parent() {
        let _ = HELD.try_with(|h| drop(h.borrow_mut().take()));
    }

    unsafe extern "C" fn child() {
        GENERATION.fetch_add(1, Ordering::SeqCst);
        let _ = HELD.try_with(|h| {
            if let Some(mut g) = h.borrow_mut().take() {
                // Only this thread was copied: nothing runs here.
                *g = 0;
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
