//! Tape -> LLVM IR -> optimized module -> machine code.
//!
//! The module holds two entry points with the same body:
//!
//! * `double alkahest_eval(const double *inputs)`: one point;
//! * `void alkahest_eval_bulk(const double *const *cols, uint64_t n_vars,
//!   double *out, uint64_t n_points)`: a counted loop over points that LLVM's
//!   loop vectorizer turns into SIMD code, transcendental calls included
//!   (glibc libmvec's `_ZGVdN4v_sin` & co.).
//!
//! plus two constants that make an object file self-describing:
//! `alkahest_n_inputs` (i64) and `alkahest_target` (the host fingerprint,
//! NUL-terminated), checked when an object is loaded back.

use std::collections::HashMap;

use alkahest_kernel::{BinaryFn, Op, Tape, UnaryFn};
use inkwell::AddressSpace;
use inkwell::IntPredicate;
use inkwell::OptimizationLevel;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::types::{BasicMetadataTypeEnum, FloatType};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, FastMathFlags, FloatValue, FunctionValue, ValueKind,
};

use crate::LlvmOptions;
use crate::error::{Error, Result};
use crate::host::Host;

/// Symbol of the one-point entry.
pub(crate) const SCALAR_SYMBOL: &str = "alkahest_eval";
/// Symbol of the column-major bulk entry.
pub(crate) const BULK_SYMBOL: &str = "alkahest_eval_bulk";
/// Symbol of the `i64` input count.
pub(crate) const N_INPUTS_SYMBOL: &str = "alkahest_n_inputs";
/// Symbol of the NUL-terminated host fingerprint.
pub(crate) const TARGET_SYMBOL: &str = "alkahest_target";

/// How a tape function is called.
#[derive(Clone, Copy)]
enum Callee {
    /// An LLVM intrinsic, overloaded on `double`.
    Intrinsic(&'static str),
    /// A libm function `double f(double[, double])`.
    Libm(&'static str),
}

fn unary_callee(f: UnaryFn) -> Callee {
    use Callee::{Intrinsic as I, Libm as L};
    match f {
        UnaryFn::Sin => I("llvm.sin"),
        UnaryFn::Cos => I("llvm.cos"),
        UnaryFn::Exp => I("llvm.exp"),
        UnaryFn::Log => I("llvm.log"),
        UnaryFn::Sqrt => I("llvm.sqrt"),
        UnaryFn::Abs => I("llvm.fabs"),
        UnaryFn::Tan => L("tan"),
        UnaryFn::Asin => L("asin"),
        UnaryFn::Acos => L("acos"),
        UnaryFn::Atan => L("atan"),
        UnaryFn::Sinh => L("sinh"),
        UnaryFn::Cosh => L("cosh"),
        UnaryFn::Tanh => L("tanh"),
        UnaryFn::Log1p => L("log1p"),
        UnaryFn::Expm1 => L("expm1"),
    }
}

fn binary_callee(f: BinaryFn) -> Callee {
    match f {
        BinaryFn::Atan2 => Callee::Libm("atan2"),
        BinaryFn::Hypot => Callee::Libm("hypot"),
        BinaryFn::Min => Callee::Intrinsic("llvm.minimum"),
        BinaryFn::Max => Callee::Intrinsic("llvm.maximum"),
        BinaryFn::Pow => Callee::Intrinsic("llvm.pow"),
    }
}

/// libm functions LLVM 19's `LIBMVEC-X86` table does not know, although
/// glibc >= 2.35 ships vector variants: we name those variants ourselves with
/// the `vector-function-abi-variant` attribute. (`sin`, `cos`, `tan`, `exp`,
/// `log`, `pow` come from the table.)
const EXTRA_LIBMVEC: [&str; 10] = [
    "asin", "acos", "atan", "sinh", "cosh", "tanh", "log1p", "expm1", "atan2", "hypot",
];

/// Check the tape invariants the code generator relies on, so a malformed
/// tape is an error rather than an out-of-bounds index.
pub(crate) fn validate(tape: &Tape) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidTape(m));
    let n = tape.ops.len();
    if n < tape.n_inputs {
        return bad(format!("{} inputs but only {n} ops", tape.n_inputs));
    }
    if u32::try_from(n).is_err() {
        return bad(format!("{n} ops exceed the register range"));
    }
    for (i, op) in tape.ops.iter().enumerate() {
        if i < tape.n_inputs && *op != Op::Input(i as u32) {
            return bad(format!("op {i} should be Input({i}), found {op:?}"));
        }
        if let Op::Input(v) = *op {
            if v as usize >= tape.n_inputs {
                return bad(format!("op {i} reads input {v} of {}", tape.n_inputs));
            }
        }
        if let Some(r) = op.operands().find(|&r| r as usize >= i) {
            return bad(format!("op {i} reads register {r}, not defined before it"));
        }
    }
    if tape.output as usize >= n {
        return bad(format!("output register {} of {n}", tape.output));
    }
    Ok(())
}

/// IR emission state for one module.
struct Gen<'ctx, 'm> {
    ctx: &'ctx Context,
    module: &'m Module<'ctx>,
    b: Builder<'ctx>,
    f64t: FloatType<'ctx>,
    fmf: FastMathFlags,
    host: &'static Host,
    /// Declared callees by name.
    fns: HashMap<&'static str, FunctionValue<'ctx>>,
    /// `vector-function-abi-variant` attribute per libm function name.
    vfabi: HashMap<&'static str, Attribute>,
    /// Vector variant declarations, kept alive through `llvm.compiler.used`.
    variants: Vec<FunctionValue<'ctx>>,
}

fn cg<T>(r: std::result::Result<T, inkwell::builder::BuilderError>) -> Result<T> {
    r.map_err(|e| Error::Codegen(e.to_string()))
}

impl<'ctx> Gen<'ctx, '_> {
    fn enum_attr(&self, name: &str, val: u64) -> Attribute {
        self.ctx
            .create_enum_attribute(Attribute::get_named_enum_kind_id(name), val)
    }

    /// Attributes every generated function gets: no unwinding, and the host
    /// CPU so the backend and the vectorizer's cost model see all features.
    fn add_entry_attrs(&self, f: FunctionValue<'ctx>) {
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

    fn callee(
        &mut self,
        c: Callee,
        arity: usize,
    ) -> Result<(FunctionValue<'ctx>, Option<Attribute>)> {
        let name = match c {
            Callee::Intrinsic(n) | Callee::Libm(n) => n,
        };
        if let Some(&f) = self.fns.get(name) {
            return Ok((f, self.vfabi.get(name).copied()));
        }
        let f = match c {
            Callee::Intrinsic(n) => Intrinsic::find(n)
                .and_then(|i| i.get_declaration(self.module, &[self.f64t.into()]))
                .ok_or_else(|| Error::Codegen(format!("intrinsic {n} is unknown to LLVM")))?,
            Callee::Libm(n) => {
                let params: Vec<BasicMetadataTypeEnum> = vec![self.f64t.into(); arity];
                let f = self
                    .module
                    .add_function(n, self.f64t.fn_type(&params, false), None);
                // Pure: we do not observe errno, so calls may be hoisted,
                // removed, and vectorized.
                f.add_attribute(AttributeLoc::Function, self.enum_attr("memory", 0));
                f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind", 0));
                f.add_attribute(AttributeLoc::Function, self.enum_attr("willreturn", 0));
                if self.host.libmvec && EXTRA_LIBMVEC.contains(&n) {
                    self.declare_variants(n, arity);
                }
                f
            }
        };
        self.fns.insert(name, f);
        Ok((f, self.vfabi.get(name).copied()))
    }

    /// Declare glibc's vector variants of `name` and build the attribute that
    /// tells the loop vectorizer about them.
    fn declare_variants(&mut self, name: &'static str, arity: usize) {
        let params = "v".repeat(arity);
        let mut names = Vec::new();
        for &(lanes, isa) in &self.host.vector_isas {
            let mangled = format!("_ZGV{isa}N{lanes}{params}_{name}");
            let vt = self.f64t.vec_type(lanes);
            let ps: Vec<BasicMetadataTypeEnum> = vec![vt.into(); arity];
            let f = self
                .module
                .add_function(&mangled, vt.fn_type(&ps, false), None);
            f.add_attribute(AttributeLoc::Function, self.enum_attr("memory", 0));
            f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind", 0));
            self.variants.push(f);
            names.push(mangled);
        }
        if !names.is_empty() {
            let a = self
                .ctx
                .create_string_attribute("vector-function-abi-variant", &names.join(","));
            self.vfabi.insert(name, a);
        }
    }

    /// Put the fast-math flags (if any) on a freshly built FP instruction.
    fn flag(&self, v: FloatValue<'ctx>) -> FloatValue<'ctx> {
        if !self.fmf.is_empty() {
            if let Some(i) = v.as_instruction_value() {
                // Not every value is an FP instruction (the builder folds
                // constants), so a refusal here is expected and harmless.
                let _ = i.set_fast_math_flags(self.fmf);
            }
        }
        v
    }

    fn call(&mut self, c: Callee, args: &[FloatValue<'ctx>]) -> Result<FloatValue<'ctx>> {
        let (f, vfabi) = self.callee(c, args.len())?;
        let a: Vec<BasicMetadataValueEnum> = args.iter().map(|&x| x.into()).collect();
        let call = cg(self.b.build_call(f, &a, ""))?;
        if let Some(attr) = vfabi {
            call.add_attribute(AttributeLoc::Function, attr);
        }
        match call.try_as_basic_value() {
            ValueKind::Basic(v) => Ok(self.flag(v.into_float_value())),
            ValueKind::Instruction(_) => Err(Error::Codegen("call returned no value".into())),
        }
    }

    /// Emit the tape at the builder's position; `inputs[v]` is variable `v`.
    /// A loop over the ops, never recursion, so any depth works.
    fn body(&mut self, tape: &Tape, inputs: &[FloatValue<'ctx>]) -> Result<FloatValue<'ctx>> {
        let mut regs: Vec<FloatValue<'ctx>> = Vec::with_capacity(tape.ops.len());
        for op in &tape.ops {
            let r = |i: u32| regs[i as usize];
            let v = match *op {
                Op::Input(i) => inputs[i as usize],
                Op::Const(c) => self.f64t.const_float(c),
                Op::Neg(a) => self.flag(cg(self.b.build_float_neg(r(a), ""))?),
                Op::Add(a, c) => self.flag(cg(self.b.build_float_add(r(a), r(c), ""))?),
                Op::Sub(a, c) => self.flag(cg(self.b.build_float_sub(r(a), r(c), ""))?),
                Op::Mul(a, c) => self.flag(cg(self.b.build_float_mul(r(a), r(c), ""))?),
                Op::Div(a, c) => self.flag(cg(self.b.build_float_div(r(a), r(c), ""))?),
                Op::Unary(f, a) => self.call(unary_callee(f), &[r(a)])?,
                Op::Binary(f, a, c) => self.call(binary_callee(f), &[r(a), r(c)])?,
                Op::Fma(a, c, d) => {
                    self.call(Callee::Intrinsic("llvm.fma"), &[r(a), r(c), r(d)])?
                }
            };
            regs.push(v);
        }
        Ok(regs[tape.output as usize])
    }

    /// `double alkahest_eval(const double *inputs)`.
    fn scalar_entry(&mut self, tape: &Tape) -> Result<()> {
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let f =
            self.module
                .add_function(SCALAR_SYMBOL, self.f64t.fn_type(&[ptr.into()], false), None);
        self.add_entry_attrs(f);
        f.add_attribute(AttributeLoc::Param(0), self.enum_attr("nocapture", 0));
        f.add_attribute(AttributeLoc::Param(0), self.enum_attr("readonly", 0));
        let entry = self.ctx.append_basic_block(f, "entry");
        self.b.position_at_end(entry);
        let base = f
            .get_nth_param(0)
            .ok_or_else(|| Error::Codegen("missing parameter".into()))?
            .into_pointer_value();
        let i64t = self.ctx.i64_type();
        let mut inputs = Vec::with_capacity(tape.n_inputs);
        for v in 0..tape.n_inputs {
            let idx = i64t.const_int(v as u64, false);
            // SAFETY: in-bounds by the entry's contract (`inputs` holds
            // `n_inputs` doubles); this only emits IR.
            let p = cg(unsafe { self.b.build_in_bounds_gep(self.f64t, base, &[idx], "") })?;
            inputs.push(cg(self.b.build_load(self.f64t, p, ""))?.into_float_value());
        }
        let out = self.body(tape, &inputs)?;
        cg(self.b.build_return(Some(&out)))?;
        Ok(())
    }

    /// `void alkahest_eval_bulk(const double *const *cols, u64 n_vars,
    /// double *out, u64 n_points)`: `out[i] = f(cols[0][i], cols[1][i], ...)`.
    /// With fewer than `n_inputs` columns every output is NaN.
    fn bulk_entry(&mut self, tape: &Tape) -> Result<()> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let fty = ctx
            .void_type()
            .fn_type(&[ptr.into(), i64t.into(), ptr.into(), i64t.into()], false);
        let f = self.module.add_function(BULK_SYMBOL, fty, None);
        self.add_entry_attrs(f);
        for (param, attrs) in [
            (0, &["nocapture", "readonly"][..]),
            (2, &["nocapture", "noalias"][..]),
        ] {
            for a in attrs {
                f.add_attribute(AttributeLoc::Param(param), self.enum_attr(a, 0));
            }
        }
        let param = |i: u32| {
            f.get_nth_param(i)
                .ok_or_else(|| Error::Codegen("missing parameter".into()))
        };
        let (cols, n_vars, out, n) = (
            param(0)?.into_pointer_value(),
            param(1)?.into_int_value(),
            param(2)?.into_pointer_value(),
            param(3)?.into_int_value(),
        );
        let entry = ctx.append_basic_block(f, "entry");
        let bad = ctx.append_basic_block(f, "bad");
        let bad_loop = ctx.append_basic_block(f, "bad_loop");
        let pre = ctx.append_basic_block(f, "pre");
        let body = ctx.append_basic_block(f, "loop");
        let exit = ctx.append_basic_block(f, "exit");
        let zero = i64t.const_zero();
        let one = i64t.const_int(1, false);
        let b = &self.b;

        b.position_at_end(entry);
        let want = i64t.const_int(tape.n_inputs as u64, false);
        let ok = cg(b.build_int_compare(IntPredicate::UGE, n_vars, want, ""))?;
        cg(b.build_conditional_branch(ok, pre, bad))?;

        // Too few columns: fill with NaN rather than read past the table.
        b.position_at_end(bad);
        let empty = cg(b.build_int_compare(IntPredicate::EQ, n, zero, ""))?;
        cg(b.build_conditional_branch(empty, exit, bad_loop))?;
        b.position_at_end(bad_loop);
        let j = cg(b.build_phi(i64t, ""))?;
        let j_int = j.as_basic_value().into_int_value();
        // SAFETY: `j < n_points`, in bounds by the entry's contract; emits IR only.
        let pj = cg(unsafe { b.build_in_bounds_gep(self.f64t, out, &[j_int], "") })?;
        cg(b.build_store(pj, self.f64t.const_float(f64::NAN)))?;
        let j_next = cg(b.build_int_nuw_add(j_int, one, ""))?;
        let done = cg(b.build_int_compare(IntPredicate::EQ, j_next, n, ""))?;
        cg(b.build_conditional_branch(done, exit, bad_loop))?;
        j.add_incoming(&[(&zero, bad), (&j_next, bad_loop)]);

        b.position_at_end(pre);
        let mut col_ptrs = Vec::with_capacity(tape.n_inputs);
        for v in 0..tape.n_inputs {
            let idx = i64t.const_int(v as u64, false);
            // SAFETY: `v < n_inputs <= n_vars`; emits IR only.
            let p = cg(unsafe { b.build_in_bounds_gep(ptr, cols, &[idx], "") })?;
            col_ptrs.push(cg(b.build_load(ptr, p, ""))?.into_pointer_value());
        }
        let empty = cg(b.build_int_compare(IntPredicate::EQ, n, zero, ""))?;
        cg(b.build_conditional_branch(empty, exit, body))?;

        b.position_at_end(body);
        let i = cg(b.build_phi(i64t, ""))?;
        let i_int = i.as_basic_value().into_int_value();
        let mut inputs = Vec::with_capacity(tape.n_inputs);
        for &c in &col_ptrs {
            // SAFETY: `i < n_points`, in bounds by the entry's contract; emits IR only.
            let p = cg(unsafe { b.build_in_bounds_gep(self.f64t, c, &[i_int], "") })?;
            inputs.push(cg(b.build_load(self.f64t, p, ""))?.into_float_value());
        }
        let y = self.body(tape, &inputs)?;
        let b = &self.b;
        // SAFETY: as above.
        let po = cg(unsafe { b.build_in_bounds_gep(self.f64t, out, &[i_int], "") })?;
        cg(b.build_store(po, y))?;
        let i_next = cg(b.build_int_nuw_add(i_int, one, ""))?;
        let done = cg(b.build_int_compare(IntPredicate::EQ, i_next, n, ""))?;
        cg(b.build_conditional_branch(done, exit, body))?;
        i.add_incoming(&[(&zero, pre), (&i_next, body)]);

        b.position_at_end(exit);
        cg(b.build_return(None))?;
        Ok(())
    }

    /// `alkahest_n_inputs`, `alkahest_target` and `llvm.compiler.used`.
    fn globals(&self, tape: &Tape) {
        let i64t = self.ctx.i64_type();
        let g = self.module.add_global(i64t, None, N_INPUTS_SYMBOL);
        g.set_initializer(&i64t.const_int(tape.n_inputs as u64, false));
        g.set_constant(true);
        let fp = self.host.fingerprint();
        let s = self.ctx.const_string(fp.as_bytes(), true);
        let g = self.module.add_global(s.get_type(), None, TARGET_SYMBOL);
        g.set_initializer(&s);
        g.set_constant(true);
        if !self.variants.is_empty() {
            let ptr = self.ctx.ptr_type(AddressSpace::default());
            let vals: Vec<_> = self
                .variants
                .iter()
                .map(|f| f.as_global_value().as_pointer_value())
                .collect();
            let arr = ptr.const_array(&vals);
            let g = self
                .module
                .add_global(arr.get_type(), None, "llvm.compiler.used");
            g.set_linkage(Linkage::Appending);
            g.set_section(Some("llvm.metadata"));
            g.set_initializer(&arr);
        }
    }
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
    validate(tape)?;
    let module = ctx.create_module("alkahest");
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    let fmf = if opts.fast_math {
        FastMathFlags::all()
    } else {
        FastMathFlags::empty()
    };
    let mut g = Gen {
        ctx,
        module: &module,
        b: ctx.create_builder(),
        f64t: ctx.f64_type(),
        fmf,
        host,
        fns: HashMap::new(),
        vfabi: HashMap::new(),
        variants: Vec::new(),
    };
    g.scalar_entry(tape)?;
    g.bulk_entry(tape)?;
    g.globals(tape);
    drop(g);
    module.verify().map_err(|e| Error::Verify(e.to_string()))?;

    let pbo = PassBuilderOptions::create();
    let vectorize = opts.opt_level >= 2;
    pbo.set_loop_vectorization(vectorize);
    pbo.set_loop_slp_vectorization(vectorize);
    pbo.set_loop_interleaving(vectorize);
    pbo.set_loop_unrolling(vectorize);
    module
        .run_passes(&format!("default<O{}>", opts.opt_level), tm, pbo)
        .map_err(|e| Error::Codegen(e.to_string()))?;
    Ok(module)
}

/// Compile `tape` to a relocatable object file for the host.
pub(crate) fn object(tape: &Tape, opts: &LlvmOptions, host: &'static Host) -> Result<Vec<u8>> {
    let tm = target_machine(host, opts.opt_level)?;
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
    let tm = target_machine(host, opts.opt_level)?;
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
