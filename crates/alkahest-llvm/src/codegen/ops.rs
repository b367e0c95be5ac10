//! One tape operation on scalars or vectors: arithmetic, comparisons,
//! selections, and functions as exact intrinsics, libm or libmvec calls;
//! plus the small IR helpers (constants, loads, stores, attributes) the
//! rest of the code generator builds on.

use alkahest_tape::{BinaryFn, CmpOp, Op, UnaryFn};
use inkwell::AddressSpace;
use inkwell::FloatPredicate;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum, VectorType};
use inkwell::values::{
    AsValueRef, BasicMetadataValueEnum, BasicValue, BasicValueEnum, FunctionValue, PointerValue,
};

use super::routine::Routine;
use super::{Gen, Lanes, Source, cg, mismatch, returned};
use crate::error::{Error, Result};

/// How a tape function is computed.
#[derive(Clone, Copy)]
enum Kind {
    /// An exact LLVM intrinsic, on scalars and vectors alike.
    Exact(&'static str),
    /// A libm function (its C name): scalar code calls the intrinsic if
    /// there is one (`llvm.sin` lowers to `sin`) or else libm; vector code
    /// calls the libmvec variant if the process has it and `exact_math` is
    /// off, else libm lane by lane.
    Libm(&'static str, Option<&'static str>),
    /// `lgamma` as `lgamma_r(x, &sign)` with a stack slot for the sign: the
    /// same value without C `lgamma`'s write to the global `signgam`, a data
    /// race when threads share a function (the interpreter does the same).
    /// The scalar form of `Own(Routine::Gamma(UnaryFn::Lgamma))`.
    Lgamma,
    /// A function glibc has no vector variant of (`fmod`, `lgamma`,
    /// `tgamma`) or a slower one (`pow`): its libm routine on scalars
    /// ([`scalar_kind`]); on vectors the batch loop's own routine (the
    /// `routine` module), or libm lane by lane under `exact_math` where the
    /// routine is not exact.
    Own(Routine),
    /// `tanh`: libm's on scalars; on vectors the inline `expm1` formula
    /// (the `tanh` module: every lane, so no domain check and no function of
    /// its own, which let the loop interleave it: 0.94 against 1.05 ns a
    /// point as a call), or libm lane by lane under `exact_math`.
    Tanh,
    /// `exp`, `sinh` or `cosh`: libm's on scalars; on vectors the routines
    /// of the `exp` and `hyperbolic` modules where the host has AVX-512,
    /// else libmvec's (or libm's lane by lane under `exact_math`, as for
    /// `Libm`).
    ExpFamily(UnaryFn),
    /// `log`: libm's on scalars; on vectors the `log` module's routine where
    /// the host has AVX-512 ([`Gen::has_own_log`]), else libmvec's, or libm
    /// lane by lane under `exact_math`.
    Log,
    /// `asin` or `acos`: libm's on scalars; on vectors the `asin` module's
    /// routines where the host has AVX-512 ([`Gen::has_own_exp`]), else
    /// libmvec's, or libm lane by lane under `exact_math`.
    Asin(UnaryFn),
}

/// Widest vectors whose own-routine calls [`Gen::op_paired`] pairs. The
/// routine twice as wide is a second body to compile: with a scalar call
/// per lane as its fallback it made LLVM's compile of `x**y + z` 3.1 ->
/// 5.3-7.0 ms at 8 lanes, for `pow` 2.5 -> 2.2 ns a point and `lgamma` 2.8
/// -> 2.5, which the compile time does not pay for. At 4 lanes (AVX2) it
/// bought `pow` 4.7 -> 2.3-2.6 and `lgamma` 4.9 -> 3.4, for a compile of
/// 3.9 ms (the fallback now calls the one-vector routine per half).
const PAIR_MAX_LANES: u32 = 4;

/// How the scalar entry (and a lane of the vector fallback) computes `r`.
fn scalar_kind(r: Routine) -> Kind {
    match r {
        Routine::Fmod => Kind::Libm(BinaryFn::Fmod.c_name(), None),
        Routine::Pow => Kind::Libm(BinaryFn::Pow.c_name(), Some("llvm.pow")),
        Routine::Gamma(UnaryFn::Lgamma) => Kind::Lgamma,
        Routine::Gamma(f) => Kind::Libm(f.c_name(), None),
    }
}

/// A tape function of one or two arguments (see [`Gen::vector_math`]).
#[derive(Clone, Copy)]
pub(super) enum MathFn {
    Unary(UnaryFn),
    Binary(BinaryFn),
}

/// Functions that are not a plain libm call by their table name: exact
/// instructions, and the scalar intrinsics that lower to the very same libm
/// call. Everything else is `Kind::Libm(c_name, None)`.
fn unary_kind(f: UnaryFn) -> Kind {
    match f {
        UnaryFn::Sqrt => Kind::Exact("llvm.sqrt"),
        UnaryFn::Abs => Kind::Exact("llvm.fabs"),
        UnaryFn::Floor => Kind::Exact("llvm.floor"),
        UnaryFn::Ceil => Kind::Exact("llvm.ceil"),
        UnaryFn::Lgamma | UnaryFn::Gamma => Kind::Own(Routine::Gamma(f)),
        UnaryFn::Tanh => Kind::Tanh,
        // Not `llvm.exp2` / `llvm.log2` / `llvm.log10`: the libm call by
        // name is what the interpreter computes, bit for bit.
        UnaryFn::Sin => Kind::Libm(f.c_name(), Some("llvm.sin")),
        UnaryFn::Cos => Kind::Libm(f.c_name(), Some("llvm.cos")),
        UnaryFn::Exp | UnaryFn::Sinh | UnaryFn::Cosh => Kind::ExpFamily(f),
        UnaryFn::Log => Kind::Log,
        UnaryFn::Asin | UnaryFn::Acos => Kind::Asin(f),
        _ => Kind::Libm(f.c_name(), None),
    }
}

/// As [`unary_kind`], for binary functions.
fn binary_kind(f: BinaryFn) -> Kind {
    match f {
        BinaryFn::Min => Kind::Exact("llvm.minimum"),
        BinaryFn::Max => Kind::Exact("llvm.maximum"),
        BinaryFn::Copysign => Kind::Exact("llvm.copysign"),
        BinaryFn::Pow => Kind::Own(Routine::Pow),
        BinaryFn::Fmod => Kind::Own(Routine::Fmod),
        _ => Kind::Libm(f.c_name(), None),
    }
}

/// The `fcmp` predicate of a comparison: ordered (false with a NaN operand)
/// except `Ne`, which is unordered-or-not-equal (true with a NaN), as in C.
fn predicate(k: CmpOp) -> FloatPredicate {
    match k {
        CmpOp::Lt => FloatPredicate::OLT,
        CmpOp::Le => FloatPredicate::OLE,
        CmpOp::Gt => FloatPredicate::OGT,
        CmpOp::Ge => FloatPredicate::OGE,
        CmpOp::Eq => FloatPredicate::OEQ,
        CmpOp::Ne => FloatPredicate::UNE,
    }
}

/// `$self.b.$method(a, b)` on two scalars or two vectors.
macro_rules! arith {
    ($self:ident, $m:ident, $a:expr, $c:expr) => {
        match ($a, $c) {
            (BasicValueEnum::FloatValue(x), BasicValueEnum::FloatValue(y)) => {
                $self.flag(cg($self.b.$m(x, y, ""))?.into())
            }
            (BasicValueEnum::VectorValue(x), BasicValueEnum::VectorValue(y)) => {
                $self.flag(cg($self.b.$m(x, y, ""))?.into())
            }
            _ => return mismatch(),
        }
    };
}

impl<'ctx> Gen<'ctx, '_> {
    pub(super) fn enum_attr(&self, name: &str, val: u64) -> Attribute {
        self.ctx
            .create_enum_attribute(Attribute::get_named_enum_kind_id(name), val)
    }

    pub(super) fn lane_type(&self, lanes: Lanes<'ctx>) -> BasicTypeEnum<'ctx> {
        match lanes {
            Lanes::Scalar => self.f64t.into(),
            Lanes::Vector(vt, _) => vt.into(),
        }
    }

    pub(super) fn lane_bytes(&self, lanes: Lanes<'ctx>) -> u64 {
        match lanes {
            Lanes::Scalar => 8,
            Lanes::Vector(_, w) => 8 * w as u64,
        }
    }

    /// Attributes every generated function gets: no unwinding, and the host
    /// CPU so the backend uses all its features.
    pub(super) fn add_fn_attrs(&self, f: FunctionValue<'ctx>) {
        f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind", 0));
        let cpu = self
            .ctx
            .create_string_attribute("target-cpu", &self.host.cpu);
        f.add_attribute(AttributeLoc::Function, cpu);
        let feat = self
            .ctx
            .create_string_attribute("target-features", &self.host.features);
        f.add_attribute(AttributeLoc::Function, feat);
    }

    /// An LLVM intrinsic overloaded on `ty`.
    pub(super) fn intrinsic(
        &mut self,
        name: &str,
        tys: &[BasicTypeEnum<'ctx>],
    ) -> Result<FunctionValue<'ctx>> {
        Intrinsic::find(name)
            .and_then(|i| i.get_declaration(self.module, tys))
            .ok_or_else(|| Error::Codegen(format!("intrinsic {name} is unknown to LLVM")))
    }

    /// A pure external function `ret name(params...)` (libm or libmvec).
    pub(super) fn external(
        &mut self,
        name: &str,
        ty: BasicTypeEnum<'ctx>,
        arity: usize,
    ) -> FunctionValue<'ctx> {
        if let Some(&f) = self.fns.get(name) {
            return f;
        }
        let params: Vec<BasicMetadataTypeEnum> = vec![ty.into(); arity];
        let f = self
            .module
            .add_function(name, ty.fn_type(&params, false), None);
        // Pure: we do not observe errno, so calls may be hoisted or removed.
        f.add_attribute(AttributeLoc::Function, self.enum_attr("memory", 0));
        f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind", 0));
        f.add_attribute(AttributeLoc::Function, self.enum_attr("willreturn", 0));
        self.fns.insert(name.to_string(), f);
        f
    }

    /// Put the fast-math flags (if any) on a freshly built FP instruction.
    fn flag(&self, v: BasicValueEnum<'ctx>) -> BasicValueEnum<'ctx> {
        // Not every value is an FP instruction (the builder folds
        // constants), so a refusal here is expected and harmless.
        if let Some(i) = v.as_instruction_value().filter(|_| !self.fmf.is_empty()) {
            let _ = i.set_fast_math_flags(self.fmf);
        }
        v
    }

    pub(super) fn call_fn(
        &mut self,
        f: FunctionValue<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        let a: Vec<BasicMetadataValueEnum> = args.iter().map(|&x| x.into()).collect();
        Ok(self.flag(returned(self.b.build_call(f, &a, ""))?))
    }

    /// Apply a tape function to scalars or vectors.
    fn apply(&mut self, kind: Kind, args: &[BasicValueEnum<'ctx>]) -> Result<BasicValueEnum<'ctx>> {
        let ty = args[0].get_type();
        let vt = match ty {
            BasicTypeEnum::FloatType(_) => None,
            BasicTypeEnum::VectorType(vt) => Some(vt),
            _ => return mismatch(),
        };
        match (kind, vt) {
            (Kind::Exact(i), _) | (Kind::Libm(_, Some(i)), None) => {
                let f = self.intrinsic(i, &[ty])?;
                self.call_fn(f, args)
            }
            (Kind::Libm(name, None), None) => {
                let f = self.external(name, ty, args.len());
                self.call_fn(f, args)
            }
            (Kind::Own(r), None) => self.apply(scalar_kind(r), args),
            (Kind::ExpFamily(f), Some(vt)) if !self.exact_math && self.has_own_exp(vt) => Ok(self
                .own_exp_family(f, vt, args[0].into_vector_value())?
                .into()),
            (Kind::ExpFamily(f), _) => {
                let intrinsic = (f == UnaryFn::Exp).then_some("llvm.exp");
                self.apply(Kind::Libm(f.c_name(), intrinsic), args)
            }
            (Kind::Log, Some(vt)) if !self.exact_math && self.has_own_log(vt) => {
                Ok(self.own_log(vt, args[0].into_vector_value())?.into())
            }
            (Kind::Log, _) => self.apply(Kind::Libm(UnaryFn::Log.c_name(), Some("llvm.log")), args),
            (Kind::Asin(f), Some(vt)) if !self.exact_math && self.has_own_exp(vt) => {
                Ok(self.own_asin(f, vt, args[0].into_vector_value())?.into())
            }
            (Kind::Asin(f), _) => self.apply(Kind::Libm(f.c_name(), None), args),
            (Kind::Tanh, Some(vt)) if !self.exact_math => {
                let x = args[0].into_vector_value();
                let inline = self.inline_tanh;
                Ok(self
                    .inline_or_call(inline, UnaryFn::Tanh, vt, x, |g, a| g.tanh_fast(vt, a))?
                    .into())
            }
            (Kind::Tanh, _) => {
                let libm = Kind::Libm(UnaryFn::Tanh.c_name(), None);
                match vt {
                    None => self.apply(libm, args),
                    Some(vt) => self.lanes(libm, vt, args),
                }
            }
            (Kind::Own(r), Some(vt)) if r.exact() || !self.exact_math => {
                self.call_routine(r, vt, args)
            }
            (Kind::Own(r), Some(vt)) => self.lanes(scalar_kind(r), vt, args),
            (Kind::Lgamma, None) => {
                let f = self.lgamma_r();
                let slot = self.sign_slot()?;
                self.call_fn(f, &[args[0], slot.into()])
            }
            (Kind::Libm(..) | Kind::Lgamma, Some(vt)) => {
                if let Kind::Libm(name, _) = kind
                    && !self.exact_math
                    && let Some(variant) = self.host.variant(name, args.len())
                {
                    let native = self.host.lanes;
                    if vt.get_size() == native {
                        let f = self.external(&variant, ty, args.len());
                        return self.call_fn(f, args);
                    }
                    if vt.get_size() == 2 * native {
                        // A routine on two vectors at once (`Gen::op_paired`):
                        // the variant on each half.
                        return self.halves(&variant, vt, args);
                    }
                }
                // No libmvec variant, or `exact_math`.
                self.lanes(kind, vt, args)
            }
        }
    }

    /// libmvec's `variant` (of vectors half as wide as `vt`) on each half
    /// of `args`, joined again.
    fn halves(
        &mut self,
        variant: &str,
        vt: VectorType<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        self.on_halves(vt, args, |g, half, xs| {
            let f = g.external(variant, half.into(), xs.len());
            g.call_fn(f, xs)
        })
    }

    /// `call` (on vectors half as wide as `vt`) on each half of `args`,
    /// joined again.
    pub(super) fn on_halves(
        &mut self,
        vt: VectorType<'ctx>,
        args: &[BasicValueEnum<'ctx>],
        mut call: impl FnMut(
            &mut Self,
            VectorType<'ctx>,
            &[BasicValueEnum<'ctx>],
        ) -> Result<BasicValueEnum<'ctx>>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let w = vt.get_size() / 2;
        let half = self.f64t.vec_type(w);
        let mut parts = Vec::with_capacity(2);
        for range in [0..w, w..2 * w] {
            let mut xs = Vec::with_capacity(args.len());
            for a in args {
                let v = a.into_vector_value();
                let pick = self.pick_lanes(range.clone());
                xs.push(cg(self.b.build_shuffle_vector(v, v, pick, ""))?.into());
            }
            parts.push(call(self, half, &xs)?.into_vector_value());
        }
        let both = self.pick_lanes(0..2 * w);
        Ok(cg(self.b.build_shuffle_vector(parts[0], parts[1], both, ""))?.into())
    }

    /// The shuffle mask picking lanes `range` (of two vectors joined).
    pub(super) fn pick_lanes(
        &self,
        range: std::ops::Range<u32>,
    ) -> inkwell::values::VectorValue<'ctx> {
        let i32t = self.ctx.i32_type();
        let idx: Vec<_> = range.map(|k| i32t.const_int(u64::from(k), false)).collect();
        VectorType::const_vector(&idx)
    }

    /// `kind` (a scalar kind) of vectors of type `vt`, lane by lane: the
    /// scalar entry's very call on each lane.
    fn lanes(
        &mut self,
        kind: Kind,
        vt: VectorType<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        let i64t = self.ctx.i64_type();
        let mut acc = vt.get_undef();
        for lane in 0..vt.get_size() {
            let idx = i64t.const_int(u64::from(lane), false);
            let mut xs = Vec::with_capacity(args.len());
            for a in args {
                xs.push(cg(self.b.build_extract_element(
                    a.into_vector_value(),
                    idx,
                    "",
                ))?);
            }
            let y = self.apply(kind, &xs)?;
            acc = cg(self.b.build_insert_element(acc, y, idx, ""))?;
        }
        Ok(acc.into())
    }

    /// `r`'s libm routine on vectors of type `vt`, lane by lane (the own
    /// routines' fallback for lanes outside their domain).
    pub(super) fn routine_lanes(
        &mut self,
        r: Routine,
        vt: VectorType<'ctx>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        self.lanes(scalar_kind(r), vt, args)
    }

    /// `k` when `y` is the constant vector `k + 1/2` with `k` in 1..=3 and the
    /// batch loop may depart from libm by an ulp or two (vectors, no
    /// `exact_math`): `x^y` is then `x^k sqrt(x)` (see [`Gen::pow_half`]).
    fn half_power(&self, y: BasicValueEnum<'ctx>) -> Option<u32> {
        let BasicValueEnum::VectorValue(v) = y else {
            return None;
        };
        // Only a constant-data vector has elements to read: a splat of 0.0
        // is a zeroinitializer and a folded expression is neither, and
        // reading an element of those crashes inside LLVM.
        // SAFETY: `v` is a live value of this module; this only tests its kind.
        let data =
            unsafe { !llvm_sys::core::LLVMIsAConstantDataVector(v.as_value_ref()).is_null() };
        if self.exact_math || !data {
            return None;
        }
        let c = v
            .get_element_as_constant(0)
            .into_float_value()
            .get_constant()?
            .0;
        let k = c - 0.5;
        (k.fract() == 0.0 && (1.0..=3.0).contains(&k)).then_some(k as u32)
    }

    /// `x^(k + 1/2)` on vectors as `x^k sqrt(x)`: a multiplication or two and
    /// an exact square root instead of a vector `pow` (~3.7 ns a point with
    /// 4 lanes, ~2 with 8, against ~0.5). At most 2 ulp from libm's `pow`
    /// (the drift model's allowance for vector `pow` is 5). C's special
    /// cases kept: `+ 0.0` turns the `-0` of `x = -0` (even `k`) into
    /// `pow`'s `+0`, and `x = -inf` gives `+inf` (`sqrt` would give NaN);
    /// other negative `x` give NaN, as `pow` does.
    fn pow_half(&mut self, x: BasicValueEnum<'ctx>, k: u32) -> Result<BasicValueEnum<'ctx>> {
        let x = x.into_vector_value();
        let vt = x.get_type();
        let mut r = self.intrinsic_v("llvm.sqrt", &[x])?;
        for _ in 0..k {
            r = cg(self.b.build_float_mul(r, x, ""))?;
        }
        let r = cg(self.b.build_float_add(r, self.splat(vt, 0.0), ""))?;
        let neg_inf = self.cmp_v(FloatPredicate::OEQ, x, self.splat(vt, f64::NEG_INFINITY))?;
        Ok(self
            .select_v(neg_inf, self.splat(vt, f64::INFINITY), r)?
            .into())
    }

    /// `op` on two vectors of points at once, as one call of its own
    /// vector routine on vectors twice as wide, when `op` is a call of one
    /// (`pow` with a variable exponent, `fmod`, `lgamma`, `tgamma`; the
    /// libmvec calls inside the last two go half by half, [`Gen::apply`]):
    /// the routines are long chains of dependent operations, and inside one
    /// call the two halves' chains interleave, where a call per vector
    /// runs one chain after the other. `None` for any other operation, and
    /// for vectors of more than [`PAIR_MAX_LANES`] lanes.
    pub(super) fn op_paired(
        &mut self,
        op: Op,
        a: [BasicValueEnum<'ctx>; 3],
        b: [BasicValueEnum<'ctx>; 3],
    ) -> Result<Option<[BasicValueEnum<'ctx>; 2]>> {
        let routine = match op {
            Op::Binary(BinaryFn::Pow, ..) if self.half_power(a[1]).is_none() => Routine::Pow,
            Op::Binary(BinaryFn::Fmod, ..) => Routine::Fmod,
            Op::Unary(f @ (UnaryFn::Lgamma | UnaryFn::Gamma), _) => Routine::Gamma(f),
            _ => return Ok(None),
        };
        if self.exact_math && !routine.exact() {
            return Ok(None);
        }
        let BasicValueEnum::VectorValue(first) = a[0] else {
            return Ok(None);
        };
        let w = first.get_type().get_size();
        if w > PAIR_MAX_LANES {
            return Ok(None);
        }
        let mut wide = Vec::with_capacity(routine.arity());
        for k in 0..routine.arity() {
            let (BasicValueEnum::VectorValue(lo), BasicValueEnum::VectorValue(hi)) = (a[k], b[k])
            else {
                return Ok(None);
            };
            let both = self.pick_lanes(0..2 * w);
            wide.push(cg(self.b.build_shuffle_vector(lo, hi, both, ""))?.into());
        }
        let vt2 = self.f64t.vec_type(2 * w);
        let r = self.call_routine(routine, vt2, &wide)?.into_vector_value();
        let lo = cg(self.b.build_shuffle_vector(r, r, self.pick_lanes(0..w), ""))?;
        let hi = cg(self
            .b
            .build_shuffle_vector(r, r, self.pick_lanes(w..2 * w), ""))?;
        Ok(Some([lo.into(), hi.into()]))
    }

    /// `f` of vectors as the batch loop computes it (libmvec's routine, an
    /// own routine, or libm lane by lane, as [`Gen::apply`] decides): for
    /// routines built from others (the `gamma` module).
    pub(super) fn vector_math(
        &mut self,
        f: MathFn,
        args: &[inkwell::values::VectorValue<'ctx>],
    ) -> Result<inkwell::values::VectorValue<'ctx>> {
        let kind = match f {
            MathFn::Unary(u) => unary_kind(u),
            MathFn::Binary(b) => binary_kind(b),
        };
        let args: Vec<BasicValueEnum<'ctx>> = args.iter().map(|&a| a.into()).collect();
        Ok(self.apply(kind, &args)?.into_vector_value())
    }

    /// `double lgamma_r(double x, int *sign)`: reads `x`, writes `*sign`.
    fn lgamma_r(&mut self) -> FunctionValue<'ctx> {
        let name = crate::libm::symbol("lgamma");
        if let Some(&f) = self.fns.get(name) {
            return f;
        }
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        let fty = self.f64t.fn_type(&[self.f64t.into(), ptr.into()], false);
        let f = self.module.add_function(name, fty, None);
        // `memory(argmem: write)`: MemoryEffects puts argument memory in
        // bits 0-1, and 2 is "mod" (write only). No errno is observed.
        f.add_attribute(AttributeLoc::Function, self.enum_attr("memory", 2));
        f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind", 0));
        f.add_attribute(AttributeLoc::Function, self.enum_attr("willreturn", 0));
        for a in ["nocapture", "writeonly", "noalias"] {
            f.add_attribute(AttributeLoc::Param(1), self.enum_attr(a, 0));
        }
        self.fns.insert(name.to_string(), f);
        f
    }

    /// The `int` slot for `lgamma_r`'s sign: one `alloca` at the start of
    /// the current function's entry block (an `alloca` inside the loop
    /// would grow the stack on every iteration).
    fn sign_slot(&mut self) -> Result<PointerValue<'ctx>> {
        let lost = || Error::Codegen("builder lost its block".into());
        let f = self
            .b
            .get_insert_block()
            .and_then(|bb| bb.get_parent())
            .ok_or_else(lost)?;
        if let Some((g, p)) = self.sign_slot
            && g == f
        {
            return Ok(p);
        }
        let entry = f.get_first_basic_block().ok_or_else(lost)?;
        let at = self.ctx.create_builder();
        match entry.get_first_instruction() {
            Some(i) => at.position_before(&i),
            None => at.position_at_end(entry),
        }
        let p = cg(at.build_alloca(self.ctx.i32_type(), "sign"))?;
        self.sign_slot = Some((f, p));
        Ok(p)
    }

    /// `fcmp` of two scalars or vectors: an `i1` or a vector of them.
    fn fcmp(
        &self,
        pred: FloatPredicate,
        a: BasicValueEnum<'ctx>,
        b: BasicValueEnum<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let v: BasicValueEnum<'ctx> = match (a, b) {
            (BasicValueEnum::FloatValue(x), BasicValueEnum::FloatValue(y)) => {
                cg(self.b.build_float_compare(pred, x, y, ""))?.into()
            }
            (BasicValueEnum::VectorValue(x), BasicValueEnum::VectorValue(y)) => {
                cg(self.b.build_float_compare(pred, x, y, ""))?.into()
            }
            _ => return mismatch(),
        };
        Ok(self.flag(v))
    }

    /// `select` on an `fcmp` result (scalar or per lane).
    pub(super) fn select(
        &self,
        mask: BasicValueEnum<'ctx>,
        a: BasicValueEnum<'ctx>,
        b: BasicValueEnum<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let v = match mask {
            BasicValueEnum::IntValue(m) => cg(self.b.build_select(m, a, b, ""))?,
            BasicValueEnum::VectorValue(m) => cg(self.b.build_select(m, a, b, ""))?,
            _ => return mismatch(),
        };
        Ok(self.flag(v))
    }

    /// The comparison `a k c`: its mask, and that mask as the tape's 1.0 /
    /// 0.0 value (see [`Gen::truth_value`]).
    pub(super) fn compare(
        &mut self,
        k: CmpOp,
        a: BasicValueEnum<'ctx>,
        c: BasicValueEnum<'ctx>,
        lanes: Lanes<'ctx>,
    ) -> Result<(BasicValueEnum<'ctx>, BasicValueEnum<'ctx>)> {
        let mask = self.fcmp(predicate(k), a, c)?;
        Ok((mask, self.truth_value(mask, lanes)?))
    }

    /// A comparison's mask as 1.0 / 0.0.
    ///
    /// `uitofp`, not `select(mask, 1.0, 0.0)`: LLVM 19's x86 DAG combiner
    /// miscompiles the select form on vectors when the comparison folds at
    /// that level, e.g. `c = (x > x)` (always false): `c / ne(0, c)`, which
    /// is `0 / 0`, came out `0` instead of NaN (`fdiv a, select(m, 1, 0)` is
    /// first rewritten to `select(m, a, a / 0)`, and the pieces then fold
    /// wrongly; `tests/folded_conditions.rs`). The `uitofp` form folds to
    /// NaN there; it costs a conversion where the value is used as a
    /// number, and a `Select` on the comparison uses its mask instead (see
    /// `Gen::segment`). Fast instruction selection (segmented tapes, whose
    /// code is not combined this way: the same test passes) keeps the
    /// select, which it handles without falling back.
    fn truth_value(
        &mut self,
        mask: BasicValueEnum<'ctx>,
        lanes: Lanes<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        if self.fast_isel {
            let one = self.konst_operand(1.0, lanes)?;
            let zero = self.konst_operand(0.0, lanes)?;
            return self.select(mask, one, zero);
        }
        let v: BasicValueEnum<'ctx> = match (mask, lanes) {
            (BasicValueEnum::IntValue(m), _) => {
                cg(self.b.build_unsigned_int_to_float(m, self.f64t, ""))?.into()
            }
            (BasicValueEnum::VectorValue(m), Lanes::Vector(vt, _)) => {
                cg(self.b.build_unsigned_int_to_float(m, vt, ""))?.into()
            }
            _ => return mismatch(),
        };
        Ok(v)
    }

    pub(super) fn konst(&self, c: f64, lanes: Lanes<'ctx>) -> BasicValueEnum<'ctx> {
        let s = self.f64t.const_float(c);
        match lanes {
            Lanes::Scalar => s.into(),
            Lanes::Vector(_, w) => VectorType::const_vector(&vec![s; w as usize]).into(),
        }
    }

    /// A constant as an operand: an immediate IR constant, or (for fast
    /// instruction selection, which cannot materialize vector constants) a
    /// load from a private constant global.
    pub(super) fn konst_operand(
        &mut self,
        c: f64,
        lanes: Lanes<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let v = self.konst(c, lanes);
        let Lanes::Vector(vt, _) = lanes else {
            return Ok(v);
        };
        if !self.fast_isel {
            return Ok(v);
        }
        let g = match self.const_globals.get(&c.to_bits()) {
            Some(&g) => g,
            None => {
                let name = format!("alkahest_k{}", self.const_globals.len());
                let g = self.module.add_global(vt, None, &name);
                g.set_linkage(Linkage::Private);
                g.set_initializer(&v);
                g.set_constant(true);
                g.set_unnamed_addr(true);
                g.set_alignment(32);
                self.const_globals.insert(c.to_bits(), g);
                g
            }
        };
        self.load(vt.into(), g.as_pointer_value())
    }

    pub(super) fn slot_ptr(
        &self,
        scratch: PointerValue<'ctx>,
        lanes: Lanes<'ctx>,
        slot: u32,
    ) -> Result<PointerValue<'ctx>> {
        let idx = self.ctx.i64_type().const_int(slot as u64, false);
        // SAFETY: `slot < n_slots`, the scratch array's length; emits IR only.
        cg(unsafe {
            self.b
                .build_in_bounds_gep(self.lane_type(lanes), scratch, &[idx], "")
        })
    }

    pub(super) fn load(
        &self,
        ty: BasicTypeEnum<'ctx>,
        p: PointerValue<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let v = cg(self.b.build_load(ty, p, ""))?;
        if let Some(i) = v.as_instruction_value() {
            // Scratch and columns are only guaranteed 8-byte aligned.
            let _ = i.set_alignment(8);
        }
        Ok(v)
    }

    pub(super) fn store(&self, p: PointerValue<'ctx>, v: BasicValueEnum<'ctx>) -> Result<()> {
        let s = cg(self.b.build_store(p, v))?;
        let _ = s.set_alignment(8);
        Ok(())
    }

    /// One tape operation on operand values `[a, c, d]`.
    pub(super) fn op(
        &mut self,
        op: Op,
        [a, c, d]: [BasicValueEnum<'ctx>; 3],
        lanes: Lanes<'ctx>,
        src: &Source<'_, 'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        Ok(match op {
            Op::Input(v) => match src {
                Source::Inputs(xs) => xs[v as usize],
                Source::Scratch(_) => {
                    return Err(Error::Codegen("input inside a segment".into()));
                }
            },
            Op::Const(k) => self.konst_operand(k, lanes)?,
            Op::Neg(_) => match a {
                BasicValueEnum::FloatValue(x) => {
                    self.flag(cg(self.b.build_float_neg(x, ""))?.into())
                }
                BasicValueEnum::VectorValue(x) => {
                    self.flag(cg(self.b.build_float_neg(x, ""))?.into())
                }
                _ => return mismatch(),
            },
            Op::Add(..) => arith!(self, build_float_add, a, c),
            Op::Sub(..) => arith!(self, build_float_sub, a, c),
            Op::Mul(..) => arith!(self, build_float_mul, a, c),
            Op::Div(..) => arith!(self, build_float_div, a, c),
            Op::Unary(f, _) => self.apply(unary_kind(f), &[a])?,
            Op::Binary(BinaryFn::Pow, ..) => match self.half_power(c) {
                Some(k) => self.pow_half(a, k)?,
                None => self.apply(binary_kind(BinaryFn::Pow), &[a, c])?,
            },
            Op::Binary(f, ..) => self.apply(binary_kind(f), &[a, c])?,
            Op::Fma(..) => self.apply(Kind::Exact("llvm.fma"), &[a, c, d])?,
            Op::Cmp(k, ..) => self.compare(k, a, c, lanes)?.1,
            // `c != 0` is `une`: a NaN condition selects `a`, as the
            // reference `select` does.
            Op::Select(..) => {
                let zero = self.konst_operand(0.0, lanes)?;
                let mask = self.fcmp(FloatPredicate::UNE, a, zero)?;
                self.select(mask, c, d)?
            }
        })
    }
}
