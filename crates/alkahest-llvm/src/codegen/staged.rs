//! The staged bulk loop for tapes with many outputs: the tape runs over a
//! block of points, each distinct output register's vectors go to a small
//! staging buffer, and a runtime loop over the outputs then copies each
//! output's block into its column.
//!
//! Why: writing `m` output vectors straight from the tape body has two
//! costs that grow with `m`. (1) Compile time: `m` stores through `m`
//! unrelated pointers in one basic block make LLVM's machine scheduler
//! build a dependency graph quadratic in `m` (`SUnit::addPred` and
//! `ComputeHeight` were ~65% of an 1,200-output compile; 3,600 outputs took
//! 11 s). Here the body stores only the *distinct, non-constant* output
//! registers, to disjoint offsets of one buffer, and the per-output work is
//! one loop whose code does not depend on `m`. Constant outputs are written
//! to the buffer once, before the loop. (2) Memory traffic: each vector
//! step used to touch `m` far-apart columns (one cache line and one page
//! each); now each column receives a contiguous run of a block's points.
//!
//! Results are bit-identical to the direct loop: the same operations on
//! the same lanes; only where the results are written first differs.
//!
//! Large calls copy a block to a column that starts on a vector boundary
//! with non-temporal (streaming) stores (see [`NT_MIN_BYTES`]): they skip
//! the cache and the read of each output line before it is written
//! (measured on the 60-output Brusselator right-hand side, 666,666 points
//! into a warm, aligned output: 66 -> 47 ns per point on an AVX-512 Zen 5;
//! hosts without AVX-512 keep cached stores, see
//! [`crate::host::Host::streaming_stores`]). Columns off a
//! vector boundary keep cached stores: a streaming copy shifted to their
//! alignment (masked head and tail, streaming middle) measured no faster
//! than cached stores.

use alkahest_tape::{Op, Tape};
use inkwell::AddressSpace;
use inkwell::IntPredicate;
use inkwell::module::Linkage;
use inkwell::values::{
    BasicMetadataValueEnum, BasicValueEnum, FunctionValue, IntValue, PointerValue,
};

use super::plan::MAX_STACK_SCRATCH;
use super::{Gen, Lanes, cg};
use crate::error::{Error, Result};

/// Tapes with more outputs than this use the staged bulk loop.
pub(crate) const STAGED_ABOVE: usize = 16;
/// Size the staging buffer aims at (L1-sized): the block length is chosen
/// so that `slots * block * 8` bytes stay within it, when possible.
const STAGE_BYTES: u64 = 32 * 1024;
/// Most vectors per block (a block of 64 points with 4 lanes: 512 bytes,
/// eight cache lines, per output column).
pub(crate) const MAX_BLOCK_VECS: u64 = 16;

/// Where each output's values are staged. The buffer holds a block of
/// `vecs` vectors: vector `v` of slot `s` is at `(v * slots + s) * w`
/// doubles, so one vector step's values are contiguous (one aggregate
/// store, see [`Gen::store_all`]).
pub(crate) struct Stage {
    /// Register held by each staging slot (distinct registers, in order
    /// of first use as an output).
    pub(crate) regs: Vec<u32>,
    /// Slots `0..n_var` hold computed registers, the rest constants.
    pub(crate) n_var: usize,
    /// Slot of each output.
    pub(crate) slot_of: Vec<u32>,
    /// Vectors per block.
    pub(crate) vecs: u64,
}

impl Stage {
    /// The staging plan for `tape` with `w`-lane vectors: non-constant
    /// registers take the first slots, constants the rest.
    pub(crate) fn new(tape: &Tape, w: u32) -> Stage {
        let is_const = |r: u32| matches!(tape.ops()[r as usize], Op::Const(_));
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<u32> = tape
            .outputs()
            .iter()
            .copied()
            .filter(|&r| seen.insert(r))
            .collect();
        let mut regs: Vec<u32> = firsts.iter().copied().filter(|&r| !is_const(r)).collect();
        let n_var = regs.len();
        regs.extend(firsts.iter().copied().filter(|&r| is_const(r)));
        let slot_by_reg: std::collections::HashMap<u32, u32> = regs
            .iter()
            .enumerate()
            .map(|(s, &r)| (r, s as u32))
            .collect();
        let slot_of = tape.outputs().iter().map(|r| slot_by_reg[r]).collect();
        let per_vec = regs.len() as u64 * u64::from(w) * 8;
        let vecs = (STAGE_BYTES / per_vec.max(1)).clamp(1, MAX_BLOCK_VECS);
        Stage {
            regs,
            n_var,
            slot_of,
            vecs,
        }
    }
}

/// Stores per basic block in long runs of stores (see [`Gen::store_run`]).
pub(crate) const STORES_PER_BLOCK: usize = 64;
/// Calls writing at least this many output bytes copy staged blocks to
/// aligned columns with streaming stores: the output is far larger than
/// the caches, so keeping it there only evicts the inputs and costs a
/// read of every output line before it is written. Below it, results stay
/// cached for whoever reads them next.
pub(crate) const NT_MIN_BYTES: u64 = 4 << 20;

/// How far ahead (in points) the staged loop prefetches each input column.
///
/// Why: with more than [`STAGED_ABOVE`] outputs the loop reads one stream
/// per input column, and the hardware prefetchers track too few streams
/// to keep up with that many: the tape then waits on memory instead of
/// overlapping its work with the loads. One `prefetcht0` per column and
/// vector step, 64 points (512 bytes) ahead, measured on an AVX2 Zen 3
/// (in one process, into a warm `out=`, 200,000 points): `bench_ode.py`'s
/// 24-species network 58-60 -> 40-42 ns a point, a 16-input, 17-output
/// linear map 49-52 -> 37-38, a 24-by-24 one 91-107 -> 78-81; in the
/// caches (4,000 points) the network paid 3-8%. 128 and 256 points ahead,
/// and `prefetcht1`, measured the same or slower. The grouped loop reads
/// each block's inputs several times from the caches; prefetching there
/// made the Brusselator 10-30% slower, so it does not.
pub(crate) const PREFETCH_POINTS: u64 = 64;

/// Whether `tape`'s bulk entry uses the staged loop.
pub(crate) fn staged(tape: &Tape) -> bool {
    tape.n_outputs() > STAGED_ABOVE
}

impl<'ctx> Gen<'ctx, '_> {
    /// Whether the bulk loops may stream their stores: x86 only (their
    /// ordering needs `sfence`, see [`Gen::fence_streaming`]), with vectors,
    /// where the host gains from them ([`crate::host::Host::streaming_stores`]).
    pub(super) fn can_stream(&self) -> bool {
        self.lanes > 1 && self.host.streaming_stores()
    }

    /// Whether a call of `n` points writing `m` outputs is large enough to
    /// stream its stores (at least [`NT_MIN_BYTES`] of output).
    pub(super) fn streams_output(&self, n: IntValue<'ctx>, m: usize) -> Result<IntValue<'ctx>> {
        let min_points = NT_MIN_BYTES.div_ceil(8 * m as u64);
        let min_points = self.ctx.i64_type().const_int(min_points, false);
        cg(self
            .b
            .build_int_compare(IntPredicate::UGE, n, min_points, "big"))
    }

    /// A streaming (non-temporal) store of the vector `v` to `p`, which the
    /// caller has checked is at a vector boundary.
    pub(super) fn store_streaming(
        &self,
        p: PointerValue<'ctx>,
        v: BasicValueEnum<'ctx>,
    ) -> Result<()> {
        let ctx = self.ctx;
        let st = cg(self.b.build_store(p, v))?;
        st.set_alignment(self.lanes * 8)
            .map_err(|e| Error::Codegen(e.to_string()))?;
        let nt_node = ctx.metadata_node(&[ctx.i32_type().const_int(1, false).into()]);
        st.set_metadata(nt_node, ctx.get_kind_id("nontemporal"))
            .map_err(|e| Error::Codegen(e.to_string()))
    }

    /// Streaming stores are weakly ordered: fence them before the caller
    /// (or a thread it hands the columns to) reads them.
    pub(super) fn fence_streaming(&mut self) -> Result<()> {
        let sfence = self.intrinsic("llvm.x86.sse.sfence", &[])?;
        cg(self.b.build_call(sfence, &[], ""))?;
        Ok(())
    }

    /// Prefetch each of `cols` at point `at + PREFETCH_POINTS` into the
    /// caches (see [`PREFETCH_POINTS`]). The address may lie past a
    /// column's end: a prefetch never faults, so it is computed without
    /// `inbounds`.
    fn prefetch_columns(&mut self, cols: &[PointerValue<'ctx>], at: IntValue<'ctx>) -> Result<()> {
        let i64t = self.ctx.i64_type();
        let i32t = self.ctx.i32_type();
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let prefetch = self.intrinsic("llvm.prefetch", &[ptr.into()])?;
        let ahead = i64t.const_int(PREFETCH_POINTS, false);
        let ahead = cg(self.b.build_int_nuw_add(at, ahead, ""))?;
        // Read, locality 3 (every cache level: `prefetcht0`), data.
        let how = [0u64, 3, 1].map(|v| BasicMetadataValueEnum::from(i32t.const_int(v, false)));
        for &c in cols {
            // SAFETY: emits a plain GEP (no `inbounds`): an address only.
            let p = cg(unsafe { self.b.build_gep(self.f64t, c, &[ahead], "") })?;
            cg(self
                .b
                .build_call(prefetch, &[p.into(), how[0], how[1], how[2]], ""))?;
        }
        Ok(())
    }

    /// Store `vals[k]` to element `k` at `p` (all of one type), starting a
    /// new basic block every [`STORES_PER_BLOCK`] stores, entered by a
    /// branch on `never` (true only where the caller's contract is broken)
    /// whose other edge goes to `out`.
    ///
    /// Why: x86's machine scheduler uses no alias analysis, so every store
    /// through a different address value is chained to every earlier one in
    /// its region (up to 1,000 deep): compile time was quadratic in the
    /// number of outputs (3,600 outputs: 11 s). A conditional branch ends
    /// the region and, unlike an unconditional one, is not merged away
    /// before instruction selection. It costs one predicted branch per
    /// `STORES_PER_BLOCK` stores.
    pub(super) fn store_run(
        &self,
        p: PointerValue<'ctx>,
        vals: &[BasicValueEnum<'ctx>],
        never: IntValue<'ctx>,
        out: inkwell::basic_block::BasicBlock<'ctx>,
    ) -> Result<()> {
        let i64t = self.ctx.i64_type();
        let stride = match vals.first() {
            Some(BasicValueEnum::VectorValue(v)) => u64::from(v.get_type().get_size()),
            _ => 1,
        };
        for (k, &v) in vals.iter().enumerate() {
            if k > 0 && k % STORES_PER_BLOCK == 0 {
                let f = self.current_fn()?;
                let next = self.ctx.append_basic_block(f, "stores");
                cg(self.b.build_conditional_branch(never, out, next))?;
                self.b.position_at_end(next);
            }
            let q = self.at(p, i64t.const_int(k as u64 * stride, false))?;
            self.store(q, v)?;
        }
        Ok(())
    }

    /// `void alkahest_eval_bulk(...)` for tapes with many outputs (same
    /// contract as [`Gen::bulk_entry`]), in blocks of `vecs * lanes` points
    /// staged through a buffer of one block per distinct output register.
    pub(super) fn bulk_entry_staged(&mut self, tape: &Tape) -> Result<()> {
        let ctx = self.ctx;
        let w = self.lanes;
        let vt = self.f64t.vec_type(w);
        let lanes = Lanes::Vector(vt, w);
        let stage = Stage::new(tape, w);
        let block_pts = stage.vecs * u64::from(w);
        let segs = self.segment_fns(tape, lanes)?;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i32t = ctx.i32_type();
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
        let (vhead, lfull, lpart, vbody) = (
            block("vec_head"),
            block("load_full"),
            block("load_part"),
            block("vec_body"),
        );
        let (chead, cfull, cpart, clatch) = (
            block("copy_head"),
            block("copy_full"),
            block("copy_part"),
            block("copy_latch"),
        );
        let (next_block, done, exit) = (block("next_block"), block("done"), block("exit"));
        let zero = i64t.const_zero();
        let one = i64t.const_int(1, false);
        let width = i64t.const_int(u64::from(w), false);
        let bpts = i64t.const_int(block_pts, false);
        let align = i32t.const_int(8, false);

        self.b.position_at_end(entry);
        self.branch_on_columns(tape, n_vars, pre, bad)?;

        self.b.position_at_end(bad);
        self.nan_fill(f, outs, m, n, exit)?;

        // pre: the staging buffer (constant slots filled once), the input
        // columns, then nothing to do for an empty batch.
        self.b.position_at_end(pre);
        let stage_bytes = stage.regs.len() as u64 * block_pts * 8;
        let (buf, heap) = self.alloc_bytes(stage_bytes)?;
        if heap {
            let ok = block("stage_ok");
            let null = cg(self.b.build_is_null(buf, ""))?;
            cg(self.b.build_conditional_branch(null, bad, ok))?;
            self.b.position_at_end(ok);
        }
        let n_slots = stage.regs.len() as u64;
        let wide = u64::from(w);
        // False here (an empty batch never computes a block); opaque to
        // LLVM, so it can split long runs of stores (see `store_run`).
        let never = cg(self.b.build_int_compare(IntPredicate::EQ, n, zero, "never"))?;
        // Constant slots, once for the whole call.
        if stage.n_var < stage.regs.len() {
            let mut ks = Vec::with_capacity(stage.regs.len() - stage.n_var);
            for &r in &stage.regs[stage.n_var..] {
                if let Op::Const(c) = tape.ops()[r as usize] {
                    ks.push(self.konst_operand(c, lanes)?);
                }
            }
            for v in 0..stage.vecs {
                let at = (v * n_slots + stage.n_var as u64) * wide;
                let p = self.at(buf, i64t.const_int(at, false))?;
                self.store_run(p, &ks, never, done)?;
            }
        }
        let col_ptrs = self.load_table(cols, tape.n_inputs())?;
        let scratch = self.alloc_scratch(lanes)?;
        if matches!(scratch, Some((_, true))) {
            // Without scratch memory: free the staging buffer, then NaN.
            let fail = block("scratch_failed");
            self.check_scratch(f, scratch, fail)?;
            let cont = self.current_block()?;
            self.b.position_at_end(fail);
            self.free_bytes(buf, heap)?;
            cg(self.b.build_unconditional_branch(bad))?;
            self.b.position_at_end(cont);
        }
        // The offset (in doubles) of each output's slot, a constant table.
        let offs: Vec<_> = stage
            .slot_of
            .iter()
            .map(|&s| i64t.const_int(u64::from(s) * wide, false))
            .collect();
        let table_ty = i64t.array_type(m as u32);
        let table = self.module.add_global(table_ty, None, "alkahest_stage_map");
        table.set_linkage(Linkage::Private);
        table.set_constant(true);
        table.set_initializer(&i64t.const_array(&offs));
        let table = table.as_pointer_value();
        // Streaming stores, for calls of at least `NT_MIN_BYTES` of output.
        let streaming = self.can_stream();
        let big = if streaming {
            self.streams_output(n, m)?
        } else {
            ctx.bool_type().const_zero()
        };
        let empty = cg(self.b.build_int_compare(IntPredicate::EQ, n, zero, ""))?;
        let pre_end = self.current_block()?;
        cg(self.b.build_conditional_branch(empty, done, outer))?;

        // outer(i0): a block of `cnt = min(block_pts, n - i0) > 0` points.
        self.b.position_at_end(outer);
        let i0 = cg(self.b.build_phi(i64t, "i0"))?;
        let i0_int = i0.as_basic_value().into_int_value();
        let left = cg(self.b.build_int_sub(n, i0_int, ""))?;
        let whole = cg(self
            .b
            .build_int_compare(IntPredicate::UGE, left, bpts, "whole"))?;
        let cnt = cg(self.b.build_select(whole, bpts, left, "cnt"))?.into_int_value();
        cg(self.b.build_unconditional_branch(vhead))?;

        // vec_head(j): one vector of points at `i0 + j`, `j < cnt`.
        self.b.position_at_end(vhead);
        let j = cg(self.b.build_phi(i64t, "j"))?;
        let j_int = j.as_basic_value().into_int_value();
        let at = cg(self.b.build_int_nuw_add(i0_int, j_int, ""))?;
        let rem = cg(self.b.build_int_sub(cnt, j_int, ""))?;
        let full = cg(self
            .b
            .build_int_compare(IntPredicate::UGE, rem, width, "full"))?;
        cg(self.b.build_conditional_branch(full, lfull, lpart))?;

        let xs = self.load_inputs(&col_ptrs, at, rem, [lfull, lpart, vbody])?;
        // The inputs `PREFETCH_POINTS` further on, while this vector computes.
        self.prefetch_columns(&col_ptrs, at)?;
        let ys = self.point(tape, lanes, &xs, &segs, scratch.map(|s| s.0))?;
        // The first output of each non-constant slot holds its value.
        let mut first = vec![usize::MAX; stage.regs.len()];
        for (k, &s) in stage.slot_of.iter().enumerate().rev() {
            first[s as usize] = k;
        }
        let vals: Vec<_> = first[..stage.n_var].iter().map(|&k| ys[k]).collect();
        // This vector's slots start at `(j / w) * slots * w = j * slots`.
        let row = cg(self
            .b
            .build_int_nuw_mul(j_int, i64t.const_int(n_slots, false), ""))?;
        let p = self.at(buf, row)?;
        self.store_run(p, &vals, never, done)?;
        let j_next = cg(self.b.build_int_nuw_add(j_int, width, ""))?;
        let more = cg(self.b.build_int_compare(IntPredicate::ULT, j_next, cnt, ""))?;
        let vbody_end = self.current_block()?;
        cg(self.b.build_conditional_branch(more, vhead, chead))?;
        j.add_incoming(&[(&zero, outer), (&j_next, vbody_end)]);

        // copy_head(k): output `k`'s `cnt` points from its slot to
        // `outs[k][i0..i0 + cnt]`, whole vectors for whole blocks, masked
        // vectors for the last one.
        self.b.position_at_end(chead);
        let k = cg(self.b.build_phi(i64t, "k"))?;
        let k_int = k.as_basic_value().into_int_value();
        // SAFETY: `k < m`, the table's length; emits IR only.
        let pk = cg(unsafe { self.b.build_in_bounds_gep(ptr, outs, &[k_int], "") })?;
        let col = cg(self.b.build_load(ptr, pk, ""))?.into_pointer_value();
        let dst = self.at(col, i0_int)?;
        // SAFETY: `k < m`; emits IR only.
        let po = cg(unsafe {
            self.b
                .build_in_bounds_gep(table_ty, table, &[zero, k_int], "")
        })?;
        let off = cg(self.b.build_load(i64t, po, ""))?.into_int_value();
        let src = self.at(buf, off)?;
        cg(self.b.build_conditional_branch(whole, cfull, cpart))?;

        self.b.position_at_end(cfull);
        let from = |v: u64| i64t.const_int(v * n_slots * wide, false);
        if streaming {
            // copy_stream: a large call's column at a vector boundary
            // (every later block is then at one too) takes the block as
            // aligned streaming vectors.
            let (cstream, cplain) = (block("copy_stream"), block("copy_plain"));
            let vbytes = wide * 8;
            let addr = cg(self.b.build_ptr_to_int(dst, i64t, ""))?;
            let mis = cg(self
                .b
                .build_and(addr, i64t.const_int(vbytes - 1, false), ""))?;
            let aligned = cg(self.b.build_int_compare(IntPredicate::EQ, mis, zero, ""))?;
            let go = cg(self.b.build_and(big, aligned, ""))?;
            cg(self.b.build_conditional_branch(go, cstream, cplain))?;
            self.b.position_at_end(cstream);
            for v in 0..stage.vecs {
                let o = i64t.const_int(v * wide, false);
                let val = self.load(vt.into(), self.at(src, from(v))?)?;
                // `dst` is at a vector boundary (checked above).
                self.store_streaming(self.at(dst, o)?, val)?;
            }
            cg(self.b.build_unconditional_branch(clatch))?;
            self.b.position_at_end(cplain);
        }
        for v in 0..stage.vecs {
            let o = i64t.const_int(v * wide, false);
            let val = self.load(vt.into(), self.at(src, from(v))?)?;
            self.store(self.at(dst, o)?, val)?;
        }
        cg(self.b.build_unconditional_branch(clatch))?;

        self.b.position_at_end(cpart);
        let mstore = self.intrinsic("llvm.masked.store", &[vt.into(), ptr.into()])?;
        for v in 0..stage.vecs {
            let o = i64t.const_int(v * wide, false);
            let val = self.load(vt.into(), self.at(src, from(v))?)?;
            // Lanes at or past `cnt` are masked off: nothing is written
            // (or read) there.
            let mk = self.lane_mask(w, o, cnt)?;
            let args: [BasicMetadataValueEnum; 4] =
                [val.into(), self.at(dst, o)?.into(), align.into(), mk.into()];
            cg(self.b.build_call(mstore, &args, ""))?;
        }
        cg(self.b.build_unconditional_branch(clatch))?;

        self.b.position_at_end(clatch);
        let k_next = cg(self.b.build_int_nuw_add(k_int, one, ""))?;
        let m_val = i64t.const_int(m as u64, false);
        let more_k = cg(self
            .b
            .build_int_compare(IntPredicate::ULT, k_next, m_val, ""))?;
        cg(self.b.build_conditional_branch(more_k, chead, next_block))?;
        k.add_incoming(&[(&zero, vbody_end), (&k_next, clatch)]);

        self.b.position_at_end(next_block);
        let i0_next = cg(self.b.build_int_nuw_add(i0_int, cnt, ""))?;
        let more_i = cg(self.b.build_int_compare(IntPredicate::ULT, i0_next, n, ""))?;
        cg(self.b.build_conditional_branch(more_i, outer, done))?;
        i0.add_incoming(&[(&zero, pre_end), (&i0_next, next_block)]);

        self.b.position_at_end(done);
        if streaming {
            self.fence_streaming()?;
        }
        self.free_scratch(scratch)?;
        self.free_bytes(buf, heap)?;
        cg(self.b.build_unconditional_branch(exit))?;
        self.b.position_at_end(exit);
        cg(self.b.build_return(None))?;
        Ok(())
    }

    /// `outs[k][0..n] = NaN` for every `k < m`, as two runtime loops (code
    /// size independent of `m`), then branch to `exit`. Emitted at the
    /// builder position.
    pub(super) fn nan_fill(
        &mut self,
        f: FunctionValue<'ctx>,
        outs: PointerValue<'ctx>,
        m: usize,
        n: IntValue<'ctx>,
        exit: inkwell::basic_block::BasicBlock<'ctx>,
    ) -> Result<()> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let (zero, one) = (i64t.const_zero(), i64t.const_int(1, false));
        let start = self.current_block()?;
        let (khead, jloop, klatch) = (
            ctx.append_basic_block(f, "nan_col"),
            ctx.append_basic_block(f, "nan_pt"),
            ctx.append_basic_block(f, "nan_next"),
        );
        let empty = cg(self.b.build_int_compare(IntPredicate::EQ, n, zero, ""))?;
        cg(self.b.build_conditional_branch(empty, exit, khead))?;

        self.b.position_at_end(khead);
        let k = cg(self.b.build_phi(i64t, "nk"))?;
        let k_int = k.as_basic_value().into_int_value();
        // SAFETY: `k < m`, the output table's length; emits IR only.
        let pk = cg(unsafe { self.b.build_in_bounds_gep(ptr, outs, &[k_int], "") })?;
        let col = cg(self.b.build_load(ptr, pk, ""))?.into_pointer_value();
        cg(self.b.build_unconditional_branch(jloop))?;

        self.b.position_at_end(jloop);
        let j = cg(self.b.build_phi(i64t, "nj"))?;
        let j_int = j.as_basic_value().into_int_value();
        // `j < n_points`, in bounds by the entry's contract.
        let p = self.at(col, j_int)?;
        self.store(p, self.f64t.const_float(f64::NAN).into())?;
        let j_next = cg(self.b.build_int_nuw_add(j_int, one, ""))?;
        let fin = cg(self.b.build_int_compare(IntPredicate::EQ, j_next, n, ""))?;
        cg(self.b.build_conditional_branch(fin, klatch, jloop))?;
        j.add_incoming(&[(&zero, khead), (&j_next, jloop)]);

        self.b.position_at_end(klatch);
        let k_next = cg(self.b.build_int_nuw_add(k_int, one, ""))?;
        let m_val = i64t.const_int(m as u64, false);
        let fin_k = cg(self
            .b
            .build_int_compare(IntPredicate::EQ, k_next, m_val, ""))?;
        cg(self.b.build_conditional_branch(fin_k, exit, khead))?;
        k.add_incoming(&[(&zero, start), (&k_next, klatch)]);
        Ok(())
    }

    /// `bytes` of 32-byte-aligned memory: on the stack up to
    /// `MAX_STACK_SCRATCH`, else from `malloc` (then `true`, and the
    /// pointer may be null).
    fn alloc_bytes(&mut self, bytes: u64) -> Result<(PointerValue<'ctx>, bool)> {
        if bytes <= MAX_STACK_SCRATCH {
            let ty = self.ctx.i8_type().array_type(bytes.max(8) as u32);
            let p = cg(self.b.build_alloca(ty, "stage"))?;
            if let Some(i) = p.as_instruction() {
                let _ = i.set_alignment(32);
            }
            return Ok((p, false));
        }
        Ok((self.malloc(bytes)?, true))
    }

    /// Free what [`Gen::alloc_bytes`] took from the heap.
    fn free_bytes(&mut self, p: PointerValue<'ctx>, heap: bool) -> Result<()> {
        self.free_scratch(heap.then_some((p, true)))
    }
}
