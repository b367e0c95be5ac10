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
//!   process has them and call libm lane by lane otherwise; the last
//!   partial block uses masked loads and stores, so every point takes the
//!   same operations. Small tapes get a main loop over two vectors per
//!   iteration before it (see `Gen::unroll`).
//!
//! All outputs come from one pass over the tape, so shared subexpressions
//! are computed once per point. Comparisons are `fcmp` + `select` of 1.0 /
//! 0.0 and selections `fcmp une` + `select`: branch-free on scalars and
//! vectors alike.
//!
//! Because the code is vectorized by construction, LLVM's loop and SLP
//! vectorizers are switched off: they would only cost compile time (on large
//! tapes they dominated it). Tapes longer than [`SEGMENT_THRESHOLD`]
//! operations are split into segments of [`SEGMENT_OPS`] operations, each its
//! own non-inlined function exchanging live values through a scratch array,
//! so compile time stays linear in the tape length. No module goes through
//! LLVM's IR pass pipeline (the IR is emitted optimized: value-numbered and
//! vectorized). Segmented modules are compiled with fast instruction
//! selection and no machine-level optimization (see `tape_machine`): for them compile time,
//! not code quality, is what matters, and their vector constants are loads
//! from constant globals so that fast selection handles every operation.
//!
//! Three constants make an object file self-describing: `alkahest_n_inputs`
//! and `alkahest_n_outputs` (i64) and `alkahest_target` (the host
//! fingerprint, NUL-terminated).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use alkahest_kernel::{BinaryFn, CmpOp, Op, Tape, UnaryFn};
use inkwell::AddressSpace;
use inkwell::OptimizationLevel;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{Linkage, Module};
use inkwell::targets::{CodeModel, FileType, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum, FloatType, VectorType};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, FastMathFlags, FunctionValue, IntValue,
    PointerValue, ValueKind,
};
use inkwell::{FloatPredicate, IntPredicate};

use crate::LlvmOptions;
use crate::error::{Error, Result};
use crate::host::Host;

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

/// Tapes with more compute operations than this are split into segments.
pub(crate) const SEGMENT_THRESHOLD: usize = 1500;
/// Compute operations per segment.
pub(crate) const SEGMENT_OPS: usize = 500;
/// Most vectors per iteration of the bulk loop (see `Gen::unroll`). Two,
/// measured on Zen 1 (256-bit operations split in two): 4 was no faster on a
/// dense degree-10 polynomial and slower on a Horner chain, where the
/// register-pressure scheduler serializes four chains again.
pub(crate) const MAX_UNROLL: u32 = 2;
/// Tape operations the unrolled bulk body may hold in all: only small tapes
/// are unrolled (up to 32 operations with two copies). Larger bodies have
/// independent work of their own, and the extra copy costs code-generation
/// time (measured +55% at ~120 operations, when `default<O3>` still ran).
const UNROLL_BUDGET: usize = 64;
/// Scratch arrays up to this size live on the stack, larger ones on the heap.
const MAX_STACK_SCRATCH: u64 = 64 * 1024;
/// Marks a register that needs no scratch slot.
const NO_SLOT: u32 = u32::MAX;

/// How a tape function is computed.
#[derive(Clone, Copy)]
enum Kind {
    /// An exact LLVM intrinsic, on scalars and vectors alike.
    Exact(&'static str),
    /// A libm function (its C name): scalar code calls the intrinsic if
    /// there is one (`llvm.sin` lowers to `sin`) or else libm; vector code
    /// calls the libmvec variant if the process has it, else libm lane by
    /// lane.
    Libm(&'static str, Option<&'static str>),
    /// `lgamma` as `lgamma_r(x, &sign)` with a stack slot for the sign: the
    /// same value without C `lgamma`'s write to the global `signgam`, a data
    /// race when threads share a function (the interpreter does the same).
    /// glibc has no vector variant: vector code goes lane by lane.
    Lgamma,
}

/// Functions that are not a plain libm call by their table name: exact
/// instructions, and the scalar intrinsics that lower to the very same libm
/// call. Everything else is `Kind::Libm(c_name, None)`.
fn unary_kind(f: UnaryFn) -> Kind {
    match f {
        UnaryFn::Sqrt => Kind::Exact("llvm.sqrt"),
        UnaryFn::Abs => Kind::Exact("llvm.fabs"),
        UnaryFn::Floor => Kind::Exact("llvm.floor"),
        UnaryFn::Ceil => Kind::Exact("llvm.ceil"),
        UnaryFn::Lgamma => Kind::Lgamma,
        // Not `llvm.exp2` / `llvm.log2` / `llvm.log10`: the libm call by
        // name is what the interpreter computes, bit for bit.
        UnaryFn::Sin => Kind::Libm(f.c_name(), Some("llvm.sin")),
        UnaryFn::Cos => Kind::Libm(f.c_name(), Some("llvm.cos")),
        UnaryFn::Exp => Kind::Libm(f.c_name(), Some("llvm.exp")),
        UnaryFn::Log => Kind::Libm(f.c_name(), Some("llvm.log")),
        _ => Kind::Libm(f.c_name(), None),
    }
}

/// As [`unary_kind`], for binary functions.
fn binary_kind(f: BinaryFn) -> Kind {
    match f {
        BinaryFn::Min => Kind::Exact("llvm.minimum"),
        BinaryFn::Max => Kind::Exact("llvm.maximum"),
        BinaryFn::Copysign => Kind::Exact("llvm.copysign"),
        BinaryFn::Pow => Kind::Libm(f.c_name(), Some("llvm.pow")),
        _ => Kind::Libm(f.c_name(), None),
    }
}

/// The `fcmp` predicate of a comparison: ordered (false with a NaN operand)
/// except `Ne`, which is unordered-or-not-equal (true with a NaN), as in C.
fn predicate(k: CmpOp) -> FloatPredicate {
    match k {
        CmpOp::Lt => FloatPredicate::OLT,
        CmpOp::Le => FloatPredicate::OLE,
        CmpOp::Gt => FloatPredicate::OGT,
        CmpOp::Ge => FloatPredicate::OGE,
        CmpOp::Eq => FloatPredicate::OEQ,
        CmpOp::Ne => FloatPredicate::UNE,
    }
}

/// How a tape is split into separately compiled segments.
struct Plan {
    /// Op index range of each segment (one segment covering everything when
    /// the tape is small).
    ranges: Vec<(usize, usize)>,
    /// Scratch slot of each register read outside the segment defining it
    /// (inputs, which the entry defines, included); empty for one segment.
    slot: Vec<u32>,
    /// Number of scratch slots.
    n_slots: u32,
}

impl Plan {
    fn new(tape: &Tape) -> Plan {
        let n = tape.ops().len();
        if !segmented(tape) {
            return Plan {
                ranges: vec![(0, n)],
                slot: Vec::new(),
                n_slots: 0,
            };
        }
        // Segment 0 is the entry (inputs); 1..=S the segment functions;
        // S + 1 the entry again, reading the outputs.
        let is_const = |r: usize| matches!(tape.ops()[r], Op::Const(_));
        let mut seg = vec![0u32; n];
        let mut ranges = Vec::new();
        let (mut start, mut count) = (tape.n_inputs(), 0);
        for (i, seg_i) in seg.iter_mut().enumerate().skip(tape.n_inputs()) {
            *seg_i = ranges.len() as u32 + 1;
            if !is_const(i) {
                count += 1;
            }
            if count == SEGMENT_OPS && i + 1 < n {
                ranges.push((start, i + 1));
                (start, count) = (i + 1, 0);
            }
        }
        ranges.push((start, n));
        let n_segs = ranges.len();
        // Last segment reading each value defined in an earlier one.
        let mut last = vec![0u32; n];
        for (i, op) in tape.ops().iter().enumerate() {
            for r in op.operands().map(|r| r as usize) {
                if !is_const(r) && seg[r] < seg[i] {
                    last[r] = last[r].max(seg[i]);
                }
            }
        }
        // Outputs are read by the entry after the last segment (inputs and
        // constants among them come straight from the entry).
        for &out in tape.outputs() {
            let out = out as usize;
            if !is_const(out) && out >= tape.n_inputs() {
                last[out] = n_segs as u32 + 1;
            }
        }
        // Linear scan: a slot is reused once the last segment reading its
        // value is over; values read inside a segment keep their slots
        // until that segment ends, so a store never clobbers a pending load.
        let mut slot = vec![NO_SLOT; n];
        let mut release: Vec<Vec<u32>> = vec![Vec::new(); n_segs + 2];
        let mut free: Vec<u32> = Vec::new();
        let mut n_slots = 0u32;
        let mut assign = |i: usize, free: &mut Vec<u32>, release: &mut Vec<Vec<u32>>| {
            if last[i] > 0 {
                let s = free.pop().unwrap_or_else(|| {
                    n_slots += 1;
                    n_slots - 1
                });
                slot[i] = s;
                release[last[i] as usize].push(s);
            }
        };
        for i in 0..tape.n_inputs() {
            assign(i, &mut free, &mut release);
        }
        for (s, &(a, b)) in ranges.iter().enumerate() {
            let done = std::mem::take(&mut release[s]);
            free.extend(done);
            for i in a..b {
                assign(i, &mut free, &mut release);
            }
        }
        Plan {
            ranges,
            slot,
            n_slots,
        }
    }

    fn segmented(&self) -> bool {
        !self.slot.is_empty()
    }
}

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
}

fn cg<T>(r: std::result::Result<T, inkwell::builder::BuilderError>) -> Result<T> {
    r.map_err(|e| Error::Codegen(e.to_string()))
}

fn mismatch<T>() -> Result<T> {
    Err(Error::Codegen("operand type mismatch".into()))
}

/// `$self.b.$method(a, b)` on two scalars or two vectors.
macro_rules! arith {
    ($self:ident, $m:ident, $a:expr, $c:expr) => {
        match ($a, $c) {
            (BasicValueEnum::FloatValue(x), BasicValueEnum::FloatValue(y)) => {
                $self.flag(cg($self.b.$m(x, y, ""))?.into())
            }
            (BasicValueEnum::VectorValue(x), BasicValueEnum::VectorValue(y)) => {
                $self.flag(cg($self.b.$m(x, y, ""))?.into())
            }
            _ => return mismatch(),
        }
    };
}

impl<'ctx> Gen<'ctx, '_> {
    fn enum_attr(&self, name: &str, val: u64) -> Attribute {
        self.ctx
            .create_enum_attribute(Attribute::get_named_enum_kind_id(name), val)
    }

    fn lane_type(&self, lanes: Lanes<'ctx>) -> BasicTypeEnum<'ctx> {
        match lanes {
            Lanes::Scalar => self.f64t.into(),
            Lanes::Vector(vt, _) => vt.into(),
        }
    }

    fn lane_bytes(&self, lanes: Lanes<'ctx>) -> u64 {
        match lanes {
            Lanes::Scalar => 8,
            Lanes::Vector(_, w) => 8 * w as u64,
        }
    }

    /// Attributes every generated function gets: no unwinding, and the host
    /// CPU so the backend uses all its features.
    fn add_fn_attrs(&self, f: FunctionValue<'ctx>) {
        f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind", 0));
        let cpu = self
            .ctx
            .create_string_attribute("target-cpu", &self.host.cpu);
        f.add_attribute(AttributeLoc::Function, cpu);
        let feat = self
            .ctx
            .create_string_attribute("target-features", &self.host.features);
        f.add_attribute(AttributeLoc::Function, feat);
    }

    /// An LLVM intrinsic overloaded on `ty`.
    fn intrinsic(
        &mut self,
        name: &str,
        tys: &[BasicTypeEnum<'ctx>],
    ) -> Result<FunctionValue<'ctx>> {
        Intrinsic::find(name)
            .and_then(|i| i.get_declaration(self.module, tys))
            .ok_or_else(|| Error::Codegen(format!("intrinsic {name} is unknown to LLVM")))
    }

    /// A pure external function `ret name(params...)` (libm or libmvec).
    fn external(
        &mut self,
        name: &str,
        ty: BasicTypeEnum<'ctx>,
        arity: usize,
    ) -> FunctionValue<'ctx> {
        if let Some(&f) = self.fns.get(name) {
            return f;
        }
        let params: Vec<BasicMetadataTypeEnum> = vec![ty.into(); arity];
        let f = self
            .module
            .add_function(name, ty.fn_type(&params, false), None);
        // Pure: we do not observe errno, so calls may be hoisted or removed.
        f.add_attribute(AttributeLoc::Function, self.enum_attr("memory", 0));
        f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind", 0));
        f.add_attribute(AttributeLoc::Function, self.enum_attr("willreturn", 0));
        self.fns.insert(name.to_string(), f);
        f
    }

    /// Put the fast-math flags (if any) on a freshly built FP instruction.
    fn flag(&self, v: BasicValueEnum<'ctx>) -> BasicValueEnum<'ctx> {
        // Not every value is an FP instruction (the builder folds
        // constants), so a refusal here is expected and harmless.
        if let Some(i) = v.as_instruction_value().filter(|_| !self.fmf.is_empty()) {
            let _ = i.set_fast_math_flags(self.fmf);
        }
        v
    }

    fn call_fn(
        &mut self,
        f: FunctionValue<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        let a: Vec<BasicMetadataValueEnum> = args.iter().map(|&x| x.into()).collect();
        match cg(self.b.build_call(f, &a, ""))?.try_as_basic_value() {
            ValueKind::Basic(v) => Ok(self.flag(v)),
            ValueKind::Instruction(_) => Err(Error::Codegen("call returned no value".into())),
        }
    }

    /// Apply a tape function to scalars or vectors.
    fn apply(&mut self, kind: Kind, args: &[BasicValueEnum<'ctx>]) -> Result<BasicValueEnum<'ctx>> {
        let ty = args[0].get_type();
        let vt = match ty {
            BasicTypeEnum::FloatType(_) => None,
            BasicTypeEnum::VectorType(vt) => Some(vt),
            _ => return mismatch(),
        };
        match (kind, vt) {
            (Kind::Exact(i), _) | (Kind::Libm(_, Some(i)), None) => {
                let f = self.intrinsic(i, &[ty])?;
                self.call_fn(f, args)
            }
            (Kind::Libm(name, None), None) => {
                let f = self.external(name, ty, args.len());
                self.call_fn(f, args)
            }
            (Kind::Lgamma, None) => {
                let f = self.lgamma_r();
                let slot = self.sign_slot()?;
                self.call_fn(f, &[args[0], slot.into()])
            }
            (Kind::Libm(..) | Kind::Lgamma, Some(vt)) => {
                if let Kind::Libm(name, _) = kind
                    && let Some(variant) = self.host.variant(name, args.len())
                {
                    let f = self.external(&variant, ty, args.len());
                    return self.call_fn(f, args);
                }
                // No libmvec variant: libm lane by lane.
                let i64t = self.ctx.i64_type();
                let mut acc = vt.get_undef();
                for lane in 0..vt.get_size() {
                    let idx = i64t.const_int(lane as u64, false);
                    let mut xs = Vec::with_capacity(args.len());
                    for a in args {
                        xs.push(cg(self.b.build_extract_element(
                            a.into_vector_value(),
                            idx,
                            "",
                        ))?);
                    }
                    let y = self.apply(kind, &xs)?;
                    acc = cg(self.b.build_insert_element(acc, y, idx, ""))?;
                }
                Ok(acc.into())
            }
        }
    }

    /// `double lgamma_r(double x, int *sign)`: reads `x`, writes `*sign`.
    fn lgamma_r(&mut self) -> FunctionValue<'ctx> {
        let name = crate::libm::symbol("lgamma");
        if let Some(&f) = self.fns.get(name) {
            return f;
        }
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let fty = self.f64t.fn_type(&[self.f64t.into(), ptr.into()], false);
        let f = self.module.add_function(name, fty, None);
        // `memory(argmem: write)`: MemoryEffects puts argument memory in
        // bits 0-1, and 2 is "mod" (write only). No errno is observed.
        f.add_attribute(AttributeLoc::Function, self.enum_attr("memory", 2));
        f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind", 0));
        f.add_attribute(AttributeLoc::Function, self.enum_attr("willreturn", 0));
        for a in ["nocapture", "writeonly", "noalias"] {
            f.add_attribute(AttributeLoc::Param(1), self.enum_attr(a, 0));
        }
        self.fns.insert(name.to_string(), f);
        f
    }

    /// The `int` slot for `lgamma_r`'s sign: one `alloca` at the start of
    /// the current function's entry block (an `alloca` inside the loop
    /// would grow the stack on every iteration).
    fn sign_slot(&mut self) -> Result<PointerValue<'ctx>> {
        let lost = || Error::Codegen("builder lost its block".into());
        let f = self
            .b
            .get_insert_block()
            .and_then(|bb| bb.get_parent())
            .ok_or_else(lost)?;
        if let Some((g, p)) = self.sign_slot
            && g == f
        {
            return Ok(p);
        }
        let entry = f.get_first_basic_block().ok_or_else(lost)?;
        let at = self.ctx.create_builder();
        match entry.get_first_instruction() {
            Some(i) => at.position_before(&i),
            None => at.position_at_end(entry),
        }
        let p = cg(at.build_alloca(self.ctx.i32_type(), "sign"))?;
        self.sign_slot = Some((f, p));
        Ok(p)
    }

    /// `fcmp` of two scalars or vectors: an `i1` or a vector of them.
    fn fcmp(
        &self,
        pred: FloatPredicate,
        a: BasicValueEnum<'ctx>,
        b: BasicValueEnum<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let v: BasicValueEnum<'ctx> = match (a, b) {
            (BasicValueEnum::FloatValue(x), BasicValueEnum::FloatValue(y)) => {
                cg(self.b.build_float_compare(pred, x, y, ""))?.into()
            }
            (BasicValueEnum::VectorValue(x), BasicValueEnum::VectorValue(y)) => {
                cg(self.b.build_float_compare(pred, x, y, ""))?.into()
            }
            _ => return mismatch(),
        };
        Ok(self.flag(v))
    }

    /// `select` on an `fcmp` result (scalar or per lane).
    fn select(
        &self,
        mask: BasicValueEnum<'ctx>,
        a: BasicValueEnum<'ctx>,
        b: BasicValueEnum<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let v = match mask {
            BasicValueEnum::IntValue(m) => cg(self.b.build_select(m, a, b, ""))?,
            BasicValueEnum::VectorValue(m) => cg(self.b.build_select(m, a, b, ""))?,
            _ => return mismatch(),
        };
        Ok(self.flag(v))
    }

    fn konst(&self, c: f64, lanes: Lanes<'ctx>) -> BasicValueEnum<'ctx> {
        let s = self.f64t.const_float(c);
        match lanes {
            Lanes::Scalar => s.into(),
            Lanes::Vector(_, w) => VectorType::const_vector(&vec![s; w as usize]).into(),
        }
    }

    /// A constant as an operand: an immediate IR constant, or (for fast
    /// instruction selection, which cannot materialize vector constants) a
    /// load from a private constant global.
    fn konst_operand(&mut self, c: f64, lanes: Lanes<'ctx>) -> Result<BasicValueEnum<'ctx>> {
        let v = self.konst(c, lanes);
        let Lanes::Vector(vt, _) = lanes else {
            return Ok(v);
        };
        if !self.fast_isel {
            return Ok(v);
        }
        let g = match self.const_globals.get(&c.to_bits()) {
            Some(&g) => g,
            None => {
                let name = format!("alkahest_k{}", self.const_globals.len());
                let g = self.module.add_global(vt, None, &name);
                g.set_linkage(Linkage::Private);
                g.set_initializer(&v);
                g.set_constant(true);
                g.set_unnamed_addr(true);
                g.set_alignment(32);
                self.const_globals.insert(c.to_bits(), g);
                g
            }
        };
        self.load(vt.into(), g.as_pointer_value())
    }

    fn slot_ptr(
        &self,
        scratch: PointerValue<'ctx>,
        lanes: Lanes<'ctx>,
        slot: u32,
    ) -> Result<PointerValue<'ctx>> {
        let idx = self.ctx.i64_type().const_int(slot as u64, false);
        // SAFETY: `slot < n_slots`, the scratch array's length; emits IR only.
        cg(unsafe {
            self.b
                .build_in_bounds_gep(self.lane_type(lanes), scratch, &[idx], "")
        })
    }

    fn load(&self, ty: BasicTypeEnum<'ctx>, p: PointerValue<'ctx>) -> Result<BasicValueEnum<'ctx>> {
        let v = cg(self.b.build_load(ty, p, ""))?;
        if let Some(i) = v.as_instruction_value() {
            // Scratch and columns are only guaranteed 8-byte aligned.
            let _ = i.set_alignment(8);
        }
        Ok(v)
    }

    fn store(&self, p: PointerValue<'ctx>, v: BasicValueEnum<'ctx>) -> Result<()> {
        let s = cg(self.b.build_store(p, v))?;
        let _ = s.set_alignment(8);
        Ok(())
    }

    /// Emit ops `start..end` at the builder position, once per source in
    /// `srcs` (independent copies, e.g. several vectors of points),
    /// interleaved op by op so the copies' dependency chains overlap.
    /// Returns every op's value: `(i - start) * srcs.len() + copy`.
    fn segment(
        &mut self,
        tape: &Tape,
        lanes: Lanes<'ctx>,
        (start, end): (usize, usize),
        srcs: &[Source<'_, 'ctx>],
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let copies = srcs.len();
        // `local[(i - start) * copies + c]`: op `i`'s value in copy `c`.
        let mut local: Vec<BasicValueEnum<'ctx>> = Vec::with_capacity((end - start) * copies);
        let mut live_in: Vec<HashMap<u32, BasicValueEnum<'ctx>>> = vec![HashMap::new(); copies];
        for i in start..end {
            let op = tape.ops()[i];
            for (copy, src) in srcs.iter().enumerate() {
                let mut args = [self.f64t.const_zero().into(); 3];
                for (k, r) in op.operands().enumerate() {
                    args[k] = if r as usize >= start {
                        local[(r as usize - start) * copies + copy]
                    } else if let Some(&v) = live_in[copy].get(&r) {
                        v
                    } else if let Op::Const(c) = tape.ops()[r as usize] {
                        let v = self.konst_operand(c, lanes)?;
                        live_in[copy].insert(r, v);
                        v
                    } else {
                        let Source::Scratch(scratch) = src else {
                            return Err(Error::Codegen(format!("register {r} has no source")));
                        };
                        let p = self.slot_ptr(*scratch, lanes, self.plan.slot[r as usize])?;
                        let v = self.load(self.lane_type(lanes), p)?;
                        live_in[copy].insert(r, v);
                        v
                    };
                }
                let v = self.op(op, args, lanes, src)?;
                if let (Source::Scratch(scratch), Some(&s)) = (src, self.plan.slot.get(i))
                    && s != NO_SLOT
                {
                    let p = self.slot_ptr(*scratch, lanes, s)?;
                    self.store(p, v)?;
                }
                local.push(v);
            }
        }
        Ok(local)
    }

    /// One tape operation on operand values `[a, c, d]`.
    fn op(
        &mut self,
        op: Op,
        [a, c, d]: [BasicValueEnum<'ctx>; 3],
        lanes: Lanes<'ctx>,
        src: &Source<'_, 'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        Ok(match op {
            Op::Input(v) => match src {
                Source::Inputs(xs) => xs[v as usize],
                Source::Scratch(_) => {
                    return Err(Error::Codegen("input inside a segment".into()));
                }
            },
            Op::Const(k) => self.konst_operand(k, lanes)?,
            Op::Neg(_) => match a {
                BasicValueEnum::FloatValue(x) => {
                    self.flag(cg(self.b.build_float_neg(x, ""))?.into())
                }
                BasicValueEnum::VectorValue(x) => {
                    self.flag(cg(self.b.build_float_neg(x, ""))?.into())
                }
                _ => return mismatch(),
            },
            Op::Add(..) => arith!(self, build_float_add, a, c),
            Op::Sub(..) => arith!(self, build_float_sub, a, c),
            Op::Mul(..) => arith!(self, build_float_mul, a, c),
            Op::Div(..) => arith!(self, build_float_div, a, c),
            Op::Unary(f, _) => self.apply(unary_kind(f), &[a])?,
            Op::Binary(f, ..) => self.apply(binary_kind(f), &[a, c])?,
            Op::Fma(..) => self.apply(Kind::Exact("llvm.fma"), &[a, c, d])?,
            Op::Cmp(k, ..) => {
                let mask = self.fcmp(predicate(k), a, c)?;
                let one = self.konst_operand(1.0, lanes)?;
                let zero = self.konst_operand(0.0, lanes)?;
                self.select(mask, one, zero)?
            }
            // `c != 0` is `une`: a NaN condition selects `a`, as the
            // reference `select` does.
            Op::Select(..) => {
                let zero = self.konst_operand(0.0, lanes)?;
                let mask = self.fcmp(FloatPredicate::UNE, a, zero)?;
                self.select(mask, c, d)?
            }
        })
    }

    /// One function per segment (only for segmented plans).
    fn segment_fns(&mut self, tape: &Tape, lanes: Lanes<'ctx>) -> Result<Vec<FunctionValue<'ctx>>> {
        if !self.plan.segmented() {
            return Ok(Vec::new());
        }
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let fty = self.ctx.void_type().fn_type(&[ptr.into()], false);
        let tag = match lanes {
            Lanes::Scalar => 1,
            Lanes::Vector(_, w) => w,
        };
        let mut fns = Vec::with_capacity(self.plan.ranges.len());
        for s in 0..self.plan.ranges.len() {
            let name = format!("alkahest_seg{s}_x{tag}");
            let f = self
                .module
                .add_function(&name, fty, Some(Linkage::Internal));
            self.add_fn_attrs(f);
            f.add_attribute(AttributeLoc::Function, self.enum_attr("noinline", 0));
            for a in ["noalias", "nocapture"] {
                f.add_attribute(AttributeLoc::Param(0), self.enum_attr(a, 0));
            }
            let bb = self.ctx.append_basic_block(f, "entry");
            self.b.position_at_end(bb);
            let scratch = f
                .get_nth_param(0)
                .ok_or_else(|| Error::Codegen("missing parameter".into()))?
                .into_pointer_value();
            let range = self.plan.ranges[s];
            self.segment(tape, lanes, range, &[Source::Scratch(scratch)])?;
            cg(self.b.build_return(None))?;
            fns.push(f);
        }
        Ok(fns)
    }

    /// The tape's outputs for one point (or one vector of points) given
    /// the input values, at the builder position.
    fn point(
        &mut self,
        tape: &Tape,
        lanes: Lanes<'ctx>,
        inputs: &[BasicValueEnum<'ctx>],
        segs: &[FunctionValue<'ctx>],
        scratch: Option<PointerValue<'ctx>>,
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let Some(scratch) = scratch.filter(|_| self.plan.segmented()) else {
            let mut ys = self.points(tape, lanes, &[inputs])?;
            return ys
                .pop()
                .ok_or_else(|| Error::Codegen("no point computed".into()));
        };
        for (v, &x) in inputs.iter().enumerate() {
            if self.plan.slot[v] != NO_SLOT {
                let p = self.slot_ptr(scratch, lanes, self.plan.slot[v])?;
                self.store(p, x)?;
            }
        }
        for &f in segs {
            cg(self.b.build_call(f, &[scratch.into()], ""))?;
        }
        let mut ys = Vec::with_capacity(tape.n_outputs());
        for &out in tape.outputs() {
            ys.push(match tape.ops()[out as usize] {
                Op::Const(c) => self.konst(c, lanes),
                Op::Input(v) => inputs[v as usize],
                _ => {
                    let p = self.slot_ptr(scratch, lanes, self.plan.slot[out as usize])?;
                    self.load(self.lane_type(lanes), p)?
                }
            });
        }
        Ok(ys)
    }

    /// The tape's outputs for several independent sets of input values, at
    /// the builder position (unsegmented plans only), interleaved op by op:
    /// `result[copy][k]` is output `k` of copy `copy`.
    fn points(
        &mut self,
        tape: &Tape,
        lanes: Lanes<'ctx>,
        inputs: &[&[BasicValueEnum<'ctx>]],
    ) -> Result<Vec<Vec<BasicValueEnum<'ctx>>>> {
        let range = self.plan.ranges[0];
        debug_assert_eq!(range, (0, tape.ops().len()));
        let srcs: Vec<Source<'_, 'ctx>> = inputs.iter().map(|xs| Source::Inputs(xs)).collect();
        let copies = srcs.len();
        let local = self.segment(tape, lanes, range, &srcs)?;
        Ok((0..copies)
            .map(|copy| {
                tape.outputs()
                    .iter()
                    .map(|&o| local[o as usize * copies + copy])
                    .collect()
            })
            .collect())
    }

    /// Allocate the scratch array in the current block. Returns the pointer
    /// and whether it came from `malloc` (then it may be null).
    fn alloc_scratch(&mut self, lanes: Lanes<'ctx>) -> Result<Option<(PointerValue<'ctx>, bool)>> {
        if !self.plan.segmented() || self.plan.n_slots == 0 {
            return Ok(None);
        }
        let i64t = self.ctx.i64_type();
        let bytes = self.plan.n_slots as u64 * self.lane_bytes(lanes);
        if bytes <= MAX_STACK_SCRATCH {
            let n = i64t.const_int(self.plan.n_slots as u64, false);
            let p = cg(self
                .b
                .build_array_alloca(self.lane_type(lanes), n, "scratch"))?;
            return Ok(Some((p, false)));
        }
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let malloc = match self.fns.get("malloc") {
            Some(&f) => f,
            None => {
                let f =
                    self.module
                        .add_function("malloc", ptr.fn_type(&[i64t.into()], false), None);
                f.add_attribute(AttributeLoc::Return, self.enum_attr("noalias", 0));
                self.fns.insert("malloc".into(), f);
                f
            }
        };
        let call = cg(self
            .b
            .build_call(malloc, &[i64t.const_int(bytes, false).into()], ""))?;
        match call.try_as_basic_value() {
            ValueKind::Basic(v) => Ok(Some((v.into_pointer_value(), true))),
            ValueKind::Instruction(_) => Err(Error::Codegen("malloc returned no value".into())),
        }
    }

    fn free_scratch(&mut self, scratch: Option<(PointerValue<'ctx>, bool)>) -> Result<()> {
        if let Some((p, true)) = scratch {
            let ptr = self.ctx.ptr_type(AddressSpace::default());
            let free = match self.fns.get("free") {
                Some(&f) => f,
                None => {
                    let f = self.module.add_function(
                        "free",
                        self.ctx.void_type().fn_type(&[ptr.into()], false),
                        None,
                    );
                    self.fns.insert("free".into(), f);
                    f
                }
            };
            cg(self.b.build_call(free, &[p.into()], ""))?;
        }
        Ok(())
    }

    /// Branch to `fail` if a heap scratch array is null; continue in a new
    /// block of `f` otherwise.
    fn check_scratch(
        &mut self,
        f: FunctionValue<'ctx>,
        scratch: Option<(PointerValue<'ctx>, bool)>,
        fail: inkwell::basic_block::BasicBlock<'ctx>,
    ) -> Result<()> {
        if let Some((p, true)) = scratch {
            let ok = self.ctx.append_basic_block(f, "scratch_ok");
            let null = cg(self.b.build_is_null(p, ""))?;
            cg(self.b.build_conditional_branch(null, fail, ok))?;
            self.b.position_at_end(ok);
        }
        Ok(())
    }

    /// `base + idx` doubles (in bounds by the caller's contract).
    fn at(&self, base: PointerValue<'ctx>, idx: IntValue<'ctx>) -> Result<PointerValue<'ctx>> {
        // SAFETY: emits an in-bounds GEP; every caller indexes memory the
        // entry's contract makes valid (inputs, columns, output columns).
        cg(unsafe { self.b.build_in_bounds_gep(self.f64t, base, &[idx], "") })
    }

    /// Load `n` pointers `table[0..n]` (the column tables of the bulk entry).
    fn load_table(&self, table: PointerValue<'ctx>, n: usize) -> Result<Vec<PointerValue<'ctx>>> {
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let i64t = self.ctx.i64_type();
        let mut ps = Vec::with_capacity(n);
        for k in 0..n {
            let idx = i64t.const_int(k as u64, false);
            // SAFETY: `k < n`, the table's length by the entry's contract;
            // emits IR only.
            let p = cg(unsafe { self.b.build_in_bounds_gep(ptr, table, &[idx], "") })?;
            ps.push(cg(self.b.build_load(ptr, p, ""))?.into_pointer_value());
        }
        Ok(ps)
    }

    /// `void alkahest_eval_scalar(const double *inputs, double *out)`:
    /// writes output `k` to `out[k]` (NaN everywhere without memory for a
    /// large scratch array).
    fn scalar_entry(&mut self, tape: &Tape) -> Result<()> {
        let lanes = Lanes::Scalar;
        let segs = self.segment_fns(tape, lanes)?;
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let fty = self
            .ctx
            .void_type()
            .fn_type(&[ptr.into(), ptr.into()], false);
        let f = self.module.add_function(SCALAR_SYMBOL, fty, None);
        self.add_fn_attrs(f);
        for (param, attrs) in [
            (0, ["nocapture", "readonly"]),
            (1, ["nocapture", "writeonly"]),
        ] {
            for a in attrs {
                f.add_attribute(AttributeLoc::Param(param), self.enum_attr(a, 0));
            }
        }
        let entry = self.ctx.append_basic_block(f, "entry");
        self.b.position_at_end(entry);
        let param = |i: u32| {
            f.get_nth_param(i)
                .map(|p| p.into_pointer_value())
                .ok_or_else(|| Error::Codegen("missing parameter".into()))
        };
        let (base, out) = (param(0)?, param(1)?);
        let i64t = self.ctx.i64_type();
        let idx = |k: usize| i64t.const_int(k as u64, false);
        let mut inputs = Vec::with_capacity(tape.n_inputs());
        for v in 0..tape.n_inputs() {
            // `inputs` holds `n_inputs` doubles by the entry's contract.
            let p = self.at(base, idx(v))?;
            inputs.push(self.load(self.f64t.into(), p)?);
        }
        // Every input is loaded before any output is stored, so `out` may
        // even be the input array.
        let scratch = self.alloc_scratch(lanes)?;
        // Only a heap scratch array can fail.
        let oom = matches!(scratch, Some((_, true))).then(|| self.ctx.append_basic_block(f, "oom"));
        if let Some(oom) = oom {
            self.check_scratch(f, scratch, oom)?;
        }
        let ys = self.point(tape, lanes, &inputs, &segs, scratch.map(|s| s.0))?;
        for (k, y) in ys.into_iter().enumerate() {
            // `out` holds `n_outputs` doubles by the entry's contract.
            let p = self.at(out, idx(k))?;
            self.store(p, y)?;
        }
        self.free_scratch(scratch)?;
        cg(self.b.build_return(None))?;
        if let Some(oom) = oom {
            self.b.position_at_end(oom);
            for k in 0..tape.n_outputs() {
                let p = self.at(out, idx(k))?;
                self.store(p, self.f64t.const_float(f64::NAN).into())?;
            }
            cg(self.b.build_return(None))?;
        }
        Ok(())
    }

    /// `void alkahest_eval_bulk(const double *const *cols, u64 n_vars,
    /// double *const *outs, u64 n_points)`: `outs[k][i]` is output `k` of
    /// `f(cols[0][i], cols[1][i], ...)`, in blocks of `lanes` points. With
    /// fewer than `n_inputs` columns (or no memory for a large scratch
    /// array) every output is NaN.
    fn bulk_entry(&mut self, tape: &Tape) -> Result<()> {
        let ctx = self.ctx;
        let w = self.host.lanes;
        let vt = self.f64t.vec_type(w);
        let lanes = Lanes::Vector(vt, w);
        let segs = self.segment_fns(tape, lanes)?;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i32t = ctx.i32_type();
        let fty = ctx
            .void_type()
            .fn_type(&[ptr.into(), i64t.into(), ptr.into(), i64t.into()], false);
        let f = self.module.add_function(BULK_SYMBOL, fty, None);
        self.add_fn_attrs(f);
        for param in [0, 2] {
            for a in ["nocapture", "readonly"] {
                f.add_attribute(AttributeLoc::Param(param), self.enum_attr(a, 0));
            }
        }
        let param = |i: u32| {
            f.get_nth_param(i)
                .ok_or_else(|| Error::Codegen("missing parameter".into()))
        };
        let (cols, n_vars, outs, n) = (
            param(0)?.into_pointer_value(),
            param(1)?.into_int_value(),
            param(2)?.into_pointer_value(),
            param(3)?.into_int_value(),
        );
        let m = tape.n_outputs();
        let block = |name: &str| ctx.append_basic_block(f, name);
        let (entry, bad, bad_loop, pre) = (
            block("entry"),
            block("bad"),
            block("bad_loop"),
            block("pre"),
        );
        let (head, sel, lfull, lpart) = (
            block("head"),
            block("sel"),
            block("load_full"),
            block("load_part"),
        );
        let (body, sfull, spart, latch) = (
            block("body"),
            block("store_full"),
            block("store_part"),
            block("latch"),
        );
        let (done, exit) = (block("done"), block("exit"));
        let zero = i64t.const_zero();
        let one = i64t.const_int(1, false);
        let width = i64t.const_int(w as u64, false);
        let align = i32t.const_int(8, false);

        self.b.position_at_end(entry);
        let want = i64t.const_int(tape.n_inputs() as u64, false);
        let ok = cg(self
            .b
            .build_int_compare(IntPredicate::UGE, n_vars, want, ""))?;
        cg(self.b.build_conditional_branch(ok, pre, bad))?;

        // Too few columns (or no memory): NaN rather than reading past the table.
        self.b.position_at_end(bad);
        let bad_outs = self.load_table(outs, m)?;
        let empty = cg(self.b.build_int_compare(IntPredicate::EQ, n, zero, ""))?;
        cg(self.b.build_conditional_branch(empty, exit, bad_loop))?;
        self.b.position_at_end(bad_loop);
        let j = cg(self.b.build_phi(i64t, ""))?;
        let j_int = j.as_basic_value().into_int_value();
        for &o in &bad_outs {
            // `j < n_points`, in bounds by the entry's contract.
            let pj = self.at(o, j_int)?;
            self.store(pj, self.f64t.const_float(f64::NAN).into())?;
        }
        let j_next = cg(self.b.build_int_nuw_add(j_int, one, ""))?;
        let fin = cg(self.b.build_int_compare(IntPredicate::EQ, j_next, n, ""))?;
        cg(self.b.build_conditional_branch(fin, exit, bad_loop))?;
        j.add_incoming(&[(&zero, bad), (&j_next, bad_loop)]);

        self.b.position_at_end(pre);
        // `n_inputs <= n_vars` input columns and `n_outputs` output columns.
        let col_ptrs = self.load_table(cols, tape.n_inputs())?;
        let out_ptrs = self.load_table(outs, m)?;
        let scratch = self.alloc_scratch(lanes)?;
        self.check_scratch(f, scratch, bad)?;
        let pre_end = self
            .b
            .get_insert_block()
            .ok_or_else(|| Error::Codegen("builder lost its block".into()))?;
        // Full-vector stores of one block of outputs at point `at`.
        let store_all = |g: &Self, at: IntValue<'ctx>, ys: Vec<BasicValueEnum<'ctx>>| {
            for (&o, y) in out_ptrs.iter().zip(ys) {
                // `at + w <= n_points` wherever a full block is stored.
                let p = g.at(o, at)?;
                g.store(p, y)?;
            }
            Ok::<(), Error>(())
        };
        // Main loop: `unroll` independent vectors per iteration while that
        // many full vectors remain; the loop below finishes the rest.
        let unroll = self.unroll(tape);
        let (start, start_block) = if unroll > 1 {
            let (head_u, body_u) = (block("head_unrolled"), block("body_unrolled"));
            cg(self.b.build_unconditional_branch(head_u))?;
            self.b.position_at_end(head_u);
            let iu = cg(self.b.build_phi(i64t, "iu"))?;
            let iu_int = iu.as_basic_value().into_int_value();
            let step = i64t.const_int(u64::from(unroll * w), false);
            // `iu <= n` always: it only advances while `n - iu >= step`.
            let left = cg(self.b.build_int_sub(n, iu_int, ""))?;
            let go = cg(self.b.build_int_compare(IntPredicate::UGE, left, step, ""))?;
            cg(self.b.build_conditional_branch(go, body_u, head))?;
            self.b.position_at_end(body_u);
            let mut offsets = Vec::with_capacity(unroll as usize);
            let mut xs: Vec<Vec<BasicValueEnum<'ctx>>> = Vec::with_capacity(unroll as usize);
            for copy in 0..unroll {
                let off = i64t.const_int(u64::from(copy * w), false);
                let at = cg(self.b.build_int_nuw_add(iu_int, off, ""))?;
                let mut row = Vec::with_capacity(tape.n_inputs());
                for &c in &col_ptrs {
                    // `at + w <= n_points` in this loop.
                    let p = self.at(c, at)?;
                    row.push(self.load(vt.into(), p)?);
                }
                offsets.push(at);
                xs.push(row);
            }
            // Every copy's loads come before any store, so an output column
            // may be an input column itself.
            let rows: Vec<&[BasicValueEnum<'ctx>]> = xs.iter().map(|r| r.as_slice()).collect();
            let ys = self.points(tape, lanes, &rows)?;
            for (&at, y) in offsets.iter().zip(ys) {
                store_all(self, at, y)?;
            }
            let iu_next = cg(self.b.build_int_nuw_add(iu_int, step, ""))?;
            cg(self.b.build_unconditional_branch(head_u))?;
            iu.add_incoming(&[(&zero, pre_end), (&iu_next, body_u)]);
            (iu_int, head_u)
        } else {
            cg(self.b.build_unconditional_branch(head))?;
            (zero, pre_end)
        };

        self.b.position_at_end(head);
        let i = cg(self.b.build_phi(i64t, "i"))?;
        let i_int = i.as_basic_value().into_int_value();
        let more = cg(self.b.build_int_compare(IntPredicate::ULT, i_int, n, ""))?;
        cg(self.b.build_conditional_branch(more, sel, done))?;

        self.b.position_at_end(sel);
        let rem = cg(self.b.build_int_sub(n, i_int, "rem"))?;
        let full = cg(self
            .b
            .build_int_compare(IntPredicate::UGE, rem, width, "full"))?;
        cg(self.b.build_conditional_branch(full, lfull, lpart))?;

        // `i < n_points`; full blocks read and write `lanes` points below
        // `n_points`, partial ones are masked.
        self.b.position_at_end(lfull);
        let mut xs_full = Vec::with_capacity(tape.n_inputs());
        for &c in &col_ptrs {
            let p = self.at(c, i_int)?;
            xs_full.push(self.load(vt.into(), p)?);
        }
        cg(self.b.build_unconditional_branch(body))?;

        // The last partial block: masked loads (lanes past the end read
        // nothing and compute on zeros), masked stores.
        let mask = |g: &Self| -> Result<inkwell::values::VectorValue<'ctx>> {
            let iota: Vec<_> = (0..w).map(|k| i64t.const_int(k as u64, false)).collect();
            let iota = VectorType::const_vector(&iota);
            let mut splat = i64t.vec_type(w).get_undef();
            for k in 0..w {
                let idx = i64t.const_int(k as u64, false);
                splat = cg(g.b.build_insert_element(splat, rem, idx, ""))?;
            }
            cg(g.b.build_int_compare(IntPredicate::ULT, iota, splat, "mask"))
        };
        self.b.position_at_end(lpart);
        let mk = mask(self)?;
        let mload = self.intrinsic("llvm.masked.load", &[vt.into(), ptr.into()])?;
        let mut xs_part = Vec::with_capacity(tape.n_inputs());
        for &c in &col_ptrs {
            let p = self.at(c, i_int)?;
            let args = [p.into(), align.into(), mk.into(), vt.const_zero().into()];
            xs_part.push(self.call_fn(mload, &args)?);
        }
        cg(self.b.build_unconditional_branch(body))?;

        self.b.position_at_end(body);
        let mut xs = Vec::with_capacity(tape.n_inputs());
        for (a, b) in xs_full.iter().zip(&xs_part) {
            let phi = cg(self.b.build_phi(vt, ""))?;
            phi.add_incoming(&[(a, lfull), (b, lpart)]);
            xs.push(phi.as_basic_value());
        }
        let ys = self.point(tape, lanes, &xs, &segs, scratch.map(|s| s.0))?;
        cg(self.b.build_conditional_branch(full, sfull, spart))?;

        self.b.position_at_end(sfull);
        store_all(self, i_int, ys.clone())?;
        cg(self.b.build_unconditional_branch(latch))?;

        self.b.position_at_end(spart);
        let mk = mask(self)?;
        let mstore = self.intrinsic("llvm.masked.store", &[vt.into(), ptr.into()])?;
        for (&o, y) in out_ptrs.iter().zip(ys) {
            let po = self.at(o, i_int)?;
            let args: [BasicMetadataValueEnum; 4] = [y.into(), po.into(), align.into(), mk.into()];
            cg(self.b.build_call(mstore, &args, ""))?;
        }
        cg(self.b.build_unconditional_branch(latch))?;

        self.b.position_at_end(latch);
        let i_next = cg(self.b.build_int_nuw_add(i_int, width, ""))?;
        cg(self.b.build_unconditional_branch(head))?;
        i.add_incoming(&[(&start, start_block), (&i_next, latch)]);

        self.b.position_at_end(done);
        self.free_scratch(scratch)?;
        cg(self.b.build_unconditional_branch(exit))?;
        self.b.position_at_end(exit);
        cg(self.b.build_return(None))?;
        Ok(())
    }

    /// Vectors per iteration of the bulk loop's main part: independent
    /// copies of the body let the CPU overlap their dependency chains (a
    /// Horner polynomial is one long chain of 3-4 cycle operations). Only
    /// for unsegmented tapes of at most `UNROLL_BUDGET / 2` operations, so
    /// code size and compile time stay bounded.
    fn unroll(&self, tape: &Tape) -> u32 {
        if self.plan.segmented() {
            return 1;
        }
        let ops = tape.n_compute().max(1);
        (UNROLL_BUDGET / ops).clamp(1, MAX_UNROLL as usize) as u32
    }

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

/// Whether `tape` is split into segments, and then compiled for speed.
pub(crate) fn segmented(tape: &Tape) -> bool {
    tape.n_compute() > SEGMENT_THRESHOLD
}

/// The target machine for `tape`: `opts.opt_level`, except that segmented
/// tapes get no machine-level optimization and fast instruction selection.
/// The greedy register allocator, schedulers and DAG combiner were ~95% of
/// their compile time (6.4 s CPU at 20k DAG nodes); their code is bound by
/// the scratch array and libm calls, so it runs as fast either way
/// (measured within noise at 6k and 27k operations).
///
/// Machines are kept per thread and reused: building one is cheap, but its
/// first code generation builds the subtarget (instruction, register and
/// lowering tables), which cost ~5 ms of every small compile when each
/// compile had a fresh machine. A machine is not safe to share between
/// threads during code generation, hence one per thread and setting.
fn tape_machine(tape: &Tape, opts: &LlvmOptions, host: &Host) -> Result<Rc<TargetMachine>> {
    let fast = segmented(tape);
    let level = if fast { 0 } else { opts.opt_level };
    MACHINES.with(|cell| {
        let mut machines = cell.borrow_mut();
        if let Some((_, tm)) = machines.iter().find(|(k, _)| *k == (level, fast)) {
            return Ok(Rc::clone(tm));
        }
        let tm = target_machine(host, level)?;
        if fast {
            // SAFETY: `tm` is a live target machine we own; this only sets
            // an option.
            unsafe { llvm_sys::target_machine::LLVMSetTargetMachineFastISel(tm.as_mut_ptr(), 1) };
        }
        let tm = Rc::new(tm);
        machines.push(((level, fast), Rc::clone(&tm)));
        Ok(tm)
    })
}

/// A cached target machine and its (optimization level, fast selection).
type CachedMachine = ((u8, bool), Rc<TargetMachine>);

thread_local! {
    /// This thread's target machines.
    static MACHINES: RefCell<Vec<CachedMachine>> = const { RefCell::new(Vec::new()) };
}

/// A host target machine at the given optimization level.
pub(crate) fn target_machine(host: &Host, opt_level: u8) -> Result<TargetMachine> {
    let triple = TargetTriple::create(&host.triple);
    let target = Target::from_triple(&triple).map_err(|e| Error::Init(e.to_string()))?;
    let level = match opt_level {
        0 => OptimizationLevel::None,
        1 => OptimizationLevel::Less,
        2 => OptimizationLevel::Default,
        _ => OptimizationLevel::Aggressive,
    };
    target
        .create_target_machine(
            &triple,
            &host.cpu,
            &host.features,
            level,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or_else(|| Error::Init(format!("no target machine for {}", host.triple)))
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
        plan,
        fns: HashMap::new(),
        fast_isel: segmented,
        const_globals: HashMap::new(),
        sign_slot: None,
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
