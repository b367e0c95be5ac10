//! The batch loop's own vector routines for functions glibc's vector
//! library lacks (`fmod`, `lgamma`, `tgamma`) or computes slowly (`pow`):
//! each is an internal function per module and width that checks whether
//! every lane is in the domain its fast formula serves, runs that formula
//! branch-free if so, and otherwise the scalar libm routine lane by lane
//! (so NaN, infinities, poles and overflow behave exactly as libm's). The
//! formulas are in the `fmod`, `gamma` and `pow` modules. (`tanh` serves
//! every lane, so it needs no domain and is emitted inline: `Kind::Tanh`.)

use alkahest_tape::UnaryFn;
use inkwell::FloatPredicate;
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum, VectorType};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FunctionValue, VectorValue};

use super::{Gen, cg};
use crate::error::{Error, Result};

/// A vector routine of the batch loop's own.
#[derive(Clone, Copy)]
pub(super) enum Routine {
    /// C `fmod(x, y)`, exact.
    Fmod,
    /// `lgamma(x)` or `tgamma(x)` (`UnaryFn::Lgamma`, `UnaryFn::Gamma`).
    Gamma(UnaryFn),
    /// `pow(x, y)`.
    Pow,
}

impl Routine {
    /// How many arguments it takes.
    pub(super) fn arity(self) -> usize {
        match self {
            Routine::Fmod | Routine::Pow => 2,
            Routine::Gamma(_) => 1,
        }
    }

    /// Whether the routine gives libm's bits (then `exact_math` uses it too).
    pub(super) fn exact(self) -> bool {
        matches!(self, Routine::Fmod)
    }

    fn name(self, w: u32) -> String {
        let c = match self {
            Routine::Fmod => "fmod",
            Routine::Pow => "pow",
            Routine::Gamma(f) => f.c_name(),
        };
        format!("alkahest_v{c}_x{w}")
    }
}

impl<'ctx> Gen<'ctx, '_> {
    /// `r` of vectors of type `vt`, through its internal function.
    pub(super) fn call_routine(
        &mut self,
        r: Routine,
        vt: VectorType<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        let f = self.routine_fn(r, vt)?;
        self.plain_call(f, args)
    }

    /// `<w x double> alkahest_v<name>_x<w>(<w x double>, ...)`, emitted once
    /// per module and width.
    fn routine_fn(&mut self, r: Routine, vt: VectorType<'ctx>) -> Result<FunctionValue<'ctx>> {
        let w = vt.get_size();
        self.vector_fn(&r.name(w), vt, r.arity(), |g, f| {
            let (entry, fast, slow) = (
                g.ctx.append_basic_block(f, "entry"),
                g.ctx.append_basic_block(f, "fast"),
                g.ctx.append_basic_block(f, "slow"),
            );
            let args: Vec<VectorValue<'ctx>> =
                f.get_param_iter().map(|p| p.into_vector_value()).collect();

            // entry: the fast formula if every lane is in its domain.
            g.b.position_at_end(entry);
            let ok = match r {
                Routine::Fmod => g.fmod_domain(vt, args[0], args[1])?,
                Routine::Pow => g.pow_domain(vt, args[0], args[1])?,
                Routine::Gamma(u) => g.gamma_domain(u, vt, args[0])?,
            };
            let reduce = g.intrinsic("llvm.vector.reduce.and", &[ok.get_type().into()])?;
            let all = g.plain_call(reduce, &[ok.into()])?.into_int_value();
            cg(g.b.build_conditional_branch(all, fast, slow))?;

            g.b.position_at_end(fast);
            let (y, late) = match r {
                Routine::Fmod => (g.fmod_fast(vt, args[0], args[1])?, None),
                Routine::Pow => {
                    let (y, ok) = g.pow_fast(vt, args[0], args[1])?;
                    (y, Some(ok))
                }
                Routine::Gamma(UnaryFn::Lgamma) => (g.lgamma_fast(vt, args[0])?, None),
                Routine::Gamma(_) => (g.tgamma_fast(vt, args[0])?, None),
            };
            // A domain the formula learns on the way (pow: |y log x|): any
            // lane outside it sends the vector to the slow path too.
            if let Some(ok) = late {
                let done = g.ctx.append_basic_block(f, "done");
                let all = g.plain_call(reduce, &[ok.into()])?.into_int_value();
                cg(g.b.build_conditional_branch(all, done, slow))?;
                g.b.position_at_end(done);
            }
            cg(g.b.build_return(Some(&y)))?;

            // slow: the scalar routine lane by lane, as without this
            // function; on two vectors at once (`Gen::op_paired`), the
            // routine of one vector on each half, so that every vector gets
            // the result it would get alone.
            g.b.position_at_end(slow);
            let params: Vec<BasicValueEnum<'ctx>> = args.iter().map(|&a| a.into()).collect();
            let acc = if w == 2 * g.lanes {
                g.on_halves(vt, &params, |g, half, xs| g.call_routine(r, half, xs))?
            } else {
                g.routine_lanes(r, vt, &params)?
            };
            cg(g.b.build_return(Some(&acc)))?;
            Ok(())
        })
    }

    /// The internal function `<w x double> name(<w x double>, ...)` with
    /// `arity` parameters and the module's function attributes, its body
    /// written by `body` on first use (the builder's position is restored
    /// afterwards); later uses find it by name.
    pub(super) fn vector_fn(
        &mut self,
        name: &str,
        vt: VectorType<'ctx>,
        arity: usize,
        body: impl FnOnce(&mut Self, FunctionValue<'ctx>) -> Result<()>,
    ) -> Result<FunctionValue<'ctx>> {
        if let Some(&f) = self.fns.get(name) {
            return Ok(f);
        }
        let ty: BasicTypeEnum<'ctx> = vt.into();
        let params: Vec<BasicMetadataTypeEnum> = vec![ty.into(); arity];
        let f = self
            .module
            .add_function(name, vt.fn_type(&params, false), Some(Linkage::Internal));
        self.add_fn_attrs(f);
        self.fns.insert(name.to_string(), f);
        let saved = self.b.get_insert_block();
        body(self, f)?;
        if let Some(bb) = saved {
            self.b.position_at_end(bb);
        }
        Ok(f)
    }

    /// A call of `f` with no fast-math flags: the routines' arithmetic is
    /// exact only as IEEE arithmetic.
    pub(super) fn plain_call(
        &self,
        f: FunctionValue<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        let a: Vec<BasicMetadataValueEnum> = args.iter().map(|&v| v.into()).collect();
        match cg(self.b.build_call(f, &a, ""))?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v),
            inkwell::values::ValueKind::Instruction(_) => {
                Err(Error::Codegen("call returned no value".into()))
            }
        }
    }

    /// `c ? a : b` lane by lane.
    pub(super) fn select_v(
        &self,
        c: VectorValue<'ctx>,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        Ok(cg(self.b.build_select(c, a, b, ""))?.into_vector_value())
    }

    /// `a p b` lane by lane: a mask.
    pub(super) fn cmp_v(
        &self,
        p: FloatPredicate,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        cg(self.b.build_float_compare(p, a, b, ""))
    }

    /// The LLVM intrinsic `name` (overloaded on the vectors' type) of
    /// `args`, without fast-math flags.
    pub(super) fn intrinsic_v(
        &mut self,
        name: &str,
        args: &[VectorValue<'ctx>],
    ) -> Result<VectorValue<'ctx>> {
        let f = self.intrinsic(name, &[args[0].get_type().into()])?;
        let a: Vec<BasicValueEnum<'ctx>> = args.iter().map(|&v| v.into()).collect();
        Ok(self.plain_call(f, &a)?.into_vector_value())
    }

    /// `fma(a, b, c)` on vectors, without fast-math flags.
    pub(super) fn fma_v(
        &mut self,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
        c: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        self.intrinsic_v("llvm.fma", &[a, b, c])
    }

    /// `a < b` lane by lane (ordered: false with a NaN).
    pub(super) fn lt_v(
        &self,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        self.cmp_v(FloatPredicate::OLT, a, b)
    }

    /// `v` in every lane of a vector of type `vt`.
    pub(super) fn splat(&self, vt: VectorType<'ctx>, v: f64) -> VectorValue<'ctx> {
        VectorType::const_vector(&vec![self.f64t.const_float(v); vt.get_size() as usize])
    }

    /// Horner's rule, lowest coefficient first.
    pub(super) fn poly_v(
        &mut self,
        vt: VectorType<'ctx>,
        coef: &[f64],
        t: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>> {
        let mut acc = self.splat(vt, coef[coef.len() - 1]);
        for &c in coef.iter().rev().skip(1) {
            let c = self.splat(vt, c);
            acc = self.fma_v(acc, t, c)?;
        }
        Ok(acc)
    }
}
