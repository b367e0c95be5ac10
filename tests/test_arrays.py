"""numpy_eval conversions: zero-copy, dtypes, strides, out=, DLPack producers."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import alkahest as ak


@pytest.fixture
def f(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    return ak.compile_expr(x * 2 + y, [x, y])


def test_dtypes_and_strides(f):
    xs = np.arange(10, dtype=np.int32)
    ys = np.linspace(0, 1, 20)[::2]  # non-contiguous view
    got = ak.numpy_eval(f, xs, ys)
    np.testing.assert_array_equal(got, xs * 2.0 + ys)
    got = ak.numpy_eval(f, xs.astype(np.float32), ys.astype(bool))
    np.testing.assert_array_equal(got, xs * 2.0 + ys.astype(bool))


def test_multidimensional_shapes(f):
    xs = np.arange(12.0).reshape(3, 4)
    out = ak.numpy_eval(f, xs, xs)
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(out, 3 * xs)


def test_out_and_in_place(f):
    xs = np.arange(5.0)
    ys = np.ones(5)
    out = np.empty(5)
    r = ak.numpy_eval(f, xs, ys, out=out)
    assert r is out
    np.testing.assert_array_equal(out, xs * 2 + 1)
    ak.numpy_eval(f, xs, ys, out=xs)  # out aliases an input
    np.testing.assert_array_equal(xs, np.arange(5.0) * 2 + 1)


@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5)])
def test_plain_float64_calls_match_the_general_path(pool, shape):
    # C-contiguous float64 inputs of one shape take a path with no NumPy
    # call (fast_eval in arrays.rs); strided views of the same values take
    # the general one. Same bits, fresh or into out=, for one output and for
    # a (2, 2) output shape with a constant output.
    x, y = pool.symbol("x"), pool.symbol("y")
    one = ak.compile_expr(ak.sin(x) * y + x / y, [x, y])
    grid = ak.compile_expr([[x * y, ak.exp(-x)], [0, y - x]], [x, y])
    rng = np.random.default_rng(3)
    xs, ys = (np.asarray(rng.uniform(0.5, 2, shape)) for _ in range(2))
    views = [np.stack([a, a], axis=-1)[..., 0] for a in (xs, ys)]
    assert xs.size == 1 or not views[0].flags.c_contiguous
    for f in (one, grid):
        want = ak.numpy_eval(f, *views)
        calls = [ak.numpy_eval(f, xs, ys), ak.numpy_eval_par(f, xs, ys)]
        if xs.ndim:  # f(0-d, 0-d) is a point call
            calls.append(f(xs, ys))
        for got in calls:
            assert got.shape == want.shape and got.dtype == np.float64
            assert got.tobytes() == want.tobytes()
        out = np.full(want.shape, np.nan)
        assert ak.numpy_eval(f, xs, ys, out=out) is out
        assert out.tobytes() == want.tobytes()
    # out aliasing an input, a read-only out, an out of another shape.
    a, b = xs.copy(), ys.copy()
    ak.numpy_eval(one, a, b, out=a)
    assert a.tobytes() == ak.numpy_eval(one, *views).tobytes()
    frozen = np.empty(shape)
    frozen.flags.writeable = False
    with pytest.raises(ak.ShapeError):
        ak.numpy_eval(one, xs, ys, out=frozen)
    if xs.size > 1:  # one point broadcasts to any out
        with pytest.raises(ak.ShapeError):
            ak.numpy_eval(one, xs, ys, out=np.empty(xs.size + 1))
    with pytest.raises(ak.ConversionError):
        ak.numpy_eval(one, xs, ys, out=np.empty(shape, dtype=np.float32))


@pytest.mark.parametrize("n", [1, 9])
def test_rows_and_flat_buffers_match_the_general_path(pool, n):
    # One C-contiguous float64 array holding every variable's column (a row
    # per variable for numpy_eval and call_batch, back to back for
    # call_bulk) is read in place; a Fortran-ordered or strided copy of the
    # same values takes the general path. Same bits, fresh or into out=.
    x, y, z = pool.symbol("x"), pool.symbol("y"), pool.symbol("z")
    f = ak.compile_expr([ak.sin(x) * y - z, x / y + ak.exp(-z)], [x, y, z])
    pts = np.random.default_rng(4).uniform(0.5, 2, (3, n))
    other = np.asfortranarray(pts) if n > 1 else np.stack([pts, pts], axis=-1)[..., 0]
    want = ak.numpy_eval(f, *(list(r) for r in pts))  # lists: the general path
    for got in (ak.numpy_eval(f, pts), ak.numpy_eval(f, other), f.call_batch(pts), f.call_batch(other)):
        assert got.shape == (2, n) and got.tobytes() == want.tobytes()
    flat = pts.reshape(-1).copy()
    assert f.call_bulk(flat).tobytes() == want.tobytes()
    assert f.call_bulk(np.repeat(flat, 2)[::2]).tobytes() == want.tobytes()
    out = np.full((2, n), np.nan)
    assert f.call_bulk(flat, out=out) is out and out.tobytes() == want.tobytes()
    out[:] = np.nan
    assert ak.numpy_eval(f, pts, out=out) is out and out.tobytes() == want.tobytes()
    with pytest.raises(ak.ShapeError):
        f.call_bulk(flat[:-1])
    with pytest.raises(ak.ShapeError):
        f.call_batch(pts[:2])


def test_two_d_input_is_one_row_per_variable(f):
    pts = np.array([[1.0, 2.0], [10.0, 20.0]])
    np.testing.assert_array_equal(ak.numpy_eval(f, pts), [12.0, 24.0])


def test_dlpack_numpy_producer(f):
    class Producer:
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, **kw):
            return self.a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    xs = np.arange(4.0)
    got = ak.numpy_eval(f, Producer(xs), Producer(xs))
    np.testing.assert_array_equal(got, 3 * xs)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax not installed")
def test_dlpack_jax(f):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    xs = jnp.linspace(0.0, 1.0, 7)
    got = ak.numpy_eval(f, xs, xs)
    np.testing.assert_allclose(got, 3 * np.asarray(xs), rtol=0, atol=1e-15)
    xs32 = jnp.linspace(0.0, 1.0, 7, dtype=jnp.float32)
    got = ak.numpy_eval(f, xs32, xs32)
    np.testing.assert_allclose(got, 3 * np.asarray(xs32, dtype=np.float64), rtol=0, atol=1e-6)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="PyTorch is not installed here (its PyPI wheel is a multi-GB CUDA build)",
)
def test_dlpack_torch(f):
    import torch

    xs = torch.linspace(0, 1, 9, dtype=torch.float64)
    got = ak.numpy_eval(f, xs, xs)
    np.testing.assert_array_equal(got, 3 * xs.numpy())


def test_numpy_eval_par_matches_serial(pool):
    x = pool.symbol("x")
    f = ak.compile_expr(ak.sin(x) * ak.exp(-x * x), [x])
    xs = np.linspace(-5, 5, 300_001)
    ak.numpy_eval(f, xs)
    # The batch started an LLVM build in the background; its vector math is
    # within documented ulps of the tier the first call ran on, so compare
    # calls on one tier.
    assert f.wait(120)
    a = ak.numpy_eval(f, xs)
    b = ak.numpy_eval_par(f, xs)
    c = ak.numpy_eval_par(f, xs, threads=1)
    assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.parametrize(
    "tier", ["interpreter"] + [t for t, k in (("cranelift", "cranelift"), ("llvm", "jit")) if ak.features()[k]]
)
def test_sparse_jacobian_fresh_result_equals_out(pool, tier):
    # Many outputs, most the constant 0 (and one -0.0 and one 2.5): a fresh
    # result is allocated zeroed and its +0.0 columns are left unwritten;
    # it must equal a batch into out= prefilled with NaN, strided inputs,
    # numpy_eval_par and scalar calls included.
    xs = [pool.symbol(f"x{i}") for i in range(6)]
    rhs = [xs[i] * xs[(i + 1) % 6] - xs[i] + 2.5 * xs[0] for i in range(6)]
    jac = ak.jacobian(rhs, xs)
    jac[5][2] = -0.0
    jac[4][1] = 2.5
    f = ak.compile_expr(jac, xs, ak.CompileConfig(force_tier=tier))
    rng = np.random.default_rng(7)
    cols = [rng.normal(size=5000) for _ in xs]
    out = np.full((6, 6, 5000), np.nan)
    ak.numpy_eval(f, *cols, out=out)
    fresh = ak.numpy_eval(f, *cols)
    assert fresh.tobytes() == out.tobytes()
    assert ak.numpy_eval_par(f, *cols, threads=2).tobytes() == out.tobytes()
    strided = [np.repeat(c, 2)[::2] for c in cols]
    assert ak.numpy_eval(f, *strided[:3], *cols[3:]).tobytes() == out.tobytes()
    assert np.signbit(fresh[5, 2]).all() and (fresh[4, 1] == 2.5).all()
    np.testing.assert_array_equal(f([c[17] for c in cols]), out[:, :, 17])


@pytest.mark.parametrize(
    "tier", ["interpreter"] + [t for t, k in (("cranelift", "cranelift"), ("llvm", "jit")) if ak.features()[k]]
)
def test_large_fresh_result_is_aligned(pool, tier):
    # A fresh result of 4 MiB or more starts on a 64-byte boundary (LLVM
    # streams its columns there), is C-contiguous and writeable, and holds
    # what out= gets: columns of odd length (so most are off a boundary)
    # and of a multiple of 8 (all on one), a partial last block.
    x, y = pool.symbol("x"), pool.symbol("y")
    outs = [x * (i + 1) + y for i in range(20)] + [ak.sin(x)] * 3
    f = ak.compile_expr(outs, [x, y], ak.CompileConfig(force_tier=tier))
    for n in (30_001, 40_000):
        xs = np.linspace(-3, 3, n)
        ys = np.cos(xs)
        fresh = ak.numpy_eval(f, xs, ys)
        assert fresh.shape == (23, n) and fresh.ctypes.data % 64 == 0
        assert fresh.flags.c_contiguous and fresh.flags.writeable
        out = np.full((23, n), np.nan)
        ak.numpy_eval(f, xs, ys, out=out)
        assert fresh.tobytes() == out.tobytes()
    small = ak.numpy_eval(f, xs[:100], ys[:100])
    assert small.base is None


@pytest.mark.parametrize(
    "tier", ["interpreter"] + [t for t, k in (("cranelift", "cranelift"), ("llvm", "jit")) if ak.features()[k]]
)
def test_pooled_result_memory_is_reused_and_rewritten(pool, tier):
    # A fresh result of 32 MiB or more lives in pooled memory that comes
    # back when the array is freed: the next large result reuses it, so it
    # holds the previous result's bits (here overwritten with NaN) until
    # written. Every output must be written again, the constant zeros of a
    # sparse Jacobian included (a reused block is not zeroed), and the
    # result must equal a batch into out=.
    ak.release_result_pool()
    xs = [pool.symbol(f"x{i}") for i in range(6)]
    rhs = [xs[i] * xs[(i + 1) % 6] - xs[i] + 2.5 * xs[0] for i in range(6)]
    jac = ak.jacobian(rhs, xs)
    jac[4][1] = 2.5
    f = ak.compile_expr(jac, xs, ak.CompileConfig(force_tier=tier))
    n = 120_001  # 36 outputs: 34.6 MB, one partial last block
    rng = np.random.default_rng(3)
    cols = [rng.normal(size=n) for _ in xs]
    want = np.full((6, 6, n), np.nan)
    ak.numpy_eval(f, *cols, out=want)
    first = ak.numpy_eval(f, *cols)
    assert type(first.base).__name__ == "PooledResult"
    assert first.ctypes.data % 64 == 0 and first.flags.c_contiguous and first.flags.writeable
    assert first.tobytes() == want.tobytes()
    addr = first.ctypes.data
    first[...] = np.nan
    del first
    for run in (lambda: ak.numpy_eval(f, *cols), lambda: ak.numpy_eval_par(f, *cols, threads=2)):
        again = run()
        assert again.ctypes.data == addr  # the same memory, reused
        assert again.tobytes() == want.tobytes()
        again[...] = np.nan
        del again
    kept = ak.release_result_pool()
    assert kept >= want.nbytes
    assert ak.release_result_pool() == 0
    # Views keep the memory alive: it is not reused while one exists.
    r = ak.numpy_eval(f, *cols)
    view = r[2]
    del r
    other = ak.numpy_eval(f, *cols)
    assert other.ctypes.data != view.ctypes.data - 2 * 6 * n * 8
    assert view.tobytes() == want[2].tobytes()
    del view, other
    ak.release_result_pool()


def test_result_pool_can_be_turned_off():
    # ALKAHEST_RESULT_POOL_MB=0: a freed large result is not kept.
    code = (
        "import numpy as np, alkahest as ak\n"
        "p = ak.ExprPool(); x = p.symbol('x')\n"
        "f = ak.compile_expr([x * k for k in range(1, 9)], [x])\n"
        "r = ak.numpy_eval(f, np.ones(600_000)); assert r.nbytes >= 32 << 20\n"
        "del r\n"
        "print(ak.release_result_pool())\n"
    )
    env = dict(os.environ, ALKAHEST_RESULT_POOL_MB="0")
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "0"
    env["ALKAHEST_RESULT_POOL_MB"] = "100"
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(got.stdout) >= 600_000 * 8 * 8


@pytest.mark.parametrize(
    "tier", ["interpreter"] + [t for t, k in (("cranelift", "cranelift"), ("llvm", "jit")) if ak.features()[k]]
)
def test_point_major_columns_give_the_contiguous_bits(pool, tier):
    # Columns of an (N, n) array (each point a row, 8n bytes apart) are read
    # in small blocks so the rows stay cached; the blocks must not move
    # where the vector groups and the last partial group fall: bit for bit
    # the contiguous result, for a function with library calls, at sizes
    # around the block and chunk lengths.
    xs = [pool.symbol(f"v{i}") for i in range(40)]
    outs = [ak.sin(xs[i]) * ak.exp(xs[(i + 1) % 40] / 3) + xs[(i + 7) % 40] for i in range(40)]
    f = ak.compile_expr(outs, xs, ak.CompileConfig(force_tier=tier))
    rng = np.random.default_rng(11)
    for n in (1, 255, 4_097, 33_000):
        rows = rng.uniform(-2, 2, (n, 40))
        cols = [np.ascontiguousarray(rows[:, i]) for i in range(40)]
        want = ak.numpy_eval(f, *cols)
        got = ak.numpy_eval(f, *[rows[:, i] for i in range(40)])
        assert got.tobytes() == want.tobytes(), n
        # Not one group (a float32 column among them): each column is read
        # on its own, in the same small blocks.
        mixed = [rows[:, i] for i in range(40)]
        mixed[3] = rows.astype(np.float32)[:, 3]
        cols[3] = mixed[3].astype(np.float64)
        assert ak.numpy_eval(f, *mixed).tobytes() == ak.numpy_eval(f, *cols).tobytes(), n
    # One wide-strided input on its own.
    g = ak.compile_expr(ak.exp(xs[0]) * ak.sin(xs[0]), [xs[0]], ak.CompileConfig(force_tier=tier))
    rows = rng.uniform(-2, 2, (33_000, 40))
    assert ak.numpy_eval(g, rows[:, 5]).tobytes() == ak.numpy_eval(g, rows[:, 5].copy()).tobytes()


def test_pooled_results_from_several_threads_stay_distinct(pool):
    # Large results from two threads at once (the GIL is released while they
    # are computed): each gets its own memory and its own values.
    import threading

    x = pool.symbol("x")
    f = ak.compile_expr([x * k + k for k in range(1, 9)], [x])
    n = 600_000  # 8 outputs: 38.4 MB, pooled
    ins = [np.full(n, float(t)) for t in range(2)]
    errors = []

    def work(t):
        for _ in range(6):
            r = ak.numpy_eval(f, ins[t])
            want = np.array([t * k + k for k in range(1, 9)], dtype=float)
            if not (r == want[:, None]).all():
                errors.append((t, r[:, :3]))
            r[...] = np.nan
            del r

    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    ak.release_result_pool()


def test_small_batches_from_several_threads_match_one_large_batch(pool):
    # Batches of a few points run with the GIL held (less work than releasing
    # it costs); from several threads at once they still give each thread the
    # values that one large batch (run with the GIL released) gives.
    import threading

    x, y = pool.symbol("x"), pool.symbol("y")
    f = ak.compile_expr(x * y + ak.sin(x) / y, [x, y], ak.CompileConfig(force_tier="llvm"))
    rng = np.random.default_rng(11)
    xs, ys = rng.uniform(-2, 2, 200_000), rng.uniform(0.5, 2, 200_000)
    whole = ak.numpy_eval(f, xs, ys)
    errors = []

    def work(t):
        out = np.empty(16)
        for start in range(t * 16, 20_000, 64):
            ak.numpy_eval(f, xs[start : start + 16], ys[start : start + 16], out=out)
            if out.tobytes() != whole[start : start + 16].tobytes():
                errors.append(start)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
