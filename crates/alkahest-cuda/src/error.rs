//! The CUDA crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong between a tape and a result on the GPU.
///
/// Compilation errors (`NoLibdevice`, `Libdevice`, `InvalidArch`, `Llvm`,
/// `Unresolved`) never need a GPU (a [`alkahest_tape::Tape`] is valid by
/// construction, so there is no tape error); `NoDriver` / `NoDevice` are what a machine without one
/// gets from every call that needs a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `libdevice.10.bc` (CUDA's math library as LLVM bitcode) was not found.
    #[error(
        "libdevice.10.bc (CUDA math library) not found; set ALKAHEST_LIBDEVICE to its path or \
         `pip install nvidia-cuda-nvcc-cu12`. Searched: {}",
        display_paths(searched)
    )]
    NoLibdevice {
        /// Every path that was tried, in order.
        searched: Vec<PathBuf>,
    },
    /// The libdevice file exists but LLVM could not read or link it.
    #[error("cannot use libdevice at {path}: {message}")]
    Libdevice {
        /// The file.
        path: PathBuf,
        /// LLVM's message.
        message: String,
    },
    /// An architecture string that is not `sm_XY` for a GPU LLVM 19 can target.
    #[error("invalid CUDA architecture '{arch}': expected sm_XY, one of {supported}")]
    InvalidArch {
        /// The string given.
        arch: String,
        /// The accepted names.
        supported: String,
    },
    /// LLVM failed to build, link, optimize or emit the kernel.
    #[error("LLVM NVPTX code generation failed: {0}")]
    Llvm(String),
    /// The emitted PTX still calls an external function (libdevice did not
    /// resolve it), so the CUDA driver could not load it.
    #[error("PTX has unresolved external function(s): {0}")]
    Unresolved(String),
    /// No usable CUDA driver (`libcuda.so`) could be loaded or initialized.
    #[error("no CUDA driver available: {0}")]
    NoDriver(String),
    /// The CUDA driver works but reports no device (or not the one asked for).
    #[error("no CUDA device available: {0}")]
    NoDevice(String),
    /// A CUDA driver call failed.
    #[error("CUDA driver call {call} failed: {message}")]
    Driver {
        /// The driver function.
        call: &'static str,
        /// The driver's error name and description.
        message: String,
    },
    /// A pointer passed to the device path is not usable device memory.
    #[error("argument {what} (0x{ptr:x}) is not CUDA device memory: {message}")]
    NotDevicePointer {
        /// Which argument (`out`, `column 2`, ...).
        what: String,
        /// The pointer value.
        ptr: u64,
        /// Why.
        message: String,
    },
    /// The batch is larger than device memory sizes can express.
    #[error("batch too large: {0}")]
    TooLarge(String),
    /// `call_batch` / `call_batch_many` cannot tell how many points a
    /// function of no inputs should be evaluated at.
    #[error(
        "a function of no inputs has no point count: use call_batch_into / call_batch_many_into \
         with output slices"
    )]
    NoPointCount,
    /// Wrong number or length of input or output columns (including a
    /// single-output call such as `call_batch` on a function of several
    /// outputs: `Outputs { expected: m, got: 1 }`).
    #[error(transparent)]
    Kernel(#[from] alkahest_tape::Error),
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(nothing)".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
