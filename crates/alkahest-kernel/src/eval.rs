//! The contract every compiled form of a tape keeps.

use crate::error::{Error, Result};

/// A compiled expression: the interpreter, a JIT's machine code, or anything
/// else that evaluates a [`crate::Tape`]. Implementations must be
/// thread-safe: one evaluator is called from many threads at once.
///
/// A function has `n_outputs()` results (one for a scalar expression; `m`
/// for `compile_expr([e1, ..., em], vars)`), all computed in one pass so
/// that common subexpressions are shared.
pub trait Evaluator: Send + Sync {
    /// Number of inputs per point.
    fn n_inputs(&self) -> usize;

    /// Number of results per point.
    fn n_outputs(&self) -> usize;

    /// Evaluate one point into `out`. `inputs.len() == self.n_inputs()` and
    /// `out.len() == self.n_outputs()` (checked by callers).
    fn eval(&self, inputs: &[f64], out: &mut [f64]);

    /// Evaluate many points: `columns[v][i]` is variable `v` at point `i`;
    /// output `k` at point `i` goes to `outs[k][i]`. There is one output
    /// column per output, and every input and output column has the same
    /// length (checked by callers with [`check_columns`]).
    fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]);

    /// The first output at one point: the value of a scalar function
    /// (a convenience for callers that know there is one output).
    fn eval_scalar(&self, inputs: &[f64]) -> f64 {
        let mut out = vec![0.0; self.n_outputs()];
        self.eval(inputs, &mut out);
        out[0]
    }
}

/// Validate batch arguments before they reach an [`Evaluator`]: `n_inputs`
/// input columns and `n_outputs` output columns, all of one length. Returns
/// that length.
pub fn check_columns(
    n_inputs: usize,
    n_outputs: usize,
    columns: &[&[f64]],
    outs: &[&mut [f64]],
) -> Result<usize> {
    if columns.len() != n_inputs {
        return Err(Error::Arity {
            expected: n_inputs,
            got: columns.len(),
        });
    }
    if outs.len() != n_outputs {
        return Err(Error::Outputs {
            expected: n_outputs,
            got: outs.len(),
        });
    }
    let n = outs.first().map_or(0, |o| o.len());
    for (index, c) in columns.iter().enumerate() {
        if c.len() != n {
            return Err(Error::Length {
                index,
                expected: n,
                got: c.len(),
            });
        }
    }
    if let Some(o) = outs.iter().find(|o| o.len() != n) {
        return Err(Error::Length {
            index: columns.len(),
            expected: n,
            got: o.len(),
        });
    }
    Ok(n)
}
