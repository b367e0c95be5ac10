//! The new tape ops and functions, and multiple outputs, against the
//! kernel's reference (`Tape::eval_point`) and the interpreter, BIT FOR
//! BIT: comparisons, selections, every unary and binary function at
//! special inputs, and multi-output tapes through the scalar, bulk and
//! column-major entries.

use alkahest_core::{ExprPool, Func};
use alkahest_cranelift::{CraneliftFn, Options, RegAlloc, compile, compile_with};
use alkahest_interp::Interpreter;
use alkahest_tape::{BinaryFn, CmpOp, Evaluator, Op, Reg, Tape, UnaryFn, lower, lower_many};
use alkahest_testkit::values::columns;
use alkahest_testkit::{bits, same};

/// Inputs for the functions: signed zeros, infinities, NaNs (default,
/// negative, with a payload), huge and tiny values, negative integers and
/// half-integers (gamma's poles and sign changes), domain edges of the
/// inverse functions, and ordinary values. A list of its own rather than
/// `alkahest_testkit::SPECIALS`: the exact-bits checks here need NaNs with a
/// sign and a payload.
const POINTS: [f64; 44] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    -f64::NAN,
    f64::from_bits(0x7ff8_0000_dead_beef),
    f64::MAX,
    -f64::MAX,
    1e308,
    1e300,
    -1e300,
    710.0,
    -745.5,
    171.6,
    5e-324,
    -5e-324,
    1e-310,
    2.2250738585072014e-308,
    1e-17,
    -1e-17,
    1.0,
    -1.0,
    2.0,
    -2.0,
    -3.0,
    -170.0,
    -171.0,
    -0.5,
    0.5,
    -2.5,
    3.5,
    0.9999999999999999,
    1.0000000000000002,
    -0.9999999999999999,
    6.0,
    -6.0,
    27.0,
    -27.0,
    0.3,
    -1.7,
    123.456,
    -1e15,
    4503599627370497.5,
];

/// Every point of the tape on `xs` (one column per input), through the
/// scalar entry, the bulk entry and the column-major entry, for each
/// register allocator: equal to `Tape::eval_point` and the interpreter bit
/// for bit, except outputs for which `loose(k)` holds, where NaNs only need
/// to be NaN (min/max: Cranelift leaves the sign of their NaN unspecified).
fn check(tape: &Tape, cols: &[Vec<f64>], loose: impl Fn(usize) -> bool) {
    let n = cols.first().map_or(3, Vec::len);
    let m = tape.n_outputs();
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let interp = Interpreter::new(tape);
    let mut want = vec![vec![0.0; n]; m];
    {
        let mut outs: Vec<&mut [f64]> = want.iter_mut().map(Vec::as_mut_slice).collect();
        interp.eval_columns(&refs, &mut outs);
    }
    for regalloc in [RegAlloc::Backtracking, RegAlloc::SinglePass] {
        let f = compile_with(tape, &Options { regalloc }).unwrap();
        assert_eq!((f.n_inputs(), f.n_outputs()), (tape.n_inputs(), m));
        let mut got = vec![vec![0.0; n]; m];
        {
            let mut outs: Vec<&mut [f64]> = got.iter_mut().map(Vec::as_mut_slice).collect();
            f.eval_columns(&refs, &mut outs);
        }
        let mut flat = vec![0.0; m * n];
        f.eval_column_major(&cols.concat(), &mut flat).unwrap();
        let mut s = vec![0.0; m];
        for i in 0..n {
            let point: Vec<f64> = cols.iter().map(|c| c[i]).collect();
            let reference = tape.eval_point(&point);
            f.eval(&point, &mut s);
            for k in 0..m {
                let eq = if loose(k) { same } else { bits };
                let msg = || {
                    format!(
                        "{regalloc:?}, output {k} ({:?}) at {point:?}: reference {:e} ({:#x}), interp {:e}, scalar {:e} ({:#x}), bulk {:e}, flat {:e}",
                        tape.ops()[tape.outputs()[k] as usize],
                        reference[k],
                        reference[k].to_bits(),
                        want[k][i],
                        s[k],
                        s[k].to_bits(),
                        got[k][i],
                        flat[k * n + i]
                    )
                };
                assert!(eq(reference[k], want[k][i]), "{}", msg());
                assert!(eq(reference[k], s[k]), "{}", msg());
                assert!(bits(s[k], got[k][i]), "{}", msg());
                assert!(bits(s[k], flat[k * n + i]), "{}", msg());
            }
        }
    }
}

/// All (x, y) pairs of `POINTS` as two columns.
fn pairs() -> Vec<Vec<f64>> {
    let mut cols = vec![Vec::new(), Vec::new()];
    for a in POINTS {
        for b in POINTS {
            cols[0].push(a);
            cols[1].push(b);
        }
    }
    cols
}

/// Every unary function of x and every binary function of (x, y), as one
/// tape with an output per function.
fn all_functions_tape() -> Tape {
    let mut ops = vec![Op::Input(0), Op::Input(1)];
    ops.extend(UnaryFn::ALL.map(|f| Op::Unary(f, 0)));
    ops.extend(BinaryFn::ALL.map(|f| Op::Binary(f, 0, 1)));
    let outputs = (2..ops.len() as Reg).collect();
    Tape::new(2, ops, outputs).unwrap()
}

/// Whether output `k` of [`all_functions_tape`] is min or max.
fn is_min_max(k: usize) -> bool {
    k >= UnaryFn::ALL.len()
        && matches!(
            BinaryFn::ALL[k - UnaryFn::ALL.len()],
            BinaryFn::Min | BinaryFn::Max
        )
}

#[test]
fn every_function_bit_for_bit_at_special_inputs() {
    check(&all_functions_tape(), &pairs(), is_min_max);
}

/// One function per tape (one output) computes the same bits as the same
/// function among many outputs.
#[test]
fn one_output_equals_many_outputs() {
    let all = all_functions_tape();
    let all_f = compile(&all).unwrap();
    let cols = pairs();
    let n = cols[0].len();
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let mut many = vec![vec![0.0; n]; all.n_outputs()];
    {
        let mut outs: Vec<&mut [f64]> = many.iter_mut().map(Vec::as_mut_slice).collect();
        all_f.eval_columns(&refs, &mut outs);
    }
    for (k, &r) in all.outputs().iter().enumerate() {
        let op = all.ops()[r as usize];
        let one = Tape::new(2, vec![Op::Input(0), Op::Input(1), op], vec![2]).unwrap();
        let f = compile(&one).unwrap();
        let mut out = vec![0.0; n];
        f.eval_columns(&refs, &mut [&mut out]);
        for i in 0..n {
            assert!(bits(out[i], many[k][i]), "{op:?} at point {i}");
            assert!(bits(f.eval_scalar(&[cols[0][i], cols[1][i]]), out[i]));
        }
    }
}

/// Functions along a sweep of ordinary values (where most of libm's code
/// paths are), bit for bit.
#[test]
fn every_function_bit_for_bit_on_sweep() {
    let xs: Vec<f64> = (0..6001).map(|i| (i as f64 - 3000.0) * 0.0123).collect();
    let ys: Vec<f64> = xs.iter().map(|v| 2.1 - v * 0.37).collect();
    check(&all_functions_tape(), &[xs, ys], is_min_max);
}

/// Comparisons give exactly 1.0 or 0.0; with a NaN operand every one is
/// false except `Ne`; -0 equals +0.
#[test]
fn comparisons_follow_ieee() {
    let mut ops = vec![Op::Input(0), Op::Input(1)];
    ops.extend(CmpOp::ALL.map(|k| Op::Cmp(k, 0, 1)));
    let tape = Tape::new(2, ops, (2..8).collect()).unwrap();
    check(&tape, &pairs(), |_| false);
    let f = compile(&tape).unwrap();
    let mut out = [0.0; 6];
    let nan = f64::NAN;
    for (x, y) in [(nan, 1.0), (1.0, nan), (nan, nan), (-nan, f64::INFINITY)] {
        f.eval(&[x, y], &mut out);
        // Lt Le Gt Ge Eq Ne
        assert_eq!(out, [0.0, 0.0, 0.0, 0.0, 0.0, 1.0], "({x}, {y})");
    }
    f.eval(&[-0.0, 0.0], &mut out);
    assert_eq!(out, [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
    f.eval(&[f64::NEG_INFINITY, -f64::MAX], &mut out);
    assert_eq!(out, [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    f.eval(&[5e-324, 0.0], &mut out);
    assert_eq!(out, [0.0, 0.0, 1.0, 1.0, 0.0, 1.0]);
    for v in out {
        assert!(v.to_bits() == 1f64.to_bits() || v.to_bits() == 0f64.to_bits());
    }
}

/// `Select(c, a, b)` is `a` exactly when `c != 0` (NaN included, ±0 not),
/// returning the chosen operand's bits (NaN payloads included), whether the
/// condition is a comparison or any value.
#[test]
fn select_on_values_and_comparisons() {
    let ops = vec![
        Op::Input(0),
        Op::Input(1),
        Op::Input(2),
        // Any value as the condition.
        Op::Select(0, 1, 2),
        // A comparison as the condition (its truth value reused).
        Op::Cmp(CmpOp::Lt, 0, 1),
        Op::Select(4, 1, 2),
        Op::Cmp(CmpOp::Ne, 0, 2),
        Op::Select(6, 2, 0),
        // The condition as a value too, and a select of a select.
        Op::Select(0, 0, 3),
        Op::Select(5, 7, 8),
        // A comparison's result as an operand of arithmetic.
        Op::Add(4, 6),
    ];
    let tape = Tape::new(3, ops, vec![3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
    let vals = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff8_0000_0000_0042),
        f64::INFINITY,
        5e-324,
        2.5,
    ];
    let mut cols = vec![Vec::new(), Vec::new(), Vec::new()];
    for a in vals {
        for b in vals {
            for c in vals {
                cols[0].push(a);
                cols[1].push(b);
                cols[2].push(c);
            }
        }
    }
    check(&tape, &cols, |_| false);
    let f = compile(&tape).unwrap();
    let sel = |c: f64, a: f64, b: f64| {
        let mut out = [0.0; 8];
        f.eval(&[c, a, b], &mut out);
        out[0]
    };
    assert_eq!(sel(0.0, 1.0, 2.0), 2.0);
    assert_eq!(sel(-0.0, 1.0, 2.0), 2.0);
    assert_eq!(sel(f64::NAN, 1.0, 2.0), 1.0);
    assert_eq!(sel(5e-324, 1.0, 2.0), 1.0);
    let payload = f64::from_bits(0x7ff8_0000_0000_0042);
    assert_eq!(sel(1.0, payload, 2.0).to_bits(), payload.to_bits());
}

/// Conditions built in the core (comparisons, And/Or/Not, where,
/// piecewise) and the functions lowered to Cmp/Select (sign, Mod), at all
/// pairs of special values.
#[test]
fn lowered_conditions_sign_and_mod() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let lt = p.func(Func::Lt, &[x, y]).unwrap();
    let ge = p.func(Func::Ge, &[x, p.integer(0).unwrap()]).unwrap();
    let ne = p.func(Func::Ne, &[x, x]).unwrap(); // true only for NaN
    let and = p.func(Func::And, &[lt, ge]).unwrap();
    let or = p.func(Func::Or, &[lt, ne]).unwrap();
    let not = p.func(Func::Not, &[and]).unwrap();
    let sq = p.mul(&[x, x]).unwrap();
    let exprs = [
        p.select(lt, x, y).unwrap(),
        p.select(and, sq, y).unwrap(),
        p.select(or, p.func(Func::Sin, &[x]).unwrap(), y).unwrap(),
        p.select(not, x, p.neg(y).unwrap()).unwrap(),
        p.piecewise(&[(x, lt), (y, ge)], None).unwrap(),
        p.piecewise(&[(sq, ne)], Some(p.float(-0.0).unwrap()))
            .unwrap(),
        p.func(Func::Sign, &[x]).unwrap(),
        p.func(Func::Mod, &[x, y]).unwrap(),
        p.func(Func::Fmod, &[x, y]).unwrap(),
        p.add(&[p.select(lt, sq, y).unwrap(), sq]).unwrap(),
    ];
    let tape = lower_many(&p, &exprs, &[x, y]).unwrap();
    assert!(tape.ops().iter().any(|o| matches!(o, Op::Cmp(..))));
    assert!(tape.ops().iter().any(|o| matches!(o, Op::Select(..))));
    check(&tape, &pairs(), |_| false);
    // And one expression at a time.
    for e in exprs {
        check(&lower(&p, e, &[x, y]).unwrap(), &pairs(), |_| false);
    }
}

/// Multi-output tapes: shared subexpressions, one register as two outputs,
/// inputs and constants as outputs, and each output equal to the same
/// expression compiled alone.
#[test]
fn multi_output_shared_and_repeated() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let s = p.mul(&[p.func(Func::Sin, &[x]).unwrap(), y]).unwrap();
    let e1 = p.add(&[s, p.integer(1).unwrap()]).unwrap();
    let e2 = p.func(Func::Exp, &[s]).unwrap();
    let e3 = p.func(Func::Gamma, &[e1]).unwrap();
    let c = p.float(-2.5).unwrap();
    let exprs = [s, e1, e2, s, x, c, e3, y, e2];
    let tape = lower_many(&p, &exprs, &[x, y]).unwrap();
    assert_eq!(tape.n_outputs(), exprs.len());
    // `sin` is computed once for all outputs.
    let n_sin = tape
        .ops()
        .iter()
        .filter(|o| matches!(o, Op::Unary(UnaryFn::Sin, _)))
        .count();
    assert_eq!(n_sin, 1);
    assert_eq!(tape.outputs()[0], tape.outputs()[3]);
    let cols = columns(2, 257, 5);
    check(&tape, &cols, |_| false);
    // Output k equals expression k compiled on its own.
    let f = compile(&tape).unwrap();
    let mut out = vec![0.0; exprs.len()];
    for (k, &e) in exprs.iter().enumerate() {
        let g = compile(&lower(&p, e, &[x, y]).unwrap()).unwrap();
        assert_eq!(g.n_outputs(), 1);
        for (&a, &b) in cols[0].iter().zip(&cols[1]) {
            let point = [a, b];
            f.eval(&point, &mut out);
            assert!(
                bits(out[k], g.eval_scalar(&point)),
                "output {k} at {point:?}"
            );
        }
    }
    // The same register as every output, by hand.
    let t = Tape::new(
        1,
        vec![Op::Input(0), Op::Unary(UnaryFn::Cbrt, 0)],
        vec![1, 1, 1],
    )
    .unwrap();
    check(&t, &[POINTS.to_vec()], |_| false);
}

/// More outputs and inputs than fit the hoisted pointers (8) and the
/// stack-allocated pointer tables (16): pointers reloaded per point and
/// tables on the heap.
#[test]
fn many_outputs_and_inputs() {
    for (n_in, n_out) in [(3, 9), (2, 17), (20, 40), (1, 300)] {
        let mut ops: Vec<Op> = (0..n_in as u32).map(Op::Input).collect();
        let mut outputs = Vec::new();
        for k in 0..n_out {
            let a = (k % n_in) as Reg;
            let b = ((k * 7 + 3) % n_in) as Reg;
            let f = UnaryFn::ALL[k % UnaryFn::ALL.len()];
            ops.push(Op::Mul(a, b));
            ops.push(Op::Unary(f, ops.len() as Reg - 1));
            ops.push(Op::Cmp(CmpOp::ALL[k % 6], a, b));
            ops.push(Op::Select(ops.len() as Reg - 1, ops.len() as Reg - 2, a));
            outputs.push(ops.len() as Reg - 1);
            if k % 5 == 0 {
                outputs.push(a);
            }
        }
        let tape = Tape::new(n_in, ops, outputs).unwrap();
        check(&tape, &columns(n_in, 37, n_out as u64), |_| false);
    }
}

/// The `Evaluator` surface: arity, `eval_scalar` is the first output, and
/// wrong buffer sizes panic instead of touching memory out of bounds.
#[test]
fn evaluator_contract() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let e1 = p.func(Func::Floor, &[x]).unwrap();
    let e2 = p.func(Func::Ceil, &[x]).unwrap();
    let f: CraneliftFn = compile(&lower_many(&p, &[e1, e2], &[x]).unwrap()).unwrap();
    assert_eq!((f.n_inputs(), f.n_outputs()), (1, 2));
    assert_eq!(f.eval_scalar(&[-2.5]), -3.0);
    let mut out = [0.0; 2];
    f.eval(&[-2.5], &mut out);
    assert_eq!(out, [-3.0, -2.0]);
    let dbg = format!("{f:?}");
    assert!(dbg.contains("n_outputs: 2"), "{dbg}");
    let short = std::panic::catch_unwind(|| f.eval(&[1.0], &mut [0.0; 1]));
    assert!(short.is_err());
    let mut a = [0.0; 3];
    let mut b = [0.0; 2];
    let ragged =
        std::panic::catch_unwind(move || f.eval_columns(&[&[1.0; 3]], &mut [&mut a, &mut b]));
    assert!(ragged.is_err());
}
