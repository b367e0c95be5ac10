//! Shared test helpers of this crate: optimization levels. The bound on
//! libmvec's few-ulp drift (`drift`), random expressions, special values and
//! comparisons come from `alkahest_testkit`.
#![allow(dead_code)]

// Not every test file uses each of these.
#[allow(unused_imports)]
pub use alkahest_testkit::drift::*;
#[allow(unused_imports)]
pub use alkahest_testkit::{SPECIALS, reads_nan_sign, same, ulps_apart};

/// The code-generation levels production uses: 0 for call-bound tapes
/// below a large batch (the compile crate's dispatch), 3 otherwise.
pub const LEVELS: [u8; 2] = [0, 3];

/// Options at one of [`LEVELS`].
pub fn at_level(opt_level: u8) -> alkahest_llvm::LlvmOptions {
    alkahest_llvm::LlvmOptions {
        opt_level,
        ..alkahest_llvm::LlvmOptions::default()
    }
}

/// The bulk entry's single output column (one-output functions).
pub fn bulk1(f: &dyn alkahest_tape::Evaluator, cols: &[&[f64]]) -> Vec<f64> {
    let n = cols.first().map_or(0, |c| c.len());
    let mut out = vec![0.0; n];
    f.eval_columns(cols, &mut [&mut out]);
    out
}
