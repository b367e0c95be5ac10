//! Lowering passes over the `alkahest` dialect, written against the MLIR
//! API: a walker reads each op of an alkahest function (name, operands,
//! attributes) and rebuilds it with melior in a target dialect through a
//! [`Sink`](walk::Sink): `arith` + `math` ([`ArithSink`](arith::ArithSink)),
//! ball arithmetic in `arith` + `math` ([`BallSink`](ball::BallSink), the
//! lowering of `alkahest.interval_eval`) or StableHLO/CHLO generic ops
//! ([`HloSink`](stablehlo::HloSink)).
//!
//! * `walk`: the [`Sink`](walk::Sink) trait and the walker that reduces every
//!   alkahest op to its primitive operations;
//! * `arith`: the `arith` + `math` sink and [`lower_to_arith`] (with LLVM
//!   intrinsics on the LLVM path);
//! * `ball`: midpoint-radius ball arithmetic on top of the `arith` sink;
//! * `stablehlo`: the StableHLO sink and [`lower_to_hlo`].

mod arith;
mod ball;
mod stablehlo;
mod walk;

#[cfg(test)]
pub(crate) use arith::Split;
pub(crate) use arith::{SplitPolicy, lower_to_arith};
pub(crate) use stablehlo::lower_to_hlo;
