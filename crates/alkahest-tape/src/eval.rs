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

    /// [`Evaluator::eval_columns`] into output columns that already hold
    /// `+0.0` everywhere (a freshly zeroed allocation): an evaluator may
    /// leave the outputs that are the constant `+0.0` unwritten, so their
    /// pages are never touched. The default writes every column.
    fn eval_columns_zeroed(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        self.eval_columns(columns, outs);
    }

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

/// Calls [`Evaluator::eval_columns_zeroed`] for `eval_columns`: hands a
/// batch whose output columns are known to be zeroed to code that only
/// knows `eval_columns` (the chunked and parallel drivers).
pub struct ZeroedOutputs<'a>(pub &'a dyn Evaluator);

impl Evaluator for ZeroedOutputs<'_> {
    fn n_inputs(&self) -> usize {
        self.0.n_inputs()
    }

    fn n_outputs(&self) -> usize {
        self.0.n_outputs()
    }

    fn eval(&self, inputs: &[f64], out: &mut [f64]) {
        self.0.eval(inputs, out);
    }

    fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        self.0.eval_columns_zeroed(columns, outs);
    }

    fn eval_columns_zeroed(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        self.0.eval_columns_zeroed(columns, outs);
    }
}

/// Tapes with more outputs than this have their constant outputs split
/// off ([`ConstantOutputs::split`]).
pub const SPLIT_CONSTANTS_ABOVE: usize = 16;

/// A many-output tape whose constant outputs are filled in rather than
/// computed: the code generators compile the tape of the other outputs
/// only, and this evaluator writes each constant column with one fill (or,
/// for `+0.0` into zeroed columns, not at all).
///
/// Why: a Jacobian is mostly constant zeros (3,400 of the Brusselator's
/// 3,600 entries). Writing them from the compiled loop touches every
/// column's page for every block of points; filling column by column is a
/// sequential stream, and a freshly zeroed result needs none of it.
/// Results are bit-identical: a constant output is the constant's bits on
/// every tier.
#[derive(Clone, Debug)]
pub struct ConstantOutputs {
    n_outputs: usize,
    /// The outer output index of each inner (computed) output.
    computed: Vec<usize>,
    /// Outer output index and value of each constant output.
    constants: Vec<(usize, f64)>,
}

impl ConstantOutputs {
    /// The layout of `tape`'s outputs when it has more than
    /// [`SPLIT_CONSTANTS_ABOVE`] outputs, some constant and some not; `None`
    /// otherwise (compile the tape as it is). Cheap: no tape is built.
    pub fn of(tape: &crate::Tape) -> Option<ConstantOutputs> {
        let m = tape.n_outputs();
        if m <= SPLIT_CONSTANTS_ABOVE {
            return None;
        }
        let mut computed = Vec::new();
        let mut constants = Vec::new();
        for (k, &r) in tape.outputs().iter().enumerate() {
            match tape.ops()[r as usize] {
                crate::Op::Const(c) => constants.push((k, c)),
                _ => computed.push(k),
            }
        }
        (!constants.is_empty() && !computed.is_empty()).then_some(ConstantOutputs {
            n_outputs: m,
            computed,
            constants,
        })
    }

    /// [`ConstantOutputs::of`], with the tape the code generators compile:
    /// the same ops, the computed outputs only.
    pub fn split(tape: &crate::Tape) -> Option<(crate::Tape, ConstantOutputs)> {
        let layout = ConstantOutputs::of(tape)?;
        let outputs = layout.computed.iter().map(|&k| tape.outputs()[k]).collect();
        let t = crate::Tape::new(tape.n_inputs(), tape.ops().to_vec(), outputs)
            .expect("the same ops with a subset of valid outputs");
        Some((t, layout))
    }

    /// Outputs the compiled inner tape computes.
    pub fn n_computed(&self) -> usize {
        self.computed.len()
    }

    /// Whether some output is the constant `+0.0` (which a zeroed batch
    /// leaves unwritten).
    pub fn has_zeros(&self) -> bool {
        self.constants.iter().any(|&(_, c)| c.to_bits() == 0)
    }

    /// The evaluator of the whole tape, from `inner`, an evaluator of the
    /// tape [`ConstantOutputs::split`] returned.
    pub fn wrap(self, inner: std::sync::Arc<dyn Evaluator>) -> std::sync::Arc<dyn Evaluator> {
        debug_assert_eq!(inner.n_outputs(), self.computed.len());
        std::sync::Arc::new(WithConstants {
            inner,
            layout: self,
        })
    }
}

/// [`ConstantOutputs::wrap`]'s evaluator.
struct WithConstants {
    inner: std::sync::Arc<dyn Evaluator>,
    layout: ConstantOutputs,
}

impl WithConstants {
    fn columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]], zeroed: bool) {
        let mut computed: Vec<&mut [f64]> = Vec::with_capacity(self.layout.computed.len());
        let mut next = self.layout.computed.iter().peekable();
        let mut constants = self.layout.constants.iter();
        let bytes: usize = outs.iter().map(|o| o.len() * 8).sum();
        let stream = bytes >= STREAM_FILL_MIN_BYTES;
        let mut streamed = false;
        for (k, o) in outs.iter_mut().enumerate() {
            if next.peek() == Some(&&k) {
                next.next();
                computed.push(&mut **o);
            } else {
                let &(_, c) = constants
                    .next()
                    .expect("every output is computed or constant");
                if !(zeroed && c.to_bits() == 0) {
                    if stream {
                        streamed |= fill_streaming(o, c);
                    } else {
                        o.fill(c);
                    }
                }
            }
        }
        if streamed {
            store_fence();
        }
        if zeroed {
            self.inner.eval_columns_zeroed(columns, &mut computed);
        } else {
            self.inner.eval_columns(columns, &mut computed);
        }
    }
}

/// Calls writing at least this many output bytes fill constant columns
/// with streaming (non-temporal) stores: such a result is far larger than
/// the caches, and a cached store first reads each line it writes (the
/// chem Jacobian's 386 constant-zero columns into a warm `out=`, 69,444
/// points: 221 -> 175-187 ns per point). The LLVM tier's staged loop streams
/// its computed columns above the same size.
const STREAM_FILL_MIN_BYTES: usize = 4 << 20;

/// Fill `o` with `c`, the 16-byte-aligned middle with streaming stores;
/// returns whether any were used (they need [`store_fence`] before the
/// result is handed on). Elsewhere than x86-64, a plain fill.
fn fill_streaming(o: &mut [f64], c: f64) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_set1_pd, _mm_stream_pd};
        // SAFETY: `align_to_mut` on f64 -> [f64; 2] only reinterprets
        // initialized f64s as pairs of them; every bit pattern is valid.
        let (head, mid, tail) = unsafe { o.align_to_mut::<std::arch::x86_64::__m128d>() };
        head.fill(c);
        tail.fill(c);
        // SAFETY (both blocks): SSE2 is part of x86-64; each `p` is a
        // valid, 16-byte-aligned place in `o`.
        let v = unsafe { _mm_set1_pd(c) };
        for p in mid.iter_mut() {
            unsafe { _mm_stream_pd(std::ptr::from_mut(p).cast::<f64>(), v) };
        }
        !mid.is_empty()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        o.fill(c);
        false
    }
}

/// Order the streaming stores of [`fill_streaming`] before any later
/// store (and before another thread reads the result).
fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sfence` has no preconditions (SSE is part of x86-64).
    unsafe {
        std::arch::x86_64::_mm_sfence();
    }
}

impl Evaluator for WithConstants {
    fn n_inputs(&self) -> usize {
        self.inner.n_inputs()
    }

    fn n_outputs(&self) -> usize {
        self.layout.n_outputs
    }

    fn eval(&self, inputs: &[f64], out: &mut [f64]) {
        // A single point costs a microsecond or so: up to 512 computed
        // outputs go through the stack instead of a heap allocation.
        let n = self.layout.computed.len();
        let mut stack = [0.0; 512];
        let mut heap = Vec::new();
        let computed = if n <= stack.len() {
            &mut stack[..n]
        } else {
            heap.resize(n, 0.0);
            &mut heap[..]
        };
        self.inner.eval(inputs, computed);
        for (&k, &v) in self.layout.computed.iter().zip(computed.iter()) {
            out[k] = v;
        }
        for &(k, c) in &self.layout.constants {
            out[k] = c;
        }
    }

    fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        self.columns(columns, outs, false);
    }

    fn eval_columns_zeroed(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        self.columns(columns, outs, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inner evaluator of a one-input tape whose only computed output
    /// is its input.
    struct Copy;

    impl Evaluator for Copy {
        fn n_inputs(&self) -> usize {
            1
        }
        fn n_outputs(&self) -> usize {
            1
        }
        fn eval(&self, inputs: &[f64], out: &mut [f64]) {
            out[0] = inputs[0];
        }
        fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
            outs[0].copy_from_slice(columns[0]);
        }
    }

    #[test]
    fn streaming_fill_writes_every_element_at_any_alignment() {
        let mut buf = vec![f64::NAN; 64];
        for start in 0..3 {
            for len in 0..20 {
                buf.fill(f64::NAN);
                let o = &mut buf[start..start + len];
                let streamed = fill_streaming(o, -0.0);
                if streamed {
                    store_fence();
                }
                assert!(o.iter().all(|v| v.to_bits() == (-0.0f64).to_bits()));
                // Neighbours untouched.
                assert!(buf[..start].iter().all(|v| v.is_nan()));
                assert!(buf[start + len..].iter().all(|v| v.is_nan()));
            }
        }
    }

    #[test]
    fn constant_columns_are_written_above_the_streaming_size() {
        // 17 outputs (above SPLIT_CONSTANTS_ABOVE), 16 of them constant,
        // columns large enough to stream, not zeroed: every constant is
        // written, the zeros too.
        let mut ops = vec![crate::Op::Input(0)];
        let mut outputs = vec![0];
        for k in 0..16 {
            ops.push(crate::Op::Const(if k % 2 == 0 { 0.0 } else { k as f64 }));
            outputs.push(k + 1);
        }
        let tape = crate::Tape::new(1, ops, outputs).unwrap();
        let (inner, layout) = ConstantOutputs::split(&tape).unwrap();
        assert_eq!(inner.n_outputs(), 1);
        let ev = layout.wrap(std::sync::Arc::new(Copy));
        let n = STREAM_FILL_MIN_BYTES / 8 / 17 + 3;
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut cols = vec![vec![f64::NAN; n]; 17];
        let mut outs: Vec<&mut [f64]> = cols.iter_mut().map(|c| c.as_mut_slice()).collect();
        ev.eval_columns(&[&x], &mut outs);
        assert_eq!(cols[0], x);
        for k in 0..16 {
            let c = if k % 2 == 0 { 0.0 } else { k as f64 };
            assert!(cols[k + 1].iter().all(|&v| v == c), "output {}", k + 1);
        }
    }
}
