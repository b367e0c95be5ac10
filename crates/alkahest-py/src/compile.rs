//! `CompileConfig`, `CompiledFn`, `CompileCache`, `compile_expr`, `eval_expr`.

use std::sync::Arc;

use alkahest_compile::{CompileCache, CompileConfig, CompiledFn, Optimize, Tier};
use alkahest_core::{ExprId, ExprPool, Written};
use alkahest_tape::Evaluator;
use numpy::PyArrayMethods;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyTuple};

use crate::errors::{Error, R, warn_fallbacks};
use crate::expr::{PyExpr, PyExprPool};

/// How to compile: planned evaluations, a forced tier, rewriting, fast or
/// exact math (`exact_math`: LLVM batches bit-identical to `eval_expr`).
///
/// optimize=None means 'speed' (e-graph canonicalization, never more
/// operations than written) in builds with the e-graph optimizer and 'none'
/// without it; 'none' compiles the expression exactly as written;
/// 'accuracy' measures rewrites, series and regime selections against an
/// MPFR reference on sampled inputs and keeps the most accurate.
#[pyclass(
    name = "CompileConfig",
    module = "alkahest",
    frozen,
    skip_from_py_object
)]
#[derive(Clone)]
pub struct PyCompileConfig {
    pub(crate) inner: CompileConfig,
}

#[pymethods]
impl PyCompileConfig {
    #[new]
    #[pyo3(signature = (expected_evals=None, force_tier=None, optimize=None, fast_math=false, wait=false, domain=None, exact_math=false))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn py_new(
        expected_evals: Option<u64>,
        force_tier: Option<&str>,
        optimize: Option<&str>,
        fast_math: bool,
        wait: bool,
        domain: Option<&Bound<'_, PyAny>>,
        exact_math: bool,
    ) -> R<Self> {
        if fast_math && exact_math {
            // One promises the last bit, the other gives it away.
            return Err(Error::Backend {
                class: "OptionError",
                msg: "exact_math=True promises results bit-identical to eval_expr; \
                      fast_math=True allows value-changing optimizations: choose one"
                    .into(),
            });
        }
        Ok(PyCompileConfig {
            inner: CompileConfig {
                expected_evals,
                force_tier: force_tier.map(Tier::parse).transpose()?,
                optimize: optimize.map_or(Ok(Optimize::default()), Optimize::parse)?,
                fast_math,
                exact_math,
                wait,
                domain: domain_of(domain)?,
            },
        })
    }

    /// Declared input intervals: {variable name: (lo, hi)} (empty: the
    /// whole float range).
    #[getter]
    pub(crate) fn domain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, lo, hi) in self.inner.domain.entries() {
            d.set_item(name, (*lo, *hi))?;
        }
        Ok(d)
    }

    /// Points the caller plans to evaluate (None: unknown).
    #[getter]
    fn expected_evals(&self) -> Option<u64> {
        self.inner.expected_evals
    }

    /// The forced tier name, or None.
    #[getter]
    fn force_tier(&self) -> Option<&'static str> {
        self.inner.force_tier.map(Tier::name)
    }

    /// 'none', 'speed' or 'accuracy'.
    #[getter]
    fn optimize(&self) -> &'static str {
        self.inner.optimize.name()
    }

    /// Whether value-changing float optimizations are allowed.
    #[getter]
    fn fast_math(&self) -> bool {
        self.inner.fast_math
    }

    /// Whether LLVM's batch loop calls scalar libm instead of libmvec
    /// (batches bit-identical to scalar calls on every CPU tier).
    #[getter]
    fn exact_math(&self) -> bool {
        self.inner.exact_math
    }

    /// Whether compiles wait for the planned tier (else LLVM is built in
    /// the background while the function runs on a cheaper tier).
    #[getter]
    fn wait(&self) -> bool {
        self.inner.wait
    }

    fn __repr__(&self) -> String {
        let py_bool = |b: bool| if b { "True" } else { "False" };
        // Shown only when declared, so the common repr stays short.
        let domain = if self.inner.domain.is_empty() {
            String::new()
        } else {
            let items: Vec<String> = self
                .inner
                .domain
                .entries()
                .iter()
                .map(|(n, lo, hi)| format!("{n:?}: ({lo:?}, {hi:?})"))
                .collect();
            format!(", domain={{{}}}", items.join(", "))
        };
        // Shown only when set, like the domain.
        let exact = if self.inner.exact_math {
            ", exact_math=True"
        } else {
            ""
        };
        format!(
            "CompileConfig(expected_evals={}, force_tier={}, optimize='{}', fast_math={}, wait={}{domain}{exact})",
            self.inner
                .expected_evals
                .map_or("None".into(), |v| v.to_string()),
            self.inner
                .force_tier
                .map_or("None".into(), |t| format!("'{}'", t.name())),
            self.inner.optimize.name(),
            py_bool(self.inner.fast_math),
            py_bool(self.inner.wait),
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyCompileConfig>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }
}

/// A compiled expression, callable on one point or on batches.
#[pyclass(name = "CompiledFn", module = "alkahest", frozen)]
pub struct PyCompiledFn {
    pub(crate) f: Arc<CompiledFn>,
    pub(crate) src: Source,
}

/// What a compiled object was built from: its outputs and its variables.
/// Every compiled class keeps one (`CompiledFn`, `CudaFn`, `BallFn`,
/// `SeriesFn`) for the getters they share (`vars`, `n_vars`, `expr`,
/// `shape`), their repr and pickling.
pub(crate) struct Source {
    pub(crate) pool: ExprPool,
    /// One expression per output, flattened in C order.
    pub(crate) exprs: Vec<ExprId>,
    /// The output shape: `None` for a single expression (scalar results),
    /// else the shape of the nested list it was compiled from.
    pub(crate) shape: Option<Vec<usize>>,
    /// How each output was written (what `optimize="none"` evaluated, and
    /// what pickling carries to another process).
    pub(crate) written: Vec<Written>,
    pub(crate) vars: Vec<ExprId>,
}

impl Source {
    /// `outputs` over `vars`.
    pub(crate) fn new(outputs: Outputs, vars: Vec<ExprId>) -> Self {
        Source {
            pool: outputs.pool,
            exprs: outputs.ids,
            shape: outputs.shape,
            written: outputs.written,
            vars,
        }
    }

    /// One expression of `pool` (its canonical form as its written one).
    pub(crate) fn single(pool: &ExprPool, expr: ExprId, vars: Vec<ExprId>) -> Self {
        Source {
            pool: pool.clone(),
            exprs: vec![expr],
            shape: None,
            written: vec![Written::expr(expr)],
            vars,
        }
    }

    /// The output shape of one point: `()` for a single expression.
    pub(crate) fn out_shape(&self) -> &[usize] {
        self.shape.as_deref().unwrap_or(&[])
    }

    /// The `vars` getter: the variables, in argument order.
    pub(crate) fn var_exprs(&self) -> Vec<PyExpr> {
        PyExpr::list(&self.pool, &self.vars)
    }

    /// The `expr` getter: the expression, or the nested list of several
    /// outputs, as written.
    pub(crate) fn expr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        nest_written(
            py,
            &self.pool,
            &self.exprs,
            Some(&self.written),
            self.out_shape(),
        )
    }

    /// The `shape` getter: one point's result shape.
    pub(crate) fn shape_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.out_shape())
    }

    /// The variables' names, comma-separated (for reprs).
    pub(crate) fn var_names(&self) -> String {
        let names: Vec<String> = self
            .vars
            .iter()
            .map(|&v| alkahest_core::to_string(&self.pool, v))
            .collect();
        names.join(", ")
    }
}

/// What `compile_expr` compiles: one expression, or a rectangular nested
/// list of them (numbers allowed as leaves) with its shape.
pub(crate) struct Outputs {
    pub(crate) pool: ExprPool,
    pub(crate) ids: Vec<ExprId>,
    pub(crate) shape: Option<Vec<usize>>,
    /// Each output's written form (see `PyExpr::written`).
    pub(crate) written: Vec<Written>,
}

impl Outputs {
    /// `vars` (a sequence of symbols) as ids of this pool: one check for
    /// every entry point that takes outputs and variables.
    pub(crate) fn vars(&self, vars: &Bound<'_, PyAny>) -> R<Vec<ExprId>> {
        expr_and_vars(&PyExpr::new(&self.pool, self.ids[0]), vars)
    }
}

/// Deepest nesting accepted for output lists.
const MAX_OUTPUT_DEPTH: usize = 32;

/// Parse an expression or a nested list/tuple (or anything with `tolist()`,
/// such as a NumPy object array) of expressions into flat outputs.
pub(crate) fn outputs_of(obj: &Bound<'_, PyAny>) -> R<Outputs> {
    if let Ok(e) = obj.cast::<PyExpr>() {
        let e = e.get();
        return Ok(Outputs {
            pool: e.pool.clone(),
            ids: vec![e.id],
            shape: None,
            written: vec![e.written.clone()],
        });
    }
    // Leaves in C order with the shape, checked rectangular.
    let mut leaves: Vec<Bound<'_, PyAny>> = Vec::new();
    let mut shape: Vec<usize> = Vec::new();
    collect(obj, 0, &mut shape, &mut leaves)?;
    let pool = leaves
        .iter()
        .find_map(|l| l.cast::<PyExpr>().ok().map(|e| e.get().pool.clone()))
        .ok_or_else(|| {
            Error::Conversion(
                "expected an alkahest Expr or a (nested) list of them with at least one Expr"
                    .into(),
            )
        })?;
    let mut ids = Vec::with_capacity(leaves.len());
    let mut written = Vec::with_capacity(leaves.len());
    for (i, l) in leaves.iter().enumerate() {
        let (id, w) = crate::expr::operand_w(&pool, l)?.ok_or_else(|| {
            Error::Conversion(format!(
                "output #{i} is a {}, not an alkahest Expr or a number",
                l.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        ids.push(id);
        written.push(w);
    }
    Ok(Outputs {
        pool,
        ids,
        shape: Some(shape),
        written,
    })
}

/// Append the leaves of `obj` (at nesting `depth`) to `leaves`, fixing the
/// extent of each level in `shape` the first time it is seen.
fn collect<'py>(
    obj: &Bound<'py, PyAny>,
    depth: usize,
    shape: &mut Vec<usize>,
    leaves: &mut Vec<Bound<'py, PyAny>>,
) -> R<()> {
    let items: Option<Vec<Bound<'py, PyAny>>> = if let Ok(l) = obj.cast::<PyList>() {
        Some(l.iter().collect())
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        Some(t.iter().collect())
    } else if !obj.is_instance_of::<PyExpr>() && obj.hasattr("tolist")? {
        let l = obj.call_method0("tolist")?;
        l.cast::<PyList>().ok().map(|l| l.iter().collect())
    } else {
        None
    };
    match items {
        Some(items) => {
            if depth >= MAX_OUTPUT_DEPTH {
                return Err(Error::Shape(format!(
                    "outputs nested deeper than {MAX_OUTPUT_DEPTH} levels"
                )));
            }
            if items.is_empty() {
                return Err(Error::Shape(
                    "an empty list of outputs: give at least one expression per level".into(),
                ));
            }
            match shape.get(depth) {
                Some(&n) if n != items.len() => {
                    return Err(Error::Shape(format!(
                        "outputs are not rectangular: level {depth} has lengths {n} and {}",
                        items.len()
                    )));
                }
                Some(_) => {}
                None if shape.len() == depth && leaves.is_empty() => shape.push(items.len()),
                None => {
                    return Err(Error::Shape(
                        "outputs are not rectangular: lists and expressions mixed at one level"
                            .into(),
                    ));
                }
            }
            for it in &items {
                collect(it, depth + 1, shape, leaves)?;
            }
            Ok(())
        }
        None => {
            if depth != shape.len() {
                return Err(Error::Shape(
                    "outputs are not rectangular: lists and expressions mixed at one level".into(),
                ));
            }
            leaves.push(obj.clone());
            Ok(())
        }
    }
}

/// `ids` shaped as nested Python lists of `shape` (C order).
pub(crate) fn nest<'py>(
    py: Python<'py>,
    pool: &ExprPool,
    ids: &[ExprId],
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    nest_written(py, pool, ids, None, shape)
}

/// [`nest`], the expressions keeping their written forms (one per id).
pub(crate) fn nest_written<'py>(
    py: Python<'py>,
    pool: &ExprPool,
    ids: &[ExprId],
    written: Option<&[Written]>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    match shape.split_first() {
        None => {
            let e = match written {
                Some(w) => PyExpr {
                    pool: pool.clone(),
                    id: ids[0],
                    written: w[0].clone(),
                },
                None => PyExpr::new(pool, ids[0]),
            };
            Ok(Bound::new(py, e)?.into_any())
        }
        Some((&n, rest)) => {
            let step: usize = rest.iter().product();
            let items = (0..n)
                .map(|i| {
                    let part = i * step..(i + 1) * step;
                    nest_written(
                        py,
                        pool,
                        &ids[part.clone()],
                        written.map(|w| &w[part]),
                        rest,
                    )
                })
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, items)?.into_any())
        }
    }
}

fn extract_values(obj: &Bound<'_, PyAny>, n: usize) -> R<Vec<f64>> {
    let conv = |v: Bound<'_, PyAny>, i: usize| to_f64(&v, i);
    let vals: Vec<f64> = if let Ok(l) = obj.cast::<PyList>() {
        l.iter()
            .enumerate()
            .map(|(i, v)| conv(v, i))
            .collect::<R<_>>()?
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        t.iter()
            .enumerate()
            .map(|(i, v)| conv(v, i))
            .collect::<R<_>>()?
    } else {
        let it = obj.try_iter().map_err(|_| {
            Error::Conversion("expected a sequence of numbers, one per variable".into())
        })?;
        it.enumerate().map(|(i, v)| conv(v?, i)).collect::<R<_>>()?
    };
    if vals.len() != n {
        return Err(arity(n, vals.len()));
    }
    Ok(vals)
}

/// Input `i` of a scalar call as a float.
fn to_f64(v: &Bound<'_, PyAny>, i: usize) -> R<f64> {
    v.extract::<f64>().map_err(|_| {
        Error::Conversion(format!(
            "input #{i} must be a real number, got {}",
            v.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

/// The error of a scalar call given `got` values for `n` inputs.
fn arity(n: usize, got: usize) -> Error {
    Error::Arity(format!("expected {n} input value(s), got {got}"))
}

/// Inputs a scalar call reads without allocating.
const SCALAR_STACK: usize = 16;

/// Fill `out` from a list or tuple of exactly `out.len()` numbers; false
/// (nothing read) for other sequence types, which take [`extract_values`].
/// The list's length is checked before each read (a float's conversion
/// cannot run Python code, but other numbers' `__float__` can change it).
fn fill_values(obj: &Bound<'_, PyAny>, out: &mut [f64]) -> R<bool> {
    let n = out.len();
    if let Ok(l) = obj.cast::<PyList>() {
        if l.len() != n {
            return Err(arity(n, l.len()));
        }
        for (i, slot) in out.iter_mut().enumerate() {
            let v = l.get_item(i).map_err(|_| arity(n, l.len()))?;
            *slot = to_f64(&v, i)?;
        }
        Ok(true)
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() != n {
            return Err(arity(n, t.len()));
        }
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = to_f64(&t.get_item(i)?, i)?;
        }
        Ok(true)
    } else {
        Ok(false)
    }
}

impl PyCompiledFn {
    pub(crate) fn wrap(
        py: Python<'_>,
        f: Arc<CompiledFn>,
        outputs: Outputs,
        vars: Vec<ExprId>,
    ) -> PyResult<Self> {
        warn_fallbacks(py, &f.notes())?;
        Ok(PyCompiledFn {
            f,
            src: Source::new(outputs, vars),
        })
    }

    /// The output shape of one point: `()` for a single expression.
    pub(crate) fn out_shape(&self) -> &[usize] {
        self.src.out_shape()
    }

    /// `__call__` at one point: `f([x, y])` (one sequence) or `f(x, y)`.
    fn call_point<'py>(&self, args: &Bound<'py, PyTuple>) -> R<Bound<'py, PyAny>> {
        let py = args.py();
        let n = self.f.n_inputs();
        // `f([x, y])` (one sequence) or `f(x, y)` (one number per variable).
        let first = if args.len() == 1 {
            Some(args.get_item(0)?)
        } else {
            None
        };
        let src = match &first {
            Some(a)
                if a.is_instance_of::<PyList>()
                    || a.is_instance_of::<PyTuple>()
                    // Not a 0-d array: it has `__len__` but no length, and
                    // is one number.
                    || (a.hasattr("__len__")? && a.len().is_ok()) =>
            {
                a
            }
            _ => args.as_any(),
        };
        // A contiguous 1-D float64 array (what scipy's solvers pass) is read
        // in place: element by element it cost ~40 ns per input.
        if let Ok(arr) = src.cast::<numpy::PyArray1<f64>>() {
            let ro = arr.readonly();
            if let Ok(vals) = ro.as_slice() {
                if vals.len() != n {
                    return Err(arity(n, vals.len()));
                }
                return self.result(py, vals);
            }
        }
        // Up to SCALAR_STACK inputs are read into a stack buffer: a scalar
        // call costs well under a microsecond, and a heap allocation is a
        // visible part of that.
        let mut stack = [0.0f64; SCALAR_STACK];
        if n <= SCALAR_STACK && fill_values(src, &mut stack[..n])? {
            return self.result(py, &stack[..n]);
        }
        let vals = extract_values(src, n)?;
        self.result(py, &vals)
    }

    /// One point's results: a float, or an array of the output shape.
    fn result<'py>(&self, py: Python<'py>, vals: &[f64]) -> R<Bound<'py, PyAny>> {
        match &self.src.shape {
            None => {
                let mut one = [0.0];
                self.f.eval(vals, &mut one)?;
                Ok(pyo3::types::PyFloat::new(py, one[0]).into_any())
            }
            Some(shape) => {
                // The result array itself, of the output shape, written in
                // place: a vector handed to NumPy and then `reshape`d was
                // two objects and a Python method call (a 576-output call
                // took 1.31 us, of which 1.07 past a 1-output one).
                let a = numpy::PyArrayDyn::<f64>::zeros(py, numpy::ndarray::IxDyn(shape), false);
                // SAFETY: `a` was created just above, C-contiguous, and no
                // other reference to it exists yet (no borrow to conflict
                // with, so the borrow registry's cost is skipped).
                let out = unsafe { a.as_slice_mut() }
                    .map_err(|e| Error::Conversion(format!("result array: {e}")))?;
                self.f.eval(vals, out)?;
                Ok(a.into_any())
            }
        }
    }
}

/// Whether `f(*args)` evaluates elementwise: one argument per variable and
/// at least one of them an array of one or more dimensions (anything with a
/// `shape`: NumPy, Dask, PyTorch, JAX). One argument for a function of two
/// or more variables stays the point (`f(np.array([x, y]))`, scipy's
/// convention), and so does a one-element 1-D array for a function of one
/// variable (`scipy.optimize.minimize` passes one); any other array shape
/// is elementwise there.
fn elementwise_call(n_vars: usize, args: &Bound<'_, PyTuple>) -> PyResult<bool> {
    if args.len() != n_vars || n_vars == 0 {
        return Ok(false);
    }
    for a in args.iter() {
        // Numbers first: the scalar call's fast path pays for this check.
        if a.is_instance_of::<PyFloat>()
            || a.is_instance_of::<PyInt>()
            || a.is_instance_of::<PyList>()
            || a.is_instance_of::<PyTuple>()
        {
            continue;
        }
        let Ok(shape) = a.getattr("shape") else {
            continue;
        };
        let Ok(dims) = shape.extract::<Vec<usize>>() else {
            continue;
        };
        if dims.is_empty() {
            continue;
        }
        if n_vars == 1 && dims == [1] {
            return Ok(false);
        }
        return Ok(true);
    }
    Ok(false)
}

#[pymethods]
impl PyCompiledFn {
    /// Evaluate at one point: `f([x, y])` (or `f(x, y)`); or elementwise
    /// over arrays, one per variable, as `numpy_eval(f, xs, ys)`.
    #[pyo3(signature = (*args))]
    fn __call__<'py>(slf: &Bound<'py, Self>, args: &Bound<'py, PyTuple>) -> R<Bound<'py, PyAny>> {
        let this = slf.borrow();
        if elementwise_call(this.f.n_inputs(), args)? {
            drop(this);
            return crate::arrays::call_elementwise(slf, args);
        }
        this.call_point(args)
    }

    /// Input variables, in argument order.
    #[getter]
    fn vars(&self) -> Vec<PyExpr> {
        self.src.var_exprs()
    }

    /// Number of input variables.
    #[getter]
    fn n_vars(&self) -> usize {
        self.src.vars.len()
    }

    /// The tier running batches now: 'interpreter', 'cranelift' or 'llvm'.
    #[getter]
    fn tier(&self) -> &'static str {
        self.f.tier().name()
    }

    /// The tier a background thread is building, swapped in when ready
    /// (None when nothing is being built).
    #[getter]
    fn pending_tier(&self) -> Option<&'static str> {
        self.f.pending_tier().map(|t| t.name())
    }

    /// Wait (without the GIL) until no background build of this function
    /// runs, at most `timeout` seconds (forever with None); returns whether
    /// none runs. Calls never need it.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> R<bool> {
        let timeout = match timeout {
            None => None,
            Some(t) if t.is_finite() && t >= 0.0 => {
                Some(std::time::Duration::from_secs_f64(t.min(1e9)))
            }
            Some(t) => {
                return Err(Error::Backend {
                    class: "OptionError",
                    msg: format!(
                        "timeout must be a non-negative number of seconds or None, got {t}"
                    ),
                });
            }
        };
        let f = Arc::clone(&self.f);
        Ok(py.detach(move || f.wait(timeout)))
    }

    /// The compiled expression; for several outputs, the nested list of
    /// expressions it was compiled from.
    #[getter]
    fn expr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.src.expr(py)
    }

    /// The shape of one point's result: `()` for a single expression, else
    /// the shape of the nested list compiled (batch results have this shape
    /// followed by the inputs' shape).
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.src.shape_tuple(py)
    }

    /// Number of outputs (1 for a single expression).
    #[getter]
    fn n_outputs(&self) -> usize {
        self.src.exprs.len()
    }

    /// The configuration it was compiled with.
    #[getter]
    fn config(&self) -> PyCompileConfig {
        PyCompileConfig {
            inner: self.f.config().clone(),
        }
    }

    /// Fallback notes (why a faster tier was not used), oldest first.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.f.notes()
    }

    /// Evaluate many points: `inputs` has shape (n_vars, n_points), one row
    /// per variable (the column-major layout of `alkahest_eval_bulk`).
    fn call_batch<'py>(&self, py: Python<'py>, inputs: &Bound<'py, PyAny>) -> R<Bound<'py, PyAny>> {
        crate::arrays::call_batch(py, self, inputs)
    }

    /// Evaluate many points from one flat buffer: variable `v` at point `i`
    /// is `flat[v * n_points + i]`.
    #[pyo3(signature = (flat, n_points=None, out=None))]
    fn call_bulk<'py>(
        &self,
        py: Python<'py>,
        flat: &Bound<'py, PyAny>,
        n_points: Option<usize>,
        out: Option<&Bound<'py, PyAny>>,
    ) -> R<Bound<'py, PyAny>> {
        crate::arrays::call_bulk(py, self, flat, n_points, out)
    }

    /// Number of tape instructions (inputs and constants included).
    #[getter]
    fn n_ops(&self) -> usize {
        self.f.tape().ops().len()
    }

    fn __repr__(&self) -> String {
        format!(
            "CompiledFn(vars=[{}], tier='{}')",
            self.src.var_names(),
            self.f.tier().name()
        )
    }
}

/// `CompileConfig(domain=...)`: a mapping of symbols (or their names) to
/// `(lo, hi)` pairs of numbers.
pub(crate) fn domain_of(domain: Option<&Bound<'_, PyAny>>) -> R<alkahest_compile::Domain> {
    let Some(d) = domain.filter(|d| !d.is_none()) else {
        return Ok(alkahest_compile::Domain::default());
    };
    let d = d
        .cast::<PyDict>()
        .map_err(|_| Error::Conversion("domain must be a dict {symbol: (lo, hi)}".into()))?;
    let mut entries = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let name = if let Ok(e) = k.cast::<PyExpr>() {
            match e.get().pool.node(e.get().id)? {
                alkahest_core::Node::Symbol(s) => s.to_string(),
                _ => {
                    return Err(Error::Conversion(
                        "domain keys must be symbols (or their names)".into(),
                    ));
                }
            }
        } else if let Ok(s) = k.extract::<String>() {
            s
        } else {
            return Err(Error::Conversion(
                "domain keys must be symbols (or their names)".into(),
            ));
        };
        let (lo, hi): (f64, f64) = v.extract().map_err(|_| {
            Error::Conversion(format!(
                "domain of {name:?} must be a pair of numbers (lo, hi)"
            ))
        })?;
        entries.push((name, lo, hi));
    }
    Ok(alkahest_compile::Domain::new(entries)?)
}

/// The configuration argument, defaulted.
pub(crate) fn config_of(config: Option<&Bound<'_, PyAny>>) -> R<CompileConfig> {
    match config {
        None => Ok(CompileConfig::default()),
        Some(c) if c.is_none() => Ok(CompileConfig::default()),
        Some(c) => Ok(c
            .cast::<PyCompileConfig>()
            .map_err(|_| Error::Conversion("config must be an alkahest.CompileConfig".into()))?
            .get()
            .inner
            .clone()),
    }
}

/// Expression and variable ids, checking that all share one pool.
pub(crate) fn expr_and_vars(expr: &PyExpr, vars: &Bound<'_, PyAny>) -> R<Vec<ExprId>> {
    let it = vars
        .try_iter()
        .map_err(|_| Error::Conversion("vars must be a sequence of symbols".into()))?;
    let mut ids = Vec::new();
    for v in it {
        let v = v?;
        let e = v.cast::<PyExpr>().map_err(|_| {
            Error::Conversion("every variable must be an alkahest Expr (a symbol)".into())
        })?;
        expr.same_pool(e.get())?;
        ids.push(e.get().id);
    }
    Ok(ids)
}

/// Compile `expr` over `vars` into a callable. `expr` is one expression
/// or a (nested) list of them: then one function computes every output,
/// sharing common subexpressions, and returns arrays of that shape.
#[pyfunction]
#[pyo3(signature = (expr, vars, config=None))]
fn compile_expr(
    py: Python<'_>,
    expr: &Bound<'_, PyAny>,
    vars: &Bound<'_, PyAny>,
    config: Option<&Bound<'_, PyAny>>,
) -> R<PyCompiledFn> {
    let outputs = outputs_of(expr)?;
    let ids = outputs.vars(vars)?;
    let cfg = config_of(config)?;
    let (pool, exprs, written) = (&outputs.pool, &outputs.ids, &outputs.written);
    let f = py.detach(|| alkahest_compile::compile_written(pool, exprs, written, &ids, &cfg))?;
    Ok(PyCompiledFn::wrap(py, Arc::new(f), outputs, ids)?)
}

/// Evaluate `expr` once with `values` ({symbol: number}), with no compilation.
#[pyfunction]
fn eval_expr(expr: PyRef<'_, PyExpr>, values: &Bound<'_, PyAny>) -> R<f64> {
    let d = values
        .cast::<PyDict>()
        .map_err(|_| Error::Conversion("values must be a dict {symbol: number}".into()))?;
    let mut vars = Vec::with_capacity(d.len());
    let mut vals = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let k = k
            .cast::<PyExpr>()
            .map_err(|_| Error::Conversion("values keys must be alkahest symbols".into()))?;
        expr.same_pool(k.get())?;
        vars.push(k.get().id);
        vals.push(v.extract::<f64>().map_err(|_| {
            Error::Conversion(format!(
                "value for {} must be a real number, got {}",
                k.get().__repr__(),
                v.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?);
    }
    // As written, operation for operation (what `optimize="none"` compiles).
    let tape =
        alkahest_tape::lower_written(&expr.pool, std::slice::from_ref(&expr.written), &vars)?;
    Ok(alkahest_interp::Interpreter::new(&tape).eval_scalar(&vals))
}

/// Memoizes compilation by (expression content, variable order, config);
/// with `path`, also in that directory, shared with other processes.
#[pyclass(name = "CompileCache", module = "alkahest", frozen)]
pub struct PyCompileCache {
    pub(crate) inner: CompileCache,
}

#[pymethods]
impl PyCompileCache {
    /// `path` (str or os.PathLike): a directory (created if missing) where
    /// compiled functions persist across processes; None keeps them in
    /// memory only.
    #[new]
    #[pyo3(signature = (path=None))]
    fn py_new(py: Python<'_>, path: Option<std::path::PathBuf>) -> R<Self> {
        let inner = match path {
            None => CompileCache::new(),
            Some(p) => py.detach(|| CompileCache::with_dir(&p))?,
        };
        Ok(PyCompileCache { inner })
    }

    /// The cache directory, or None for a memory-only cache.
    #[getter]
    fn path(&self) -> Option<std::path::PathBuf> {
        self.inner.dir().map(|d| d.to_path_buf())
    }

    /// Compiled function for `expr` (one expression or a nested list, as
    /// in `compile_expr`) over `vars`, compiling only on a miss.
    #[pyo3(signature = (expr, vars, pool=None, config=None))]
    fn compile(
        &self,
        py: Python<'_>,
        expr: &Bound<'_, PyAny>,
        vars: &Bound<'_, PyAny>,
        pool: Option<PyRef<'_, PyExprPool>>,
        config: Option<&Bound<'_, PyAny>>,
    ) -> R<PyCompiledFn> {
        let outputs = outputs_of(expr)?;
        if let Some(p) = &pool
            && p.pool.id() != outputs.pool.id()
        {
            return Err(alkahest_core::Error::PoolMismatch.into());
        }
        let ids = outputs.vars(vars)?;
        let cfg = config_of(config)?;
        let (p, exprs, written) = (&outputs.pool, &outputs.ids, &outputs.written);
        let f = py.detach(|| {
            self.inner
                .compile_written(p, exprs, Some(written), &ids, &cfg)
        })?;
        Ok(PyCompiledFn::wrap(py, f, outputs, ids)?)
    }

    /// Counters of this process: 'hits' (= 'memory_hits' + 'disk_hits'),
    /// 'compiles', 'hit_rate', and the disk's 'disk_rejects' (stale or
    /// corrupted entries rebuilt), 'disk_errors' (failed reads/writes),
    /// 'disk_writes'.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("hits", s.hits)?;
        d.set_item("compiles", s.compiles)?;
        d.set_item("hit_rate", s.hit_rate())?;
        d.set_item("memory_hits", s.memory_hits)?;
        d.set_item("disk_hits", s.disk_hits)?;
        d.set_item("disk_rejects", s.disk_rejects)?;
        d.set_item("disk_errors", s.disk_errors)?;
        d.set_item("disk_writes", s.disk_writes)?;
        Ok(d)
    }

    /// Drop every function cached in memory (counters and disk entries stay).
    fn clear(&self) {
        self.inner.clear();
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        let s = self.inner.stats();
        let path = self.inner.dir().map_or(String::new(), |d| {
            format!("path={:?}, ", d.display().to_string())
        });
        format!(
            "CompileCache({path}entries={}, hits={}, compiles={})",
            self.inner.len(),
            s.hits,
            s.compiles
        )
    }
}

/// Which optional backends this build contains.
#[pyfunction]
fn features<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, on) in alkahest_compile::features() {
        d.set_item(name, on)?;
    }
    d.set_item("parallel", alkahest_batch::PARALLEL)?;
    d.set_item("cuda", cfg!(feature = "cuda"))?;
    Ok(d)
}

/// Wait (without the GIL) until no background build runs, at most
/// `timeout` seconds; `alkahest` registers it with Python's `atexit`, so an
/// interpreter that exits during a build never tears LLVM down under it.
#[pyfunction]
#[pyo3(signature = (timeout=None))]
fn _wait_background(py: Python<'_>, timeout: Option<f64>) -> bool {
    let timeout = timeout
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(|t| std::time::Duration::from_secs_f64(t.min(1e9)));
    py.detach(|| alkahest_compile::wait_idle(timeout))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_wait_background, m)?)?;
    m.add_class::<PyCompileConfig>()?;
    m.add_class::<PyCompiledFn>()?;
    m.add_class::<PyCompileCache>()?;
    m.add_function(wrap_pyfunction!(compile_expr, m)?)?;
    m.add_function(wrap_pyfunction!(eval_expr, m)?)?;
    m.add_function(wrap_pyfunction!(features, m)?)?;
    Ok(())
}
