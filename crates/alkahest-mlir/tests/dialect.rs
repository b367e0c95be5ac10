//! The dialect and the emitted text: parsed and verified by melior, and by
//! `mlir-opt-19 --irdl-file` as an independent reader.

mod common;

use std::io::Write;
use std::process::Command;

use alkahest_core::{ExprPool, Func};
use alkahest_mlir::{
    Error, Target, dialect_irdl, interval_to_mlir, series_to_mlir, to_mlir, to_stablehlo,
};
use melior::Context;
use melior::dialect::{DialectHandle, DialectRegistry};
use melior::ir::Module;
use proptest::prelude::*;

/// Parse and verify `text` with melior in a context that knows the dialect.
fn melior_verifies(text: &str) -> bool {
    let registry = DialectRegistry::new();
    for h in [DialectHandle::func(), DialectHandle::llvm()] {
        h.insert_dialect(&registry);
    }
    // SAFETY: plain C getters of static dialect descriptors.
    unsafe {
        for raw in [
            mlir_sys::mlirGetDialectHandle__arith__(),
            mlir_sys::mlirGetDialectHandle__math__(),
            mlir_sys::mlirGetDialectHandle__irdl__(),
        ] {
            DialectHandle::from_raw(raw).insert_dialect(&registry);
        }
    }
    let context = Context::new();
    context.append_dialect_registry(&registry);
    context.load_all_available_dialects();
    let irdl = Module::parse(&context, dialect_irdl()).expect("IRDL parses");
    assert!(melior::utility::load_irdl_dialects(&irdl));
    match Module::parse(&context, text) {
        Some(m) => m.as_operation().verify(),
        None => false,
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

fn write_file(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

/// `mlir-opt-19 --irdl-file=<dialect> FILE` verifies `text`.
fn mlir_opt_verifies(tool: &str, text: &str, tag: &str) -> Result<(), String> {
    // A directory of its own per call, removed when `dir` drops: tests run
    // in parallel, and a definition file shared between them can be read
    // while another test rewrites it.
    let dir = tempfile::Builder::new()
        .prefix("alkahest-mlir-test-")
        .tempdir()
        .unwrap();
    let def = write_file(dir.path(), &format!("{tag}.irdl.mlir"), dialect_irdl());
    let file = write_file(dir.path(), &format!("{tag}.mlir"), text);
    let out = Command::new(tool)
        .arg(format!("--irdl-file={}", def.display()))
        .arg(&file)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn cubic(pool: &ExprPool) -> (alkahest_core::ExprId, alkahest_core::ExprId) {
    // x**3 + 2*x**2 + 3*x + 4
    let x = pool.symbol("x").unwrap();
    let i = |n: i64| pool.integer(n).unwrap();
    let t3 = pool.pow(x, i(3)).unwrap();
    let t2 = pool.mul(&[i(2), pool.pow(x, i(2)).unwrap()]).unwrap();
    let t1 = pool.mul(&[i(3), x]).unwrap();
    (pool.add(&[t3, t2, t1, i(4)]).unwrap(), x)
}

#[test]
fn irdl_defines_every_op() {
    let text = dialect_irdl();
    for op in [
        "sym",
        "const",
        "add",
        "mul",
        "pow",
        "horner",
        "poly_eval",
        "series_taylor",
        "interval_eval",
        "rational_fn",
        "cmp",
        "select",
    ] {
        assert!(
            text.contains(&format!("irdl.operation @{op} ")),
            "missing {op}"
        );
    }
}

#[test]
fn polynomial_becomes_horner_and_fma() {
    let pool = ExprPool::new();
    let (p, x) = cubic(&pool);
    let alk = to_mlir(&pool, p, &[x], "cubic", Target::Alkahest).unwrap();
    assert!(alk.contains("\"alkahest.horner\""), "{alk}");
    assert!(
        alk.contains("array<f64: 4.000000e+00, 3.000000e+00, 2.000000e+00, 1.000000e+00>"),
        "{alk}"
    );
    assert!(melior_verifies(&alk));
    let arith = to_mlir(&pool, p, &[x], "cubic", Target::Arith).unwrap();
    assert_eq!(arith.matches("math.fma").count(), 3, "{arith}");
    assert!(!arith.contains("alkahest."), "{arith}");
    assert!(melior_verifies(&arith));
    let llvm = to_mlir(&pool, p, &[x], "cubic", Target::Llvm).unwrap();
    assert!(
        llvm.contains("llvm.intr.fma") && llvm.contains("llvm.func @cubic"),
        "{llvm}"
    );
    assert!(
        !llvm.contains("arith.") && !llvm.contains("math."),
        "{llvm}"
    );
    if let Some(tool) = mlir_opt() {
        for (t, tag) in [(&alk, "alk"), (&arith, "arith"), (&llvm, "llvm")] {
            mlir_opt_verifies(tool, t, tag).unwrap();
        }
    }
}

#[test]
fn symbolic_coefficients_become_poly_eval() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let a = pool.symbol("a").unwrap();
    let b = pool.symbol("b").unwrap();
    let x2 = pool.pow(x, pool.integer(2).unwrap()).unwrap();
    let e = pool
        .add(&[
            pool.mul(&[a, x2]).unwrap(),
            pool.mul(&[b, x]).unwrap(),
            pool.integer(1).unwrap(),
        ])
        .unwrap();
    let alk = to_mlir(&pool, e, &[x, a, b], "q", Target::Alkahest).unwrap();
    assert!(alk.contains("\"alkahest.poly_eval\""), "{alk}");
    assert!(melior_verifies(&alk));
}

#[test]
fn quotient_of_polynomials_becomes_rational_fn() {
    let pool = ExprPool::new();
    let (p, x) = cubic(&pool);
    let one = pool.integer(1).unwrap();
    let den = pool
        .add(&[pool.pow(x, pool.integer(2).unwrap()).unwrap(), one])
        .unwrap();
    let e = pool.div(p, den).unwrap();
    let alk = to_mlir(&pool, e, &[x], "r", Target::Alkahest).unwrap();
    assert!(alk.contains("\"alkahest.rational_fn\""), "{alk}");
    assert!(
        alk.contains("den = array<f64: 1.000000e+00, 0.000000e+00, 1.000000e+00>"),
        "{alk}"
    );
    // the absorbed sums are not emitted on their own
    assert!(!alk.contains("alkahest.horner"), "{alk}");
    assert!(melior_verifies(&alk));
}

#[test]
fn series_and_interval_ops_verify() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let e = pool.func(Func::Exp, &[x]).unwrap();
    let s = series_to_mlir(&pool, e, x, 0.0, 4, "exp4", Target::Alkahest).unwrap();
    assert!(
        s.contains("\"alkahest.series_taylor\"") && s.contains("center = 0.000000e+00"),
        "{s}"
    );
    let sa = series_to_mlir(&pool, e, x, 0.0, 4, "exp4", Target::Arith).unwrap();
    assert!(sa.contains("math.fma") && sa.contains("arith.subf"), "{sa}");
    let f = pool.mul(&[pool.func(Func::Sin, &[x]).unwrap(), y]).unwrap();
    let i = interval_to_mlir(&pool, f, &[x, y], "ball", Target::Alkahest).unwrap();
    assert!(
        i.contains("\"alkahest.interval_eval\"") && i.contains("callee = @ball_point"),
        "{i}"
    );
    let ia = interval_to_mlir(&pool, f, &[x, y], "ball", Target::Arith).unwrap();
    assert!(
        ia.contains("func.func @ball(") && ia.contains("-> (f64, f64)"),
        "{ia}"
    );
    for t in [&s, &sa, &i, &ia] {
        assert!(melior_verifies(t));
    }
    if let Some(tool) = mlir_opt() {
        for (t, tag) in [(&s, "s"), (&sa, "sa"), (&i, "i"), (&ia, "ia")] {
            mlir_opt_verifies(tool, t, tag).unwrap();
        }
    }
}

#[test]
fn the_dialect_rejects_malformed_ops() {
    let bad = [
        // wrong operand type
        r#"func.func @f(%a: f32) -> f64 { %0 = "alkahest.add"(%a) : (f32) -> f64
           return %0 : f64 }"#,
        // missing attribute
        r#"func.func @f(%a: f64) -> f64 { %0 = "alkahest.horner"(%a) : (f64) -> f64
           return %0 : f64 }"#,
        // wrong operand count
        r#"func.func @f(%a: f64) -> f64 { %0 = "alkahest.pow"(%a) : (f64) -> f64
           return %0 : f64 }"#,
        // wrong result count
        r#"func.func @f(%a: f64) -> f64 { %0 = "alkahest.interval_eval"(%a, %a) {callee = @f} : (f64, f64) -> f64
           return %0 : f64 }"#,
        // unknown comparison
        r#"func.func @f(%a: f64) -> f64 { %0 = "alkahest.cmp"(%a, %a) {predicate = "lg"} : (f64, f64) -> f64
           return %0 : f64 }"#,
        // select needs a condition and two values
        r#"func.func @f(%a: f64) -> f64 { %0 = "alkahest.select"(%a, %a) : (f64, f64) -> f64
           return %0 : f64 }"#,
    ];
    let tool = mlir_opt();
    for (i, text) in bad.iter().enumerate() {
        assert!(!melior_verifies(text), "melior accepted {text}");
        if let Some(tool) = tool {
            assert!(
                mlir_opt_verifies(tool, text, &format!("bad{i}")).is_err(),
                "mlir-opt accepted {text}"
            );
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let e = pool.add(&[x, y]).unwrap();
    for name in ["", "1f", "a-b", "a b", "hypot"] {
        assert!(
            matches!(
                to_mlir(&pool, e, &[x, y], name, Target::Alkahest),
                Err(Error::InvalidName { .. })
            ),
            "{name:?}"
        );
        assert!(matches!(
            to_stablehlo(&pool, e, &[x, y], name),
            Err(Error::InvalidName { .. })
        ));
    }
    assert!(matches!(
        to_mlir(&pool, e, &[x], "f", Target::Arith),
        Err(Error::Kernel(_))
    ));
    assert!(matches!(
        to_mlir(&pool, e, &[x, x, y], "f", Target::Arith),
        Err(Error::Kernel(_))
    ));
    // atan2 has no ball arithmetic: an error, not a wrong enclosure
    let a = pool.func(Func::Atan2, &[x, y]).unwrap();
    assert!(matches!(
        interval_to_mlir(&pool, a, &[x, y], "b", Target::Arith),
        Err(Error::Unsupported { .. })
    ));
    // a series needs a single variable and a regular point
    assert!(series_to_mlir(&pool, e, x, 0.0, 3, "s", Target::Arith).is_err());
    let l = pool.func(Func::Log, &[x]).unwrap();
    assert!(matches!(
        series_to_mlir(&pool, l, x, 0.0, 3, "s", Target::Arith),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn stablehlo_entry_point_naming() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let e = pool.func(Func::Sin, &[x]).unwrap();
    // a user name: public @main calls the private named function
    let t = to_stablehlo(&pool, e, &[x], "my_fn").unwrap();
    assert!(t.starts_with("module @my_fn {"), "{t}");
    assert!(
        t.contains("func.func @main(%arg0: tensor<f64>) -> tensor<f64>"),
        "{t}"
    );
    assert!(
        t.contains("call @my_fn(%arg0)") && t.contains("func.func private @my_fn("),
        "{t}"
    );
    // "main" itself: one public function
    let m = to_stablehlo(&pool, e, &[x], "main").unwrap();
    assert_eq!(m.matches("func.func").count(), 1, "{m}");
    assert!(m.contains("func.func @main("), "{m}");
}

#[test]
fn deep_chains_do_not_recurse() {
    // sin(sin(...sin(x)...)) 100,000 deep, and a 100,000-term sum chain
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let mut e = x;
    for _ in 0..100_000 {
        e = pool.func(Func::Sin, &[e]).unwrap();
    }
    let text = to_mlir(&pool, e, &[x], "deep", Target::Arith).unwrap();
    assert_eq!(text.matches("math.sin").count(), 100_000);
    let hlo = to_stablehlo(&pool, e, &[x], "deep").unwrap();
    assert_eq!(hlo.matches("stablehlo.sine").count(), 100_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random expressions: every target's text verifies with melior, and
    /// the alkahest text with mlir-opt-19 and the IRDL definition.
    #[test]
    fn emitted_text_verifies(steps in common::program(10)) {
        let pool = ExprPool::new();
        let vars = [pool.symbol("x").unwrap(), pool.symbol("y").unwrap()];
        let e = steps.build(&pool, &vars);
        let alk = to_mlir(&pool, e, &vars, "f", Target::Alkahest).unwrap();
        prop_assert!(melior_verifies(&alk), "{}", alk);
        for t in [Target::Arith, Target::Llvm] {
            let text = to_mlir(&pool, e, &vars, "f", t).unwrap();
            prop_assert!(!text.contains("alkahest."));
            prop_assert!(melior_verifies(&text), "{}", text);
        }
        if let Some(tool) = mlir_opt() {
            let r = mlir_opt_verifies(tool, &alk, "prop");
            prop_assert!(r.is_ok(), "{}\n{:?}", alk, r);
        }
    }

    /// The same with the newer functions, comparisons and selections
    /// (`alkahest.cmp`, `alkahest.select`, libm calls).
    #[test]
    fn emitted_text_with_conditions_verifies(steps in common::program_ext(10)) {
        let pool = ExprPool::new();
        let vars = [pool.symbol("x").unwrap(), pool.symbol("y").unwrap()];
        let e = steps.build(&pool, &vars);
        let alk = to_mlir(&pool, e, &vars, "f", Target::Alkahest).unwrap();
        prop_assert!(melior_verifies(&alk), "{}", alk);
        for t in [Target::Arith, Target::Llvm] {
            let text = to_mlir(&pool, e, &vars, "f", t).unwrap();
            prop_assert!(!text.contains("alkahest."));
            prop_assert!(melior_verifies(&text), "{}", text);
        }
        if let Some(tool) = mlir_opt() {
            let r = mlir_opt_verifies(tool, &alk, "prop_ext");
            prop_assert!(r.is_ok(), "{}\n{:?}", alk, r);
        }
    }
}
