//! The instruction tape: a straight-line SSA program lowered once from an
//! expression DAG.
//!
//! Every backend (interpreter, Cranelift, LLVM, MLIR, NVPTX, C source)
//! consumes a [`Tape`], so semantic decisions are made here exactly once:
//! integer powers become multiplication chains, `a + (-1)*b` becomes `a - b`,
//! `a * b**-1` becomes `a / b`, and equal operations share one register
//! (value numbering on top of the DAG's own sharing).
//!
//! `digamma` and `trigamma`, which no math library provides, are expanded
//! into ordinary tape operations by one recipe ([`special`]).
//!
//! The [`Evaluator`] trait is the contract every compiled form keeps.

mod contract;
mod error;
mod eval;
mod groups;
mod lower;
mod schedule;
pub mod special;
mod tape;
pub mod thirds;

pub use contract::{contract_fma, hardware_fma};
pub use error::{Error, Result};
pub use eval::{ConstantOutputs, Evaluator, SPLIT_CONSTANTS_ABOVE, ZeroedOutputs, check_columns};
pub use groups::{
    GROUPED_ABOVE, MAX_GROUP_INPUTS, MAX_GROUP_OUTPUTS, OutputGroup, group_block_points, may_group,
    output_groups,
};
pub use lower::{lower, lower_many, lower_overriding, lower_written};
pub use schedule::emission_order;
pub use tape::{BinaryFn, CmpOp, FnInfo, MAX_OPS, Monotone, Op, Reg, Tape, UnaryFn, select};
