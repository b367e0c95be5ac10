//! Cranelift JIT backend: compiles an `alkahest_kernel::Tape` to native code
//! for the host CPU in milliseconds, the fast-compile native tier.
//!
//! ```
//! use alkahest_core::{ExprPool, Func};
//! use alkahest_kernel::{Evaluator, lower};
//!
//! let pool = ExprPool::new();
//! let x = pool.symbol("x").unwrap();
//! let e = pool.func(Func::Sin, &[x]).unwrap();
//! let f = alkahest_cranelift::compile(&lower(&pool, e, &[x]).unwrap()).unwrap();
//! assert_eq!(f.eval(&[0.5]), 0.5f64.sin());
//! ```
//!
//! The generated code exports two entry points (see [`CraneliftFn`]): a
//! scalar `extern "C" fn(inputs: *const f64) -> f64` and
//! `alkahest_eval_bulk(cols, n_vars, out, n_points)` over column-major data,
//! whose loop over points is inside the generated code.
//!
//! Semantics equal the interpreter's bit for bit: `+ - * /`, `sqrt`, `abs`,
//! `fma` are IEEE-754 operations; every other function calls the same Rust
//! `f64` method the interpreter calls. The one difference is the payload and
//! sign of a NaN produced by `min`/`max` (unspecified in Cranelift); that it
//! is a NaN is guaranteed.

mod codegen;
mod error;
mod function;
mod libm;

pub use codegen::{AUTO_SINGLE_PASS_ABOVE, MAX_LIVE, Options, RegAlloc};
pub use error::{Error, Result};
pub use function::{CraneliftFn, compile, compile_with};
