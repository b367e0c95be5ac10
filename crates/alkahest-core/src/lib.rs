//! The bottom of Alkahest: a hash-consed expression DAG.
//!
//! Every expression lives in an [`ExprPool`] and is named by an [`ExprId`].
//! Interning guarantees that two structurally equal expressions get the same
//! id, so equality, hashing and common-subexpression detection are O(1).
//! Children always have smaller ids than their parents, which makes "ascending
//! id order" a topological order: every traversal in the project is a loop,
//! never recursion, so 100,000-deep chains cannot overflow the stack.

mod build;
mod diff;
mod error;
mod node;
mod number;
mod poly;
mod pool;
mod print;
mod written;

pub use error::{Error, Result};
pub use node::{ContentKey, ExprId, Func, FuncInfo, Kind, Node};
pub use number::Number;
pub use poly::{horner, may_be_polynomial};
pub use pool::{ExprPool, NodeView, PoolId};
pub use print::to_string;
pub use written::{Written, WrittenOp, WrittenView};
