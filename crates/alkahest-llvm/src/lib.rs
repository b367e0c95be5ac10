//! LLVM JIT backend: compiles a [`Tape`] to host machine code.
//!
//! Pipeline: tape -> LLVM IR (two entry points sharing one body) -> the new
//! pass manager's `default<O3>` pipeline for the **host** CPU (name and
//! features, not a fixed baseline) -> an object file -> linked by an ORC
//! `LLJIT` owned by the returned [`LlvmFn`]. The same object bytes can be
//! stored ([`emit_object`]) and linked again later ([`load_object`]).
//!
//! # Entry points (C ABI)
//! * `double alkahest_eval(const double *inputs)`: one point.
//! * `void alkahest_eval_bulk(const double *const *cols, uint64_t n_vars,
//!   double *out, uint64_t n_points)`: `cols[v]` is variable `v`'s column;
//!   writes `out[0..n_points]`. A plain counted loop, which LLVM's loop
//!   vectorizer turns into SIMD code. Transcendental calls vectorize too:
//!   LLVM's `-vector-library=LIBMVEC-X86` maps `sin`, `cos`, `tan`, `exp`,
//!   `log`, `pow` to glibc libmvec (`_ZGVdN4v_sin`, ...), and this crate names
//!   libmvec's variants of `asin`, `acos`, `atan`, `sinh`, `cosh`, `tanh`,
//!   `log1p`, `expm1`, `atan2`, `hypot` itself (glibc >= 2.35).
//!
//! # Semantics and tolerances (vs. `alkahest_interp::Interpreter`)
//! Without `fast_math` no fast-math flag is set: NaN, infinities and signed
//! zeros keep their IEEE meaning, and `a*b + c` is never contracted to an FMA
//! (only `Op::Fma` is fused, through `llvm.fma`). `Min`/`Max` are
//! `llvm.minimum`/`llvm.maximum`: NaN-propagating with `-0 < +0`, exactly the
//! tape's semantics.
//! * **Scalar entry** ([`Evaluator::eval`]): bit-identical to the interpreter.
//!   Arithmetic is the same IEEE operations in the same order; every function
//!   is the same glibc libm call (LLVM may constant-fold a call, with the same
//!   libm, or apply exact identities such as `sin(-x) = -sin(x)`).
//! * **Bulk entry** ([`Evaluator::eval_columns`]): arithmetic, `sqrt`, `abs`,
//!   `min`, `max`, `fma` are bit-identical. Calls that vectorize go to
//!   libmvec, which glibc documents as accurate to 4 ulp (libm: ~1 ulp), so
//!   each such call may differ from the interpreter by a few ulp and that
//!   difference propagates through the rest of the expression like any input
//!   perturbation. Loop remainders (`n % vector width` points) use scalar
//!   libm. Hosts without libmvec (non-glibc, non-x86-64) get scalar calls:
//!   bit-identical, slower.
//! * **`fast_math`**: every FP instruction and call gets all fast-math flags
//!   (`reassoc nnan ninf nsz arcp contract afn`): LLVM may reassociate,
//!   contract to FMA and assume no NaN/inf. Results are close for finite,
//!   well-conditioned inputs, but NaN/inf inputs have no defined result.
//!
//! # Process-wide effects
//! The first compile initializes LLVM's native target, `dlopen`s `libm.so.6`
//! and `libmvec.so.1` with `RTLD_GLOBAL`, and sets LLVM's global option
//! `-vector-library=LIBMVEC-X86` (LLVM's option parser exits the process if an
//! option is given twice, so no other code in the process may set it).
//!
//! [`Tape`]: alkahest_kernel::Tape
//! [`Evaluator::eval`]: alkahest_kernel::Evaluator::eval
//! [`Evaluator::eval_columns`]: alkahest_kernel::Evaluator::eval_columns

mod codegen;
mod error;
mod host;
mod jit;

use alkahest_kernel::Tape;

pub use error::{Error, Result};
pub use jit::LlvmFn;

/// How to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LlvmOptions {
    /// Allow all fast-math transformations (reassociation, FMA contraction,
    /// no NaN/inf): faster, not bit-reproducible. Default `false`.
    pub fast_math: bool,
    /// LLVM optimization level, 0..=3 (`default<On>` pipeline and codegen
    /// level). Vectorization needs 2 or more. Default 3.
    pub opt_level: u8,
}

impl Default for LlvmOptions {
    fn default() -> Self {
        LlvmOptions {
            fast_math: false,
            opt_level: 3,
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
/// dominated by LLVM's optimizer and grows roughly linearly with the tape.
pub fn compile(tape: &Tape, opts: &LlvmOptions) -> Result<LlvmFn> {
    opts.check()?;
    let host = host::host()?;
    let object = codegen::object(tape, opts, host)?;
    LlvmFn::load(&object, host, Some(tape.n_inputs))
}

/// Compile `tape` to a relocatable object file (ELF on Linux) defining
/// `alkahest_eval`, `alkahest_eval_bulk`, `alkahest_n_inputs` and
/// `alkahest_target`. It is specific to this host's CPU and to this crate's
/// LLVM: use it as an on-disk cache entry and link it with [`load_object`].
pub fn emit_object(tape: &Tape, opts: &LlvmOptions) -> Result<Vec<u8>> {
    opts.check()?;
    codegen::object(tape, opts, host::host()?)
}

/// Link an object file from [`emit_object`] into a new [`LlvmFn`].
///
/// Objects from another CPU, LLVM build or crate version are rejected with
/// [`Error::IncompatibleObject`] (the object carries the host fingerprint).
///
/// # Safety
/// Loading runs no code, but calling the result executes the object's
/// machine code: `bytes` must come from [`emit_object`] (e.g. a cache file
/// this process family wrote), never from an untrusted source.
pub unsafe fn load_object(bytes: &[u8]) -> Result<LlvmFn> {
    LlvmFn::load(bytes, host::host()?, None)
}

/// The optimized LLVM IR for `tape`, as text (diagnostics and tests, e.g.
/// checking that the bulk loop vectorized).
pub fn optimized_ir(tape: &Tape, opts: &LlvmOptions) -> Result<String> {
    opts.check()?;
    codegen::text(tape, opts, host::host()?, false)
}

/// The host assembly for `tape`, as text (diagnostics and tests).
pub fn emit_asm(tape: &Tape, opts: &LlvmOptions) -> Result<String> {
    opts.check()?;
    codegen::text(tape, opts, host::host()?, true)
}
