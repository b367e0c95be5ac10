//! Tape -> Cranelift IR -> machine code.
//!
//! One module per compiled tape holds two functions:
//!
//! - `alkahest_eval_bulk(cols, n_vars, outs, n_points)`: the loop over
//!   points with the tape's body inside it. Input `v` at point `i` is
//!   `cols[v][i]`; output `k` at point `i` goes to `outs[k][i]`, stored as
//!   soon as it is computed. Column pointers are loaded once, before the
//!   loop, when there are few inputs (outputs); otherwise inside the loop.
//!   With more than [`STAGED_ABOVE`] outputs the points run in blocks and
//!   each distinct output register goes to a stack buffer first; each
//!   output's run is copied to its column after the block (see [`Staging`]).
//!   Such a tape's output groups (`alkahest_tape::output_groups`) can also
//!   get one bulk entry each, all in one module ([`compile_groups`]), which
//!   large batches run block by block (see `crate::function`).
//! - `alkahest_eval_scalar(inputs, out)`: writes the `m` outputs to
//!   `out[0..m]`. A trampoline that builds one-point pointer tables on its
//!   stack and calls the bulk entry with `n_points = 1`. The tape's body is thus compiled once, not twice, which
//!   halves compile latency (the reason this tier exists) at the price of a
//!   few nanoseconds per scalar call.
//!
//! The tape is walked iteratively, in register order; nothing recurses over
//! the expression's depth.

use std::sync::OnceLock;

use alkahest_tape::{BinaryFn, CmpOp, Op, Reg, Tape, UnaryFn};
use cranelift_codegen::ir;
use cranelift_codegen::ir::{
    AbiParam, FuncRef, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
    condcodes::{FloatCC, IntCC},
    types,
};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetFrontendConfig};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{DataDescription, FuncId, Linkage, Module, default_libcall_names};

use crate::error::{Error, Result};
use crate::libm::{self, N_CALLEES};

/// Peak number of simultaneously live values (plus inputs and outputs,
/// which the scalar trampoline keeps in pointer tables) accepted. Each spilled value costs
/// 8 bytes of stack frame: 65,536 values is a 512 KiB frame, safe on the
/// 2 MiB stacks Rust gives new threads.
pub const MAX_LIVE: usize = 1 << 16;

/// Inputs (and, separately, outputs) up to this count have their column
/// pointers loaded once before the loop; beyond it they are reloaded per
/// point (an L1 hit) so that hundreds of loop-invariant pointers do not
/// crowd the registers.
const HOIST_LIMIT: usize = 8;

/// Tapes with more outputs than this write them through a staging buffer
/// (see [`Staging`]).
pub(crate) const STAGED_ABOVE: usize = 16;
/// Size the staging buffer aims at: `slots * block * 8` bytes.
const STAGE_BYTES: usize = 32 * 1024;
/// Most points per block.
const MAX_BLOCK: usize = 64;

/// How a tape with many outputs stages them. Storing each output straight
/// to its column makes every point touch `m` far-apart columns (a cache
/// line and a page each), and stores a repeated register (e.g. the zeros
/// of a Jacobian) once per output: 6.5 ns per output value at 3,600
/// outputs. Instead the body stores each *distinct* output register once
/// per point, to its slot of a stack buffer holding a block of points, and
/// after each block a loop over the outputs copies each output's run of
/// points to its column (code size independent of `m`; the slot of each
/// output comes from a constant table).
pub(crate) struct Staging {
    /// Slot of each register that is an output (`u32::MAX` otherwise).
    slot_of_reg: Vec<u32>,
    /// Number of slots (distinct output registers).
    slots: usize,
    /// Points per block.
    block: usize,
    /// Byte offset of each output's slot in the buffer, little-endian u64s.
    table: Vec<u8>,
}

impl Staging {
    fn new(tape: &Tape) -> Option<Staging> {
        if tape.n_outputs() <= STAGED_ABOVE {
            return None;
        }
        let mut slot_of_reg = vec![u32::MAX; tape.ops().len()];
        let mut slots = 0usize;
        for &r in tape.outputs() {
            if slot_of_reg[r as usize] == u32::MAX {
                slot_of_reg[r as usize] = slots as u32;
                slots += 1;
            }
        }
        let block = (STAGE_BYTES / (slots * 8)).clamp(1, MAX_BLOCK);
        let table = tape
            .outputs()
            .iter()
            .flat_map(|&r| (u64::from(slot_of_reg[r as usize]) * (block as u64) * 8).to_le_bytes())
            .collect();
        Some(Staging {
            slot_of_reg,
            slots,
            block,
            table,
        })
    }
}

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
    /// `live[i]`: op `i` contributes to an output.
    live: Vec<bool>,
    /// The ops in the order their code is emitted
    /// ([`alkahest_tape::emission_order`]: independent calls together).
    order: Vec<usize>,
    /// `calls[k]`: a live op calls [`libm::Callee`] `k`.
    calls: [bool; N_CALLEES],
    /// Live ops that are neither inputs nor constants.
    n_compute: usize,
}

/// Compute liveness, the functions called, and register pressure. Linear in
/// the tape's length. The tape is valid by construction ([`Tape::new`]), so
/// nothing about its shape is checked here.
pub(crate) fn plan(tape: &Tape) -> Result<Plan> {
    let ops = tape.ops();
    let n = ops.len();
    let mut calls = [false; N_CALLEES];
    let mut live = vec![false; n];
    let order = alkahest_tape::emission_order(tape, 0, n);
    // pos[i]: where op i's code comes in `order`.
    let mut pos = vec![0usize; n];
    for (p, &i) in order.iter().enumerate() {
        pos[i] = p;
    }
    // Outputs are stored as soon as they are computed, so being an output
    // does not extend a value's lifetime. Positions in emission order.
    let mut last_use: Vec<usize> = pos.clone();
    for &o in tape.outputs() {
        live[o as usize] = true;
    }
    for i in (0..n).rev() {
        if !live[i] {
            continue;
        }
        let op = &ops[i];
        for r in op.operands() {
            live[r as usize] = true;
            let lu = &mut last_use[r as usize];
            *lu = (*lu).max(pos[i]);
        }
        match *op {
            Op::Unary(f, _) if !libm::unary_is_instruction(f) => {
                calls[libm::unary_callee(f)] = true;
            }
            Op::Binary(f, ..) if !libm::binary_is_instruction(f) => {
                calls[libm::binary_callee(f)] = true;
            }
            _ => {}
        }
    }
    // Peak pressure: a value is live from its definition to its last use.
    let mut ends = vec![0u32; n + 1];
    let (mut cur, mut peak) = (0usize, 0usize);
    for (p, &i) in order.iter().enumerate() {
        cur -= ends[p] as usize;
        if live[i] {
            cur += 1;
            peak = peak.max(cur);
            ends[last_use[i].max(p + 1).min(n)] += 1;
        }
    }
    // The scalar trampoline keeps a pointer per input and per output on
    // its stack, below the bulk entry's frame.
    let pressure = peak + tape.n_inputs() + tape.n_outputs();
    if pressure > MAX_LIVE {
        return Err(Error::TooManyLive {
            live: pressure,
            limit: MAX_LIVE,
        });
    }
    let n_compute = (0..n)
        .filter(|&i| live[i] && !matches!(ops[i], Op::Input(_) | Op::Const(_)))
        .count();
    Ok(Plan {
        live,
        order,
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

/// Which register allocator a planned tape gets.
fn regalloc_for(options: &Options, n_compute: usize) -> RegAlloc {
    match options.regalloc {
        RegAlloc::Auto if n_compute > AUTO_SINGLE_PASS_ABOVE => RegAlloc::SinglePass,
        RegAlloc::Auto => RegAlloc::Backtracking,
        r => r,
    }
}

/// A JIT module for the host with the given register allocator.
fn new_module(regalloc: RegAlloc) -> Result<JITModule> {
    let isa = host_isa(regalloc)?;
    // Imports use the C names of the kernel's table; Cranelift's own
    // libcalls (`fma` without the instruction, `floor`/`ceil` without
    // SSE4.1) use the same names. `libm::address` resolves all of them; the
    // lookup added last is tried first, before the default `dlsym`.
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    jb.symbol_lookup_fn(Box::new(libm::address));
    Ok(JITModule::new(jb))
}

/// Run `define` on a fresh module; free the module's memory if it fails.
fn with_module<T>(
    regalloc: RegAlloc,
    define: impl FnOnce(&mut JITModule) -> Result<T>,
) -> Result<(JITModule, T)> {
    let mut module = new_module(regalloc)?;
    match define(&mut module) {
        Ok(t) => Ok((module, t)),
        Err(e) => {
            // SAFETY: no pointer into this module's memory was handed out.
            unsafe { module.free_memory() };
            Err(e)
        }
    }
}

/// Compile a planned tape.
pub(crate) fn compile(tape: &Tape, plan: &Plan, options: &Options) -> Result<Compiled> {
    let regalloc = regalloc_for(options, plan.n_compute);
    let (module, (scalar_id, bulk_id, code_size)) =
        with_module(regalloc, |m| define(m, tape, plan))?;
    Ok(Compiled {
        scalar: module.get_finalized_function(scalar_id),
        bulk: module.get_finalized_function(bulk_id),
        module,
        code_size,
    })
}

/// One module holding a bulk entry per output group (named
/// `alkahest_group{k}`, same signature as `alkahest_eval_bulk`): the
/// grouped batch loop's code (see `crate::function`).
pub(crate) struct CompiledGroups {
    pub module: JITModule,
    pub bulk: Vec<*const u8>,
}

/// Compile each group's tape to a bulk entry, all in one module.
pub(crate) fn compile_groups(
    groups: &[alkahest_tape::OutputGroup],
    options: &Options,
) -> Result<CompiledGroups> {
    let plans = groups
        .iter()
        .map(|g| plan(&g.tape))
        .collect::<Result<Vec<_>>>()?;
    let widest = plans.iter().map(|p| p.n_compute).max().unwrap_or(0);
    let mut calls = [false; N_CALLEES];
    for p in &plans {
        for (c, &used) in calls.iter_mut().zip(&p.calls) {
            *c |= used;
        }
    }
    let (module, ids) = with_module(regalloc_for(options, widest), |m| {
        let imports = declare_imports(m, &calls)?;
        let mut ctx = m.make_context();
        let mut fctx = FunctionBuilderContext::new();
        let mut ids = Vec::with_capacity(groups.len());
        for (k, (g, p)) in groups.iter().zip(&plans).enumerate() {
            let name = format!("alkahest_group{k}");
            let (id, _) = define_bulk(m, &mut ctx, &mut fctx, &g.tape, p, &imports, &name)?;
            ids.push(id);
        }
        m.finalize_definitions()?;
        Ok(ids)
    })?;
    Ok(CompiledGroups {
        bulk: ids
            .into_iter()
            .map(|id| module.get_finalized_function(id))
            .collect(),
        module,
    })
}

/// Declare the libm functions `calls` marks as used.
fn declare_imports(
    module: &mut JITModule,
    calls: &[bool; N_CALLEES],
) -> Result<[Option<FuncId>; N_CALLEES]> {
    let mut imports: [Option<FuncId>; N_CALLEES] = [None; N_CALLEES];
    for (k, import) in imports.iter_mut().enumerate() {
        if !calls[k] {
            continue;
        }
        let (name, arity) = libm::callee_name(k);
        if libm::address(name).is_none() {
            // Never let the loader pick a symbol we did not vet.
            return Err(Error::UnsupportedFunction(name));
        }
        let mut sig = module.make_signature();
        sig.params
            .extend((0..arity).map(|_| AbiParam::new(types::F64)));
        sig.returns.push(AbiParam::new(types::F64));
        *import = Some(module.declare_function(name, Linkage::Import, &sig)?);
    }
    Ok(imports)
}

/// The bulk entry's signature: `(cols, n_vars, outs, n_points)`.
fn bulk_signature(module: &JITModule) -> ir::Signature {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.extend([
        AbiParam::new(ptr),
        AbiParam::new(types::I64),
        AbiParam::new(ptr),
        AbiParam::new(types::I64),
    ]);
    sig
}

/// Declare and define a bulk entry named `name` for `tape`. Returns its id
/// and code size.
fn define_bulk(
    module: &mut JITModule,
    ctx: &mut cranelift_codegen::Context,
    fctx: &mut FunctionBuilderContext,
    tape: &Tape,
    plan: &Plan,
    imports: &[Option<FuncId>; N_CALLEES],
    name: &str,
) -> Result<(FuncId, usize)> {
    let fc = module.target_config();
    let sig = bulk_signature(module);
    let id = module.declare_function(name, Linkage::Local, &sig)?;
    ctx.func.signature = sig;
    let mut refs: [Option<FuncRef>; N_CALLEES] = [None; N_CALLEES];
    for (k, import) in imports.iter().enumerate() {
        if let Some(import) = *import {
            refs[k] = Some(module.declare_func_in_func(import, &mut ctx.func));
        }
    }
    let staging = Staging::new(tape);
    let table = match &staging {
        Some(st) => {
            let data = module.declare_anonymous_data(false, false)?;
            let mut desc = DataDescription::new();
            desc.define(st.table.clone().into_boxed_slice());
            module.define_data(data, &desc)?;
            Some((st, module.declare_data_in_func(data, &mut ctx.func)))
        }
        None => None,
    };
    build_bulk(&mut ctx.func, fctx, tape, plan, &refs, fc, table);
    module.define_function(id, ctx)?;
    let size = ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
    module.clear_context(ctx);
    Ok((id, size))
}

fn define(module: &mut JITModule, tape: &Tape, plan: &Plan) -> Result<(FuncId, FuncId, usize)> {
    let fc = module.target_config();
    let ptr = fc.pointer_type();
    let imports = declare_imports(module, &plan.calls)?;
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    // alkahest_eval_bulk(cols, n_vars, outs, n_points)
    let (bulk_id, mut code_size) = define_bulk(
        module,
        &mut ctx,
        &mut fctx,
        tape,
        plan,
        &imports,
        "alkahest_eval_bulk",
    )?;
    // alkahest_eval_scalar(inputs, out)
    let mut scalar_sig = module.make_signature();
    scalar_sig
        .params
        .extend([AbiParam::new(ptr), AbiParam::new(ptr)]);
    let scalar_id = module.declare_function("alkahest_eval_scalar", Linkage::Local, &scalar_sig)?;
    ctx.func.signature = scalar_sig;
    let bulk_ref = module.declare_func_in_func(bulk_id, &mut ctx.func);
    build_scalar(
        &mut ctx.func,
        &mut fctx,
        tape.n_inputs(),
        tape.n_outputs(),
        bulk_ref,
        fc,
    );
    module.define_function(scalar_id, &mut ctx)?;
    code_size += ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
    module.clear_context(&mut ctx);

    module.finalize_definitions()?;
    Ok((scalar_id, bulk_id, code_size))
}

/// The Cranelift condition for a comparison: ordered for all but `Ne`,
/// which is unordered-or-not-equal, so that a NaN operand makes every
/// comparison false except `Ne` (IEEE, as [`CmpOp::test`]).
fn float_cc(k: CmpOp) -> FloatCC {
    match k {
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
    }
}

/// The body of `alkahest_eval_bulk`: for each point `i < n_points`, load
/// `cols[v][i]`, run the live ops, and store output `k` to `outs[k][i]` as
/// soon as its register is computed. Does nothing when `n_vars` differs
/// from the tape's input count.
fn build_bulk(
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    tape: &Tape,
    plan: &Plan,
    refs: &[Option<FuncRef>; N_CALLEES],
    fc: TargetFrontendConfig,
    staging: Option<(&Staging, ir::GlobalValue)>,
) {
    let ptr = fc.pointer_type();
    let (n_inputs, ops, outputs) = (tape.n_inputs(), tape.ops(), tape.outputs());
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    let pre = b.create_block();
    let body = b.create_block();
    let exit = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.append_block_param(body, types::I64);
    if staging.is_some() {
        // body(i, i0, end): point `i` of the block `i0..end`.
        b.append_block_param(body, types::I64);
        b.append_block_param(body, types::I64);
    }

    // entry: run only when the caller's variable count matches and there is
    // at least one point.
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let (cols, n_vars, outs, n_points) = (p[0], p[1], p[2], p[3]);
    let vars_ok = b.ins().icmp_imm_u(IntCC::Equal, n_vars, n_inputs as i64);
    let has_points = b.ins().icmp_imm_u(IntCC::NotEqual, n_points, 0i64);
    let go = b.ins().band(vars_ok, has_points);
    b.ins().brif(go, pre, &[], exit, &[]);
    b.seal_block(entry);

    // pre: hoist the column pointers of used inputs and of the outputs.
    let flags = MemFlagsData::new().with_notrap();
    b.switch_to_block(pre);
    b.seal_block(pre);
    let mut colp: Vec<Option<Value>> = vec![None; n_inputs];
    if n_inputs <= HOIST_LIMIT {
        for (v, c) in colp.iter_mut().enumerate() {
            if plan.live[v] {
                *c = Some(b.ins().load(ptr, flags, cols, (v * 8) as i32));
            }
        }
    }
    let mut outp: Vec<Option<Value>> = vec![None; outputs.len()];
    if outputs.len() <= HOIST_LIMIT {
        for (k, o) in outp.iter_mut().enumerate() {
            *o = Some(b.ins().load(ptr, flags, outs, (k * 8) as i32));
        }
    }
    let zero = b.ins().iconst(types::I64, 0);
    // The staging buffer, the slot table, and the first block's end.
    let stage = staging.map(|(st, gv)| {
        let slot = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (st.slots * st.block * 8) as u32,
            3,
        ));
        let buf = b.ins().stack_addr(ptr, slot, 0);
        let table = b.ins().symbol_value(ptr, gv);
        let block = b.ins().iconst(types::I64, st.block as i64);
        (st, buf, table, block)
    });
    match stage {
        Some((_, _, _, block)) => {
            let end = b.ins().umin(n_points, block);
            b.ins().jump(body, &[zero.into(), zero.into(), end.into()]);
        }
        None => {
            b.ins().jump(body, &[zero.into()]);
        }
    }

    // (register, output) pairs by register: each register's outputs are
    // stored right after it is computed.
    let mut stores: Vec<(usize, usize)> = outputs
        .iter()
        .enumerate()
        .map(|(k, &r)| (r as usize, k))
        .collect();
    stores.sort_unstable();

    // body(i): one point.
    b.switch_to_block(body);
    let i = b.block_params(body)[0];
    let offset = b.ins().ishl_imm_u(i, 3i64);
    // Staged: this point's place in every slot, `buf + (i - i0) * 8`.
    let staged_at = stage.map(|(_, buf, _, _)| {
        let i0 = b.block_params(body)[1];
        let t = b.ins().isub(i, i0);
        let t8 = b.ins().ishl_imm_u(t, 3i64);
        b.ins().iadd(buf, t8)
    });
    let mut slot_done = vec![false; stage.map_or(0, |(st, ..)| st.slots)];
    let mut vals: Vec<Option<Value>> = vec![None; ops.len()];
    // The i8 truth value behind each live `Cmp` register, so that a
    // `Select` on a comparison tests it directly.
    let mut truth: Vec<Option<Value>> = vec![None; ops.len()];
    // Operands precede their users (a `Tape` guarantees it) and are live
    // when their user is, so they have a value by the time they are read.
    let get = |vals: &[Option<Value>], r: Reg| {
        vals[r as usize].expect("a live op's operands are computed before it")
    };
    let call = |b: &mut FunctionBuilder<'_>, k: libm::Callee, args: &[Value]| {
        let f = refs[k].expect("the plan imports every function a live op calls");
        let inst = b.ins().call(f, args);
        b.inst_results(inst)[0]
    };
    for &k in &plan.order {
        if !plan.live[k] {
            continue;
        }
        let v = match ops[k] {
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
                let a = get(&vals, a);
                b.ins().fneg(a)
            }
            Op::Add(x, y) => {
                let (x, y) = (get(&vals, x), get(&vals, y));
                b.ins().fadd(x, y)
            }
            Op::Sub(x, y) => {
                let (x, y) = (get(&vals, x), get(&vals, y));
                b.ins().fsub(x, y)
            }
            Op::Mul(x, y) => {
                let (x, y) = (get(&vals, x), get(&vals, y));
                b.ins().fmul(x, y)
            }
            Op::Div(x, y) => {
                let (x, y) = (get(&vals, x), get(&vals, y));
                b.ins().fdiv(x, y)
            }
            Op::Unary(f, a) => {
                let a = get(&vals, a);
                // Instructions with the reference's exact IEEE result (keep
                // in step with `libm::unary_is_instruction`); the rest call
                // the libm symbol named in the kernel's table.
                match f {
                    UnaryFn::Sqrt => b.ins().sqrt(a),
                    UnaryFn::Abs => b.ins().fabs(a),
                    UnaryFn::Floor => b.ins().floor(a),
                    UnaryFn::Ceil => b.ins().ceil(a),
                    _ => call(&mut b, libm::unary_callee(f), &[a]),
                }
            }
            Op::Binary(f, x, y) => {
                let (x, y) = (get(&vals, x), get(&vals, y));
                match f {
                    // Cranelift's fmin/fmax are the Wasm operators: NaN if
                    // either operand is NaN, and -0 < +0 (tests check both).
                    BinaryFn::Min => b.ins().fmin(x, y),
                    BinaryFn::Max => b.ins().fmax(x, y),
                    // Sign-bit transfer: exact, NaN operands included.
                    BinaryFn::Copysign => b.ins().fcopysign(x, y),
                    _ => call(&mut b, libm::binary_callee(f), &[x, y]),
                }
            }
            Op::Fma(x, y, z) => {
                let (x, y, z) = (get(&vals, x), get(&vals, y), get(&vals, z));
                b.ins().fma(x, y, z)
            }
            Op::Cmp(cmp, x, y) => {
                let (x, y) = (get(&vals, x), get(&vals, y));
                let t = b.ins().fcmp(float_cc(cmp), x, y);
                truth[k] = Some(t);
                let (one, zero) = (b.ins().f64const(1.0), b.ins().f64const(0.0));
                b.ins().select(t, one, zero)
            }
            Op::Select(c, x, y) => {
                // `c != 0.0` (unordered-or-not-equal: NaN selects `x`, as
                // the reference's `select`); a comparison's own truth value
                // is the same test, already computed.
                let t = match truth[c as usize] {
                    Some(t) => t,
                    None => {
                        let c = get(&vals, c);
                        let zero = b.ins().f64const(0.0);
                        b.ins().fcmp(FloatCC::NotEqual, c, zero)
                    }
                };
                let (x, y) = (get(&vals, x), get(&vals, y));
                b.ins().select(t, x, y)
            }
        };
        vals[k] = Some(v);
        // Store the outputs held in this register (one register may be
        // several outputs).
        if let (Some((st, ..)), Some(at)) = (stage, staged_at) {
            // One store per distinct output register.
            let slot = st.slot_of_reg[k];
            if slot != u32::MAX && !slot_done[slot as usize] {
                slot_done[slot as usize] = true;
                let off = (slot as usize * st.block * 8) as i32;
                b.ins().store(flags, v, at, off);
            }
            continue;
        }
        let first = stores.partition_point(|&(r, _)| r < k);
        for &(_, out) in stores[first..].iter().take_while(|&&(r, _)| r == k) {
            let base = match outp[out] {
                Some(o) => o,
                None => b.ins().load(ptr, flags, outs, (out * 8) as i32),
            };
            let dst = b.ins().iadd(base, offset);
            b.ins().store(flags, v, dst, 0);
        }
    }
    let next = b.ins().iadd_imm_u(i, 1i64);
    let Some((_, buf, table, block)) = stage else {
        let more = b.ins().icmp(IntCC::UnsignedLessThan, next, n_points);
        b.ins().brif(more, body, &[next.into()], exit, &[]);
        b.seal_block(body);
        b.switch_to_block(exit);
        b.seal_block(exit);
        b.ins().return_(&[]);
        b.finalize(fc);
        return;
    };
    // The block's end: copy it out, output by output.
    let (i0, end) = (b.block_params(body)[1], b.block_params(body)[2]);
    let (copy_k, copy_t, copy_next, after) = (
        b.create_block(),
        b.create_block(),
        b.create_block(),
        b.create_block(),
    );
    b.append_block_param(copy_k, types::I64);
    b.append_block_param(copy_t, types::I64);
    b.append_block_param(copy_next, types::I64);
    let (flush, copy_one) = (b.create_block(), b.create_block());
    b.append_block_param(copy_one, types::I64);
    let more = b.ins().icmp(IntCC::UnsignedLessThan, next, end);
    b.ins().brif(
        more,
        body,
        &[next.into(), i0.into(), end.into()],
        flush,
        &[],
    );

    // A one-point block (the scalar entry's call) copies without the
    // inner loop.
    b.switch_to_block(flush);
    b.seal_block(flush);
    let cnt = b.ins().isub(end, i0);
    let single = b.ins().icmp_imm_u(IntCC::Equal, cnt, 1i64);
    b.ins()
        .brif(single, copy_one, &[zero.into()], copy_k, &[zero.into()]);

    // copy_one(k): output `k`'s one point.
    b.switch_to_block(copy_one);
    let k = b.block_params(copy_one)[0];
    let k8 = b.ins().ishl_imm_u(k, 3i64);
    let entry_at = b.ins().iadd(table, k8);
    let slot_off = b.ins().load(types::I64, flags, entry_at, 0);
    let src = b.ins().iadd(buf, slot_off);
    let bits = b.ins().load(types::I64, flags, src, 0);
    let col_at = b.ins().iadd(outs, k8);
    let col = b.ins().load(ptr, flags, col_at, 0);
    let i0_8 = b.ins().ishl_imm_u(i0, 3i64);
    let dst = b.ins().iadd(col, i0_8);
    b.ins().store(flags, bits, dst, 0);
    let k_next = b.ins().iadd_imm_u(k, 1i64);
    let more_k = b
        .ins()
        .icmp_imm_u(IntCC::UnsignedLessThan, k_next, outputs.len() as i64);
    b.ins().brif(more_k, copy_one, &[k_next.into()], after, &[]);
    b.seal_block(copy_one);

    // copy_k(k): output `k`'s points `i0..end` from its slot to its column.
    b.switch_to_block(copy_k);
    let k = b.block_params(copy_k)[0];
    let k8 = b.ins().ishl_imm_u(k, 3i64);
    let entry_at = b.ins().iadd(table, k8);
    let slot_off = b.ins().load(types::I64, flags, entry_at, 0);
    let src = b.ins().iadd(buf, slot_off);
    let col_at = b.ins().iadd(outs, k8);
    let col = b.ins().load(ptr, flags, col_at, 0);
    let i0_8 = b.ins().ishl_imm_u(i0, 3i64);
    let dst = b.ins().iadd(col, i0_8);
    let t0 = b.ins().iconst(types::I64, 0);
    b.ins().jump(copy_t, &[t0.into()]);

    // copy_t(t): one value, as raw bits.
    b.switch_to_block(copy_t);
    let t = b.block_params(copy_t)[0];
    let t8 = b.ins().ishl_imm_u(t, 3i64);
    let from = b.ins().iadd(src, t8);
    let to = b.ins().iadd(dst, t8);
    let bits = b.ins().load(types::I64, flags, from, 0);
    b.ins().store(flags, bits, to, 0);
    let t_next = b.ins().iadd_imm_u(t, 1i64);
    let more_t = b.ins().icmp(IntCC::UnsignedLessThan, t_next, cnt);
    b.ins()
        .brif(more_t, copy_t, &[t_next.into()], copy_next, &[k.into()]);
    b.seal_block(copy_t);

    b.switch_to_block(copy_next);
    let k = b.block_params(copy_next)[0];
    let k_next = b.ins().iadd_imm_u(k, 1i64);
    let more_k = b
        .ins()
        .icmp_imm_u(IntCC::UnsignedLessThan, k_next, outputs.len() as i64);
    b.ins().brif(more_k, copy_k, &[k_next.into()], after, &[]);
    b.seal_block(copy_next);
    b.seal_block(copy_k);

    // The next block, if any.
    b.switch_to_block(after);
    b.seal_block(after);
    let more_pts = b.ins().icmp(IntCC::UnsignedLessThan, end, n_points);
    let next_end = b.ins().iadd(end, block);
    let next_end = b.ins().umin(next_end, n_points);
    b.ins().brif(
        more_pts,
        body,
        &[end.into(), end.into(), next_end.into()],
        exit,
        &[],
    );
    b.seal_block(body);

    b.switch_to_block(exit);
    b.seal_block(exit);
    b.ins().return_(&[]);
    b.finalize(fc);
}

/// `alkahest_eval_scalar(inputs, out)`: builds one-point pointer tables on
/// its stack (`&inputs[v]` per input, `&out[k]` per output) and calls the
/// bulk entry with `n_points = 1`.
fn build_scalar(
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    n_inputs: usize,
    n_outputs: usize,
    bulk: FuncRef,
    fc: TargetFrontendConfig,
) {
    let ptr = fc.pointer_type();
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let (inputs, out) = (b.block_params(entry)[0], b.block_params(entry)[1]);
    let table = |b: &mut FunctionBuilder<'_>, base: Value, n: usize| {
        let slot = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (n.max(1) * 8) as u32,
            3,
        ));
        for v in 0..n {
            let p = b.ins().iadd_imm_u(base, (v * 8) as i64);
            b.ins().stack_store(ptr, p, slot, (v * 8) as i32);
        }
        b.ins().stack_addr(ptr, slot, 0)
    };
    let tab = table(&mut b, inputs, n_inputs);
    let outs = table(&mut b, out, n_outputs);
    let nv = b.ins().iconst(types::I64, n_inputs as i64);
    let one = b.ins().iconst(types::I64, 1);
    b.ins().call(bulk, &[tab, nv, outs, one]);
    b.ins().return_(&[]);
    b.finalize(fc);
}
