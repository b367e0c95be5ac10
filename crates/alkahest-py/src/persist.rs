//! Pool persistence (`save`/`load`, `to_bytes`/`from_bytes`) and pickling of
//! `Expr`, `CompileConfig`, `CompiledFn` and `CompileCache` (directory and statistics).
//!
//! An `Expr` pickles as the bytes of its sub-DAG plus a token naming its
//! pool; unpickling maps each token to one pool of the receiving process
//! (`alkahest._pickle`), so expressions pickled together stay combinable,
//! and unpickling in the process that pickled them returns the original pool.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use alkahest_core::{ExprPool, Written};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::compile::{PyCompileCache, PyCompileConfig, PyCompiledFn};
use crate::errors::{Error, R};
use crate::expr::{PyExpr, PyExprPool};

/// Ids and written forms of `exprs` (all from `pool`), or None for "the
/// whole pool".
fn roots(
    pool: &ExprPool,
    exprs: Option<&Bound<'_, PyAny>>,
) -> R<Option<(Vec<alkahest_core::ExprId>, Vec<Written>)>> {
    let Some(obj) = exprs.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let mut ids = Vec::new();
    let mut written = Vec::new();
    for e in obj
        .try_iter()
        .map_err(|_| Error::Conversion("exprs must be a sequence of Expr".into()))?
    {
        let e = e?;
        let e = e
            .cast::<PyExpr>()
            .map_err(|_| Error::Conversion("exprs must be a sequence of Expr".into()))?;
        if e.get().pool.id() != pool.id() {
            return Err(alkahest_core::Error::PoolMismatch.into());
        }
        ids.push(e.get().id);
        written.push(e.get().written.clone());
    }
    Ok(Some((ids, written)))
}

fn encode(
    pool: &ExprPool,
    roots: Option<(Vec<alkahest_core::ExprId>, Vec<Written>)>,
) -> R<Vec<u8>> {
    match roots {
        None => Ok(alkahest_persist::pool_to_bytes(pool)),
        Some((ids, written)) => {
            alkahest_persist::to_bytes_written(pool, &ids, &written).map_err(Error::from)
        }
    }
}

/// Loaded expressions with their written forms, as Python objects.
fn loaded(pool: &ExprPool, items: Vec<(alkahest_core::ExprId, Written)>) -> Vec<PyExpr> {
    items
        .into_iter()
        .map(|(id, written)| PyExpr {
            pool: pool.clone(),
            id,
            written,
        })
        .collect()
}

#[pymethods]
impl PyExprPool {
    /// Serialize the whole pool, or the sub-DAG of `exprs`, to bytes
    /// (versioned, checksummed, sharing kept; see docs/persistence-format.md).
    #[pyo3(signature = (exprs=None))]
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
        exprs: Option<&Bound<'py, PyAny>>,
    ) -> R<Bound<'py, PyBytes>> {
        let ids = roots(&self.pool, exprs)?;
        let data = py.detach(|| encode(&self.pool, ids))?;
        Ok(PyBytes::new(py, &data))
    }

    /// Write `to_bytes(exprs)` to `path` atomically.
    #[pyo3(signature = (path, exprs=None))]
    fn save(
        &self,
        py: Python<'_>,
        path: std::path::PathBuf,
        exprs: Option<&Bound<'_, PyAny>>,
    ) -> R<()> {
        let ids = roots(&self.pool, exprs)?;
        py.detach(|| {
            let data = encode(&self.pool, ids)?;
            alkahest_persist::write_atomic(&path, &data).map_err(Error::from)
        })
    }

    /// A new pool holding what `data` (from `to_bytes`) describes.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> R<PyExprPool> {
        let (pool, _) = py
            .detach(|| alkahest_persist::from_bytes(data))
            .map_err(Error::from)?;
        Ok(PyExprPool { pool })
    }

    /// A new pool loaded from a file written by `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> R<PyExprPool> {
        let (pool, _) = py
            .detach(|| alkahest_persist::load(&path))
            .map_err(Error::from)?;
        Ok(PyExprPool { pool })
    }

    /// Load `data` into this pool (all or nothing) and return its saved
    /// expressions, in the order they were given to `to_bytes`.
    fn exprs_from_bytes(&self, py: Python<'_>, data: &[u8]) -> R<Vec<PyExpr>> {
        let items = py
            .detach(|| alkahest_persist::load_into_written(&self.pool, data))
            .map_err(Error::from)?;
        Ok(loaded(&self.pool, items))
    }

    /// Load a file written by `save` into this pool; returns its expressions.
    fn load_exprs(&self, py: Python<'_>, path: std::path::PathBuf) -> R<Vec<PyExpr>> {
        let items = py
            .detach(|| alkahest_persist::load_file_into_written(&self.pool, &path))
            .map_err(Error::from)?;
        Ok(loaded(&self.pool, items))
    }

    /// A token naming this pool across pickling (unique per process and pool).
    #[getter]
    fn _pickle_token(&self) -> String {
        pool_token(&self.pool)
    }
}

fn pool_token(pool: &ExprPool) -> String {
    static NONCE: OnceLock<u64> = OnceLock::new();
    let nonce = NONCE.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    });
    format!("{nonce:016x}:{}", pool.id().0)
}

#[pymethods]
impl PyExpr {
    fn __reduce__<'py>(&self, py: Python<'py>) -> R<Bound<'py, PyTuple>> {
        let m = py.import("alkahest._pickle")?;
        let token = pool_token(&self.pool);
        m.getattr("_register")?.call1((
            token.clone(),
            PyExprPool {
                pool: self.pool.clone(),
            },
        ))?;
        // The pool format keeps the written form beside the canonical one.
        let data = alkahest_persist::to_bytes_written(
            &self.pool,
            &[self.id],
            std::slice::from_ref(&self.written),
        )
        .map_err(Error::from)?;
        let args = (token, PyBytes::new(py, &data))
            .into_pyobject(py)?
            .into_any();
        Ok(PyTuple::new(py, [m.getattr("_rebuild_expr")?, args])?)
    }
}

#[pymethods]
impl PyCompileConfig {
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let cls = py.import("alkahest")?.getattr("CompileConfig")?;
        let c = &self.inner;
        let args = (
            c.expected_evals,
            c.force_tier.map(|t| t.name()),
            c.optimize.name(),
            c.fast_math,
            c.wait,
            PyCompileConfig { inner: c.clone() }.domain(py)?,
            c.exact_math,
        );
        PyTuple::new(py, [cls, args.into_pyobject(py)?.into_any()])
    }
}

#[pymethods]
impl PyCompiledFn {
    /// Pickles as (expression, variables, config); unpickling recompiles
    /// through `alkahest._pickle`'s process-wide CompileCache.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let m = py.import("alkahest._pickle")?;
        let expr = crate::compile::nest_written(
            py,
            &self.src.pool,
            &self.src.exprs,
            Some(&self.src.written),
            self.out_shape(),
        )?;
        let vars: Vec<PyExpr> = PyExpr::list(&self.src.pool, &self.src.vars);
        let cfg = Py::new(
            py,
            PyCompileConfig {
                inner: self.f.config().clone(),
            },
        )?;
        let args = (expr, vars, cfg).into_pyobject(py)?;
        PyTuple::new(py, [m.getattr("_rebuild_fn")?, args.into_any()])
    }
}

#[pymethods]
impl PyCompileCache {
    /// Pickles its directory and statistics; compiled code stays in the
    /// process (the directory, if any, is what carries it to another one).
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let m = py.import("alkahest._pickle")?;
        let s = self.inner.stats();
        let counters = (
            s.memory_hits,
            s.disk_hits,
            s.compiles,
            s.disk_rejects,
            s.disk_errors,
            s.disk_writes,
        );
        let path = self.inner.dir().map(|d| d.to_path_buf());
        let args = (s.hits, s.compiles, path, counters).into_pyobject(py)?;
        PyTuple::new(py, [m.getattr("_rebuild_cache")?, args.into_any()])
    }

    /// Restore counters (used by unpickling).
    fn _restore_stats(
        &self,
        memory_hits: u64,
        disk_hits: u64,
        compiles: u64,
        disk_rejects: u64,
        disk_errors: u64,
        disk_writes: u64,
    ) {
        self.inner.restore_stats(&alkahest_compile::CacheStats {
            hits: memory_hits + disk_hits,
            memory_hits,
            disk_hits,
            compiles,
            disk_rejects,
            disk_errors,
            disk_writes,
        });
    }
}

pub(crate) fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
