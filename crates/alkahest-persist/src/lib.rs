//! Persistence for Alkahest: expression DAGs saved to bytes or files and
//! loaded back into any pool, and the on-disk store of the compile cache.
//!
//! The pool format (`docs/persistence-format.md`) is versioned, compact
//! (each distinct node once, children as LEB128 back-references) and
//! checksummed. Loading is defensive: whatever the bytes, the result is a
//! correct pool or a typed [`Error`], in time and memory linear in the
//! input, and a failed [`load_into`] leaves the target pool untouched.
//! Reloaded expressions keep their [`alkahest_core::ContentKey`]s, so
//! caches keyed by content hit on them exactly as on the originals.
//!
//! Every [`alkahest_core::Func`] is stored, conditions (comparisons,
//! `And`/`Or`/`Not`) and `where` included. Function codes are stable and
//! never renumbered: the functions added with the core's conditions and
//! `where` (asinh ... Mod, Lt ... Ne, And, Or, Not, where) took the new
//! codes 20-46 within format version 1, so every existing file still loads
//! unchanged and [`FORMAT_VERSION`] stays 1; a reader that predates those
//! codes refuses a file that uses them (`Malformed`: unknown function
//! code) instead of misreading it. Loading also checks operand kinds: a
//! condition where a number is expected, or the reverse, is
//! [`Error::BadKind`].
//!
//! [`DiskCache`] is a content-addressed directory of compiled artifacts,
//! safe to share between threads and processes.
//!
//! ```
//! use alkahest_core::{ExprPool, Func};
//! use alkahest_persist::{DiskCache, cache_key, load_into, to_bytes};
//!
//! let pool = ExprPool::new();
//! let x = pool.symbol("x")?;
//! let e = pool.func(Func::Sin, &[x])?;
//! // Pickle-style: the sub-DAG of `e`, loaded into another pool.
//! let bytes = to_bytes(&pool, &[e])?;
//! let other = ExprPool::new();
//! let ids = load_into(&other, &bytes)?;
//! assert_eq!(other.key(ids[0])?, pool.key(e)?);
//!
//! // A compiled artifact keyed by everything it depends on.
//! let dir = std::env::temp_dir().join(format!("alkahest-doc-{}", std::process::id()));
//! let cache = DiskCache::open(&dir)?;
//! let key = cache_key(&[&pool.key(e)?.0.to_le_bytes(), b"x", b"llvm-O2"]);
//! cache.put(&key, b"object code")?;
//! assert_eq!(cache.get(&key)?.as_deref(), Some(&b"object code"[..]));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), alkahest_persist::Error>(())
//! ```

mod cache;
mod error;
mod fs;
mod pool_file;
pub mod wire;
mod written_codec;

pub use cache::{
    CacheKey, DiskCache, DiskStats, ENTRY_MAGIC, ENTRY_VERSION, MAX_ENTRY_BYTES, cache_key,
    cpu_features, library_version,
};
pub use error::{Error, Result};
pub use fs::{
    MAX_FILE_BYTES, load, load_file_into, load_file_into_written, save, save_pool, write_atomic,
};
pub use pool_file::{
    FLAG_WHOLE_POOL, FLAG_WRITTEN, FORMAT_VERSION, MAGIC, MAX_NUMBER_BYTES, MAX_SYMBOL_BYTES,
    from_bytes, load_into, load_into_written, pool_to_bytes, to_bytes, to_bytes_written,
};
