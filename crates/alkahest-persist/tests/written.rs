//! The written-forms section of pool files (format version 2): how an
//! expression was grouped survives saving, and a damaged section is an
//! error before anything is loaded.

mod common;

use alkahest_core::{ExprPool, Written, WrittenOp};
use alkahest_persist::{
    Error, FLAG_WRITTEN, from_bytes, load_into, load_into_written, to_bytes, to_bytes_written,
};
use common::reseal;

/// `x * (y * z)`: one flat product in the pool, two steps as written.
fn regrouped(p: &ExprPool) -> (alkahest_core::ExprId, Written) {
    let (x, y, z) = (
        p.symbol("x").unwrap(),
        p.symbol("y").unwrap(),
        p.symbol("z").unwrap(),
    );
    let yz = p.mul(&[y, z]).unwrap();
    let w_yz = Written::op(
        p,
        WrittenOp::Mul,
        vec![Written::expr(y), Written::expr(z)],
        yz,
    );
    let xyz = p.mul(&[x, yz]).unwrap();
    let w = Written::op(p, WrittenOp::Mul, vec![Written::expr(x), w_yz], xyz);
    assert!(w.leaf().is_none());
    (xyz, w)
}

#[test]
fn written_forms_round_trip_and_plain_files_are_unchanged() {
    let p = ExprPool::new();
    let (e, w) = regrouped(&p);
    let bytes = to_bytes_written(&p, &[e], std::slice::from_ref(&w)).unwrap();
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 2);
    let flags = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
    assert_eq!(flags & FLAG_WRITTEN, FLAG_WRITTEN);

    let q = ExprPool::new();
    let back = load_into_written(&q, &bytes).unwrap();
    assert_eq!(back.len(), 1);
    let (e2, w2) = &back[0];
    assert_eq!(q.key(*e2).unwrap(), p.key(e).unwrap());
    assert_eq!(
        Written::content_keys(&q, std::slice::from_ref(w2)).unwrap(),
        Written::content_keys(&p, &[w]).unwrap()
    );
    // Readers that want only the expressions get only the expressions.
    assert_eq!(load_into(&ExprPool::new(), &bytes).unwrap().len(), 1);
    assert_eq!(from_bytes(&bytes).unwrap().1.len(), 1);

    // An expression written canonically needs no section: version 1, the
    // same bytes as before.
    let plain = to_bytes_written(&p, &[e], &[Written::expr(e)]).unwrap();
    assert_eq!(plain, to_bytes(&p, &[e]).unwrap());
    assert_eq!(u32::from_le_bytes(plain[8..12].try_into().unwrap()), 1);
}

#[test]
fn a_damaged_section_is_rejected_before_loading() {
    let p = ExprPool::new();
    let (e, w) = regrouped(&p);
    let bytes = to_bytes_written(&p, &[e], &[w]).unwrap();
    // The section sits just before the 16-byte digest and the checksum.
    let end = bytes.len() - 8 - 16;
    for cut in [1usize, 2, 3] {
        let mut b = bytes.clone();
        b[end - cut] ^= 0x5a;
        reseal(&mut b);
        let q = ExprPool::new();
        let r = load_into_written(&q, &b);
        assert!(r.is_err(), "flip at -{cut}");
        assert_eq!(q.len(), 0, "nothing loaded on error");
    }
    // The written flag on a version-1 file is not a version-1 flag.
    let mut b = bytes.clone();
    b[8..12].copy_from_slice(&1u32.to_le_bytes());
    reseal(&mut b);
    assert!(matches!(
        load_into(&ExprPool::new(), &b),
        Err(Error::UnsupportedFlags(FLAG_WRITTEN))
    ));
}
