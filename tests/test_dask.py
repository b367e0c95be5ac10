"""Dask arrays in, Dask arrays out: lazy blockwise numpy_eval, Kernel in
map_blocks / apply_gufunc, once-per-process compilation and the shared disk
cache, and a real multi-process LocalCluster (with a worker killed mid-run).

The cluster test evaluates 10**8 points (800 MB as one float64 array, more
than a worker's memory limit) in chunks of 10**6; it takes about 10 s on 2
shared cores. ALKAHEST_DASK_POINTS overrides the size.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import alkahest as ak

da = pytest.importorskip("dask.array")


@pytest.fixture
def fns(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    f = ak.compile_expr(ak.sin(x) * y + x, [x, y])
    g = ak.compile_expr([ak.sin(x), x * y, x + y], [x, y])
    return f, g


def test_import_alkahest_does_not_import_dask():
    code = "import sys, alkahest; print('dask' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def _boom(b):
    raise AssertionError("computed a block")


def test_lazy_no_compute(fns):
    f, _ = fns
    x = da.ones((100,), chunks=25).map_blocks(_boom, dtype=float)
    r = ak.numpy_eval(f, x, 0.5)  # builds the graph only
    assert isinstance(r, da.Array)
    assert r.shape == (100,) and r.chunks == ((25, 25, 25, 25),) and r.dtype == np.float64
    with pytest.raises(AssertionError, match="computed a block"):
        r.compute(scheduler="sync")


def test_broadcast_chunks_and_values(fns):
    f, _ = fns
    a = np.linspace(0, 1, 50)[:, None]
    b = np.linspace(-1, 2, 70)[None, :]
    A = da.from_array(a, chunks=(10, 1))
    B = da.from_array(b, chunks=(1, 30))
    r = ak.numpy_eval(f, A, B)
    assert r.shape == (50, 70) and r.chunks == ((10,) * 5, (30, 30, 10))
    np.testing.assert_array_equal(r.compute(scheduler="sync"), ak.numpy_eval(f, a, b))
    # Dask with NumPy and with a Python scalar; misaligned chunks are unified.
    c = np.linspace(3, 4, 70)
    r = ak.numpy_eval_par(f, da.from_array(np.broadcast_to(a, (50, 70)), chunks=(20, 35)), c)
    np.testing.assert_array_equal(r.compute(scheduler="sync"), ak.numpy_eval(f, a, c))
    r = ak.numpy_eval(f, A, 2.0)
    assert r.shape == (50, 1)
    np.testing.assert_array_equal(r.compute(scheduler="threads"), ak.numpy_eval(f, a, 2.0))


def test_several_outputs(fns):
    _, g = fns
    a = np.linspace(0, 1, 40)
    A = da.from_array(a, chunks=15)
    r = ak.numpy_eval(g, A, A[::-1])
    assert r.shape == (3, 40) and r.dtype == np.float64
    # The output axis in one chunk; points chunked as dask unifies A and A[::-1].
    assert r.chunks == ((3,), (10, 5, 10, 5, 10))
    np.testing.assert_array_equal(r.compute(scheduler="sync"), ak.numpy_eval(g, a, a[::-1]))
    # One 2-D Dask array with a row per variable, as numpy_eval accepts.
    pts = da.from_array(np.stack([a, a[::-1]]), chunks=(2, 15))
    np.testing.assert_array_equal(
        r.compute(scheduler="sync"), ak.numpy_eval(g, pts).compute(scheduler="sync")
    )


def test_kernel_in_map_blocks_and_apply_gufunc(fns):
    f, _ = fns
    a = np.linspace(0, 1, 30)[:, None]
    b = np.linspace(-1, 2, 20)
    A, B = da.from_array(a, chunks=(7, 1)), da.from_array(b, chunks=6)
    want = ak.numpy_eval(f, a, b)
    k = ak.Kernel(f)
    r = da.map_blocks(k, A, B, dtype=np.float64)
    np.testing.assert_array_equal(r.compute(scheduler="sync"), want)
    r = da.apply_gufunc(k, "(),()->()", A, B, output_dtypes=np.float64)
    np.testing.assert_array_equal(r.compute(scheduler="sync"), want)
    r = da.map_blocks(ak.Kernel(f, parallel=True, threads=2), A, B, dtype=np.float64)
    np.testing.assert_array_equal(r.compute(scheduler="sync"), want)


def test_bare_compiled_fn_in_map_blocks_and_apply_gufunc(fns):
    # A CompiledFn called with arrays, one per variable, is numpy_eval: it
    # is a block function as it stands (pickled to process workers).
    f, g = fns
    a = np.linspace(0, 1, 30)[:, None]
    b = np.linspace(-1, 2, 20)
    A, B = da.from_array(a, chunks=(7, 1)), da.from_array(b, chunks=6)
    want = ak.numpy_eval(f, a, b)
    np.testing.assert_array_equal(f(a, b), want)
    np.testing.assert_array_equal(f(a, 0.5), ak.numpy_eval(f, a, 0.5))
    # As a process worker gets it: pickled.
    r = da.map_blocks(pickle.loads(pickle.dumps(f)), A, B, dtype=np.float64)
    np.testing.assert_array_equal(r.compute(scheduler="sync"), want)
    r = da.apply_gufunc(f, "(),()->()", A, B, output_dtypes=np.float64)
    np.testing.assert_array_equal(r.compute(scheduler="sync"), want)
    lazy = f(A, B)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), want)
    assert g(b, 0.5).shape == (3, 20)


def test_array_call_keeps_the_point_conventions(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    f = ak.compile_expr(ak.sin(x) * y, [x, y])
    # One 1-D array of n_vars values is the point (scipy's convention).
    assert f(np.array([1.0, 2.0])) == f(1.0, 2.0) == f([1.0, 2.0])
    assert isinstance(f(np.array([1.0, 2.0])), float)
    g = ak.compile_expr(ak.sin(x), [x])
    # One variable: a one-element 1-D array (scipy.optimize.minimize) and a
    # 0-d array are the point; other shapes are elementwise.
    assert isinstance(g(np.array([1.0])), float) and isinstance(g(np.array(1.0)), float)
    xs = np.linspace(-1, 1, 7)
    np.testing.assert_array_equal(g(xs), ak.numpy_eval(g, xs))
    assert g(np.zeros((2, 3))).shape == (2, 3) and g(np.zeros(0)).shape == (0,)
    with pytest.raises(ak.ShapeError):
        f(np.zeros(3), np.zeros(4))


def test_kernel_several_outputs_in_apply_gufunc(fns):
    _, g = fns
    a = np.linspace(0, 1, 30)
    A = da.from_array(a, chunks=8)
    k = ak.Kernel(g, outputs_last=True)
    r = da.apply_gufunc(k, "(),()->(k)", A, 0.5, output_dtypes=np.float64, output_sizes={"k": 3})
    assert r.shape == (30, 3)
    np.testing.assert_array_equal(
        r.compute(scheduler="sync"), np.moveaxis(ak.numpy_eval(g, a, 0.5), 0, -1)
    )
    k = pickle.loads(pickle.dumps(ak.Kernel(g, outputs_last=True)))
    assert k.outputs_last and k(a[:4], 0.5).shape == (4, 3)


def test_bad_inputs(fns):
    f, _ = fns
    A = da.ones(10, chunks=5)
    with pytest.raises(ak.ShapeError, match=r"\(10,\), \(4,\)"):
        ak.numpy_eval(f, A, np.ones(4))
    with pytest.raises(ak.ArityError):
        ak.numpy_eval(f, A)
    with pytest.raises(ak.ConversionError, match="lazy"):
        ak.numpy_eval(f, A, A, out=np.empty(10))
    with pytest.raises(ak.ConversionError, match="real number"):
        ak.numpy_eval(f, A, da.ones(10, chunks=5, dtype=complex))
    with pytest.raises(ak.ConversionError):
        ak.Kernel("not a function")
    import dask

    with pytest.raises(ak.ConversionError, match="not a dask.array.Array"):
        ak.numpy_eval(f, dask.delayed(np.ones(3)), 1.0)


def test_kernel_pickle_compiles_once_per_process(fns, tmp_path):
    f, _ = fns
    k = ak.Kernel(f)
    # In this process the original function comes back.
    assert pickle.loads(pickle.dumps(k)).fn is f
    blob = tmp_path / "k.pkl"
    blob.write_bytes(pickle.dumps(k))
    code = textwrap.dedent(
        f"""
        import pickle, numpy as np, alkahest as ak
        from alkahest import _dask
        data = open({str(blob)!r}, "rb").read()
        ks = [pickle.loads(data) for _ in range(20)]
        assert all(k.fn is ks[0].fn for k in ks)
        print(ks[5](np.array([0.5]), 2.0)[0], _dask.worker_stats()["functions"],
              int(_dask.worker_stats()["memory_cache"]["compiles"]))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    val, n_fns, compiles = r.stdout.split()
    assert float(val) == ak.numpy_eval(f, 0.5, 2.0)
    assert (n_fns, compiles) == ("1", "1")


def test_shared_disk_cache_loads_instead_of_compiling(fns, tmp_path):
    f, _ = fns
    cache = ak.CompileCache(tmp_path / "cache")
    blob = tmp_path / "k.pkl"
    blob.write_bytes(pickle.dumps(ak.Kernel(f, cache=cache)))
    code = textwrap.dedent(
        f"""
        import pickle
        from alkahest import _dask
        k = pickle.loads(open({str(blob)!r}, "rb").read())
        s = _dask.worker_stats()["disk_caches"][{str(tmp_path / "cache")!r}]
        print(int(s["compiles"]), int(s["disk_hits"]))
        """
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    # The first "worker" compiles and writes; the second loads native code.
    assert runs == [["1", "0"], ["0", "1"]]


# --- a real cluster ---------------------------------------------------------

N_POINTS = int(os.environ.get("ALKAHEST_DASK_POINTS", 10**8))
CHUNK = 10**6


def _chunk_sum(b):
    # Reduce each chunk where it was computed: the whole array never exists.
    time.sleep(0.02)  # widen the window in which a worker is killed
    return np.array([b.sum()])


def _reset_peak_rss():
    # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM). A worker
    # started by forking inherits its parent's peak (getrusage's maxrss
    # too), which late in a test session is the whole pytest process's.
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _peak_rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _local_chunk_sum(f, i):
    x = np.arange(i * CHUNK, (i + 1) * CHUNK, dtype=np.float64) / N_POINTS
    return ak.numpy_eval(f, x * 6.0 - 3.0, 0.25).sum()


@pytest.mark.timeout(110)
def test_local_cluster_processes_and_worker_kill(fns):
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    f, _ = fns
    n_chunks = N_POINTS // CHUNK
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            memory_limit="600MiB",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(_reset_peak_rss)
        x = da.arange(N_POINTS, chunks=CHUNK, dtype=np.float64) / N_POINTS
        r = ak.numpy_eval(f, x * 6.0 - 3.0, 0.25)
        sums = da.map_blocks(_chunk_sum, r, chunks=((1,) * n_chunks,), dtype=np.float64)
        got = sums.compute()
        assert got.shape == (n_chunks,)
        for i in (0, n_chunks // 2, n_chunks - 1):
            assert got[i] == pytest.approx(_local_chunk_sum(f, i), rel=1e-13)
        # Both worker processes did work and each compiled f once.
        from alkahest import _dask

        ws = client.run(_dask.worker_stats)
        assert sum(s["functions"] for s in ws.values()) >= 1
        assert all(s["memory_cache"]["compiles"] <= 1 for s in ws.values()), ws
        # Each worker held a few chunks, never the 800 MB array.
        peaks = client.run(_peak_rss)
        assert all(p < 400 * 2**20 for p in peaks.values()), peaks
        pids_before = client.run(os.getpid)
        assert len(set(pids_before.values())) == 2

        # Again, killing one worker process partway through: its tasks are
        # rescheduled (the nanny restarts it) and the result is the same.
        fut = client.compute(sums)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(client.processing().values()):
            time.sleep(0.01)
        time.sleep(0.1)
        assert not fut.done()
        os.kill(next(iter(pids_before.values())), signal.SIGKILL)
        again = fut.result(timeout=90)
        np.testing.assert_array_equal(again, got)
        client.wait_for_workers(2, timeout=30)
        assert set(client.run(os.getpid).values()) != set(pids_before.values())


# --- moving a pool ----------------------------------------------------------


def test_expr_pool_pickles(tmp_path):
    pool = ak.ExprPool()
    x, y = pool.symbol("x"), pool.symbol("y")
    e = ak.sin(x) * y + 1
    # In this process a pickled pool is the same pool.
    assert pickle.loads(pickle.dumps(pool)) == pool
    blob = tmp_path / "pool.pkl"
    blob.write_bytes(pickle.dumps((pool, e, [x, y])))
    code = textwrap.dedent(
        f"""
        import pickle, alkahest as ak
        pool, e, xs = pickle.loads(open({str(blob)!r}, "rb").read())
        # The expressions came back in the new pool, and it holds the rest.
        assert all(v.pool == pool for v in [e, *xs])
        assert pool.symbol("x") == xs[0]
        n = len(pool)
        z = pool.symbol("z")
        f = ak.compile_expr(e + z * xs[0], [*xs, z])
        print(f([2.0, 3.0, 4.0]), n)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    val, n = r.stdout.split()
    assert float(val) == pytest.approx(np.sin(2.0) * 3.0 + 1 + 8.0, rel=1e-15)
    assert int(n) == len(pool)  # every node came across
