"""Conversion between Alkahest expressions and SymPy (both directions).

Both directions walk the DAG with an explicit stack and a memo, so shared
subexpressions are converted once and deep expressions do not hit Python's
recursion limit.

``from_sympy`` accepts one expression, a ``Matrix`` or a (nested) list of
expressions; a matrix or list comes back as nested lists of the same shape,
ready for :func:`alkahest.compile_expr`. Distinct SymPy symbols that share a
name (``Dummy('x')`` and ``Symbol('x')``, or two symbols with different
assumptions) would become one Alkahest symbol, so that raises
:class:`~alkahest.exceptions.SymbolClashError` naming both.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from . import _alkahest as _a
from ._alkahest import Expr, ExprPool
from .exceptions import ConversionError, SymbolClashError

__all__ = ["from_sympy", "to_sympy"]


def _postorder(root: Any, children, key=None) -> list:
    """Nodes reachable from ``root`` with every node after its children.

    ``children(node)`` is called once per node, before any of its children
    is visited, so it can reject an unsupported node by name before its
    arguments are looked at. Nodes are told apart by ``key(node)``, or by
    their own hash and equality without one.
    """
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        k = node if key is None else key(node)
        if k in seen:
            continue
        seen.add(k)
        stack.append((node, True))
        for c in children(node):
            if (c if key is None else key(c)) not in seen:
                stack.append((c, False))
    return order


# ---------------------------------------------------------------- to SymPy


def _to_sympy_table(sp):
    from sympy.codegen import cfunctions as cf

    def trunc(q):
        return sp.sign(q) * sp.floor(sp.Abs(q))

    return {
        "sin": sp.sin,
        "cos": sp.cos,
        "tan": sp.tan,
        "asin": sp.asin,
        "acos": sp.acos,
        "atan": sp.atan,
        "atan2": sp.atan2,
        "sinh": sp.sinh,
        "cosh": sp.cosh,
        "tanh": sp.tanh,
        "asinh": sp.asinh,
        "acosh": sp.acosh,
        "atanh": sp.atanh,
        "exp": sp.exp,
        "log": sp.log,
        "sqrt": sp.sqrt,
        "abs": sp.Abs,
        "Min": sp.Min,
        "Max": sp.Max,
        "log1p": cf.log1p,
        "expm1": cf.expm1,
        "exp2": cf.exp2,
        "log2": cf.log2,
        "log10": cf.log10,
        "hypot": cf.hypot,
        "fma": cf.fma,
        "cbrt": cf.Cbrt,
        "erf": sp.erf,
        "erfc": sp.erfc,
        "gamma": sp.gamma,
        "loggamma": sp.loggamma,
        "digamma": sp.digamma,
        "trigamma": sp.trigamma,
        "floor": sp.floor,
        "ceiling": sp.ceiling,
        "sign": sp.sign,
        # SymPy has no copysign / fmod; these agree with C away from b = ±0.
        "copysign": lambda a, b: sp.Abs(a) * sp.sign(b),
        "fmod": lambda a, b: a - b * trunc(a / b),
        "Mod": sp.Mod,
        "Lt": sp.Lt,
        "Le": sp.Le,
        "Gt": sp.Gt,
        "Ge": sp.Ge,
        "Eq": lambda a, b: sp.Eq(a, b, evaluate=False),
        "Ne": lambda a, b: sp.Ne(a, b, evaluate=False),
        "And": sp.And,
        "Or": sp.Or,
        "Not": sp.Not,
        "where": lambda c, a, b: sp.Piecewise((a, c), (b, True)),
    }


def to_sympy(expr: Any) -> Any:
    """Convert an Alkahest expression into an equivalent SymPy expression.

    A (nested) list of expressions — e.g. ``CompiledFn.expr`` of a function
    with several outputs — becomes a SymPy ``Matrix`` (one or two levels) or
    nested lists (deeper).
    """
    import sympy as sp

    if isinstance(expr, (list, tuple)):
        conv = [to_sympy(e) for e in expr]
        if conv and all(isinstance(c, sp.MatrixBase) and c.shape[1] == 1 for c in conv):
            # Rows that are themselves flat lists: a 2-D matrix.
            return sp.Matrix([list(c) for c in conv])
        if all(isinstance(c, sp.Basic) and not c.is_Boolean for c in conv):
            return sp.Matrix(conv)
        return conv
    table = _to_sympy_table(sp)
    nodes = _postorder(expr, lambda e: e.args)
    # A long sum built term by term is a chain of nested sums (the builders
    # stop flattening at ExprPool's FLATTEN_LIMIT). Handing each group to
    # SymPy would make it re-flatten the chain below at every level
    # (quadratic), so a sum used only inside other sums is spliced into the
    # outermost one, and SymPy sees each long sum once (products alike).
    standalone = {expr}
    for node in nodes:
        kind = node.kind
        for a in node.args:
            if a.kind in ("add", "mul") and a.kind != kind:
                standalone.add(a)
    done: dict[Expr, Any] = {}
    for node in nodes:
        kind = node.kind
        if kind in ("add", "mul"):
            if node not in standalone:
                continue  # spliced into every sum (product) that uses it
            args = []
            stack = list(reversed(node.args))
            while stack:
                a = stack.pop()
                if a.kind == kind and a not in standalone:
                    stack.extend(reversed(a.args))
                else:
                    args.append(done[a])
        else:
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
            out = (
                sp.nan
                if math.isnan(v)
                else (sp.oo if v == math.inf else (-sp.oo if v == -math.inf else sp.Float(v)))
            )
        elif kind == "add":
            out = sp.Add(*args)
        elif kind == "mul":
            out = sp.Mul(*args)
        elif kind == "pow":
            out = sp.Pow(args[0], args[1])
        elif kind in table:
            out = table[kind](*args)
        else:  # pragma: no cover - every kind is listed above
            raise ConversionError(f"no SymPy equivalent for {kind}")
        done[node] = out
    return done[expr]


# -------------------------------------------------------------- from SymPy


_TABLES: dict[bool, tuple] = {}


def _from_sympy_tables(sp):
    """The conversion tables and, last, their ``_fast_kinds``, built once.
    ``sympy.codegen.cfunctions`` (whose import pulls in ``sympy.codegen.ast``
    and ``sympy.tensor``: ~25 ms, most of a first small compile) is used only
    once the caller has imported it, as anyone holding one of its functions
    has."""
    cf = sys.modules.get("sympy.codegen.cfunctions")
    key = cf is not None
    if key not in _TABLES:
        unary, binary, nary, ternary = _build_from_sympy_tables(sp, cf)
        kinds = _fast_kinds(sp, unary, binary)
        _TABLES[key] = (unary, binary, nary, ternary, kinds)
    return _TABLES[key]


def _build_from_sympy_tables(sp, cf):
    def inv(f):
        return lambda a: 1 / f(a)

    unary = {
        sp.sin: _a.sin,
        sp.cos: _a.cos,
        sp.tan: _a.tan,
        sp.asin: _a.asin,
        sp.acos: _a.acos,
        sp.atan: _a.atan,
        sp.sinh: _a.sinh,
        sp.cosh: _a.cosh,
        sp.tanh: _a.tanh,
        sp.asinh: _a.asinh,
        sp.acosh: _a.acosh,
        sp.atanh: _a.atanh,
        sp.exp: _a.exp,
        sp.Abs: _a.Abs,
        sp.erf: _a.erf,
        sp.erfc: _a.erfc,
        sp.gamma: _a.gamma,
        sp.loggamma: _a.loggamma,
        # Both build polygamma(0 | 1, x) in current SymPy (converted below);
        # listed for versions where they are classes of their own.
        sp.digamma: _a.digamma,
        sp.trigamma: _a.trigamma,
        sp.floor: _a.floor,
        sp.ceiling: _a.ceiling,
        sp.sign: _a.sign,
        sp.Not: _a.Not,
        # Reciprocal trigonometric functions, written out.
        sp.cot: inv(_a.tan),
        sp.sec: inv(_a.cos),
        sp.csc: inv(_a.sin),
        sp.coth: inv(_a.tanh),
        sp.sech: inv(_a.cosh),
        sp.csch: inv(_a.sinh),
        sp.acot: lambda a: _a.atan(1 / a),
        sp.acoth: lambda a: _a.atanh(1 / a),
        sp.asec: lambda a: _a.acos(1 / a),
        sp.acsc: lambda a: _a.asin(1 / a),
        sp.asech: lambda a: _a.acosh(1 / a),
        sp.acsch: lambda a: _a.asinh(1 / a),
        sp.factorial: lambda a: _a.gamma(a + 1),
    }
    binary = {
        sp.atan2: _a.atan2,
        sp.Mod: _a.Mod,
        sp.StrictLessThan: _a.lt,
        sp.LessThan: _a.le,
        sp.StrictGreaterThan: _a.gt,
        sp.GreaterThan: _a.ge,
        sp.Equality: _a.eq,
        sp.Unequality: _a.ne,
    }
    nary = {sp.Min: _a.Min, sp.Max: _a.Max, sp.And: _a.And, sp.Or: _a.Or}
    ternary = {}
    if cf is not None:
        unary.update(
            {
                cf.log1p: _a.log1p,
                cf.expm1: _a.expm1,
                cf.exp2: _a.exp2,
                cf.log2: _a.log2,
                cf.log10: _a.log10,
                cf.Cbrt: _a.cbrt,
                cf.Sqrt: _a.sqrt,
            }
        )
        binary[cf.hypot] = _a.hypot
        ternary[cf.fma] = _a.fma
    return unary, binary, nary, ternary


def from_sympy(expr: Any, pool: ExprPool) -> Any:
    """Convert a SymPy expression (or a ``Matrix`` / nested list of them) into ``pool``.

    Supports symbols, integers, rationals, floats, the constants pi and E
    (rounded to float), +, *, **, the elementary and special functions
    Alkahest knows (including ``erf``, ``gamma``, ``digamma`` and
    ``trigamma`` (``polygamma`` of order 0 and 1), ``floor``, ``sign``,
    ``Mod`` and ``sympy.codegen.cfunctions``), relations (``x < y``, ``Eq``,
    ``Ne``), ``And``/``Or``/``Not``, ``Piecewise``, ``Heaviside`` and
    ``Derivative`` (differentiated exactly). A matrix or list becomes nested
    lists of the same shape. Anything else raises
    :class:`~alkahest.exceptions.ConversionError` naming that construct.
    """
    import sympy as sp

    if isinstance(expr, (list, tuple)):
        names: dict[str, Any] = {}
        return [
            _from_sympy_one(e, pool, sp, names)
            if not isinstance(e, (list, tuple))
            else from_sympy(e, pool)
            for e in expr
        ]
    if isinstance(expr, sp.MatrixBase):
        names = {}
        rows = [
            [_from_sympy_one(expr[i, j], pool, sp, names) for j in range(expr.shape[1])]
            for i in range(expr.shape[0])
        ]
        # A column or row vector becomes a flat list of its entries.
        if expr.shape[1] == 1:
            return [r[0] for r in rows]
        if expr.shape[0] == 1:
            return rows[0]
        return rows
    return _from_sympy_one(expr, pool, sp, {})


def _fast_kinds(sp, unary, binary) -> dict:
    """The table of ``_alkahest._from_sympy_fast``: SymPy node type -> how
    it converts. Exact types only: a subclass, or any type not listed,
    sends the whole expression through the Python walk below."""
    kinds = {
        sp.Symbol: "symbol",
        sp.Integer: "integer",
        type(sp.S.One): "integer",
        type(sp.S.Zero): "integer",
        type(sp.S.NegativeOne): "integer",
        sp.Rational: "rational",
        type(sp.S.Half): "rational",
        sp.Float: "float",
        sp.Add: "add",
        sp.Mul: "mul",
        sp.Pow: "pow",
        sp.log: "log",
    }
    for table in (unary, binary):
        for cls, build in table.items():
            if isinstance(cls, type) and cls not in kinds:
                kinds[cls] = build
    return kinds


def _from_sympy_one(expr: Any, pool: ExprPool, sp, names: dict) -> Expr:
    unary, binary, nary, ternary, kinds = _from_sympy_tables(sp)
    expr = sp.sympify(expr)
    # The common case in Rust (same nodes, same order); None: walk here.
    out = _a._from_sympy_fast(expr, pool, kinds, names)
    if out is not None:
        return out

    zoo, neg_oo = sp.zoo, sp.S.NegativeInfinity

    def children(node):
        """Arguments to convert first; rejects unsupported nodes by name."""
        # Identity tests only: SymPy's == on numbers sympifies its operand,
        # which cost a third of a small conversion. nan and oo are Numbers.
        if node.is_Symbol or node.is_Number or node.is_NumberSymbol or node is zoo:
            return ()
        if node.is_Add or node.is_Mul or node.is_Pow:
            return node.args
        if isinstance(node, sp.Piecewise):
            out = []
            for e, c in node.args:
                out.append(e)
                if c is not sp.true:
                    out.append(c)
            return out
        if isinstance(node, sp.Derivative):
            for v, _n in node.variable_count:
                if not v.is_Symbol:
                    raise ConversionError(
                        f"cannot convert SymPy Derivative with respect to {v} (not a symbol): {node}"
                    )
            return (node.expr, *[v for v, _ in node.variable_count])
        if isinstance(node, sp.Heaviside):
            return node.args
        if isinstance(node, sp.log):
            return node.args
        if isinstance(node, sp.polygamma):
            order = node.args[0]
            if order not in (sp.Integer(0), sp.Integer(1)):
                raise ConversionError(
                    f"cannot convert SymPy polygamma of order {order} "
                    f"(only 0 and 1: digamma and trigamma): {node}"
                )
            return node.args[1:]
        f = node.func
        if f in unary or f in binary or f in nary or f in ternary:
            return node.args
        if node is sp.true or node is sp.false:
            raise ConversionError(
                f"cannot convert SymPy {node} outside the last piece of a Piecewise"
            )
        raise ConversionError(f"cannot convert SymPy {type(node).__name__}: {node}")

    # Keyed by id(): every node is alive (held by ``expr``) for the whole
    # conversion, and SymPy's own __hash__ is a Python-level call that
    # was a third of a small conversion. Equal nodes that are distinct
    # objects are converted once each and meet again in the pool.
    done: dict[int, Expr] = {}
    kids: dict[int, Any] = {}

    def children_once(node):
        k = kids.get(id(node))
        if k is None:
            k = kids[id(node)] = children(node)
        return k

    for node in _postorder(expr, children_once, id):
        if node.is_Symbol:
            prev = names.setdefault(node.name, node)
            if prev is not node and prev != node:
                raise SymbolClashError(
                    f"SymPy symbols {prev!r} ({type(prev).__name__}) and {node!r} ({type(node).__name__}) "
                    f"are distinct but share the name {node.name!r}; rename one (e.g. with .subs) before converting"
                )
            done[id(node)] = pool.symbol(node.name)
            continue
        args = [done[id(a)] for a in kids[id(node)]]
        if node.is_Integer:
            out = pool.integer(int(node))
        elif node.is_Rational:
            out = pool.rational(int(node.p), int(node.q))
        elif node.is_Float:
            out = pool.float(float(node))
        elif node is sp.nan:
            out = pool.float(math.nan)
        elif node is sp.oo:
            out = pool.float(math.inf)
        elif node is zoo or node is neg_oo:
            out = pool.float(-math.inf) if node is neg_oo else pool.float(math.nan)
        elif node.is_NumberSymbol:
            out = pool.float(float(node))
        elif node.is_Add:
            # One flat sum in one step (a loop of `+` would nest long sums).
            out = _a.add(*args)
        elif node.is_Mul:
            out = _a.mul(*args)
        elif node.is_Pow:
            out = args[0] ** args[1]
        elif isinstance(node, sp.Piecewise):
            pieces, it = [], iter(args)
            for _e, c in node.args:
                value = next(it)
                pieces.append((value, True if c is sp.true else next(it)))
            out = _a.piecewise(*pieces)
        elif isinstance(node, sp.Derivative):
            out = args[0]
            for (_v, n), var in zip(node.variable_count, args[1:], strict=True):
                out = _a.diff(out, var, int(n))
        elif isinstance(node, sp.Heaviside):
            x = args[0]
            h0 = args[1] if len(args) > 1 else pool.rational(1, 2)
            out = _a.piecewise((pool.integer(1), x > 0), (pool.integer(0), x < 0), (h0, True))
        elif isinstance(node, sp.log):
            if len(args) != 1:
                raise ConversionError("log with a base is not supported; divide by log(base)")
            out = _a.log(args[0])
        elif isinstance(node, sp.polygamma):
            out = (_a.digamma if node.args[0] == 0 else _a.trigamma)(args[0])
        elif node.func in unary:
            out = unary[node.func](args[0])
        elif node.func in binary:
            out = binary[node.func](*args)
        elif node.func in ternary:
            out = ternary[node.func](*args)
        else:  # n-ary: Min, Max, And, Or
            f = nary[node.func]
            out = args[0]
            for a in args[1:]:
                out = f(out, a)
        done[id(node)] = out
    return done[id(expr)]
