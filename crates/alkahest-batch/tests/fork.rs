//! A child created by `fork` after the parent ran parallel batches must be
//! able to run them too (the parent's pool threads do not exist there).
//! Alone in its binary: `fork` with other tests' threads running is unsafe.
#![cfg(all(unix, feature = "parallel"))]

use std::time::{Duration, Instant};

use alkahest_batch::{CHUNK, par_eval_columns};
use alkahest_core::{ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_tape::lower;

/// A parallel batch with `threads`; true when its results are right.
fn batch(threads: Option<usize>) -> bool {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let e = p.func(Func::Sin, &[x]).unwrap();
    let it = Interpreter::new(&lower(&p, e, &[x]).unwrap());
    let n = 4 * CHUNK + 3;
    let xs: Vec<f64> = (0..n).map(|i| i as f64 * 1e-4).collect();
    let mut out = vec![0.0; n];
    par_eval_columns(&it, &[&xs], &mut [&mut out], threads).unwrap();
    out.iter().zip(&xs).all(|(o, x)| *o == x.sin())
}

#[test]
fn a_forked_child_runs_parallel_batches() {
    assert!(batch(None) && batch(Some(2)) && batch(Some(3)));
    // SAFETY: the child only evaluates and exits with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = std::panic::catch_unwind(|| batch(None) && batch(Some(2)) && batch(Some(5)));
        // SAFETY: ends the child without running the parent's atexit state.
        unsafe { libc::_exit(if matches!(ok, Ok(true)) { 0 } else { 1 }) };
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut status = 0;
    loop {
        // SAFETY: plain waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the forked child hung in a parallel batch");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: status {status}"
    );
    // The parent's pools still work.
    assert!(batch(None) && batch(Some(2)));
}
