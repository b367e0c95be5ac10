//! Compiling expressions and calling the result.

use alkahest_compile::{CompileConfig, CompiledFn, Tier};
use alkahest_tape::check_columns;

use crate::error::{Error, Result};
use crate::expr::Expr;

/// Compile `outputs` (one or more expressions of one pool) into one native
/// function of `vars` (symbols of that pool, in argument order).
///
/// The tier ([`Tier`]) is chosen from `config` and the expression; a tier
/// that is not compiled in or fails falls back to the next one down
/// (LLVM -> Cranelift -> interpreter) and says why in
/// [`Function::notes`], so this fails only for bad inputs: no outputs,
/// expressions of different pools, or a variable that is not a symbol.
/// Subexpressions shared between outputs are computed once per point.
///
/// ```
/// use alkahest::{Config, Pool, compile};
///
/// let pool = Pool::new();
/// let (x, y) = (pool.symbol("x")?, pool.symbol("y")?);
/// let f = compile(&[x * y + 1.0, (x * y).sin()], &[x, y], &Config::default())?;
/// let out = f.call(&[2.0, 0.25])?;
/// assert_eq!(out, vec![1.5, 0.5f64.sin()]);
/// # Ok::<(), alkahest::Error>(())
/// ```
pub fn compile<'p>(
    outputs: &[Expr<'p>],
    vars: &[Expr<'p>],
    config: &CompileConfig,
) -> Result<Function> {
    let Some(first) = outputs.first() else {
        return Err(Error::Shape("compile needs at least one output".into()));
    };
    let pool = first.pool();
    if outputs
        .iter()
        .chain(vars)
        .any(|e| !std::ptr::eq(e.pool(), pool))
    {
        return Err(Error::PoolMismatch);
    }
    let exprs: Vec<_> = outputs.iter().map(|e| e.id()).collect();
    let vars: Vec<_> = vars.iter().map(|e| e.id()).collect();
    let inner = alkahest_compile::compile_many(pool.raw(), &exprs, &vars, config)?;
    Ok(Function { inner })
}

/// A compiled function: `n_inputs` numbers in, `n_outputs` numbers out,
/// for one point ([`Function::call`]) or for columns of many points
/// ([`Function::eval_columns`], [`Function::par_eval_columns`], and with
/// the `ndarray` feature [`Function::eval_array`]).
///
/// It owns its code and no longer refers to the pool; it is `Send + Sync`,
/// so one function can serve many threads.
#[derive(Debug)]
pub struct Function {
    inner: CompiledFn,
}

impl Function {
    /// Number of inputs (the `vars` it was compiled over).
    pub fn n_inputs(&self) -> usize {
        self.inner.n_inputs()
    }

    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.inner.n_outputs()
    }

    /// The tier that runs batches now (it may move up once a large batch
    /// arrives).
    pub fn tier(&self) -> Tier {
        self.inner.tier()
    }

    /// Why a tier was skipped, and other notes, oldest first.
    pub fn notes(&self) -> Vec<String> {
        self.inner.notes()
    }

    /// The lower-level compiled function.
    pub fn compiled(&self) -> &CompiledFn {
        &self.inner
    }

    /// All outputs at one point.
    pub fn call(&self, inputs: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.n_outputs()];
        self.call_into(inputs, &mut out)?;
        Ok(out)
    }

    /// All outputs at one point, into `out` (no allocation).
    pub fn call_into(&self, inputs: &[f64], out: &mut [f64]) -> Result<()> {
        Ok(self.inner.eval(inputs, out)?)
    }

    /// The first output at one point (the value of a one-output function).
    pub fn call_scalar(&self, inputs: &[f64]) -> Result<f64> {
        Ok(self.inner.eval_scalar(inputs)?)
    }

    /// Many points on the calling thread: one column per input in, one
    /// column per output out, all of one length.
    pub fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) -> Result<()> {
        let n = check_columns(self.n_inputs(), self.n_outputs(), columns, outs)?;
        self.inner.prepare_batch(n);
        Ok(self.inner.eval_columns(columns, outs)?)
    }

    /// [`Function::eval_columns`] on up to `threads` threads (`None`: one
    /// per CPU, or `RAYON_NUM_THREADS`). Results are bit-identical to the
    /// serial call. Without the `parallel` feature it runs serially.
    pub fn par_eval_columns(
        &self,
        columns: &[&[f64]],
        outs: &mut [&mut [f64]],
        threads: Option<usize>,
    ) -> Result<()> {
        let n = check_columns(self.n_inputs(), self.n_outputs(), columns, outs)?;
        self.inner.prepare_batch(n);
        let ev = self.inner.evaluator();
        Ok(alkahest_batch::par_eval_columns(
            &*ev, columns, outs, threads,
        )?)
    }

    /// [`Function::par_eval_columns`] into new columns, one per output.
    ///
    /// ```
    /// use alkahest::{Config, Pool, compile};
    ///
    /// let pool = Pool::new();
    /// let x = pool.symbol("x")?;
    /// let f = compile(&[x.powi(2)], &[x], &Config::default())?;
    /// let xs: Vec<f64> = (0..1000).map(f64::from).collect();
    /// let ys = f.eval_batch(&[&xs])?;
    /// assert_eq!(ys[0][999], 998_001.0);
    /// # Ok::<(), alkahest::Error>(())
    /// ```
    pub fn eval_batch(&self, columns: &[&[f64]]) -> Result<Vec<Vec<f64>>> {
        let n = columns.first().map_or(0, |c| c.len());
        let mut outs = vec![vec![0.0; n]; self.n_outputs()];
        let mut views: Vec<&mut [f64]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        self.par_eval_columns(columns, &mut views, None)?;
        Ok(outs)
    }
}

#[cfg(feature = "ndarray")]
mod arrays {
    use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};

    use super::Function;
    use crate::error::{Error, Result};

    impl Function {
        /// Evaluate over an array of shape `(n_inputs, n_points)` (a row per
        /// input) into a new one of shape `(n_outputs, n_points)`, in
        /// parallel with the `parallel` feature. Rows that are not
        /// contiguous are copied first.
        ///
        /// ```
        /// use alkahest::{Config, Pool, compile};
        /// use ndarray::array;
        ///
        /// let pool = Pool::new();
        /// let (x, y) = (pool.symbol("x")?, pool.symbol("y")?);
        /// let f = compile(&[x + y, x * y], &[x, y], &Config::default())?;
        /// let out = f.eval_array(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].view())?;
        /// assert_eq!(out, array![[5.0, 7.0, 9.0], [4.0, 10.0, 18.0]]);
        /// # Ok::<(), alkahest::Error>(())
        /// ```
        pub fn eval_array(&self, inputs: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
            let mut out = Array2::zeros((self.n_outputs(), inputs.ncols()));
            self.eval_array_into(inputs, out.view_mut())?;
            Ok(out)
        }

        /// [`Function::eval_array`] into `out`, of shape
        /// `(n_outputs, n_points)`.
        pub fn eval_array_into(
            &self,
            inputs: ArrayView2<'_, f64>,
            mut out: ArrayViewMut2<'_, f64>,
        ) -> Result<()> {
            if inputs.nrows() != self.n_inputs()
                || out.nrows() != self.n_outputs()
                || out.ncols() != inputs.ncols()
            {
                return Err(Error::Shape(format!(
                    "inputs of shape {:?} and outputs of shape {:?} for a function of {} \
                     input(s) and {} output(s): expected ({}, n) and ({}, n)",
                    inputs.shape(),
                    out.shape(),
                    self.n_inputs(),
                    self.n_outputs(),
                    self.n_inputs(),
                    self.n_outputs()
                )));
            }
            // Contiguous rows are read in place; others are copied once.
            let copies: Vec<Option<Vec<f64>>> = inputs
                .axis_iter(Axis(0))
                .map(|r| r.as_slice().is_none().then(|| r.to_vec()))
                .collect();
            let columns: Vec<&[f64]> = inputs
                .axis_iter(Axis(0))
                .zip(&copies)
                .map(|(r, c)| match c {
                    Some(v) => v.as_slice(),
                    None => r.to_slice().expect("checked contiguous"),
                })
                .collect();
            if out.rows().into_iter().all(|r| r.as_slice().is_some()) {
                let mut outs: Vec<&mut [f64]> = out
                    .axis_iter_mut(Axis(0))
                    .map(|r| r.into_slice().expect("checked contiguous"))
                    .collect();
                self.par_eval_columns(&columns, &mut outs, None)
            } else {
                let mut tmp = Array2::zeros(out.raw_dim());
                let mut outs: Vec<&mut [f64]> = tmp
                    .axis_iter_mut(Axis(0))
                    .map(|r| r.into_slice().expect("a new array is contiguous"))
                    .collect();
                self.par_eval_columns(&columns, &mut outs, None)?;
                out.assign(&tmp);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pool;

    #[test]
    fn bad_inputs_are_errors() {
        let pool = Pool::new();
        let x = pool.symbol("x").unwrap();
        let cfg = CompileConfig::default();
        assert!(matches!(compile(&[], &[x], &cfg), Err(Error::Shape(_))));
        let other = Pool::new();
        let y = other.symbol("y").unwrap();
        assert!(matches!(
            compile(&[x], &[y], &cfg),
            Err(Error::PoolMismatch)
        ));
        // A variable that is not a symbol.
        assert!(compile(&[x], &[x + 1], &cfg).is_err());
        let f = compile(&[x.sin()], &[x], &cfg).unwrap();
        assert!(f.call(&[1.0, 2.0]).is_err());
        let mut out = [0.0; 3];
        assert!(f.eval_columns(&[&[1.0, 2.0]], &mut [&mut out]).is_err());
    }

    #[test]
    fn batch_matches_scalar_calls_on_every_tier() {
        let pool = Pool::new();
        let (x, y) = (pool.symbol("x").unwrap(), pool.symbol("y").unwrap());
        let e = (x * y).sin() + x.powi(3) / (1.0 + y.abs());
        let xs: Vec<f64> = (0..100_000).map(|i| f64::from(i) * 1e-3).collect();
        let ys: Vec<f64> = xs.iter().map(|v| 1.0 - v).collect();
        for tier in alkahest_compile::available_tiers() {
            let cfg = CompileConfig {
                force_tier: Some(tier),
                ..Default::default()
            };
            let f = compile(&[e], &[x, y], &cfg).unwrap();
            let out = f.eval_batch(&[&xs, &ys]).unwrap();
            for i in [0, 1, 777, 99_999] {
                let want = f.call_scalar(&[xs[i], ys[i]]).unwrap();
                let got = out[0][i];
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{tier:?} at {i}: {got} vs {want}"
                );
            }
        }
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn arrays_of_any_layout() {
        use ndarray::Array2;
        let pool = Pool::new();
        let (x, y) = (pool.symbol("x").unwrap(), pool.symbol("y").unwrap());
        let f = compile(&[x - y], &[x, y], &CompileConfig::default()).unwrap();
        // Column-major input: rows are strided and get copied.
        use ndarray::ShapeBuilder;
        let a = Array2::from_shape_fn((2, 5).f(), |(i, j)| (i * 10 + j) as f64);
        let strided = a.view();
        assert!(strided.row(0).as_slice().is_none());
        let out = f.eval_array(strided).unwrap();
        assert_eq!(out.row(0).to_vec(), vec![-10.0; 5]);
        // Strided output.
        let mut o = Array2::<f64>::zeros((5, 1));
        f.eval_array_into(strided, o.view_mut().reversed_axes())
            .unwrap();
        assert_eq!(o.column(0).to_vec(), vec![-10.0; 5]);
        assert!(matches!(f.eval_array(a.t()), Err(Error::Shape(_))));
    }
}
