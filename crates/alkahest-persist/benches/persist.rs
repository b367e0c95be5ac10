//! Criterion benches: save/load of a 20k-node shared DAG (and its size on
//! disk), and disk-cache put/get latency.
#![allow(missing_docs)] // criterion macros generate undocumented items

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_persist::{DiskCache, cache_key, from_bytes, load_into, to_bytes};
use criterion::{Criterion, criterion_group, criterion_main};

/// The DAG of the size test: every node uses the previous two.
fn shared_dag(nodes: usize) -> (ExprPool, ExprId) {
    let pool = ExprPool::new();
    let x = pool.symbol("x").unwrap();
    let y = pool.symbol("y").unwrap();
    let mut v = vec![x, y];
    let mut i = 0usize;
    while pool.len() < nodes {
        let (a, b) = (v[v.len() - 1], v[v.len() - 2]);
        let e = match i % 4 {
            0 => pool.add(&[a, b]).and_then(|s| pool.func(Func::Sin, &[s])),
            1 => pool.mul(&[a, b]).and_then(|m| pool.func(Func::Cos, &[m])),
            2 => pool
                .integer(i as i64)
                .and_then(|k| pool.mul(&[k, a]))
                .and_then(|m| pool.add(&[m, b]))
                .and_then(|s| pool.func(Func::Exp, &[s])),
            _ => pool.add(&[a, x]).and_then(|s| pool.pow(s, b)),
        }
        .unwrap();
        v.push(e);
        i += 1;
    }
    (pool, *v.last().unwrap())
}

fn pool_io(c: &mut Criterion) {
    let (pool, root) = shared_dag(20_000);
    let bytes = to_bytes(&pool, &[root]).unwrap();
    eprintln!(
        "persist: 20k-node DAG ({} nodes) -> {} bytes on disk ({:.2} bytes/node)",
        pool.len(),
        bytes.len(),
        bytes.len() as f64 / pool.len() as f64
    );
    let mut g = c.benchmark_group("pool_20k");
    g.sample_size(20);
    g.bench_function("to_bytes", |b| b.iter(|| to_bytes(&pool, &[root]).unwrap()));
    g.bench_function("from_bytes", |b| b.iter(|| from_bytes(&bytes).unwrap()));
    g.bench_function("load_into_fresh", |b| {
        b.iter(|| load_into(&ExprPool::new(), &bytes).unwrap())
    });
    g.bench_function("load_into_existing", |b| {
        b.iter(|| load_into(&pool, &bytes).unwrap())
    });
    g.finish();
}

fn disk_cache(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::open(dir.path()).unwrap();
    let mut g = c.benchmark_group("disk_cache");
    for size in [1usize << 10, 64 << 10, 1 << 20] {
        let payload = vec![0xa5u8; size];
        let key = cache_key(&[b"bench", &size.to_le_bytes()]);
        cache.put(&key, &payload).unwrap();
        g.bench_function(format!("get_{}KiB", size >> 10), |b| {
            b.iter(|| cache.get(&key).unwrap().unwrap())
        });
        let mut n = 0u64;
        g.bench_function(format!("put_new_{}KiB", size >> 10), |b| {
            b.iter(|| {
                n += 1;
                cache
                    .put(
                        &cache_key(&[b"new", &size.to_le_bytes(), &n.to_le_bytes()]),
                        &payload,
                    )
                    .unwrap()
            })
        });
        g.bench_function(format!("put_replace_{}KiB", size >> 10), |b| {
            b.iter(|| cache.put(&key, &payload).unwrap())
        });
        let missing = cache_key(&[b"absent", &size.to_le_bytes()]);
        if size == 1 << 10 {
            g.bench_function("miss", |b| {
                b.iter(|| assert!(cache.get(&missing).unwrap().is_none()))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, pool_io, disk_cache);
criterion_main!(benches);
