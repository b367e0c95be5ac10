//! A million points: slices, parallel batches and `ndarray` views.
//!
//!     cargo run --release -p alkahest --example batch

use std::time::Instant;

use alkahest::ndarray::Array2;
use alkahest::{Config, Pool, compile};

fn main() -> alkahest::Result<()> {
    let pool = Pool::new();
    let (x, y) = (pool.symbol("x")?, pool.symbol("y")?);
    let r = (x * x + y * y).sqrt();
    let outputs = [r.sin() / r, (-r).exp() * x.atan2(y)];
    // Tell the planner how many points are coming, so it picks a native tier.
    let config = Config {
        expected_evals: Some(1 << 20),
        ..Config::default()
    };
    let f = compile(&outputs, &[x, y], &config)?;

    let n = 1 << 20;
    let xs: Vec<f64> = (0..n).map(|i| -5.0 + 10.0 * i as f64 / n as f64).collect();
    let ys: Vec<f64> = xs.iter().map(|v| 0.5 * v + 1.0).collect();

    let t = Instant::now();
    let mut a = vec![0.0; n];
    let mut b = vec![0.0; n];
    f.eval_columns(&[&xs, &ys], &mut [&mut a, &mut b])?;
    let serial = t.elapsed();

    let t = Instant::now();
    let mut pa = vec![0.0; n];
    let mut pb = vec![0.0; n];
    f.par_eval_columns(&[&xs, &ys], &mut [&mut pa, &mut pb], None)?;
    let parallel = t.elapsed();
    assert!(a == pa && b == pb, "parallel results are bit-identical");

    // The same through ndarray: one row per input.
    let mut inputs = Array2::zeros((2, n));
    inputs
        .row_mut(0)
        .assign(&alkahest::ndarray::ArrayView1::from(&xs));
    inputs
        .row_mut(1)
        .assign(&alkahest::ndarray::ArrayView1::from(&ys));
    let out = f.eval_array(inputs.view())?;
    assert_eq!(out.row(0).as_slice(), Some(a.as_slice()));

    println!("tier {:?}, {n} points, 2 outputs", f.tier());
    println!("serial   {serial:?}");
    println!("parallel {parallel:?}");
    println!("sum of first output: {:.6}", a.iter().sum::<f64>());
    Ok(())
}
