"""The on-disk compile cache, ``CompileCache(path=...)``, across processes."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alkahest as ak
from exprgen import build, exprs

FEATURES = ak.features()
TIERS = ["interpreter"] + [
    t for t, f in [("cranelift", "cranelift"), ("llvm", "jit")] if FEATURES[f]
]

XS = np.linspace(-3.0, 3.0, 257)
YS = np.linspace(2.5, -1.0, 257)


def make_expr(pool, k=3):
    """sin(k*x*y) + exp(x)/(1 + y^2) + hypot-free mix of every op kind; the
    variable power is one of LLVM's own vector routines, which a cached
    object carries itself (loading it generates no code)."""
    x, y = pool.symbol("x"), pool.symbol("y")
    mix = ak.sin(k * x * y) + ak.exp(x) / (1 + y**2) + ak.sqrt(x * x + y * y) - ak.atan(y)
    return mix + (1 + x * x) ** (y / 4), [x, y]


def bits(f):
    """Scalar and batch results of `f`, as integer bit patterns."""
    batch = np.asarray(f.call_batch(np.stack([XS, YS])), dtype=np.float64)
    scalar = np.array([f([a, b]) for a, b in zip(XS[::16], YS[::16], strict=True)])
    return np.concatenate([batch, scalar]).view(np.int64).tolist()


def run_py(code: str) -> dict:
    """Run `code` in a new interpreter (same environment); it prints JSON."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


CHILD = """
import json, sys
import numpy as np
import alkahest as ak
sys.path.insert(0, {tests!r})
from test_disk_cache import bits

pool = ak.ExprPool()
(e,) = pool.load_exprs({pool_path!r})
x, y = pool.symbol("x"), pool.symbol("y")
cache = ak.CompileCache({cache_dir!r})
f = cache.compile(e, [x, y], pool, ak.CompileConfig(**{cfg!r}))
print(json.dumps({{"stats": cache.stats(), "bits": bits(f), "tier": f.tier,
                  "explain": str(f.explain()["expr"]) if f.explain()["rewritten"] else None}}))
"""


def child(tmp_path, cache_dir, cfg):
    return run_py(
        CHILD.format(
            tests=os.path.dirname(__file__),
            pool_path=str(tmp_path / "pool.alk"),
            cache_dir=str(cache_dir),
            cfg=cfg,
        )
    )


def entries(cache_dir):
    return sorted(cache_dir.glob("*/*.alkc"))


@pytest.mark.parametrize("tier", TIERS)
def test_pool_saved_in_one_process_compiles_from_disk_in_another(tmp_path, tier):
    pool = ak.ExprPool()
    e, vars_ = make_expr(pool)
    pool.save(tmp_path / "pool.alk", [e])
    cache_dir = tmp_path / "cache"
    cache = ak.CompileCache(cache_dir)
    cfg = {"force_tier": tier}
    f = cache.compile(e, vars_, pool, ak.CompileConfig(**cfg))
    assert f.tier == tier
    s = cache.stats()
    assert (s["compiles"], s["disk_hits"], s["disk_writes"]) == (1, 0, 1)
    assert len(entries(cache_dir)) == 1

    got = child(tmp_path, cache_dir, cfg)
    s = got["stats"]
    assert (s["disk_hits"], s["compiles"], s["memory_hits"], s["disk_rejects"]) == (1, 0, 0, 0)
    assert s["hits"] == 1 and s["hit_rate"] == 1.0
    assert got["tier"] == tier
    assert got["bits"] == bits(f)  # bit-identical, batch and scalar
    # A fresh compile outside the cache agrees bit for bit as well.
    assert bits(ak.compile_expr(e, vars_, ak.CompileConfig(**cfg))) == got["bits"]


@pytest.mark.skipif(not FEATURES["egraph"], reason="needs the e-graph optimizer")
def test_rewrite_report_is_kept_on_disk_hits(tmp_path):
    pool = ak.ExprPool()
    x, y = pool.symbol("x"), pool.symbol("y")
    e = x * y + 2 * x * y + ak.sin(x) ** 2 + ak.cos(x) ** 2
    pool.save(tmp_path / "pool.alk", [e])
    cfg = {"optimize": "speed", "force_tier": "interpreter"}
    f = ak.CompileCache(tmp_path / "c").compile(e, [x, y], pool, ak.CompileConfig(**cfg))
    got = child(tmp_path, tmp_path / "c", cfg)
    assert got["stats"]["disk_hits"] == 1
    assert got["explain"] == str(f.explain()["expr"])
    assert got["bits"] == bits(f)


def _flip(path):
    b = bytearray(path.read_bytes())
    b[len(b) // 2] ^= 0x55
    path.write_bytes(bytes(b))


def _truncate(path):
    b = path.read_bytes()
    path.write_bytes(b[: len(b) - 9])


def _bad_header(path):
    b = bytearray(path.read_bytes())
    b[8] = 0x7F  # the entry version follows the 8-byte magic
    path.write_bytes(bytes(b))


def _garbage(path):
    path.write_bytes(os.urandom(300))


@pytest.mark.parametrize("damage", [_flip, _truncate, _bad_header, _garbage])
@pytest.mark.parametrize("tier", TIERS)
def test_corrupted_entries_are_rebuilt_never_run(tmp_path, tier, damage):
    pool = ak.ExprPool()
    e, vars_ = make_expr(pool)
    pool.save(tmp_path / "pool.alk", [e])
    cache_dir = tmp_path / "cache"
    cfg = {"force_tier": tier}
    f = ak.CompileCache(cache_dir).compile(e, vars_, pool, ak.CompileConfig(**cfg))
    (entry,) = entries(cache_dir)
    damage(entry)

    got = child(tmp_path, cache_dir, cfg)
    s = got["stats"]
    assert (s["disk_hits"], s["disk_rejects"], s["compiles"], s["disk_writes"]) == (0, 1, 1, 1)
    assert got["bits"] == bits(f)
    # The rebuilt entry is whole again and reused.
    again = child(tmp_path, cache_dir, cfg)
    assert (again["stats"]["disk_hits"], again["stats"]["disk_rejects"]) == (1, 0)


RACER = """
import json, sys
import alkahest as ak
sys.path.insert(0, {tests!r})
from test_disk_cache import make_expr, bits
pool = ak.ExprPool()
cache = ak.CompileCache({cache_dir!r})
out = {{}}
for j in range(20):
    k = (j + 5 * {who}) % 20  # each process in another order
    e, v = make_expr(pool, k)
    out[k] = bits(cache.compile(e, v, pool, ak.CompileConfig(force_tier={tier!r})))
print(json.dumps({{"stats": cache.stats(), "bits": out}}))
"""


def test_racing_processes_share_one_directory(tmp_path):
    tier = TIERS[-1]
    cache_dir = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RACER.format(
                    tests=os.path.dirname(__file__), cache_dir=str(cache_dir), who=w, tier=tier
                ),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    pool = ak.ExprPool()
    reference = {}
    for k in range(20):
        e, v = make_expr(pool, k)
        reference[str(k)] = bits(ak.compile_expr(e, v, ak.CompileConfig(force_tier=tier)))
    for r in results:
        s = r["stats"]
        assert s["disk_rejects"] == 0 and s["disk_errors"] == 0
        assert s["disk_hits"] + s["compiles"] == 20
        assert r["bits"] == reference
    assert len(entries(cache_dir)) == 20
    assert not [p for p in cache_dir.rglob("*") if ".tmp-" in p.name]
    last = ak.CompileCache(cache_dir)
    for k in range(20):
        e, v = make_expr(pool, k)
        assert (
            bits(last.compile(e, v, pool, ak.CompileConfig(force_tier=tier))) == reference[str(k)]
        )
    s = last.stats()
    assert (s["disk_hits"], s["compiles"], s["disk_rejects"]) == (20, 0, 0)


def test_unwritable_directory_degrades_to_compiling(tmp_path):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    # Every shard name is taken by a file: reads and writes fail, even as root.
    for i in range(256):
        (cache_dir / f"{i:02x}").write_bytes(b"x")
    cache = ak.CompileCache(cache_dir)
    pool = ak.ExprPool()
    e, vars_ = make_expr(pool)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        f = cache.compile(e, vars_, pool)
    assert any(
        issubclass(x.category, ak.FallbackWarning) and "compile cache" in str(x.message) for x in w
    )
    s = cache.stats()
    assert (s["compiles"], s["disk_writes"], s["disk_errors"]) == (1, 0, 2)
    assert f([0.0, 1.0]) == pytest.approx(0.5 + 1.0 - np.arctan(1.0) + 1.0)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_directory_degrades_to_compiling(tmp_path):
    cache_dir = tmp_path / "ro"
    cache_dir.mkdir()
    cache_dir.chmod(0o555)
    try:
        cache = ak.CompileCache(cache_dir)
        pool = ak.ExprPool()
        e, vars_ = make_expr(pool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = cache.compile(e, vars_, pool)
        s = cache.stats()
        assert (s["compiles"], s["disk_writes"], s["disk_errors"]) == (1, 0, 1)
        assert np.isfinite(f([0.5, 0.5]))
    finally:
        cache_dir.chmod(0o755)


def test_path_types_and_invalid_paths(tmp_path):
    a = ak.CompileCache(str(tmp_path / "s"))
    b = ak.CompileCache(tmp_path / "p" / "nested")  # os.PathLike, created
    assert (tmp_path / "p" / "nested").is_dir()
    assert str(a.path) == str(tmp_path / "s") and str(b.path) == str(tmp_path / "p" / "nested")
    assert ak.CompileCache().path is None
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(ak.StorageError):
        ak.CompileCache(tmp_path / "file")
    with pytest.raises(OSError):
        ak.CompileCache(tmp_path / "file" / "below")
    with pytest.raises(TypeError):
        ak.CompileCache(42)


def test_stats_keys_and_memory_hits(tmp_path):
    pool = ak.ExprPool()
    e, vars_ = make_expr(pool)
    mem = ak.CompileCache()
    mem.compile(e, vars_, pool)
    mem.compile(e, vars_, pool)
    s = mem.stats()
    assert s == {
        "hits": 1,
        "compiles": 1,
        "hit_rate": 0.5,
        "memory_hits": 1,
        "disk_hits": 0,
        "disk_rejects": 0,
        "disk_errors": 0,
        "disk_writes": 0,
    }
    disk = ak.CompileCache(tmp_path)
    disk.compile(e, vars_, pool)
    disk.clear()  # memory only: the next lookup is a disk hit
    disk.compile(e, vars_, pool)
    disk.compile(e, vars_, pool)
    s = disk.stats()
    assert (s["compiles"], s["disk_hits"], s["memory_hits"], s["hits"]) == (1, 1, 1, 2)


def test_pickling_keeps_the_path(tmp_path):
    pool = ak.ExprPool()
    e, vars_ = make_expr(pool)
    cache = ak.CompileCache(tmp_path / "c")
    cache.compile(e, vars_, pool)
    back = pickle.loads(pickle.dumps(cache))
    assert str(back.path) == str(cache.path)
    assert back.stats() == cache.stats()
    back.compile(e, vars_, pool)  # a new handle: served by the directory
    assert back.stats()["disk_hits"] == 1
    mem = pickle.loads(pickle.dumps(ak.CompileCache()))
    assert mem.path is None


@settings(max_examples=40, deadline=None)
@given(exprs, st.sampled_from(TIERS[:2]))
def test_disk_hits_match_fresh_compiles_on_random_expressions(tree, tier):
    """Every op kind through the entry codec: a second handle's disk hit
    computes the same bits as the compile that wrote the entry."""
    pool = ak.ExprPool()
    expr, _, vars_ = build(tree, pool)
    cfg = ak.CompileConfig(force_tier=tier)
    cols = np.stack([XS, YS, XS[::-1]])[: len(vars_)]
    with tempfile.TemporaryDirectory() as d:
        f = ak.CompileCache(d).compile(expr, vars_, pool, cfg)
        second = ak.CompileCache(d)
        g = second.compile(expr, vars_, pool, cfg)
        assert second.stats()["disk_hits"] == 1
    a = np.asarray(f.call_batch(cols), dtype=np.float64).view(np.int64)
    b = np.asarray(g.call_batch(cols), dtype=np.float64).view(np.int64)
    assert (a == b).all()
    assert g.n_ops == f.n_ops and g.tier == f.tier
