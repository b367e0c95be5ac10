//! Tape -> LLVM IR -> optimized module -> machine code.
//!
//! The module holds two entry points computing the same tape, writing all
//! of its `m` outputs:
//!
//! * `void alkahest_eval_scalar(const double *inputs, double *out)`: one
//!   point, on scalar doubles with scalar libm calls; writes `out[0..m]`;
//! * `void alkahest_eval_bulk(const double *const *cols, uint64_t n_vars,
//!   double *const *outs, uint64_t n_points)`: a loop over blocks of `lanes`
//!   points (4 with AVX) written directly on SIMD vectors; output `k` at
//!   point `i` goes to `outs[k][i]`. Transcendental functions call glibc
//!   libmvec's vector variants (`_ZGVdN4v_sin`, ...) by name where the
//!   process has them and call libm lane by lane otherwise (always, with
//!   `exact_math`); the last
//!   partial block uses masked loads and stores, so every point takes the
//!   same operations. Small tapes get a main loop over two vectors per
//!   iteration before it (see `Plan::unroll`).
//!
//! All outputs come from one pass over the tape, so shared subexpressions
//! are computed once per point. Comparisons are `fcmp` + `select` of 1.0 /
//! 0.0 and selections `fcmp une` + `select`: branch-free on scalars and
//! vectors alike.
//!
//! Because the code is vectorized by construction, LLVM's loop and SLP
//! vectorizers are switched off: they would only cost compile time (on large
//! tapes they dominated it). Tapes longer than [`SEGMENT_THRESHOLD`](plan::SEGMENT_THRESHOLD)
//! operations are split into segments of [`SEGMENT_OPS`](plan::SEGMENT_OPS) operations, each its
//! own non-inlined function exchanging live values through a scratch array,
//! so compile time stays linear in the tape length. No module goes through
//! LLVM's IR pass pipeline (the IR is emitted optimized: value-numbered and
//! vectorized). Segmented modules are compiled with fast instruction
//! selection and no machine-level optimization (see
//! `machine::tape_machine`): for them compile time, not code quality, is
//! what matters, and their vector constants are loads from constant globals
//! so that fast selection handles every operation.
//!
//! Three constants make an object file self-describing: `alkahest_n_inputs`
//! and `alkahest_n_outputs` (i64) and `alkahest_target` (the host
//! fingerprint, NUL-terminated).
//!
//! The code is laid out by idea:
//! * `plan`: the decisions about a tape's values: segmentation, scratch
//!   slots, where the scratch array lives, and bulk-loop unrolling;
//! * `ops`: one tape operation (and its functions) on scalars or vectors;
//!   `division`: vector divisions that share a denominator;
//! * `body`: the tape's body for one point or vector of points: segments,
//!   the scratch array, column tables;
//! * `scalar` and `bulk`: the two entry points (`staged`: the bulk entry
//!   for tapes with many outputs, in blocks of points through a buffer;
//!   `grouped`: for many outputs that each need few inputs, one small loop
//!   per group of outputs);
//! * `machine`: the host target machines, cached per thread;
//! * here: the emission state, the module's symbols and globals, and the
//!   drivers that turn a tape into a module, an object file or text.

mod asin;
mod body;
mod bulk;
mod division;
mod exp;
mod fmod;
mod gamma;
mod grouped;
mod hyperbolic;
pub(crate) mod library;
mod log;
mod machine;
mod ops;
mod plan;
mod pow;
mod pow_tables;
mod routine;
mod scalar;
mod staged;
mod tanh;

use std::collections::HashMap;

use alkahest_tape::{Tape, UnaryFn};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::targets::{FileType, TargetMachine};
use inkwell::types::{FloatType, VectorType};
use inkwell::values::{BasicValueEnum, FastMathFlags, FunctionValue, PointerValue};

use crate::LlvmOptions;
use crate::error::{Error, Result};
use crate::host::Host;
use machine::tape_machine;
use plan::Plan;

/// Symbol of the one-point entry.
pub(crate) const SCALAR_SYMBOL: &str = "alkahest_eval_scalar";
/// Symbol of the column-major bulk entry.
pub(crate) const BULK_SYMBOL: &str = "alkahest_eval_bulk";
/// Symbol of the `i64` input count.
pub(crate) const N_INPUTS_SYMBOL: &str = "alkahest_n_inputs";
/// Symbol of the `i64` output count.
pub(crate) const N_OUTPUTS_SYMBOL: &str = "alkahest_n_outputs";
/// Symbol of the NUL-terminated host fingerprint.
pub(crate) const TARGET_SYMBOL: &str = "alkahest_target";

/// The value type code is emitted for: scalar `double` or `<lanes x double>`.
#[derive(Clone, Copy)]
enum Lanes<'ctx> {
    Scalar,
    Vector(VectorType<'ctx>, u32),
}

/// Where a segment finds values defined before it.
enum Source<'a, 'ctx> {
    /// One segment: the entry's input values.
    Inputs(&'a [BasicValueEnum<'ctx>]),
    /// Several: the scratch array.
    Scratch(PointerValue<'ctx>),
}

/// IR emission state for one module.
struct Gen<'ctx, 'm> {
    ctx: &'ctx Context,
    module: &'m Module<'ctx>,
    b: Builder<'ctx>,
    f64t: FloatType<'ctx>,
    fmf: FastMathFlags,
    host: &'static Host,
    /// Vector code calls libm lane by lane, never libmvec
    /// ([`LlvmOptions::exact_math`]).
    exact_math: bool,
    /// Doubles per vector of the bulk loop (see [`bulk_lanes`]).
    lanes: u32,
    plan: Plan,
    /// Declared functions by name.
    fns: HashMap<String, FunctionValue<'ctx>>,
    /// Emit IR that fast instruction selection handles whole.
    fast_isel: bool,
    /// Vector constant globals by the constant's bits (`fast_isel` only).
    const_globals: HashMap<u64, inkwell::values::GlobalValue<'ctx>>,
    /// The `int` that `lgamma_r` writes its sign to, in the entry block of
    /// the function being emitted (made on first use).
    sign_slot: Option<(FunctionValue<'ctx>, PointerValue<'ctx>)>,
    /// The inline vector `exp` goes into the loop itself rather than into
    /// a function of its own ([`exp::inline_routine`]).
    inline_exp: bool,
    /// The same for the vector `log`.
    inline_log: bool,
    /// The same for the vector `asin` and `acos`.
    inline_asin: bool,
    /// The same for the vector `tanh` ([`tanh::inline_tanh`]).
    inline_tanh: bool,
    /// Own routines are calls into the process's routine library (the
    /// `library` module) rather than functions of this module: a tape's
    /// module unless [`LlvmOptions::routine_library`] is off; never the
    /// library's own.
    library: bool,
    /// The library cells this module calls through, by symbol.
    cells: HashMap<String, inkwell::values::GlobalValue<'ctx>>,
}

fn cg<T>(r: std::result::Result<T, inkwell::builder::BuilderError>) -> Result<T> {
    r.map_err(|e| Error::Codegen(e.to_string()))
}

/// The value a built call returns (every call this crate builds returns
/// one).
fn returned(
    call: std::result::Result<inkwell::values::CallSiteValue<'_>, inkwell::builder::BuilderError>,
) -> Result<BasicValueEnum<'_>> {
    match cg(call)?.try_as_basic_value() {
        inkwell::values::ValueKind::Basic(v) => Ok(v),
        inkwell::values::ValueKind::Instruction(_) => {
            Err(Error::Codegen("call returned no value".into()))
        }
    }
}

fn mismatch<T>() -> Result<T> {
    Err(Error::Codegen("operand type mismatch".into()))
}

impl<'ctx> Gen<'ctx, '_> {
    /// `alkahest_n_inputs`, `alkahest_n_outputs` and `alkahest_target`.
    fn globals(&self, tape: &Tape) {
        let i64t = self.ctx.i64_type();
        for (name, count) in [
            (N_INPUTS_SYMBOL, tape.n_inputs()),
            (N_OUTPUTS_SYMBOL, tape.n_outputs()),
        ] {
            let g = self.module.add_global(i64t, None, name);
            g.set_initializer(&i64t.const_int(count as u64, false));
            g.set_constant(true);
        }
        let fp = self.host.fingerprint();
        let s = self.ctx.const_string(fp.as_bytes(), true);
        let g = self.module.add_global(s.get_type(), None, TARGET_SYMBOL);
        g.set_initializer(&s);
        g.set_constant(true);
    }
}

/// Widest vector for a call-bound tape under `exact_math`: 4 doubles.
const EXACT_CALL_BOUND_LANES: u32 = 4;

/// The bulk loop's vector width: the host's, except that a call-bound tape
/// under `exact_math` gets at most [`EXACT_CALL_BOUND_LANES`]. Its time is
/// the scalar libm calls, each preceded by a `vzeroupper` and followed by
/// reloading the live vectors; with 8 lanes the mixed formula ran
/// ~25% slower than with 4 (60-64 vs 45-49 ns/point on an AVX-512 Xeon,
/// `benches/bench_exact_math.py`), and no tape measured ran faster.
/// Arithmetic-dominated tapes keep the full width.
fn bulk_lanes(tape: &Tape, opts: &LlvmOptions, host: &Host) -> u32 {
    if opts.exact_math && tape.call_bound() {
        host.lanes.min(EXACT_CALL_BOUND_LANES)
    } else {
        host.lanes
    }
}

/// Build, verify and optimize the module for `tape`.
pub(crate) fn optimized_module<'ctx>(
    ctx: &'ctx Context,
    tape: &Tape,
    opts: &LlvmOptions,
    host: &'static Host,
    tm: &TargetMachine,
) -> Result<Module<'ctx>> {
    let module = ctx.create_module("alkahest");
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    let fmf = if opts.fast_math {
        FastMathFlags::all()
    } else {
        FastMathFlags::empty()
    };
    let plan = Plan::new(tape);
    let segmented = plan.segmented();
    let mut g = Gen {
        ctx,
        module: &module,
        b: ctx.create_builder(),
        f64t: ctx.f64_type(),
        fmf,
        host,
        exact_math: opts.exact_math,
        lanes: bulk_lanes(tape, opts, host),
        plan,
        fns: HashMap::new(),
        fast_isel: segmented,
        const_globals: HashMap::new(),
        sign_slot: None,
        inline_exp: exp::inline_routine(tape, segmented, &exp::EXP_FAMILY),
        inline_log: exp::inline_routine(tape, segmented, &[UnaryFn::Log]),
        inline_asin: exp::inline_routine(tape, segmented, &[UnaryFn::Asin, UnaryFn::Acos]),
        inline_tanh: tanh::inline_tanh(segmented, opts.opt_level, host),
        library: opts.routine_library,
        cells: HashMap::new(),
    };
    g.scalar_entry(tape)?;
    g.bulk_entry(tape)?;
    g.globals(tape);
    drop(g);
    module.verify().map_err(|e| Error::Verify(e.to_string()))?;

    // No IR pass pipeline: the kernel already value-numbered the tape and
    // the bulk loop is written on vectors with libmvec calls, so there is
    // nothing left for LLVM's IR optimizer to find. On the four benchmark
    // expressions and on random DAGs of 10-1,000 nodes `default<O3>` made
    // the code no faster (within 3%) and cost half of each compile (19-24 ->
    // 9-11.5 ms on the small expressions). Segmented tapes also rely on this:
    // instcombine would fold the constant loads fast selection needs back
    // into constants. Machine-level optimization still follows `opt_level`.
    Ok(module)
}

/// Compile `tape` to a relocatable object file for the host.
pub(crate) fn object(tape: &Tape, opts: &LlvmOptions, host: &'static Host) -> Result<Vec<u8>> {
    let tm = tape_machine(tape, opts, host)?;
    let ctx = Context::create();
    let module = optimized_module(&ctx, tape, opts, host, &tm)?;
    let buf = tm
        .write_to_memory_buffer(&module, FileType::Object)
        .map_err(|e| Error::Codegen(e.to_string()))?;
    Ok(buf.as_slice().to_vec())
}

/// Optimized IR or assembly text (diagnostics and tests).
pub(crate) fn text(
    tape: &Tape,
    opts: &LlvmOptions,
    host: &'static Host,
    asm: bool,
) -> Result<String> {
    let tm = tape_machine(tape, opts, host)?;
    let ctx = Context::create();
    let module = optimized_module(&ctx, tape, opts, host, &tm)?;
    if !asm {
        return Ok(module.print_to_string().to_string());
    }
    let buf = tm
        .write_to_memory_buffer(&module, FileType::Assembly)
        .map_err(|e| Error::Codegen(e.to_string()))?;
    Ok(String::from_utf8_lossy(buf.as_slice()).into_owned())
}
