"""A SymPy tree rebuilt in another library's expressions, for the peers that
take no SymPy input themselves (CasADi, PyTensor, the seed's alkahest in
``seed_peer.py``). Imports nothing but what it is given, so it runs in the
seed's own virtualenv too."""

from __future__ import annotations


def sympy_convert(expr, symbols: dict, funcs: dict, number=float):
    """``expr`` with ``symbols`` (names to the library's symbols), ``funcs``
    (SymPy functions to the library's) and ``number`` (a SymPy number to the
    library's; a float by default). Memoized, so a subtree shared by reference
    is converted once."""
    memo = {}

    def walk(e):
        if e in memo:
            return memo[e]
        if e.is_Symbol:
            out = symbols[str(e)]
        elif e.is_Number:
            out = number(e)
        elif e.is_Add or e.is_Mul:
            args = [walk(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = out + a if e.is_Add else out * a
        elif e.is_Pow:
            out = walk(e.base) ** walk(e.exp)
        elif e.func in funcs:
            out = funcs[e.func](walk(e.args[0]))
        else:
            raise NotImplementedError(f"no conversion for {e.func}")
        memo[e] = out
        return out

    return walk(expr)
