//! The one place where Rust errors become Python exceptions.
//!
//! Exception classes live in `alkahest/exceptions.py` so that each can derive
//! from both `AlkahestError` and the matching builtin (e.g. `ValueError`);
//! this module looks them up by name when an error crosses over.

use alkahest_compile::{Fallback, Reason};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Every error the bindings produce before it becomes a `PyErr`.
#[derive(Debug)]
pub enum Error {
    /// Already a Python exception.
    Py(PyErr),
    /// From the expression pool.
    Core(alkahest_core::Error),
    /// From lowering / argument checks.
    Kernel(alkahest_tape::Error),
    /// From the compile pipeline.
    Compile(alkahest_compile::Error),
    /// From C emission.
    C(alkahest_c::Error),
    /// From pool files and the on-disk store.
    Persist(alkahest_persist::Error),
    /// From batch evaluation (thread limit, cancellation).
    Batch(alkahest_batch::Error),
    /// A Python value of the wrong type.
    Conversion(String),
    /// Array shapes that do not fit together.
    Shape(String),
    /// Wrong number of values.
    Arity(String),
    /// An error of a backend module (mlir, cuda, egraph): the
    /// module names the `alkahest.exceptions` class, this module raises it.
    Backend {
        /// Class name in `alkahest.exceptions`.
        class: &'static str,
        /// The message.
        msg: String,
    },
}

/// Result alias for binding functions.
pub type R<T> = Result<T, Error>;

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Py(e)
    }
}
impl From<alkahest_core::Error> for Error {
    fn from(e: alkahest_core::Error) -> Self {
        Error::Core(e)
    }
}
impl From<alkahest_tape::Error> for Error {
    fn from(e: alkahest_tape::Error) -> Self {
        Error::Kernel(e)
    }
}
impl From<alkahest_compile::Error> for Error {
    fn from(e: alkahest_compile::Error) -> Self {
        Error::Compile(e)
    }
}
impl From<alkahest_persist::Error> for Error {
    fn from(e: alkahest_persist::Error) -> Self {
        Error::Persist(e)
    }
}
impl From<alkahest_batch::Error> for Error {
    fn from(e: alkahest_batch::Error) -> Self {
        Error::Batch(e)
    }
}
impl From<alkahest_c::Error> for Error {
    fn from(e: alkahest_c::Error) -> Self {
        Error::C(e)
    }
}

/// Build an instance of `alkahest.exceptions.<class>` with `msg`.
fn raise(py: Python<'_>, class: &str, msg: String) -> PyErr {
    let cls = py
        .import("alkahest.exceptions")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.cast_into::<PyType>().map_err(Into::into));
    match cls {
        Ok(cls) => PyErr::from_type(cls, msg),
        Err(e) => PyRuntimeError::new_err(format!(
            "{msg} (alkahest.exceptions.{class} unavailable: {e})"
        )),
    }
}

fn core_class(e: &alkahest_core::Error) -> &'static str {
    use alkahest_core::Error as E;
    match e {
        E::PoolMismatch => "PoolMismatchError",
        E::ZeroDenominator(_) => "ZeroDenominatorError",
        E::FuncArity { .. } => "ArityError",
        E::NotPolynomial { .. } => "NotPolynomialError",
        E::NotASymbol(_) => "NotASymbolError",
        E::InvalidSymbolName(_) => "InvalidNameError",
        E::ConditionAsNumber(_) | E::NumberAsCondition(_) => "ConditionError",
        E::NotImplemented(_) => "UnsupportedError",
        E::Empty(_) | E::UnknownId(_) | E::PoolFull => "AlkahestError",
    }
}

fn kernel_class(e: &alkahest_tape::Error) -> &'static str {
    use alkahest_tape::Error as E;
    match e {
        E::UnboundSymbol(_) => "UnboundSymbolError",
        E::NotASymbol { .. } => "NotASymbolError",
        E::DuplicateVar(_) => "DuplicateSymbolError",
        E::Arity { .. } => "ArityError",
        E::Length { .. } | E::Outputs { .. } => "ShapeError",
        E::InvalidTape(_) => "AlkahestError",
        E::Core(c) => core_class(c),
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        Python::attach(|py| match e {
            Error::Py(e) => e,
            Error::Core(e) => raise(py, core_class(&e), e.to_string()),
            Error::Kernel(e) => raise(py, kernel_class(&e), e.to_string()),
            Error::Compile(e) => {
                let class = match &e {
                    alkahest_compile::Error::Kernel(k) => kernel_class(k),
                    alkahest_compile::Error::Core(c) => core_class(c),
                    alkahest_compile::Error::UnknownOption { .. }
                    | alkahest_compile::Error::BadDomain { .. } => "OptionError",
                    alkahest_compile::Error::CacheDir { .. } => "StorageError",
                    alkahest_compile::Error::WrittenMismatch { .. } => "ShapeError",
                };
                raise(py, class, e.to_string())
            }
            Error::C(e) => {
                let class = match &e {
                    alkahest_c::Error::InvalidName { .. } | alkahest_c::Error::DuplicateName(_) => {
                        "InvalidNameError"
                    }
                    alkahest_c::Error::Arity { .. } => "ArityError",
                };
                raise(py, class, e.to_string())
            }
            Error::Persist(e) => {
                let class = match &e {
                    alkahest_persist::Error::Io { .. } => "StorageError",
                    _ => "FormatError",
                };
                raise(py, class, e.to_string())
            }
            Error::Batch(e) => match e {
                alkahest_batch::Error::TooManyThreads { .. } => {
                    raise(py, "OptionError", e.to_string())
                }
                // Callers raise the exception the signal handler raised;
                // this is the fallback when there is none.
                alkahest_batch::Error::Cancelled => PyKeyboardInterrupt::new_err(e.to_string()),
            },
            Error::Conversion(m) => raise(py, "ConversionError", m),
            Error::Shape(m) => raise(py, "ShapeError", m),
            Error::Arity(m) => raise(py, "ArityError", m),
            Error::Backend { class, msg } => raise(py, class, msg),
        })
    }
}

/// How this module was built: `ALKAHEST_WHEEL` names the wheel
/// (`scripts/wheels.sh` sets it: `base`, `llvm`, `full`); unset, it is a
/// source build (`make build`, `pip install .`).
const WHEEL: Option<&str> = option_env!("ALKAHEST_WHEEL");

/// What to do to get cargo feature `feature`, said to the install at hand:
/// a wheel user is told which extra to install, a source user which
/// feature to build with.
pub fn install_hint(feature: &str) -> String {
    match WHEEL {
        Some(_) => {
            let extra = if feature == "jit" {
                "'alkahest[jit]' (LLVM) or 'alkahest[full]'"
            } else {
                "'alkahest[full]'"
            };
            format!(
                "this wheel leaves it out: pip install {extra} adds it (the plugin must \
                 match this alkahest's version, {})",
                env!("CARGO_PKG_VERSION")
            )
        }
        None => format!(
            "this source build leaves it out: rebuild with it, e.g. pip install . \
             --config-settings=build-args=\"--features cranelift,parallel,egraph,{feature}\" \
             (README, Installing; LLVM/MLIR 19 development files)"
        ),
    }
}

/// A fallback note with the install hint of the cargo feature whose absence
/// caused it (read back through [`Fallback::parse`], the inverse of the
/// note's text); other notes unchanged.
fn with_hint(note: &str) -> String {
    match Fallback::parse(note).map(|f| f.reason) {
        Some(Reason::NotCompiledIn(feature)) => format!("{note}: {}", install_hint(feature)),
        _ => note.to_owned(),
    }
}

/// Issue one `alkahest.exceptions.FallbackWarning` per note.
pub fn warn_fallbacks(py: Python<'_>, notes: &[String]) -> PyResult<()> {
    if notes.is_empty() {
        return Ok(());
    }
    let cls = py
        .import("alkahest.exceptions")?
        .getattr("FallbackWarning")?;
    let cls = cls.cast_into::<PyType>().map_err(PyErr::from)?;
    for n in notes {
        let msg = std::ffi::CString::new(with_hint(n)).unwrap_or_default();
        PyErr::warn(py, &cls, &msg, 2)?;
    }
    Ok(())
}
