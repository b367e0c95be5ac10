//! The grouped bulk loop for wide tapes whose outputs split into groups
//! that each need a few of the inputs (`alkahest_tape::output_groups`: a
//! discretized PDE's right-hand side, a banded Jacobian): a block of points
//! runs one group after another, each a small loop of its own that reads
//! only its inputs and writes only its outputs, streaming its stores in
//! large calls.
//!
//! Why: the staged loop (see `staged`) computes every output of a point at
//! once. With 60 inputs and 60 outputs that is 120 memory streams at a
//! time and 60 live input vectors, which spill (the 60-output Brusselator
//! right-hand side, 1M points into a warm output: 45 ns a point, 18 with
//! everything in cache; grouped: 37 and 9.5). Results are bit-identical to
//! the staged loop: each output goes through the same operations on the
//! same lanes.
//!
//! An output column may be an input column, as in the other loops: a call
//! whose output columns may overlap its input columns (their address
//! ranges are not apart) copies each block's inputs to a buffer before its
//! groups run, so a later group never reads what an earlier one wrote. So
//! does a call whose input columns share their cache sets (all at one
//! offset modulo [`ALIAS_BYTES`], as the rows of a NumPy array of a
//! multiple of 4,096 points are), where the groups' reads would evict each other.

use alkahest_tape::{OutputGroup, Tape, group_block_points};
use inkwell::AddressSpace;
use inkwell::IntPredicate;
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, IntValue, PointerValue};

use super::{Gen, Lanes, Source, cg};
use crate::error::{Error, Result};

/// Input columns whose addresses agree modulo this many bytes share their
/// cache sets (L2's ways are 64 KiB on Zen 3 and Zen 5): a `(60, N)`
/// NumPy array with `N` a multiple of 4,096 points ran the Brusselator
/// right-hand side at 220-230 ns a point against 73-86 for other `N` on an
/// AVX2 Zen 3, and 86-89 with each block's inputs copied aside first.
const ALIAS_BYTES: u64 = 32 << 10;

/// Doubles between the rows of the block buffer: a block plus one cache
/// line, so that the rows do not share cache sets themselves.
fn stage_row(n_in: usize) -> u64 {
    group_block_points(n_in) + 8
}

impl<'ctx> Gen<'ctx, '_> {
    /// `void alkahest_eval_bulk(...)` (same contract as
    /// [`Gen::bulk_entry`]) as blocks of points in which each of `groups`
    /// runs its own loop.
    pub(super) fn bulk_entry_grouped(&mut self, tape: &Tape, groups: &[OutputGroup]) -> Result<()> {
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
        let bpts = i64t.const_int(group_block_points(tape.n_inputs()), false);
        let wide = u64::from(w);
        let vbytes = wide * 8;

        self.b.position_at_end(entry);
        self.branch_on_columns(tape, n_vars, pre, bad)?;

        self.b.position_at_end(bad);
        self.nan_fill(f, outs, m, n, exit)?;

        // pre: whether this call streams its stores (x86, vectors, at least
        // `NT_MIN_BYTES` of output, every output column at a vector
        // boundary: then every full vector store is aligned), whether its
        // outputs may overlap its inputs or its inputs share cache sets
        // (then a buffer for a block's inputs), then nothing to do for an
        // empty batch.
        self.b.position_at_end(pre);
        let n_in = tape.n_inputs();
        let out_addrs = self.addresses(outs, m)?;
        let streaming = self.can_stream();
        let nt = if streaming {
            let big = self.streams_output(n, m)?;
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
        let aliased = self.columns_alias(&in_addrs)?;
        let stage = cg(self.b.build_or(overlap, aliased, "stage"))?;
        let (alloc, go) = (block("stage_alloc"), block("go"));
        let pre_end = self.current_block()?;
        cg(self.b.build_conditional_branch(stage, alloc, go))?;
        self.b.position_at_end(alloc);
        let stage_bytes = (n_in.max(1) as u64) * stage_row(n_in) * 8;
        let got = self.malloc(stage_bytes)?;
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
            self.stage_block(f, cols, n_in, buf, stage, i0_int, cnt)?;
        }
        for g in groups {
            // Each input's column at `i0`, or its run in the buffer.
            let direct = self.table_entries(cols, &g.cols)?;
            let mut bases = Vec::with_capacity(direct.len());
            for (&c, &d) in g.cols.iter().zip(&direct) {
                let from_col = self.at(d, i0_int)?;
                let off = i64t.const_int(c as u64 * stage_row(n_in), false);
                let from_buf = self.at(buf, off)?;
                let p = cg(self.b.build_select(stage, from_buf, from_col, ""))?;
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
            self.fence_streaming()?;
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
        g: &OutputGroup,
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
        let f = self.current_fn()?;
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
            for (&o, &y) in out_ptrs.iter().zip(&ys) {
                self.store_streaming(self.at(o, at)?, y)?;
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

    /// Whether every input column starts at the same offset modulo
    /// [`ALIAS_BYTES`] (at least two columns): then each block's inputs are
    /// copied to the buffer first (a copy reads one column at a time).
    fn columns_alias(&self, addrs: &[IntValue<'ctx>]) -> Result<IntValue<'ctx>> {
        let i64t = self.ctx.i64_type();
        let Some((&first, rest)) = addrs.split_first().filter(|(_, rest)| !rest.is_empty()) else {
            return Ok(self.ctx.bool_type().const_zero());
        };
        let mut bits = i64t.const_zero();
        for &a in rest {
            let d = cg(self.b.build_xor(a, first, ""))?;
            bits = cg(self.b.build_or(bits, d, ""))?;
        }
        let low = cg(self
            .b
            .build_and(bits, i64t.const_int(ALIAS_BYTES - 1, false), ""))?;
        cg(self
            .b
            .build_int_compare(IntPredicate::EQ, low, i64t.const_zero(), "aliased"))
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

    /// When `stage`: copy the block's `cnt` points of every input column
    /// to `buf` (input `v` at `v * stage_row` doubles), a runtime loop over the
    /// inputs. The builder ends in a new block after it.
    #[allow(clippy::too_many_arguments)]
    fn stage_block(
        &mut self,
        f: inkwell::values::FunctionValue<'ctx>,
        cols: PointerValue<'ctx>,
        n_in: usize,
        buf: PointerValue<'ctx>,
        stage: IntValue<'ctx>,
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
        cg(self.b.build_conditional_branch(stage, copy, after))?;
        self.b.position_at_end(copy);
        let v = cg(self.b.build_phi(i64t, "v"))?;
        let v_int = v.as_basic_value().into_int_value();
        // SAFETY: `v < n_in`, the input table's length; emits IR only.
        let pv = cg(unsafe { self.b.build_in_bounds_gep(ptr, cols, &[v_int], "") })?;
        let col = cg(self.b.build_load(ptr, pv, ""))?.into_pointer_value();
        let src = self.at(col, i0)?;
        let block = i64t.const_int(stage_row(n_in), false);
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
