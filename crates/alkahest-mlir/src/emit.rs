//! Emission of the `alkahest` dialect from the expression DAG.

use std::collections::BTreeSet;

use alkahest_core::ExprId;
use alkahest_tape::CmpOp;
use hashbrown::HashMap;
use melior::Context;
use melior::dialect::func;
use melior::ir::attribute::{
    FlatSymbolRefAttribute, FloatAttribute, IntegerAttribute, StringAttribute, TypeAttribute,
};
use melior::ir::operation::OperationBuilder;
use melior::ir::r#type::{FunctionType, IntegerType};
use melior::ir::{
    Attribute, Block, BlockLike, Identifier, Location, Module, Region, RegionLike, Type, Value,
};

use crate::dialect::f64_array;
use crate::error::Result;
use crate::funcs::{self, LGAMMA_R, Lowered, Spelling};
use crate::plan::{Plan, Planned, Term};

/// Append one single-result f64 op to `block`.
pub(crate) fn push<'c, 'a>(
    block: &'a Block<'c>,
    name: &str,
    operands: &[Value<'c, '_>],
    attrs: &[(Identifier<'c>, Attribute<'c>)],
    result: Type<'c>,
    loc: Location<'c>,
) -> Result<Value<'c, 'a>> {
    let op = OperationBuilder::new(name, loc)
        .add_operands(operands)
        .add_attributes(attrs)
        .add_results(&[result])
        .build()?;
    Ok(block.append_operation(op).result(0)?.into())
}

/// `func.call @callee(args) : (...) -> f64`.
pub(crate) fn call<'c, 'a>(
    context: &'c Context,
    block: &'a Block<'c>,
    callee: &str,
    args: &[Value<'c, '_>],
    loc: Location<'c>,
) -> Result<Value<'c, 'a>> {
    let f64t = Type::float64(context);
    let op = func::call(
        context,
        FlatSymbolRefAttribute::new(context, callee),
        args,
        &[f64t],
        loc,
    );
    Ok(block.append_operation(op).result(0)?.into())
}

/// `func.func private @name(f64, ...) -> f64` for every libm function the
/// module calls (`@lgamma_r` takes `(f64, !llvm.ptr)`), in name order.
pub(crate) fn declare_callees<'c>(
    context: &'c Context,
    module: &Module<'c>,
    callees: &BTreeSet<&'static str>,
) {
    let f64t = Type::float64(context);
    let loc = Location::unknown(context);
    for &name in callees {
        let args: Vec<Type> = if name == LGAMMA_R {
            vec![f64t, melior::dialect::llvm::r#type::pointer(context, 0)]
        } else {
            vec![f64t; funcs::of_callee(name).map_or(1, |f| f.arity())]
        };
        let ty = FunctionType::new(context, &args, &[f64t]);
        let decl = func::func(
            context,
            StringAttribute::new(context, name),
            TypeAttribute::new(ty.into()),
            Region::new(),
            &[(
                Identifier::new(context, "sym_visibility"),
                StringAttribute::new(context, "private").into(),
            )],
            loc,
        );
        module.body().append_operation(decl);
    }
}

/// A `func.func @name` with `n_args` f64 arguments and `results` f64
/// results whose body `body` fills (it must append the terminator).
pub(crate) fn define_func<'c>(
    context: &'c Context,
    module: &Module<'c>,
    name: &str,
    arg_types: &[Type<'c>],
    result_types: &[Type<'c>],
    private: bool,
    body: impl FnOnce(&Block<'c>) -> Result<()>,
) -> Result<()> {
    define_func_with(
        context,
        module,
        name,
        (arg_types, result_types),
        private,
        &[],
        body,
    )
}

/// [`define_func`] with any argument and result types and extra
/// attributes on the `func.func`.
pub(crate) fn define_func_with<'c>(
    context: &'c Context,
    module: &Module<'c>,
    name: &str,
    (arg_types, result_types): (&[Type<'c>], &[Type<'c>]),
    private: bool,
    extra: &[(Identifier<'c>, Attribute<'c>)],
    body: impl FnOnce(&Block<'c>) -> Result<()>,
) -> Result<()> {
    let loc = Location::unknown(context);
    let block = Block::new(&arg_types.iter().map(|&t| (t, loc)).collect::<Vec<_>>());
    body(&block)?;
    let region = Region::new();
    region.append_block(block);
    let ty = FunctionType::new(context, arg_types, result_types);
    let mut attrs = extra.to_vec();
    if private {
        attrs.push((
            Identifier::new(context, "sym_visibility"),
            StringAttribute::new(context, "private").into(),
        ));
    }
    let f = func::func(
        context,
        StringAttribute::new(context, name),
        TypeAttribute::new(ty.into()),
        region,
        &attrs,
        loc,
    );
    module.body().append_operation(f);
    Ok(())
}

struct Emitter<'c, 'a> {
    context: &'c Context,
    block: &'a Block<'c>,
    loc: Location<'c>,
    f64t: Type<'c>,
    values: HashMap<ExprId, Value<'c, 'a>>,
    /// libm functions called (declared by the caller).
    callees: BTreeSet<&'static str>,
}

impl<'c, 'a> Emitter<'c, 'a> {
    fn op(
        &self,
        name: &str,
        operands: &[Value<'c, '_>],
        attrs: &[(&str, Attribute<'c>)],
    ) -> Result<Value<'c, 'a>> {
        let attrs: Vec<_> = attrs
            .iter()
            .map(|(k, v)| (Identifier::new(self.context, k), *v))
            .collect();
        push(self.block, name, operands, &attrs, self.f64t, self.loc)
    }

    fn konst(&self, c: f64) -> Result<Value<'c, 'a>> {
        let a = FloatAttribute::new(self.context, self.f64t, c);
        self.op("alkahest.const", &[], &[("value", a.into())])
    }

    fn v(&self, id: ExprId) -> Value<'c, 'a> {
        self.values[&id]
    }

    /// A run-time coefficient: a sum of products.
    fn coefficient(&self, terms: &[Term]) -> Result<Value<'c, 'a>> {
        let mut sum = Vec::with_capacity(terms.len());
        for t in terms {
            let mut factors = Vec::with_capacity(t.factors.len() + 1);
            if let Some(c) = t.c {
                factors.push(self.konst(c)?);
            }
            factors.extend(t.factors.iter().map(|&f| self.v(f)));
            sum.push(match factors.len() {
                0 => self.konst(1.0)?,
                1 => factors[0],
                _ => self.op("alkahest.mul", &factors, &[])?,
            });
        }
        match sum.len() {
            0 => self.konst(0.0),
            1 => Ok(sum[0]),
            _ => self.op("alkahest.add", &sum, &[]),
        }
    }

    fn cmp(&self, k: CmpOp, a: Value<'c, 'a>, b: Value<'c, 'a>) -> Result<Value<'c, 'a>> {
        let p = StringAttribute::new(self.context, &funcs::predicate(k));
        self.op("alkahest.cmp", &[a, b], &[("predicate", p.into())])
    }

    fn select(
        &self,
        c: Value<'c, 'a>,
        a: Value<'c, 'a>,
        b: Value<'c, 'a>,
    ) -> Result<Value<'c, 'a>> {
        self.op("alkahest.select", &[c, a, b], &[])
    }

    /// A function of emitted values, spelled as the tape crate lowers it.
    fn func(&mut self, f: Lowered, a: &[Value<'c, 'a>]) -> Result<Value<'c, 'a>> {
        Ok(match f {
            Lowered::Fn(t) => match funcs::spelling(t) {
                Spelling::Op(name) => self.op(&name, a, &[])?,
                Spelling::Call(c) => {
                    self.callees.insert(c);
                    call(self.context, self.block, c, a, self.loc)?
                }
            },
            Lowered::Fma => self.op("math.fma", a, &[])?,
            Lowered::Cmp(k) => self.cmp(k, a[0], a[1])?,
            Lowered::Where => self.select(a[0], a[1], a[2])?,
            Lowered::And => {
                let zero = self.konst(0.0)?;
                self.select(a[0], a[1], zero)?
            }
            Lowered::Or => {
                let one = self.konst(1.0)?;
                self.select(a[0], one, a[1])?
            }
            Lowered::Not => {
                let (zero, one) = (self.konst(0.0)?, self.konst(1.0)?);
                self.select(a[0], zero, one)?
            }
            Lowered::Sign => {
                // 1 above zero, -1 below, x itself otherwise (±0, NaN).
                let x = a[0];
                let zero = self.konst(0.0)?;
                let (one, minus_one) = (self.konst(1.0)?, self.konst(-1.0)?);
                let neg = self.cmp(CmpOp::Lt, x, zero)?;
                let inner = self.select(neg, minus_one, x)?;
                let pos = self.cmp(CmpOp::Gt, x, zero)?;
                self.select(pos, one, inner)?
            }
            Lowered::Special(sp) => {
                let c = funcs::special_callee(sp);
                self.callees.insert(c);
                call(self.context, self.block, c, a, self.loc)?
            }
            Lowered::Mod => {
                // fmod (sign of the dividend), plus b once when the signs differ.
                let (x, y) = (a[0], a[1]);
                let zero = self.konst(0.0)?;
                let r = self.func(
                    Lowered::Fn(funcs::TapeFn::Binary(alkahest_tape::BinaryFn::Fmod)),
                    &[x, y],
                )?;
                let nonzero = self.cmp(CmpOp::Ne, r, zero)?;
                let r_neg = self.cmp(CmpOp::Lt, r, zero)?;
                let y_neg = self.cmp(CmpOp::Lt, y, zero)?;
                let differ = self.cmp(CmpOp::Ne, r_neg, y_neg)?;
                let fix = self.select(nonzero, differ, zero)?;
                let shifted = self.op("alkahest.add", &[r, y], &[])?;
                self.select(fix, shifted, r)?
            }
        })
    }

    fn emit(&mut self, id: ExprId, plan: &Plan, vars: &[String]) -> Result<Value<'c, 'a>> {
        let ctx = self.context;
        Ok(match plan {
            Plan::Sym(i) => {
                let arg: Value = self.block.argument(*i)?.into();
                let attrs = [
                    ("name", StringAttribute::new(ctx, &vars[*i]).into()),
                    (
                        "index",
                        IntegerAttribute::new(IntegerType::new(ctx, 64).into(), *i as i64).into(),
                    ),
                ];
                self.op("alkahest.sym", &[arg], &attrs)?
            }
            Plan::Const(c) => self.konst(*c)?,
            Plan::Add(t) => self.op(
                "alkahest.add",
                &t.iter().map(|&x| self.v(x)).collect::<Vec<_>>(),
                &[],
            )?,
            Plan::Mul(t) => self.op(
                "alkahest.mul",
                &t.iter().map(|&x| self.v(x)).collect::<Vec<_>>(),
                &[],
            )?,
            Plan::Pow(b, e) => self.op("alkahest.pow", &[self.v(*b), self.v(*e)], &[])?,
            Plan::PowLibm(b, e) => {
                let pow = funcs::TapeFn::Binary(alkahest_tape::BinaryFn::Pow);
                self.func(Lowered::Fn(pow), &[self.v(*b), self.v(*e)])?
            }
            Plan::Func(f, args) => {
                let a: Vec<_> = args.iter().map(|&x| self.v(x)).collect();
                self.func(funcs::lowered(*f), &a)?
            }
            Plan::Horner { x, coeffs, rest } => {
                let h = self.op(
                    "alkahest.horner",
                    &[self.v(*x)],
                    &[("coeffs", f64_array(ctx, coeffs))],
                )?;
                if rest.is_empty() {
                    h
                } else {
                    let mut sum = vec![h];
                    sum.extend(rest.iter().map(|&r| self.v(r)));
                    self.op("alkahest.add", &sum, &[])?
                }
            }
            Plan::PolyEval { x, coeffs } => {
                let mut operands = vec![self.v(*x)];
                for c in coeffs {
                    operands.push(self.coefficient(c)?);
                }
                self.op("alkahest.poly_eval", &operands, &[])?
            }
            Plan::Rational { x, num, den } => self.op(
                "alkahest.rational_fn",
                &[self.v(*x)],
                &[("num", f64_array(ctx, num)), ("den", f64_array(ctx, den))],
            )?,
        })
        .inspect(|&v| {
            self.values.insert(id, v);
        })
    }
}

/// Emit `func.func @name(f64, ...) -> (f64, ...)` computing the planned
/// outputs `roots` (one result each, in order); returns the libm functions
/// it calls, which the caller declares with [`declare_callees`].
pub(crate) fn emit_function<'c>(
    context: &'c Context,
    module: &Module<'c>,
    name: &str,
    planned: &Planned,
    roots: &[ExprId],
    vars: &[String],
    private: bool,
) -> Result<BTreeSet<&'static str>> {
    let f64t = Type::float64(context);
    let mut callees = BTreeSet::new();
    define_func(
        context,
        module,
        name,
        &vec![f64t; vars.len()],
        &vec![f64t; roots.len()],
        private,
        |block| {
            let mut e = Emitter {
                context,
                block,
                loc: Location::unknown(context),
                f64t,
                values: HashMap::with_capacity(planned.order.len()),
                callees: BTreeSet::new(),
            };
            for (id, plan) in &planned.order {
                e.emit(*id, plan, vars)?;
            }
            let out: Vec<Value> = roots.iter().map(|&r| e.v(r)).collect();
            block.append_operation(func::r#return(&out, e.loc));
            callees = std::mem::take(&mut e.callees);
            Ok(())
        },
    )?;
    Ok(callees)
}

/// Emit the point function for a series: `alkahest.series_taylor` of the
/// single argument.
pub(crate) fn emit_series<'c>(
    context: &'c Context,
    module: &Module<'c>,
    name: &str,
    var: &str,
    center: f64,
    coeffs: &[f64],
) -> Result<()> {
    let f64t = Type::float64(context);
    define_func(context, module, name, &[f64t], &[f64t], false, |block| {
        let loc = Location::unknown(context);
        let id = |s: &str| Identifier::new(context, s);
        let arg: Value = block.argument(0)?.into();
        let x = push(
            block,
            "alkahest.sym",
            &[arg],
            &[
                (id("name"), StringAttribute::new(context, var).into()),
                (
                    id("index"),
                    IntegerAttribute::new(IntegerType::new(context, 64).into(), 0).into(),
                ),
            ],
            f64t,
            loc,
        )?;
        let y = push(
            block,
            "alkahest.series_taylor",
            &[x],
            &[
                (
                    id("center"),
                    FloatAttribute::new(context, f64t, center).into(),
                ),
                (id("coeffs"), f64_array(context, coeffs)),
            ],
            f64t,
            loc,
        )?;
        block.append_operation(func::r#return(&[y], loc));
        Ok(())
    })
}

/// Emit `@name(m0, r0, m1, r1, ...) -> (mid, rad)` as one
/// `alkahest.interval_eval` of `@callee`.
pub(crate) fn emit_interval<'c>(
    context: &'c Context,
    module: &Module<'c>,
    name: &str,
    callee: &str,
    n_vars: usize,
) -> Result<()> {
    let f64t = Type::float64(context);
    define_func(
        context,
        module,
        name,
        &vec![f64t; 2 * n_vars],
        &[f64t, f64t],
        false,
        |block| {
            let loc = Location::unknown(context);
            let args: Vec<Value> = (0..2 * n_vars)
                .map(|i| block.argument(i).map(Into::into))
                .collect::<std::result::Result<_, _>>()?;
            let op = OperationBuilder::new("alkahest.interval_eval", loc)
                .add_operands(&args)
                .add_attributes(&[(
                    Identifier::new(context, "callee"),
                    FlatSymbolRefAttribute::new(context, callee).into(),
                )])
                .add_results(&[f64t, f64t])
                .build()?;
            let op = block.append_operation(op);
            let (m, r): (Value, Value) = (op.result(0)?.into(), op.result(1)?.into());
            block.append_operation(func::r#return(&[m, r], loc));
            Ok(())
        },
    )
}

/// `func.func @main(tensor<f64> x n) -> (tensor<f64> x m)` calling
/// `@callee`: XLA's required entry point in front of the user-named function.
pub(crate) fn emit_main_wrapper<'c>(
    context: &'c Context,
    module: &Module<'c>,
    callee: &str,
    n: usize,
    m: usize,
) -> Result<()> {
    let t: Type =
        melior::ir::r#type::RankedTensorType::new(&[], Type::float64(context), None).into();
    let results = vec![t; m];
    define_func(
        context,
        module,
        "main",
        &vec![t; n],
        &results,
        false,
        |block| {
            let loc = Location::unknown(context);
            let args: Vec<Value> = (0..n)
                .map(|i| block.argument(i).map(Into::into))
                .collect::<std::result::Result<_, _>>()?;
            let call = func::call(
                context,
                FlatSymbolRefAttribute::new(context, callee),
                &args,
                &results,
                loc,
            );
            let call = block.append_operation(call);
            let r: Vec<Value> = (0..m)
                .map(|i| call.result(i).map(Into::into))
                .collect::<std::result::Result<_, _>>()?;
            block.append_operation(func::r#return(&r, loc));
            Ok(())
        },
    )
}
