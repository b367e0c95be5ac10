//! The common case of `alkahest.from_sympy` (`python/alkahest/_sympy.py`):
//! SymPy trees of symbols, numbers, sums, products, powers and plain
//! functions, walked here instead of in Python.
//!
//! Why: the Python walk cost about 1.8 us a node, as much as compiling the
//! result: 1.3-2.0 ms of the ODE benchmark's right-hand sides (700-16,000
//! tree nodes) and 50 us of issue 17's mixed formula, most of its lead over
//! symjit's whole compile.
//!
//! It builds exactly what the Python walk builds, in the same order (pool
//! ids, and so the order of terms, follow creation order): the same
//! post-order, children last to first, and the same builders with the same
//! written forms. A node of any other kind (piecewise, derivatives, `oo`,
//! symbols of subclasses, a symbol name shared by two distinct symbols, ...)
//! makes it return `None` before it creates anything, and the Python walk
//! converts the whole expression instead.

use alkahest_core::{Func, WrittenOp};
use num_bigint::BigInt;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use hashbrown::{HashMap, HashSet};

use crate::errors::R;
use crate::expr::{PyExpr, PyExprPool, fold_written};

/// How one SymPy node type converts (the values of the `kinds` table).
enum Kind<'py> {
    Symbol,
    Integer,
    Rational,
    Float,
    Add,
    Mul,
    Pow,
    Log,
    /// A function: this builder called on the converted arguments.
    Call(Bound<'py, PyAny>),
}

impl<'py> Kind<'py> {
    fn of(value: Bound<'py, PyAny>) -> Option<Kind<'py>> {
        let Ok(s) = value.cast::<PyString>() else {
            return value.is_callable().then_some(Kind::Call(value));
        };
        Some(match s.to_str().ok()? {
            "symbol" => Kind::Symbol,
            "integer" => Kind::Integer,
            "rational" => Kind::Rational,
            "float" => Kind::Float,
            "add" => Kind::Add,
            "mul" => Kind::Mul,
            "pow" => Kind::Pow,
            "log" => Kind::Log,
            _ => return None,
        })
    }
}

/// One node of the walk: the object, how it converts, its arguments.
struct Visit<'py> {
    node: Bound<'py, PyAny>,
    kind: Kind<'py>,
    args: Vec<Bound<'py, PyAny>>,
}

/// `expr` converted into `pool`, or `None` when a node is not of a kind
/// in `kinds` (a dict from SymPy type to `"symbol"`, `"integer"`,
/// `"rational"`, `"float"`, `"add"`, `"mul"`, `"pow"`, `"log"` or a
/// builder function). `names` maps symbol names to the SymPy symbols seen
/// so far (shared by the entries of a matrix, as in the Python walk).
#[pyfunction(name = "_from_sympy_fast")]
pub(crate) fn from_sympy_fast(
    expr: &Bound<'_, PyAny>,
    pool: &Bound<'_, PyExprPool>,
    kinds: &Bound<'_, PyDict>,
    names: &Bound<'_, PyDict>,
) -> R<Option<PyExpr>> {
    let Some(order) = walk(expr, kinds, names)? else {
        return Ok(None);
    };
    let pool = &pool.get().pool;
    let py = expr.py();
    let mut done: HashMap<usize, PyExpr> = HashMap::with_capacity(order.len());
    for v in &order {
        let args: Vec<&PyExpr> = v.args.iter().map(|a| &done[&key(a)]).collect();
        let ids: Vec<_> = args.iter().map(|a| a.id).collect();
        let written = || args.iter().map(|a| a.written.clone()).collect::<Vec<_>>();
        let out = match &v.kind {
            Kind::Symbol => {
                let name: String = v.node.getattr(intern!(py, "name"))?.extract()?;
                PyExpr::new(pool, pool.symbol(&name)?)
            }
            Kind::Integer => {
                let n: BigInt = v.node.getattr(intern!(py, "p"))?.extract()?;
                PyExpr::new(pool, pool.integer(n)?)
            }
            Kind::Rational => {
                let p: BigInt = v.node.getattr(intern!(py, "p"))?.extract()?;
                let q: BigInt = v.node.getattr(intern!(py, "q"))?.extract()?;
                PyExpr::new(pool, pool.rational(p, q)?)
            }
            Kind::Float => {
                let x = match mpf_to_f64(&v.node)? {
                    Some(x) => x,
                    // SymPy's own `float()` (a Python method).
                    None => v.node.extract::<f64>()?,
                };
                PyExpr::new(pool, pool.float(x)?)
            }
            // As `alkahest.add(*args)` / `alkahest.mul(*args)`: one flat
            // node, written as a left-to-right chain.
            Kind::Add | Kind::Mul => {
                let (id, op) = if matches!(v.kind, Kind::Add) {
                    (pool.add(&ids)?, WrittenOp::Add)
                } else {
                    (pool.mul(&ids)?, WrittenOp::Mul)
                };
                PyExpr {
                    pool: pool.clone(),
                    id,
                    written: fold_written(pool, op, written(), id),
                }
            }
            Kind::Pow => {
                let id = pool.pow(ids[0], ids[1])?;
                PyExpr::built(pool, id, WrittenOp::Pow, written())
            }
            Kind::Log => {
                let id = pool.func(Func::Log, &ids)?;
                PyExpr::built(pool, id, WrittenOp::Func(Func::Log), written())
            }
            Kind::Call(f) => {
                let objs = args
                    .iter()
                    .map(|&a| Bound::new(py, a.clone()))
                    .collect::<PyResult<Vec<_>>>()?;
                let r = f.call1(PyTuple::new(py, objs)?)?;
                r.cast::<PyExpr>().map_err(PyErr::from)?.get().clone()
            }
        };
        done.insert(key(&v.node), out);
    }
    Ok(done.remove(&key(expr)))
}

/// A SymPy `Float` of at most 53 significant bits whose value is a finite
/// nonzero double, read from its `_mpf_` (sign, mantissa, exponent, bit
/// count) as `float()` reads it (`math.ldexp(man, exp)`), without running
/// Python code; `None` for the rest (zero, more precision, out of range).
fn mpf_to_f64(node: &Bound<'_, PyAny>) -> R<Option<f64>> {
    let (sign, man, exp, bc): (u8, Bound<'_, PyAny>, i64, i64) =
        node.getattr(intern!(node.py(), "_mpf_"))?.extract()?;
    if !(1..=53).contains(&bc) || !(-1074..=1023).contains(&exp) || exp + bc > 1024 {
        return Ok(None);
    }
    let man: u64 = man.extract()?;
    // 2^exp exactly (a subnormal below 2^-1022), and one rounding in the
    // product, as ldexp.
    let scale = if exp >= -1022 {
        f64::from_bits(((exp + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (exp + 1074))
    };
    let x = man as f64 * scale;
    Ok(Some(if sign == 1 { -x } else { x }))
}

/// The object's identity: every node is held by the expression for the
/// whole conversion, so addresses are stable.
fn key(obj: &Bound<'_, PyAny>) -> usize {
    obj.as_ptr() as usize
}

/// Every node under `expr` after its arguments, in the Python walk's order
/// (`_postorder`: a stack, arguments pushed first to last), or `None` at
/// the first node this module does not convert. Records each new symbol
/// name in `names`.
fn walk<'py>(
    expr: &Bound<'py, PyAny>,
    kinds: &Bound<'py, PyDict>,
    names: &Bound<'py, PyDict>,
) -> R<Option<Vec<Visit<'py>>>> {
    let py = expr.py();
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<(Bound<'py, PyAny>, Option<Visit<'py>>)> = vec![(expr.clone(), None)];
    while let Some((node, visit)) = stack.pop() {
        if let Some(v) = visit {
            order.push(v);
            continue;
        }
        if !seen.insert(key(&node)) {
            continue;
        }
        let Some(kind) = kinds.get_item(node.get_type())?.and_then(Kind::of) else {
            return Ok(None);
        };
        let args: Vec<Bound<'py, PyAny>> = match kind {
            Kind::Symbol | Kind::Integer | Kind::Rational | Kind::Float => Vec::new(),
            // `_args`, the slot behind SymPy's `args` property (which
            // would run Python code for every node).
            _ => node
                .getattr(intern!(py, "_args"))?
                .cast_into::<PyTuple>()
                .map_err(PyErr::from)?
                .iter()
                .collect(),
        };
        match kind {
            Kind::Symbol => {
                let name = node.getattr(intern!(py, "name"))?;
                match names.get_item(&name)? {
                    None => names.set_item(&name, &node)?,
                    // Two distinct symbols of one name: the Python walk
                    // decides whether they clash.
                    Some(prev) if !prev.is(&node) => return Ok(None),
                    Some(_) => {}
                }
            }
            Kind::Add | Kind::Mul if args.len() < 2 => return Ok(None),
            Kind::Pow if args.len() != 2 => return Ok(None),
            Kind::Log if args.len() != 1 => return Ok(None),
            _ => {}
        }
        let pending: Vec<Bound<'py, PyAny>> = args
            .iter()
            .filter(|c| !seen.contains(&key(c)))
            .cloned()
            .collect();
        stack.push((node.clone(), Some(Visit { node, kind, args })));
        stack.extend(pending.into_iter().map(|c| (c, None)));
    }
    Ok(Some(order))
}
