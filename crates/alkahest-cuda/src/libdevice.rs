//! Finding and reading `libdevice.10.bc`, NVIDIA's math library as LLVM
//! bitcode (`__nv_sin`, `__nv_exp`, ...).
//!
//! It is not part of LLVM: it ships with the CUDA toolkit and in the PyPI
//! wheel `nvidia-cuda-nvcc-cu12`, which is how Python users usually get it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Environment variable naming the libdevice file (or its directory); it
/// takes precedence over every other location.
pub const LIBDEVICE_ENV: &str = "ALKAHEST_LIBDEVICE";

const FILE: &str = "libdevice.10.bc";

/// Candidate locations, in search order (see [`find_libdevice`]).
fn candidates(extra_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in extra_dirs {
        out.push(dir.join("nvidia/cuda_nvcc/nvvm/libdevice").join(FILE));
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(root) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push(Path::new(&root).join("nvvm/libdevice").join(FILE));
        }
    }
    out.push(Path::new("/usr/local/cuda/nvvm/libdevice").join(FILE));
    // Debian / Ubuntu `nvidia-cuda-toolkit` package.
    out.push(Path::new("/usr/lib/nvidia-cuda-toolkit/libdevice").join(FILE));
    out
}

/// Locate `libdevice.10.bc`.
///
/// Order: `$ALKAHEST_LIBDEVICE` (a file, or a directory holding the file;
/// when set it must be right: a wrong value is an error, not a fallback),
/// then `<dir>/nvidia/cuda_nvcc/nvvm/libdevice/` for each of `extra_dirs`
/// (the Python layer passes `sys.path`, which finds the
/// `nvidia-cuda-nvcc-cu12` wheel), then `$CUDA_HOME`, `$CUDA_PATH`,
/// `/usr/local/cuda` (each `/nvvm/libdevice/`), then Debian's
/// `/usr/lib/nvidia-cuda-toolkit/libdevice/`.
pub fn find_libdevice(extra_dirs: &[PathBuf]) -> Result<PathBuf> {
    if let Some(value) = std::env::var_os(LIBDEVICE_ENV).filter(|v| !v.is_empty()) {
        let given = PathBuf::from(value);
        let file = if given.is_dir() {
            given.join(FILE)
        } else {
            given
        };
        return if file.is_file() {
            Ok(file)
        } else {
            Err(Error::NoLibdevice {
                searched: vec![file],
            })
        };
    }
    let searched = candidates(extra_dirs);
    match searched.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(Error::NoLibdevice { searched }),
    }
}

/// The file's bytes, read once per path per process (it is ~500 KB and
/// every compilation links it).
pub(crate) fn read_libdevice(path: &Path) -> Result<Arc<Vec<u8>>> {
    static CACHE: Mutex<Vec<(PathBuf, Arc<Vec<u8>>)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, bytes)) = cache.iter().find(|(p, _)| p == path) {
        return Ok(bytes.clone());
    }
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NoLibdevice {
                searched: vec![path.to_owned()],
            }
        } else {
            Error::Libdevice {
                path: path.to_owned(),
                message: e.to_string(),
            }
        }
    })?;
    // LLVM bitcode starts with "BC\xC0\xDE" (or the 0x0B17C0DE wrapper).
    if !(bytes.starts_with(b"BC\xC0\xDE") || bytes.starts_with(&[0xDE, 0xC0, 0x17, 0x0B])) {
        return Err(Error::Libdevice {
            path: path.to_owned(),
            message: "not an LLVM bitcode file".into(),
        });
    }
    let bytes = Arc::new(bytes);
    cache.push((path.to_owned(), bytes.clone()));
    Ok(bytes)
}
