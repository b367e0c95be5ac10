//! Lowering passes over the `alkahest` dialect, written against the MLIR
//! API: a walker reads each op of an alkahest function (name, operands,
//! attributes) and rebuilds it with melior in a target dialect through a
//! [`Sink`]: `arith` + `math` ([`ArithSink`]), ball arithmetic in `arith` +
//! `math` ([`BallSink`], the lowering of `alkahest.interval_eval`) or
//! StableHLO/CHLO generic ops ([`HloSink`]).

use std::collections::BTreeSet;

use alkahest_kernel::{BinaryFn, CmpOp, UnaryFn};
use hashbrown::HashMap;
use melior::Context;
use melior::dialect::func;
use melior::ir::attribute::{
    DenseElementsAttribute, FlatSymbolRefAttribute, FloatAttribute, IntegerAttribute,
    StringAttribute, TypeAttribute,
};
use melior::ir::operation::OperationBuilder;
use melior::ir::r#type::{FunctionType, IntegerType, RankedTensorType};
use melior::ir::{
    Attribute, Block, BlockLike, BlockRef, Identifier, Location, Module, OperationRef, Type, Value,
    ValueLike,
};
use mlir_sys::{MlirBlock, MlirOperation};

use crate::dialect::read_f64_array;
use crate::emit::{call, declare_callees, define_func, push};
use crate::error::{Error, Result};
use crate::funcs::{self, LGAMMA_R, Spelling, TapeFn};

/// Integer exponents up to this magnitude are square-and-multiply chains
/// (the kernel's rule, so every backend rounds alike).
const MAX_POWI: f64 = 2_147_483_648.0;

/// Builds target ops for the primitive operations the walker reduces every
/// alkahest op to.
pub(crate) trait Sink {
    /// A value in the target (one SSA value, or a ball's pair).
    type V: Copy;
    /// Name of the target, for errors.
    const TARGET: &'static str;
    fn konst(&mut self, c: f64) -> Result<Self::V>;
    fn add(&mut self, a: Self::V, b: Self::V) -> Result<Self::V>;
    fn sub(&mut self, a: Self::V, b: Self::V) -> Result<Self::V>;
    fn mul(&mut self, a: Self::V, b: Self::V) -> Result<Self::V>;
    fn div(&mut self, a: Self::V, b: Self::V) -> Result<Self::V>;
    fn neg(&mut self, a: Self::V) -> Result<Self::V>;
    /// `a * b + c` (fused where the target has it).
    fn fma(&mut self, a: Self::V, b: Self::V, c: Self::V) -> Result<Self::V>;
    fn unary(&mut self, f: UnaryFn, a: Self::V) -> Result<Self::V>;
    fn binary(&mut self, f: BinaryFn, a: Self::V, b: Self::V) -> Result<Self::V>;
    /// `a op b` as 1.0 / 0.0 (IEEE: false with a NaN operand, except `Ne`).
    fn cmp(&mut self, k: CmpOp, _a: Self::V, _b: Self::V) -> Result<Self::V> {
        Err(Error::Unsupported {
            what: format!("comparison ({})", k.c_op()),
            target: Self::TARGET,
        })
    }
    /// `c != 0 ? a : b` (unordered not-equal: a NaN condition picks `a`).
    fn select(&mut self, _c: Self::V, _a: Self::V, _b: Self::V) -> Result<Self::V> {
        Err(Error::Unsupported {
            what: "selection (where / And / Or / Not)".into(),
            target: Self::TARGET,
        })
    }
    /// Lower `alkahest.interval_eval` of `callee` on (mid, rad) operands.
    fn interval(&mut self, callee: &str, _args: &[Self::V]) -> Result<(Self::V, Self::V)> {
        Err(Error::Unsupported {
            what: format!("alkahest.interval_eval of @{callee}"),
            target: Self::TARGET,
        })
    }
}

fn key<'c>(v: &impl ValueLike<'c>) -> usize {
    v.to_raw().ptr as usize
}

/// A value of the source function as the walker holds it: constants and
/// reciprocal powers stay symbolic until something needs them, so that
/// `x**3` emits no constant 3 and `a * b**-2` is one division.
#[derive(Clone, Copy)]
enum Slot<V> {
    Ready(V),
    Const(f64),
    /// `1 / base**n`.
    Recip(V, u64),
}

struct Walker<'s, S: Sink> {
    sink: &'s mut S,
    slots: HashMap<usize, Slot<S::V>>,
}

fn op_name(op: &OperationRef<'_, '_>) -> Result<String> {
    Ok(op
        .name()
        .as_string_ref()
        .as_str()
        .map_err(|e| Error::Build(e.to_string()))?
        .to_string())
}

fn float_attr(op: &OperationRef<'_, '_>, name: &str) -> Result<f64> {
    Ok(FloatAttribute::try_from(op.attribute(name)?)?.value())
}

fn array_attr(op: &OperationRef<'_, '_>, name: &str) -> Result<Vec<f64>> {
    read_f64_array(op.attribute(name)?).ok_or_else(|| Error::Mlir {
        stage: "lowering",
        diagnostics: format!("attribute {name} is not array<f64>"),
    })
}

impl<S: Sink> Walker<'_, S> {
    /// A tape function of the operands of `op`.
    fn apply(&mut self, f: TapeFn, op: &OperationRef<'_, '_>) -> Result<S::V> {
        let v = self.operands(op)?;
        if v.len() != f.arity() {
            return Err(Error::Mlir {
                stage: "lowering",
                diagnostics: format!(
                    "{} takes {} operand(s), got {}",
                    f.c_name(),
                    f.arity(),
                    v.len()
                ),
            });
        }
        match f {
            TapeFn::Unary(u) => self.sink.unary(u, v[0]),
            TapeFn::Binary(b) => self.sink.binary(b, v[0], v[1]),
        }
    }

    fn get_key(&mut self, k: usize) -> Result<S::V> {
        let slot = *self.slots.get(&k).ok_or_else(|| Error::Mlir {
            stage: "lowering",
            diagnostics: "operand defined outside the function".into(),
        })?;
        let v = match slot {
            Slot::Ready(v) => return Ok(v),
            Slot::Const(c) => self.sink.konst(c)?,
            Slot::Recip(b, n) => {
                let p = self.powi(b, n)?;
                let one = self.sink.konst(1.0)?;
                self.sink.div(one, p)?
            }
        };
        self.slots.insert(k, Slot::Ready(v));
        Ok(v)
    }

    fn operand(&mut self, op: &OperationRef<'_, '_>, i: usize) -> Result<S::V> {
        let v = op.operand(i)?;
        self.get_key(v.to_raw().ptr as usize)
    }

    fn operands(&mut self, op: &OperationRef<'_, '_>) -> Result<Vec<S::V>> {
        (0..op.operand_count())
            .map(|i| self.operand(op, i))
            .collect()
    }

    /// `b ** n`, n > 0, square-and-multiply from the most significant bit.
    fn powi(&mut self, b: S::V, n: u64) -> Result<S::V> {
        let bits = 64 - n.leading_zeros();
        let mut acc = b;
        for i in (0..bits - 1).rev() {
            acc = self.sink.mul(acc, acc)?;
            if (n >> i) & 1 == 1 {
                acc = self.sink.mul(acc, b)?;
            }
        }
        Ok(acc)
    }

    /// Horner's rule with fused multiply-adds; coefficients ascending.
    fn horner(&mut self, x: S::V, coeffs: &[S::V]) -> Result<S::V> {
        let Some((&last, rest)) = coeffs.split_last() else {
            return self.sink.konst(0.0);
        };
        let mut acc = last;
        for &c in rest.iter().rev() {
            acc = self.sink.fma(acc, x, c)?;
        }
        Ok(acc)
    }

    fn horner_const(&mut self, x: S::V, coeffs: &[f64]) -> Result<S::V> {
        let c: Vec<S::V> = coeffs
            .iter()
            .map(|&c| self.sink.konst(c))
            .collect::<Result<_>>()?;
        self.horner(x, &c)
    }

    fn fold(&mut self, vals: &[S::V], unit: f64, add: bool) -> Result<S::V> {
        let Some((&first, rest)) = vals.split_first() else {
            return self.sink.konst(unit);
        };
        let mut acc = first;
        for &v in rest {
            acc = if add {
                self.sink.add(acc, v)?
            } else {
                self.sink.mul(acc, v)?
            };
        }
        Ok(acc)
    }

    fn mul(&mut self, op: &OperationRef<'_, '_>) -> Result<S::V> {
        let mut num = Vec::new();
        let mut den = Vec::new();
        // A leading -1 (the canonical form of a negated product) is a
        // negation, as in the kernel.
        let mut first = 0;
        let mut negate = false;
        if op.operand_count() >= 2 {
            let k0 = op.operand(0)?.to_raw().ptr as usize;
            if let Some(&Slot::Const(-1.0)) = self.slots.get(&k0) {
                first = 1;
                negate = true;
            }
        }
        for i in first..op.operand_count() {
            let k = op.operand(i)?.to_raw().ptr as usize;
            if let Some(&Slot::Recip(b, n)) = self.slots.get(&k) {
                den.push(self.powi(b, n)?);
            } else {
                num.push(self.get_key(k)?);
            }
        }
        let n = self.fold(&num, 1.0, false)?;
        let r = if den.is_empty() {
            n
        } else {
            let d = self.fold(&den, 1.0, false)?;
            self.sink.div(n, d)?
        };
        if negate { self.sink.neg(r) } else { Ok(r) }
    }

    fn pow(&mut self, op: &OperationRef<'_, '_>) -> Result<Slot<S::V>> {
        let b = self.operand(op, 0)?;
        let ek = op.operand(1)?.to_raw().ptr as usize;
        if let Some(&Slot::Const(e)) = self.slots.get(&ek) {
            if e.fract() == 0.0 && e.abs() <= MAX_POWI {
                let n = e.abs() as u64;
                return Ok(if n == 0 {
                    Slot::Const(1.0)
                } else if e > 0.0 {
                    Slot::Ready(self.powi(b, n)?)
                } else {
                    Slot::Recip(b, n)
                });
            }
            if e.abs() == 0.5 {
                let s = self.sink.unary(UnaryFn::Sqrt, b)?;
                return Ok(Slot::Ready(if e > 0.0 {
                    s
                } else {
                    let one = self.sink.konst(1.0)?;
                    self.sink.div(one, s)?
                }));
            }
        }
        let e = self.get_key(ek)?;
        Ok(Slot::Ready(self.sink.binary(BinaryFn::Pow, b, e)?))
    }

    /// Lower one op; returns `Some(results)` at the terminator.
    fn op(&mut self, op: &OperationRef<'_, '_>) -> Result<Option<Vec<S::V>>> {
        let name = op_name(op)?;
        let slot = match name.as_str() {
            "alkahest.sym" => Slot::Ready(self.operand(op, 0)?),
            "alkahest.const" => Slot::Const(float_attr(op, "value")?),
            "alkahest.add" => {
                let v = self.operands(op)?;
                Slot::Ready(self.fold(&v, 0.0, true)?)
            }
            "alkahest.mul" => Slot::Ready(self.mul(op)?),
            "alkahest.pow" => self.pow(op)?,
            "alkahest.horner" => {
                let x = self.operand(op, 0)?;
                Slot::Ready(self.horner_const(x, &array_attr(op, "coeffs")?)?)
            }
            "alkahest.poly_eval" => {
                let v = self.operands(op)?;
                Slot::Ready(self.horner(v[0], &v[1..])?)
            }
            "alkahest.rational_fn" => {
                let x = self.operand(op, 0)?;
                let n = self.horner_const(x, &array_attr(op, "num")?)?;
                let d = self.horner_const(x, &array_attr(op, "den")?)?;
                Slot::Ready(self.sink.div(n, d)?)
            }
            "alkahest.series_taylor" => {
                let x = self.operand(op, 0)?;
                let a = self.sink.konst(float_attr(op, "center")?)?;
                let t = self.sink.sub(x, a)?;
                Slot::Ready(self.horner_const(t, &array_attr(op, "coeffs")?)?)
            }
            "alkahest.interval_eval" => {
                let callee = FlatSymbolRefAttribute::try_from(op.attribute("callee")?)?;
                let args = self.operands(op)?;
                let (m, r) = self.sink.interval(callee.value(), &args)?;
                self.slots.insert(key(&op.result(0)?), Slot::Ready(m));
                self.slots.insert(key(&op.result(1)?), Slot::Ready(r));
                return Ok(None);
            }
            "math.fma" => {
                let v = self.operands(op)?;
                Slot::Ready(self.sink.fma(v[0], v[1], v[2])?)
            }
            "alkahest.cmp" => {
                let p = StringAttribute::try_from(op.attribute("predicate")?)?;
                let k = funcs::of_predicate(p.value()).ok_or_else(|| Error::Mlir {
                    stage: "lowering",
                    diagnostics: format!("unknown alkahest.cmp predicate {:?}", p.value()),
                })?;
                let v = self.operands(op)?;
                Slot::Ready(self.sink.cmp(k, v[0], v[1])?)
            }
            "alkahest.select" => {
                let v = self.operands(op)?;
                Slot::Ready(self.sink.select(v[0], v[1], v[2])?)
            }
            "func.call" => {
                let callee = FlatSymbolRefAttribute::try_from(op.attribute("callee")?)?;
                let f = funcs::of_callee(callee.value()).ok_or_else(|| Error::Unsupported {
                    what: format!("call to @{}", callee.value()),
                    target: S::TARGET,
                })?;
                Slot::Ready(self.apply(f, op)?)
            }
            "func.return" => return Ok(Some(self.operands(op)?)),
            other => match funcs::of_op(other) {
                Some(f) => Slot::Ready(self.apply(f, op)?),
                None => {
                    return Err(Error::Unsupported {
                        what: format!("operation {other}"),
                        target: S::TARGET,
                    });
                }
            },
        };
        self.slots.insert(key(&op.result(0)?), slot);
        Ok(None)
    }
}

/// Raw handles of the ops of `block`, in order.
fn ops_in(block: MlirBlock) -> Vec<MlirOperation> {
    let mut out = Vec::new();
    // SAFETY: `block` is a live block of a module the caller holds; the
    // getters only read the op list and return null at its end.
    unsafe {
        let mut op = mlir_sys::mlirBlockGetFirstOperation(block);
        while !op.ptr.is_null() {
            out.push(op);
            op = mlir_sys::mlirOperationGetNextInBlock(op);
        }
    }
    out
}

/// Lower the body of one alkahest function through `sink`, binding its
/// block arguments to `args`; returns the values it returns. `body` must
/// belong to a module that outlives the call.
pub(crate) fn walk<S: Sink>(body: MlirBlock, args: &[S::V], sink: &mut S) -> Result<Vec<S::V>> {
    let mut w = Walker {
        sink,
        slots: HashMap::new(),
    };
    // SAFETY: the caller guarantees `body` is live for this call.
    let block = unsafe { BlockRef::from_raw(body) };
    for (i, &a) in args.iter().enumerate() {
        w.slots.insert(key(&block.argument(i)?), Slot::Ready(a));
    }
    for raw in ops_in(body) {
        // SAFETY: `raw` is an op of `body`, live for this call; the
        // reference does not escape the loop.
        let op = unsafe { OperationRef::from_raw(raw) };
        if let Some(out) = w.op(&op)? {
            return Ok(out);
        }
    }
    Err(Error::Mlir {
        stage: "lowering",
        diagnostics: "function body has no terminator".into(),
    })
}

/// The `func.func` ops of a module with their names (raw handles, valid
/// while the module lives).
pub(crate) fn functions(module: &Module<'_>) -> Result<Vec<(String, MlirOperation)>> {
    let mut out = Vec::new();
    for raw in ops_in(module.body().to_raw()) {
        // SAFETY: `raw` is an op of the module's body, which `module` keeps alive.
        let op = unsafe { OperationRef::from_raw(raw) };
        if op_name(&op)? == "func.func" {
            let name = StringAttribute::try_from(op.attribute("sym_name")?)?
                .value()
                .to_string();
            out.push((name, raw));
        }
    }
    Ok(out)
}

/// The entry block of a function op; `None` for a declaration.
fn body_of(f: MlirOperation) -> Option<MlirBlock> {
    // SAFETY: `f` is a live func.func, which has exactly one region.
    unsafe {
        let region = mlir_sys::mlirOperationGetRegion(f, 0);
        let block = mlir_sys::mlirRegionGetFirstBlock(region);
        (!block.ptr.is_null()).then_some(block)
    }
}

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

/// Unit roundoff of f64.
const U: f64 = f64::EPSILON / 2.0;
/// Smallest positive subnormal: absorbs underflow in every bound.
const ETA: f64 = f64::from_bits(1);
/// Relative error allowed for a libm call (glibc documents at most a few
/// ulp for the functions used; this is 8 u = 4 ulp).
const LIBM: f64 = 8.0 * U;

/// Midpoint-radius ball arithmetic over f64 built from arith/math ops.
/// Outward rounding: every radius adds the rounding error of its midpoint
/// (u |m|) and is then inflated by `up(r) = r (1 + 8u) + eta`, which bounds
/// the rounding of the few nonnegative terms it sums.
pub(crate) struct BallSink<'s, 'c, 'a, 'm> {
    p: &'s mut ArithSink<'c, 'a, 'm>,
}

impl<'c, 'a> BallSink<'_, 'c, 'a, '_> {
    fn up(&mut self, r: Value<'c, 'a>) -> Result<Value<'c, 'a>> {
        let k = self.p.konst(1.0 + 8.0 * U)?;
        let e = self.p.konst(ETA)?;
        self.p.fma(r, k, e)
    }
    /// `|x| * k`.
    fn rel(&mut self, x: Value<'c, 'a>, k: f64) -> Result<Value<'c, 'a>> {
        let a = self.p.unary(UnaryFn::Abs, x)?;
        let kk = self.p.konst(k)?;
        self.p.mul(a, kk)
    }
    /// Radius of a rounded midpoint `m` with propagated radius `r`.
    fn finish(
        &mut self,
        m: Value<'c, 'a>,
        r: Value<'c, 'a>,
    ) -> Result<(Value<'c, 'a>, Value<'c, 'a>)> {
        let e = self.rel(m, U)?;
        let s = self.p.add(r, e)?;
        Ok((m, self.up(s)?))
    }
    /// `x` moved outward by a few ulp: `x - (|x| 2u + eta)` or `+`.
    fn widen(&mut self, x: Value<'c, 'a>, down: bool) -> Result<Value<'c, 'a>> {
        let d = self.rel(x, 2.0 * U)?;
        let e = self.p.konst(ETA)?;
        let d = self.p.add(d, e)?;
        if down {
            self.p.sub(x, d)
        } else {
            self.p.add(x, d)
        }
    }
    /// A monotone function on a ball: evaluate at outward-widened endpoints.
    fn monotone(
        &mut self,
        f: UnaryFn,
        a: (Value<'c, 'a>, Value<'c, 'a>),
        increasing: bool,
    ) -> Result<(Value<'c, 'a>, Value<'c, 'a>)> {
        let (m, r) = a;
        let lo = self.p.sub(m, r)?;
        let lo = self.widen(lo, true)?;
        let hi = self.p.add(m, r)?;
        let hi = self.widen(hi, false)?;
        let fm = self.p.unary(f, m)?;
        let (flo, fhi) = if increasing {
            (self.p.unary(f, lo)?, self.p.unary(f, hi)?)
        } else {
            (self.p.unary(f, hi)?, self.p.unary(f, lo)?)
        };
        let d1 = self.p.sub(fm, flo)?;
        let d2 = self.p.sub(fhi, fm)?;
        let d = self.p.binary(BinaryFn::Max, d1, d2)?;
        let a1 = self.p.unary(UnaryFn::Abs, flo)?;
        let a2 = self.p.unary(UnaryFn::Abs, fhi)?;
        let big = self.p.binary(BinaryFn::Max, a1, a2)?;
        let k = self.p.konst(LIBM)?;
        let slack = self.p.mul(big, k)?;
        let s = self.p.add(d, slack)?;
        Ok((fm, self.up(s)?))
    }
}

impl<'c, 'a> Sink for BallSink<'_, 'c, 'a, '_> {
    type V = (Value<'c, 'a>, Value<'c, 'a>);
    const TARGET: &'static str = "interval arithmetic";
    fn konst(&mut self, c: f64) -> Result<Self::V> {
        let m = self.p.konst(c)?;
        let exact = c.fract() == 0.0 && c.abs() < 9.007_199_254_740_992e15;
        let r = self.p.konst(if exact || !c.is_finite() {
            0.0
        } else {
            U * c.abs()
        })?;
        Ok((m, r))
    }
    fn add(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        let m = self.p.add(a.0, b.0)?;
        let r = self.p.add(a.1, b.1)?;
        self.finish(m, r)
    }
    fn sub(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        let m = self.p.sub(a.0, b.0)?;
        let r = self.p.add(a.1, b.1)?;
        self.finish(m, r)
    }
    fn mul(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        let m = self.p.mul(a.0, b.0)?;
        let am = self.p.unary(UnaryFn::Abs, a.0)?;
        let bm = self.p.unary(UnaryFn::Abs, b.0)?;
        let t1 = self.p.mul(am, b.1)?;
        let t2 = self.p.mul(a.1, bm)?;
        let t3 = self.p.mul(a.1, b.1)?;
        let s = self.p.add(t1, t2)?;
        let s = self.p.add(s, t3)?;
        self.finish(m, s)
    }
    fn div(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        // |a/b - ma/mb| <= (ra + |ma/mb| rb) / (|mb| - rb) when |mb| > rb;
        // the denominator is rounded down and clamped at +0, so a ball
        // that contains 0 gets an infinite (or NaN) radius.
        let m = self.p.div(a.0, b.0)?;
        let bm = self.p.unary(UnaryFn::Abs, b.0)?;
        let d = self.p.sub(bm, b.1)?;
        let k = self.p.konst(1.0 - 4.0 * U)?;
        let e = self.p.konst(-ETA)?;
        let d = self.p.fma(d, k, e)?;
        let zero = self.p.konst(0.0)?;
        let d = self.p.binary(BinaryFn::Max, d, zero)?;
        let am = self.p.unary(UnaryFn::Abs, m)?;
        let n = self.p.fma(am, b.1, a.1)?;
        let r = self.p.div(n, d)?;
        self.finish(m, r)
    }
    fn neg(&mut self, a: Self::V) -> Result<Self::V> {
        Ok((self.p.neg(a.0)?, a.1))
    }
    fn fma(&mut self, a: Self::V, b: Self::V, c: Self::V) -> Result<Self::V> {
        // The midpoint is the fused result, rounded once like every other
        // tier's fma; the radius propagates the input radii as a product
        // plus a sum would, and `finish` adds that single rounding.
        let m = self.p.fma(a.0, b.0, c.0)?;
        let am = self.p.unary(UnaryFn::Abs, a.0)?;
        let bm = self.p.unary(UnaryFn::Abs, b.0)?;
        let t1 = self.p.mul(am, b.1)?;
        let t2 = self.p.mul(a.1, bm)?;
        let t3 = self.p.mul(a.1, b.1)?;
        let s = self.p.add(t1, t2)?;
        let s = self.p.add(s, t3)?;
        let s = self.p.add(s, c.1)?;
        self.finish(m, s)
    }
    fn unary(&mut self, f: UnaryFn, a: Self::V) -> Result<Self::V> {
        match f {
            UnaryFn::Abs => Ok((self.p.unary(UnaryFn::Abs, a.0)?, a.1)),
            UnaryFn::Sin | UnaryFn::Cos => {
                // 1-Lipschitz, plus the libm error of f(m).
                let m = self.p.unary(f, a.0)?;
                let e = self.rel(m, LIBM)?;
                let s = self.p.add(a.1, e)?;
                Ok((m, self.up(s)?))
            }
            UnaryFn::Tan => {
                let s = self.unary(UnaryFn::Sin, a)?;
                let c = self.unary(UnaryFn::Cos, a)?;
                self.div(s, c)
            }
            UnaryFn::Acos | UnaryFn::Erfc => self.monotone(f, a, false),
            UnaryFn::Gamma | UnaryFn::Lgamma => Err(Error::Unsupported {
                what: f.info().c_name.into(),
                target: Self::TARGET,
            }),
            UnaryFn::Cosh => {
                // Convex with minimum 1: the maximum is at an endpoint.
                let (m, r) = a;
                let lo = self.p.sub(m, r)?;
                let lo = self.widen(lo, true)?;
                let hi = self.p.add(m, r)?;
                let hi = self.widen(hi, false)?;
                let fm = self.p.unary(f, m)?;
                let c1 = self.p.unary(f, lo)?;
                let c2 = self.p.unary(f, hi)?;
                let top = self.p.binary(BinaryFn::Max, c1, c2)?;
                let k = self.p.konst(1.0 + LIBM)?;
                let top = self.p.mul(top, k)?;
                let one = self.p.konst(1.0)?;
                let d1 = self.p.sub(top, fm)?;
                let d2 = self.p.sub(fm, one)?;
                let d = self.p.binary(BinaryFn::Max, d1, d2)?;
                Ok((fm, self.up(d)?))
            }
            // Nondecreasing (floor and ceil too: their jumps are upward).
            UnaryFn::Asin
            | UnaryFn::Atan
            | UnaryFn::Sinh
            | UnaryFn::Tanh
            | UnaryFn::Exp
            | UnaryFn::Log
            | UnaryFn::Sqrt
            | UnaryFn::Log1p
            | UnaryFn::Expm1
            | UnaryFn::Asinh
            | UnaryFn::Acosh
            | UnaryFn::Atanh
            | UnaryFn::Cbrt
            | UnaryFn::Exp2
            | UnaryFn::Log2
            | UnaryFn::Log10
            | UnaryFn::Erf
            | UnaryFn::Floor
            | UnaryFn::Ceil => self.monotone(f, a, true),
        }
    }
    fn binary(&mut self, f: BinaryFn, a: Self::V, b: Self::V) -> Result<Self::V> {
        match f {
            BinaryFn::Min | BinaryFn::Max => {
                let m = self.p.binary(f, a.0, b.0)?;
                let r = self.p.binary(BinaryFn::Max, a.1, b.1)?;
                Ok((m, r))
            }
            BinaryFn::Hypot => {
                let x2 = self.mul(a, a)?;
                let y2 = self.mul(b, b)?;
                let s = self.add(x2, y2)?;
                self.unary(UnaryFn::Sqrt, s)
            }
            BinaryFn::Pow => {
                let l = self.unary(UnaryFn::Log, a)?;
                let t = self.mul(b, l)?;
                self.unary(UnaryFn::Exp, t)
            }
            BinaryFn::Atan2 | BinaryFn::Copysign | BinaryFn::Fmod => Err(Error::Unsupported {
                what: f.info().c_name.into(),
                target: Self::TARGET,
            }),
        }
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

/// Lowering to StableHLO / CHLO generic ops on `tensor<f64>` (the context
/// must allow unregistered dialects: Debian's MLIR has no StableHLO).
///
/// Functions without a StableHLO op:
/// * `exp2(x)` is `stablehlo.power(2, x)` (XLA's `pow`: exact at integers,
///   within an ulp or so elsewhere);
/// * `log2(x)` and `log10(x)` are `log(x) / ln 2` and `log(x) / ln 10`: not
///   bit-exact (within 2 ulp of glibc in tests, and not exact at powers of
///   the base: with glibc's log, `log2(2**29)` is `29.000000000000004`);
/// * `copysign` is exact: the sign bit read through `bitcast_convert`;
/// * `fmod` is `stablehlo.remainder` (C `fmod`, exact);
/// * `asinh`, `acosh`, `atanh`, `erf`, `erfc`, `tgamma` and `lgamma` are an
///   [`Error::Unsupported`] ("StableHLO has no ... op": CHLO has some of
///   them, but CHLO is not StableHLO).
pub(crate) struct HloSink<'c, 'a> {
    context: &'c Context,
    block: &'a Block<'c>,
    loc: Location<'c>,
    t: Type<'c>,
    consts: HashMap<u64, Value<'c, 'a>>,
}

impl<'c, 'a> HloSink<'c, 'a> {
    fn op(&mut self, name: &str, operands: &[Value<'c, '_>]) -> Result<Value<'c, 'a>> {
        push(self.block, name, operands, &[], self.t, self.loc)
    }

    fn attr(&self, text: &str) -> Result<Attribute<'c>> {
        Attribute::parse(self.context, text)
            .ok_or_else(|| Error::Build(format!("could not parse attribute {text}")))
    }

    /// `tensor<T>` for a scalar element type.
    fn scalar(&self, elem: Type<'c>) -> Type<'c> {
        RankedTensorType::new(&[], elem, None).into()
    }

    /// `stablehlo.compare` (`direction` LT, ..., `kind` FLOAT or SIGNED),
    /// a `tensor<i1>`.
    fn compare(
        &mut self,
        direction: &str,
        kind: &str,
        a: Value<'c, 'a>,
        b: Value<'c, 'a>,
    ) -> Result<Value<'c, 'a>> {
        let ctx = self.context;
        let attrs = [
            (
                Identifier::new(ctx, "comparison_direction"),
                self.attr(&format!("#stablehlo<comparison_direction {direction}>"))?,
            ),
            (
                Identifier::new(ctx, "compare_type"),
                self.attr(&format!("#stablehlo<comparison_type {kind}>"))?,
            ),
        ];
        let i1 = self.scalar(IntegerType::new(ctx, 1).into());
        push(
            self.block,
            "stablehlo.compare",
            &[a, b],
            &attrs,
            i1,
            self.loc,
        )
    }

    /// `copysign(a, b)`, exactly: `-|a|` where the sign bit of `b` is set.
    fn copysign(&mut self, a: Value<'c, 'a>, b: Value<'c, 'a>) -> Result<Value<'c, 'a>> {
        let ctx = self.context;
        let i64t: Type = IntegerType::new(ctx, 64).into();
        let ti = self.scalar(i64t);
        let bits = push(
            self.block,
            "stablehlo.bitcast_convert",
            &[b],
            &[],
            ti,
            self.loc,
        )?;
        let zero = DenseElementsAttribute::new(ti, &[IntegerAttribute::new(i64t, 0).into()])?;
        let zero = push(
            self.block,
            "stablehlo.constant",
            &[],
            &[(Identifier::new(ctx, "value"), zero.into())],
            ti,
            self.loc,
        )?;
        let negative = self.compare("LT", "SIGNED", bits, zero)?;
        let m = self.op("stablehlo.abs", &[a])?;
        let n = self.op("stablehlo.negate", &[m])?;
        self.op("stablehlo.select", &[negative, n, m])
    }
}

/// The error for a function StableHLO has no op for.
fn no_hlo_op(name: &str) -> Error {
    Error::Unsupported {
        what: format!("{name} (StableHLO has no {name} op)"),
        target: "stablehlo",
    }
}

impl<'c, 'a> Sink for HloSink<'c, 'a> {
    type V = Value<'c, 'a>;
    const TARGET: &'static str = "stablehlo";
    fn konst(&mut self, c: f64) -> Result<Self::V> {
        if let Some(&v) = self.consts.get(&c.to_bits()) {
            return Ok(v);
        }
        let f = FloatAttribute::new(self.context, Type::float64(self.context), c);
        let dense = DenseElementsAttribute::new(self.t, &[f.into()])?;
        let v = push(
            self.block,
            "stablehlo.constant",
            &[],
            &[(
                melior::ir::Identifier::new(self.context, "value"),
                dense.into(),
            )],
            self.t,
            self.loc,
        )?;
        self.consts.insert(c.to_bits(), v);
        Ok(v)
    }
    fn add(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        self.op("stablehlo.add", &[a, b])
    }
    fn sub(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        self.op("stablehlo.subtract", &[a, b])
    }
    fn mul(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        self.op("stablehlo.multiply", &[a, b])
    }
    fn div(&mut self, a: Self::V, b: Self::V) -> Result<Self::V> {
        self.op("stablehlo.divide", &[a, b])
    }
    fn neg(&mut self, a: Self::V) -> Result<Self::V> {
        self.op("stablehlo.negate", &[a])
    }
    fn fma(&mut self, a: Self::V, b: Self::V, c: Self::V) -> Result<Self::V> {
        // StableHLO has no fused multiply-add; XLA may fuse on its own.
        let p = self.mul(a, b)?;
        self.add(p, c)
    }
    fn unary(&mut self, f: UnaryFn, a: Self::V) -> Result<Self::V> {
        let name = match f {
            UnaryFn::Sin => "stablehlo.sine",
            UnaryFn::Cos => "stablehlo.cosine",
            UnaryFn::Tan => "stablehlo.tan",
            UnaryFn::Asin => "chlo.asin",
            UnaryFn::Acos => "chlo.acos",
            UnaryFn::Atan => "chlo.atan",
            UnaryFn::Sinh => "chlo.sinh",
            UnaryFn::Cosh => "chlo.cosh",
            UnaryFn::Tanh => "stablehlo.tanh",
            UnaryFn::Exp => "stablehlo.exponential",
            UnaryFn::Log => "stablehlo.log",
            UnaryFn::Sqrt => "stablehlo.sqrt",
            UnaryFn::Abs => "stablehlo.abs",
            UnaryFn::Log1p => "stablehlo.log_plus_one",
            UnaryFn::Expm1 => "stablehlo.exponential_minus_one",
            UnaryFn::Cbrt => "stablehlo.cbrt",
            UnaryFn::Floor => "stablehlo.floor",
            UnaryFn::Ceil => "stablehlo.ceil",
            UnaryFn::Exp2 => {
                let two = self.konst(2.0)?;
                return self.op("stablehlo.power", &[two, a]);
            }
            UnaryFn::Log2 | UnaryFn::Log10 => {
                let l = self.op("stablehlo.log", &[a])?;
                let base = if f == UnaryFn::Log2 {
                    std::f64::consts::LN_2
                } else {
                    std::f64::consts::LN_10
                };
                let c = self.konst(base)?;
                return self.div(l, c);
            }
            UnaryFn::Asinh
            | UnaryFn::Acosh
            | UnaryFn::Atanh
            | UnaryFn::Erf
            | UnaryFn::Erfc
            | UnaryFn::Gamma
            | UnaryFn::Lgamma => return Err(no_hlo_op(f.info().c_name)),
        };
        self.op(name, &[a])
    }
    fn binary(&mut self, f: BinaryFn, a: Self::V, b: Self::V) -> Result<Self::V> {
        match f {
            BinaryFn::Atan2 => self.op("stablehlo.atan2", &[a, b]),
            BinaryFn::Pow => self.op("stablehlo.power", &[a, b]),
            BinaryFn::Min => self.op("stablehlo.minimum", &[a, b]),
            BinaryFn::Max => self.op("stablehlo.maximum", &[a, b]),
            BinaryFn::Fmod => self.op("stablehlo.remainder", &[a, b]),
            BinaryFn::Copysign => self.copysign(a, b),
            BinaryFn::Hypot => {
                // max * sqrt(1 + (min/max)^2), scaled against overflow. The
                // divisor is max + (1 - sign(max)): max itself unless max is
                // 0, where it is 1 and the result hi * 1 = 0. (A floor such as
                // max(hi, tiny) breaks on XLA's CPU backend, which flushes
                // subnormal constants to 0, and is wrong for subnormal hi.)
                let x = self.op("stablehlo.abs", &[a])?;
                let y = self.op("stablehlo.abs", &[b])?;
                let hi = self.op("stablehlo.maximum", &[x, y])?;
                let lo = self.op("stablehlo.minimum", &[x, y])?;
                let one = self.konst(1.0)?;
                let sign = self.op("stablehlo.sign", &[hi])?;
                let pad = self.sub(one, sign)?;
                let den = self.add(hi, pad)?;
                let q = self.div(lo, den)?;
                let q2 = self.mul(q, q)?;
                let s = self.add(one, q2)?;
                let s = self.op("stablehlo.sqrt", &[s])?;
                self.mul(hi, s)
            }
        }
    }
    fn cmp(&mut self, k: CmpOp, a: Self::V, b: Self::V) -> Result<Self::V> {
        // FLOAT compares are IEEE: false with a NaN operand, except NE.
        let direction = format!("{k:?}").to_ascii_uppercase();
        let p = self.compare(&direction, "FLOAT", a, b)?;
        self.op("stablehlo.convert", &[p])
    }
    fn select(&mut self, c: Self::V, a: Self::V, b: Self::V) -> Result<Self::V> {
        let zero = self.konst(0.0)?;
        let p = self.compare("NE", "FLOAT", c, zero)?;
        self.op("stablehlo.select", &[p, a, b])
    }
}

/// Lower the alkahest function `name` of `src` into `dst` as StableHLO on
/// `tensor<f64>`, named `out_name` (private when `private`).
pub(crate) fn lower_to_hlo<'c>(
    context: &'c Context,
    src: &Module<'c>,
    name: &str,
    dst: &Module<'c>,
    out_name: &str,
    private: bool,
) -> Result<()> {
    let t: Type = RankedTensorType::new(&[], Type::float64(context), None).into();
    let funcs = functions(src)?;
    let (f, body) = funcs
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|&(_, f)| Some((f, body_of(f)?)))
        .ok_or_else(|| Error::Build(format!("no function @{name} to lower")))?;
    // SAFETY: `f` is a function of `src`, alive for this call.
    let f = unsafe { OperationRef::from_raw(f) };
    let ty =
        FunctionType::try_from(TypeAttribute::try_from(f.attribute("function_type")?)?.value())?;
    let (n_in, n_out) = (ty.input_count(), ty.result_count());
    define_func(
        context,
        dst,
        out_name,
        &vec![t; n_in],
        &vec![t; n_out],
        private,
        |block| {
            let loc = Location::unknown(context);
            let args: Vec<Value> = (0..n_in)
                .map(|i| block.argument(i).map(Into::into))
                .collect::<std::result::Result<_, _>>()?;
            let mut sink = HloSink {
                context,
                block,
                loc,
                t,
                consts: HashMap::new(),
            };
            let out = walk(body, &args, &mut sink)?;
            block.append_operation(func::r#return(&out, loc));
            Ok(())
        },
    )
}
