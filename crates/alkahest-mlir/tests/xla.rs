//! StableHLO through XLA: `to_stablehlo` text is parsed, verified, compiled
//! and executed by jax's CPU backend (`tests/xla_run.py`) and must match the
//! interpreter. Skips, saying why, when no Python with jax is found
//! (`$ALKAHEST_PYTHON`, then `<repo>/.venv/bin/python`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_mlir::to_stablehlo;
use alkahest_tape::Evaluator;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRng, TestRunner};

fn python() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = std::env::var_os("ALKAHEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([repo.join(".venv/bin/python")]);
    for p in candidates {
        let ok = Command::new(&p)
            .args(["-c", "import jax, jaxlib"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(p);
        }
    }
    None
}

struct Case {
    pool_expr: ExprId,
    vars: Vec<ExprId>,
    points: Vec<Vec<f64>>,
}

#[test]
fn stablehlo_runs_in_xla() {
    let Some(py) = python() else {
        println!(
            "skipped: no Python with jax (set ALKAHEST_PYTHON or create <repo>/.venv with jax)"
        );
        return;
    };
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let vars = vec![x, y];
    let i = |n: i64| pool.integer(n).unwrap();
    let mut exprs: Vec<ExprId> = Vec::new();
    // the spec's example: x**2 + sin(y)
    let spec = pool
        .add(&[
            pool.pow(x, i(2)).unwrap(),
            pool.func(Func::Sin, &[y]).unwrap(),
        ])
        .unwrap();
    exprs.push(spec);
    // every function, in a domain where it is defined
    let half = pool
        .mul(&[
            pool.rational(1, 3).unwrap(),
            pool.func(Func::Sin, &[x]).unwrap(),
        ])
        .unwrap();
    for f in common::UNARY {
        exprs.push(pool.func(f, &[half]).unwrap());
    }
    for f in common::BINARY {
        exprs.push(pool.func(f, &[x, y]).unwrap());
    }
    exprs.push(pool.func(Func::Fma, &[x, y, half]).unwrap());
    exprs.push(pool.pow(pool.func(Func::Exp, &[x]).unwrap(), y).unwrap()); // powf
    exprs.push(pool.pow(x, i(-3)).unwrap()); // reciprocal power
    exprs.push(
        pool.pow(
            pool.func(Func::Exp, &[x]).unwrap(),
            pool.rational(-1, 2).unwrap(),
        )
        .unwrap(),
    );
    exprs.push(
        pool.div(
            pool.add(&[x, i(1)]).unwrap(),
            pool.add(&[pool.pow(x, i(2)).unwrap(), i(2)]).unwrap(),
        )
        .unwrap(),
    ); // rational_fn
    let xy2 = pool.mul(&[y, pool.pow(x, i(2)).unwrap()]).unwrap();
    exprs.push(
        pool.add(&[xy2, pool.mul(&[i(3), y, x]).unwrap(), i(1)])
            .unwrap(),
    ); // poly_eval
    let cubic = [
        pool.pow(x, i(3)).unwrap(),
        pool.mul(&[i(-2), x]).unwrap(),
        i(5),
    ];
    exprs.push(pool.add(&cubic).unwrap()); // horner
    // the dialect ops those last lines go through before lowering
    let alk: String = exprs
        .iter()
        .map(|&e| {
            alkahest_mlir::to_mlir(&pool, e, &vars, "f", alkahest_mlir::Target::Alkahest).unwrap()
        })
        .collect();
    for op in [
        "horner",
        "poly_eval",
        "rational_fn",
        "pow",
        "mul",
        "add",
        "const",
        "sym",
    ] {
        assert!(
            alk.contains(&format!("\"alkahest.{op}\"")),
            "no alkahest.{op} among the XLA cases"
        );
    }
    // random programs
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = common::program(8);
    for _ in 0..40 {
        let steps = strategy.new_tree(&mut runner).unwrap().current();
        exprs.push(steps.build(&pool, &vars));
    }

    // Removed when `tmp` drops at the end of the test.
    let tmp = tempfile::Builder::new()
        .prefix("alkahest-mlir-xla-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let mut listing = String::new();
    let mut cases = Vec::new();
    for (k, &e) in exprs.iter().enumerate() {
        let text = to_stablehlo(&pool, e, &vars, "my_fn").unwrap();
        assert!(text.contains("func.func @main(") && text.contains("func.func private @my_fn("));
        let path = dir.join(format!("m{k}.mlir"));
        std::fs::write(&path, &text).unwrap();
        let mut points = common::points(2, 6, k as u64 + 1);
        if k == 0 {
            points.insert(0, vec![3.0, 0.0]);
        }
        let pts: Vec<String> = points
            .iter()
            .map(|p| format!("{:?},{:?}", p[0], p[1]))
            .collect();
        listing.push_str(&format!("{}\t{}\n", path.display(), pts.join(";")));
        cases.push(Case {
            pool_expr: e,
            vars: vars.clone(),
            points,
        });
    }
    let listing_path = dir.join("cases.tsv");
    std::fs::write(&listing_path, listing).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xla_run.py");
    let out = Command::new(&py)
        .arg(&script)
        .arg(&listing_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xla_run.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), cases.len());
    // the spec's example gives 9.0 at (3, 0)
    assert_eq!(
        lines[0].split(' ').next().unwrap().parse::<f64>().unwrap(),
        9.0
    );
    let mut compared = 0;
    for (case, line) in cases.iter().zip(&lines) {
        let want = common::reference(&pool, case.pool_expr, &case.vars);
        let got: Vec<f64> = line.split(' ').map(|v| v.parse().unwrap()).collect();
        assert_eq!(got.len(), case.points.len());
        for (p, &g) in case.points.iter().zip(&got) {
            if !common::stable(&want, p) {
                continue;
            }
            let w = want.eval_scalar(p);
            assert!(
                common::close(g, w),
                "{} at {p:?}: xla {g} interpreter {w}",
                alkahest_core::to_string(&pool, case.pool_expr)
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} comparisons");
}

/// Run StableHLO modules in XLA: `cases` holds each module's text and its
/// points; returns, per case, per point, the outputs.
fn run_in_xla(py: &Path, tag: &str, cases: &[(String, Vec<Vec<f64>>)]) -> Vec<Vec<Vec<f64>>> {
    // Removed when `tmp` drops on return.
    let tmp = tempfile::Builder::new()
        .prefix(&format!("alkahest-mlir-{tag}-"))
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let mut listing = String::new();
    for (k, (text, points)) in cases.iter().enumerate() {
        let path = dir.join(format!("m{k}.mlir"));
        std::fs::write(&path, text).unwrap();
        let pts: Vec<String> = points
            .iter()
            .map(|p| {
                p.iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        listing.push_str(&format!("{}\t{}\n", path.display(), pts.join(";")));
    }
    let listing_path = dir.join("cases.tsv");
    std::fs::write(&listing_path, listing).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xla_run.py");
    let out = Command::new(py)
        .arg(&script)
        .arg(&listing_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xla_run.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Vec<Vec<f64>>> = stdout
        .lines()
        .map(|line| {
            line.split(' ')
                .map(|p| p.split(',').map(|v| v.parse().unwrap()).collect())
                .collect()
        })
        .collect();
    assert_eq!(lines.len(), cases.len());
    lines
}

/// Comparisons (with NaN), selections, the newer functions StableHLO can
/// express, and a function with several outputs, through XLA against the
/// kernel's reference.
#[test]
fn new_ops_and_multiple_outputs_run_in_xla() {
    let Some(py) = python() else {
        println!("skipped: no Python with jax");
        return;
    };
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let vars = [x, y];
    let (one, zero) = (pool.integer(1).unwrap(), pool.integer(0).unwrap());
    // (outputs, whether every op is exact so XLA must agree bit for bit)
    let mut outputs: Vec<(Vec<ExprId>, bool)> = Vec::new();
    // comparisons as numbers, and where(c, x, y)
    for k in common::CMP {
        let c = pool.func(k, &[x, y]).unwrap();
        outputs.push((
            vec![
                pool.select(c, one, zero).unwrap(),
                pool.select(c, x, y).unwrap(),
            ],
            true,
        ));
    }
    let lt = pool.func(Func::Lt, &[x, y]).unwrap();
    let pos = pool.func(Func::Gt, &[x, zero]).unwrap();
    outputs.push((
        vec![
            pool.select(pool.func(Func::And, &[lt, pos]).unwrap(), x, y)
                .unwrap(),
            pool.select(pool.func(Func::Or, &[lt, pos]).unwrap(), x, y)
                .unwrap(),
            pool.select(pool.func(Func::Not, &[lt]).unwrap(), x, y)
                .unwrap(),
        ],
        true,
    ));
    for (f, exact) in [
        (Func::Floor, true),
        (Func::Ceil, true),
        (Func::Sign, true),
        (Func::Cbrt, false),
        (Func::Exp2, false),
        (Func::Log2, false),
        (Func::Log10, false),
    ] {
        outputs.push((vec![pool.func(f, &[x]).unwrap()], exact));
    }
    for f in [Func::Copysign, Func::Fmod, Func::Mod] {
        outputs.push((vec![pool.func(f, &[x, y]).unwrap()], true));
    }
    // three outputs sharing sin(x)
    let s = pool.func(Func::Sin, &[x]).unwrap();
    let fy = pool.func(Func::Floor, &[y]).unwrap();
    outputs.push((
        vec![
            pool.add(&[s, y]).unwrap(),
            pool.mul(&[s, y]).unwrap(),
            pool.select(pool.func(Func::Ge, &[s, y]).unwrap(), s, fy)
                .unwrap(),
        ],
        false,
    ));
    let mut points = common::points(2, 12, 99);
    points.extend(
        [
            [f64::NAN, 1.0],
            [1.0, f64::NAN],
            [f64::NAN, f64::NAN],
            [-0.0, 0.0],
            [0.0, -0.0],
            [2.0, 2.0],
            [-7.0, 3.0],
            [7.0, -3.0],
            [8.0, 1.0],
            [0.125, -2.5],
            [-1.5, f64::INFINITY],
        ]
        .map(|p| p.to_vec()),
    );
    let cases: Vec<(String, Vec<Vec<f64>>)> = outputs
        .iter()
        .map(|(o, _)| {
            let text = alkahest_mlir::to_stablehlo_many(&pool, o, &vars, "f").unwrap();
            (text, points.clone())
        })
        .collect();
    let got = run_in_xla(&py, "xla-new", &cases);
    let mut compared = 0;
    for ((o, exact), g) in outputs.iter().zip(&got) {
        let tape = alkahest_tape::lower_many(&pool, o, &vars).unwrap();
        for (p, g) in points.iter().zip(g) {
            let want = tape.eval_point(p);
            assert_eq!(g.len(), want.len());
            for (k, (&g, &w)) in g.iter().zip(&want).enumerate() {
                let text: Vec<String> = o
                    .iter()
                    .map(|&e| alkahest_core::to_string(&pool, e))
                    .collect();
                // Exact ops (comparisons, selections, floor, copysign, fmod)
                // agree bit for bit; cbrt, exp2, log2, log10 and sin are
                // XLA's own, within the shared tolerance.
                let ok = if *exact {
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan())
                } else {
                    common::close(g, w)
                };
                assert!(
                    ok,
                    "{text:?} output {k} at {p:?}: xla {g:?} reference {w:?}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 500, "only {compared} comparisons");
}
