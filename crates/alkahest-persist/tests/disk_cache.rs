//! The on-disk artifact store: hits, misses, stale and damaged entries,
//! and many threads and processes sharing one directory.

use std::path::Path;
use std::process::{Command, Stdio};

use alkahest_persist::{CacheKey, DiskCache, cache_key, cpu_features, library_version};

/// The payload every writer stores under key number `i`: deterministic, so
/// any reader can tell a correct entry from a torn or foreign one. Sizes
/// vary so that a torn write would show.
fn payload(i: u64) -> Vec<u8> {
    let len = 1 + (i as usize * 7919) % 50_000;
    (0..len)
        .map(|j| (j as u64 ^ i.wrapping_mul(31)) as u8)
        .collect()
}

fn key(i: u64) -> CacheKey {
    cache_key(&[
        b"test-expr",
        &i.to_le_bytes(),
        cpu_features().as_bytes(),
        library_version().as_bytes(),
    ])
}

#[test]
fn put_get_miss() {
    let dir = tempfile::tempdir().unwrap();
    let c = DiskCache::open(dir.path().join("nested/cache")).unwrap();
    assert_eq!(c.get(&key(1)).unwrap(), None);
    c.put(&key(1), &payload(1)).unwrap();
    assert_eq!(c.get(&key(1)).unwrap(), Some(payload(1)));
    c.put(&key(1), b"").unwrap();
    assert_eq!(c.get(&key(1)).unwrap(), Some(Vec::new()));
    // Another handle (as another process would) sees it.
    let c2 = DiskCache::open(c.dir()).unwrap();
    assert_eq!(c2.get(&key(1)).unwrap(), Some(Vec::new()));
    assert!(c.remove(&key(1)).unwrap());
    assert!(!c.remove(&key(1)).unwrap());
    assert_eq!(c.get(&key(1)).unwrap(), None);
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.writes, s.evicted), (2, 2, 2, 0));
}

#[test]
fn stale_temp_files_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let c = DiskCache::open(dir.path()).unwrap();
    c.put(&key(3), &payload(3)).unwrap();
    let shard = c.entry_path(&key(3)).parent().unwrap().to_path_buf();
    let orphan = shard.join(".x.alkc.tmp-1-2-3");
    std::fs::write(&orphan, b"half").unwrap();
    assert_eq!(
        c.sweep_temp_files(std::time::Duration::from_secs(3600))
            .unwrap(),
        0
    );
    assert!(orphan.exists());
    assert_eq!(c.sweep_temp_files(std::time::Duration::ZERO).unwrap(), 1);
    assert!(!orphan.exists());
    assert_eq!(c.get(&key(3)).unwrap(), Some(payload(3)));
}

/// Damage the entry of `k` with `f`, then check it is a counted miss and
/// deleted, and that a fresh put works again.
fn damaged(f: impl Fn(&Path, &mut Vec<u8>)) {
    let dir = tempfile::tempdir().unwrap();
    let c = DiskCache::open(dir.path()).unwrap();
    let k = key(7);
    c.put(&k, &payload(7)).unwrap();
    let path = c.entry_path(&k);
    let mut bytes = std::fs::read(&path).unwrap();
    f(&path, &mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(c.get(&k).unwrap(), None);
    assert!(!path.exists(), "bad entry not deleted");
    assert_eq!(c.stats().evicted, 1);
    c.put(&k, &payload(7)).unwrap();
    assert_eq!(c.get(&k).unwrap(), Some(payload(7)));
}

#[test]
fn damaged_entries_are_misses() {
    damaged(|_, b| b[100] ^= 1); // payload bit flip
    damaged(|_, b| b[20] ^= 1); // key field
    damaged(|_, b| b[8] = 2); // entry version from the future
    damaged(|_, b| b.truncate(b.len() - 1)); // truncated
    damaged(|_, b| b.truncate(10)); // torn header
    damaged(|_, b| b.clear()); // empty file
    damaged(|_, b| b.push(0)); // trailing byte
    // A valid entry of another key copied over this one (stale).
    damaged(|path, b| {
        let dir = path.parent().unwrap().parent().unwrap();
        let other = DiskCache::open(dir).unwrap();
        other.put(&key(8), &payload(8)).unwrap();
        *b = std::fs::read(other.entry_path(&key(8))).unwrap();
    });
}

/// Hammer one directory: write and read keys `0..KEYS`; every read must be
/// a miss or exactly the right payload.
fn hammer(dir: &Path, seed: u64, rounds: u64) {
    const KEYS: u64 = 24;
    let c = DiskCache::open(dir).unwrap();
    for r in 0..rounds {
        let i = (seed.wrapping_mul(2654435761) + r * 7) % KEYS;
        if (r + seed).is_multiple_of(3) {
            c.put(&key(i), &payload(i)).unwrap();
        }
        if let Some(got) = c.get(&key(i)).unwrap() {
            assert!(got == payload(i), "wrong payload for key {i}");
        }
    }
    assert_eq!(c.stats().evicted, 0, "an entry was torn or corrupted");
}

fn check_final(dir: &Path) {
    let c = DiskCache::open(dir).unwrap();
    let mut present = 0;
    for i in 0..24 {
        if let Some(got) = c.get(&key(i)).unwrap() {
            assert_eq!(got, payload(i));
            present += 1;
        }
    }
    assert!(present > 0);
    assert_eq!(c.stats().evicted, 0);
    // No temporary files left behind.
    for shard in std::fs::read_dir(dir).unwrap() {
        for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            assert!(name.ends_with(".alkc"), "stray file {name}");
        }
    }
}

#[test]
fn threads_share_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let d = dir.path();
            s.spawn(move || hammer(d, t, 300));
        }
    });
    check_final(dir.path());
}

const CHILD_ENV: &str = "ALKAHEST_PERSIST_CACHE_CHILD";

/// Run by `processes_share_a_directory` in child processes of this test
/// binary; ignored in normal runs.
#[test]
#[ignore = "helper: run as a child process by processes_share_a_directory"]
fn child_hammer() {
    let dir = std::env::var(CHILD_ENV).expect("run by processes_share_a_directory");
    let seed: u64 = std::env::var("ALKAHEST_PERSIST_CHILD_SEED")
        .unwrap()
        .parse()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..2 {
            let d = Path::new(&dir);
            s.spawn(move || hammer(d, seed * 10 + t, 300));
        }
    });
}

#[test]
fn processes_share_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(&exe)
                .args(["child_hammer", "--exact", "--ignored", "--test-threads=1"])
                .env(CHILD_ENV, dir.path())
                .env("ALKAHEST_PERSIST_CHILD_SEED", (i + 1).to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    hammer(dir.path(), 99, 300);
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a child process failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    check_final(dir.path());
}
