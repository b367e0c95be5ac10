//! Shared test helpers of this crate: optimization levels. The bound on
//! libmvec's few-ulp drift (`drift`), random expressions, special values and
//! comparisons come from `alkahest_testkit`.
#![allow(dead_code)]

use alkahest_tape::{Op, Tape};

// Not every test file uses each of these.
#[allow(unused_imports)]
pub use alkahest_testkit::drift::*;
#[allow(unused_imports)]
pub use alkahest_testkit::{SPECIALS, binary_tape, reads_nan_sign, same, ulps_apart, unary_tape};

/// What an output buffer holds outside its column (see [`bulk_at`]).
pub const SENTINEL: f64 = -98765.4321;

/// The bulk entry of `f` on `n` points of `cols`, into output columns that
/// start `offset(k)` doubles past a 64-byte boundary in buffers of `n + 24`
/// filled with [`SENTINEL`]; asserts that nothing outside each column was
/// written, and returns the columns.
pub fn bulk_at(
    f: &alkahest_llvm::LlvmFn,
    cols: &[Vec<f64>],
    n: usize,
    offset: impl Fn(usize) -> usize,
) -> Vec<Vec<f64>> {
    use alkahest_tape::Evaluator;
    let m = f.n_outputs();
    let mut bufs: Vec<Vec<f64>> = (0..m).map(|_| vec![SENTINEL; n + 24]).collect();
    let starts: Vec<usize> = bufs
        .iter()
        .enumerate()
        .map(|(k, b)| (64 - b.as_ptr() as usize % 64) % 64 / 8 + offset(k))
        .collect();
    let ptrs: Vec<*const f64> = cols.iter().map(|c| c.as_ptr()).collect();
    let out_ptrs: Vec<*mut f64> = bufs
        .iter_mut()
        .zip(&starts)
        .map(|(b, &s)| b[s..].as_mut_ptr())
        .collect();
    // SAFETY: every input column holds `n` points; every output column has
    // `n` slots past its start (at most 15 + 8 into a buffer of `n + 24`
    // for offsets below 9), and the buffers are distinct.
    unsafe { f.eval_bulk_raw(ptrs.as_ptr(), ptrs.len(), out_ptrs.as_ptr(), n) };
    bufs.iter()
        .zip(&starts)
        .enumerate()
        .map(|(k, (b, &s))| {
            assert!(
                b[..s].iter().chain(&b[s + n..]).all(|&v| v == SENTINEL),
                "n = {n}: output {k} written outside its column"
            );
            b[s..s + n].to_vec()
        })
        .collect()
}

/// At each of `points`: the scalar entry of `f`, and the batch `got` (output
/// `k` at point `i` is `got[k][i]`), equal the reference bit for bit.
pub fn check_points(
    tape: &Tape,
    f: &alkahest_llvm::LlvmFn,
    cols: &[Vec<f64>],
    got: &[Vec<f64>],
    points: impl IntoIterator<Item = usize> + Clone,
    what: &str,
) {
    use alkahest_tape::Evaluator;
    for i in points.clone() {
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        let want = tape.eval_point(&x);
        let mut s = vec![0.0; tape.n_outputs()];
        f.eval(&x, &mut s);
        for k in 0..want.len() {
            assert!(same(s[k], want[k]), "{what}: scalar output {k} at {x:?}");
        }
    }
    if let Some(m) = alkahest_testkit::batch_mismatch(tape, cols, got, points) {
        panic!("{what}: {m}");
    }
}

/// The code-generation levels production uses: 0 for call-bound tapes
/// below a large batch (the compile crate's dispatch), 3 otherwise.
pub const LEVELS: [u8; 2] = [0, 3];

/// Options at one of [`LEVELS`].
pub fn at_level(opt_level: u8) -> alkahest_llvm::LlvmOptions {
    alkahest_llvm::LlvmOptions {
        opt_level,
        ..alkahest_llvm::LlvmOptions::default()
    }
}

/// The bulk entry's single output column (one-output functions).
pub fn bulk1(f: &dyn alkahest_tape::Evaluator, cols: &[&[f64]]) -> Vec<f64> {
    let n = cols.first().map_or(0, |c| c.len());
    let mut out = vec![0.0; n];
    f.eval_columns(cols, &mut [&mut out]);
    out
}

/// The long fuzz runs' domain-edge cases, each a tape and the point (one
/// value per input, the same in every lane) where libmvec's ulps turn into
/// NaN against a number: `differential.rs` checks them within the drift
/// bound, `exact_math.rs` bit for bit.
///
/// `hypot(f, f)` with `f = fmod(0, d)` and `d = (1/3 - (1/3 - 3 e^z)) - 3 e^z`,
/// which cancels to exactly 0 with libm's `exp` and to a few ulps with libmvec's.
pub fn fmod_of_a_cancelled_divisor() -> (Tape, Vec<f64>) {
    use alkahest_tape::{BinaryFn, UnaryFn};
    let ops = vec![
        Op::Input(0),
        Op::Input(1),
        Op::Input(2),
        Op::Const(1.0 / 3.0),
        Op::Unary(UnaryFn::Exp, 2),
        Op::Const(0.0),
        Op::Const(3.0),
        Op::Mul(6, 4),
        Op::Sub(3, 7),
        Op::Sub(3, 8),
        Op::Sub(9, 7),
        Op::Binary(BinaryFn::Fmod, 5, 10),
        Op::Binary(BinaryFn::Hypot, 11, 11),
    ];
    let tape = Tape::new(3, ops, vec![12]).unwrap();
    (tape, vec![0.0, 0.0, -3.540857784885841])
}

/// `sqrt((s - (s - 1/(4x^2))) - 1/(4x^2))` with `s = sin(4x^2)`: a few ulps
/// either side of 0 depending on which `sin`.
pub fn sqrt_past_zero() -> (Tape, Vec<f64>) {
    use alkahest_tape::UnaryFn::{Sin, Sqrt};
    let ops = vec![
        Op::Input(0),
        Op::Input(1),
        Op::Mul(0, 0),
        Op::Const(4.0),
        Op::Mul(3, 2),
        Op::Unary(Sin, 4),
        Op::Const(1.0 / 3.0),
        Op::Div(6, 4),
        Op::Sub(5, 7),
        Op::Sub(5, 8),
        Op::Sub(9, 7),
        Op::Unary(Sqrt, 10),
    ];
    let tape = Tape::new(2, ops, vec![11, 11]).unwrap();
    (tape, vec![-0.9097037698039117, 0.0])
}

/// `acosh(cos(1e-8))`: libm's cosine rounds to 1, libmvec's to just below.
pub fn acosh_past_one() -> (Tape, Vec<f64>) {
    use alkahest_tape::UnaryFn::{Acosh, Cos};
    let ops = vec![
        Op::Input(0),
        Op::Input(1),
        Op::Unary(Cos, 1),
        Op::Unary(Acosh, 2),
        Op::Neg(3),
        Op::Sub(4, 3),
    ];
    let tape = Tape::new(2, ops, vec![5]).unwrap();
    (tape, vec![f64::NAN, 1e-8])
}

/// For a function of the `exp` and `log` modules: a tape with six of
/// `func` (more than the inline form takes) calls one internal function per
/// width, `@alkahest_v<name>_x<w>`, where `own` says the host has the
/// module's routine; and its results are the same bits as the inline form
/// of a one-operation tape, on columns from `col(i)`.
pub fn function_form_matches_inline(
    func: alkahest_tape::UnaryFn,
    name: &str,
    own: bool,
    col: impl Fn(usize) -> Vec<f64>,
) {
    use alkahest_llvm::{LlvmOptions, compile, optimized_ir};
    use alkahest_tape::Evaluator;
    let k = 6;
    let mut ops: Vec<Op> = (0..k).map(|i| Op::Input(i as u32)).collect();
    ops.extend((0..k).map(|i| Op::Unary(func, i as u32)));
    let outputs: Vec<u32> = (k..2 * k).map(|i| i as u32).collect();
    let tape = Tape::new(k, ops, outputs).unwrap();
    if own {
        let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
        assert!(ir.contains(&format!("@alkahest_v{name}_x")), "{ir}");
    }
    let cols: Vec<Vec<f64>> = (0..k).map(&col).collect();
    let n = cols[0].len();
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    let mut outs = vec![vec![0.0; n]; k];
    {
        let inputs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let mut refs: Vec<&mut [f64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        f.eval_columns(&inputs, &mut refs);
    }
    let one = compile(&unary_tape(func), &LlvmOptions::default()).unwrap();
    for (col, out) in cols.iter().zip(&outs) {
        let mut inline = vec![0.0; n];
        one.eval_columns(&[col], &mut [&mut inline]);
        for ((&x, &g), &i) in col.iter().zip(out).zip(&inline) {
            assert_eq!(
                g.to_bits(),
                i.to_bits(),
                "{name}({x:e}): {g:e} as a function, {i:e} inline"
            );
        }
    }
}

/// The bulk entry's `func` of `xs` under `opts`.
pub fn bulk_of(
    func: alkahest_tape::UnaryFn,
    xs: &[f64],
    opts: &alkahest_llvm::LlvmOptions,
) -> Vec<f64> {
    use alkahest_tape::Evaluator;
    let f = alkahest_llvm::compile(&unary_tape(func), opts).unwrap();
    let mut out = vec![0.0; xs.len()];
    f.eval_columns(&[xs], &mut [&mut out]);
    out
}

/// `func` in the bulk loop against libm's `libm` on `xs`, for the crate's
/// own inline routines: libm's bits where `exact(x, libm(x))` holds, within
/// `bound` ulps of libm elsewhere; where `own` (the routine runs on this
/// host), different from libm somewhere, or the routine did not run; and
/// libm's bits everywhere under `exact_math`.
pub fn near_libm(
    func: alkahest_tape::UnaryFn,
    libm: fn(f64) -> f64,
    xs: &[f64],
    own: bool,
    bound: f64,
    exact: impl Fn(f64, f64) -> bool,
) {
    use alkahest_llvm::LlvmOptions;
    use alkahest_testkit::values::ulps_off;
    let got = bulk_of(func, xs, &LlvmOptions::default());
    let mut worst: f64 = 0.0;
    for (&x, &g) in xs.iter().zip(&got) {
        let want = libm(x);
        let d = ulps_off(g, want);
        if exact(x, want) {
            assert_eq!(d, 0.0, "{func:?}({x:e}) = {g:e}, libm {want:e}");
        } else {
            assert!(
                d <= bound,
                "{func:?}({x:e}) = {g:e}, libm {want:e}: {d} ulp"
            );
        }
        worst = worst.max(d);
    }
    if own {
        assert!(
            worst > 0.0,
            "{func:?} never differed from libm: the routine did not run"
        );
    }
    let exact_math = LlvmOptions {
        exact_math: true,
        ..LlvmOptions::default()
    };
    for (&x, &g) in xs.iter().zip(&bulk_of(func, xs, &exact_math)) {
        assert_eq!(
            ulps_off(g, libm(x)),
            0.0,
            "exact_math {func:?}({x:e}) = {g:e}"
        );
    }
}
