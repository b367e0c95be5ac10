//! `horner` and `emit_c`.

use pyo3::prelude::*;

use crate::compile::outputs_of;
use crate::errors::{Error, R};
use crate::expr::PyExpr;

/// Rewrite a polynomial in `var` into Horner form.
#[pyfunction]
fn horner(expr: PyRef<'_, PyExpr>, var: PyRef<'_, PyExpr>) -> R<PyExpr> {
    expr.same_pool(&var)?;
    Ok(PyExpr::new(
        &expr.pool,
        alkahest_core::horner(&expr.pool, expr.id, var.id)?,
    ))
}

/// A complete C99 function computing `expr` with one `double` parameter per
/// variable. For a (nested) list of expressions the function is
/// `void f(double x, ..., double *out)` and writes `out[0..m)` in C order,
/// computing shared subexpressions once. The code computes the expression
/// as written (one operation per operator, as `optimize="none"` does).
#[pyfunction]
#[pyo3(signature = (expr, vars, fn_name="f"))]
fn emit_c(expr: &Bound<'_, PyAny>, vars: &Bound<'_, PyAny>, fn_name: &str) -> R<String> {
    let outs = outputs_of(expr)?;
    let ids = outs.vars(vars)?;
    let tape = alkahest_tape::lower_written(&outs.pool, &outs.written, &ids)?;
    let v = outs.pool.view();
    let names: Vec<String> = ids
        .iter()
        .map(|&id| match v.node(id) {
            alkahest_core::Node::Symbol(s) => Ok(s.to_string()),
            _ => Err(Error::Conversion("emit_c variables must be symbols".into())),
        })
        .collect::<R<_>>()?;
    drop(v);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    if outs.shape.is_some() {
        Ok(alkahest_c::emit_function_out(&tape, &refs, fn_name, "out")?)
    } else {
        Ok(alkahest_c::emit_function(&tape, &refs, fn_name)?)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(horner, m)?)?;
    m.add_function(wrap_pyfunction!(emit_c, m)?)?;
    Ok(())
}
