//! PTX generation without a GPU: every function, random tapes, checked by
//! NVIDIA's own assembler (`ptxas`) for sm_86 and sm_90.

mod common;

use std::path::Path;

use alkahest_core::{ExprPool, Func};
use alkahest_cuda::{CudaFn, Error, compile_ptx};
use alkahest_kernel::{BinaryFn, Op, Tape, UnaryFn, lower};
use common::{arb_tape, assemble, assert_self_contained, tools};
use proptest::prelude::*;

const ARCHS: [&str; 2] = ["sm_86", "sm_90"];

fn unary_tape(f: UnaryFn) -> Tape {
    Tape {
        n_inputs: 1,
        ops: vec![Op::Input(0), Op::Unary(f, 0)],
        output: 1,
    }
}

fn binary_tape(f: BinaryFn) -> Tape {
    Tape {
        n_inputs: 2,
        ops: vec![Op::Input(0), Op::Input(1), Op::Binary(f, 0, 1)],
        output: 2,
    }
}

#[test]
fn every_function_assembles_for_sm86_and_sm90() {
    let Some((ptxas, libdevice)) = tools("every_function_assembles_for_sm86_and_sm90") else {
        return;
    };
    let binaries = [
        BinaryFn::Atan2,
        BinaryFn::Hypot,
        BinaryFn::Min,
        BinaryFn::Max,
        BinaryFn::Pow,
    ];
    let tapes = UnaryFn::ALL
        .iter()
        .map(|&f| (format!("{f:?}"), unary_tape(f)))
        .chain(binaries.iter().map(|&f| (format!("{f:?}"), binary_tape(f))));
    for (name, tape) in tapes {
        for arch in ARCHS {
            let ptx = compile_ptx(&tape, arch, &libdevice)
                .unwrap_or_else(|e| panic!("{name} for {arch}: {e}"));
            assert!(ptx.contains(&format!(".target {arch}")), "{name}: {ptx}");
            assert!(ptx.contains(".entry alkahest_kernel"), "{name}");
            assert_self_contained(&ptx);
            // libdevice's __nvvm_reflect must have been folded away.
            assert!(!ptx.contains("__nvvm_reflect"), "{name}");
            assemble(&ptxas, &ptx, arch);
        }
    }
}

#[test]
fn arithmetic_is_not_contracted() {
    let Some((ptxas, libdevice)) = tools("arithmetic_is_not_contracted") else {
        return;
    };
    // a*b + c must round twice, like the CPU interpreter; Fma once.
    let mul_add = Tape {
        n_inputs: 3,
        ops: vec![
            Op::Input(0),
            Op::Input(1),
            Op::Input(2),
            Op::Mul(0, 1),
            Op::Add(3, 2),
        ],
        output: 4,
    };
    let ptx = compile_ptx(&mul_add, "sm_86", &libdevice).unwrap();
    assert!(ptx.contains("mul.rn.f64"), "{ptx}");
    assert!(ptx.contains("add.rn.f64"), "{ptx}");
    assert!(!ptx.contains("fma"), "{ptx}");
    assemble(&ptxas, &ptx, "sm_86");

    let fma = Tape {
        n_inputs: 3,
        ops: vec![Op::Input(0), Op::Input(1), Op::Input(2), Op::Fma(0, 1, 2)],
        output: 3,
    };
    let ptx = compile_ptx(&fma, "sm_86", &libdevice).unwrap();
    assert!(ptx.contains("fma.rn.f64"), "{ptx}");
}

#[test]
fn lowered_expressions_with_integer_powers() {
    let Some((ptxas, libdevice)) = tools("lowered_expressions_with_integer_powers") else {
        return;
    };
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    // x**7 * y - exp(x*y) / (1 + y**2) + atan2(y, x)
    let x7 = p.pow(x, p.integer(7).unwrap()).unwrap();
    let y2 = p.pow(y, p.integer(2).unwrap()).unwrap();
    let xy = p.mul(&[x, y]).unwrap();
    let num = p.func(Func::Exp, &[xy]).unwrap();
    let den = p.add(&[p.integer(1).unwrap(), y2]).unwrap();
    let at = p.func(Func::Atan2, &[y, x]).unwrap();
    let e = p
        .add(&[
            p.mul(&[x7, y]).unwrap(),
            p.neg(p.div(num, den).unwrap()).unwrap(),
            at,
        ])
        .unwrap();
    let tape = lower(&p, e, &[x, y]).unwrap();
    for arch in ARCHS {
        let ptx = compile_ptx(&tape, arch, &libdevice).unwrap();
        assert_self_contained(&ptx);
        assemble(&ptxas, &ptx, arch);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_tapes_assemble(tape in arb_tape(3, 24)) {
        let Some((ptxas, libdevice)) = tools("random_tapes_assemble") else {
            return Ok(());
        };
        for arch in ARCHS {
            let ptx = compile_ptx(&tape, arch, &libdevice)
                .unwrap_or_else(|e| panic!("{arch}: {e}\n{tape:?}"));
            assert_self_contained(&ptx);
            assemble(&ptxas, &ptx, arch);
        }
    }
}

#[test]
fn deep_chain_does_not_recurse() {
    let Some((_, libdevice)) = tools("deep_chain_does_not_recurse") else {
        return;
    };
    // 100,000 dependent ops: x -> x*c + x, alternating, then one sin.
    let mut ops = vec![Op::Input(0), Op::Const(0.999_999)];
    for i in 0..100_000u32 {
        let prev = ops.len() as u32 - 1;
        ops.push(if i % 2 == 0 {
            Op::Mul(prev, 1)
        } else {
            Op::Add(prev, 0)
        });
    }
    let last = ops.len() as u32 - 1;
    ops.push(Op::Unary(UnaryFn::Sin, last));
    let tape = Tape {
        n_inputs: 1,
        output: ops.len() as u32 - 1,
        ops,
    };
    let ptx = compile_ptx(&tape, "sm_86", &libdevice).unwrap();
    assert_self_contained(&ptx);
    // ptxas needs minutes for 100,000 instructions: only count them.
    assert!(ptx.matches("mul.rn.f64").count() >= 50_000);
    assert!(ptx.matches("add.rn.f64").count() >= 50_000);
}

#[test]
fn constant_function_of_no_inputs() {
    let Some((ptxas, libdevice)) = tools("constant_function_of_no_inputs") else {
        return;
    };
    let tape = Tape {
        n_inputs: 0,
        ops: vec![Op::Const(2.0), Op::Unary(UnaryFn::Log, 0)],
        output: 1,
    };
    let ptx = compile_ptx(&tape, "sm_90", &libdevice).unwrap();
    assemble(&ptxas, &ptx, "sm_90");
}

#[test]
fn invalid_arch_is_a_typed_error() {
    let tape = unary_tape(UnaryFn::Abs);
    for bad in ["sm86", "sm_100", "compute_86", "", "sm_8"] {
        let err = compile_ptx(&tape, bad, Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, Error::InvalidArch { .. }), "{bad}: {err}");
        assert!(err.to_string().contains("sm_86"));
    }
    let err = CudaFn::new(&tape, Some("sm_999"), Path::new("/nonexistent")).unwrap_err();
    assert!(matches!(err, Error::InvalidArch { .. }));
}

#[test]
fn malformed_tapes_are_typed_errors() {
    let bad = [
        Tape {
            n_inputs: 1,
            ops: vec![Op::Input(0), Op::Add(0, 2)],
            output: 1,
        },
        Tape {
            n_inputs: 1,
            ops: vec![Op::Input(3)],
            output: 0,
        },
        Tape {
            n_inputs: 1,
            ops: vec![Op::Input(0)],
            output: 5,
        },
        Tape {
            n_inputs: 0,
            ops: vec![],
            output: 0,
        },
    ];
    for tape in bad {
        let err = compile_ptx(&tape, "sm_86", Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, Error::InvalidTape(_)), "{tape:?}: {err}");
    }
}

#[test]
fn missing_libdevice_is_a_typed_error() {
    let missing = Path::new("/nonexistent/libdevice.10.bc");
    let err = compile_ptx(&unary_tape(UnaryFn::Sin), "sm_86", missing).unwrap_err();
    match &err {
        Error::NoLibdevice { searched } => assert_eq!(searched, &[missing.to_path_buf()]),
        other => panic!("expected NoLibdevice, got {other}"),
    }
    assert!(err.to_string().contains("nvidia-cuda-nvcc-cu12"), "{err}");
    let err = CudaFn::new(&binary_tape(BinaryFn::Pow), Some("sm_86"), missing).unwrap_err();
    assert!(matches!(err, Error::NoLibdevice { .. }), "{err}");

    // A file that is not bitcode.
    let junk = std::env::temp_dir().join(format!("alkahest-junk-{}.bc", std::process::id()));
    std::fs::write(&junk, b"not bitcode").unwrap();
    let err = compile_ptx(&unary_tape(UnaryFn::Exp), "sm_86", &junk).unwrap_err();
    std::fs::remove_file(&junk).unwrap();
    assert!(matches!(err, Error::Libdevice { .. }), "{err}");
}

#[test]
fn arithmetic_needs_no_libdevice() {
    let Some((ptxas, _)) = tools("arithmetic_needs_no_libdevice") else {
        return;
    };
    let tape = Tape {
        n_inputs: 2,
        ops: vec![
            Op::Input(0),
            Op::Input(1),
            Op::Binary(BinaryFn::Min, 0, 1),
            Op::Unary(UnaryFn::Sqrt, 2),
            Op::Div(3, 1),
        ],
        output: 4,
    };
    let f = CudaFn::new(&tape, Some("sm_90"), Path::new("/nonexistent")).unwrap();
    assert_eq!(f.arch(), "sm_90");
    assert_eq!(f.n_inputs(), 2);
    assert!(f.ptx().contains("sqrt.rn.f64"), "{}", f.ptx());
    assemble(&ptxas, f.ptx(), "sm_90");
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CudaFn>();
    assert_send_sync::<Error>();
}
