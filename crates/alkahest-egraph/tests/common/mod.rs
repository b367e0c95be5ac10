//! Shared helpers: expressions from text (the printed syntax, parsed by
//! `alkahest_testkit::parse`).
#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool};

/// Parse `src` (numbers, names, + - * / **, unary minus, calls) into `pool`.
pub fn parse(pool: &ExprPool, src: &str) -> ExprId {
    alkahest_testkit::parse::parse(pool, src).unwrap_or_else(|e| panic!("{e}"))
}
