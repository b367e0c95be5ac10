//! One-time, process-wide LLVM setup and facts about the host CPU.
//!
//! Everything global happens here, exactly once, behind a [`OnceLock`]:
//! native target registration, loading `libm` / `libmvec` into the global
//! symbol namespace (so the JIT can resolve `sin` and `_ZGVdN4v_sin`), and
//! LLVM's command-line option `-vector-library=LIBMVEC-X86`, which makes the
//! optimizer's target library info map `llvm.sin.f64` & co. onto glibc's
//! vector math functions.

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use inkwell::targets::{InitializationConfig, Target, TargetMachine};

use crate::error::{Error, Result};

/// What code generation needs to know about the machine it runs on.
#[derive(Debug)]
pub(crate) struct Host {
    /// Target triple, e.g. `x86_64-pc-linux-gnu`.
    pub triple: String,
    /// Host CPU name, e.g. `znver3`.
    pub cpu: String,
    /// Host CPU feature string, e.g. `+avx2,+fma,...`.
    pub features: String,
    /// glibc's `libmvec.so.1` is loaded and LLVM maps math calls onto it.
    pub libmvec: bool,
    /// Vector widths (lanes of f64) for which libmvec variants may be named:
    /// `(lanes, ISA letter)` per the x86-64 vector function ABI.
    pub vector_isas: Vec<(u32, char)>,
}

impl Host {
    /// A string that pins everything an object file depends on: format
    /// version, LLVM version, triple, CPU, features and the math library.
    pub fn fingerprint(&self) -> String {
        format!(
            "alkahest-llvm/1;llvm19;{};{};{};libmvec={}",
            self.triple, self.cpu, self.features, self.libmvec
        )
    }
}

static HOST: OnceLock<std::result::Result<Host, String>> = OnceLock::new();

/// The host description, initializing LLVM on first use (thread-safe).
pub(crate) fn host() -> Result<&'static Host> {
    HOST.get_or_init(init)
        .as_ref()
        .map_err(|e| Error::Init(e.clone()))
}

/// Load a shared library into the global namespace (`RTLD_GLOBAL`), through
/// LLVM so its own symbol search knows about it too.
fn load_library(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // loading libm/libmvec runs no user-visible initialization code.
    unsafe { llvm_sys::support::LLVMLoadLibraryPermanently(c.as_ptr()) == 0 }
}

fn llvm_string(p: *mut std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: `p` is a NUL-terminated string allocated by LLVM; we copy it and
    // release it with LLVM's own deallocator exactly once.
    unsafe {
        let s = CStr::from_ptr(p).to_string_lossy().into_owned();
        llvm_sys::core::LLVMDisposeMessage(p);
        s
    }
}

fn init() -> std::result::Result<Host, String> {
    Target::initialize_native(&InitializationConfig::default())?;
    let triple = TargetMachine::get_default_triple()
        .as_str()
        .to_string_lossy()
        .into_owned();
    // SAFETY: plain queries returning LLVM-allocated strings (freed in `llvm_string`).
    let cpu = llvm_string(unsafe { llvm_sys::target_machine::LLVMGetHostCPUName() });
    // SAFETY: as above.
    let features = llvm_string(unsafe { llvm_sys::target_machine::LLVMGetHostCPUFeatures() });

    // Scalar libm calls (`tan`, `atan2`, ...) must resolve even if the
    // embedding binary did not link libm itself.
    load_library("libm.so.6");

    let has = |f: &str| features.split(',').any(|x| x == f);
    let x86_linux = triple.starts_with("x86_64") && triple.contains("linux");
    let libmvec = x86_linux && load_library("libmvec.so.1");
    let mut vector_isas = Vec::new();
    if libmvec {
        // Process-wide and parse-once: LLVM exits the process if an option is
        // given twice, so nothing else in the process may set it again.
        let args = [
            c"alkahest-llvm".as_ptr(),
            c"-vector-library=LIBMVEC-X86".as_ptr(),
        ];
        // SAFETY: `args` holds two valid NUL-terminated strings with static
        // lifetime; the overview string is too. Runs once (OnceLock).
        unsafe {
            llvm_sys::support::LLVMParseCommandLineOptions(
                args.len() as i32,
                args.as_ptr(),
                c"alkahest-llvm".as_ptr(),
            );
        }
        // The x86-64 vector function ABI: 'b' = SSE (2 lanes), 'd' = AVX2
        // (4 lanes), 'e' = AVX-512 (8 lanes).
        vector_isas.push((2, 'b'));
        if has("+avx2") {
            vector_isas.push((4, 'd'));
        }
        if has("+avx512f") {
            vector_isas.push((8, 'e'));
        }
    }
    Ok(Host {
        triple,
        cpu,
        features,
        libmvec,
        vector_isas,
    })
}
