//! Many-output tapes with constant outputs (a sparse Jacobian's zeros):
//! every tier compiles the computed outputs only and fills the constants
//! in, with the same bits as the whole tape; a batch into zeroed columns
//! leaves the `+0.0` outputs unwritten; disk cache entries round-trip.

use alkahest_compile::{CompileCache, CompileConfig, CompiledFn, Tier, available_tiers};
use alkahest_tape::{ConstantOutputs, Op, Tape};

/// 24 outputs over two inputs: computed ones, `+0.0`, `-0.0`, `2.5`, NaN
/// and an input, interleaved.
fn tape() -> Tape {
    let ops = vec![
        Op::Input(0),        // 0
        Op::Input(1),        // 1
        Op::Mul(0, 1),       // 2
        Op::Add(2, 0),       // 3
        Op::Const(0.0),      // 4
        Op::Const(-0.0),     // 5
        Op::Const(2.5),      // 6
        Op::Const(f64::NAN), // 7
        Op::Div(3, 1),       // 8
    ];
    let pattern = [2u32, 4, 3, 4, 4, 5, 8, 6, 4, 7, 1, 4];
    let outputs: Vec<u32> = pattern.iter().chain(pattern.iter()).copied().collect();
    Tape::new(2, ops, outputs).unwrap()
}

fn config(t: Tier) -> CompileConfig {
    CompileConfig {
        force_tier: Some(t),
        ..Default::default()
    }
}

fn columns() -> (Vec<f64>, Vec<f64>) {
    let n = 1037;
    let xs = (0..n).map(|i| -2.0 + 0.004 * i as f64).collect();
    let ys = (0..n).map(|i| 0.5 + 0.003 * (i % 101) as f64).collect();
    (xs, ys)
}

/// The batch into columns prefilled with `fill`, through `eval_columns` or
/// (`zeroed`) `eval_columns_zeroed`.
fn batch(f: &CompiledFn, fill: f64, zeroed: bool) -> Vec<Vec<f64>> {
    let (xs, ys) = columns();
    let mut outs = vec![vec![fill; xs.len()]; f.n_outputs()];
    let mut refs: Vec<&mut [f64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    if zeroed {
        f.eval_columns_zeroed(&[&xs, &ys], &mut refs).unwrap();
    } else {
        f.eval_columns(&[&xs, &ys], &mut refs).unwrap();
    }
    outs
}

fn bits(v: &[Vec<f64>]) -> Vec<Vec<u64>> {
    v.iter()
        .map(|c| c.iter().map(|x| x.to_bits()).collect())
        .collect()
}

#[test]
fn the_layout_splits_constants_off() {
    let t = tape();
    let (inner, layout) = ConstantOutputs::split(&t).unwrap();
    assert_eq!(layout.n_computed(), 8);
    assert_eq!(inner.n_outputs(), 8);
    assert!(layout.has_zeros());
    // Few outputs: compiled whole.
    let small = Tape::new(1, vec![Op::Input(0), Op::Const(0.0)], vec![0, 1]).unwrap();
    assert!(ConstantOutputs::of(&small).is_none());
}

#[test]
fn every_tier_gives_the_whole_tapes_bits() {
    let reference = CompiledFn::new(tape(), config(Tier::Interpreter));
    // The interpreter itself runs the split tape: check it against a
    // point-by-point evaluation of the whole tape.
    let want = batch(&reference, f64::NAN, false);
    let (xs, ys) = columns();
    for i in 0..xs.len() {
        let r = tape().eval_point(&[xs[i], ys[i]]);
        for (k, col) in want.iter().enumerate() {
            assert_eq!(col[i].to_bits(), r[k].to_bits(), "output {k} at point {i}");
        }
    }
    for t in available_tiers() {
        if t == Tier::Mlir {
            continue;
        }
        let f = CompiledFn::new(tape(), config(t));
        assert_eq!(f.tier(), t);
        assert!(f.skips_zero_outputs());
        assert_eq!(bits(&batch(&f, f64::NAN, false)), bits(&want), "{t:?}");
        // Zeroed columns: the same result, the +0.0 columns untouched.
        assert_eq!(bits(&batch(&f, 0.0, true)), bits(&want), "{t:?} zeroed");
        let mut s = vec![f64::NAN; f.n_outputs()];
        f.eval(&[0.75, 1.5], &mut s).unwrap();
        let r = tape().eval_point(&[0.75, 1.5]);
        assert_eq!(
            s.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            r.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{t:?} scalar"
        );
    }
}

#[test]
fn zeroed_batches_leave_zero_columns_unwritten() {
    let f = CompiledFn::new(tape(), config(Tier::Interpreter));
    // Prefilled with 7.0 and called as if zeroed: the +0.0 outputs keep
    // 7.0 (proof that they were not written); every other output is set.
    let got = batch(&f, 7.0, true);
    let t = tape();
    for (k, &r) in t.outputs().iter().enumerate() {
        let zero = matches!(t.ops()[r as usize], Op::Const(c) if c.to_bits() == 0);
        assert_eq!(got[k].iter().all(|&v| v == 7.0), zero, "output {k}");
    }
}

#[test]
fn llvm_disk_entries_hold_the_split_code() {
    if !available_tiers().contains(&Tier::Llvm) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = alkahest_core::ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let xy = pool.mul(&[x, y]).unwrap();
    let zero = pool.integer(0).unwrap();
    let exprs: Vec<_> = (0..20)
        .map(|k| if k % 3 == 0 { xy } else { zero })
        .collect();
    let cfg = config(Tier::Llvm);
    let first = CompileCache::with_dir(dir.path()).unwrap();
    let f = first.compile_many(&pool, &exprs, &[x, y], &cfg).unwrap();
    let again = CompileCache::with_dir(dir.path()).unwrap();
    let g = again.compile_many(&pool, &exprs, &[x, y], &cfg).unwrap();
    assert_eq!(again.stats().disk_hits, 1);
    let mut a = vec![f64::NAN; 20];
    let mut b = vec![f64::NAN; 20];
    f.eval(&[1.5, -2.0], &mut a).unwrap();
    g.eval(&[1.5, -2.0], &mut b).unwrap();
    assert_eq!(a, b);
    assert_eq!(a[0], -3.0);
    assert_eq!(a[1], 0.0);
}
