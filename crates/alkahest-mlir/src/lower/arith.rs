//! Lowering to `arith` + `math`: [`ArithSink`] and [`lower_to_arith`].

use std::collections::BTreeSet;

use alkahest_tape::{BinaryFn, CmpOp, UnaryFn};
use hashbrown::HashMap;
use melior::Context;
use melior::dialect::func;
use melior::ir::attribute::{
    ArrayAttribute, DenseI32ArrayAttribute, FlatSymbolRefAttribute, FloatAttribute,
    IntegerAttribute, StringAttribute, TypeAttribute,
};
use melior::ir::operation::OperationBuilder;
use melior::ir::r#type::{FunctionType, IntegerType};
use melior::ir::{
    Attribute, Block, BlockLike, BlockRef, Identifier, Location, Module, OperationRef, Region,
    Type, Value,
};
use mlir_sys::MlirBlock;

use super::ball::BallSink;
use super::walk::{Segmented, Sink, body_of, functions, ops_in, walk};
use crate::emit::{call, declare_callees, define_func, define_func_with, push};
use crate::error::{Error, Result};
use crate::funcs::{self, LGAMMA_R, Spelling};

/// When a function body is lowered as a chain of segment functions (see
/// [`Segmented`]): bodies of more than `above` ops, in runs of `ops` ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    pub above: usize,
    pub ops: usize,
}

impl Split {
    /// One function whatever its size.
    pub(crate) const NEVER: Split = Split {
        above: usize::MAX,
        ops: usize::MAX,
    };
}

/// How the LLVM path splits large functions: point functions and ball
/// enclosures (about fifteen arith ops per alkahest op) apart. The scratch
/// buffer between segments is on the stack up to `stack_bytes`, else
/// `malloc`ed once per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SplitPolicy {
    pub point: Split,
    pub ball: Split,
    pub stack_bytes: usize,
}

impl SplitPolicy {
    /// Never split (text targets, and the reference in tests).
    pub(crate) const NEVER: SplitPolicy = SplitPolicy {
        point: Split::NEVER,
        ball: Split::NEVER,
        stack_bytes: 64 << 10,
    };
}

impl Default for SplitPolicy {
    /// Measured on random DAGs (benches/bench_interval_growth.py): a ball
    /// function of 150 alkahest ops (2k-3k arith ops) compiles in well
    /// under 0.1 s, and its compile time is then linear in the number of
    /// segments.
    fn default() -> Self {
        SplitPolicy {
            point: Split {
                above: 3000,
                ops: 1000,
            },
            ball: Split {
                above: 300,
                ops: 150,
            },
            stack_bytes: 64 << 10,
        }
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
    /// The module being built, for segment functions.
    dest: &'m Module<'c>,
    /// The scratch buffer of a segment function (`!llvm.ptr` to f64s).
    buffer: Option<Value<'c, 'a>>,
    split: SplitPolicy,
    /// Emit `llvm.intr.fma` / `sqrt` / `fabs` instead of the math ops
    /// (the LLVM path: `convert-math-to-libm` would turn them into calls).
    intrinsics: bool,
    consts: HashMap<u64, Value<'c, 'a>>,
}

impl<'c, 'a, 'm> ArithSink<'c, 'a, 'm> {
    /// A sink that fills `block`, the body of a function of `dest`.
    fn new(
        context: &'c Context,
        block: &'a Block<'c>,
        (source, dest): (&'m Module<'c>, &'m Module<'c>),
        intrinsics: bool,
        split: SplitPolicy,
    ) -> Self {
        ArithSink {
            context,
            block,
            loc: Location::unknown(context),
            f64t: Type::float64(context),
            callees: BTreeSet::new(),
            lgamma_sign: None,
            source,
            dest,
            buffer: None,
            split,
            intrinsics,
            consts: HashMap::new(),
        }
    }

    fn ptr_type(&self) -> Type<'c> {
        melior::dialect::llvm::r#type::pointer(self.context, 0)
    }

    /// `&buffer[i]`.
    fn element(&mut self, i: u32) -> Result<Value<'c, 'a>> {
        let buffer = self.buffer.ok_or_else(|| Error::Mlir {
            stage: "lowering",
            diagnostics: "a segment buffer access outside a segment".into(),
        })?;
        let index = i32::try_from(i).map_err(|_| Error::Mlir {
            stage: "lowering",
            diagnostics: format!("segment buffer slot {i} out of range"),
        })?;
        let ctx = self.context;
        push(
            self.block,
            "llvm.getelementptr",
            &[buffer],
            &[
                (
                    Identifier::new(ctx, "rawConstantIndices"),
                    DenseI32ArrayAttribute::new(ctx, &[index]).into(),
                ),
                (
                    Identifier::new(ctx, "elem_type"),
                    TypeAttribute::new(self.f64t).into(),
                ),
            ],
            self.ptr_type(),
            self.loc,
        )
    }

    /// `buffer[i]`.
    fn load_f64(&mut self, i: u32) -> Result<Value<'c, 'a>> {
        let p = self.element(i)?;
        push(self.block, "llvm.load", &[p], &[], self.f64t, self.loc)
    }

    /// `buffer[i] = v`.
    fn store_f64(&mut self, i: u32, v: Value<'c, 'a>) -> Result<()> {
        let p = self.element(i)?;
        let op = OperationBuilder::new("llvm.store", self.loc)
            .add_operands(&[v, p])
            .build()?;
        self.block.append_operation(op);
        Ok(())
    }

    /// An `i64` constant (`llvm.mlir.constant`).
    fn const_i64(&mut self, v: i64) -> Result<Value<'c, 'a>> {
        let ctx = self.context;
        let i64t: Type = IntegerType::new(ctx, 64).into();
        push(
            self.block,
            "llvm.mlir.constant",
            &[],
            &[(
                Identifier::new(ctx, "value"),
                IntegerAttribute::new(i64t, v).into(),
            )],
            i64t,
            self.loc,
        )
    }

    /// Lower `body` (a function of the source module) as a chain of
    /// segment functions `@<prefix>_seg<k>(!llvm.ptr)` called in order from
    /// this sink's block (see [`Segmented`]), as balls (two f64 per value)
    /// or points. `inputs` are the f64 values of the body's arguments in
    /// buffer order (mid, rad per ball); returns those of its results.
    fn segments(
        &mut self,
        body: MlirBlock,
        prefix: &str,
        ball: bool,
        inputs: &[Value<'c, 'a>],
    ) -> Result<Vec<Value<'c, 'a>>> {
        let split = if ball {
            self.split.ball
        } else {
            self.split.point
        };
        let ctx = self.context;
        let (source, dest) = (self.source, self.dest);
        let (intrinsics, policy) = (self.intrinsics, self.split);
        let ptr = self.ptr_type();
        // Each segment stays a function of its own: inlined back, they
        // would make the one huge block again.
        let noinline: [(Identifier, Attribute); 1] = [(
            Identifier::new(ctx, "passthrough"),
            ArrayAttribute::new(ctx, &[StringAttribute::new(ctx, "noinline").into()]).into(),
        )];
        let mut seg = Segmented::new(body)?;
        let n = seg.len();
        let mut names = Vec::new();
        let mut outputs = None;
        let mut start = 0;
        while start < n {
            let range = start..(start + split.ops.max(1)).min(n);
            start = range.end;
            let name = format!("{prefix}_seg{}", names.len());
            let mut callees = BTreeSet::new();
            define_func_with(ctx, dest, &name, (&[ptr], &[]), true, &noinline, |block| {
                let mut sink = ArithSink::new(ctx, block, (source, dest), intrinsics, policy);
                sink.buffer = Some(block.argument(0)?.into());
                let out = if ball {
                    seg.walk_segment(range, &mut BallSink { p: &mut sink })?
                } else {
                    seg.walk_segment(range, &mut sink)?
                };
                outputs = out.or(outputs.take());
                callees = std::mem::take(&mut sink.callees);
                block.append_operation(func::r#return(&[], sink.loc));
                Ok(())
            })?;
            self.callees.append(&mut callees);
            names.push(name);
        }
        let outputs = outputs.ok_or_else(|| Error::Mlir {
            stage: "lowering",
            diagnostics: "function body has no terminator".into(),
        })?;
        // The entry: buffer, arguments in, segments, results out.
        let width: u32 = if ball { 2 } else { 1 };
        let bytes = seg.n_slots() as usize * width as usize * 8;
        let heap = bytes > self.split.stack_bytes;
        let buffer = if heap {
            declare_alloc(ctx, dest)?;
            let size = self.const_i64(bytes as i64)?;
            let op = func::call(
                ctx,
                FlatSymbolRefAttribute::new(ctx, MALLOC),
                &[size],
                &[ptr],
                self.loc,
            );
            self.block.append_operation(op).result(0)?.into()
        } else {
            let count = self.const_i64(seg.n_slots() as i64 * width as i64)?;
            let alloca = OperationBuilder::new("llvm.alloca", self.loc)
                .add_operands(&[count])
                .add_attributes(&[(
                    Identifier::new(ctx, "elem_type"),
                    TypeAttribute::new(self.f64t).into(),
                )])
                .add_results(&[ptr])
                .build()?;
            self.block.append_operation(alloca).result(0)?.into()
        };
        let outer = self.buffer.replace(buffer);
        for (i, &v) in inputs.iter().enumerate() {
            self.store_f64(i as u32, v)?;
        }
        for name in &names {
            let op = func::call(
                ctx,
                FlatSymbolRefAttribute::new(ctx, name),
                &[buffer],
                &[],
                self.loc,
            );
            self.block.append_operation(op);
        }
        let mut out = Vec::with_capacity(outputs.len() * width as usize);
        for s in outputs {
            for w in 0..width {
                out.push(self.load_f64(s * width + w)?);
            }
        }
        if heap {
            let op = func::call(
                ctx,
                FlatSymbolRefAttribute::new(ctx, FREE),
                &[buffer],
                &[],
                self.loc,
            );
            self.block.append_operation(op);
        }
        self.buffer = outer;
        Ok(out)
    }

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

const MALLOC: &str = "malloc";
const FREE: &str = "free";

/// `func.func private @malloc(i64) -> !llvm.ptr` and `@free(!llvm.ptr)`,
/// once per module.
fn declare_alloc<'c>(context: &'c Context, module: &Module<'c>) -> Result<()> {
    if functions(module)?.iter().any(|(n, _)| n == MALLOC) {
        return Ok(());
    }
    let ptr = melior::dialect::llvm::r#type::pointer(context, 0);
    let i64t: Type = IntegerType::new(context, 64).into();
    let loc = Location::unknown(context);
    for (name, args, results) in [(MALLOC, [i64t], vec![ptr]), (FREE, [ptr], vec![])] {
        let ty = FunctionType::new(context, &args, &results);
        module.body().append_operation(func::func(
            context,
            StringAttribute::new(context, name),
            TypeAttribute::new(ty.into()),
            Region::new(),
            &[(
                Identifier::new(context, "sym_visibility"),
                StringAttribute::new(context, "private").into(),
            )],
            loc,
        ));
    }
    Ok(())
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
    fn load(&mut self, i: u32) -> Result<Self::V> {
        self.load_f64(i)
    }
    fn store(&mut self, i: u32, v: Self::V) -> Result<()> {
        self.store_f64(i, v)
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
        if self.intrinsics && n_ops(body) > self.split.ball.above {
            let out = self.segments(body, &format!("{callee}_ball"), true, args)?;
            return match *out {
                [m, r, ..] => Ok((m, r)),
                _ => Err(Error::Mlir {
                    stage: "lowering",
                    diagnostics: format!("@{callee} returns nothing"),
                }),
            };
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

/// Number of ops in a block.
fn n_ops(body: MlirBlock) -> usize {
    ops_in(body).len()
}

/// Lower every function of an alkahest module into `dst` with arith/math;
/// `intrinsics` picks LLVM intrinsics for fma, sqrt and fabs (the LLVM
/// path, where `convert-math-to-libm` would turn the math ops into calls),
/// where large functions are also split as `split` says.
pub(crate) fn lower_to_arith<'c>(
    context: &'c Context,
    src: &Module<'c>,
    dst: &Module<'c>,
    intrinsics: bool,
    split: SplitPolicy,
) -> Result<()> {
    let split = if intrinsics {
        split
    } else {
        SplitPolicy::NEVER
    };
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
                let mut sink = ArithSink::new(context, block, (src, dst), intrinsics, split);
                let out = if n_ops(body) > split.point.above {
                    sink.segments(body, &name, false, &args)?
                } else {
                    walk(body, &args, &mut sink)?
                };
                callees.append(&mut sink.callees);
                block.append_operation(func::r#return(&out, loc));
                Ok(())
            },
        )?;
    }
    declare_callees(context, dst, &callees);
    Ok(())
}
