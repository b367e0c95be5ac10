//! Python bindings for Alkahest (`alkahest._alkahest`).
//!
//! This crate only converts: Python objects in, calls into the Rust crates,
//! results (or typed exceptions, all mapped in [`errors`]) out. Long calls
//! release the GIL.

use pyo3::prelude::*;

mod arrays;
mod calculus;
mod codegen;
mod compile;
mod cuda;
mod egraph;
mod errors;
mod expr;
mod from_sympy;
mod mlir;
mod persist;
mod result_pool;

/// The extension module.
#[pymodule]
fn _alkahest(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    expr::register(m)?;
    m.add_function(wrap_pyfunction!(from_sympy::from_sympy_fast, m)?)?;
    calculus::register(m)?;
    compile::register(m)?;
    arrays::register(m)?;
    codegen::register(m)?;
    mlir::register(m)?;
    cuda::register(m)?;
    egraph::register(m)?;
    persist::register(m)?;
    result_pool::register(m)?;
    Ok(())
}
