"""numpy_eval broadcasting (NumPy's rules), out= with broadcasting, dtypes read
in place, and the memory a broadcast evaluation costs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import alkahest as ak


@pytest.fixture
def xy(pool):
    return pool.symbol("x"), pool.symbol("y")


@pytest.fixture
def f(xy):
    x, y = xy
    return ak.compile_expr(ak.sin(x) * y + x, [x, y])


def ref(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.sin(x) * y + x


SHAPES = [
    ((), ()),
    ((5,), ()),
    ((), (5,)),
    ((5,), (1,)),
    ((4, 1), (1, 6)),
    ((4, 1), (6,)),
    ((3, 1, 5), (4, 1)),
    ((2, 3, 4), (2, 3, 4)),
    ((1, 1), (7,)),
    ((0, 3), (1, 3)),
]


@pytest.mark.parametrize("sx,sy", SHAPES)
@pytest.mark.parametrize("par", [False, True])
def test_matches_numpy_broadcast(f, sx, sy, par):
    rng = np.random.default_rng(1)
    a = rng.uniform(-3, 3, sx)
    b = rng.uniform(-3, 3, sy)
    ev = ak.numpy_eval_par if par else ak.numpy_eval
    got = ev(f, a, b)
    want = ref(a, b)
    assert got.shape == want.shape == np.broadcast_shapes(sx, sy)
    # Same values as evaluating the materialized broadcast (the unbroadcast path).
    full = ak.numpy_eval(f, *(np.ascontiguousarray(v) for v in np.broadcast_arrays(a, b)))
    np.testing.assert_array_equal(got, full)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_stride_zero_inputs(f):
    # Inputs that are already broadcast views (stride 0), broadcast further.
    a = np.broadcast_to(np.linspace(0, 1, 5), (3, 5))
    b = np.broadcast_to(np.float32(2), (4, 1, 1))
    got = ak.numpy_eval(f, a, b)
    assert got.shape == (4, 3, 5)
    np.testing.assert_array_equal(got, ref(*np.broadcast_arrays(a, b.astype(np.float64))))


def test_python_scalars(f):
    xs = np.linspace(-1, 1, 11)
    np.testing.assert_array_equal(ak.numpy_eval(f, xs, 0.5), ak.numpy_eval(f, xs, np.full(11, 0.5)))
    np.testing.assert_array_equal(ak.numpy_eval(f, 2, xs), ak.numpy_eval(f, np.full(11, 2.0), xs))
    r = ak.numpy_eval(f, 0.3, 0.5)
    assert r.shape == () and r.dtype == np.float64
    assert r == pytest.approx(ref(0.3, 0.5), rel=1e-15)


def test_large_broadcast_is_bit_identical_to_contiguous(f):
    # Several blocks (32768 points each), serial and parallel, strided and broadcast.
    a = np.linspace(-4, 4, 700)[:, None]
    b = np.linspace(0, 2, 300)[None, ::-1]
    full = [np.ascontiguousarray(v) for v in np.broadcast_arrays(a, b)]
    want = ak.numpy_eval(f, *full)
    np.testing.assert_array_equal(ak.numpy_eval(f, a, b), want)
    np.testing.assert_array_equal(ak.numpy_eval_par(f, a, b), want)
    np.testing.assert_array_equal(ak.numpy_eval_par(f, a, b, threads=3), want)
    big = np.linspace(0, 1, 600_001)
    np.testing.assert_array_equal(
        ak.numpy_eval(f, big[::3], 0.25), ak.numpy_eval(f, big[::3].copy(), np.full(200_001, 0.25))
    )


def test_several_outputs_shape_and_out(xy):
    x, y = xy
    g = ak.compile_expr([[ak.sin(x), x * y], [x + y, y]], [x, y])
    a = np.linspace(0, 1, 3)[:, None]
    b = np.linspace(-1, 1, 4)
    got = ak.numpy_eval(g, a, b)
    assert got.shape == (2, 2, 3, 4)
    A, B = np.broadcast_arrays(a, b)
    np.testing.assert_array_equal(got[0, 0], np.sin(A))
    np.testing.assert_array_equal(got[0, 1], A * B)
    np.testing.assert_array_equal(got[1, 0], A + B)
    np.testing.assert_array_equal(got[1, 1], B)
    out = np.full((2, 2, 3, 4), np.nan)
    assert ak.numpy_eval_par(g, a, b, out=out) is out
    np.testing.assert_array_equal(out, got)


def test_out_broadcasts_inputs_like_a_ufunc(f):
    xs = np.arange(5.0)
    out = np.empty((3, 5))
    assert ak.numpy_eval(f, xs, 2.0, out=out) is out
    np.testing.assert_array_equal(out, np.broadcast_to(ref(xs, 2.0), (3, 5)))
    # A scalar call writing a whole array.
    out = np.empty(4)
    ak.numpy_eval(f, 1.0, 1.0, out=out)
    np.testing.assert_array_equal(out, np.full(4, ref(1.0, 1.0)))
    # out cannot shrink the broadcast shape.
    with pytest.raises(ak.ShapeError):
        ak.numpy_eval(f, np.ones((3, 1)), np.ones(5), out=np.empty(5))


def test_out_aliasing_a_strided_or_broadcast_input(f):
    xs = np.linspace(0, 1, 40_000)
    want = ref(xs, 2.0)
    assert ak.numpy_eval(f, xs, 2.0, out=xs) is xs
    np.testing.assert_array_equal(xs, want)
    m = np.linspace(0, 1, 12).reshape(3, 4)
    want = ref(m, m[0])
    ak.numpy_eval_par(f, m, m[0], out=m)
    np.testing.assert_array_equal(m, want)


def test_mismatched_shapes_name_them(f):
    with pytest.raises(ak.ShapeError, match=r"\[3\], \[4\]"):
        ak.numpy_eval(f, np.zeros(3), np.zeros(4))
    with pytest.raises(ak.ShapeError, match=r"\[2, 3\], \[2\]"):
        ak.numpy_eval_par(f, np.zeros((2, 3)), np.zeros(2))


@pytest.mark.parametrize(
    "dtype",
    [np.float32, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64, np.bool_, np.float16],
)
def test_dtypes_read_natively(f, dtype):
    a = (np.arange(24) % 5).astype(dtype).reshape(4, 6)
    b = np.linspace(0, 1, 6)
    got = ak.numpy_eval(f, a, b)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(
        got, ak.numpy_eval(f, a.astype(np.float64), np.broadcast_to(b, (4, 6)).copy())
    )
    # Strided, reversed and transposed views of the same.
    for view in (a[::2], a[:, ::-1], a.T):
        np.testing.assert_array_equal(
            ak.numpy_eval(f, view, 0.5), ref(view.astype(np.float64), 0.5)
        )


def test_byte_swapped_and_unaligned_inputs(f):
    # Against the same function on plain contiguous copies: `f` may be
    # contracted to an FMA (optimize="speed"), which NumPy's `ref` is not.
    def plain(*xs):
        return ak.numpy_eval(f, *np.broadcast_arrays(*(np.array(x, np.float64) for x in xs)))

    a = np.linspace(0, 1, 9).astype(">f8")
    np.testing.assert_array_equal(ak.numpy_eval(f, a, 1.0), plain(a, 1.0))
    buf = np.zeros(9 * 8 + 1, dtype=np.uint8)
    un = buf[1:].view(np.float64)  # unaligned float64 view
    un[:] = np.linspace(0, 1, 9)
    assert not un.flags.aligned
    np.testing.assert_array_equal(ak.numpy_eval(f, un, un[::-1]), plain(un, un[::-1]))


def test_outer_broadcast_allocates_only_the_output(f):
    n, m = 2000, 1500
    a = np.linspace(-1, 1, n)[:, None]
    b = np.linspace(0, 3, m)[None, :]
    b32 = b.astype(np.float32)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        got = ak.numpy_eval(f, a, b)
        _, peak = tracemalloc.get_traced_memory()
        peak_serial = peak - base
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        ak.numpy_eval_par(f, a, b32, out=got)
        _, peak = tracemalloc.get_traced_memory()
        peak_out = peak - base
    finally:
        tracemalloc.stop()
    out_bytes = n * m * 8
    # The output plus small change (a materialized input would add out_bytes).
    assert peak_serial < out_bytes * 1.05 + 2**20, peak_serial
    assert peak_out < 2**20, peak_out


def test_outer_broadcast_peak_rss():
    # tracemalloc does not see the extension's own allocations: measure the
    # process's peak resident memory in a fresh interpreter instead.
    code = textwrap.dedent(
        """
        import resource, numpy as np, alkahest as ak
        p = ak.ExprPool(); x, y = p.symbol("x"), p.symbol("y")
        f = ak.compile_expr(ak.sin(x) * y + x, [x, y])
        a = np.linspace(-1, 1, 6000)[:, None]
        b = np.linspace(0, 3, 6000).astype(np.float32)[None, ::-1]
        ak.numpy_eval(f, a[:2], b)  # warm up (compile, thread pools)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = ak.numpy_eval_par(f, a, b)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((peak - base) * 1024, out.nbytes)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    grew, out_bytes = map(int, r.stdout.split())
    # 288 MB output; a materialized broadcast or float64 copy of either input
    # would add at least as much again.
    assert grew < out_bytes * 1.15, (grew, out_bytes)
