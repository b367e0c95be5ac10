//! The tape's body for one point or one vector of points: ops in order
//! (interleaved copies for the unrolled bulk loop), or, for segmented
//! plans, one function per segment exchanging values through the scratch
//! array; plus the scratch array itself and the entries' pointer tables.

use std::collections::HashMap;

use alkahest_tape::{Op, Tape};
use inkwell::AddressSpace;
use inkwell::attributes::AttributeLoc;
use inkwell::module::Linkage;
use inkwell::values::{BasicValueEnum, FunctionValue, IntValue, PointerValue, ValueKind};

use super::division::Reciprocals;
use super::plan::{MAX_STACK_SCRATCH, NO_SLOT};
use super::{Gen, Lanes, Source, cg};
use crate::error::{Error, Result};

impl<'ctx> Gen<'ctx, '_> {
    /// Emit ops `start..end` at the builder position, once per source in
    /// `srcs` (independent copies, e.g. several vectors of points),
    /// interleaved op by op so the copies' dependency chains overlap.
    /// Returns every op's value: `(i - start) * srcs.len() + copy`.
    pub(super) fn segment(
        &mut self,
        tape: &Tape,
        lanes: Lanes<'ctx>,
        (start, end): (usize, usize),
        srcs: &[Source<'_, 'ctx>],
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let copies = srcs.len();
        // `local[(i - start) * copies + c]`: op `i`'s value in copy `c`,
        // filled in emission order (`alkahest_tape::emission_order`).
        let mut local: Vec<BasicValueEnum<'ctx>> =
            vec![self.f64t.const_zero().into(); (end - start) * copies];
        let mut live_in: Vec<HashMap<u32, BasicValueEnum<'ctx>>> = vec![HashMap::new(); copies];
        // The `fcmp` mask behind each comparison of this segment, so that a
        // `Select` on it selects on the mask instead of testing its 1.0 /
        // 0.0 again (see `Gen::truth_value` for why that value is not
        // itself a select, which LLVM would fold back into the mask).
        let mut masks: Vec<HashMap<u32, BasicValueEnum<'ctx>>> = vec![HashMap::new(); copies];
        // Denominators shared by several divisions, and their reciprocals
        // once made (the `division` module).
        let shared = self.shared_denominators(tape, (start, end), lanes);
        let mut recips: Reciprocals<'ctx> = vec![HashMap::new(); copies];
        for i in alkahest_tape::emission_order(tape, start, end) {
            let op = tape.ops()[i];
            let mut args_of: Vec<[BasicValueEnum<'ctx>; 3]> = Vec::with_capacity(copies);
            for (copy, src) in srcs.iter().enumerate() {
                let mut args = [self.f64t.const_zero().into(); 3];
                for (k, r) in op.operands().enumerate() {
                    args[k] = if r as usize >= start {
                        local[(r as usize - start) * copies + copy]
                    } else if let Some(&v) = live_in[copy].get(&r) {
                        v
                    } else if let Op::Const(c) = tape.ops()[r as usize] {
                        let v = self.konst_operand(c, lanes)?;
                        live_in[copy].insert(r, v);
                        v
                    } else {
                        let Source::Scratch(scratch) = src else {
                            return Err(Error::Codegen(format!("register {r} has no source")));
                        };
                        let p = self.slot_ptr(*scratch, lanes, self.plan.slot[r as usize])?;
                        let v = self.load(self.lane_type(lanes), p)?;
                        live_in[copy].insert(r, v);
                        v
                    };
                }
                args_of.push(args);
            }
            // Two copies of a call of an own vector routine: one call on
            // both (see `Gen::op_paired`).
            let paired = match (op, args_of.as_slice()) {
                (Op::Div(_, d), _) if shared.contains(&d) => {
                    Some(self.shared_quotients(d, &args_of, &mut recips)?)
                }
                (_, [a, b]) => self.op_paired(op, *a, *b)?.map(|v| v.to_vec()),
                _ => None,
            };
            for (copy, src) in srcs.iter().enumerate() {
                let args = args_of[copy];
                let v = match (op, &paired) {
                    (_, Some(vs)) => vs[copy],
                    (Op::Cmp(k, ..), None) => {
                        let (m, v) = self.compare(k, args[0], args[1], lanes)?;
                        masks[copy].insert(i as u32, m);
                        v
                    }
                    (Op::Select(c, ..), None) if masks[copy].contains_key(&c) => {
                        self.select(masks[copy][&c], args[1], args[2])?
                    }
                    _ => self.op(op, args, lanes, src)?,
                };
                if let (Source::Scratch(scratch), Some(&s)) = (src, self.plan.slot.get(i))
                    && s != NO_SLOT
                {
                    let p = self.slot_ptr(*scratch, lanes, s)?;
                    self.store(p, v)?;
                }
                local[(i - start) * copies + copy] = v;
            }
        }
        Ok(local)
    }

    /// One function per segment (only for segmented plans).
    pub(super) fn segment_fns(
        &mut self,
        tape: &Tape,
        lanes: Lanes<'ctx>,
    ) -> Result<Vec<FunctionValue<'ctx>>> {
        if !self.plan.segmented() {
            return Ok(Vec::new());
        }
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let fty = self.ctx.void_type().fn_type(&[ptr.into()], false);
        let tag = match lanes {
            Lanes::Scalar => 1,
            Lanes::Vector(_, w) => w,
        };
        let mut fns = Vec::with_capacity(self.plan.ranges.len());
        for s in 0..self.plan.ranges.len() {
            let name = format!("alkahest_seg{s}_x{tag}");
            let f = self
                .module
                .add_function(&name, fty, Some(Linkage::Internal));
            self.add_fn_attrs(f);
            f.add_attribute(AttributeLoc::Function, self.enum_attr("noinline", 0));
            for a in ["noalias", "nocapture"] {
                f.add_attribute(AttributeLoc::Param(0), self.enum_attr(a, 0));
            }
            let bb = self.ctx.append_basic_block(f, "entry");
            self.b.position_at_end(bb);
            let scratch = f
                .get_nth_param(0)
                .ok_or_else(|| Error::Codegen("missing parameter".into()))?
                .into_pointer_value();
            let range = self.plan.ranges[s];
            self.segment(tape, lanes, range, &[Source::Scratch(scratch)])?;
            cg(self.b.build_return(None))?;
            fns.push(f);
        }
        Ok(fns)
    }

    /// The tape's outputs for one point (or one vector of points) given
    /// the input values, at the builder position.
    pub(super) fn point(
        &mut self,
        tape: &Tape,
        lanes: Lanes<'ctx>,
        inputs: &[BasicValueEnum<'ctx>],
        segs: &[FunctionValue<'ctx>],
        scratch: Option<PointerValue<'ctx>>,
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let Some(scratch) = scratch.filter(|_| self.plan.segmented()) else {
            let mut ys = self.points(tape, lanes, &[inputs])?;
            return ys
                .pop()
                .ok_or_else(|| Error::Codegen("no point computed".into()));
        };
        for (v, &x) in inputs.iter().enumerate() {
            if self.plan.slot[v] != NO_SLOT {
                let p = self.slot_ptr(scratch, lanes, self.plan.slot[v])?;
                self.store(p, x)?;
            }
        }
        for &f in segs {
            cg(self.b.build_call(f, &[scratch.into()], ""))?;
        }
        let mut ys = Vec::with_capacity(tape.n_outputs());
        for &out in tape.outputs() {
            ys.push(match tape.ops()[out as usize] {
                Op::Const(c) => self.konst(c, lanes),
                Op::Input(v) => inputs[v as usize],
                _ => {
                    let p = self.slot_ptr(scratch, lanes, self.plan.slot[out as usize])?;
                    self.load(self.lane_type(lanes), p)?
                }
            });
        }
        Ok(ys)
    }

    /// The tape's outputs for several independent sets of input values, at
    /// the builder position (unsegmented plans only), interleaved op by op:
    /// `result[copy][k]` is output `k` of copy `copy`.
    pub(super) fn points(
        &mut self,
        tape: &Tape,
        lanes: Lanes<'ctx>,
        inputs: &[&[BasicValueEnum<'ctx>]],
    ) -> Result<Vec<Vec<BasicValueEnum<'ctx>>>> {
        let range = self.plan.ranges[0];
        debug_assert_eq!(range, (0, tape.ops().len()));
        let srcs: Vec<Source<'_, 'ctx>> = inputs.iter().map(|xs| Source::Inputs(xs)).collect();
        let copies = srcs.len();
        let local = self.segment(tape, lanes, range, &srcs)?;
        Ok((0..copies)
            .map(|copy| {
                tape.outputs()
                    .iter()
                    .map(|&o| local[o as usize * copies + copy])
                    .collect()
            })
            .collect())
    }

    /// Allocate the scratch array in the current block. Returns the pointer
    /// and whether it came from `malloc` (then it may be null).
    pub(super) fn alloc_scratch(
        &mut self,
        lanes: Lanes<'ctx>,
    ) -> Result<Option<(PointerValue<'ctx>, bool)>> {
        if !self.plan.segmented() || self.plan.n_slots == 0 {
            return Ok(None);
        }
        let i64t = self.ctx.i64_type();
        let bytes = self.plan.n_slots as u64 * self.lane_bytes(lanes);
        if bytes <= MAX_STACK_SCRATCH {
            let n = i64t.const_int(self.plan.n_slots as u64, false);
            let p = cg(self
                .b
                .build_array_alloca(self.lane_type(lanes), n, "scratch"))?;
            return Ok(Some((p, false)));
        }
        Ok(Some((self.malloc(bytes)?, true)))
    }

    /// `malloc(bytes)` at the builder position (the pointer may be null).
    pub(super) fn malloc(&mut self, bytes: u64) -> Result<PointerValue<'ctx>> {
        let malloc = self.malloc_fn();
        let size = self.ctx.i64_type().const_int(bytes, false);
        match cg(self.b.build_call(malloc, &[size.into()], ""))?.try_as_basic_value() {
            ValueKind::Basic(v) => Ok(v.into_pointer_value()),
            ValueKind::Instruction(_) => Err(Error::Codegen("malloc returned no value".into())),
        }
    }

    /// The basic block the builder is in.
    pub(super) fn current_block(&self) -> Result<inkwell::basic_block::BasicBlock<'ctx>> {
        self.b
            .get_insert_block()
            .ok_or_else(|| Error::Codegen("builder lost its block".into()))
    }

    /// The function the builder is in.
    pub(super) fn current_fn(&self) -> Result<FunctionValue<'ctx>> {
        self.current_block()?
            .get_parent()
            .ok_or_else(|| Error::Codegen("block outside a function".into()))
    }

    /// `malloc`, declared on first use.
    pub(super) fn malloc_fn(&mut self) -> FunctionValue<'ctx> {
        if let Some(&f) = self.fns.get("malloc") {
            return f;
        }
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let i64t = self.ctx.i64_type();
        let f = self
            .module
            .add_function("malloc", ptr.fn_type(&[i64t.into()], false), None);
        f.add_attribute(AttributeLoc::Return, self.enum_attr("noalias", 0));
        self.fns.insert("malloc".into(), f);
        f
    }

    pub(super) fn free_scratch(
        &mut self,
        scratch: Option<(PointerValue<'ctx>, bool)>,
    ) -> Result<()> {
        if let Some((p, true)) = scratch {
            let ptr = self.ctx.ptr_type(AddressSpace::default());
            let free = match self.fns.get("free") {
                Some(&f) => f,
                None => {
                    let f = self.module.add_function(
                        "free",
                        self.ctx.void_type().fn_type(&[ptr.into()], false),
                        None,
                    );
                    self.fns.insert("free".into(), f);
                    f
                }
            };
            cg(self.b.build_call(free, &[p.into()], ""))?;
        }
        Ok(())
    }

    /// Branch to `fail` if a heap scratch array is null; continue in a new
    /// block of `f` otherwise.
    pub(super) fn check_scratch(
        &mut self,
        f: FunctionValue<'ctx>,
        scratch: Option<(PointerValue<'ctx>, bool)>,
        fail: inkwell::basic_block::BasicBlock<'ctx>,
    ) -> Result<()> {
        if let Some((p, true)) = scratch {
            let ok = self.ctx.append_basic_block(f, "scratch_ok");
            let null = cg(self.b.build_is_null(p, ""))?;
            cg(self.b.build_conditional_branch(null, fail, ok))?;
            self.b.position_at_end(ok);
        }
        Ok(())
    }

    /// `base + idx` doubles (in bounds by the caller's contract).
    pub(super) fn at(
        &self,
        base: PointerValue<'ctx>,
        idx: IntValue<'ctx>,
    ) -> Result<PointerValue<'ctx>> {
        // SAFETY: emits an in-bounds GEP; every caller indexes memory the
        // entry's contract makes valid (inputs, columns, output columns).
        cg(unsafe { self.b.build_in_bounds_gep(self.f64t, base, &[idx], "") })
    }

    /// Load `n` pointers `table[0..n]` (the column tables of the bulk entry).
    pub(super) fn load_table(
        &self,
        table: PointerValue<'ctx>,
        n: usize,
    ) -> Result<Vec<PointerValue<'ctx>>> {
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let i64t = self.ctx.i64_type();
        let mut ps = Vec::with_capacity(n);
        for k in 0..n {
            let idx = i64t.const_int(k as u64, false);
            // SAFETY: `k < n`, the table's length by the entry's contract;
            // emits IR only.
            let p = cg(unsafe { self.b.build_in_bounds_gep(ptr, table, &[idx], "") })?;
            ps.push(cg(self.b.build_load(ptr, p, ""))?.into_pointer_value());
        }
        Ok(ps)
    }
}
