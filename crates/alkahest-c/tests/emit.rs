//! Emitted C compiles with the system compiler and agrees with the kernel's
//! reference (`Tape::eval_point`) and the interpreter; the text has the
//! documented shapes.
//!
//! Tests that compile C skip (with a note on stderr) when no `cc` is found.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use alkahest_c::{Error, emit_function, emit_function_out};
use alkahest_core::{ExprPool, Func};
use alkahest_interp::Interpreter;
use alkahest_tape::{BinaryFn, CmpOp, Evaluator, Op, Reg, Tape, UnaryFn, lower, lower_many};

// ---------------------------------------------------------------------------
// Compiling and running emitted C.

/// A C function to test: its source, name, and tape.
struct CFn<'a> {
    src: String,
    name: String,
    tape: &'a Tape,
    /// Whether it was emitted in the `void f(..., double *out)` form.
    out_form: bool,
}

impl<'a> CFn<'a> {
    /// `emit_function(tape, names, name)`.
    fn new(tape: &'a Tape, names: &[&str], name: &str) -> Self {
        CFn {
            src: emit_function(tape, names, name).unwrap(),
            name: name.into(),
            tape,
            out_form: tape.n_outputs() > 1,
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Compile the functions into one program with `cc -std=c99 <opt>
/// -ffp-contract=off -Wall -Werror ... -lm`, run each on every point of
/// `points` (rows of inputs, as many as the function has), and return the
/// outputs per function, per point, per output. `None` when there is no
/// C compiler.
fn run_c(fns: &[CFn<'_>], points: &[Vec<f64>], opt: &str) -> Option<Vec<Vec<Vec<f64>>>> {
    let mut prog = String::from(
        "#include <math.h>\n#include <stdio.h>\n#include <string.h>\n#include <stdint.h>\n\n",
    );
    for f in fns {
        prog.push_str(&f.src);
        prog.push_str("\n\n");
    }
    // Points as exact bit patterns, read and printed through memcpy.
    let width = points.iter().map(Vec::len).max().unwrap_or(0).max(1);
    prog.push_str(&format!(
        "static const uint64_t POINTS[{}][{width}] = {{\n",
        points.len().max(1)
    ));
    for p in points {
        let row: Vec<String> = (0..width)
            .map(|v| format!("0x{:016x}u", p.get(v).copied().unwrap_or(0.0).to_bits()))
            .collect();
        prog.push_str(&format!("    {{{}}},\n", row.join(", ")));
    }
    if points.is_empty() {
        prog.push_str("    {0},\n");
    }
    prog.push_str("};\n\nstatic void put(double v) { uint64_t b; memcpy(&b, &v, 8); printf(\"%016llx\\n\", (unsigned long long)b); }\n\n");
    prog.push_str("int main(void) {\n");
    prog.push_str(&format!(
        "    for (int p = 0; p < {}; p++) {{\n        double a[{width}];\n        memcpy(a, POINTS[p], sizeof a);\n        (void)a;\n",
        points.len()
    ));
    for f in fns {
        let args: Vec<String> = (0..f.tape.n_inputs()).map(|v| format!("a[{v}]")).collect();
        let m = f.tape.n_outputs();
        if f.out_form {
            let mut call_args = args.clone();
            call_args.push("out".into());
            prog.push_str(&format!(
                "        {{ double out[{m}]; {}({}); for (int k = 0; k < {m}; k++) put(out[k]); }}\n",
                f.name,
                call_args.join(", ")
            ));
        } else {
            prog.push_str(&format!("        put({}({}));\n", f.name, args.join(", ")));
        }
    }
    prog.push_str("    }\n    return 0;\n}\n");

    let dir = std::env::temp_dir().join(format!(
        "alkahest-c-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("t.c"), &prog).unwrap();
    let status = Command::new("cc")
        .args([
            "-std=c99",
            opt,
            "-ffp-contract=off",
            "-Wall",
            "-Werror",
            "-o",
        ])
        .arg(dir.join("t"))
        .arg(dir.join("t.c"))
        .arg("-lm")
        .status();
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipping: no C compiler (cc): {e}");
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
    };
    assert!(status.success(), "cc failed on:\n{prog}");
    let out = Command::new(dir.join("t")).output().unwrap();
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    let mut vals = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| f64::from_bits(u64::from_str_radix(l, 16).unwrap()))
        .collect::<Vec<_>>()
        .into_iter();
    let mut res: Vec<Vec<Vec<f64>>> = vec![Vec::new(); fns.len()];
    for _ in points {
        for (j, f) in fns.iter().enumerate() {
            res[j].push(vals.by_ref().take(f.tape.n_outputs()).collect());
        }
    }
    assert!(vals.next().is_none());
    Some(res)
}

/// Equal bits, or both NaN (NaN payloads of arithmetic are not semantics).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// How closely C must match the reference.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Agree {
    /// Identical bits, NaN payloads included.
    Bits,
    /// Identical bits, or both NaN.
    Same,
    /// Equal as numbers (-0 == +0), or both NaN: `fmin`/`fmax` may pick
    /// either zero (documented exception).
    Value,
    /// Within one unit in the last place: `cbrt`. Rust binaries link
    /// compiler-builtins' `cbrt`, so the reference's `cbrt` is not glibc's,
    /// while compiled C calls the system libm's.
    Ulp1,
}

impl Agree {
    fn check(self, c: f64, want: f64) -> bool {
        match self {
            Agree::Bits => c.to_bits() == want.to_bits(),
            Agree::Same => same(c, want),
            Agree::Value => c == want || (c.is_nan() && want.is_nan()),
            Agree::Ulp1 => {
                same(c, want)
                    || (c.is_finite()
                        && want.is_finite()
                        && c.signum() == want.signum()
                        && c.to_bits().abs_diff(want.to_bits()) <= 1)
            }
        }
    }
}

/// Run the functions in C and compare every output with `Tape::eval_point`
/// (and the interpreter with the reference, bit for bit, NaNs aside) as
/// `agree(function, output)` says.
fn check_c(fns: &[CFn<'_>], points: &[Vec<f64>], opt: &str, agree: impl Fn(usize, usize) -> Agree) {
    let Some(got) = run_c(fns, points, opt) else {
        return;
    };
    for (j, f) in fns.iter().enumerate() {
        let interp = Interpreter::new(f.tape);
        let mut iv = vec![0.0; f.tape.n_outputs()];
        for (i, p) in points.iter().enumerate() {
            let p = &p[..f.tape.n_inputs()];
            let want = f.tape.eval_point(p);
            interp.eval(p, &mut iv);
            for k in 0..want.len() {
                let c = got[j][i][k];
                let ok = agree(j, k).check(c, want[k]) && same(iv[k], want[k]);
                assert!(
                    ok,
                    "{}: output {k} ({:?}) at {p:?}: C {c:e} ({:#x}), reference {:e} ({:#x}), interp {:e}\n{}",
                    f.name,
                    f.tape.ops()[f.tape.outputs()[k] as usize],
                    c.to_bits(),
                    want[k],
                    want[k].to_bits(),
                    iv[k],
                    f.src
                );
            }
        }
    }
}

/// Inputs for the functions: signed zeros, infinities, NaNs, huge and tiny
/// values, negative integers and half-integers, and ordinary values.
const POINTS: [f64; 32] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    -f64::NAN,
    f64::MAX,
    1e300,
    -1e300,
    710.0,
    171.6,
    5e-324,
    1e-310,
    1e-17,
    1.0,
    -1.0,
    2.0,
    -2.0,
    -3.0,
    -171.0,
    -0.5,
    0.5,
    -2.5,
    0.9999999999999999,
    6.0,
    -6.0,
    27.0,
    0.3,
    -1.7,
    123.456,
    -1e15,
    4503599627370497.5,
];

fn pairs() -> Vec<Vec<f64>> {
    let mut v = Vec::new();
    for a in POINTS {
        for b in POINTS {
            v.push(vec![a, b]);
        }
    }
    v
}

// ---------------------------------------------------------------------------
// Text shapes.

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
    for bad in [
        "1f", "double", "a-b", "", "sin", "__x", "tgamma", "copysign", "floor",
    ] {
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
        assert!(
            matches!(
                emit_function_out(&t, &["x"], "f", bad),
                Err(Error::InvalidName { .. })
            ),
            "{bad}"
        );
    }
    // The output pointer must differ from the parameters and the function.
    for clash in ["x", "f"] {
        assert!(matches!(
            emit_function_out(&t, &["x"], "f", clash),
            Err(Error::InvalidName {
                what: "output pointer name",
                ..
            })
        ));
    }
    assert!(matches!(
        emit_function(&t, &["x", "y"], "f"),
        Err(Error::Arity {
            expected: 1,
            got: 2
        })
    ));
}

#[test]
fn multi_output_shape() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let xy = p.mul(&[x, y]).unwrap();
    let e1 = p.add(&[xy, p.integer(1).unwrap()]).unwrap();
    let e2 = p.func(Func::Sin, &[xy]).unwrap();
    let c = emit_function(
        &lower_many(&p, &[e1, e2], &[x, y]).unwrap(),
        &["x", "y"],
        "f",
    )
    .unwrap();
    assert_eq!(
        c,
        "void f(double x, double y, double *out) {\n    const double t0 = x * y;\n    out[0] = 1.0 + t0;\n    out[1] = sin(t0);\n}"
    );
    // The same output twice, an input and a constant as outputs.
    let m = p.float(-2.5).unwrap();
    let c = emit_function(
        &lower_many(&p, &[e2, x, e2, m], &[x, y]).unwrap(),
        &["x", "y"],
        "g",
    )
    .unwrap();
    assert_eq!(
        c,
        "void g(double x, double y, double *out) {\n    const double t0 = sin((x * y));\n    out[0] = t0;\n    out[1] = x;\n    out[2] = t0;\n    out[3] = -2.5;\n}"
    );
    // One output in the out-pointer form; no inputs.
    let t = lower(&p, e2, &[x, y]).unwrap();
    assert_eq!(
        emit_function_out(&t, &["x", "y"], "h", "res").unwrap(),
        "void h(double x, double y, double *res) {\n    res[0] = sin((x * y));\n}"
    );
    let t = lower_many(&p, &[m, m], &[]).unwrap();
    assert_eq!(
        emit_function(&t, &[], "k").unwrap(),
        "void k(double *out) {\n    out[0] = -2.5;\n    out[1] = -2.5;\n}"
    );
}

/// A parameter named `out` pushes the pointer to `out_`, and a parameter
/// starting with `t` pushes the temporaries' prefix.
#[test]
fn multi_output_names_do_not_clash() {
    let p = ExprPool::new();
    let o = p.symbol("out").unwrap();
    let t = p.symbol("t").unwrap();
    let s = p.mul(&[o, t]).unwrap();
    let e1 = p.func(Func::Exp, &[s]).unwrap();
    let e2 = p.func(Func::Log, &[s]).unwrap();
    let c = emit_function(
        &lower_many(&p, &[e1, e2], &[o, t]).unwrap(),
        &["out", "t"],
        "f",
    )
    .unwrap();
    assert_eq!(
        c,
        "void f(double out, double t, double *out_) {\n    const double t_0 = out * t;\n    out_[0] = exp(t_0);\n    out_[1] = log(t_0);\n}"
    );
}

#[test]
fn comparison_and_select_shapes() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let lt = p.func(Func::Lt, &[x, y]).unwrap();
    let e = p.select(lt, x, y).unwrap();
    let c = emit_function(&lower(&p, e, &[x, y]).unwrap(), &["x", "y"], "f").unwrap();
    assert_eq!(c, "double f(double x, double y) { return x < y ? x : y; }");
    // Hand-built: a comparison as a value, and a select on any value.
    let t = Tape::new(
        2,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Cmp(CmpOp::Ne, 0, 1),
            Op::Select(0, 2, 1),
        ],
        vec![3],
    )
    .unwrap();
    assert_eq!(
        emit_function(&t, &["x", "y"], "g").unwrap(),
        "double g(double x, double y) { return x != 0.0 ? (x != y ? 1.0 : 0.0) : y; }"
    );
    // New functions use the kernel's C names.
    let t = Tape::new(
        2,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Unary(UnaryFn::Gamma, 0),
            Op::Unary(UnaryFn::Lgamma, 1),
            Op::Binary(BinaryFn::Copysign, 2, 3),
            Op::Binary(BinaryFn::Fmod, 4, 0),
        ],
        vec![5],
    )
    .unwrap();
    assert_eq!(
        emit_function(&t, &["x", "y"], "h").unwrap(),
        "double h(double x, double y) { return fmod(copysign(tgamma(x), lgamma(y)), x); }"
    );
}

/// Ops no output reads are not emitted (they would be unused variables).
#[test]
fn dead_ops_are_not_emitted() {
    let t = Tape::new(
        1,
        vec![
            Op::Input(0),
            Op::Unary(UnaryFn::Exp, 0),
            Op::Mul(1, 1),
            Op::Unary(UnaryFn::Sin, 0),
        ],
        vec![3],
    )
    .unwrap();
    assert_eq!(
        emit_function(&t, &["x"], "f").unwrap(),
        "double f(double x) { return sin(x); }"
    );
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

// ---------------------------------------------------------------------------
// Compiled C against the reference.

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
    let f = CFn::new(&tape, &["x", "t0"], "g");
    assert!(f.src.contains("const double"), "{}", f.src);
    let points = [vec![0.3, 1.1], vec![-1.7, 0.4], vec![2.5, -3.0]];
    check_c(&[f], &points, "-O1", |_, _| Agree::Same);
}

/// Every unary and binary function, every comparison and selections, at
/// all pairs of special inputs: C agrees with the reference bit for bit
/// (the same libm), except min/max's ±0 choice (documented) and `cbrt`
/// (see [`Agree::Ulp1`]).
#[test]
fn every_function_and_op_compiled() {
    let mut ops = vec![Op::Input(0), Op::Input(1)];
    ops.extend(UnaryFn::ALL.map(|f| Op::Unary(f, 0)));
    ops.extend(BinaryFn::ALL.map(|f| Op::Binary(f, 0, 1)));
    ops.extend(CmpOp::ALL.map(|k| Op::Cmp(k, 0, 1)));
    let n = ops.len() as Reg;
    ops.extend([
        Op::Select(0, 1, 0),     // any value as the condition
        Op::Select(n - 6, 0, 1), // x < y ? x : y
        Op::Select(n - 1, 1, 0), // x != y ? y : x
    ]);
    let many = Tape::new(2, ops.clone(), (2..ops.len() as Reg).collect()).unwrap();
    // Output k of `many` is register k + 2.
    let agree_reg = |r: usize| match ops[r] {
        Op::Binary(BinaryFn::Min | BinaryFn::Max, ..) => Agree::Value,
        Op::Unary(UnaryFn::Cbrt, _) => Agree::Ulp1,
        _ => Agree::Bits,
    };
    // Also each op alone, in the one-output form (two per function, so the
    // harness has several functions to call).
    let singles: Vec<Tape> = (2..ops.len())
        .map(|r| Tape::new(2, ops[..=r].to_vec(), vec![r as Reg]).unwrap())
        .collect();
    let names: Vec<String> = (0..singles.len()).map(|i| format!("s{i}")).collect();
    let mut fns = vec![CFn::new(&many, &["x", "y"], "many")];
    for (t, name) in singles.iter().zip(&names) {
        fns.push(CFn::new(t, &["x", "y"], name));
    }
    assert!(
        fns[0]
            .src
            .starts_with("void many(double x, double y, double *out) {")
    );
    assert!(fns[1].src.starts_with("double s0(double x, double y) {"));
    check_c(&fns, &pairs(), "-O0", |j, k| {
        if j == 0 {
            agree_reg(k + 2)
        } else {
            agree_reg(j + 1)
        }
    });
}

/// Multi-output tapes from the core: shared subexpressions, conditions,
/// sign/Mod, the same expression twice, an input as an output, compared
/// with each expression emitted alone.
#[test]
fn multi_output_compiled() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let s = p.mul(&[p.func(Func::Sin, &[x]).unwrap(), y]).unwrap();
    let lt = p.func(Func::Lt, &[x, y]).unwrap();
    let ge = p.func(Func::Ge, &[s, p.integer(0).unwrap()]).unwrap();
    let and = p.func(Func::And, &[lt, ge]).unwrap();
    let or = p
        .func(Func::Or, &[lt, p.func(Func::Not, &[ge]).unwrap()])
        .unwrap();
    let exprs = [
        s,
        p.add(&[s, p.integer(1).unwrap()]).unwrap(),
        p.func(Func::Erf, &[s]).unwrap(),
        p.select(and, s, y).unwrap(),
        p.select(or, p.func(Func::Erfc, &[s]).unwrap(), x).unwrap(),
        p.func(Func::Sign, &[s]).unwrap(),
        p.func(Func::Mod, &[x, y]).unwrap(),
        p.piecewise(&[(x, lt), (s, ge)], None).unwrap(),
        s,
        x,
    ];
    let tape = lower_many(&p, &exprs, &[x, y]).unwrap();
    let singles: Vec<Tape> = exprs
        .iter()
        .map(|&e| lower(&p, e, &[x, y]).unwrap())
        .collect();
    let mut fns = vec![CFn::new(&tape, &["x", "y"], "many")];
    let src = &fns[0].src;
    assert_eq!(src.matches("sin(").count(), 1, "{src}");
    let names: Vec<String> = (0..singles.len()).map(|i| format!("one{i}")).collect();
    for (t, name) in singles.iter().zip(&names) {
        fns.push(CFn::new(t, &["x", "y"], name));
    }
    // And the one-output tapes in the out-pointer form.
    let out_names: Vec<String> = (0..singles.len()).map(|i| format!("ptr{i}")).collect();
    for (t, name) in singles.iter().zip(&out_names) {
        fns.push(CFn {
            src: emit_function_out(t, &["x", "y"], name, "r").unwrap(),
            name: name.clone(),
            tape: t,
            out_form: true,
        });
    }
    let Some(got) = run_c(&fns, &pairs(), "-O0") else {
        return;
    };
    for (i, point) in pairs().iter().enumerate() {
        let want = tape.eval_point(point);
        for k in 0..exprs.len() {
            let (m, one, ptr) = (got[0][i][k], got[1 + k][i][0], got[11 + k][i][0]);
            assert!(
                same(m, want[k]),
                "output {k} at {point:?}: {m} vs {}",
                want[k]
            );
            assert!(m.to_bits() == one.to_bits() && one.to_bits() == ptr.to_bits());
        }
    }
}

/// Random hand-built tapes (every op but min/max, whose ±0 choice C leaves
/// open, and `cbrt`, whose last bit may differ: see [`Agree::Ulp1`]),
/// several outputs each, all in one C program.
#[test]
fn random_tapes_compiled() {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move |n: usize| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % n as u64) as usize
    };
    let consts = [
        0.0,
        -0.0,
        1.0,
        -3.0,
        0.5,
        f64::NAN,
        f64::INFINITY,
        1e308,
        5e-324,
    ];
    let unary: Vec<UnaryFn> = UnaryFn::ALL
        .into_iter()
        .filter(|&f| f != UnaryFn::Cbrt)
        .collect();
    let binary: Vec<BinaryFn> = BinaryFn::ALL
        .into_iter()
        .filter(|f| !matches!(f, BinaryFn::Min | BinaryFn::Max))
        .collect();
    let mut tapes = Vec::new();
    for t in 0..60 {
        let n_in = t % 4;
        let mut ops: Vec<Op> = (0..n_in as u32).map(Op::Input).collect();
        for _ in 0..(5 + rnd(30)) {
            let n = ops.len();
            // Operands biased towards recent registers.
            let mut r = || -> Reg { (n.max(1) - 1 - rnd(n.max(1)).min(rnd(n.max(1)))) as Reg };
            let (a, b, c) = (r(), r(), r());
            let op = if n == 0 || rnd(8) == 0 {
                Op::Const(consts[rnd(consts.len())])
            } else {
                match rnd(9) {
                    0 => Op::Neg(a),
                    1 => [Op::Add(a, b), Op::Sub(a, b), Op::Mul(a, b), Op::Div(a, b)][rnd(4)],
                    2 | 3 => Op::Unary(unary[rnd(unary.len())], a),
                    4 => Op::Binary(binary[rnd(binary.len())], a, b),
                    5 => Op::Fma(a, b, c),
                    6 => Op::Cmp(CmpOp::ALL[rnd(6)], a, b),
                    _ => Op::Select(c, a, b),
                }
            };
            ops.push(op);
        }
        let n = ops.len();
        let outputs = (0..1 + rnd(4))
            .map(|_| (n - 1 - rnd(n).min(rnd(n))) as Reg)
            .collect();
        tapes.push(Tape::new(n_in, ops, outputs).unwrap());
    }
    let names: Vec<String> = (0..tapes.len()).map(|i| format!("r{i}")).collect();
    let params = ["x", "y", "z"];
    let fns: Vec<CFn<'_>> = tapes
        .iter()
        .zip(&names)
        .map(|(t, name)| CFn::new(t, &params[..t.n_inputs()], name))
        .collect();
    let mut points = Vec::new();
    for i in 0..200 {
        points.push(
            (0..3)
                .map(|_| {
                    if i % 3 == 0 {
                        POINTS[rnd(POINTS.len())]
                    } else {
                        (rnd(1 << 20) as f64 / (1 << 17) as f64) - 4.0
                    }
                })
                .collect(),
        );
    }
    // Arithmetic may pick either NaN operand's payload: NaNs need only be NaN.
    check_c(&fns, &points, "-O0", |_, _| Agree::Same);
}
