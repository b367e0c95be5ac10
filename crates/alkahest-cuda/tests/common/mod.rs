//! Shared test helpers: finding the CUDA wheel's tools, generating tapes,
//! comparing results.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use alkahest_kernel::{BinaryFn, CmpOp, Op, Reg, Tape, UnaryFn};
use proptest::prelude::*;

/// Python `site-packages` directories where the `nvidia-cuda-nvcc-cu12`
/// wheel may live: `$ALKAHEST_PYTHON`'s `sys.path`, then the workspace's
/// `.venv`.
pub fn site_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(python) = std::env::var_os("ALKAHEST_PYTHON")
        && let Ok(out) = Command::new(python)
            .args(["-c", "import sys; print('\\n'.join(sys.path))"])
            .output()
    {
        dirs.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(PathBuf::from),
        );
    }
    let venv_lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/lib");
    if let Ok(entries) = std::fs::read_dir(&venv_lib) {
        for e in entries.flatten() {
            dirs.push(e.path().join("site-packages"));
        }
    }
    dirs
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

/// Random single-output tapes over every op kind: `n_inputs` inputs, then
/// `len` ops each reading earlier registers; the output is the last op.
pub fn arb_tape(max_inputs: usize, max_len: usize) -> impl Strategy<Value = Tape> {
    arb_tape_outputs(max_inputs, max_len, 1)
}

/// Number of op kinds [`arb_tape_outputs`] draws from.
const KINDS: u8 = 9 + UnaryFn::ALL.len() as u8 + BinaryFn::ALL.len() as u8;

/// Random tapes over every op kind (arithmetic, FMA, every unary and binary
/// function, comparisons and selections) with 1 to `max_outputs` outputs:
/// the last op, then any earlier registers (repeats allowed).
pub fn arb_tape_outputs(
    max_inputs: usize,
    max_len: usize,
    max_outputs: usize,
) -> impl Strategy<Value = Tape> {
    (1..=max_inputs, 1..=max_len, 1..=max_outputs).prop_flat_map(|(n_inputs, len, m)| {
        (
            proptest::collection::vec(arb_op_seed(), len),
            proptest::collection::vec(any::<u64>(), m - 1),
        )
            .prop_map(move |(seeds, extra)| {
                let mut ops: Vec<Op> = (0..n_inputs as u32).map(Op::Input).collect();
                for (kind, a, b, c, konst) in seeds {
                    ops.push(random_op(&ops, kind, a, b, c, konst));
                }
                let n = ops.len() as u64;
                let mut outputs = vec![(n - 1) as Reg];
                outputs.extend(extra.iter().map(|&s| (s % n) as Reg));
                Tape::new(n_inputs, ops, outputs).expect("generated tapes are valid")
            })
    })
}

/// One op over the registers defined so far in `ops`.
fn random_op(ops: &[Op], kind: u8, a: u64, b: u64, c: u64, konst: f64) -> Op {
    let n = ops.len() as u64;
    let pick = |s: u64| (s % n) as Reg;
    // Prefer recent registers so results depend on the inputs.
    let recent = |s: u64| (n - 1 - (s % n.min(4))) as Reg;
    let n_unary = UnaryFn::ALL.len() as u8;
    match kind {
        0 => Op::Const(konst),
        1 => Op::Neg(recent(a)),
        2 => Op::Add(recent(a), pick(b)),
        3 => Op::Sub(recent(a), pick(b)),
        4 => Op::Mul(recent(a), pick(b)),
        5 => Op::Div(recent(a), pick(b)),
        6 => Op::Fma(recent(a), pick(b), pick(c)),
        7 => Op::Cmp(CmpOp::ALL[(c % 6) as usize], recent(a), pick(b)),
        // Conditions are usually comparisons; any value works (c != 0).
        8 => Op::Select(recent(c), pick(a), pick(b)),
        k if k < 9 + n_unary => Op::Unary(UnaryFn::ALL[(k - 9) as usize], recent(a)),
        k => Op::Binary(
            BinaryFn::ALL[(k - 9 - n_unary) as usize],
            recent(a),
            pick(b),
        ),
    }
}

fn arb_op_seed() -> impl Strategy<Value = (u8, u64, u64, u64, f64)> {
    (
        0u8..KINDS,
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        prop_oneof![-4.0..4.0f64, Just(0.5), Just(2.0), Just(-1.0), Just(0.0)],
    )
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

/// Distance in units of the last place between two doubles (0 for equal
/// values, including both NaN; `u64::MAX` when only one is NaN).
pub fn ulps(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    if a == b {
        return 0;
    }
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    key(a).abs_diff(key(b))
}
