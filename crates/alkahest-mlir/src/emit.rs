//! Emission of the `alkahest` dialect from the expression DAG.

use alkahest_core::{ExprId, Func};
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
use crate::plan::{Plan, Planned, Term};

/// Name of the libm function `hypot` (no math-dialect op exists for it).
pub(crate) const HYPOT: &str = "hypot";

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

/// The math-dialect (or arith) op name of a one- or two-argument function.
pub(crate) fn func_op_name(f: Func) -> &'static str {
    match f {
        Func::Sin => "math.sin",
        Func::Cos => "math.cos",
        Func::Tan => "math.tan",
        Func::Asin => "math.asin",
        Func::Acos => "math.acos",
        Func::Atan => "math.atan",
        Func::Atan2 => "math.atan2",
        Func::Sinh => "math.sinh",
        Func::Cosh => "math.cosh",
        Func::Tanh => "math.tanh",
        Func::Exp => "math.exp",
        Func::Log => "math.log",
        Func::Sqrt => "math.sqrt",
        Func::Abs => "math.absf",
        Func::Log1p => "math.log1p",
        Func::Expm1 => "math.expm1",
        Func::Fma => "math.fma",
        Func::Min => "arith.minimumf",
        Func::Max => "arith.maximumf",
        Func::Hypot => "func.call",
    }
}

/// `func.func private @hypot(f64, f64) -> f64`.
pub(crate) fn declare_hypot<'c>(context: &'c Context, module: &Module<'c>) {
    let f64t = Type::float64(context);
    let loc = Location::unknown(context);
    let ty = FunctionType::new(context, &[f64t, f64t], &[f64t]);
    let decl = func::func(
        context,
        StringAttribute::new(context, HYPOT),
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
    let loc = Location::unknown(context);
    let block = Block::new(&arg_types.iter().map(|&t| (t, loc)).collect::<Vec<_>>());
    body(&block)?;
    let region = Region::new();
    region.append_block(block);
    let ty = FunctionType::new(context, arg_types, result_types);
    let mut attrs = Vec::new();
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
    uses_hypot: bool,
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
            Plan::Func(f, args) => {
                let a: Vec<_> = args.iter().map(|&x| self.v(x)).collect();
                if *f == Func::Hypot {
                    self.uses_hypot = true;
                    let call = func::call(
                        ctx,
                        FlatSymbolRefAttribute::new(ctx, HYPOT),
                        &a,
                        &[self.f64t],
                        self.loc,
                    );
                    self.block.append_operation(call).result(0)?.into()
                } else {
                    self.op(func_op_name(*f), &a, &[])?
                }
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

/// Emit `func.func @name(f64, ...) -> f64` computing the planned
/// expression; returns whether `@hypot` must be declared.
pub(crate) fn emit_function<'c>(
    context: &'c Context,
    module: &Module<'c>,
    name: &str,
    planned: &Planned,
    root: ExprId,
    vars: &[String],
    private: bool,
) -> Result<bool> {
    let f64t = Type::float64(context);
    let mut uses_hypot = false;
    define_func(
        context,
        module,
        name,
        &vec![f64t; vars.len()],
        &[f64t],
        private,
        |block| {
            let mut e = Emitter {
                context,
                block,
                loc: Location::unknown(context),
                f64t,
                values: HashMap::with_capacity(planned.order.len()),
                uses_hypot: false,
            };
            for (id, plan) in &planned.order {
                e.emit(*id, plan, vars)?;
            }
            let out = e.v(root);
            block.append_operation(func::r#return(&[out], e.loc));
            uses_hypot = e.uses_hypot;
            Ok(())
        },
    )?;
    Ok(uses_hypot)
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

/// `func.func @main(tensor<f64> x n) -> tensor<f64>` calling `@callee`:
/// XLA's required entry point in front of the user-named function.
pub(crate) fn emit_main_wrapper<'c>(
    context: &'c Context,
    module: &Module<'c>,
    callee: &str,
    n: usize,
) -> Result<()> {
    let t: Type =
        melior::ir::r#type::RankedTensorType::new(&[], Type::float64(context), None).into();
    define_func(context, module, "main", &vec![t; n], &[t], false, |block| {
        let loc = Location::unknown(context);
        let args: Vec<Value> = (0..n)
            .map(|i| block.argument(i).map(Into::into))
            .collect::<std::result::Result<_, _>>()?;
        let call = func::call(
            context,
            FlatSymbolRefAttribute::new(context, callee),
            &args,
            &[t],
            loc,
        );
        let r: Value = block.append_operation(call).result(0)?.into();
        block.append_operation(func::r#return(&[r], loc));
        Ok(())
    })
}
