"""The spec's examples (shared/spec/codegen.md), then a timing of numpy_eval
on 1M points against NumPy. Run with `make demo`."""

from __future__ import annotations

import time

import numpy as np

import alkahest

print("alkahest", alkahest.__version__, "features:", alkahest.features())
print()

# --- compile_expr -----------------------------------------------------------
from alkahest import ExprPool, compile_expr, sin, cos  # noqa: E402

pool = ExprPool()
x = pool.symbol("x")
y = pool.symbol("y")
f = compile_expr(x**2 + sin(y), [x, y])
print(f([3.0, 0.0]))  # 9.0

# --- eval_expr --------------------------------------------------------------
from alkahest import eval_expr  # noqa: E402

result = eval_expr(x**2 + sin(y), {x: 3.0, y: 0.0})
print(result)  # 9.0

# --- numpy_eval / numpy_eval_par ---------------------------------------------
from alkahest import numpy_eval, numpy_eval_par  # noqa: E402

f = compile_expr(sin(x) * cos(x), [x])
xs = np.linspace(0, 2 * 3.14159, 1_000_000)
ys = numpy_eval(f, xs)  # vectorised, zero-copy
ys_par = numpy_eval_par(f, xs)  # same API as numpy_eval; multi-core
print("numpy_eval max |error| vs NumPy:", float(np.max(np.abs(ys - np.sin(xs) * np.cos(xs)))))
print("numpy_eval_par bit-identical:", bool(np.array_equal(ys, ys_par)))

# --- horner / emit_c ----------------------------------------------------------
from alkahest import emit_c, horner  # noqa: E402

h = horner(x**3 + pool.integer(2) * x**2 + pool.integer(3) * x + pool.integer(4), x)
print(h)  # x*(x*(x + 2) + 3) + 4
expr = x**2 + sin(y)
print(emit_c(expr, [x, y], fn_name="f"))

# --- CompileCache (its own pool, as on the page) ------------------------------
from alkahest import CompileCache  # noqa: E402

pool = ExprPool()
x = pool.symbol("x")
cache = CompileCache()
f = cache.compile(x**2, [x], pool)  # compiles on first call
g = cache.compile(x**2, [x], pool)  # cache hit
print(cache.stats())  # hits, compiles, hit_rate

# --- timing: numpy_eval vs NumPy on 1M points -----------------------------------
print()
print(f"{'expression':<34}{'alkahest':>12}{'par':>10}{'NumPy':>10}{'NumPy/alk':>11}  tier")


def best(fn, reps=7):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


x = pool.symbol("x")
cases = [
    ("sin(x)*cos(x)", sin(x) * cos(x), lambda a: np.sin(a) * np.cos(a)),
    ("x**2 + 3*x + 1", x**2 + 3 * x + 1, lambda a: a**2 + 3 * a + 1),
    (
        "exp(-x**2/2)*cos(3*x)",
        alkahest.exp(-(x**2) / 2) * cos(3 * x),
        lambda a: np.exp(-(a**2) / 2) * np.cos(3 * a),
    ),
]
out = np.empty_like(xs)
for name, e, ref in cases:
    fn = compile_expr(e, [x])
    numpy_eval(fn, xs, out=out)  # warm-up (and tier upgrade for large batches)
    ta = best(lambda fn=fn: numpy_eval(fn, xs, out=out))
    tp = best(lambda fn=fn: numpy_eval_par(fn, xs, out=out))
    tn = best(lambda ref=ref: ref(xs))
    print(f"{name:<34}{ta * 1e3:>10.2f}ms{tp * 1e3:>8.2f}ms{tn * 1e3:>8.2f}ms{tn / ta:>10.2f}x  {fn.tier}")
