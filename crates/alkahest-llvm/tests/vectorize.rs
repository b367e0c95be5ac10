//! Guards on the generated code: the bulk loop must stay vectorized with
//! libmvec calls, and default builds must carry no fast-math flags.

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_kernel::{Tape, lower};
use alkahest_llvm::{LlvmOptions, emit_asm, optimized_ir};

fn unary(f: Func) -> Tape {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let args = [x, y];
    let e = p.func(f, &args[..f.arity()]).unwrap();
    lower(&p, e, &[x, y]).unwrap()
}

/// The text of `@alkahest_eval_bulk` in the optimized IR.
fn bulk_ir(tape: &Tape, opts: &LlvmOptions) -> String {
    let ir = optimized_ir(tape, opts).unwrap();
    let start = ir
        .find("define void @alkahest_eval_bulk")
        .expect("bulk entry");
    let end = ir[start..].find("\n}\n").expect("end of function") + start;
    ir[start..end].to_string()
}

fn libmvec_host() -> bool {
    cfg!(all(
        target_arch = "x86_64",
        target_os = "linux",
        target_env = "gnu"
    ))
}

#[test]
fn sin_cos_bulk_loop_calls_libmvec() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let s = p.func(Func::Sin, &[x]).unwrap();
    let c = p.func(Func::Cos, &[x]).unwrap();
    let e = p.mul(&[s, c]).unwrap();
    let tape = lower(&p, e, &[x]).unwrap();
    let ir = bulk_ir(&tape, &LlvmOptions::default());
    assert!(
        ir.contains("x double>"),
        "no vector type in the bulk loop:\n{ir}"
    );
    if libmvec_host() {
        assert!(
            ir.contains("@_ZGV") && ir.contains("_sin(") && ir.contains("_cos("),
            "{ir}"
        );
    }
}

#[test]
fn every_libmvec_function_vectorizes() {
    if !libmvec_host() {
        return;
    }
    let cases: [(Func, &str); 16] = [
        (Func::Sin, "v_sin("),
        (Func::Cos, "v_cos("),
        (Func::Tan, "v_tan("),
        (Func::Exp, "v_exp("),
        (Func::Log, "v_log("),
        (Func::Asin, "v_asin("),
        (Func::Acos, "v_acos("),
        (Func::Atan, "v_atan("),
        (Func::Sinh, "v_sinh("),
        (Func::Cosh, "v_cosh("),
        (Func::Tanh, "v_tanh("),
        (Func::Log1p, "v_log1p("),
        (Func::Expm1, "v_expm1("),
        (Func::Atan2, "vv_atan2("),
        (Func::Hypot, "vv_hypot("),
        (Func::Sqrt, "@llvm.sqrt.v"),
    ];
    for (f, needle) in cases {
        let ir = bulk_ir(&unary(f), &LlvmOptions::default());
        assert!(
            ir.contains(needle),
            "{f:?}: '{needle}' not in the bulk loop:\n{ir}"
        );
    }
    // Symbolic powers go to libmvec's pow; min/max/fma stay vector intrinsics.
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let e = p.pow(x, y).unwrap();
    let ir = bulk_ir(&lower(&p, e, &[x, y]).unwrap(), &LlvmOptions::default());
    assert!(ir.contains("vv_pow("), "{ir}");
    for (f, needle) in [
        (Func::Min, "@llvm.minimum.v"),
        (Func::Max, "@llvm.maximum.v"),
    ] {
        let ir = bulk_ir(&unary(f), &LlvmOptions::default());
        assert!(ir.contains(needle), "{f:?}:\n{ir}");
    }
}

fn bench_gauss(p: &ExprPool, x: ExprId) -> ExprId {
    // exp(-x*x/2)*cos(3*x) + log1p(x*x)
    let x2 = p.mul(&[x, x]).unwrap();
    let mh = p.rational(-1, 2).unwrap();
    let ex = p.func(Func::Exp, &[p.mul(&[mh, x2]).unwrap()]).unwrap();
    let three = p.integer(3).unwrap();
    let co = p.func(Func::Cos, &[p.mul(&[three, x]).unwrap()]).unwrap();
    let lp = p.func(Func::Log1p, &[x2]).unwrap();
    p.add(&[p.mul(&[ex, co]).unwrap(), lp]).unwrap()
}

#[test]
fn mixed_expression_vectorizes_every_call() {
    if !libmvec_host() {
        return;
    }
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let tape = lower(&p, bench_gauss(&p, x), &[x]).unwrap();
    let ir = bulk_ir(&tape, &LlvmOptions::default());
    for f in ["v_exp(", "v_cos(", "v_log1p("] {
        assert!(ir.contains(f), "{f}:\n{ir}");
    }
}

#[test]
fn default_has_no_fast_math_and_fast_math_sets_flags() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let z = p.symbol("z").unwrap();
    // x*y + z: must not be contracted to an FMA by default.
    let e = p.add(&[p.mul(&[x, y]).unwrap(), z]).unwrap();
    let tape = lower(&p, e, &[x, y, z]).unwrap();
    let plain = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    for flag in [
        " fast ",
        " nnan ",
        " ninf ",
        " contract ",
        " reassoc ",
        " afn ",
    ] {
        assert!(!plain.contains(flag), "default IR has '{flag}':\n{plain}");
    }
    assert!(!plain.contains("llvm.fma") && !plain.contains("llvm.fmuladd"));
    let fast = LlvmOptions {
        fast_math: true,
        ..LlvmOptions::default()
    };
    let ir = optimized_ir(&tape, &fast).unwrap();
    assert!(ir.contains(" fast "), "fast-math IR lacks flags:\n{ir}");
    if cfg!(target_arch = "x86_64") {
        let asm = emit_asm(&tape, &LlvmOptions::default()).unwrap();
        assert!(!asm.contains("vfmadd"), "default asm contracts:\n{asm}");
        let fast_asm = emit_asm(&tape, &fast).unwrap();
        let host_fma = std::arch::is_x86_feature_detected!("fma");
        assert_eq!(fast_asm.contains("vfmadd"), host_fma, "{fast_asm}");
    }
}

#[test]
fn explicit_fma_is_fused() {
    let p = ExprPool::new();
    let v: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|s| p.symbol(s).unwrap())
        .collect();
    let e = p.func(Func::Fma, &v).unwrap();
    let ir = optimized_ir(&lower(&p, e, &v).unwrap(), &LlvmOptions::default()).unwrap();
    assert!(
        ir.contains("@llvm.fma.f64") && ir.contains("@llvm.fma.v"),
        "{ir}"
    );
}
