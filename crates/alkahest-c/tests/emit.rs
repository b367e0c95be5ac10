//! Emitted C compiles with the system compiler and agrees with the interpreter.

use std::process::Command;

use alkahest_c::{Error, emit_function};
use alkahest_core::{ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_kernel::{Evaluator, lower};

#[test]
fn spec_shape_one_line() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let e = p
        .add(&[
            p.pow(x, p.integer(2).unwrap()).unwrap(),
            p.func(Func::Sin, &[y]).unwrap(),
        ])
        .unwrap();
    let c = emit_function(&lower(&p, e, &[x, y]).unwrap(), &["x", "y"], "f").unwrap();
    assert_eq!(
        c,
        "double f(double x, double y) { return (x * x) + sin(y); }"
    );
}

#[test]
fn rejects_bad_names() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let t = lower(&p, x, &[x]).unwrap();
    for bad in ["1f", "double", "a-b", "", "sin", "__x"] {
        assert!(
            matches!(
                emit_function(&t, &["x"], bad),
                Err(Error::InvalidName { .. })
            ),
            "{bad}"
        );
        assert!(
            matches!(
                emit_function(&t, &[bad], "f"),
                Err(Error::InvalidName { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn compiles_and_matches_interpreter() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let t0 = p.symbol("t0").unwrap();
    // Shared subexpression s = sin(x)*t0 used three times; min/max; powers.
    let s = p.mul(&[p.func(Func::Sin, &[x]).unwrap(), t0]).unwrap();
    let m = p
        .func(Func::Min, &[s, p.func(Func::Cos, &[t0]).unwrap()])
        .unwrap();
    let q = p.pow(s, p.integer(-3).unwrap()).unwrap();
    let e = p
        .add(&[s, m, q, p.func(Func::Hypot, &[x, t0]).unwrap()])
        .unwrap();
    let tape = lower(&p, e, &[x, t0]).unwrap();
    let src = emit_function(&tape, &["x", "t0"], "g").unwrap();
    assert!(src.contains("const double"), "{src}");
    let dir = std::env::temp_dir().join(format!("alkahest-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prog = format!(
        "#include <math.h>\n#include <stdio.h>\n{src}\nint main(void) {{ double xs[] = {{0.3, -1.7, 2.5}}; double ts[] = {{1.1, 0.4, -3.0}}; for (int i = 0; i < 3; i++) printf(\"%.17g\\n\", g(xs[i], ts[i])); return 0; }}\n"
    );
    std::fs::write(dir.join("t.c"), prog).unwrap();
    let st = Command::new("cc")
        .args([
            "-std=c99",
            "-O1",
            "-ffp-contract=off",
            "-Wall",
            "-Werror",
            "-o",
        ])
        .arg(dir.join("t"))
        .arg(dir.join("t.c"))
        .arg("-lm")
        .status()
        .expect("a C compiler (cc) is needed for this test");
    assert!(st.success());
    let out = Command::new(dir.join("t")).output().unwrap();
    let got: Vec<f64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let it = Interpreter::new(&tape);
    for (i, (xv, tv)) in [(0.3, 1.1), (-1.7, 0.4), (2.5, -3.0)]
        .into_iter()
        .enumerate()
    {
        assert_eq!(got[i], it.eval(&[xv, tv]), "point {i}");
    }
}

#[test]
fn deep_chain_emits_temporaries() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let mut e = x;
    for _ in 0..100_000 {
        e = p.func(Func::Sin, &[e]).unwrap();
    }
    let src = emit_function(&lower(&p, e, &[x]).unwrap(), &["x"], "f").unwrap();
    assert!(src.lines().count() > 10_000);
}
