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

use alkahest_kernel::Evaluator;
use llvm_sys::error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage};
use llvm_sys::orc2::lljit::{
    LLVMOrcCreateLLJIT, LLVMOrcDisposeLLJIT, LLVMOrcLLJITAddObjectFile,
    LLVMOrcLLJITGetGlobalPrefix, LLVMOrcLLJITGetMainJITDylib, LLVMOrcLLJITLookup,
    LLVMOrcOpaqueLLJIT,
};
use llvm_sys::orc2::{
    LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess, LLVMOrcJITDylibAddGenerator,
};

use crate::codegen::{BULK_SYMBOL, N_INPUTS_SYMBOL, SCALAR_SYMBOL, TARGET_SYMBOL};
use crate::error::{Error, Result};
use crate::host::Host;

/// `double alkahest_eval(const double *inputs)`.
type ScalarFn = unsafe extern "C" fn(*const f64) -> f64;
/// `void alkahest_eval_bulk(const double *const *cols, u64 n_vars, double *out, u64 n)`.
type BulkFn = unsafe extern "C" fn(*const *const f64, u64, *mut f64, u64);

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
        Ok(jit)
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
    scalar: ScalarFn,
    bulk: BulkFn,
    /// Declared last: dropped after the function pointers are unusable.
    _jit: Jit,
}

// SAFETY: after construction the JIT instance is never touched again except
// by `Drop`, which has exclusive access. The generated code is pure: it reads
// its arguments and read-only constants and writes only `out`, and the libm /
// libmvec functions it calls are thread-safe (errno is thread-local). Neither
// the LLJIT nor the code has thread affinity, so calling from, moving to, and
// dropping on any thread is sound.
unsafe impl Send for LlvmFn {}
// SAFETY: see `Send`; `&LlvmFn` only allows calling the pure entry points.
unsafe impl Sync for LlvmFn {}

impl std::fmt::Debug for LlvmFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlvmFn")
            .field("n_inputs", &self.n_inputs)
            .finish_non_exhaustive()
    }
}

impl LlvmFn {
    /// Link `object` (produced by `codegen::object`) into a fresh JIT.
    /// With `expect`, the object must fingerprint-match `host`.
    pub(crate) fn load(object: &[u8], host: &Host, expect_inputs: Option<usize>) -> Result<Self> {
        let jit = Jit::new()?;
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
        let n_addr = jit.lookup(N_INPUTS_SYMBOL)?;
        // SAFETY: `alkahest_n_inputs` is an 8-byte aligned i64 constant in the
        // linked object.
        let n_inputs = unsafe { *(n_addr as *const i64) };
        let n_inputs = usize::try_from(n_inputs)
            .map_err(|_| Error::IncompatibleObject(format!("n_inputs = {n_inputs}")))?;
        if let Some(e) = expect_inputs.filter(|&e| e != n_inputs) {
            return Err(Error::Jit(format!(
                "object has {n_inputs} inputs, expected {e}"
            )));
        }
        let scalar = jit.lookup(SCALAR_SYMBOL)?;
        let bulk = jit.lookup(BULK_SYMBOL)?;
        // SAFETY: both symbols are functions we generated with exactly these
        // signatures (`codegen::Gen::{scalar_entry, bulk_entry}`), and the
        // code stays mapped as long as `_jit` lives, i.e. as long as `self`.
        let (scalar, bulk) = unsafe {
            (
                std::mem::transmute::<usize, ScalarFn>(scalar as usize),
                std::mem::transmute::<usize, BulkFn>(bulk as usize),
            )
        };
        Ok(LlvmFn {
            n_inputs,
            scalar,
            bulk,
            _jit: jit,
        })
    }

    /// Call `alkahest_eval_bulk` directly (for callers that already hold
    /// raw column pointers, e.g. NumPy buffers). With `n_vars < n_inputs`
    /// no column is read and every output is NaN.
    ///
    /// # Safety
    /// `cols` points at `min(n_vars, n_inputs)` pointers, each valid for `n`
    /// reads of `f64`; `out` is valid for `n` writes and does not partially
    /// overlap any column (being the very same array as a column is fine:
    /// every point is read before it is written).
    pub unsafe fn eval_bulk_raw(
        &self,
        cols: *const *const f64,
        n_vars: usize,
        out: *mut f64,
        n: usize,
    ) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.bulk)(cols, n_vars as u64, out, n as u64) }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Column pointers up to this many inputs live on the stack.
const STACK_COLS: usize = 16;

impl Evaluator for LlvmFn {
    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Evaluate one point; NaN if `inputs` is shorter than `n_inputs`.
    fn eval(&self, inputs: &[f64]) -> f64 {
        if inputs.len() < self.n_inputs {
            return f64::NAN;
        }
        // SAFETY: `inputs` holds at least `n_inputs` doubles, all the entry reads.
        unsafe { (self.scalar)(inputs.as_ptr()) }
    }

    /// Evaluate `out.len()` points with one call into the vectorized loop.
    /// Fills `out` with NaN if there are too few or too short columns.
    fn eval_columns(&self, columns: &[&[f64]], out: &mut [f64]) {
        let n = out.len();
        if columns.len() < self.n_inputs || columns[..self.n_inputs].iter().any(|c| c.len() < n) {
            out.fill(f64::NAN);
            return;
        }
        let mut stack = [std::ptr::null::<f64>(); STACK_COLS];
        let heap: Vec<*const f64>;
        let cols: &[*const f64] = if self.n_inputs <= STACK_COLS {
            for (p, c) in stack.iter_mut().zip(columns) {
                *p = c.as_ptr();
            }
            &stack[..self.n_inputs]
        } else {
            heap = columns[..self.n_inputs]
                .iter()
                .map(|c| c.as_ptr())
                .collect();
            &heap
        };
        // SAFETY: `cols` has `n_inputs` pointers to columns of at least `n`
        // points (checked above); `out` is an exclusive borrow, so it cannot
        // overlap the shared column borrows.
        unsafe { self.eval_bulk_raw(cols.as_ptr(), self.n_inputs, out.as_mut_ptr(), n) }
    }
}
