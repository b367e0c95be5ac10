"""``optimize="none"`` evaluates the formula as written (issue 16, item 5).

The pool stores every expression in canonical form (flat, sorted sums and
products, folded constants), so ``x*(y*z)`` and ``(x*y)*z`` are one node. The
Python operators also record how each expression was written, and
``optimize="none"`` (and ``eval_expr``) evaluate that: one IEEE operation per
operator, in the order written. The reference here is Python itself: the same
formula evaluated on Python floats, whose operators are the same IEEE
operations and whose ``math`` functions call the same C library.
"""

from __future__ import annotations

import math
import pickle
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import alkahest as ak

FEATS = ak.features()
TIERS = ["interpreter"] + [t for t, feat in (("cranelift", "cranelift"), ("llvm", "jit")) if FEATS.get(feat)]
NONE = ak.CompileConfig(optimize="none")


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


def compiled(e, vars_, tier):
    return ak.compile_expr(e, vars_, ak.CompileConfig(optimize="none", force_tier=tier))


def test_grouping_is_kept_where_it_changes_the_result():
    pool = ak.ExprPool()
    x, y, z = pool.symbols("x y z")
    left, right = (x * y) * z, x * (y * z)
    # One canonical node (equality and hashing are structural) ...
    assert left == right and hash(left) == hash(right)
    point = (1e300, 1e10, 1e-300)
    env = dict(zip((x, y, z), point, strict=True))
    # ... evaluated as written: (1e300*1e10) overflows, 1e10*1e-300 does not.
    assert ak.eval_expr(left, env) == math.inf
    assert ak.eval_expr(right, env) == 1e300 * (1e10 * 1e-300)
    for tier in TIERS:
        for e, want in ((left, math.inf), (right, 1e300 * (1e10 * 1e-300))):
            f = compiled(e, [x, y, z], tier)
            assert f.tier == tier
            assert f(*point) == want, tier
            cols = [np.full(37, v) for v in point]
            assert np.all(np.asarray(ak.numpy_eval(f, *cols)) == want), tier


def test_the_issue_examples_evaluate_as_written():
    pool = ak.ExprPool()
    t, lam, c, d = pool.symbols("t l c d")
    # (2*t/(1+t))**2 squares once; the expanded 4*t*t/((t+1)*(t+1)) overflows.
    e = (2 * t / (1 + t)) ** 2
    v = 1e200
    assert ak.eval_expr(e, {t: v}) == (2 * v / (1 + v)) ** 2
    # (l*(-c*d**l))*(1/d): the canonical product regroups five factors.
    e = (lam * (-c * d**lam)) * (1 / d)
    for point in [(0.9, 3.0, 1e-300), (-1.5, 1e-10, 7e150), (2.5, 1e300, 1e-120), (2.9, 0.1, 1e103)]:
        lv, cv, dv = point
        want = (lv * (-cv * dv**lv)) * (1 / dv)
        for tier in TIERS:
            got = compiled(e, [lam, c, d], tier)(*point)
            assert same(got, want), (tier, point, got, want)


def test_sums_built_in_one_step_run_left_to_right():
    pool = ak.ExprPool()
    x = pool.symbol("x")
    e = ak.add(1e16, x, -1e16)
    # The canonical form folds the constants away; as written, 1e16 + 1
    # rounds back to 1e16 first.
    assert ak.eval_expr(e, {x: 1.0}) == (1e16 + 1.0) + -1e16 == 0.0
    assert ak.compile_expr(e, [x], ak.CompileConfig(optimize="speed"))(1.0) == 1.0
    s = x
    for _ in range(1000):
        s = s + 1e-17
    assert compiled(s, [x], TIERS[-1])(1.0) == 1.0


def test_the_written_form_survives_every_round_trip(tmp_path):
    pool = ak.ExprPool()
    x, y, z = pool.symbols("x y z")
    e = x * (y * z)
    point = (1e300, 1e10, 1e-300)
    want = ak.eval_expr(e, dict(zip((x, y, z), point, strict=True)))
    assert want != math.inf  # the canonical grouping would overflow
    f = ak.compile_expr(e, [x, y, z], NONE)
    checks = {
        "pickled expression": ak.compile_expr(pickle.loads(pickle.dumps(e)), [x, y, z], NONE),
        "pickled function": pickle.loads(pickle.dumps(f)),
    }
    p2 = ak.ExprPool()
    (e2,) = p2.exprs_from_bytes(pool.to_bytes([e]))
    checks["pool bytes"] = ak.compile_expr(e2, [p2.symbol(n) for n in "xyz"], NONE)
    pool.save(tmp_path / "e.alk", [e])
    p3 = ak.ExprPool()
    (e3,) = p3.load_exprs(tmp_path / "e.alk")
    checks["pool file"] = ak.compile_expr(e3, [p3.symbol(n) for n in "xyz"], NONE)
    with tempfile.TemporaryDirectory() as d:
        ak.CompileCache(d).compile(e, [x, y, z], config=NONE)
        fresh = ak.CompileCache(d)
        checks["disk cache"] = fresh.compile(e, [x, y, z], config=NONE)
        assert fresh.stats()["disk_hits"] == 1
        # The canonical grouping is another function: another entry.
        other = fresh.compile((x * y) * z, [x, y, z], config=NONE)
        assert fresh.stats()["disk_hits"] == 1 and other(*point) == math.inf
    for name, g in checks.items():
        assert g(*point) == want, name


def test_accuracy_keeps_the_written_form_where_it_keeps_the_input():
    pool = ak.ExprPool()
    x, y = pool.symbols("x y")
    # Nothing to gain: accuracy returns the input, and keeps its grouping.
    e = x * (y * 1e-300)
    f = ak.compile_expr(e, [x, y], ak.CompileConfig(optimize="accuracy"))
    assert f(1e300, 1e10) == ak.eval_expr(e, {x: 1e300, y: 1e10})


@pytest.mark.skipif(not FEATS.get("mlir"), reason="built without MLIR")
def test_mlir_serves_only_where_the_canonical_form_is_the_written_one():
    pool = ak.ExprPool()
    x, y, z = pool.symbols("x y z")
    cfg = ak.CompileConfig(optimize="none", force_tier="mlir")
    with pytest.warns(ak.FallbackWarning, match="as written"):
        f = ak.compile_expr(x * (y * z), [x, y, z], cfg)
    assert f.tier != "mlir" and f(1e300, 1e10, 1e-300) != math.inf
    # Written in canonical order: nothing to fall back from.
    assert ak.compile_expr(ak.sin(x) + y, [x, y], cfg).tier == "mlir"
    # No polynomial recognition under "none" either: Horner form changed
    # special values (x**2 - x at inf is inf - inf = NaN as written).
    for e, v in ((x**2 - x, math.inf), (x**3 - 3 * x, -math.inf), (1e-300 * x**2 + x, 1e200)):
        f = ak.compile_expr(e, [x], cfg)
        assert f.tier == "mlir"
        assert same(f(v), ak.eval_expr(e, {x: v})), (str(e), v)


# Generated formulas against Python's own float evaluation.

UNARY = {"sin": (ak.sin, math.sin), "exp": (ak.exp, math.exp), "log": (ak.log, math.log),
         "sqrt": (ak.sqrt, math.sqrt), "atan": (ak.atan, math.atan)}
BINARY = ["+", "-", "*", "/"]


def trees(depth: int = 4):
    leaf = st.one_of(
        st.sampled_from(["x", "y", "z"]).map(lambda v: ("var", v)),
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda c: ("const", c)),
    )
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.tuples(st.sampled_from(BINARY), kids, kids),
            st.tuples(st.sampled_from(sorted(UNARY)), kids),
            st.tuples(st.just("neg"), kids),
        ),
        max_leaves=12,
    )


def build(tree, env):
    """Evaluate `tree` with `env` mapping variable names to symbols (an
    alkahest expression) or to floats (Python's value)."""
    kind = tree[0]
    if kind == "var":
        return env[tree[1]]
    if kind == "const":
        return tree[1]
    if kind == "neg":
        return -build(tree[1], env)
    if kind in UNARY:
        a = build(tree[1], env)
        fa, fm = UNARY[kind]
        return fm(a) if isinstance(a, float) else fa(a)
    a, b = build(tree[1], env), build(tree[2], env)
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[kind]()


@given(trees(), st.tuples(*[st.floats(-1e300, 1e300, allow_nan=False)] * 3))
def test_generated_formulas_match_python_bit_for_bit(tree, point):
    env_f = dict(zip("xyz", point, strict=True))
    try:
        want = build(tree, env_f)
    except (ZeroDivisionError, ValueError, OverflowError):
        assume(False)  # Python raises where IEEE arithmetic gives inf/NaN
    pool = ak.ExprPool()
    syms = dict(zip("xyz", pool.symbols("x y z"), strict=True))
    e = build(tree, syms)
    assume(isinstance(e, ak.Expr))
    vars_ = list(syms.values())
    got = ak.eval_expr(e, dict(zip(vars_, point, strict=True)))
    assert same(got, want), (tree, point, got, want)
    for tier in TIERS:
        g = compiled(e, vars_, tier)(*point)
        assert same(g, want), (tier, tree, point, g, want)


def test_c_source_computes_the_written_grouping(tmp_path):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    pool = ak.ExprPool()
    x, y, z = pool.symbols("x y z")
    point = (1e300, 1e10, 1e-300)
    results = []
    for e in (x * (y * z), (x * y) * z):
        main = tmp_path / "main.c"
        main.write_text(
            "#include <stdio.h>\n"
            + ak.emit_c(e, [x, y, z], fn_name="f")
            + '\nint main(void){printf("%.17g\\n", f(1e300, 1e10, 1e-300)); return 0;}\n'
        )
        exe = tmp_path / "main"
        subprocess.run([cc, "-std=c99", "-O0", str(main), "-o", str(exe), "-lm"], check=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
        results.append(float(out))
        assert results[-1] == ak.eval_expr(e, dict(zip((x, y, z), point, strict=True)))
    assert results[0] != math.inf and results[1] == math.inf
