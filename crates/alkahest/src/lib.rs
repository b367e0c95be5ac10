#![doc = include_str!("../README.md")]

mod error;
mod expr;
mod function;

pub use error::{Error, Result};
pub use expr::{Cond, Expr, Pool};
pub use function::{Function, compile};

/// How to compile: expected number of evaluations, a forced tier,
/// rewriting, fast-math. `Config::default()` lets the planner choose.
pub use alkahest_compile::CompileConfig as Config;
pub use alkahest_compile::{Optimize, Tier, available_tiers, features};

/// The lower-level crates, for what the facade does not cover (tapes,
/// the compile cache, C emission lives in `alkahest-c`).
pub mod raw {
    pub use alkahest_batch as batch;
    pub use alkahest_compile as compile;
    pub use alkahest_core as core;
    pub use alkahest_kernel as kernel;
}

/// NVPTX code generation and the CUDA driver (feature `cuda`): compile a
/// [`Function`]'s tape with [`cuda::CudaFn`]; running needs an NVIDIA
/// driver, compiling does not.
#[cfg(feature = "cuda")]
pub use alkahest_cuda as cuda;

#[cfg(feature = "ndarray")]
pub use ndarray;
