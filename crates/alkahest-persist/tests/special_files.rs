//! The on-disk store never blocks on, reads through or writes through
//! anything but its own regular files and directories: FIFOs, sockets,
//! directories and symbolic links at an entry's path, and shard
//! directories that are symbolic links.
#![cfg(unix)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use alkahest_persist::{CacheKey, DiskCache, cache_key};

fn key(i: u64) -> CacheKey {
    cache_key(&[b"special-files", &i.to_le_bytes()])
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo failed"
    );
}

/// `c.get(k)` on another thread; panics if it has not returned within
/// five seconds (after unblocking a reader stuck on a FIFO at `path`).
fn get_within_5s(dir: &Path, k: CacheKey, path: &Path) -> (Option<Vec<u8>>, DiskCache) {
    let (tx, rx) = mpsc::channel();
    let d = dir.to_path_buf();
    std::thread::spawn(move || {
        let c = DiskCache::open(&d).unwrap();
        let got = c.get(&k);
        let _ = tx.send((got, c));
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok((got, c)) => (got.unwrap(), c),
        Err(_) => {
            // Open the FIFO for writing so the blocked reader returns.
            let _ = std::fs::OpenOptions::new().write(true).open(path);
            panic!("DiskCache::get blocked on {}", path.display());
        }
    }
}

#[test]
fn a_fifo_entry_is_a_miss_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let c = DiskCache::open(dir.path()).unwrap();
    c.put(&key(1), b"good").unwrap();
    let path = c.entry_path(&key(1));
    std::fs::remove_file(&path).unwrap();
    mkfifo(&path);
    let (got, c2) = get_within_5s(dir.path(), key(1), &path);
    assert_eq!(got, None);
    let s = c2.stats();
    assert_eq!((s.misses, s.evicted, s.hits), (1, 1, 0));
    assert!(!path.exists(), "the FIFO is removed like a damaged entry");
    c2.put(&key(1), b"again").unwrap();
    assert_eq!(c2.get(&key(1)).unwrap().as_deref(), Some(&b"again"[..]));
}

#[test]
fn a_fifo_is_replaced_by_put() {
    let dir = tempfile::tempdir().unwrap();
    let c = DiskCache::open(dir.path()).unwrap();
    let path = c.entry_path(&key(2));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    mkfifo(&path);
    c.put(&key(2), b"payload").unwrap();
    assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    assert_eq!(c.get(&key(2)).unwrap().as_deref(), Some(&b"payload"[..]));
}

#[test]
fn a_socket_or_directory_entry_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let c = DiskCache::open(dir.path()).unwrap();
    let sock = c.entry_path(&key(3));
    std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let (got, _) = get_within_5s(dir.path(), key(3), &sock);
    assert_eq!(got, None);

    let sub = c.entry_path(&key(4));
    std::fs::create_dir_all(&sub).unwrap();
    assert_eq!(c.get(&key(4)).unwrap(), None);
    assert!(sub.is_dir(), "a directory is not deleted");
    // Writing over a directory fails with an I/O error, not a panic.
    assert!(c.put(&key(4), b"x").is_err());
}

#[test]
fn a_symlinked_entry_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let c = DiskCache::open(dir.path()).unwrap();
    // A valid entry for key 5, moved outside and linked back in.
    c.put(&key(5), b"secret").unwrap();
    let path = c.entry_path(&key(5));
    let moved = outside.path().join("entry.alkc");
    std::fs::rename(&path, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &path).unwrap();
    assert_eq!(c.get(&key(5)).unwrap(), None);
    assert_eq!(c.stats().evicted, 1);
    assert!(
        std::fs::symlink_metadata(&path).is_err(),
        "the link is removed"
    );
    assert!(moved.exists(), "its target is untouched");
}

#[test]
fn a_symlinked_shard_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let c = DiskCache::open(dir.path()).unwrap();
    let path = c.entry_path(&key(6));
    let shard = path.parent().unwrap();
    std::os::unix::fs::symlink(outside.path(), shard).unwrap();
    let name = path.file_name().unwrap();
    // A file outside, named like the entry, and an old temp file.
    std::fs::write(outside.path().join(name), b"not ours").unwrap();
    std::fs::write(outside.path().join(".x.alkc.tmp-1-2-3"), b"not ours").unwrap();

    let refused = |r: alkahest_persist::Error| match r {
        alkahest_persist::Error::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput);
            assert!(source.to_string().contains("symbolic link"), "{source}");
        }
        other => panic!("unexpected error {other}"),
    };
    refused(c.put(&key(6), b"payload").unwrap_err());
    refused(c.get(&key(6)).unwrap_err());
    refused(c.remove(&key(6)).unwrap_err());
    assert_eq!(c.sweep_temp_files(Duration::ZERO).unwrap(), 0);
    let mut left: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(
        left.len(),
        2,
        "nothing written or deleted outside: {left:?}"
    );
    assert_eq!(
        std::fs::read(outside.path().join(name)).unwrap(),
        b"not ours"
    );
    assert_eq!(c.stats().writes, 0);
    // Other shards still work.
    let other = (7..)
        .map(key)
        .find(|k| c.entry_path(k).parent() != Some(shard))
        .unwrap();
    c.put(&other, b"fine").unwrap();
    assert_eq!(c.get(&other).unwrap().as_deref(), Some(&b"fine"[..]));
}
