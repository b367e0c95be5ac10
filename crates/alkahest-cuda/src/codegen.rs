//! Tape -> NVPTX LLVM IR -> PTX.
//!
//! The kernel has one thread per point and a grid-stride loop, so any grid
//! size covers any number of points:
//!
//! ```text
//! .entry alkahest_kernel(const double *const *cols, double *out, u64 n)
//!   for (i = blockIdx.x*blockDim.x + threadIdx.x; i < n; i += gridDim.x*blockDim.x)
//!       out[i] = f(cols[0][i], cols[1][i], ...)
//! ```
//!
//! `cols` is a device array of `n_inputs` device pointers, one per input
//! column (column-major, like the CPU path); the columns may be separate
//! allocations. `out` may alias one of the columns (each thread reads its
//! point before writing it). Arithmetic is IEEE double precision with no
//! contraction (`mul.rn`/`add.rn`, explicit `fma.rn` only for tape `Fma`
//! ops), so only the libdevice functions differ from the CPU interpreter.

use std::path::Path;
use std::sync::Once;

use alkahest_kernel::{BinaryFn, Op, Tape, UnaryFn};
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

/// The libdevice function implementing `f`, or `None` when LLVM has an
/// exact intrinsic for it.
fn libdevice_unary(f: UnaryFn) -> Option<&'static str> {
    Some(match f {
        UnaryFn::Sin => "__nv_sin",
        UnaryFn::Cos => "__nv_cos",
        UnaryFn::Tan => "__nv_tan",
        UnaryFn::Asin => "__nv_asin",
        UnaryFn::Acos => "__nv_acos",
        UnaryFn::Atan => "__nv_atan",
        UnaryFn::Sinh => "__nv_sinh",
        UnaryFn::Cosh => "__nv_cosh",
        UnaryFn::Tanh => "__nv_tanh",
        UnaryFn::Exp => "__nv_exp",
        UnaryFn::Log => "__nv_log",
        UnaryFn::Log1p => "__nv_log1p",
        UnaryFn::Expm1 => "__nv_expm1",
        // Correctly rounded in hardware (`sqrt.rn.f64`, `abs.f64`).
        UnaryFn::Sqrt | UnaryFn::Abs => return None,
    })
}

fn libdevice_binary(f: BinaryFn) -> Option<&'static str> {
    Some(match f {
        BinaryFn::Atan2 => "__nv_atan2",
        BinaryFn::Hypot => "__nv_hypot",
        BinaryFn::Pow => "__nv_pow",
        BinaryFn::Min | BinaryFn::Max => return None,
    })
}

/// The libdevice function an op calls, if any.
fn libdevice_name(op: &Op) -> Option<&'static str> {
    match *op {
        Op::Unary(f, _) => libdevice_unary(f),
        Op::Binary(f, _, _) => libdevice_binary(f),
        _ => None,
    }
}

/// Whether the tape calls anything that libdevice must provide.
fn needs_libdevice(tape: &Tape) -> bool {
    tape.ops.iter().any(|op| libdevice_name(op).is_some())
}

/// Reject malformed tapes up front, so code generation never indexes out
/// of bounds.
pub(crate) fn validate_tape(tape: &Tape) -> Result<()> {
    if u32::try_from(tape.n_inputs).is_err() {
        return Err(Error::InvalidTape(format!(
            "{} inputs is too many",
            tape.n_inputs
        )));
    }
    for (i, op) in tape.ops.iter().enumerate() {
        if let Op::Input(k) = *op
            && k as usize >= tape.n_inputs
        {
            return Err(Error::InvalidTape(format!(
                "op {i} reads input {k} of {}",
                tape.n_inputs
            )));
        }
        if let Some(r) = op.operands().find(|&r| r as usize >= i) {
            return Err(Error::InvalidTape(format!(
                "op {i} reads register {r}, which is not defined before it"
            )));
        }
    }
    if tape.output as usize >= tape.ops.len() {
        return Err(Error::InvalidTape(format!(
            "output register {} is out of range ({} ops)",
            tape.output,
            tape.ops.len()
        )));
    }
    Ok(())
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
    validate_tape(tape)?;
    let arch = validate_arch(arch)?;
    let libdevice_bytes = if needs_libdevice(tape) {
        Some(read_libdevice(libdevice)?)
    } else {
        None
    };

    let tm = target_machine(arch)?;
    let triple = TargetTriple::create(TRIPLE);
    let layout = tm.get_target_data().get_data_layout();
    let context = Context::create();
    let module = context.create_module("alkahest");
    module.set_triple(&triple);
    module.set_data_layout(&layout);

    KernelBuilder::new(&context, &module).build(tape)?;

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
        let needed: Vec<&str> = tape.ops.iter().filter_map(libdevice_name).collect();
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
        // The pointer table is only read, and never written through `out`.
        kernel.add_attribute(AttributeLoc::Param(0), attr("noalias"));
        kernel.add_attribute(AttributeLoc::Param(0), attr("readonly"));
        kernel.add_attribute(AttributeLoc::Param(0), attr("nocapture"));
        kernel.add_attribute(AttributeLoc::Param(1), attr("nocapture"));
        let annotation = ctx.metadata_node(&[
            kernel.as_global_value().as_pointer_value().into(),
            ctx.metadata_string("kernel").into(),
            ctx.i32_type().const_int(1, false).into(),
        ]);
        self.module
            .add_global_metadata("nvvm.annotations", &annotation)
            .map_err(llvm)?;

        let cols = kernel
            .get_nth_param(0)
            .ok_or_else(|| llvm("missing parameter"))?
            .into_pointer_value();
        let out = kernel
            .get_nth_param(1)
            .ok_or_else(|| llvm("missing parameter"))?
            .into_pointer_value();
        let n = kernel
            .get_nth_param(2)
            .ok_or_else(|| llvm("missing parameter"))?
            .into_int_value();

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
        // The column pointers never change during the launch.
        let invariant = ctx.get_kind_id("invariant.load");
        let empty = ctx.metadata_node(&[]);
        let mut columns: Vec<PointerValue<'ctx>> = Vec::with_capacity(tape.n_inputs);
        for k in 0..tape.n_inputs {
            // SAFETY: `cols` holds `n_inputs` pointers by the kernel's contract.
            let slot = unsafe {
                bld.build_in_bounds_gep(gptr, cols, &[i64t.const_int(k as u64, false)], "")?
            };
            let p = bld.build_load(gptr, slot, "")?;
            if let Some(inst) = p.as_instruction_value() {
                inst.set_alignment(8).map_err(llvm)?;
                inst.set_metadata(empty, invariant).map_err(llvm)?;
            }
            columns.push(p.into_pointer_value());
        }
        let any = bld.build_int_compare(IntPredicate::ULT, first, n, "")?;
        bld.build_conditional_branch(any, body, exit)?;

        bld.position_at_end(body);
        let i_phi = bld.build_phi(i64t, "i")?;
        let i = i_phi.as_basic_value().into_int_value();
        let mut regs: Vec<FloatValue<'ctx>> = Vec::with_capacity(tape.ops.len());
        for op in &tape.ops {
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
                    let callee = match (f, libdevice_unary(f)) {
                        (_, Some(name)) => self.libdevice_fn(name, 1),
                        (UnaryFn::Abs, None) => self.intrinsic("llvm.fabs", true)?,
                        _ => self.intrinsic("llvm.sqrt", true)?,
                    };
                    self.call(callee, &[r(a)])?
                }
                Op::Binary(f, a, b) => match (f, libdevice_binary(f)) {
                    (_, Some(name)) => self.call(self.libdevice_fn(name, 2), &[r(a), r(b)])?,
                    (BinaryFn::Max, None) => self.min_max(r(a), r(b), true)?,
                    _ => self.min_max(r(a), r(b), false)?,
                },
                Op::Fma(a, b, c) => {
                    let fma = self.intrinsic("llvm.fma", true)?;
                    self.call(fma, &[r(a), r(b), r(c)])?
                }
            };
            regs.push(v);
        }
        // SAFETY: `i < n` and `out` has `n` points.
        let dst = unsafe { bld.build_in_bounds_gep(f64t, out, &[i], "")? };
        let store = bld.build_store(dst, regs[tape.output as usize])?;
        store.set_alignment(8).map_err(llvm)?;
        let next = bld.build_int_nuw_add(i, stride, "next")?;
        let more = bld.build_int_compare(IntPredicate::ULT, next, n, "")?;
        bld.build_conditional_branch(more, body, exit)?;
        i_phi.add_incoming(&[(&first, entry), (&next, body)]);

        bld.position_at_end(exit);
        bld.build_return(None)?;
        Ok(kernel)
    }
}
