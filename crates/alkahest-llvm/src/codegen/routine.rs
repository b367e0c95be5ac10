//! The batch loop's own vector routines for functions glibc's vector
//! library lacks (`fmod`, `lgamma`, `tgamma`) or computes slowly (`pow`):
//! each is a function per width, built once per process by the `library`
//! module (a tape's module calls it through a cell), that checks whether
//! every lane is in the domain its fast formula serves, runs that formula
//! branch-free if so, and otherwise the scalar libm routine lane by lane
//! (so NaN, infinities, poles and overflow behave exactly as libm's). The
//! formulas are in the `fmod`, `gamma` and `pow` modules. (`tanh` serves
//! every lane, so it needs no domain and is emitted inline: `Kind::Tanh`.)

use alkahest_tape::UnaryFn;
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum, VectorType};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, FunctionValue, VectorValue,
};
use inkwell::{AddressSpace, AtomicOrdering, FloatPredicate};

use super::{Gen, cg, returned};
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

    /// Every routine.
    const ALL: [Routine; 4] = [
        Routine::Fmod,
        Routine::Pow,
        Routine::Gamma(UnaryFn::Lgamma),
        Routine::Gamma(UnaryFn::Gamma),
    ];

    fn c_name(self) -> &'static str {
        match self {
            Routine::Fmod => "fmod",
            Routine::Pow => "pow",
            Routine::Gamma(f) => f.c_name(),
        }
    }

    /// Name of its function of width `w` inside a module.
    fn name(self, w: u32) -> String {
        format!("alkahest_v{}_x{w}", self.c_name())
    }

    /// Symbol of the library's function of width `w` for a bulk loop of
    /// `lanes` lanes (a routine of twice the loop's width runs its slow
    /// path and its libmvec calls half by half: `Gen::op_paired`).
    pub(super) fn symbol(self, w: u32, lanes: u32) -> String {
        format!("{}{}_x{w}_l{lanes}", super::library::PREFIX, self.c_name())
    }

    /// The routine, width and loop lanes a library symbol names; `None` for
    /// any other name, or a width the library does not build.
    pub(super) fn parse(symbol: &str) -> Option<(Routine, u32, u32)> {
        let rest = symbol.strip_prefix(super::library::PREFIX)?;
        let (c, rest) = rest.rsplit_once("_x")?;
        let (w, lanes) = rest.split_once("_l")?;
        let (w, lanes): (u32, u32) = (w.parse().ok()?, lanes.parse().ok()?);
        let r = Routine::ALL.into_iter().find(|r| r.c_name() == c)?;
        let ok = matches!(lanes, 1 | 2 | 4 | 8) && (w == lanes || w == 2 * lanes);
        ok.then_some((r, w, lanes))
    }
}

impl<'ctx> Gen<'ctx, '_> {
    /// `r` of vectors of type `vt`: a call into the routine library, or in
    /// the library's own module, of the function itself.
    pub(super) fn call_routine(
        &mut self,
        r: Routine,
        vt: VectorType<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        if !self.library {
            let f = self.routine_fn(r, vt)?;
            return self.plain_call(f, args);
        }
        // Through the routine's cell (`library`), whose address the loader
        // binds; an atomic load, since the library may swap the routine.
        let name = r.symbol(vt.get_size(), self.lanes);
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let cell = match self.cells.get(&name) {
            Some(&g) => g,
            None => {
                let g = self.module.add_global(ptr, None, &name);
                g.set_linkage(Linkage::External);
                self.cells.insert(name, g);
                g
            }
        };
        let load = cg(self.b.build_load(ptr, cell.as_pointer_value(), ""))?;
        if let Some(i) = load.as_instruction_value() {
            i.set_alignment(8)
                .map_err(|e| Error::Codegen(e.to_string()))?;
            i.set_atomic_ordering(AtomicOrdering::Monotonic)
                .map_err(|e| Error::Codegen(e.to_string()))?;
        }
        let ty: BasicTypeEnum<'ctx> = vt.into();
        let params: Vec<BasicMetadataTypeEnum> = vec![ty.into(); r.arity()];
        let a: Vec<BasicMetadataValueEnum> = args.iter().map(|&v| v.into()).collect();
        returned(self.b.build_indirect_call(
            vt.fn_type(&params, false),
            load.into_pointer_value(),
            &a,
            "",
        ))
    }

    /// `<w x double> alkahest_v<name>_x<w>(<w x double>, ...)`, emitted once
    /// per module and width.
    pub(super) fn routine_fn(
        &mut self,
        r: Routine,
        vt: VectorType<'ctx>,
    ) -> Result<FunctionValue<'ctx>> {
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

    /// `body` of `x` inline when `inline`, else a call of `<w x double>
    /// alkahest_v<f>_x<w>(<w x double>)`, an internal function with that
    /// body emitted once per module: the choice the `exp`, `log` and `asin`
    /// modules make by how many of their operations a tape has
    /// ([`super::exp::inline_routine`]: inline copies cost compile time, the
    /// call costs the loop's values in registers).
    pub(super) fn inline_or_call(
        &mut self,
        inline: bool,
        f: UnaryFn,
        vt: VectorType<'ctx>,
        x: VectorValue<'ctx>,
        body: impl Fn(&mut Self, VectorValue<'ctx>) -> Result<VectorValue<'ctx>>,
    ) -> Result<VectorValue<'ctx>> {
        if inline {
            return body(self, x);
        }
        let name = format!("alkahest_v{}_x{}", f.c_name(), vt.get_size());
        let func = self.vector_fn(&name, vt, 1, |g, func| {
            let entry = g.ctx.append_basic_block(func, "entry");
            g.b.position_at_end(entry);
            let arg = func
                .get_first_param()
                .ok_or_else(|| Error::Codegen(format!("{name} lost its parameter")))?
                .into_vector_value();
            let y = body(g, arg)?;
            cg(g.b.build_return(Some(&y)))?;
            Ok(())
        })?;
        Ok(self.plain_call(func, &[x.into()])?.into_vector_value())
    }

    /// A call of `f` with no fast-math flags: the routines' arithmetic is
    /// exact only as IEEE arithmetic.
    pub(super) fn plain_call(
        &self,
        f: FunctionValue<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        let a: Vec<BasicMetadataValueEnum> = args.iter().map(|&v| v.into()).collect();
        returned(self.b.build_call(f, &a, ""))
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
