//! Running compiled kernels through the CUDA driver.
//!
//! A [`CudaFn`] owns its PTX and, per device it has run on, one loaded
//! module in that device's primary context (the context CuPy and PyTorch
//! use, so their device pointers are valid here). Dropping the `CudaFn`
//! unloads the modules and releases the contexts.

use std::ffi::{CString, c_int, c_uint, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alkahest_tape::{Tape, check_columns};
use cudarc::driver::result;
use cudarc::driver::sys;

use crate::arch::{DEFAULT_ARCH, runs_on, validate_arch};
use crate::codegen::{KERNEL_NAME, compile_ptx};
use crate::driver::{device_available, device_info, driver, driver_error};
use crate::error::{Error, Result};

/// Threads per block: enough to hide latency, and a kernel using all 255
/// registers per thread still fits a block's register file.
const BLOCK: u32 = 256;
/// Resident blocks per multiprocessor the grid is sized for; the
/// grid-stride loop covers the remaining points.
const BLOCKS_PER_SM: u32 = 32;
/// Alignment of each column in the staging buffer of `call_batch`.
const ALIGN: usize = 256;
/// Staging buffers up to this size stay allocated between `call_batch`
/// calls; larger ones are freed after the call.
const MAX_KEPT_STAGING: usize = 256 << 20;
/// Device pointer tables kept per loaded module (see `Loaded::tables`).
const MAX_TABLES: usize = 32;

/// A tape compiled to PTX, runnable on any CUDA device.
///
/// Building one needs no GPU (it compiles PTX); running one loads the PTX
/// into the device's primary context the first time, once per device.
pub struct CudaFn {
    tape: Tape,
    libdevice: PathBuf,
    ptx: String,
    arch: String,
    /// The caller chose the architecture: never recompile for a device.
    explicit_arch: bool,
    loaded: Mutex<Vec<(usize, Arc<Loaded>)>>,
}

impl std::fmt::Debug for CudaFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaFn")
            .field("n_inputs", &self.tape.n_inputs())
            .field("n_outputs", &self.tape.n_outputs())
            .field("arch", &self.arch)
            .field("ptx_bytes", &self.ptx.len())
            .finish()
    }
}

impl CudaFn {
    /// Compile `tape` to PTX. With `arch = None` the architecture is the
    /// first device's when a driver and device are present, else
    /// [`DEFAULT_ARCH`] (`sm_86`); such a function is recompiled for a
    /// device of another architecture when it runs there. An explicit
    /// `sm_XY` is used as is on every device that can run it.
    pub fn new(tape: &Tape, arch: Option<&str>, libdevice: &Path) -> Result<CudaFn> {
        let (arch, explicit_arch) = match arch {
            Some(a) => (validate_arch(a)?.to_owned(), true),
            None => (
                device_available()
                    .map(|d| d.arch)
                    .unwrap_or(DEFAULT_ARCH)
                    .to_owned(),
                false,
            ),
        };
        let ptx = compile_ptx(tape, &arch, libdevice)?;
        Ok(CudaFn {
            tape: tape.clone(),
            libdevice: libdevice.to_owned(),
            ptx,
            arch,
            explicit_arch,
            loaded: Mutex::new(Vec::new()),
        })
    }

    /// The PTX text (one kernel, `alkahest_kernel`; see [`crate::codegen`]
    /// for its signature).
    pub fn ptx(&self) -> &str {
        &self.ptx
    }

    /// The architecture [`Self::ptx`] was compiled for.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// Number of input columns.
    pub fn n_inputs(&self) -> usize {
        self.tape.n_inputs()
    }

    /// Number of output columns (1 for a scalar function; `m` for a tape
    /// lowered from `m` expressions).
    pub fn n_outputs(&self) -> usize {
        self.tape.n_outputs()
    }

    /// The error for a single-output call on a function of several outputs.
    fn single_output(&self) -> Result<()> {
        match self.tape.n_outputs() {
            1 => Ok(()),
            m => Err(Error::Kernel(alkahest_tape::Error::Outputs {
                expected: m,
                got: 1,
            })),
        }
    }

    /// The point count of host input columns (the first column's length),
    /// for the calls that allocate their outputs.
    fn point_count(&self, cols: &[&[f64]]) -> Result<usize> {
        match cols.first() {
            Some(first) => Ok(first.len()),
            None if self.tape.n_inputs() == 0 => Err(Error::NoPointCount),
            None => Err(Error::Kernel(alkahest_tape::Error::Arity {
                expected: self.tape.n_inputs(),
                got: 0,
            })),
        }
    }

    /// The module for device `ordinal`, loading it on first use.
    fn load(&self, ordinal: usize) -> Result<Arc<Loaded>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, l)) = loaded.iter().find(|(o, _)| *o == ordinal) {
            return Ok(l.clone());
        }
        let info = device_info(ordinal)?;
        let (major, minor) = info.compute_capability;
        let recompiled;
        let ptx = if self.arch == info.arch
            || (self.explicit_arch && runs_on(&self.arch, major, minor))
        {
            &self.ptx
        } else if self.explicit_arch {
            return Err(Error::NoDevice(format!(
                "PTX was compiled for {} but device {ordinal} ({}) has compute capability {major}.{minor}",
                self.arch, info.name
            )));
        } else {
            recompiled = compile_ptx(&self.tape, info.arch, &self.libdevice)?;
            &recompiled
        };
        let l = Arc::new(Loaded::new(ordinal, ptx, info.multiprocessors)?);
        loaded.push((ordinal, l.clone()));
        Ok(l)
    }

    /// Evaluate a single-output function on the first device with host
    /// data: `cols[v][i]` is input `v` at point `i` (the CPU path's layout);
    /// returns one value per point. Copies the columns in and the result out.
    ///
    /// A function of several outputs is refused with
    /// `Error::Kernel(Outputs { expected: m, got: 1 })`: use
    /// [`Self::call_batch_many`].
    pub fn call_batch(&self, cols: &[&[f64]]) -> Result<Vec<f64>> {
        self.single_output()?;
        let mut out = vec![0.0; self.point_count(cols)?];
        self.call_batch_into(cols, &mut out)?;
        Ok(out)
    }

    /// [`Self::call_batch`] writing into `out` (whose length is the number
    /// of points, which also serves functions of no inputs).
    pub fn call_batch_into(&self, cols: &[&[f64]], out: &mut [f64]) -> Result<()> {
        self.call_batch_many_into(cols, &mut [out])
    }

    /// Evaluate a function of `m = n_outputs()` outputs on the first device
    /// with host data: `cols[v][i]` is input `v` at point `i`; returns `m`
    /// columns, `result[k][i]` being output `k` at point `i`. All outputs
    /// come from one kernel launch (shared subexpressions are computed
    /// once). For `m = 1` this is `vec![call_batch(cols)?]`.
    pub fn call_batch_many(&self, cols: &[&[f64]]) -> Result<Vec<Vec<f64>>> {
        let n = self.point_count(cols)?;
        let mut outs = vec![vec![0.0; n]; self.tape.n_outputs()];
        let mut refs: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        self.call_batch_many_into(cols, &mut refs)?;
        Ok(outs)
    }

    /// [`Self::call_batch_many`] writing into `outs`: exactly
    /// `n_outputs()` columns, output `k` at point `i` going to
    /// `outs[k][i]`, every input and output column of one length (the
    /// number of points, which also serves functions of no inputs).
    pub fn call_batch_many_into(&self, cols: &[&[f64]], outs: &mut [&mut [f64]]) -> Result<()> {
        let n = check_columns(self.tape.n_inputs(), self.tape.n_outputs(), cols, outs)?;
        let dev = self.load(0)?;
        if n == 0 {
            return Ok(());
        }
        let k = cols.len();
        let m = outs.len();
        let col_bytes = n
            .checked_mul(8)
            .and_then(|b| b.checked_next_multiple_of(ALIGN))
            .ok_or_else(|| Error::TooLarge(format!("{n} points")))?;
        // The pointer tables, inputs then outputs, then the columns.
        let table_bytes = ((k + m) * 8).next_multiple_of(ALIGN);
        let total = col_bytes
            .checked_mul(k + m)
            .and_then(|b| b.checked_add(table_bytes))
            .ok_or_else(|| Error::TooLarge(format!("{n} points x ({k} inputs + {m} outputs)")))?;

        let _ctx = dev.enter()?;
        // One staging buffer per device, reused across calls (allocation
        // and freeing cost more than a small kernel); holding the lock also
        // keeps concurrent calls from sharing it.
        let mut staging = dev.staging.lock().unwrap_or_else(|e| e.into_inner());
        let buf: &DeviceBuffer = match staging.take() {
            Some(b) if b.bytes >= total => staging.insert(b),
            old => {
                drop(old);
                staging.insert(DeviceBuffer::alloc(total)?)
            }
        };
        let table: Vec<u64> = (0..k + m)
            .map(|c| buf.ptr + (table_bytes + c * col_bytes) as u64)
            .collect();
        // SAFETY: every destination lies inside `buf` (sized above), the
        // sources are live host slices of exactly the copied length, and the
        // copies are synchronous.
        unsafe {
            result::memcpy_htod_sync(buf.ptr, &table)
                .map_err(|e| driver_error("cuMemcpyHtoD", e))?;
            for (col, &dst) in cols.iter().zip(&table) {
                result::memcpy_htod_sync(dst, col).map_err(|e| driver_error("cuMemcpyHtoD", e))?;
            }
        }
        // SAFETY: the table holds k device pointers to n doubles each, then
        // m device pointers to room for n doubles each; the legacy stream
        // orders the launch after the copies above.
        unsafe { dev.launch(buf.ptr, buf.ptr + 8 * k as u64, n, std::ptr::null_mut())? };
        for (out, &src) in outs.iter_mut().zip(&table[k..]) {
            // SAFETY: `src` holds n doubles once the kernel is done; the
            // synchronous copy on the legacy stream waits for it.
            unsafe { result::memcpy_dtoh_sync(out, src) }
                .map_err(|e| driver_error("cuMemcpyDtoH", e))?;
        }
        if total > MAX_KEPT_STAGING {
            *staging = None;
        }
        Ok(())
    }

    /// Evaluate a single-output function on data already on a GPU:
    /// `col_ptrs[v]` is the device address of `n` contiguous doubles for
    /// input `v`, `out_ptr` of `n` doubles for the result (it may be one of
    /// the inputs). This is [`Self::call_device_many`] with one output
    /// pointer; a function of several outputs is refused with
    /// `Error::Kernel(Outputs { expected: m, got: 1 })`.
    ///
    /// # Safety
    /// As for [`Self::call_device_many`].
    pub unsafe fn call_device(
        &self,
        col_ptrs: &[u64],
        out_ptr: u64,
        n: usize,
        stream: Option<u64>,
    ) -> Result<()> {
        // SAFETY: the caller's contract is the same.
        unsafe { self.call_device_many(col_ptrs, &[out_ptr], n, stream) }
    }

    /// Evaluate on data already on a GPU: `col_ptrs[v]` is the device
    /// address of `n` contiguous doubles for input `v`, `out_ptrs[k]` of
    /// `n` doubles for output `k` (exactly `n_outputs()` of them; an output
    /// may be one of the inputs, and outputs should be distinct from each
    /// other). The device is the one `out_ptrs[0]` lives on. With
    /// `stream = Some(s)` (a `CUstream` / `cudaStream_t` of that device's
    /// primary context, e.g. CuPy's or PyTorch's current stream) the kernel
    /// is queued on `s` and this returns without waiting; with `None` it
    /// runs on the legacy default stream and this waits for it.
    ///
    /// The kernel reads the column addresses from a small table in device
    /// memory (inputs then outputs). Tables are cached per set of addresses
    /// (a loop over the same buffers uploads nothing after its first call);
    /// a new set is uploaded synchronously, which waits for earlier work on
    /// the legacy stream.
    ///
    /// # Safety
    /// The pointers must be valid device memory of `n` doubles each, on one
    /// device, not freed or written by others until the kernel finishes, and
    /// `stream` (if any) a live stream of that device's primary context.
    /// With a stream, `self` must outlive the queued kernel (dropping it
    /// unloads the module).
    /// The pointers are checked to be device memory on one device; their
    /// extent cannot be checked.
    pub unsafe fn call_device_many(
        &self,
        col_ptrs: &[u64],
        out_ptrs: &[u64],
        n: usize,
        stream: Option<u64>,
    ) -> Result<()> {
        if col_ptrs.len() != self.tape.n_inputs() {
            return Err(Error::Kernel(alkahest_tape::Error::Arity {
                expected: self.tape.n_inputs(),
                got: col_ptrs.len(),
            }));
        }
        if out_ptrs.len() != self.tape.n_outputs() {
            return Err(Error::Kernel(alkahest_tape::Error::Outputs {
                expected: self.tape.n_outputs(),
                got: out_ptrs.len(),
            }));
        }
        driver()?;
        if n == 0 {
            return Ok(());
        }
        let ordinal = pointer_device(out_ptrs[0], "output 0")?;
        let named = col_ptrs
            .iter()
            .enumerate()
            .map(|(v, &p)| (format!("column {v}"), p))
            .chain(
                out_ptrs
                    .iter()
                    .enumerate()
                    .skip(1)
                    .map(|(k, &p)| (format!("output {k}"), p)),
            );
        for (what, p) in named {
            let d = pointer_device(p, &what)?;
            if d != ordinal {
                return Err(Error::NotDevicePointer {
                    what,
                    ptr: p,
                    message: format!("it is on device {d}, output 0 on device {ordinal}"),
                });
            }
        }
        let dev = self.load(ordinal)?;
        let _ctx = dev.enter()?;
        let s = stream.unwrap_or(0) as usize as sys::CUstream;
        let ptrs: Vec<u64> = col_ptrs.iter().chain(out_ptrs).copied().collect();
        let table = dev.pointer_table(&ptrs)?;
        // SAFETY: the table (kept alive by the Arc until after the launch
        // and, being immutable and cached, for as long as queued kernels can
        // use it) holds `col_ptrs` then `out_ptrs`; the rest is the caller's
        // contract.
        unsafe { dev.launch(table.ptr, table.ptr + 8 * col_ptrs.len() as u64, n, s)? };
        if stream.is_none() {
            // SAFETY: the legacy default stream always exists.
            unsafe { result::stream::synchronize(s) }
                .map_err(|e| driver_error("cuStreamSynchronize", e))?;
        }
        Ok(())
    }
}

/// The ordinal of the device that owns `ptr`.
fn pointer_device(ptr: u64, what: &str) -> Result<usize> {
    let query = || {
        let mut ordinal: c_int = -1;
        // SAFETY: cuPointerGetAttribute writes one int for DEVICE_ORDINAL
        // and fails cleanly for pointers the driver does not know.
        let code = unsafe {
            sys::cuPointerGetAttribute(
                (&mut ordinal as *mut c_int).cast::<c_void>(),
                sys::CUpointer_attribute::CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                ptr,
            )
        };
        code.result().map(|()| ordinal)
    };
    let mut answer = query();
    if answer
        == Err(result::DriverError(
            sys::CUresult::CUDA_ERROR_INVALID_CONTEXT,
        ))
    {
        // Some drivers want a current context even with unified addressing:
        // ask again inside device 0's primary context.
        let _primary = PrimaryContext::enter(0)?;
        answer = query();
    }
    match answer {
        Ok(ordinal) if ordinal >= 0 => Ok(ordinal as usize),
        Ok(_) => Err(Error::NotDevicePointer {
            what: what.to_owned(),
            ptr,
            message: "the driver reports no device for it".into(),
        }),
        Err(e) => Err(Error::NotDevicePointer {
            what: what.to_owned(),
            ptr,
            message: match driver_error("cuPointerGetAttribute", e) {
                Error::Driver { message, .. } => message,
                other => other.to_string(),
            },
        }),
    }
}

/// A device's primary context, retained and current until dropped.
struct PrimaryContext {
    device: sys::CUdevice,
}

impl PrimaryContext {
    fn enter(ordinal: usize) -> Result<PrimaryContext> {
        let device =
            result::device::get(ordinal as c_int).map_err(|e| driver_error("cuDeviceGet", e))?;
        // SAFETY: `device` came from cuDeviceGet; Drop releases the retain
        // and pops the push.
        unsafe {
            let context = result::primary_ctx::retain(device)
                .map_err(|e| driver_error("cuDevicePrimaryCtxRetain", e))?;
            if let Err(e) = sys::cuCtxPushCurrent_v2(context).result() {
                let _ = result::primary_ctx::release(device);
                return Err(driver_error("cuCtxPushCurrent", e));
            }
        }
        Ok(PrimaryContext { device })
    }
}

impl Drop for PrimaryContext {
    fn drop(&mut self) {
        let mut old: sys::CUcontext = std::ptr::null_mut();
        // SAFETY: undoes the push and the retain of `enter`.
        unsafe {
            let _ = sys::cuCtxPopCurrent_v2(&mut old);
            let _ = result::primary_ctx::release(self.device);
        }
    }
}

/// One module loaded into one device's primary context.
struct Loaded {
    device: sys::CUdevice,
    context: sys::CUcontext,
    module: sys::CUmodule,
    function: sys::CUfunction,
    block: u32,
    max_grid: u32,
    /// `call_batch`'s device buffer, kept between calls.
    staging: Mutex<Option<DeviceBuffer>>,
    /// `call_device`'s pointer tables (input then output pointers), most
    /// recently used last. Allocating
    /// (cuMemAllocAsync) and uploading one per call measured ~145 us per call
    /// on an H100, 20x the kernel on 1M points; cached, a call costs ~19 us.
    tables: Mutex<Vec<(Vec<u64>, Arc<DeviceBuffer>)>>,
}

// SAFETY: driver handles are plain identifiers valid from any thread once
// their context is current, which `enter` ensures before every use; the
// driver API is thread-safe.
unsafe impl Send for Loaded {}
// SAFETY: as above; `Loaded` is never mutated after construction.
unsafe impl Sync for Loaded {}

impl Loaded {
    fn new(ordinal: usize, ptx: &str, multiprocessors: u32) -> Result<Loaded> {
        let image = CString::new(ptx).map_err(|_| Error::Llvm("PTX contains a NUL byte".into()))?;
        let device =
            result::device::get(ordinal as c_int).map_err(|e| driver_error("cuDeviceGet", e))?;
        // SAFETY: `device` came from cuDeviceGet; the retain is balanced by
        // the release in Drop (or below on failure).
        let context = unsafe { result::primary_ctx::retain(device) }
            .map_err(|e| driver_error("cuDevicePrimaryCtxRetain", e))?;
        let mut loaded = Loaded {
            device,
            context,
            module: std::ptr::null_mut(),
            function: std::ptr::null_mut(),
            block: BLOCK,
            max_grid: multiprocessors.saturating_mul(BLOCKS_PER_SM).max(1),
            staging: Mutex::new(None),
            tables: Mutex::new(Vec::new()),
        };
        // From here on, dropping `loaded` releases what was acquired.
        let _ctx = loaded.enter()?;
        // SAFETY: `image` is NUL-terminated PTX text and lives across the
        // call; the context is current.
        loaded.module = unsafe { result::module::load_data(image.as_ptr().cast()) }
            .map_err(|e| driver_error("cuModuleLoadData", e))?;
        // SAFETY: the module is loaded and exports KERNEL_NAME.
        loaded.function = unsafe {
            result::module::get_function(
                loaded.module,
                CString::new(KERNEL_NAME).unwrap_or_default(),
            )
        }
        .map_err(|e| driver_error("cuModuleGetFunction", e))?;
        // SAFETY: `function` is a live kernel handle, `device` a device.
        unsafe {
            let max_threads = result::function::get_function_attribute(
                loaded.function,
                sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
            )
            .map_err(|e| driver_error("cuFuncGetAttribute", e))?;
            loaded.block = BLOCK.min((max_threads.max(32) as u32) / 32 * 32);
        }
        drop(_ctx);
        Ok(loaded)
    }

    /// Make this device's primary context current until the guard drops.
    fn enter(&self) -> Result<CtxGuard> {
        // SAFETY: `context` is retained for as long as `self` lives.
        unsafe { sys::cuCtxPushCurrent_v2(self.context) }
            .result()
            .map_err(|e| driver_error("cuCtxPushCurrent", e))?;
        Ok(CtxGuard)
    }

    /// A device copy of `ptrs`, cached. Entries are written once, before
    /// their first use, and never modified, so kernels queued on any stream
    /// may keep reading an entry while others are added; an evicted entry's
    /// memory is freed by `cuMemFree`, which waits for such kernels.
    ///
    /// The context must be current.
    fn pointer_table(&self, ptrs: &[u64]) -> Result<Arc<DeviceBuffer>> {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = tables.iter().position(|(p, _)| p.as_slice() == ptrs) {
            let entry = tables.remove(i);
            let buf = Arc::clone(&entry.1);
            tables.push(entry);
            return Ok(buf);
        }
        let buf = DeviceBuffer::alloc(std::mem::size_of_val(ptrs))?;
        // SAFETY: `buf` holds exactly `ptrs.len()` u64s; synchronous copy.
        unsafe { result::memcpy_htod_sync(buf.ptr, ptrs) }
            .map_err(|e| driver_error("cuMemcpyHtoD", e))?;
        let buf = Arc::new(buf);
        if tables.len() >= MAX_TABLES {
            tables.remove(0);
        }
        tables.push((ptrs.to_vec(), Arc::clone(&buf)));
        Ok(buf)
    }

    /// Queue the kernel on `stream`.
    ///
    /// # Safety
    /// The context must be current; `cols` must point to `n_inputs` device
    /// pointers of `n` doubles each, `outs` to `n_outputs` device pointers
    /// of `n` doubles each, all live until the kernel completes.
    unsafe fn launch(&self, cols: u64, outs: u64, n: usize, stream: sys::CUstream) -> Result<()> {
        let blocks = n.div_ceil(self.block as usize).min(self.max_grid as usize) as c_uint;
        let mut table = cols;
        let mut out = outs;
        let mut count = n as u64;
        let mut params: [*mut c_void; 3] = [
            (&mut table as *mut u64).cast(),
            (&mut out as *mut u64).cast(),
            (&mut count as *mut u64).cast(),
        ];
        // SAFETY: the parameters match the kernel's (ptr, ptr, u64) and
        // stay alive for the call, which copies them; the rest is the
        // caller's contract.
        unsafe {
            result::launch_kernel(
                self.function,
                (blocks.max(1), 1, 1),
                (self.block, 1, 1),
                0,
                stream,
                &mut params,
            )
        }
        .map_err(|e| driver_error("cuLaunchKernel", e))
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Ok(_ctx) = self.enter() {
            // Free the staging buffer while its context is current.
            let staging = self.staging.get_mut().unwrap_or_else(|e| e.into_inner());
            *staging = None;
            self.tables
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
        if !self.module.is_null()
            && let Ok(_ctx) = self.enter()
        {
            // SAFETY: the module was loaded in this context and no kernel
            // of it is queued by this crate after its handle is gone
            // (call_batch waits; call_device's caller keeps the CudaFn
            // alive while its stream may still run the kernel).
            let _ = unsafe { result::module::unload(self.module) };
        }
        // SAFETY: balances the retain in `new`.
        let _ = unsafe { result::primary_ctx::release(self.device) };
    }
}

/// Pops the context pushed by [`Loaded::enter`].
struct CtxGuard;

impl Drop for CtxGuard {
    fn drop(&mut self) {
        let mut old: sys::CUcontext = std::ptr::null_mut();
        // SAFETY: pops the context this guard's `enter` pushed.
        let _ = unsafe { sys::cuCtxPopCurrent_v2(&mut old) };
    }
}

/// Device memory freed on drop (synchronously, after pending work).
struct DeviceBuffer {
    ptr: u64,
    bytes: usize,
}

impl DeviceBuffer {
    fn alloc(bytes: usize) -> Result<DeviceBuffer> {
        // SAFETY: the memory is only used as raw bytes by this crate.
        let ptr = unsafe { result::malloc_sync(bytes.max(1)) }
            .map_err(|e| driver_error("cuMemAlloc", e))?;
        Ok(DeviceBuffer { ptr, bytes })
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated by cuMemAlloc and freed once; cuMemFree waits
        // for work using it to finish.
        let _ = unsafe { result::memory_free(self.ptr) };
    }
}
