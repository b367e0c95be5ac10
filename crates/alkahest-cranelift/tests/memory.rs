//! Dropping a compiled function frees its machine code: compile/drop cycles
//! leave the process's memory flat. (Its own test binary, so no other test
//! allocates concurrently.)

use alkahest_core::{ExprPool, Func};
use alkahest_cranelift::compile;
use alkahest_tape::{Evaluator, lower};

/// Resident set size in bytes, from /proc/self/statm.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Number of memory mappings (each leaked code region would be one more).
fn n_maps() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn compile_drop_cycles_keep_memory_flat() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let s = p.func(Func::Sin, &[x]).unwrap();
    let e = p
        .add(&[
            p.mul(&[s, y]).unwrap(),
            p.pow(x, p.integer(5).unwrap()).unwrap(),
        ])
        .unwrap();
    let tape = lower(&p, e, &[x, y]).unwrap();
    let cycle = || {
        let f = compile(&tape).unwrap();
        assert_eq!(f.eval_scalar(&[0.0, 1.0]), 0.0);
    };
    // Warm up allocator arenas and the ISA cache.
    for _ in 0..200 {
        cycle();
    }
    let (rss0, maps0) = (rss(), n_maps());
    const N: usize = 2000;
    for _ in 0..N {
        cycle();
    }
    let (rss1, maps1) = (rss(), n_maps());
    let growth = rss1.saturating_sub(rss0);
    eprintln!("{N} compile/drop cycles: RSS {rss0} -> {rss1} bytes, maps {maps0} -> {maps1}");
    // A leak of even one 4 KiB code page per cycle would be 8 MiB.
    assert!(
        growth < 2 << 20,
        "RSS grew by {growth} bytes over {N} cycles"
    );
    assert!(maps1 < maps0 + 32, "mappings grew {maps0} -> {maps1}");
}
