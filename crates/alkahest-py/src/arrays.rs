//! NumPy / DLPack batch evaluation: `numpy_eval`, `numpy_eval_par`, and the
//! conversions behind `CompiledFn.call_batch` / `call_bulk`.
//!
//! Contiguous float64 input is used in place (no copy); any other real dtype
//! or stride is converted once by NumPy; DLPack producers (PyTorch CPU
//! tensors, JAX arrays) are imported with `numpy.from_dlpack`, zero-copy
//! when they are already float64. Evaluation runs with the GIL released.

use std::marker::PhantomData;

use numpy::ndarray::{Dimension, IxDyn};
use numpy::{
    PyArray, PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArray1,
    PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyTuple};

use alkahest_tape::Evaluator;

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
    match a.cast::<PyUntypedArray>() {
        Ok(arr) => Ok(arr.shape().to_vec()),
        Err(_) => a.getattr("shape")?.extract(),
    }
}

/// Fresh results of at least this many bytes are allocated 64-byte
/// aligned (see [`output`]): the LLVM tier streams large outputs to
/// aligned columns.
const ALIGNED_RESULT_BYTES: usize = 4 << 20;

/// The output array: `out` validated, or a new one of `shape` (zeroed
/// when `zeroed` asks for it and it can be had for free). Returns whether
/// the array is known to be all zeros.
fn output<'py>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
    lead: usize,
    zeroed: bool,
) -> R<(Bound<'py, PyAny>, bool)> {
    match out {
        Some(o) if !o.is_none() => {
            let ok_type = o.is_instance(&py.import("numpy")?.getattr("ndarray")?)?;
            if !ok_type {
                return Err(Error::Conversion(
                    "out must be a numpy.ndarray of float64".into(),
                ));
            }
            // NumPy's own dtype check (`str(dtype)` runs Python code).
            if o.cast::<PyArrayDyn<f64>>().is_err() {
                let dt: String = o.getattr("dtype")?.str()?.to_string();
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
            Ok((o.clone(), false))
        }
        _ => {
            let total: usize = shape.iter().product();
            // Large results on pooled memory: warm when an earlier one was
            // freed (zeroed only when new; otherwise the function writes
            // its constant zeros too).
            if total.saturating_mul(8) >= crate::result_pool::POOL_MIN_BYTES
                && let Some((a, is_zero)) = crate::result_pool::array(py, shape)
            {
                return Ok((a, zeroed && is_zero));
            }
            // Zeroed (calloc: fresh pages, untouched until written) when
            // the function leaves its constant-zero outputs unwritten.
            if total.saturating_mul(8) < ALIGNED_RESULT_BYTES {
                let a = if zeroed {
                    PyArrayDyn::<f64>::zeros(py, shape, false)
                } else {
                    // SAFETY: the caller writes every value before the
                    // array is seen (no output is skipped unless zeroed).
                    unsafe { PyArrayDyn::<f64>::new(py, shape, false) }
                };
                return Ok((a.into_any(), zeroed));
            }
            let np = py.import("numpy")?;
            let kw = PyDict::new(py);
            kw.set_item("dtype", np.getattr("float64")?)?;
            let how = if zeroed { "zeros" } else { "empty" };
            // A large result starts on a 64-byte boundary (NumPy's own
            // allocation is 16 bytes past one), so the LLVM tier can write
            // its columns with streaming stores: a view into a buffer one
            // cache line longer.
            let buf = np.call_method(how, (total + 8,), Some(&kw))?;
            let data = buf.getattr("__array_interface__")?.get_item("data")?;
            let addr: usize = data.get_item(0)?.extract()?;
            let skip = (64 - addr % 64) % 64 / 8;
            let slice = pyo3::types::PySlice::new(py, skip as isize, (skip + total) as isize, 1);
            Ok((
                buf.get_item(slice)?
                    .call_method1("reshape", (shape.to_vec(),))?,
                zeroed,
            ))
        }
    }
}

/// How a batch runs: on several threads, and whether its output was
/// freshly allocated zeroed (see `CompiledFn::skips_zero_outputs`).
#[derive(Clone, Copy)]
pub(crate) struct How {
    pub(crate) parallel: bool,
    pub(crate) threads: Option<usize>,
    pub(crate) zeroed: bool,
}

/// Evaluate `f` over flat float64 columns into `out`, which holds one
/// block of points per output, outputs first (C order of
/// `(*f.shape, *points)`).
pub(crate) fn run<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    cols: &[Bound<'py, PyAny>],
    out: &Bound<'py, PyAny>,
    how: How,
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
    if let Some(tmp) = eval_slices(py, f, &slices, out_arr, how)? {
        drop(ro);
        copy_into(out_arr, &tmp)?;
    }
    Ok(())
}

/// Evaluate `f` over flat float64 columns into `out`'s buffer (C order of
/// `(*f.shape, *points)`), with the GIL released; the temporary to copy
/// into `out` once the inputs are released, where `out` shares memory
/// with one ([`eval_into`]).
fn eval_slices<'py, D: Dimension>(
    py: Python<'py>,
    f: &PyCompiledFn,
    slices: &[&[f64]],
    out_arr: &Bound<'py, PyArray<f64, D>>,
    how: How,
) -> R<Option<Vec<f64>>> {
    let How {
        parallel,
        threads,
        zeroed,
    } = how;
    let m = f.src.exprs.len();
    let n = out_arr.len() / m;
    if n == 0 {
        return Ok(None);
    }
    let f_arc = f.f.clone();
    prepare(py, &f_arc, n)?;
    // A batch of several chunks checks for signals (Ctrl-C) between
    // chunks; only the main thread runs Python's signal handlers, so only
    // there is the GIL taken back to check.
    let watch = n > alkahest_batch::CHUNK && on_main_thread(py)?;
    let eval = |dst: &mut [f64]| -> R<()> {
        let mut outs: Vec<&mut [f64]> = dst.chunks_mut(n).collect();
        if !parallel && !watch {
            if zeroed {
                f_arc.eval_columns_zeroed(slices, &mut outs)?;
            } else {
                f_arc.eval_columns(slices, &mut outs)?;
            }
            return Ok(());
        }
        alkahest_tape::check_columns(f_arc.n_inputs(), m, slices, &outs)?;
        let ev = f_arc.evaluator();
        let z = alkahest_tape::ZeroedOutputs(&*ev);
        let ev: &dyn Evaluator = if zeroed { &z } else { &*ev };
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
        alkahest_batch::eval_columns_polled(ev, slices, &mut outs, how, poll)
            // Cancelled: raise what the signal handler raised.
            .map_err(|e| raised.take().map_or_else(|| e.into(), Error::Py))
    };
    let small = n.saturating_mul(f_arc.tape().ops().len()) <= SMALL_WORK;
    eval_into(py, out_arr, n * m, !small, eval)
}

/// Upgrade `f` to the tier a batch of `n` points calls for
/// (`CompiledFn::prepare_batch`), releasing the GIL only when there is an
/// upgrade to make, and warn about any fallback.
fn prepare(py: Python<'_>, f: &alkahest_compile::CompiledFn, n: usize) -> R<()> {
    if f.batch_needs_preparing(n) {
        let notes = py.detach(|| f.prepare_batch(n));
        warn_fallbacks(py, &notes)?;
    }
    Ok(())
}

/// Most points times tape operations a batch evaluates without releasing
/// the GIL: a few microseconds of work at most, where a release and a
/// retake cost a noticeable part of the call. With the preparation's
/// release also skipped (`batch_needs_preparing`), `numpy_eval` of
/// `x*y + sin(x)/y` into `out=` went 0.72 -> 0.55 us on one point and
/// 0.95 -> 0.79 on 256 (benches/RESULTS.md). Larger batches release it so
/// that other Python threads run meanwhile.
const SMALL_WORK: usize = 4096;

/// Run `eval` on `out`'s buffer (`len` values), without the GIL where
/// `release`. When `out` shares memory with an input, NumPy refuses to lend
/// it writable while the inputs are borrowed: `eval` then runs on a
/// temporary, returned for [`copy_into`] once the caller has released the
/// inputs.
fn eval_into<'py, D: Dimension>(
    py: Python<'py>,
    out: &Bound<'py, PyArray<f64, D>>,
    len: usize,
    release: bool,
    mut eval: impl FnMut(&mut [f64]) -> R<()> + Send,
) -> R<Option<Vec<f64>>> {
    let mut run = |dst: &mut [f64]| {
        if release {
            py.detach(|| eval(dst))
        } else {
            eval(dst)
        }
    };
    match out.try_readwrite() {
        Ok(mut w) => {
            let dst = w
                .as_slice_mut()
                .map_err(|_| Error::Shape("out must be contiguous".into()))?;
            run(dst)?;
            Ok(None)
        }
        Err(_) => {
            let mut tmp = vec![0.0; len];
            run(&mut tmp)?;
            Ok(Some(tmp))
        }
    }
}

/// Copy [`eval_into`]'s temporary into `out`.
fn copy_into<D: Dimension>(out: &Bound<'_, PyArray<f64, D>>, tmp: &[f64]) -> R<()> {
    let mut w = out
        .try_readwrite()
        .map_err(|e| Error::Shape(format!("cannot write to out: {e}")))?;
    w.as_slice_mut()
        .map_err(|_| Error::Shape("out must be contiguous".into()))?
        .copy_from_slice(tmp);
    Ok(())
}

/// `numpy_eval`'s common call without a single NumPy call: every input a
/// C-contiguous float64 ndarray, one per variable, all of one shape (no
/// broadcast), or one 2-D such array with a row per variable; `out` as
/// [`plain_eval`] takes it. Anything else (`None`) takes [`eval_arrays`],
/// which gives the same results. The general path's attribute lookups,
/// NumPy calls and reshapes cost ~7-12 us a call on the benchmark VM; this
/// one ~1 us.
fn fast_eval<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    arrays: &Bound<'py, PyTuple>,
    out: Option<&Bound<'py, PyAny>>,
    parallel: bool,
    threads: Option<usize>,
) -> R<Option<Bound<'py, PyAny>>> {
    let n_vars = f.src.vars.len();
    if n_vars == 0 {
        return Ok(None);
    }
    let mut ins: Vec<Bound<'py, PyArrayDyn<f64>>> = Vec::with_capacity(n_vars);
    for a in arrays.iter() {
        match a.cast_into::<PyArrayDyn<f64>>() {
            Ok(a) if a.is_c_contiguous() && ins.first().is_none_or(|b| b.shape() == a.shape()) => {
                ins.push(a);
            }
            _ => return Ok(None),
        }
    }
    let points: Vec<usize> = match ins.as_slice() {
        [one] if n_vars > 1 => match one.shape() {
            &[rows, n] if rows == n_vars => vec![n],
            _ => return Ok(None),
        },
        all if all.len() == n_vars => all[0].shape().to_vec(),
        _ => return Ok(None),
    };
    plain_eval(py, f, &ins, &points, out, parallel, threads)
}

/// Evaluate `f` on the points of `points` whose float64 columns are the
/// C-contiguous `ins`: one array per variable, or one holding every
/// variable's column back to back (a row per variable, `call_bulk`'s flat
/// buffer), into `out` when it is a writeable C-contiguous float64 array of
/// exactly the result's shape `(*f.shape, *points)`, or into a fresh one
/// ([`output`]'s). `None` (nothing done) for any other `out`: the caller's
/// general path handles, or refuses, those.
fn plain_eval<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    ins: &[Bound<'py, PyArrayDyn<f64>>],
    points: &[usize],
    out: Option<&Bound<'py, PyAny>>,
    parallel: bool,
    threads: Option<usize>,
) -> R<Option<Bound<'py, PyAny>>> {
    let n_vars = f.src.vars.len();
    let lead = f.out_shape();
    let full: Vec<usize> = lead.iter().chain(points).copied().collect();
    let (out, zeroed) = match out.filter(|o| !o.is_none()) {
        Some(o) => match o.cast::<PyArrayDyn<f64>>() {
            Ok(o) if o.is_c_contiguous() && writeable(o) && o.shape() == full.as_slice() => {
                (o.clone(), false)
            }
            _ => return Ok(None),
        },
        None => {
            let (a, zeroed) = output(py, None, &full, lead.len(), f.f.skips_zero_outputs())?;
            let a = a
                .cast_into::<PyArrayDyn<f64>>()
                .map_err(|_| Error::Conversion("the result is not a float64 array".into()))?;
            (a, zeroed)
        }
    };
    let how = How {
        parallel,
        threads,
        zeroed,
    };
    let ro: Vec<PyReadonlyArrayDyn<'py, f64>> = ins
        .iter()
        .map(|a| {
            a.try_readonly()
                .map_err(|e| Error::Shape(format!("cannot read an input: {e}")))
        })
        .collect::<R<_>>()?;
    let tmp = {
        let whole: Vec<&[f64]> = ro
            .iter()
            .map(|a| {
                a.as_slice()
                    .map_err(|_| Error::Shape("input arrays must be contiguous".into()))
            })
            .collect::<R<_>>()?;
        let n: usize = points.iter().product();
        let slices: Vec<&[f64]> = match whole.as_slice() {
            [all] if n_vars > 1 => (0..n_vars).map(|v| &all[v * n..(v + 1) * n]).collect(),
            _ => whole,
        };
        eval_slices(py, f, &slices, &out, how)?
    };
    if let Some(tmp) = tmp {
        drop(ro);
        copy_into(&out, &tmp)?;
    }
    Ok(Some(out.into_any()))
}

/// Whether NumPy lets `a` be written (its `WRITEABLE` flag).
fn writeable(a: &Bound<'_, PyArrayDyn<f64>>) -> bool {
    // SAFETY: `a` is a live ndarray; this reads its flags field.
    unsafe { (*a.as_array_ptr()).flags & numpy::npyffi::NPY_ARRAY_WRITEABLE != 0 }
}

/// `alkahest._dask`'s lazy result when an input is a Dask array (so the
/// array is never pulled into this process), else None.
fn dask_dispatch<'py>(
    py: Python<'py>,
    f: &Bound<'py, PyCompiledFn>,
    arrays: &Bound<'py, PyTuple>,
    out: Option<&Bound<'py, PyAny>>,
    parallel: bool,
    threads: Option<usize>,
) -> R<Option<Bound<'py, PyAny>>> {
    let ndarray = py.import("numpy")?.getattr("ndarray")?;
    let mut lazy = false;
    for a in arrays.iter() {
        // A Dask collection (dask's own test: a graph, not None; a
        // NumPy-backed xarray object has the method but no graph).
        if !is_number(&a)
            && !a.is_instance(&ndarray)?
            && a.hasattr("__dask_graph__")?
            && !a.call_method0("__dask_graph__")?.is_none()
        {
            lazy = true;
            break;
        }
    }
    if !lazy {
        return Ok(None);
    }
    let kw = PyDict::new(py);
    kw.set_item("out", out)?;
    kw.set_item("parallel", parallel)?;
    kw.set_item("threads", threads)?;
    let items: Vec<Bound<'py, PyAny>> = std::iter::once(f.as_any().clone())
        .chain(arrays.iter())
        .collect();
    let args = PyTuple::new(py, items)?;
    Ok(Some(
        py.import("alkahest._dask")?
            .getattr("numpy_eval")?
            .call(args, Some(&kw))?,
    ))
}

/// A Python `float`, `int` or `bool` (no Dask graph, no DLPack).
fn is_number(a: &Bound<'_, PyAny>) -> bool {
    a.is_instance_of::<PyFloat>() || a.is_instance_of::<PyInt>()
}

/// True on the interpreter's main thread (the one that runs signal handlers).
fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let current = threading.call_method0("current_thread")?;
    Ok(current.is(&threading.call_method0("main_thread")?))
}

/// `obj` as an ndarray of a real dtype, without converting its dtype or
/// layout (DLPack producers are imported with `numpy.from_dlpack`).
fn to_real_array<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> R<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    let ndarray = np.getattr("ndarray")?;
    // An exact ndarray is what `asarray` would return; Python numbers have
    // no `__dlpack__` (asking raises and formats an AttributeError).
    let a = if obj.get_type().is(&ndarray) {
        obj.clone()
    } else {
        let mut a = obj.clone();
        if !is_number(&a) && !a.is_instance(&ndarray)? && a.hasattr("__dlpack__")? {
            a = np.call_method1("from_dlpack", (&a,)).map_err(|e| {
                Error::Conversion(format!(
                    "{what}: DLPack import failed ({e}); only CPU arrays are accepted"
                ))
            })?;
        }
        np.call_method1("asarray", (&a,))
            .map_err(|e| Error::Conversion(format!("{what}: cannot convert to an array ({e})")))?
    };
    let kind = a
        .cast::<PyUntypedArray>()
        .map_err(PyErr::from)?
        .dtype()
        .kind();
    if !matches!(kind, b'b' | b'i' | b'u' | b'f') {
        let dt = a.getattr("dtype")?.str()?.to_string();
        return Err(Error::Conversion(format!(
            "{what}: dtype {dt} is not a real number type (expected float, int or bool)"
        )));
    }
    Ok(a)
}

/// An element type read in place and widened to float64 point by point.
trait Real: Copy + numpy::Element + Sync {
    fn to_f64(self) -> f64;
}

macro_rules! real_as {
    ($($t:ty),*) => {$(
        impl Real for $t {
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
real_as!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);

impl Real for bool {
    #[inline]
    fn to_f64(self) -> f64 {
        if self { 1.0 } else { 0.0 }
    }
}

/// Fills a block of float64 values with the next points of one input.
trait Fill: Send {
    fn fill(&mut self, dst: &mut [f64]);
    /// Bytes between consecutive points along the innermost axis.
    fn step_bytes(&self) -> usize;
}

/// One input read in place through its NumPy strides, broadcast to the
/// points' shape (stride 0 along broadcast axes), walked in C order.
struct Strided<'a, T> {
    base: *const T,
    /// Broadcast shape without its length-1 axes (at least one axis).
    shape: Vec<usize>,
    /// Element strides matching `shape`.
    strides: Vec<isize>,
    /// Multi-index and element offset of the next point.
    idx: Vec<usize>,
    pos: isize,
    _borrow: PhantomData<&'a T>,
}

// SAFETY: `base` points into a NumPy array borrowed (read-only, through
// rust-numpy's borrow checker) for 'a; `T: Sync` makes shared reads from
// another thread sound, as for `&'a [T]`.
unsafe impl<T: Sync> Send for Strided<'_, T> {}

impl<'a, T: Real> Strided<'a, T> {
    /// `a` broadcast to `shape` (which NumPy's rules already accepted).
    fn new(a: &'a PyReadonlyArrayDyn<'_, T>, shape: &[usize]) -> R<Self> {
        let v = a.as_array();
        let b = v.broadcast(IxDyn(shape)).ok_or_else(|| {
            Error::Shape(format!(
                "an input of shape {:?} does not broadcast to {shape:?}",
                v.shape()
            ))
        })?;
        let (mut sh, mut st): (Vec<usize>, Vec<isize>) = b
            .shape()
            .iter()
            .zip(b.strides())
            .filter(|&(&n, _)| n != 1)
            .map(|(&n, &s)| (n, s))
            .unzip();
        if sh.is_empty() {
            sh.push(1);
            st.push(0);
        }
        Ok(Strided {
            base: b.as_ptr(),
            idx: vec![0; sh.len()],
            shape: sh,
            strides: st,
            pos: 0,
            _borrow: PhantomData,
        })
    }
}

impl<T: Real> Fill for Strided<'_, T> {
    fn step_bytes(&self) -> usize {
        let last = self.strides.len() - 1;
        self.strides[last].unsigned_abs() * std::mem::size_of::<T>()
    }

    fn fill(&mut self, dst: &mut [f64]) {
        let last = self.shape.len() - 1;
        let (len, step) = (self.shape[last], self.strides[last]);
        let mut i = 0;
        while i < dst.len() {
            let k = (len - self.idx[last]).min(dst.len() - i);
            if step == 0 {
                // SAFETY: idx[ax] < shape[ax] on every axis, so `pos` is the
                // offset of an element of the borrowed array (ndarray's
                // broadcast view gave the strides); NumPy arrays may be
                // unaligned, hence read_unaligned.
                let v = unsafe { self.base.offset(self.pos).read_unaligned() }.to_f64();
                dst[i..i + k].fill(v);
            } else {
                let mut p = self.pos;
                for d in &mut dst[i..i + k] {
                    // SAFETY: as above; p stays within the current row.
                    *d = unsafe { self.base.offset(p).read_unaligned() }.to_f64();
                    p += step;
                }
            }
            i += k;
            self.idx[last] += k;
            self.pos += step * k as isize;
            if self.idx[last] == len {
                // Next row: carry into the outer axes.
                self.idx[last] = 0;
                self.pos -= step * len as isize;
                for ax in (0..last).rev() {
                    self.idx[ax] += 1;
                    self.pos += self.strides[ax];
                    if self.idx[ax] < self.shape[ax] {
                        break;
                    }
                    self.pos -= self.strides[ax] * self.shape[ax] as isize;
                    self.idx[ax] = 0;
                }
            }
        }
    }
}

/// The columns of one point-major array (each a float64 input walked with
/// the same single stride, as `x[:, k]` of an `(N, n)` array), read a
/// point at a time: one pass along the rows, each point's values going to
/// the inputs' block buffers, instead of one pass over the rows per column
/// (the Brusselator's 60 columns of a `(1M, 60)` array: 93 -> 66-70 ns a
/// point; contiguous columns take 46-49).
struct Rows<'a> {
    /// Where each input's first point is.
    bases: Vec<*const f64>,
    /// Elements between consecutive points (the same for every input).
    step: isize,
    /// Offset of the next point, in elements.
    pos: isize,
    _borrow: PhantomData<&'a f64>,
}

// SAFETY: as for `Strided`: reads of borrowed NumPy arrays.
unsafe impl Send for Rows<'_> {}

impl<'a> Rows<'a> {
    /// The inputs as one point-major group, when they are float64, walked
    /// along one axis with one stride of at least a cache line (below
    /// that, reading column by column is as fast).
    fn of(inputs: &'a [Input<'_>], shape: &[usize]) -> R<Option<Rows<'a>>> {
        if inputs.len() < 2 {
            return Ok(None);
        }
        let mut bases = Vec::with_capacity(inputs.len());
        let mut step = None;
        for a in inputs {
            let Input::F64(a) = a else { return Ok(None) };
            let w = Strided::new(a, shape)?;
            if w.shape.len() != 1 || w.strides[0].unsigned_abs() < 8 {
                return Ok(None);
            }
            if *step.get_or_insert(w.strides[0]) != w.strides[0] {
                return Ok(None);
            }
            bases.push(w.base);
        }
        Ok(step.map(|step| Rows {
            bases,
            step,
            pos: 0,
            _borrow: PhantomData,
        }))
    }

    /// The next `len` points of every input into `bufs` (one per input).
    fn fill(&mut self, bufs: &mut [Vec<f64>], len: usize) {
        for i in 0..len {
            let p = self.pos + i as isize * self.step;
            for (b, &base) in bufs.iter_mut().zip(&self.bases) {
                // SAFETY: every input has the points' length along its one
                // axis (ndarray's broadcast view gave base and stride), and
                // `pos / step + i` is below it; NumPy arrays may be
                // unaligned, hence read_unaligned.
                b[i] = unsafe { base.offset(p).read_unaligned() };
            }
        }
        self.pos += len as isize * self.step;
    }
}

/// How [`run_strided`] fills its block buffers: the columns of one
/// point-major array a row at a time, or each input through its strides.
enum Reader<'a> {
    Rows(Rows<'a>),
    Columns(Vec<Box<dyn Fill + 'a>>),
}

impl<'a> Reader<'a> {
    fn new(inputs: &'a [Input<'_>], shape: &[usize]) -> R<Reader<'a>> {
        Ok(match Rows::of(inputs, shape)? {
            Some(r) => Reader::Rows(r),
            None => Reader::Columns(inputs.iter().map(|a| a.strided(shape)).collect::<R<_>>()?),
        })
    }

    /// Bytes between consecutive points, per input.
    fn step_bytes(&self) -> Vec<usize> {
        match self {
            Reader::Rows(r) => vec![r.step.unsigned_abs() * 8; r.bases.len()],
            Reader::Columns(fills) => fills.iter().map(|f| f.step_bytes()).collect(),
        }
    }

    /// The next `len` points of every input into `bufs` (one per input).
    fn fill(&mut self, bufs: &mut [Vec<f64>], len: usize) {
        match self {
            Reader::Rows(r) => r.fill(bufs, len),
            Reader::Columns(fills) => {
                for (fl, b) in fills.iter_mut().zip(bufs) {
                    fl.fill(&mut b[..len]);
                }
            }
        }
    }
}

/// One input as a read-only borrow of its NumPy array, in its own dtype.
enum Input<'py> {
    F64(PyReadonlyArrayDyn<'py, f64>),
    F32(PyReadonlyArrayDyn<'py, f32>),
    I64(PyReadonlyArrayDyn<'py, i64>),
    I32(PyReadonlyArrayDyn<'py, i32>),
    I16(PyReadonlyArrayDyn<'py, i16>),
    I8(PyReadonlyArrayDyn<'py, i8>),
    U64(PyReadonlyArrayDyn<'py, u64>),
    U32(PyReadonlyArrayDyn<'py, u32>),
    U16(PyReadonlyArrayDyn<'py, u16>),
    U8(PyReadonlyArrayDyn<'py, u8>),
    Bool(PyReadonlyArrayDyn<'py, bool>),
}

macro_rules! each_input {
    ($x:expr, $a:ident => $body:expr) => {
        match $x {
            Input::F64($a) => $body,
            Input::F32($a) => $body,
            Input::I64($a) => $body,
            Input::I32($a) => $body,
            Input::I16($a) => $body,
            Input::I8($a) => $body,
            Input::U64($a) => $body,
            Input::U32($a) => $body,
            Input::U16($a) => $body,
            Input::U8($a) => $body,
            Input::Bool($a) => $body,
        }
    };
}

impl<'py> Input<'py> {
    /// Borrow `a` in its dtype when it is read natively; otherwise (float16,
    /// long double, byte-swapped) NumPy converts it to float64 first.
    fn borrow(py: Python<'py>, a: &Bound<'py, PyAny>) -> R<Self> {
        macro_rules! try_as {
            ($($v:ident: $t:ty),*) => {$(
                if let Ok(r) = a.extract::<PyReadonlyArrayDyn<'py, $t>>() {
                    return Ok(Input::$v(r));
                }
            )*};
        }
        try_as!(F64: f64, F32: f32, I64: i64, I32: i32, I16: i16, I8: i8,
                U64: u64, U32: u32, U16: u16, U8: u8, Bool: bool);
        let np = py.import("numpy")?;
        let kw = PyDict::new(py);
        kw.set_item("dtype", np.getattr("float64")?)?;
        let c = np.call_method("asarray", (a,), Some(&kw))?;
        Ok(Input::F64(c.extract().map_err(PyErr::from)?))
    }

    fn strided<'a>(&'a self, shape: &[usize]) -> R<Box<dyn Fill + 'a>> {
        each_input!(self, a => Ok(Box::new(Strided::new(a, shape)?)))
    }
}

/// NumPy's broadcast of `shapes` (right-aligned; a length-1 axis stretches).
fn broadcast_shapes(shapes: &[Vec<usize>]) -> Option<Vec<usize>> {
    let nd = shapes.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![1usize; nd];
    for s in shapes {
        let off = nd - s.len();
        for (j, &n) in s.iter().enumerate() {
            let o = &mut out[off + j];
            if *o == 1 {
                *o = n;
            } else if n != 1 && n != *o {
                return None;
            }
        }
    }
    Some(out)
}

/// The inputs as real ndarrays, one per variable (a single 2-D array with
/// one row per variable is accepted too).
fn input_arrays<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    arrays: &Bound<'py, PyTuple>,
) -> R<Vec<Bound<'py, PyAny>>> {
    let n_vars = f.src.vars.len();
    let mut arrs: Vec<Bound<'py, PyAny>> = Vec::with_capacity(arrays.len());
    for (i, a) in arrays.iter().enumerate() {
        arrs.push(to_real_array(py, &a, &format!("input #{i}"))?);
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
    Ok(arrs)
}

/// Evaluate `f` at the points of `shape` (inputs broadcast to it) into
/// `out` (C-contiguous `(*f.shape, *shape)`), a block of points at a time:
/// each input is read through its strides and widened into a block-sized
/// buffer, so no broadcast or converted copy of a whole input is made.
fn run_strided<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    inputs: Vec<Input<'py>>,
    shape: &[usize],
    out: &Bound<'py, PyAny>,
    how: How,
) -> R<()> {
    let How {
        parallel,
        threads,
        zeroed,
    } = how;
    let out_flat = out.call_method1("reshape", (-1,))?;
    let out_arr = out_flat
        .cast::<PyArray1<f64>>()
        .map_err(|_| Error::Conversion("out must be a float64 array".into()))?;
    let m = f.src.exprs.len();
    let n: usize = shape.iter().product();
    if n == 0 || m == 0 {
        return Ok(());
    }
    let f_arc = f.f.clone();
    prepare(py, &f_arc, n)?;
    let workers = match (parallel, threads) {
        (false, _) => 1,
        (true, Some(t)) if t > 0 => t,
        (true, _) => alkahest_batch::default_threads(),
    };
    let mut reader = Reader::new(&inputs, shape)?;
    let n_in = inputs.len();
    let block = strided_block(workers, n, reader.step_bytes());
    let watch = n > block && on_main_thread(py)?;
    let how = parallel.then_some(threads);
    let eval = |dst: &mut [f64]| -> R<()> {
        let ev = f_arc.evaluator();
        let z = alkahest_tape::ZeroedOutputs(&*ev);
        let ev: &dyn Evaluator = if zeroed { &z } else { &*ev };
        let mut outs: Vec<&mut [f64]> = dst.chunks_mut(n).collect();
        let mut bufs: Vec<Vec<f64>> = (0..n_in).map(|_| vec![0.0; block]).collect();
        let mut last = std::time::Instant::now();
        let mut start = 0;
        while start < n {
            let len = block.min(n - start);
            reader.fill(&mut bufs, len);
            let cols: Vec<&[f64]> = bufs.iter().map(|b| &b[..len]).collect();
            let mut part: Vec<&mut [f64]> = outs
                .iter_mut()
                .map(|o| &mut o[start..start + len])
                .collect();
            alkahest_tape::check_columns(f_arc.n_inputs(), m, &cols, &part)?;
            alkahest_batch::eval_columns_polled(ev, &cols, &mut part, how, None)?;
            start += len;
            if watch && start < n && last.elapsed() >= alkahest_batch::POLL_INTERVAL {
                Python::attach(|py| py.check_signals())?;
                last = std::time::Instant::now();
            }
        }
        Ok(())
    };
    if let Some(tmp) = eval_into(py, out_arr, n * m, true, eval)? {
        drop(reader);
        drop(inputs);
        copy_into(out_arr, &tmp)?;
    }
    Ok(())
}

/// Points per block of [`run_strided`]: whole CHUNKs per worker (at most
/// 64 chunks, so the buffers stay small whatever `threads` asks for), so
/// results are bit-identical to the contiguous path (same SIMD main-body /
/// remainder split). On one thread, inputs `step` bytes apart per point
/// get blocks whose rows stay in L2 while each column is read in turn: a
/// 32,768-point block of the Brusselator's 480-byte rows was 15.7 MB, read
/// again from memory for each of the 60 columns (133 ns a point; 93 with
/// these blocks; float64 columns of one array now go through [`Rows`]).
/// Such blocks are a power of two of at least [`MIN_STRIDED_BLOCK`]
/// points, so the vector groups (and the last, partial one) fall where
/// they do in one call.
fn strided_block(workers: usize, n: usize, steps: Vec<usize>) -> usize {
    let whole = (alkahest_batch::CHUNK * workers.min(64)).min(n);
    let widest = steps.into_iter().max().unwrap_or(8);
    if workers > 1 || widest.saturating_mul(whole) <= STRIDED_BLOCK_BYTES {
        return whole;
    }
    let fit = (STRIDED_BLOCK_BYTES / widest.max(1)).max(1);
    // The largest power of two that fits, within [MIN_STRIDED_BLOCK, whole].
    let pow2 = 1usize << (usize::BITS - 1 - fit.leading_zeros());
    pow2.clamp(MIN_STRIDED_BLOCK, alkahest_batch::CHUNK)
        .min(whole)
}

/// The span of rows a one-thread strided block may touch (half of a 1 MiB
/// L2, leaving room for the block buffers and the output).
const STRIDED_BLOCK_BYTES: usize = 512 << 10;

/// Fewest points in a strided block: a multiple of every vector width
/// times unroll, and long enough to amortize a block's set-up.
const MIN_STRIDED_BLOCK: usize = 256;

fn eval_arrays<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    arrays: &Bound<'py, PyTuple>,
    out: Option<&Bound<'py, PyAny>>,
    parallel: bool,
    threads: Option<usize>,
) -> R<Bound<'py, PyAny>> {
    let out = out.filter(|o| !o.is_none());
    let arrs = input_arrays(py, f, arrays)?;
    if arrs.is_empty() && out.is_none() {
        return Err(Error::Shape(
            "a function of no variables needs out= to know how many points to evaluate".into(),
        ));
    }
    let shapes: Vec<Vec<usize>> = arrs.iter().map(shape_of).collect::<PyResult<_>>()?;
    let lead = f.out_shape();
    let Some(mut shape) = broadcast_shapes(&shapes) else {
        let list: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
        return Err(Error::Shape(format!(
            "input shapes {} do not broadcast to the same shape (NumPy's rules: axes aligned \
             from the right must be equal or 1)",
            list.join(", ")
        )));
    };
    if let Some(o) = out {
        // The points are what `out` has beyond the output shape; the inputs
        // broadcast to them, as with a ufunc's out=.
        let s = shape_of(o)?;
        if !s.starts_with(lead) {
            return Err(Error::Shape(format!(
                "out has shape {s:?}, expected the output shape {lead:?} followed by the points"
            )));
        }
        let pts = s[lead.len()..].to_vec();
        if broadcast_shapes(&[shape.clone(), pts.clone()]).as_ref() == Some(&pts) {
            shape = pts;
        } else if pts.iter().product::<usize>() != shape.iter().product::<usize>() {
            let full: Vec<usize> = lead.iter().chain(&shape).copied().collect();
            return Err(Error::Shape(format!(
                "out has shape {s:?}, expected {full:?}"
            )));
        }
        // Otherwise the same number of points in another shape: filled in
        // C order (as before broadcasting existed).
    }
    let full: Vec<usize> = lead.iter().chain(&shape).copied().collect();
    // A fresh result is allocated zeroed when the function then skips its
    // constant-zero outputs (a sparse Jacobian's zeros are never written).
    let zeroed = out.is_none() && f.f.skips_zero_outputs();
    let (out, zeroed) = output(py, out, &full, lead.len(), zeroed)?;
    let how = How {
        parallel,
        threads,
        zeroed,
    };
    let in_place = arrs.iter().zip(&shapes).all(|(a, s)| {
        *s == shape
            && a.cast::<PyArrayDyn<f64>>()
                .is_ok_and(|a| a.is_c_contiguous())
    });
    if in_place {
        // Every input is a C-contiguous float64 array of the points' shape:
        // read in place in one pass.
        let cols: Vec<Bound<'py, PyAny>> = arrs
            .iter()
            .map(|a| a.call_method1("reshape", (-1,)))
            .collect::<PyResult<_>>()?;
        run(py, f, &cols, &out, how)?;
    } else {
        let inputs: Vec<Input<'py>> = arrs
            .iter()
            .map(|a| Input::borrow(py, a))
            .collect::<R<_>>()?;
        run_strided(py, f, inputs, &shape, &out, how)?;
    }
    Ok(out)
}

/// Evaluate `f` elementwise over arrays (one per variable).
///
/// Inputs broadcast by NumPy's rules (Python scalars, 0-d, length-1 and
/// higher-dimensional arrays); the broadcast copies are never made: inputs
/// are read through their strides (stride 0 along broadcast axes) a block
/// of points at a time. Shapes that do not broadcast raise `ShapeError`
/// naming them. The result has shape `(*f.shape, *broadcast_shape)`.
///
/// `out=`: a writeable C-contiguous float64 array of shape
/// `(*f.shape, *points)`, where the inputs broadcast to `points` (as a
/// ufunc's `out=`); returned.
///
/// Dtypes: evaluation is in float64 and the result is float64. A
/// C-contiguous float64 input of the full shape is read in place; float32,
/// integer and bool inputs, and strided or broadcast ones, are read in
/// place and widened to float64 one block (at most 32768 points per
/// thread; fewer for a long stride on one thread) at a time, so memory
/// beyond the output is a few blocks. The float64 columns of one
/// point-major array (`*x.T` of an `(N, n)` array) are read a row at a
/// time. Other dtypes
/// (float16, long double, byte-swapped) are converted to float64 by NumPy
/// first: one copy of that input, not of the broadcast result. DLPack
/// producers (PyTorch CPU tensors, JAX arrays) are imported with
/// `numpy.from_dlpack`, zero-copy. Dask arrays give a lazy Dask array,
/// evaluated blockwise (see `alkahest._dask.numpy_eval`).
///
/// A long call on the main thread checks for signals between blocks of
/// points (at most every 50 ms), so Ctrl-C raises `KeyboardInterrupt`
/// within about 0.1 s; `out=`, when given, is then partly written (the
/// blocks evaluated before the interrupt).
///
/// A function of more than 16 outputs, some constant, fills its constant
/// outputs column by column; a fresh result is then allocated zeroed and
/// its constant `0` outputs (a sparse Jacobian's zeros) are never written.
/// A fresh result of 4 MiB or more starts on a 64-byte boundary (a view
/// into a buffer one cache line longer: `result.base` is that buffer), so
/// the LLVM tier can write its columns with streaming stores (x86-64 with
/// AVX-512). One of 32 MiB or more lives in memory kept for reuse once the
/// result is freed (`result.base` is a `PooledResult`; see
/// `release_result_pool`).
#[pyfunction]
#[pyo3(signature = (f, *arrays, out=None))]
fn numpy_eval<'py>(
    py: Python<'py>,
    f: &Bound<'py, PyCompiledFn>,
    arrays: &Bound<'py, PyTuple>,
    out: Option<&Bound<'py, PyAny>>,
) -> R<Bound<'py, PyAny>> {
    if let Some(r) = fast_eval(py, &f.borrow(), arrays, out, false, None)? {
        return Ok(r);
    }
    if let Some(r) = dask_dispatch(py, f, arrays, out, false, None)? {
        return Ok(r);
    }
    eval_arrays(py, &f.borrow(), arrays, out, false, None)
}

/// Like `numpy_eval` (broadcasting, dtypes, `out=`, Dask arrays), on
/// several cores (rayon) when built with `parallel`; otherwise the same as
/// `numpy_eval`. Results are bit-identical.
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
    f: &Bound<'py, PyCompiledFn>,
    arrays: &Bound<'py, PyTuple>,
    out: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> R<Bound<'py, PyAny>> {
    alkahest_batch::check_threads(threads)?;
    let par = alkahest_batch::PARALLEL;
    if let Some(r) = fast_eval(py, &f.borrow(), arrays, out, par, threads)? {
        return Ok(r);
    }
    if let Some(r) = dask_dispatch(py, f, arrays, out, true, threads)? {
        return Ok(r);
    }
    eval_arrays(
        py,
        &f.borrow(),
        arrays,
        out,
        alkahest_batch::PARALLEL,
        threads,
    )
}

/// `f(xs, ys, ...)` with arrays: `numpy_eval(f, xs, ys, ...)` (Dask
/// arrays stay lazy), so a `CompiledFn` works as a block function for
/// `dask.array.map_blocks` and `apply_gufunc` without a wrapper.
pub(crate) fn call_elementwise<'py>(
    f: &Bound<'py, PyCompiledFn>,
    args: &Bound<'py, PyTuple>,
) -> R<Bound<'py, PyAny>> {
    let py = f.py();
    if let Some(r) = fast_eval(py, &f.borrow(), args, None, false, None)? {
        return Ok(r);
    }
    if let Some(r) = dask_dispatch(py, f, args, None, false, None)? {
        return Ok(r);
    }
    eval_arrays(py, &f.borrow(), args, None, false, None)
}

/// `call_batch` and `call_bulk` once their columns are cut: `n` points
/// per column, evaluated on this thread into `out`, or into a fresh result
/// of shape `(*f.shape, n)` (zeroed when `f` skips constant zeros).
fn serial_columns<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    cols: &[Bound<'py, PyAny>],
    n: usize,
    out: Option<&Bound<'py, PyAny>>,
) -> R<Bound<'py, PyAny>> {
    let full: Vec<usize> = f.out_shape().iter().copied().chain([n]).collect();
    let zeroed = out.is_none_or(|o| o.is_none()) && f.f.skips_zero_outputs();
    let (out, zeroed) = output(py, out, &full, f.out_shape().len(), zeroed)?;
    let how = How {
        parallel: false,
        threads: None,
        zeroed,
    };
    run(py, f, cols, &out, how)?;
    Ok(out)
}

/// `call_batch`: a 2-D array-like with one row per variable.
pub(crate) fn call_batch<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    inputs: &Bound<'py, PyAny>,
) -> R<Bound<'py, PyAny>> {
    let n_vars = f.src.vars.len();
    if let Ok(a) = inputs.cast::<PyArrayDyn<f64>>()
        && a.is_c_contiguous()
    {
        let points = match (a.shape(), n_vars) {
            (&[n], 1) => Some(n),
            (&[rows, n], _) if rows == n_vars && n_vars > 0 => Some(n),
            _ => None,
        };
        if let Some(n) = points
            && let Some(r) = plain_eval(py, f, std::slice::from_ref(a), &[n], None, false, None)?
        {
            return Ok(r);
        }
    }
    let a = to_f64_array(py, inputs, "inputs")?;
    let s = shape_of(&a)?;
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
    serial_columns(py, f, &cols, n, None)
}

/// `call_bulk`: one flat buffer, variable-major (`v * n_points + i`).
pub(crate) fn call_bulk<'py>(
    py: Python<'py>,
    f: &PyCompiledFn,
    flat: &Bound<'py, PyAny>,
    n_points: Option<usize>,
    out: Option<&Bound<'py, PyAny>>,
) -> R<Bound<'py, PyAny>> {
    let n_vars = f.src.vars.len();
    if let Ok(a) = flat.cast::<PyArrayDyn<f64>>()
        && a.is_c_contiguous()
        && n_vars > 0
    {
        let len = a.len();
        let n = n_points.unwrap_or(len / n_vars);
        if n.checked_mul(n_vars) == Some(len)
            && let Some(r) = plain_eval(py, f, std::slice::from_ref(a), &[n], out, false, None)?
        {
            return Ok(r);
        }
    }
    let a = to_f64_array(py, flat, "inputs")?.call_method1("reshape", (-1,))?;
    let len = shape_of(&a)?[0];
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
    serial_columns(py, f, &cols, n, out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(numpy_eval, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_eval_par, m)?)?;
    Ok(())
}
