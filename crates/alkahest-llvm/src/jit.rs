//! Loading an object file into executable memory: one ORC `LLJIT` per
//! compiled function, owned by the [`LlvmFn`] handle.
//!
//! Every function gets its own JIT instance (execution session, memory
//! manager, symbol table), so dropping the handle releases exactly its code
//! and nothing is shared between handles. The JIT only links; code
//! generation already happened (see `codegen`), so compiling and loading a
//! cached object take the same path.

use std::ffi::{CStr, CString, c_char};
use std::ptr::NonNull;

use alkahest_tape::Evaluator;
use llvm_sys::error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage};
use llvm_sys::orc2::lljit::{
    LLVMOrcCreateLLJIT, LLVMOrcDisposeLLJIT, LLVMOrcLLJITAddObjectFile,
    LLVMOrcLLJITGetGlobalPrefix, LLVMOrcLLJITGetMainJITDylib, LLVMOrcLLJITLookup,
    LLVMOrcLLJITMangleAndIntern, LLVMOrcOpaqueLLJIT,
};
use llvm_sys::orc2::{
    LLVMJITEvaluatedSymbol, LLVMJITSymbolFlags, LLVMJITSymbolGenericFlags, LLVMOrcAbsoluteSymbols,
    LLVMOrcCSymbolMapPair, LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess,
    LLVMOrcDisposeMaterializationUnit, LLVMOrcJITDylibAddGenerator, LLVMOrcJITDylibDefine,
};

use crate::codegen::{
    BULK_SYMBOL, N_INPUTS_SYMBOL, N_OUTPUTS_SYMBOL, SCALAR_SYMBOL, TARGET_SYMBOL,
};
use crate::error::{Error, Result};
use crate::host::Host;

/// `void alkahest_eval_scalar(const double *inputs, double *out)`: reads
/// `inputs[0..n_inputs]`, writes `out[0..n_outputs]`.
type ScalarFn = unsafe extern "C" fn(*const f64, *mut f64);
/// `void alkahest_eval_bulk(const double *const *cols, u64 n_vars,
/// double *const *outs, u64 n)`: reads `cols[v][0..n]`, writes
/// `outs[k][0..n]`.
type BulkFn = unsafe extern "C" fn(*const *const f64, u64, *const *mut f64, u64);

/// Take an LLVM error, returning its message (and freeing it).
fn check(err: LLVMErrorRef) -> std::result::Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: `err` is a live, unconsumed LLVMErrorRef; GetErrorMessage
    // consumes it and returns a string we free with the matching function.
    unsafe {
        let msg = LLVMGetErrorMessage(err);
        let s = CStr::from_ptr(msg).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(msg);
        Err(s)
    }
}

/// Owns one LLJIT instance; disposing it unmaps its code and data.
struct Jit(NonNull<LLVMOrcOpaqueLLJIT>);

impl Jit {
    fn new() -> Result<Self> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: a null builder asks for the default host configuration;
        // on success `raw` is a JIT we now own.
        check(unsafe { LLVMOrcCreateLLJIT(&mut raw, std::ptr::null_mut()) }).map_err(Error::Jit)?;
        let jit = Jit(NonNull::new(raw).ok_or_else(|| Error::Jit("LLJIT is null".into()))?);
        // Resolve libm / libmvec / libc symbols from the running process.
        // SAFETY: `jit` is live; the generator is handed over to the JITDylib,
        // which owns and frees it.
        unsafe {
            let prefix = LLVMOrcLLJITGetGlobalPrefix(jit.0.as_ptr());
            let mut generator = std::ptr::null_mut();
            check(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
                &mut generator,
                prefix,
                None,
                std::ptr::null_mut(),
            ))
            .map_err(Error::Jit)?;
            LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit.0.as_ptr()), generator);
        }
        jit.define_libm()?;
        Ok(jit)
    }

    /// Define the scalar math functions as the ones this binary links (see
    /// `libm`), ahead of the process search.
    fn define_libm(&self) -> Result<()> {
        let functions = crate::libm::functions().into_iter();
        self.define(functions.map(|(n, a)| (n.to_owned(), a)), true)
    }

    /// Define each `(name, address)` as an absolute symbol: functions, or
    /// data (the routine library's cells) when not `callable`.
    fn define(&self, symbols: impl Iterator<Item = (String, u64)>, callable: bool) -> Result<()> {
        let callable = if callable {
            LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsCallable as u8
        } else {
            0
        };
        let flags = || LLVMJITSymbolFlags {
            GenericFlags: LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsExported as u8
                | callable,
            TargetFlags: 0,
        };
        let mut pairs = Vec::new();
        for (name, addr) in symbols {
            let c = CString::new(name).map_err(|e| Error::Jit(e.to_string()))?;
            pairs.push(LLVMOrcCSymbolMapPair {
                // SAFETY: `self.0` is live and `c` NUL-terminated; the entry
                // comes back retained, and `LLVMOrcAbsoluteSymbols` takes
                // over that reference.
                Name: unsafe { LLVMOrcLLJITMangleAndIntern(self.0.as_ptr(), c.as_ptr()) },
                Sym: LLVMJITEvaluatedSymbol {
                    Address: addr,
                    Flags: flags(),
                },
            });
        }
        if pairs.is_empty() {
            return Ok(());
        }
        // SAFETY: `pairs` holds `pairs.len()` initialized entries whose names
        // the materialization unit now owns. The JITDylib takes the unit on
        // success; on failure it stays ours and is disposed of here.
        unsafe {
            let mu = LLVMOrcAbsoluteSymbols(pairs.as_mut_ptr(), pairs.len());
            let jd = LLVMOrcLLJITGetMainJITDylib(self.0.as_ptr());
            let err = LLVMOrcJITDylibDefine(jd, mu);
            if !err.is_null() {
                LLVMOrcDisposeMaterializationUnit(mu);
            }
            check(err).map_err(Error::Jit)
        }
    }

    fn add_object(&self, bytes: &[u8]) -> Result<()> {
        // SAFETY: the buffer copies `bytes`; AddObjectFile takes ownership of
        // the buffer whether it succeeds or not.
        unsafe {
            let buf = llvm_sys::core::LLVMCreateMemoryBufferWithMemoryRangeCopy(
                bytes.as_ptr() as *const c_char,
                bytes.len(),
                c"alkahest.o".as_ptr(),
            );
            let jd = LLVMOrcLLJITGetMainJITDylib(self.0.as_ptr());
            check(LLVMOrcLLJITAddObjectFile(self.0.as_ptr(), jd, buf)).map_err(Error::Jit)
        }
    }

    /// Address of `name`; links the object on first lookup.
    fn lookup(&self, name: &str) -> Result<u64> {
        let c = CString::new(name).map_err(|e| Error::Jit(e.to_string()))?;
        let mut addr = 0u64;
        // SAFETY: `self.0` is live and `c` is NUL-terminated.
        check(unsafe { LLVMOrcLLJITLookup(self.0.as_ptr(), &mut addr, c.as_ptr()) })
            .map_err(|e| Error::IncompatibleObject(format!("symbol {name}: {e}")))?;
        if addr == 0 {
            return Err(Error::Jit(format!("symbol {name} resolved to null")));
        }
        Ok(addr)
    }
}

impl Drop for Jit {
    fn drop(&mut self) {
        // SAFETY: we own the JIT and no function pointer into it outlives
        // this (the pointers live next to it in `LlvmFn`).
        let err = unsafe { LLVMOrcDisposeLLJIT(self.0.as_ptr()) };
        // Nothing useful to do with a teardown error; free it.
        let _ = check(err);
    }
}

/// A tape compiled to native code by LLVM.
///
/// The handle owns the JIT instance holding the machine code; dropping it
/// frees the code. It is `Send + Sync`: one function may be called from many
/// threads at once.
pub struct LlvmFn {
    n_inputs: usize,
    n_outputs: usize,
    scalar: ScalarFn,
    bulk: BulkFn,
    /// Declared last: dropped after the function pointers are unusable.
    _jit: Jit,
}

// SAFETY: after construction the JIT instance is never touched again except
// by `Drop`, which has exclusive access. The generated code is pure: it reads
// its arguments and read-only constants and writes only the output array or
// columns (and its own stack), and the libm / libmvec functions it calls are
// thread-safe (errno is thread-local; `lgamma` is called as `lgamma_r`, which
// writes its sign to a stack slot, not to the global `signgam`). Neither the
// LLJIT nor the code has thread affinity, so calling from, moving to, and
// dropping on any thread is sound.
unsafe impl Send for LlvmFn {}
// SAFETY: see `Send`; `&LlvmFn` only allows calling the pure entry points.
unsafe impl Sync for LlvmFn {}

impl std::fmt::Debug for LlvmFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlvmFn")
            .field("n_inputs", &self.n_inputs)
            .field("n_outputs", &self.n_outputs)
            .finish_non_exhaustive()
    }
}

/// Read an `i64` count the object defines (`alkahest_n_inputs`, ...).
fn count(jit: &Jit, symbol: &str) -> Result<usize> {
    let addr = jit.lookup(symbol)?;
    // SAFETY: the symbol is an 8-byte aligned i64 constant in the linked
    // object (`codegen::Gen::globals`; objects come from `emit_object`, per
    // `load_object`'s contract).
    let v = unsafe { *(addr as *const i64) };
    usize::try_from(v).map_err(|_| Error::IncompatibleObject(format!("{symbol} = {v}")))
}

/// Link `object` (a routine library function, `codegen::library`) into a
/// JIT that lives as long as the process, and return the address of
/// `name` in it.
pub(crate) fn link_for_process(object: &[u8], name: &str) -> Result<u64> {
    let jit = Jit::new()?;
    jit.add_object(object)?;
    let addr = jit.lookup(name)?;
    // Kept mapped for the life of the process: every later function that
    // calls it holds only its address.
    std::mem::forget(jit);
    Ok(addr)
}

/// The routine library symbols `object` refers to (it defines none); none
/// when it is not an object file at all.
fn library_symbols(object: &[u8]) -> Result<Vec<String>> {
    use llvm_sys::object::{
        LLVMCreateBinary, LLVMDisposeBinary, LLVMDisposeSymbolIterator, LLVMGetSymbolName,
        LLVMMoveToNextSymbol, LLVMObjectFileCopySymbolIterator,
        LLVMObjectFileIsSymbolIteratorAtEnd,
    };
    let prefix = crate::codegen::library::PREFIX.as_bytes();
    let mut names = Vec::new();
    // SAFETY: the buffer borrows `object`, which outlives it and the binary
    // read from it (a binary does not own its buffer); both are disposed of
    // here, the iterator first; every name is copied before the next move.
    unsafe {
        let buf = llvm_sys::core::LLVMCreateMemoryBufferWithMemoryRange(
            object.as_ptr() as *const c_char,
            object.len(),
            c"alkahest.o".as_ptr(),
            0,
        );
        let mut msg: *mut c_char = std::ptr::null_mut();
        let bin = LLVMCreateBinary(buf, std::ptr::null_mut(), &mut msg);
        if bin.is_null() {
            // Not an object: the linker says so (`Error::Jit`). The message
            // is `strdup`ed: LLVMDisposeMessage frees it.
            if !msg.is_null() {
                llvm_sys::core::LLVMDisposeMessage(msg);
            }
            llvm_sys::core::LLVMDisposeMemoryBuffer(buf);
            return Ok(names);
        }
        let it = LLVMObjectFileCopySymbolIterator(bin);
        while LLVMObjectFileIsSymbolIteratorAtEnd(bin, it) == 0 {
            let name = LLVMGetSymbolName(it);
            if !name.is_null() {
                let name = CStr::from_ptr(name).to_bytes();
                if name.starts_with(prefix) {
                    names.push(String::from_utf8_lossy(name).into_owned());
                }
            }
            LLVMMoveToNextSymbol(it);
        }
        LLVMDisposeSymbolIterator(it);
        LLVMDisposeBinary(bin);
        llvm_sys::core::LLVMDisposeMemoryBuffer(buf);
    }
    Ok(names)
}

impl LlvmFn {
    /// Link `object` (produced by `codegen::object`) into a fresh JIT, with
    /// the routine library functions it calls (`codegen::library`; built at
    /// `routine_level` if this is their first use). The
    /// object must fingerprint-match `host`; with `expect = Some((n_inputs,
    /// n_outputs))` its recorded input and output counts must be these.
    pub(crate) fn load(
        object: &[u8],
        host: &'static Host,
        expect: Option<(usize, usize)>,
        routine_level: u8,
    ) -> Result<Self> {
        let jit = Jit::new()?;
        // The cells of the routine library functions it calls, built on
        // first use.
        let mut cells = Vec::new();
        for name in library_symbols(object)? {
            if let Some(addr) = crate::codegen::library::cell(&name, host, routine_level)? {
                cells.push((name, addr));
            }
        }
        jit.define(cells.into_iter(), false)?;
        jit.add_object(object)?;
        let target = jit.lookup(TARGET_SYMBOL)?;
        // SAFETY: `alkahest_target` is a NUL-terminated constant array in the
        // object we just linked (checked by name; objects come from
        // `emit_object`, per `load_object`'s contract).
        let found = unsafe { CStr::from_ptr(target as *const c_char) }.to_string_lossy();
        let want = host.fingerprint();
        if found != want {
            return Err(Error::IncompatibleObject(format!(
                "built for '{}', this host is '{}'",
                truncate(&found),
                truncate(&want)
            )));
        }
        let n_inputs = count(&jit, N_INPUTS_SYMBOL)?;
        let n_outputs = count(&jit, N_OUTPUTS_SYMBOL)?;
        if n_outputs == 0 {
            return Err(Error::IncompatibleObject("object has no outputs".into()));
        }
        if let Some(e) = expect.filter(|&e| e != (n_inputs, n_outputs)) {
            return Err(Error::Jit(format!(
                "object has {n_inputs} inputs and {n_outputs} outputs, expected {} and {}",
                e.0, e.1
            )));
        }
        let scalar = jit.lookup(SCALAR_SYMBOL)?;
        let bulk = jit.lookup(BULK_SYMBOL)?;
        // SAFETY: both symbols are functions we generated with exactly these
        // signatures (`codegen::Gen::{scalar_entry, bulk_entry}`; the
        // fingerprint's format version pins the ABI), and the code stays
        // mapped as long as `_jit` lives, i.e. as long as `self`.
        let (scalar, bulk) = unsafe {
            (
                std::mem::transmute::<usize, ScalarFn>(scalar as usize),
                std::mem::transmute::<usize, BulkFn>(bulk as usize),
            )
        };
        Ok(LlvmFn {
            n_inputs,
            n_outputs,
            scalar,
            bulk,
            _jit: jit,
        })
    }

    /// Call `alkahest_eval_bulk` directly (for callers that already hold
    /// raw column pointers, e.g. NumPy buffers): output `k` at point `i`
    /// goes to `outs[k][i]`. With `n_vars < n_inputs` no input column is
    /// read and every output is NaN.
    ///
    /// # Safety
    /// `cols` points at `min(n_vars, n_inputs)` pointers, each valid for `n`
    /// reads of `f64`; `outs` points at `n_outputs` pointers, each valid for
    /// `n` writes. Output columns do not overlap each other, and do not
    /// partially overlap any input column (an output column being the very
    /// same array as an input column is fine: every point is read before it
    /// is written).
    pub unsafe fn eval_bulk_raw(
        &self,
        cols: *const *const f64,
        n_vars: usize,
        outs: *const *mut f64,
        n: usize,
    ) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.bulk)(cols, n_vars as u64, outs, n as u64) }
    }

    /// Call `alkahest_eval_scalar` directly: reads `n_inputs` doubles from
    /// `inputs` and writes `n_outputs` doubles to `out`.
    ///
    /// # Safety
    /// `inputs` is valid for `n_inputs` reads and `out` for `n_outputs`
    /// writes (they may be the same array: every input is read before any
    /// output is written).
    pub unsafe fn eval_raw(&self, inputs: *const f64, out: *mut f64) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.scalar)(inputs, out) }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Column pointers up to this many (inputs and outputs each) live on the
/// stack.
const STACK_COLS: usize = 16;

/// A pointer table on the stack (up to [`STACK_COLS`] entries) or the heap.
fn with_table<T: Copy, R>(
    n: usize,
    null: T,
    mut ptr: impl FnMut(usize) -> T,
    f: impl FnOnce(*const T) -> R,
) -> R {
    if n <= STACK_COLS {
        let mut stack = [null; STACK_COLS];
        for (k, p) in stack[..n].iter_mut().enumerate() {
            *p = ptr(k);
        }
        f(stack.as_ptr())
    } else {
        let heap: Vec<T> = (0..n).map(&mut ptr).collect();
        f(heap.as_ptr())
    }
}

impl Evaluator for LlvmFn {
    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Evaluate one point into `out[0..n_outputs]`; NaN outputs if `inputs`
    /// is shorter than `n_inputs`.
    ///
    /// # Panics
    /// If `out` is shorter than `n_outputs` (there is nowhere to put the
    /// results).
    fn eval(&self, inputs: &[f64], out: &mut [f64]) {
        assert!(
            out.len() >= self.n_outputs,
            "{} output slots for {} outputs",
            out.len(),
            self.n_outputs
        );
        if inputs.len() < self.n_inputs {
            out[..self.n_outputs].fill(f64::NAN);
            return;
        }
        // SAFETY: `inputs` holds at least `n_inputs` doubles and `out` at
        // least `n_outputs` (checked above); a shared and a unique borrow
        // cannot overlap.
        unsafe { self.eval_raw(inputs.as_ptr(), out.as_mut_ptr()) }
    }

    /// Evaluate `outs[0].len()` points with one call into the vectorized
    /// loop. Fills the outputs with NaN if there are too few input columns
    /// or any column (input or output) is shorter than the first output.
    ///
    /// # Panics
    /// If `outs.len() != n_outputs`.
    fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        assert_eq!(outs.len(), self.n_outputs, "wrong number of output columns");
        let n = outs[0].len();
        if columns.len() < self.n_inputs
            || columns[..self.n_inputs].iter().any(|c| c.len() < n)
            || outs.iter().any(|o| o.len() < n)
        {
            for o in outs.iter_mut() {
                o.fill(f64::NAN);
            }
            return;
        }
        let n_in = self.n_inputs;
        with_table(
            n_in,
            std::ptr::null(),
            |v| columns[v].as_ptr(),
            |cols| {
                with_table(
                    self.n_outputs,
                    std::ptr::null_mut(),
                    |k| outs[k].as_mut_ptr(),
                    // SAFETY: `cols` has `n_inputs` pointers to columns of
                    // at least `n` points and the output table `n_outputs`
                    // pointers to columns of at least `n` (checked above).
                    // The outputs are distinct unique borrows, so they
                    // overlap neither each other nor the shared input
                    // borrows.
                    |o| unsafe { self.eval_bulk_raw(cols, n_in, o, n) },
                )
            },
        )
    }
}
