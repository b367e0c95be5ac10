//! The walker: reads each op of an alkahest function and reduces it to the
//! primitive operations of a [`Sink`], which builds them in a target dialect.

use alkahest_tape::special::{Emit, Special};
use alkahest_tape::thirds::third_power;
use alkahest_tape::{BinaryFn, CmpOp, UnaryFn};
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
    /// `digamma` / `trigamma`: the tape crate's recipe in this sink's own
    /// operations (what the tape computes).
    fn special(&mut self, f: Special, a: Self::V) -> Result<Self::V>
    where
        Self: Sized,
    {
        f.expand(&mut Via(self), a)
    }
    /// The value in slot `i` of a segment function's buffer (see
    /// [`Segmented`]).
    fn load(&mut self, _i: u32) -> Result<Self::V> {
        Err(Error::Unsupported {
            what: "a function split into segments".into(),
            target: Self::TARGET,
        })
    }
    /// Write `v` to slot `i` of a segment function's buffer.
    fn store(&mut self, _i: u32, _v: Self::V) -> Result<()> {
        Err(Error::Unsupported {
            what: "a function split into segments".into(),
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

/// A sink seen as the tape crate's [`Emit`], so the special-function recipes
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
    fn neg(&mut self, a: S::V) -> Result<S::V> {
        self.0.neg(a)
    }
    fn fma(&mut self, a: S::V, b: S::V, c: S::V) -> Result<S::V> {
        self.0.fma(a, b, c)
    }
}

/// `p` when `e` is the double nearest `p/3` for an integer `p` that is not
/// a multiple of 3 (with a whole part the tape crate chains).
fn third_numerator(e: f64) -> Option<i64> {
    let p = (e * 3.0).round();
    let whole_ok = (p / 3.0).abs() <= MAX_POWI;
    (whole_ok && p % 3.0 != 0.0 && p / 3.0 == e).then_some(p as i64)
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
    /// A constant already emitted as the value: still a constant to
    /// `alkahest.pow` (an exact exponent) and `alkahest.mul` (a leading -1).
    ConstReady(f64, V),
    /// `1 / base**n`.
    Recip(V, u64),
    /// `1 / base**n`, already computed as the first value: `x**(-1/2)`
    /// where it stands alone is `1/sqrt(x)` in place, and a factor of a
    /// product is a divisor like `Recip`.
    RecipReady(V, V, u64),
    /// In buffer slot `i`, written by an earlier segment function.
    Stored(u32),
    /// `1 / base**n` with the base in buffer slot `i`.
    RecipStored(u32, u64),
}

/// A value as one segment function hands it to the next: a constant, or a
/// buffer slot (see [`Segmented`]).
#[derive(Clone, Copy)]
enum Carried {
    Const(f64),
    Stored(u32),
    RecipStored(u32, u64),
}

impl<V> From<Carried> for Slot<V> {
    fn from(c: Carried) -> Self {
        match c {
            Carried::Const(x) => Slot::Const(x),
            Carried::Stored(i) => Slot::Stored(i),
            Carried::RecipStored(i, n) => Slot::RecipStored(i, n),
        }
    }
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

    /// The slot of `k`, loaded from the buffer if an earlier segment stored
    /// it: any slot but `Stored` and `RecipStored`.
    fn resolve(&mut self, k: usize) -> Result<Slot<S::V>> {
        let slot = *self.slots.get(&k).ok_or_else(|| Error::Mlir {
            stage: "lowering",
            diagnostics: "operand defined outside the function".into(),
        })?;
        let loaded = match slot {
            Slot::Stored(i) => Slot::Ready(self.sink.load(i)?),
            Slot::RecipStored(i, n) => Slot::Recip(self.sink.load(i)?, n),
            s => return Ok(s),
        };
        self.slots.insert(k, loaded);
        Ok(loaded)
    }

    fn get_key(&mut self, k: usize) -> Result<S::V> {
        match self.resolve(k)? {
            Slot::Ready(v) | Slot::ConstReady(_, v) | Slot::RecipReady(v, ..) => Ok(v),
            Slot::Const(c) => {
                let v = self.sink.konst(c)?;
                self.slots.insert(k, Slot::ConstReady(c, v));
                Ok(v)
            }
            Slot::Recip(b, n) => {
                let p = self.powi(b, n)?;
                let one = self.sink.konst(1.0)?;
                let v = self.sink.div(one, p)?;
                // Still a divisor where it is a factor of a later product.
                self.slots.insert(k, Slot::RecipReady(v, b, n));
                Ok(v)
            }
            Slot::Stored(_) | Slot::RecipStored(..) => unreachable!("resolved"),
        }
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
        // negation, as in the tape crate.
        let mut first = 0;
        let mut negate = false;
        if op.operand_count() >= 2 {
            let k0 = op.operand(0)?.to_raw().ptr as usize;
            if let Some(&(Slot::Const(-1.0) | Slot::ConstReady(-1.0, _))) = self.slots.get(&k0) {
                first = 1;
                negate = true;
            }
        }
        for i in first..op.operand_count() {
            let k = op.operand(i)?.to_raw().ptr as usize;
            if let Slot::Recip(b, n) | Slot::RecipReady(_, b, n) = self.resolve(k)? {
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
        if let Some(&(Slot::Const(e) | Slot::ConstReady(e, _))) = self.slots.get(&ek) {
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
            // An exact `±p/3` (the only constants of that value an
            // `alkahest.pow` holds; balls keep enclosing the real power).
            if !S::FOLD_FLOAT_EXPONENTS
                && let Some(p) = third_numerator(e)
            {
                let v = third_power(&mut Via(&mut *self.sink), b, p.unsigned_abs(), p < 0)?;
                return Ok(Slot::Ready(v));
            }
            if e.abs() == 0.5 {
                let s = self.sink.unary(UnaryFn::Sqrt, b)?;
                return Ok(if e > 0.0 {
                    Slot::Ready(s)
                } else {
                    let one = self.sink.konst(1.0)?;
                    Slot::RecipReady(self.sink.div(one, s)?, s, 1)
                });
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
pub(super) fn ops_in(block: MlirBlock) -> Vec<MlirOperation> {
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
    Err(no_terminator())
}

fn no_terminator() -> Error {
    Error::Mlir {
        stage: "lowering",
        diagnostics: "function body has no terminator".into(),
    }
}

/// The body of an alkahest function, to be lowered as several functions
/// (segments) that each lower a run of its ops: one huge basic block
/// costs LLVM's register allocator and scheduler superlinear time, a chain
/// of small functions linear time. A value one segment computes and a
/// later one uses goes through a scratch buffer of slots (one `V` each):
/// the function's arguments are slots `0..n`, and the last segment stores
/// the returned values to fresh slots.
pub(crate) struct Segmented {
    ops: Vec<MlirOperation>,
    /// Index of the last op that uses each value (by key).
    last_use: HashMap<usize, usize>,
    /// What the next segment starts from.
    carry: HashMap<usize, Carried>,
    /// Slots allocated so far.
    n_slots: u32,
}

impl Segmented {
    /// `body` must belong to a module that outlives this value.
    pub(crate) fn new(body: MlirBlock) -> Result<Self> {
        let ops = ops_in(body);
        let mut last_use = HashMap::new();
        for (j, &raw) in ops.iter().enumerate() {
            // SAFETY: `raw` is an op of `body`, which the caller keeps alive.
            let op = unsafe { OperationRef::from_raw(raw) };
            for i in 0..op.operand_count() {
                last_use.insert(key(&op.operand(i)?), j);
            }
        }
        // SAFETY: as above.
        let block = unsafe { BlockRef::from_raw(body) };
        let n = block.argument_count();
        let mut carry = HashMap::with_capacity(n);
        for i in 0..n {
            carry.insert(key(&block.argument(i)?), Carried::Stored(i as u32));
        }
        Ok(Segmented {
            ops,
            last_use,
            carry,
            n_slots: n as u32,
        })
    }

    /// Number of ops of the body (the terminator included).
    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    /// Slots the buffer needs for the segments lowered so far.
    pub(crate) fn n_slots(&self) -> u32 {
        self.n_slots
    }

    /// Lower ops `range` of the body through `sink`, a segment function
    /// whose buffer `sink` loads from and stores to. Values defined before
    /// the range are loaded on first use; values defined in it and used
    /// after it are stored. Returns the slots of the returned values when
    /// the range ends with the terminator, else `None`.
    pub(crate) fn walk_segment<S: Sink>(
        &mut self,
        range: std::ops::Range<usize>,
        sink: &mut S,
    ) -> Result<Option<Vec<u32>>> {
        let mut w = Walker {
            sink,
            slots: self.carry.iter().map(|(&k, &c)| (k, c.into())).collect(),
        };
        let end = range.end;
        let mut defined = Vec::new();
        for &raw in &self.ops[range] {
            // SAFETY: `raw` is an op of the body, alive while `self` is.
            let op = unsafe { OperationRef::from_raw(raw) };
            if let Some(out) = w.op(&op)? {
                let mut slots = Vec::with_capacity(out.len());
                for v in out {
                    w.sink.store(self.n_slots, v)?;
                    slots.push(self.n_slots);
                    self.n_slots += 1;
                }
                return Ok(Some(slots));
            }
            for i in 0..op.result_count() {
                defined.push(key(&op.result(i)?));
            }
        }
        // What later segments use: the carry as it was (still in the buffer
        // or constant), and the values defined here, stored now.
        let used_later = |k: &usize| self.last_use.get(k).is_some_and(|&j| j >= end);
        self.carry.retain(|k, _| used_later(k));
        for k in defined.into_iter().filter(used_later) {
            let Some(&slot) = w.slots.get(&k) else {
                continue; // no value (never read)
            };
            let c = match slot {
                Slot::Const(c) | Slot::ConstReady(c, _) => Carried::Const(c),
                Slot::Ready(v) => {
                    w.sink.store(self.n_slots, v)?;
                    self.n_slots += 1;
                    Carried::Stored(self.n_slots - 1)
                }
                Slot::Recip(b, n) | Slot::RecipReady(_, b, n) => {
                    w.sink.store(self.n_slots, b)?;
                    self.n_slots += 1;
                    Carried::RecipStored(self.n_slots - 1, n)
                }
                Slot::Stored(i) => Carried::Stored(i),
                Slot::RecipStored(i, n) => Carried::RecipStored(i, n),
            };
            self.carry.insert(k, c);
        }
        if end >= self.ops.len() {
            return Err(no_terminator());
        }
        Ok(None)
    }
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
