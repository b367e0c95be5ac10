//! The LLVM lowering (upstream conversion passes) and MLIR's
//! ExecutionEngine as a compile backend.

use std::ffi::c_void;

use alkahest_tape::Evaluator;
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

/// The math functions JIT-compiled code calls, bound to the definitions
/// this program links under those names: the very functions the tape crate's
/// reference (`UnaryFn::apply`, `Tape::eval_point`) calls. Left to the
/// engine, the names would resolve through the dynamic linker to glibc's
/// libm, while a Rust program may define some of them itself (its
/// `compiler_builtins` provides `cbrt`, `fmod`, `floor`, `ceil`, ... and
/// the static linker prefers those): glibc's `cbrt(5e-324)` is one ulp
/// from the Rust one. Registering the program's own bindings makes the JIT
/// and the reference call the same code, so they agree bit for bit.
mod libm {
    use std::ffi::c_void;

    unsafe extern "C" {
        fn sin(x: f64) -> f64;
        fn cos(x: f64) -> f64;
        fn tan(x: f64) -> f64;
        fn asin(x: f64) -> f64;
        fn acos(x: f64) -> f64;
        fn atan(x: f64) -> f64;
        fn sinh(x: f64) -> f64;
        fn cosh(x: f64) -> f64;
        fn tanh(x: f64) -> f64;
        fn exp(x: f64) -> f64;
        fn log(x: f64) -> f64;
        fn sqrt(x: f64) -> f64;
        fn fabs(x: f64) -> f64;
        fn log1p(x: f64) -> f64;
        fn expm1(x: f64) -> f64;
        fn asinh(x: f64) -> f64;
        fn acosh(x: f64) -> f64;
        fn atanh(x: f64) -> f64;
        fn cbrt(x: f64) -> f64;
        fn exp2(x: f64) -> f64;
        fn log2(x: f64) -> f64;
        fn log10(x: f64) -> f64;
        fn erf(x: f64) -> f64;
        fn erfc(x: f64) -> f64;
        fn tgamma(x: f64) -> f64;
        fn lgamma_r(x: f64, sign: *mut i32) -> f64;
        fn floor(x: f64) -> f64;
        fn ceil(x: f64) -> f64;
        fn atan2(y: f64, x: f64) -> f64;
        fn hypot(x: f64, y: f64) -> f64;
        fn fmin(x: f64, y: f64) -> f64;
        fn fmax(x: f64, y: f64) -> f64;
        fn pow(x: f64, y: f64) -> f64;
        fn copysign(x: f64, y: f64) -> f64;
        fn fmod(x: f64, y: f64) -> f64;
    }

    type F1 = unsafe extern "C" fn(f64) -> f64;
    type F2 = unsafe extern "C" fn(f64, f64) -> f64;

    /// (name, address) of every function the JIT may call: each
    /// `UnaryFn` / `BinaryFn` `c_name` (`lgamma` as `lgamma_r`), which
    /// covers LLVM's own libcalls for instructions (`floor`, `fmod`, ...).
    pub(super) fn symbols() -> Vec<(&'static str, *mut c_void)> {
        let unary: [(&str, F1); 27] = [
            ("sin", sin),
            ("cos", cos),
            ("tan", tan),
            ("asin", asin),
            ("acos", acos),
            ("atan", atan),
            ("sinh", sinh),
            ("cosh", cosh),
            ("tanh", tanh),
            ("exp", exp),
            ("log", log),
            ("sqrt", sqrt),
            ("fabs", fabs),
            ("log1p", log1p),
            ("expm1", expm1),
            ("asinh", asinh),
            ("acosh", acosh),
            ("atanh", atanh),
            ("cbrt", cbrt),
            ("exp2", exp2),
            ("log2", log2),
            ("log10", log10),
            ("erf", erf),
            ("erfc", erfc),
            ("tgamma", tgamma),
            ("floor", floor),
            ("ceil", ceil),
        ];
        let binary: [(&str, F2); 7] = [
            ("atan2", atan2),
            ("hypot", hypot),
            ("fmin", fmin),
            ("fmax", fmax),
            ("pow", pow),
            ("copysign", copysign),
            ("fmod", fmod),
        ];
        let lgamma: unsafe extern "C" fn(f64, *mut i32) -> f64 = lgamma_r;
        let mut out: Vec<(&'static str, *mut c_void)> = Vec::with_capacity(35);
        out.extend(unary.iter().map(|&(n, f)| (n, f as *mut c_void)));
        out.extend(binary.iter().map(|&(n, f)| (n, f as *mut c_void)));
        out.push((crate::funcs::LGAMMA_R, lgamma as *mut c_void));
        out
    }

    #[cfg(test)]
    mod tests {
        use alkahest_tape::{BinaryFn, UnaryFn};

        #[test]
        fn every_tape_function_is_bound() {
            let names: Vec<&str> = super::symbols().iter().map(|s| s.0).collect();
            let c_names = UnaryFn::ALL
                .iter()
                .map(|f| f.info().c_name)
                .chain(BinaryFn::ALL.iter().map(|f| f.info().c_name));
            for c in c_names {
                let c = if c == "lgamma" {
                    crate::funcs::LGAMMA_R
                } else {
                    c
                };
                assert!(names.contains(&c), "{c} is not bound");
            }
            assert_eq!(names.len(), UnaryFn::ALL.len() + BinaryFn::ALL.len());
        }
    }
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
        let engine = Engine(raw);
        for (name, address) in libm::symbols() {
            // SAFETY: the engine is live and nothing has been looked up
            // (materialized) yet; the name outlives the call and `address`
            // is a function of the signature the JIT code declares.
            unsafe {
                mlir_sys::mlirExecutionEngineRegisterSymbol(
                    engine.0,
                    mlir_sys::MlirStringRef {
                        data: name.as_ptr().cast(),
                        length: name.len(),
                    },
                    address,
                )
            };
        }
        Ok(engine)
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
///
/// Calling convention: the JIT-compiled `@alkahest_fn(f64 x n) -> (f64 x m)`
/// is called directly as `extern "C" fn(f64, ...) -> f64` when it has one
/// output and at most six inputs; otherwise through the engine's packed
/// entry `_mlir_alkahest_fn(void **args)`, whose last pointer receives the
/// results: one `f64`, or for `m` outputs the `{f64 x m}` struct, which is
/// laid out as `m` consecutive doubles, so it is written straight to
/// `out[0..m]`. There is no bulk entry: [`Evaluator::eval_columns`] calls
/// the function per point and scatters output `k` to `outs[k][i]`.
pub struct MlirFn {
    entry: Packed,
    direct: *mut c_void,
    n_inputs: usize,
    n_outputs: usize,
    /// Owns the code `entry` points into; dropped before the context.
    _engine: Engine,
    _context: Context,
}

// SAFETY: the JIT-compiled code is a pure function of its arguments (no
// globals, no state: `lgamma` goes through the reentrant `lgamma_r`), so
// concurrent calls are safe; the engine and the context are never touched
// after construction except by `Drop`, which needs no particular thread.
unsafe impl Send for MlirFn {}
// SAFETY: see `Send`: `&MlirFn` only calls the pure entry point.
unsafe impl Sync for MlirFn {}

impl std::fmt::Debug for MlirFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlirFn")
            .field("n_inputs", &self.n_inputs)
            .field("n_outputs", &self.n_outputs)
            .finish_non_exhaustive()
    }
}

impl MlirFn {
    /// Own `jit`'s code, a function of `n_inputs` arguments and `n_outputs`
    /// results; `context` is the one it was compiled in.
    pub(crate) fn new(context: Context, jit: Jit, n_inputs: usize, n_outputs: usize) -> Self {
        let Jit(engine, entry, direct) = jit;
        MlirFn {
            entry,
            direct,
            n_inputs,
            n_outputs,
            _engine: engine,
            _context: context,
        }
    }

    /// Whether one point is one direct call (see the type's documentation).
    fn is_direct(&self) -> bool {
        self.n_outputs == 1 && self.n_inputs <= MAX_DIRECT
    }

    /// Call with argument pointers already in `slots[..n]`; the results go
    /// through `slots[n]`.
    ///
    /// # Safety
    /// `slots` must hold `n_inputs` pointers to readable f64 values and one
    /// pointer to `n_outputs` writable f64 values.
    unsafe fn call(&self, slots: &mut [*mut c_void]) {
        // SAFETY: per the contract, which is what the packed entry of an
        // `(f64 x n) -> (f64 x m)` function reads and writes.
        unsafe { (self.entry)(slots.as_mut_ptr()) }
    }
}

impl Evaluator for MlirFn {
    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    fn eval(&self, inputs: &[f64], out: &mut [f64]) {
        let Some(x) = inputs.get(..self.n_inputs) else {
            out.fill(f64::NAN); // callers check arity; never read past the slice
            return;
        };
        let Some(out) = out.get_mut(..self.n_outputs) else {
            out.fill(f64::NAN); // never write past the slice
            return;
        };
        if self.is_direct() {
            // SAFETY: `direct` is this engine's `(f64 x n_inputs) -> f64`
            // function, `x` has n_inputs values, and `self` keeps the engine.
            out[0] = unsafe { call_direct(self.direct, x) };
            return;
        }
        let mut slots: Vec<*mut c_void> = x
            .iter()
            .map(|v| (v as *const f64).cast_mut().cast())
            .collect();
        slots.push(out.as_mut_ptr().cast());
        // SAFETY: n_inputs pointers into `x`, then `out`, which has
        // n_outputs writable values.
        unsafe { self.call(&mut slots) };
    }

    fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        let n = outs.first().map_or(0, |o| o.len());
        if columns.len() < self.n_inputs
            || columns.iter().any(|c| c.len() < n)
            || outs.len() != self.n_outputs
            || outs.iter().any(|o| o.len() != n)
        {
            // Callers check shapes (check_columns); never read or write out
            // of bounds.
            for o in outs.iter_mut() {
                o.fill(f64::NAN);
            }
            return;
        }
        if self.is_direct() {
            let mut x = [0.0; MAX_DIRECT];
            let x = &mut x[..self.n_inputs];
            for (i, o) in outs[0].iter_mut().enumerate() {
                for (v, c) in x.iter_mut().zip(columns) {
                    *v = c[i];
                }
                // SAFETY: as in `eval`.
                *o = unsafe { call_direct(self.direct, x) };
            }
            return;
        }
        let mut slots: Vec<*mut c_void> = vec![std::ptr::null_mut(); self.n_inputs + 1];
        let mut point = vec![f64::NAN; self.n_outputs];
        for i in 0..n {
            for (s, c) in slots.iter_mut().zip(columns) {
                *s = (&c[i] as *const f64).cast_mut().cast();
            }
            slots[self.n_inputs] = point.as_mut_ptr().cast();
            // SAFETY: n_inputs pointers to column values at `i` (every
            // column has at least n values), then `point`, which has
            // n_outputs writable values.
            unsafe { self.call(&mut slots) };
            for (o, &v) in outs.iter_mut().zip(&point) {
                o[i] = v;
            }
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
            return Err(alkahest_tape::Error::Arity {
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
