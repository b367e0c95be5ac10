"""Unpickling support: pool tokens, rebuilt expressions and functions.

An ``Expr`` pickles as (pool token, bytes of its sub-DAG), its written form
included (what ``optimize="none"`` evaluates). Each token maps to
one pool of this process, so expressions pickled from one pool come back in
one pool and can be combined; in the process that pickled them, the token
maps back to the original pool. Pools reached through this table stay alive
for the life of the process.
"""

from __future__ import annotations

import threading

from ._alkahest import CompileCache, ExprPool

_lock = threading.Lock()
_pools: dict[str, ExprPool] = {}
# Unpickled CompiledFns are rebuilt through this cache, so unpickling the same
# function many times (e.g. one per task in a process pool) compiles once.
_CACHE = CompileCache()


def _register(token: str, pool: ExprPool) -> None:
    with _lock:
        _pools.setdefault(token, pool)


def _rebuild_expr(token: str, data: bytes):
    with _lock:
        pool = _pools.get(token)
        if pool is None:
            pool = _pools[token] = ExprPool()
    (expr,) = pool.exprs_from_bytes(data)
    return expr


def _rebuild_fn(expr, vars_, config):
    # `expr` is one Expr, or the nested list of a several-output function.
    # An unpickled function is a worker's copy of one that already ran
    # elsewhere: it waits for its final tier (a background LLVM build takes
    # milliseconds), so every task it serves gives the same bits.
    f = _CACHE.compile(expr, vars_, None, config)
    f.wait()
    return f


def _rebuild_cache(hits: int, compiles: int, path=None, counters=None) -> CompileCache:
    # Pickles from before the disk cache carry only (hits, compiles).
    cache = CompileCache(path)
    if counters is None:
        counters = (hits, 0, compiles, 0, 0, 0)
    cache._restore_stats(*counters)
    return cache


def _rebuild_pool(token: str, data: bytes) -> ExprPool:
    # The pool of `token` in this process (the original one where it was
    # pickled), with the pickled expressions loaded into it.
    with _lock:
        pool = _pools.get(token)
        if pool is None:
            pool = _pools[token] = ExprPool.from_bytes(data)
            return pool
    pool.exprs_from_bytes(data)
    return pool
