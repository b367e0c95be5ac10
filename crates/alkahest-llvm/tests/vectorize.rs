//! Guards on the generated code: the bulk loop must stay vectorized with
//! libmvec calls, and default builds must carry no fast-math flags.

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_llvm::{
    LlvmOptions, emit_asm, emit_library_ir, optimized_ir, own_vector_exp, own_vector_log,
};
use alkahest_tape::{Tape, lower};

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

/// The text of `@alkahest_eval_scalar` in the optimized IR.
fn scalar_ir(tape: &Tape, opts: &LlvmOptions) -> String {
    let ir = optimized_ir(tape, opts).unwrap();
    let start = ir
        .find("define void @alkahest_eval_scalar")
        .expect("scalar entry");
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
    // glibc 2.35 added most variants; a host without one of them calls
    // libm lane by lane instead (checked at start-up), so only the 2.22 set
    // is required everywhere and the rest where the variant resolves.
    let cases: [(Func, &str, bool); 18] = [
        (Func::Sin, "v_sin(", true),
        (Func::Cos, "v_cos(", true),
        (Func::Tan, "v_tan(", false),
        (Func::Atan, "v_atan(", false),
        (Func::Log1p, "v_log1p(", false),
        (Func::Expm1, "v_expm1(", false),
        (Func::Asinh, "v_asinh(", false),
        (Func::Acosh, "v_acosh(", false),
        (Func::Atanh, "v_atanh(", false),
        (Func::Cbrt, "v_cbrt(", false),
        (Func::Exp2, "v_exp2(", false),
        (Func::Log2, "v_log2(", false),
        (Func::Log10, "v_log10(", false),
        (Func::Erf, "v_erf(", false),
        (Func::Erfc, "v_erfc(", false),
        (Func::Atan2, "vv_atan2(", false),
        (Func::Hypot, "vv_hypot(", false),
        (Func::Sqrt, "@llvm.sqrt.v", true),
    ];
    let glibc_235 = glibc_at_least(2, 35);
    for (f, needle, old) in cases {
        let ir = bulk_ir(&unary(f), &LlvmOptions::default());
        if old || glibc_235 {
            assert!(
                ir.contains(needle),
                "{f:?}: '{needle}' not in the bulk loop:\n{ir}"
            );
        }
    }
    // exp, sinh and cosh are inline where the host has AVX-512
    // (codegen/exp.rs, hyperbolic.rs: a table permute and `vscalefpd`, no
    // call), libmvec's elsewhere (sinh and cosh from glibc 2.35).
    for (f, name) in [
        (Func::Exp, "exp("),
        (Func::Sinh, "sinh("),
        (Func::Cosh, "cosh("),
    ] {
        let ir = bulk_ir(&unary(f), &LlvmOptions::default());
        if own_vector_exp().unwrap() {
            assert!(
                ir.contains("@llvm.x86.avx512.mask.scalef.pd"),
                "{f:?}: {ir}"
            );
            assert!(!ir.contains(name), "{f:?}: {ir}");
        } else if f == Func::Exp || glibc_at_least(2, 35) {
            assert!(ir.contains(&format!("v_{name}")), "{f:?}: {ir}");
        }
    }
    // log is inline where the host has AVX-512 and the loop 4 or 8 lanes
    // (codegen/log.rs: mantissa and exponent by instruction, table permutes,
    // no call), libmvec's elsewhere.
    let ir = bulk_ir(&unary(Func::Log), &LlvmOptions::default());
    if own_vector_log().unwrap() {
        assert!(ir.contains("@llvm.x86.avx512.mask.getmant.pd"), "{ir}");
        assert!(!ir.contains("log("), "{ir}");
    } else {
        assert!(ir.contains("v_log("), "{ir}");
    }
    // asin and acos are inline where the host has AVX-512 (codegen/asin.rs:
    // a polynomial and sqrt, no call), libmvec's elsewhere.
    for (f, name) in [(Func::Asin, "asin("), (Func::Acos, "acos(")] {
        let ir = bulk_ir(&unary(f), &LlvmOptions::default());
        if own_vector_exp().unwrap() {
            assert!(ir.contains("@llvm.sqrt.v"), "{f:?}: {ir}");
            assert!(!ir.contains(name), "{f:?}: {ir}");
        } else if glibc_at_least(2, 35) {
            assert!(ir.contains(&format!("v_{name}")), "{f:?}: {ir}");
        }
    }
    // tanh is expm1(2|x|) over itself plus 2, expm1 inline
    // (codegen/tanh.rs): vector arithmetic, no call.
    let ir = bulk_ir(&unary(Func::Tanh), &LlvmOptions::default());
    assert!(ir.contains("fdiv <"), "{ir}");
    assert!(!ir.contains("tanh(") && !ir.contains("expm1("), "{ir}");
    // Symbolic powers go to the crate's own vector pow (with libm's `pow`
    // for lanes outside its domain), not libmvec's; min/max/fma stay
    // vector intrinsics.
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let e = p.pow(x, y).unwrap();
    let ir = bulk_ir(&lower(&p, e, &[x, y]).unwrap(), &LlvmOptions::default());
    assert!(ir.contains("@alkahest_rt_pow_x"), "{ir}");
    assert!(!ir.contains("vv_pow("), "{ir}");
    for (f, needle) in [
        (Func::Min, "@llvm.minimum.v"),
        (Func::Max, "@llvm.maximum.v"),
        (Func::Floor, "@llvm.floor.v"),
        (Func::Ceil, "@llvm.ceil.v"),
        (Func::Copysign, "@llvm.copysign.v"),
    ] {
        let ir = bulk_ir(&unary(f), &LlvmOptions::default());
        assert!(ir.contains(needle), "{f:?}:\n{ir}");
    }
}

/// glibc's version, from `gnu_get_libc_version` (false off glibc).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    #[cfg(target_env = "gnu")]
    {
        unsafe extern "C" {
            fn gnu_get_libc_version() -> *const std::ffi::c_char;
        }
        // SAFETY: returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
        let mut parts = v.to_str().unwrap_or("0.0").split('.');
        let mut num = || {
            parts
                .next()
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0)
        };
        (num(), num()) >= (major, minor)
    }
    #[cfg(not(target_env = "gnu"))]
    {
        let _ = (major, minor);
        false
    }
}

/// Under `exact_math`, functions without a libmvec variant are computed lane
/// by lane with the scalar libm call (never a vector call of that name), and
/// `lgamma` goes through the reentrant `lgamma_r`. (By default `fmod`,
/// `lgamma` and `tgamma` have vector routines of their own: `tests/fmod.rs`
/// and the test below.)
#[test]
fn functions_without_libmvec_are_scalarized() {
    let exact = LlvmOptions {
        exact_math: true,
        ..LlvmOptions::default()
    };
    for (f, call, absent) in [
        (Func::Gamma, "call double @tgamma(double", "_tgamma"),
        (Func::Lgamma, "call double @lgamma_r(double", "_lgamma"),
    ] {
        let ir = bulk_ir(&unary(f), &exact);
        assert!(ir.contains("x double>"), "{f:?}: no vectors:\n{ir}");
        assert!(ir.contains(call), "{f:?}: no scalar call:\n{ir}");
        assert!(ir.contains("extractelement"), "{f:?}:\n{ir}");
        assert!(!ir.contains(absent), "{f:?}: a vector call:\n{ir}");
        assert!(
            !ir.contains("@lgamma("),
            "{f:?}: the non-reentrant lgamma:\n{ir}"
        );
    }
}

/// The scalar entry calls the libm symbol itself for exp2, log2 and log10
/// (what the interpreter computes), not LLVM's intrinsics.
#[test]
fn scalar_entry_calls_libm_by_name() {
    for (f, name) in [
        (Func::Exp2, "exp2"),
        (Func::Log2, "log2"),
        (Func::Log10, "log10"),
        (Func::Cbrt, "cbrt"),
        (Func::Erfc, "erfc"),
    ] {
        let ir = scalar_ir(&unary(f), &LlvmOptions::default());
        assert!(
            ir.contains(&format!("call double @{name}(double")),
            "{f:?}:\n{ir}"
        );
        assert!(!ir.contains("@llvm."), "{f:?}: an intrinsic:\n{ir}");
    }
}

/// Comparisons and selections are branch-free vector code in the bulk
/// loop: `fcmp` on vectors and `select` on the mask.
#[test]
fn comparisons_and_selections_are_branch_free_vectors() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let lt = p.func(Func::Lt, &[x, y]).unwrap();
    let ne = p.func(Func::Ne, &[x, y]).unwrap();
    let e = p
        .add(&[p.select(lt, x, y).unwrap(), p.select(ne, y, x).unwrap()])
        .unwrap();
    let tape = lower(&p, e, &[x, y]).unwrap();
    let ir = bulk_ir(&tape, &LlvmOptions::default());
    for needle in ["fcmp olt <", "fcmp une <", "select <"] {
        assert!(ir.contains(needle), "'{needle}':\n{ir}");
    }
    // The scalar entry has no branch at all (one block).
    let s = scalar_ir(&tape, &LlvmOptions::default());
    assert!(!s.contains(" br "), "{s}");
    assert!(
        s.contains("fcmp olt double") && s.contains("fcmp une double"),
        "{s}"
    );
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
    for f in ["v_cos(", "v_log1p("] {
        assert!(ir.contains(f), "{f}:\n{ir}");
    }
    // exp: libmvec's, or inline with no call (codegen/exp.rs).
    assert_eq!(ir.contains("v_exp("), !own_vector_exp().unwrap(), "{ir}");
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

/// `lgamma` and `tgamma` on vectors are the batch loop's own routines
/// (polynomials, vector `log` / `exp` / `pow`), with libm kept for the lanes
/// they do not serve (the reentrant `lgamma_r`); `exact_math` keeps libm
/// lane by lane (test above).
#[test]
fn gamma_functions_have_their_own_vector_routines() {
    for (f, fallback) in [
        (Func::Lgamma, "@lgamma_r(double"),
        (Func::Gamma, "@tgamma(double"),
    ] {
        let module = optimized_ir(&unary(f), &LlvmOptions::default()).unwrap();
        assert!(
            module.contains("@alkahest_rt_"),
            "{f:?}: no library call:\n{module}"
        );
        let c = if f == Func::Lgamma {
            "lgamma"
        } else {
            "tgamma"
        };
        let ir = emit_library_ir(&unary(f), &LlvmOptions::default(), c).unwrap();
        assert!(
            ir.contains("@llvm.fma.v"),
            "{f:?}: no vector polynomial:\n{ir}"
        );
        assert!(ir.contains(fallback), "{f:?}: no libm fallback:\n{ir}");
        assert!(!ir.contains("@lgamma("), "the non-reentrant lgamma:\n{ir}");
    }
}
