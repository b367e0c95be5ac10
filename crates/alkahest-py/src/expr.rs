//! `ExprPool`, `Expr`, and the elementary-function constructors.

use alkahest_core::{ExprId, ExprPool, Func, Node, Written, WrittenOp};
use num_bigint::BigInt;
use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyTuple};

use crate::errors::{Error, R};

/// A hash-consed expression pool. Every expression belongs to exactly one.
#[pyclass(name = "ExprPool", module = "alkahest", frozen, skip_from_py_object)]
#[derive(Clone)]
pub struct PyExprPool {
    pub(crate) pool: ExprPool,
}

/// An expression: a node of an `ExprPool`.
#[pyclass(name = "Expr", module = "alkahest", frozen, skip_from_py_object)]
#[derive(Clone)]
pub struct PyExpr {
    pub(crate) pool: ExprPool,
    pub(crate) id: ExprId,
    /// How the expression was written (the operators applied, in order),
    /// which `optimize="none"` evaluates; equality and hashing use `id`.
    pub(crate) written: Written,
}

impl PyExpr {
    /// An expression whose written form is its canonical form (symbols,
    /// constants, derivatives, loaded expressions, ...).
    pub(crate) fn new(pool: &ExprPool, id: ExprId) -> Self {
        PyExpr {
            pool: pool.clone(),
            id,
            written: Written::expr(id),
        }
    }

    /// `op(args)` built by the pool as `id`, remembering how it was written.
    pub(crate) fn built(pool: &ExprPool, id: ExprId, op: WrittenOp, args: Vec<Written>) -> Self {
        PyExpr {
            pool: pool.clone(),
            id,
            written: Written::op(pool, op, args, id),
        }
    }

    /// Wrap each of `ids` (e.g. a compiled function's variables).
    pub(crate) fn list(pool: &ExprPool, ids: &[ExprId]) -> Vec<Self> {
        ids.iter().map(|&id| Self::new(pool, id)).collect()
    }

    /// Check that `other` lives in this expression's pool.
    pub(crate) fn same_pool(&self, other: &PyExpr) -> R<()> {
        if self.pool.id() == other.pool.id() {
            Ok(())
        } else {
            Err(alkahest_core::Error::PoolMismatch.into())
        }
    }
}

/// [`operand`] with the operand's written form.
pub(crate) fn operand_w(pool: &ExprPool, obj: &Bound<'_, PyAny>) -> R<Option<(ExprId, Written)>> {
    if let Ok(e) = obj.cast::<PyExpr>() {
        let e = e.get();
        if e.pool.id() != pool.id() {
            return Err(alkahest_core::Error::PoolMismatch.into());
        }
        return Ok(Some((e.id, e.written.clone())));
    }
    Ok(operand(pool, obj)?.map(|id| (id, Written::expr(id))))
}

/// Convert a Python operand (Expr, int, float, Fraction-like) into an id of `pool`.
pub(crate) fn operand(pool: &ExprPool, obj: &Bound<'_, PyAny>) -> R<Option<ExprId>> {
    if let Ok(e) = obj.cast::<PyExpr>() {
        let e = e.get();
        if e.pool.id() != pool.id() {
            return Err(alkahest_core::Error::PoolMismatch.into());
        }
        return Ok(Some(e.id));
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(None);
    }
    if obj.is_instance_of::<PyInt>() {
        let v: BigInt = obj.extract()?;
        return Ok(Some(pool.integer(v)?));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Some(pool.float(obj.extract()?)?));
    }
    // fractions.Fraction and other exact rationals.
    if let (Ok(n), Ok(d)) = (obj.getattr("numerator"), obj.getattr("denominator"))
        && let (Ok(n), Ok(d)) = (n.extract::<BigInt>(), d.extract::<BigInt>())
    {
        return Ok(Some(pool.rational(n, d)?));
    }
    // NumPy scalars and anything else that converts losslessly.
    if obj.hasattr("__index__")?
        && let Ok(v) = obj
            .call_method0("__index__")
            .and_then(|i| i.extract::<BigInt>())
    {
        return Ok(Some(pool.integer(v)?));
    }
    if obj.hasattr("__float__")?
        && let Ok(v) = obj
            .call_method0("__float__")
            .and_then(|f| f.extract::<f64>())
    {
        return Ok(Some(pool.float(v)?));
    }
    Ok(None)
}

/// Build an id from a function argument that must be an expression or number,
/// taking the pool from the first Expr among `args`.
fn func_call(f: Func, args: &[Bound<'_, PyAny>]) -> R<PyExpr> {
    let (pool, ids, ws) = operands(f.name(), args)?;
    let id = pool.func(f, &ids)?;
    Ok(PyExpr::built(&pool, id, WrittenOp::Func(f), ws))
}

/// The pool of the first Expr among `args` (arguments of `name()`), and
/// every argument (an Expr or a number) as an id of that pool.
fn operands(name: &str, args: &[Bound<'_, PyAny>]) -> R<(ExprPool, Vec<ExprId>, Vec<Written>)> {
    let pool = args
        .iter()
        .find_map(|a| a.cast::<PyExpr>().ok().map(|e| e.get().pool.clone()))
        .ok_or_else(|| {
            Error::Conversion(format!(
                "{name}() needs at least one alkahest Expr argument (numbers alone have no pool; use pool.float(...))"
            ))
        })?;
    let mut ids = Vec::with_capacity(args.len());
    let mut ws = Vec::with_capacity(args.len());
    for a in args {
        let (id, w) = operand_w(&pool, a)?.ok_or_else(|| {
            Error::Conversion(format!(
                "{name}() argument of type {} is not an Expr or a number",
                a.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        ids.push(id);
        ws.push(w);
    }
    Ok((pool, ids, ws))
}

/// `t1 op t2 op ... op tn`, left to right, as the written form of a flat
/// sum or product built in one step (`canonical`).
pub(crate) fn fold_written(
    pool: &ExprPool,
    op: WrittenOp,
    ws: Vec<Written>,
    canonical: ExprId,
) -> Written {
    let n = ws.len();
    if n < 2 {
        return ws
            .into_iter()
            .next()
            .unwrap_or_else(|| Written::expr(canonical));
    }
    let mut it = ws.into_iter();
    let mut acc = it.next().expect("n >= 2");
    for (i, w) in it.enumerate() {
        acc = if i + 2 == n {
            Written::op(pool, op, vec![acc, w], canonical)
        } else {
            Written::step(op, vec![acc, w])
        };
    }
    acc
}

/// `add(t1, t2, ...)`: the sum of all terms as one flat node, in one
/// O(n log n) step. `s = s + t` in a loop (or `sum(terms)`) keeps sums
/// longer than `FLATTEN_LIMIT` (64) terms as nested groups so that each
/// step stays small; this builds the flat sum directly.
#[pyfunction(signature = (*terms))]
fn add(terms: Vec<Bound<'_, PyAny>>) -> R<PyExpr> {
    let (pool, ids, ws) = operands("add", &terms)?;
    let id = pool.add(&ids)?;
    let written = fold_written(&pool, WrittenOp::Add, ws, id);
    Ok(PyExpr { pool, id, written })
}

/// `mul(f1, f2, ...)`: the product of all factors as one flat node (see
/// `add`).
#[pyfunction(signature = (*factors))]
fn mul(factors: Vec<Bound<'_, PyAny>>) -> R<PyExpr> {
    let (pool, ids, ws) = operands("mul", &factors)?;
    let id = pool.mul(&ids)?;
    let written = fold_written(&pool, WrittenOp::Mul, ws, id);
    Ok(PyExpr { pool, id, written })
}

#[pymethods]
impl PyExprPool {
    #[new]
    fn py_new() -> Self {
        PyExprPool {
            pool: ExprPool::new(),
        }
    }

    /// The symbol named `name` (the same name gives the same expression).
    fn symbol(&self, name: &Bound<'_, PyAny>) -> R<PyExpr> {
        let name: String = name
            .extract()
            .map_err(|_| Error::Conversion("symbol name must be a str".into()))?;
        Ok(PyExpr::new(&self.pool, self.pool.symbol(&name)?))
    }

    /// Several symbols from a whitespace- or comma-separated string.
    fn symbols(&self, names: &str) -> R<Vec<PyExpr>> {
        names
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(|n| Ok(PyExpr::new(&self.pool, self.pool.symbol(n)?)))
            .collect()
    }

    /// An exact integer of any size.
    fn integer(&self, n: &Bound<'_, PyAny>) -> R<PyExpr> {
        if !n.is_instance_of::<PyInt>() || n.is_instance_of::<PyBool>() {
            return Err(Error::Conversion(format!(
                "integer() needs an int, got {}",
                n.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            )));
        }
        Ok(PyExpr::new(
            &self.pool,
            self.pool.integer(n.extract::<BigInt>()?)?,
        ))
    }

    /// The exact rational p/q in lowest terms.
    fn rational(&self, p: &Bound<'_, PyAny>, q: &Bound<'_, PyAny>) -> R<PyExpr> {
        let get = |v: &Bound<'_, PyAny>| -> R<BigInt> {
            if !v.is_instance_of::<PyInt>() || v.is_instance_of::<PyBool>() {
                return Err(Error::Conversion(
                    "rational() needs int numerator and denominator".into(),
                ));
            }
            Ok(v.extract()?)
        };
        Ok(PyExpr::new(
            &self.pool,
            self.pool.rational(get(p)?, get(q)?)?,
        ))
    }

    /// A float constant.
    fn float(&self, v: &Bound<'_, PyAny>) -> R<PyExpr> {
        let v: f64 = v
            .extract()
            .map_err(|_| Error::Conversion("float() needs a real number".into()))?;
        Ok(PyExpr::new(&self.pool, self.pool.float(v)?))
    }

    fn __len__(&self) -> usize {
        self.pool.len()
    }

    fn __repr__(&self) -> String {
        format!("ExprPool(nodes={})", self.pool.len())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyExprPool>()
            .is_ok_and(|o| o.get().pool.id() == self.pool.id())
    }

    fn __hash__(&self) -> u64 {
        self.pool.id().0
    }
}

/// Which arithmetic operator a binary dunder method applies.
#[derive(Clone, Copy)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Mod,
    /// A binary function: comparisons and `And`/`Or`.
    Func(Func),
}

impl PyExpr {
    /// `self op other` (or `other op self` when `reflected`); NotImplemented
    /// for operands that are not numbers, so Python raises its usual TypeError.
    fn arith(&self, other: &Bound<'_, PyAny>, op: Arith, reflected: bool) -> R<Py<PyAny>> {
        let py = other.py();
        let Some((o, wo)) = operand_w(&self.pool, other)? else {
            return Ok(py.NotImplemented());
        };
        let ((a, wa), (b, wb)) = if reflected {
            ((o, wo), (self.id, self.written.clone()))
        } else {
            ((self.id, self.written.clone()), (o, wo))
        };
        let p = &self.pool;
        let (id, wop) = match op {
            Arith::Add => (p.add(&[a, b])?, WrittenOp::Add),
            Arith::Sub => (p.sub(a, b)?, WrittenOp::Sub),
            Arith::Mul => (p.mul(&[a, b])?, WrittenOp::Mul),
            Arith::Div => (p.div(a, b)?, WrittenOp::Div),
            Arith::Pow => (p.pow(a, b)?, WrittenOp::Pow),
            Arith::Mod => (p.func(Func::Mod, &[a, b])?, WrittenOp::Func(Func::Mod)),
            Arith::Func(f) => (p.func(f, &[a, b])?, WrittenOp::Func(f)),
        };
        Ok(Py::new(py, PyExpr::built(p, id, wop, vec![wa, wb]))?.into_any())
    }
}

impl PyExpr {
    /// `f(self)`, remembering how it was written.
    fn unary(&self, f: Func) -> R<PyExpr> {
        let id = self.pool.func(f, &[self.id])?;
        Ok(PyExpr::built(
            &self.pool,
            id,
            WrittenOp::Func(f),
            vec![self.written.clone()],
        ))
    }
}

fn no_modulo(modulo: Option<&Bound<'_, PyAny>>) -> R<()> {
    if modulo.is_some_and(|m| !m.is_none()) {
        return Err(Error::Conversion(
            "pow() with a modulus is not defined for expressions".into(),
        ));
    }
    Ok(())
}

#[pymethods]
impl PyExpr {
    fn __add__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Add, false)
    }
    fn __radd__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Add, true)
    }
    fn __sub__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Sub, false)
    }
    fn __rsub__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Sub, true)
    }
    fn __mul__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Mul, false)
    }
    fn __rmul__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Mul, true)
    }
    fn __truediv__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Div, false)
    }
    fn __rtruediv__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Div, true)
    }
    fn __pow__(&self, other: &Bound<'_, PyAny>, modulo: Option<&Bound<'_, PyAny>>) -> R<Py<PyAny>> {
        no_modulo(modulo)?;
        self.arith(other, Arith::Pow, false)
    }
    fn __rpow__(
        &self,
        other: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> R<Py<PyAny>> {
        no_modulo(modulo)?;
        self.arith(other, Arith::Pow, true)
    }

    fn __mod__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Mod, false)
    }
    fn __rmod__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Mod, true)
    }
    /// `a & b`: `And(a, b)` of two conditions.
    fn __and__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Func(Func::And), false)
    }
    fn __rand__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Func(Func::And), true)
    }
    /// `a | b`: `Or(a, b)` of two conditions.
    fn __or__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Func(Func::Or), false)
    }
    fn __ror__(&self, other: &Bound<'_, PyAny>) -> R<Py<PyAny>> {
        self.arith(other, Arith::Func(Func::Or), true)
    }
    /// `~c`: `Not(c)` of a condition.
    fn __invert__(&self) -> R<PyExpr> {
        self.unary(Func::Not)
    }

    /// Whether this expression is a condition (a comparison or
    /// `And`/`Or`/`Not` of them) rather than a number.
    #[getter]
    fn is_condition(&self) -> bool {
        self.pool.is_condition(self.id)
    }

    fn __neg__(&self) -> R<PyExpr> {
        let id = self.pool.neg(self.id)?;
        Ok(PyExpr::built(
            &self.pool,
            id,
            WrittenOp::Neg,
            vec![self.written.clone()],
        ))
    }

    fn __pos__(&self) -> PyExpr {
        self.clone()
    }

    fn __abs__(&self) -> R<PyExpr> {
        self.unary(Func::Abs)
    }

    /// `==` / `!=` are structural identity (so expressions hash and work as
    /// dict keys); `<`, `<=`, `>`, `>=` build conditions (`Lt(a, b)`, ...),
    /// as in SymPy. Numeric equality as a condition is `eq(a, b)`.
    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> R<PyObject_or_bool> {
        let f = match op {
            CompareOp::Lt => Func::Lt,
            CompareOp::Le => Func::Le,
            CompareOp::Gt => Func::Gt,
            CompareOp::Ge => Func::Ge,
            CompareOp::Eq | CompareOp::Ne => {
                let eq = other
                    .cast::<PyExpr>()
                    .ok()
                    .map(|o| o.get().pool.id() == self.pool.id() && o.get().id == self.id);
                return Ok(match (op, eq) {
                    (CompareOp::Eq, Some(e)) => PyObject_or_bool::Bool(e),
                    (CompareOp::Ne, Some(e)) => PyObject_or_bool::Bool(!e),
                    _ => PyObject_or_bool::NotImplemented,
                });
            }
        };
        let Some((o, wo)) = operand_w(&self.pool, other)? else {
            return Ok(PyObject_or_bool::NotImplemented);
        };
        let id = self.pool.func(f, &[self.id, o])?;
        Ok(PyObject_or_bool::Expr(PyExpr::built(
            &self.pool,
            id,
            WrittenOp::Func(f),
            vec![self.written.clone(), wo],
        )))
    }

    fn __hash__(&self) -> u64 {
        self.pool
            .key(self.id)
            .map_or(self.id.0 as u64, |k| k.0 as u64)
    }

    fn __bool__(&self) -> R<bool> {
        Err(Error::Conversion(
            "the truth value of an Expr is undefined (a condition such as x < y is decided per point: use where(cond, a, b)); compare with == for structural identity"
                .into(),
        ))
    }

    pub(crate) fn __repr__(&self) -> String {
        alkahest_core::to_string(&self.pool, self.id)
    }

    fn __str__(&self) -> String {
        self.__repr__()
    }

    /// The pool this expression belongs to.
    #[getter]
    fn pool(&self) -> PyExprPool {
        PyExprPool {
            pool: self.pool.clone(),
        }
    }

    /// Index of this node in its pool.
    #[getter]
    fn id(&self) -> u32 {
        self.id.0
    }

    /// 128-bit structural hash, the same in every pool and process.
    #[getter]
    fn content_key(&self) -> R<u128> {
        Ok(self.pool.key(self.id)?.0)
    }

    /// Node kind: 'symbol', 'integer', 'rational', 'float', 'add', 'mul',
    /// 'pow', or a function name ('sin', 'atan2', 'Min', ...).
    #[getter]
    fn kind(&self) -> R<&'static str> {
        Ok(match self.pool.node(self.id)? {
            Node::Symbol(_) => "symbol",
            Node::Integer(_) => "integer",
            Node::Rational(_) => "rational",
            Node::Float(_) => "float",
            Node::Add(_) => "add",
            Node::Mul(_) => "mul",
            Node::Pow(_) => "pow",
            Node::Func(f, _) => f.name(),
        })
    }

    /// Operands, in canonical order.
    #[getter]
    fn args<'py>(&self, py: Python<'py>) -> R<Bound<'py, PyTuple>> {
        let node = self.pool.node(self.id)?;
        let items: Vec<PyExpr> = node
            .children()
            .iter()
            .map(|&c| PyExpr::new(&self.pool, c))
            .collect();
        Ok(PyTuple::new(py, items)?)
    }

    /// Symbol name (None for other kinds).
    #[getter]
    fn name(&self) -> R<Option<String>> {
        Ok(match self.pool.node(self.id)? {
            Node::Symbol(s) => Some(s.to_string()),
            _ => None,
        })
    }

    /// Numeric value: int, fractions.Fraction or float (None if not a number).
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> R<Option<Bound<'py, PyAny>>> {
        Ok(match self.pool.node(self.id)? {
            Node::Integer(i) => Some(i.into_pyobject(py)?.into_any()),
            Node::Rational(r) => {
                let frac = py.import("fractions")?.getattr("Fraction")?;
                Some(frac.call1((r.numer().clone(), r.denom().clone()))?)
            }
            Node::Float(b) => Some(PyFloat::new(py, f64::from_bits(b)).into_any()),
            _ => None,
        })
    }

    /// Symbols this expression depends on, sorted by name.
    fn free_symbols(&self) -> Vec<PyExpr> {
        let v = self.pool.view();
        let mut syms: Vec<(String, ExprId)> = v
            .reachable(&[self.id])
            .into_iter()
            .filter_map(|id| match v.node(id) {
                Node::Symbol(s) => Some((s.to_string(), id)),
                _ => None,
            })
            .collect();
        drop(v);
        syms.sort();
        syms.into_iter()
            .map(|(_, id)| PyExpr::new(&self.pool, id))
            .collect()
    }

    /// Number of distinct nodes in this expression's DAG.
    fn dag_size(&self) -> usize {
        self.pool.view().reachable(&[self.id]).len()
    }
}

/// A rich comparison result: a bool (identity), a condition, or
/// NotImplemented.
#[allow(non_camel_case_types)]
pub enum PyObject_or_bool {
    Bool(bool),
    Expr(PyExpr),
    NotImplemented,
}

impl<'py> IntoPyObject<'py> for PyObject_or_bool {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            PyObject_or_bool::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
            PyObject_or_bool::Expr(e) => Bound::new(py, e)?.into_any(),
            PyObject_or_bool::NotImplemented => py.NotImplemented().into_bound(py),
        })
    }
}

macro_rules! unary_fns {
    ($($fname:ident => $variant:ident),* $(,)?) => {
        $(
            #[doc = concat!("`", stringify!($fname), "(x)` as an expression.")]
            #[pyfunction]
            fn $fname(x: &Bound<'_, PyAny>) -> R<PyExpr> {
                func_call(Func::$variant, std::slice::from_ref(x))
            }
        )*
        fn register_unary(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $( m.add_function(wrap_pyfunction!($fname, m)?)?; )*
            Ok(())
        }
    };
}

unary_fns!(
    sin => Sin, cos => Cos, tan => Tan, asin => Asin, acos => Acos, atan => Atan,
    sinh => Sinh, cosh => Cosh, tanh => Tanh, exp => Exp, log => Log, sqrt => Sqrt,
    log1p => Log1p, expm1 => Expm1, asinh => Asinh, acosh => Acosh, atanh => Atanh,
    cbrt => Cbrt, exp2 => Exp2, log2 => Log2, log10 => Log10, erf => Erf, erfc => Erfc,
    gamma => Gamma, loggamma => Lgamma, floor => Floor, ceiling => Ceil, sign => Sign,
    digamma => Digamma, trigamma => Trigamma,
);

macro_rules! binary_fns {
    ($($fname:ident => $variant:ident : $doc:literal),* $(,)?) => {
        $(
            #[doc = $doc]
            #[pyfunction]
            fn $fname(a: Bound<'_, PyAny>, b: Bound<'_, PyAny>) -> R<PyExpr> {
                func_call(Func::$variant, &[a, b])
            }
        )*
        fn register_binary(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $( m.add_function(wrap_pyfunction!($fname, m)?)?; )*
            Ok(())
        }
    };
}

binary_fns!(
    copysign => Copysign: "`copysign(a, b)`: the magnitude of a with the sign of b.",
    fmod => Fmod: "`fmod(a, b)`: C's remainder, with the sign of a.",
    lt => Lt: "The condition `a < b` (false where either is NaN).",
    le => Le: "The condition `a <= b` (false where either is NaN).",
    gt => Gt: "The condition `a > b` (false where either is NaN).",
    ge => Ge: "The condition `a >= b` (false where either is NaN).",
    eq => Eq: "The condition `a == b`, numerically per point (false where either is NaN).",
    ne => Ne: "The condition `a != b`, numerically per point (true where either is NaN).",
);

/// `Mod(a, b)`: Python's / SymPy's remainder, with the sign of b (also `a % b`).
#[pyfunction(name = "Mod")]
fn mod_(a: Bound<'_, PyAny>, b: Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Mod, &[a, b])
}

/// `And(c1, c2, ...)`: every condition holds.
#[pyfunction(name = "And", signature = (*conds))]
fn and_(conds: Vec<Bound<'_, PyAny>>) -> R<PyExpr> {
    fold_logic(Func::And, conds)
}

/// `Or(c1, c2, ...)`: at least one condition holds.
#[pyfunction(name = "Or", signature = (*conds))]
fn or_(conds: Vec<Bound<'_, PyAny>>) -> R<PyExpr> {
    fold_logic(Func::Or, conds)
}

fn fold_logic(f: Func, conds: Vec<Bound<'_, PyAny>>) -> R<PyExpr> {
    let mut it = conds.into_iter();
    let first = it
        .next()
        .ok_or_else(|| Error::Arity(format!("{}() needs at least one condition", f.name())))?;
    let mut acc = first
        .cast::<PyExpr>()
        .map_err(|_| Error::Conversion(format!("{}() takes conditions (alkahest Expr)", f.name())))?
        .get()
        .clone();
    if !acc.pool.is_condition(acc.id) {
        return Err(alkahest_core::Error::NumberAsCondition(acc.__repr__()).into());
    }
    for c in it {
        acc = func_call(f, &[Bound::new(c.py(), acc)?.into_any(), c])?;
    }
    Ok(acc)
}

/// `Not(c)`: the condition does not hold (true where `c` compared a NaN).
#[pyfunction(name = "Not")]
fn not_(c: Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Not, &[c])
}

/// `where(cond, a, b)`: `a` where `cond` holds, else `b`, per point and
/// without branching (both sides are evaluated, as in `numpy.where`).
#[pyfunction(name = "where")]
fn where_(cond: Bound<'_, PyAny>, a: Bound<'_, PyAny>, b: Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Where, &[cond, a, b])
}

/// `piecewise((v1, c1), (v2, c2), ..., (z, True))`: the value of the first
/// piece whose condition holds. A last piece with condition `True` is the
/// value everywhere else; without one, that is NaN (as SymPy leaves
/// `Piecewise` undefined there).
#[pyfunction(name = "piecewise", signature = (*pieces))]
fn piecewise(pieces: Vec<Bound<'_, PyAny>>) -> R<PyExpr> {
    let pairs: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = pieces
        .iter()
        .map(|p| {
            p.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()
                .map_err(|_| {
                    Error::Conversion("each piece must be a (value, condition) pair".into())
                })
        })
        .collect::<R<_>>()?;
    let pool = pairs
        .iter()
        .flat_map(|(v, c)| [v, c])
        .find_map(|a| a.cast::<PyExpr>().ok().map(|e| e.get().pool.clone()))
        .ok_or_else(|| Error::Conversion("piecewise() needs at least one alkahest Expr".into()))?;
    let n = pairs.len();
    let mut conv = Vec::with_capacity(n);
    let mut written = Vec::with_capacity(n);
    let mut otherwise = None;
    let mut otherwise_w = None;
    for (i, (v, c)) in pairs.iter().enumerate() {
        let (value, value_w) = operand_w(&pool, v)?.ok_or_else(|| {
            Error::Conversion(format!("piece #{i}: the value must be an Expr or a number"))
        })?;
        if c.is_instance_of::<PyBool>() {
            if c.extract::<bool>()? && i + 1 == n {
                otherwise = Some(value);
                otherwise_w = Some(value_w);
                continue;
            }
            return Err(Error::Conversion(format!(
                "piece #{i}: a literal condition is only allowed as True in the last piece"
            )));
        }
        let cond = c
            .cast::<PyExpr>()
            .map_err(|_| Error::Conversion(format!("piece #{i}: the condition must be an Expr")))?;
        if cond.get().pool.id() != pool.id() {
            return Err(alkahest_core::Error::PoolMismatch.into());
        }
        conv.push((value, cond.get().id));
        written.push((value_w, cond.get().written.clone()));
    }
    let id = pool.piecewise(&conv, otherwise)?;
    // As written: the nested selections `piecewise` builds.
    let mut acc = match otherwise_w {
        Some(w) => w,
        None => Written::expr(pool.float(f64::NAN)?),
    };
    for (v, c) in written.into_iter().rev() {
        acc = Written::step(WrittenOp::Func(Func::Where), vec![c, v, acc]);
    }
    Ok(PyExpr {
        pool,
        id,
        written: acc,
    })
}

/// `abs(x)` as an expression (Python's builtin `abs` works on Expr too).
#[pyfunction(name = "Abs")]
fn abs_(x: &Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Abs, std::slice::from_ref(x))
}

/// `atan2(y, x)`.
#[pyfunction]
fn atan2(y: Bound<'_, PyAny>, x: Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Atan2, &[y, x])
}

/// `hypot(x, y)` = sqrt(x*x + y*y) without overflow.
#[pyfunction]
fn hypot(x: Bound<'_, PyAny>, y: Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Hypot, &[x, y])
}

/// `fma(a, b, c)` = a*b + c with one rounding.
#[pyfunction]
fn fma(a: Bound<'_, PyAny>, b: Bound<'_, PyAny>, c: Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Fma, &[a, b, c])
}

/// NaN-propagating minimum (like numpy.minimum).
#[pyfunction(name = "Min")]
fn min_(a: Bound<'_, PyAny>, b: Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Min, &[a, b])
}

/// NaN-propagating maximum (like numpy.maximum).
#[pyfunction(name = "Max")]
fn max_(a: Bound<'_, PyAny>, b: Bound<'_, PyAny>) -> R<PyExpr> {
    func_call(Func::Max, &[a, b])
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyExprPool>()?;
    m.add_class::<PyExpr>()?;
    register_unary(m)?;
    register_binary(m)?;
    m.add_function(wrap_pyfunction!(mod_, m)?)?;
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(mul, m)?)?;
    m.add_function(wrap_pyfunction!(and_, m)?)?;
    m.add_function(wrap_pyfunction!(or_, m)?)?;
    m.add_function(wrap_pyfunction!(not_, m)?)?;
    m.add_function(wrap_pyfunction!(where_, m)?)?;
    m.add_function(wrap_pyfunction!(piecewise, m)?)?;
    m.add_function(wrap_pyfunction!(abs_, m)?)?;
    m.add_function(wrap_pyfunction!(atan2, m)?)?;
    m.add_function(wrap_pyfunction!(hypot, m)?)?;
    m.add_function(wrap_pyfunction!(fma, m)?)?;
    m.add_function(wrap_pyfunction!(min_, m)?)?;
    m.add_function(wrap_pyfunction!(max_, m)?)?;
    Ok(())
}

#[pymethods]
impl PyExprPool {
    /// Pickles as its token and `to_bytes()`: in another process it comes
    /// back as a new pool holding the same expressions, and expressions
    /// pickled alongside it land in that pool (one pool per token); in this
    /// process it comes back as this pool.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> R<Bound<'py, PyTuple>> {
        let py = slf.py();
        let m = py.import("alkahest._pickle")?;
        let token = slf.getattr("_pickle_token")?;
        m.getattr("_register")?.call1((&token, slf))?;
        let data = slf.call_method0("to_bytes")?;
        let args = PyTuple::new(py, [token, data])?;
        Ok(PyTuple::new(
            py,
            [m.getattr("_rebuild_pool")?, args.into_any()],
        )?)
    }
}
