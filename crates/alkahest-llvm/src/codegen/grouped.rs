//! The grouped bulk loop for wide tapes whose outputs each need a few of
//! the inputs (a discretized PDE's right-hand side, a banded Jacobian):
//! the outputs are split into groups that share their work, and a block of
//! points runs one group after another, each a small loop of its own that
//! reads only its inputs and writes only its outputs.
//!
//! Why: the staged loop (see `staged`) computes every output of a point at
//! once. With 60 inputs and 60 outputs that is 120 memory streams at a
//! time and 60 live input vectors, which spill (measured on the 60-output
//! Brusselator right-hand side, 1M points into a warm output: 49 ns a
//! point, 18 with everything in cache). A group of the same tape reads 6
//! columns and writes 2: the hardware prefetchers follow a handful of
//! streams well, and the body fits in registers (a C model of the same
//! loop: 39-41 ns a point out of cache, 9-11 in cache). A block's inputs
//! stay in the L2 cache (see [`BLOCK_INPUT_BYTES`]) for the groups that
//! read them again.
//!
//! Work two groups share is computed by both, so the plan is only taken
//! when that adds little (see [`MAX_REDO`]); otherwise the staged loop
//! runs. Results are bit-identical to the staged loop: each output goes
//! through the same operations on the same lanes.
//!
//! An output column may be an input column, as in the other loops: a call
//! whose output columns may overlap its input columns (their address
//! ranges are not apart) copies each block's inputs to a buffer before its
//! groups run, so a later group never reads what an earlier one wrote.

use std::collections::HashMap;

use alkahest_tape::{Op, Reg, Tape};
use inkwell::AddressSpace;
use inkwell::IntPredicate;
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, IntValue, PointerValue};

use super::staged::NT_MIN_BYTES;
use super::{Gen, Lanes, Source, cg};
use crate::error::{Error, Result};

/// Most inputs one group reads: a group's columns are few enough streams
/// for the prefetchers, and its inputs fit in vector registers.
const MAX_GROUP_INPUTS: usize = 16;
/// Most compute operations in one group.
const MAX_GROUP_OPS: usize = 128;
/// Most outputs one group writes (repeated registers counted each time):
/// the stores of a vector step stay a short run in one basic block (see
/// `Gen::store_run` for why long runs cost compile time).
const MAX_GROUP_OUTPUTS: usize = 16;
/// Work recomputed by groups that share it, as a fraction `(num, den)` of
/// the tape's: at most a quarter more operations than the tape itself.
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
pub(crate) struct Group {
    /// The group's operations, inputs renumbered `0..k`.
    pub(crate) tape: Tape,
    /// The whole tape's input index of each of the group's inputs.
    pub(crate) cols: Vec<usize>,
    /// The whole tape's output index of each of the group's outputs.
    pub(crate) outs: Vec<usize>,
}

/// The groups for `tape`, or `None` when grouping would not pay or does not
/// fit: fewer than two groups, an output that needs more than
/// [`MAX_GROUP_INPUTS`] inputs, a register that is more than
/// [`MAX_GROUP_OUTPUTS`] outputs, a constant output (the staged loop writes
/// those once per call; compiled functions have theirs split off before),
/// or more than [`MAX_REDO`] of the work once shared work is recomputed.
///
/// Outputs are taken in order; one joins the group before it when the two
/// share a compute operation and the group stays within its bounds.
pub(crate) fn groups(tape: &Tape) -> Option<Vec<Group>> {
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

    // Members (registers) of each group; `mark[r]` is the last group that
    // took register `r`, plus one.
    let mut mark = vec![0u32; ops.len()];
    let mut seen = vec![0u32; ops.len()];
    let mut members: Vec<Vec<Reg>> = Vec::new();
    let mut group_regs: Vec<Vec<Reg>> = Vec::new();
    let (mut n_inputs, mut n_ops, mut n_outs) = (0usize, 0usize, 0usize);
    let mut stack = Vec::new();
    for (o, &root) in order.iter().enumerate() {
        // The cone of `root`: every register it reads, itself included.
        let stamp = o as u32 + 1;
        let mut cone = Vec::new();
        stack.push(root);
        seen[root as usize] = stamp;
        while let Some(r) = stack.pop() {
            cone.push(r);
            for a in ops[r as usize].operands() {
                if seen[a as usize] != stamp {
                    seen[a as usize] = stamp;
                    stack.push(a);
                }
            }
        }
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
        for &r in &cone {
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
        if n_inputs > MAX_GROUP_INPUTS {
            return None;
        }
        group_regs[g as usize - 1].push(root);
    }
    if members.len() < 2 {
        return None;
    }
    // Work with recomputation against the tape's own (registers some
    // output reads).
    let grouped: usize = members
        .iter()
        .map(|m| m.iter().filter(|&&r| is_compute(r as usize)).count())
        .sum();
    let mut used = vec![false; ops.len()];
    for m in &members {
        for &r in m {
            used[r as usize] = true;
        }
    }
    let own = (0..ops.len()).filter(|&r| used[r] && is_compute(r)).count();
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
            Some(Group { tape, cols, outs })
        })
        .collect()
}

/// Points per block for a tape of `n_inputs` inputs (see
/// [`BLOCK_INPUT_BYTES`]); a power of two, so a multiple of the lanes.
pub(crate) fn block_points(n_inputs: usize) -> u64 {
    let fit = BLOCK_INPUT_BYTES / (8 * n_inputs.max(1) as u64);
    let pow2 = if fit == 0 { 1 } else { 1 << fit.ilog2() };
    pow2.clamp(MIN_BLOCK, MAX_BLOCK)
}

impl<'ctx> Gen<'ctx, '_> {
    /// `void alkahest_eval_bulk(...)` (same contract as
    /// [`Gen::bulk_entry`], except that no output column may overlap an
    /// input column) as blocks of points in which each of `groups` runs
    /// its own loop.
    pub(super) fn bulk_entry_grouped(&mut self, tape: &Tape, groups: &[Group]) -> Result<()> {
        let ctx = self.ctx;
        let w = self.lanes;
        let vt = self.f64t.vec_type(w);
        let lanes = Lanes::Vector(vt, w);
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let super::bulk::BulkParams {
            f,
            cols,
            n_vars,
            outs,
            n,
        } = self.declare_bulk()?;
        let m = tape.n_outputs();
        let block = |name: &str| ctx.append_basic_block(f, name);
        let (entry, bad, pre, outer) = (block("entry"), block("bad"), block("pre"), block("outer"));
        let (done, exit) = (block("done"), block("exit"));
        let zero = i64t.const_zero();
        let width = i64t.const_int(u64::from(w), false);
        let bpts = i64t.const_int(block_points(tape.n_inputs()), false);
        let wide = u64::from(w);
        let vbytes = wide * 8;

        self.b.position_at_end(entry);
        self.branch_on_columns(tape, n_vars, pre, bad)?;

        self.b.position_at_end(bad);
        self.nan_fill(f, outs, m, n, exit)?;

        // pre: whether this call streams its stores (x86, vectors, at least
        // `NT_MIN_BYTES` of output, every output column at a vector
        // boundary: then every full vector store is aligned), whether its
        // outputs may overlap its inputs (then a buffer for a block's
        // inputs), then nothing to do for an empty batch.
        self.b.position_at_end(pre);
        let n_in = tape.n_inputs();
        let out_addrs = self.addresses(outs, m)?;
        let streaming = w > 1 && self.host.triple.starts_with("x86_64");
        let nt = if streaming {
            let min_points = i64t.const_int(NT_MIN_BYTES.div_ceil(8 * m as u64), false);
            let big = cg(self
                .b
                .build_int_compare(IntPredicate::UGE, n, min_points, "big"))?;
            let mut bits = zero;
            for &a in &out_addrs {
                bits = cg(self.b.build_or(bits, a, ""))?;
            }
            let mis = cg(self
                .b
                .build_and(bits, i64t.const_int(vbytes - 1, false), ""))?;
            let aligned = cg(self.b.build_int_compare(IntPredicate::EQ, mis, zero, ""))?;
            cg(self.b.build_and(big, aligned, "nt"))?
        } else {
            ctx.bool_type().const_zero()
        };
        let in_addrs = self.addresses(cols, n_in)?;
        let span = cg(self.b.build_int_nuw_mul(n, i64t.const_int(8, false), ""))?;
        let overlap = self.hulls_meet(&in_addrs, &out_addrs, span)?;
        let (alloc, go) = (block("stage_alloc"), block("go"));
        let pre_end = self.current_block()?;
        cg(self.b.build_conditional_branch(overlap, alloc, go))?;
        self.b.position_at_end(alloc);
        let stage_bytes = (n_in.max(1) as u64) * block_points(n_in) * 8;
        let malloc = self.malloc_fn();
        let call = cg(self
            .b
            .build_call(malloc, &[i64t.const_int(stage_bytes, false).into()], ""))?;
        let got = match call.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => v.into_pointer_value(),
            inkwell::values::ValueKind::Instruction(_) => {
                return Err(Error::Codegen("malloc returned no value".into()));
            }
        };
        let null = cg(self.b.build_is_null(got, ""))?;
        cg(self.b.build_conditional_branch(null, bad, go))?;
        self.b.position_at_end(go);
        let buf = cg(self.b.build_phi(ptr, "stage"))?;
        buf.add_incoming(&[(&ptr.const_null(), pre_end), (&got, alloc)]);
        let buf = buf.as_basic_value().into_pointer_value();
        let empty = cg(self.b.build_int_compare(IntPredicate::EQ, n, zero, ""))?;
        cg(self.b.build_conditional_branch(empty, done, outer))?;

        // outer(i0): a block of `cnt = min(block, n - i0) > 0` points.
        self.b.position_at_end(outer);
        let i0 = cg(self.b.build_phi(i64t, "i0"))?;
        let i0_int = i0.as_basic_value().into_int_value();
        let left = cg(self.b.build_int_sub(n, i0_int, ""))?;
        let whole = cg(self.b.build_int_compare(IntPredicate::UGE, left, bpts, ""))?;
        let cnt = cg(self.b.build_select(whole, bpts, left, "cnt"))?.into_int_value();
        if n_in > 0 {
            self.stage_block(f, cols, n_in, buf, overlap, i0_int, cnt)?;
        }
        for g in groups {
            // Each input's column at `i0`, or its run in the buffer.
            let direct = self.table_entries(cols, &g.cols)?;
            let mut bases = Vec::with_capacity(direct.len());
            for (&c, &d) in g.cols.iter().zip(&direct) {
                let from_col = self.at(d, i0_int)?;
                let off = i64t.const_int(c as u64 * block_points(n_in), false);
                let from_buf = self.at(buf, off)?;
                let p = cg(self.b.build_select(overlap, from_buf, from_col, ""))?;
                bases.push(p.into_pointer_value());
            }
            let out_ptrs = self.table_entries(outs, &g.outs)?;
            let ends = GroupLoop {
                i0: i0_int,
                cnt,
                width,
                nt,
                streaming,
            };
            self.group_loop(g, lanes, &bases, &out_ptrs, ends)?;
        }
        let i0_next = cg(self.b.build_int_nuw_add(i0_int, cnt, ""))?;
        let more = cg(self.b.build_int_compare(IntPredicate::ULT, i0_next, n, ""))?;
        let last = self.current_block()?;
        cg(self.b.build_conditional_branch(more, outer, done))?;
        i0.add_incoming(&[(&zero, go), (&i0_next, last)]);

        self.b.position_at_end(done);
        if streaming {
            // Streaming stores are weakly ordered: fence them before the
            // caller (or a thread it hands the columns to) reads them.
            let sfence = self.intrinsic("llvm.x86.sse.sfence", &[])?;
            cg(self.b.build_call(sfence, &[], ""))?;
        }
        self.free_scratch(Some((buf, true)))?;
        cg(self.b.build_unconditional_branch(exit))?;
        self.b.position_at_end(exit);
        cg(self.b.build_return(None))?;
        Ok(())
    }

    /// One group's loop over the block `i0 .. i0 + cnt`, a vector at a
    /// time (the last one masked), from the builder position: inputs from
    /// `bases` (each at the block's first point), outputs to `out_ptrs`
    /// (whole columns). The builder ends in a new block after the loop.
    fn group_loop(
        &mut self,
        g: &Group,
        lanes: Lanes<'ctx>,
        bases: &[PointerValue<'ctx>],
        out_ptrs: &[PointerValue<'ctx>],
        GroupLoop {
            i0,
            cnt,
            width,
            nt,
            streaming,
        }: GroupLoop<'ctx>,
    ) -> Result<()> {
        let ctx = self.ctx;
        let f = self
            .current_block()?
            .get_parent()
            .ok_or_else(|| Error::Codegen("block outside a function".into()))?;
        let Lanes::Vector(vt, w) = lanes else {
            return Err(Error::Codegen("grouped loop without vectors".into()));
        };
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let align = ctx.i32_type().const_int(8, false);
        let block = |name: &str| ctx.append_basic_block(f, name);
        let (head, lfull, lpart, body) = (
            block("g_head"),
            block("g_load_full"),
            block("g_load_part"),
            block("g_body"),
        );
        let (sfull, spart, latch, after) = (
            block("g_store_full"),
            block("g_store_part"),
            block("g_latch"),
            block("g_after"),
        );
        let start = self.current_block()?;
        cg(self.b.build_unconditional_branch(head))?;

        // head(j): one vector of points at `i0 + j`, `j < cnt`.
        self.b.position_at_end(head);
        let j = cg(self.b.build_phi(i64t, "j"))?;
        let j_int = j.as_basic_value().into_int_value();
        let at = cg(self.b.build_int_nuw_add(i0, j_int, ""))?;
        let rem = cg(self.b.build_int_sub(cnt, j_int, ""))?;
        let full = cg(self
            .b
            .build_int_compare(IntPredicate::UGE, rem, width, "full"))?;
        cg(self.b.build_conditional_branch(full, lfull, lpart))?;

        let xs = self.load_inputs(bases, j_int, rem, [lfull, lpart, body])?;
        let sub = &g.tape;
        let copies = [Source::Inputs(&xs)];
        let local = self.segment(sub, lanes, (0, sub.ops().len()), &copies)?;
        let ys: Vec<BasicValueEnum<'ctx>> =
            sub.outputs().iter().map(|&o| local[o as usize]).collect();
        cg(self.b.build_conditional_branch(full, sfull, spart))?;

        // Full vectors: streaming stores for a large call (aligned, see
        // `pre`), cached ones otherwise.
        self.b.position_at_end(sfull);
        if streaming {
            let (snt, splain) = (block("g_store_nt"), block("g_store_plain"));
            cg(self.b.build_conditional_branch(nt, snt, splain))?;
            self.b.position_at_end(snt);
            let nt_kind = ctx.get_kind_id("nontemporal");
            let nt_node = ctx.metadata_node(&[ctx.i32_type().const_int(1, false).into()]);
            for (&o, &y) in out_ptrs.iter().zip(&ys) {
                let st = cg(self.b.build_store(self.at(o, at)?, y))?;
                st.set_alignment(w * 8)
                    .map_err(|e| Error::Codegen(e.to_string()))?;
                st.set_metadata(nt_node, nt_kind)
                    .map_err(|e| Error::Codegen(e.to_string()))?;
            }
            cg(self.b.build_unconditional_branch(latch))?;
            self.b.position_at_end(splain);
        }
        for (&o, &y) in out_ptrs.iter().zip(&ys) {
            self.store(self.at(o, at)?, y)?;
        }
        cg(self.b.build_unconditional_branch(latch))?;

        // The block's last, partial vector: lanes at or past `cnt` are
        // neither read (see `load_inputs`) nor written.
        self.b.position_at_end(spart);
        let mk = self.lane_mask(w, i64t.const_zero(), rem)?;
        let mstore = self.intrinsic("llvm.masked.store", &[vt.into(), ptr.into()])?;
        for (&o, &y) in out_ptrs.iter().zip(&ys) {
            let args: [BasicMetadataValueEnum; 4] =
                [y.into(), self.at(o, at)?.into(), align.into(), mk.into()];
            cg(self.b.build_call(mstore, &args, ""))?;
        }
        cg(self.b.build_unconditional_branch(latch))?;

        self.b.position_at_end(latch);
        let j_next = cg(self.b.build_int_nuw_add(j_int, width, ""))?;
        let more = cg(self.b.build_int_compare(IntPredicate::ULT, j_next, cnt, ""))?;
        cg(self.b.build_conditional_branch(more, head, after))?;
        j.add_incoming(&[(&i64t.const_zero(), start), (&j_next, latch)]);
        self.b.position_at_end(after);
        Ok(())
    }

    /// The `n` pointers of `table` as integers.
    fn addresses(&self, table: PointerValue<'ctx>, n: usize) -> Result<Vec<IntValue<'ctx>>> {
        let i64t = self.ctx.i64_type();
        self.load_table(table, n)?
            .into_iter()
            .map(|p| cg(self.b.build_ptr_to_int(p, i64t, "")))
            .collect()
    }

    /// Whether the ranges `[lowest a, highest a + span)` and `[lowest b,
    /// highest b + span)` meet: false when every column of `a` lies apart
    /// from every column of `b` (one comparison per column, not per pair;
    /// columns between the two hulls count as meeting).
    fn hulls_meet(
        &self,
        a: &[IntValue<'ctx>],
        b: &[IntValue<'ctx>],
        span: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>> {
        let hull = |xs: &[IntValue<'ctx>]| -> Result<Option<(IntValue<'ctx>, IntValue<'ctx>)>> {
            let Some((&first, rest)) = xs.split_first() else {
                return Ok(None);
            };
            let (mut lo, mut hi) = (first, first);
            for &x in rest {
                let below = cg(self.b.build_int_compare(IntPredicate::ULT, x, lo, ""))?;
                lo = cg(self.b.build_select(below, x, lo, ""))?.into_int_value();
                let above = cg(self.b.build_int_compare(IntPredicate::UGT, x, hi, ""))?;
                hi = cg(self.b.build_select(above, x, hi, ""))?.into_int_value();
            }
            Ok(Some((lo, cg(self.b.build_int_add(hi, span, ""))?)))
        };
        let (Some((alo, ahi)), Some((blo, bhi))) = (hull(a)?, hull(b)?) else {
            return Ok(self.ctx.bool_type().const_zero());
        };
        let x = cg(self.b.build_int_compare(IntPredicate::ULT, alo, bhi, ""))?;
        let y = cg(self.b.build_int_compare(IntPredicate::ULT, blo, ahi, ""))?;
        cg(self.b.build_and(x, y, "overlap"))
    }

    /// When `overlap`: copy the block's `cnt` points of every input column
    /// to `buf` (input `v` at `v * block` doubles), a runtime loop over the
    /// inputs. The builder ends in a new block after it.
    #[allow(clippy::too_many_arguments)]
    fn stage_block(
        &mut self,
        f: inkwell::values::FunctionValue<'ctx>,
        cols: PointerValue<'ctx>,
        n_in: usize,
        buf: PointerValue<'ctx>,
        overlap: IntValue<'ctx>,
        i0: IntValue<'ctx>,
        cnt: IntValue<'ctx>,
    ) -> Result<()> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let (copy, after) = (
            ctx.append_basic_block(f, "stage_copy"),
            ctx.append_basic_block(f, "stage_done"),
        );
        let start = self.current_block()?;
        cg(self.b.build_conditional_branch(overlap, copy, after))?;
        self.b.position_at_end(copy);
        let v = cg(self.b.build_phi(i64t, "v"))?;
        let v_int = v.as_basic_value().into_int_value();
        // SAFETY: `v < n_in`, the input table's length; emits IR only.
        let pv = cg(unsafe { self.b.build_in_bounds_gep(ptr, cols, &[v_int], "") })?;
        let col = cg(self.b.build_load(ptr, pv, ""))?.into_pointer_value();
        let src = self.at(col, i0)?;
        let block = i64t.const_int(block_points(n_in), false);
        let dst = self.at(buf, cg(self.b.build_int_nuw_mul(v_int, block, ""))?)?;
        let bytes = cg(self.b.build_int_nuw_mul(cnt, i64t.const_int(8, false), ""))?;
        self.b
            .build_memcpy(dst, 8, src, 8, bytes)
            .map_err(|e| Error::Codegen(e.to_string()))?;
        let v_next = cg(self
            .b
            .build_int_nuw_add(v_int, i64t.const_int(1, false), ""))?;
        let more = cg(self.b.build_int_compare(
            IntPredicate::ULT,
            v_next,
            i64t.const_int(n_in as u64, false),
            "",
        ))?;
        cg(self.b.build_conditional_branch(more, copy, after))?;
        v.add_incoming(&[(&i64t.const_zero(), start), (&v_next, copy)]);
        self.b.position_at_end(after);
        Ok(())
    }

    /// `table[idx[0]], table[idx[1]], ...`: the column pointers one group
    /// reads or writes, loaded where the builder is.
    fn table_entries(
        &self,
        table: PointerValue<'ctx>,
        idx: &[usize],
    ) -> Result<Vec<PointerValue<'ctx>>> {
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let i64t = self.ctx.i64_type();
        idx.iter()
            .map(|&k| {
                let at = i64t.const_int(k as u64, false);
                // SAFETY: `k` is below the table's length (the tape's
                // input or output count) by the entry's contract; emits IR
                // only.
                let p = cg(unsafe { self.b.build_in_bounds_gep(ptr, table, &[at], "") })?;
                Ok(cg(self.b.build_load(ptr, p, ""))?.into_pointer_value())
            })
            .collect()
    }

    /// The basic block the builder is in.
    fn current_block(&self) -> Result<inkwell::basic_block::BasicBlock<'ctx>> {
        self.b
            .get_insert_block()
            .ok_or_else(|| Error::Codegen("builder lost its block".into()))
    }
}

/// What one group's loop needs from the block around it.
struct GroupLoop<'ctx> {
    /// First point of the block.
    i0: IntValue<'ctx>,
    /// Points in the block (at least one).
    cnt: IntValue<'ctx>,
    /// Lanes, as an `i64`.
    width: IntValue<'ctx>,
    /// Whether this call streams its full-vector stores.
    nt: IntValue<'ctx>,
    /// Whether the streaming branch is emitted at all.
    streaming: bool,
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
        let gs = groups(&tape).expect("banded tape groups");
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

    #[test]
    fn shared_work_everywhere_keeps_the_staged_loop() {
        // Every output reads one long chain: grouping would redo it.
        let mut ops: Vec<Op> = (0..2).map(Op::Input).collect();
        for _ in 0..40 {
            let a = ops.len() as Reg - 1;
            ops.push(Op::Mul(a, 0));
        }
        let top = ops.len() as Reg - 1;
        let mut outs = Vec::new();
        for _ in 0..20 {
            ops.push(Op::Add(top, 1));
            ops.push(Op::Sub(ops.len() as Reg - 1, 0));
            outs.push(ops.len() as Reg - 1);
        }
        let tape = Tape::new(2, ops, outs).unwrap();
        assert!(groups(&tape).is_none());
    }

    #[test]
    fn repeated_outputs_are_grouped_and_constants_are_left_to_the_staged_loop() {
        let mut ops: Vec<Op> = (0..4).map(Op::Input).collect();
        ops.push(Op::Mul(0, 1)); // 4
        ops.push(Op::Mul(2, 3)); // 5
        ops.push(Op::Const(2.5)); // 6
        let tape = Tape::new(4, ops.clone(), vec![4, 5, 4, 3, 5]).unwrap();
        let gs = groups(&tape).expect("groups");
        let mut got = vec![None; 5];
        let x = [1.5, -2.0, 3.25, 0.5];
        for g in &gs {
            let xs: Vec<f64> = g.cols.iter().map(|&c| x[c]).collect();
            for (k, y) in g.outs.iter().zip(g.tape.eval_point(&xs)) {
                got[*k] = Some(y);
            }
        }
        let want: Vec<Option<f64>> = tape.eval_point(&x).into_iter().map(Some).collect();
        assert_eq!(got, want);
        // A constant output, or one register as too many outputs: no groups.
        assert!(groups(&Tape::new(4, ops.clone(), vec![4, 6, 5]).unwrap()).is_none());
        let many = vec![4; MAX_GROUP_OUTPUTS + 1]
            .into_iter()
            .chain([5])
            .collect();
        assert!(groups(&Tape::new(4, ops, many).unwrap()).is_none());
    }

    #[test]
    fn blocks_keep_their_inputs_in_cache() {
        assert_eq!(block_points(60), 512);
        assert_eq!(block_points(1), MAX_BLOCK);
        assert_eq!(block_points(10_000), MIN_BLOCK);
    }
}
