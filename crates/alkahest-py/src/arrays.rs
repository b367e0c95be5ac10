//! NumPy / DLPack batch evaluation: `numpy_eval`, `numpy_eval_par`, and the
//! conversions behind `CompiledFn.call_batch` / `call_bulk`.
//!
//! Contiguous float64 input is used in place (no copy); any other real dtype
//! or stride is converted once by NumPy; DLPack producers (PyTorch CPU
//! tensors, JAX arrays) are imported with `numpy.from_dlpack`, zero-copy
//! when they are already float64. Evaluation runs with the GIL released.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::compile::PyCompiledFn;
use crate::errors::{Error, R, warn_fallbacks};

/// `obj` as a C-contiguous float64 ndarray (same object when it already is one).
pub(crate) fn to_f64_array<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> R<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    let ndarray = np.getattr("ndarray")?;
    let mut a = obj.clone();
    if !a.is_instance(&ndarray)? && a.hasattr("__dlpack__")? {
        a = np.call_method1("from_dlpack", (&a,)).map_err(|e| {
            Error::Conversion(format!(
                "{what}: DLPack import failed ({e}); only CPU arrays are accepted"
            ))
        })?;
    }
    let a = np
        .call_method1("asarray", (&a,))
        .map_err(|e| Error::Conversion(format!("{what}: cannot convert to an array ({e})")))?;
    let kind: String = a.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f") {
        let dt = a.getattr("dtype")?.str()?.to_string();
        return Err(Error::Conversion(format!(
            "{what}: dtype {dt} is not a real number type (expected float, int or bool)"
        )));
    }
    let kw = PyDict::new(py);
    kw.set_item("dtype", np.getattr("float64")?)?;
    Ok(np.call_method("ascontiguousarray", (a,), Some(&kw))?)
}

fn shape_of(a: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    a.getattr("shape")?.extract()
}

/// Columns (one flat float64 array per variable) and the common shape.
fn columns<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    arrays: &Bound<'py, PyTuple>,
) -> R<(Vec<Bound<'py, PyAny>>, Vec<usize>)> {
    let n_vars = f.vars.len();
    let mut arrs: Vec<Bound<'py, PyAny>> = Vec::with_capacity(arrays.len());
    for (i, a) in arrays.iter().enumerate() {
        arrs.push(to_f64_array(py, &a, &format!("input #{i}"))?);
    }
    // One 2-D array with a row per variable is accepted too (column-major batch).
    if arrs.len() == 1 && n_vars != 1 {
        let s = shape_of(&arrs[0])?;
        if s.len() == 2 && s[0] == n_vars {
            let a = arrs.pop().expect("one array");
            arrs = (0..n_vars)
                .map(|i| a.get_item(i))
                .collect::<PyResult<_>>()?;
        }
    }
    if arrs.len() != n_vars {
        return Err(Error::Arity(format!(
            "function has {n_vars} variable(s) but {} array(s) were given",
            arrs.len()
        )));
    }
    let shape = match arrs.first() {
        Some(a) => shape_of(a)?,
        None => Vec::new(),
    };
    for (i, a) in arrs.iter().enumerate() {
        let s = shape_of(a)?;
        if s != shape {
            return Err(Error::Shape(format!(
                "input #{i} has shape {s:?} but input #0 has shape {shape:?}; all inputs must have the same shape"
            )));
        }
    }
    let flat = arrs
        .iter()
        .map(|a| a.call_method1("reshape", (-1,)))
        .collect::<PyResult<_>>()?;
    Ok((flat, shape))
}

/// The output array: `out` validated, or a new one of `shape`.
fn output<'py>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
    lead: usize,
) -> R<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    match out {
        Some(o) if !o.is_none() => {
            let ok_type = o.is_instance(&np.getattr("ndarray")?)?;
            if !ok_type {
                return Err(Error::Conversion(
                    "out must be a numpy.ndarray of float64".into(),
                ));
            }
            let dt: String = o.getattr("dtype")?.str()?.to_string();
            if dt != "float64" {
                return Err(Error::Conversion(format!(
                    "out must have dtype float64, not {dt}"
                )));
            }
            let s = shape_of(o)?;
            let n: usize = s.iter().product();
            let want: usize = shape.iter().product();
            // Same size, and for several outputs the same leading (output)
            // dimensions: an (n, m) array for m outputs would be filled in
            // the wrong order.
            if n != want || !s.starts_with(&shape[..lead]) {
                return Err(Error::Shape(format!(
                    "out has shape {s:?}, expected {shape:?}"
                )));
            }
            let flags = o.getattr("flags")?;
            if !flags.getattr("c_contiguous")?.extract::<bool>()?
                || !flags.getattr("writeable")?.extract::<bool>()?
            {
                return Err(Error::Shape(
                    "out must be a writeable, C-contiguous array".into(),
                ));
            }
            Ok(o.clone())
        }
        _ => {
            let kw = PyDict::new(py);
            kw.set_item("dtype", np.getattr("float64")?)?;
            Ok(np.call_method("empty", (shape.to_vec(),), Some(&kw))?)
        }
    }
}

/// Evaluate `f` over flat float64 columns into `out`, which holds one
/// block of points per output, outputs first (C order of
/// `(*f.shape, *points)`).
pub(crate) fn run<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    cols: &[Bound<'py, PyAny>],
    out: &Bound<'py, PyAny>,
    parallel: bool,
    threads: Option<usize>,
) -> R<()> {
    let ro: Vec<PyReadonlyArray1<'py, f64>> = cols
        .iter()
        .map(|c| {
            c.extract::<PyReadonlyArray1<'py, f64>>()
                .map_err(PyErr::from)
        })
        .collect::<PyResult<_>>()?;
    let slices: Vec<&[f64]> = ro
        .iter()
        .map(|a| {
            a.as_slice()
                .map_err(|_| Error::Shape("input arrays must be contiguous".into()))
        })
        .collect::<R<_>>()?;
    let out_flat = out.call_method1("reshape", (-1,))?;
    let out_arr = out_flat
        .cast::<PyArray1<f64>>()
        .map_err(|_| Error::Conversion("out must be a float64 array".into()))?;
    let m = f.exprs.len();
    let n = out_arr.len() / m;
    if n == 0 {
        return Ok(());
    }
    let f_arc = f.f.clone();
    let notes = py.detach(|| f_arc.prepare_batch(n));
    warn_fallbacks(py, &notes)?;
    // A batch of several chunks checks for signals (Ctrl-C) between
    // chunks; only the main thread runs Python's signal handlers, so only
    // there is the GIL taken back to check.
    let watch = n > alkahest_batch::CHUNK && on_main_thread(py)?;
    let eval = |dst: &mut [f64]| -> R<()> {
        let mut outs: Vec<&mut [f64]> = dst.chunks_mut(n).collect();
        if !parallel && !watch {
            return Ok(f_arc.eval_columns(&slices, &mut outs)?);
        }
        alkahest_kernel::check_columns(f_arc.n_inputs(), m, &slices, &outs)?;
        let ev = f_arc.evaluator();
        let mut raised: Option<PyErr> = None;
        let mut check = || match Python::attach(|py| py.check_signals()) {
            Ok(()) => false,
            Err(e) => {
                raised = Some(e);
                true
            }
        };
        let poll: Option<&mut dyn FnMut() -> bool> = if watch { Some(&mut check) } else { None };
        let how = parallel.then_some(threads);
        alkahest_batch::eval_columns_polled(&*ev, &slices, &mut outs, how, poll)
            // Cancelled: raise what the signal handler raised.
            .map_err(|e| raised.take().map_or_else(|| e.into(), Error::Py))
    };
    match out_arr.try_readwrite() {
        Ok(mut w) => {
            let dst = w
                .as_slice_mut()
                .map_err(|_| Error::Shape("out must be contiguous".into()))?;
            py.detach(|| eval(dst))
        }
        // `out` shares memory with an input: evaluate into a temporary, then copy.
        Err(_) => {
            let mut tmp = vec![0.0; n * m];
            py.detach(|| eval(&mut tmp))?;
            drop(ro);
            let mut w = out_arr
                .try_readwrite()
                .map_err(|e| Error::Shape(format!("cannot write to out: {e}")))?;
            w.as_slice_mut()
                .map_err(|_| Error::Shape("out must be contiguous".into()))?
                .copy_from_slice(&tmp);
            Ok(())
        }
    }
}

/// True on the interpreter's main thread (the one that runs signal handlers).
fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let current = threading.call_method0("current_thread")?;
    Ok(current.is(&threading.call_method0("main_thread")?))
}

fn eval_arrays<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    arrays: &Bound<'py, PyTuple>,
    out: Option<&Bound<'py, PyAny>>,
    parallel: bool,
    threads: Option<usize>,
) -> R<Bound<'py, PyAny>> {
    let (cols, shape) = columns(py, f, arrays)?;
    if cols.is_empty() && out.is_none_or(|o| o.is_none()) {
        return Err(Error::Shape(
            "a function of no variables needs out= to know how many points to evaluate".into(),
        ));
    }
    let lead = f.out_shape();
    let shape = if cols.is_empty() {
        // No inputs: the points are what `out` has beyond the output shape.
        let s = shape_of(out.expect("checked above"))?;
        if !s.starts_with(lead) {
            return Err(Error::Shape(format!(
                "out has shape {s:?}, expected the output shape {lead:?} followed by the points"
            )));
        }
        s[lead.len()..].to_vec()
    } else {
        shape
    };
    let full: Vec<usize> = lead.iter().chain(&shape).copied().collect();
    let out = output(py, out, &full, lead.len())?;
    run(py, f, &cols, &out, parallel, threads)?;
    Ok(out)
}

/// Evaluate `f` elementwise over arrays (one per variable, same shape).
///
/// A long call on the main thread checks for signals between chunks of
/// points (at most every 50 ms), so Ctrl-C raises `KeyboardInterrupt`
/// within about 0.1 s; `out=`, when given, is then partly written (the
/// chunks evaluated before the interrupt).
#[pyfunction]
#[pyo3(signature = (f, *arrays, out=None))]
fn numpy_eval<'py>(
    py: Python<'py>,
    f: PyRef<'py, PyCompiledFn>,
    arrays: &Bound<'py, PyTuple>,
    out: Option<&Bound<'py, PyAny>>,
) -> R<Bound<'py, PyAny>> {
    eval_arrays(py, &f, arrays, out, false, None)
}

/// Like `numpy_eval`, on several cores (rayon) when built with `parallel`;
/// otherwise the same as `numpy_eval`. Results are bit-identical.
///
/// `threads`: None or 0 uses every CPU (or `RAYON_NUM_THREADS`); more than
/// `max(256, number of CPUs)` raises `OptionError` before any work starts.
/// Pools of up to the default thread count are kept (at most 8); larger
/// pools live for one call. Safe after `fork` (the child builds its own
/// pools). Ctrl-C is handled as in `numpy_eval`.
#[pyfunction]
#[pyo3(signature = (f, *arrays, out=None, threads=None))]
fn numpy_eval_par<'py>(
    py: Python<'py>,
    f: PyRef<'py, PyCompiledFn>,
    arrays: &Bound<'py, PyTuple>,
    out: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> R<Bound<'py, PyAny>> {
    alkahest_batch::check_threads(threads)?;
    eval_arrays(py, &f, arrays, out, alkahest_batch::PARALLEL, threads)
}

/// `call_batch`: a 2-D array-like with one row per variable.
pub(crate) fn call_batch<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    inputs: &Bound<'py, PyAny>,
) -> R<Bound<'py, PyAny>> {
    let a = to_f64_array(py, inputs, "inputs")?;
    let s = shape_of(&a)?;
    let n_vars = f.vars.len();
    let a = match (s.len(), n_vars) {
        (1, 1) => a.call_method1("reshape", ((1usize, s[0]),))?,
        (2, _) if s[0] == n_vars => a,
        _ => {
            return Err(Error::Shape(format!(
                "call_batch expects shape ({n_vars}, n_points) (one row per variable), got {s:?}"
            )));
        }
    };
    let n = shape_of(&a)?[1];
    let cols: Vec<Bound<'py, PyAny>> = (0..n_vars)
        .map(|i| a.get_item(i))
        .collect::<PyResult<_>>()?;
    let full: Vec<usize> = f.out_shape().iter().copied().chain([n]).collect();
    let out = output(py, None, &full, f.out_shape().len())?;
    run(py, f, &cols, &out, false, None)?;
    Ok(out)
}

/// `call_bulk`: one flat buffer, variable-major (`v * n_points + i`).
pub(crate) fn call_bulk<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    flat: &Bound<'py, PyAny>,
    n_points: Option<usize>,
    out: Option<&Bound<'py, PyAny>>,
) -> R<Bound<'py, PyAny>> {
    let a = to_f64_array(py, flat, "inputs")?.call_method1("reshape", (-1,))?;
    let len = shape_of(&a)?[0];
    let n_vars = f.vars.len();
    let n = match (n_points, n_vars) {
        (Some(n), _) => n,
        (None, 0) => {
            return Err(Error::Shape(
                "n_points is required for a function of no variables".into(),
            ));
        }
        (None, v) => len / v,
    };
    if n.checked_mul(n_vars) != Some(len) {
        return Err(Error::Shape(format!(
            "flat input has {len} values; expected n_vars * n_points = {n_vars} * {n}"
        )));
    }
    let cols: Vec<Bound<'py, PyAny>> = (0..n_vars)
        .map(|v| {
            a.get_item(pyo3::types::PySlice::new(
                py,
                (v * n) as isize,
                ((v + 1) * n) as isize,
                1,
            ))
        })
        .collect::<PyResult<_>>()?;
    let full: Vec<usize> = f.out_shape().iter().copied().chain([n]).collect();
    let out = output(py, out, &full, f.out_shape().len())?;
    run(py, f, &cols, &out, false, None)?;
    Ok(out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(numpy_eval, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_eval_par, m)?)?;
    Ok(())
}
