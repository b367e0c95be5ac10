//! Feed arbitrary bytes to the pool loader, both as they come and wrapped
//! in a valid envelope (magic, version, length, checksum) so that the body
//! parser and the canonical rebuild are reached. Any panic is a bug; a
//! failed load must leave the target pool unchanged.

#![no_main]

use alkahest_core::{ExprPool, Func};
use alkahest_persist::{FORMAT_VERSION, MAGIC, from_bytes, load_into};
use libfuzzer_sys::fuzz_target;
use xxhash_rust::xxh3::xxh3_64;

fn check(bytes: &[u8]) {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    pool.func(Func::Sin, &[x]).unwrap();
    let before = pool.len();
    match load_into(&pool, bytes) {
        Ok(ids) => assert!(ids.iter().all(|i| i.index() < pool.len())),
        Err(_) => assert_eq!(pool.len(), before, "failed load changed the pool"),
    }
    let _ = from_bytes(bytes);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    // data = flags (4 bytes) ++ body.
    if data.len() >= 4 {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        b.extend_from_slice(&data[..4]);
        let total = (24 + data.len() - 4 + 8) as u64;
        b.extend_from_slice(&total.to_le_bytes());
        b.extend_from_slice(&data[4..]);
        let sum = xxh3_64(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        check(&b);
    }
});
