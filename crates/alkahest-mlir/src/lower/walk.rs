//! The walker: reads each op of an alkahest function and reduces it to the
//! primitive operations of a [`Sink`], which builds them in a target dialect.

use alkahest_kernel::special::{Emit, Special};
use alkahest_kernel::{BinaryFn, CmpOp, UnaryFn};
use hashbrown::HashMap;
use melior::ir::attribute::{FlatSymbolRefAttribute, FloatAttribute, StringAttribute};
use melior::ir::{BlockLike, BlockRef, Module, OperationRef, ValueLike};
use mlir_sys::{MlirBlock, MlirOperation};

use crate::dialect::read_f64_array;
use crate::error::{Error, Result};
use crate::funcs::{self, TapeFn};

/// Integer exponents up to this magnitude are square-and-multiply chains.
const MAX_POWI: f64 = crate::plan::MAX_POWI as f64;

/// Builds target ops for the primitive operations the walker reduces every
/// alkahest op to.
pub(crate) trait Sink {
    /// A value in the target (one SSA value, or a ball's pair).
    type V: Copy;
    /// Name of the target, for errors.
    const TARGET: &'static str;
    /// Whether `math.powf` (libm's `pow`, which an exponent written as a
    /// float such as `x**2.0` becomes) with a constant exponent is lowered
    /// like `alkahest.pow` (multiplications, `sqrt`). Off for point values,
    /// which must round as every other tier does (`pow(-inf, 0.5)` is +inf,
    /// `sqrt(-inf)` NaN); on for balls, which enclose the real power.
    const FOLD_FLOAT_EXPONENTS: bool = false;
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
    /// `digamma` / `trigamma`: the kernel's recipe in this sink's own
    /// operations (what the tape computes).
    fn special(&mut self, f: Special, a: Self::V) -> Result<Self::V>
    where
        Self: Sized,
    {
        f.expand(&mut Via(self), a)
    }
    /// Lower `alkahest.interval_eval` of `callee` on (mid, rad) operands.
    fn interval(&mut self, callee: &str, _args: &[Self::V]) -> Result<(Self::V, Self::V)> {
        Err(Error::Unsupported {
            what: format!("alkahest.interval_eval of @{callee}"),
            target: Self::TARGET,
        })
    }
}

/// A sink seen as the kernel's [`Emit`], so the special-function recipes
/// can be expanded into it.
pub(crate) struct Via<'s, S: Sink>(pub(crate) &'s mut S);

impl<S: Sink> Emit for Via<'_, S> {
    type V = S::V;
    type Err = Error;
    fn konst(&mut self, c: f64) -> Result<S::V> {
        self.0.konst(c)
    }
    fn add(&mut self, a: S::V, b: S::V) -> Result<S::V> {
        self.0.add(a, b)
    }
    fn sub(&mut self, a: S::V, b: S::V) -> Result<S::V> {
        self.0.sub(a, b)
    }
    fn mul(&mut self, a: S::V, b: S::V) -> Result<S::V> {
        self.0.mul(a, b)
    }
    fn div(&mut self, a: S::V, b: S::V) -> Result<S::V> {
        self.0.div(a, b)
    }
    fn unary(&mut self, f: UnaryFn, a: S::V) -> Result<S::V> {
        self.0.unary(f, a)
    }
    fn binary(&mut self, f: BinaryFn, a: S::V, b: S::V) -> Result<S::V> {
        self.0.binary(f, a, b)
    }
    fn cmp(&mut self, k: CmpOp, a: S::V, b: S::V) -> Result<S::V> {
        self.0.cmp(k, a, b)
    }
    fn select(&mut self, c: S::V, a: S::V, b: S::V) -> Result<S::V> {
        self.0.select(c, a, b)
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
            "math.powf" if S::FOLD_FLOAT_EXPONENTS => self.pow(op)?,
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
                if let Some(sp) = funcs::of_special_callee(callee.value()) {
                    let v = self.operands(op)?;
                    if v.len() != 1 {
                        return Err(Error::Mlir {
                            stage: "lowering",
                            diagnostics: format!("{} takes 1 operand, got {}", sp.name(), v.len()),
                        });
                    }
                    let r = self.sink.special(sp, v[0])?;
                    self.slots.insert(key(&op.result(0)?), Slot::Ready(r));
                    return Ok(None);
                }
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
pub(super) fn body_of(f: MlirOperation) -> Option<MlirBlock> {
    // SAFETY: `f` is a live func.func, which has exactly one region.
    unsafe {
        let region = mlir_sys::mlirOperationGetRegion(f, 0);
        let block = mlir_sys::mlirRegionGetFirstBlock(region);
        (!block.ptr.is_null()).then_some(block)
    }
}
