//! Cranelift JIT backend: compiles an `alkahest_tape::Tape` to native code
//! for the host CPU in milliseconds, the fast-compile native tier.
//!
//! ```
//! use alkahest_core::{ExprPool, Func};
//! use alkahest_tape::{Evaluator, lower, lower_many};
//!
//! let pool = ExprPool::new();
//! let x = pool.symbol("x").unwrap();
//! let e = pool.func(Func::Sin, &[x]).unwrap();
//! let f = alkahest_cranelift::compile(&lower(&pool, e, &[x]).unwrap()).unwrap();
//! assert_eq!(f.eval_scalar(&[0.5]), 0.5f64.sin());
//!
//! // Several outputs, computed in one pass: sin(x) and sin(x)^2.
//! let s2 = pool.mul(&[e, e]).unwrap();
//! let g = alkahest_cranelift::compile(&lower_many(&pool, &[e, s2], &[x]).unwrap()).unwrap();
//! let mut out = [0.0; 2];
//! g.eval(&[0.5], &mut out);
//! assert_eq!(out, [0.5f64.sin(), 0.5f64.sin() * 0.5f64.sin()]);
//! ```
//!
//! The generated code exports two entry points (see [`CraneliftFn`]), for a
//! tape with `n` inputs and `m` outputs:
//!
//! - `alkahest_eval_scalar(inputs: *const f64, out: *mut f64)`: reads
//!   `inputs[0..n]`, writes `out[0..m]`;
//! - `alkahest_eval_bulk(cols: *const *const f64, n_vars: u64,
//!   outs: *const *mut f64, n_points: u64)`: input `v` at point `i` is
//!   `cols[v][i]`, output `k` at point `i` goes to `outs[k][i]` (a table of
//!   `m` column pointers); the loop over points is inside the generated
//!   code.
//!
//! Semantics equal the kernel's reference ([`alkahest_tape::Tape::eval_point`],
//! which the interpreter also computes) bit for bit: `+ - * /`, `sqrt`,
//! `abs`, `floor`, `ceil`, `copysign`, `fma` and comparisons are exact
//! IEEE-754 operations; every other function calls the same libm symbol the
//! reference calls (named by the kernel's function table). `Select` is
//! branch-free in the IR (`fcmp une` + `select`). The one difference is the
//! payload and sign of a NaN produced by `min`/`max` (unspecified in
//! Cranelift), and of a NaN produced by arithmetic on two NaN operands; that
//! it is a NaN is guaranteed.

mod codegen;
mod error;
mod function;
mod libm;

pub use codegen::{AUTO_SINGLE_PASS_ABOVE, MAX_LIVE, Options, RegAlloc};
pub use error::{Error, Result};
pub use function::{CraneliftFn, compile, compile_with};
