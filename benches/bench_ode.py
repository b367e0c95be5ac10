"""ODE workloads: a right-hand side and its Jacobian, Alkahest against its peers.

Three workloads, each a SymPy right-hand side ``f(y)`` (autonomous) over a
state ``y``, plus its Jacobian ``df/dy``:

* ``pendulum``: the equations of motion of an n-link planar pendulum (point
  masses, ``sympy.physics.mechanics.KanesMethod``), made explicit by solving
  the mass-matrix system symbolically (``M.LUsolve(forcing)``); numeric masses,
  lengths and gravity, state ``(q, u)``;
* ``chem``: a seeded random mass-action network (rates ``k_i * prod(reactant
  concentrations)``; no reaction makes more molecules than it uses, plus feeds
  and first-order decay so every run stays bounded);
* ``bruss``: the 1-D Brusselator reaction-diffusion PDE (Hairer & Wanner's stiff
  test), method of lines, 2 species x ``cells`` cells.

Per workload and tool: compile latency (the SymPy right-hand side in hand ->
a ready callable, conversion into the tool included; the Jacobian columns
include the tool's own differentiation, or SymPy's ``Matrix.jacobian`` for the
tools without one), single-point call latency (a 1-D state array in, a NumPy
array out: what ``scipy.integrate.solve_ivp`` does on every step) and batch
throughput (``ns/point``, one thread). Then ``solve_ivp(method="BDF",
jac=...)`` runs with each tool's functions, and the solutions are compared with
Alkahest's at the end time.

Peers, each skipped with its reason when it cannot be imported: SymEngine
``Lambdify`` (cse, LLVM backend when the wheel has it), CasADi (SX
``Function`` + ``jacobian``; JIT through the system C compiler with -O3 when it
works, else the SX virtual machine), JAX (``jit``, ``jacfwd``, ``vmap``;
float64, CPU, XLA limited to one thread), symjit (``compile_func``, threads off)
and NumPy (``sympy.lambdify(..., "numpy", cse=True)``). Optional peer versions:
``benches/requirements-bench.txt``.

Before anything is timed, every tool's single-point and batch results must
agree with Alkahest's single-point results (elementwise rtol 1e-9, atol 1e-9 x
the largest entry of that output). A tool that does not is reported and left
out of the timings, and the script exits with status 1 at the end.

Usage: ``python benches/bench_ode.py [--quick] [--points N] [--links 4]
[--json FILE] [--workloads pendulum chem bruss] [--tools ...]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# JAX: one XLA thread, like every other tool here (alkahest's numpy_eval is one
# thread). Must be set before jax is imported.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import alkahest as ak  # noqa: E402

RTOL = 1e-9
# Jacobian batches write n*n numbers per point: their point count is capped so
# that one output array holds at most this many float64 values.
JAC_MAX_VALUES = 40_000_000
# Points of the first, untimed batch run that checks agreement and estimates cost.
PROBE_POINTS = 2_000

# ---------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    describe: str
    xs: list  # SymPy symbols, the state
    rhs: list  # SymPy expressions, one per state component
    y0: np.ndarray
    t_span: tuple[float, float]
    rtol: float
    atol: float
    sample: Callable[[np.random.Generator, int], np.ndarray]  # -> (n, N) states
    sympy_jac_s: float = 0.0
    _jac: list | None = None

    @property
    def n(self) -> int:
        return len(self.xs)

    def sympy_jacobian(self) -> list:
        """SymPy's Jacobian as nested lists (computed once; its time is kept in
        ``sympy_jac_s`` and added to the tools that need it)."""
        if self._jac is None:
            t0 = time.perf_counter()
            jm = sp.Matrix(self.rhs).jacobian(self.xs)
            self._jac = [list(jm.row(i)) for i in range(jm.rows)]
            self.sympy_jac_s = time.perf_counter() - t0
        return self._jac


def pendulum(links: int) -> Workload:
    """n-link planar pendulum of point masses, q_i absolute angles from the
    downward vertical (N.x, along gravity), u_i = q_i'."""
    from sympy.physics import mechanics as me

    q = me.dynamicsymbols(f"q0:{links}")
    u = me.dynamicsymbols(f"u0:{links}")
    t = me.dynamicsymbols._t
    frame = me.ReferenceFrame("N")
    origin = me.Point("O")
    origin.set_vel(frame, 0)
    particles, loads, kd = [], [], []
    prev = origin
    for i in range(links):
        mass = 1 + sp.Rational(i, 5)
        length = 1 + sp.Rational(i, 10)
        a = frame.orientnew(f"A{i}", "Axis", [q[i], frame.z])
        a.set_ang_vel(frame, u[i] * frame.z)
        p = prev.locatenew(f"P{i}", length * a.x)
        p.v2pt_theory(prev, frame, a)
        particles.append(me.Particle(f"Pa{i}", p, mass))
        loads.append((p, mass * sp.Float(9.81) * frame.x))
        kd.append(q[i].diff(t) - u[i])
        prev = p
    km = me.KanesMethod(frame, q_ind=q, u_ind=u, kd_eqs=kd)
    km.kanes_equations(particles, loads)
    xs = list(sp.symbols(f"q0:{links}")) + list(sp.symbols(f"u0:{links}"))
    sub = dict(zip(list(q) + list(u), xs, strict=True))
    mass_matrix = me.msubs(km.mass_matrix, sub)
    forcing = me.msubs(km.forcing, sub)
    udot = mass_matrix.LUsolve(forcing)
    rhs = list(xs[links:]) + list(udot)

    def sample(rng, k):
        return np.vstack(
            [rng.uniform(-math.pi, math.pi, (links, k)), rng.uniform(-2.0, 2.0, (links, k))]
        )

    y0 = np.concatenate([np.linspace(0.6, 0.3, links), np.zeros(links)])
    return Workload(
        f"pendulum{links}",
        f"{links}-link pendulum (KanesMethod, M.LUsolve(forcing)), {2 * links} states",
        xs,
        rhs,
        y0,
        (0.0, 5.0),
        1e-8,
        1e-10,
        sample,
    )


def chem(species: int = 24, reactions: int = 60, seed: int = 13) -> Workload:
    """Random mass-action network: reactions A -> B, 2A -> B, A + B -> C,
    A + B -> C + D (never more product molecules than reactant molecules),
    rate constants log-uniform in [1e-2, 1e2]; a constant feed into the first
    four species and first-order decay (rate 0.05) of every species."""
    rng = np.random.default_rng(seed)
    c = list(sp.symbols(f"c0:{species}"))
    d = [sp.Integer(0)] * species
    for _ in range(reactions):
        kind = rng.integers(4)
        k = sp.Float(float(10 ** rng.uniform(-2, 2)))
        s = [int(v) for v in rng.choice(species, 4, replace=False)]
        if kind == 0:
            react, prod = [s[0]], [s[1]]
        elif kind == 1:
            react, prod = [s[0], s[0]], [s[1]]
        elif kind == 2:
            react, prod = [s[0], s[1]], [s[2]]
        else:
            react, prod = [s[0], s[1]], [s[2], s[3]]
        rate = k
        for r in react:
            rate = rate * c[r]
        for r in react:
            d[r] = d[r] - rate
        for p in prod:
            d[p] = d[p] + rate
    for i in range(species):
        d[i] = d[i] - sp.Float(0.05) * c[i] + (sp.Float(1.0) if i < 4 else 0)

    def sample(rng, k):
        return rng.uniform(0.1, 2.0, (species, k))

    return Workload(
        "chem",
        f"mass-action network, {species} species, {reactions} reactions (seed {seed})",
        c,
        d,
        np.ones(species),
        (0.0, 20.0),
        1e-8,
        1e-10,
        sample,
    )


def brusselator(cells: int = 30) -> Workload:
    """1-D Brusselator, u' = 1 + u^2 v - 4u + a*(u_{i-1} - 2u_i + u_{i+1}),
    v' = 3u - u^2 v + a*(...), a = 0.02 (cells + 1)^2, boundary u = 1, v = 3."""
    u = list(sp.symbols(f"u0:{cells}"))
    v = list(sp.symbols(f"v0:{cells}"))
    alpha = sp.Float(0.02 * (cells + 1) ** 2)
    one, three = sp.Integer(1), sp.Integer(3)
    du, dv = [], []
    for i in range(cells):
        ul = u[i - 1] if i > 0 else one
        ur = u[i + 1] if i < cells - 1 else one
        vl = v[i - 1] if i > 0 else three
        vr = v[i + 1] if i < cells - 1 else three
        du.append(1 + u[i] ** 2 * v[i] - 4 * u[i] + alpha * (ul - 2 * u[i] + ur))
        dv.append(3 * u[i] - u[i] ** 2 * v[i] + alpha * (vl - 2 * v[i] + vr))
    xs = [s for pair in zip(u, v, strict=True) for s in pair]  # interleaved: banded Jacobian
    rhs = [e for pair in zip(du, dv, strict=True) for e in pair]
    grid = np.arange(1, cells + 1) / (cells + 1)
    y0 = np.column_stack([1 + np.sin(2 * np.pi * grid), np.full(cells, 3.0)]).ravel()

    def sample(rng, k):
        return rng.uniform(0.5, 3.5, (2 * cells, k))

    return Workload(
        "bruss",
        f"1-D Brusselator reaction-diffusion, {cells} cells, {2 * cells} states",
        xs,
        rhs,
        y0,
        (0.0, 10.0),
        1e-8,
        1e-10,
        sample,
    )


# ---------------------------------------------------------------------------
# SymPy DAG walk, for the peers that get their native form from us (CasADi, JAX)
# ---------------------------------------------------------------------------


def postorder(roots) -> list:
    """Every distinct node reachable from roots, each after its arguments."""
    order, seen = [], set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in seen)
    return order


def dag_eval(order: list, env: dict, lib) -> dict:
    """Evaluate the post-ordered nodes with lib's functions (``lib.sin`` ...),
    each distinct node once; env maps the state symbols to lib values."""
    vals = dict(env)
    for node in order:
        if node in vals:
            continue
        if node.is_Number:
            out = float(node)
        elif node.is_Add or node.is_Mul:
            args = [vals[a] for a in node.args]
            out = args[0]
            for a in args[1:]:
                out = out + a if node.is_Add else out * a
        elif node.is_Pow:
            base, ex = vals[node.args[0]], node.args[1]
            if ex.is_Integer:
                e = int(ex)
                out = base**e if e > 0 else 1.0 / base ** (-e)
            elif ex == sp.S.Half:
                out = lib.sqrt(base)
            else:
                out = base ** vals[ex]
        elif isinstance(node, (sp.sin, sp.cos, sp.tan, sp.exp, sp.log)):
            out = getattr(lib, type(node).__name__)(vals[node.args[0]])
        else:
            raise NotImplementedError(f"dag_eval: {type(node).__name__}")
        vals[node] = out
    return vals


# ---------------------------------------------------------------------------
# Tools. Each compile_* takes the workload and returns a Built: the seconds from
# the SymPy RHS in hand to a callable that has answered one call, the
# single-point callable (1-D state -> NumPy array of the output's shape), and the
# batch callable on input prepared by ``prep`` (outside any timing).
# ---------------------------------------------------------------------------


@dataclass
class Built:
    compile_s: float
    call: Callable[[np.ndarray], np.ndarray]
    make_batch: Callable[[np.ndarray], tuple[Callable[[], Any], Callable[[Any], np.ndarray]]]
    note: str = ""
    info: dict = field(default_factory=dict)
    # Batch into an output allocated once (warm memory), for the tools whose
    # call takes one: x -> a callable writing every point of x.
    make_batch_out: Callable[[np.ndarray], Callable[[], Any]] | None = None


def timed_first_call(t0: float, call, y) -> float:
    call(y)
    return time.perf_counter() - t0


class Alkahest:
    def __init__(self, expected_evals: int | None):
        self.cfg = ak.CompileConfig(expected_evals=expected_evals)
        self.label = "alkahest" if expected_evals is None else "alkahest ee=1M"

    def warm(self):
        pool = ak.ExprPool()
        x = pool.symbol("x")
        ak.compile_expr([ak.sin(x) * x, x + 1], [x], self.cfg)([0.5])

    def _build(self, wl: Workload, jac: bool) -> Built:
        t0 = time.perf_counter()
        pool = ak.ExprPool()
        outs = ak.from_sympy(wl.rhs, pool)
        vars_ = [pool.symbol(s.name) for s in wl.xs]
        if jac:
            outs = ak.jacobian(outs, vars_)
        f = ak.compile_expr(outs, vars_, self.cfg)
        dt = timed_first_call(t0, f, wl.y0)
        info = {"n_ops": f.n_ops, "tier": f.tier}

        def make_batch(x):
            cols = list(x)
            return (lambda: ak.numpy_eval(f, *cols)), (lambda out: out)

        def make_batch_out(x):
            cols = list(x)
            out = ak.numpy_eval(f, *cols)
            return lambda: ak.numpy_eval(f, *cols, out=out)

        return Built(dt, f, make_batch, info=info, make_batch_out=make_batch_out)

    def compile_rhs(self, wl):
        return self._build(wl, jac=False)

    def compile_jac(self, wl):
        return self._build(wl, jac=True)


class SymEngine:
    label = "symengine"

    def __init__(self):
        import symengine as se

        self.se = se
        self.backend = None

    def _lambdify(self, xs, exprs):
        last = None
        for backend in ("llvm", "lambda"):
            try:
                f = self.se.Lambdify(xs, exprs, backend=backend, cse=True, real=True)
            except (TypeError, ValueError, RuntimeError) as exc:
                last = exc
                continue
            self.backend = backend
            return f
        raise last

    def warm(self):
        x = self.se.Symbol("x")
        self._lambdify([x], [self.se.sin(x) * x])(np.array([0.5]))

    def _build(self, wl, jac):
        se = self.se
        t0 = time.perf_counter()
        xs = [se.Symbol(s.name) for s in wl.xs]
        rhs = se.Matrix([se.sympify(e) for e in wl.rhs])
        exprs = rhs.jacobian(se.Matrix(xs)) if jac else rhs
        f = self._lambdify(xs, exprs)
        shape = (wl.n, wl.n) if jac else (wl.n,)

        def call(y):
            return f(y).reshape(shape)

        dt = timed_first_call(t0, call, wl.y0)

        def make_batch(x):
            xt = np.ascontiguousarray(x.T)
            return (lambda: f(xt)), (lambda out: np.moveaxis(out.reshape(-1, *shape), 0, -1))

        def make_batch_out(x):
            xt = np.ascontiguousarray(x.T)
            out = f(xt)
            return lambda: f(xt, out=out)

        return Built(
            dt,
            call,
            make_batch,
            make_batch_out=make_batch_out,
            note=f"Lambdify backend={self.backend}, cse; SymPy -> SymEngine conversion"
            + (" and SymEngine's jacobian" if jac else "")
            + " included",
        )

    def compile_rhs(self, wl):
        return self._build(wl, False)

    def compile_jac(self, wl):
        return self._build(wl, True)


class CasADi:
    label = "casadi"

    def __init__(self):
        import casadi as ca

        self.ca = ca
        self.opts = {}
        self.mode = "SX virtual machine (no JIT)"
        jit = {"jit": True, "compiler": "shell", "jit_options": {"flags": ["-O3"]}}
        try:
            # The shell compiler writes its temporary C and .so files in the
            # working directory: keep them out of the repository.
            with _in_tempdir():
                x = ca.SX.sym("x", 2)
                f = ca.Function("probe", [x], [ca.vertcat(x[0] * x[1], ca.sin(x[0]))], jit)
                got = f(np.array([0.3, 1.7])).full().ravel()
            if not np.allclose(got, [0.51, math.sin(0.3)], rtol=1e-12):
                raise RuntimeError(f"JIT probe gave {got}")
            self.opts = jit
            self.mode = "JIT (shell compiler, -O3)"
        except Exception as exc:  # noqa: BLE001 - any failure means: no JIT
            self.mode = f"SX virtual machine (JIT unavailable: {type(exc).__name__}: {exc})"

    def warm(self):
        ca = self.ca
        x = ca.SX.sym("x")
        with _in_tempdir():
            ca.Function("w", [x], [ca.sin(x) * x], self.opts)(0.5)

    def _build(self, wl, jac):
        ca = self.ca
        with _in_tempdir():
            t0 = time.perf_counter()
            x = ca.SX.sym("x", wl.n)
            vals = dag_eval(postorder(wl.rhs), {s: x[i] for i, s in enumerate(wl.xs)}, ca)
            rhs = ca.vertcat(
                *[ca.SX(vals[e]) if isinstance(vals[e], float) else vals[e] for e in wl.rhs]
            )
            out = ca.densify(ca.jacobian(rhs, x)) if jac else rhs
            f = ca.Function("ode_jac" if jac else "ode_rhs", [x], [out], self.opts)
            shape = (wl.n, wl.n) if jac else (wl.n,)

            def call(y):
                return f(y).full().reshape(shape)

            dt = timed_first_call(t0, call, wl.y0)

        def make_batch(xb):
            npts = xb.shape[1]
            fm = f.map(npts, "serial")
            dm = ca.DM(xb)

            def std(out):
                if jac:  # (n, npts*n): block k holds point k's Jacobian
                    return out.reshape(wl.n, npts, wl.n).transpose(0, 2, 1)
                return out

            return (lambda: fm(dm).full()), std

        return Built(
            dt,
            call,
            make_batch,
            note=f"{self.mode}; SymPy -> SX DAG walk"
            + (" and CasADi's jacobian" if jac else "")
            + " included; batch: Function.map(N, 'serial') on a DM, result .full()",
        )

    def compile_rhs(self, wl):
        return self._build(wl, False)

    def compile_jac(self, wl):
        return self._build(wl, True)


class _in_tempdir:
    """Run a block with a scratch directory as the working directory (one per
    run, left in the system's temporary directory: CasADi deletes its JIT files
    there when each Function is destroyed, after the block)."""

    path: str | None = None

    def __enter__(self):
        if _in_tempdir.path is None:
            _in_tempdir.path = tempfile.mkdtemp(prefix="bench_ode_casadi_")
        self.prev = os.getcwd()
        os.chdir(_in_tempdir.path)

    def __exit__(self, *exc):
        os.chdir(self.prev)


class JAX:
    label = "jax"

    def __init__(self):
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp

    def warm(self):
        self.jax.jit(lambda v: self.jnp.sin(v) * v)(np.array([0.5])).block_until_ready()

    def _rhs_fn(self, wl):
        jnp = self.jnp
        order = postorder(wl.rhs)

        def rhs(y):
            vals = dag_eval(order, {s: y[i] for i, s in enumerate(wl.xs)}, jnp)
            return jnp.stack([jnp.asarray(vals[e], dtype=jnp.float64) for e in wl.rhs])

        return rhs

    def _build(self, wl, jac):
        jax = self.jax
        t0 = time.perf_counter()
        rhs = self._rhs_fn(wl)
        g = jax.jacfwd(rhs) if jac else rhs
        f = jax.jit(g)

        def call(y):
            return np.asarray(f(y))

        dt = timed_first_call(t0, call, wl.y0)

        def make_batch(x):
            vf = jax.jit(jax.vmap(g))
            xt = jax.device_put(np.ascontiguousarray(x.T))
            vf(xt).block_until_ready()  # compile for this shape, outside timing
            return (lambda: np.asarray(vf(xt).block_until_ready())), (
                lambda out: np.moveaxis(out, 0, -1)
            )

        return Built(
            dt,
            call,
            make_batch,
            note="jit (+ jacfwd), trace and XLA compile at the first call; SymPy -> jnp DAG "
            "walk included; batch: jit(vmap(...)) on (N, n), compiled outside timing",
        )

    def compile_rhs(self, wl):
        return self._build(wl, False)

    def compile_jac(self, wl):
        return self._build(wl, True)


class SymJIT:
    label = "symjit"

    def __init__(self):
        import symjit

        self.symjit = symjit

    def warm(self):
        x = sp.Symbol("x")
        self.symjit.compile_func([x], [sp.sin(x) * x], use_threads=False).apply([0.5])

    def _build(self, wl, jac):
        t0 = time.perf_counter()
        exprs = [e for row in wl.sympy_jacobian() for e in row] if jac else wl.rhs
        f = self.symjit.compile_func(wl.xs, exprs, use_threads=False)
        shape = (wl.n, wl.n) if jac else (wl.n,)

        def call(y):
            return f.apply(y).copy().reshape(shape)  # apply returns a reused buffer

        dt = timed_first_call(t0, call, wl.y0) + (wl.sympy_jac_s if jac else 0.0)

        def make_batch(x):
            cols = list(x)
            return (lambda: f(*cols)), (lambda out: np.asarray(out).reshape(*shape, -1))

        return Built(
            dt,
            call,
            make_batch,
            note="compile_func(use_threads=False), default fastmath=True"
            + ("; SymPy Matrix.jacobian time added" if jac else "")
            + "; batch returns a list of per-output arrays (not stacked into one)",
        )

    def compile_rhs(self, wl):
        return self._build(wl, False)

    def compile_jac(self, wl):
        return self._build(wl, True)


class Lambdify:
    label = "numpy lambdify"

    def warm(self):
        x = sp.Symbol("x")
        sp.lambdify([x], [sp.sin(x) * x], "numpy", cse=True)(0.5)

    def _build(self, wl, jac):
        t0 = time.perf_counter()
        exprs = wl.sympy_jacobian() if jac else wl.rhs
        f = sp.lambdify(wl.xs, exprs, "numpy", cse=True)

        def call(y):
            return np.array(f(*y))

        dt = timed_first_call(t0, call, wl.y0) + (wl.sympy_jac_s if jac else 0.0)
        shape = (wl.n, wl.n) if jac else (wl.n,)

        def make_batch(x):
            cols = list(x)
            npts = x.shape[1]

            def run():
                # One dense (outputs, N) array like the other tools return:
                # lambdify gives a list of arrays, constant entries as scalars.
                res = f(*cols)
                flat = [v for row in res for v in row] if jac else res
                out = np.empty((len(flat), npts))
                for i, v in enumerate(flat):
                    out[i] = v
                return out.reshape(*shape, npts)

            return run, (lambda out: out)

        return Built(
            dt,
            call,
            make_batch,
            note="lambdify(..., 'numpy', cse=True)"
            + ("; SymPy Matrix.jacobian time added" if jac else "")
            + "; batch: its list of arrays (constants as scalars) copied into one "
            "(outputs, N) array, copy included",
        )

    def compile_rhs(self, wl):
        return self._build(wl, False)

    def compile_jac(self, wl):
        return self._build(wl, True)


PEERS = {
    "symengine": SymEngine,
    "casadi": CasADi,
    "jax": JAX,
    "symjit": SymJIT,
    "lambdify": Lambdify,
}

# ---------------------------------------------------------------------------
# Measurement helpers
# ---------------------------------------------------------------------------


def agree(got, ref) -> tuple[bool, float]:
    """(within RTOL elementwise with atol RTOL * max|ref|, max relative diff)."""
    got = np.asarray(got, dtype=float)
    if got.shape != ref.shape:
        return False, float("nan")
    scale = max(float(np.abs(ref).max()), 1e-300)
    ok = bool(np.all(np.abs(got - ref) <= RTOL * (np.abs(ref) + scale)))
    rel = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), scale * 1e-3)))
    return ok, rel


def calls_per_round(call, y, target_s: float) -> int:
    """Calls that take about target_s (3 .. 20,000)."""
    call(y)
    t0 = time.perf_counter()
    call(y)
    one = max(time.perf_counter() - t0, 1e-7)
    return int(min(20_000, max(3, target_s / one)))


class Mismatch(Exception):
    pass


def prepare_batch(built: Built, x: np.ndarray, ref_call, args):
    """(run, points) ready for timing, or raises Mismatch.

    A probe on the first PROBE_POINTS points checks agreement with ref_call (the
    alkahest single-point function) and estimates the cost; a tool whose timed
    runs would take more than args.batch_max_s in all is given fewer points (at
    least PROBE_POINTS). On those points: one untimed run (JAX compiles for the
    shape, alkahest may upgrade its tier) whose result is checked again."""

    def check(xb, out):
        sel = [0, 1, xb.shape[1] - 1]
        ref = np.array([ref_call(xb[:, k]) for k in sel])
        got = np.moveaxis(np.asarray(out)[..., sel], -1, 0)
        ok, rel = agree(got, ref)
        if not ok:
            raise Mismatch(f"max rel diff {rel:.2e} on {xb.shape[1]:,} points")

    probe = x[:, :PROBE_POINTS]
    run, std = built.make_batch(probe)
    check(probe, std(run()))
    t0 = time.perf_counter()
    run()
    per_point = (time.perf_counter() - t0) / probe.shape[1]
    npts = x.shape[1]
    if per_point * npts * args.reps > args.batch_max_s:
        npts = max(PROBE_POINTS, int(args.batch_max_s / (per_point * args.reps)))
    xb = x[:, :npts] if npts < x.shape[1] else x
    run, std = built.make_batch(xb)
    check(xb, std(run()))
    return run, npts


def interleaved_best(runs: dict, reps: int) -> dict:
    """Best seconds per key over reps rounds, each round running every key once
    (a noisy moment on a shared machine then hits all tools alike)."""
    best = dict.fromkeys(runs, math.inf)
    for _ in range(reps):
        for key, run in runs.items():
            t0 = time.perf_counter()
            run()
            best[key] = min(best[key], time.perf_counter() - t0)
    return best


def machine() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.machine()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def versions() -> str:
    from importlib import metadata

    out = [f"alkahest {ak.__version__}"]
    for dist in ("sympy", "numpy", "scipy", "symengine", "casadi", "jax", "jaxlib", "symjit"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    return ", ".join(out)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

# Row keys (units: compile ms, call us, batch ns/point) and column headers.
METRICS = [
    ("compile_rhs", "compile RHS ms"),
    ("compile_jac", "compile Jac ms"),
    ("call_rhs", "call RHS us"),
    ("call_jac", "call Jac us"),
    ("batch_rhs", "batch RHS ns/pt"),
    ("batch_jac", "batch Jac ns/pt"),
]


def bench_workload(wl, tools, args, results, failures):
    rng = np.random.default_rng(1)
    check_pts = wl.sample(rng, 4).T
    n_rhs = args.points
    n_jac = max(PROBE_POINTS, min(args.points, JAC_MAX_VALUES // (wl.n * wl.n)))
    x_rhs = wl.sample(rng, n_rhs)
    x_jac = x_rhs[:, :n_jac].copy()
    print(f"\n## {wl.name}: {wl.describe}")
    t0 = time.perf_counter()
    wl.sympy_jacobian()
    print(
        f"SymPy Matrix.jacobian: {wl.sympy_jac_s * 1e3:.0f} ms (added to the Jacobian compile "
        "of symjit and lambdify, which have no differentiation of their own)"
    )
    print(f"batch points: RHS {n_rhs:,}, Jacobian {n_jac:,}")
    rows: dict[str, dict] = {label: {} for label in tools}
    notes: dict[str, list[str]] = {label: [] for label in tools}
    refs: dict[str, np.ndarray] = {}
    funcs: dict[str, dict[str, Built]] = {label: {} for label in tools}

    # 1. Compile, then agree with alkahest at the check points (single-point path).
    for label, tool in tools.items():
        row = rows[label]
        for which in ("rhs", "jac"):
            try:
                built = getattr(tool, f"compile_{which}")(wl)
            except Exception as exc:  # noqa: BLE001 - a peer failing is a result
                for key in ("compile", "call", "batch"):
                    row[f"{key}_{which}"] = f"fail ({type(exc).__name__})"
                notes[label].append(f"{which}: {type(exc).__name__}: {exc}"[:300])
                continue
            row[f"compile_{which}"] = built.compile_s * 1e3
            if built.note and built.note not in notes[label]:
                notes[label].append(built.note)
            got = np.array([built.call(p) for p in check_pts])
            if label == "alkahest":
                refs[which] = got
            else:
                ok, rel = agree(got, refs[which])
                if not ok:
                    failures.append(
                        f"{wl.name} {which} {label}: single-point max rel diff {rel:.2e}"
                    )
                    row[f"call_{which}"] = row[f"batch_{which}"] = "WRONG"
                    continue
            funcs[label][which] = built
            if label.startswith("alkahest"):
                row[f"info_{which}"] = built.info

    # 2. Single-point calls, rounds interleaved across the tools.
    calls, n_calls = {}, {}
    for label, fs in funcs.items():
        for which, built in fs.items():
            calls[(label, which)] = built.call
            if label.startswith("alkahest"):
                # For the report: the same function given a list (tolist() included).
                calls[(label, which + "_tolist")] = lambda y, f=built.call: f(y.tolist())
    for key, call in calls.items():
        n_calls[key] = calls_per_round(call, wl.y0, args.call_target_s)
    y0 = wl.y0

    def repeat(call, n: int) -> None:
        # Each result is dropped before the next call, as an ODE solver does:
        # keeping them all (a list of n Jacobians, up to 20,000 x 28.8 KiB for
        # bruss) timed the first touch of fresh memory more than the calls.
        for _ in range(n):
            call(y0)

    best = interleaved_best(
        {
            key: (lambda call=call, n=n_calls[key]: repeat(call, n))
            for key, call in calls.items()
        },
        args.rounds,
    )
    for (label, which), secs in best.items():
        rows[label][f"call_{which}"] = secs / n_calls[(label, which)] * 1e6
    for label in funcs:
        for which in ("rhs", "jac"):
            lst = rows[label].get(f"call_{which}_tolist")
            if lst is not None:
                notes[label].append(
                    f"call {which}: f(y.tolist()) {lst:.2f} us vs f(y) "
                    f"{rows[label][f'call_{which}']:.2f} us"
                )

    # 3. Batches: prepare (probe, check, size, warm) per tool, then timed runs
    # interleaved across the tools.
    for which, x in (("rhs", x_rhs), ("jac", x_jac)):
        runs, npts = {}, {}
        for label, fs in funcs.items():
            if which not in fs:
                continue
            try:
                runs[label], npts[label] = prepare_batch(
                    fs[which], x, funcs["alkahest"][which].call, args
                )
            except Mismatch as exc:
                failures.append(f"{wl.name} {which} {label}: batch {exc}")
                rows[label][f"batch_{which}"] = "WRONG"
                continue
            except Exception as exc:  # noqa: BLE001
                rows[label][f"batch_{which}"] = f"fail ({type(exc).__name__})"
                notes[label].append(f"batch {which}: {exc}"[:300])
                continue
            if npts[label] < x.shape[1]:
                notes[label].append(
                    f"batch {which} timed on the first {npts[label]:,} of the {x.shape[1]:,} "
                    "points, to fit the time budget"
                )
        best = interleaved_best(runs, args.reps)
        for label, secs in best.items():
            rows[label][f"batch_{which}"] = secs / npts[label] * 1e9
            rows[label][f"batch_{which}_points"] = npts[label]
        del runs
        for label in funcs:
            if label.startswith("alkahest") and which in funcs[label]:
                info = funcs[label][which].info
                info["tier_after_batch"] = funcs[label][which].call.tier
                notes[label].append(
                    f"{which}: {info['n_ops']} tape ops, tier {info['tier']} "
                    f"(after the batch: {info['tier_after_batch']})"
                )
    print_table(rows, notes)
    warm_out_lines(wl, funcs, rows, x_rhs, x_jac, args)
    print(f"(workload section: {time.perf_counter() - t0:.1f} s)")
    results["workloads"][wl.name] = {
        "describe": wl.describe,
        "points_rhs": n_rhs,
        "points_jac": n_jac,
        "sympy_jacobian_ms": wl.sympy_jac_s * 1e3,
        "rows": rows,
        "notes": notes,
    }
    return funcs


def warm_out_lines(wl, funcs, rows, x_rhs, x_jac, args):
    """The batch columns compare each tool's own call, which returns a fresh
    array: alkahest's large results reuse memory it kept from the previous call
    (warm pages), the others' are new pages the kernel zeroes. Here alkahest
    and SymEngine both write into an array allocated once, so the memory is warm
    for both: the comparison without allocation."""
    ak_label = "alkahest ee=1M" if "alkahest ee=1M" in funcs else "alkahest"
    for which, x in (("rhs", x_rhs), ("jac", x_jac)):
        pair = [funcs.get(label, {}).get(which) for label in (ak_label, "symengine")]
        if any(b is None or b.make_batch_out is None for b in pair):
            continue
        n = min(rows[label].get(f"batch_{which}_points", x.shape[1]) for label in (ak_label, "symengine"))
        xb = x[:, :n]
        runs = {label: b.make_batch_out(xb) for label, b in zip((ak_label, "symengine"), pair, strict=True)}
        for run in runs.values():
            run()
        best = interleaved_best(runs, args.reps)
        a, se_ = best[ak_label] / n * 1e9, best["symengine"] / n * 1e9
        rows[ak_label][f"batch_{which}_out"] = a
        rows["symengine"][f"batch_{which}_out"] = se_
        print(
            f"  batch {which.upper() if which == 'rhs' else 'Jac'} into an out= allocated once "
            f"(warm memory for both, {n:,} points): {ak_label} {a:.1f} ns/pt, symengine "
            f"{se_:.1f} ns/pt: {se_ / a:.2f}x"
        )


def print_table(rows, notes):
    peers = [k for k in rows if not k.startswith("alkahest")]
    best_peer, best_name = {}, {}
    for key, _ in METRICS:
        vals = [(rows[p][key], p) for p in peers if isinstance(rows[p].get(key), float)]
        best_peer[key], best_name[key] = min(vals) if vals else (None, None)
    print("(each cell: value (value / fastest peer's value); lower is better everywhere)")
    print("| tool | " + " | ".join(h for _, h in METRICS) + " |")
    print("|---|" + "---:|" * len(METRICS))
    for label, row in rows.items():
        cells = []
        for key, _ in METRICS:
            v = row.get(key, "n/a")
            if isinstance(v, float):
                digits = 2 if v < 100 else 0
                cell = f"{v:,.{digits}f}"
                if best_peer[key]:
                    cell += f" ({v / best_peer[key]:.2f})"
                cells.append(cell)
            else:
                cells.append(str(v))
        print(f"| {label} | " + " | ".join(cells) + " |")
    for label, ns in notes.items():
        for n in ns:
            print(f"  - {label}: {n}")
    print("targets:")
    a0, a1 = rows.get("alkahest", {}), rows.get("alkahest ee=1M", {})
    for key, goal in (("batch_rhs", "batch RHS"), ("batch_jac", "batch Jac")):
        a = a1.get(key)
        if isinstance(a, float) and best_peer[key]:
            r = best_peer[key] / a
            print(
                f"  {goal}: {best_name[key]} / alkahest ee=1M = {r:.2f}x "
                f"(target >= 1.5x: {'met' if r >= 1.5 else 'NOT met'})"
            )
    for key, goal in (("call_rhs", "call RHS"), ("call_jac", "call Jac")):
        a = a0.get(key)
        if isinstance(a, float) and best_peer[key]:
            r = a / best_peer[key]
            print(
                f"  {goal}: alkahest / {best_name[key]} = {r:.2f} "
                f"(target <= 1: {'met' if r <= 1 else 'NOT met'})"
            )
    se = rows.get("symengine", {})
    for key, goal in (("compile_rhs", "compile RHS"), ("compile_jac", "compile Jac")):
        for label, row in (("alkahest", a0), ("alkahest ee=1M", a1)):
            a, s = row.get(key), se.get(key)
            if isinstance(a, float) and isinstance(s, float):
                print(
                    f"  {goal}: {label} / symengine = {a / s:.2f} "
                    f"(target <= 1: {'met' if a <= s else 'NOT met'})"
                )


def bench_solve_ivp(wl, funcs, args, results, failures):
    from scipy.integrate import solve_ivp

    print(f"\n### solve_ivp BDF, {wl.name}: t_span {wl.t_span}, rtol {wl.rtol:g}, atol {wl.atol:g}")
    print("| tool | wall ms | nfev | njev | nlu | max abs diff vs alkahest at t_end |")
    print("|---|---:|---:|---:|---:|---:|")
    solvers = {}
    for label in args.ivp_tools:
        fs = funcs.get(label, {})
        if "rhs" in fs and "jac" in fs:
            f, j = fs["rhs"].call, fs["jac"].call
            solvers[label] = lambda f=f, j=j: solve_ivp(
                lambda t, y: f(y),
                wl.t_span,
                wl.y0,
                method="BDF",
                jac=lambda t, y: j(y),
                rtol=wl.rtol,
                atol=wl.atol,
            )
    # Repetitions interleaved across the tools, so that a noisy moment on a shared
    # machine does not land on one tool's runs only.
    best = dict.fromkeys(solvers, math.inf)
    sols = {}
    for _ in range(args.ivp_reps):
        for label, solve in solvers.items():
            t0 = time.perf_counter()
            sols[label] = solve()
            best[label] = min(best[label], time.perf_counter() - t0)
    ref = sols["alkahest"].y[:, -1] if "alkahest" in sols else None
    out = {}
    for label, sol in sols.items():
        if not sol.success:
            failures.append(f"{wl.name} solve_ivp {label}: {sol.message}")
        end = sol.y[:, -1]
        diff = float(np.max(np.abs(end - ref)))
        out[label] = {
            "wall_ms": best[label] * 1e3,
            "nfev": sol.nfev,
            "njev": sol.njev,
            "nlu": sol.nlu,
            "t_end": float(sol.t[-1]),
            "max_abs_diff_end": diff,
        }
        print(
            f"| {label} | {best[label] * 1e3:,.1f} | {sol.nfev} | {sol.njev} | {sol.nlu} | "
            f"{diff:.2e} |"
        )
    print(f"(max |y| at t_end: {float(np.max(np.abs(ref))) if ref is not None else 'n/a'})")
    results["solve_ivp"][wl.name] = out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200k points, fewer repetitions")
    ap.add_argument("--points", type=int, help="batch points (default 1M, 200k with --quick)")
    ap.add_argument("--links", type=int, default=4, help="pendulum links (default 4)")
    ap.add_argument(
        "--workloads",
        nargs="*",
        default=["pendulum", "chem", "bruss"],
        choices=["pendulum", "chem", "bruss"],
    )
    ap.add_argument("--tools", nargs="*", default=list(PEERS), choices=list(PEERS))
    ap.add_argument("--json", help="write the measurements to this file")
    args = ap.parse_args()
    args.points = args.points or (200_000 if args.quick else 1_000_000)
    args.reps = 2 if args.quick else 3
    args.rounds = 3 if args.quick else 5
    args.call_target_s = 0.02 if args.quick else 0.05
    args.batch_max_s = 1.5 if args.quick else 3.0
    args.ivp_reps = 1 if args.quick else 2
    t_start = time.perf_counter()

    tools: dict[str, Any] = {"alkahest": Alkahest(None), "alkahest ee=1M": Alkahest(1_000_000)}
    skipped = {}
    for name in args.tools:
        try:
            tools[PEERS[name].label] = PEERS[name]()
        except Exception as exc:  # noqa: BLE001 - missing or broken peer: skip it
            skipped[name] = f"{type(exc).__name__}: {exc}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, tool in list(tools.items()):
            try:
                tool.warm()  # one-time initialization, not part of any compile time
            except Exception as exc:  # noqa: BLE001
                skipped[label] = f"warm-up failed: {type(exc).__name__}: {exc}"
                del tools[label]
    args.ivp_tools = list(tools)

    results: dict[str, Any] = {
        "machine": machine(),
        "versions": versions(),
        "points": args.points,
        "quick": args.quick,
        "skipped": skipped,
        "workloads": {},
        "solve_ivp": {},
    }
    print("# ODE workloads: RHS + Jacobian, alkahest vs peers")
    print(f"machine: {results['machine']}")
    print(f"versions: {results['versions']}")
    print(f"alkahest features: {ak.features()}")
    print(f"XLA_FLAGS: {os.environ.get('XLA_FLAGS')}")
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    print(
        "compile = SymPy RHS in hand -> callable that has answered one call (conversion into "
        "the tool included); call = one 1-D state in, NumPy array out (best of "
        f"{args.rounds} rounds); batch = best of up to {args.reps} runs, one thread"
    )

    t0 = time.perf_counter()
    builders = {"pendulum": lambda: pendulum(args.links), "chem": chem, "bruss": brusselator}
    workloads = [builders[w]() for w in args.workloads]
    print(f"(building the SymPy workloads: {time.perf_counter() - t0:.1f} s, not timed below)")

    failures: list[str] = []
    all_funcs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ak.FallbackWarning)
        for wl in workloads:
            all_funcs[wl.name] = bench_workload(wl, tools, args, results, failures)
        print("\n## scipy.integrate.solve_ivp(method='BDF', jac=...), same y0 for every tool")
        print(f"(wall time best of {args.ivp_reps}; diffs against alkahest's solution)")
        for wl in workloads:
            bench_solve_ivp(wl, all_funcs[wl.name], args, results, failures)

    # Destroy CasADi's JIT functions (they delete their files) and remove the
    # then empty scratch directory.
    all_funcs.clear()
    tools.clear()
    gc.collect()
    if _in_tempdir.path is not None:
        try:
            os.rmdir(_in_tempdir.path)
        except OSError:
            pass
    total = time.perf_counter() - t_start
    results["total_s"] = total
    results["failures"] = failures
    print(f"\n(total run time {total:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)
    if failures:
        print("FAILURES:")
        for f in failures:
            print(f"  {f}")
        sys.exit(1)


if __name__ == "__main__":
    main()
