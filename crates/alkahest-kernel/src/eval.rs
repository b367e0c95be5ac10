//! The contract every compiled form of a tape keeps.

use crate::error::{Error, Result};

/// A compiled expression: the interpreter, a JIT's machine code, or anything
/// else that evaluates a [`crate::Tape`]. Implementations must be
/// thread-safe: one evaluator is called from many threads at once.
pub trait Evaluator: Send + Sync {
    /// Number of inputs per point.
    fn n_inputs(&self) -> usize;

    /// Evaluate one point. `inputs.len() == self.n_inputs()` (checked by callers).
    fn eval(&self, inputs: &[f64]) -> f64;

    /// Evaluate many points: `columns[v][i]` is variable `v` at point `i`;
    /// result `i` goes to `out[i]`. Every column has `out.len()` points
    /// (checked by callers with [`check_columns`]).
    fn eval_columns(&self, columns: &[&[f64]], out: &mut [f64]);
}

/// Validate batch arguments before they reach an [`Evaluator`].
pub fn check_columns(n_inputs: usize, columns: &[&[f64]], n_out: usize) -> Result<()> {
    if columns.len() != n_inputs {
        return Err(Error::Arity {
            expected: n_inputs,
            got: columns.len(),
        });
    }
    for (index, c) in columns.iter().enumerate() {
        if c.len() != n_out {
            return Err(Error::Length {
                index,
                expected: n_out,
                got: c.len(),
            });
        }
    }
    Ok(())
}
