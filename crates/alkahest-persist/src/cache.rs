//! Content-addressed on-disk artifact store for the compile cache.
//!
//! An entry is one file named by its [`CacheKey`]; it carries its own
//! header (magic, entry version, the full key, payload length) and a
//! checksum, so a file that is stale (another key or version), truncated
//! or damaged is detected, deleted and reported as a miss — never returned.
//! Writes go through a unique temporary file and a rename, so processes
//! sharing one directory never see a torn entry.
//!
//! Only regular files are entries: anything else at an entry's path (a
//! FIFO, socket, device, directory or symbolic link) is never opened for
//! reading — it is deleted where possible and counted like a damaged entry
//! — so a lookup cannot block or read outside the cache. A shard directory
//! that is a symbolic link is refused (an I/O error of kind
//! `InvalidInput`) by every operation, so the cache never reads, writes or
//! deletes outside its directory through one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::error::{Error, Result};
use crate::fs::{Found, read_entry, write_atomic_with};

/// First eight bytes of every cache entry.
pub const ENTRY_MAGIC: [u8; 8] = *b"ALKCACHE";
/// Layout version of cache entries.
pub const ENTRY_VERSION: u32 = 1;
/// Largest entry [`DiskCache::get`] reads; larger files are treated as
/// corrupt.
pub const MAX_ENTRY_BYTES: u64 = 1 << 30;

const ENTRY_HEADER_LEN: usize = 40;
const ENTRY_TRAILER_LEN: usize = 8;
const KEY_SEED: u64 = 0x6361_6368_656b_6579; // "cachekey"

/// 128-bit hash naming a cache entry; see [`cache_key`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CacheKey(pub u128);

impl CacheKey {
    /// The key as 32 lowercase hex digits (also the entry's file name).
    pub fn to_hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Hash everything that determines a compiled artifact into one key:
/// callers pass the expression's content key, the variable order, the
/// config, the backend, [`cpu_features`] and [`library_version`] as byte
/// strings. Each part is length-prefixed, so `["ab", "c"]` and
/// `["a", "bc"]` differ. Not cryptographic: whoever can write the cache
/// directory can plant entries anyway.
pub fn cache_key(parts: &[&[u8]]) -> CacheKey {
    let mut h = Xxh3::with_seed(KEY_SEED);
    h.update(&(parts.len() as u64).to_le_bytes());
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    CacheKey(h.digest128())
}

/// The version of this library, for cache keys: artifacts from another
/// version are never reused.
pub fn library_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Architecture, OS and the CPU features detected at run time, e.g.
/// `x86_64-linux:sse2,sse3,...,avx2,fma`. Object code compiled for this
/// host may use exactly these, so the string belongs in the cache key.
pub fn cpu_features() -> String {
    let mut found: Vec<&'static str> = Vec::new();
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        macro_rules! probe {
            ($($f:tt),*) => {
                $( if std::arch::is_x86_feature_detected!($f) { found.push($f); } )*
            };
        }
        probe!(
            "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2", "fma", "bmi1",
            "bmi2", "lzcnt", "f16c", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {
                $( if std::arch::is_aarch64_feature_detected!($f) { found.push($f); } )*
            };
        }
        probe!("neon", "fp16", "fhm", "fcma", "dotprod", "sve", "sve2");
    }
    format!(
        "{}-{}:{}",
        std::env::consts::ARCH,
        std::env::consts::OS,
        found.join(",")
    )
}

/// Counters of one [`DiskCache`] handle (this process only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// `get` calls that returned an entry.
    pub hits: u64,
    /// `get` calls that found no entry.
    pub misses: u64,
    /// Entries found stale or corrupted, or paths holding something other
    /// than a regular file, deleted and reported as misses (also counted
    /// in `misses`).
    pub evicted: u64,
    /// Successful `put` calls.
    pub writes: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evicted: AtomicU64,
    writes: AtomicU64,
}

/// A directory of compiled artifacts, shared safely by threads and
/// processes. Layout: `<dir>/<first 2 hex digits>/<32 hex digits>.alkc`.
pub struct DiskCache {
    dir: PathBuf,
    counters: Counters,
}

impl fmt::Debug for DiskCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskCache")
            .field("dir", &self.dir)
            .field("stats", &self.stats())
            .finish()
    }
}

impl DiskCache {
    /// Open (creating if needed) a cache directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        Ok(DiskCache {
            dir,
            counters: Counters::default(),
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry of `key` lives (whether or not it exists).
    pub fn entry_path(&self, key: &CacheKey) -> PathBuf {
        let hex = key.to_hex();
        self.dir.join(&hex[..2]).join(format!("{hex}.alkc"))
    }

    /// The artifact stored under `key`, or `None`. A stale or damaged
    /// entry, or anything but a regular file at its path, is deleted and
    /// reported as `None`. Errors are I/O failures other than "not found"
    /// (e.g. permissions) and a shard directory that is a symbolic link.
    pub fn get(&self, key: &CacheKey) -> Result<Option<Vec<u8>>> {
        let path = self.entry_path(key);
        self.check_shard(&path)?;
        let data = match read_entry(&path, MAX_ENTRY_BYTES) {
            Ok(Found::Bytes(d)) => Some(d),
            Ok(Found::Missing) => None,
            Ok(Found::NotRegular) | Err(Error::LimitExceeded { .. }) => {
                self.evict(&path);
                None
            }
            Err(e) => return Err(e),
        };
        let Some(mut data) = data else {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        match decode_entry(&data, key) {
            Some(len) => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                data.truncate(ENTRY_HEADER_LEN + len);
                data.drain(..ENTRY_HEADER_LEN);
                Ok(Some(data))
            }
            None => {
                self.evict(&path);
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    /// Store `bytes` under `key`, atomically replacing any previous entry.
    /// Not fsynced: after a crash an entry may be missing or torn, and a
    /// torn one fails its checksum and counts as a miss. Payloads that
    /// `get` would refuse (over [`MAX_ENTRY_BYTES`] with the header) are
    /// refused here.
    pub fn put(&self, key: &CacheKey, bytes: &[u8]) -> Result<()> {
        let limit = MAX_ENTRY_BYTES - (ENTRY_HEADER_LEN + ENTRY_TRAILER_LEN) as u64;
        if bytes.len() as u64 > limit {
            return Err(Error::LimitExceeded {
                what: "cache entry size",
                value: bytes.len() as u64,
                limit,
            });
        }
        let path = self.entry_path(key);
        self.check_shard(&path)?;
        let shard = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(shard).map_err(|e| Error::io("create directory", shard, e))?;
        write_atomic_with(&path, &encode_entry(key, bytes), false)?;
        self.counters.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Delete the entry of `key`; `true` if there was one.
    pub fn remove(&self, key: &CacheKey) -> Result<bool> {
        let path = self.entry_path(key);
        self.check_shard(&path)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove", &path, e)),
        }
    }

    /// Delete temporary files older than `age` left by writers that died
    /// between creating and renaming them; returns how many were removed.
    /// Live writers' files are younger than any sensible `age` (an hour).
    pub fn sweep_temp_files(&self, age: std::time::Duration) -> Result<usize> {
        let now = std::time::SystemTime::now();
        let mut removed = 0;
        let shards =
            std::fs::read_dir(&self.dir).map_err(|e| Error::io("read directory", &self.dir, e))?;
        for shard in shards.flatten() {
            // Not through symbolic links: only this directory's files.
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name();
                if !name.to_string_lossy().contains(".tmp-") {
                    continue;
                }
                let old = f
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|d| d >= age);
                if old && std::fs::remove_file(f.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// This handle's counters.
    pub fn stats(&self) -> DiskStats {
        let c = &self.counters;
        DiskStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
        }
    }

    /// Refuse an entry whose shard directory is a symbolic link (reading,
    /// writing or deleting through it would act outside the cache).
    fn check_shard(&self, entry: &Path) -> Result<()> {
        let Some(shard) = entry.parent() else {
            return Ok(());
        };
        match std::fs::symlink_metadata(shard) {
            Ok(m) if m.file_type().is_symlink() => Err(Error::io(
                "use shard directory",
                shard,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "it is a symbolic link; the cache only reads and writes inside its directory",
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Delete a bad entry. Racing with a writer that just renamed a good
    /// entry into place can delete that one too: the cost is one extra
    /// miss, never a wrong artifact.
    fn evict(&self, path: &Path) {
        let _ = std::fs::remove_file(path);
        self.counters.evicted.fetch_add(1, Ordering::Relaxed);
    }
}

/// Header, payload, checksum (layout in `docs/persistence-format.md`).
fn encode_entry(key: &CacheKey, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENTRY_HEADER_LEN + payload.len() + ENTRY_TRAILER_LEN);
    out.extend_from_slice(&ENTRY_MAGIC);
    out.extend_from_slice(&ENTRY_VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&key.0.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let sum = xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The payload length if `data` is a valid entry for `key`.
fn decode_entry(data: &[u8], key: &CacheKey) -> Option<usize> {
    if data.len() < ENTRY_HEADER_LEN + ENTRY_TRAILER_LEN || data[..8] != ENTRY_MAGIC {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().expect("4 bytes"));
    let version = u32_at(8);
    let flags = u32_at(12);
    let stored_key = u128::from_le_bytes(data[16..32].try_into().expect("16 bytes"));
    let len = u64::from_le_bytes(data[32..40].try_into().expect("8 bytes"));
    if version != ENTRY_VERSION || flags != 0 || stored_key != key.0 {
        return None;
    }
    let payload_len = data.len() - ENTRY_HEADER_LEN - ENTRY_TRAILER_LEN;
    if len != payload_len as u64 {
        return None;
    }
    let (content, trailer) = data.split_at(data.len() - ENTRY_TRAILER_LEN);
    let stored = u64::from_le_bytes(trailer.try_into().expect("8 bytes"));
    (stored == xxh3_64(content)).then_some(payload_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip_and_rejections() {
        let k = cache_key(&[b"expr", b"x,y"]);
        let e = encode_entry(&k, b"payload");
        assert_eq!(decode_entry(&e, &k), Some(7));
        let other = cache_key(&[b"expr", b"y,x"]);
        assert_eq!(decode_entry(&e, &other), None);
        for i in 0..e.len() {
            let mut bad = e.clone();
            bad[i] ^= 0x10;
            assert_eq!(decode_entry(&bad, &k), None, "flip at {i}");
            assert_eq!(decode_entry(&e[..i], &k), None, "truncated to {i}");
        }
    }

    #[test]
    fn key_parts_are_length_prefixed() {
        assert_ne!(cache_key(&[b"ab", b"c"]), cache_key(&[b"a", b"bc"]));
        assert_ne!(cache_key(&[b"a"]), cache_key(&[b"a", b""]));
        assert_eq!(cache_key(&[b"a", b"b"]), cache_key(&[b"a", b"b"]));
    }

    #[test]
    fn cache_is_shareable_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DiskCache>();
    }

    #[test]
    fn cpu_features_names_the_host() {
        let s = cpu_features();
        assert!(s.starts_with(std::env::consts::ARCH), "{s}");
        #[cfg(target_arch = "x86_64")]
        assert!(s.contains("sse2"), "{s}");
    }
}
