//! The one-point entry, `alkahest_eval_scalar`.

use alkahest_kernel::Tape;
use inkwell::AddressSpace;
use inkwell::attributes::AttributeLoc;

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
        // `out` holds `n_outputs` doubles by the entry's contract (so it
        // is not null, the branch that splits long runs of stores).
        let ret = self.ctx.append_basic_block(f, "ret");
        let never = cg(self.b.build_is_null(out, "never"))?;
        self.store_run(out, &ys, never, ret)?;
        cg(self.b.build_unconditional_branch(ret))?;
        self.b.position_at_end(ret);
        self.free_scratch(scratch)?;
        cg(self.b.build_return(None))?;
        if let Some(oom) = oom {
            self.b.position_at_end(oom);
            let nan = self.f64t.const_float(f64::NAN).into();
            let never = cg(self.b.build_is_null(out, "never"))?;
            let back = self.ctx.append_basic_block(f, "ret_oom");
            self.store_run(out, &vec![nan; tape.n_outputs()], never, back)?;
            cg(self.b.build_unconditional_branch(back))?;
            self.b.position_at_end(back);
            cg(self.b.build_return(None))?;
        }
        Ok(())
    }
}
