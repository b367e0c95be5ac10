"""CUDA backend from Python: ``compile_cuda``, ``CudaFn``, ``cuda_device``.

* PTX (no GPU needed): the spec's kind of expression and random ones compile
  for ``sm_86`` and ``sm_90``, and ``ptxas`` from the ``nvidia-cuda-nvcc-cu12``
  wheel accepts them; transcendental functions are inlined libdevice code (no
  ``.extern .func``).
* Without a CUDA driver or device (the usual machine here) every run raises
  ``BackendUnavailableError`` saying so, and the process carries on.
* With a device: results match the interpreter tier. Tolerance: libdevice's
  functions are accurate to ~2 ulp where glibc's libm is ~1 ulp, so a point
  may differ by a few ulp per transcendental call, propagated like any input
  perturbation; we allow ``64 * n * eps * max|intermediate|`` (the bound of
  test_differential.py against mpmath), computed only where the cheap relative
  check ``1e-12`` fails.
* Built without the ``cuda`` cargo feature, ``compile_cuda`` raises
  ``BackendUnavailableError`` naming it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alkahest as ak
from alkahest import _alkahest
from alkahest.exceptions import (
    ArityError,
    BackendUnavailableError,
    ConversionError,
    NotASymbolError,
    OptionError,
    PoolMismatchError,
    ShapeError,
)
from exprgen import build, exprs, magnitude, size

compile_cuda = getattr(ak, "compile_cuda", None) or _alkahest.compile_cuda
cuda_device = getattr(ak, "cuda_device", None) or _alkahest.cuda_device

HAS_FEATURE = hasattr(_alkahest, "CudaFn")
needs_feature = pytest.mark.skipif(not HAS_FEATURE, reason="built without the 'cuda' feature")

if HAS_FEATURE:
    try:
        DEVICE = cuda_device()
        NO_DEVICE_REASON = ""
    except BackendUnavailableError as e:
        DEVICE = None
        NO_DEVICE_REASON = str(e)
else:
    DEVICE, NO_DEVICE_REASON = None, "built without the 'cuda' feature"

needs_device = pytest.mark.skipif(DEVICE is None, reason=f"no CUDA device: {NO_DEVICE_REASON}")


def _ptxas() -> Path | None:
    for d in sys.path:
        p = Path(d) / "nvidia" / "cuda_nvcc" / "bin" / "ptxas"
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None


PTXAS = _ptxas()
needs_ptxas = pytest.mark.skipif(
    PTXAS is None, reason="ptxas not found (pip install nvidia-cuda-nvcc-cu12)"
)


def cc(expr, vars_, arch=None):
    """compile_cuda, skipping the test when this machine has no libdevice."""
    try:
        return compile_cuda(expr, vars_, arch=arch)
    except BackendUnavailableError as e:
        if "libdevice" in str(e):
            pytest.skip(f"no libdevice: {e}")
        raise


def check_ptx(f, arch, tmp: Path):
    ptx = f.ptx
    assert f.arch == arch
    assert f".target {arch}" in ptx
    assert ".entry alkahest_kernel" in ptx
    assert ".extern .func" not in ptx, "unresolved (non-inlined) function in PTX"
    src = tmp / "k.ptx"
    src.write_text(ptx)
    r = subprocess.run(
        [str(PTXAS), f"-arch={arch}", str(src), "-o", str(tmp / "k.cubin")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------- PTX


@needs_feature
@needs_ptxas
@pytest.mark.parametrize("arch", ["sm_86", "sm_90"])
def test_spec_expression_ptx(pool, arch, tmp_path):
    x, y = pool.symbol("x"), pool.symbol("y")
    f = cc(x**2 + ak.sin(y), [x, y], arch=arch)
    check_ptx(f, arch, tmp_path)


@needs_feature
@needs_ptxas
@pytest.mark.parametrize("arch", ["sm_86", "sm_90"])
@settings(max_examples=15, deadline=None)
@given(tree=exprs)
def test_random_expression_ptx(arch, tree, tmp_path_factory):
    pool = ak.ExprPool()
    expr, _, vars_ = build(tree, pool)
    f = cc(expr, vars_, arch=arch)
    check_ptx(f, arch, tmp_path_factory.mktemp("ptx"))


@needs_feature
def test_default_arch_and_properties(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    e = x * y + 1
    f = cc(e, [x, y])
    assert f.arch == (DEVICE["arch"] if DEVICE else "sm_86")
    assert f.n_vars == 2
    assert [str(v) for v in f.vars] == ["x", "y"]
    assert f.expr == e
    assert repr(f).startswith("CudaFn(vars=[x, y]")


@needs_feature
@pytest.mark.parametrize("arch", ["sm_100", "compute_86", "sm86", "", "SM_86"])
def test_invalid_arch_rejected(pool, arch):
    x = pool.symbol("x")
    with pytest.raises(OptionError, match="invalid CUDA architecture"):
        compile_cuda(x + 1, [x], arch=arch)


@needs_feature
def test_missing_libdevice_lists_searched_paths(pool, monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / "libdevice.10.bc"
    monkeypatch.setenv("ALKAHEST_LIBDEVICE", str(missing))
    x = pool.symbol("x")
    with pytest.raises(BackendUnavailableError, match="libdevice") as ei:
        compile_cuda(ak.sin(x), [x], arch="sm_86")
    assert str(missing) in str(ei.value)


@needs_feature
def test_bad_arguments(pool):
    x = pool.symbol("x")
    with pytest.raises(NotASymbolError):
        compile_cuda(x + 1, [x + 1], arch="sm_86")
    with pytest.raises(ConversionError):
        compile_cuda(x + 1, 5, arch="sm_86")
    with pytest.raises(TypeError):
        compile_cuda("x + 1", [x], arch="sm_86")
    with pytest.raises(PoolMismatchError):
        compile_cuda(x + 1, [ak.ExprPool().symbol("x")], arch="sm_86")


# ----------------------------------------------------- argument validation


class FakeGpuArray:
    """An object exposing ``__cuda_array_interface__`` over host memory."""

    def __init__(self, a: np.ndarray, **override):
        self._a = a
        self.__cuda_array_interface__ = {
            "shape": a.shape,
            "typestr": a.dtype.str,
            "data": (a.ctypes.data, False),
            "strides": None if a.flags.c_contiguous else a.strides,
            "version": 3,
            **override,
        }


@needs_feature
def test_call_validation_before_any_device_work(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    f = cc(x + y, [x, y], arch="sm_86")
    good = FakeGpuArray(np.zeros(4))
    with pytest.raises(ShapeError):
        f.call_batch(np.zeros((3, 4)))
    with pytest.raises(ConversionError):
        f.call_batch(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ArityError):
        f.call_device(good, out=good)
    with pytest.raises(TypeError):
        f.call_device(good, good)  # out= is required
    with pytest.raises(ConversionError, match="__cuda_array_interface__"):
        f.call_device(np.zeros(4), good, out=good)
    with pytest.raises(ConversionError, match="float64"):
        f.call_device(FakeGpuArray(np.zeros(4, dtype=np.float32)), good, out=good)
    with pytest.raises(ShapeError, match="contiguous"):
        f.call_device(FakeGpuArray(np.zeros((4, 2))[:, 0]), good, out=good)
    with pytest.raises(ShapeError):
        f.call_device(FakeGpuArray(np.zeros(5)), good, out=good)
    with pytest.raises(ConversionError, match="read-only"):
        f.call_device(good, good, out=FakeGpuArray(np.zeros(4), data=(1, True)))
    with pytest.raises(ArityError):
        f(1.0)


# -------------------------------------------------------------- no device


@needs_feature
@pytest.mark.skipif(DEVICE is not None, reason="a CUDA device is present")
def test_no_device_raises_backend_unavailable(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    f = cc(x**2 + ak.sin(y), [x, y], arch="sm_86")
    msg = "no CUDA (driver|device)"
    with pytest.raises(BackendUnavailableError, match=msg):
        f.call_batch(np.ones((2, 10)))
    with pytest.raises(BackendUnavailableError, match=msg):
        f.call_batch([np.ones(3), np.ones(3)])
    with pytest.raises(BackendUnavailableError, match=msg):
        f(1.0, 2.0)
    a = FakeGpuArray(np.ones(4))
    with pytest.raises(BackendUnavailableError, match=msg):
        f.call_device(a, a, out=FakeGpuArray(np.empty(4)))
    with pytest.raises(BackendUnavailableError, match=msg):
        cuda_device()
    # The process is still fine, and PTX is still there.
    assert ".entry alkahest_kernel" in f.ptx


# ------------------------------------------------------------ with a GPU


def _assert_close(tree, got, want, cols):
    bad = ~(np.isclose(got, want, rtol=1e-12, atol=0) | (np.isnan(got) & np.isnan(want)))
    for i in np.flatnonzero(bad)[:20]:
        env = {v: mpmath.mpf(float(c[i])) for v, c in zip("xyz", cols, strict=True)}
        tol = 64 * size(tree) * 2.0**-52 * float(magnitude(tree, env))
        assert abs(got[i] - want[i]) <= tol, (tree, i, got[i], want[i])


@needs_feature
@needs_device
@settings(max_examples=15, deadline=None)
@given(tree=exprs, seed=st.integers(0, 2**32 - 1))
def test_gpu_matches_interpreter(tree, seed):
    pool = ak.ExprPool()
    expr, _, vars_ = build(tree, pool)
    rng = np.random.default_rng(seed)
    cols = rng.uniform(-3, 3, size=(3, 1000))
    f = compile_cuda(expr, vars_)
    got = f.call_batch(cols)
    assert got.dtype == np.float64 and got.shape == (1000,)
    cpu = ak.compile_expr(expr, vars_, ak.CompileConfig(force_tier="interpreter"))
    want = ak.numpy_eval(cpu, *cols)
    _assert_close(tree, got, want, cols)
    assert f.call_batch(list(cols)).tolist() == got.tolist()
    assert f(*cols[:, 7]) == got[7]


@needs_feature
@needs_device
def test_gpu_spec_expression_and_edge_sizes(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    f = compile_cuda(x**2 + ak.sin(y), [x, y])
    cols = np.linspace(-3, 3, 2 * 100_003).reshape(2, -1)
    got = f.call_batch(cols)
    np.testing.assert_allclose(got, cols[0] ** 2 + np.sin(cols[1]), rtol=1e-13, atol=1e-15)
    assert f.call_batch(np.empty((2, 0))).shape == (0,)
    c = compile_cuda(pool.float(2.5), [])
    assert c.call_batch(np.empty((0, 5))).tolist() == [2.5] * 5


def _gpu_module():
    for name in ("cupy", "torch"):
        try:
            mod = __import__(name)
        except ImportError:
            continue
        if name == "torch" and not mod.cuda.is_available():
            continue
        return name, mod
    return None, None


@needs_feature
@needs_device
def test_gpu_device_path(pool):
    name, mod = _gpu_module()
    if mod is None:
        pytest.skip("neither CuPy nor a CUDA PyTorch is installed")
    x, y = pool.symbol("x"), pool.symbol("y")
    f = compile_cuda(x * y + ak.exp(x), [x, y])
    hx, hy = np.linspace(-1, 1, 4097), np.linspace(2, 3, 4097)
    if name == "cupy":
        dx, dy, out = mod.asarray(hx), mod.asarray(hy), mod.empty(4097)
        back = mod.asnumpy
    else:
        dx, dy = (mod.tensor(h, device="cuda") for h in (hx, hy))
        out = mod.empty(4097, dtype=mod.float64, device="cuda")

        def back(t):
            return t.cpu().numpy()

    assert f.call_device(dx, dy, out=out) is out
    want = f.call_batch(np.stack([hx, hy]))
    assert back(out).tolist() == want.tolist()
    # In place: out may be one of the inputs.
    f.call_device(dx, dy, out=dx)
    assert back(dx).tolist() == want.tolist()


# ------------------------------------------------------- without the feature


@pytest.mark.skipif(HAS_FEATURE, reason="built with the 'cuda' feature")
def test_without_feature_names_it(pool):
    x = pool.symbol("x")
    with pytest.raises(BackendUnavailableError, match="'cuda'"):
        compile_cuda(x + 1, [x])
    with pytest.raises(BackendUnavailableError, match="'cuda'"):
        cuda_device()
