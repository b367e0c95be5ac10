//! PTX generation without a GPU: every function, comparisons and
//! selections, several outputs, random tapes, checked by NVIDIA's own
//! assembler (`ptxas`) for sm_86 and sm_90.

mod common;

use std::path::Path;

use alkahest_core::{ExprPool, Func};
use alkahest_cuda::{CudaFn, Error, compile_ptx, kernel_ir};
use alkahest_tape::{BinaryFn, CmpOp, Op, Reg, Tape, UnaryFn, lower, lower_many};
use alkahest_testkit::{binary_tape, unary_tape};
use common::{arb_tape, arb_tape_outputs, assemble, assert_self_contained, tools};
use proptest::prelude::*;

const ARCHS: [&str; 2] = ["sm_86", "sm_90"];

fn tape(n_inputs: usize, ops: Vec<Op>) -> Tape {
    let output = (ops.len() - 1) as Reg;
    Tape::new(n_inputs, ops, vec![output]).unwrap()
}

/// Every unary and binary function, one tape each, with its table row.
fn function_tapes() -> Vec<(String, Tape, &'static alkahest_tape::FnInfo)> {
    UnaryFn::ALL
        .iter()
        .map(|&f| (format!("{f:?}"), unary_tape(f), f.info()))
        .chain(
            BinaryFn::ALL
                .iter()
                .map(|&f| (format!("{f:?}"), binary_tape(f), f.info())),
        )
        .collect()
}

/// Instructions of one PTX opcode prefix (`bra`, `st.global.f64`, ...):
/// lines whose first token, after an optional `@%p` guard, starts with it.
fn count_insts(ptx: &str, opcode: &str) -> usize {
    ptx.lines()
        .map(str::trim)
        .map(|l| match l.strip_prefix('@') {
            Some(rest) => rest.split_once(char::is_whitespace).map_or("", |(_, r)| r),
            None => l,
        })
        .filter(|l| l.trim_start().starts_with(opcode))
        .count()
}

/// Stores to global memory per point: results are `st.global.f64`, except
/// constants, which LLVM stores as their bits (`st.global.u64`).
fn count_stores(ptx: &str) -> usize {
    ["st.global.f64", "st.global.u64", "st.global.b64"]
        .iter()
        .map(|op| count_insts(ptx, op))
        .sum()
}

#[test]
fn every_function_assembles_for_sm86_and_sm90() {
    let Some((ptxas, libdevice)) = tools("every_function_assembles_for_sm86_and_sm90") else {
        return;
    };
    for (name, tape, _) in function_tapes() {
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

/// Each libdevice function is called under the kernel table's name (the IR
/// before linking declares exactly that symbol); exact functions are
/// instructions and need no libdevice at all.
#[test]
fn functions_call_the_libdevice_symbol_of_the_kernel_table() {
    for (name, tape, info) in function_tapes() {
        let ir = kernel_ir(&tape, "sm_86").unwrap_or_else(|e| panic!("{name}: {e}"));
        if info.call {
            let symbol = info.libdevice;
            assert!(
                ir.contains(&format!("declare double @{symbol}(double")),
                "{name}: no declaration of {symbol}\n{ir}"
            );
            assert!(
                ir.contains(&format!("call double @{symbol}(")),
                "{name}: no call of {symbol}\n{ir}"
            );
            assert_eq!(ir.matches("@__nv_").count(), 2, "{name}: other calls\n{ir}");
            // Needs libdevice: a missing file is reported, not ignored.
            let err = compile_ptx(&tape, "sm_86", Path::new("/nonexistent")).unwrap_err();
            assert!(matches!(err, Error::NoLibdevice { .. }), "{name}: {err}");
        } else {
            assert!(!ir.contains("@__nv_"), "{name} should be inline\n{ir}");
            let ptx = compile_ptx(&tape, "sm_86", Path::new("/nonexistent"))
                .unwrap_or_else(|e| panic!("{name} without libdevice: {e}"));
            assert!(!ptx.contains("call"), "{name}: {ptx}");
        }
    }
    // The exact functions are the instructions one expects.
    let inst = |tape: &Tape, opcode: &str| {
        let ptx = compile_ptx(tape, "sm_86", Path::new("/nonexistent")).unwrap();
        assert!(count_insts(&ptx, opcode) >= 1, "{opcode}:\n{ptx}");
    };
    inst(&unary_tape(UnaryFn::Sqrt), "sqrt.rn.f64");
    inst(&unary_tape(UnaryFn::Abs), "abs.f64");
    inst(&unary_tape(UnaryFn::Floor), "cvt.rmi.f64.f64");
    inst(&unary_tape(UnaryFn::Ceil), "cvt.rpi.f64.f64");
    // copysign: the magnitude of one operand, selected by the other's
    // sign bit (LLVM 19 expands `llvm.copysign` to that), no call.
    inst(&binary_tape(BinaryFn::Copysign), "abs.f64");
    inst(&binary_tape(BinaryFn::Copysign), "selp.f64");
}

#[test]
fn linked_functions_leave_no_external_calls() {
    let Some((_, libdevice)) = tools("linked_functions_leave_no_external_calls") else {
        return;
    };
    // All of them in one kernel, each result kept (one output per call).
    let mut ops = vec![Op::Input(0), Op::Input(1)];
    for f in UnaryFn::ALL {
        ops.push(Op::Unary(f, 0));
    }
    for f in BinaryFn::ALL {
        ops.push(Op::Binary(f, 0, 1));
    }
    let outputs = (2..ops.len() as Reg).collect::<Vec<_>>();
    let m = outputs.len();
    let tape = Tape::new(2, ops, outputs).unwrap();
    let ptx = compile_ptx(&tape, "sm_90", &libdevice).unwrap();
    assert_self_contained(&ptx);
    assert!(!ptx.contains("__nv_"), "libdevice calls left:\n{ptx}");
    assert_eq!(count_stores(&ptx), m, "{ptx}");
}

#[test]
fn arithmetic_is_not_contracted() {
    let Some((ptxas, libdevice)) = tools("arithmetic_is_not_contracted") else {
        return;
    };
    // a*b + c must round twice, like the CPU interpreter; Fma once.
    let mul_add = tape(
        3,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Input(2),
            Op::Mul(0, 1),
            Op::Add(3, 2),
        ],
    );
    let ptx = compile_ptx(&mul_add, "sm_86", &libdevice).unwrap();
    assert!(ptx.contains("mul.rn.f64"), "{ptx}");
    assert!(ptx.contains("add.rn.f64"), "{ptx}");
    assert!(!ptx.contains("fma"), "{ptx}");
    assemble(&ptxas, &ptx, "sm_86");

    let fma = tape(
        3,
        vec![Op::Input(0), Op::Input(1), Op::Input(2), Op::Fma(0, 1, 2)],
    );
    let ptx = compile_ptx(&fma, "sm_86", &libdevice).unwrap();
    assert!(ptx.contains("fma.rn.f64"), "{ptx}");
}

/// `x op y` per comparison, and `c != 0 ? x : y` on a raw input `c`:
/// predicates as in `CmpOp::test` (`neu` for `!=`), `selp` for the value,
/// and no branch beyond the grid-stride loop's.
#[test]
fn comparisons_and_selections_are_branch_free() {
    let Some((ptxas, _)) = tools("comparisons_and_selections_are_branch_free") else {
        return;
    };
    let no_lib = Path::new("/nonexistent");
    let loop_only = compile_ptx(
        &tape(2, vec![Op::Input(0), Op::Input(1), Op::Add(0, 1)]),
        "sm_86",
        no_lib,
    )
    .unwrap();
    let loop_branches = count_insts(&loop_only, "bra");
    assert!(loop_branches >= 1, "{loop_only}");
    let expected = [
        (CmpOp::Lt, "setp.lt.f64"),
        (CmpOp::Le, "setp.le.f64"),
        (CmpOp::Gt, "setp.gt.f64"),
        (CmpOp::Ge, "setp.ge.f64"),
        (CmpOp::Eq, "setp.eq.f64"),
        (CmpOp::Ne, "setp.neu.f64"),
    ];
    for (k, setp) in expected {
        let t = tape(2, vec![Op::Input(0), Op::Input(1), Op::Cmp(k, 0, 1)]);
        let ptx = compile_ptx(&t, "sm_86", no_lib).unwrap();
        // The predicate may be written with the operands swapped.
        let swapped = match k {
            CmpOp::Lt => "setp.gt.f64",
            CmpOp::Le => "setp.ge.f64",
            CmpOp::Gt => "setp.lt.f64",
            CmpOp::Ge => "setp.le.f64",
            _ => setp,
        };
        assert!(
            count_insts(&ptx, setp) + count_insts(&ptx, swapped) >= 1,
            "{k:?}: {setp}\n{ptx}"
        );
        assert!(count_insts(&ptx, "selp") >= 1, "{k:?}\n{ptx}");
        assert_eq!(count_insts(&ptx, "bra"), loop_branches, "{k:?}\n{ptx}");
        assemble(&ptxas, &ptx, "sm_86");
    }
    // Select on an arbitrary value: unordered `!= 0`.
    let t = tape(
        3,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Input(2),
            Op::Select(0, 1, 2),
        ],
    );
    let ptx = compile_ptx(&t, "sm_86", no_lib).unwrap();
    assert!(
        count_insts(&ptx, "setp.neu.f64") + count_insts(&ptx, "setp.equ.f64") >= 1,
        "{ptx}"
    );
    assert!(count_insts(&ptx, "selp.f64") >= 1, "{ptx}");
    assert_eq!(count_insts(&ptx, "bra"), loop_branches, "{ptx}");
    assemble(&ptxas, &ptx, "sm_86");

    // A piecewise function through the core lowering (Where, Lt, Abs,
    // Sign, Mod), including a libdevice call on one side: both sides run,
    // so still only the loop's branches.
    let Some((_, libdevice)) = tools("comparisons_and_selections_are_branch_free") else {
        return;
    };
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let zero = p.integer(0).unwrap();
    let lt = p.func(Func::Lt, &[x, zero]).unwrap();
    let sx = p.func(Func::Sin, &[x]).unwrap();
    let sign = p.func(Func::Sign, &[y]).unwrap();
    let md = p.func(Func::Mod, &[x, y]).unwrap();
    let alt = p.mul(&[sign, md]).unwrap();
    let e = p.func(Func::Where, &[lt, sx, alt]).unwrap();
    let t = lower(&p, e, &[x, y]).unwrap();
    assert!(t.ops().iter().any(|o| matches!(o, Op::Select(..))), "{t:?}");
    for arch in ARCHS {
        let ptx = compile_ptx(&t, arch, &libdevice).unwrap();
        assert_self_contained(&ptx);
        assert!(count_insts(&ptx, "selp") >= 1, "{ptx}");
        assemble(&ptxas, &ptx, arch);
    }
}

/// `m` outputs: the kernel stores exactly `m` values per point (one per
/// output, repeats included), through `m` pointers of the output table.
#[test]
fn several_outputs_store_one_value_each() {
    let Some((ptxas, _)) = tools("several_outputs_store_one_value_each") else {
        return;
    };
    let no_lib = Path::new("/nonexistent");
    // (x + y, x * y, x + y, x, -(x*y)): one sum and one product shared.
    let ops = vec![
        Op::Input(0),
        Op::Input(1),
        Op::Add(0, 1),
        Op::Mul(0, 1),
        Op::Neg(3),
    ];
    for outputs in [vec![2], vec![2, 3], vec![2, 3, 2, 0, 4]] {
        let m = outputs.len();
        let t = Tape::new(2, ops.clone(), outputs).unwrap();
        assert_eq!(t.n_outputs(), m);
        let ptx = compile_ptx(&t, "sm_86", no_lib).unwrap();
        assert_eq!(count_stores(&ptx), m, "{ptx}");
        // Shared subexpressions are computed once.
        assert_eq!(count_insts(&ptx, "add.rn.f64"), 1, "{ptx}");
        assert_eq!(count_insts(&ptx, "mul.rn.f64"), usize::from(m > 1), "{ptx}");
        // Three parameters whatever m is: cols, outs, n.
        assert_eq!(ptx.matches(".param .u64 alkahest_kernel_param_").count(), 3);
        assemble(&ptxas, &ptx, "sm_86");
        let f = CudaFn::new(&t, Some("sm_86"), no_lib).unwrap();
        assert_eq!((f.n_inputs(), f.n_outputs()), (2, m));
    }
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

    // Several expressions at once: (x**7 * y, exp(x*y), lgamma(x) + erf(y)).
    let lg = p.func(Func::Lgamma, &[x]).unwrap();
    let er = p.func(Func::Erf, &[y]).unwrap();
    let third = p.add(&[lg, er]).unwrap();
    let first = p.mul(&[x7, y]).unwrap();
    let tape = lower_many(&p, &[first, num, third], &[x, y]).unwrap();
    assert_eq!(tape.n_outputs(), 3);
    for arch in ARCHS {
        let ptx = compile_ptx(&tape, arch, &libdevice).unwrap();
        assert_self_contained(&ptx);
        assert_eq!(count_stores(&ptx), 3, "{ptx}");
        assemble(&ptxas, &ptx, arch);
    }
}

/// digamma and trigamma reach the GPU as the kernel's recipe (floor,
/// log, tan, sin and arithmetic): self-contained PTX that assembles.
#[test]
fn digamma_and_trigamma_assemble() {
    let Some((ptxas, libdevice)) = tools("digamma_and_trigamma_assemble") else {
        return;
    };
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let outs = [
        p.func(Func::Digamma, &[x]).unwrap(),
        p.func(Func::Trigamma, &[x]).unwrap(),
    ];
    let tape = lower_many(&p, &outs, &[x]).unwrap();
    assert!(
        tape.ops()
            .iter()
            .any(|op| matches!(op, Op::Unary(UnaryFn::Tan, _)))
    );
    for arch in ARCHS {
        let ptx = compile_ptx(&tape, arch, &libdevice).unwrap();
        assert_self_contained(&ptx);
        assert_eq!(count_stores(&ptx), 2, "{ptx}");
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

    #[test]
    fn random_multi_output_tapes_assemble(tape in arb_tape_outputs(3, 24, 4)) {
        let Some((ptxas, libdevice)) = tools("random_multi_output_tapes_assemble") else {
            return Ok(());
        };
        let ptx = compile_ptx(&tape, "sm_90", &libdevice)
            .unwrap_or_else(|e| panic!("{e}\n{tape:?}"));
        assert_self_contained(&ptx);
        prop_assert_eq!(count_stores(&ptx), tape.n_outputs(), "{:?}", tape);
        assemble(&ptxas, &ptx, "sm_90");
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
    let tape = tape(1, ops);
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
    let t = tape(0, vec![Op::Const(2.0), Op::Unary(UnaryFn::Log, 0)]);
    let ptx = compile_ptx(&t, "sm_90", &libdevice).unwrap();
    assemble(&ptxas, &ptx, "sm_90");
    // Two constant outputs, one of them a comparison folded away.
    let t = Tape::new(
        0,
        vec![
            Op::Const(2.0),
            Op::Const(3.0),
            Op::Cmp(CmpOp::Lt, 0, 1),
            Op::Unary(UnaryFn::Gamma, 1),
        ],
        vec![2, 3],
    )
    .unwrap();
    let ptx = compile_ptx(&t, "sm_90", &libdevice).unwrap();
    assert_eq!(count_stores(&ptx), 2, "{ptx}");
    assemble(&ptxas, &ptx, "sm_90");
}

#[test]
fn invalid_arch_is_a_typed_error() {
    let tape = unary_tape(UnaryFn::Abs);
    for bad in ["sm86", "sm_100", "compute_86", "", "sm_8"] {
        let err = compile_ptx(&tape, bad, Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, Error::InvalidArch { .. }), "{bad}: {err}");
        assert!(err.to_string().contains("sm_86"));
        let err = kernel_ir(&tape, bad).unwrap_err();
        assert!(matches!(err, Error::InvalidArch { .. }), "{bad}: {err}");
    }
    let err = CudaFn::new(&tape, Some("sm_999"), Path::new("/nonexistent")).unwrap_err();
    assert!(matches!(err, Error::InvalidArch { .. }));
}

/// The tapes this backend used to reject itself cannot be built any more:
/// `Tape::new` refuses them, so code generation never sees one.
#[test]
fn malformed_tapes_cannot_reach_the_backend() {
    let bad: [(usize, Vec<Op>, Vec<Reg>); 5] = [
        (1, vec![Op::Input(0), Op::Add(0, 2)], vec![1]),
        (1, vec![Op::Input(3)], vec![0]),
        (1, vec![Op::Input(0)], vec![5]),
        (0, vec![], vec![0]),
        (1, vec![Op::Input(0), Op::Neg(0)], vec![]),
    ];
    for (n, ops, outputs) in bad {
        let r = Tape::new(n, ops.clone(), outputs.clone());
        assert!(
            matches!(r, Err(alkahest_tape::Error::InvalidTape(_))),
            "{ops:?} {outputs:?}: {r:?}"
        );
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
    let tape = tape(
        2,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Binary(BinaryFn::Min, 0, 1),
            Op::Unary(UnaryFn::Sqrt, 2),
            Op::Div(3, 1),
            Op::Unary(UnaryFn::Floor, 4),
            Op::Binary(BinaryFn::Copysign, 5, 0),
            Op::Cmp(CmpOp::Ge, 6, 1),
            Op::Select(7, 6, 3),
        ],
    );
    let f = CudaFn::new(&tape, Some("sm_90"), Path::new("/nonexistent")).unwrap();
    assert_eq!(f.arch(), "sm_90");
    assert_eq!(f.n_inputs(), 2);
    assert_eq!(f.n_outputs(), 1);
    assert!(f.ptx().contains("sqrt.rn.f64"), "{}", f.ptx());
    assemble(&ptxas, f.ptx(), "sm_90");
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CudaFn>();
    assert_send_sync::<Error>();
}
