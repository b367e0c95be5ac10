"""Conversion between Alkahest expressions and SymPy (both directions).

Both directions walk the DAG with an explicit stack and a memo, so shared
subexpressions are converted once and deep expressions do not hit Python's
recursion limit.
"""

from __future__ import annotations

import math
from typing import Any

from ._alkahest import Expr, ExprPool
from .exceptions import ConversionError

__all__ = ["from_sympy", "to_sympy"]

_FUNCS = {
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "asin": "asin",
    "acos": "acos",
    "atan": "atan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "exp": "exp",
    "log": "log",
    "abs": "Abs",
    "Min": "Min",
    "Max": "Max",
    "atan2": "atan2",
}


def _postorder(root: Any, children) -> list:
    """Nodes reachable from ``root`` with every node after its children."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for c in children(node):
            if c not in seen:
                stack.append((c, False))
    return order


def to_sympy(expr: Expr) -> Any:
    """Convert an Alkahest expression into an equivalent SymPy expression."""
    import sympy as sp

    def fn(name: str):
        return getattr(sp, _FUNCS[name])

    extra = {
        "sqrt": sp.sqrt,
        "log1p": lambda a: sp.log(1 + a, evaluate=False),
        "expm1": lambda a: sp.Add(sp.exp(a), -1, evaluate=False),
        "hypot": lambda a, b: sp.sqrt(a**2 + b**2),
        "fma": lambda a, b, c: a * b + c,
    }
    done: dict[Expr, Any] = {}
    for node in _postorder(expr, lambda e: e.args):
        kind = node.kind
        args = [done[a] for a in node.args]
        if kind == "symbol":
            out = sp.Symbol(node.name)
        elif kind == "integer":
            out = sp.Integer(node.value)
        elif kind == "rational":
            v = node.value
            out = sp.Rational(v.numerator, v.denominator)
        elif kind == "float":
            v = node.value
            out = sp.nan if math.isnan(v) else (sp.oo if v == math.inf else (-sp.oo if v == -math.inf else sp.Float(v)))
        elif kind == "add":
            out = sp.Add(*args)
        elif kind == "mul":
            out = sp.Mul(*args)
        elif kind == "pow":
            out = sp.Pow(args[0], args[1])
        elif kind in _FUNCS:
            out = fn(kind)(*args)
        elif kind in extra:
            out = extra[kind](*args)
        else:  # pragma: no cover - every kind is listed above
            raise ConversionError(f"no SymPy equivalent for {kind}")
        done[node] = out
    return done[expr]


def from_sympy(expr: Any, pool: ExprPool) -> Expr:
    """Convert a SymPy expression into ``pool``.

    Supports symbols, integers, rationals, floats, the constants pi and E
    (rounded to float), +, *, **, and the elementary functions Alkahest knows.
    Anything else raises :class:`~alkahest.exceptions.ConversionError`.
    """
    import sympy as sp

    from . import _alkahest as _a

    funcs = {
        sp.sin: _a.sin,
        sp.cos: _a.cos,
        sp.tan: _a.tan,
        sp.asin: _a.asin,
        sp.acos: _a.acos,
        sp.atan: _a.atan,
        sp.sinh: _a.sinh,
        sp.cosh: _a.cosh,
        sp.tanh: _a.tanh,
        sp.exp: _a.exp,
        sp.Abs: _a.Abs,
        sp.atan2: _a.atan2,
        sp.Min: _a.Min,
        sp.Max: _a.Max,
    }
    expr = sp.sympify(expr)
    done: dict[Any, Expr] = {}
    for node in _postorder(expr, lambda e: e.args):
        args = [done[a] for a in node.args]
        if node.is_Symbol:
            out = pool.symbol(node.name)
        elif node.is_Integer:
            out = pool.integer(int(node))
        elif node.is_Rational:
            out = pool.rational(int(node.p), int(node.q))
        elif node.is_Float:
            out = pool.float(float(node))
        elif node is sp.nan:
            out = pool.float(math.nan)
        elif node is sp.oo:
            out = pool.float(math.inf)
        elif node is sp.zoo or node is -sp.oo:
            out = pool.float(-math.inf) if node is -sp.oo else pool.float(math.nan)
        elif node.is_NumberSymbol:
            out = pool.float(float(node))
        elif node.is_Add:
            out = args[0]
            for a in args[1:]:
                out = out + a
        elif node.is_Mul:
            out = args[0]
            for a in args[1:]:
                out = out * a
        elif node.is_Pow:
            out = args[0] ** args[1]
        elif isinstance(node, sp.log):
            if len(args) != 1:
                raise ConversionError("log with a base is not supported; divide by log(base)")
            out = _a.log(args[0])
        elif node.func in funcs:
            f = funcs[node.func]
            out = f(*args) if node.func not in (sp.Min, sp.Max) else _fold(f, args)
        else:
            raise ConversionError(f"cannot convert SymPy {type(node).__name__}: {node}")
        done[node] = out
    return done[expr]


def _fold(f, args):
    out = args[0]
    for a in args[1:]:
        out = f(out, a)
    return out
