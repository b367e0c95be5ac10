"""The peer benchmark's random expression DAG, and builders that keep its sharing.

A random DAG of n operations has every node used by several later ones, so the
same expression written out as a tree grows exponentially with n. Handing the
SymPy form to a peer (``sympy.lambdify``, ``str(expr)`` for numexpr, SymEngine
``Lambdify`` on a SymPy object) makes the conversion walk that tree, and the peer
stalls on the conversion long before its own compiler is reached. A user holding
such an expression would build it natively in the tool instead, or emit code with
one temporary per shared subexpression. So one seeded generator yields the DAG as
a list of steps, and each builder turns the same steps into a form that keeps the
sharing:

* :meth:`Dag.sympy`: the SymPy expression (unevaluated, as the benchmark always
  built it) for ``alkahest.from_sympy``, which memoizes shared subtrees;
* :meth:`Dag.symengine`: a SymEngine expression built from SymEngine objects, so
  that shared nodes are shared pointers;
* :meth:`Dag.python_source`: straight-line Python, one temporary per node, for
  NumPy, Numba and JAX (the caller picks the module the math names resolve to);
* :meth:`Dag.numexpr_string`: numexpr has no temporaries, so this is the whole
  tree as one string; :meth:`Dag.tree_chars` gives its length without building
  it, so a caller can refuse one that is too large.

SymEngine needs ``cse=True`` in ``Lambdify`` for a shared DAG (without it, code
generation walks the expression as a tree). SymEngine's cse (0.15) itself takes
from milliseconds to more than minutes on these DAGs from about 1k operations on,
depending on the seed (a stack sample shows deep recursive comparisons), so
:func:`symengine_finishes` lets a caller try it first in a child process it can
kill. Run as ``python dag_peers.py symengine N_OPS SEED``, this module is that
child.
"""

from __future__ import annotations

import random
import subprocess
import sys

# Node indices 0..3 are these leaves; step i creates node len(LEAVES) + i.
LEAVES = ("x", "y", 0.5, 1.5)
OPS = ("add", "mul", "sub", "sin", "cos", "exp_t", "div")
# How far back a step may reach for an operand: a small window makes steps reuse
# the same recent nodes over and over, which is the heavy sharing.
WINDOW = 40

# One operation as an expression over its operands {0} and {1}. Shared by the
# Python source and the numexpr string (both accept this syntax), so the two
# spell the same arithmetic. Division is a / (1 + b*b) so it never divides by 0.
TEMPLATES = {
    "add": "({0} + {1})",
    "mul": "({0} * {1})",
    "sub": "({0} - {1})",
    "sin": "sin({0})",
    "cos": "cos({0})",
    "exp_t": "exp(tanh({0}))",
    "div": "({0} / (1.0 + {1} * {1}))",
}


def _operands(op: str, a: int, b: int) -> tuple[int, ...]:
    # Unary steps still draw b from the generator (to keep the random stream, and
    # so the DAG, identical to earlier versions of the benchmark) but ignore it.
    return (a, b) if "{1}" in TEMPLATES[op] else (a,)


class TooLargeError(Exception):
    """A tree-form string (numexpr) would exceed the size limit."""


class PeerTimeoutError(Exception):
    """A peer did not get a DAG ready within ``timeout_s`` (tried in a child)."""

    def __init__(self, timeout_s: float):
        super().__init__(f"not ready within {timeout_s:g} s")
        self.timeout_s = timeout_s


class Dag:
    """A random expression over x, y with ``n_ops`` operations and heavy sharing:
    each step applies a random operation to operands picked among the most
    recent :data:`WINDOW` nodes. The result is the last node."""

    def __init__(self, n_ops: int, seed: int = 7):
        self.n_ops, self.seed = n_ops, seed
        rng = random.Random(seed)
        self.steps: list[tuple[str, int, int]] = []
        # The draws (op, then a, then b) are in the order the benchmark always
        # used, so a given (n_ops, seed) is the same expression as before.
        for _ in range(n_ops):
            n = len(LEAVES) + len(self.steps)
            op = rng.choice(OPS)
            a = n - 1 - rng.randrange(min(n, WINDOW))
            b = n - 1 - rng.randrange(min(n, WINDOW))
            self.steps.append((op, a, b))
        self.root = len(LEAVES) + n_ops - 1

    def live(self) -> list[int]:
        """Indices of the steps the root depends on, in order. Steps off that
        path are dead code; the native builders skip them (a peer's own
        dead-code elimination would drop them anyway, and SymPy's form never
        contains them)."""
        k = len(LEAVES)
        needed = [False] * (k + len(self.steps))
        needed[self.root] = True
        for i in range(len(self.steps) - 1, -1, -1):
            if needed[k + i]:
                op, a, b = self.steps[i]
                for j in _operands(op, a, b):
                    needed[j] = True
        return [i for i in range(len(self.steps)) if needed[k + i]]

    # -- SymPy (for alkahest) ------------------------------------------------

    def sympy(self, x, y):
        """The SymPy expression, built with evaluate=False: SymPy's automatic
        simplification (expanding quotients) is quadratic or worse on a shared
        DAG of this size. Every step is built, live or not, exactly as the
        benchmark always did, so alkahest's input is unchanged."""
        import sympy as sp

        nodes = [x, y, sp.Float(0.5), sp.Float(1.5)]
        for op, ia, ib in self.steps:
            a, b = nodes[ia], nodes[ib]
            if op == "add":
                e = sp.Add(a, b, evaluate=False)
            elif op == "mul":
                e = sp.Mul(a, b, evaluate=False)
            elif op == "sub":
                e = sp.Add(a, sp.Mul(-1, b, evaluate=False), evaluate=False)
            elif op == "sin":
                e = sp.sin(a, evaluate=False)
            elif op == "cos":
                e = sp.cos(a, evaluate=False)
            elif op == "exp_t":
                e = sp.exp(sp.tanh(a, evaluate=False), evaluate=False)
            else:
                den = sp.Add(1, sp.Mul(b, b, evaluate=False), evaluate=False)
                e = sp.Mul(a, sp.Pow(den, -1, evaluate=False), evaluate=False)
            nodes.append(e)
        return nodes[-1]

    # -- SymEngine -------------------------------------------------------------

    def symengine(self):
        """(args, expr) as SymEngine objects. Each node is a Python reference to
        a SymEngine Basic, so a node used twice is one shared object and the
        build is linear. SymEngine applies its automatic canonicalization on
        the way (flattening sums and products, a*a -> a**2, a - a -> 0), as it
        would for any user building the expression in it."""
        import symengine as se

        x, y = se.symbols("x y")
        nodes: list = [x, y, se.RealDouble(0.5), se.RealDouble(1.5)]
        nodes.extend([None] * len(self.steps))
        k = len(LEAVES)
        for i in self.live():
            op, ia, ib = self.steps[i]
            a, b = nodes[ia], nodes[ib]
            if op == "add":
                e = a + b
            elif op == "mul":
                e = a * b
            elif op == "sub":
                e = a - b
            elif op == "sin":
                e = se.sin(a)
            elif op == "cos":
                e = se.cos(a)
            elif op == "exp_t":
                e = se.exp(se.tanh(a))
            else:
                e = a / (1 + b * b)
            nodes[k + i] = e
        return [x, y], nodes[self.root]

    # -- straight-line Python (NumPy, Numba, JAX) --------------------------------

    def python_source(self, name: str = "dag", free_dead: bool = False) -> str:
        """``def name(x, y):`` with one assignment per live node, e.g.
        ``t12 = sin(t7)``, returning the root. ``sin``/``cos``/``exp``/``tanh``
        are free names, resolved in the namespace the caller execs it in.

        free_dead: ``del`` each temporary after its last use. For NumPy, whose
        temporaries are whole arrays: a function's locals live until it returns,
        so without this a 2.7k-op DAG on 1M points would hold ~20 GB. The
        operand window keeps the live set at a few dozen arrays."""
        k = len(LEAVES)

        def ref(j: int) -> str:
            return str(LEAVES[j]) if j < k else f"t{j}"

        live = self.live()
        last_use: dict[int, int] = {}
        if free_dead:
            for i in live:
                op, a, b = self.steps[i]
                for j in _operands(op, a, b):
                    if j >= k:
                        last_use[j] = k + i
        dead_after: dict[int, list[int]] = {}
        for j, user in last_use.items():
            dead_after.setdefault(user, []).append(j)
        lines = [f"def {name}(x, y):"]
        for i in live:
            op, a, b = self.steps[i]
            lines.append(f"    t{k + i} = " + TEMPLATES[op].format(ref(a), ref(b)))
            if k + i in dead_after:
                lines.append(
                    "    del " + ", ".join(f"t{j}" for j in sorted(set(dead_after[k + i])))
                )
        lines.append(f"    return {ref(self.root)}")
        return "\n".join(lines) + "\n"

    def python_function(self, namespace: dict, name: str = "dag", free_dead: bool = False):
        """Compile :meth:`python_source` with ``namespace`` (the math functions)
        as its globals and return the function."""
        ns = dict(namespace)
        code = compile(self.python_source(name, free_dead), f"<random DAG {name}>", "exec")
        exec(code, ns)  # our own generated source
        return ns[name]

    # -- numexpr (one string, no sharing) ------------------------------------

    def tree_chars(self) -> int:
        """Length of :meth:`numexpr_string`, counted per node (memoized on the
        steps) without building the string, which may be astronomically long."""
        size = [len(str(leaf)) for leaf in LEAVES] + [0] * len(self.steps)
        k = len(LEAVES)
        for i in self.live():
            op, a, b = self.steps[i]
            t = TEMPLATES[op]
            fixed = len(t.format("", ""))
            size[k + i] = fixed + t.count("{0}") * size[a] + t.count("{1}") * size[b]
        return size[self.root]

    def numexpr_string(self, limit: int) -> str:
        """The root as one expression string (every shared node written out at
        each use). Raises TooLargeError if it would exceed ``limit`` chars."""
        chars = self.tree_chars()
        if chars > limit:
            # chars may be far beyond a float's range: report its magnitude.
            raise TooLargeError(f"~10^{int(chars.bit_length() * 0.30103)} chars > {limit}")
        k = len(LEAVES)
        text: list = [str(leaf) for leaf in LEAVES] + [None] * len(self.steps)
        for i in self.live():
            op, a, b = self.steps[i]
            text[k + i] = TEMPLATES[op].format(text[a], text[b])
        return text[self.root]


# -- SymEngine Lambdify, and trying it in a child process ---------------------


def symengine_lambdify(args, exprs, cse: bool):
    """``symengine.Lambdify`` on the LLVM backend when the wheel has it, else the
    lambda backend; with ``cse`` when asked and this SymEngine accepts it.
    Returns the callable and a label of what was used ("llvm, cse", ...)."""
    import symengine as se

    attempts = [("llvm", True), ("llvm", False), ("lambda", True), ("lambda", False)]
    if not cse:
        attempts = [a for a in attempts if not a[1]]
    last: Exception | None = None
    for backend, use_cse in attempts:
        kw = {"cse": True} if use_cse else {}
        try:
            f = se.Lambdify(args, exprs, backend=backend, real=True, **kw)
        except (TypeError, ValueError, RuntimeError) as exc:  # backend or option missing
            last = exc
            continue
        return f, backend + (", cse" if use_cse else "")
    assert last is not None
    raise last


def symengine_function(dag: Dag):
    """(callable on an (..., 2) array of x, y, label) for the DAG: the SymEngine
    expression built from the steps, then Lambdify with cse."""
    args, expr = dag.symengine()
    return symengine_lambdify(args, [expr], cse=True)


def symengine_finishes(dag: Dag, timeout_s: float) -> bool:
    """Whether building + Lambdify of this DAG completes within timeout_s, tried
    in a child process (killed on timeout). A child that fails for another
    reason counts as finished: the caller's own attempt then raises the error."""
    cmd = [sys.executable, __file__, "symengine", str(dag.n_ops), str(dag.seed)]
    try:
        subprocess.run(cmd, timeout=timeout_s, capture_output=True, check=False)
    except subprocess.TimeoutExpired:
        return False
    return True


if __name__ == "__main__":
    # The child of symengine_finishes: python dag_peers.py symengine N_OPS SEED
    import numpy as np

    _, what, n_ops, seed = sys.argv
    assert what == "symengine", what
    f, _label = symengine_function(Dag(int(n_ops), int(seed)))
    f(np.ones((4, 2)))
