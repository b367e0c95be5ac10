//! One-time, process-wide LLVM setup and facts about the host CPU.
//!
//! Everything global happens here, exactly once, behind a [`OnceLock`]:
//! native target registration and loading `libm` / `libmvec` into the global
//! symbol namespace (`RTLD_GLOBAL`), so the JIT resolves `sin` and
//! `_ZGVdN4v_sin` from the process. No LLVM command-line option is set: the
//! vector calls are named explicitly by the code generator.

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
    /// glibc's `libmvec.so.1` is loaded.
    pub libmvec: bool,
    /// Doubles per SIMD vector of the bulk loop (8 with AVX-512F, 4 with
    /// AVX, else 2; capped by `ALKAHEST_SIMD_WIDTH`).
    pub lanes: u32,
    /// libmvec ISA letter of the x86-64 vector function ABI for `lanes`
    /// ('b' SSE, 'c' AVX, 'd' AVX2, 'e' AVX-512), if libmvec is usable.
    pub isa: Option<char>,
    /// Functions (libm names) whose libmvec variant resolved in this process.
    pub vector_fns: Vec<&'static str>,
    /// The bulk loop computes `exp`, `sinh`, `cosh`, `asin` and `acos` inline
    /// (the codegen `exp`, `hyperbolic` and `asin` modules), and `log` where
    /// it runs 4 or 8 lanes (`log`): AVX-512 F and VL, vectors of 4 or 8
    /// lanes.
    pub own_exp: bool,
}

impl Host {
    /// Vector registers the code may use: 16 on x86-64 without AVX-512
    /// (`ymm0`-`ymm15`), 32 with it and on AArch64. Long inline routines
    /// spill on 16 where level 0's fast register allocator handles them.
    pub fn vector_registers(&self) -> u32 {
        if self.x86_with("+avx512f") || !self.triple.starts_with("x86_64") {
            32
        } else {
            16
        }
    }

    /// Whether the bulk loops stream large outputs with non-temporal
    /// stores: x86-64 with AVX-512. On the AVX-512 Zen 5 they took the
    /// 60-output Brusselator right-hand side from 66 to 47 ns a point; on
    /// an AVX2 Zen 3 VM the same grouped loop ran 4-5x slower with them
    /// (200k points 82 -> 363 ns a point, 1M 86 -> 444).
    pub fn streaming_stores(&self) -> bool {
        self.x86_with("+avx512f")
    }

    /// Whether a vector division costs enough that divisions sharing a
    /// denominator go through its reciprocal (the codegen `division`
    /// module): Intel's cores with AVX-512, whose divider takes 16 cycles
    /// per 8 lanes. AMD's divide in a few cycles a vector, where the
    /// reciprocal's quotient (about 10 operations and a branch) would cost
    /// more; they are not measured.
    pub fn slow_vector_division(&self) -> bool {
        self.x86_with("+avx512f") && !self.cpu.starts_with("znver")
    }

    /// An x86-64 host whose LLVM feature list has `feature` (`"+avx512f"`).
    fn x86_with(&self, feature: &str) -> bool {
        self.triple.starts_with("x86_64") && self.features.split(',').any(|f| f == feature)
    }

    /// The libmvec variant of libm function `name` with `arity` arguments,
    /// if this process has it.
    pub fn variant(&self, name: &str, arity: usize) -> Option<String> {
        let isa = self.isa?;
        self.vector_fns
            .contains(&name)
            .then(|| format!("_ZGV{isa}N{}{}_{name}", self.lanes, "v".repeat(arity)))
    }
}

/// libm functions with glibc libmvec variants (glibc >= 2.35 for all but
/// `sin`, `cos`, `exp`, `log`, `pow`), and their arity. Which of them a
/// process really has is checked at start-up (`Host::vector_fns`); the rest
/// (and `tgamma`, `lgamma`, `fmod`, which have none) go lane by lane
/// through scalar libm.
const LIBMVEC_FNS: [(&str, usize); 25] = [
    ("sin", 1),
    ("cos", 1),
    ("tan", 1),
    ("exp", 1),
    ("log", 1),
    ("asin", 1),
    ("acos", 1),
    ("atan", 1),
    ("sinh", 1),
    ("cosh", 1),
    ("tanh", 1),
    ("log1p", 1),
    ("expm1", 1),
    ("asinh", 1),
    ("acosh", 1),
    ("atanh", 1),
    ("cbrt", 1),
    ("exp2", 1),
    ("log2", 1),
    ("log10", 1),
    ("erf", 1),
    ("erfc", 1),
    ("atan2", 2),
    ("hypot", 2),
    ("pow", 2),
];

impl Host {
    /// A string that pins everything an object file depends on: format
    /// version (3: entry points with output pointers, several outputs; 4:
    /// the inline vector `exp`, `sinh` and `cosh`; 5: own routines called
    /// from the process's routine library; 8: the inline `log`; 9: the
    /// inline `asin` and `acos`; 10: `tanh` as a function of its own in
    /// segmented tapes, and at level 0 on hosts with 16 vector registers;
    /// streaming stores only with AVX-512; 11: divisions through a shared
    /// reciprocal where the divider is slow, the same bits but faster code),
    /// LLVM version, triple, CPU, features and the math library (which
    /// libmvec variants the code may call).
    pub fn fingerprint(&self) -> String {
        format!(
            "alkahest-llvm/11;llvm19;{};{};{};lanes={};libmvec={};vector_fns={};own_exp={}",
            self.triple,
            self.cpu,
            self.features,
            self.lanes,
            self.libmvec,
            self.vector_fns.join(","),
            self.own_exp
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

/// `ALKAHEST_SIMD_WIDTH` (2, 4 or 8 doubles) caps the bulk loop's vector
/// width, read once per process: AVX-512 lowers the clock of some Intel
/// parts, so a user whose other work suffers can choose AVX2's 4 lanes.
fn simd_width_cap() -> Option<u32> {
    let v: u32 = std::env::var("ALKAHEST_SIMD_WIDTH")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    [2, 4, 8].contains(&v).then_some(v)
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
    let x86 = triple.starts_with("x86_64");
    let widest = if x86 && has("+avx512f") {
        8
    } else if x86 && has("+avx") {
        4
    } else {
        2
    };
    let lanes = simd_width_cap().map_or(widest, |cap| widest.min(cap));
    let libmvec = x86 && triple.contains("linux") && load_library("libmvec.so.1");
    let isa = match (libmvec, lanes) {
        (false, _) => None,
        (true, 8) => Some('e'),
        (true, 4) if has("+avx2") => Some('d'),
        (true, 4) => Some('c'),
        (true, _) => Some('b'),
    };
    let mut vector_fns = Vec::new();
    if let Some(isa) = isa {
        for (name, arity) in LIBMVEC_FNS {
            let sym = format!("_ZGV{isa}N{lanes}{}_{name}", "v".repeat(arity));
            let Ok(c) = CString::new(sym) else { continue };
            // SAFETY: `c` is NUL-terminated; this only looks the symbol up.
            let found =
                unsafe { !llvm_sys::support::LLVMSearchForAddressOfSymbol(c.as_ptr()).is_null() };
            if found {
                vector_fns.push(name);
            }
        }
    }
    let own_exp = x86 && has("+avx512f") && has("+avx512vl") && lanes >= 4;
    Ok(Host {
        triple,
        cpu,
        features,
        libmvec,
        lanes,
        isa,
        vector_fns,
        own_exp,
    })
}
