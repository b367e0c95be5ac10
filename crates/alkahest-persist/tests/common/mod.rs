//! Helpers shared by the integration tests: random DAGs (from
//! `alkahest_testkit::dags`) and an independent encoder of the documented
//! file layout (so tests also check the doc).

#![allow(dead_code)]

#[allow(unused_imports)]
pub use alkahest_testkit::dags::{FLOATS, OPS, Step, build, condition, step};
use xxhash_rust::xxh3::xxh3_64;

/// Recompute the announced length and the trailing checksum after an edit,
/// following `docs/persistence-format.md`, so that a mutation reaches the
/// structural checks instead of stopping at the checksum.
pub fn reseal(bytes: &mut [u8]) {
    if bytes.len() < 32 {
        return;
    }
    let n = bytes.len();
    bytes[16..24].copy_from_slice(&(n as u64).to_le_bytes());
    let sum = xxh3_64(&bytes[..n - 8]);
    bytes[n - 8..].copy_from_slice(&sum.to_le_bytes());
}

pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Assemble a version-1 file from raw record bytes: header, counts,
/// records, roots (index + key), digest, checksum.
pub fn raw_file(n_nodes: u64, records: &[u8], roots: &[(u64, u128)], digest: u128) -> Vec<u8> {
    let mut out = b"ALKPOOL\0".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    varint(&mut out, n_nodes);
    varint(&mut out, roots.len() as u64);
    out.extend_from_slice(records);
    for &(i, k) in roots {
        varint(&mut out, i);
        out.extend_from_slice(&k.to_le_bytes());
    }
    out.extend_from_slice(&digest.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    reseal(&mut out);
    out
}
