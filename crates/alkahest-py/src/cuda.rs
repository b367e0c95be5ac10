//! Python bindings for the CUDA backend: `compile_cuda`, `CudaFn`,
//! `cuda_device`.
//!
//! Compiling needs LLVM and `libdevice.10.bc` (found through
//! `$ALKAHEST_LIBDEVICE`, the `nvidia-cuda-nvcc-cu12` wheel on `sys.path`,
//! or a CUDA install) but no GPU: `CudaFn.ptx` is available everywhere.
//! Running needs the NVIDIA driver and a device; without them every call
//! raises `BackendUnavailableError` and the process carries on.
//!
//! Built without the `cuda` cargo feature, `compile_cuda` and `cuda_device`
//! still exist and raise `BackendUnavailableError` naming the feature.

use pyo3::prelude::*;

#[cfg(not(feature = "cuda"))]
use crate::errors::{Error, R};

/// The message of every entry point in a build without the feature.
#[cfg(not(feature = "cuda"))]
fn no_feature() -> Error {
    Error::Backend {
        class: "BackendUnavailableError",
        msg: format!(
            "this alkahest has no CUDA backend (cargo feature 'cuda'): {}",
            crate::errors::install_hint("cuda")
        ),
    }
}

/// Compile `expr` over `vars` to a CUDA kernel (unavailable in this build).
#[cfg(not(feature = "cuda"))]
#[pyfunction]
#[pyo3(signature = (expr, vars, arch=None))]
fn compile_cuda(
    expr: &Bound<'_, PyAny>,
    vars: &Bound<'_, PyAny>,
    arch: Option<&str>,
) -> R<Py<PyAny>> {
    let _ = (expr, vars, arch);
    Err(no_feature())
}

/// Describe the first CUDA device (unavailable in this build).
#[cfg(not(feature = "cuda"))]
#[pyfunction]
fn cuda_device() -> R<Py<PyAny>> {
    Err(no_feature())
}

#[cfg(feature = "cuda")]
pub use imp::PyCudaFn;
#[cfg(feature = "cuda")]
use imp::{compile_cuda, cuda_device};

#[cfg(feature = "cuda")]
mod imp {
    use std::path::PathBuf;
    use std::sync::Arc;

    use alkahest_cuda::CudaFn;
    use numpy::{PyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
    use pyo3::prelude::*;
    use pyo3::types::{PyDict, PyList, PyTuple};

    use crate::arrays::to_f64_array;
    use crate::compile::Source;
    use crate::errors::{Error, R};
    use crate::expr::PyExpr;

    /// An `alkahest_cuda::Error` as the Python exception class that fits it.
    fn cuda_err(e: alkahest_cuda::Error) -> Error {
        use alkahest_cuda::Error as E;
        let class = match &e {
            E::Kernel(k) => return Error::Kernel(k.clone()),
            E::NoLibdevice { .. } | E::Libdevice { .. } | E::NoDriver(_) | E::NoDevice(_) => {
                "BackendUnavailableError"
            }
            E::InvalidArch { .. } => "OptionError",
            E::Llvm(_) | E::Unresolved(_) => "CompileError",
            E::NotDevicePointer { .. } => "ConversionError",
            E::TooLarge(_) | E::NoPointCount => "ShapeError",
            // A failed driver call at run time (out of memory, a launch
            // failure, ...).
            E::Driver { .. } => "AlkahestError",
        };
        Error::Backend {
            class,
            msg: e.to_string(),
        }
    }

    /// An expression compiled to PTX for NVIDIA GPUs.
    ///
    /// `ptx` and `arch` need no GPU; `call_batch`, `__call__` and
    /// `call_device` run on a CUDA device and raise
    /// `BackendUnavailableError` where there is none.
    #[pyclass(name = "CudaFn", module = "alkahest", frozen)]
    pub struct PyCudaFn {
        f: Arc<CudaFn>,
        src: Source,
    }

    /// A GPU array read through `__cuda_array_interface__`: its device
    /// address and element count.
    struct DeviceArray {
        ptr: u64,
        n: usize,
    }

    fn type_name(obj: &Bound<'_, PyAny>) -> String {
        obj.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    }

    /// Read `obj.__cuda_array_interface__`: float64 ('<f8'), C-contiguous,
    /// unmasked, and writable when `writable`.
    fn device_array(obj: &Bound<'_, PyAny>, what: &str, writable: bool) -> R<DeviceArray> {
        let iface = obj.getattr("__cuda_array_interface__").map_err(|_| {
            Error::Conversion(format!(
                "{what}: expected a GPU array exposing __cuda_array_interface__ (CuPy, Numba \
                     CUDA, PyTorch CUDA tensor), got {}; host arrays go to call_batch",
                type_name(obj)
            ))
        })?;
        let d = iface.cast::<PyDict>().map_err(|_| {
            Error::Conversion(format!("{what}: __cuda_array_interface__ is not a dict"))
        })?;
        let get = |k: &str| -> R<Bound<'_, PyAny>> {
            d.get_item(k)?.ok_or_else(|| {
                Error::Conversion(format!("{what}: __cuda_array_interface__ has no '{k}'"))
            })
        };
        let typestr: String = get("typestr")?.extract().map_err(|_| {
            Error::Conversion(format!(
                "{what}: __cuda_array_interface__ 'typestr' is not a string"
            ))
        })?;
        if typestr != "<f8" {
            return Err(Error::Conversion(format!(
                "{what}: dtype '{typestr}' is not float64 ('<f8'); convert it on the device first"
            )));
        }
        let shape: Vec<usize> = get("shape")?.extract().map_err(|_| {
            Error::Conversion(format!(
                "{what}: __cuda_array_interface__ 'shape' is not a tuple of sizes"
            ))
        })?;
        let n = shape
            .iter()
            .try_fold(1usize, |a, &s| a.checked_mul(s))
            .ok_or_else(|| Error::Shape(format!("{what}: shape {shape:?} is too large")))?;
        if let Some(m) = d.get_item("mask")?
            && !m.is_none()
        {
            return Err(Error::Conversion(format!(
                "{what}: masked GPU arrays are not supported"
            )));
        }
        if let Some(s) = d.get_item("strides")?
            && !s.is_none()
        {
            let strides: Vec<isize> = s.extract().map_err(|_| {
                Error::Conversion(format!(
                    "{what}: __cuda_array_interface__ 'strides' is not a tuple of integers"
                ))
            })?;
            // C-contiguous strides; axes of length 1 may carry any stride.
            let mut want = 8isize;
            for (&dim, &st) in shape.iter().zip(&strides).rev() {
                if dim > 1 && st != want {
                    return Err(Error::Shape(format!(
                        "{what}: GPU array with strides {strides:?} for shape {shape:?} is not \
                         C-contiguous; make a contiguous copy first"
                    )));
                }
                want = want.saturating_mul(dim as isize);
            }
        }
        let data = get("data")?;
        let (ptr, readonly): (u64, bool) = data.extract().map_err(|_| {
            Error::Conversion(format!(
                "{what}: __cuda_array_interface__ 'data' is not (pointer, readonly)"
            ))
        })?;
        if writable && readonly {
            return Err(Error::Conversion(format!("{what}: GPU array is read-only")));
        }
        if ptr == 0 && n > 0 {
            return Err(Error::Conversion(format!("{what}: null device pointer")));
        }
        Ok(DeviceArray { ptr, n })
    }

    /// Directories on `sys.path` (where the `nvidia-cuda-nvcc-cu12` wheel's
    /// libdevice is found).
    fn sys_path(py: Python<'_>) -> R<Vec<PathBuf>> {
        let path = py.import("sys")?.getattr("path")?;
        let mut out = Vec::new();
        for p in path.try_iter()? {
            if let Ok(s) = p?.extract::<PathBuf>() {
                out.push(s);
            }
        }
        Ok(out)
    }

    impl PyCudaFn {
        /// Run on the first device over host columns (`rows` has one row per
        /// variable, `n` points each).
        fn run_host<'py>(&self, py: Python<'py>, rows: &[f64], n: usize) -> R<Bound<'py, PyAny>> {
            let k = self.src.vars.len();
            let m = self.src.exprs.len();
            let mut out = vec![0.0; n * m];
            let f = self.f.clone();
            if n > 0 {
                py.detach(|| {
                    let cols: Vec<&[f64]> = rows.chunks_exact(n).collect();
                    let mut outs: Vec<&mut [f64]> = out.chunks_mut(n).collect();
                    f.call_batch_many_into(&cols, &mut outs)
                })
                .map_err(cuda_err)?;
            } else {
                let _ = k;
            }
            let a = PyArray1::from_vec(py, out).into_any();
            match &self.src.shape {
                None => Ok(a),
                Some(shape) => {
                    let full: Vec<usize> = shape.iter().copied().chain([n]).collect();
                    Ok(a.call_method1("reshape", (full,))?)
                }
            }
        }
    }

    #[pymethods]
    impl PyCudaFn {
        /// The PTX text: one kernel, `alkahest_kernel(const double *const
        /// *cols, double *const *outs, u64 n)` (one output column per output).
        #[getter]
        fn ptx(&self) -> &str {
            self.f.ptx()
        }

        /// The architecture the PTX targets, e.g. 'sm_86'.
        #[getter]
        fn arch(&self) -> &str {
            self.f.arch()
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

        /// The compiled expression, or the nested list of several outputs.
        #[getter]
        fn expr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            self.src.expr(py)
        }

        /// One point's result shape: `()` for a single expression.
        #[getter]
        fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
            self.src.shape_tuple(py)
        }

        /// Evaluate many points on the first CUDA device from host data:
        /// `inputs` has shape (n_vars, n_points), one row per variable (the
        /// layout of `CompiledFn.call_batch`; a list of 1-D arrays works
        /// too). Returns a float64 NumPy array of n_points values. Copies
        /// the columns to the device and the result back.
        fn call_batch<'py>(
            &self,
            py: Python<'py>,
            inputs: &Bound<'py, PyAny>,
        ) -> R<Bound<'py, PyAny>> {
            let a = to_f64_array(py, inputs, "inputs")?;
            let s: Vec<usize> = a.getattr("shape")?.extract()?;
            let k = self.src.vars.len();
            let a = match (s.len(), k) {
                (1, 1) => a.call_method1("reshape", ((1usize, s[0]),))?,
                (2, _) if s[0] == k => a,
                _ => {
                    return Err(Error::Shape(format!(
                        "call_batch expects shape ({k}, n_points) (one row per variable), got {s:?}"
                    )));
                }
            };
            let arr: PyReadonlyArray2<'py, f64> = a.extract().map_err(PyErr::from)?;
            let n = arr.shape()[1];
            let rows = arr
                .as_slice()
                .map_err(|_| Error::Shape("inputs must be contiguous".into()))?;
            self.run_host(py, rows, n)
        }

        /// Evaluate at one point on the GPU: `f(x, y)` or `f([x, y])`.
        /// (Each call is a kernel launch with two copies: use `call_batch`
        /// for many points.)
        #[pyo3(signature = (*args))]
        fn __call__<'py>(
            &self,
            py: Python<'py>,
            args: &Bound<'py, PyTuple>,
        ) -> R<Bound<'py, PyAny>> {
            let seq = if args.len() == 1 {
                let a = args.get_item(0)?;
                if a.is_instance_of::<PyList>()
                    || a.is_instance_of::<PyTuple>()
                    || (a.hasattr("__len__")? && a.extract::<f64>().is_err())
                {
                    a
                } else {
                    args.clone().into_any()
                }
            } else {
                args.clone().into_any()
            };
            let mut vals = Vec::new();
            for (i, v) in seq.try_iter()?.enumerate() {
                let v = v?;
                vals.push(v.extract::<f64>().map_err(|_| {
                    Error::Conversion(format!(
                        "input #{i} must be a real number, got {}",
                        type_name(&v)
                    ))
                })?);
            }
            let k = self.src.vars.len();
            if vals.len() != k {
                return Err(Error::Arity(format!(
                    "expected {k} input value(s), got {}",
                    vals.len()
                )));
            }
            let out = self.run_host(py, &vals, 1)?;
            match &self.src.shape {
                None => Ok(out.get_item(0)?),
                Some(shape) => Ok(out.call_method1("reshape", (shape.clone(),))?),
            }
        }

        /// Evaluate on data already on the GPU, with no host round trip.
        ///
        /// Each of `columns` (one per variable) and `out` must expose
        /// `__cuda_array_interface__` (CuPy arrays, Numba device arrays,
        /// PyTorch CUDA tensors), be float64 ('<f8') and C-contiguous, all
        /// with the same number of elements, on one device. `out` is
        /// required: alkahest allocates no GPU memory for Python; it is
        /// returned. `out` may be one of the columns. For several outputs,
        /// `out` holds `n_outputs * n_points` doubles, outputs first (the
        /// C-contiguous layout of shape `(*f.shape, n_points)`), and may not
        /// overlap the columns.
        ///
        /// With `stream=None` the kernel runs on the legacy default stream
        /// and this call waits for it. `stream` (an integer `cudaStream_t`,
        /// e.g. `cupy.cuda.get_current_stream().ptr` or
        /// `torch.cuda.current_stream().cuda_stream`) queues it there and
        /// returns at once; the arrays must then stay alive until the
        /// stream has run it.
        #[pyo3(signature = (*columns, out, stream=None))]
        fn call_device<'py>(
            &self,
            py: Python<'py>,
            columns: &Bound<'py, PyTuple>,
            out: &Bound<'py, PyAny>,
            stream: Option<u64>,
        ) -> R<Bound<'py, PyAny>> {
            let k = self.src.vars.len();
            if columns.len() != k {
                return Err(Error::Arity(format!(
                    "function has {k} variable(s) but {} GPU column(s) were given",
                    columns.len()
                )));
            }
            let o = device_array(out, "out", true)?;
            let m = self.src.exprs.len();
            if o.n % m != 0 {
                return Err(Error::Shape(format!(
                    "out has {} element(s), not a multiple of the {m} outputs",
                    o.n
                )));
            }
            let n = o.n / m;
            let mut ptrs = Vec::with_capacity(k);
            for (i, c) in columns.iter().enumerate() {
                let a = device_array(&c, &format!("column #{i}"), false)?;
                if a.n != n {
                    return Err(Error::Shape(format!(
                        "column #{i} has {} element(s) but out has {n} per output",
                        a.n
                    )));
                }
                ptrs.push(a.ptr);
            }
            let out_ptrs: Vec<u64> = (0..m).map(|j| o.ptr + (j * n * 8) as u64).collect();
            let f = self.f.clone();
            // SAFETY: every pointer comes from a live `__cuda_array_interface__`
            // of exactly `o.n` contiguous doubles (checked above) whose owner
            // the caller holds for the call; `call_device` checks each is
            // device memory on one device, and with `stream=None` it waits for
            // the kernel before returning. With a stream, the docs above make
            // the caller keep the arrays alive until the stream has run it;
            // `f` is kept alive by `self`.
            py.detach(|| unsafe { f.call_device_many(&ptrs, &out_ptrs, n, stream) })
                .map_err(cuda_err)?;
            Ok(out.clone())
        }

        fn __repr__(&self) -> String {
            format!(
                "CudaFn(vars=[{}], arch='{}')",
                self.src.var_names(),
                self.f.arch()
            )
        }
    }

    /// Compile `expr` over `vars` to a CUDA kernel (PTX).
    ///
    /// `arch` is 'sm_XY' (e.g. 'sm_86', 'sm_90'); by default the first
    /// device's, or 'sm_86' without one. Needs no GPU; raises OptionError
    /// for an unknown arch and BackendUnavailableError when libdevice is
    /// not found (the message lists the paths searched).
    #[pyfunction]
    #[pyo3(signature = (expr, vars, arch=None))]
    pub(super) fn compile_cuda(
        py: Python<'_>,
        expr: &Bound<'_, PyAny>,
        vars: &Bound<'_, PyAny>,
        arch: Option<String>,
    ) -> R<PyCudaFn> {
        let outs = crate::compile::outputs_of(expr)?;
        let ids = outs.vars(vars)?;
        if let Some(a) = &arch {
            alkahest_cuda::validate_arch(a).map_err(cuda_err)?;
        }
        let dirs = sys_path(py)?;
        let src = Source::new(outs, ids);
        let f = py.detach(|| -> R<CudaFn> {
            // As written, like `optimize="none"` on the CPU tiers.
            let tape = alkahest_tape::lower_written(&src.pool, &src.written, &src.vars)?;
            let libdevice = alkahest_cuda::find_libdevice(&dirs).map_err(cuda_err)?;
            CudaFn::new(&tape, arch.as_deref(), &libdevice).map_err(cuda_err)
        })?;
        Ok(PyCudaFn {
            f: Arc::new(f),
            src,
        })
    }

    /// The first CUDA device as a dict (`name`, `compute_capability`,
    /// `arch`, `multiprocessors`, `driver_version`, `device_count`,
    /// `ordinal`); raises BackendUnavailableError saying why there is none.
    #[pyfunction]
    pub(super) fn cuda_device(py: Python<'_>) -> R<Bound<'_, PyDict>> {
        let info = py
            .detach(alkahest_cuda::device_available)
            .map_err(cuda_err)?;
        let d = PyDict::new(py);
        d.set_item("ordinal", info.ordinal)?;
        d.set_item("name", info.name)?;
        d.set_item("compute_capability", info.compute_capability)?;
        d.set_item("arch", info.arch)?;
        d.set_item("multiprocessors", info.multiprocessors)?;
        d.set_item("driver_version", info.driver_version)?;
        d.set_item("device_count", info.device_count)?;
        Ok(d)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    #[cfg(feature = "cuda")]
    m.add_class::<PyCudaFn>()?;
    m.add_function(wrap_pyfunction!(compile_cuda, m)?)?;
    m.add_function(wrap_pyfunction!(cuda_device, m)?)?;
    Ok(())
}
