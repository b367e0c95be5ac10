"""The MLIR backend from Python: to_mlir, to_stablehlo, the dialect, series, balls.

External readers check what is emitted: XLA (jax's CPU backend, in process)
runs the StableHLO text, ``mlir-opt-19 --irdl-file`` verifies the alkahest
dialect text against ``mlir_dialect()``, and ``mlir-translate-19`` + ``llc-19``
+ ``cc`` turn the ``llvm`` dialect text into a shared object that ctypes calls.
Tests needing a missing tool are skipped, naming it.

Tolerances: a float64 evaluation with n operations is off by at most about
n * eps * (largest intermediate magnitude) (see test_differential.py), so two
float64 evaluations (XLA or MLIR's JIT vs eval_expr) may differ by twice that;
we allow 1e-12 relative plus 64 * n * eps * max|intermediate| absolute.
"""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess

import mpmath
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import alkahest as ak
from exprgen import build, exprs, magnitude, size

if not ak.features().get("mlir"):
    pytest.skip("this build has no MLIR backend (cargo feature 'mlir')", allow_module_level=True)

try:
    from alkahest import (
        compile_interval,
        compile_series,
        interval_eval,
        mlir_dialect,
        taylor,
        to_mlir,
        to_stablehlo,
    )
except ImportError:  # not yet re-exported by the package: the extension has them
    from alkahest._alkahest import (
        compile_interval,
        compile_series,
        interval_eval,
        mlir_dialect,
        taylor,
        to_mlir,
        to_stablehlo,
    )

from alkahest import sin
from alkahest.exceptions import (
    ArityError,
    BackendUnavailableError,
    ConversionError,
    DuplicateSymbolError,
    InvalidNameError,
    NotASymbolError,
    OptionError,
    PoolMismatchError,
    UnboundSymbolError,
)

EPS = 2.0**-52
points = st.tuples(*[st.floats(-3, 3, allow_nan=False, allow_infinity=False)] * 3)


def tolerance(tree, pt, want):
    with mpmath.workdps(30):
        env = {v: mpmath.mpf(c) for v, c in zip("xyz", pt, strict=True)}
        scale = float(magnitude(tree, env))
    return 1e-12 * abs(want) + 64 * size(tree) * EPS * scale


def close(got, want, tol):
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return abs(got - want) <= tol


def has_op(tree, op):
    return tree[0] == op or any(has_op(c, op) for c in tree[1:] if isinstance(c, tuple))


# --- external tools -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def xla():
    """run(text, [point, ...]) -> [float, ...] through XLA's CPU backend (jax)."""
    jax = pytest.importorskip("jax", reason="jax (XLA's CPU backend) is not installed")
    import numpy as np
    from jax._src.interpreters import mlir as jmlir
    from jax._src.lib.mlir import ir
    from jax.extend.backend import get_backend

    x64 = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    backend = get_backend("cpu")
    devices = backend.local_devices()[:1]

    def run(text, pts):
        with jmlir.make_ir_context():
            module = ir.Module.parse(text)
            assert module.operation.verify(), text
        exe = backend.compile_and_load(text, devices)
        out = []
        for p in pts:
            bufs = [jax.device_put(np.asarray(v, dtype=np.float64)) for v in p]
            (res,) = exe.execute(bufs)
            out.append(float(np.asarray(res)))
        return out

    yield run
    jax.config.update("jax_enable_x64", x64)


def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found (Debian packages mlir-19-tools / llvm-19)")
    return path


def mlir_opt_verifies(tmp_path, text):
    opt = tool("mlir-opt-19")
    irdl = tmp_path / "alkahest.irdl.mlir"
    irdl.write_text(mlir_dialect())
    src = tmp_path / "m.mlir"
    src.write_text(text)
    r = subprocess.run(
        [opt, f"--irdl-file={irdl}", "--verify-diagnostics=false", str(src)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


# --- the spec's example and XLA -----------------------------------------------------------


def test_spec_to_stablehlo_example_runs_in_xla(pool, xla):
    x = pool.symbol("x")
    y = pool.symbol("y")
    expr = x**2 + sin(y)
    # Emit textual MLIR in the StableHLO dialect
    mlir_text = to_stablehlo(expr, [x, y], fn_name="my_fn")
    print(mlir_text)  # valid input to mlir-opt / XLA
    assert "@main" in mlir_text and "my_fn" in mlir_text
    assert "tensor<f64>" in mlir_text
    assert xla(mlir_text, [(3.0, 0.0), (0.5, 1.25)]) == [9.0, 0.25 + math.sin(1.25)]


def test_stablehlo_main_and_default_name(pool, xla):
    x = pool.symbol("x")
    text = to_stablehlo(x * 3 + 1, [x])
    assert "func.func @main(" in text and "@f(" in text
    assert xla(text, [(2.0,)]) == [7.0]
    only_main = to_stablehlo(x * 3 + 1, [x], fn_name="main")
    assert xla(only_main, [(2.0,)]) == [7.0]


@settings(max_examples=25)
@given(tree=exprs, pts=st.lists(points, min_size=1, max_size=3))
def test_stablehlo_in_xla_matches_eval_expr(xla, tree, pts):
    pool = ak.ExprPool()
    expr, _, vars_ = build(tree, pool)
    got = xla(to_stablehlo(expr, vars_, fn_name="g"), pts)
    for pt, g in zip(pts, got, strict=True):
        want = ak.eval_expr(expr, dict(zip(vars_, pt, strict=True)))
        assert close(g, want, tolerance(tree, pt, want)), (str(expr), pt, g, want)


def test_stablehlo_hypot_at_zero_and_tiny(pool, xla):
    x, y = pool.symbol("x"), pool.symbol("y")
    pts = [(0.0, 0.0), (-0.0, 0.0), (3.0, 4.0), (0.0, -2.5), (1e-300, 1e-300), (1e300, 1e300)]
    got = xla(to_stablehlo(ak.hypot(x, y), [x, y]), pts)
    for (a, b), g in zip(pts, got, strict=True):
        assert g == pytest.approx(math.hypot(a, b), rel=1e-15), (a, b, g)


# --- dialects -----------------------------------------------------------------------------


@pytest.fixture
def poly(pool):
    x = pool.symbol("x")
    return x, x**3 + pool.integer(2) * x**2 + pool.integer(3) * x + pool.integer(4)


def test_alkahest_dialect_recognizes_polynomials(poly):
    x, p = poly
    text = to_mlir(p, [x], dialect="alkahest")
    assert "alkahest.horner" in text or "alkahest.poly_eval" in text
    assert to_mlir(p, [x]) == text  # the default dialect
    assert "func.func @f(" in text


def test_rational_function_and_other_ops(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    r = (x**2 + 1) / (x**3 - 2 * x + 5)
    assert "alkahest.rational_fn" in to_mlir(r, [x])
    text = to_mlir(y * sin(x) + pool.float(0.5) ** y, [x, y], fn_name="g")
    assert "func.func @g(" in text and "alkahest." in text


def test_arith_dialect_uses_fma(poly):
    x, p = poly
    text = to_mlir(p, [x], dialect="arith")
    assert "math.fma" in text and "alkahest." not in text


def test_llvm_dialect_translates_and_runs(tmp_path, pool, poly):
    translate, llc, cc = tool("mlir-translate-19"), tool("llc-19"), tool("cc")
    x, p = poly
    y = pool.symbol("y")
    expr = p * ak.cos(y) + ak.hypot(x, y) - ak.exp(x / (1 + y**2))
    text = to_mlir(expr, [x, y], fn_name="kern", dialect="llvm")
    assert "llvm.func @kern(" in text
    src = tmp_path / "k.mlir"
    src.write_text(text)
    ll, obj, so = tmp_path / "k.ll", tmp_path / "k.o", tmp_path / "k.so"
    subprocess.run([translate, "--mlir-to-llvmir", str(src), "-o", str(ll)], check=True)
    subprocess.run(
        [llc, "-O2", "-relocation-model=pic", "-filetype=obj", str(ll), "-o", str(obj)],
        check=True,
    )
    subprocess.run([cc, "-shared", str(obj), "-o", str(so), "-lm"], check=True)
    kern = ctypes.CDLL(str(so)).kern
    kern.restype = ctypes.c_double
    kern.argtypes = [ctypes.c_double, ctypes.c_double]
    for px, py in [(0.0, 0.0), (1.5, -2.0), (-2.25, 0.75), (3.0, 3.0)]:
        want = ak.eval_expr(expr, {x: px, y: py})
        assert math.isclose(kern(px, py), want, rel_tol=1e-13, abs_tol=1e-13)


def test_mlir_opt_verifies_against_irdl(tmp_path, pool, poly):
    x, p = poly
    y = pool.symbol("y")
    irdl = mlir_dialect()
    assert "irdl.dialect @alkahest" in irdl
    for op in ("horner", "poly_eval", "series_taylor", "interval_eval", "rational_fn"):
        assert op in irdl
    cases = [
        to_mlir(p, [x]),
        to_mlir(y * p + (x**2 + 1) / (y**2 + 3) + sin(x) ** 3, [x, y]),
        compile_series(ak.exp(x), x, 0.5, 6).to_mlir(),
        compile_interval(p * sin(y), [x, y]).to_mlir(fn_name="ball"),
    ]
    for text in cases:
        assert "alkahest." in mlir_opt_verifies(tmp_path, text)
    # and the reader is real: an op the dialect does not define fails
    opt = tool("mlir-opt-19")
    bad = tmp_path / "bad.mlir"
    bad.write_text(cases[0].replace("alkahest.horner", "alkahest.no_such_op", 1))
    r = subprocess.run(
        [opt, f"--irdl-file={tmp_path / 'alkahest.irdl.mlir'}", str(bad)],
        capture_output=True,
        text=True,
    )
    assert "alkahest.horner" in cases[0] and r.returncode != 0


# --- compile_expr's mlir tier ---------------------------------------------------------------


def test_forced_mlir_tier(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    f = ak.compile_expr(x**2 + sin(y), [x, y], ak.CompileConfig(force_tier="mlir"))
    assert f.tier == "mlir" and f.notes == []
    assert f([3.0, 0.0]) == 9.0


@settings(max_examples=25)
@given(tree=exprs, pt=points)
def test_mlir_tier_matches_interpreter(tree, pt):
    pool = ak.ExprPool()
    expr, _, vars_ = build(tree, pool)
    f = ak.compile_expr(expr, vars_, ak.CompileConfig(force_tier="mlir"))
    assert f.tier == "mlir"
    got = f(list(pt))
    want = ak.eval_expr(expr, dict(zip(vars_, pt, strict=True)))
    assert close(got, want, tolerance(tree, pt, want)), (str(expr), pt, got, want)


# --- series_taylor --------------------------------------------------------------------------


def test_taylor_exp_and_sin(pool):
    x = pool.symbol("x")
    c = taylor(ak.exp(x), x, order=10)
    assert len(c) == 11
    for k, ck in enumerate(c):
        assert abs(ck - 1 / math.factorial(k)) <= 1e-16
    with mpmath.workdps(40):
        want = mpmath.taylor(mpmath.sin, mpmath.mpf(0.75), 7)
    got = taylor(sin(x), x, center=0.75, order=7)
    for g, w in zip(got, want, strict=True):
        assert abs(g - float(w)) <= 1e-15
    assert taylor(x**2 + 1, x, 0.0, 4) == [1.0, 0.0, 1.0, 0.0, 0.0]


# One-variable analytic expressions for the series: exprgen's operators that
# are smooth everywhere on the reals.
SMOOTH_UNARY = ("neg", "sin", "cos", "tanh", "atan", "exp_t", "log_q", "sqrt_q", "sinh_t")
x_exprs = st.recursive(
    st.one_of(
        st.just(("var", "x")),
        st.integers(-3, 3).map(lambda n: ("int", n)),
        st.floats(-2, 2, allow_nan=False).map(lambda c: ("float", c)),
    ),
    lambda ch: st.one_of(
        st.tuples(st.sampled_from(SMOOTH_UNARY), ch),
        st.tuples(st.sampled_from(("add", "sub", "mul", "div_q")), ch, ch),
        st.tuples(st.just("powi"), ch, st.integers(-2, 3)),
    ),
    max_leaves=6,
)


@settings(max_examples=25)
@given(
    tree=x_exprs,
    center=st.floats(-1.5, 1.5, allow_nan=False),
    h=st.floats(-0.05, 0.05, allow_nan=False),
)
def test_series_against_mpmath(tree, center, h):
    pool = ak.ExprPool()
    expr, ref, vars_ = build(tree, pool)
    x = vars_[0]
    assume(tree[0] != "int" and tree[0] != "float")
    order = 5
    with mpmath.workdps(50):
        want = mpmath.taylor(lambda t: ref({"x": t}), mpmath.mpf(center), order)
    got = taylor(expr, x, center=center, order=order)
    scale = max(1.0, *(abs(float(w)) for w in want))
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert abs(g - float(w)) <= 1e-9 * scale, (str(expr), center, k, g, float(w))
    s = compile_series(expr, x, center, order)
    assert (s.center, s.order, s.coefficients) == (center, order, got)
    # the compiled series is the Taylor polynomial
    poly = sum(c * h**k for k, c in enumerate(got))
    assert math.isclose(s(center + h), poly, rel_tol=1e-12, abs_tol=1e-12 * scale)


def test_series_fn_close_to_function(pool):
    x = pool.symbol("x")
    s = compile_series(ak.exp(x) * sin(x), x, center=0.25, order=16)
    for t in (0.2, 0.25, 0.3):
        assert math.isclose(s(t), math.exp(t) * math.sin(t), rel_tol=1e-14)
    assert "SeriesFn" in repr(s) and s.var == x
    assert "alkahest.series_taylor" in s.to_mlir()
    assert "math.fma" in s.to_mlir(fn_name="s", dialect="arith")
    assert "llvm.func @s(" in s.to_mlir(fn_name="s", dialect="llvm")


# --- interval_eval --------------------------------------------------------------------------

radii = st.sampled_from([0.0, 1e-9, 1e-3, 0.1, 0.5])


@settings(max_examples=25)
@given(tree=exprs, mids=points, rads=st.tuples(radii, radii, radii), fr=st.floats(-1, 1))
def test_interval_encloses_interpreter(tree, mids, rads, fr):
    assume(not has_op(tree, "atan2"))
    pool = ak.ExprPool()
    expr, _, vars_ = build(tree, pool)
    f = compile_interval(expr, vars_)
    mid, rad = f(list(zip(mids, rads, strict=True)))
    if math.isnan(mid) or math.isnan(rad) or math.isinf(rad):
        return  # documented: nothing finite is known
    assert rad >= 0
    # the midpoint, the corners reached by fr, and the ball's own center
    for s in (0.0, fr, -fr, 1.0, -1.0):
        pt = [m + s * r for m, r in zip(mids, rads, strict=True)]
        v = ak.eval_expr(expr, dict(zip(vars_, pt, strict=True)))
        assert mid - rad <= v <= mid + rad, (str(expr), mids, rads, s, v, mid, rad)


def test_interval_point_and_tight(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    mid, rad = interval_eval(sin(x), {x: (1.0, 0.0)})
    assert 0 < rad < 1e-14 and abs(mid - math.sin(1.0)) <= rad
    # bare numbers are exact points
    mid, rad = interval_eval(x * y, {x: 2.0, y: (3.0, 0.0)})
    assert mid == 6.0 and 0 <= rad < 1e-14
    f = compile_interval(x**2 - y, [x, y])
    mid, rad = f([(1.0, 0.5), (0.0, 0.25)])
    assert mid - rad <= 0.25 - 0.25 and mid + rad >= 2.25 + 0.25
    assert f.n_vars == 2 and f.vars == [x, y] and "BallFn" in repr(f)
    assert "alkahest.interval_eval" in f.to_mlir()


# --- bad inputs -----------------------------------------------------------------------------


def test_bad_dialect_and_names(pool):
    x = pool.symbol("x")
    with pytest.raises(OptionError, match="dialect"):
        to_mlir(x + 1, [x], dialect="stablehlo")
    with pytest.raises(OptionError):
        compile_series(sin(x), x).to_mlir(dialect="nvvm")
    for bad in ("", "1f", "a-b", "f g", "hypot"):
        with pytest.raises(InvalidNameError):
            to_mlir(x + 1, [x], fn_name=bad)
        with pytest.raises(InvalidNameError):
            to_stablehlo(x + 1, [x], fn_name=bad)
    with pytest.raises(InvalidNameError):
        compile_interval(x + 1, [x]).to_mlir(fn_name="2x")


def test_bad_variables(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    for emit in (to_mlir, to_stablehlo, compile_interval):
        with pytest.raises(UnboundSymbolError):
            emit(x + y, [x])
        with pytest.raises(NotASymbolError):
            emit(x + 1, [x + 1])
        with pytest.raises(DuplicateSymbolError):
            emit(x + 1, [x, x])
        with pytest.raises(ConversionError):
            emit(x + 1, [1.0])
        with pytest.raises(ConversionError):
            emit(x + 1, 3)
    with pytest.raises(UnboundSymbolError):
        taylor(x + y, x)
    with pytest.raises(UnboundSymbolError):
        compile_series(x * y, y)
    with pytest.raises(NotASymbolError):
        taylor(x + 1, x + 1)
    with pytest.raises(UnboundSymbolError):
        interval_eval(x + y, {x: (1.0, 0.1)})


def test_mixed_pools():
    p, q = ak.ExprPool(), ak.ExprPool()
    x, xq = p.symbol("x"), q.symbol("x")
    for call in (
        lambda: to_mlir(x + 1, [xq]),
        lambda: to_stablehlo(x + 1, [xq]),
        lambda: taylor(x + 1, xq),
        lambda: compile_series(x + 1, xq),
        lambda: compile_interval(x + 1, [xq]),
        lambda: interval_eval(x + 1, {xq: 1.0}),
    ):
        with pytest.raises(PoolMismatchError):
            call()


def test_bad_series_options(pool):
    x = pool.symbol("x")
    with pytest.raises(OptionError):
        taylor(sin(x), x, order=-1)
    with pytest.raises(OptionError):
        taylor(sin(x), x, order=100_000)
    with pytest.raises(OptionError):
        taylor(sin(x), x, center=math.inf)
    with pytest.raises(OptionError, match="singular"):
        compile_series(ak.log(x), x, center=0.0)
    s = compile_series(sin(x), x)
    with pytest.raises(ConversionError):
        s("1.0")


def test_bad_balls(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    f = compile_interval(x * y, [x, y])
    with pytest.raises(ArityError):
        f([(1.0, 0.1)])
    with pytest.raises(ConversionError):
        f([(1.0, 0.1, 2.0), (1.0, 0.0)])
    with pytest.raises(ConversionError):
        f([("a", 0.1), (1.0, 0.0)])
    with pytest.raises(ConversionError):
        f("ab")
    with pytest.raises(ConversionError):
        f(3.0)
    with pytest.raises(OptionError, match="radius"):
        f([(1.0, -0.1), (1.0, 0.0)])
    with pytest.raises(OptionError, match="radius"):
        interval_eval(x, {x: (1.0, math.nan)})
    with pytest.raises(ConversionError):
        interval_eval(x, [(1.0, 0.0)])
    with pytest.raises(ConversionError):
        interval_eval(x, {"x": (1.0, 0.0)})


def test_unsupported_lowering_is_typed(pool):
    x, y = pool.symbol("x"), pool.symbol("y")
    with pytest.raises(BackendUnavailableError, match="atan2"):
        compile_interval(ak.atan2(y, x), [x, y])
