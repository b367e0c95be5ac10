//! Python bindings for Alkahest (`alkahest._alkahest`).
//!
//! This crate only converts: Python objects in, calls into the Rust crates,
//! results (or typed exceptions, all mapped in [`errors`]) out. Long calls
//! release the GIL.

use pyo3::prelude::*;

/// The module's Rust allocations go to mimalloc, not glibc's `malloc`:
/// compiling is allocation-bound (the e-graph's classes, matches and hash
/// maps, Cranelift's IR). Repeated compiles in one process took 8-13% less
/// time (a 100-step random DAG on the interpreter 3.6 -> 3.1 ms, 1,000
/// steps on Cranelift 12.6 -> 11.5; `benches/RESULTS.md`), evaluation and
/// resident memory the same. Only this extension module sets it: the
/// library crates leave the choice to whoever links them.
///
/// Built with `no_thp`: by default mimalloc asks for transparent huge pages
/// on its arena, so the first large e-graph of a process faulted in 2 MiB
/// at a time (~1.5 ms more); turning them off by its runtime option would
/// instead disable them for the whole process (`prctl`), the result
/// pool's included. TLS is local-dynamic because the module is loaded by
/// `dlopen`, where the static TLS block has no room left.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
