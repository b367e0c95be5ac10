//! Shared test helpers: finding the CUDA wheel's tools, generating tapes,
//! comparing results.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use alkahest_tape::{Op, Tape};
use alkahest_testkit::TapeGen;
use alkahest_testkit::tapes::ORDINARY_CONSTANTS;
use proptest::prelude::*;

#[allow(unused_imports)] // not every test file uses it
pub use alkahest_testkit::ulps_apart as ulps;

/// Python `site-packages` directories where the `nvidia-cuda-nvcc-cu12`
/// wheel may live (see `alkahest_testkit::tools`).
pub fn site_dirs() -> Vec<PathBuf> {
    alkahest_testkit::tools::python_site_dirs()
}

/// `libdevice.10.bc`, if installed anywhere the crate looks.
pub fn libdevice() -> Option<PathBuf> {
    alkahest_cuda::find_libdevice(&site_dirs()).ok()
}

/// NVIDIA's PTX assembler: the wheel's, then `$PATH`, then `$CUDA_HOME/bin`.
pub fn ptxas() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = site_dirs()
        .into_iter()
        .map(|d| d.join("nvidia/cuda_nvcc/bin/ptxas"))
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("ptxas")));
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(root) = std::env::var_os(var) {
            candidates.push(Path::new(&root).join("bin/ptxas"));
        }
    }
    candidates.push(PathBuf::from("/usr/local/cuda/bin/ptxas"));
    candidates.into_iter().find(|p| p.is_file())
}

/// The tools PTX tests need, or `None` after printing why the test is
/// skipped. Having ptxas but no libdevice is a broken install: that fails.
pub fn tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    let Some(ptxas) = ptxas() else {
        eprintln!(
            "SKIPPED {test}: no ptxas found (pip install nvidia-cuda-nvcc-cu12 into the \
             workspace .venv, or set ALKAHEST_PYTHON / CUDA_HOME)"
        );
        return None;
    };
    let libdevice = libdevice()
        .unwrap_or_else(|| panic!("ptxas found at {} but no libdevice.10.bc", ptxas.display()));
    Some((ptxas, libdevice))
}

/// Assemble `ptx` with ptxas for `arch`; panics with ptxas's output on
/// failure.
pub fn assemble(ptxas: &Path, ptx: &str, arch: &str) {
    let dir = std::env::temp_dir().join(format!(
        "alkahest-cuda-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("k.ptx");
    let obj = dir.join("k.cubin");
    std::fs::write(&src, ptx).unwrap();
    let out = Command::new(ptxas)
        .arg(format!("-arch={arch}"))
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .expect("running ptxas");
    assert!(
        out.status.success(),
        "ptxas -arch={arch} rejected the PTX:\n{}\n{}\n--- PTX ---\n{ptx}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&obj).unwrap().len() > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// PTX is self-contained: no `.extern` declarations, and every function
/// called is defined in the module.
pub fn assert_self_contained(ptx: &str) {
    assert!(
        !ptx.contains(".extern"),
        "unresolved external in PTX:\n{ptx}"
    );
    for line in ptx.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("call") {
            let name = rest
                .split(|c: char| c == ',' || c == '(' || c.is_whitespace())
                .map(str::trim)
                .find(|s| s.starts_with("__") || s.starts_with("_Z"));
            if let Some(name) = name {
                assert!(
                    ptx.contains(&format!(".func {name}")) || ptx.contains(&format!("{name}(")),
                    "call to undefined {name}"
                );
            }
        }
    }
}

/// Random single-output tapes over every op kind (`alkahest_testkit::tapes`):
/// 1 to `max_inputs` inputs, then 1 to `max_len` ops.
pub fn arb_tape(max_inputs: usize, max_len: usize) -> BoxedStrategy<Tape> {
    arb_tape_outputs(max_inputs, max_len, 1)
}

/// Random tapes over every op kind (arithmetic, FMA, every unary and binary
/// function, comparisons and selections) with 1 to `max_outputs` outputs.
pub fn arb_tape_outputs(
    max_inputs: usize,
    max_len: usize,
    max_outputs: usize,
) -> BoxedStrategy<Tape> {
    alkahest_testkit::tapes(1..=max_inputs, 1..=max_len, 1..=max_outputs)
}

/// [`arb_tape_outputs`] with ordinary constants only, for the comparisons
/// on the GPU: they allow libdevice 1% of the points off by a relative
/// 1e-9, which a NaN or infinite constant (the same at every point) would
/// turn into all or nothing.
pub fn arb_tape_ordinary(
    max_inputs: usize,
    max_len: usize,
    max_outputs: usize,
) -> BoxedStrategy<Tape> {
    TapeGen::new(1..=max_inputs, 1..=max_len, 1..=max_outputs)
        .constants(&ORDINARY_CONSTANTS)
        .strategy()
}

/// Whether the tape calls a libdevice function (whose results may differ
/// from the platform libm by a few ulp): the kernel's table marks those
/// (`FnInfo::call`); everything else is exact on both sides.
pub fn has_transcendental(tape: &Tape) -> bool {
    tape.ops().iter().any(|op| match op {
        Op::Unary(f, _) => f.info().call,
        Op::Binary(f, _, _) => f.info().call,
        _ => false,
    })
}

/// The reference values of every output at `n` points: `result[k][i]` is
/// output `k` at point `i` (the kernel's `Tape::eval_point`).
pub fn reference(tape: &Tape, cols: &[&[f64]], n: usize) -> Vec<Vec<f64>> {
    let mut outs = vec![vec![0.0; n]; tape.n_outputs()];
    let mut point = vec![0.0; cols.len()];
    for i in 0..n {
        for (p, c) in point.iter_mut().zip(cols) {
            *p = c[i];
        }
        for (o, v) in outs.iter_mut().zip(tape.eval_point(&point)) {
            o[i] = v;
        }
    }
    outs
}
