//! Finding tools the tests need outside Rust.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Python `site-packages` directories where pip wheels (NVIDIA's
/// `nvidia-cuda-nvcc-cu12` with `libdevice.10.bc` and `ptxas`) may live:
/// `$ALKAHEST_PYTHON`'s `sys.path`, then the workspace's `.venv`.
pub fn python_site_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(python) = std::env::var_os("ALKAHEST_PYTHON")
        && let Ok(out) = Command::new(python)
            .args(["-c", "import sys; print('\\n'.join(sys.path))"])
            .output()
    {
        dirs.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(PathBuf::from),
        );
    }
    let venv_lib = workspace_root().join(".venv/lib");
    if let Ok(entries) = std::fs::read_dir(&venv_lib) {
        for e in entries.flatten() {
            dirs.push(e.path().join("site-packages"));
        }
    }
    dirs
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
