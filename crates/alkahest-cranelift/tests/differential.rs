//! The Cranelift backend against the interpreter: random expressions,
//! special values, scalar vs batch, deep chains and threads.

use alkahest_core::{ExprPool, Func};
use alkahest_cranelift::{Error, Options, RegAlloc, compile, compile_with};
use alkahest_interp::Interpreter;
use alkahest_tape::{BinaryFn, Evaluator, Op, Tape, UnaryFn, lower};
use alkahest_testkit::exprs::{COMPARISONS, binary_funcs as binary, pool, unary_funcs as unary};
use alkahest_testkit::values::columns;
use alkahest_testkit::{SPECIALS, programs, reads_nan_sign, same, tapes};
use proptest::prelude::*;

/// Compile `tape` with each register allocator and compare with the
/// interpreter and the kernel's reference (`Tape::eval_point`) on `cols`:
/// scalar per point, the bulk entry, and the flat column-major entry, for
/// every output. Returns the first mismatch.
fn compare(tape: &Tape, cols: &[Vec<f64>]) -> Result<(), String> {
    for regalloc in [RegAlloc::Backtracking, RegAlloc::SinglePass] {
        compare_with(tape, cols, &Options { regalloc })
            .map_err(|e| format!("{regalloc:?}: {e}"))?;
    }
    Ok(())
}

/// `m` output columns of `n` zeros.
fn zeros(m: usize, n: usize) -> Vec<Vec<f64>> {
    vec![vec![0.0; n]; m]
}

/// Run `f`'s bulk entry on `cols`, one column per output.
fn bulk(f: &dyn Evaluator, cols: &[&[f64]], n: usize) -> Vec<Vec<f64>> {
    let mut outs = zeros(f.n_outputs(), n);
    let mut refs: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    alkahest_tape::check_columns(f.n_inputs(), f.n_outputs(), cols, &refs).unwrap();
    f.eval_columns(cols, &mut refs);
    outs
}

fn compare_with(tape: &Tape, cols: &[Vec<f64>], options: &Options) -> Result<(), String> {
    let interp = Interpreter::new(tape);
    let jit = compile_with(tape, options).map_err(|e| e.to_string())?;
    let m = tape.n_outputs();
    if (jit.n_inputs(), jit.n_outputs()) != (tape.n_inputs(), m) {
        return Err("wrong arity".into());
    }
    let n = cols.first().map_or(4, Vec::len);
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let want = bulk(&interp, &refs, n);
    let got = bulk(&jit, &refs, n);
    let flat: Vec<f64> = cols.concat();
    let mut got_flat = vec![0.0; m * n];
    jit.eval_column_major(&flat, &mut got_flat)
        .map_err(|e| e.to_string())?;
    let mut s = vec![0.0; m];
    let mut si = vec![0.0; m];
    for i in 0..n {
        let point: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        jit.eval(&point, &mut s);
        interp.eval(&point, &mut si);
        let reference = tape.eval_point(&point);
        // Where copysign reads a NaN's sign, tiers may differ (see
        // `reads_nan_sign`); the bits checks below still apply.
        let nan_sign = reads_nan_sign(tape, &tape.registers(&point));
        for k in 0..m {
            let differs = !same(got[k][i], want[k][i])
                || !same(s[k], si[k])
                || !same(s[k], want[k][i])
                || !same(s[k], reference[k]);
            if differs && !nan_sign {
                return Err(format!(
                    "point {point:?}, output {k}: reference {r:e}, interp {want:e} / {si:e}, cranelift bulk {got:e} scalar {s:e}",
                    r = reference[k],
                    want = want[k][i],
                    si = si[k],
                    got = got[k][i],
                    s = s[k],
                ));
            }
            // Batch and scalar run the same machine code: identical bits,
            // NaN payloads included.
            if s[k].to_bits() != got[k][i].to_bits()
                || got_flat[k * n + i].to_bits() != got[k][i].to_bits()
            {
                return Err(format!(
                    "point {point:?}, output {k}: scalar {:e} != bulk {:e}",
                    s[k], got[k][i]
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: alkahest_testkit::cases(192),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_expressions_match_interpreter(
        n_vars in 1usize..=3,
        prog in programs(1..=16),
        seed in any::<u64>(),
    ) {
        let (p, vars) = pool(n_vars);
        let id = prog.build(&p, &vars);
        let tape = lower(&p, id, &vars).unwrap();
        let cols = columns(n_vars, 67, seed);
        prop_assert_eq!(compare(&tape, &cols), Ok(()), "{}", alkahest_core::to_string(&p, id));
    }

    /// Several random expressions lowered together: one tape, shared
    /// subexpressions, one output each.
    #[test]
    fn random_multi_output_expressions_match_interpreter(
        progs in proptest::collection::vec(programs(1..=12), 1..=4),
        seed in any::<u64>(),
    ) {
        let (p, vars) = pool(2);
        let ids: Vec<_> = progs.iter().map(|e| e.build(&p, &vars)).collect();
        let tape = alkahest_tape::lower_many(&p, &ids, &vars).unwrap();
        prop_assert_eq!(tape.n_outputs(), ids.len());
        let cols = columns(2, 33, seed);
        prop_assert_eq!(compare(&tape, &cols), Ok(()));
    }

    /// Hand-built tapes at the op level: every op, function and comparison,
    /// `Select` on arbitrary values, dead ops, repeated and input outputs.
    #[test]
    fn random_raw_tapes_match_reference(
        tape in tapes(0..=3, 1..=40, 1..=5),
        seed in any::<u64>(),
    ) {
        let cols = columns(tape.n_inputs(), 29, seed);
        prop_assert_eq!(compare(&tape, &cols), Ok(()), "{:?}", tape);
    }
}

/// Every function and arithmetic operator on every combination of special values.
#[test]
fn special_values_every_operation() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let z = p.symbol("z").unwrap();
    let mut exprs = vec![
        p.add(&[x, y]).unwrap(),
        p.sub(x, y).unwrap(),
        p.mul(&[x, y]).unwrap(),
        p.div(x, y).unwrap(),
        p.neg(x).unwrap(),
        p.pow(x, y).unwrap(),
        p.pow(x, p.integer(7).unwrap()).unwrap(),
        p.pow(x, p.integer(-3).unwrap()).unwrap(),
        p.pow(x, p.rational(1, 2).unwrap()).unwrap(),
        p.pow(x, p.rational(1, 3).unwrap()).unwrap(),
        p.func(Func::Fma, &[x, y, z]).unwrap(),
    ];
    for f in unary() {
        exprs.push(p.func(f, &[x]).unwrap());
    }
    for f in binary() {
        exprs.push(p.func(f, &[x, y]).unwrap());
    }
    for k in COMPARISONS {
        let c = p.func(k, &[x, y]).unwrap();
        exprs.push(p.select(c, x, z).unwrap());
    }
    // All (x, y, z) triples of specials, as columns.
    let mut cols = vec![Vec::new(), Vec::new(), Vec::new()];
    for a in SPECIALS {
        for b in SPECIALS {
            // NaN, 0.0, -0.0, -5e-324, 1.0
            for c in [0, 3, 4, 6, 13] {
                cols[0].push(a);
                cols[1].push(b);
                cols[2].push(SPECIALS[c]);
            }
        }
    }
    for e in exprs {
        let tape = lower(&p, e, &[x, y, z]).unwrap();
        if let Err(m) = compare(&tape, &cols) {
            panic!("{}: {m}", alkahest_core::to_string(&p, e));
        }
    }
}

/// min/max: NaN-propagating both ways, and -0 < +0 in either argument order.
#[test]
fn min_max_nan_and_signed_zero() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let mn = compile(&lower(&p, p.func(Func::Min, &[x, y]).unwrap(), &[x, y]).unwrap()).unwrap();
    let mx = compile(&lower(&p, p.func(Func::Max, &[x, y]).unwrap(), &[x, y]).unwrap()).unwrap();
    let neg = |v: f64| v == 0.0 && v.is_sign_negative();
    let pos = |v: f64| v == 0.0 && v.is_sign_positive();
    assert!(neg(mn.eval_scalar(&[-0.0, 0.0])) && neg(mn.eval_scalar(&[0.0, -0.0])));
    assert!(pos(mx.eval_scalar(&[-0.0, 0.0])) && pos(mx.eval_scalar(&[0.0, -0.0])));
    assert!(neg(mn.eval_scalar(&[-0.0, -0.0])) && pos(mx.eval_scalar(&[0.0, 0.0])));
    for f in [&mn, &mx] {
        assert!(f.eval_scalar(&[f64::NAN, 1.0]).is_nan());
        assert!(f.eval_scalar(&[1.0, f64::NAN]).is_nan());
        assert!(f.eval_scalar(&[f64::NAN, f64::INFINITY]).is_nan());
        assert!(f.eval_scalar(&[f64::NEG_INFINITY, f64::NAN]).is_nan());
    }
    assert_eq!(mn.eval_scalar(&[3.0, -2.0]), -2.0);
    assert_eq!(mx.eval_scalar(&[3.0, -2.0]), 3.0);
    assert_eq!(mn.eval_scalar(&[f64::NEG_INFINITY, 1.0]), f64::NEG_INFINITY);
    assert_eq!(mx.eval_scalar(&[5e-324, 0.0]), 5e-324);
}

/// `fma` rounds once: a case where separate multiply and add differ.
#[test]
fn fma_is_fused() {
    let p = ExprPool::new();
    let v: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|s| p.symbol(s).unwrap())
        .collect();
    let e = p.func(Func::Fma, &v).unwrap();
    let f = compile(&lower(&p, e, &v).unwrap()).unwrap();
    let a = 1.0 + f64::EPSILON;
    let (b, c) = (1.0 - f64::EPSILON, -1.0);
    let fused = f.eval_scalar(&[a, b, c]);
    assert_eq!(fused, a.mul_add(b, c));
    assert_ne!(fused, a * b + c);
    assert_eq!(fused, -f64::EPSILON * f64::EPSILON);
}

/// Transcendental functions call the same libm as the interpreter: bit-identical
/// across a sweep, not just on specials.
#[test]
fn functions_bit_identical_on_sweep() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let xs: Vec<f64> = (0..4001).map(|i| (i as f64 - 2000.0) * 0.0137).collect();
    let ys: Vec<f64> = xs.iter().map(|v| 1.3 - v * 0.7).collect();
    let cols = vec![xs, ys];
    for f in unary().iter().chain(&binary()) {
        let args: &[_] = if f.arity() == 1 { &[x] } else { &[x, y] };
        let e = p.func(*f, args).unwrap();
        compare(&lower(&p, e, &[x, y]).unwrap(), &cols).unwrap();
    }
    let e = p.pow(x, y).unwrap();
    compare(&lower(&p, e, &[x, y]).unwrap(), &cols).unwrap();
}

#[test]
fn constants_unused_inputs_and_zero_points() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    // Output independent of the inputs.
    let c = p.float(2.5).unwrap();
    let f = compile(&lower(&p, c, &[x, y]).unwrap()).unwrap();
    assert_eq!(f.eval_scalar(&[1.0, 2.0]), 2.5);
    let mut out = vec![0.0; 3];
    f.eval_columns(&[&[1.0; 3], &[2.0; 3]], &mut [&mut out]);
    assert_eq!(out, [2.5; 3]);
    // Zero points: nothing read or written.
    f.eval_columns(&[&[], &[]], &mut [&mut []]);
    // Output is an input; no variables at all.
    let f = compile(&lower(&p, y, &[x, y]).unwrap()).unwrap();
    assert_eq!(f.eval_scalar(&[1.0, -7.0]), -7.0);
    let f = compile(&lower(&p, c, &[]).unwrap()).unwrap();
    assert_eq!(f.eval_scalar(&[]), 2.5);
    let mut out = vec![0.0; 5];
    f.eval_columns(&[], &mut [&mut out]);
    assert_eq!(out, [2.5; 5]);
    // Several outputs, zero points and no inputs.
    let f = compile(&alkahest_tape::lower_many(&p, &[c, x], &[x]).unwrap()).unwrap();
    f.eval_columns(&[&[]], &mut [&mut [], &mut []]);
    f.eval_column_major(&[], &mut []).unwrap();
}

/// Many variables: column pointers reloaded inside the loop, heap pointer table.
#[test]
fn many_variables() {
    let p = ExprPool::new();
    let vars: Vec<_> = (0..40)
        .map(|i| p.symbol(&format!("v{i}")).unwrap())
        .collect();
    let terms: Vec<_> = vars
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let s = p.func(Func::Sin, &[v]).unwrap();
            p.mul(&[p.integer(i as i64 + 1).unwrap(), s]).unwrap()
        })
        .collect();
    let e = p.add(&terms).unwrap();
    let tape = lower(&p, e, &vars).unwrap();
    compare(&tape, &columns(40, 300, 7)).unwrap();
}

#[test]
fn column_major_shape_error() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let f = compile(&lower(&p, p.add(&[x, y]).unwrap(), &[x, y]).unwrap()).unwrap();
    let mut out = vec![0.0; 3];
    assert!(matches!(
        f.eval_column_major(&[1.0; 5], &mut out),
        Err(Error::Shape {
            expected: 6,
            got: 5
        })
    ));
    f.eval_column_major(&[1.0, 2.0, 3.0, 10.0, 20.0, 30.0], &mut out)
        .unwrap();
    assert_eq!(out, [11.0, 22.0, 33.0]);
    assert!(f.code_size() > 0);
}

/// With `m` outputs the flat output buffer is `m` contiguous columns.
#[test]
fn column_major_multi_output() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let sum = p.add(&[x, y]).unwrap();
    let prod = p.mul(&[x, y]).unwrap();
    let tape = alkahest_tape::lower_many(&p, &[sum, prod, x], &[x, y]).unwrap();
    let f = compile(&tape).unwrap();
    let data = [1.0, 2.0, 3.0, 10.0, 20.0, 30.0];
    let mut out = vec![0.0; 9];
    f.eval_column_major(&data, &mut out).unwrap();
    assert_eq!(
        out,
        [11.0, 22.0, 33.0, 10.0, 40.0, 90.0, 1.0, 2.0, 3.0],
        "output k at point i is out[k * n + i]"
    );
    // Not a whole number of columns.
    assert!(matches!(
        f.eval_column_major(&data, &mut [0.0; 8]),
        Err(Error::OutputShape {
            n_outputs: 3,
            got: 8
        })
    ));
    // Whole columns, but for 2 points where the input holds 3.
    assert!(matches!(
        f.eval_column_major(&data, &mut [0.0; 6]),
        Err(Error::Shape {
            expected: 4,
            got: 6
        })
    ));
}

/// Malformed tapes cannot reach the backend: `Tape::new` refuses them (the
/// checks this crate used to make), and well-formed hand-built tapes with
/// dead ops, repeated input reads and odd outputs compile.
#[test]
fn hand_built_tapes() {
    let bad: [(usize, Vec<Op>, Vec<u32>); 7] = [
        (
            1,
            vec![Op::Input(0), Op::Add(0, 2), Op::Const(1.0)],
            vec![1],
        ),
        (1, vec![Op::Input(0)], vec![3]),
        (2, vec![Op::Input(0), Op::Const(1.0)], vec![1]),
        (1, vec![Op::Input(0), Op::Input(4)], vec![1]),
        (0, vec![], vec![0]),
        (1, vec![Op::Input(0), Op::Unary(UnaryFn::Sin, 1)], vec![1]),
        (1, vec![Op::Input(0)], vec![]),
    ];
    for (n, ops, outs) in bad {
        assert!(
            Tape::new(n, ops.clone(), outs.clone()).is_err(),
            "{ops:?} {outs:?} was accepted"
        );
    }
    // Dead ops, an input read twice (once dead), outputs out of order.
    let t = Tape::new(
        1,
        vec![
            Op::Input(0),
            Op::Unary(UnaryFn::Exp, 0),
            Op::Const(2.0),
            Op::Binary(BinaryFn::Hypot, 0, 2),
            Op::Unary(UnaryFn::Gamma, 3),
        ],
        vec![3, 0, 3, 2],
    )
    .unwrap();
    compare(&t, &[vec![3.0, -4.0, f64::NAN, 0.0, -0.0]]).unwrap();
}

fn sin_chain(depth: usize) -> (ExprPool, alkahest_core::ExprId, alkahest_core::ExprId) {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let mut e = x;
    for _ in 0..depth {
        e = p.func(Func::Sin, &[e]).unwrap();
    }
    (p, x, e)
}

/// A 100,000-deep chain compiles (nothing recurses over depth) and agrees
/// with iterating `sin` directly.
#[test]
fn deep_chain_100k() {
    let (p, x, e) = sin_chain(100_000);
    let tape = lower(&p, e, &[x]).unwrap();
    let t = std::time::Instant::now();
    let f = compile(&tape).unwrap();
    eprintln!(
        "100k sin chain: compile {:?}, {} bytes of code",
        t.elapsed(),
        f.code_size()
    );
    let mut v = 0.5f64;
    for _ in 0..100_000 {
        v = v.sin();
    }
    assert_eq!(f.eval_scalar(&[0.5]), v);
    let mut out = [0.0; 2];
    f.eval_columns(&[&[0.5, -1.0]], &mut [&mut out]);
    assert_eq!(out[0], v);
    assert_eq!(out[1], Interpreter::new(&tape).eval_scalar(&[-1.0]));
}

/// 8 threads call one compiled function at once, scalar and bulk, with
/// three outputs (one of them `lgamma`, whose C version writes a global).
#[test]
fn one_function_many_threads() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let s = p.func(Func::Sin, &[x]).unwrap();
    let h = p.func(Func::Hypot, &[x, y]).unwrap();
    let e = p
        .add(&[
            p.mul(&[s, h]).unwrap(),
            p.pow(y, p.integer(3).unwrap()).unwrap(),
        ])
        .unwrap();
    let lg = p.func(Func::Lgamma, &[x]).unwrap();
    let tape = alkahest_tape::lower_many(&p, &[e, s, lg], &[x, y]).unwrap();
    let interp = Interpreter::new(&tape);
    let f = compile(&tape).unwrap();
    let cols = columns(2, 10_000, 99);
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let want = bulk(&interp, &refs, 10_000);
    std::thread::scope(|sc| {
        for t in 0..8 {
            let (f, refs, want) = (&f, &refs, &want);
            sc.spawn(move || {
                for round in 0..20 {
                    let got = bulk(f, refs, want[0].len());
                    for k in 0..3 {
                        assert!(got[k].iter().zip(&want[k]).all(|(a, b)| same(*a, *b)));
                    }
                    let mut out = [0.0; 3];
                    for i in (t + round..want[0].len()).step_by(97) {
                        f.eval(&[refs[0][i], refs[1][i]], &mut out);
                        for k in 0..3 {
                            assert!(same(out[k], want[k][i]));
                        }
                    }
                }
            });
        }
    });
}

/// More than 16 outputs: the bulk entry stages them in blocks of points and
/// copies each output's run to its column (a one-point block, the scalar
/// entry's, by a loop of its own). Repeated registers, constants and an
/// input among the outputs; point counts around block edges (blocks hold
/// up to 64 points, fewer with many distinct outputs).
#[test]
fn many_outputs_match_interpreter_at_block_edges() {
    for k in [17, 90, 700] {
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let y = p.symbol("y").unwrap();
        let s = p.func(Func::Sin, &[p.mul(&[x, y]).unwrap()]).unwrap();
        let outs: Vec<_> = (0..k)
            .map(|i| match i % 5 {
                0 => p.integer(0).unwrap(),
                1 => s,
                2 => y,
                3 => p.mul(&[s, p.integer(i as i64).unwrap()]).unwrap(),
                _ => p.float(i as f64 + 0.5).unwrap(),
            })
            .collect();
        let tape = alkahest_tape::lower_many(&p, &outs, &[x, y]).unwrap();
        for n in [1, 2, 5, 63, 64, 65, 129, 300] {
            let cols = columns(2, n, k as u64 + n as u64);
            assert_eq!(compare(&tape, &cols), Ok(()), "{k} outputs, {n} points");
        }
    }
}
