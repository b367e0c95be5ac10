//! `simplify`, `explain` and `CompiledFn.explain`: the e-graph optimizer.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::compile::PyCompiledFn;
#[cfg(feature = "egraph")]
use crate::errors::Error;
use crate::errors::R;
use crate::expr::PyExpr;

/// Rules fired, stop reason, op counts and bits of error, as a dict.
fn report_dict<'py>(
    py: Python<'py>,
    expr: Bound<'py, PyAny>,
    rules: &[(String, usize)],
    stop: &str,
    ops: (usize, usize),
    bits: (Option<f64>, Option<f64>),
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("expr", expr)?;
    let fired = PyList::empty(py);
    for (name, n) in rules {
        fired.append((name, *n))?;
    }
    d.set_item("rules_fired", fired)?;
    d.set_item("stop_reason", stop)?;
    d.set_item("ops_before", ops.0)?;
    d.set_item("ops_after", ops.1)?;
    d.set_item("error_bits_before", bits.0)?;
    d.set_item("error_bits_after", bits.1)?;
    Ok(d)
}

#[cfg(feature = "egraph")]
fn run(
    expr: &PyExpr,
    cost: &str,
    domain: Option<&Bound<'_, PyAny>>,
    py: Python<'_>,
) -> R<alkahest_egraph::Report> {
    use alkahest_egraph::{Cost, Options, simplify};
    let cost = match cost {
        "ops" | "speed" => Cost::Ops,
        "stability" | "accuracy" => Cost::Stability,
        other => {
            return Err(Error::Backend {
                class: "OptionError",
                msg: format!("unknown cost {other:?}; expected 'ops' or 'stability'"),
            });
        }
    };
    let domain = crate::compile::domain_of(domain)?;
    let opts = Options::new(cost).with_domain(
        domain
            .entries()
            .iter()
            .map(|(n, lo, hi)| (n.as_str(), *lo, *hi)),
    );
    let (pool, id) = (expr.pool.clone(), expr.id);
    py.detach(|| simplify(&pool, id, &opts)).map_err(|e| {
        use alkahest_egraph::Error as E;
        match e {
            E::Core(c) => Error::Core(c),
            E::Kernel(k) => Error::Kernel(k),
            E::NotASymbol(_) => Error::Backend {
                class: "NotASymbolError",
                msg: e.to_string(),
            },
            E::BadRange { .. } => Error::Backend {
                class: "OptionError",
                msg: e.to_string(),
            },
            other => Error::Backend {
                class: "CompileError",
                msg: other.to_string(),
            },
        }
    })
}

/// Rewrite `expr` with the e-graph: `cost="ops"` for the fewest operations,
/// `"stability"` for the most accurate form (measured against MPFR).
#[pyfunction]
#[pyo3(signature = (expr, cost="ops"))]
fn simplify(py: Python<'_>, expr: PyRef<'_, PyExpr>, cost: &str) -> R<PyExpr> {
    #[cfg(feature = "egraph")]
    {
        let r = run(&expr, cost, None, py)?;
        Ok(PyExpr::new(&expr.pool, r.expr))
    }
    #[cfg(not(feature = "egraph"))]
    {
        let _ = (py, expr, cost);
        Err(unavailable())
    }
}

/// What `simplify` does to `expr`: a dict with the result `expr`, the
/// `rules_fired` [(name, count)], `stop_reason`, `ops_before`/`ops_after`
/// and `error_bits_before`/`error_bits_after` (stability cost only).
#[pyfunction]
#[pyo3(signature = (expr, cost="stability", domain=None))]
fn explain<'py>(
    py: Python<'py>,
    expr: PyRef<'py, PyExpr>,
    cost: &str,
    domain: Option<&Bound<'py, PyAny>>,
) -> R<Bound<'py, PyDict>> {
    #[cfg(feature = "egraph")]
    {
        let r = run(&expr, cost, domain, py)?;
        Ok(report_dict(
            py,
            Bound::new(py, PyExpr::new(&expr.pool, r.expr))?.into_any(),
            &r.rules_fired,
            &format!("{:?}", r.stop_reason),
            (r.ops_before, r.ops_after),
            (r.error_bits_before, r.error_bits_after),
        )?)
    }
    #[cfg(not(feature = "egraph"))]
    {
        let _ = (py, expr, cost, domain);
        Err(unavailable())
    }
}

#[cfg(not(feature = "egraph"))]
fn unavailable() -> crate::errors::Error {
    crate::errors::Error::Backend {
        class: "BackendUnavailableError",
        msg: format!(
            "the e-graph optimizer is not compiled into this build (cargo feature 'egraph'): {}",
            crate::errors::install_hint("egraph")
        ),
    }
}

#[pymethods]
impl PyCompiledFn {
    /// What runs and what the optimizer did: 'tier' (running batches now),
    /// 'pending_tier' (being built in the background, or None),
    /// 'planned_tier' (what the plan builds for the planned evaluations),
    /// 'rewritten' (False when `optimize` was 'none' or the optimizer is
    /// not compiled in), 'output_groups' (how many groups of outputs the
    /// Cranelift and LLVM batch loops run one after another, for a wide
    /// function whose outputs each need few inputs; None when they run the
    /// whole function per point), and when rewritten the keys of
    /// `alkahest.explain`.
    fn explain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = match self.f.rewrite() {
            None => PyDict::new(py),
            Some(rw) => report_dict(
                py,
                crate::compile::nest(py, &self.src.pool, &rw.exprs, self.out_shape())?,
                &rw.rules_fired,
                &rw.stop_reason,
                (rw.ops_before, rw.ops_after),
                (rw.error_bits_before, rw.error_bits_after),
            )?,
        };
        d.set_item("rewritten", self.f.rewrite().is_some())?;
        d.set_item("tier", self.f.tier().name())?;
        d.set_item("pending_tier", self.f.pending_tier().map(|t| t.name()))?;
        d.set_item("planned_tier", self.f.plan().tier.name())?;
        // The JITs compile the computed outputs (constant ones are filled
        // in), so the groups are those of that tape.
        let tape = self.f.tape();
        let split = alkahest_tape::ConstantOutputs::split(tape);
        let computed = split.as_ref().map_or(tape, |(t, _)| t);
        let groups = alkahest_tape::output_groups(computed).map(|g| g.len());
        d.set_item("output_groups", groups)?;
        Ok(d)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simplify, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    Ok(())
}
