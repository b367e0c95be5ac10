//! LLVM JIT backend: compiles a [`Tape`] to host machine code.
//!
//! Pipeline: tape -> LLVM IR (two entry points, emitted already optimized)
//! -> machine code for the **host** CPU (name and features, not a fixed
//! baseline) at `opt_level` -> an object file -> linked by an ORC `LLJIT`
//! owned by the returned [`LlvmFn`]. LLVM's IR pass pipeline is not run: the
//! kernel value-numbers the tape and the bulk loop is written on vectors, so
//! `default<O3>` found nothing to speed up and cost half of a small compile. The same object bytes can be stored
//! ([`emit_object`]) and linked again later ([`load_object`]).
//!
//! # Entry points (C ABI)
//! A tape has `m >= 1` outputs, all computed in one pass (shared
//! subexpressions once per point).
//! * `void alkahest_eval_scalar(const double *inputs, double *out)`: one
//!   point, scalar code; writes output `k` to `out[k]`, `k < m`.
//! * `void alkahest_eval_bulk(const double *const *cols, uint64_t n_vars,
//!   double *const *outs, uint64_t n_points)`: `cols[v]` is variable `v`'s
//!   column and `outs[k]` output `k`'s; writes `outs[k][0..n_points]` (NaN
//!   everywhere if `n_vars < n_inputs`).
//!   The loop body is written directly on SIMD vectors (`<8 x double>` with
//!   AVX-512F, `<4 x double>` with AVX, else `<2 x double>`; the
//!   `ALKAHEST_SIMD_WIDTH` environment variable caps it), so it is
//!   vectorized by construction, for every tape, with vector stores to each
//!   output column: transcendental functions call glibc libmvec's vector
//!   variants by name
//!   (`_ZGVeN8v_sin`, `_ZGVdN4v_log1p`, `_ZGVdN4vv_atan2`, ... for sin cos
//!   tan asin acos atan sinh cosh exp log log1p expm1 asinh acosh atanh
//!   cbrt exp2 log2 log10 erf erfc atan2 hypot, where the process has
//!   them: glibc 2.35 or later for most), `tgamma`, `lgamma`, `fmod` (which
//!   have no vector variant), `pow` and `tanh` (whose variants were slower) have
//!   the crate's own vector routines with libm lane by lane outside their
//!   domains (`codegen::routine`; `pow`, `fmod`, `lgamma` and `tgamma` are
//!   built once per process and called through a cell the loader binds,
//!   `codegen::library`), `exp`, `sinh`, `cosh`, `log`, `asin` and `acos`
//!   have inline ones on AVX-512 hosts that serve every lane, and the last
//!   partial block uses masked loads and stores, so every point goes
//!   through the same vector code. Comparisons and selections are
//!   branch-free (`fcmp` + `select`). For tapes of up to 32 operations the
//!   main loop computes two independent vectors per iteration (interleaved,
//!   so their dependency chains overlap), and the one-vector loop finishes
//!   the remaining points.
//!   LLVM's own loop/SLP vectorizers are off (nothing left for them to do).
//!   Tapes with more than 16 outputs run in blocks of up to 64 points
//!   instead: each *distinct* output register is stored to a small staging
//!   buffer (constants once per call), and a loop over the outputs copies
//!   each output's run of points to its column. This keeps the code size
//!   and compile time independent of repeated outputs (a Jacobian's zeros)
//!   and writes every column in contiguous runs instead of touching all `m`
//!   columns at every vector step. Results are the same bits.
//!
//! Tapes over 1,500 operations are split into segments of 500, each a
//! separate function passing live values through a scratch array (on the
//! stack up to 64 KiB, else `malloc`ed once per call). They are compiled for
//! compile speed whatever `opt_level` says: fast instruction
//! selection, no machine-level optimization (about 40 us per operation, 0.8 s
//! CPU for a 20k-node DAG, against 6.4 s at full level). Such code is bound
//! by the scratch array and libm calls, and measured as fast as full-level
//! code (within noise at 6k and 27k operations).
//!
//! # Semantics and tolerances (vs. `alkahest_interp::Interpreter`)
//! Without `fast_math` no fast-math flag is set: NaN, infinities and signed
//! zeros keep their IEEE meaning, and `a*b + c` is never contracted to an FMA
//! (only `Op::Fma` is fused, through `llvm.fma`). `Min`/`Max` are
//! `llvm.minimum`/`llvm.maximum`: NaN-propagating with `-0 < +0`, exactly the
//! tape's semantics.
//! * **Scalar entry** ([`Evaluator::eval`]): bit-identical to the interpreter.
//!   Arithmetic is the same IEEE operations in the same order; every function
//!   is the same libm call the interpreter makes (`lgamma` as `lgamma_r`,
//!   like the interpreter; `sqrt`, `fabs`, `floor`, `ceil`, `copysign`,
//!   min/max are exact instructions): each JIT binds the libm names to the
//!   very functions this binary links, which are not always glibc's (in Rust
//!   binaries `cbrt` and `fmod` come from compiler-builtins). LLVM may
//!   constant-fold a call, with the same libm, or apply exact identities
//!   such as `pow(x, 2) = x*x`. Comparisons are
//!   ordered `fcmp` (false with a NaN operand) except `!=`, which is
//!   unordered (true with a NaN), giving exactly 1.0 or 0.0; a selection
//!   takes its first branch where the condition is `une 0.0` (NaN included).
//! * **Bulk entry** ([`Evaluator::eval_columns`]): arithmetic, comparisons,
//!   selections, `sqrt`, `abs`, `floor`, `ceil`, `copysign`, `min`, `max`,
//!   `fma`, and the lane-by-lane `tgamma`, `lgamma`, `fmod` are
//!   bit-identical. The functions that go to libmvec are accurate to 4 ulp
//!   by glibc's documentation (libm: under 1 ulp); measured here: at most 3
//!   ulp from libm's result over dense sweeps. That
//!   difference propagates through the rest of the expression like any
//!   input perturbation (the tests bound it by first-order propagation).
//!   Special values (NaN, ±inf, ±0, subnormals) give the same results as
//!   libm. Hosts without libmvec (non-glibc, non-x86-64) call libm lane by
//!   lane: bit-identical, slower. Near a domain edge the few ulps can
//!   matter: `acosh` of a value libmvec's `cos` rounds just below 1 is NaN
//!   where libm's `cos` gave exactly 1.
//! * **`exact_math`**: the bulk loop calls every function lane by lane
//!   through the same scalar libm routine as the scalar entry (no libmvec
//!   symbol is referenced), while arithmetic, comparisons, selections and
//!   the exact intrinsics stay on vectors (they are correctly rounded in
//!   SIMD too). Results are bit-identical to the scalar entry and the
//!   interpreter at every point, including the last partial block. LLVM's
//!   own vectorizers are not run, so nothing turns the lane-by-lane calls
//!   back into vector calls. Call-bound tapes ([`Tape::call_bound`]) use
//!   at most 4 lanes in this mode: their time is the scalar calls, which
//!   ran ~25% faster between 4-lane vectors than between AVX-512 ones.
//!   Cost on an AVX-512 Xeon: the mixed formula 45-49 ns/point
//!   against 11-13 with libmvec, about the scalar routines' own cost
//!   (Cranelift, which calls them per point, 47-50).
//! * **`fast_math`**: every FP instruction and call gets all fast-math flags
//!   (`reassoc nnan ninf nsz arcp contract afn`): LLVM may reassociate,
//!   contract to FMA and assume no NaN/inf. Results are close for finite,
//!   well-conditioned inputs, but NaN/inf inputs have no defined result.
//!
//! # Process-wide effects
//! The first compile initializes LLVM's native target and `dlopen`s
//! `libm.so.6` and `libmvec.so.1` with `RTLD_GLOBAL` (once, thread-safe).
//! Each JIT instance defines the scalar libm names it may call (`sin`,
//! `cbrt`, `lgamma_r`, ...) as absolute symbols at this binary's own
//! addresses for them, and finds everything else (libmvec, `malloc`) in the
//! process. No LLVM command-line option is set, so nothing clashes with
//! other LLVM users in the process (e.g. a statically linked MLIR).
//!
//! [`Tape`]: alkahest_tape::Tape
//! [`Tape::call_bound`]: alkahest_tape::Tape::call_bound
//! [`Evaluator::eval`]: alkahest_tape::Evaluator::eval
//! [`Evaluator::eval_columns`]: alkahest_tape::Evaluator::eval_columns

mod codegen;
mod error;
mod host;
mod jit;
mod libm;

use alkahest_tape::Tape;

pub use error::{Error, Result};
pub use jit::LlvmFn;

/// How far the batch loop's own vector `lgamma` may be from the true value,
/// in units in the last place, for `0 < x < 1e300` (the lanes it computes;
/// others go through libm's `lgamma_r`): the largest distance measured
/// against mpmath was 2.94 (`tests/test_language.py` asserts this bound on
/// dense samples). glibc's scalar `lgamma` is documented within 4.
pub const LGAMMA_ULPS: u64 = 4;

/// How far the batch loop's own vector `pow` may be from the true value, in
/// units in the last place, where it computes (positive normal `x`, finite
/// `y`, `|y log x| <= 708`; other lanes go through libm's `pow`): the
/// largest distance measured against mpmath was 0.525 with the tables of
/// AVX-512 hosts and 0.58 without (`tests/test_language.py` asserts this
/// bound), libm's own 0.50.
pub const POW_ULPS: f64 = 1.0;

/// How far the batch loop's own vector `tanh` (`expm1(2|x|)` over itself
/// plus 2, `expm1` inline) may be from the true value, in units in the last
/// place: the largest distance measured against mpmath was 2.35
/// (`tests/test_language.py` asserts this bound).
pub const TANH_ULPS: f64 = 3.0;

/// How far the batch loop's own vector `exp` (where the host has AVX-512;
/// elsewhere libmvec's) may be from the true value, in units in the last
/// place: the largest distance measured was 0.60 for normal results and 1.0
/// for subnormal ones, which round twice (`tests/test_language.py` asserts
/// this bound against mpmath).
pub const EXP_ULPS: f64 = 1.0;

/// How far the batch loop's own vector `log` (where the host has AVX-512;
/// elsewhere libmvec's) may be from the true value, in units in the last
/// place: the largest distance measured was 0.534, on 1M points per range
/// against `logl` (libmvec's 1.5; `tests/test_language.py` asserts this
/// bound against mpmath).
pub const LOG_ULPS: f64 = 0.6;

/// How far the batch loop's own vector `asin` and `acos` (where the host has
/// AVX-512; elsewhere libmvec's) may be from the true value, in units in
/// the last place: the largest distances measured were 1.58 and 1.34
/// against mpmath (libmvec's `asin` 2.48; `tests/test_language.py` asserts
/// this bound against mpmath).
pub const ASIN_ULPS: f64 = 2.0;

/// How far the batch loop's own vector `sinh` and `cosh` (built from the
/// own `exp`, where the host has AVX-512) may be from the true value, in
/// units in the last place: the largest distances measured were 1.38 and
/// 1.02 (`tests/test_language.py` asserts this bound against mpmath).
pub const HYPERBOLIC_ULPS: f64 = 1.5;

/// How to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LlvmOptions {
    /// Allow all fast-math transformations (reassociation, FMA contraction,
    /// no NaN/inf): faster, not bit-reproducible. Default `false`.
    pub fast_math: bool,
    /// LLVM code-generation optimization level, 0..=3, for tapes up to
    /// 1,500 operations; larger ones are always compiled for speed (see the
    /// crate docs). The bulk loop is vectorized at every level. Level 0
    /// compiles 3-4x faster; its code is within ~10% of level 3's where
    /// math-library calls dominate and ~1.7x slower on pure arithmetic
    /// (fast register allocation spills). Default 3.
    pub opt_level: u8,
    /// The bulk loop calls the same scalar libm routines as the scalar
    /// entry (lane by lane) instead of libmvec's vector variants, so its
    /// results are bit-identical to the scalar entry's and the
    /// interpreter's (without `fast_math`). Arithmetic stays vectorized.
    /// Costs the speed of the vector routines on call-heavy tapes (see the
    /// crate docs). Default `false`.
    pub exact_math: bool,
    /// The own vector routines (`pow`, `fmod`, `lgamma`, `tgamma`) come
    /// from the process's routine library, built once and shared (default
    /// `true`); `false` puts them in the object itself, as for a disk
    /// cache: loading such an object generates no code (a fresh process
    /// would otherwise build the routines it calls: 1.3 -> 5.6 ms for a
    /// cached `x**y + sin(x)`). The same bits either way.
    pub routine_library: bool,
}

impl Default for LlvmOptions {
    fn default() -> Self {
        LlvmOptions {
            fast_math: false,
            opt_level: 3,
            exact_math: false,
            routine_library: true,
        }
    }
}

impl LlvmOptions {
    fn check(&self) -> Result<()> {
        if self.opt_level > 3 {
            return Err(Error::InvalidOption(format!(
                "opt_level {} is not in 0..=3",
                self.opt_level
            )));
        }
        Ok(())
    }
}

/// Compile `tape` to native code for this machine.
///
/// Thread-safe: any number of threads may compile at once. Cost is
/// dominated by LLVM's code generator: a fixed ~8 ms (its pass setup) plus
/// roughly 0.1 ms per operation at `opt_level` 3 up to 1,500 operations,
/// about 0.02-0.04 ms per operation beyond (see the crate docs).
pub fn compile(tape: &Tape, opts: &LlvmOptions) -> Result<LlvmFn> {
    Ok(compile_keeping_object(tape, opts)?.0)
}

/// [`compile`], also returning the object file it linked (what
/// [`emit_object`] gives), e.g. for a disk cache: one code generation.
pub fn compile_keeping_object(tape: &Tape, opts: &LlvmOptions) -> Result<(LlvmFn, Vec<u8>)> {
    opts.check()?;
    let host = host::host()?;
    let object = codegen::object(tape, opts, host)?;
    let f = LlvmFn::load(
        &object,
        host,
        Some((tape.n_inputs(), tape.n_outputs())),
        opts.opt_level,
    )?;
    Ok((f, object))
}

/// Compile `tape` to a relocatable object file (ELF on Linux) defining
/// `alkahest_eval_scalar`, `alkahest_eval_bulk`, `alkahest_n_inputs`,
/// `alkahest_n_outputs` and `alkahest_target`. It is specific to this host's CPU and to this crate's
/// LLVM: use it as an on-disk cache entry and link it with [`load_object`].
pub fn emit_object(tape: &Tape, opts: &LlvmOptions) -> Result<Vec<u8>> {
    opts.check()?;
    codegen::object(tape, opts, host::host()?)
}

/// Link an object file from [`emit_object`] into a new [`LlvmFn`].
///
/// Objects from another CPU, LLVM build, math library or object format are
/// rejected with [`Error::IncompatibleObject`] (the object carries the host
/// fingerprint). The input and output counts come from the object itself.
///
/// # Safety
/// Loading runs no code, but calling the result executes the object's
/// machine code: `bytes` must come from [`emit_object`] (e.g. a cache file
/// this process family wrote), never from an untrusted source.
pub unsafe fn load_object(bytes: &[u8]) -> Result<LlvmFn> {
    LlvmFn::load(bytes, host::host()?, None, 0)
}

/// The optimized LLVM IR for `tape`, as text (diagnostics and tests, e.g.
/// checking that the bulk loop vectorized).
pub fn optimized_ir(tape: &Tape, opts: &LlvmOptions) -> Result<String> {
    opts.check()?;
    codegen::text(tape, opts, host::host()?, false)
}

/// Whether the bulk loop on this host computes `exp`, `sinh`, `cosh`, `asin`
/// and `acos` with the crate's own inline vector routines (AVX-512 F and VL,
/// 4 or 8 lanes) rather than libmvec's (diagnostics and tests).
pub fn own_vector_exp() -> Result<bool> {
    Ok(host::host()?.own_exp)
}

/// Whether vector divisions that share a denominator go through its
/// reciprocal on this host (the codegen `division` module; diagnostics and
/// tests).
pub fn shared_vector_division() -> Result<bool> {
    Ok(host::host()?.slow_vector_division())
}

/// Vector registers the generated code may use on this host (16 on x86-64
/// without AVX-512, else 32), which decides where `tanh` goes inline
/// (diagnostics and tests).
pub fn vector_registers() -> Result<u32> {
    Ok(host::host()?.vector_registers())
}

/// Whether the bulk loops on this host stream large outputs with
/// non-temporal stores (x86-64 with AVX-512; diagnostics and tests).
pub fn streaming_stores() -> Result<bool> {
    Ok(host::host()?.streaming_stores())
}

/// Whether the bulk loop on this host computes `log` with the crate's own
/// inline vector routine (AVX-512 F and VL, a loop of 4 or 8 lanes) rather
/// than libmvec's (diagnostics and tests).
pub fn own_vector_log() -> Result<bool> {
    let host = host::host()?;
    Ok(host.own_exp && matches!(host.lanes, 4 | 8))
}

/// The routine library (`pow`, `fmod`, `lgamma`, `tgamma` at one width
/// each): how many routines this process has built, and how many of those
/// still run their first, cheapest build (diagnostics and tests). Each is
/// built once, on first use, and shared by every compiled function after.
pub fn library_routines() -> (usize, usize) {
    codegen::library::counts()
}

/// Build one routine of the library that still runs its first build again
/// at full code-generation level and swap it in (the results are the same
/// bits); `Ok(false)` when there is none. The compile crate runs this on a
/// background thread after its builds.
pub fn upgrade_library() -> Result<bool> {
    codegen::library::upgrade(host::host()?)
}

/// The IR of the routine library's function that `tape`'s module calls
/// for `routine` (`"pow"`, `"fmod"`, `"lgamma"`, `"tgamma"`) on vectors of
/// the bulk loop's width, as text (diagnostics and tests).
pub fn emit_library_ir(tape: &Tape, opts: &LlvmOptions, routine: &str) -> Result<String> {
    let ir = optimized_ir(tape, opts)?;
    let prefix = format!("@{}{routine}_x", codegen::library::PREFIX);
    let at = ir
        .find(&prefix)
        .ok_or_else(|| Error::Codegen(format!("the module calls no library {routine}")))?;
    let name: String = ir[at + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    codegen::library::text(&name, host::host()?)
}

/// The host assembly for `tape`, as text (diagnostics and tests).
pub fn emit_asm(tape: &Tape, opts: &LlvmOptions) -> Result<String> {
    opts.check()?;
    codegen::text(tape, opts, host::host()?, true)
}
