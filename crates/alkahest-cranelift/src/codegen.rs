//! Tape -> Cranelift IR -> machine code.
//!
//! One module per compiled tape holds two functions:
//!
//! - `alkahest_eval_bulk(cols, n_vars, out, n_points)`: the loop over points
//!   with the tape's body inside it. Column pointers are loaded once, before
//!   the loop, when there are few inputs; otherwise inside the loop.
//! - `alkahest_eval_scalar(inputs) -> f64`: a trampoline that builds a
//!   one-point pointer table on its stack and calls the bulk entry with
//!   `n_points = 1`. The tape's body is thus compiled once, not twice, which
//!   halves compile latency (the reason this tier exists) at the price of a
//!   few nanoseconds per scalar call.
//!
//! The tape is walked iteratively, in register order; nothing recurses over
//! the expression's depth.

use std::sync::OnceLock;

use alkahest_kernel::{BinaryFn, Op, Tape};
use cranelift_codegen::ir;
use cranelift_codegen::ir::{
    AbiParam, FuncRef, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
    condcodes::IntCC, types,
};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetFrontendConfig};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};

use crate::error::{Error, Result};
use crate::libm::{self, N_SYMBOLS, UnaryLowering};

/// Peak number of simultaneously live values (plus inputs, which the scalar
/// trampoline keeps in a pointer table) accepted. Each spilled value costs
/// 8 bytes of stack frame: 65,536 values is a 512 KiB frame, safe on the
/// 2 MiB stacks Rust gives new threads.
pub const MAX_LIVE: usize = 1 << 16;

/// Inputs up to this count have their column pointers loaded once before
/// the loop; beyond it they are reloaded per point (an L1 hit) so that
/// hundreds of loop-invariant pointers do not crowd the registers.
const HOIST_LIMIT: usize = 8;

/// Register allocator choice.
///
/// Register allocation dominates Cranelift's compile time on large
/// expressions. Measured on a 32k-op random DAG: backtracking ~0.45 s,
/// single-pass ~0.11 s (4x faster) for code ~30% larger and up to ~40%
/// slower per point. On small tapes the two compile equally fast.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RegAlloc {
    /// Backtracking up to [`AUTO_SINGLE_PASS_ABOVE`] compute ops, single-pass beyond.
    #[default]
    Auto,
    /// Cranelift's backtracking allocator with range splitting: better code.
    Backtracking,
    /// Cranelift's single-pass allocator: fastest compile, more spills.
    SinglePass,
}

/// [`RegAlloc::Auto`] switches to the single-pass allocator for tapes with
/// more compute ops (non-input, non-constant) than this.
pub const AUTO_SINGLE_PASS_ABOVE: usize = 2048;

/// Compile settings.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Which register allocator to use.
    pub regalloc: RegAlloc,
}

/// What the code generator learned about a tape before emitting code.
pub(crate) struct Plan {
    /// `live[i]`: op `i` contributes to the output.
    live: Vec<bool>,
    /// Symbols (indices into [`libm::symbols`]) the live ops call.
    calls: [bool; N_SYMBOLS],
    /// Live ops that are neither inputs nor constants.
    n_compute: usize,
}

/// Check the tape's invariants and compute liveness. Linear in its length.
pub(crate) fn plan(tape: &Tape) -> Result<Plan> {
    let n = tape.ops.len();
    if n > u32::MAX as usize {
        return Err(Error::InvalidTape(format!(
            "{n} ops exceed the 2^32 register space"
        )));
    }
    if (tape.output as usize) >= n {
        return Err(Error::InvalidTape(format!(
            "output register {} is not among the {n} ops",
            tape.output
        )));
    }
    if tape.n_inputs > n {
        return Err(Error::InvalidTape(format!(
            "{} inputs declared but only {n} ops",
            tape.n_inputs
        )));
    }
    let mut calls = [false; N_SYMBOLS];
    for (i, op) in tape.ops.iter().enumerate() {
        if i < tape.n_inputs && *op != Op::Input(i as u32) {
            return Err(Error::InvalidTape(format!(
                "op {i} is {op:?}, expected Input({i})"
            )));
        }
        if let Op::Input(v) = *op
            && v as usize >= tape.n_inputs
        {
            return Err(Error::InvalidTape(format!(
                "op {i} reads input {v} of {}",
                tape.n_inputs
            )));
        }
        if let Some(r) = op.operands().find(|&r| r as usize >= i) {
            return Err(Error::InvalidTape(format!(
                "op {i} reads register {r}, which is not defined before it"
            )));
        }
    }
    let mut live = vec![false; n];
    live[tape.output as usize] = true;
    let mut last_use = vec![0usize; n];
    last_use[tape.output as usize] = n;
    for i in (0..n).rev() {
        if !live[i] {
            continue;
        }
        let op = &tape.ops[i];
        for r in op.operands() {
            live[r as usize] = true;
            let lu = &mut last_use[r as usize];
            *lu = (*lu).max(i);
        }
        match *op {
            Op::Unary(f, _) => {
                if let UnaryLowering::Call(k) = libm::unary(f) {
                    calls[k] = true;
                }
            }
            Op::Binary(f, ..) => {
                if let Some(k) = libm::binary(f) {
                    calls[k] = true;
                }
            }
            _ => {}
        }
    }
    // Peak pressure: a value is live from its definition to its last use.
    let mut ends = vec![0u32; n + 1];
    let (mut cur, mut peak) = (0usize, 0usize);
    for i in 0..n {
        cur -= ends[i] as usize;
        if live[i] {
            cur += 1;
            peak = peak.max(cur);
            ends[last_use[i].max(i + 1).min(n)] += 1;
        }
    }
    let pressure = peak + tape.n_inputs;
    if pressure > MAX_LIVE {
        return Err(Error::TooManyLive {
            live: pressure,
            limit: MAX_LIVE,
        });
    }
    let n_compute = (0..n)
        .filter(|&i| live[i] && !matches!(tape.ops[i], Op::Input(_) | Op::Const(_)))
        .count();
    Ok(Plan {
        live,
        calls,
        n_compute,
    })
}

/// The host ISA with the given register allocator, detected once per process.
fn host_isa(regalloc: RegAlloc) -> Result<OwnedTargetIsa> {
    type Cached = OnceLock<std::result::Result<OwnedTargetIsa, String>>;
    static BACKTRACKING: Cached = OnceLock::new();
    static SINGLE_PASS: Cached = OnceLock::new();
    let cell = match regalloc {
        RegAlloc::SinglePass => &SINGLE_PASS,
        RegAlloc::Backtracking | RegAlloc::Auto => &BACKTRACKING,
    };
    cell.get_or_init(|| build_isa(regalloc).map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::UnsupportedHost)
}

fn build_isa(regalloc: RegAlloc) -> Result<OwnedTargetIsa> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed")?;
    // cranelift-jit requires absolute addressing and far calls.
    flags.set("is_pic", "false")?;
    flags.set("use_colocated_libcalls", "false")?;
    // The IR verifier costs compile time; keep it for debug builds (tests).
    flags.set(
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    // Huge expressions can spill into large frames: probe them inline so an
    // overflow hits the guard page instead of skipping past it.
    flags.set("enable_probestack", "true")?;
    flags.set("probestack_strategy", "inline")?;
    flags.set(
        "regalloc_algorithm",
        match regalloc {
            RegAlloc::SinglePass => "single_pass",
            RegAlloc::Backtracking | RegAlloc::Auto => "backtracking",
        },
    )?;
    let isa_builder = cranelift_native::builder().map_err(|m| Error::UnsupportedHost(m.into()))?;
    isa_builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| Error::UnsupportedHost(e.to_string()))
}

/// A finished module and the addresses of its two entry points.
pub(crate) struct Compiled {
    pub module: JITModule,
    pub scalar: *const u8,
    pub bulk: *const u8,
    pub code_size: usize,
}

/// Compile a planned tape.
pub(crate) fn compile(tape: &Tape, plan: &Plan, options: &Options) -> Result<Compiled> {
    let regalloc = match options.regalloc {
        RegAlloc::Auto if plan.n_compute > AUTO_SINGLE_PASS_ABOVE => RegAlloc::SinglePass,
        RegAlloc::Auto => RegAlloc::Backtracking,
        r => r,
    };
    let isa = host_isa(regalloc)?;
    let names = default_libcall_names();
    let mut jb = JITBuilder::with_isa(
        isa,
        Box::new(move |lc| match lc {
            // Without a hardware FMA, Cranelift lowers `fma` to this libcall:
            // route it to the same `f64::mul_add` the interpreter uses.
            ir::LibCall::FmaF64 => "alkahest_fma".to_owned(),
            other => names(other),
        }),
    );
    let table = libm::symbols();
    jb.symbols(table.iter().map(|&(name, ptr, _)| (name, ptr)));
    let mut module = JITModule::new(jb);
    // From here on, an early return must free the module's memory.
    match define(&mut module, tape, plan) {
        Ok((scalar_id, bulk_id, code_size)) => Ok(Compiled {
            scalar: module.get_finalized_function(scalar_id),
            bulk: module.get_finalized_function(bulk_id),
            module,
            code_size,
        }),
        Err(e) => {
            // SAFETY: no pointer into this module's memory was handed out.
            unsafe { module.free_memory() };
            Err(e)
        }
    }
}

fn define(module: &mut JITModule, tape: &Tape, plan: &Plan) -> Result<(FuncId, FuncId, usize)> {
    let fc = module.target_config();
    let ptr = fc.pointer_type();
    let table = libm::symbols();
    let mut imports: [Option<FuncId>; N_SYMBOLS] = [None; N_SYMBOLS];
    for (k, &(name, _, arity)) in table.iter().enumerate() {
        if plan.calls[k] {
            let mut sig = module.make_signature();
            sig.params
                .extend((0..arity).map(|_| AbiParam::new(types::F64)));
            sig.returns.push(AbiParam::new(types::F64));
            imports[k] = Some(module.declare_function(name, Linkage::Import, &sig)?);
        }
    }

    let mut bulk_sig = module.make_signature();
    bulk_sig.params.extend([
        AbiParam::new(ptr),
        AbiParam::new(types::I64),
        AbiParam::new(ptr),
        AbiParam::new(types::I64),
    ]);
    let bulk_id = module.declare_function("alkahest_eval_bulk", Linkage::Local, &bulk_sig)?;
    let mut scalar_sig = module.make_signature();
    scalar_sig.params.push(AbiParam::new(ptr));
    scalar_sig.returns.push(AbiParam::new(types::F64));
    let scalar_id = module.declare_function("alkahest_eval_scalar", Linkage::Local, &scalar_sig)?;

    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut code_size = 0;

    ctx.func.signature = bulk_sig;
    let mut refs: [Option<FuncRef>; N_SYMBOLS] = [None; N_SYMBOLS];
    for (k, id) in imports.iter().enumerate() {
        if let Some(id) = *id {
            refs[k] = Some(module.declare_func_in_func(id, &mut ctx.func));
        }
    }
    build_bulk(&mut ctx.func, &mut fctx, tape, plan, &refs, fc)?;
    module.define_function(bulk_id, &mut ctx)?;
    code_size += ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
    module.clear_context(&mut ctx);

    ctx.func.signature = scalar_sig;
    let bulk_ref = module.declare_func_in_func(bulk_id, &mut ctx.func);
    build_scalar(&mut ctx.func, &mut fctx, tape.n_inputs, bulk_ref, fc);
    module.define_function(scalar_id, &mut ctx)?;
    code_size += ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
    module.clear_context(&mut ctx);

    module.finalize_definitions()?;
    Ok((scalar_id, bulk_id, code_size))
}

fn build_bulk(
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    tape: &Tape,
    plan: &Plan,
    refs: &[Option<FuncRef>; N_SYMBOLS],
    fc: TargetFrontendConfig,
) -> Result<()> {
    let ptr = fc.pointer_type();
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    let pre = b.create_block();
    let body = b.create_block();
    let exit = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.append_block_param(body, types::I64);

    // entry: run only when the caller's variable count matches and there is
    // at least one point.
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let (cols, n_vars, out, n_points) = (p[0], p[1], p[2], p[3]);
    let vars_ok = b
        .ins()
        .icmp_imm_u(IntCC::Equal, n_vars, tape.n_inputs as i64);
    let has_points = b.ins().icmp_imm_u(IntCC::NotEqual, n_points, 0i64);
    let go = b.ins().band(vars_ok, has_points);
    b.ins().brif(go, pre, &[], exit, &[]);
    b.seal_block(entry);

    // pre: hoist the column pointers of used inputs.
    let flags = MemFlagsData::new().with_notrap();
    let used = |v: usize| plan.live[v];
    let hoist = tape.n_inputs <= HOIST_LIMIT;
    b.switch_to_block(pre);
    b.seal_block(pre);
    let mut colp: Vec<Option<Value>> = vec![None; tape.n_inputs];
    if hoist {
        for (v, c) in colp.iter_mut().enumerate() {
            if used(v) {
                *c = Some(b.ins().load(ptr, flags, cols, (v * 8) as i32));
            }
        }
    }
    let zero = b.ins().iconst(types::I64, 0);
    b.ins().jump(body, &[zero.into()]);

    // body(i): one point.
    b.switch_to_block(body);
    let i = b.block_params(body)[0];
    let offset = b.ins().ishl_imm_u(i, 3i64);
    let mut vals: Vec<Option<Value>> = vec![None; tape.ops.len()];
    let get = |vals: &[Option<Value>], r: u32| {
        vals[r as usize].ok_or_else(|| Error::InvalidTape(format!("register {r} undefined")))
    };
    for (k, op) in tape.ops.iter().enumerate() {
        if !plan.live[k] {
            continue;
        }
        let v = match *op {
            Op::Input(var) => {
                let var = var as usize;
                let base = match colp[var] {
                    Some(c) => c,
                    None => b.ins().load(ptr, flags, cols, (var * 8) as i32),
                };
                let addr = b.ins().iadd(base, offset);
                b.ins().load(types::F64, flags, addr, 0)
            }
            Op::Const(c) => b.ins().f64const(c),
            Op::Neg(a) => {
                let a = get(&vals, a)?;
                b.ins().fneg(a)
            }
            Op::Add(x, y) => {
                let (x, y) = (get(&vals, x)?, get(&vals, y)?);
                b.ins().fadd(x, y)
            }
            Op::Sub(x, y) => {
                let (x, y) = (get(&vals, x)?, get(&vals, y)?);
                b.ins().fsub(x, y)
            }
            Op::Mul(x, y) => {
                let (x, y) = (get(&vals, x)?, get(&vals, y)?);
                b.ins().fmul(x, y)
            }
            Op::Div(x, y) => {
                let (x, y) = (get(&vals, x)?, get(&vals, y)?);
                b.ins().fdiv(x, y)
            }
            Op::Unary(f, a) => {
                let a = get(&vals, a)?;
                match libm::unary(f) {
                    UnaryLowering::Sqrt => b.ins().sqrt(a),
                    UnaryLowering::Abs => b.ins().fabs(a),
                    UnaryLowering::Call(s) => call(&mut b, refs[s], &[a])?,
                }
            }
            Op::Binary(f, x, y) => {
                let (x, y) = (get(&vals, x)?, get(&vals, y)?);
                match f {
                    // Cranelift's fmin/fmax are the Wasm operators: NaN if
                    // either operand is NaN, and -0 < +0 (tests check both).
                    BinaryFn::Min => b.ins().fmin(x, y),
                    BinaryFn::Max => b.ins().fmax(x, y),
                    BinaryFn::Atan2 | BinaryFn::Hypot | BinaryFn::Pow => {
                        let s = libm::binary(f).unwrap_or(usize::MAX);
                        call(&mut b, refs.get(s).copied().flatten(), &[x, y])?
                    }
                }
            }
            Op::Fma(x, y, z) => {
                let (x, y, z) = (get(&vals, x)?, get(&vals, y)?, get(&vals, z)?);
                b.ins().fma(x, y, z)
            }
        };
        vals[k] = Some(v);
    }
    let result = get(&vals, tape.output)?;
    let dst = b.ins().iadd(out, offset);
    b.ins().store(flags, result, dst, 0);
    let next = b.ins().iadd_imm_u(i, 1i64);
    let more = b.ins().icmp(IntCC::UnsignedLessThan, next, n_points);
    b.ins().brif(more, body, &[next.into()], exit, &[]);
    b.seal_block(body);

    b.switch_to_block(exit);
    b.seal_block(exit);
    b.ins().return_(&[]);
    b.finalize(fc);
    Ok(())
}

/// Emit a call to an imported native function and return its result.
fn call(b: &mut FunctionBuilder<'_>, f: Option<FuncRef>, args: &[Value]) -> Result<Value> {
    let f = f.ok_or_else(|| Error::InvalidTape("call to an undeclared function".into()))?;
    let inst = b.ins().call(f, args);
    Ok(b.inst_results(inst)[0])
}

fn build_scalar(
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    n_inputs: usize,
    bulk: FuncRef,
    fc: TargetFrontendConfig,
) {
    let ptr = fc.pointer_type();
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let inputs = b.block_params(entry)[0];
    let table = b.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        (n_inputs.max(1) * 8) as u32,
        3,
    ));
    let out = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
    for v in 0..n_inputs {
        let col = b.ins().iadd_imm_u(inputs, (v * 8) as i64);
        b.ins().stack_store(ptr, col, table, (v * 8) as i32);
    }
    let tab = b.ins().stack_addr(ptr, table, 0);
    let outp = b.ins().stack_addr(ptr, out, 0);
    let nv = b.ins().iconst(types::I64, n_inputs as i64);
    let one = b.ins().iconst(types::I64, 1);
    b.ins().call(bulk, &[tab, nv, outp, one]);
    let r = b.ins().stack_load(ptr, types::F64, out, 0);
    b.ins().return_(&[r]);
    b.finalize(fc);
}
