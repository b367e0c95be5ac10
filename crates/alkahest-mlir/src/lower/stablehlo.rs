//! Lowering to StableHLO / CHLO generic ops: [`HloSink`] and
//! [`lower_to_hlo`].

use alkahest_tape::{BinaryFn, CmpOp, UnaryFn};
use hashbrown::HashMap;
use melior::Context;
use melior::dialect::func;
use melior::ir::attribute::{
    DenseElementsAttribute, FloatAttribute, IntegerAttribute, TypeAttribute,
};
use melior::ir::r#type::{FunctionType, IntegerType, RankedTensorType};
use melior::ir::{
    Attribute, Block, BlockLike, Identifier, Location, Module, OperationRef, Type, Value,
};

use super::walk::{Sink, body_of, functions, walk};
use crate::emit::{define_func, push};
use crate::error::{Error, Result};

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
