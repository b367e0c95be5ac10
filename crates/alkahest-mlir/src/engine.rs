//! The LLVM lowering (upstream conversion passes) and MLIR's
//! ExecutionEngine as a compile backend.

use std::ffi::c_void;

use alkahest_kernel::Evaluator;
use melior::Context;
use melior::ir::Module;
use melior::pass::{Pass, PassManager};
use mlir_sys::MlirExecutionEngine;

use crate::dialect::Diags;
use crate::error::{Error, Result};

/// Lower an arith/math/func module to the `llvm` dialect in place:
/// math -> libm calls (accurate `log1p`, `expm1`, `tan`, ...; the
/// `math-to-llvm` patterns would expand `log1p` as `log(1 + x)`), then the
/// remaining math, arith and func ops to `llvm`.
pub(crate) fn lower_to_llvm(
    context: &Context,
    module: &mut Module<'_>,
    diags: &Diags,
) -> Result<()> {
    let pm = PassManager::new(context);
    // SAFETY: each argument is an MLIR C API pass constructor with no
    // preconditions; the returned pass is owned by the pass manager.
    unsafe {
        pm.add_pass(Pass::from_raw_fn(
            mlir_sys::mlirCreateConversionConvertMathToLibm,
        ));
        pm.add_pass(Pass::from_raw_fn(
            mlir_sys::mlirCreateConversionConvertMathToLLVMPass,
        ));
        pm.add_pass(Pass::from_raw_fn(
            mlir_sys::mlirCreateConversionArithToLLVMConversionPass,
        ));
        pm.add_pass(Pass::from_raw_fn(
            mlir_sys::mlirCreateConversionConvertFuncToLLVMPass,
        ));
        pm.add_pass(Pass::from_raw_fn(
            mlir_sys::mlirCreateConversionReconcileUnrealizedCasts,
        ));
    }
    pm.run(module)
        .map_err(|_| diags.error("LLVM lowering passes"))
}

/// An ExecutionEngine: JIT-compiled code that lives until it is dropped.
struct Engine(MlirExecutionEngine);

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: created non-null by `Engine::new` and destroyed only here.
        unsafe { mlir_sys::mlirExecutionEngineDestroy(self.0) }
    }
}

impl Engine {
    /// JIT-compile an `llvm`-dialect module at -O3.
    fn new(module: &Module<'_>) -> Result<Self> {
        // SAFETY: the module is live and fully lowered to the llvm dialect;
        // no shared libraries are passed (libm resolves from the process).
        let raw = unsafe {
            mlir_sys::mlirExecutionEngineCreate(module.to_raw(), 3, 0, std::ptr::null(), false)
        };
        if raw.ptr.is_null() {
            return Err(Error::Engine(
                "could not create the ExecutionEngine (translation to LLVM IR failed)".into(),
            ));
        }
        Ok(Engine(raw))
    }

    /// Address of symbol `sym` in the JIT-compiled code.
    fn lookup(&self, sym: &str) -> Result<*mut c_void> {
        // SAFETY: the engine is live; the string ref points into `sym`,
        // which outlives the call.
        let ptr = unsafe {
            mlir_sys::mlirExecutionEngineLookup(
                self.0,
                mlir_sys::MlirStringRef {
                    data: sym.as_ptr().cast(),
                    length: sym.len(),
                },
            )
        };
        if ptr.is_null() {
            return Err(Error::Engine(format!("entry point {sym} not found")));
        }
        Ok(ptr)
    }

    /// The packed entry point `void _mlir_<name>(void **args)` that the
    /// engine generates for every function: one pointer per argument, then
    /// one pointer to the result (a struct for several results).
    fn packed(&self, name: &str) -> Result<Packed> {
        let ptr = self.lookup(&format!("_mlir_{name}"))?;
        // SAFETY: the engine generated `_mlir_<name>` with exactly this
        // signature.
        Ok(unsafe { std::mem::transmute::<*mut c_void, Packed>(ptr) })
    }
}

type Packed = unsafe extern "C" fn(*mut *mut c_void);

/// Name of the function inside JIT-compiled modules.
pub(crate) const ENTRY: &str = "alkahest_fn";

/// JIT-compiled code, its packed entry point and the function itself.
pub(crate) struct Jit(Engine, Packed, *mut c_void);

/// JIT-compile an `llvm`-dialect module and find the entry `@alkahest_fn`.
pub(crate) fn jit(module: &Module<'_>) -> Result<Jit> {
    let engine = Engine::new(module)?;
    let entry = engine.packed(ENTRY)?;
    let direct = engine.lookup(ENTRY)?;
    Ok(Jit(engine, entry, direct))
}

/// Arities up to this are called directly as `extern "C" fn(f64, ...) -> f64`
/// (no argument packing); larger ones go through the packed entry.
const MAX_DIRECT: usize = 6;

/// Call `f`, an `extern "C" fn` of `n` f64 arguments returning f64, on `x`.
///
/// # Safety
/// `f` must be the JIT-compiled `(f64 x n) -> f64` function with
/// `n = x.len() <= MAX_DIRECT`, and its engine must be alive.
unsafe fn call_direct(f: *mut c_void, x: &[f64]) -> f64 {
    type F0 = unsafe extern "C" fn() -> f64;
    type F1 = unsafe extern "C" fn(f64) -> f64;
    type F2 = unsafe extern "C" fn(f64, f64) -> f64;
    type F3 = unsafe extern "C" fn(f64, f64, f64) -> f64;
    type F4 = unsafe extern "C" fn(f64, f64, f64, f64) -> f64;
    type F5 = unsafe extern "C" fn(f64, f64, f64, f64, f64) -> f64;
    type F6 = unsafe extern "C" fn(f64, f64, f64, f64, f64, f64) -> f64;
    // SAFETY: per the contract, `f` has the signature matching `x.len()`.
    unsafe {
        match *x {
            [] => std::mem::transmute::<*mut c_void, F0>(f)(),
            [a] => std::mem::transmute::<*mut c_void, F1>(f)(a),
            [a, b] => std::mem::transmute::<*mut c_void, F2>(f)(a, b),
            [a, b, c] => std::mem::transmute::<*mut c_void, F3>(f)(a, b, c),
            [a, b, c, d] => std::mem::transmute::<*mut c_void, F4>(f)(a, b, c, d),
            [a, b, c, d, e] => std::mem::transmute::<*mut c_void, F5>(f)(a, b, c, d, e),
            [a, b, c, d, e, g] => std::mem::transmute::<*mut c_void, F6>(f)(a, b, c, d, e, g),
            _ => f64::NAN,
        }
    }
}

/// A function compiled through MLIR (alkahest -> arith/math -> llvm ->
/// ExecutionEngine). It owns the engine: dropping it frees the code.
pub struct MlirFn {
    entry: Packed,
    direct: *mut c_void,
    n_inputs: usize,
    /// Owns the code `entry` points into; dropped before the context.
    _engine: Engine,
    _context: Context,
}

// SAFETY: the JIT-compiled code is a pure function of its arguments (no
// globals, no state), so concurrent calls are safe; the engine and the
// context are never touched after construction except by `Drop`, which
// needs no particular thread.
unsafe impl Send for MlirFn {}
// SAFETY: see `Send`: `&MlirFn` only calls the pure entry point.
unsafe impl Sync for MlirFn {}

impl std::fmt::Debug for MlirFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlirFn")
            .field("n_inputs", &self.n_inputs)
            .finish_non_exhaustive()
    }
}

impl MlirFn {
    /// Own `jit`'s code; `context` is the one it was compiled in.
    pub(crate) fn new(context: Context, jit: Jit, n_inputs: usize) -> Self {
        let Jit(engine, entry, direct) = jit;
        MlirFn {
            entry,
            direct,
            n_inputs,
            _engine: engine,
            _context: context,
        }
    }

    /// Call with argument pointers already in `slots[..n]`; the result goes
    /// through `slots[n]`.
    fn call(&self, slots: &mut [*mut c_void]) {
        // SAFETY: `slots` holds `n_inputs` pointers to live f64 values and
        // one pointer to a writable f64, which is what the packed entry of
        // an `(f64, ...) -> f64` function reads and writes.
        unsafe { (self.entry)(slots.as_mut_ptr()) }
    }
}

impl Evaluator for MlirFn {
    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    fn eval(&self, inputs: &[f64]) -> f64 {
        let Some(x) = inputs.get(..self.n_inputs) else {
            return f64::NAN; // callers check arity; never read past the slice
        };
        if self.n_inputs <= MAX_DIRECT {
            // SAFETY: `direct` is this engine's `(f64 x n_inputs) -> f64`
            // function, `x` has n_inputs values, and `self` keeps the engine.
            return unsafe { call_direct(self.direct, x) };
        }
        let mut out = f64::NAN;
        let mut slots: Vec<*mut c_void> = x
            .iter()
            .map(|v| (v as *const f64).cast_mut().cast())
            .collect();
        slots.push((&mut out as *mut f64).cast());
        self.call(&mut slots);
        out
    }

    fn eval_columns(&self, columns: &[&[f64]], out: &mut [f64]) {
        if columns.len() < self.n_inputs || columns.iter().any(|c| c.len() < out.len()) {
            out.fill(f64::NAN); // callers check shapes; never read out of bounds
            return;
        }
        if self.n_inputs <= MAX_DIRECT {
            let mut x = [0.0; MAX_DIRECT];
            let x = &mut x[..self.n_inputs];
            for (i, o) in out.iter_mut().enumerate() {
                for (v, c) in x.iter_mut().zip(columns) {
                    *v = c[i];
                }
                // SAFETY: as in `eval`.
                *o = unsafe { call_direct(self.direct, x) };
            }
            return;
        }
        let mut slots: Vec<*mut c_void> = vec![std::ptr::null_mut(); self.n_inputs + 1];
        for (i, o) in out.iter_mut().enumerate() {
            for (s, c) in slots.iter_mut().zip(columns) {
                *s = (&c[i] as *const f64).cast_mut().cast();
            }
            slots[self.n_inputs] = (o as *mut f64).cast();
            self.call(&mut slots);
        }
    }
}

/// A ball: every real within `rad` of `mid`. A NaN field or an infinite
/// radius means nothing finite is known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ball {
    /// Midpoint.
    pub mid: f64,
    /// Radius (nonnegative).
    pub rad: f64,
}

/// A compiled `alkahest.interval_eval`: maps input balls to a ball that
/// encloses the expression's value over them (outward rounded).
pub struct MlirBallFn {
    entry: Packed,
    n_inputs: usize,
    /// Owns the code `entry` points into; dropped before the context.
    _engine: Engine,
    _context: Context,
}

// SAFETY: as for `MlirFn`: pure JIT code, engine and context untouched
// after construction.
unsafe impl Send for MlirBallFn {}
// SAFETY: see `Send`.
unsafe impl Sync for MlirBallFn {}

impl std::fmt::Debug for MlirBallFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlirBallFn")
            .field("n_inputs", &self.n_inputs)
            .finish_non_exhaustive()
    }
}

impl MlirBallFn {
    /// Own `jit`'s code; `context` is the one it was compiled in.
    pub(crate) fn new(context: Context, jit: Jit, n_inputs: usize) -> Self {
        let Jit(engine, entry, _) = jit;
        MlirBallFn {
            entry,
            n_inputs,
            _engine: engine,
            _context: context,
        }
    }

    /// Number of input balls.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Enclose the expression over the input balls (one per variable).
    pub fn eval(&self, inputs: &[Ball]) -> Result<Ball> {
        if inputs.len() != self.n_inputs {
            return Err(alkahest_kernel::Error::Arity {
                expected: self.n_inputs,
                got: inputs.len(),
            }
            .into());
        }
        if let Some(b) = inputs.iter().find(|b| b.rad.is_nan() || b.rad < 0.0) {
            return Err(Error::InvalidArgument(format!(
                "ball radius must be >= 0, got {}",
                b.rad
            )));
        }
        let mut out = [f64::NAN; 2];
        let mut slots: Vec<*mut c_void> = Vec::with_capacity(2 * inputs.len() + 1);
        for b in inputs {
            slots.push((&b.mid as *const f64).cast_mut().cast());
            slots.push((&b.rad as *const f64).cast_mut().cast());
        }
        slots.push(out.as_mut_ptr().cast());
        // SAFETY: 2n pointers to live f64 (mid, rad per input) and one
        // pointer to two writable f64, the `{f64, f64}` result struct of the
        // `(f64 x 2n) -> (f64, f64)` function.
        unsafe { (self.entry)(slots.as_mut_ptr()) };
        Ok(Ball {
            mid: out[0],
            rad: out[1],
        })
    }
}
