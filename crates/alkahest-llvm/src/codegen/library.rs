//! The process's library of the batch loop's own vector routines (`pow`,
//! `fmod`, `lgamma`, `tgamma`: the `routine` module).
//!
//! A tape's module does not contain these routines: it calls each through
//! a cell, a global holding the routine's address, named after the
//! routine, its width and the loop's lanes (`Routine::symbol`). Loading the
//! object (`LlvmFn::load`) binds each name to the library's cell, building
//! the routine on first use in the process at the loading tape's
//! code-generation level (the cheapest for an object from `load_object`),
//! as a tape's module would have. [`upgrade`] (run by the compile crate's
//! background builds) then builds one at level 0 again at full level and
//! swaps the cell: calls in flight finish on the old code, which stays
//! mapped, like every build, for the life of the process. Two gains over a
//! copy in every module:
//!
//! * speed: a tape's module is compiled at level 0 below ~2M planned
//!   evaluations (call-bound tapes), where these routines ran 6-15%
//!   slower than at level 3 (`pow` 2.45 -> 2.19 ns a point, `lgamma` 2.8 ->
//!   2.53, `tgamma` 6.3 -> 5.5);
//! * compile time: each routine is code-generated once per process instead
//!   of in every module that uses it (`pow(x, y)` 2.7-2.8 -> 1.3 ms,
//!   `tgamma(x)` 4.5 -> 1.3, issue 17's mixed formula 5.0 -> 3.6).
//!
//! The bits are the same at every level: the routines carry no fast-math
//! flags, so swapping the cell never changes a result. Objects meant for a
//! disk cache are built with `LlvmOptions::routine_library` off and carry
//! their routines themselves: a fresh process loading one would otherwise
//! run the code generator for them (1.3 -> 5.6 ms for `x**y + sin(x)`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::targets::{FileType, TargetMachine};
use inkwell::values::FastMathFlags;

use super::Gen;
use super::machine::cached_machine;
use super::plan::Plan;
use super::routine::Routine;
use crate::error::{Error, Result};
use crate::host::Host;

/// Prefix of every library symbol.
pub(crate) const PREFIX: &str = "alkahest_rt_";

/// One routine of the library.
struct Entry {
    /// The cell tapes' code calls through: the routine's current address.
    cell: &'static AtomicU64,
    /// Built (or being built) at full level.
    optimized: bool,
}

/// The routines built so far, by symbol.
static LIBRARY: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();

fn library() -> MutexGuard<'static, HashMap<String, Entry>> {
    // Every update leaves the map consistent: a poisoned lock is usable.
    LIBRARY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The address of the cell of library symbol `name`, building its routine
/// on first use at code-generation level `level` (0 or 3: the loading
/// tape's own); `None` when `name` is not one.
pub(crate) fn cell(name: &str, host: &'static Host, level: u8) -> Result<Option<u64>> {
    let Some((r, w, lanes)) = Routine::parse(name) else {
        return Ok(None);
    };
    // Held while building, so that a routine is built once even when
    // several threads load objects that need it.
    let mut lib = library();
    if let Some(e) = lib.get(name) {
        return Ok(Some(e.cell as *const AtomicU64 as u64));
    }
    let full = level >= 3;
    let addr = crate::jit::link_for_process(&object(r, w, lanes, host, level.min(3))?, name)?;
    let cell: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(addr)));
    lib.insert(
        name.to_owned(),
        Entry {
            cell,
            optimized: full,
        },
    );
    Ok(Some(cell as *const AtomicU64 as u64))
}

/// Build one routine still at level 0 again at full level and swap it in;
/// `false` when every routine is already (being) built at full level.
pub(crate) fn upgrade(host: &'static Host) -> Result<bool> {
    let (name, cell) = {
        let mut lib = library();
        let Some((name, e)) = lib.iter_mut().find(|(_, e)| !e.optimized) else {
            return Ok(false);
        };
        // Claimed: a failure leaves it at level 0 for good.
        e.optimized = true;
        (name.clone(), e.cell)
    };
    let (r, w, lanes) = Routine::parse(&name)
        .ok_or_else(|| Error::Codegen(format!("{name} is not a routine library symbol")))?;
    let addr = crate::jit::link_for_process(&object(r, w, lanes, host, 3)?, &name)?;
    cell.store(addr, Ordering::Release);
    Ok(true)
}

/// (routines built, of which still at level 0) (tests, diagnostics).
pub(crate) fn counts() -> (usize, usize) {
    let lib = library();
    (lib.len(), lib.values().filter(|e| !e.optimized).count())
}

/// An object file holding `r` for vectors of `w` lanes in a loop of
/// `lanes`, exported under `r.symbol(w, lanes)`, at code-generation level
/// `level`.
fn object(r: Routine, w: u32, lanes: u32, host: &'static Host, level: u8) -> Result<Vec<u8>> {
    let tm = cached_machine(host, level, false)?;
    let ctx = Context::create();
    let module = module(&ctx, &tm, r, w, lanes, host)?;
    let buf = tm
        .write_to_memory_buffer(&module, FileType::Object)
        .map_err(|e| Error::Codegen(e.to_string()))?;
    Ok(buf.as_slice().to_vec())
}

/// The IR of library symbol `name`'s module (diagnostics and tests).
pub(crate) fn text(name: &str, host: &'static Host) -> Result<String> {
    let (r, w, lanes) = Routine::parse(name)
        .ok_or_else(|| Error::Codegen(format!("{name} is not a routine library symbol")))?;
    let tm = cached_machine(host, 3, false)?;
    let ctx = Context::create();
    Ok(module(&ctx, &tm, r, w, lanes, host)?
        .print_to_string()
        .to_string())
}

/// The module of `r` for vectors of `w` lanes in a loop of `lanes`, its
/// function exported under `r.symbol(w, lanes)`.
fn module<'ctx>(
    ctx: &'ctx Context,
    tm: &TargetMachine,
    r: Routine,
    w: u32,
    lanes: u32,
    host: &'static Host,
) -> Result<Module<'ctx>> {
    let module = ctx.create_module("alkahest_routines");
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    let mut g = Gen {
        ctx,
        module: &module,
        b: ctx.create_builder(),
        f64t: ctx.f64_type(),
        fmf: FastMathFlags::empty(),
        host,
        exact_math: false,
        lanes,
        plan: Plan::empty(),
        fns: HashMap::new(),
        fast_isel: false,
        const_globals: HashMap::new(),
        sign_slot: None,
        inline_exp: true,
        inline_log: true,
        inline_asin: true,
        inline_tanh: true,
        library: false,
        cells: HashMap::new(),
    };
    let f = g.routine_fn(r, ctx.f64_type().vec_type(w))?;
    drop(g);
    f.as_global_value().set_name(&r.symbol(w, lanes));
    f.set_linkage(Linkage::External);
    module.verify().map_err(|e| Error::Verify(e.to_string()))?;
    Ok(module)
}
