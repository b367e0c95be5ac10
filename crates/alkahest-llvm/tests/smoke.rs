use alkahest_core::{ExprPool, Func};
use alkahest_kernel::{Evaluator, lower};
use alkahest_llvm::{LlvmOptions, compile, optimized_ir};

#[test]
fn smoke() {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let s = p.func(Func::Sin, &[x]).unwrap();
    let c = p.func(Func::Cos, &[x]).unwrap();
    let e = p.mul(&[s, c]).unwrap();
    let tape = lower(&p, e, &[x]).unwrap();
    let ir = optimized_ir(&tape, &LlvmOptions::default()).unwrap();
    println!("{ir}");
    let f = compile(&tape, &LlvmOptions::default()).unwrap();
    assert_eq!(f.eval(&[0.5]), 0.5f64.sin() * 0.5f64.cos());
    let xs: Vec<f64> = (0..1000).map(|i| i as f64 * 0.01).collect();
    let mut out = vec![0.0; 1000];
    f.eval_columns(&[&xs], &mut out);
    for i in 0..1000 {
        let w = xs[i].sin() * xs[i].cos();
        assert!((out[i] - w).abs() <= 1e-15, "{i} {} {w}", out[i]);
    }
}
