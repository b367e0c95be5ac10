//! Several outputs, conditionals and the new functions through every tier
//! of this build and through the disk cache: each tier agrees with the
//! interpreter bit for bit on scalar calls, and on batches within the vector
//! math library's few ulps.

use alkahest_compile::{CompileCache, CompileConfig, CompiledFn, Optimize, Tier, compile_many};
use alkahest_core::{ExprId, ExprPool, Func};

/// Outputs that use every new function, comparisons, logic and `where`,
/// sharing `sin(x*y)` between them.
fn outputs(pool: &ExprPool) -> (Vec<ExprId>, Vec<ExprId>) {
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let f = |f: Func, a: &[ExprId]| pool.func(f, a).unwrap();
    let s = f(Func::Sin, &[pool.mul(&[x, y]).unwrap()]);
    let zero = pool.integer(0).unwrap();
    let cond = f(Func::And, &[f(Func::Lt, &[x, zero]), f(Func::Ne, &[y, y])]);
    let cond = f(Func::Or, &[cond, f(Func::Ge, &[s, zero])]);
    let mut outs = vec![
        pool.select(cond, s, f(Func::Erf, &[x])).unwrap(),
        pool.add(&[s, f(Func::Gamma, &[y]), f(Func::Lgamma, &[x])])
            .unwrap(),
        f(Func::Mod, &[x, y]),
        f(Func::Sign, &[s]),
        s,
    ];
    for g in [
        Func::Asinh,
        Func::Acosh,
        Func::Atanh,
        Func::Cbrt,
        Func::Exp2,
        Func::Log2,
        Func::Log10,
        Func::Erfc,
        Func::Floor,
        Func::Ceil,
        Func::Digamma,
        Func::Trigamma,
    ] {
        outs.push(f(g, &[x]));
    }
    outs.push(f(Func::Copysign, &[x, y]));
    outs.push(f(Func::Fmod, &[x, y]));
    (outs, vec![x, y])
}

fn config(t: Tier) -> CompileConfig {
    CompileConfig {
        force_tier: Some(t),
        optimize: Optimize::None,
        ..Default::default()
    }
}

const SPECIALS: [f64; 11] = [
    0.0,
    -0.0,
    0.5,
    -2.5,
    3.0,
    -4.0,
    1e300,
    -1e-300,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn points() -> (Vec<f64>, Vec<f64>) {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for &a in &SPECIALS {
        for &b in &SPECIALS {
            xs.push(a);
            ys.push(b);
        }
    }
    // A batch longer than any vector width times unrolling, with a tail.
    for i in 0..517 {
        xs.push(-6.0 + 0.023 * i as f64);
        ys.push(0.3 + 0.011 * (i % 41) as f64);
    }
    (xs, ys)
}

fn check_against(reference: &CompiledFn, f: &CompiledFn, what: &str) {
    let m = reference.n_outputs();
    assert_eq!(f.n_outputs(), m);
    let (xs, ys) = points();
    let n = xs.len();
    let mut batch = vec![vec![0.0; n]; m];
    {
        let mut outs: Vec<&mut [f64]> = batch.iter_mut().map(|c| c.as_mut_slice()).collect();
        f.eval_columns(&[&xs, &ys], &mut outs).unwrap();
    }
    let (mut want, mut got) = (vec![0.0; m], vec![0.0; m]);
    for i in 0..n {
        reference.eval(&[xs[i], ys[i]], &mut want).unwrap();
        f.eval(&[xs[i], ys[i]], &mut got).unwrap();
        for k in 0..m {
            assert!(
                same(got[k], want[k]),
                "{what}: scalar output {k} at ({}, {}): {} vs {}",
                xs[i],
                ys[i],
                got[k],
                want[k]
            );
            let b = batch[k][i];
            // Vector math routines are a few ulps off libm; outputs that
            // cancel (a sum near zero of O(1) terms) see that error in
            // absolute terms.
            let tol = 64.0 * want[k].abs().max(1.0) * f64::EPSILON;
            let close = same(b, want[k]) || (b - want[k]).abs() <= tol;
            assert!(
                close,
                "{what}: batch output {k} at ({}, {}): {b} vs {}",
                xs[i], ys[i], want[k]
            );
        }
    }
}

#[test]
fn every_tier_agrees_with_the_interpreter() {
    let pool = ExprPool::new();
    let (outs, vars) = outputs(&pool);
    let reference = compile_many(&pool, &outs, &vars, &config(Tier::Interpreter)).unwrap();
    for t in alkahest_compile::available_tiers() {
        let f = compile_many(&pool, &outs, &vars, &config(t)).unwrap();
        assert_eq!(f.tier(), t, "{:?}", f.notes());
        check_against(&reference, &f, t.name());
    }
}

#[test]
fn disk_cache_keeps_several_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let pool = ExprPool::new();
    let (outs, vars) = outputs(&pool);
    let reference = compile_many(&pool, &outs, &vars, &config(Tier::Interpreter)).unwrap();
    for t in alkahest_compile::available_tiers() {
        let first = CompileCache::with_dir(dir.path()).unwrap();
        first.compile_many(&pool, &outs, &vars, &config(t)).unwrap();
        let second = CompileCache::with_dir(dir.path()).unwrap();
        let f = second
            .compile_many(&pool, &outs, &vars, &config(t))
            .unwrap();
        assert_eq!(second.stats().disk_hits, 1, "{}", t.name());
        check_against(&reference, &f, t.name());
        // One output less is another function, not a hit.
        let fewer = second
            .compile_many(&pool, &outs[1..], &vars, &config(t))
            .unwrap();
        assert_eq!(fewer.n_outputs(), outs.len() - 1);
        assert_eq!(second.stats().disk_hits, 1);
    }
}

#[test]
fn default_compile_of_several_outputs_is_close_to_as_written() {
    let pool = ExprPool::new();
    let (outs, vars) = outputs(&pool);
    let written = compile_many(&pool, &outs, &vars, &config(Tier::Interpreter)).unwrap();
    let f = compile_many(&pool, &outs, &vars, &CompileConfig::default()).unwrap();
    let rw = f.rewrite();
    if let Some(rw) = rw {
        assert_eq!(rw.exprs.len(), outs.len());
    }
    let (mut a, mut b) = (vec![0.0; outs.len()], vec![0.0; outs.len()]);
    written.eval(&[0.7, 1.3], &mut a).unwrap();
    f.eval(&[0.7, 1.3], &mut b).unwrap();
    for (u, v) in a.iter().zip(&b) {
        assert!(
            same(*u, *v) || (u - v).abs() <= 4.0 * u.abs() * f64::EPSILON,
            "{u} vs {v}"
        );
    }
    let mut wrong = vec![0.0; outs.len() + 1];
    assert!(f.eval(&[0.7, 1.3], &mut wrong).is_err());
}
