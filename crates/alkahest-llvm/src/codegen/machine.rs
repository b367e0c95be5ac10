//! Host target machines: one per thread and setting, reused between
//! compiles.

use std::cell::RefCell;
use std::rc::Rc;

use alkahest_tape::Tape;
use inkwell::OptimizationLevel;
use inkwell::targets::{CodeModel, RelocMode, Target, TargetMachine, TargetTriple};

use super::plan::segmented;
use crate::LlvmOptions;
use crate::error::{Error, Result};
use crate::host::Host;

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
pub(super) fn tape_machine(
    tape: &Tape,
    opts: &LlvmOptions,
    host: &Host,
) -> Result<Rc<TargetMachine>> {
    let fast = segmented(tape);
    let level = if fast { 0 } else { opts.opt_level };
    cached_machine(host, level, fast)
}

/// This thread's target machine at `level`, with fast instruction
/// selection or not, made on first use.
pub(super) fn cached_machine(host: &Host, level: u8, fast: bool) -> Result<Rc<TargetMachine>> {
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
