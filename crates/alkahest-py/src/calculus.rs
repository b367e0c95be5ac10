//! `diff`, `grad`, `jacobian`, `hessian`: derivatives built in the pool, so
//! they share nodes with the function they differentiate.

use alkahest_core::ExprId;
use pyo3::prelude::*;

use crate::compile::outputs_of;
use crate::errors::{Error, R};
use crate::expr::PyExpr;

/// Symbols of `vars` (a sequence of Expr) in `expr`'s pool.
fn symbols(expr: &PyExpr, vars: &Bound<'_, PyAny>) -> R<Vec<ExprId>> {
    crate::compile::expr_and_vars(expr, vars)
}

/// `d^n expr / d var^n`. `var` must be a symbol; derivatives of `Abs`,
/// `Min`, `Max`, `floor`, ... are piecewise (`where`), exact away from
/// their kinks.
#[pyfunction]
#[pyo3(signature = (expr, var, n=1))]
fn diff(expr: PyRef<'_, PyExpr>, var: PyRef<'_, PyExpr>, n: usize) -> R<PyExpr> {
    expr.same_pool(&var)?;
    Ok(PyExpr::new(
        &expr.pool,
        expr.pool.diff_n(expr.id, var.id, n)?,
    ))
}

/// The gradient of `expr`: one derivative per variable, in order.
#[pyfunction]
fn grad(expr: PyRef<'_, PyExpr>, vars: &Bound<'_, PyAny>) -> R<Vec<PyExpr>> {
    let v = symbols(&expr, vars)?;
    let g = expr.pool.grad(expr.id, &v)?;
    Ok(PyExpr::list(&expr.pool, &g))
}

/// The Jacobian of `exprs` (a list of expressions, or one expression):
/// row i holds the derivatives of `exprs[i]` with respect to each variable.
#[pyfunction]
fn jacobian(exprs: &Bound<'_, PyAny>, vars: &Bound<'_, PyAny>) -> R<Vec<Vec<PyExpr>>> {
    let out = outputs_of(exprs)?;
    let v = out.vars(vars)?;
    let j = out.pool.jacobian(&out.ids, &v)?;
    Ok(j.iter().map(|row| PyExpr::list(&out.pool, row)).collect())
}

/// The Hessian of `expr`: second derivatives, a symmetric matrix.
#[pyfunction]
fn hessian(expr: PyRef<'_, PyExpr>, vars: &Bound<'_, PyAny>) -> R<Vec<Vec<PyExpr>>> {
    let v = symbols(&expr, vars)?;
    if v.is_empty() {
        return Err(Error::Arity("hessian() needs at least one variable".into()));
    }
    let h = expr.pool.hessian(expr.id, &v)?;
    Ok(h.iter().map(|row| PyExpr::list(&expr.pool, row)).collect())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(grad, m)?)?;
    m.add_function(wrap_pyfunction!(jacobian, m)?)?;
    m.add_function(wrap_pyfunction!(hessian, m)?)?;
    Ok(())
}
