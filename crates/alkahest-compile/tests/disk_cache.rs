//! The on-disk compile cache: reuse across handles (as across processes),
//! per tier; damaged entries rebuilt; unusable directories degrade to
//! compiling; concurrent writers never corrupt the directory.

use std::path::Path;
use std::sync::Arc;

use alkahest_compile::{CompileCache, CompileConfig, CompiledFn, Tier};
use alkahest_core::{ExprId, ExprPool, Func};

/// `sin(k*x*y) + exp(x)/(1 + y^2) + hypot(x, y)`: every kind of tape op.
fn expr(pool: &ExprPool, k: i64) -> (ExprId, Vec<ExprId>) {
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let kk = pool.integer(k).unwrap();
    let s = pool
        .func(Func::Sin, &[pool.mul(&[kk, x, y]).unwrap()])
        .unwrap();
    let one = pool.integer(1).unwrap();
    let two = pool.integer(2).unwrap();
    let den = pool.add(&[one, pool.pow(y, two).unwrap()]).unwrap();
    let q = pool.div(pool.func(Func::Exp, &[x]).unwrap(), den).unwrap();
    let h = pool.func(Func::Hypot, &[x, y]).unwrap();
    (pool.add(&[s, q, h]).unwrap(), vec![x, y])
}

fn forced(t: Tier) -> CompileConfig {
    CompileConfig {
        force_tier: Some(t),
        ..Default::default()
    }
}

const N: usize = 1000;

fn columns() -> (Vec<f64>, Vec<f64>) {
    let xs = (0..N).map(|i| -3.0 + 6.0 * i as f64 / N as f64).collect();
    let ys = (0..N).map(|i| 2.5 - 0.37 * (i % 17) as f64).collect();
    (xs, ys)
}

/// Bit patterns of the scalar and the batch results over a grid.
fn outputs(f: &CompiledFn) -> Vec<u64> {
    let (xs, ys) = columns();
    let mut out = vec![0.0; N];
    f.eval_columns(&[&xs, &ys], &mut [&mut out]).unwrap();
    let mut bits: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
    bits.extend(
        (0..N)
            .step_by(37)
            .map(|i| f.eval_scalar(&[xs[i], ys[i]]).unwrap().to_bits()),
    );
    bits
}

fn entry_file(cache: &CompileCache, cfg: &CompileConfig) -> std::path::PathBuf {
    let pool = ExprPool::new();
    let (e, v) = expr(&pool, 3);
    cache.entry_path(&pool, e, &v, cfg).unwrap().unwrap()
}

fn tiers() -> Vec<Tier> {
    alkahest_compile::available_tiers()
        .into_iter()
        .filter(|&t| t != Tier::Mlir)
        .collect()
}

#[test]
fn second_handle_loads_every_tier_from_disk_bit_identically() {
    for tier in tiers() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = forced(tier);
        let first = CompileCache::with_dir(dir.path()).unwrap();
        let pool = ExprPool::new();
        let (e, v) = expr(&pool, 3);
        let f = first.compile(&pool, e, &v, &cfg).unwrap();
        assert_eq!(f.tier(), tier);
        let s = first.stats();
        assert_eq!(
            (s.compiles, s.disk_hits, s.disk_writes),
            (1, 0, 1),
            "{tier:?}"
        );
        assert!(entry_file(&first, &cfg).is_file());

        // Another handle with another pool: what another process sees.
        let second = CompileCache::with_dir(dir.path()).unwrap();
        let pool2 = ExprPool::new();
        pool2.symbol("unrelated").unwrap(); // different ids, same content
        let (e2, v2) = expr(&pool2, 3);
        let g = second.compile(&pool2, e2, &v2, &cfg).unwrap();
        let s = second.stats();
        assert_eq!(
            (s.compiles, s.disk_hits, s.memory_hits, s.disk_rejects),
            (0, 1, 0, 0),
            "{tier:?}"
        );
        assert_eq!(g.tier(), tier);
        assert_eq!(g.tape(), f.tape());
        assert_eq!(outputs(&g), outputs(&f), "{tier:?}");
        // A fresh compile outside any cache agrees bit for bit too.
        let fresh = alkahest_compile::compile(&pool2, e2, &v2, &cfg).unwrap();
        assert_eq!(outputs(&fresh), outputs(&g), "{tier:?}");
        // Memory now answers.
        second.compile(&pool2, e2, &v2, &cfg).unwrap();
        assert_eq!(second.stats().memory_hits, 1);
        assert_eq!(second.stats().hits, 2);
    }
}

#[test]
fn fallbacks_survive_the_disk() {
    // Tiers this build lacks fall back with a note; a disk hit reports the
    // same fallbacks, as values and as text (nothing to check in a build
    // with every tier).
    let missing = [Tier::Mlir, Tier::Llvm, Tier::Cranelift]
        .into_iter()
        .filter(|t| !alkahest_compile::available_tiers().contains(t));
    for tier in missing {
        let dir = tempfile::tempdir().unwrap();
        let pool = ExprPool::new();
        let (e, v) = expr(&pool, 3);
        let f = CompileCache::with_dir(dir.path())
            .unwrap()
            .compile(&pool, e, &v, &forced(tier))
            .unwrap();
        assert_eq!(f.fallbacks()[0].from, tier);
        let second = CompileCache::with_dir(dir.path()).unwrap();
        let g = second.compile(&pool, e, &v, &forced(tier)).unwrap();
        assert_eq!(second.stats().disk_hits, 1, "{tier:?}");
        assert_eq!(g.fallbacks(), f.fallbacks(), "{tier:?}");
        assert_eq!(g.notes(), f.notes(), "{tier:?}");
    }
}

#[test]
fn different_variable_order_or_config_is_another_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompileCache::with_dir(dir.path()).unwrap();
    let pool = ExprPool::new();
    let (e, v) = expr(&pool, 3);
    let rev: Vec<ExprId> = v.iter().rev().copied().collect();
    cache
        .compile(&pool, e, &v, &forced(Tier::Interpreter))
        .unwrap();
    let other = CompileCache::with_dir(dir.path()).unwrap();
    let f = other
        .compile(&pool, e, &rev, &forced(Tier::Interpreter))
        .unwrap();
    other
        .compile(&pool, e, &v, &CompileConfig::default())
        .unwrap();
    assert_eq!(other.stats().compiles, 2);
    assert_eq!(other.stats().disk_hits, 0);
    // Reversed order really is reversed.
    let g = cache
        .compile(&pool, e, &v, &forced(Tier::Interpreter))
        .unwrap();
    assert_eq!(
        f.eval_scalar(&[0.7, 0.2]).unwrap(),
        g.eval_scalar(&[0.2, 0.7]).unwrap()
    );
}

#[cfg(feature = "egraph")]
#[test]
fn rewrite_report_survives_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = CompileConfig {
        optimize: alkahest_compile::Optimize::Speed,
        force_tier: Some(Tier::Interpreter),
        ..Default::default()
    };
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    // x*x + 2*x*x: the optimizer folds it to 3*x^2.
    let xx = pool.mul(&[x, x]).unwrap();
    let two = pool.integer(2).unwrap();
    let e = pool.add(&[xx, pool.mul(&[two, x, x]).unwrap()]).unwrap();
    let f = CompileCache::with_dir(dir.path())
        .unwrap()
        .compile(&pool, e, &[x], &cfg)
        .unwrap();
    let pool2 = ExprPool::new();
    let x2 = pool2.symbol("x").unwrap();
    let xx2 = pool2.mul(&[x2, x2]).unwrap();
    let two2 = pool2.integer(2).unwrap();
    let e2 = pool2
        .add(&[xx2, pool2.mul(&[two2, x2, x2]).unwrap()])
        .unwrap();
    let second = CompileCache::with_dir(dir.path()).unwrap();
    let g = second.compile(&pool2, e2, &[x2], &cfg).unwrap();
    assert_eq!(second.stats().disk_hits, 1);
    let (a, b) = (f.rewrite().unwrap(), g.rewrite().unwrap());
    assert_eq!(
        pool.key(a.exprs[0]).unwrap(),
        pool2.key(b.exprs[0]).unwrap()
    );
    assert_eq!(a.rules_fired, b.rules_fired);
    assert_eq!((a.ops_before, a.ops_after), (b.ops_before, b.ops_after));
    assert_eq!(a.stop_reason, b.stop_reason);
}

/// Damage the entry with `damage`, then check a new handle rejects,
/// rebuilds (a third handle hits) and computes correctly.
fn damaged_entry_is_rebuilt(tier: Tier, damage: impl Fn(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = forced(tier);
    let pool = ExprPool::new();
    let (e, v) = expr(&pool, 3);
    let first = CompileCache::with_dir(dir.path()).unwrap();
    let f = first.compile(&pool, e, &v, &cfg).unwrap();
    let path = entry_file(&first, &cfg);
    damage(&path);

    let second = CompileCache::with_dir(dir.path()).unwrap();
    let g = second.compile(&pool, e, &v, &cfg).unwrap();
    let s = second.stats();
    assert_eq!(
        (s.disk_hits, s.disk_rejects, s.compiles, s.disk_writes),
        (0, 1, 1, 1),
        "{tier:?}"
    );
    assert_eq!(outputs(&g), outputs(&f));
    let third = CompileCache::with_dir(dir.path()).unwrap();
    third.compile(&pool, e, &v, &cfg).unwrap();
    assert_eq!(third.stats().disk_hits, 1, "rebuilt entry is reused");
}

#[test]
fn corrupted_entries_are_rebuilt_never_run() {
    for tier in tiers() {
        // A flipped byte in the payload's middle (LLVM: inside the object code).
        damaged_entry_is_rebuilt(tier, |p| {
            let mut b = std::fs::read(p).unwrap();
            let i = b.len() / 2;
            b[i] ^= 0x20;
            std::fs::write(p, b).unwrap();
        });
        damaged_entry_is_rebuilt(tier, |p| {
            let b = std::fs::read(p).unwrap();
            std::fs::write(p, &b[..b.len() - 9]).unwrap();
        });
        // Bad header: the entry version field.
        damaged_entry_is_rebuilt(tier, |p| {
            let mut b = std::fs::read(p).unwrap();
            b[8] = 0x7f;
            std::fs::write(p, b).unwrap();
        });
        damaged_entry_is_rebuilt(tier, |p| std::fs::write(p, b"").unwrap());
    }
}

#[test]
fn unusable_directory_degrades_to_compiling() {
    let dir = tempfile::tempdir().unwrap();
    // Every shard name taken by a file: reads and writes fail even for root.
    for i in 0..256 {
        std::fs::write(dir.path().join(format!("{i:02x}")), b"x").unwrap();
    }
    let cache = CompileCache::with_dir(dir.path()).unwrap();
    let pool = ExprPool::new();
    let (e, v) = expr(&pool, 3);
    let f = cache
        .compile(&pool, e, &v, &forced(Tier::Interpreter))
        .unwrap();
    let s = cache.stats();
    assert_eq!((s.compiles, s.disk_writes), (1, 0));
    assert_eq!(s.disk_errors, 2, "one failed read, one failed write");
    assert!(
        f.notes().iter().any(|n| n.contains("compile cache")),
        "{:?}",
        f.notes()
    );
    assert_eq!(f.eval_scalar(&[0.0, 0.0]).unwrap(), 1.0);
}

#[test]
fn a_file_is_not_a_cache_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let err = CompileCache::with_dir(&file).unwrap_err();
    assert!(
        matches!(err, alkahest_compile::Error::CacheDir { .. }),
        "{err}"
    );
}

#[test]
fn concurrent_handles_share_a_directory_safely() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = forced(*tiers().last().unwrap());
    let reference: Vec<Vec<u64>> = {
        let pool = ExprPool::new();
        (0..20)
            .map(|k| {
                let (e, v) = expr(&pool, k);
                outputs(
                    &alkahest_compile::compile(&pool, e, &v, &forced(Tier::Interpreter)).unwrap(),
                )
            })
            .collect()
    };
    let reference = Arc::new(reference);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let dir = dir.path().to_path_buf();
            let cfg = cfg.clone();
            let reference = Arc::clone(&reference);
            std::thread::spawn(move || {
                let cache = CompileCache::with_dir(&dir).unwrap();
                let pool = ExprPool::new();
                for j in 0..20 {
                    let k = (j + 5 * t) % 20; // different orders
                    let (e, v) = expr(&pool, k as i64);
                    let f = cache.compile(&pool, e, &v, &cfg).unwrap();
                    let got = outputs(&f);
                    // Native tiers may differ from the interpreter in the last
                    // ulps of vector libm calls; compare as floats.
                    for (a, b) in got.iter().zip(&reference[k]) {
                        let (a, b) = (f64::from_bits(*a), f64::from_bits(*b));
                        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
                    }
                }
                cache.stats()
            })
        })
        .collect();
    for h in handles {
        let s = h.join().unwrap();
        assert_eq!(s.disk_rejects, 0);
        assert_eq!(s.disk_errors, 0);
        assert_eq!(s.disk_hits + s.compiles, 20);
    }
    let last = CompileCache::with_dir(dir.path()).unwrap();
    let pool = ExprPool::new();
    for k in 0..20 {
        let (e, v) = expr(&pool, k);
        last.compile(&pool, e, &v, &cfg).unwrap();
    }
    let s = last.stats();
    assert_eq!((s.disk_hits, s.compiles, s.disk_rejects), (20, 0, 0));
    // No temporary files left behind.
    for shard in std::fs::read_dir(dir.path()).unwrap() {
        for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let name = f.unwrap().file_name();
            assert!(!name.to_string_lossy().contains(".tmp-"), "{name:?}");
        }
    }
}

/// Run only as a child of the tests below (it is `#[ignore]`d): compiles
/// expressions `k` in `ALKAHEST_CHILD_KS` through the cache directory in
/// `ALKAHEST_CHILD_DIR` and prints its counters and result bits.
#[test]
#[ignore = "child process of the multi-process tests"]
fn child_process() {
    let Ok(dir) = std::env::var("ALKAHEST_CHILD_DIR") else {
        return;
    };
    let ks: Vec<i64> = std::env::var("ALKAHEST_CHILD_KS")
        .unwrap()
        .split(',')
        .map(|k| k.parse().unwrap())
        .collect();
    let tier = Tier::parse(&std::env::var("ALKAHEST_CHILD_TIER").unwrap()).unwrap();
    let cache = CompileCache::with_dir(&dir).unwrap();
    let pool = ExprPool::new();
    let mut sums = Vec::new();
    for k in ks {
        let (e, v) = expr(&pool, k);
        let f = cache.compile(&pool, e, &v, &forced(tier)).unwrap();
        // A digest of the bit patterns: equal digests, equal results.
        let mut h = 0u64;
        for b in outputs(&f) {
            h = h.rotate_left(5) ^ b;
        }
        sums.push(format!("{k}:{h:x}"));
    }
    let s = cache.stats();
    println!(
        "CHILD disk_hits={} compiles={} disk_rejects={} disk_errors={} sums={}",
        s.disk_hits,
        s.compiles,
        s.disk_rejects,
        s.disk_errors,
        sums.join(",")
    );
}

/// Start `child_process` in a new process.
fn spawn_child(dir: &Path, tier: Tier, ks: &[i64]) -> std::process::Child {
    let ks: Vec<String> = ks.iter().map(|k| k.to_string()).collect();
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_process", "--nocapture"])
        .env("ALKAHEST_CHILD_DIR", dir)
        .env("ALKAHEST_CHILD_KS", ks.join(","))
        .env("ALKAHEST_CHILD_TIER", tier.name())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The child's `CHILD ...` line as (name, value) pairs.
fn child_report(c: std::process::Child) -> std::collections::HashMap<String, String> {
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CHILD "))
        .unwrap_or_else(|| panic!("no report in {text}"));
    line.split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn a_second_process_loads_instead_of_compiling() {
    for tier in tiers() {
        let dir = tempfile::tempdir().unwrap();
        let first = child_report(spawn_child(dir.path(), tier, &[3]));
        let second = child_report(spawn_child(dir.path(), tier, &[3]));
        assert_eq!(
            (&first["compiles"][..], &first["disk_hits"][..]),
            ("1", "0")
        );
        assert_eq!(
            (&second["compiles"][..], &second["disk_hits"][..]),
            ("0", "1"),
            "{tier:?}"
        );
        assert_eq!(first["sums"], second["sums"], "{tier:?}: bit-identical");
    }
}

#[test]
fn four_processes_race_on_one_directory() {
    let tier = *tiers().last().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let orders: Vec<Vec<i64>> = (0..4)
        .map(|w| (0..20).map(|j| (j + 5 * w) % 20).collect())
        .collect();
    let children: Vec<_> = orders
        .iter()
        .map(|ks| spawn_child(dir.path(), tier, ks))
        .collect();
    let mut sums: Option<std::collections::BTreeSet<String>> = None;
    for c in children {
        let r = child_report(c);
        assert_eq!((&r["disk_rejects"][..], &r["disk_errors"][..]), ("0", "0"));
        let n: u64 = r["disk_hits"].parse::<u64>().unwrap() + r["compiles"].parse::<u64>().unwrap();
        assert_eq!(n, 20);
        let set: std::collections::BTreeSet<String> =
            r["sums"].split(',').map(str::to_owned).collect();
        assert_eq!(set.len(), 20);
        match &sums {
            None => sums = Some(set),
            Some(s) => assert_eq!(s, &set, "every process computes the same bits"),
        }
    }
    let last = child_report(spawn_child(dir.path(), tier, &(0..20).collect::<Vec<_>>()));
    assert_eq!(
        (
            &last["disk_hits"][..],
            &last["compiles"][..],
            &last["disk_rejects"][..]
        ),
        ("20", "0", "0")
    );
}
