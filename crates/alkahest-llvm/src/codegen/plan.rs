//! The plan: decisions about a tape's values made before any IR is
//! emitted: whether and where the tape is split into segments, which
//! values get scratch slots (and whether the scratch array fits on the
//! stack), and how many vectors the bulk loop computes per iteration.

use alkahest_tape::{Op, Tape};

/// Tapes with more compute operations than this are split into segments.
pub(crate) const SEGMENT_THRESHOLD: usize = 1500;
/// Compute operations per segment.
pub(crate) const SEGMENT_OPS: usize = 500;
/// Most vectors per iteration of the bulk loop (see `Plan::unroll`). Two,
/// measured on Zen 1 (256-bit operations split in two): 4 was no faster on a
/// dense degree-10 polynomial and slower on a Horner chain, where the
/// register-pressure scheduler serializes four chains again.
pub(crate) const MAX_UNROLL: u32 = 2;
/// Tape operations the unrolled bulk body may hold in all: only small tapes
/// are unrolled (up to 32 operations with two copies). Larger bodies have
/// independent work of their own, and the extra copy costs code-generation
/// time (measured +55% at ~120 operations, when `default<O3>` still ran).
pub(super) const UNROLL_BUDGET: usize = 64;
/// Scratch arrays up to this size live on the stack, larger ones on the heap.
pub(super) const MAX_STACK_SCRATCH: u64 = 64 * 1024;
/// Marks a register that needs no scratch slot.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// How a tape is split into separately compiled segments.
pub(super) struct Plan {
    /// Op index range of each segment (one segment covering everything when
    /// the tape is small).
    pub(super) ranges: Vec<(usize, usize)>,
    /// Scratch slot of each register read outside the segment defining it
    /// (inputs, which the entry defines, included); empty for one segment.
    pub(super) slot: Vec<u32>,
    /// Number of scratch slots.
    pub(super) n_slots: u32,
}

impl Plan {
    /// The plan of a module with no tape (the routine library's).
    pub(super) fn empty() -> Plan {
        Plan {
            ranges: Vec::new(),
            slot: Vec::new(),
            n_slots: 0,
        }
    }

    pub(super) fn new(tape: &Tape) -> Plan {
        let n = tape.ops().len();
        if !segmented(tape) {
            return Plan {
                ranges: vec![(0, n)],
                slot: Vec::new(),
                n_slots: 0,
            };
        }
        // Segment 0 is the entry (inputs); 1..=S the segment functions;
        // S + 1 the entry again, reading the outputs.
        let is_const = |r: usize| matches!(tape.ops()[r], Op::Const(_));
        let mut seg = vec![0u32; n];
        let mut ranges = Vec::new();
        let (mut start, mut count) = (tape.n_inputs(), 0);
        for (i, seg_i) in seg.iter_mut().enumerate().skip(tape.n_inputs()) {
            *seg_i = ranges.len() as u32 + 1;
            if !is_const(i) {
                count += 1;
            }
            if count == SEGMENT_OPS && i + 1 < n {
                ranges.push((start, i + 1));
                (start, count) = (i + 1, 0);
            }
        }
        ranges.push((start, n));
        let n_segs = ranges.len();
        // Last segment reading each value defined in an earlier one.
        let mut last = vec![0u32; n];
        for (i, op) in tape.ops().iter().enumerate() {
            for r in op.operands().map(|r| r as usize) {
                if !is_const(r) && seg[r] < seg[i] {
                    last[r] = last[r].max(seg[i]);
                }
            }
        }
        // Outputs are read by the entry after the last segment (inputs and
        // constants among them come straight from the entry).
        for &out in tape.outputs() {
            let out = out as usize;
            if !is_const(out) && out >= tape.n_inputs() {
                last[out] = n_segs as u32 + 1;
            }
        }
        // Linear scan: a slot is reused once the last segment reading its
        // value is over; values read inside a segment keep their slots
        // until that segment ends, so a store never clobbers a pending load.
        let mut slot = vec![NO_SLOT; n];
        let mut release: Vec<Vec<u32>> = vec![Vec::new(); n_segs + 2];
        let mut free: Vec<u32> = Vec::new();
        let mut n_slots = 0u32;
        let mut assign = |i: usize, free: &mut Vec<u32>, release: &mut Vec<Vec<u32>>| {
            if last[i] > 0 {
                let s = free.pop().unwrap_or_else(|| {
                    n_slots += 1;
                    n_slots - 1
                });
                slot[i] = s;
                release[last[i] as usize].push(s);
            }
        };
        for i in 0..tape.n_inputs() {
            assign(i, &mut free, &mut release);
        }
        for (s, &(a, b)) in ranges.iter().enumerate() {
            let done = std::mem::take(&mut release[s]);
            free.extend(done);
            for i in a..b {
                assign(i, &mut free, &mut release);
            }
        }
        Plan {
            ranges,
            slot,
            n_slots,
        }
    }

    pub(super) fn segmented(&self) -> bool {
        !self.slot.is_empty()
    }

    /// Vectors per iteration of the bulk loop's main part: independent
    /// copies of the body let the CPU overlap their dependency chains (a
    /// Horner polynomial is one long chain of 3-4 cycle operations). Only
    /// for unsegmented tapes of at most `UNROLL_BUDGET / 2` operations, so
    /// code size and compile time stay bounded.
    pub(super) fn unroll(&self, tape: &Tape) -> u32 {
        if self.segmented() {
            return 1;
        }
        let ops = tape.n_compute().max(1);
        (UNROLL_BUDGET / ops).clamp(1, MAX_UNROLL as usize) as u32
    }
}

/// Whether `tape` is split into segments, and then compiled for speed.
pub(crate) fn segmented(tape: &Tape) -> bool {
    tape.n_compute() > SEGMENT_THRESHOLD
}
