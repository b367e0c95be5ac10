"""Differential fuzzing: every tier, the optimizer and every persistence
round trip against the interpreter and mpmath (issue 15, item 6).

One example is 1 to 3 generated outputs (``exprgen`` trees, sometimes a
``where`` on a comparison of two of them), compiled together, and checked:

* as written (``optimize="none"``), every tier's scalar call is
  ``eval_expr`` bit for bit, on well-conditioned points and on special
  inputs (NaN, +-inf, +-0, subnormals, +-1e308);
* batches: Cranelift equals the interpreter bit for bit; LLVM's loop (which
  calls libmvec) agrees on which results are NaN and stays within the
  mpmath bound of ``test_differential.py``; ``numpy_eval_par`` equals
  ``numpy_eval``;
* the default optimizer (and, for small outputs, ``optimize="accuracy"``)
  stays within the mpmath bound;
* ``pickle``, a ``CompileCache`` directory hit in a fresh cache, and the
  pool's binary format give the same bits.

``make test`` runs hypothesis's ``ci`` profile (a few dozen fixed examples);
``make fuzz`` runs the ``fuzz`` profile: ``FUZZ_EXAMPLES`` new examples
(default 20,000), not derandomized, so every run looks somewhere new.
"""

from __future__ import annotations

import math
import pickle
import tempfile

import mpmath
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import alkahest as ak
from exprgen import VARS, build, exprs, magnitude, size

FEATS = ak.features()
TIERS = ["interpreter"] + [t for t, feat in (("cranelift", "cranelift"), ("llvm", "jit")) if FEATS.get(feat)]

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, -2.2e-308, 1e308, -1e308, 1.0]

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
special = st.sampled_from(SPECIAL)
# A generated output: a tree, or where(lt(a, b), c, d) over four trees.
output = st.one_of(exprs, st.tuples(st.just("where"), exprs, exprs, exprs, exprs))


def build_output(t, pool):
    """(Expr, mpmath function, trees whose size bounds the error, the
    comparison's two sides or None)."""
    if t[0] != "where":
        e, f, _ = build(t, pool)
        return e, f, [t], None
    (a, fa, _), (b, fb, _), (c, fc, _), (d, fd, _) = (build(x, pool) for x in t[1:])
    e = ak.where(ak.lt(a, b), c, d)
    return e, (lambda env: fc(env) if fa(env) < fb(env) else fd(env)), list(t[1:]), (fa, fb)


def same(a: float, b: float) -> bool:
    return a == b and math.copysign(1, a) == math.copysign(1, b) or (math.isnan(a) and math.isnan(b))


def as_list(v, m):
    return [float(v)] if m == 1 else [float(x) for x in np.asarray(v).ravel()]


def compile_all(outs, vars_, **kw):
    target = outs[0] if len(outs) == 1 else outs
    return {t: ak.compile_expr(target, vars_, ak.CompileConfig(force_tier=t, optimize="none", **kw)) for t in TIERS}


def mp_check(outs, refs, trees, sides, pt, got, what):
    """Each output within 64 * size * eps * (largest intermediate) of mpmath."""
    with mpmath.workdps(50):
        env = {v: mpmath.mpf(x) for v, x in zip(VARS, pt, strict=True)}
        for i, (ref, ts, side) in enumerate(zip(refs, trees, sides, strict=True)):
            scale = max(float(magnitude(t, env)) for t in ts)
            tol = 64 * sum(size(t) for t in ts) * 2.0**-52 * scale
            if side is not None and abs(side[0](env) - side[1](env)) <= tol:
                continue  # the comparison is within rounding: either branch is right
            want = float(ref(env))
            assert abs(got[i] - want) <= tol, (what, str(outs[i]), pt, got[i], want)


@given(
    st.lists(output, min_size=1, max_size=3),
    st.tuples(finite, finite, finite),
    st.tuples(special, finite, special),
    st.booleans(),
)
def test_fuzz_every_path_agrees(trees, pt, odd, accuracy):
    pool = ak.ExprPool()
    built = [build_output(t, pool) for t in trees]
    outs = [b[0] for b in built]
    refs = [b[1] for b in built]
    leaves = [b[2] for b in built]
    sides = [b[3] for b in built]
    vars_ = [pool.symbol(v) for v in VARS]
    m = len(outs)
    fs = compile_all(outs, vars_)

    # As written: every tier's scalar call is eval_expr, bit for bit.
    for p in (pt, odd):
        env = dict(zip(vars_, p, strict=True))
        want = [ak.eval_expr(e, env) for e in outs]
        for t, f in fs.items():
            got = as_list(f(list(p)), m)
            assert all(map(same, got, want)), (t, [str(e) for e in outs], p, got, want)
    mp_check(outs, refs, leaves, sides, pt, as_list(fs["interpreter"](list(pt)), m), "interpreter")

    # Batches over a mix of both points (vector bodies and remainders).
    cols = [np.array([a, b] * 35 + [a]) for a, b in zip(pt, odd, strict=True)]
    ref_batch = np.asarray(ak.numpy_eval(fs["interpreter"], *cols))
    for t, f in fs.items():
        batch = np.asarray(ak.numpy_eval(f, *cols))
        np.testing.assert_array_equal(np.asarray(ak.numpy_eval_par(f, *cols, threads=2)), batch)
        if t == "llvm":
            assert np.array_equal(np.isnan(batch), np.isnan(ref_batch)), (t, [str(e) for e in outs])
            good = batch.reshape(m, -1)[:, 0]
            mp_check(outs, refs, leaves, sides, pt, list(good), "llvm batch")
        else:
            np.testing.assert_array_equal(batch, ref_batch)

    # The optimizers stay within the mpmath bound.
    target = outs[0] if m == 1 else outs
    default = ak.compile_expr(target, vars_)
    mp_check(outs, refs, leaves, sides, pt, as_list(default(list(pt)), m), "default")
    if accuracy and m == 1 and sum(size(t) for t in leaves[0]) <= 8:
        acc = ak.compile_expr(target, vars_, ak.CompileConfig(optimize="accuracy"))
        mp_check(outs, refs, leaves, sides, pt, as_list(acc(list(pt)), m), "accuracy")

    # Persistence round trips give the same bits.
    f = fs["interpreter"]
    want = as_list(f(list(odd)), m)
    g = pickle.loads(pickle.dumps(f))
    assert all(map(same, as_list(g(list(odd)), m), want)), "pickle"
    with tempfile.TemporaryDirectory() as d:
        cfg = ak.CompileConfig(optimize="none", force_tier=TIERS[-1])
        ak.CompileCache(d).compile(target, vars_, config=cfg)
        fresh = ak.CompileCache(d)
        h = fresh.compile(target, vars_, config=cfg)
        assert fresh.stats()["disk_hits"] == 1
        assert all(map(same, as_list(h(list(odd)), m), want)), "disk cache"
    p2 = ak.ExprPool()
    outs2 = p2.exprs_from_bytes(pool.to_bytes(outs))
    k = ak.compile_expr(outs2[0] if m == 1 else outs2, [p2.symbol(v) for v in VARS], ak.CompileConfig(optimize="none"))
    assert all(map(same, as_list(k(list(odd)), m), want)), "pool bytes"
