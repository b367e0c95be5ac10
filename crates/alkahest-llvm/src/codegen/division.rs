//! Vector divisions that share a denominator, through its reciprocal, with
//! the IEEE quotient's bits.
//!
//! On Intel's AVX-512 cores a vector division takes 16 cycles of the divider
//! per eight lanes: a tape with hundreds of divisions is bound by it.
//! Mechanics codes are such tapes: the 4-link pendulum's Jacobian
//! (`M.LUsolve(forcing)`, differentiated) has 212 divisions by only six
//! distinct denominators.
//!
//! So for a denominator `b` that several divisions of one segment share, the
//! loop divides once, `y = 1/b` (correctly rounded: an IEEE division), and
//! each quotient `a / b` takes one multiplication and four FMAs:
//!
//! * `q0 = a y`: within 1.5 ulp of `a/b`;
//! * `q1 = q0 + (a - b q0) y`: the residual's rounding and `y`'s error scale
//!   `q0`'s error by about 2^-52, so `q1` is within one ulp;
//! * `q = q1 + (a - b q1) y`, which is `a/b` rounded to nearest by
//!   Markstein's theorem (P. Markstein, IBM J. Res. Dev. 34(1), 1990; the
//!   final step of IA-64's software division): if `y` is within half an ulp
//!   of `1/b` and `q1` within one ulp of `a/b`, then `a - b q1` is exact and
//!   `q1 + (a - b q1) y` rounds to the correctly rounded quotient.
//!
//! The theorem needs no overflow or underflow on the way: with `|a|` and
//! `|b|` in `[2^-480, 2^480]`, `y` and every quotient are normal, and the
//! residuals are multiples of at least `2^-585`. Lanes outside (zeros,
//! subnormals, infinities, NaN, huge or tiny values) make the vector take
//! one branch, almost never taken, to the ordinary division. Either way
//! every lane holds `a / b`'s own bits.
//!
//! Only where it pays: hosts whose [`Host::slow_vector_division`](crate::host::Host::slow_vector_division) holds,
//! vector code of unsegmented tapes, without fast-math flags (which could
//! contract or reorder the residuals), and denominators with two or more
//! divisions in the segment. Measured on the pendulum's Jacobian (1,176
//! operations, 200k points, Intel Xeon with AVX-512): 142 -> 87 ns a point;
//! the compile took 88 -> 145 ms (each division's branch splits the loop
//! body; the same code without branches ran at 69 ns).

use std::collections::{HashMap, HashSet};

use alkahest_tape::{Op, Tape};
use inkwell::FloatPredicate;
use inkwell::values::{BasicValueEnum, VectorValue};

use super::{Gen, Lanes, cg};
use crate::error::Result;

/// The range of `|a|` and `|b|` the quotient through the reciprocal
/// covers (module docs): from `2^-480` ...
const LOW: f64 = f64::from_bits(0x21F0_0000_0000_0000);
/// ... to `2^480`.
const HIGH: f64 = f64::from_bits(0x5DF0_0000_0000_0000);

/// One denominator's reciprocal `1 / b`, `-b`, and the lanes where `|b|`
/// is in range, per vector copy.
pub(super) type Reciprocals<'ctx> =
    Vec<HashMap<u32, (VectorValue<'ctx>, VectorValue<'ctx>, VectorValue<'ctx>)>>;

impl<'ctx> Gen<'ctx, '_> {
    /// The registers that two or more divisions among ops `start..end`
    /// divide by, where this module's divisions apply (module docs); empty
    /// elsewhere.
    pub(super) fn shared_denominators(
        &self,
        tape: &Tape,
        (start, end): (usize, usize),
        lanes: Lanes<'ctx>,
    ) -> HashSet<u32> {
        let applies = matches!(lanes, Lanes::Vector(..))
            && self.host.slow_vector_division()
            && !self.fast_isel
            && self.fmf.is_empty();
        if !applies {
            return HashSet::new();
        }
        let mut uses: HashMap<u32, u32> = HashMap::new();
        for op in &tape.ops()[start..end] {
            if let Op::Div(_, d) = op {
                *uses.entry(*d).or_default() += 1;
            }
        }
        uses.into_iter()
            .filter_map(|(d, n)| (n >= 2).then_some(d))
            .collect()
    }

    /// `a / b` for each copy's operands `[a, b, _]` (all by register `d`),
    /// through `d`'s reciprocal, made on first use and kept in `recips`
    /// (module docs). One branch covers every copy.
    pub(super) fn shared_quotients(
        &mut self,
        d: u32,
        args_of: &[[BasicValueEnum<'ctx>; 3]],
        recips: &mut Reciprocals<'ctx>,
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let mut fast = Vec::with_capacity(args_of.len());
        let mut all_ok: Option<VectorValue<'ctx>> = None;
        for (copy, args) in args_of.iter().enumerate() {
            let (a, b) = (args[0].into_vector_value(), args[1].into_vector_value());
            let vt = a.get_type();
            let (y, neg_b, b_ok) = match recips[copy].get(&d) {
                Some(&r) => r,
                None => {
                    let y = cg(self.b.build_float_div(self.splat(vt, 1.0), b, ""))?;
                    let neg_b = cg(self.b.build_float_neg(b, ""))?;
                    let b_ok = self.in_range(b)?;
                    recips[copy].insert(d, (y, neg_b, b_ok));
                    (y, neg_b, b_ok)
                }
            };
            let (q, a_ok) = self.quotient(a, neg_b, y)?;
            let ok = cg(self.b.build_and(a_ok, b_ok, ""))?;
            all_ok = Some(match all_ok {
                None => ok,
                Some(m) => cg(self.b.build_and(m, ok, ""))?,
            });
            fast.push(q);
        }
        let Some(ok) = all_ok else {
            return Ok(Vec::new());
        };

        // Every lane in range: go on; else divide in a block out of line.
        let all = self.intrinsic("llvm.vector.reduce.and", &[ok.get_type().into()])?;
        let proved = self.plain_call(all, &[ok.into()])?.into_int_value();
        let here = self.current_block()?;
        let f = self.current_fn()?;
        let join = self.ctx.insert_basic_block_after(here, "div_join");
        let slow = self.ctx.append_basic_block(f, "div_slow");
        let br = cg(self.b.build_conditional_branch(proved, join, slow))?;
        let weights = self.ctx.metadata_node(&[
            self.ctx.metadata_string("branch_weights").into(),
            self.ctx.i32_type().const_int(1 << 20, false).into(),
            self.ctx.i32_type().const_int(1, false).into(),
        ]);
        let _ = br.set_metadata(weights, self.ctx.get_kind_id("prof"));

        self.b.position_at_end(slow);
        let mut exact = Vec::with_capacity(args_of.len());
        for args in args_of {
            let (a, b) = (args[0].into_vector_value(), args[1].into_vector_value());
            exact.push(cg(self.b.build_float_div(a, b, ""))?);
        }
        cg(self.b.build_unconditional_branch(join))?;

        self.b.position_at_end(join);
        let mut out = Vec::with_capacity(fast.len());
        for (q, e) in fast.iter().zip(&exact) {
            let phi = cg(self.b.build_phi(q.get_type(), ""))?;
            phi.add_incoming(&[(q, here), (e, slow)]);
            out.push(phi.as_basic_value());
        }
        Ok(out)
    }

    /// Lanes of `v` whose magnitude is in `[LOW, HIGH]` (false for NaN).
    fn in_range(&mut self, v: VectorValue<'ctx>) -> Result<VectorValue<'ctx>> {
        let vt = v.get_type();
        let v_abs = self.intrinsic_v("llvm.fabs", &[v])?;
        let lo = self.cmp_v(FloatPredicate::OGE, v_abs, self.splat(vt, LOW))?;
        let hi = self.cmp_v(FloatPredicate::OLE, v_abs, self.splat(vt, HIGH))?;
        cg(self.b.build_and(lo, hi, ""))
    }

    /// `a / b` rounded to nearest from `-b` and `y = 1/b` (module docs),
    /// and the lanes where `|a|` is in range for it.
    fn quotient(
        &mut self,
        a: VectorValue<'ctx>,
        neg_b: VectorValue<'ctx>,
        y: VectorValue<'ctx>,
    ) -> Result<(VectorValue<'ctx>, VectorValue<'ctx>)> {
        let q0 = cg(self.b.build_float_mul(a, y, ""))?;
        let r0 = self.fma_v(neg_b, q0, a)?;
        let q1 = self.fma_v(r0, y, q0)?;
        let r1 = self.fma_v(neg_b, q1, a)?;
        let q = self.fma_v(r1, y, q1)?;
        Ok((q, self.in_range(a)?))
    }
}
