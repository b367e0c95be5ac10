//! The order in which a code generator emits a tape's operations.
//!
//! Why: a math-library call is an opaque function of 50-100 instructions,
//! and the CPU overlaps it only with work that is near it in the
//! instruction stream and does not depend on it. The tape's own order
//! comes from a depth-first walk, which puts each call right before its
//! users, so one call waits for the previous one. On the random 2.7k-op
//! DAG of `bench_peers.py` (~900 calls), a single-point call took 8.0 us
//! (LLVM) and 9.0 (Cranelift) in that order, Numba's compile of the DAG's
//! own creation order 6.2 us, and Numba given our order 7.8. In the order
//! below: 5.3-5.6 and 5.5-5.8 us, and the LLVM batch 1.9x faster.

use std::cmp::Reverse;

use crate::tape::Tape;

/// The operations `start..end` of `tape` in the order to emit them:
/// longest remaining path first, where an op's remaining path is the
/// longest chain of operations from it to the end of the range, weighed by
/// [`Op::cost`](crate::Op::cost) (calls 20, division and square root 4,
/// the rest 1); ties keep the tape's order.
///
/// Operations at the same distance from the end do not depend on each
/// other, so independent calls sit next to each other, where out-of-order
/// execution runs them together. A value needed only near the end is
/// computed near the end, so it does not hold a register for long:
/// ordering by the earliest possible start instead put every call on an
/// input first, and the 4-link pendulum's batch ran 10-20% slower than in
/// this order. Every operation still comes after its operands (an operand's
/// remaining path is longer than its user's, or equal for a free input or
/// constant, which comes first in tape order), and each computes exactly
/// what it did, so results are the same bit for bit. Ranges with fewer than
/// two calls keep the tape's order: without calls the CPU's window already
/// spans the dependent work.
pub fn emission_order(tape: &Tape, start: usize, end: usize) -> Vec<usize> {
    let ops = &tape.ops()[start..end];
    if ops.iter().filter(|op| op.is_call()).take(2).count() < 2 {
        return (start..end).collect();
    }
    // tail[i - start]: the longest path from op i's start to the range's
    // end (values used after the range count to their own end).
    let mut tail: Vec<u64> = ops.iter().map(|op| u64::from(op.cost())).collect();
    for k in (0..ops.len()).rev() {
        let t = tail[k];
        for r in ops[k].operands() {
            if let Some(j) = (r as usize).checked_sub(start) {
                tail[j] = tail[j].max(u64::from(ops[j].cost()) + t);
            }
        }
    }
    let mut order: Vec<(Reverse<u64>, usize)> = tail
        .iter()
        .enumerate()
        .map(|(k, &t)| (Reverse(t), start + k))
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Op, UnaryFn};

    /// Two chains `sin(sin(x))` and `cos(cos(y))` written one after the
    /// other come out interleaved: both first calls, then both second ones.
    #[test]
    fn independent_calls_come_together() {
        let ops = vec![
            Op::Input(0),
            Op::Input(1),
            Op::Unary(UnaryFn::Sin, 0),
            Op::Unary(UnaryFn::Sin, 2),
            Op::Unary(UnaryFn::Cos, 1),
            Op::Unary(UnaryFn::Cos, 4),
            Op::Add(3, 5),
        ];
        let tape = Tape::new(2, ops, vec![6]).unwrap();
        assert_eq!(emission_order(&tape, 0, 7), vec![0, 1, 2, 4, 3, 5, 6]);
        // Operands before the range are ready at once.
        assert_eq!(emission_order(&tape, 2, 7), vec![2, 4, 3, 5, 6]);
    }

    /// A call whose value is needed only at the end comes late, beside the
    /// last call of the independent chain, not first.
    #[test]
    fn late_values_come_late() {
        let ops = vec![
            Op::Input(0),
            Op::Input(1),
            Op::Unary(UnaryFn::Sin, 0),
            Op::Unary(UnaryFn::Cos, 1),
            Op::Unary(UnaryFn::Cos, 3),
            Op::Unary(UnaryFn::Cos, 4),
            Op::Add(2, 5),
        ];
        let tape = Tape::new(2, ops, vec![6]).unwrap();
        assert_eq!(emission_order(&tape, 0, 7), vec![1, 3, 4, 0, 2, 5, 6]);
    }

    /// Without two calls the tape's order stands.
    #[test]
    fn arithmetic_keeps_its_order() {
        let ops = vec![
            Op::Input(0),
            Op::Mul(0, 0),
            Op::Mul(1, 1),
            Op::Add(0, 0),
            Op::Unary(UnaryFn::Sin, 2),
            Op::Add(3, 4),
        ];
        let tape = Tape::new(1, ops, vec![5]).unwrap();
        assert_eq!(emission_order(&tape, 0, 6), (0..6).collect::<Vec<_>>());
    }
}
