//! Test support shared by Alkahest's crates. A dev-dependency only
//! (`publish = false`); nothing here is part of any public API.
//!
//! * [`values`]: bit-exact comparison ([`same`], [`bits`], [`ulps_apart`]),
//!   special values ([`SPECIALS`]), deterministic input columns;
//! * [`tapes`]: random valid tapes at the op level (every op, function and
//!   comparison; several outputs);
//! * [`exprs`]: random expressions built in an `ExprPool` (every numeric
//!   function, conditions and `where`, polynomials; several outputs), and
//!   a banded many-output function ([`banded`]);
//! * [`dags`]: random DAGs rich in exact and special numbers (persistence);
//! * [`drift`]: how far a libmvec batch may drift from the interpreter
//!   (a bound per register, propagated through a tape);
//! * [`parse`]: a parser for the printed syntax;
//! * [`tools`]: finding tools outside Rust (NVIDIA's pip wheel);
//! * [`golden`]: the golden-file format that `tests/golden.rs` runs under
//!   every emitter and engine (see the README).

pub mod dags;
pub mod drift;
pub mod exprs;
pub mod golden;
pub mod parse;
pub mod tapes;
pub mod tools;
pub mod values;

pub use exprs::{ExprGen, Program, Step, banded, programs};

/// Cases for a differential proptest: `default` normally, or the count in
/// `ALKAHEST_FUZZ_CASES` (what `make fuzz` sets for its long run). One knob
/// for every crate's differential tests, since proptest's own
/// `PROPTEST_CASES` does not override a count written in the test.
pub fn cases(default: u32) -> u32 {
    std::env::var("ALKAHEST_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
pub use tapes::{
    TapeGen, banded_tapes, batch_mismatch, binary_tape, reads_nan_sign, tapes, unary_tape,
};
pub use values::{SPECIALS, bits, same, ulps_apart};

// The optional backends serve only the golden-file runner (tests/golden.rs);
// naming them here keeps `unused_crate_dependencies` quiet if it is enabled.
#[cfg(feature = "cranelift")]
use alkahest_cranelift as _;
#[cfg(feature = "cuda")]
use alkahest_cuda as _;
#[cfg(feature = "jit")]
use alkahest_llvm as _;
#[cfg(feature = "mlir")]
use alkahest_mlir as _;
