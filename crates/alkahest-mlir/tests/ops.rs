//! The tape crate's newer operations (comparisons, selections, asinh ... ceil,
//! copysign, fmod) and multiple outputs, through the ExecutionEngine, the
//! emitted text and StableHLO.

mod common;

use std::process::Command;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_mlir::{
    EmitOptions, Error, Target, compile, compile_many, to_mlir, to_mlir_many, to_stablehlo,
    to_stablehlo_many,
};
use alkahest_tape::{Evaluator, Tape, lower_many};
use alkahest_testkit::values::FUNCTION_POINTS;
use alkahest_testkit::{SPECIALS, same};

/// Points where functions are special: NaN, infinities, signed zeros,
/// subnormals, integers (floor, poles of gamma), large arguments.
fn specials() -> Vec<f64> {
    let mut v = SPECIALS.to_vec();
    v.extend(FUNCTION_POINTS);
    v
}

fn reference(pool: &ExprPool, exprs: &[ExprId], vars: &[ExprId]) -> Tape {
    lower_many(pool, exprs, vars).unwrap()
}

/// `e` through the engine agrees bit for bit with the tape crate's reference
/// at `points`.
fn bit_exact(pool: &ExprPool, e: ExprId, vars: &[ExprId], points: &[Vec<f64>]) {
    let tape = reference(pool, &[e], vars);
    let f = compile(pool, e, vars).unwrap();
    for p in points {
        let (g, w) = (f.eval_scalar(p), tape.eval_point(p)[0]);
        assert!(
            same(g, w),
            "{} at {p:?}: mlir {g:e} ({:#x}) reference {w:e} ({:#x})",
            alkahest_core::to_string(pool, e),
            g.to_bits(),
            w.to_bits()
        );
    }
}

fn unary_points() -> Vec<Vec<f64>> {
    let mut pts: Vec<Vec<f64>> = specials().iter().map(|&v| vec![v]).collect();
    pts.extend(
        common::points(1, 200, 7)
            .into_iter()
            .map(|p| vec![p[0] * 5.0]),
    );
    pts
}

fn binary_points() -> Vec<Vec<f64>> {
    let mut pts = Vec::new();
    let specials = specials();
    for &a in &specials {
        for &b in &specials {
            pts.push(vec![a, b]);
        }
    }
    pts.extend(
        common::points(2, 200, 11)
            .into_iter()
            .map(|p| vec![p[0] * 8.0, p[1] * 3.0]),
    );
    pts
}

/// Every numeric function of one argument is the libm call (or the exact
/// instruction) the reference uses: the results agree bit for bit.
#[test]
fn functions_agree_bit_for_bit_with_the_reference() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let pts = unary_points();
    for f in Func::numeric().filter(|f| f.arity() == 1) {
        bit_exact(&pool, pool.func(f, &[x]).unwrap(), &[x], &pts);
    }
    let pts = binary_points();
    for f in Func::numeric().filter(|f| f.arity() == 2) {
        bit_exact(&pool, pool.func(f, &[x, y]).unwrap(), &[x, y], &pts);
    }
    // powf with a run-time exponent
    bit_exact(&pool, pool.pow(x, y).unwrap(), &[x, y], &pts);
}

#[test]
fn comparisons_follow_ieee_with_nan() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let (one, zero) = (pool.integer(1).unwrap(), pool.integer(0).unwrap());
    let pts = binary_points();
    for k in common::CMP {
        let c = pool.func(k, &[x, y]).unwrap();
        let e = pool.select(c, one, zero).unwrap();
        bit_exact(&pool, e, &[x, y], &pts);
        let f = compile(&pool, e, &[x, y]).unwrap();
        // With a NaN operand every comparison is false except Ne.
        let want = if k == Func::Ne { 1.0 } else { 0.0 };
        for p in [[f64::NAN, 1.0], [1.0, f64::NAN], [f64::NAN, f64::NAN]] {
            assert_eq!(f.eval_scalar(&p), want, "{k:?} at {p:?}");
        }
        // -0 == +0
        let eq = matches!(k, Func::Le | Func::Ge | Func::Eq);
        assert_eq!(
            f.eval_scalar(&[-0.0, 0.0]),
            if eq { 1.0 } else { 0.0 },
            "{k:?}"
        );
    }
    // And / Or / Not
    let lt = pool.func(Func::Lt, &[x, y]).unwrap();
    let pos = pool.func(Func::Gt, &[x, zero]).unwrap();
    for c in [
        pool.func(Func::And, &[lt, pos]).unwrap(),
        pool.func(Func::Or, &[lt, pos]).unwrap(),
        pool.func(Func::Not, &[lt]).unwrap(),
    ] {
        bit_exact(&pool, pool.select(c, x, y).unwrap(), &[x, y], &pts);
    }
}

#[test]
fn select_is_branch_free_and_exact() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let zero = pool.integer(0).unwrap();
    // where(x > 0, log(x), y): log(x) is computed everywhere, but its NaN
    // for x < 0 does not leak into the other branch.
    let c = pool.func(Func::Gt, &[x, zero]).unwrap();
    let e = pool
        .select(c, pool.func(Func::Log, &[x]).unwrap(), y)
        .unwrap();
    let f = compile(&pool, e, &[x, y]).unwrap();
    assert_eq!(f.eval_scalar(&[-1.0, 7.0]), 7.0);
    assert_eq!(f.eval_scalar(&[1.0, 7.0]), 0.0);
    assert_eq!(f.eval_scalar(&[f64::NAN, 7.0]), 7.0);
    bit_exact(&pool, e, &[x, y], &binary_points());
    // sign: ±1, and ±0 / NaN as they are
    let s = pool.func(Func::Sign, &[x]).unwrap();
    let f = compile(&pool, s, &[x]).unwrap();
    assert_eq!(f.eval_scalar(&[-3.0]), -1.0);
    assert_eq!(f.eval_scalar(&[0.25]), 1.0);
    assert_eq!(f.eval_scalar(&[-0.0]).to_bits(), (-0.0f64).to_bits());
    assert!(f.eval_scalar(&[f64::NAN]).is_nan());
    // Mod has the sign of the divisor, fmod that of the dividend
    let m = compile(&pool, pool.func(Func::Mod, &[x, y]).unwrap(), &[x, y]).unwrap();
    let r = compile(&pool, pool.func(Func::Fmod, &[x, y]).unwrap(), &[x, y]).unwrap();
    assert_eq!(m.eval_scalar(&[-7.0, 3.0]), 2.0);
    assert_eq!(m.eval_scalar(&[7.0, -3.0]), -2.0);
    assert_eq!(r.eval_scalar(&[-7.0, 3.0]), -1.0);
    assert!(m.eval_scalar(&[1.0, 0.0]).is_nan());
}

/// Three outputs sharing `sin(x)`, over several arities (direct and packed
/// entry points): each output is what compiling it alone gives, bit for
/// bit, and close to the reference; `eval_columns` writes output k to
/// `outs[k]`.
#[test]
fn multiple_outputs_through_the_engine() {
    let pool = ExprPool::new();
    for n in [1usize, 2, 7] {
        let vars: Vec<ExprId> = (0..n)
            .map(|k| pool.symbol(&format!("v{k}")).unwrap())
            .collect();
        let x = vars[0];
        let y = vars[n - 1];
        let s = pool.func(Func::Sin, &[x]).unwrap();
        let sum = pool.add(&vars).unwrap();
        let exprs = [
            pool.add(&[pool.mul(&[s, y]).unwrap(), sum]).unwrap(),
            pool.func(Func::Cbrt, &[s]).unwrap(),
            pool.select(pool.func(Func::Lt, &[x, y]).unwrap(), s, y)
                .unwrap(),
        ];
        let f = compile_many(&pool, &exprs, &vars, EmitOptions::default()).unwrap();
        assert_eq!((f.n_inputs(), f.n_outputs()), (n, 3));
        let alone: Vec<_> = exprs
            .iter()
            .map(|&e| compile(&pool, e, &vars).unwrap())
            .collect();
        let tape = reference(&pool, &exprs, &vars);
        let pts = common::points(n, 50, n as u64);
        let mut out = [0.0; 3];
        for p in &pts {
            f.eval(p, &mut out);
            let want = tape.eval_point(p);
            for k in 0..3 {
                assert!(same(out[k], alone[k].eval_scalar(p)), "n = {n}, output {k}");
                assert!(
                    common::close(out[k], want[k]),
                    "n = {n}, output {k} at {p:?}"
                );
            }
            assert_eq!(f.eval_scalar(p).to_bits(), out[0].to_bits());
        }
        let cols: Vec<Vec<f64>> = (0..n).map(|v| pts.iter().map(|p| p[v]).collect()).collect();
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let mut o = vec![vec![0.0; pts.len()]; 3];
        {
            let mut outs: Vec<&mut [f64]> = o.iter_mut().map(|c| c.as_mut_slice()).collect();
            alkahest_tape::check_columns(n, 3, &refs, &outs).unwrap();
            f.eval_columns(&refs, &mut outs);
        }
        for (i, p) in pts.iter().enumerate() {
            f.eval(p, &mut out);
            for k in 0..3 {
                assert!(same(o[k][i], out[k]), "n = {n}, column {k}, point {i}");
            }
        }
        // Wrongly shaped buffers are filled with NaN, never overrun.
        let mut short = [0.0; 2];
        f.eval(&pts[0], &mut short);
        assert!(short.iter().all(|v| v.is_nan()));
        let mut two = [vec![0.0; pts.len()], vec![0.0; pts.len()]];
        let mut outs: Vec<&mut [f64]> = two.iter_mut().map(|c| c.as_mut_slice()).collect();
        f.eval_columns(&refs, &mut outs);
        assert!(two.iter().flatten().all(|v| v.is_nan()));
    }
}

#[test]
fn outputs_may_repeat_and_be_constants_or_inputs() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let three = pool.integer(3).unwrap();
    let e = pool.func(Func::Floor, &[x]).unwrap();
    let exprs = [x, e, three, e, y];
    let f = compile_many(&pool, &exprs, &[x, y], EmitOptions::default()).unwrap();
    let mut out = [0.0; 5];
    f.eval(&[2.5, -1.0], &mut out);
    assert_eq!(out, [2.5, 2.0, 3.0, 2.0, -1.0]);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let f = std::sync::Arc::new(
                compile_many(&pool, &exprs, &[x, y], EmitOptions::default()).unwrap(),
            );
            std::thread::spawn(move || {
                let mut out = [0.0; 5];
                (0..500).all(|i| {
                    let v = t as f64 + i as f64 * 0.25;
                    f.eval(&[v, 1.0], &mut out);
                    out == [v, v.floor(), 3.0, v.floor(), 1.0]
                })
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}

#[test]
fn multi_output_text_has_m_results() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let exprs = [
        pool.func(Func::Sin, &[x]).unwrap(),
        pool.func(Func::Hypot, &[x, y]).unwrap(),
        pool.mul(&[x, y]).unwrap(),
    ];
    let opts = EmitOptions::default();
    let alk = to_mlir_many(&pool, &exprs, &[x, y], "three", Target::Alkahest, opts).unwrap();
    assert!(alk.contains("-> (f64, f64, f64)"), "{alk}");
    assert!(alk.contains("return %2, %3, %4 : f64, f64, f64"), "{alk}");
    let arith = to_mlir_many(&pool, &exprs, &[x, y], "three", Target::Arith, opts).unwrap();
    assert!(
        arith.contains("func.func @three(%arg0: f64, %arg1: f64) -> (f64, f64, f64)"),
        "{arith}"
    );
    assert_eq!(
        arith.matches("func.func private @hypot").count(),
        1,
        "{arith}"
    );
    let llvm = to_mlir_many(&pool, &exprs, &[x, y], "three", Target::Llvm, opts).unwrap();
    assert!(llvm.contains("!llvm.struct<(f64, f64, f64)>"), "{llvm}");
    // One output: exactly the single-output text.
    for t in [Target::Alkahest, Target::Arith, Target::Llvm] {
        assert_eq!(
            to_mlir_many(&pool, &exprs[1..2], &[x, y], "one", t, opts).unwrap(),
            to_mlir(&pool, exprs[1], &[x, y], "one", t).unwrap()
        );
    }
    if let Some(tool) = mlir_opt() {
        for (text, tag) in [(&alk, "m_alk"), (&arith, "m_arith"), (&llvm, "m_llvm")] {
            mlir_opt_parses(tool, text, tag, &["--irdl-file"]).unwrap();
        }
    }
    // No outputs, or a condition as an output, is an error.
    assert!(to_mlir_many(&pool, &[], &[x], "f", Target::Arith, opts).is_err());
    let c = pool.func(Func::Lt, &[x, y]).unwrap();
    assert!(matches!(
        to_mlir_many(&pool, &[x, c], &[x, y], "f", Target::Arith, opts),
        Err(Error::Core(alkahest_core::Error::ConditionAsNumber(_)))
    ));
}

#[test]
fn new_functions_are_math_ops_or_libm_calls() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let mut terms: Vec<ExprId> = common::EXTRA_UNARY
        .iter()
        .map(|&f| pool.func(f, &[x]).unwrap())
        .collect();
    terms.extend(
        common::EXTRA_BINARY
            .iter()
            .map(|&f| pool.func(f, &[x, y]).unwrap()),
    );
    let e = pool.add(&terms).unwrap();
    let alk = to_mlir(&pool, e, &[x, y], "f", Target::Alkahest).unwrap();
    let arith = to_mlir(&pool, e, &[x, y], "f", Target::Arith).unwrap();
    for op in [
        "math.asinh",
        "math.acosh",
        "math.atanh",
        "math.cbrt",
        "math.exp2",
        "math.log2",
        "math.log10",
        "math.erf ",
        "math.floor",
        "math.ceil",
        "math.copysign",
        "arith.remf",
        "call @erfc(",
        "call @tgamma(",
        "call @lgamma(",
        "func.func private @erfc(f64) -> f64",
        "func.func private @lgamma(f64) -> f64",
        "func.func private @tgamma(f64) -> f64",
    ] {
        assert!(arith.contains(op), "no {op} in\n{arith}");
    }
    assert!(
        alk.contains("\"alkahest.cmp\"") && alk.contains("\"alkahest.select\""),
        "{alk}"
    );
    // The JIT's form: instructions for floor / ceil / copysign, frem, and
    // the reentrant lgamma_r.
    let llvm = to_mlir(&pool, e, &[x, y], "f", Target::Llvm).unwrap();
    for op in [
        "llvm.intr.floor",
        "llvm.intr.ceil",
        "llvm.intr.copysign",
        "llvm.frem",
        "llvm.call @lgamma_r(",
        "llvm.call @tgamma(",
        "llvm.call @asinh(",
        "llvm.alloca",
    ] {
        assert!(llvm.contains(op), "no {op} in\n{llvm}");
    }
    assert!(!llvm.contains("@lgamma("), "{llvm}");
    // The libm names are reserved.
    for name in ["tgamma", "lgamma", "lgamma_r", "erfc", "hypot"] {
        assert!(matches!(
            to_mlir(&pool, e, &[x, y], name, Target::Arith),
            Err(Error::InvalidName { .. })
        ));
    }
    if let Some(tool) = mlir_opt() {
        for (text, tag) in [(&alk, "f_alk"), (&arith, "f_arith"), (&llvm, "f_llvm")] {
            mlir_opt_parses(tool, text, tag, &["--irdl-file"]).unwrap();
        }
    }
}

/// digamma and trigamma are one `func.call` each in the alkahest dialect,
/// expanded with the tape crate's recipe in every target (no library call is
/// left, nothing to link); their values are checked bit for bit against
/// the tape in `functions_agree_bit_for_bit_with_the_reference`.
#[test]
fn digamma_and_trigamma_expand_in_every_target() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let e = pool
        .add(&[
            pool.func(Func::Digamma, &[x]).unwrap(),
            pool.func(Func::Trigamma, &[x]).unwrap(),
        ])
        .unwrap();
    let alk = to_mlir(&pool, e, &[x], "f", Target::Alkahest).unwrap();
    for s in [
        "call @alkahest_digamma(",
        "call @alkahest_trigamma(",
        "func.func private @alkahest_digamma(f64) -> f64",
    ] {
        assert!(alk.contains(s), "no {s} in\n{alk}");
    }
    let arith = to_mlir(&pool, e, &[x], "f", Target::Arith).unwrap();
    let llvm = to_mlir(&pool, e, &[x], "f", Target::Llvm).unwrap();
    let hlo = to_stablehlo(&pool, e, &[x], "f").unwrap();
    for (text, ops) in [
        (&arith, ["math.floor", "math.tan", "math.log"]),
        (&llvm, ["llvm.intr.floor", "@tan(", "@log("]),
        (&hlo, ["stablehlo.floor", "stablehlo.tan", "stablehlo.log"]),
    ] {
        assert!(!text.contains("alkahest_digamma"), "{text}");
        assert!(!text.contains("alkahest_trigamma"), "{text}");
        for op in ops {
            assert!(text.contains(op), "no {op} in\n{text}");
        }
    }
    for name in ["alkahest_digamma", "alkahest_trigamma"] {
        assert!(matches!(
            to_mlir(&pool, e, &[x], name, Target::Arith),
            Err(Error::InvalidName { .. })
        ));
    }
    let f = compile(&pool, pool.func(Func::Digamma, &[x]).unwrap(), &[x]).unwrap();
    assert_eq!(f.eval_scalar(&[1.0]), -0.577_215_664_901_532_9);
    if let Some(tool) = mlir_opt() {
        for (text, tag) in [(&alk, "dg_alk"), (&arith, "dg_arith"), (&llvm, "dg_llvm")] {
            mlir_opt_parses(tool, text, tag, &["--irdl-file"]).unwrap();
        }
    }
}

#[test]
fn comparisons_lower_to_cmpf_and_select() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    for (k, pred) in [
        (Func::Lt, "olt"),
        (Func::Le, "ole"),
        (Func::Gt, "ogt"),
        (Func::Ge, "oge"),
        (Func::Eq, "oeq"),
        (Func::Ne, "une"),
    ] {
        let c = pool.func(k, &[x, y]).unwrap();
        let e = pool.select(c, x, y).unwrap();
        let alk = to_mlir(&pool, e, &[x, y], "f", Target::Alkahest).unwrap();
        let lower = format!("{k:?}").to_ascii_lowercase();
        assert!(alk.contains(&format!("predicate = \"{lower}\"")), "{alk}");
        let arith = to_mlir(&pool, e, &[x, y], "f", Target::Arith).unwrap();
        assert!(
            arith.contains(&format!("arith.cmpf {pred}, %arg0, %arg1")),
            "{arith}"
        );
        assert!(arith.contains("arith.uitofp"), "{arith}");
        assert!(arith.contains("arith.cmpf une, %"), "{arith}");
        assert!(arith.contains("arith.select"), "{arith}");
    }
}

fn mlir_opt() -> Option<&'static str> {
    let ok = Command::new("mlir-opt-19")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: mlir-opt-19 not found (Debian package mlir-19-tools)");
    }
    ok.then_some("mlir-opt-19")
}

/// `mlir-opt-19` parses and verifies `text`; `flags` may hold
/// `--irdl-file` (the alkahest dialect) and `--allow-unregistered-dialect`.
fn mlir_opt_parses(tool: &str, text: &str, tag: &str, flags: &[&str]) -> Result<(), String> {
    let tmp = tempfile::Builder::new()
        .prefix("alkahest-mlir-ops-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let def = dir.join(format!("{tag}.irdl.mlir"));
    std::fs::write(&def, alkahest_mlir::dialect_irdl()).unwrap();
    let file = dir.join(format!("{tag}.mlir"));
    std::fs::write(&file, text).unwrap();
    let mut cmd = Command::new(tool);
    for f in flags {
        if *f == "--irdl-file" {
            cmd.arg(format!("--irdl-file={}", def.display()));
        } else {
            cmd.arg(f);
        }
    }
    let out = cmd.arg(&file).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn stablehlo_compare_select_and_functions() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    for k in common::CMP {
        let c = pool.func(k, &[x, y]).unwrap();
        let e = pool.select(c, x, y).unwrap();
        let t = to_stablehlo(&pool, e, &[x, y], "f").unwrap();
        let dir = format!("{k:?}").to_ascii_uppercase();
        assert!(
            t.contains(&format!(
                "\"stablehlo.compare\"(%arg0, %arg1) {{compare_type = #stablehlo<comparison_type FLOAT>, comparison_direction = #stablehlo<comparison_direction {dir}>}} : (tensor<f64>, tensor<f64>) -> tensor<i1>"
            )),
            "{t}"
        );
        assert!(
            t.contains("\"stablehlo.convert\"") && t.contains("\"stablehlo.select\""),
            "{t}"
        );
        // the select tests c != 0 (NE: true for a NaN condition)
        assert!(t.contains("comparison_direction NE"), "{t}");
    }
    let f1 = |f: Func| pool.func(f, &[x]).unwrap();
    for (f, op) in [
        (Func::Floor, "stablehlo.floor"),
        (Func::Ceil, "stablehlo.ceil"),
        (Func::Cbrt, "stablehlo.cbrt"),
        (Func::Exp2, "stablehlo.power"),
        (Func::Log2, "stablehlo.log"),
        (Func::Log10, "stablehlo.log"),
    ] {
        let t = to_stablehlo(&pool, f1(f), &[x], "f").unwrap();
        assert!(t.contains(&format!("\"{op}\"")), "{f:?}: {t}");
    }
    let t = to_stablehlo(&pool, pool.func(Func::Fmod, &[x, y]).unwrap(), &[x, y], "f").unwrap();
    assert!(t.contains("\"stablehlo.remainder\""), "{t}");
    let t = to_stablehlo(
        &pool,
        pool.func(Func::Copysign, &[x, y]).unwrap(),
        &[x, y],
        "f",
    )
    .unwrap();
    assert!(
        t.contains("\"stablehlo.bitcast_convert\"(%arg1) : (tensor<f64>) -> tensor<i64>")
            && t.contains("comparison_type SIGNED"),
        "{t}"
    );
    // Functions StableHLO has no op for: a typed error naming them.
    for (f, name) in [
        (Func::Asinh, "asinh"),
        (Func::Acosh, "acosh"),
        (Func::Atanh, "atanh"),
        (Func::Erf, "erf"),
        (Func::Erfc, "erfc"),
        (Func::Gamma, "tgamma"),
        (Func::Lgamma, "lgamma"),
    ] {
        let e = pool.add(&[f1(f), y]).unwrap();
        match to_stablehlo(&pool, e, &[x, y], "f") {
            Err(
                err @ Error::Unsupported {
                    target: "stablehlo",
                    ..
                },
            ) => {
                let msg = err.to_string();
                assert!(
                    msg.contains(&format!("StableHLO has no {name} op")),
                    "{msg}"
                );
            }
            other => panic!("{f:?}: {other:?}"),
        }
    }
}

#[test]
fn stablehlo_multiple_outputs() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let s = pool.func(Func::Sin, &[x]).unwrap();
    let exprs = [
        pool.add(&[s, y]).unwrap(),
        pool.mul(&[s, y]).unwrap(),
        pool.select(pool.func(Func::Ge, &[x, y]).unwrap(), s, y)
            .unwrap(),
    ];
    let t = to_stablehlo_many(&pool, &exprs, &[x, y], "my_fn").unwrap();
    let sig = "(%arg0: tensor<f64>, %arg1: tensor<f64>) -> (tensor<f64>, tensor<f64>, tensor<f64>)";
    assert!(t.contains(&format!("func.func @main{sig}")), "{t}");
    assert!(t.contains(&format!("func.func private @my_fn{sig}")), "{t}");
    assert!(t.contains("%0:3 = call @my_fn(%arg0, %arg1)"), "{t}");
    assert!(
        t.contains("return %0#0, %0#1, %0#2 : tensor<f64>, tensor<f64>, tensor<f64>"),
        "{t}"
    );
    // sin(x) once for the three outputs
    assert_eq!(t.matches("stablehlo.sine").count(), 1, "{t}");
    let m = to_stablehlo_many(&pool, &exprs, &[x, y], "main").unwrap();
    assert_eq!(m.matches("func.func").count(), 1, "{m}");
    assert!(m.contains(&format!("func.func @main{sig}")), "{m}");
    assert_eq!(
        to_stablehlo_many(&pool, &exprs[..1], &[x, y], "my_fn").unwrap(),
        to_stablehlo(&pool, exprs[0], &[x, y], "my_fn").unwrap()
    );
    if let Some(tool) = mlir_opt() {
        for (text, tag) in [(&t, "hlo_many"), (&m, "hlo_main")] {
            mlir_opt_parses(tool, text, tag, &["--allow-unregistered-dialect"]).unwrap();
        }
    }
}
