//! Lowering to `arith` + `math`: [`ArithSink`] and [`lower_to_arith`].

use std::collections::BTreeSet;

use alkahest_kernel::{BinaryFn, CmpOp, UnaryFn};
use hashbrown::HashMap;
use melior::Context;
use melior::dialect::func;
use melior::ir::attribute::{FloatAttribute, IntegerAttribute, TypeAttribute};
use melior::ir::operation::OperationBuilder;
use melior::ir::r#type::{FunctionType, IntegerType};
use melior::ir::{
    Block, BlockLike, BlockRef, Identifier, Location, Module, OperationRef, Type, Value,
};

use super::ball::BallSink;
use super::walk::{Sink, body_of, functions, walk};
use crate::emit::{call, declare_callees, define_func, push};
use crate::error::{Error, Result};
use crate::funcs::{self, LGAMMA_R, Spelling};

/// Lowering to `arith` + `math` (plus `func.call` of libm functions that
/// have no math op: `hypot`, `erfc`, `tgamma`, `lgamma`).
pub(crate) struct ArithSink<'c, 'a, 'm> {
    context: &'c Context,
    block: &'a Block<'c>,
    loc: Location<'c>,
    f64t: Type<'c>,
    /// The libm functions called, which the module must declare.
    pub callees: BTreeSet<&'static str>,
    /// The `int` that `lgamma_r` writes the sign to (one per function).
    lgamma_sign: Option<Value<'c, 'a>>,
    /// The alkahest module, for the callees of `interval_eval`.
    source: &'m Module<'c>,
    /// Emit `llvm.intr.fma` / `sqrt` / `fabs` instead of the math ops
    /// (the LLVM path: `convert-math-to-libm` would turn them into calls).
    intrinsics: bool,
    consts: HashMap<u64, Value<'c, 'a>>,
}

impl<'c, 'a> ArithSink<'c, 'a, '_> {
    fn op(&mut self, name: &str, operands: &[Value<'c, '_>]) -> Result<Value<'c, 'a>> {
        push(self.block, name, operands, &[], self.f64t, self.loc)
    }

    fn call(&mut self, callee: &'static str, args: &[Value<'c, '_>]) -> Result<Value<'c, 'a>> {
        self.callees.insert(callee);
        call(self.context, self.block, callee, args, self.loc)
    }

    /// `lgamma_r(x, &sign)`: C's `lgamma` without its write to the global
    /// `signgam` (the same value; no data race between threads).
    fn lgamma_r(&mut self, x: Value<'c, 'a>) -> Result<Value<'c, 'a>> {
        let sign = match self.lgamma_sign {
            Some(p) => p,
            None => {
                let ctx = self.context;
                let i64t: Type = IntegerType::new(ctx, 64).into();
                let one = push(
                    self.block,
                    "llvm.mlir.constant",
                    &[],
                    &[(
                        Identifier::new(ctx, "value"),
                        IntegerAttribute::new(i64t, 1).into(),
                    )],
                    i64t,
                    self.loc,
                )?;
                let alloca = OperationBuilder::new("llvm.alloca", self.loc)
                    .add_operands(&[one])
                    .add_attributes(&[(
                        Identifier::new(ctx, "elem_type"),
                        TypeAttribute::new(IntegerType::new(ctx, 32).into()).into(),
                    )])
                    .add_results(&[melior::dialect::llvm::r#type::pointer(ctx, 0)])
                    .build()?;
                let p: Value = self.block.append_operation(alloca).result(0)?.into();
                self.lgamma_sign = Some(p);
                p
            }
        };
        self.call(LGAMMA_R, &[x, sign])
    }

    /// `arith.cmpf` with `predicate`, an `i1`.
    fn cmpf(
        &mut self,
        predicate: CmpfPredicate,
        a: Value<'c, 'a>,
        b: Value<'c, 'a>,
    ) -> Result<Value<'c, 'a>> {
        let ctx = self.context;
        push(
            self.block,
            "arith.cmpf",
            &[a, b],
            &[(
                Identifier::new(ctx, "predicate"),
                IntegerAttribute::new(IntegerType::new(ctx, 64).into(), predicate as i64).into(),
            )],
            IntegerType::new(ctx, 1).into(),
            self.loc,
        )
    }
}

/// `arith.cmpf` predicates (MLIR's `CmpFPredicate` enum values).
#[derive(Clone, Copy)]
enum CmpfPredicate {
    Oeq = 1,
    Ogt = 2,
    Oge = 3,
    Olt = 4,
    Ole = 5,
    Une = 13,
}

impl<'c, 'a> Sink for ArithSink<'c, 'a, '_> {
    type V = Value<'c, 'a>;
    const TARGET: &'static str = "arith";
    fn konst(&mut self, c: f64) -> Result<Self::V> {
        if let Some(&v) = self.consts.get(&c.to_bits()) {
            return Ok(v);
        }
        let attr = FloatAttribute::new(self.context, self.f64t, c);
        let v = push(
            self.block,
            "arith.constant",
            &[],
            &[(
                melior::ir::Identifier::new(self.context, "value"),
                attr.into(),
            )],
            self.f64t,
            self.loc,
        )?;
        self.consts.insert(c.to_bits(), v);
        Ok(v)
    }
    fn add(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        self.op("arith.addf", &[a, b])
    }
    fn sub(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        self.op("arith.subf", &[a, b])
    }
    fn mul(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        self.op("arith.mulf", &[a, b])
    }
    fn div(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        self.op("arith.divf", &[a, b])
    }
    fn neg(&mut self, a: Self::V) -> Result<Self::V> {
        self.op("arith.negf", &[a])
    }
    fn fma(&mut self, a: Self::V, b: Self::V, c: Self::V) -> Result<Self::V> {
        let name = if self.intrinsics {
            "llvm.intr.fma"
        } else {
            "math.fma"
        };
        self.op(name, &[a, b, c])
    }
    fn unary(&mut self, f: UnaryFn, a: Self::V) -> Result<Self::V> {
        if self.intrinsics {
            // Instructions, not libm calls (convert-math-to-libm would turn
            // math.floor into a call to floor).
            let intrinsic = match f {
                UnaryFn::Sqrt => Some("llvm.intr.sqrt"),
                UnaryFn::Abs => Some("llvm.intr.fabs"),
                UnaryFn::Floor => Some("llvm.intr.floor"),
                UnaryFn::Ceil => Some("llvm.intr.ceil"),
                UnaryFn::Lgamma => return self.lgamma_r(a),
                _ => None,
            };
            if let Some(name) = intrinsic {
                return self.op(name, &[a]);
            }
        }
        match funcs::unary_spelling(f) {
            Spelling::Op(name) => self.op(&name, &[a]),
            Spelling::Call(c) => self.call(c, &[a]),
        }
    }
    fn binary(&mut self, f: BinaryFn, a: Self::V, b: Self::V) -> Result<Self::V> {
        // MLIR 19's math-to-llvm has no pattern for math.copysign.
        if self.intrinsics && f == BinaryFn::Copysign {
            return self.op("llvm.intr.copysign", &[a, b]);
        }
        match funcs::binary_spelling(f) {
            Spelling::Op(name) => self.op(&name, &[a, b]),
            Spelling::Call(c) => self.call(c, &[a, b]),
        }
    }
    fn cmp(&mut self, k: CmpOp, a: Self::V, b: Self::V) -> Result<Self::V> {
        // Ordered predicates (false on NaN), unordered for Ne (true on NaN).
        let p = match k {
            CmpOp::Lt => CmpfPredicate::Olt,
            CmpOp::Le => CmpfPredicate::Ole,
            CmpOp::Gt => CmpfPredicate::Ogt,
            CmpOp::Ge => CmpfPredicate::Oge,
            CmpOp::Eq => CmpfPredicate::Oeq,
            CmpOp::Ne => CmpfPredicate::Une,
        };
        let c = self.cmpf(p, a, b)?;
        self.op("arith.uitofp", &[c])
    }
    fn select(&mut self, c: Self::V, a: Self::V, b: Self::V) -> Result<Self::V> {
        let zero = self.konst(0.0)?;
        let p = self.cmpf(CmpfPredicate::Une, c, zero)?;
        self.op("arith.select", &[p, a, b])
    }
    fn interval(&mut self, callee: &str, args: &[Self::V]) -> Result<(Self::V, Self::V)> {
        let source = self.source;
        let funcs = functions(source)?;
        let body = funcs
            .iter()
            .find(|(n, _)| n == callee)
            .and_then(|&(_, f)| body_of(f))
            .ok_or_else(|| Error::Mlir {
                stage: "lowering",
                diagnostics: format!(
                    "interval_eval callee @{callee} is not a function of the module"
                ),
            })?;
        // SAFETY: `body` belongs to `source`, alive for this call.
        let n_args = unsafe { BlockRef::from_raw(body) }.argument_count();
        if args.len() % 2 != 0 || args.len() / 2 != n_args {
            return Err(Error::Mlir {
                stage: "lowering",
                diagnostics: format!(
                    "interval_eval of @{callee} needs 2 operands (mid, rad) per argument"
                ),
            });
        }
        let balls: Vec<(Self::V, Self::V)> = args.chunks(2).map(|c| (c[0], c[1])).collect();
        let mut ball = BallSink { p: self };
        let out = walk(body, &balls, &mut ball)?;
        out.first().copied().ok_or_else(|| Error::Mlir {
            stage: "lowering",
            diagnostics: format!("@{callee} returns nothing"),
        })
    }
}

/// Lower every function of an alkahest module into `dst` with arith/math;
/// `intrinsics` picks LLVM intrinsics for fma, sqrt and fabs (the LLVM
/// path, where `convert-math-to-libm` would turn the math ops into calls).
pub(crate) fn lower_to_arith<'c>(
    context: &'c Context,
    src: &Module<'c>,
    dst: &Module<'c>,
    intrinsics: bool,
) -> Result<()> {
    let f64t = Type::float64(context);
    let mut callees = BTreeSet::new();
    for (name, raw) in functions(src)? {
        let Some(body) = body_of(raw) else {
            continue; // declarations (libm) are re-added on demand
        };
        // SAFETY: `raw` is a function of `src`, alive for this call.
        let f = unsafe { OperationRef::from_raw(raw) };
        let ty = FunctionType::try_from(
            TypeAttribute::try_from(f.attribute("function_type")?)?.value(),
        )?;
        let private = f.has_attribute("sym_visibility");
        let n_in = ty.input_count();
        let n_out = ty.result_count();
        define_func(
            context,
            dst,
            &name,
            &vec![f64t; n_in],
            &vec![f64t; n_out],
            private,
            |block| {
                let loc = Location::unknown(context);
                let args: Vec<Value> = (0..n_in)
                    .map(|i| block.argument(i).map(Into::into))
                    .collect::<std::result::Result<_, _>>()?;
                let mut sink = ArithSink {
                    context,
                    block,
                    loc,
                    f64t,
                    callees: BTreeSet::new(),
                    lgamma_sign: None,
                    source: src,
                    intrinsics,
                    consts: HashMap::new(),
                };
                let out = walk(body, &args, &mut sink)?;
                callees.append(&mut sink.callees);
                block.append_operation(func::r#return(&out, loc));
                Ok(())
            },
        )?;
    }
    declare_callees(context, dst, &callees);
    Ok(())
}
