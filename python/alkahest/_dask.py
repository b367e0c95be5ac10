"""Dask glue: compiled functions evaluated blockwise over Dask arrays.

Nothing here imports Dask at module level (``import alkahest`` must stay
cheap); :func:`numpy_eval` imports ``dask.array`` when it is called.

Workers get a compiled function by pickling (expression, variables, config;
see ``alkahest._pickle``). A :class:`Kernel` pickles as those bytes, and each
process keeps one compiled function per distinct payload (and cache
directory), so a worker compiles a function once however many tasks use it.
With ``cache=CompileCache(path=...)`` on a directory every worker can read,
the first worker to compile writes the native code there and the others load
it instead of compiling.
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import Any

import numpy as np

from ._alkahest import CompileCache, CompiledFn, numpy_eval_par
from ._alkahest import numpy_eval as _numpy_eval
from . import _pickle
from .exceptions import ArityError, ConversionError, ShapeError

_lock = threading.Lock()
# (payload, cache directory) -> compiled function, for this process.
_memo: dict[tuple[bytes, str | None], CompiledFn] = {}
# Cache directory -> the one CompileCache of this process reading it.
_caches: dict[str, CompileCache] = {}


def _payload(f: CompiledFn) -> bytes:
    """The pickled (expression, variables, config) of ``f``."""
    _rebuild, args = f.__reduce__()
    return pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)


def _cache_for(path: str | None) -> CompileCache:
    if path is None:
        return _pickle._CACHE
    with _lock:
        c = _caches.get(path)
        if c is None:
            c = _caches[path] = CompileCache(path)
        return c


def _compiled(payload: bytes, path: str | None) -> CompiledFn:
    key = (payload, path)
    with _lock:
        fn = _memo.get(key)
    if fn is None:
        expr, vars_, config = pickle.loads(payload)
        fn = _cache_for(path).compile(expr, vars_, None, config)
        # Every chunk on this worker then runs on the final tier (see
        # `_pickle._rebuild_fn`): results do not depend on task timing.
        fn.wait()
        with _lock:
            fn = _memo.setdefault(key, fn)
    return fn


def _rebuild_kernel(
    payload: bytes,
    parallel: bool,
    threads: int | None,
    path: str | None,
    outputs_last: bool = False,
):
    fn = _compiled(payload, path)
    return Kernel._from_parts(fn, payload, parallel, threads, path, outputs_last)


def worker_stats() -> dict[str, Any]:
    """This process's compiled-function memo and cache counters (for
    ``Client.run(alkahest._dask.worker_stats)``): ``pid``, ``functions``
    (distinct compiled functions held), ``memory_cache`` and ``disk_caches``
    (``CompileCache.stats()`` by directory)."""
    with _lock:
        disk = {p: c.stats() for p, c in _caches.items()}
        n = len(_memo)
    return {
        "pid": os.getpid(),
        "functions": n,
        "memory_cache": _pickle._CACHE.stats(),
        "disk_caches": disk,
    }


class Kernel:
    """``f`` as a function of array blocks: ``Kernel(f)(*blocks)`` is
    ``numpy_eval(f, *blocks)`` (``numpy_eval_par`` with ``parallel=True``),
    with NumPy broadcasting, result shape ``(*f.shape, *broadcast_shape)``.

    Pass it where Dask expects a blockwise function::

        da.map_blocks(Kernel(f), x, y, dtype=float)
        da.apply_gufunc(Kernel(f), "(),()->()", x, y, output_dtypes=float)

    It pickles as ``f``'s expression, variables and config (plus the
    cache directory), and each process compiles one function per payload.
    ``cache``: a ``CompileCache`` with a directory shared by the workers,
    so that they load native code instead of compiling it.
    ``outputs_last=True`` puts a several-output function's output axes last
    (a view), as ``apply_gufunc`` wants for a signature like
    ``"(),()->(k)"`` with ``output_sizes={"k": 3}``.
    """

    __slots__ = ("fn", "parallel", "threads", "outputs_last", "_payload", "_path")

    fn: CompiledFn
    parallel: bool
    threads: int | None
    outputs_last: bool
    _payload: bytes
    _path: str | None

    def __init__(
        self,
        f: CompiledFn,
        *,
        parallel: bool = False,
        threads: int | None = None,
        cache: CompileCache | None = None,
        outputs_last: bool = False,
    ) -> None:
        if isinstance(f, Kernel):
            f = f.fn
        if not isinstance(f, CompiledFn):
            raise ConversionError(f"Kernel needs a CompiledFn, not {type(f).__name__}")
        if cache is not None and not isinstance(cache, CompileCache):
            raise ConversionError(f"cache must be a CompileCache, not {type(cache).__name__}")
        path = None if cache is None or cache.path is None else os.fspath(cache.path)
        # Blocks run at whatever time the scheduler picks: on the final tier
        # only, so a result never depends on whether a background LLVM
        # build had finished when a block ran.
        f.wait()
        self.fn = f
        self.parallel = bool(parallel)
        self.threads = threads
        self.outputs_last = bool(outputs_last)
        self._payload = _payload(f)
        self._path = path
        with _lock:
            # This process already has the function: unpickling here is free.
            _memo.setdefault((self._payload, path), f)

    @classmethod
    def _from_parts(cls, fn, payload, parallel, threads, path, outputs_last=False) -> Kernel:
        k = object.__new__(cls)
        k.fn, k._payload, k.parallel, k.threads, k._path = fn, payload, parallel, threads, path
        k.outputs_last = outputs_last
        return k

    def __reduce__(self):
        args = (self._payload, self.parallel, self.threads, self._path, self.outputs_last)
        return (_rebuild_kernel, args)

    def __dask_tokenize__(self):
        return (
            "alkahest.Kernel",
            self._payload,
            self.parallel,
            self.threads,
            self._path,
            self.outputs_last,
        )

    def __call__(self, *blocks: Any) -> np.ndarray:
        if self.parallel:
            r = numpy_eval_par(self.fn, *blocks, threads=self.threads)
        else:
            r = _numpy_eval(self.fn, *blocks)
        k = len(self.fn.shape)
        if self.outputs_last and k:
            r = np.moveaxis(r, tuple(range(k)), tuple(range(-k, 0)))
        return r

    def __repr__(self) -> str:
        return f"Kernel({self.fn!r}, parallel={self.parallel})"


def _is_dask(a: Any) -> bool:
    """A Dask collection (dask's own test: it has a graph)."""
    if isinstance(a, np.ndarray) or not hasattr(a, "__dask_graph__"):
        return False
    return a.__dask_graph__() is not None


def _as_dask_array(da, a: Any, i: int):
    if isinstance(a, da.Array):
        return a
    data = getattr(a, "data", None)  # a Dask-backed xarray object
    if isinstance(data, da.Array):
        return data
    raise ConversionError(
        f"input #{i}: a {type(a).__name__} is a Dask collection but not a dask.array.Array "
        "(convert it, e.g. with .to_dask_array())"
    )


def numpy_eval(
    f: CompiledFn | Kernel,
    *arrays: Any,
    out: Any = None,
    parallel: bool = False,
    threads: int | None = None,
    cache: CompileCache | None = None,
):
    """``numpy_eval`` over Dask arrays: a lazy Dask array, nothing computed.

    Inputs (Dask arrays, NumPy arrays, scalars) broadcast by NumPy's rules;
    their chunks are unified as ``dask.array.blockwise`` does (a length-1
    axis in one chunk broadcasts against any chunking). The result has shape
    ``(*f.shape, *broadcast_shape)``, dtype float64, the output axes in one
    chunk each and the point axes chunked like the inputs. Each block runs
    :class:`Kernel` (``numpy_eval``, or ``numpy_eval_par`` with
    ``parallel=True``). ``numpy_eval(f, dask_array)`` comes here.

    ``out=`` is not accepted (the result is lazy: ``dask.array.store`` it).
    """
    import dask.array as da

    k = Kernel(
        f,
        parallel=parallel if not isinstance(f, Kernel) else f.parallel,
        threads=threads,
        cache=cache,
    )  # outputs first, whatever f (a Kernel) had
    if out is not None:
        raise ConversionError(
            "out= is not accepted with Dask inputs: the result is a lazy Dask array "
            "(write it with dask.array.store(result, out))"
        )
    n_vars = k.fn.n_vars
    arrs = list(arrays)
    # One 2-D array with a row per variable, as numpy_eval accepts.
    if len(arrs) == 1 and n_vars != 1 and isinstance(arrs[0], da.Array):
        a = arrs[0]
        if a.ndim == 2 and a.shape[0] == n_vars:
            arrs = [a[i] for i in range(n_vars)]
    if len(arrs) != n_vars:
        raise ArityError(f"function has {n_vars} variable(s) but {len(arrs)} array(s) were given")
    if not arrs:
        raise ShapeError("a function of no variables has no Dask input to take points from")
    darrs = []
    for i, a in enumerate(arrs):
        if _is_dask(a):
            a = _as_dask_array(da, a, i)
        else:
            try:
                a = np.asarray(a)
            except Exception as e:
                raise ConversionError(f"input #{i}: cannot convert to an array ({e})") from e
        a = da.asarray(a)
        if a.dtype.kind not in "biuf":
            raise ConversionError(
                f"input #{i}: dtype {a.dtype} is not a real number type "
                "(expected float, int or bool)"
            )
        darrs.append(a)
    shapes = [a.shape for a in darrs]
    if not any(np.isnan(n) for s in shapes for n in s):
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ShapeError(
                f"input shapes {', '.join(map(str, shapes))} do not broadcast to the same shape "
                "(NumPy's rules: axes aligned from the right must be equal or 1)"
            ) from None
    lead = tuple(k.fn.shape)
    nd = max(a.ndim for a in darrs)
    idx = tuple(range(len(lead), len(lead) + nd))
    args: list[Any] = []
    for a in darrs:
        args += [a, idx[nd - a.ndim :]]
    out_ind = tuple(range(len(lead))) + idx
    return da.blockwise(
        k,
        out_ind,
        *args,
        new_axes={i: n for i, n in enumerate(lead)},
        dtype=np.float64,
        meta=np.empty((0,) * len(out_ind), dtype=np.float64),
        align_arrays=True,
        concatenate=True,
        token="alkahest-numpy_eval",
    )
