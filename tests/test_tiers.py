"""Every native tier in this build against the interpreter and mpmath.

Tolerances (documented per backend in its crate docs):
* Cranelift: scalar and batch bit-identical to the interpreter (same IEEE
  operations in the same order, the same libm calls).
* LLVM: scalar entry bit-identical; the vectorized batch loop calls glibc's
  libmvec (documented accurate to 4 ulp, libm ~1 ulp), so batch results may
  differ from the interpreter by a few ulp per transcendental call, which then
  propagate like any input perturbation. Checked against mpmath with the same
  bound as the interpreter itself (see test_differential.py).
"""

from __future__ import annotations

import gc
import math
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import alkahest as ak
from exprgen import build, exprs, magnitude, size

FEATS = ak.features()
NATIVE = [t for t, feat in (("cranelift", "cranelift"), ("llvm", "jit")) if FEATS.get(feat)]
TIERS = ["interpreter", *NATIVE]
needs_native = pytest.mark.skipif(not NATIVE, reason="this build has no native JIT tier")


def forced(expr, vars_, tier, **kw):
    return ak.compile_expr(expr, vars_, ak.CompileConfig(force_tier=tier, **kw))


@pytest.mark.parametrize("tier", TIERS)
def test_forced_tier_is_used(pool, tier):
    x = pool.symbol("x")
    f = forced(x * 2, [x], tier)
    assert f.tier == tier and f([2.0]) == 4.0 and f.notes == []


points = st.tuples(*[st.floats(-3, 3, allow_nan=False, allow_infinity=False)] * 3)


@pytest.mark.parametrize("tier", NATIVE)
@given(tree=exprs, pt=points)
def test_tier_matches_interpreter_and_mpmath(tier, tree, pt):
    pool = ak.ExprPool()
    expr, ref, vars_ = build(tree, pool)
    interp = forced(expr, vars_, "interpreter")
    f = forced(expr, vars_, tier)
    # Scalar entries are bit-identical in every tier.
    a, b = interp(list(pt)), f(list(pt))
    assert a == b or (math.isnan(a) and math.isnan(b)), (str(expr), pt, a, b)
    # Batches: 67 copies of the point, so vector bodies and remainders both run.
    cols = [np.full(67, v) for v in pt]
    batch = ak.numpy_eval(f, *cols)
    if tier == "cranelift":
        np.testing.assert_array_equal(batch, ak.numpy_eval(interp, *cols))
    with mpmath.workdps(50):
        env = {"x": mpmath.mpf(pt[0]), "y": mpmath.mpf(pt[1]), "z": mpmath.mpf(pt[2])}
        want = float(ref(env))
        scale = float(magnitude(tree, env))
    tol = 64 * size(tree) * 2.0**-52 * scale
    assert np.all(np.abs(batch - want) <= tol), (str(expr), pt, batch[0], want)


SPECIAL = np.array(
    [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 2.2e-308, 1.0, -1.0, 1e308]
)


@pytest.mark.parametrize("tier", NATIVE)
def test_special_values_exact_ops(pool, tier):
    x, y = pool.symbol("x"), pool.symbol("y")
    exprs_ = [
        x + y,
        x - y,
        x * y,
        x / y,
        -x,
        ak.sqrt(x),
        abs(x),
        ak.Min(x, y),
        ak.Max(x, y),
        ak.fma(x, y, x),
        x**2,
        x**-3,
    ]
    xs = np.repeat(SPECIAL, len(SPECIAL))
    ys = np.tile(SPECIAL, len(SPECIAL))
    for e in exprs_:
        want = ak.numpy_eval(forced(e, [x, y], "interpreter"), xs, ys)
        f = forced(e, [x, y], tier)
        got = ak.numpy_eval(f, xs, ys)
        np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64), err_msg=str(e))
        scalar = np.array([f([a, b]) for a, b in zip(xs, ys, strict=True)])
        same = (scalar.view(np.int64) == want.view(np.int64)) | (np.isnan(scalar) & np.isnan(want))
        assert same.all(), (str(e), scalar[~same], want[~same])


@pytest.mark.parametrize("tier", NATIVE)
def test_special_values_functions(pool, tier):
    x = pool.symbol("x")
    for fn in (
        ak.sin,
        ak.cos,
        ak.tan,
        ak.exp,
        ak.log,
        ak.atan,
        ak.tanh,
        ak.sinh,
        ak.cosh,
        ak.asin,
        ak.acos,
        ak.log1p,
        ak.expm1,
    ):
        e = fn(x)
        want = ak.numpy_eval(forced(e, [x], "interpreter"), SPECIAL)
        got = ak.numpy_eval(forced(e, [x], tier), SPECIAL)
        same_class = (np.isnan(got) == np.isnan(want)) & (np.isinf(got) == np.isinf(want))
        assert same_class.all(), (str(e), got, want)
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-15, atol=0, err_msg=str(e))


@needs_native
def test_default_dispatch(pool):
    x = pool.symbol("x")
    small = ak.compile_expr(x * 2 + 1, [x])
    assert small.tier == "interpreter"
    many = ak.compile_expr(x * 2 + 1, [x], ak.CompileConfig(expected_evals=10**7))
    # Planned native; a small tape may return on the interpreter while its
    # native tiers are built in the background.
    assert many.explain()["planned_tier"] != "interpreter"
    assert many.wait(120) and many.tier != "interpreter"
    # A large batch upgrades an interpreter-tier function once, and it stays.
    xs = np.linspace(0, 1, 1_000_000)
    out = ak.numpy_eval(small, xs)
    assert small.tier != "interpreter"
    np.testing.assert_allclose(out, xs * 2 + 1, rtol=0, atol=0)


@pytest.mark.skipif(not (FEATS["cranelift"] and FEATS["jit"]), reason="needs Cranelift and LLVM")
def test_large_batch_upgrades_cranelift_to_llvm(pool):
    x = pool.symbol("x")
    e = x**3 * 2 + x * 5 - 1  # arithmetic: Cranelift for 10k planned evaluations
    f = ak.compile_expr(e, [x], ak.CompileConfig(expected_evals=10_000))
    assert f.tier == "cranelift"
    xs = np.linspace(-2, 2, 1_000_000)
    want = ak.numpy_eval(forced(e, [x], "interpreter"), xs)
    got = ak.numpy_eval(f, xs)
    assert f.wait(120) and f.tier == "llvm"  # built in the background
    np.testing.assert_array_equal(got, want)


@needs_native
def test_call_bound_tapes_stay_on_the_interpreter_until_a_large_batch(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    e = x
    for k in range(40):  # > 64 ops, mostly math-library calls
        e = ak.sin(e + k * y) if k % 2 else ak.exp(ak.cos(e) * y)
    f = ak.compile_expr(e, [x, y])
    assert f.n_ops > 64 and f.tier == "interpreter"
    rng = np.random.default_rng(1)
    xs, ys = rng.uniform(-1, 1, 100_000), rng.uniform(0, 0.1, 100_000)
    want = ak.numpy_eval(forced(e, [x, y], "interpreter"), xs, ys)
    got = ak.numpy_eval(f, xs, ys)
    assert f.wait(120)  # LLVM is built in the background
    assert f.tier == ("llvm" if FEATS["jit"] else "cranelift")
    # LLVM's vector math library is within a few ulps of libm per call;
    # forty nested calls amplify that (1.5e-12 seen).
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)


def test_missing_tier_falls_back_with_warning(pool):
    x = pool.symbol("x")
    missing = [t for t, feat in (("cranelift", "cranelift"), ("llvm", "jit")) if not FEATS[feat]]
    if not missing:
        pytest.skip("every tier is compiled in; nothing to fall back from")
    with pytest.warns(ak.FallbackWarning, match="falling back"):
        f = forced(x + 1, [x], missing[-1])
    assert f.tier != missing[-1] and f([1.0]) == 2.0 and f.notes


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


@pytest.mark.parametrize("tier", NATIVE)
def test_compile_drop_cycles_leave_memory_flat(pool, tier):
    x, y = pool.symbol("x"), pool.symbol("y")
    e = ak.sin(x) * ak.exp(y) + x**3 / (1 + y**2)
    n = 1500 if tier == "cranelift" else 400
    for _ in range(n // 4):  # warm up allocators and caches
        forced(e, [x, y], tier)
    gc.collect()
    before = _rss_mb()
    for _ in range(n):
        f = forced(e, [x, y], tier)
        f([0.1, 0.2])
        del f
    gc.collect()
    grown = _rss_mb() - before
    assert grown < 40, f"RSS grew by {grown:.1f} MB over {n} compile/drop cycles"


@pytest.mark.parametrize("tier", NATIVE)
def test_deep_chain_and_wide_sum_compile(pool, tier):
    x = pool.symbol("x")
    e = x
    for _ in range(20_000):
        e = ak.sin(e)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ak.FallbackWarning)
        f = forced(e, [x], tier)
    ref = forced(e, [x], "interpreter")
    assert f([0.5]) == ref([0.5])


def _many_outputs(pool, k):
    """``k`` outputs with exact operations only (bit-identical in every tier):
    constants (repeated), an input, a shared register several times, products
    and a selection."""
    x, y, z = pool.symbol("x"), pool.symbol("y"), pool.symbol("z")
    s = x * y + z
    cases = [
        lambda i: pool.integer(0),
        lambda i: s,
        lambda i: x,
        lambda i: s * (i + 1),
        lambda i: ak.where(x < z, ak.floor(s), pool.float(i * 0.5)),
        lambda i: pool.float(i - 0.25),
    ]
    return [cases[i % 6](i) for i in range(k)], [x, y, z]


@pytest.mark.parametrize("tier", NATIVE)
@pytest.mark.parametrize("k", [17, 101, 3600])
def test_many_outputs_batches_match_interpreter_bitwise(pool, tier, k):
    """Many-output batches (staged in blocks of points on LLVM) agree bit for
    bit with the interpreter at point counts around vector and block edges,
    into a fresh array and into ``out=``."""
    outs, vars_ = _many_outputs(pool, k)
    ref_f = forced(outs, vars_, "interpreter")
    f = forced(outs, vars_, tier)
    rng = np.random.default_rng(k)
    for n in [0, 1, 3, 5, 63, 64, 65, 129, 1000]:
        cols = [rng.standard_normal(n) for _ in range(3)]
        cols[0][::7] = np.nan
        ref = ak.numpy_eval(ref_f, *cols)
        got = ak.numpy_eval(f, *cols)
        assert got.shape == ref.shape == (k, n)
        assert np.array_equal(got.view(np.int64), ref.view(np.int64)), (tier, k, n)
        out = np.full((k, n), -1.0)
        ak.numpy_eval(f, *cols, out=out)
        assert np.array_equal(out.view(np.int64), ref.view(np.int64)), (tier, k, n, "out=")
    pt = [0.5, -1.25, 2.0]
    assert np.array_equal(np.asarray(f(pt)), np.asarray(ref_f(pt)))


def _banded(pool, cells):
    """A Brusselator-like right-hand side: output pair ``i`` reads cells
    ``i - 1 .. i + 1`` (LLVM runs such a function in groups of outputs, one
    loop each), with exact operations only."""
    u = [pool.symbol(f"u{i}") for i in range(cells)]
    v = [pool.symbol(f"v{i}") for i in range(cells)]
    outs = []
    for i in range(cells):
        ul, ur = u[max(i - 1, 0)], u[min(i + 1, cells - 1)]
        vl, vr = v[max(i - 1, 0)], v[min(i + 1, cells - 1)]
        u2v = u[i] * u[i] * v[i]
        outs.append(1 + u2v - 4 * u[i] + 0.5 * (ul - 2 * u[i] + ur))
        outs.append(ak.where(u[i] < v[i], ak.floor(u2v), 3 * u[i] - u2v + vl * vr))
    return outs, [s for pair in zip(u, v, strict=True) for s in pair]


@pytest.mark.parametrize("tier", NATIVE)
def test_banded_outputs_match_interpreter_bitwise(pool, tier):
    """A wide banded function agrees bit for bit with the interpreter around
    block edges, into a fresh array, on two threads, and with ``out=`` holding
    its inputs."""
    outs, vars_ = _banded(pool, 15)
    ref_f = forced(outs, vars_, "interpreter")
    f = forced(outs, vars_, tier)
    assert f.explain()["output_groups"] == 15
    rng = np.random.default_rng(30)
    # 70,000 points first: past it Cranelift runs large batches group by group.
    for n in [70_000, 1, 9, 1023, 1024, 1025, 3001]:
        y = rng.uniform(-3, 3, (30, n))
        y[3, ::11] = np.nan
        ref = ak.numpy_eval(ref_f, *y)
        got = ak.numpy_eval(f, *y)
        assert np.array_equal(got.view(np.int64), ref.view(np.int64)), (tier, n)
        par = ak.numpy_eval_par(f, *y, threads=2)
        assert np.array_equal(par.view(np.int64), ref.view(np.int64)), (tier, n, "par")
        inplace = y.copy()
        ak.numpy_eval(f, *inplace, out=inplace)
        assert np.array_equal(inplace.view(np.int64), ref.view(np.int64)), (tier, n, "in place")


def test_output_groups_only_for_wide_functions_of_few_inputs_each(pool):
    """Functions sharing work across outputs, or with few outputs, are not
    grouped."""
    x, y = pool.symbol("x"), pool.symbol("y")
    shared = ak.sin(x * y)
    wide_shared = ak.compile_expr([shared + i * x for i in range(20)], [x, y])
    assert wide_shared.explain()["output_groups"] is None
    outs, vars_ = _banded(pool, 4)  # 8 outputs
    assert ak.compile_expr(outs, vars_).explain()["output_groups"] is None


_WIDTH_CHECK = """
import numpy as np, alkahest as ak
p = ak.ExprPool(); x, y = p.symbol("x"), p.symbol("y")
outs = [ak.sin(x) * ak.exp(y), ak.atan2(y, x) + x * y, ak.erf(x) - ak.tanh(y), x * y + 1]
f = ak.compile_expr(outs, [x, y], ak.CompileConfig(force_tier="llvm"))
g = ak.compile_expr(outs, [x, y], ak.CompileConfig(force_tier="interpreter"))
rng = np.random.default_rng(3)
for n in [0, 1, 7, 9, 15, 17, 33, 1001]:
    cols = [rng.uniform(-3, 3, n), rng.uniform(-3, 3, n)]
    a, b = ak.numpy_eval(f, *cols), ak.numpy_eval(g, *cols)
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    assert np.array_equal(a[3], b[3])  # no libm call: same bits
print(f.tier)
"""


@pytest.mark.skipif("llvm" not in NATIVE, reason="this build has no LLVM tier")
@pytest.mark.parametrize("width", ["2", "4", "8"])
def test_llvm_batches_at_every_simd_width(width):
    """ALKAHEST_SIMD_WIDTH caps the LLVM loop's vector width (8 lanes with
    AVX-512): every width gives the interpreter's results within libmvec's
    ulps, around the masked tail at each width."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "ALKAHEST_SIMD_WIDTH": width}
    r = subprocess.run([sys.executable, "-c", _WIDTH_CHECK], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "llvm"
