"""Pool persistence and pickling (the Python side of crates/alkahest-persist)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings

import alkahest as ak
from exprgen import build, exprs


@settings(max_examples=30)
@given(exprs)
def test_bytes_round_trip_keeps_structure_and_sharing(tree):
    pool = ak.ExprPool()
    expr, _, vars_ = build(tree, pool)
    data = pool.to_bytes([expr])
    other = ak.ExprPool()
    (back,) = other.exprs_from_bytes(data)
    assert str(back) == str(expr)
    assert back.content_key == expr.content_key
    assert back.dag_size() == expr.dag_size()


def test_save_load_whole_pool(tmp_path):
    pool = ak.ExprPool()
    x, y = pool.symbol("x"), pool.symbol("y")
    shared = ak.sin(x * y)
    exprs_ = [shared + k for k in range(2000)]  # heavy sharing
    path = tmp_path / "pool.alk"
    pool.save(path, exprs_)
    assert path.stat().st_size < 64 * 2000  # each node once, small records
    again = ak.ExprPool()
    back = again.load_exprs(path)
    assert [str(e) for e in back] == [str(e) for e in exprs_]
    whole = ak.ExprPool.load(path)
    assert len(whole) == len(again)


def test_malformed_files_raise_and_leave_nothing_half_loaded(tmp_path):
    pool = ak.ExprPool()
    x = pool.symbol("x")
    data = bytearray(pool.to_bytes([ak.cos(x) ** 3 + x]))
    target = ak.ExprPool()
    target.symbol("keep")
    n = len(target)
    bad = [bytes(data[: len(data) // 2]), b"", os.urandom(200), bytes(data[:-1]) + b"\x00"]
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x40
    bad.append(bytes(flipped))
    newer = bytearray(data)
    newer[8] = 0xFF  # format version field follows the 8-byte magic
    bad.append(bytes(newer))
    for b in bad:
        with pytest.raises(ak.FormatError):
            target.exprs_from_bytes(b)
        assert len(target) == n
    with pytest.raises(ak.StorageError):
        ak.ExprPool.load(tmp_path / "missing.alk")
    with pytest.raises(ValueError):
        ak.ExprPool.from_bytes(b"not a pool")


def test_pickle_expr_and_functions():
    pool = ak.ExprPool()
    x, y = pool.symbol("x"), pool.symbol("y")
    e = x**2 + ak.sin(y)
    a, b = pickle.loads(pickle.dumps((e, x)))
    # Same process: back in the original pool, so still combinable.
    assert a == e and (a + b) == (e + x)
    f = ak.compile_expr(e, [x, y], ak.CompileConfig(expected_evals=5))
    g = pickle.loads(pickle.dumps(f))
    assert g([3.0, 0.0]) == 9.0 and g.config == f.config
    cache = ak.CompileCache()
    cache.compile(e, [x, y], pool)
    cache.compile(e, [x, y], pool)
    c2 = pickle.loads(pickle.dumps(cache))
    assert c2.stats() == cache.stats()


def test_pickle_crosses_processes(tmp_path):
    pool = ak.ExprPool()
    x, y = pool.symbol("x"), pool.symbol("y")
    f = ak.compile_expr(x * y + ak.exp(x), [x, y])
    path = tmp_path / "f.pkl"
    path.write_bytes(pickle.dumps({"f": f, "x": x, "y": y, "e": x * y}))
    code = textwrap.dedent(
        f"""
        import pickle, alkahest as ak
        d = pickle.loads(open({str(path)!r}, "rb").read())
        f, x, y, e = d["f"], d["x"], d["y"], d["e"]
        assert e == x * y          # one pool on this side too
        print(f([0.5, 2.0]), ak.eval_expr(e + 1, {{x: 0.5, y: 2.0}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got, other = map(float, out.stdout.split())
    assert got == f([0.5, 2.0]) and other == 2.0
    assert np.isclose(got, 1.0 + np.exp(0.5))
