//! Files: atomic replacement and bounded reads.
//!
//! A writer never modifies a file in place: it writes a uniquely named
//! temporary file in the same directory and renames it over the target, so
//! a reader (in this or another process) sees either the old file or the
//! new one, never a mixture.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use alkahest_core::{ExprId, ExprPool};

use crate::error::{Error, Result};
use crate::pool_file;

/// Largest pool file [`load`] reads (4 GiB): a guard against reading
/// something that is not a pool file at all into memory.
pub const MAX_FILE_BYTES: u64 = 1 << 32;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other writer (thread or process) will pick: pid, a per-process
/// counter and the clock.
pub(crate) fn temp_path(target: &Path) -> PathBuf {
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    dir.join(format!(
        ".{name}.tmp-{}-{}-{nanos}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Replace `path` with `bytes` atomically. With `durable`, the data and the
/// directory entry are flushed to disk before returning (for user files);
/// without, a crash may lose the write but never expose a torn file to a
/// reader that checks checksums (enough for a cache); and an existing
/// file is unlinked just before the rename, because ext4 flushes the new
/// data synchronously (milliseconds) when a rename replaces a file. A
/// reader then briefly sees no file, which a cache treats as a miss.
pub(crate) fn write_atomic_with(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io("write", &tmp, e))?;
        if durable {
            f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        }
        drop(f);
        if !durable {
            let _ = fs::remove_file(path);
        }
        fs::rename(&tmp, path).map_err(|e| Error::io("rename", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    if durable {
        sync_dir(&parent_dir(path));
    }
    Ok(())
}

/// Flush a directory entry (best effort: not every platform can open a
/// directory, and the data itself is already on disk).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Replace the file at `path` with `bytes` atomically and durably: temp
/// file in the same directory, fsync, rename, fsync of the directory.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path.as_ref(), bytes, true)
}

/// Read a whole file, refusing files longer than `limit` bytes before
/// reading them. `Ok(None)` when the file does not exist.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let len = f.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    read_open(f, path, len, limit).map(Some)
}

/// The rest of [`read_bounded`]: `f` is open and `len` bytes long.
fn read_open(f: File, path: &Path, len: u64, limit: u64) -> Result<Vec<u8>> {
    if len > limit {
        return Err(Error::LimitExceeded {
            what: "file size",
            value: len,
            limit,
        });
    }
    let mut buf = Vec::with_capacity(len as usize);
    // `take` guards against a file that grows while being read.
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("read", path, e))?;
    if buf.len() as u64 > limit {
        return Err(Error::LimitExceeded {
            what: "file size",
            value: buf.len() as u64,
            limit,
        });
    }
    Ok(buf)
}

/// What [`read_entry`] found at a path.
pub(crate) enum Found {
    /// Nothing.
    Missing,
    /// Something that is not a regular file (FIFO, socket, device,
    /// directory, symbolic link): never opened for reading.
    NotRegular,
    /// A regular file's bytes.
    Bytes(Vec<u8>),
}

/// Read a cache entry like [`read_bounded`], accepting regular files only:
/// the path is checked without following a symbolic link, then opened so
/// that the open can neither follow a link nor block (`O_NOFOLLOW`,
/// `O_NONBLOCK` on Unix: a FIFO swapped in meanwhile opens at once) and
/// checked again on the open file.
pub(crate) fn read_entry(path: &Path, limit: u64) -> Result<Found> {
    match fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => return Ok(Found::NotRegular),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(Error::io("stat", path, e)),
    }
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let f = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        // A symbolic link (ELOOP with O_NOFOLLOW) or a socket (ENXIO).
        #[cfg(unix)]
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) => {
            return Ok(Found::NotRegular);
        }
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let meta = f.metadata().map_err(|e| Error::io("stat", path, e))?;
    if !meta.is_file() {
        return Ok(Found::NotRegular);
    }
    read_open(f, path, meta.len(), limit).map(Found::Bytes)
}

/// Save the sub-DAG of `roots` to `path` atomically ([`pool_file::to_bytes`]).
pub fn save(pool: &ExprPool, roots: &[ExprId], path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path, &pool_file::to_bytes(pool, roots)?)
}

/// Save the whole pool to `path` atomically ([`pool_file::pool_to_bytes`]).
pub fn save_pool(pool: &ExprPool, path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path, &pool_file::pool_to_bytes(pool))
}

/// Load a pool file into a new pool ([`pool_file::from_bytes`]).
pub fn load(path: impl AsRef<Path>) -> Result<(ExprPool, Vec<ExprId>)> {
    let path = path.as_ref();
    let bytes = read_bounded(path, MAX_FILE_BYTES)?.ok_or_else(|| {
        Error::io(
            "open",
            path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })?;
    pool_file::from_bytes(&bytes)
}

/// Load a pool file into an existing pool ([`pool_file::load_into`]).
pub fn load_file_into(pool: &ExprPool, path: impl AsRef<Path>) -> Result<Vec<ExprId>> {
    Ok(load_file_into_written(pool, path)?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// [`load_file_into`] with each expression's written form
/// ([`pool_file::load_into_written`]).
pub fn load_file_into_written(
    pool: &ExprPool,
    path: impl AsRef<Path>,
) -> Result<Vec<(ExprId, alkahest_core::Written)>> {
    let path = path.as_ref();
    let bytes = read_bounded(path, MAX_FILE_BYTES)?.ok_or_else(|| {
        Error::io(
            "open",
            path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })?;
    pool_file::load_into_written(pool, &bytes)
}
