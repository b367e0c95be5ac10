//! The MLIR backend (`alkahest-mlir`, cargo feature `mlir`) in Python, and
//! `taylor` (`alkahest-series`, in every build).
//!
//! * `to_mlir(expr, vars, fn_name="f", dialect="alkahest")`: module text in
//!   the `alkahest` dialect, or lowered to `arith` + `math` or to `llvm`;
//! * `to_stablehlo(expr, vars, fn_name="f")`: StableHLO text for XLA/JAX;
//! * `mlir_dialect()`: the IRDL definition of the `alkahest` dialect (for
//!   `mlir-opt --irdl-file=...`);
//! * `taylor(expr, var, center=0.0, order=8)`: Taylor coefficients (pure
//!   power-series arithmetic, no MLIR), and `compile_series(...)` ->
//!   `SeriesFn`, the JIT-compiled truncated series (`alkahest.series_taylor`);
//! * `compile_interval(expr, vars)` -> `BallFn`, the JIT-compiled ball
//!   arithmetic enclosure (`alkahest.interval_eval`), and
//!   `interval_eval(expr, {sym: (mid, rad)})` for one-off use.
//!
//! Without the feature every function except `taylor` exists and raises
//! `BackendUnavailableError` naming the feature: the Python functions below
//! are written once and call `backend`, whose feature-less variant is one
//! stub per function. MLIR work (emission, lowering, JIT compilation) and
//! the series arithmetic run with the GIL released.
//!
//! Errors of `alkahest_mlir::Error` (and of `alkahest_series::Error`) map
//! to: unbound symbols, non-symbol or duplicate variables, mixed pools ->
//! the same classes as everywhere else;
//! an invalid function name -> `InvalidNameError`; a construct with no
//! lowering for the target -> `BackendUnavailableError` (a documented
//! limitation of the backend, not a failure); MLIR rejecting a module or the
//! ExecutionEngine failing -> `CompileError` (a bug, never silent); an
//! out-of-range series order or center, a singular center or a negative ball
//! radius -> `OptionError`.

use alkahest_core::{ExprId, ExprPool};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::compile::{Source, expr_and_vars};
use crate::errors::{Error, R};
use crate::expr::PyExpr;

/// Default truncation order of `taylor` / `compile_series`.
const DEFAULT_ORDER: i64 = 8;

/// The dialect `to_mlir` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    /// The `alkahest` dialect itself (plus `math`).
    Alkahest,
    /// Lowered to `arith` + `math` + `func`.
    Arith,
    /// Lowered to the `llvm` dialect.
    Llvm,
}

impl Dialect {
    /// Parse the `dialect=` argument.
    fn parse(s: &str) -> R<Self> {
        match s {
            "alkahest" => Ok(Dialect::Alkahest),
            "arith" => Ok(Dialect::Arith),
            "llvm" => Ok(Dialect::Llvm),
            other => Err(Error::Backend {
                class: "OptionError",
                msg: format!(
                    "unknown MLIR dialect {other:?}: expected 'alkahest', 'arith' or 'llvm' \
                     (StableHLO has its own function, to_stablehlo)"
                ),
            }),
        }
    }
}

/// A ball (midpoint, radius) as handed to the backend.
#[derive(Clone, Copy, Debug, PartialEq)]
struct BallIn {
    mid: f64,
    rad: f64,
}

/// Check the `order=` argument (negative is an `OptionError`).
fn order_of(order: i64) -> R<usize> {
    usize::try_from(order).map_err(|_| Error::Backend {
        class: "OptionError",
        msg: format!("series order must be >= 0, got {order}"),
    })
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// One ball: a `(mid, rad)` pair (tuple or list) or a real number (radius 0).
fn ball_of(v: &Bound<'_, PyAny>, what: &str) -> R<BallIn> {
    let real = |x: Bound<'_, PyAny>, part: &str| -> R<f64> {
        x.extract::<f64>().map_err(|_| {
            Error::Conversion(format!(
                "{what}: {part} must be a real number, got {}",
                type_name(&x)
            ))
        })
    };
    let pair: Option<Vec<Bound<'_, PyAny>>> = if let Ok(t) = v.cast::<PyTuple>() {
        Some(t.iter().collect())
    } else if let Ok(l) = v.cast::<PyList>() {
        Some(l.iter().collect())
    } else {
        None
    };
    let ball = match pair {
        Some(items) => {
            let [m, r]: [Bound<'_, PyAny>; 2] = items.try_into().map_err(|i: Vec<_>| {
                Error::Conversion(format!(
                    "{what}: a ball is a (mid, rad) pair, got {} item(s)",
                    i.len()
                ))
            })?;
            BallIn {
                mid: real(m, "the midpoint")?,
                rad: real(r, "the radius")?,
            }
        }
        None => BallIn {
            mid: v.extract::<f64>().map_err(|_| {
                Error::Conversion(format!(
                    "{what}: expected a (mid, rad) pair or a real number, got {}",
                    type_name(v)
                ))
            })?,
            rad: 0.0,
        },
    };
    if ball.rad.is_nan() || ball.rad < 0.0 {
        return Err(Error::Backend {
            class: "OptionError",
            msg: format!("{what}: ball radius must be >= 0, got {}", ball.rad),
        });
    }
    Ok(ball)
}

/// Balls from a sequence, one per variable (`n` of them).
fn balls_of(obj: &Bound<'_, PyAny>, n: usize) -> R<Vec<BallIn>> {
    if obj.is_instance_of::<pyo3::types::PyString>() {
        return Err(Error::Conversion(
            "balls must be a sequence of (mid, rad) pairs, one per variable".into(),
        ));
    }
    let it = obj.try_iter().map_err(|_| {
        Error::Conversion("balls must be a sequence of (mid, rad) pairs, one per variable".into())
    })?;
    let balls = it
        .enumerate()
        .map(|(i, v)| ball_of(&v?, &format!("ball #{i}")))
        .collect::<R<Vec<_>>>()?;
    if balls.len() != n {
        return Err(Error::Arity(format!(
            "expected {n} ball(s), one per variable, got {}",
            balls.len()
        )));
    }
    Ok(balls)
}

/// A construct with no lowering (or no series): `BackendUnavailableError`,
/// a documented limitation rather than a failure.
fn unsupported(e: impl std::fmt::Display) -> Error {
    Error::Backend {
        class: "BackendUnavailableError",
        msg: format!(
            "{e} (the MLIR backend has no lowering for this construct on this \
             target: a limitation, not a compile failure; compile_expr's other \
             tiers can still evaluate it)"
        ),
    }
}

/// Map a series error onto the Python exception classes (as the MLIR
/// backend's errors of the same kinds).
fn series_err(e: alkahest_series::Error) -> Error {
    use alkahest_series::Error as S;
    match e {
        S::Kernel(k) => Error::Kernel(k),
        S::Unsupported { .. } => unsupported(e),
        S::InvalidArgument(_) => Error::Backend {
            class: "OptionError",
            msg: e.to_string(),
        },
    }
}

/// The Taylor coefficients of `expr` in `var` about `center` (every build).
fn taylor_coefficients(
    pool: &ExprPool,
    expr: ExprId,
    var: ExprId,
    center: f64,
    order: usize,
) -> R<Vec<f64>> {
    alkahest_series::taylor_coefficients(pool, expr, var, center, order).map_err(series_err)
}

/// The backend proper; one stub per function raising
/// `BackendUnavailableError` without the `mlir` feature.
#[cfg(feature = "mlir")]
mod backend {
    use super::{BallIn, Dialect};
    use crate::errors::{Error, R};
    use alkahest_core::{ExprId, ExprPool};
    use alkahest_mlir::{Ball, Target};
    use alkahest_tape::Evaluator;

    /// A compiled series (`alkahest.series_taylor` through the ExecutionEngine).
    pub(crate) type SeriesCode = alkahest_mlir::MlirFn;
    /// A compiled ball enclosure (`alkahest.interval_eval`).
    pub(crate) type BallCode = alkahest_mlir::MlirBallFn;

    /// Map a backend error onto the Python exception classes.
    fn err(e: alkahest_mlir::Error) -> Error {
        use alkahest_mlir::Error as M;
        let backend = |class: &'static str, msg: String| Error::Backend { class, msg };
        match e {
            M::Kernel(k) => Error::Kernel(k),
            M::Core(c) => Error::Core(c),
            M::InvalidName { .. } => backend("InvalidNameError", e.to_string()),
            M::Unsupported { .. } => super::unsupported(e),
            M::InvalidArgument(_) => backend("OptionError", e.to_string()),
            M::Mlir { .. } | M::Build(_) | M::Engine(_) => backend(
                "CompileError",
                format!("{e} (an internal error of the MLIR backend)"),
            ),
        }
    }

    fn target(d: Dialect) -> Target {
        match d {
            Dialect::Alkahest => Target::Alkahest,
            Dialect::Arith => Target::Arith,
            Dialect::Llvm => Target::Llvm,
        }
    }

    pub(crate) fn dialect_irdl() -> R<String> {
        Ok(alkahest_mlir::dialect_irdl().to_string())
    }

    pub(crate) fn to_mlir(
        pool: &ExprPool,
        exprs: &[ExprId],
        vars: &[ExprId],
        fn_name: &str,
        d: Dialect,
    ) -> R<String> {
        alkahest_mlir::to_mlir_many(
            pool,
            exprs,
            vars,
            fn_name,
            target(d),
            alkahest_mlir::EmitOptions::default(),
        )
        .map_err(err)
    }

    pub(crate) fn to_stablehlo(
        pool: &ExprPool,
        exprs: &[ExprId],
        vars: &[ExprId],
        fn_name: &str,
    ) -> R<String> {
        alkahest_mlir::to_stablehlo_many(pool, exprs, vars, fn_name).map_err(err)
    }

    /// The compiled series and its coefficients (computed first, so their
    /// errors come first).
    pub(crate) fn compile_series(
        pool: &ExprPool,
        expr: ExprId,
        var: ExprId,
        center: f64,
        order: usize,
    ) -> R<(SeriesCode, Vec<f64>)> {
        let coefficients = super::taylor_coefficients(pool, expr, var, center, order)?;
        let code = alkahest_mlir::compile_series(pool, expr, var, center, order).map_err(err)?;
        Ok((code, coefficients))
    }

    pub(crate) fn call_series(f: &SeriesCode, x: f64) -> R<f64> {
        Ok(f.eval_scalar(&[x]))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn series_to_mlir(
        pool: &ExprPool,
        expr: ExprId,
        var: ExprId,
        center: f64,
        order: usize,
        fn_name: &str,
        d: Dialect,
    ) -> R<String> {
        alkahest_mlir::series_to_mlir(pool, expr, var, center, order, fn_name, target(d))
            .map_err(err)
    }

    pub(crate) fn compile_interval(pool: &ExprPool, expr: ExprId, vars: &[ExprId]) -> R<BallCode> {
        alkahest_mlir::compile_interval(pool, expr, vars).map_err(err)
    }

    pub(crate) fn call_interval(f: &BallCode, balls: &[BallIn]) -> R<(f64, f64)> {
        let balls: Vec<Ball> = balls
            .iter()
            .map(|b| Ball {
                mid: b.mid,
                rad: b.rad,
            })
            .collect();
        let out = f.eval(&balls).map_err(err)?;
        Ok((out.mid, out.rad))
    }

    pub(crate) fn interval_to_mlir(
        pool: &ExprPool,
        expr: ExprId,
        vars: &[ExprId],
        fn_name: &str,
        d: Dialect,
    ) -> R<String> {
        alkahest_mlir::interval_to_mlir(pool, expr, vars, fn_name, target(d)).map_err(err)
    }
}

/// Stubs: this build has no MLIR backend.
#[cfg(not(feature = "mlir"))]
mod backend {
    use super::{BallIn, Dialect};
    use crate::errors::{Error, R};
    use alkahest_core::{ExprId, ExprPool};

    /// Never constructed without the feature.
    pub(crate) enum SeriesCode {}
    /// Never constructed without the feature.
    pub(crate) enum BallCode {}

    fn unavailable<T>() -> R<T> {
        Err(Error::Backend {
            class: "BackendUnavailableError",
            msg: format!(
                "this alkahest has no MLIR backend (cargo feature 'mlir'): {}",
                crate::errors::install_hint("mlir")
            ),
        })
    }

    /// `pub(crate) fn name(_: T, ...) -> R<U> { unavailable() }` for each
    /// `fn name(T, ...) -> U;`: the feature's signatures, one line each.
    macro_rules! unavailable {
        ($(fn $name:ident($($arg:ty),*) -> $ret:ty;)*) => {
            $(pub(crate) fn $name($(_: $arg),*) -> R<$ret> {
                unavailable()
            })*
        };
    }

    unavailable! {
        fn dialect_irdl() -> String;
        fn to_mlir(&ExprPool, &[ExprId], &[ExprId], &str, Dialect) -> String;
        fn to_stablehlo(&ExprPool, &[ExprId], &[ExprId], &str) -> String;
        fn compile_series(&ExprPool, ExprId, ExprId, f64, usize) -> (SeriesCode, Vec<f64>);
        fn series_to_mlir(&ExprPool, ExprId, ExprId, f64, usize, &str, Dialect) -> String;
        fn compile_interval(&ExprPool, ExprId, &[ExprId]) -> BallCode;
        fn interval_to_mlir(&ExprPool, ExprId, &[ExprId], &str, Dialect) -> String;
    }

    pub(crate) fn call_series(f: &SeriesCode, _: f64) -> R<f64> {
        match *f {}
    }

    pub(crate) fn call_interval(f: &BallCode, _: &[BallIn]) -> R<(f64, f64)> {
        match *f {}
    }
}

/// The IRDL definition of the `alkahest` dialect, as MLIR text: pass it to
/// `mlir-opt --irdl-file=...` to verify or transform emitted modules.
#[pyfunction]
fn mlir_dialect() -> R<String> {
    backend::dialect_irdl()
}

/// MLIR module text of `expr` as `func.func @fn_name(f64, ...) -> f64`, one
/// argument per variable of `vars` in order. `dialect` is `'alkahest'` (the
/// alkahest dialect: `horner`, `poly_eval`, `rational_fn`, ...), `'arith'`
/// (`arith` + `math`, Horner chains as `math.fma`) or `'llvm'` (input to
/// `mlir-translate --mlir-to-llvmir`).
#[pyfunction]
#[pyo3(signature = (expr, vars, fn_name="f", dialect="alkahest"))]
fn to_mlir(
    py: Python<'_>,
    expr: &Bound<'_, PyAny>,
    vars: &Bound<'_, PyAny>,
    fn_name: &str,
    dialect: &str,
) -> R<String> {
    let d = Dialect::parse(dialect)?;
    let outs = crate::compile::outputs_of(expr)?;
    let ids = outs.vars(vars)?;
    let (pool, exprs) = (outs.pool, outs.ids);
    py.detach(|| backend::to_mlir(&pool, &exprs, &ids, fn_name, d))
}

/// StableHLO module text of `expr` for XLA / JAX: a public `@main` taking one
/// `tensor<f64>` per variable of `vars` in order and returning `tensor<f64>`,
/// which calls the private function `@fn_name`.
#[pyfunction]
#[pyo3(signature = (expr, vars, fn_name="f"))]
fn to_stablehlo(
    py: Python<'_>,
    expr: &Bound<'_, PyAny>,
    vars: &Bound<'_, PyAny>,
    fn_name: &str,
) -> R<String> {
    let outs = crate::compile::outputs_of(expr)?;
    let ids = outs.vars(vars)?;
    let (pool, exprs) = (outs.pool, outs.ids);
    py.detach(|| backend::to_stablehlo(&pool, &exprs, &ids, fn_name))
}

/// Taylor coefficients `[f(c), f'(c), f''(c)/2!, ..., f^(order)(c)/order!]`
/// of `expr` as a function of the symbol `var` (its only free symbol) about
/// `center`, computed in float64 by truncated power-series arithmetic
/// (`alkahest-series`: in every build, with or without MLIR).
#[pyfunction]
#[pyo3(signature = (expr, var, center=0.0, order=DEFAULT_ORDER))]
fn taylor(
    py: Python<'_>,
    expr: PyRef<'_, PyExpr>,
    var: PyRef<'_, PyExpr>,
    center: f64,
    order: i64,
) -> R<Vec<f64>> {
    expr.same_pool(&var)?;
    let order = order_of(order)?;
    let (pool, id, v) = (expr.pool.clone(), expr.id, var.id);
    py.detach(|| taylor_coefficients(&pool, id, v, center, order))
}

/// A JIT-compiled truncated Taylor series (`alkahest.series_taylor`):
/// `f(x)` evaluates the degree-`order` Taylor polynomial of `expr` in `var`
/// about `center`. Made by `compile_series`.
#[pyclass(name = "SeriesFn", module = "alkahest", frozen)]
pub struct PySeriesFn {
    code: backend::SeriesCode,
    /// The expression, and the series variable as its one variable.
    src: Source,
    center: f64,
    order: usize,
    coefficients: Vec<f64>,
}

#[pymethods]
impl PySeriesFn {
    /// The series' value at `x`.
    fn __call__(&self, x: &Bound<'_, PyAny>) -> R<f64> {
        let x = x.extract::<f64>().map_err(|_| {
            Error::Conversion(format!(
                "a series takes one real number, got {}",
                type_name(x)
            ))
        })?;
        backend::call_series(&self.code, x)
    }

    /// The expanded expression.
    #[getter]
    fn expr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.src.expr(py)
    }

    /// The series variable.
    #[getter]
    fn var(&self) -> PyExpr {
        PyExpr::new(&self.src.pool, self.src.vars[0])
    }

    /// The expansion point.
    #[getter]
    fn center(&self) -> f64 {
        self.center
    }

    /// The truncation order (degree of the polynomial).
    #[getter]
    fn order(&self) -> usize {
        self.order
    }

    /// The Taylor coefficients, lowest degree first (see `taylor`).
    #[getter]
    fn coefficients(&self) -> Vec<f64> {
        self.coefficients.clone()
    }

    /// MLIR text of the series as `func.func @fn_name(f64) -> f64` built on
    /// `alkahest.series_taylor`, in `dialect` ('alkahest', 'arith', 'llvm').
    #[pyo3(signature = (fn_name="f", dialect="alkahest"))]
    fn to_mlir(&self, py: Python<'_>, fn_name: &str, dialect: &str) -> R<String> {
        let d = Dialect::parse(dialect)?;
        py.detach(|| {
            backend::series_to_mlir(
                &self.src.pool,
                self.src.exprs[0],
                self.src.vars[0],
                self.center,
                self.order,
                fn_name,
                d,
            )
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "SeriesFn(var={}, center={:?}, order={})",
            self.src.var_names(),
            self.center,
            self.order
        )
    }
}

/// JIT-compile the degree-`order` Taylor polynomial of `expr` in `var` about
/// `center` through MLIR (`alkahest.series_taylor` -> llvm ->
/// ExecutionEngine); returns a `SeriesFn`.
#[pyfunction]
#[pyo3(signature = (expr, var, center=0.0, order=DEFAULT_ORDER))]
fn compile_series(
    py: Python<'_>,
    expr: PyRef<'_, PyExpr>,
    var: PyRef<'_, PyExpr>,
    center: f64,
    order: i64,
) -> R<PySeriesFn> {
    expr.same_pool(&var)?;
    let order = order_of(order)?;
    let (pool, id, v) = (expr.pool.clone(), expr.id, var.id);
    let (code, coefficients) =
        py.detach(|| backend::compile_series(&pool, id, v, center, order))?;
    Ok(PySeriesFn {
        code,
        src: Source::single(&pool, id, vec![v]),
        center,
        order,
        coefficients,
    })
}

/// A JIT-compiled ball-arithmetic enclosure (`alkahest.interval_eval`):
/// `f([(mid, rad), ...])`, one ball per variable (a bare number is a ball of
/// radius 0), returns `(mid, rad)` of a ball enclosing every value of the
/// expression over the input balls (outward rounded). Made by
/// `compile_interval`.
#[pyclass(name = "BallFn", module = "alkahest", frozen)]
pub struct PyBallFn {
    code: backend::BallCode,
    src: Source,
}

#[pymethods]
impl PyBallFn {
    /// Enclose the expression over `balls` (one `(mid, rad)` per variable).
    fn __call__(&self, balls: &Bound<'_, PyAny>) -> R<(f64, f64)> {
        let balls = balls_of(balls, self.src.vars.len())?;
        backend::call_interval(&self.code, &balls)
    }

    /// The enclosed expression.
    #[getter]
    fn expr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.src.expr(py)
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

    /// MLIR text of the enclosure: `func.func @fn_name(%m0: f64, %r0: f64,
    /// ...) -> (f64, f64)` on `alkahest.interval_eval`, in `dialect`
    /// ('alkahest', 'arith', 'llvm').
    #[pyo3(signature = (fn_name="f", dialect="alkahest"))]
    fn to_mlir(&self, py: Python<'_>, fn_name: &str, dialect: &str) -> R<String> {
        let d = Dialect::parse(dialect)?;
        let s = &self.src;
        py.detach(|| backend::interval_to_mlir(&s.pool, s.exprs[0], &s.vars, fn_name, d))
    }

    fn __repr__(&self) -> String {
        format!("BallFn(vars=[{}])", self.src.var_names())
    }
}

fn compile_ball_fn(py: Python<'_>, pool: &ExprPool, expr: ExprId, ids: Vec<ExprId>) -> R<PyBallFn> {
    let code = py.detach(|| backend::compile_interval(pool, expr, &ids))?;
    Ok(PyBallFn {
        code,
        src: Source::single(pool, expr, ids),
    })
}

/// JIT-compile the ball-arithmetic enclosure of `expr` over `vars` through
/// MLIR (`alkahest.interval_eval` -> llvm -> ExecutionEngine); returns a
/// `BallFn`. `atan2` has no ball lowering (`BackendUnavailableError`).
#[pyfunction]
fn compile_interval(
    py: Python<'_>,
    expr: PyRef<'_, PyExpr>,
    vars: &Bound<'_, PyAny>,
) -> R<PyBallFn> {
    let ids = expr_and_vars(&expr, vars)?;
    compile_ball_fn(py, &expr.pool, expr.id, ids)
}

/// Enclose `expr` once over `balls`, a dict `{symbol: (mid, rad)}` (a bare
/// number is a ball of radius 0): returns `(mid, rad)`. Compiles on every
/// call; use `compile_interval` for repeated evaluation.
#[pyfunction]
fn interval_eval(
    py: Python<'_>,
    expr: PyRef<'_, PyExpr>,
    balls: &Bound<'_, PyAny>,
) -> R<(f64, f64)> {
    let d = balls
        .cast::<PyDict>()
        .map_err(|_| Error::Conversion("balls must be a dict {symbol: (mid, rad)}".into()))?;
    let mut ids = Vec::with_capacity(d.len());
    let mut vals = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let k = k
            .cast::<PyExpr>()
            .map_err(|_| Error::Conversion("balls keys must be alkahest symbols".into()))?;
        expr.same_pool(k.get())?;
        vals.push(ball_of(&v, &format!("ball for {}", k.get().__repr__()))?);
        ids.push(k.get().id);
    }
    let f = compile_ball_fn(py, &expr.pool, expr.id, ids)?;
    backend::call_interval(&f.code, &vals)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySeriesFn>()?;
    m.add_class::<PyBallFn>()?;
    m.add_function(wrap_pyfunction!(mlir_dialect, m)?)?;
    m.add_function(wrap_pyfunction!(to_mlir, m)?)?;
    m.add_function(wrap_pyfunction!(to_stablehlo, m)?)?;
    m.add_function(wrap_pyfunction!(taylor, m)?)?;
    m.add_function(wrap_pyfunction!(compile_series, m)?)?;
    m.add_function(wrap_pyfunction!(compile_interval, m)?)?;
    m.add_function(wrap_pyfunction!(interval_eval, m)?)?;
    Ok(())
}
