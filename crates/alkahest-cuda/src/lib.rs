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
//! *cols, double *out, u64 n)`, one thread per point in a grid-stride loop,
//! `cols` a device array of one device pointer per input column.

mod arch;
pub mod codegen;
mod driver;
mod error;
mod libdevice;
mod runtime;

pub use arch::{DEFAULT_ARCH, SUPPORTED_ARCHS, arch_for_capability, validate_arch};
pub use codegen::{KERNEL_NAME, compile_ptx};
pub use driver::{DRIVER_ENV, DeviceInfo, device_available, device_info};
pub use error::{Error, Result};
pub use libdevice::{LIBDEVICE_ENV, find_libdevice};
pub use runtime::CudaFn;
