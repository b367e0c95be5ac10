"""digamma and trigamma: accuracy against mpmath, special values, every tier,
derivatives of the gamma family, SymPy conversion, series and balls.

Both functions are one recipe (``alkahest_tape::special``) expanded into
ordinary tape operations, so the CPU tiers must agree bit for bit; the
accuracy bounds are the ones documented in docs/functions.md.
"""

from __future__ import annotations

import math
import pickle

import mpmath
import numpy as np
import pytest
import sympy as sp

import alkahest as ak

FEATS = ak.features()
CPU_TIERS = ["interpreter"] + [
    t
    for t, feat in (("cranelift", "cranelift"), ("llvm", "jit"), ("mlir", "mlir"))
    if FEATS.get(feat)
]
AS_WRITTEN = {"optimize": "none"}
ROOT = 1.4616321449683622  # the positive zero of digamma, rounded


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def ulps(got: float, want) -> float:
    w = float(want)
    if got == w:
        return 0.0
    return abs(got - w) / math.ulp(w)


def sample(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Points by region, where the recipe changes regime or loses accuracy."""
    return {
        "root": ROOT + rng.uniform(-1e-3, 1e-3, 200),
        "root_ulps": ROOT + np.arange(-8, 9) * 2.0**-52,
        "(0,1)": rng.uniform(0, 1, 200),
        "[1,10)": rng.uniform(1, 10, 300),
        "[10,1e4)": 10 ** rng.uniform(1, 4, 200),
        "large": 10 ** rng.uniform(4, 300, 200),
        "tiny": 10 ** rng.uniform(-150, -1, 200),
        "negative": -(10 ** rng.uniform(-3, 5, 300)),
        "near poles": np.array(
            [-k + d for k in range(0, 8) for d in (1e-3, -1e-3, 1e-9, -1e-9, 1e-13)]
        ),
    }


@pytest.fixture(scope="module")
def fns():
    pool = ak.ExprPool()
    x = pool.symbol("x")
    cfg = ak.CompileConfig(force_tier="interpreter", **AS_WRITTEN)
    return (
        ak.compile_expr(ak.digamma(x), [x], cfg),
        ak.compile_expr(ak.trigamma(x), [x], cfg),
    )


def test_digamma_accuracy_against_mpmath(fns):
    """Within 3 ulp on the positive axis (through the root, where it keeps
    relative accuracy); on the negative axis the reflection's terms cancel
    near digamma's zeros, so the error is held to 4 ulp of their size."""
    dg, _ = fns
    worst: dict[str, float] = {}
    with mpmath.workdps(40):
        for region, xs in sample(np.random.default_rng(13)).items():
            for v in xs:
                v = float(v)
                if v <= 0 and v == math.floor(v):
                    continue
                got = dg([v])
                want = mpmath.digamma(mpmath.mpf(v))
                if v > 0:
                    err = ulps(got, want)
                else:
                    size = abs(mpmath.digamma(1 - mpmath.mpf(v))) + abs(
                        mpmath.pi * mpmath.cot(mpmath.pi * mpmath.mpf(v))
                    )
                    err = float(abs(got - want) / (size * 2.0**-52))
                worst[region] = max(worst.get(region, 0.0), err)
    assert all(e <= 4.0 for e in worst.values()), sorted(worst.items(), key=lambda t: -t[1])
    # The root itself: relative accuracy, not just absolute.
    assert worst["root_ulps"] <= 3.0, worst
    assert worst["root"] <= 3.0, worst


def test_trigamma_accuracy_against_mpmath(fns):
    """Within 3 ulp of mpmath on the positive axis and 5 on the negative one
    (the reflection squares pi/sin(pi x)); no cancellation anywhere."""
    _, tg = fns
    worst: dict[str, float] = {}
    with mpmath.workdps(40):
        for region, xs in sample(np.random.default_rng(17)).items():
            for v in xs:
                v = float(v)
                if v <= 0 and v == math.floor(v):
                    continue
                want = mpmath.psi(1, mpmath.mpf(v))
                if abs(want) > 1.7e308:
                    continue
                worst[region] = max(worst.get(region, 0.0), ulps(tg([v]), want))
    bound = {"negative": 6.0, "near poles": 6.0}
    assert all(e <= bound.get(r, 4.0) for r, e in worst.items()), worst


def test_special_values_follow_scipy(fns):
    sc = pytest.importorskip("scipy.special")
    dg, tg = fns
    pts = [0.0, -0.0, -1.0, -2.0, -7.0, math.inf, -math.inf, math.nan, 1.0, 2.0, 0.5, -0.5]
    pts += [1e-300, -1e-300, 2.0**53, -(2.0**53), 5e-324]
    for v in pts:
        assert same(dg([v]), float(sc.digamma(v))) or abs(dg([v]) - sc.digamma(v)) <= 4 * abs(
            math.ulp(sc.digamma(v))
        ), v
        want = float(sc.polygamma(1, v))
        if v == -math.inf:
            # No limit (poles all the way); scipy says inf, Alkahest NaN.
            assert math.isnan(tg([v]))
            continue
        assert same(tg([v]), want) or abs(tg([v]) - want) <= 4 * math.ulp(want), v


@pytest.mark.parametrize("tier", CPU_TIERS)
def test_every_cpu_tier_agrees_bit_for_bit(tier):
    pool = ak.ExprPool()
    x = pool.symbol("x")
    outs = [ak.digamma(x), ak.trigamma(x), ak.digamma(x * x + 1) * ak.trigamma(x)]
    ref = ak.compile_expr(outs, [x], ak.CompileConfig(force_tier="interpreter", **AS_WRITTEN))
    f = ak.compile_expr(outs, [x], ak.CompileConfig(force_tier=tier, **AS_WRITTEN))
    assert f.tier == tier
    rng = np.random.default_rng(3)
    pts = [0.0, -0.0, -3.0, math.inf, -math.inf, math.nan, ROOT, 1e-300, 1e300, 9.999, 10.0]
    pts += list(rng.uniform(-30, 30, 60)) + list(10 ** rng.uniform(-5, 5, 40))
    for v in pts:
        got, want = f([v]), ref([v])
        # MLIR plans x*x + 1 as a fused Horner step: only the functions
        # themselves are held bitwise there.
        n_exact = 2 if tier == "mlir" else len(outs)
        for g, w in zip(got[:n_exact], want[:n_exact], strict=True):
            assert same(g, w), (tier, v, g, w)
        for g, w in zip(got[n_exact:], want[n_exact:], strict=True):
            assert same(g, w) or abs(g - w) <= 1e-14 * abs(w), (tier, v, g, w)
    xs = np.array(pts)
    batch = ak.numpy_eval(f, xs)
    for i, v in enumerate(pts):
        want = ref([v])
        for k in range(len(outs)):
            g, w = batch[k, i], want[k]
            if tier == "interpreter" or same(g, w):
                continue
            # LLVM's batch loop may use libmvec's log/tan/sin (a few ulps
            # from glibc's scalar ones); near digamma's negative zeros that
            # difference is relative to the reflection's terms.
            scale = abs(w) + (
                abs(ref([1 - v])[0]) + math.pi / abs(math.tan(math.pi * v)) if v < 0 else 0
            )
            assert abs(g - w) <= 16 * math.ulp(scale), (tier, k, v, g, w)


def test_emit_c_compiles_and_agrees(tmp_path):
    import shutil
    import subprocess

    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    pool = ak.ExprPool()
    x = pool.symbol("x")
    outs = [ak.digamma(x), ak.trigamma(x)]
    src = ak.emit_c(outs, [x], fn_name="f")
    pts = [ROOT, 0.25, 3.5, 12.0, -2.5, 1e-7, 250.0]
    main = tmp_path / "main.c"
    calls = "".join(f'f({v!r},o);printf("%.17g %.17g\\n",o[0],o[1]);' for v in pts)
    main.write_text(
        "#include <math.h>\n#include <stdio.h>\n"
        + src
        + "\nint main(void){double o[2];"
        + calls
        + "return 0;}\n"
    )
    exe = tmp_path / "main"
    subprocess.run([cc, "-std=c99", "-O0", str(main), "-o", str(exe), "-lm"], check=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    f = ak.compile_expr(outs, [x], ak.CompileConfig(force_tier="interpreter", **AS_WRITTEN))
    got = np.array([float(v) for v in lines]).reshape(len(pts), 2)
    for row, v in zip(got, pts, strict=True):
        # Same operations, same glibc: identical.
        np.testing.assert_array_equal(row, f([v]))


@pytest.mark.skipif(not FEATS.get("cuda"), reason="built without the 'cuda' feature")
def test_cuda_ptx_is_generated():
    pool = ak.ExprPool()
    x = pool.symbol("x")
    try:
        f = ak.compile_cuda([ak.digamma(x), ak.trigamma(x)], [x])
    except ak.BackendUnavailableError as e:  # pragma: no cover - no libdevice
        pytest.skip(str(e))
    ptx = f.ptx
    assert ".entry alkahest_kernel" in ptx
    assert ".extern .func" not in ptx


# ------------------------------------------------------------ derivatives


def test_derivatives_of_the_gamma_family_match_mpmath():
    pool = ak.ExprPool()
    x = pool.symbol("x")
    u = x * x + 0.5
    cases = [
        (ak.gamma(u), lambda v: mpmath.gamma(v * v + 0.5)),
        (ak.loggamma(u), lambda v: mpmath.loggamma(v * v + 0.5)),
        (ak.digamma(u), lambda v: mpmath.digamma(v * v + 0.5)),
        (ak.gamma(x), mpmath.gamma),
        (ak.loggamma(x), lambda v: mpmath.log(abs(mpmath.gamma(v)))),
        (ak.digamma(x), mpmath.digamma),
    ]
    with mpmath.workdps(40):
        for e, ref in cases:
            d = ak.compile_expr(ak.diff(e, x), [x])
            for v in (0.3, 1.1, ROOT, 2.7, 6.0, -0.4, -2.6):
                want = mpmath.diff(ref, mpmath.mpf(v))
                got = d([v])
                assert abs(got - float(want)) <= 1e-13 * max(1.0, abs(float(want))), (
                    e,
                    v,
                    got,
                    want,
                )
    # The second derivative of loggamma is trigamma.
    d2 = ak.compile_expr(ak.diff(ak.loggamma(x), x, 2), [x])
    for v in (0.3, 4.0, -1.5):
        assert abs(d2([v]) - float(mpmath.psi(1, v))) <= 1e-14 * float(mpmath.psi(1, v))


def test_derivatives_agree_with_sympy():
    pool = ak.ExprPool()
    X = sp.Symbol("x")
    for e in (sp.gamma(X**2 + 1), sp.loggamma(sp.sin(X) + 2), sp.polygamma(0, X**3 + 1)):
        ours = ak.to_sympy(ak.diff(ak.from_sympy(e, pool), pool.symbol("x")))
        theirs = sp.diff(e, X)
        for v in (0.3, 1.7):
            a, b = complex(ours.subs(X, v).evalf(30)), complex(theirs.subs(X, v).evalf(30))
            assert abs(a - b) <= 1e-25 * max(1.0, abs(b)), (e, ours, theirs)


def test_trigamma_derivative_is_a_typed_error():
    pool = ak.ExprPool()
    x = pool.symbol("x")
    with pytest.raises(ak.UnsupportedError, match=r"polygamma\(2, x\)"):
        ak.diff(ak.trigamma(x * x), x)
    # Not depending on the variable is fine.
    y = pool.symbol("y")
    assert ak.diff(ak.trigamma(x), y) == pool.integer(0)


# ------------------------------------------------------------ conversion


def test_sympy_round_trip():
    pool = ak.ExprPool()
    X = sp.Symbol("x")
    x = pool.symbol("x")
    assert ak.from_sympy(sp.digamma(X), pool) == ak.digamma(x)
    assert ak.from_sympy(sp.polygamma(0, X), pool) == ak.digamma(x)
    assert ak.from_sympy(sp.trigamma(X), pool) == ak.trigamma(x)
    assert ak.from_sympy(sp.polygamma(1, X**2), pool) == ak.trigamma(x**2)
    e = ak.digamma(x) + 3 * ak.trigamma(x + 1)
    back = ak.to_sympy(e)
    assert back == sp.polygamma(0, X) + 3 * sp.polygamma(1, X + 1)
    assert ak.from_sympy(back, pool) == e
    with pytest.raises(ak.ConversionError, match="polygamma"):
        ak.from_sympy(sp.polygamma(2, X), pool)
    with pytest.raises(ak.ConversionError, match="polygamma"):
        ak.from_sympy(sp.polygamma(sp.Symbol("n"), X), pool)


def test_printing_pickling_and_save_load(tmp_path):
    pool = ak.ExprPool()
    x = pool.symbol("x")
    e = ak.digamma(x) * ak.trigamma(2 * x)
    assert "digamma(x)" in str(e) and "trigamma(2*x)" in str(e)
    f = ak.compile_expr(e, [x])
    g = pickle.loads(pickle.dumps(f))
    assert g([0.7]) == f([0.7])
    path = tmp_path / "p.alkp"
    pool.save(path, [e])
    other = ak.ExprPool()
    (back,) = other.load_exprs(path)
    assert str(back) == str(e)
    assert ak.compile_expr(back, [other.symbol("x")])([0.7]) == f([0.7])


# ------------------------------------------------------------ series, balls


def test_series_is_unsupported():
    pool = ak.ExprPool()
    x = pool.symbol("x")
    for e in (ak.digamma(x), ak.trigamma(x), ak.sin(ak.digamma(x))):
        # The same typed error as gamma's and loggamma's.
        with pytest.raises(ak.BackendUnavailableError, match="cannot lower (di|tri)gamma"):
            ak.taylor(e, x, 2.0, 3)


@pytest.mark.skipif(not FEATS.get("mlir"), reason="built without the 'mlir' feature")
def test_interval_encloses_positive_balls():
    pool = ak.ExprPool()
    x = pool.symbol("x")
    for make, ref in ((ak.digamma, mpmath.digamma), (ak.trigamma, lambda v: mpmath.psi(1, v))):
        mid, rad = ak.interval_eval(make(x), {x: (ROOT, 0.25)})
        for v in np.linspace(ROOT - 0.25, ROOT + 0.25, 21):
            assert abs(float(ref(float(v))) - mid) <= rad
        assert rad < 1.0
        _, rad = ak.interval_eval(make(x), {x: (-0.5, 0.1)})
        assert rad == math.inf
