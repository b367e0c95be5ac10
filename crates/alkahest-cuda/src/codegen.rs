//! Tape -> NVPTX LLVM IR -> PTX.
//!
//! The kernel has one thread per point and a grid-stride loop, so any grid
//! size covers any number of points. A tape of `m` outputs (one for a scalar
//! function) writes `m` output columns in the same pass, sharing every
//! common subexpression:
//!
//! ```text
//! .entry alkahest_kernel(const double *const *cols, double *const *outs, u64 n)
//!   for (i = blockIdx.x*blockDim.x + threadIdx.x; i < n; i += gridDim.x*blockDim.x)
//!       (outs[0][i], ..., outs[m-1][i]) = f(cols[0][i], cols[1][i], ...)
//! ```
//!
//! `cols` is a device array of `n_inputs` device pointers, one per input
//! column, and `outs` a device array of `m` device pointers, one per output
//! column (column-major, like the CPU path's `alkahest_eval_bulk`); every
//! column may be a separate allocation. The runtime passes both tables in
//! one allocation (`outs = cols + n_inputs`), but the kernel does not rely
//! on it. An output column may be one of the input columns (each thread
//! reads all of its point's inputs before writing any output); output
//! columns should be distinct from each other (if two are the same, the
//! later output's value is what remains).
//!
//! Arithmetic is IEEE double precision with no contraction
//! (`mul.rn`/`add.rn`, explicit `fma.rn` only for tape `Fma` ops);
//! comparisons and selections are `setp` + `selp` (no branches), `sqrt`,
//! `fabs`, `floor`, `ceil`, `copysign`, `min` and `max` are exact
//! instructions, and every other function calls the libdevice symbol named by
//! the kernel's table ([`alkahest_tape::FnInfo::libdevice`]), so only those
//! calls differ from the CPU reference.

use std::path::Path;
use std::sync::Once;

use alkahest_tape::{BinaryFn, CmpOp, Op, Tape, UnaryFn};
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{FlagBehavior, Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::values::{BasicValue, FloatValue, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, FloatPredicate, IntPredicate, OptimizationLevel};

use crate::arch::validate_arch;
use crate::error::{Error, Result};
use crate::libdevice::read_libdevice;

/// The kernel's symbol in the PTX module.
pub const KERNEL_NAME: &str = "alkahest_kernel";

const TRIPLE: &str = "nvptx64-nvidia-cuda";

/// Global memory (`.global`) in NVPTX's address-space numbering.
const GLOBAL: u16 = 1;

fn llvm(e: impl std::fmt::Display) -> Error {
    Error::Llvm(e.to_string())
}

impl From<BuilderError> for Error {
    fn from(e: BuilderError) -> Self {
        llvm(e)
    }
}

/// The LLVM intrinsic computing `f` exactly (one PTX instruction:
/// `sqrt.rn.f64`, `abs.f64`, `cvt.rmi` / `cvt.rpi`), or `None` for a call
/// into libdevice under the kernel's name for it
/// ([`alkahest_tape::FnInfo::libdevice`]).
fn unary_intrinsic(f: UnaryFn) -> Option<&'static str> {
    match f {
        UnaryFn::Sqrt => Some("llvm.sqrt"),
        UnaryFn::Abs => Some("llvm.fabs"),
        UnaryFn::Floor => Some("llvm.floor"),
        UnaryFn::Ceil => Some("llvm.ceil"),
        _ => None,
    }
}

/// How a binary function is built when it is not a libdevice call.
#[derive(Clone, Copy)]
enum BinaryInline {
    /// NaN-propagating min / max (`true` for max), see `min_max`.
    MinMax(bool),
    /// An overloaded LLVM intrinsic (`copysign.f64`).
    Intrinsic(&'static str),
}

fn binary_inline(f: BinaryFn) -> Option<BinaryInline> {
    match f {
        BinaryFn::Min => Some(BinaryInline::MinMax(false)),
        BinaryFn::Max => Some(BinaryInline::MinMax(true)),
        BinaryFn::Copysign => Some(BinaryInline::Intrinsic("llvm.copysign")),
        _ => None,
    }
}

/// The libdevice function an op calls, if any (the kernel's table names it).
fn libdevice_name(op: &Op) -> Option<&'static str> {
    match *op {
        Op::Unary(f, _) if unary_intrinsic(f).is_none() => Some(f.info().libdevice),
        Op::Binary(f, _, _) if binary_inline(f).is_none() => Some(f.info().libdevice),
        _ => None,
    }
}

/// The libdevice functions the tape calls, each once, in first-use order.
fn libdevice_calls(tape: &Tape) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for name in tape.ops().iter().filter_map(libdevice_name) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The comparison an [`Op::Cmp`] makes: ordered for `< <= > >= ==` (false
/// with a NaN operand), unordered-or-unequal for `!=` (true with a NaN),
/// exactly [`CmpOp::test`].
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

fn init_nvptx() {
    static INIT: Once = Once::new();
    INIT.call_once(|| Target::initialize_nvptx(&InitializationConfig::default()));
}

fn target_machine(arch: &str) -> Result<TargetMachine> {
    init_nvptx();
    let triple = TargetTriple::create(TRIPLE);
    let target = Target::from_triple(&triple).map_err(llvm)?;
    target
        .create_target_machine(
            &triple,
            arch,
            "",
            OptimizationLevel::Aggressive,
            RelocMode::Default,
            CodeModel::Default,
        )
        .ok_or_else(|| Error::Llvm(format!("cannot create an NVPTX target machine for {arch}")))
}

/// Compile `tape` to PTX text for `arch` (`sm_86`, `sm_90`, ...; see
/// [`crate::SUPPORTED_ARCHS`]), linking the libdevice bitcode at `libdevice`
/// for transcendental functions. libdevice is read only when the tape calls
/// one of them. The result is a self-contained module with one kernel,
/// [`KERNEL_NAME`]; no GPU is needed.
pub fn compile_ptx(tape: &Tape, arch: &str, libdevice: &Path) -> Result<String> {
    let arch = validate_arch(arch)?;
    let needed = libdevice_calls(tape);
    let libdevice_bytes = if needed.is_empty() {
        None
    } else {
        Some(read_libdevice(libdevice)?)
    };

    let tm = target_machine(arch)?;
    let triple = TargetTriple::create(TRIPLE);
    let layout = tm.get_target_data().get_data_layout();
    let context = Context::create();
    let module = kernel_module(&context, &tm, tape)?;

    if let Some(bytes) = libdevice_bytes {
        let lib = lazy_bitcode_module(&context, &bytes).ok_or_else(|| Error::Libdevice {
            path: libdevice.to_owned(),
            message: "LLVM could not read the bitcode".into(),
        })?;
        // libdevice says `nvptx-unknown-unknown`; agreeing avoids a linker
        // warning on stderr.
        lib.set_triple(&triple);
        lib.set_data_layout(&layout);
        // Only the functions the kernel calls are linked (with what they
        // call, which the linker pulls in as it goes); the rest of the
        // lazily read module is never even decoded.
        for f in lib.get_functions() {
            let name = f.get_name().to_str().unwrap_or("");
            if !f.as_global_value().is_declaration() && !needed.contains(&name) {
                f.set_linkage(Linkage::Internal);
            }
        }
        for g in lib.get_globals() {
            if !g.is_declaration() {
                g.set_linkage(Linkage::Internal);
            }
        }
        module.link_in_module(lib).map_err(|e| Error::Libdevice {
            path: libdevice.to_owned(),
            message: e.to_string(),
        })?;
    }
    // libdevice branches on `__nvvm_reflect("__CUDA_FTZ")`: keep subnormals
    // (IEEE, like the CPU). The NVVMReflect pass in the O3 pipeline folds it.
    module.add_basic_value_flag(
        "nvvm-reflect-ftz",
        FlagBehavior::Override,
        context.i32_type().const_zero(),
    );
    internalize(&module);
    module.verify().map_err(llvm)?;
    module
        .run_passes("globaldce,default<O3>", &tm, PassBuilderOptions::create())
        .map_err(llvm)?;

    let unresolved: Vec<String> = module
        .get_functions()
        .filter(|f| f.count_basic_blocks() == 0)
        .map(|f| f.get_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("llvm."))
        .collect();
    if !unresolved.is_empty() {
        return Err(Error::Unresolved(unresolved.join(", ")));
    }

    let buffer = tm
        .write_to_memory_buffer(&module, FileType::Assembly)
        .map_err(llvm)?;
    let ptx = String::from_utf8_lossy(buffer.as_slice())
        .trim_end_matches('\0')
        .to_owned();
    check_no_extern(&ptx)?;
    Ok(ptx)
}

/// The kernel for `tape` as an LLVM module of `context`, before libdevice
/// is linked: libdevice functions are declarations.
fn kernel_module<'ctx>(
    context: &'ctx Context,
    tm: &TargetMachine,
    tape: &Tape,
) -> Result<Module<'ctx>> {
    let module = context.create_module("alkahest");
    module.set_triple(&TargetTriple::create(TRIPLE));
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    KernelBuilder::new(context, &module).build(tape)?;
    Ok(module)
}

/// The kernel's LLVM IR for `arch`, as built from `tape` before libdevice is
/// linked and before any optimization: each libdevice function the tape
/// calls appears as `declare double @__nv_...`, exact operations as LLVM
/// instructions and intrinsics. For inspection and tests; needs neither
/// libdevice nor a GPU.
pub fn kernel_ir(tape: &Tape, arch: &str) -> Result<String> {
    let arch = validate_arch(arch)?;
    let tm = target_machine(arch)?;
    let context = Context::create();
    let module = kernel_module(&context, &tm, tape)?;
    module.verify().map_err(llvm)?;
    Ok(module.print_to_string().to_string())
}

/// Read bitcode lazily: function bodies are decoded only when the linker
/// needs them (libdevice has hundreds; a kernel uses a few).
fn lazy_bitcode_module<'ctx>(context: &'ctx Context, bytes: &[u8]) -> Option<Module<'ctx>> {
    use inkwell::llvm_sys::bit_reader::LLVMGetBitcodeModuleInContext2;
    use inkwell::llvm_sys::core::{
        LLVMCreateMemoryBufferWithMemoryRangeCopy, LLVMDisposeMemoryBuffer,
    };
    let name = c"libdevice.10.bc";
    let mut raw = std::ptr::null_mut();
    // SAFETY: the buffer is a copy of `bytes`. LLVMGetBitcodeModuleInContext2
    // takes ownership of it only on success (the module keeps it for lazy
    // reads), so it is disposed here only on failure. On success `raw` is a
    // module of `context`, which `Module::new` then owns.
    unsafe {
        let buffer = LLVMCreateMemoryBufferWithMemoryRangeCopy(
            bytes.as_ptr().cast(),
            bytes.len(),
            name.as_ptr(),
        );
        let failed = LLVMGetBitcodeModuleInContext2(context.raw(), buffer, &mut raw);
        if failed != 0 || raw.is_null() {
            LLVMDisposeMemoryBuffer(buffer);
            return None;
        }
        Some(Module::new(raw))
    }
}

/// An `.extern .func` in PTX is a call the driver cannot resolve.
fn check_no_extern(ptx: &str) -> Result<()> {
    let externs: Vec<&str> = ptx
        .lines()
        .filter(|l| l.trim_start().starts_with(".extern"))
        .map(str::trim)
        .collect();
    if externs.is_empty() {
        Ok(())
    } else {
        Err(Error::Unresolved(externs.join("; ")))
    }
}

/// Give every definition but the kernel internal linkage, so O3 inlines
/// the libdevice functions used and drops the hundreds it does not use.
fn internalize(module: &Module<'_>) {
    for f in module.get_functions() {
        if f.count_basic_blocks() > 0 && f.get_name().to_bytes() != KERNEL_NAME.as_bytes() {
            f.set_linkage(Linkage::Internal);
        }
    }
    for g in module.get_globals() {
        if !g.is_declaration() {
            g.set_linkage(Linkage::Internal);
        }
    }
}

struct KernelBuilder<'a, 'ctx> {
    context: &'ctx Context,
    module: &'a Module<'ctx>,
    builder: Builder<'ctx>,
}

impl<'a, 'ctx> KernelBuilder<'a, 'ctx> {
    fn new(context: &'ctx Context, module: &'a Module<'ctx>) -> Self {
        Self {
            context,
            module,
            builder: context.create_builder(),
        }
    }

    fn intrinsic(&self, name: &str, overload_f64: bool) -> Result<FunctionValue<'ctx>> {
        let types = if overload_f64 {
            vec![self.context.f64_type().into()]
        } else {
            vec![]
        };
        Intrinsic::find(name)
            .and_then(|i| i.get_declaration(self.module, &types))
            .ok_or_else(|| Error::Llvm(format!("LLVM has no intrinsic {name}")))
    }

    /// Declare (once) a libdevice function of `arity` doubles.
    fn libdevice_fn(&self, name: &str, arity: usize) -> FunctionValue<'ctx> {
        self.module.get_function(name).unwrap_or_else(|| {
            let f64t = self.context.f64_type();
            let params = vec![f64t.into(); arity];
            self.module
                .add_function(name, f64t.fn_type(&params, false), None)
        })
    }

    fn call(&self, f: FunctionValue<'ctx>, args: &[FloatValue<'ctx>]) -> Result<FloatValue<'ctx>> {
        let args: Vec<_> = args.iter().map(|&a| a.into()).collect();
        let site = self.builder.build_call(f, &args, "")?;
        match site.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v.into_float_value()),
            inkwell::values::ValueKind::Instruction(_) => {
                Err(Error::Llvm("function call returned void".into()))
            }
        }
    }

    fn special_reg(&self, name: &str) -> Result<IntValue<'ctx>> {
        let f = self.intrinsic(name, false)?;
        let site = self.builder.build_call(f, &[], "")?;
        let v = match site.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => v.into_int_value(),
            inkwell::values::ValueKind::Instruction(_) => {
                return Err(Error::Llvm(format!("{name} returned void")));
            }
        };
        Ok(self
            .builder
            .build_int_z_extend(v, self.context.i64_type(), "")?)
    }

    /// NaN-propagating min/max with `-0 < +0`, exactly [`BinaryFn::apply`].
    fn min_max(
        &self,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
        max: bool,
    ) -> Result<FloatValue<'ctx>> {
        let bld = &self.builder;
        let i64t = self.context.i64_type();
        let strict = if max {
            FloatPredicate::OGT
        } else {
            FloatPredicate::OLT
        };
        let better = bld.build_float_compare(strict, a, b, "")?;
        let equal = bld.build_float_compare(FloatPredicate::OEQ, a, b, "")?;
        let bits = bld.build_bit_cast(a, i64t, "")?.into_int_value();
        // min keeps `a` on a tie when it is -0; max when it is +0.
        let sign = if max {
            IntPredicate::SGE
        } else {
            IntPredicate::SLT
        };
        let tie_a = bld.build_int_compare(sign, bits, i64t.const_zero(), "")?;
        let tie = bld.build_and(equal, tie_a, "")?;
        let pick_a = bld.build_or(better, tie, "")?;
        let chosen = bld.build_select(pick_a, a, b, "")?.into_float_value();
        let nan = bld.build_float_compare(FloatPredicate::UNO, a, b, "")?;
        let qnan = self.context.f64_type().const_float(f64::NAN);
        Ok(bld.build_select(nan, qnan, chosen, "")?.into_float_value())
    }

    /// Load the `count` pointers of a device pointer table (invariant for
    /// the whole launch, so they are read once, before the loop).
    fn pointer_table(
        &self,
        table: PointerValue<'ctx>,
        count: usize,
    ) -> Result<Vec<PointerValue<'ctx>>> {
        let ctx = self.context;
        let bld = &self.builder;
        let i64t = ctx.i64_type();
        let gptr = ctx.ptr_type(AddressSpace::from(GLOBAL));
        let invariant = ctx.get_kind_id("invariant.load");
        let empty = ctx.metadata_node(&[]);
        let mut ptrs = Vec::with_capacity(count);
        for k in 0..count {
            // SAFETY: the table holds `count` pointers by the kernel's contract.
            let slot = unsafe {
                bld.build_in_bounds_gep(gptr, table, &[i64t.const_int(k as u64, false)], "")?
            };
            let p = bld.build_load(gptr, slot, "")?;
            if let Some(inst) = p.as_instruction_value() {
                inst.set_alignment(8).map_err(llvm)?;
                inst.set_metadata(empty, invariant).map_err(llvm)?;
            }
            ptrs.push(p.into_pointer_value());
        }
        Ok(ptrs)
    }

    /// `1.0` where `a k b` holds, else `0.0`: `setp` + `selp`, no branch.
    fn compare(
        &self,
        k: CmpOp,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Result<FloatValue<'ctx>> {
        let f64t = self.context.f64_type();
        let test = self.builder.build_float_compare(predicate(k), a, b, "")?;
        Ok(self
            .builder
            .build_select(test, f64t.const_float(1.0), f64t.const_float(0.0), "")?
            .into_float_value())
    }

    /// `c != 0 ? a : b` (unordered: a NaN condition picks `a`, like
    /// [`alkahest_tape::select`]); both sides are already computed.
    fn select(
        &self,
        c: FloatValue<'ctx>,
        a: FloatValue<'ctx>,
        b: FloatValue<'ctx>,
    ) -> Result<FloatValue<'ctx>> {
        let zero = self.context.f64_type().const_zero();
        let test = self
            .builder
            .build_float_compare(FloatPredicate::UNE, c, zero, "")?;
        Ok(self
            .builder
            .build_select(test, a, b, "")?
            .into_float_value())
    }

    fn build(&self, tape: &Tape) -> Result<FunctionValue<'ctx>> {
        let ctx = self.context;
        let f64t = ctx.f64_type();
        let i64t = ctx.i64_type();
        let gptr = ctx.ptr_type(AddressSpace::from(GLOBAL));
        let fn_type = ctx
            .void_type()
            .fn_type(&[gptr.into(), gptr.into(), i64t.into()], false);
        let kernel = self.module.add_function(KERNEL_NAME, fn_type, None);
        let attr =
            |name: &str| ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0);
        kernel.add_attribute(AttributeLoc::Function, attr("nounwind"));
        // Both pointer tables are only read (the output columns they point
        // to are written, the tables never).
        for p in 0..2 {
            kernel.add_attribute(AttributeLoc::Param(p), attr("noalias"));
            kernel.add_attribute(AttributeLoc::Param(p), attr("readonly"));
            kernel.add_attribute(AttributeLoc::Param(p), attr("nocapture"));
        }
        let annotation = ctx.metadata_node(&[
            kernel.as_global_value().as_pointer_value().into(),
            ctx.metadata_string("kernel").into(),
            ctx.i32_type().const_int(1, false).into(),
        ]);
        self.module
            .add_global_metadata("nvvm.annotations", &annotation)
            .map_err(llvm)?;

        let param = |k: u32| {
            kernel
                .get_nth_param(k)
                .ok_or_else(|| llvm("missing parameter"))
        };
        let cols = param(0)?.into_pointer_value();
        let outs = param(1)?.into_pointer_value();
        let n = param(2)?.into_int_value();

        let entry = ctx.append_basic_block(kernel, "entry");
        let body = ctx.append_basic_block(kernel, "body");
        let exit = ctx.append_basic_block(kernel, "exit");
        let bld = &self.builder;

        bld.position_at_end(entry);
        let tid = self.special_reg("llvm.nvvm.read.ptx.sreg.tid.x")?;
        let ntid = self.special_reg("llvm.nvvm.read.ptx.sreg.ntid.x")?;
        let ctaid = self.special_reg("llvm.nvvm.read.ptx.sreg.ctaid.x")?;
        let nctaid = self.special_reg("llvm.nvvm.read.ptx.sreg.nctaid.x")?;
        let block_start = bld.build_int_nuw_mul(ctaid, ntid, "")?;
        let first = bld.build_int_nuw_add(block_start, tid, "first")?;
        let stride = bld.build_int_nuw_mul(nctaid, ntid, "stride")?;
        let columns = self.pointer_table(cols, tape.n_inputs())?;
        let out_columns = self.pointer_table(outs, tape.n_outputs())?;
        let any = bld.build_int_compare(IntPredicate::ULT, first, n, "")?;
        bld.build_conditional_branch(any, body, exit)?;

        bld.position_at_end(body);
        let i_phi = bld.build_phi(i64t, "i")?;
        let i = i_phi.as_basic_value().into_int_value();
        let mut regs: Vec<FloatValue<'ctx>> = Vec::with_capacity(tape.ops().len());
        // A `Tape` is valid by construction: inputs index `columns`, and
        // every operand names an earlier register, so `regs[x]` exists.
        for op in tape.ops() {
            let r = |x: u32| regs[x as usize];
            let v = match *op {
                Op::Input(k) => {
                    // SAFETY: `i < n` and every column has `n` points.
                    let p =
                        unsafe { bld.build_in_bounds_gep(f64t, columns[k as usize], &[i], "")? };
                    let x = bld.build_load(f64t, p, "")?;
                    if let Some(inst) = x.as_instruction_value() {
                        inst.set_alignment(8).map_err(llvm)?;
                    }
                    x.into_float_value()
                }
                Op::Const(c) => f64t.const_float(c),
                Op::Neg(a) => bld.build_float_neg(r(a), "")?,
                Op::Add(a, b) => bld.build_float_add(r(a), r(b), "")?,
                Op::Sub(a, b) => bld.build_float_sub(r(a), r(b), "")?,
                Op::Mul(a, b) => bld.build_float_mul(r(a), r(b), "")?,
                Op::Div(a, b) => bld.build_float_div(r(a), r(b), "")?,
                Op::Unary(f, a) => {
                    let callee = match unary_intrinsic(f) {
                        Some(name) => self.intrinsic(name, true)?,
                        None => self.libdevice_fn(f.info().libdevice, 1),
                    };
                    self.call(callee, &[r(a)])?
                }
                Op::Binary(f, a, b) => match binary_inline(f) {
                    Some(BinaryInline::MinMax(max)) => self.min_max(r(a), r(b), max)?,
                    Some(BinaryInline::Intrinsic(name)) => {
                        self.call(self.intrinsic(name, true)?, &[r(a), r(b)])?
                    }
                    None => self.call(self.libdevice_fn(f.info().libdevice, 2), &[r(a), r(b)])?,
                },
                Op::Fma(a, b, c) => {
                    let fma = self.intrinsic("llvm.fma", true)?;
                    self.call(fma, &[r(a), r(b), r(c)])?
                }
                Op::Cmp(k, a, b) => self.compare(k, r(a), r(b))?,
                Op::Select(c, a, b) => self.select(r(c), r(a), r(b))?,
            };
            regs.push(v);
        }
        // Every input of the point was read above, before these stores, so
        // an output may be one of the input columns.
        for (&column, &reg) in out_columns.iter().zip(tape.outputs()) {
            // SAFETY: `i < n` and every output column has `n` points.
            let dst = unsafe { bld.build_in_bounds_gep(f64t, column, &[i], "")? };
            let store = bld.build_store(dst, regs[reg as usize])?;
            store.set_alignment(8).map_err(llvm)?;
        }
        let next = bld.build_int_nuw_add(i, stride, "next")?;
        let more = bld.build_int_compare(IntPredicate::ULT, next, n, "")?;
        bld.build_conditional_branch(more, body, exit)?;
        i_phi.add_incoming(&[(&first, entry), (&next, body)]);

        bld.position_at_end(exit);
        bld.build_return(None)?;
        Ok(kernel)
    }
}
