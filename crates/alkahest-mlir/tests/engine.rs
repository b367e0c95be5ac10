//! The LLVM path: ExecutionEngine results against the interpreter, and the
//! `llvm`-dialect text translated by `mlir-translate-19` and compiled by
//! `llc-19` as an independent check.

mod common;

use std::process::Command;

use alkahest_core::{ExprPool, Func};
use alkahest_mlir::{EmitOptions, Target, compile, compile_with, to_mlir};
use alkahest_tape::Evaluator;
use proptest::prelude::*;

fn check(
    pool: &ExprPool,
    e: alkahest_core::ExprId,
    vars: &[alkahest_core::ExprId],
    opts: EmitOptions,
    seed: u64,
) -> Result<usize, TestCaseError> {
    prop_assume!(!common::has_constant_atan2_of_zeros(pool, e));
    let want = common::reference(pool, e, vars);
    let got = compile_with(pool, e, vars, opts).unwrap();
    prop_assert_eq!(got.n_inputs(), vars.len());
    let mut compared = 0;
    for x in common::points(vars.len(), 16, seed) {
        if !common::stable(&want, &x)
            || common::cancels(pool, e, vars, &x)
            || common::near_domain_edge(pool, e, vars, &x)
        {
            continue;
        }
        let (g, w) = (got.eval_scalar(&x), want.eval_scalar(&x));
        prop_assert!(
            common::close(g, w),
            "at {:?}: mlir {} interpreter {}\n{}",
            x,
            g,
            w,
            alkahest_core::to_string(pool, e)
        );
        compared += 1;
    }
    Ok(compared)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(alkahest_testkit::cases(64)))]

    /// ExecutionEngine vs interpreter, with polynomial recognition on
    /// (Horner/fma, rational functions) and off.
    #[test]
    fn engine_matches_interpreter(steps in common::program(10), seed in any::<u64>()) {
        let pool = ExprPool::new();
        let vars = [pool.symbol("x").unwrap(), pool.symbol("y").unwrap()];
        let e = steps.build(&pool, &vars);
        check(&pool, e, &vars, EmitOptions::default(), seed)?;
        check(&pool, e, &vars, EmitOptions { recognize: false }, seed)?;
    }

    /// The same with the newer functions (asinh ... ceil, sign, copysign,
    /// fmod, Mod), comparisons, And / Or / Not and `where`.
    #[test]
    fn engine_matches_interpreter_with_conditions(
        steps in common::program_ext(10),
        seed in any::<u64>(),
    ) {
        let pool = ExprPool::new();
        let vars = [pool.symbol("x").unwrap(), pool.symbol("y").unwrap()];
        let e = steps.build(&pool, &vars);
        check(&pool, e, &vars, EmitOptions::default(), seed)?;
        check(&pool, e, &vars, EmitOptions { recognize: false }, seed)?;
    }
}

/// Known issue (see `common::has_constant_atan2_of_zeros`): MLIR folds
/// `math.atan2(0.0, 0.0)` to NaN; C's `atan2` gives 0 (and pi for
/// `atan2(0.0, -0.0)`). Found by the shared random programs.
#[test]
#[ignore = "known issue: MLIR's constant folder gives NaN for atan2(0, 0)"]
fn constant_atan2_of_zeros_matches_libm() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    for (a, b) in [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0)] {
        let (a, b) = (pool.float(a).unwrap(), pool.float(b).unwrap());
        let e = pool
            .add(&[x, pool.func(Func::Atan2, &[a, b]).unwrap()])
            .unwrap();
        let want = common::reference(&pool, e, &[x]).eval_scalar(&[1.0]);
        let got = compile(&pool, e, &[x]).unwrap().eval_scalar(&[1.0]);
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "{}",
            alkahest_core::to_string(&pool, e)
        );
    }
}

#[test]
fn special_values_follow_the_interpreter() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        5e-324,
        -1e-310,
        1.0,
        -1.0,
        710.0,
    ];
    let mut exprs = vec![
        pool.func(Func::Min, &[x, y]).unwrap(),
        pool.func(Func::Max, &[x, y]).unwrap(),
        pool.func(Func::Hypot, &[x, y]).unwrap(),
        pool.func(Func::Atan2, &[x, y]).unwrap(),
        pool.div(x, y).unwrap(),
        pool.pow(x, y).unwrap(),
        pool.func(Func::Fma, &[x, y, x]).unwrap(),
    ];
    for f in common::UNARY {
        exprs.push(pool.func(f, &[x]).unwrap());
    }
    for e in exprs {
        let want = common::reference(&pool, e, &[x, y]);
        let got = compile(&pool, e, &[x, y]).unwrap();
        for &a in &specials {
            for &b in &specials {
                let (g, w) = (got.eval_scalar(&[a, b]), want.eval_scalar(&[a, b]));
                assert!(
                    common::close(g, w),
                    "{} at ({a}, {b}): mlir {g} interpreter {w}",
                    alkahest_core::to_string(&pool, e)
                );
            }
        }
    }
}

#[test]
fn batch_evaluation_and_threads() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let e = pool
        .add(&[
            pool.func(Func::Sin, &[x]).unwrap(),
            pool.mul(&[x, y]).unwrap(),
        ])
        .unwrap();
    let f = std::sync::Arc::new(compile(&pool, e, &[x, y]).unwrap());
    let want = common::reference(&pool, e, &[x, y]);
    let xs: Vec<f64> = (0..1000).map(|i| i as f64 * 0.01).collect();
    let ys: Vec<f64> = (0..1000).map(|i| 1.0 - i as f64 * 0.002).collect();
    let mut out = vec![0.0; 1000];
    f.eval_columns(&[&xs, &ys], &mut [&mut out]);
    for i in 0..1000 {
        assert!(common::close(out[i], want.eval_scalar(&[xs[i], ys[i]])));
    }
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let f = f.clone();
            std::thread::spawn(move || {
                (0..1000)
                    .map(|i| f.eval_scalar(&[t as f64, i as f64]))
                    .sum::<f64>()
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let s: f64 = (0..1000)
            .map(|i| want.eval_scalar(&[t as f64, i as f64]))
            .sum();
        assert!(common::close(h.join().unwrap(), s));
    }
}

#[test]
fn compiled_functions_are_dropped_cleanly() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let e = pool.func(Func::Exp, &[x]).unwrap();
    for _ in 0..20 {
        let f = compile(&pool, e, &[x]).unwrap();
        assert_eq!(f.eval_scalar(&[0.0]), 1.0);
    }
}

/// The `llvm` text through `mlir-translate-19 --mlir-to-llvmir`, `llc-19`
/// and the C compiler, called from a small C driver: the values must be
/// the interpreter's.
#[test]
fn llvm_text_translates_and_runs() {
    let tools = ["mlir-translate-19", "llc-19", "cc"];
    if let Some(t) = tools
        .iter()
        .find(|t| Command::new(t).arg("--version").output().is_err())
    {
        println!("skipped: {t} not found");
        return;
    }
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let i = |n: i64| pool.integer(n).unwrap();
    // a cubic (horner -> fma), a rational function, hypot and log1p
    let cubic = pool
        .add(&[
            pool.pow(x, i(3)).unwrap(),
            pool.mul(&[i(-2), x]).unwrap(),
            i(5),
        ])
        .unwrap();
    let rat = pool
        .div(x, pool.add(&[pool.pow(x, i(2)).unwrap(), i(1)]).unwrap())
        .unwrap();
    let e = pool
        .add(&[
            cubic,
            rat,
            pool.func(Func::Hypot, &[x, y]).unwrap(),
            pool.func(Func::Log1p, &[pool.mul(&[x, y]).unwrap()])
                .unwrap(),
        ])
        .unwrap();
    let text = to_mlir(&pool, e, &[x, y], "kernel", Target::Llvm).unwrap();
    // Removed when the test ends, pass or fail.
    let tmp = tempfile::Builder::new()
        .prefix("alkahest-mlir-llc-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("k.mlir"), &text).unwrap();
    let run = |cmd: &mut Command| {
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{:?}: {}",
            cmd,
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    run(Command::new("mlir-translate-19")
        .arg("--mlir-to-llvmir")
        .arg(dir.join("k.mlir"))
        .arg("-o")
        .arg(dir.join("k.ll")));
    run(Command::new("llc-19")
        .args(["-O2", "-filetype=obj", "-relocation-model=pic"])
        .arg(dir.join("k.ll"))
        .arg("-o")
        .arg(dir.join("k.o")));
    let driver = r#"#include <stdio.h>
double kernel(double, double);
int main(void) {
    for (int i = 0; i < 20; i++) {
        double x = -2.0 + 0.2 * i, y = 0.1 + 0.05 * i;
        printf("%.17g\n", kernel(x, y));
    }
    return 0;
}
"#;
    std::fs::write(dir.join("main.c"), driver).unwrap();
    run(Command::new("cc")
        .arg(dir.join("main.c"))
        .arg(dir.join("k.o"))
        .arg("-lm")
        .arg("-o")
        .arg(dir.join("k")));
    let out = String::from_utf8(run(&mut Command::new(dir.join("k")))).unwrap();
    let want = common::reference(&pool, e, &[x, y]);
    let mut n = 0;
    for (i, line) in out.lines().enumerate() {
        let (a, b) = (-2.0 + 0.2 * i as f64, 0.1 + 0.05 * i as f64);
        let got: f64 = line.trim().parse().unwrap();
        let w = want.eval_scalar(&[a, b]);
        assert!(
            common::close(got, w),
            "at ({a}, {b}): llc {got} interpreter {w}"
        );
        n += 1;
    }
    assert_eq!(n, 20);
}

/// Seven or more inputs go through the packed entry point, fewer are
/// called directly: both agree with the interpreter.
#[test]
fn every_arity_matches() {
    let pool = ExprPool::new();
    for n in 0..10usize {
        let vars: Vec<_> = (0..n)
            .map(|k| pool.symbol(&format!("v{k}")).unwrap())
            .collect();
        let mut terms = vec![pool.integer(1).unwrap()];
        for (k, &v) in vars.iter().enumerate() {
            let c = pool.integer(k as i64 + 2).unwrap();
            terms.push(pool.mul(&[c, pool.func(Func::Sin, &[v]).unwrap()]).unwrap());
        }
        let e = pool.add(&terms).unwrap();
        let f = compile(&pool, e, &vars).unwrap();
        let want = common::reference(&pool, e, &vars);
        let pts = common::points(n, 5, n as u64);
        for p in &pts {
            assert!(
                common::close(f.eval_scalar(p), want.eval_scalar(p)),
                "n = {n}"
            );
        }
        let cols: Vec<Vec<f64>> = (0..n).map(|k| pts.iter().map(|p| p[k]).collect()).collect();
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let mut out = vec![0.0; pts.len()];
        f.eval_columns(&refs, &mut [&mut out]);
        for (p, o) in pts.iter().zip(&out) {
            assert!(common::close(*o, want.eval_scalar(p)), "n = {n} (columns)");
        }
    }
}

/// Found by the random programs: a power of a polynomial in a denominator
/// was expanded into one dense polynomial, whose Horner evaluation near a
/// root of the base cancels (2e-5 relative error here). Powers and
/// products of polynomials are now kept as written.
#[test]
fn powers_of_polynomials_are_not_expanded() {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let third = pool.rational(1, 3).unwrap();
    let base = pool.add(&[x, third]).unwrap();
    let e = pool
        .func(
            Func::Log,
            &[pool.pow(base, pool.integer(-6).unwrap()).unwrap()],
        )
        .unwrap();
    let want = common::reference(&pool, e, &[x]);
    let got = compile_with(&pool, e, &[x], EmitOptions::default()).unwrap();
    let at = [-0.33709694057651296];
    let (g, w) = (got.eval_scalar(&at), want.eval_scalar(&at));
    assert!((g - w).abs() <= 1e-13 * w.abs(), "mlir {g} interpreter {w}");
}

/// Found by the random engine test: `-inf*y/y` was recognized as a rational
/// function whose numerator `-inf * (0 + y)` got a NaN constant term (`0 *
/// -inf`), so it gave NaN where the written form gives -inf. Infinite
/// coefficients (and Horner forms of them, `inf*x**2 + 1`) stay as written.
#[test]
fn infinite_coefficients_are_not_recognized() {
    let pool = ExprPool::new();
    let y = pool.symbol("y").unwrap();
    let inf = pool.float(f64::NEG_INFINITY).unwrap();
    let ratio = pool.div(pool.mul(&[inf, y]).unwrap(), y).unwrap();
    let square = pool
        .add(&[
            pool.mul(&[inf, pool.pow(y, pool.integer(2).unwrap()).unwrap()])
                .unwrap(),
            pool.integer(1).unwrap(),
        ])
        .unwrap();
    for e in [ratio, square] {
        let want = common::reference(&pool, e, &[y]);
        let got = compile_with(&pool, e, &[y], EmitOptions::default()).unwrap();
        for at in [[-1.75], [2.0], [0.5]] {
            let (g, w) = (got.eval_scalar(&at), want.eval_scalar(&at));
            assert_eq!(g, w, "{} at {at:?}", alkahest_core::to_string(&pool, e));
        }
    }
}
