//! docs/limits.md is the one table of size limits: each number it states
//! must be the constant the code enforces, so the two cannot drift apart.

use alkahest_core::ExprPool;

fn table() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/limits.md");
    std::fs::read_to_string(path).expect("docs/limits.md exists")
}

/// The value column (its first number) of the row whose constant column names `constant`.
fn value_of(table: &str, constant: &str) -> String {
    let row = table
        .lines()
        .find(|l| l.starts_with('|') && l.contains(&format!("`{constant}`")))
        .unwrap_or_else(|| panic!("no row names `{constant}`"));
    row.split('|').nth(2).unwrap().trim().to_owned()
}

fn number(value: &str) -> u64 {
    value
        .split_whitespace()
        .find_map(|n| n.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no number in {value:?}"))
}

#[test]
fn documented_limits_are_the_enforced_constants() {
    let t = table();
    let cases: [(&str, u64); 8] = [
        (
            "alkahest_core::ExprPool::MAX_SYMBOL_BYTES",
            ExprPool::MAX_SYMBOL_BYTES as u64,
        ),
        (
            "alkahest_core::ExprPool::FLATTEN_LIMIT",
            ExprPool::FLATTEN_LIMIT as u64,
        ),
        (
            "alkahest_persist::MAX_NUMBER_BYTES",
            alkahest_persist::MAX_NUMBER_BYTES,
        ),
        (
            "alkahest_persist::MAX_FILE_BYTES",
            alkahest_persist::MAX_FILE_BYTES,
        ),
        (
            "alkahest_persist::MAX_ENTRY_BYTES",
            alkahest_persist::MAX_ENTRY_BYTES,
        ),
        ("alkahest_tape::MAX_OPS", alkahest_tape::MAX_OPS as u64),
        (
            "alkahest_batch::MIN_THREAD_LIMIT",
            alkahest_batch::MIN_THREAD_LIMIT as u64,
        ),
        (
            "alkahest_series::MAX_ORDER",
            alkahest_series::MAX_ORDER as u64,
        ),
    ];
    for (constant, want) in cases {
        assert_eq!(number(&value_of(&t, constant)), want, "{constant}");
    }
    assert_eq!(
        number(&value_of(&t, "alkahest_compile::EXIT_WAIT")),
        alkahest_compile::EXIT_WAIT.as_secs()
    );
    // The file format's symbol limit is defined from the builder's.
    assert_eq!(
        alkahest_persist::MAX_SYMBOL_BYTES,
        ExprPool::MAX_SYMBOL_BYTES as u64
    );
}
