//! The one-point entry, `alkahest_eval_scalar`.

use alkahest_tape::Tape;
use inkwell::AddressSpace;
use inkwell::attributes::AttributeLoc;

use super::staged::STORES_PER_BLOCK;
use super::{Gen, Lanes, SCALAR_SYMBOL, cg};
use crate::error::{Error, Result};

impl<'ctx> Gen<'ctx, '_> {
    /// `void alkahest_eval_scalar(const double *inputs, double *out)`:
    /// writes output `k` to `out[k]` (NaN everywhere without memory for a
    /// large scratch array).
    pub(super) fn scalar_entry(&mut self, tape: &Tape) -> Result<()> {
        let lanes = Lanes::Scalar;
        let segs = self.segment_fns(tape, lanes)?;
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let fty = self
            .ctx
            .void_type()
            .fn_type(&[ptr.into(), ptr.into()], false);
        let f = self.module.add_function(SCALAR_SYMBOL, fty, None);
        self.add_fn_attrs(f);
        for (param, attrs) in [
            (0, ["nocapture", "readonly"]),
            (1, ["nocapture", "writeonly"]),
        ] {
            for a in attrs {
                f.add_attribute(AttributeLoc::Param(param), self.enum_attr(a, 0));
            }
        }
        let entry = self.ctx.append_basic_block(f, "entry");
        self.b.position_at_end(entry);
        let param = |i: u32| {
            f.get_nth_param(i)
                .map(|p| p.into_pointer_value())
                .ok_or_else(|| Error::Codegen("missing parameter".into()))
        };
        let (base, out) = (param(0)?, param(1)?);
        let i64t = self.ctx.i64_type();
        let idx = |k: usize| i64t.const_int(k as u64, false);
        let mut inputs = Vec::with_capacity(tape.n_inputs());
        for v in 0..tape.n_inputs() {
            // `inputs` holds `n_inputs` doubles by the entry's contract.
            let p = self.at(base, idx(v))?;
            inputs.push(self.load(self.f64t.into(), p)?);
        }
        // Every input is loaded before any output is stored, so `out` may
        // even be the input array.
        let scratch = self.alloc_scratch(lanes)?;
        // Only a heap scratch array can fail.
        let oom = matches!(scratch, Some((_, true))).then(|| self.ctx.append_basic_block(f, "oom"));
        if let Some(oom) = oom {
            self.check_scratch(f, scratch, oom)?;
        }
        let ys = self.point(tape, lanes, &inputs, &segs, scratch.map(|s| s.0))?;
        // `out` holds `n_outputs` doubles by the entry's contract.
        self.store_outputs(f, out, &ys)?;
        self.free_scratch(scratch)?;
        cg(self.b.build_return(None))?;
        if let Some(oom) = oom {
            self.b.position_at_end(oom);
            let nan = self.f64t.const_float(f64::NAN).into();
            self.store_outputs(f, out, &vec![nan; tape.n_outputs()])?;
            cg(self.b.build_return(None))?;
        }
        Ok(())
    }

    /// `out[k] = ys[k]`, continuing at the builder position afterwards:
    /// straight-line stores in one block for up to `STORES_PER_BLOCK`
    /// outputs; beyond, runs split by a branch on `out == null` (never
    /// true by the entry's contract; see `Gen::store_run`).
    fn store_outputs(
        &mut self,
        f: inkwell::values::FunctionValue<'ctx>,
        out: inkwell::values::PointerValue<'ctx>,
        ys: &[inkwell::values::BasicValueEnum<'ctx>],
    ) -> Result<()> {
        let i64t = self.ctx.i64_type();
        if ys.len() <= STORES_PER_BLOCK {
            for (k, &y) in ys.iter().enumerate() {
                let p = self.at(out, i64t.const_int(k as u64, false))?;
                self.store(p, y)?;
            }
            return Ok(());
        }
        let next = self.ctx.append_basic_block(f, "stored");
        let never = cg(self.b.build_is_null(out, "never"))?;
        self.store_run(out, ys, never, next)?;
        cg(self.b.build_unconditional_branch(next))?;
        self.b.position_at_end(next);
        Ok(())
    }
}
