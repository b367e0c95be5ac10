#![doc = include_str!("../README.md")]

mod error;
mod expr;
mod function;

pub use error::{Error, Result};
pub use expr::{Cond, Expr, Pool};
pub use function::{Function, compile};

/// How to compile: expected number of evaluations, a forced tier,
/// rewriting, fast-math, `wait`, `domain`. `Config::default()` lets the
/// planner choose; a function planned for LLVM is then returned at once on
/// a cheaper tier while LLVM builds on a background thread.
pub use alkahest_compile::CompileConfig as Config;
pub use alkahest_compile::{Domain, Optimize, Tier, available_tiers, features};

/// Wait for background LLVM builds (at most `timeout`). A program that
/// may exit while the first one runs should call it before returning from
/// `main`: LLVM's static destructors run at exit, and the exit handler
/// that waits for builds is registered only after the first one finishes.
pub use alkahest_compile::wait_idle;

/// The lower-level crates, for what the facade does not cover (tapes,
/// the compile cache, C emission lives in `alkahest-c`).
pub mod raw {
    pub use alkahest_batch as batch;
    pub use alkahest_compile as compile;
    pub use alkahest_core as core;
    pub use alkahest_tape as tape;
}

/// NVPTX code generation and the CUDA driver (feature `cuda`): compile a
/// [`Function`]'s tape with [`cuda::CudaFn`]; running needs an NVIDIA
/// driver, compiling does not.
#[cfg(feature = "cuda")]
pub use alkahest_cuda as cuda;

#[cfg(feature = "ndarray")]
pub use ndarray;
