//! Dropping a compiled function frees its machine code: compile/drop cycles
//! leave the process's memory flat. (Its own test binary, and its tests
//! take [`ALONE`], so no other test allocates concurrently.)

use alkahest_core::{ExprPool, Func};
use alkahest_cranelift::compile;
use alkahest_tape::{Evaluator, lower};

/// Held by each test: `cargo test` runs a binary's tests on parallel
/// threads, and each measures the whole process's memory.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
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
    // A leak of even one 4 KiB code page per cycle would be 8 MiB.
    assert_flat("compile/drop", cycle, 200, 2000, 2 << 20);
}

/// Run `cycle` `warmup` times (allocator arenas, the ISA cache), then `n`
/// times, and assert that resident memory grew by less than `max_growth`
/// bytes and the process gained fewer than 32 mappings over the `n`.
fn assert_flat(what: &str, cycle: impl Fn(), warmup: usize, n: usize, max_growth: usize) {
    for _ in 0..warmup {
        cycle();
    }
    let (rss0, maps0) = (rss(), n_maps());
    for _ in 0..n {
        cycle();
    }
    let (rss1, maps1) = (rss(), n_maps());
    let growth = rss1.saturating_sub(rss0);
    eprintln!("{n} {what} cycles: RSS {rss0} -> {rss1} bytes, maps {maps0} -> {maps1}");
    assert!(
        growth < max_growth,
        "RSS grew by {growth} bytes over {n} cycles"
    );
    assert!(maps1 < maps0 + 32, "mappings grew {maps0} -> {maps1}");
}

/// The same for a wide banded tape whose batches compiled its groups' code
/// (a second module per function).
#[test]
fn grouped_code_is_freed_with_its_function() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let p = ExprPool::new();
    let (outs, vars) = alkahest_testkit::banded(&p, 10);
    let tape = alkahest_tape::lower_many(&p, &outs, &vars).unwrap();
    assert!(alkahest_tape::output_groups(&tape).is_some());
    // One batch past the switch (65,536 points) of 600 points a column,
    // in pieces, so each cycle is cheap.
    let n = 600;
    let cols: Vec<Vec<f64>> = (0..20).map(|v| vec![0.5 + v as f64; n]).collect();
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let cycle = || {
        let f = compile(&tape).unwrap();
        let mut outs = vec![vec![0.0; n]; 20];
        for _ in 0..(65_536 / n + 2) {
            let mut o: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            f.eval_columns(&refs, &mut o);
        }
        let x: Vec<f64> = (0..20).map(|v| 0.5 + v as f64).collect();
        assert_eq!(outs[0][0], tape.eval_point(&x)[0]);
    };
    // Two modules a cycle: a leak of one code page each would be 1.6 MiB.
    assert_flat("grouped compile/drop", cycle, 20, 200, 1 << 20);
}
