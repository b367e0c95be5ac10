//! Symbol names: non-empty and at most `ExprPool::MAX_SYMBOL_BYTES` bytes,
//! the pool file format's limit, so every symbol that is built can be saved.

use alkahest_core::{Error, ExprPool, Node};

#[test]
fn names_up_to_the_limit_are_symbols() {
    let p = ExprPool::new();
    assert_eq!(ExprPool::MAX_SYMBOL_BYTES, 1 << 16);
    let longest = "x".repeat(ExprPool::MAX_SYMBOL_BYTES);
    let s = p.symbol(&longest).unwrap();
    assert!(matches!(p.node(s).unwrap(), Node::Symbol(n) if n.len() == longest.len()));
    // Bytes of UTF-8 count, not characters.
    let wide = "é".repeat(ExprPool::MAX_SYMBOL_BYTES / 2);
    p.symbol(&wide).unwrap();
}

#[test]
fn longer_or_empty_names_are_refused() {
    let p = ExprPool::new();
    for name in [
        "x".repeat(ExprPool::MAX_SYMBOL_BYTES + 1),
        "é".repeat(ExprPool::MAX_SYMBOL_BYTES / 2 + 1),
        "y".repeat(10 * ExprPool::MAX_SYMBOL_BYTES),
    ] {
        let e = p.symbol(&name).unwrap_err();
        assert!(matches!(e, Error::InvalidSymbolName(_)), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("at most 65536 bytes"), "{msg}");
        assert!(msg.contains(&format!("({} bytes)", name.len())), "{msg}");
        assert!(msg.len() < 300, "the message does not repeat the name");
    }
    let e = p.symbol("").unwrap_err();
    assert!(matches!(&e, Error::InvalidSymbolName(n) if n.is_empty()));
    assert!(e.to_string().contains("non-empty"));
    assert_eq!(p.len(), 0, "nothing was interned");
}
