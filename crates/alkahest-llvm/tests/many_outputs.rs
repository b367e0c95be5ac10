//! Tapes with many outputs (more than 16): the bulk entry stages a block
//! of points per distinct output register and copies each output's block
//! to its column; constant outputs are staged once per call. Checked: bit
//! identity with the reference at every point count around vector and
//! block boundaries, in place over the inputs, with a segmented tape, the
//! NaN fill on bad shapes; and, structurally, that code size and store
//! runs do not grow with repeated outputs (what made compiles quadratic).

mod common;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_llvm::{LlvmFn, LlvmOptions, compile, optimized_ir};
use alkahest_tape::{Evaluator, Tape, lower_many};
use common::*;

/// Point counts around vectors (4), blocks (up to 64 points) and several
/// blocks.
const COUNTS: [usize; 16] = [
    0, 1, 3, 4, 5, 8, 31, 33, 63, 64, 65, 127, 129, 191, 257, 300,
];

fn column(n: usize, shift: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match (i + shift) % 13 {
            4 => SPECIALS[(i + shift) % SPECIALS.len()],
            _ => ((i * 5 + shift) as f64 * 0.37).sin() * 2.9,
        })
        .collect()
}

/// `k` outputs over x, y, z with exact operations only (no libmvec call,
/// so every tier is bit-identical): products, an input, repeated
/// registers, constants (one repeated), a selection.
fn exact_many(p: &ExprPool, k: usize) -> (Vec<ExprId>, Vec<ExprId>) {
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let z = p.symbol("z").unwrap();
    let s = p.add(&[p.mul(&[x, y]).unwrap(), z]).unwrap();
    let lt = p.func(Func::Lt, &[x, z]).unwrap();
    let outs = (0..k)
        .map(|i| match i % 6 {
            0 => p.integer(0).unwrap(),
            1 => s,
            2 => x,
            3 => p.mul(&[s, p.integer(i as i64 + 1).unwrap()]).unwrap(),
            4 => p
                .select(
                    lt,
                    p.func(Func::Floor, &[s]).unwrap(),
                    p.float(i as f64 * 0.5).unwrap(),
                )
                .unwrap(),
            _ => p.float(i as f64 - 0.25).unwrap(),
        })
        .collect();
    (outs, vec![x, y, z])
}

fn bulk_raw(f: &LlvmFn, cols: &[Vec<f64>], n: usize) -> Vec<Vec<f64>> {
    let mut outs = vec![vec![SENTINEL; n + 9]; f.n_outputs()];
    let ptrs: Vec<*const f64> = cols.iter().map(|c| c.as_ptr()).collect();
    let out_ptrs: Vec<*mut f64> = outs.iter_mut().map(|o| o.as_mut_ptr()).collect();
    // SAFETY: every input column holds `n` points, every output column
    // `n + 9` distinct slots.
    unsafe { f.eval_bulk_raw(ptrs.as_ptr(), ptrs.len(), out_ptrs.as_ptr(), n) };
    for (k, o) in outs.iter_mut().enumerate() {
        assert!(
            o[n..].iter().all(|&v| v == SENTINEL),
            "output {k} written past n = {n}"
        );
        o.truncate(n);
    }
    outs
}

fn check_exact(tape: &Tape, f: &LlvmFn, what: &str) {
    for n in COUNTS {
        let cols: Vec<_> = (0..tape.n_inputs()).map(|v| column(n, 3 * v)).collect();
        let got = bulk_raw(f, &cols, n);
        check_points(tape, f, &cols, &got, 0..n, &format!("{what}, n = {n}"));
    }
}

#[test]
fn many_outputs_bit_identical_at_every_count() {
    for k in [17, 40, 700] {
        let p = ExprPool::new();
        let (outs, vars) = exact_many(&p, k);
        let tape = lower_many(&p, &outs, &vars).unwrap();
        for level in LEVELS {
            let f = compile(&tape, &at_level(level)).unwrap();
            assert_eq!(f.n_outputs(), k);
            check_exact(&tape, &f, &format!("{k} outputs, level {level}"));
        }
    }
}

/// Calls writing 4 MiB or more copy blocks to columns at a vector boundary
/// with streaming stores (others keep cached stores): columns at every
/// offset from a 64-byte boundary, a partial last block, bit for bit.
#[test]
fn many_outputs_streaming_columns() {
    let p = ExprPool::new();
    let (outs, vars) = exact_many(&p, 24);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    // Streaming only where the host gains from it (AVX-512; an AVX2 Zen 3
    // ran the grouped Brusselator 4-5x slower with it).
    let ir = alkahest_llvm::optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    let streams = alkahest_llvm::streaming_stores().unwrap();
    assert_eq!(ir.contains("!nontemporal"), streams);
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    // 24 outputs x 8 bytes x n >= 4 MiB from n = 21,846.
    for n in [21_845, 21_846, 40_000, 40_007] {
        let cols: Vec<_> = (0..3).map(|v| column(n, 3 * v)).collect();
        // Each column starts `k % 8` doubles past a 64-byte boundary.
        let got = bulk_at(&f, &cols, n, |k| k % 8);
        let points = (0..n).step_by(7).chain(n - 70..n);
        check_points(&tape, &f, &cols, &got, points, &format!("n = {n}"));
    }
}

/// The staged loop prefetches its input columns ahead of the point it
/// reads, past their ends near the end of a call: input columns that end
/// where an inaccessible page begins still evaluate, bit for bit.
#[test]
fn many_outputs_prefetch_past_column_ends() {
    let p = ExprPool::new();
    let (outs, vars) = exact_many(&p, 24);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    assert!(
        ir.contains("@llvm.prefetch"),
        "staged loop without prefetches"
    );
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    for n in [1, 5, 64, 65, 300] {
        let want_cols: Vec<_> = (0..3).map(|v| column(n, 3 * v)).collect();
        // Each column in its own mapping, its last point just before a
        // PROT_NONE page.
        let bytes = (n * 8).div_ceil(page) * page;
        let mut maps = Vec::new();
        let mut ptrs = Vec::new();
        for c in &want_cols {
            // SAFETY: a fresh anonymous private mapping of `bytes + page`
            // bytes; its last page is then made inaccessible.
            let base = unsafe {
                let m = libc::mmap(
                    std::ptr::null_mut(),
                    bytes + page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(m, libc::MAP_FAILED, "mmap");
                let guard = (m as *mut u8).add(bytes);
                assert_eq!(libc::mprotect(guard.cast(), page, libc::PROT_NONE), 0);
                m as *mut u8
            };
            // SAFETY: `bytes - 8 n` is within the mapping's readable part,
            // which holds the `n` doubles copied there.
            let col = unsafe {
                let col = base.add(bytes - n * 8) as *mut f64;
                std::ptr::copy_nonoverlapping(c.as_ptr(), col, n);
                col
            };
            maps.push(base);
            ptrs.push(col as *const f64);
        }
        let mut got = vec![vec![SENTINEL; n]; f.n_outputs()];
        let out_ptrs: Vec<*mut f64> = got.iter_mut().map(|o| o.as_mut_ptr()).collect();
        // SAFETY: three input columns of `n` readable points, 24 output
        // columns of `n` points.
        unsafe { f.eval_bulk_raw(ptrs.as_ptr(), 3, out_ptrs.as_ptr(), n) };
        check_points(&tape, &f, &want_cols, &got, 0..n, &format!("n = {n}"));
        for m in maps {
            // SAFETY: each is a mapping of `bytes + page` bytes made above.
            unsafe { libc::munmap(m.cast(), bytes + page) };
        }
    }
}

/// Output columns over the input columns: each block reads its inputs
/// before any of its outputs is copied out.
#[test]
fn many_outputs_in_place_over_inputs() {
    let p = ExprPool::new();
    let (outs, vars) = exact_many(&p, 30);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    for n in COUNTS {
        let cols: Vec<_> = (0..3).map(|v| column(n, 2 * v + 1)).collect();
        let want = bulk_raw(&f, &cols, n);
        let mut inplace = cols.clone();
        let mut rest = vec![vec![0.0; n]; 27];
        let ptrs: Vec<*const f64> = inplace.iter().map(|c| c.as_ptr()).collect();
        let mut out_ptrs: Vec<*mut f64> = inplace.iter_mut().map(|c| c.as_mut_ptr()).collect();
        out_ptrs.extend(rest.iter_mut().map(|c| c.as_mut_ptr()));
        // SAFETY: three input columns of `n` points, which are also the
        // first three of 30 output columns of `n` points.
        unsafe { f.eval_bulk_raw(ptrs.as_ptr(), 3, out_ptrs.as_ptr(), n) };
        for k in 0..30 {
            let got = if k < 3 { &inplace[k] } else { &rest[k - 3] };
            for i in 0..n {
                assert!(same(got[i], want[k][i]), "n = {n}, output {k}, point {i}");
            }
        }
    }
}

/// Staged outputs with a segmented tape (scratch array and staging buffer
/// together).
#[test]
fn many_outputs_segmented() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let mut acc = x;
    let mut outs = Vec::new();
    for k in 0..1700 {
        let c = p.rational(k % 11 + 1, 5).unwrap();
        acc = p
            .func(
                Func::Floor,
                &[p.add(&[p.mul(&[acc, c]).unwrap(), y]).unwrap()],
            )
            .unwrap();
        acc = p.mul(&[acc, p.rational(1, 3).unwrap()]).unwrap();
        if k % 50 == 7 {
            outs.push(acc);
            outs.push(p.integer(k as i64).unwrap());
        }
    }
    let tape = lower_many(&p, &outs, &[x, y]).unwrap();
    assert!(tape.n_compute() > 1500, "{} ops", tape.n_compute());
    assert!(tape.n_outputs() > 16);
    let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    assert!(ir.contains("@alkahest_seg1_x"), "not segmented");
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    check_exact(&tape, &f, "segmented");
}

#[test]
fn many_outputs_bad_shapes_fill_nan() {
    let p = ExprPool::new();
    let (outs, vars) = exact_many(&p, 20);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    let mut outs = vec![vec![0.0; 70]; 20];
    let out_ptrs: Vec<*mut f64> = outs.iter_mut().map(|o| o.as_mut_ptr()).collect();
    let col = [1.0; 70];
    // SAFETY: one input pointer (none is read with n_vars < 3), twenty
    // output columns of 70 points.
    unsafe { f.eval_bulk_raw([col.as_ptr()].as_ptr(), 1, out_ptrs.as_ptr(), 70) };
    assert!(outs.iter().flatten().all(|v| v.is_nan()));
}

/// The IR text of one function of the module.
fn function<'a>(ir: &'a str, name: &str) -> &'a str {
    let start = ir
        .find(&format!("define void @{name}"))
        .unwrap_or_else(|| panic!("no {name}"));
    let end = ir[start..].find("\n}\n").unwrap() + start;
    &ir[start..end]
}

/// Stores per basic block, most of any block of `f`.
fn max_stores_per_block(f: &str) -> usize {
    let (mut most, mut cur) = (0, 0);
    for line in f.lines() {
        let l = line.trim_start();
        // A label: `name:` at the start of a line (perhaps `; preds = ...`).
        let label = !line.starts_with(' ') && !line.starts_with("define") && line.contains(':');
        if label {
            cur = 0;
        }
        if l.starts_with("store ") || l.contains("@llvm.masked.store") {
            cur += 1;
            most = most.max(cur);
        }
    }
    most
}

/// Compile time was quadratic in repeated outputs (`[0] * 3599 + [x*y]`:
/// 11 s): the bulk loop stored every output register to its column from
/// one basic block, and x86's machine scheduler chains such stores
/// pairwise. Checked structurally, not by timing: the bulk entry's code
/// does not grow with the number of outputs sharing registers, and no
/// basic block of either entry holds a long run of stores.
#[test]
fn repeated_outputs_do_not_grow_the_bulk_loop() {
    let stores = |m: usize, same: bool| {
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let y = p.symbol("y").unwrap();
        let xy = p.mul(&[x, y]).unwrap();
        let mut outs = if same {
            vec![xy; m]
        } else {
            vec![p.integer(0).unwrap(); m - 1]
        };
        outs.push(xy);
        let tape = lower_many(&p, &outs, &[x, y]).unwrap();
        let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
        let bulk = function(&ir, "alkahest_eval_bulk");
        let scalar = function(&ir, "alkahest_eval_scalar");
        assert!(
            max_stores_per_block(bulk) <= 64 && max_stores_per_block(scalar) <= 64,
            "{m} outputs: a run of {} / {} stores in one block",
            max_stores_per_block(bulk),
            max_stores_per_block(scalar)
        );
        bulk.lines()
            .filter(|l| l.trim_start().starts_with("store ") || l.contains("@llvm.masked.store"))
            .count()
    };
    for same in [false, true] {
        let (few, many) = (stores(100, same), stores(3000, same));
        assert_eq!(
            few, many,
            "bulk entry stores grow with outputs (same = {same})"
        );
        // The body's staging stores, the constant fill, and the copy
        // loop's cached, masked and streaming paths (a block's vectors
        // each): a constant, whatever the output count.
        assert!(many < 96, "{many} stores in the bulk entry");
    }
}
