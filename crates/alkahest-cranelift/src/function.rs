//! The compiled-function handle.

use std::sync::Mutex;

use alkahest_kernel::{Evaluator, Tape};
use cranelift_jit::JITModule;

use crate::codegen::{self, Options};
use crate::error::{Error, Result};

/// `alkahest_eval_scalar(inputs) -> f64`.
type ScalarFn = unsafe extern "C" fn(*const f64) -> f64;
/// `alkahest_eval_bulk(cols, n_vars, out, n_points)`.
type BulkFn = unsafe extern "C" fn(*const *const f64, u64, *mut f64, u64);

/// Column pointer tables up to this many inputs live on the stack.
const STACK_TABLE: usize = 16;

/// A tape compiled to native code by Cranelift.
///
/// The handle owns the machine code: dropping it unmaps the code pages, so
/// compiling and dropping in a loop does not grow memory. The code touches
/// only its arguments and its own stack frame, so one handle may be called
/// from many threads at once.
pub struct CraneliftFn {
    scalar: ScalarFn,
    bulk: BulkFn,
    n_inputs: usize,
    code_size: usize,
    /// The module owning the code pages. Only `Drop` touches it; the mutex
    /// exists to make the handle `Sync` without an `unsafe impl`.
    module: Mutex<Option<JITModule>>,
}

/// Compile `tape` to native code for the host CPU.
///
/// Fails with [`Error::InvalidTape`] for a tape that breaks its invariants,
/// [`Error::TooManyLive`] for one whose stack frame would be unreasonably
/// large, and [`Error::Module`] if Cranelift itself fails.
pub fn compile(tape: &Tape) -> Result<CraneliftFn> {
    compile_with(tape, &Options::default())
}

/// [`compile`] with explicit settings.
pub fn compile_with(tape: &Tape, options: &Options) -> Result<CraneliftFn> {
    let plan = codegen::plan(tape)?;
    let c = codegen::compile(tape, &plan, options)?;
    // SAFETY: `c.scalar` and `c.bulk` are the finalized addresses of the
    // functions defined with exactly these signatures (`build_scalar`:
    // (ptr) -> f64; `build_bulk`: (ptr, i64, ptr, i64)) in the host's
    // default calling convention, which is `extern "C"`.
    let (scalar, bulk) = unsafe {
        (
            std::mem::transmute::<*const u8, ScalarFn>(c.scalar),
            std::mem::transmute::<*const u8, BulkFn>(c.bulk),
        )
    };
    Ok(CraneliftFn {
        scalar,
        bulk,
        n_inputs: tape.n_inputs,
        code_size: c.code_size,
        module: Mutex::new(Some(c.module)),
    })
}

impl CraneliftFn {
    /// Bytes of machine code in both entry points.
    pub fn code_size(&self) -> usize {
        self.code_size
    }

    /// Evaluate points stored in one column-major buffer: variable `v` at
    /// point `i` is `data[v * out.len() + i]` (a C-contiguous `(n_vars,
    /// n_points)` array, or Fortran-contiguous `(n_points, n_vars)`).
    pub fn eval_column_major(&self, data: &[f64], out: &mut [f64]) -> Result<()> {
        let n = out.len();
        let expected = self.n_inputs.checked_mul(n);
        if expected != Some(data.len()) {
            return Err(Error::Shape {
                expected: expected.unwrap_or(usize::MAX),
                got: data.len(),
            });
        }
        let base = data.as_ptr();
        // `wrapping_add` keeps this safe to compute; for n == 0 the pointers
        // are never read.
        self.with_table(
            |v| base.wrapping_add(v * n),
            |table| {
                // SAFETY: table[v] points at `n` readable f64 (column v of
                // `data`, whose length was checked above); `out` has `n` slots.
                unsafe { (self.bulk)(table, self.n_inputs as u64, out.as_mut_ptr(), n as u64) }
            },
        );
        Ok(())
    }

    /// Build the column pointer table (on the stack when small) and run `f`.
    fn with_table(&self, col: impl Fn(usize) -> *const f64, f: impl FnOnce(*const *const f64)) {
        if self.n_inputs <= STACK_TABLE {
            let mut t = [std::ptr::null::<f64>(); STACK_TABLE];
            for (v, p) in t.iter_mut().enumerate().take(self.n_inputs) {
                *p = col(v);
            }
            f(t.as_ptr());
        } else {
            let t: Vec<*const f64> = (0..self.n_inputs).map(col).collect();
            f(t.as_ptr());
        }
    }
}

impl Evaluator for CraneliftFn {
    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// # Panics
    /// If `inputs.len() != self.n_inputs()` (the caller's contract; checked
    /// here because the native code would read out of bounds).
    fn eval(&self, inputs: &[f64]) -> f64 {
        assert_eq!(inputs.len(), self.n_inputs, "wrong number of inputs");
        // SAFETY: the scalar entry reads `n_inputs` f64 from `inputs`
        // (length asserted above) and writes nothing outside its frame.
        unsafe { (self.scalar)(inputs.as_ptr()) }
    }

    /// # Panics
    /// If the columns do not match `n_inputs` and `out.len()` (the caller's
    /// contract, see `alkahest_kernel::check_columns`).
    fn eval_columns(&self, columns: &[&[f64]], out: &mut [f64]) {
        assert_eq!(columns.len(), self.n_inputs, "wrong number of columns");
        assert!(
            columns.iter().all(|c| c.len() == out.len()),
            "column length differs from output length"
        );
        let n = out.len();
        self.with_table(
            |v| columns[v].as_ptr(),
            |table| {
                // SAFETY: table[v] points at column v, which holds `n` f64
                // (asserted above); `out` has `n` writable slots and cannot alias
                // the columns (it is a unique borrow).
                unsafe { (self.bulk)(table, self.n_inputs as u64, out.as_mut_ptr(), n as u64) }
            },
        );
    }
}

impl Drop for CraneliftFn {
    fn drop(&mut self) {
        let slot = self.module.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(module) = slot.take() {
            // SAFETY: `&mut self` proves no call through `scalar`/`bulk` is in
            // flight (calls borrow `&self`), and the pointers die with `self`.
            unsafe { module.free_memory() };
        }
    }
}

impl std::fmt::Debug for CraneliftFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CraneliftFn")
            .field("n_inputs", &self.n_inputs)
            .field("code_size", &self.code_size)
            .finish_non_exhaustive()
    }
}
