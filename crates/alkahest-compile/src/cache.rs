//! Compile cache keyed by content: in memory, and optionally on disk in a
//! directory that any number of processes may share.
//!
//! Lookup order is memory, then disk, then compiling (whose result is then
//! written to disk). A disk entry holds the tape after rewriting and
//! lowering, the rewrite report, the fallback notes and, for the LLVM tier,
//! the object code; so a disk hit skips the e-graph, lowering and LLVM code
//! generation. Cranelift and the interpreter rebuild their (cheap) code from
//! the stored tape; MLIR recompiles from the rewritten expression. Only the
//! tier chosen at compile time is stored: an interpreter-tier function that
//! a large batch later upgrades to native code upgrades in each process.
//!
//! Entries that fail any check (checksum, key, payload version, library
//! version, CPU features, tape validity, object linking) are deleted,
//! counted in [`CacheStats::disk_rejects`] and rebuilt — never executed.
//! Disk failures (unwritable directory, full disk) never fail a compile:
//! they are counted in [`CacheStats::disk_errors`] and noted on the
//! returned function (`CompiledFn::notes`), and the cache compiles instead.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use alkahest_core::{ContentKey, ExprId, ExprPool, Written};
use alkahest_persist::DiskCache;
use alkahest_tape::Evaluator;
use hashbrown::HashMap;

use crate::config::{CompileConfig, Tier};
use crate::entry::{self, EntryRef, Reject};
use crate::error::{Error, Result};
use crate::fallback::Note;
use crate::function::CompiledFn;
use crate::plan::Plan;
use crate::tiers::Source;

/// What identifies a compiled function: the expressions' structure (one
/// per output, in order), the variables' structure in order, and the
/// configuration. Content keys do not
/// depend on the pool, so equal expressions from different pools share an
/// entry, and a different variable order is a different entry.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CacheKey {
    exprs: Vec<ContentKey>,
    vars: Vec<ContentKey>,
    config: CompileConfig,
    /// The written forms' keys, when they change what is compiled (see
    /// `effective_written`).
    written: Option<Vec<ContentKey>>,
}

impl CacheKey {
    /// Build the key of (`exprs`, `vars`, `config`).
    pub fn new(
        pool: &ExprPool,
        exprs: &[ExprId],
        vars: &[ExprId],
        config: &CompileConfig,
    ) -> Result<Self> {
        Self::with_written(pool, exprs, None, vars, config)
    }

    /// The key of (`exprs` written as `written`, `vars`, `config`): equal to
    /// [`CacheKey::new`]'s unless a written form differs from its canonical
    /// expression and `config` reads it (see [`crate::compile_written`]).
    pub fn with_written(
        pool: &ExprPool,
        exprs: &[ExprId],
        written: Option<&[Written]>,
        vars: &[ExprId],
        config: &CompileConfig,
    ) -> Result<Self> {
        let written = match crate::effective_written(exprs, written, config)? {
            Some(w) => Some(Written::content_keys(pool, w)?),
            None => None,
        };
        let v = pool.view();
        let key = |id: ExprId| {
            v.get(id)
                .map(|_| v.key(id))
                .ok_or(alkahest_core::Error::UnknownId(id.0))
        };
        Ok(CacheKey {
            exprs: exprs
                .iter()
                .map(|&e| key(e))
                .collect::<std::result::Result<_, _>>()?,
            vars: vars
                .iter()
                .map(|&x| key(x))
                .collect::<std::result::Result<_, _>>()?,
            config: config.clone(),
            written,
        })
    }
}

/// Counters of a [`CompileCache`] (this process only).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CacheStats {
    /// Lookups answered without compiling: `memory_hits + disk_hits`.
    pub hits: u64,
    /// Lookups answered from memory.
    pub memory_hits: u64,
    /// Lookups answered by loading a disk entry.
    pub disk_hits: u64,
    /// Lookups that compiled.
    pub compiles: u64,
    /// Disk entries found stale or corrupted: deleted and rebuilt.
    pub disk_rejects: u64,
    /// Disk reads or writes that failed (the lookup compiled instead).
    pub disk_errors: u64,
    /// Entries written to disk.
    pub disk_writes: u64,
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

/// The disk side: the store, and the environment every key and payload is
/// tied to (computed once: CPU detection is not free).
struct Disk {
    store: DiskCache,
    library_version: String,
    cpu_features: String,
}

#[derive(Default)]
struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    compiles: AtomicU64,
    disk_rejects: AtomicU64,
    disk_errors: AtomicU64,
    disk_writes: AtomicU64,
}

/// Memoizes compilation by [`CacheKey`], in memory and optionally in a
/// directory ([`CompileCache::with_dir`]). Thread-safe; compilation happens
/// outside the lock, so two threads (or processes) racing on one key may
/// both compile, and the first result is kept (on disk: the last write,
/// which is equivalent).
#[derive(Default)]
pub struct CompileCache {
    map: Mutex<HashMap<CacheKey, Arc<CompiledFn>>>,
    disk: Option<Disk>,
    counters: Counters,
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache")
            .field("dir", &self.dir())
            .field("entries", &self.len())
            .field("stats", &self.stats())
            .finish()
    }
}

impl CompileCache {
    /// An empty in-memory cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache backed by the directory `dir` (created if missing), so that
    /// other processes using the same directory reuse what this one
    /// compiled. Fails only if the directory cannot be created or is not a
    /// directory; later disk failures degrade to compiling.
    pub fn with_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Self::with_dir_env(
            dir.as_ref(),
            alkahest_persist::library_version().to_owned(),
            alkahest_persist::cpu_features(),
        )
    }

    /// [`CompileCache::with_dir`] with the library version and CPU features
    /// given (tests simulate another release or machine with it).
    fn with_dir_env(dir: &Path, library_version: String, cpu_features: String) -> Result<Self> {
        let err = |reason: String| Error::CacheDir {
            path: dir.to_path_buf(),
            reason,
        };
        let store = DiskCache::open(dir).map_err(|e| err(e.to_string()))?;
        if !dir.is_dir() {
            return Err(err("not a directory".into()));
        }
        Ok(CompileCache {
            disk: Some(Disk {
                store,
                library_version,
                cpu_features,
            }),
            ..Self::default()
        })
    }

    /// The cache directory, if this cache has one.
    pub fn dir(&self) -> Option<&Path> {
        self.disk.as_ref().map(|d| d.store.dir())
    }

    /// Where the disk entry of (`expr`, `vars`, `config`) lives (whether or
    /// not it exists); `None` without a directory. For tools and tests.
    pub fn entry_path(
        &self,
        pool: &ExprPool,
        expr: ExprId,
        vars: &[ExprId],
        config: &CompileConfig,
    ) -> Result<Option<PathBuf>> {
        let key = CacheKey::new(pool, &[expr], vars, config)?;
        Ok(self
            .disk
            .as_ref()
            .map(|d| d.store.entry_path(&disk_key(d, &key))))
    }

    /// Return the cached function for the key — from memory, else from
    /// disk — or compile it, remember it, and write it to disk.
    pub fn compile(
        &self,
        pool: &ExprPool,
        expr: ExprId,
        vars: &[ExprId],
        config: &CompileConfig,
    ) -> Result<Arc<CompiledFn>> {
        self.compile_many(pool, &[expr], vars, config)
    }

    /// [`CompileCache::compile`] for a function with an output per
    /// expression (see [`crate::compile_many`]).
    pub fn compile_many(
        &self,
        pool: &ExprPool,
        exprs: &[ExprId],
        vars: &[ExprId],
        config: &CompileConfig,
    ) -> Result<Arc<CompiledFn>> {
        self.compile_written(pool, exprs, None, vars, config)
    }

    /// [`CompileCache::compile_many`] for expressions whose written form is
    /// known (see [`crate::compile_written`]); the written form is part of
    /// the key only where it changes what is compiled.
    pub fn compile_written(
        &self,
        pool: &ExprPool,
        exprs: &[ExprId],
        written: Option<&[Written]>,
        vars: &[ExprId],
        config: &CompileConfig,
    ) -> Result<Arc<CompiledFn>> {
        let key = CacheKey::with_written(pool, exprs, written, vars, config)?;
        if let Some(f) = self.lock().get(&key) {
            self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::clone(f));
        }
        let Some(disk) = &self.disk else {
            let f = Arc::new(crate::compile_keeping(pool, exprs, written, vars, config, false)?.0);
            self.counters.compiles.fetch_add(1, Ordering::Relaxed);
            return Ok(self.remember(key, f));
        };
        let dkey = disk_key(disk, &key);
        let mut notes = Vec::new();
        match disk.store.get(&dkey) {
            Ok(Some(bytes)) => match load(disk, &bytes, pool, exprs, vars, config) {
                Ok(f) => {
                    self.counters.disk_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(self.remember(key, Arc::new(f)));
                }
                Err(_why) => {
                    self.counters.disk_rejects.fetch_add(1, Ordering::Relaxed);
                    let _ = disk.store.remove(&dkey);
                }
            },
            Ok(None) => {}
            Err(e) => {
                self.counters.disk_errors.fetch_add(1, Ordering::Relaxed);
                notes.push(format!(
                    "compile cache: reading an entry failed ({e}); compiling instead"
                ));
            }
        }
        let (f, object) = crate::compile_keeping(pool, exprs, written, vars, config, true)?;
        self.counters.compiles.fetch_add(1, Ordering::Relaxed);
        let rewrite = f
            .rewrite()
            .and_then(|rw| entry::rewrite_expr_bytes(pool, rw).map(|b| (b, rw)));
        let notes_before = f.notes();
        let payload = entry::encode(&EntryRef {
            library_version: &disk.library_version,
            cpu_features: &disk.cpu_features,
            tier: f.compiled_tier(),
            tape: f.tape(),
            notes: &notes_before,
            rewrite: rewrite.as_ref().map(|(b, rw)| (b.as_slice(), *rw)),
            object: object.as_deref(),
        });
        // An LLVM function whose object was not kept cannot be stored
        // faithfully; `compile_keeping` always keeps it, so this is a guard.
        let storable = (f.compiled_tier() == Tier::Llvm) == object.is_some();
        if storable && (f.rewrite().is_none() || rewrite.is_some()) {
            match disk.store.put(&dkey, &payload) {
                Ok(()) => {
                    self.counters.disk_writes.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.counters.disk_errors.fetch_add(1, Ordering::Relaxed);
                    notes.push(format!(
                        "compile cache: writing an entry failed ({e}); this function is not persisted"
                    ));
                }
            }
        }
        for n in notes {
            f.add_note(n);
        }
        Ok(self.remember(key, Arc::new(f)))
    }

    /// Insert unless another thread got there first; return the kept one.
    fn remember(&self, key: CacheKey, f: Arc<CompiledFn>) -> Arc<CompiledFn> {
        Arc::clone(self.lock().entry(key).or_insert(f))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Arc<CompiledFn>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current counters. `disk_rejects` includes entries the store itself
    /// found damaged (bad checksum, header or key) and deleted.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let memory_hits = c.memory_hits.load(Ordering::Relaxed);
        let disk_hits = c.disk_hits.load(Ordering::Relaxed);
        let evicted = self.disk.as_ref().map_or(0, |d| d.store.stats().evicted);
        CacheStats {
            hits: memory_hits + disk_hits,
            memory_hits,
            disk_hits,
            compiles: c.compiles.load(Ordering::Relaxed),
            disk_rejects: c.disk_rejects.load(Ordering::Relaxed) + evicted,
            disk_errors: c.disk_errors.load(Ordering::Relaxed),
            disk_writes: c.disk_writes.load(Ordering::Relaxed),
        }
    }

    /// Number of functions cached in memory.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is cached in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Set the counters (e.g. after unpickling statistics). `hits` is
    /// derived, so only its parts are read.
    pub fn restore_stats(&self, s: &CacheStats) {
        let c = &self.counters;
        let evicted = self.disk.as_ref().map_or(0, |d| d.store.stats().evicted);
        c.memory_hits.store(s.memory_hits, Ordering::Relaxed);
        c.disk_hits.store(s.disk_hits, Ordering::Relaxed);
        c.compiles.store(s.compiles, Ordering::Relaxed);
        c.disk_rejects
            .store(s.disk_rejects.saturating_sub(evicted), Ordering::Relaxed);
        c.disk_errors.store(s.disk_errors, Ordering::Relaxed);
        c.disk_writes.store(s.disk_writes, Ordering::Relaxed);
    }

    /// Forget every in-memory entry (counters and disk entries stay, so
    /// the next lookups are disk hits).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// The disk key: a hash of everything the artifact depends on. The config
/// is destructured exhaustively, so adding a field to `CompileConfig` does
/// not compile until it is part of the key.
fn disk_key(disk: &Disk, key: &CacheKey) -> alkahest_persist::CacheKey {
    let CompileConfig {
        expected_evals,
        force_tier,
        optimize,
        fast_math,
        // A libmvec build must never be served to an exact-math request.
        exact_math,
        // When the code is built, not what: the disk path always builds
        // the planned tier before storing it.
        wait: _,
        domain,
    } = &key.config;
    let config = format!(
        "evals={expected_evals:?};tier={:?};opt={};fast={fast_math};exact={exact_math};domain={}",
        force_tier.map(Tier::name),
        optimize.name(),
        domain.key_text(),
    );
    let vars: Vec<u8> = key.vars.iter().flat_map(|k| k.0.to_le_bytes()).collect();
    let exprs: Vec<u8> = key.exprs.iter().flat_map(|k| k.0.to_le_bytes()).collect();
    let written: Vec<u8> = key
        .written
        .iter()
        .flatten()
        .flat_map(|k| k.0.to_le_bytes())
        .collect();
    // Without a written form the parts (and so the keys of existing
    // entries) are as before.
    let written_part: &[&[u8]] = if key.written.is_some() {
        &[b"written", &written]
    } else {
        &[]
    };
    alkahest_persist::cache_key(
        &[
            b"alkahest-compile/fn".as_slice(),
            &entry::PAYLOAD_VERSION.to_le_bytes(),
            &exprs,
            &vars,
            config.as_bytes(),
            backends().as_bytes(),
            disk.cpu_features.as_bytes(),
            disk.library_version.as_bytes(),
        ]
        .iter()
        .copied()
        .chain(written_part.iter().copied())
        .collect::<Vec<_>>(),
    )
}

/// The backends this build contains and the dispatch policy: with the
/// config and the tape (itself fixed by the key's expressions and config),
/// they determine the plan, so which tier a compile resolves to and what it
/// emits. A change to the policy's numbers or rules starts new keys.
fn backends() -> String {
    let on: Vec<&str> = crate::features()
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
    format!("{};plan={}", on.join(","), crate::plan::policy_key())
}

/// Rebuild a function from a disk payload; `Err` means the entry must be
/// rejected (nothing from it has run).
fn load(
    disk: &Disk,
    bytes: &[u8],
    pool: &ExprPool,
    exprs: &[ExprId],
    vars: &[ExprId],
    config: &CompileConfig,
) -> std::result::Result<CompiledFn, Reject> {
    let e = entry::decode(bytes, &disk.library_version, &disk.cpu_features)?;
    if e.tape.n_inputs() != vars.len() {
        return Err("tape arity differs from the variables");
    }
    if e.tape.n_outputs() != exprs.len() {
        return Err("tape has another number of outputs");
    }
    let rewrite = match e.rewrite {
        None => None,
        Some((expr_bytes, mut rw)) => {
            let ids = alkahest_persist::load_into(pool, &expr_bytes)
                .map_err(|_| "the rewritten expressions do not load")?;
            if ids.len() != exprs.len() {
                return Err("the rewritten expressions are not one root per output");
            }
            rw.exprs = ids;
            Some(rw)
        }
    };
    let plan = Plan::for_tape(config, &e.tape);
    let evaluator: Arc<dyn Evaluator> = match e.tier {
        // The object code computes what `tiers::build_one` compiled: the
        // computed outputs, when constant ones were split off.
        Tier::Llvm => match alkahest_tape::ConstantOutputs::of(&e.tape) {
            Some(layout) => layout.clone().wrap(load_llvm(
                e.object.as_deref(),
                e.tape.n_inputs(),
                layout.n_computed(),
            )?),
            None => load_llvm(e.object.as_deref(), e.tape.n_inputs(), e.tape.n_outputs())?,
        },
        t => {
            let source = Source {
                pool: pool.clone(),
                exprs: rewrite
                    .as_ref()
                    .map_or_else(|| exprs.to_vec(), |r| r.exprs.clone()),
                vars: vars.to_vec(),
                // An MLIR entry was only stored where MLIR could serve.
                regrouped: false,
                recognize: config.optimize != crate::Optimize::None,
            };
            crate::tiers::build_one(t, &e.tape, plan.llvm, Some(&source), false)
                .map_err(|_| "the stored tier does not build")?
                .evaluator
        }
    };
    Ok(CompiledFn::from_parts(
        e.tape,
        config.clone(),
        plan,
        e.tier,
        evaluator,
        e.notes.into_iter().map(Note::from_text).collect(),
        rewrite,
    ))
}

#[cfg(feature = "jit")]
fn load_llvm(
    object: Option<&[u8]>,
    n_inputs: usize,
    n_outputs: usize,
) -> std::result::Result<Arc<dyn Evaluator>, Reject> {
    let object = object.ok_or("no object code")?;
    // SAFETY: the bytes come from a cache entry that passed the store's
    // checksum and key check and this payload's version and CPU checks, so
    // they are what `emit_object` produced for this key in a process of
    // this library version (the cache directory is trusted like any other
    // code the user runs); `load_object` itself checks the host fingerprint.
    let f =
        unsafe { alkahest_llvm::load_object(object) }.map_err(|_| "object code does not link")?;
    crate::background::upgrade_library();
    if f.n_inputs() != n_inputs || f.n_outputs() != n_outputs {
        return Err("object code has another arity");
    }
    Ok(Arc::new(f))
}

#[cfg(not(feature = "jit"))]
fn load_llvm(
    _object: Option<&[u8]>,
    _n_inputs: usize,
    _n_outputs: usize,
) -> std::result::Result<Arc<dyn Evaluator>, Reject> {
    Err("this build has no LLVM tier")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pool: &ExprPool) -> (ExprId, Vec<ExprId>) {
        let x = pool.symbol("x").unwrap();
        let s = pool.func(alkahest_core::Func::Sin, &[x]).unwrap();
        (pool.add(&[s, x]).unwrap(), vec![x])
    }

    fn cfg() -> CompileConfig {
        CompileConfig {
            force_tier: Some(Tier::Interpreter),
            ..Default::default()
        }
    }

    #[test]
    fn another_library_version_or_cpu_is_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let pool = ExprPool::new();
        let (e, v) = sample(&pool);
        let version = alkahest_persist::library_version().to_owned();
        let cpu = alkahest_persist::cpu_features();
        let old = CompileCache::with_dir_env(dir.path(), "0.0.0-old".into(), cpu.clone()).unwrap();
        old.compile(&pool, e, &v, &cfg()).unwrap();
        let other_cpu =
            CompileCache::with_dir_env(dir.path(), version.clone(), "other-cpu".into()).unwrap();
        other_cpu.compile(&pool, e, &v, &cfg()).unwrap();
        let now = CompileCache::with_dir(dir.path()).unwrap();
        now.compile(&pool, e, &v, &cfg()).unwrap();
        let s = now.stats();
        assert_eq!((s.disk_hits, s.compiles, s.disk_rejects), (0, 1, 0));
        assert_eq!(other_cpu.stats().compiles, 1);

        // An old payload planted under the current key (as if the key had
        // not covered the version) is caught by the payload's own check.
        let key = CacheKey::new(&pool, &[e], &v, &cfg()).unwrap();
        let old_disk = old.disk.as_ref().unwrap();
        let stale = old_disk
            .store
            .get(&disk_key(old_disk, &key))
            .unwrap()
            .unwrap();
        let now_disk = now.disk.as_ref().unwrap();
        now_disk
            .store
            .put(&disk_key(now_disk, &key), &stale)
            .unwrap();
        let again = CompileCache::with_dir(dir.path()).unwrap();
        let f = again.compile(&pool, e, &v, &cfg()).unwrap();
        let s = again.stats();
        assert_eq!((s.disk_hits, s.compiles, s.disk_rejects), (0, 1, 1));
        assert_eq!(f.eval_scalar(&[0.5]).unwrap(), 0.5f64.sin() + 0.5);
        // ... and replaced by a current one.
        let last = CompileCache::with_dir(dir.path()).unwrap();
        last.compile(&pool, e, &v, &cfg()).unwrap();
        assert_eq!(last.stats().disk_hits, 1);
    }

    #[test]
    fn key_covers_every_config_field() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::with_dir(dir.path()).unwrap();
        let disk = cache.disk.as_ref().unwrap();
        let pool = ExprPool::new();
        let (e, v) = sample(&pool);
        let base = CompileConfig::default();
        let variants = [
            CompileConfig {
                expected_evals: Some(1),
                ..base.clone()
            },
            CompileConfig {
                force_tier: Some(Tier::Cranelift),
                ..base.clone()
            },
            CompileConfig {
                optimize: if base.optimize == crate::Optimize::Speed {
                    crate::Optimize::Accuracy
                } else {
                    crate::Optimize::Speed
                },
                ..base.clone()
            },
            CompileConfig {
                fast_math: !base.fast_math,
                ..base.clone()
            },
            CompileConfig {
                exact_math: !base.exact_math,
                ..base.clone()
            },
        ];
        let k0 = disk_key(disk, &CacheKey::new(&pool, &[e], &v, &base).unwrap());
        for c in variants {
            let k = disk_key(disk, &CacheKey::new(&pool, &[e], &v, &c).unwrap());
            assert_ne!(k, k0, "{c:?}");
        }
    }
}
