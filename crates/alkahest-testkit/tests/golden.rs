//! The golden files (`golden/*.golden`, format in `alkahest_testkit::golden`):
//! each expression is parsed, printed, lowered and emitted by every emitter
//! built in (C always; MLIR arith and StableHLO with feature `mlir`; PTX
//! with feature `cuda` when libdevice is found), and the texts are compared
//! with the file's sections. Its points run through the kernel's reference,
//! the interpreter and every JIT built in (Cranelift, LLVM at -O0 and -O3,
//! the MLIR ExecutionEngine), scalar and column entries, and must give the
//! file's values bit for bit (NaN payloads aside), unless the file allows
//! an engine some ulps with a `tolerance:` line.
//!
//! `ALKAHEST_BLESS=1 cargo test -p alkahest-testkit --test golden
//! --features ...` rewrites the sections and values from what this build
//! produces (values from the interpreter); sections of emitters not built
//! in are kept as they are. Engines are still checked against the new
//! values while blessing.

use std::path::{Path, PathBuf};

use alkahest_core::{ExprId, ExprPool};
use alkahest_interp::Interpreter;
use alkahest_tape::{Evaluator, Tape, lower_many};
use alkahest_testkit::golden::{Golden, normalize, normalize_ptx};
use alkahest_testkit::parse::parse;
use alkahest_testkit::{same, ulps_apart};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// One file's expressions, built.
struct Built {
    pool: ExprPool,
    exprs: Vec<ExprId>,
    vars: Vec<ExprId>,
    names: Vec<String>,
    tape: Tape,
}

fn build(g: &Golden) -> Result<Built, String> {
    let pool = ExprPool::new();
    let vars = g
        .vars
        .iter()
        .map(|v| pool.symbol(v).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let exprs = g
        .exprs
        .iter()
        .map(|t| parse(&pool, t).map_err(|e| format!("parsing {t:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let tape = lower_many(&pool, &exprs, &vars).map_err(|e| format!("lowering: {e}"))?;
    Ok(Built {
        pool,
        exprs,
        vars,
        names: g.vars.clone(),
        tape,
    })
}

/// The emitted texts this build can produce: `(section, text)`, where an
/// emitter's error is the text `error: <message>`.
fn emitted(b: &Built, notes: &mut Vec<String>) -> Vec<(&'static str, String)> {
    fn text<E: std::fmt::Display>(r: Result<String, E>) -> String {
        r.unwrap_or_else(|e| format!("error: {e}"))
    }
    let printed: Vec<String> = b
        .exprs
        .iter()
        .map(|&e| alkahest_core::to_string(&b.pool, e))
        .collect();
    let names: Vec<&str> = b.names.iter().map(String::as_str).collect();
    #[cfg_attr(not(any(feature = "mlir", feature = "cuda")), allow(unused_mut))]
    let mut out = vec![
        ("printed", printed.join("\n")),
        ("c", text(alkahest_c::emit_function(&b.tape, &names, "f"))),
    ];
    #[cfg(feature = "mlir")]
    {
        use alkahest_mlir::{EmitOptions, Target, to_mlir_many, to_stablehlo_many};
        out.push((
            "mlir-arith",
            text(to_mlir_many(
                &b.pool,
                &b.exprs,
                &b.vars,
                "f",
                Target::Arith,
                EmitOptions::default(),
            )),
        ));
        out.push((
            "stablehlo",
            text(to_stablehlo_many(&b.pool, &b.exprs, &b.vars, "f")),
        ));
    }
    #[cfg(not(feature = "mlir"))]
    notes.push("mlir-arith, stablehlo: feature `mlir` off".into());
    #[cfg(feature = "cuda")]
    match alkahest_cuda::find_libdevice(&alkahest_testkit::tools::python_site_dirs()) {
        Ok(libdevice) => out.push((
            "ptx",
            text(
                alkahest_cuda::compile_ptx(&b.tape, alkahest_cuda::DEFAULT_ARCH, &libdevice)
                    .map(|p| normalize_ptx(&p)),
            ),
        )),
        Err(e) => notes.push(format!("ptx: {e}")),
    }
    #[cfg(not(feature = "cuda"))]
    notes.push("ptx: feature `cuda` off".into());
    let _ = normalize_ptx;
    out
}

/// The engines this build has, each with the name its `tolerance:` uses
/// for the scalar entry and for the column entry.
fn engines(b: &Built, fails: &mut Vec<String>) -> Vec<(String, String, Box<dyn Evaluator>)> {
    #[cfg_attr(
        not(any(feature = "cranelift", feature = "jit", feature = "mlir")),
        allow(unused_mut)
    )]
    let mut out: Vec<(String, String, Box<dyn Evaluator>)> = vec![(
        "interp".into(),
        "interp".into(),
        Box::new(Interpreter::new(&b.tape)),
    )];
    #[cfg(feature = "cranelift")]
    match alkahest_cranelift::compile(&b.tape) {
        Ok(f) => out.push(("cranelift".into(), "cranelift".into(), Box::new(f))),
        Err(e) => fails.push(format!("cranelift: {e}")),
    }
    #[cfg(feature = "jit")]
    for opt_level in [0, 3] {
        let opts = alkahest_llvm::LlvmOptions {
            opt_level,
            ..Default::default()
        };
        match alkahest_llvm::compile(&b.tape, &opts) {
            // The bulk entry may call glibc's vector routines (libmvec,
            // within 4 ulps of libm); a file allows that with
            // `tolerance: llvm-bulk N`.
            Ok(f) => out.push((
                format!("llvm -O{opt_level}"),
                "llvm-bulk".into(),
                Box::new(f),
            )),
            Err(e) => fails.push(format!("llvm -O{opt_level}: {e}")),
        }
    }
    #[cfg(feature = "mlir")]
    match alkahest_mlir::compile_many(&b.pool, &b.exprs, &b.vars, Default::default()) {
        Ok(f) => out.push(("mlir".into(), "mlir".into(), Box::new(f))),
        Err(e) => fails.push(format!("mlir: {e}")),
    }
    let _ = (&b.pool, fails);
    out
}

/// Compare `got` with the expected values of every point.
fn check_values(g: &Golden, what: &str, tolerance: u64, got: &[Vec<f64>], fails: &mut Vec<String>) {
    for ((inputs, want), got) in g.points.iter().zip(got) {
        for (k, (&w, &v)) in want.iter().zip(got).enumerate() {
            let ok = if tolerance == 0 {
                same(v, w)
            } else {
                ulps_apart(v, w) <= tolerance
            };
            if !ok {
                fails.push(format!(
                    "{what}: output {k} at {inputs:?} is {v:?}, expected {w:?} ({} ulps apart)",
                    ulps_apart(v, w)
                ));
            }
        }
    }
}

/// Check (or bless) one file; returns the failures and the blessed text.
fn run(path: &Path, bless: bool, notes: &mut Vec<String>) -> (Vec<String>, Option<String>) {
    let mut fails = Vec::new();
    let text = std::fs::read_to_string(path).unwrap();
    let mut g = match Golden::parse(&text) {
        Ok(g) => g,
        Err(e) => return (vec![format!("format: {e}")], None),
    };
    let b = match build(&g) {
        Ok(b) => b,
        Err(e) => return (vec![e], None),
    };
    let m = b.tape.n_outputs();

    for (name, actual) in emitted(&b, notes) {
        let actual = normalize(&actual);
        if bless {
            g.set_section(name, &actual);
        } else {
            match g.section(name) {
                None => fails.push(format!("no `=== {name}` section (bless to add it)")),
                Some(want) if want != actual => fails.push(format!(
                    "section {name} differs:\n--- expected\n{want}\n--- got\n{actual}\n---"
                )),
                Some(_) => {}
            }
        }
    }

    // Expected values: the file's, or the interpreter's when blessing.
    let rows: Vec<Vec<f64>> = g.points.iter().map(|p| p.0.clone()).collect();
    let interp = Interpreter::new(&b.tape);
    if bless {
        for p in g.points.iter_mut() {
            let mut out = vec![0.0; m];
            interp.eval(&p.0, &mut out);
            p.1 = out;
        }
    }
    for (inputs, want) in &g.points {
        if want.len() != m {
            fails.push(format!(
                "point {inputs:?} has {} values for {m} outputs (bless to fill them)",
                want.len()
            ));
            return (fails, None);
        }
    }
    let reference: Vec<Vec<f64>> = rows.iter().map(|x| b.tape.eval_point(x)).collect();
    check_values(
        &g,
        "reference (Tape::eval_point)",
        0,
        &reference,
        &mut fails,
    );

    let n = rows.len();
    let cols: Vec<Vec<f64>> = (0..b.vars.len())
        .map(|v| rows.iter().map(|r| r[v]).collect())
        .collect();
    let col_refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    for (name, bulk_name, f) in engines(&b, &mut fails) {
        let scalar: Vec<Vec<f64>> = rows
            .iter()
            .map(|x| {
                let mut out = vec![0.0; m];
                f.eval(x, &mut out);
                out
            })
            .collect();
        check_values(&g, &name, g.tolerance(&name), &scalar, &mut fails);
        let mut outs = vec![vec![0.0; n]; m];
        {
            let mut refs: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            f.eval_columns(&col_refs, &mut refs);
        }
        let bulk: Vec<Vec<f64>> = (0..n)
            .map(|i| outs.iter().map(|o| o[i]).collect())
            .collect();
        let tol = g.tolerance(&bulk_name).max(g.tolerance(&name));
        check_values(&g, &format!("{name} (columns)"), tol, &bulk, &mut fails);
    }
    let blessed = g.render();
    (fails, (bless && blessed != text).then_some(blessed))
}

#[test]
fn golden_files() {
    let bless = std::env::var("ALKAHEST_BLESS").is_ok_and(|v| v == "1");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "golden"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 12,
        "golden files missing from {:?}",
        golden_dir()
    );
    let mut report = Vec::new();
    let mut notes = Vec::new();
    for path in &paths {
        let (fails, blessed) = run(path, bless, &mut notes);
        if let Some(text) = blessed {
            std::fs::write(path, text).unwrap();
            eprintln!("blessed {}", path.display());
        }
        let name = path.file_name().unwrap().to_string_lossy();
        report.extend(fails.into_iter().map(|f| format!("{name}: {f}")));
    }
    notes.sort();
    notes.dedup();
    for n in notes {
        eprintln!("golden: not checked: {n}");
    }
    assert!(
        report.is_empty(),
        "{} golden mismatches (ALKAHEST_BLESS=1 rewrites the files; review the diff):\n{}",
        report.len(),
        report.join("\n")
    );
}
