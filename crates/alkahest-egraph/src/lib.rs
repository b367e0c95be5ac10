//! E-graph canonicalization and numerically stable rewriting.
//!
//! An expression from an [`alkahest_core::ExprPool`] goes into an egg
//! e-graph ([`lang::Math`]), is saturated with the topic-grouped rules of
//! [`rules`] under node, iteration and time limits, and comes back into the
//! same pool through the canonical builders. Two extraction costs exist
//! ([`Cost`]): operation count, and a stability cost that penalizes
//! cancellation and overflow-prone shapes. Accuracy is then *measured*, not
//! guessed: candidates run in float64 through the tape and the
//! reference interpreter and are scored in bits of error against an MPFR
//! reference ([`accuracy`]); the most accurate wins.
//!
//! Invariants every rule keeps are listed in the crate README.

mod analysis;
mod convert;
mod cost;
mod error;
mod expand;
mod regimes;
mod schedule;
mod search;
mod simplify;
mod special;

pub mod accuracy;
pub mod lang;
pub mod rules;

pub use accuracy::{
    GroundTruth, Precision, Reference, SampleStats, Sampled, Sampler, Samples, error_bits, ulp_bits,
};
pub use analysis::{Facts, MathAnalysis, MathGraph};
pub use convert::{add_to_egraph, build_in_pool};
pub use cost::Cost;
pub use error::{Error, Result};
pub use regimes::Regime;
pub use simplify::{Options, Report, StopReason, free_symbols, simplify};
