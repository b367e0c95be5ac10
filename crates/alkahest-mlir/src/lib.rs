//! The `alkahest` MLIR dialect and its lowerings (melior 0.22, MLIR 19).
//!
//! Pipeline: the expression DAG is emitted into the `alkahest` dialect
//! (defined in IRDL, see [`dialect_irdl`]), recognizing polynomials in one
//! variable (`alkahest.horner` with constant coefficients,
//! `alkahest.poly_eval` with run-time ones) and rational functions
//! (`alkahest.rational_fn`). The module is verified against the dialect,
//! then lowered by passes over the MLIR API:
//!
//! * [`Target::Arith`]: `arith` + `math` (Horner chains as `math.fma`);
//! * [`Target::Llvm`]: then upstream conversions to the `llvm` dialect, which
//!   [`compile`] JIT-compiles with MLIR's ExecutionEngine;
//! * [`to_stablehlo`]: StableHLO/CHLO ops on `tensor<f64>` for XLA.
//!
//! `alkahest.series_taylor` (truncated Taylor series, [`series_to_mlir`],
//! [`compile_series`]) and `alkahest.interval_eval` (ball arithmetic,
//! [`interval_to_mlir`], [`compile_interval`]) have their own entry points.
//! The series' coefficients come from the `alkahest-series` crate (pure
//! power-series arithmetic, available without MLIR).
//!
//! On the LLVM path ([`compile`], [`compile_many`], [`compile_interval`],
//! [`Target::Llvm`] text) a function body of more than 3,000 alkahest ops
//! (a ball enclosure: 300, about fifteen arith ops each) is lowered as a
//! chain of `noinline` segment functions of 1,000 (150) ops, which the
//! entry calls in order, handing values over through a scratch buffer (on
//! the stack up to 64 KiB, else `malloc`ed per call). LLVM's register
//! allocator takes superlinear time on one huge basic block; segments keep
//! compile time linear in the expression's size. The ops and their order
//! are unchanged, so results are the same bits.
//!
//! Every emitted function takes one `f64` per variable, in the order given,
//! and returns one `f64` per output: [`to_mlir`], [`compile`] and
//! [`to_stablehlo`] have one output, their `_many` forms ([`to_mlir_many`],
//! [`compile_many`], [`to_stablehlo_many`]) `m`, all computed in one function
//! that shares common subexpressions. Anything that cannot be lowered is an
//! [`Error`].
//!
//! The tape's operations and functions are spelled as follows (see the
//! tape crate's `Op`, `UnaryFn`, `BinaryFn` and their `FnInfo` table):
//!
//! * comparisons are `alkahest.cmp` (1.0 / 0.0), lowered to `arith.cmpf`
//!   (`olt`, `ole`, `ogt`, `oge`, `oeq`, and `une` for `Ne`, which is true
//!   on NaN) + `arith.uitofp`, or `stablehlo.compare` (`FLOAT`) +
//!   `stablehlo.convert`; `where` / `And` / `Or` / `Not` are `alkahest.select`,
//!   lowered to `arith.cmpf une c, 0` + `arith.select` or `stablehlo.compare
//!   NE` + `stablehlo.select`; `sign` and `Mod` are built from these as the
//!   tape crate builds them;
//! * functions are the `math` op named after the C function
//!   (`math.asinh`, `math.cbrt`, `math.log10`, `math.erf`, `math.floor`,
//!   `math.copysign`, ...), `fmod` is `arith.remf`, and the functions MLIR 19
//!   has no op for (`erfc`, `tgamma`, `lgamma`, `hypot`) are `func.call`s of
//!   the libm symbol (the JIT calls `lgamma_r`, which is thread-safe). The
//!   JIT calls the same glibc functions as the tape crate's reference
//!   (`Tape::eval_point`), so its values agree bit for bit with it wherever
//!   the arithmetic around them is the same;
//! * StableHLO lacks some functions: see [`to_stablehlo`].
//!
//! Constant exponents follow the tape crate's rule (its `pow_number`), so the
//! JIT agrees with every other tier: an exact integer exponent is
//! `alkahest.pow`, lowered to a multiplication chain (`x**-2` is
//! `1/(x*x)`), an exact `±1/2` is `sqrt` (`1/sqrt`) and an exact `p/3` the
//! tape crate's `thirds` recipe (`cbrt` with a Newton correction); an exponent
//! written as a float (`x**2.0`, `x**-2.0`, `x**0.5`) or any other number
//! is `math.powf`, libm's `pow` (`(-inf)**0.5` is +inf, `1e156**-2.0` is
//! 1e-312). Only the ball lowering, which encloses the real power, treats
//! a constant float exponent as an exact one.

mod dialect;
mod emit;
mod engine;
mod error;
mod funcs;
mod lower;
mod plan;

use alkahest_core::{ExprId, ExprPool, Node};
use melior::Context;
use melior::ir::attribute::StringAttribute;
use melior::ir::{Location, Module};

pub use alkahest_series::MAX_ORDER;
pub use dialect::dialect_irdl;
pub use engine::{Ball, MlirBallFn, MlirFn};
pub use error::{Error, Result};

use dialect::{Diags, check_name, load_dialect, new_context};

/// Which dialect [`to_mlir`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// The `alkahest` dialect itself (plus `math` for elementary functions).
    Alkahest,
    /// Lowered to `arith` + `math` + `func`.
    Arith,
    /// Lowered to the `llvm` dialect (`mlir-translate --mlir-to-llvmir` input).
    Llvm,
}

/// Emission settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmitOptions {
    /// Recognize polynomials and rational functions in one variable
    /// (`horner`, `poly_eval`, `rational_fn`). Off, sums and products are
    /// emitted as they stand in the DAG.
    pub recognize: bool,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions { recognize: true }
    }
}

fn verify(module: &Module<'_>, diags: &Diags, stage: &'static str) -> Result<()> {
    if module.as_operation().verify() {
        Ok(())
    } else {
        Err(diags.error(stage))
    }
}

fn var_names(pool: &ExprPool, vars: &[ExprId]) -> Result<Vec<String>> {
    plan::arguments(pool, vars)?;
    let v = pool.view();
    Ok(vars
        .iter()
        .map(|&x| match v.node(x) {
            Node::Symbol(s) => s.to_string(),
            _ => unreachable!("checked by plan::arguments"),
        })
        .collect())
}

/// Build an alkahest module with `build`, verify it against the dialect,
/// lower it to `target` (verifying each stage) and give the final module
/// to `finish`. Returns `finish`'s result and the context, which compiled
/// code must keep.
fn pipeline<R>(
    target: Target,
    build: impl FnOnce(&Context, &Module<'_>) -> Result<()>,
    finish: impl FnOnce(&Module<'_>) -> Result<R>,
) -> Result<(R, Context)> {
    pipeline_with(target, lower::SplitPolicy::default(), build, finish)
}

/// [`pipeline`] with explicit splitting of large functions on the LLVM path.
fn pipeline_with<R>(
    target: Target,
    split: lower::SplitPolicy,
    build: impl FnOnce(&Context, &Module<'_>) -> Result<()>,
    finish: impl FnOnce(&Module<'_>) -> Result<R>,
) -> Result<(R, Context)> {
    let (context, diags) = new_context(false);
    let r = {
        let _irdl = load_dialect(&context, &diags)?;
        let loc = Location::unknown(&context);
        let src = Module::new(loc);
        build(&context, &src)?;
        verify(&src, &diags, "verification of the alkahest module")?;
        if target == Target::Alkahest {
            finish(&src)?
        } else {
            let mut dst = Module::new(loc);
            lower::lower_to_arith(&context, &src, &dst, target == Target::Llvm, split)?;
            verify(&dst, &diags, "verification of the arith lowering")?;
            if target == Target::Llvm {
                engine::lower_to_llvm(&context, &mut dst, &diags)?;
                verify(&dst, &diags, "verification of the llvm lowering")?;
            }
            finish(&dst)?
        }
    };
    Ok((r, context))
}

fn text(module: &Module<'_>) -> Result<String> {
    Ok(module.as_operation().to_string())
}

/// Emit `exprs` as `func.func @fn_name(f64 x vars.len()) -> (f64 x m)` in
/// the alkahest dialect, planned with `options`.
fn build_exprs<'p>(
    pool: &'p ExprPool,
    exprs: &'p [ExprId],
    vars: &'p [ExprId],
    fn_name: &'p str,
    options: EmitOptions,
) -> impl FnOnce(&Context, &Module<'_>) -> Result<()> + 'p {
    move |context, module| {
        let names = var_names(pool, vars)?;
        let planned = plan::plan(pool, exprs, vars, options.recognize)?;
        let callees =
            emit::emit_function(context, module, fn_name, &planned, exprs, &names, false)?;
        emit::declare_callees(context, module, &callees);
        Ok(())
    }
}

/// MLIR text of `expr` as `func.func @fn_name(%x0: f64, ...) -> f64`, one
/// argument per variable of `vars` in order, in the dialect of `target`.
///
/// The text is verified (against the IRDL dialect for
/// [`Target::Alkahest`]) before it is returned.
pub fn to_mlir(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    fn_name: &str,
    target: Target,
) -> Result<String> {
    to_mlir_with(pool, expr, vars, fn_name, target, EmitOptions::default())
}

/// [`to_mlir`] with explicit [`EmitOptions`].
pub fn to_mlir_with(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    fn_name: &str,
    target: Target,
    options: EmitOptions,
) -> Result<String> {
    to_mlir_many(pool, &[expr], vars, fn_name, target, options)
}

/// MLIR text of `m = exprs.len()` outputs as one function
/// `func.func @fn_name(%x0: f64, ...) -> (f64, ..., f64)` returning one
/// result per expression, in order (sub-expressions they share are computed
/// once). With one expression this is exactly [`to_mlir_with`]'s text.
/// Fails on an empty `exprs`, or when an output is a condition.
pub fn to_mlir_many(
    pool: &ExprPool,
    exprs: &[ExprId],
    vars: &[ExprId],
    fn_name: &str,
    target: Target,
    options: EmitOptions,
) -> Result<String> {
    check_name(fn_name)?;
    Ok(pipeline(
        target,
        build_exprs(pool, exprs, vars, fn_name, options),
        text,
    )?
    .0)
}

/// JIT-compile `expr` through alkahest -> arith/math -> llvm -> MLIR's
/// ExecutionEngine (-O3). The result implements
/// [`alkahest_tape::Evaluator`] and owns its code.
pub fn compile(pool: &ExprPool, expr: ExprId, vars: &[ExprId]) -> Result<MlirFn> {
    compile_with(pool, expr, vars, EmitOptions::default())
}

/// [`compile`] with explicit [`EmitOptions`].
pub fn compile_with(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    options: EmitOptions,
) -> Result<MlirFn> {
    compile_many(pool, &[expr], vars, options)
}

/// JIT-compile `m = exprs.len()` outputs as one function (see
/// [`to_mlir_many`]): the result's [`alkahest_tape::Evaluator::eval`]
/// writes output `k` to `out[k]`, and `eval_columns` writes output `k` at
/// point `i` to `outs[k][i]`.
pub fn compile_many(
    pool: &ExprPool,
    exprs: &[ExprId],
    vars: &[ExprId],
    options: EmitOptions,
) -> Result<MlirFn> {
    let (jit, context) = pipeline(
        Target::Llvm,
        build_exprs(pool, exprs, vars, engine::ENTRY, options),
        engine::jit,
    )?;
    Ok(MlirFn::new(context, jit, vars.len(), exprs.len()))
}

/// StableHLO text of `expr` for XLA: arguments and result are `tensor<f64>`,
/// one argument per variable in order.
///
/// XLA's entry point must be `@main`, so the body is the private function
/// `@fn_name` and a public `@main` with the same signature calls it (when
/// `fn_name` is `main` there is just the one public function). The module
/// itself is named `@fn_name`. Ops are StableHLO/CHLO in MLIR's generic
/// form (Debian's MLIR has no StableHLO dialect to print them otherwise);
/// jaxlib parses them. `alkahest.interval_eval` has no StableHLO lowering.
///
/// Comparisons are `stablehlo.compare` with `compare_type FLOAT` (IEEE:
/// `NE` is true on NaN) and `stablehlo.convert` to 1.0 / 0.0; selections
/// `stablehlo.compare NE` against 0 and `stablehlo.select`. Functions
/// StableHLO has no op for: `exp2(x)` is `stablehlo.power(2, x)`; `log2` and
/// `log10` are `log(x) / ln 2` and `log(x) / ln 10`, which are NOT bit-exact
/// (within about 2 ulp of glibc; `log2(2**29)` comes out as
/// `29.000000000000004`); `copysign` is exact (sign bit through
/// `stablehlo.bitcast_convert`); `fmod` is `stablehlo.remainder`. `asinh`,
/// `acosh`, `atanh`, `erf`, `erfc`, `gamma` and `loggamma` are an
/// [`Error::Unsupported`] saying `StableHLO has no <name> op` (CHLO has
/// some of them, but CHLO is not StableHLO).
pub fn to_stablehlo(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    fn_name: &str,
) -> Result<String> {
    to_stablehlo_many(pool, &[expr], vars, fn_name)
}

/// StableHLO text of `m = exprs.len()` outputs (see [`to_stablehlo`]): `@main`
/// and `@fn_name` return `m` results of type `tensor<f64>`, in order. With
/// one expression this is exactly [`to_stablehlo`]'s text.
pub fn to_stablehlo_many(
    pool: &ExprPool,
    exprs: &[ExprId],
    vars: &[ExprId],
    fn_name: &str,
) -> Result<String> {
    check_name(fn_name)?;
    let names = var_names(pool, vars)?;
    let planned = plan::plan(pool, exprs, vars, true)?;
    // Unregistered dialects are allowed for the StableHLO/CHLO ops; the
    // alkahest ops are still verified by their IRDL definitions.
    let (context, diags) = new_context(true);
    let _irdl = load_dialect(&context, &diags)?;
    let loc = Location::unknown(&context);
    let src = Module::new(loc);
    let callees = emit::emit_function(&context, &src, fn_name, &planned, exprs, &names, false)?;
    emit::declare_callees(&context, &src, &callees);
    verify(&src, &diags, "verification of the alkahest module")?;
    let mut dst = Module::new(loc);
    dst.as_operation_mut()
        .set_attribute("sym_name", StringAttribute::new(&context, fn_name).into());
    let private = fn_name != "main";
    if private {
        emit::emit_main_wrapper(&context, &dst, fn_name, vars.len(), exprs.len())?;
    }
    lower::lower_to_hlo(&context, &src, fn_name, &dst, fn_name, private)?;
    verify(&dst, &diags, "verification of the StableHLO module")?;
    text(&dst)
}

/// The Taylor coefficients `t_k = f^(k)(center) / k!`, k = 0..=order, of
/// `expr` as a function of the symbol `var` (its only free symbol), which
/// `alkahest.series_taylor` is built on: [`alkahest_series::taylor_coefficients`]
/// with this crate's [`Error`].
pub fn taylor_coefficients(
    pool: &ExprPool,
    expr: ExprId,
    var: ExprId,
    center: f64,
    order: usize,
) -> Result<Vec<f64>> {
    Ok(alkahest_series::taylor_coefficients(
        pool, expr, var, center, order,
    )?)
}

/// Entry points for `alkahest.series_taylor`: the expression as a function
/// of `var` alone, replaced by its Taylor polynomial of degree `order`
/// about `center`.
fn build_series<'p>(
    pool: &'p ExprPool,
    expr: ExprId,
    var: ExprId,
    center: f64,
    order: usize,
    fn_name: &'p str,
) -> Result<impl FnOnce(&Context, &Module<'_>) -> Result<()> + 'p> {
    let names = var_names(pool, &[var])?;
    let coeffs = taylor_coefficients(pool, expr, var, center, order)?;
    Ok(move |context: &Context, module: &Module<'_>| {
        emit::emit_series(context, module, fn_name, &names[0], center, &coeffs)
    })
}

/// MLIR text of the truncated Taylor series of `expr` in `var` about
/// `center` up to `order`, as `func.func @fn_name(f64) -> f64` built on
/// `alkahest.series_taylor`, in the dialect of `target`.
pub fn series_to_mlir(
    pool: &ExprPool,
    expr: ExprId,
    var: ExprId,
    center: f64,
    order: usize,
    fn_name: &str,
    target: Target,
) -> Result<String> {
    check_name(fn_name)?;
    let build = build_series(pool, expr, var, center, order, fn_name)?;
    Ok(pipeline(target, build, text)?.0)
}

/// JIT-compile the truncated Taylor series (see [`series_to_mlir`]); the
/// result takes the one variable `var`.
pub fn compile_series(
    pool: &ExprPool,
    expr: ExprId,
    var: ExprId,
    center: f64,
    order: usize,
) -> Result<MlirFn> {
    let build = build_series(pool, expr, var, center, order, engine::ENTRY)?;
    let (jit, context) = pipeline(Target::Llvm, build, engine::jit)?;
    Ok(MlirFn::new(context, jit, 1, 1))
}

fn build_interval<'p>(
    pool: &'p ExprPool,
    expr: ExprId,
    vars: &'p [ExprId],
    fn_name: &'p str,
) -> impl FnOnce(&Context, &Module<'_>) -> Result<()> + 'p {
    move |context, module| {
        let names = var_names(pool, vars)?;
        let planned = plan::plan(pool, &[expr], vars, true)?;
        let callee = format!("{fn_name}_point");
        let callees =
            emit::emit_function(context, module, &callee, &planned, &[expr], &names, true)?;
        emit::declare_callees(context, module, &callees);
        emit::emit_interval(context, module, fn_name, &callee, vars.len())
    }
}

/// MLIR text of the ball-arithmetic enclosure of `expr`:
/// `func.func @fn_name(%m0: f64, %r0: f64, ...) -> (f64, f64)` returning
/// (mid, rad), one (mid, rad) argument pair per variable, built on
/// `alkahest.interval_eval` of the private point function
/// `@<fn_name>_point`. `atan2` has no ball lowering (an error).
pub fn interval_to_mlir(
    pool: &ExprPool,
    expr: ExprId,
    vars: &[ExprId],
    fn_name: &str,
    target: Target,
) -> Result<String> {
    check_name(fn_name)?;
    check_name(&format!("{fn_name}_point"))?;
    Ok(pipeline(target, build_interval(pool, expr, vars, fn_name), text)?.0)
}

/// JIT-compile the ball-arithmetic enclosure of `expr` (see
/// [`interval_to_mlir`]).
pub fn compile_interval(pool: &ExprPool, expr: ExprId, vars: &[ExprId]) -> Result<MlirBallFn> {
    let (jit, context) = pipeline(
        Target::Llvm,
        build_interval(pool, expr, vars, engine::ENTRY),
        engine::jit,
    )?;
    Ok(MlirBallFn::new(context, jit, vars.len()))
}

/// Splitting a large function into segment functions (the LLVM path) must
/// not change a single bit: the same ops in the same order, values handed
/// over through memory. Forced here on small functions, with segments of
/// one to three ops (every value crosses a boundary, constants and
/// reciprocal powers too) and the heap buffer.
#[cfg(test)]
mod split_tests {
    use super::*;
    use alkahest_tape::Evaluator;
    use alkahest_testkit::{ExprGen, Program};
    use lower::SplitPolicy;
    use proptest::prelude::*;

    fn forced(ops: usize, stack_bytes: usize) -> SplitPolicy {
        let s = lower::Split { above: 0, ops };
        SplitPolicy {
            point: s,
            ball: s,
            stack_bytes,
        }
    }

    fn points(n: usize, out: &mut Vec<Vec<f64>>, seed: u64) {
        out.extend(alkahest_testkit::values::points(n, 12, seed));
        out.push(vec![0.0; n]);
        out.push(vec![f64::INFINITY; n]);
        out.push(vec![-1e156; n]);
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    fn compile_points(
        pool: &ExprPool,
        exprs: &[ExprId],
        vars: &[ExprId],
        split: SplitPolicy,
    ) -> Result<MlirFn> {
        let build = build_exprs(pool, exprs, vars, engine::ENTRY, EmitOptions::default());
        let (jit, context) = pipeline_with(Target::Llvm, split, build, engine::jit)?;
        Ok(MlirFn::new(context, jit, vars.len(), exprs.len()))
    }

    fn compile_balls(
        pool: &ExprPool,
        e: ExprId,
        vars: &[ExprId],
        split: SplitPolicy,
    ) -> Result<MlirBallFn> {
        let build = build_interval(pool, e, vars, engine::ENTRY);
        let (jit, context) = pipeline_with(Target::Llvm, split, build, engine::jit)?;
        Ok(MlirBallFn::new(context, jit, vars.len()))
    }

    fn check_points(
        p: &Program,
        seed: u64,
        splits: &[SplitPolicy],
    ) -> std::result::Result<(), TestCaseError> {
        let pool = ExprPool::new();
        let vars = [pool.symbol("x").unwrap(), pool.symbol("y").unwrap()];
        let e = p.build(&pool, &vars);
        // Two outputs sharing sub-expressions, one of them a constant.
        let exprs = [e, pool.float(2.5).unwrap()];
        let whole = compile_points(&pool, &exprs, &vars, SplitPolicy::NEVER).unwrap();
        let mut xs = Vec::new();
        points(2, &mut xs, seed);
        for &split in splits {
            let parts = compile_points(&pool, &exprs, &vars, split).unwrap();
            for x in &xs {
                let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
                whole.eval(x, &mut a);
                parts.eval(x, &mut b);
                for k in 0..2 {
                    prop_assert!(same(a[k], b[k]), "{split:?} at {x:?}: {a:?} vs {b:?}");
                }
            }
        }
        Ok(())
    }

    fn check_balls(
        p: &Program,
        seed: u64,
        splits: &[SplitPolicy],
    ) -> std::result::Result<(), TestCaseError> {
        let pool = ExprPool::new();
        let vars = [pool.symbol("x").unwrap(), pool.symbol("y").unwrap()];
        let e = p.build(&pool, &vars);
        let whole = match compile_balls(&pool, e, &vars, SplitPolicy::NEVER) {
            Ok(f) => f,
            Err(Error::Unsupported { .. }) => return Ok(()),
            Err(err) => panic!("{err}"),
        };
        let mut xs = Vec::new();
        points(2, &mut xs, seed);
        for &split in splits {
            let parts = compile_balls(&pool, e, &vars, split).unwrap();
            for (i, x) in xs.iter().enumerate() {
                let rad = [0.0, 1e-9, 0.25][i % 3];
                let balls: Vec<Ball> = x.iter().map(|&mid| Ball { mid, rad }).collect();
                let (a, b) = (whole.eval(&balls).unwrap(), parts.eval(&balls).unwrap());
                prop_assert!(
                    same(a.mid, b.mid) && same(a.rad, b.rad),
                    "{split:?} at {balls:?}: {a:?} vs {b:?}"
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(alkahest_testkit::cases(24)))]

        #[test]
        fn split_points_are_bit_identical(
            p in alkahest_testkit::programs(1..=12),
            seed in any::<u64>(),
        ) {
            check_points(&p, seed, &[forced(1, 64 << 10), forced(3, 0)])?;
        }

        #[test]
        fn split_balls_are_bit_identical(
            p in ExprGen::all().without_conditions().programs(1..=12),
            seed in any::<u64>(),
        ) {
            check_balls(&p, seed, &[forced(1, 64 << 10), forced(2, 0)])?;
        }
    }

    #[test]
    fn split_functions_are_not_inlined_back() {
        let pool = ExprPool::new();
        let x = pool.symbol("x").unwrap();
        let e = pool.func(alkahest_core::Func::Sin, &[x]).unwrap();
        let e = pool.add(&[e, x]).unwrap();
        let (exprs, vars) = ([e], [x]);
        let build = build_exprs(&pool, &exprs, &vars, "f", EmitOptions::default());
        let (text, _) = pipeline_with(Target::Llvm, forced(1, 0), build, text).unwrap();
        assert!(
            text.contains("llvm.func @f_seg0(%arg0: !llvm.ptr)"),
            "{text}"
        );
        assert!(text.contains("passthrough = [\"noinline\"]"), "{text}");
        assert!(text.contains("llvm.call @malloc"), "{text}");
        assert!(text.contains("llvm.call @free"), "{text}");
    }
}
