//! In-memory compile cache keyed by content.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use alkahest_core::{ContentKey, ExprId, ExprPool};
use hashbrown::HashMap;

use crate::config::CompileConfig;
use crate::error::Result;
use crate::function::CompiledFn;

/// What identifies a compiled function: the expression's structure, the
/// variables' structure in order, and the configuration. Content keys do not
/// depend on the pool, so equal expressions from different pools share an
/// entry, and a different variable order is a different entry.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CacheKey {
    expr: ContentKey,
    vars: Vec<ContentKey>,
    config: CompileConfig,
}

impl CacheKey {
    /// Build the key of (`expr`, `vars`, `config`).
    pub fn new(
        pool: &ExprPool,
        expr: ExprId,
        vars: &[ExprId],
        config: &CompileConfig,
    ) -> Result<Self> {
        let v = pool.view();
        let key = |id: ExprId| {
            v.get(id)
                .map(|_| v.key(id))
                .ok_or(alkahest_core::Error::UnknownId(id.0))
        };
        Ok(CacheKey {
            expr: key(expr)?,
            vars: vars
                .iter()
                .map(|&x| key(x))
                .collect::<std::result::Result<_, _>>()?,
            config: config.clone(),
        })
    }
}

/// Counters of a [`CompileCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that compiled.
    pub compiles: u64,
}

impl CacheStats {
    /// hits / (hits + compiles), 0 when empty.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.compiles;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// Memoizes compilation by [`CacheKey`]. Thread-safe; compilation happens
/// outside the lock, so two threads racing on one key may both compile, and
/// the first result is kept.
#[derive(Default)]
pub struct CompileCache {
    map: Mutex<HashMap<CacheKey, Arc<CompiledFn>>>,
    hits: AtomicU64,
    compiles: AtomicU64,
}

impl CompileCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Return the cached function for the key, or compile and remember it.
    pub fn compile(
        &self,
        pool: &ExprPool,
        expr: ExprId,
        vars: &[ExprId],
        config: &CompileConfig,
    ) -> Result<Arc<CompiledFn>> {
        let key = CacheKey::new(pool, expr, vars, config)?;
        if let Some(f) = self.lock().get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::clone(f));
        }
        let f = Arc::new(crate::compile(pool, expr, vars, config)?);
        self.compiles.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::clone(self.lock().entry(key).or_insert(f)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Arc<CompiledFn>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            compiles: self.compiles.load(Ordering::Relaxed),
        }
    }

    /// Number of cached functions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Set the counters (e.g. after unpickling statistics).
    pub fn restore_stats(&self, hits: u64, compiles: u64) {
        self.hits.store(hits, Ordering::Relaxed);
        self.compiles.store(compiles, Ordering::Relaxed);
    }

    /// Forget every entry (counters stay).
    pub fn clear(&self) {
        self.lock().clear();
    }
}
