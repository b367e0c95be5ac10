"""``CompileConfig(exact_math=True)``: one promise about results.

With ``exact_math`` (and ``optimize="none"``), every CPU path gives the bits
``eval_expr`` gives: the LLVM batch loop calls the same scalar libm routines
as scalar calls and the interpreter instead of glibc's vector math library
(libmvec). The expressions use functions that have libmvec forms (sin, exp,
log, pow, atan2, tanh, erf, ...), and the three cases where libmvec's few
ulps cross a domain edge or a discontinuity (a NaN against a number): fmod
by a difference that cancels to 0, sqrt of a difference that cancels to
±tiny, acosh(cos(1e-8)). Without ``exact_math`` at least one of them
differs on a CPU whose batch loop calls libmvec, which shows the option
matters; elsewhere that check skips.

References: the interpreter's batch (bit-identical to ``eval_expr`` by the
same promise, spot-checked here) and ``eval_expr`` itself on a sample.
"""

from __future__ import annotations

import ctypes
import math
import pickle
import platform
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alkahest as ak
from exprgen import build, exprs

HAS_LLVM = bool(ak.features().get("jit"))
needs_llvm = pytest.mark.skipif(
    not HAS_LLVM, reason="this build has no LLVM tier (cargo feature 'jit')"
)

EXACT = ak.CompileConfig(optimize="none", exact_math=True, force_tier="llvm")
DEFAULT = ak.CompileConfig(optimize="none", force_tier="llvm")
INTERP = ak.CompileConfig(optimize="none", force_tier="interpreter")

# Batch lengths: many full vectors (and the two-vector loop), one not a
# multiple of 8 (the masked tail), and one shorter than a vector.
LENGTHS = (4096, 4099, 3)


def differing(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Indices whose bits differ (two NaNs count as equal: their payload and
    sign are not part of the semantics)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    same = (got.view(np.uint64) == want.view(np.uint64)) | (np.isnan(got) & np.isnan(want))
    return np.flatnonzero(~same)


def assert_bits(got, want, what: str, cols=None) -> None:
    bad = differing(got, want)
    if bad.size:
        i = bad[0]
        at = [float(c[i]) for c in cols] if cols is not None else i
        raise AssertionError(
            f"{what}: {bad.size} of {np.size(want)} points differ; first at {at}: "
            f"{np.ravel(got)[i]!r} vs {np.ravel(want)[i]!r}"
        )


def same_scalar(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def formulas(pool):
    """Hand-picked expressions over x, y, z: every libm function with a
    libmvec form, and the issue's mixed formula."""
    x, y, z = pool.symbols("x y z")
    one = pool.integer(1)
    return [x, y, z], {
        "trig": ak.sin(x) * ak.cos(y) + ak.tan(z / 4) + ak.atan(x * y),
        "exp_log": ak.exp(x) - ak.log(one + y * y) + ak.log1p(z * z) + ak.expm1(x / 3),
        "pow": (one + x * x) ** y + ak.exp2(z) + ak.cbrt(x * y),
        "atan2_hypot": ak.atan2(x, y) + ak.hypot(y, z),
        "tanh_erf": ak.tanh(x) + ak.erf(y) + ak.erfc(z),
        "inverse_hyperbolic": ak.asinh(x) + ak.acosh(one + y * y) + ak.atanh(ak.tanh(z) / 2),
        "logs": ak.log2(one + x * x) + ak.log10(2 + y * y) + ak.sinh(z) * ak.cosh(x / 2),
        "arc": ak.asin(ak.tanh(x)) + ak.acos(ak.tanh(y)),
        "mixed": ak.exp(-x * y / 4) * ak.log(one + z)
        + ak.sqrt(x + y**2 + z) * ak.tanh(x - z)
        + x**y / (one + z**1.5),
    }


def points(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), rng.uniform(0, 3, n)]


def edge_cases(pool):
    """(name, expr, vars, columns): libmvec's ulps against a discontinuity
    or a domain edge, swept over many points so some land on it."""
    x, y, z = pool.symbols("x y z")
    n = 4099
    zs = np.linspace(-5.0, 5.0, n)
    # x = 3*exp(z) rounded like the expression's own product, with glibc's
    # scalar exp (Python's math module): x - 3*exp(z) is exactly 0 for the
    # scalar routine, a few ulps off 0 where the vector exp differs.
    xs = np.array([3.0 * math.exp(v) for v in zs])
    fmod = ak.fmod(y, x - 3 * ak.exp(z))
    ts = np.linspace(-3.0, 3.0, n)
    ss = np.array([math.sin(v) for v in ts])
    sqrt = ak.sqrt(ak.sin(x) - y)
    small = np.concatenate([[1e-8], np.geomspace(1e-9, 1e-6, n - 1)])
    acosh = ak.acosh(ak.cos(y))
    return [
        ("fmod by a cancelled difference", fmod, [x, y, z], [xs, np.ones(n), zs]),
        ("sqrt of a cancelled difference", sqrt, [x, y], [ts, ss]),
        ("acosh(cos(tiny))", acosh, [y], [small]),
    ]


def cases(pool):
    vars_, fs = formulas(pool)
    out = [(name, e, vars_, points(4099)) for name, e in fs.items()]
    return out + edge_cases(pool)


def reference(e, vars_, cols):
    return ak.numpy_eval(ak.compile_expr(e, vars_, INTERP), *cols)


# ---------------------------------------------------------------- the config


def test_exact_math_is_part_of_the_config():
    c = ak.CompileConfig(exact_math=True)
    assert c.exact_math and not ak.CompileConfig().exact_math
    assert "exact_math=True" in repr(c) and "exact_math" not in repr(ak.CompileConfig())
    assert c != ak.CompileConfig()
    back = pickle.loads(pickle.dumps(c))
    assert back == c and back.exact_math


def test_exact_math_and_fast_math_exclude_each_other():
    with pytest.raises(ak.OptionError, match="choose one"):
        ak.CompileConfig(exact_math=True, fast_math=True)


# ------------------------------------------------------- bit-identical paths


@needs_llvm
def test_llvm_batch_equals_eval_expr_bit_for_bit(pool):
    for name, e, vars_, cols in cases(pool):
        f = ak.compile_expr(e, vars_, EXACT)
        assert f.tier == "llvm", (name, f.notes)
        want = reference(e, vars_, cols)
        for n in LENGTHS:
            part = [c[:n] for c in cols]
            assert_bits(ak.numpy_eval(f, *part), want[:n], f"{name}, {n} points", part)
        # The reference is eval_expr's bits, and so is the scalar call.
        for i in list(range(0, len(cols[0]), 97)) + [0, 1, len(cols[0]) - 1]:
            env = {v: float(c[i]) for v, c in zip(vars_, cols, strict=True)}
            ref = ak.eval_expr(e, env)
            assert same_scalar(float(want[i]), ref), (name, env, want[i], ref)
            got = f([float(c[i]) for c in cols])
            assert same_scalar(got, ref), (name, env, got, ref)


@needs_llvm
def test_numpy_eval_par_follows(pool):
    n = 100_003  # several blocks per thread, and a ragged last one
    _, fs = formulas(pool)
    vars_ = pool.symbols("x y z")
    for name in ("mixed", "tanh_erf", "atan2_hypot"):
        e = fs[name]
        cols = points(n, seed=11)
        f = ak.compile_expr(e, vars_, EXACT)
        want = reference(e, vars_, cols)
        assert_bits(ak.numpy_eval_par(f, *cols, threads=2), want, f"{name}, par", cols)
        assert_bits(ak.numpy_eval_par(f, *cols, threads=3), want, f"{name}, par 3", cols)


@needs_llvm
@settings(max_examples=40)
@given(tree=exprs, seed=st.integers(0, 2**32 - 1))
def test_generated_expressions_are_bit_identical(tree, seed):
    pool = ak.ExprPool()
    e, _, vars_ = build(tree, pool)
    cols = [np.random.default_rng(seed).uniform(-3, 3, 1029) for _ in range(3)]
    f = ak.compile_expr(e, vars_, EXACT)
    assert_bits(ak.numpy_eval(f, *cols), reference(e, vars_, cols), repr(tree), cols)


@needs_llvm
def test_batches_before_and_after_an_upgrade_agree(pool):
    vars_, fs = formulas(pool)
    e = fs["mixed"]
    f = ak.compile_expr(e, vars_, ak.CompileConfig(optimize="none", exact_math=True))
    small = points(1000, seed=3)
    before_tier = f.tier
    before = ak.numpy_eval(f, *small)
    big = points(300_001, seed=5)
    after_big = ak.numpy_eval(f, *big)  # calls for LLVM: built before it runs
    assert f.tier == "llvm" and before_tier != "llvm", (before_tier, f.tier, f.notes)
    assert_bits(after_big, reference(e, vars_, big), "the upgrading batch", big)
    assert_bits(ak.numpy_eval(f, *small), before, "the same batch after the upgrade", small)


@needs_llvm
def test_a_cached_libmvec_build_is_never_served_to_exact_math(pool, tmp_path):
    vars_, fs = formulas(pool)
    e = fs["mixed"]
    cols = points(4099, seed=9)
    want = reference(e, vars_, cols)
    ak.CompileCache(tmp_path).compile(e, vars_, config=DEFAULT)
    exact = ak.CompileCache(tmp_path)
    f = exact.compile(e, vars_, config=EXACT)
    s = exact.stats()
    assert (s["disk_hits"], s["compiles"]) == (0, 1), s
    assert_bits(ak.numpy_eval(f, *cols), want, "fresh exact build", cols)
    # A later process loads the exact build from disk: the same bits.
    hit = ak.CompileCache(tmp_path)
    g = hit.compile(e, vars_, config=EXACT)
    assert hit.stats()["disk_hits"] == 1
    assert g.tier == "llvm"
    assert_bits(ak.numpy_eval(g, *cols), want, "exact build from the disk cache", cols)


# ------------------------------------------------- the default mode differs


@needs_llvm
def test_without_exact_math_the_batch_may_differ(pool):
    """Shows the option matters: on this machine (AVX-512 glibc) libmvec
    moves the last bits, and the edge cases turn NaN against a number."""
    found = []
    for name, e, vars_, cols in cases(pool):
        f = ak.compile_expr(e, vars_, DEFAULT)
        bad = differing(ak.numpy_eval(f, *cols), reference(e, vars_, cols))
        if bad.size:
            found.append((name, int(bad.size)))
    if not has_libmvec():
        pytest.skip("no libmvec here: the default batch loop calls scalar libm too")
    assert found, "libmvec is loaded, yet no case differed without exact_math"


def has_libmvec() -> bool:
    """Whether glibc's vector math library loads (the LLVM tier uses it on
    x86-64 Linux)."""
    if platform.machine() not in ("x86_64", "AMD64") or not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libmvec.so.1")
    except OSError:
        return False
    return True
