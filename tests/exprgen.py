"""Random expression generation shared by the differential tests.

An expression is a small tree of tuples; :func:`build` turns it into an
Alkahest expression and an mpmath function at the same time. Operators are
wrapped so every generated expression is defined and finite for real inputs
in [-3, 3] (``log`` of ``1 + a*a``, division by ``1 + b*b``, ...), which keeps
the points well-conditioned enough for a meaningful comparison.
"""

from __future__ import annotations

import mpmath
from hypothesis import strategies as st

import alkahest as ak

VARS = ("x", "y", "z")

leaf = st.one_of(
    st.sampled_from([("var", v) for v in VARS]),
    st.integers(-5, 5).map(lambda n: ("int", n)),
    st.floats(-3, 3, allow_nan=False, allow_infinity=False).map(lambda c: ("float", c)),
)

UNARY = (
    "neg",
    "sin",
    "cos",
    "tanh",
    "atan",
    "exp_t",
    "log_q",
    "sqrt_q",
    "abs",
    "expm1_t",
    "log1p_q",
    "sinh_t",
    "cosh_t",
    "asin_t",
    "acos_t",
    "tan_t",
)
BINARY = ("add", "sub", "mul", "div_q", "hypot", "atan2", "min", "max", "fma1")


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children),
        st.tuples(st.sampled_from(BINARY), children, children),
        st.tuples(st.just("powi"), children, st.integers(-3, 4)),
    )


exprs = st.recursive(leaf, _extend, max_leaves=12)


def build(tree, pool: ak.ExprPool):
    """Return (alkahest Expr, function of an mpmath env dict -> (value, max |intermediate|))."""
    syms = {v: pool.symbol(v) for v in VARS}
    one = pool.integer(1)
    mp = mpmath.mp

    def mk(t):
        kind = t[0]
        if kind == "var":
            return syms[t[1]], (lambda env, n=t[1]: env[n])
        if kind == "int":
            return pool.integer(t[1]), (lambda env, c=t[1]: mp.mpf(c))
        if kind == "float":
            return pool.float(t[1]), (lambda env, c=t[1]: mp.mpf(c))
        if kind == "powi":
            a, fa = mk(t[1])
            n = t[2]
            if n < 0:  # keep the base away from zero
                base = one + a * a
                return base**n, (lambda env: (1 + fa(env) ** 2) ** n)
            return a**n, (lambda env: fa(env) ** n)
        if kind in UNARY:
            a, fa = mk(t[1])
            return {
                "neg": (-a, lambda env: -fa(env)),
                "sin": (ak.sin(a), lambda env: mp.sin(fa(env))),
                "cos": (ak.cos(a), lambda env: mp.cos(fa(env))),
                "tanh": (ak.tanh(a), lambda env: mp.tanh(fa(env))),
                "atan": (ak.atan(a), lambda env: mp.atan(fa(env))),
                "exp_t": (ak.exp(ak.tanh(a)), lambda env: mp.exp(mp.tanh(fa(env)))),
                "log_q": (ak.log(one + a * a), lambda env: mp.log(1 + fa(env) ** 2)),
                "sqrt_q": (ak.sqrt(one + a * a), lambda env: mp.sqrt(1 + fa(env) ** 2)),
                "abs": (abs(a), lambda env: abs(fa(env))),
                "expm1_t": (ak.expm1(ak.tanh(a)), lambda env: mp.expm1(mp.tanh(fa(env)))),
                "log1p_q": (ak.log1p(a * a), lambda env: mp.log1p(fa(env) ** 2)),
                "sinh_t": (ak.sinh(ak.tanh(a)), lambda env: mp.sinh(mp.tanh(fa(env)))),
                "cosh_t": (ak.cosh(ak.tanh(a)), lambda env: mp.cosh(mp.tanh(fa(env)))),
                "asin_t": (ak.asin(ak.tanh(a) / 2), lambda env: mp.asin(mp.tanh(fa(env)) / 2)),
                "acos_t": (ak.acos(ak.tanh(a) / 2), lambda env: mp.acos(mp.tanh(fa(env)) / 2)),
                "tan_t": (ak.tan(ak.tanh(a)), lambda env: mp.tan(mp.tanh(fa(env)))),
            }[kind]
        a, fa = mk(t[1])
        b, fb = mk(t[2])
        return {
            "add": (a + b, lambda env: fa(env) + fb(env)),
            "sub": (a - b, lambda env: fa(env) - fb(env)),
            "mul": (a * b, lambda env: fa(env) * fb(env)),
            "div_q": (a / (one + b * b), lambda env: fa(env) / (1 + fb(env) ** 2)),
            "hypot": (ak.hypot(a, b), lambda env: mp.hypot(fa(env), fb(env))),
            "atan2": (ak.atan2(one + a * a, b), lambda env: mp.atan2(1 + fa(env) ** 2, fb(env))),
            "min": (ak.Min(a, b), lambda env: min(fa(env), fb(env))),
            "max": (ak.Max(a, b), lambda env: max(fa(env), fb(env))),
            "fma1": (ak.fma(a, b, one), lambda env: fa(env) * fb(env) + 1),
        }[kind]

    expr, f = mk(tree)
    return expr, f, [syms[v] for v in VARS]


def size(tree) -> int:
    """Number of nodes of a generated tree."""
    return 1 + sum(size(c) for c in tree[1:] if isinstance(c, tuple))


def magnitude(tree, env) -> mpmath.mpf:
    """Largest |value| of any subtree at `env` (bounds the cancellation error)."""
    pool = ak.ExprPool()
    best = mpmath.mpf(1)
    stack = [tree]
    while stack:
        t = stack.pop()
        _, f, _ = build(t, pool)
        best = max(best, abs(f(env)))
        stack.extend(c for c in t[1:] if isinstance(c, tuple))
    return best
