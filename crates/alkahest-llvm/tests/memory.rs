//! Compile/drop cycles must not leak: its own test binary, so no other
//! test's allocations move the RSS while it measures.

use std::time::Instant;

use alkahest_core::{ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_llvm::{LlvmOptions, compile};
use alkahest_tape::{Evaluator, Tape, lower};

fn sample_tape() -> Tape {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let s = p.mul(&[p.func(Func::Sin, &[x]).unwrap(), y]).unwrap();
    let a = p.func(Func::Atan2, &[y, x]).unwrap();
    let e = p.add(&[s, a]).unwrap();
    lower(&p, e, &[x, y]).unwrap()
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn compile_drop_cycles_keep_memory_flat() {
    let tape = sample_tape();
    let want = Interpreter::new(&tape).eval_scalar(&[0.5, 0.25]);
    let cycle = || {
        let f = compile(&tape, &LlvmOptions::default()).unwrap();
        assert_eq!(f.eval_scalar(&[0.5, 0.25]), want);
    };
    // Warm up: LLVM's one-time tables, allocator pools.
    for _ in 0..200 {
        cycle();
    }
    let before = rss_bytes();
    let t = Instant::now();
    for _ in 0..1000 {
        cycle();
    }
    let after = rss_bytes();
    let per = t.elapsed().as_secs_f64() * 1e3 / 1000.0;
    eprintln!(
        "1000 compile/drop cycles: {per:.2} ms each, RSS {:.1} -> {:.1} MiB",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0
    );
    // A leak of one code page (4 KiB) per cycle would add ~4 MiB.
    assert!(
        after <= before + 2 * 1024 * 1024,
        "RSS grew {before} -> {after}"
    );
}
