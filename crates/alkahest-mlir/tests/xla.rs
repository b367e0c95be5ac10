//! StableHLO through XLA: `to_stablehlo` text is parsed, verified, compiled
//! and executed by jax's CPU backend (`tests/xla_run.py`) and must match the
//! interpreter. Skips, saying why, when no Python with jax is found
//! (`$ALKAHEST_PYTHON`, then `<repo>/.venv/bin/python`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_kernel::Evaluator;
use alkahest_mlir::to_stablehlo;
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
    let strategy = common::program(2, 8);
    for _ in 0..40 {
        let steps = strategy.new_tree(&mut runner).unwrap().current();
        exprs.push(common::build(&pool, &vars, &steps));
    }

    let dir = std::env::temp_dir().join(format!("alkahest-mlir-xla-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
            let w = want.eval(p);
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
