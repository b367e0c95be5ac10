//! The builder's symbol-name limit and the file format's agree: the longest
//! name a pool accepts saves and loads; a longer one in a (crafted) file is
//! refused with `LimitExceeded`.

mod common;

use alkahest_core::{ExprPool, Func};
use alkahest_persist::{Error, MAX_SYMBOL_BYTES, from_bytes, load, save, to_bytes};

#[test]
fn the_limits_are_one() {
    assert_eq!(MAX_SYMBOL_BYTES, ExprPool::MAX_SYMBOL_BYTES as u64);
}

#[test]
fn the_longest_buildable_name_round_trips() {
    let p = ExprPool::new();
    let name = "é".repeat(ExprPool::MAX_SYMBOL_BYTES / 2);
    let s = p.symbol(&name).unwrap();
    let e = p.func(Func::Sin, &[s]).unwrap();
    let bytes = to_bytes(&p, &[e]).unwrap();
    let (q, ids) = from_bytes(&bytes).unwrap();
    assert_eq!(q.key(ids[0]).unwrap(), p.key(e).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.alk");
    save(&p, &[e], &path).unwrap();
    let (r, ids) = load(&path).unwrap();
    assert_eq!(r.key(ids[0]).unwrap(), p.key(e).unwrap());
    // One byte more cannot be built, so cannot be saved.
    assert!(p.symbol(&format!("{name}x")).is_err());
}

#[test]
fn a_longer_name_in_a_file_is_refused() {
    let p = ExprPool::new();
    let name = "y".repeat(ExprPool::MAX_SYMBOL_BYTES);
    let s = p.symbol(&name).unwrap();
    let mut bytes = to_bytes(&p, &[s]).unwrap();
    // The name's length prefix, 65536 as LEB128, becomes 65537.
    let mut prefix = Vec::new();
    common::varint(&mut prefix, MAX_SYMBOL_BYTES);
    let at = bytes
        .windows(prefix.len() + 1)
        .position(|w| w[..prefix.len()] == prefix[..] && w[prefix.len()] == b'y')
        .unwrap();
    let mut longer = Vec::new();
    common::varint(&mut longer, MAX_SYMBOL_BYTES + 1);
    assert_eq!(longer.len(), prefix.len());
    bytes[at..at + longer.len()].copy_from_slice(&longer);
    common::reseal(&mut bytes);
    assert!(matches!(
        from_bytes(&bytes),
        Err(Error::LimitExceeded {
            what: "symbol name bytes",
            ..
        })
    ));
}
