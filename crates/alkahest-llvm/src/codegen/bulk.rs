//! The column-major bulk entry, `alkahest_eval_bulk`: a loop over blocks
//! of `lanes` points on SIMD vectors, unrolled for small tapes, with a
//! masked last block.

use alkahest_tape::Tape;
use inkwell::AddressSpace;
use inkwell::IntPredicate;
use inkwell::attributes::AttributeLoc;
use inkwell::basic_block::BasicBlock;
use inkwell::types::VectorType;
use inkwell::values::{
    BasicMetadataValueEnum, BasicValueEnum, FunctionValue, IntValue, PointerValue, VectorValue,
};

use super::{BULK_SYMBOL, Gen, Lanes, cg};
use crate::error::{Error, Result};

impl<'ctx> Gen<'ctx, '_> {
    /// `void alkahest_eval_bulk(const double *const *cols, u64 n_vars,
    /// double *const *outs, u64 n_points)`: `outs[k][i]` is output `k` of
    /// `f(cols[0][i], cols[1][i], ...)`, in blocks of `lanes` points. With
    /// fewer than `n_inputs` columns (or no memory for a large scratch
    /// array) every output is NaN.
    pub(super) fn bulk_entry(&mut self, tape: &Tape) -> Result<()> {
        if super::staged::staged(tape) {
            if !self.plan.segmented()
                && let Some(groups) = alkahest_tape::output_groups(tape)
            {
                return self.bulk_entry_grouped(tape, &groups);
            }
            return self.bulk_entry_staged(tape);
        }
        let ctx = self.ctx;
        let w = self.lanes;
        let vt = self.f64t.vec_type(w);
        let lanes = Lanes::Vector(vt, w);
        let segs = self.segment_fns(tape, lanes)?;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i32t = ctx.i32_type();
        let BulkParams {
            f,
            cols,
            n_vars,
            outs,
            n,
        } = self.declare_bulk()?;
        let m = tape.n_outputs();
        let block = |name: &str| ctx.append_basic_block(f, name);
        let (entry, bad, pre) = (block("entry"), block("bad"), block("pre"));
        let (head, sel, lfull, lpart) = (
            block("head"),
            block("sel"),
            block("load_full"),
            block("load_part"),
        );
        let (body, sfull, spart, latch) = (
            block("body"),
            block("store_full"),
            block("store_part"),
            block("latch"),
        );
        let (done, exit) = (block("done"), block("exit"));
        let zero = i64t.const_zero();
        let width = i64t.const_int(w as u64, false);
        let align = i32t.const_int(8, false);

        self.b.position_at_end(entry);
        self.branch_on_columns(tape, n_vars, pre, bad)?;

        // Too few columns (or no memory): NaN rather than reading past the table.
        self.b.position_at_end(bad);
        self.nan_fill(f, outs, m, n, exit)?;

        self.b.position_at_end(pre);
        // `n_inputs <= n_vars` input columns and `n_outputs` output columns.
        let col_ptrs = self.load_table(cols, tape.n_inputs())?;
        let out_ptrs = self.load_table(outs, m)?;
        let scratch = self.alloc_scratch(lanes)?;
        self.check_scratch(f, scratch, bad)?;
        let pre_end = self.current_block()?;
        // Full-vector stores of one block of outputs at point `at`.
        let store_all = |g: &Self, at: IntValue<'ctx>, ys: Vec<BasicValueEnum<'ctx>>| {
            for (&o, y) in out_ptrs.iter().zip(ys) {
                // `at + w <= n_points` wherever a full block is stored.
                let p = g.at(o, at)?;
                g.store(p, y)?;
            }
            Ok::<(), Error>(())
        };
        // Main loop: `unroll` independent vectors per iteration while that
        // many full vectors remain; the loop below finishes the rest.
        let unroll = self.plan.unroll(tape);
        let (start, start_block) = if unroll > 1 {
            let (head_u, body_u) = (block("head_unrolled"), block("body_unrolled"));
            cg(self.b.build_unconditional_branch(head_u))?;
            self.b.position_at_end(head_u);
            let iu = cg(self.b.build_phi(i64t, "iu"))?;
            let iu_int = iu.as_basic_value().into_int_value();
            let step = i64t.const_int(u64::from(unroll * w), false);
            // `iu <= n` always: it only advances while `n - iu >= step`.
            let left = cg(self.b.build_int_sub(n, iu_int, ""))?;
            let go = cg(self.b.build_int_compare(IntPredicate::UGE, left, step, ""))?;
            cg(self.b.build_conditional_branch(go, body_u, head))?;
            self.b.position_at_end(body_u);
            let mut offsets = Vec::with_capacity(unroll as usize);
            let mut xs: Vec<Vec<BasicValueEnum<'ctx>>> = Vec::with_capacity(unroll as usize);
            for copy in 0..unroll {
                let off = i64t.const_int(u64::from(copy * w), false);
                let at = cg(self.b.build_int_nuw_add(iu_int, off, ""))?;
                let mut row = Vec::with_capacity(tape.n_inputs());
                for &c in &col_ptrs {
                    // `at + w <= n_points` in this loop.
                    let p = self.at(c, at)?;
                    row.push(self.load(vt.into(), p)?);
                }
                offsets.push(at);
                xs.push(row);
            }
            // Every copy's loads come before any store, so an output column
            // may be an input column itself.
            let rows: Vec<&[BasicValueEnum<'ctx>]> = xs.iter().map(|r| r.as_slice()).collect();
            let ys = self.points(tape, lanes, &rows)?;
            for (&at, y) in offsets.iter().zip(ys) {
                store_all(self, at, y)?;
            }
            let iu_next = cg(self.b.build_int_nuw_add(iu_int, step, ""))?;
            // The body may have blocks of its own (`division`).
            let body_end = self.current_block()?;
            cg(self.b.build_unconditional_branch(head_u))?;
            iu.add_incoming(&[(&zero, pre_end), (&iu_next, body_end)]);
            (iu_int, head_u)
        } else {
            cg(self.b.build_unconditional_branch(head))?;
            (zero, pre_end)
        };

        self.b.position_at_end(head);
        let i = cg(self.b.build_phi(i64t, "i"))?;
        let i_int = i.as_basic_value().into_int_value();
        let more = cg(self.b.build_int_compare(IntPredicate::ULT, i_int, n, ""))?;
        cg(self.b.build_conditional_branch(more, sel, done))?;

        self.b.position_at_end(sel);
        let rem = cg(self.b.build_int_sub(n, i_int, "rem"))?;
        let full = cg(self
            .b
            .build_int_compare(IntPredicate::UGE, rem, width, "full"))?;
        cg(self.b.build_conditional_branch(full, lfull, lpart))?;

        // `i < n_points`; full blocks read and write `lanes` points below
        // `n_points`, partial ones are masked.
        let xs = self.load_inputs(&col_ptrs, i_int, rem, [lfull, lpart, body])?;
        let ys = self.point(tape, lanes, &xs, &segs, scratch.map(|s| s.0))?;
        cg(self.b.build_conditional_branch(full, sfull, spart))?;

        self.b.position_at_end(sfull);
        store_all(self, i_int, ys.clone())?;
        cg(self.b.build_unconditional_branch(latch))?;

        self.b.position_at_end(spart);
        let mk = self.lane_mask(w, i64t.const_zero(), rem)?;
        let mstore = self.intrinsic("llvm.masked.store", &[vt.into(), ptr.into()])?;
        for (&o, y) in out_ptrs.iter().zip(ys) {
            let po = self.at(o, i_int)?;
            let args: [BasicMetadataValueEnum; 4] = [y.into(), po.into(), align.into(), mk.into()];
            cg(self.b.build_call(mstore, &args, ""))?;
        }
        cg(self.b.build_unconditional_branch(latch))?;

        self.b.position_at_end(latch);
        let i_next = cg(self.b.build_int_nuw_add(i_int, width, ""))?;
        cg(self.b.build_unconditional_branch(head))?;
        i.add_incoming(&[(&start, start_block), (&i_next, latch)]);

        self.b.position_at_end(done);
        self.free_scratch(scratch)?;
        cg(self.b.build_unconditional_branch(exit))?;
        self.b.position_at_end(exit);
        cg(self.b.build_return(None))?;
        Ok(())
    }
}

/// The function and parameters of a declared `alkahest_eval_bulk`.
pub(super) struct BulkParams<'ctx> {
    pub(super) f: FunctionValue<'ctx>,
    pub(super) cols: PointerValue<'ctx>,
    pub(super) n_vars: IntValue<'ctx>,
    pub(super) outs: PointerValue<'ctx>,
    pub(super) n: IntValue<'ctx>,
}

impl<'ctx> Gen<'ctx, '_> {
    /// Declare `alkahest_eval_bulk(cols, n_vars, outs, n_points)` with its
    /// attributes (both pointer tables `nocapture readonly`): the signature
    /// of the direct and the staged loop alike.
    pub(super) fn declare_bulk(&mut self) -> Result<BulkParams<'ctx>> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let fty = ctx
            .void_type()
            .fn_type(&[ptr.into(), i64t.into(), ptr.into(), i64t.into()], false);
        let f = self.module.add_function(BULK_SYMBOL, fty, None);
        self.add_fn_attrs(f);
        for param in [0, 2] {
            for a in ["nocapture", "readonly"] {
                f.add_attribute(AttributeLoc::Param(param), self.enum_attr(a, 0));
            }
        }
        let param = |i: u32| {
            f.get_nth_param(i)
                .ok_or_else(|| Error::Codegen("missing parameter".into()))
        };
        Ok(BulkParams {
            f,
            cols: param(0)?.into_pointer_value(),
            n_vars: param(1)?.into_int_value(),
            outs: param(2)?.into_pointer_value(),
            n: param(3)?.into_int_value(),
        })
    }

    /// At the builder position: continue at `ok` when the caller passed at
    /// least `n_inputs` columns, else at `bad`.
    pub(super) fn branch_on_columns(
        &mut self,
        tape: &Tape,
        n_vars: IntValue<'ctx>,
        ok: BasicBlock<'ctx>,
        bad: BasicBlock<'ctx>,
    ) -> Result<()> {
        let want = self.ctx.i64_type().const_int(tape.n_inputs() as u64, false);
        let enough = cg(self
            .b
            .build_int_compare(IntPredicate::UGE, n_vars, want, ""))?;
        cg(self.b.build_conditional_branch(enough, ok, bad))?;
        Ok(())
    }
}

impl<'ctx> Gen<'ctx, '_> {
    /// Lanes `base + k < limit` of a `w`-lane vector of points: the mask of
    /// a batch's (or a block's) last, partial vector.
    pub(super) fn lane_mask(
        &self,
        w: u32,
        base: IntValue<'ctx>,
        limit: IntValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let i64t = self.ctx.i64_type();
        let iota: Vec<_> = (0..w).map(|k| i64t.const_int(k as u64, false)).collect();
        let iota = VectorType::const_vector(&iota);
        let (mut b, mut l) = (i64t.vec_type(w).get_undef(), i64t.vec_type(w).get_undef());
        for k in 0..w {
            let idx = i64t.const_int(k as u64, false);
            b = cg(self.b.build_insert_element(b, base, idx, ""))?;
            l = cg(self.b.build_insert_element(l, limit, idx, ""))?;
        }
        let lane = cg(self.b.build_int_nuw_add(iota, b, ""))?;
        cg(self.b.build_int_compare(IntPredicate::ULT, lane, l, "mask"))
    }

    /// One vector of every input column at point `at`, for both loops'
    /// bodies: `full` loads whole vectors, `part` (the last vector, `rem <
    /// lanes` points left) loads them masked (lanes past the end read
    /// nothing and compute on zeros), and `body` merges the two. Both
    /// blocks branch to `body`; the builder is left at its end.
    pub(super) fn load_inputs(
        &mut self,
        cols: &[PointerValue<'ctx>],
        at: IntValue<'ctx>,
        rem: IntValue<'ctx>,
        [full, part, body]: [BasicBlock<'ctx>; 3],
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let w = self.lanes;
        let vt = self.f64t.vec_type(w);
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let align = self.ctx.i32_type().const_int(8, false);
        self.b.position_at_end(full);
        let mut whole = Vec::with_capacity(cols.len());
        for &c in cols {
            // `at + w <= n_points` for a full vector.
            let p = self.at(c, at)?;
            whole.push(self.load(vt.into(), p)?);
        }
        cg(self.b.build_unconditional_branch(body))?;

        self.b.position_at_end(part);
        let mk = self.lane_mask(w, self.ctx.i64_type().const_zero(), rem)?;
        let mload = self.intrinsic("llvm.masked.load", &[vt.into(), ptr.into()])?;
        let mut masked = Vec::with_capacity(cols.len());
        for &c in cols {
            let p = self.at(c, at)?;
            let args = [p.into(), align.into(), mk.into(), vt.const_zero().into()];
            masked.push(self.call_fn(mload, &args)?);
        }
        cg(self.b.build_unconditional_branch(body))?;

        self.b.position_at_end(body);
        let mut xs = Vec::with_capacity(cols.len());
        for (a, b) in whole.iter().zip(&masked) {
            let phi = cg(self.b.build_phi(vt, ""))?;
            phi.add_incoming(&[(a, full), (b, part)]);
            xs.push(phi.as_basic_value());
        }
        Ok(xs)
    }
}
