//! A safe probe for the CUDA driver, and device queries.
//!
//! cudarc loads `libcuda` lazily and panics (or, inside an FFI boundary,
//! aborts) when the library or one of its functions is missing. So before
//! anything calls into cudarc, this module opens the very library cudarc
//! would open (same candidate names, same order), checks that every driver
//! function this crate uses is exported, and runs `cuInit` and
//! `cuDeviceGetCount` through its own function pointers. Only when all of
//! that succeeds does any cudarc function run. The outcome is computed once
//! per process (a failed `cuInit` stays failed anyway).

use std::ffi::{c_int, c_uint};
use std::sync::OnceLock;

use cudarc::driver::result::{self, DriverError};
use cudarc::driver::sys;
use libloading::Library;

use crate::arch::arch_for_capability;
use crate::error::{Error, Result};

/// Environment variable naming the driver library to load instead of the
/// usual `libcuda.so` / `libcuda.so.1` (a nonexistent path simulates a
/// machine without a driver, which is how the no-driver path is tested on
/// GPU machines).
pub const DRIVER_ENV: &str = "ALKAHEST_CUDA_DRIVER";

/// Every driver function this crate calls through cudarc: checked up front,
/// because cudarc panics on the first call to a missing one. All exist since
/// CUDA 11.2 (stream-ordered allocation is the newest).
const REQUIRED_SYMBOLS: &[&str] = &[
    "cuInit",
    "cuDriverGetVersion",
    "cuDeviceGetCount",
    "cuDeviceGet",
    "cuDeviceGetName",
    "cuDeviceGetAttribute",
    "cuDevicePrimaryCtxRetain",
    "cuDevicePrimaryCtxRelease_v2",
    "cuCtxPushCurrent_v2",
    "cuCtxPopCurrent_v2",
    "cuModuleLoadData",
    "cuModuleGetFunction",
    "cuModuleUnload",
    "cuFuncGetAttribute",
    "cuMemAlloc_v2",
    "cuMemFree_v2",
    "cuMemcpyHtoD_v2",
    "cuMemcpyDtoH_v2",
    "cuMemAllocAsync",
    "cuMemFreeAsync",
    "cuMemcpyHtoDAsync_v2",
    "cuLaunchKernel",
    "cuStreamSynchronize",
    "cuPointerGetAttribute",
    "cuGetErrorName",
    "cuGetErrorString",
];

const CUDA_ERROR_NO_DEVICE: c_int = 100;

/// A driver that loaded and initialized, kept loaded for the process.
pub(crate) struct Driver {
    _lib: Library,
    /// `cuDriverGetVersion`, e.g. 12040 for CUDA 12.4.
    pub(crate) version: i32,
    /// Number of visible devices (at least one).
    pub(crate) device_count: usize,
}

fn probe() -> Result<Driver> {
    let candidates = match std::env::var(DRIVER_ENV) {
        Ok(path) if !path.is_empty() => vec![path],
        _ => cudarc::get_lib_name_candidates("cuda"),
    };
    let mut unique: Vec<&str> = Vec::new();
    for name in &candidates {
        if !unique.contains(&name.as_str()) {
            unique.push(name.as_str());
        }
    }
    // SAFETY: loading libcuda runs its initializers, which the CUDA driver
    // supports at any time; the handle is kept for the process lifetime.
    let lib = unique
        .iter()
        .find_map(|&name| unsafe { Library::new(name) }.ok())
        .ok_or_else(|| {
            Error::NoDriver(format!(
                "the NVIDIA driver library could not be loaded (tried {})",
                unique.join(", ")
            ))
        })?;
    for symbol in REQUIRED_SYMBOLS {
        // SAFETY: only the symbol's presence is checked; nothing is called.
        let found = unsafe { lib.get::<unsafe extern "C" fn()>(symbol.as_bytes()) }.is_ok();
        if !found {
            return Err(Error::NoDriver(format!(
                "the NVIDIA driver is too old: it lacks {symbol} (CUDA 12 driver required)"
            )));
        }
    }
    // SAFETY: the signatures are those of the CUDA driver API (cuda.h):
    // CUresult cuInit(unsigned), cuDriverGetVersion(int*), cuDeviceGetCount(int*).
    unsafe {
        let init = lib
            .get::<unsafe extern "C" fn(c_uint) -> c_int>(b"cuInit")
            .map_err(|e| Error::NoDriver(e.to_string()))?;
        let version_fn = lib
            .get::<unsafe extern "C" fn(*mut c_int) -> c_int>(b"cuDriverGetVersion")
            .map_err(|e| Error::NoDriver(e.to_string()))?;
        let count_fn = lib
            .get::<unsafe extern "C" fn(*mut c_int) -> c_int>(b"cuDeviceGetCount")
            .map_err(|e| Error::NoDriver(e.to_string()))?;
        match init(0) {
            0 => {}
            CUDA_ERROR_NO_DEVICE => {
                return Err(Error::NoDevice(
                    "the CUDA driver loaded but found no CUDA-capable device".into(),
                ));
            }
            code => {
                return Err(Error::NoDriver(format!(
                    "cuInit failed with CUresult {code} (is the NVIDIA kernel module loaded?)"
                )));
            }
        }
        let mut version: c_int = 0;
        if version_fn(&mut version) != 0 {
            version = 0;
        }
        let mut count: c_int = 0;
        let code = count_fn(&mut count);
        if code != 0 || count <= 0 {
            return Err(Error::NoDevice(format!(
                "the CUDA driver reports no device (cuDeviceGetCount: CUresult {code}, count {count})"
            )));
        }
        Ok(Driver {
            _lib: lib,
            version,
            device_count: count as usize,
        })
    }
}

/// The process's driver, probed on first use. Every path into cudarc goes
/// through here first.
pub(crate) fn driver() -> Result<&'static Driver> {
    static DRIVER: OnceLock<Result<Driver>> = OnceLock::new();
    DRIVER.get_or_init(probe).as_ref().map_err(Clone::clone)
}

/// A cudarc error as this crate's error.
pub(crate) fn driver_error(call: &'static str, e: DriverError) -> Error {
    let name = e
        .error_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("{:?}", e.0));
    let text = e
        .error_string()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Error::Driver {
        call,
        message: format!("{name}: {text}"),
    }
}

/// What the lead needs to know about a GPU to pick a code path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device ordinal (0 is what `call_batch` uses).
    pub ordinal: usize,
    /// Marketing name, e.g. "NVIDIA H100 80GB HBM3".
    pub name: String,
    /// Compute capability `(major, minor)`.
    pub compute_capability: (u32, u32),
    /// The architecture kernels are compiled for on this device (see
    /// [`arch_for_capability`]).
    pub arch: &'static str,
    /// Streaming multiprocessors (sizes the launch grid).
    pub multiprocessors: u32,
    /// Driver version as `cuDriverGetVersion` reports it (12040 = 12.4).
    pub driver_version: i32,
    /// How many devices the driver sees.
    pub device_count: usize,
}

/// Describe device `ordinal`, probing the driver safely first.
pub fn device_info(ordinal: usize) -> Result<DeviceInfo> {
    let drv = driver()?;
    if ordinal >= drv.device_count {
        return Err(Error::NoDevice(format!(
            "device {ordinal} requested, the driver sees {} device(s)",
            drv.device_count
        )));
    }
    let dev = result::device::get(ordinal as c_int).map_err(|e| driver_error("cuDeviceGet", e))?;
    let name = result::device::get_name(dev).map_err(|e| driver_error("cuDeviceGetName", e))?;
    let attr = |a: sys::CUdevice_attribute| {
        // SAFETY: `dev` came from cuDeviceGet.
        unsafe { result::device::get_attribute(dev, a) }
            .map_err(|e| driver_error("cuDeviceGetAttribute", e))
    };
    use sys::CUdevice_attribute::*;
    let major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?.max(0) as u32;
    let minor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?.max(0) as u32;
    let multiprocessors = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?.max(1) as u32;
    let arch = arch_for_capability(major, minor).ok_or_else(|| {
        Error::NoDevice(format!(
            "device {ordinal} ({name}) has compute capability {major}.{minor}; 3.0 or newer is required"
        ))
    })?;
    Ok(DeviceInfo {
        ordinal,
        name,
        compute_capability: (major, minor),
        arch,
        multiprocessors,
        driver_version: drv.version,
        device_count: drv.device_count,
    })
}

/// Is there a usable CUDA device? Returns the first device's description,
/// or [`Error::NoDriver`] / [`Error::NoDevice`] saying why not. Never
/// aborts the process, whatever the machine has installed.
pub fn device_available() -> Result<DeviceInfo> {
    device_info(0)
}
