//! Pools that are not kept must not leave threads behind. Alone in its
//! binary so that no other test starts threads meanwhile.
#![cfg(all(target_os = "linux", feature = "parallel"))]

use std::time::{Duration, Instant};

use alkahest_batch::{CHUNK, Error, default_threads, max_threads, par_eval_columns};
use alkahest_core::ExprPool;
use alkahest_interp::Interpreter;
use alkahest_tape::lower;

/// Threads of this process, from /proc/self/status.
fn threads_now() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[test]
fn big_thread_counts_leave_no_threads_behind() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let e = p.mul(&[x, x]).unwrap();
    let it = Interpreter::new(&lower(&p, e, &[x]).unwrap());
    let n = 3 * CHUNK;
    let xs = vec![3.0; n];
    let mut out = vec![0.0; n];
    // The default pool is kept: start it before taking the baseline.
    par_eval_columns(&it, &[&xs], &mut [&mut out], None).unwrap();
    let base = threads_now();
    // Counts above the default are never kept (a host with more CPUs
    // tests fewer of them).
    let counts = [200, 150, 256, 100, 199, 64, 65, 66, 67, 68];
    for k in counts.into_iter().filter(|&k| k > default_threads()) {
        out.fill(0.0);
        par_eval_columns(&it, &[&xs], &mut [&mut out], Some(k)).unwrap();
        assert!(out.iter().all(|&v| v == 9.0));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while threads_now() > base + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = threads_now();
    assert!(after <= base + 2, "threads: {base} before, {after} after");
    // Far above the limit: refused at once, no thread started.
    let t = Instant::now();
    let r = par_eval_columns(&it, &[&xs], &mut [&mut out], Some(100_000));
    assert!(matches!(
        r,
        Err(Error::TooManyThreads {
            requested: 100_000,
            ..
        })
    ));
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(threads_now() <= base + 2);
    // The limit itself is accepted.
    par_eval_columns(&it, &[&xs], &mut [&mut out], Some(max_threads())).unwrap();
}
