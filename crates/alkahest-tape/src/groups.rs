//! Output groups: a wide tape's outputs split into groups that each need
//! few inputs and share their work, each group a tape of its own.
//!
//! Why: a JIT's batch loop that computes every output of a point at once
//! keeps every input live and touches every input and output column per
//! point. With 60 inputs and 60 outputs (a discretized PDE's right-hand
//! side) that is 120 memory streams at a time and spilled registers. Run
//! group by group over a block of points, each loop reads a few columns and
//! writes a few, and its values fit in registers (LLVM's grouped loop:
//! 45 -> 37 ns a point out of cache, 18 -> 9.5 in cache, on the
//! 60-output Brusselator right-hand side). A block's inputs stay in the L2
//! cache (see [`BLOCK_INPUT_BYTES`]) for the groups that read them again.
//!
//! Work two groups share is computed by both, so grouping is only offered
//! when that adds little (see [`MAX_REDO`]). Each output goes through the
//! same operations as in the whole tape, so results are the same bits.

use std::collections::HashMap;

use crate::{Op, Reg, Tape};

/// Tapes with more outputs than this may be grouped: with fewer, a JIT's
/// one loop over the whole tape writes few enough columns.
pub const GROUPED_ABOVE: usize = 16;
/// Most inputs one group reads: a group's columns are few enough streams
/// for the prefetchers, and its inputs fit in vector registers.
pub const MAX_GROUP_INPUTS: usize = 16;
/// Most compute operations in one group.
const MAX_GROUP_OPS: usize = 128;
/// Most outputs one group writes (repeated registers counted each time):
/// the stores of a vector step stay a short run in one basic block (see
/// the LLVM crate's `store_run` for why long runs cost compile time).
pub const MAX_GROUP_OUTPUTS: usize = 16;
/// Work recomputed by groups that share it, as a fraction `(num, den)` of
/// the tape's, weighed by [`Op::cost`] (a recomputed `sin` costs as much
/// as twenty additions): at most a quarter more than the tape itself.
const MAX_REDO: (usize, usize) = (5, 4);
/// Bytes of input a block should keep in cache while its groups run: the
/// block is the largest power of two of points whose inputs fit in this
/// (a quarter of a 1 MiB L2), within [`MIN_BLOCK`] and [`MAX_BLOCK`].
const BLOCK_INPUT_BYTES: u64 = 256 * 1024;
/// Fewest points per block: shorter runs per column lose the
/// prefetchers' head start (C model: 64 points cost 1.5x 512).
const MIN_BLOCK: u64 = 256;
/// Most points per block.
const MAX_BLOCK: u64 = 2048;

/// One group: some of the tape's outputs as a tape of their own.
pub struct OutputGroup {
    /// The group's operations, inputs renumbered `0..k`.
    pub tape: Tape,
    /// The whole tape's input index of each of the group's inputs.
    pub cols: Vec<usize>,
    /// The whole tape's output index of each of the group's outputs.
    pub outs: Vec<usize>,
}

/// Whether `tape` has the shape [`output_groups`] may group (more than
/// [`GROUPED_ABOVE`] outputs and [`MAX_GROUP_INPUTS`] inputs): a constant
/// test, for callers that plan the groups only once they are needed.
pub fn may_group(tape: &Tape) -> bool {
    tape.n_outputs() > GROUPED_ABOVE && tape.n_inputs() > MAX_GROUP_INPUTS
}

/// The groups for `tape`, or `None` when grouping would not pay or does not
/// fit: at most [`GROUPED_ABOVE`] outputs, at most [`MAX_GROUP_INPUTS`]
/// inputs (a loop over the whole tape then keeps few enough live), fewer
/// than two groups, an output that needs more inputs or operations than
/// one group may hold, a register that is more than
/// [`MAX_GROUP_OUTPUTS`] outputs, a constant output (a staged loop writes
/// those once per call; compiled functions have theirs split off before,
/// see [`crate::ConstantOutputs`]),
/// or more than [`MAX_REDO`] of the work once shared work is recomputed.
///
/// Outputs that share work (directly or through other outputs) are taken
/// together, in output order otherwise; one joins the group before it when
/// the two share a compute operation and the group stays within its bounds.
pub fn output_groups(tape: &Tape) -> Option<Vec<OutputGroup>> {
    if !may_group(tape) {
        return None;
    }
    let ops = tape.ops();
    let is_compute = |r: usize| !matches!(ops[r], Op::Input(_) | Op::Const(_));
    // Distinct output registers in order, and the outputs holding each.
    let mut outs_of: HashMap<Reg, Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (k, &r) in tape.outputs().iter().enumerate() {
        outs_of
            .entry(r)
            .or_insert_with(|| {
                order.push(r);
                Vec::new()
            })
            .push(k);
    }
    if order
        .iter()
        .any(|r| matches!(ops[*r as usize], Op::Const(_)) || outs_of[r].len() > MAX_GROUP_OUTPUTS)
    {
        return None;
    }

    // The cone of each distinct output register: every register it reads,
    // itself included. A cone too large for any group ends the plan at
    // once, so the walks cost at most a few hundred steps per output.
    let mut seen = vec![0u32; ops.len()];
    let mut stack = Vec::new();
    let mut cones: Vec<Vec<Reg>> = Vec::with_capacity(order.len());
    for (o, &root) in order.iter().enumerate() {
        let stamp = o as u32 + 1;
        let mut cone = Vec::new();
        let (mut cone_inputs, mut cone_ops) = (0usize, 0usize);
        stack.push(root);
        seen[root as usize] = stamp;
        while let Some(r) = stack.pop() {
            cone.push(r);
            match ops[r as usize] {
                Op::Input(_) => cone_inputs += 1,
                Op::Const(_) => {}
                _ => cone_ops += 1,
            }
            if cone_inputs > MAX_GROUP_INPUTS || cone_ops > MAX_GROUP_OPS {
                return None;
            }
            for a in ops[r as usize].operands() {
                if seen[a as usize] != stamp {
                    seen[a as usize] = stamp;
                    stack.push(a);
                }
            }
        }
        cones.push(cone);
    }

    // Outputs that share work, directly or through others, are taken one
    // after another, in output order otherwise: the groups then do not
    // depend on the order the outputs were listed in (`[du_0, dv_0, du_1,
    // ...]` and `[du_0, du_1, ..., dv_0, ...]` group alike).
    let comp = sharing_components(&cones, ops.len(), |r| is_compute(r as usize));
    let mut seq: Vec<usize> = (0..order.len()).collect();
    seq.sort_by_key(|&o| (comp[o], o));

    // One pass over `seq`: an output joins the group before it when the two
    // share a compute operation and the group stays within its bounds.
    // `mark[r]` is the last group that took register `r`, plus one.
    let mut mark = vec![0u32; ops.len()];
    let mut members: Vec<Vec<Reg>> = Vec::new();
    let mut group_regs: Vec<Vec<Reg>> = Vec::new();
    let (mut n_inputs, mut n_ops, mut n_outs) = (0usize, 0usize, 0usize);
    for &o in &seq {
        let (root, cone) = (order[o], &cones[o]);
        let g = members.len() as u32;
        let fresh = |r: &&Reg| mark[**r as usize] != g;
        let new_inputs = cone
            .iter()
            .filter(fresh)
            .filter(|&&r| matches!(ops[r as usize], Op::Input(_)))
            .count();
        let new_ops = cone
            .iter()
            .filter(fresh)
            .filter(|&&r| is_compute(r as usize))
            .count();
        let shares = cone
            .iter()
            .any(|&r| is_compute(r as usize) && mark[r as usize] == g && g > 0);
        let fits = n_inputs + new_inputs <= MAX_GROUP_INPUTS
            && n_ops + new_ops <= MAX_GROUP_OPS
            && n_outs + outs_of[&root].len() <= MAX_GROUP_OUTPUTS;
        if !(shares && fits) {
            members.push(Vec::new());
            group_regs.push(Vec::new());
            (n_inputs, n_ops, n_outs) = (0, 0, 0);
        }
        n_outs += outs_of[&root].len();
        let g = members.len() as u32;
        for &r in cone {
            if mark[r as usize] != g {
                mark[r as usize] = g;
                members[g as usize - 1].push(r);
                if matches!(ops[r as usize], Op::Input(_)) {
                    n_inputs += 1;
                } else if is_compute(r as usize) {
                    n_ops += 1;
                }
            }
        }
        group_regs[g as usize - 1].push(root);
    }
    if members.len() < 2 {
        return None;
    }
    // Work with recomputation against the tape's own (registers some
    // output reads).
    let cost = |r: Reg| ops[r as usize].cost() as usize;
    let grouped: usize = members.iter().flatten().map(|&r| cost(r)).sum();
    let mut used = vec![false; ops.len()];
    for &r in members.iter().flatten() {
        used[r as usize] = true;
    }
    let own: usize = (0..ops.len())
        .filter(|&r| used[r])
        .map(|r| cost(r as Reg))
        .sum();
    if grouped * MAX_REDO.1 > own * MAX_REDO.0 {
        return None;
    }
    members
        .into_iter()
        .zip(group_regs)
        .map(|(mut m, roots)| {
            // Tape order is an evaluation order; inputs come first in it.
            m.sort_unstable();
            let mut new_reg = HashMap::with_capacity(m.len());
            let mut cols = Vec::new();
            let mut sub = Vec::with_capacity(m.len());
            for &r in &m {
                new_reg.insert(r, sub.len() as Reg);
                sub.push(match ops[r as usize] {
                    Op::Input(v) => {
                        cols.push(v as usize);
                        Op::Input(cols.len() as u32 - 1)
                    }
                    op => op.map_regs(|a| new_reg[&a]),
                });
            }
            let (mut outputs, mut outs) = (Vec::new(), Vec::new());
            for r in roots {
                for &k in &outs_of[&r] {
                    outputs.push(new_reg[&r]);
                    outs.push(k);
                }
            }
            let tape = Tape::new(cols.len(), sub, outputs).ok()?;
            Some(OutputGroup { tape, cols, outs })
        })
        .collect()
}

/// The component of each cone in the graph where two cones are joined when
/// they hold a common register `shared` accepts (a union-find over the
/// cones, keyed by the first cone holding each register). A component's
/// number is its first cone's index.
fn sharing_components(
    cones: &[Vec<Reg>],
    n_regs: usize,
    shared: impl Fn(Reg) -> bool,
) -> Vec<usize> {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..cones.len()).collect();
    let mut holder = vec![usize::MAX; n_regs];
    for (o, cone) in cones.iter().enumerate() {
        for &r in cone.iter().filter(|&&r| shared(r)) {
            match holder[r as usize] {
                usize::MAX => holder[r as usize] = o,
                h => {
                    // The smaller root stays: a root is its set's first cone.
                    let (a, b) = (root(&mut parent, h), root(&mut parent, o));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    (0..cones.len()).map(|o| root(&mut parent, o)).collect()
}

/// Points per block for a tape of `n_inputs` inputs (see
/// [`BLOCK_INPUT_BYTES`]); a power of two, so a multiple of the lanes.
pub fn group_block_points(n_inputs: usize) -> u64 {
    let fit = BLOCK_INPUT_BYTES / (8 * n_inputs.max(1) as u64);
    let pow2 = if fit == 0 { 1 } else { 1 << fit.ilog2() };
    pow2.clamp(MIN_BLOCK, MAX_BLOCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A banded tape: output `2i` and `2i + 1` read inputs `i - 1 ..= i + 1`
    /// and share `x_i * x_i`.
    fn banded(cells: usize) -> Tape {
        let mut ops: Vec<Op> = (0..cells as u32).map(Op::Input).collect();
        let mut outs = Vec::new();
        for i in 0..cells {
            let l = i.saturating_sub(1) as Reg;
            let r = (i + 1).min(cells - 1) as Reg;
            let c = i as Reg;
            ops.push(Op::Mul(c, c));
            let sq = ops.len() as Reg - 1;
            ops.push(Op::Add(l, r));
            ops.push(Op::Sub(ops.len() as Reg - 1, sq));
            outs.push(ops.len() as Reg - 1);
            ops.push(Op::Mul(sq, r));
            outs.push(ops.len() as Reg - 1);
        }
        Tape::new(cells, ops, outs).unwrap()
    }

    #[test]
    fn banded_outputs_pair_up_and_keep_their_values() {
        let tape = banded(30);
        let gs = output_groups(&tape).expect("banded tape groups");
        assert_eq!(gs.len(), 30);
        let x: Vec<f64> = (0..30).map(|i| 0.5 + i as f64 * 0.37).collect();
        let want = tape.eval_point(&x);
        let mut seen = vec![false; tape.n_outputs()];
        for g in &gs {
            assert!(g.cols.len() <= 3);
            let xs: Vec<f64> = g.cols.iter().map(|&c| x[c]).collect();
            for (k, y) in g.outs.iter().zip(g.tape.eval_point(&xs)) {
                assert_eq!(y.to_bits(), want[*k].to_bits());
                seen[*k] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    /// `n` inputs, as the first ops of a tape.
    fn inputs(n: u32) -> Vec<Op> {
        (0..n).map(Op::Input).collect()
    }

    #[test]
    fn output_order_does_not_change_the_groups() {
        // The banded pairs listed as all first outputs, then all second
        // ones: each pair still shares `x_i * x_i`, 30 outputs apart.
        let tape = banded(30);
        let (n, ops, outs) = tape.clone().into_parts();
        let split: Vec<Reg> = outs
            .iter()
            .step_by(2)
            .chain(outs.iter().skip(1).step_by(2))
            .copied()
            .collect();
        let apart = Tape::new(n, ops, split).unwrap();
        let gs = output_groups(&apart).expect("groups");
        assert_eq!(gs.len(), 30);
        let x: Vec<f64> = (0..30).map(|i| 0.5 + i as f64 * 0.37).collect();
        let want = apart.eval_point(&x);
        for g in &gs {
            assert_eq!(g.outs.len(), 2);
            let xs: Vec<f64> = g.cols.iter().map(|&c| x[c]).collect();
            for (k, y) in g.outs.iter().zip(g.tape.eval_point(&xs)) {
                assert_eq!(y.to_bits(), want[*k].to_bits());
            }
        }
    }

    #[test]
    fn shared_work_everywhere_keeps_the_staged_loop() {
        // Every output reads one long chain: groups would redo it.
        let mut ops = inputs(20);
        for _ in 0..40 {
            let a = ops.len() as Reg - 1;
            ops.push(Op::Mul(a, 0));
        }
        let top = ops.len() as Reg - 1;
        let mut outs = Vec::new();
        for k in 0..20 {
            ops.push(Op::Add(top, k));
            ops.push(Op::Sub(ops.len() as Reg - 1, 0));
            outs.push(ops.len() as Reg - 1);
        }
        let tape = Tape::new(20, ops, outs).unwrap();
        assert!(output_groups(&tape).is_none());
    }

    #[test]
    fn a_shared_call_weighs_more_than_additions() {
        // 32 outputs `sin(x0 * x1) + x_k`: groups of 16 outputs would call
        // `sin` twice, 40 units more against 32 additions of the tape.
        let mut ops = inputs(32);
        ops.push(Op::Mul(0, 1));
        ops.push(Op::Unary(crate::UnaryFn::Sin, 32));
        let outs = (0..32)
            .map(|k| {
                ops.push(Op::Add(33, k));
                ops.len() as Reg - 1
            })
            .collect();
        assert!(output_groups(&Tape::new(32, ops, outs).unwrap()).is_none());
    }

    #[test]
    fn repeated_outputs_are_grouped_and_constants_are_left_to_the_staged_loop() {
        let mut ops = inputs(20);
        ops.push(Op::Mul(0, 1)); // 20
        ops.push(Op::Mul(2, 3)); // 21
        ops.push(Op::Const(2.5)); // 22
        let outs: Vec<Reg> = [20, 21, 20, 3, 21].repeat(4);
        let tape = Tape::new(20, ops.clone(), outs).unwrap();
        let gs = output_groups(&tape).expect("groups");
        let mut got = vec![None; 20];
        let x: Vec<f64> = (0..20).map(|i| 1.5 - 0.75 * i as f64).collect();
        for g in &gs {
            let xs: Vec<f64> = g.cols.iter().map(|&c| x[c]).collect();
            for (k, y) in g.outs.iter().zip(g.tape.eval_point(&xs)) {
                got[*k] = Some(y);
            }
        }
        let want: Vec<Option<f64>> = tape.eval_point(&x).into_iter().map(Some).collect();
        assert_eq!(got, want);
        let no_groups =
            |outs: Vec<Reg>| output_groups(&Tape::new(20, ops.clone(), outs).unwrap()).is_none();
        // A constant output, one register as too many outputs, or sixteen
        // outputs or fewer: no groups.
        assert!(no_groups(
            [20, 21].repeat(8).into_iter().chain([22]).collect()
        ));
        assert!(no_groups(
            vec![20; MAX_GROUP_OUTPUTS + 1]
                .into_iter()
                .chain([21])
                .collect()
        ));
        assert!(no_groups([20, 21].repeat(8)));
        // Sixteen inputs or fewer: no groups either.
        let mut few = inputs(16);
        few.extend((0..16).map(|k| Op::Mul(k, k)));
        let outs = (16..32).chain(16..20).collect();
        assert!(output_groups(&Tape::new(16, few, outs).unwrap()).is_none());
    }

    #[test]
    fn a_cone_too_large_for_any_group_ends_the_plan() {
        // 40 outputs; the last reads a chain of 200 operations.
        let mut ops = inputs(20);
        let mut outs = Vec::new();
        for k in 0..39 {
            ops.push(Op::Mul(k % 20, 1));
            outs.push(ops.len() as Reg - 1);
        }
        for _ in 0..200 {
            let a = ops.len() as Reg - 1;
            ops.push(Op::Add(a, 0));
        }
        outs.push(ops.len() as Reg - 1);
        assert!(output_groups(&Tape::new(20, ops, outs).unwrap()).is_none());
    }

    #[test]
    fn blocks_keep_their_inputs_in_cache() {
        assert_eq!(group_block_points(60), 512);
        assert_eq!(group_block_points(1), MAX_BLOCK);
        assert_eq!(group_block_points(10_000), MIN_BLOCK);
    }
}
