//! GPU code generation for Alkahest tapes: NVPTX through LLVM, CUDA's
//! libdevice for transcendental functions, and the CUDA driver (through
//! cudarc, loaded at run time) to run the result.
//!
//! Compiling ([`compile_ptx`], [`CudaFn::new`]) needs LLVM and, for
//! transcendental functions, `libdevice.10.bc` ([`find_libdevice`]), but no
//! GPU. Running needs the NVIDIA driver; without one every call returns
//! [`Error::NoDriver`] or [`Error::NoDevice`] and the process carries on
//! ([`device_available`] asks first).
//!
//! Kernel ABI (see [`codegen`]): `alkahest_kernel(const double *const
//! *cols, double *const *outs, u64 n)`, one thread per point in a
//! grid-stride loop, `cols` a device array of one device pointer per input
//! column and `outs` one of one device pointer per output column (a tape of
//! `m` outputs writes `m` columns in one pass).
//!
//! Host side ([`CudaFn`]): `call_batch` / `call_batch_into` / `call_device`
//! serve single-output functions as before; `call_batch_many`,
//! `call_batch_many_into` and `call_device_many` take or return one column
//! per output.

mod arch;
pub mod codegen;
mod driver;
mod error;
mod libdevice;
mod runtime;

pub use arch::{DEFAULT_ARCH, SUPPORTED_ARCHS, arch_for_capability, validate_arch};
pub use codegen::{KERNEL_NAME, compile_ptx, kernel_ir};
pub use driver::{DRIVER_ENV, DeviceInfo, device_available, device_info};
pub use error::{Error, Result};
pub use libdevice::{LIBDEVICE_ENV, find_libdevice};
pub use runtime::CudaFn;
