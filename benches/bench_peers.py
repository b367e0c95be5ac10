"""Alkahest against the tools a user would reach for instead, in one run.

Measures, on float64 data (single thread unless stated):

* throughput on 1M points for each benchmark expression, per Alkahest tier
  available in this build, NumPy (via ``sympy.lambdify``), numexpr,
  SymEngine ``Lambdify`` (LLVM backend when the wheel has it), Numba
  (``@vectorize``), JAX (``jit``, CPU), symjit (``compile_func``), CasADi
  (``Function``, JIT through the system compiler when it works, batches through
  ``map``), PyTensor (``pytensor.function``, C backend) and the seed's published
  ``alkahest`` 3.12 (in its own venv and process: ``--seed-python``, see
  ``seed_peer.py``), plus the memory floor (a plain copy of the input to the
  output); printed as ns/point and as peer/alkahest ratios;
* compile latency against DAG size (10 .. 20k nodes) per tier and per peer;
* scalar call latency from Python: ``f([a, b])`` against every peer, and on
  every throughput formula against Numba's ``@njit``;
* ``numpy_eval_par`` scaling by thread count.

The small expressions are built in SymPy and handed to every peer through its
usual SymPy route. The random DAGs (heavy sharing) are not: a tree walk of their
SymPy form is exponential, so each peer gets the same DAG (same recipe and seed)
in a native form that keeps the sharing (see ``dag_peers.py``), while alkahest
keeps its ``from_sympy`` route, which memoizes shared subtrees.

Usage: ``python benches/bench_peers.py [--quick] [--json FILE] [--sections ...]``.
Peers that are missing or fail on an expression print ``n/a`` / ``fail``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import warnings

import numpy as np
import sympy as sp

import alkahest as ak
import dag_peers as dp  # benches/ is on sys.path when this script runs
from sympy_tree import sympy_convert

N = 1_000_000
# CompileConfig(optimize=...) for every alkahest compile; None = the build's default
# ("speed" with the e-graph optimizer). Set by --optimize.
OPTIMIZE = None
# Seconds SymEngine may take to get a random DAG ready before it is reported as a
# failure (see ensure_finishes). Set by --peer-timeout (default 4x the compile
# section's budget).
PEER_TIMEOUT_S = 120.0


def best(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


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


# ---------------------------------------------------------------------------
# Benchmark expressions (built in SymPy so every peer sees the same formula)
# ---------------------------------------------------------------------------

x_s, y_s = sp.symbols("x y")


# Each DAG's SymPy form, built once per process. Building it a second time is
# not just slow: SymPy's cache then compares the new nodes with the cached ones
# by structural equality, which walks the shared DAG as a tree (exponential).
# After the throughput section, the scalar section's rebuild of the 2.7k-op DAG
# ran for over 19 minutes.
_DAG_SYMPY: dict[tuple[int, int], sp.Expr] = {}


def dag_sympy(dag: dp.Dag) -> sp.Expr:
    """``dag`` as a SymPy expression over x, y (alkahest's input), memoized."""
    key = (dag.n_ops, dag.seed)
    if key not in _DAG_SYMPY:
        _DAG_SYMPY[key] = dag.sympy(x_s, y_s)
    return _DAG_SYMPY[key]


def random_dag(n_ops: int, seed: int = 7) -> sp.Expr:
    """The random DAG over x, y with n_ops operations (``dag_peers.Dag``) as a
    SymPy expression: alkahest's input."""
    return dag_sympy(dp.Dag(n_ops, seed))


def poly10() -> sp.Expr:
    coeffs = [0.5, -1.25, 0.75, 2.0, -0.125, 0.3, -0.7, 1.1, -0.05, 0.9, 0.2]
    return sum(c * x_s**k for k, c in enumerate(coeffs))


def throughput_cases():
    """(name, form, args) per throughput row. form is a SymPy expression (a tree,
    handed to every peer through SymPy) or a ``dag_peers.Dag`` (each peer builds
    its native form from the steps; alkahest gets ``form.sympy``)."""
    return [
        ("sin(x)*cos(x)", sp.sin(x_s) * sp.cos(x_s), [x_s]),
        ("poly10 (dense)", poly10(), [x_s]),
        (
            "exp(-x^2/2)cos(3x)+log1p(x^2)",
            sp.exp(-(x_s**2) / 2) * sp.cos(3 * x_s) + sp.log(1 + x_s**2),
            [x_s],
        ),
        ("x*y + sin(x)/y", x_s * y_s + sp.sin(x_s) / y_s, [x_s, y_s]),
        ("random DAG, 2.7k ops", dp.Dag(2700), [x_s, y_s]),
    ]


def as_sympy(form) -> sp.Expr:
    return dag_sympy(form) if isinstance(form, dp.Dag) else form


def expressions():
    """The throughput rows as SymPy expressions: (name, expr, args)."""
    return [(name, as_sympy(form), args) for name, form, args in throughput_cases()]


# ---------------------------------------------------------------------------
# Peers: each takes (form, args), form a SymPy expression or a dag_peers.Dag, and
# returns (compile_seconds, evaluate(arrays) -> ndarray) or raises. For a Dag,
# compile_seconds includes building the peer's native form from the steps.
# ---------------------------------------------------------------------------

# What the free names in Dag.python_source resolve to, per peer.
NUMPY_NS = {"sin": np.sin, "cos": np.cos, "exp": np.exp, "tanh": np.tanh}
MATH_NS = {"sin": math.sin, "cos": math.cos, "exp": math.exp, "tanh": math.tanh}
# numexpr gets a DAG as one string with every shared node written out at each use;
# past this many characters it is reported as "fail (too large)" instead of
# being built (the 1k-op DAG alone would be ~10^13 characters).
NUMEXPR_MAX_CHARS = 100_000
# Array length for the compiling first call of JAX (which specializes on shape);
# compile_latency calls every peer once more at this length so nothing re-traces.
WARM_POINTS = 16


def dag_args(form, args) -> None:
    # A Dag is always over x, y (in that order); the caller's args must agree.
    if [str(a) for a in args] != ["x", "y"]:
        raise ValueError(f"a random DAG takes (x, y), not {args}")


def peer_numpy(form, args):
    t0 = time.perf_counter()
    if isinstance(form, dp.Dag):
        dag_args(form, args)
        g = form.python_function(NUMPY_NS, free_dead=True)

        def f(*cols):
            # A random DAG may overflow to inf/nan on some inputs (in every
            # tool alike); keep NumPy from warning about it on every call.
            with np.errstate(all="ignore"):
                return g(*cols)
    else:
        f = sp.lambdify(args, form, "numpy")
    return time.perf_counter() - t0, lambda cols: f(*cols)


def peer_numexpr(form, args):
    import numexpr as ne

    names = [str(a) for a in args]
    t0 = time.perf_counter()
    if isinstance(form, dp.Dag):
        dag_args(form, args)
        src = form.numexpr_string(NUMEXPR_MAX_CHARS)  # raises TooLargeError
    else:
        src = str(form).replace("atan2", "arctan2")
    ne.evaluate(src, local_dict={n: np.ones(4) for n in names})  # parse + compile
    dt = time.perf_counter() - t0
    return dt, lambda cols: ne.evaluate(src, local_dict=dict(zip(names, cols, strict=True)))


def peer_symengine(form, args):
    t0 = time.perf_counter()
    if isinstance(form, dp.Dag):
        dag_args(form, args)
        # Builds the SymEngine expression from the steps, then Lambdify (cse).
        f, backend = dp.symengine_function(form)
        peer_symengine.backend["random DAG"] = backend
    else:
        # SymEngine converts the SymPy objects itself (fine for these trees).
        f, backend = dp.symengine_lambdify(args, [form], cse=False)
        peer_symengine.backend["SymPy trees"] = backend
    dt = time.perf_counter() - t0
    return dt, lambda cols: f(np.stack(cols, axis=-1)).reshape(-1)


# Which Lambdify backend (and whether cse) each kind of input got, for the report.
peer_symengine.backend = {}


def peer_numba(form, args):
    import numba

    t0 = time.perf_counter()
    if isinstance(form, dp.Dag):
        dag_args(form, args)
        scalar = form.python_function(MATH_NS)
    else:
        scalar = sp.lambdify(args, form, "math")
    sig = "float64(" + ",".join(["float64"] * len(args)) + ")"
    # With an explicit signature, vectorize compiles here, not on the first call.
    f = numba.vectorize([sig], nopython=True)(scalar)
    dt = time.perf_counter() - t0
    return dt, lambda cols: f(*cols)


def peer_jax(form, args):
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp

    t0 = time.perf_counter()
    if isinstance(form, dp.Dag):
        dag_args(form, args)
        jnp_ns = {"sin": jnp.sin, "cos": jnp.cos, "exp": jnp.exp, "tanh": jnp.tanh}
        fn = form.python_function(jnp_ns)
    else:
        fn = sp.lambdify(args, form, "jax")
    f = jax.jit(fn)
    cols = [jnp.ones(WARM_POINTS) for _ in args]
    f(*cols).block_until_ready()  # trace + compile (for this shape; re-traced for others)
    dt = time.perf_counter() - t0
    return dt, lambda cols: np.asarray(f(*[jnp.asarray(c) for c in cols]).block_until_ready())


def symbolic_graph(form, args, syms, lib):
    """The formula as a graph of a symbolic library (CasADi, PyTensor) over its
    symbols ``syms``: ``lib.sin``, ``lib.cos``, ... for the functions. A DAG
    is built from its steps (sharing kept), a SymPy tree by ``sympy_convert``."""
    names = ("sin", "cos", "exp", "log", "tanh")
    if isinstance(form, dp.Dag):
        dag_args(form, args)
        return form.python_function({n: getattr(lib, n) for n in names})(*syms)
    funcs = {getattr(sp, n): getattr(lib, n) for n in names}
    return sympy_convert(form, {str(a): s for a, s in zip(args, syms, strict=True)}, funcs)


def peer_symjit(form, args):
    import symjit

    if isinstance(form, dp.Dag):
        # compile_func walks SymPy's tree, which is exponential in a DAG's
        # depth (it did not finish the 2.7k-op DAG in minutes).
        raise NotImplementedError("symjit takes SymPy trees")
    t0 = time.perf_counter()
    f = symjit.compile_func(list(args), [form], use_threads=False)
    dt = time.perf_counter() - t0
    return dt, lambda cols: np.asarray(f(*cols)[0])


class _CasadiScratch:
    """CasADi's JIT writes its C and .so files in the working directory: run
    it in a scratch directory (one per run)."""

    path: str | None = None

    def __enter__(self):
        import tempfile

        if _CasadiScratch.path is None:
            _CasadiScratch.path = tempfile.mkdtemp(prefix="bench_peers_casadi_")
        self.prev = os.getcwd()
        os.chdir(_CasadiScratch.path)

    def __exit__(self, *exc):
        os.chdir(self.prev)


def casadi_opts():
    """CasADi's JIT options if its shell compiler works here, else {} (its SX
    virtual machine); probed once."""
    if hasattr(casadi_opts, "opts"):
        return casadi_opts.opts
    import casadi as ca

    jit = {"jit": True, "compiler": "shell", "jit_options": {"flags": ["-O3"]}}
    try:
        with _CasadiScratch():
            x = ca.SX.sym("x")
            got = float(ca.Function("probe", [x], [ca.sin(x) * x], jit)(0.5))
        casadi_opts.opts = jit if abs(got - math.sin(0.5) * 0.5) < 1e-15 else {}
    except Exception:  # noqa: BLE001 - no JIT: the virtual machine
        casadi_opts.opts = {}
    casadi_opts.mode = "JIT (shell compiler, -O3)" if casadi_opts.opts else "SX virtual machine"
    return casadi_opts.opts


def peer_casadi(form, args):
    import casadi as ca

    opts = casadi_opts()
    t0 = time.perf_counter()
    syms = [ca.SX.sym(str(a)) for a in args]
    out = symbolic_graph(form, args, syms, ca)
    with _CasadiScratch():
        f = ca.Function("f", syms, [out], opts)
    dt = time.perf_counter() - t0
    maps = {}

    def ev(cols):
        n = len(cols[0])
        if n not in maps:
            maps[n] = f.map(n, "serial")
        res = maps[n](*[ca.DM(c.reshape(1, -1)) for c in cols])
        return res.full().reshape(-1)

    return dt, ev


def peer_pytensor(form, args):
    import pytensor
    import pytensor.tensor as pt

    t0 = time.perf_counter()
    syms = [pt.dvector(str(a)) for a in args]
    out = symbolic_graph(form, args, syms, pt)
    f = pytensor.function(syms, out)
    dt = time.perf_counter() - t0
    return dt, lambda cols: f(*cols)


# The seed's release: a Python with `alkahest` 3.12 installed (--seed-python).
SEED_PYTHON: str | None = None
SEED_LABEL = "alkahest 3.12"


def seed_job(form, args, cols=None, reps=1, scalar_calls=0) -> dict:
    """Run one job in the seed's interpreter (``seed_peer.py``): its compile
    seconds, and with ``cols`` its best batch seconds and result (and with
    ``scalar_calls`` its seconds per scalar call)."""
    import subprocess
    import tempfile

    if SEED_PYTHON is None:
        raise NotImplementedError("no --seed-python")
    here = os.path.dirname(os.path.abspath(__file__))
    job = {"args": [str(a) for a in args], "reps": reps, "benches": here}
    if isinstance(form, dp.Dag):
        job.update(form="dag", n_ops=form.n_ops, seed=form.seed)
    else:
        job.update(form="sympy", srepr=sp.srepr(form))
    with tempfile.TemporaryDirectory(prefix="bench_peers_seed_") as tmp:
        if cols is not None:
            job["columns"] = []
            for i, c in enumerate(cols):
                path = os.path.join(tmp, f"col{i}.npy")
                np.save(path, c)
                job["columns"].append(path)
            job["result"] = os.path.join(tmp, "result.npy")
        job["scalar_calls"] = scalar_calls
        run = subprocess.run(
            [SEED_PYTHON, os.path.join(here, "seed_peer.py")],
            input=json.dumps(job) + "\n",
            capture_output=True,
            text=True,
            timeout=max(600.0, PEER_TIMEOUT_S),
        )
        if run.returncode != 0:
            raise RuntimeError(run.stderr.strip().splitlines()[-1] if run.stderr else "failed")
        out = json.loads(run.stdout.strip().splitlines()[-1])
        if cols is not None:
            out["values"] = np.load(job["result"])
    return out


def fail_cell(exc: Exception) -> str:
    if isinstance(exc, NotImplementedError):
        return f"n/a ({exc})"
    if isinstance(exc, dp.TooLargeError):
        return "fail (too large)"
    if isinstance(exc, dp.PeerTimeoutError):
        return f"fail (> {exc.timeout_s:g} s)"
    return f"fail ({type(exc).__name__})"


def ensure_finishes(p: str, form) -> None:
    """Raise PeerTimeoutError if peer p would stall on form. Only SymEngine's cse
    is known to stall on the random DAGs (see dag_peers), and a stall inside its
    C++ cannot be interrupted, so it is tried first in a child process (outside
    any timing) with PEER_TIMEOUT_S."""
    if p == "symengine" and isinstance(form, dp.Dag):
        if not dp.symengine_finishes(form, PEER_TIMEOUT_S):
            raise dp.PeerTimeoutError(PEER_TIMEOUT_S)


PEERS = {
    "numpy": peer_numpy,
    "numexpr": peer_numexpr,
    "symengine": peer_symengine,
    "numba": peer_numba,
    "jax": peer_jax,
    "symjit": peer_symjit,
    "casadi": peer_casadi,
    "pytensor": peer_pytensor,
}


def alkahest_tiers():
    feats = ak.features()
    tiers = ["interpreter"]
    if feats.get("cranelift"):
        tiers.append("cranelift")
    if feats.get("jit"):
        tiers.append("llvm")
    return tiers


def alk_compile(expr, args, tier, expected=None):
    pool = ak.ExprPool()
    t0 = time.perf_counter()
    e = ak.from_sympy(expr, pool)
    vars_ = [pool.symbol(str(a)) for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ak.FallbackWarning)
        cfg = ak.CompileConfig(force_tier=tier, expected_evals=expected, optimize=OPTIMIZE)
        f = ak.compile_expr(e, vars_, cfg)
    return time.perf_counter() - t0, f


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


def throughput(results, reps, n):
    print(
        f"\n## Throughput, {n:,} points, float64, one thread (ns/point; ratio = peer / best alkahest)"
    )
    rng = np.random.default_rng(0)
    data = {1: [rng.uniform(-2, 2, n)], 2: [rng.uniform(-2, 2, n), rng.uniform(0.5, 2, n)]}
    out = np.empty(n)
    floor = best(lambda: np.copyto(out, data[1][0]), reps) / n * 1e9
    print(f"memory floor (copy input -> output): {floor:.2f} ns/point")
    results["memory_floor_ns"] = floor
    tiers = alkahest_tiers()
    header = ["expression"] + [f"alk:{t}" for t in tiers] + list(PEERS) + [SEED_LABEL]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    notes = []  # printed below the table
    for name, form, args in throughput_cases():
        expr = as_sympy(form)
        cols = data[len(args)]
        row = {}
        ref = None
        diffs = {}  # max relative difference from alk:interpreter, per tier and peer
        cores = {}  # CPU time over wall time while a peer was timed
        rtol = DAG_RTOL if isinstance(form, dp.Dag) else 1e-9
        for t in tiers:
            _, f = alk_compile(expr, args, t)
            ak.numpy_eval(f, *cols, out=out)
            if ref is None:
                ref = out.copy()
            else:
                diffs[f"alk:{t}"] = max_rel_diff(out, ref)
            row[f"alk:{t}"] = (
                best(lambda f=f, cols=cols: ak.numpy_eval(f, *cols, out=out), reps) / n * 1e9
            )
        alk_best = min(row.values())
        for p, mk in PEERS.items():
            try:
                ensure_finishes(p, form)
                _, ev = mk(form, args)
                # Every peer must agree with alkahest's interpreter on the same
                # points, inf and nan included (a random DAG may overflow, and
                # must then do so at the same points).
                got = np.asarray(ev(cols), dtype=float).reshape(-1)
                diffs[p] = max_rel_diff(got, ref)
                bad = mismatches(got, ref, rtol)
                if bad:
                    row[p] = f"wrong ({bad} pts)"
                    continue
                c0, w0 = time.process_time(), time.perf_counter()
                row[p] = best(lambda ev=ev, cols=cols: ev(cols), reps) / n * 1e9
                cores[p] = (time.process_time() - c0) / (time.perf_counter() - w0)
            except Exception as exc:  # noqa: BLE001 - a peer failing is a result
                row[p] = fail_cell(exc)
        try:
            got = seed_job(form, args, cols, reps)
            bad = mismatches(got["values"], ref, rtol)
            diffs[SEED_LABEL] = max_rel_diff(got["values"], ref)
            row[SEED_LABEL] = f"wrong ({bad} pts)" if bad else got["seconds"] / n * 1e9
        except Exception as exc:  # noqa: BLE001
            row[SEED_LABEL] = fail_cell(exc)
        results.setdefault("throughput", {})[name] = row
        results.setdefault("max_rel_diff", {})[name] = diffs
        cells = []
        for k in header[1:]:
            v = row[k]
            if isinstance(v, float):
                cells.append(
                    f"{v:.2f}" + ("" if k.startswith("alk:") else f" ({v / alk_best:.1f}x)")
                )
            else:
                cells.append(v)
        print(f"| {name} | " + " | ".join(cells) + " |")
        # Peers that ran on more than one core while timed (XLA's CPU runtime
        # and numexpr split large loops over the cores): their per-core
        # time is the wall time times this.
        busy = {p: c for p, c in cores.items() if c > 1.2}
        if busy:
            notes.append(
                f"{name}: CPU time / wall time while timed: "
                + ", ".join(f"{p} {c:.1f}" for p, c in busy.items())
                + "; alkahest one thread"
            )
        if rtol != 1e-9:
            spread = ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
            notes.append(
                f"{name}: agreement within rtol {rtol:g}; max relative difference "
                f"from alk:interpreter: {spread}"
            )
    for note in notes:
        print(f"({note})")
    print(f"(symengine backend: {peer_symengine.backend})")
    print(f"(casadi: {getattr(casadi_opts, 'mode', 'not run')}; batch through Function.map)")


# Agreement tolerance for the random DAG rows (the trees use rtol 1e-9). Composing
# thousands of operations amplifies the last-bit differences between math
# libraries (NumPy, glibc, XLA and alkahest's sin/exp/tanh differ by an ulp here
# and there) by up to ~1e7 at some points: on the 2.7k-op row every float64
# evaluation, alkahest's own LLVM tier included, differs from an 80-bit long-double
# evaluation of the same DAG by up to ~1e-8 relative on a few dozen of 200k
# points. A different formula would differ by far more than 1e-6.
DAG_RTOL = 1e-6


def mismatches(got: np.ndarray, ref: np.ndarray, rtol: float = 1e-9) -> int:
    """Points where got and ref differ beyond rtol (atol 1e-9 near 0); inf must
    match inf of the same sign and nan must match nan."""
    if got.shape != ref.shape:
        return ref.size
    return int(np.count_nonzero(~np.isclose(got, ref, rtol=rtol, atol=1e-9, equal_nan=True)))


def max_rel_diff(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest |got - ref| / |ref| over the points where both are finite (nan if
    the shapes differ); for the report, next to the pass/fail of mismatches."""
    if got.shape != ref.shape:
        return float("nan")
    ok = np.isfinite(got) & np.isfinite(ref)
    if not ok.any():
        return 0.0
    d = np.abs(got[ok] - ref[ok]) / np.maximum(np.abs(ref[ok]), 1e-300)
    return float(d.max())


def compile_latency(results, sizes, budget, reps):
    """Time from an expression to a function ready to run: the throughput rows'
    formulas, then random DAGs by size.

    What each column includes (the SymPy expression itself is built before any
    clock starts, and the random steps are drawn before that):
    * alk:<tier>: ``alk_compile``, i.e. SymPy -> alkahest conversion + compile;
    * symengine: building the SymEngine expression from the steps + ``Lambdify``
      (cse + LLVM code generation; see the backend line) + one call. Its cse can
      stall, so it is first tried in a child process (``ensure_finishes``, not
      timed) and reported as failed past PEER_TIMEOUT_S;
    * numba: generating the straight-line source + ``exec`` + ``vectorize``
      (which compiles eagerly for its explicit signature) + one call;
    * jax: generating the source + ``exec`` + ``jit`` + the first call (trace and
      XLA compile) + one more call at the same shape (no re-trace).
    A peer whose time exceeds ``budget`` seconds is skipped at the larger sizes.
    """
    print("\n## Compile latency (expression -> ready function), ms")
    print(
        "(alkahest: SymPy -> alkahest + compile; peers: the SymPy formula converted by each "
        "peer, or its native form built from the DAG's steps)"
    )
    tiers = alkahest_tiers()
    peers = ["symengine", "numba", "jax", "symjit", "casadi", "pytensor", SEED_LABEL]
    header = ["expression / DAG nodes (live)"] + [f"alk:{t}" for t in tiers] + peers
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    slow = set()
    warm = [np.ones(WARM_POINTS), np.ones(WARM_POINTS)]
    # The throughput rows' formulas first (SymPy trees; best of `reps` for
    # alkahest and SymEngine, whose compiles take milliseconds; Numba and JAX
    # once).
    for name, form, args in throughput_cases():
        if isinstance(form, dp.Dag):
            continue
        row = {}
        for t in tiers:
            row[f"alk:{t}"] = min(alk_compile(form, args, t)[0] for _ in range(reps)) * 1e3
        for p in peers:
            try:
                times = []
                for _ in range(reps if p in ("symengine", "symjit", SEED_LABEL) else 1):
                    if p == SEED_LABEL:
                        times.append(seed_job(form, args)["compile_s"])
                        continue
                    t0 = time.perf_counter()
                    _, ev = PEERS[p](form, args)
                    ev(warm[: len(args)])
                    times.append(time.perf_counter() - t0)
                row[p] = min(times) * 1e3
            except Exception as exc:  # noqa: BLE001
                row[p] = fail_cell(exc)
        results.setdefault("compile_ms", {})[name] = row
        cells = [f"{v:.1f}" if isinstance(v, float) else v for v in row.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for size in sizes:
        dag = dp.Dag(size, seed=size)
        expr = dag_sympy(dag)  # not timed (alkahest's input)
        args = [x_s, y_s]
        row = {}
        for t in tiers:
            dt, _ = alk_compile(expr, args, t)
            row[f"alk:{t}"] = dt * 1e3
        for p in peers:
            if p in slow:
                row[p] = "skipped"
                continue
            try:
                ensure_finishes(p, dag)
                if p == SEED_LABEL:
                    dt = seed_job(dag, args)["compile_s"]
                else:
                    t0 = time.perf_counter()
                    _, ev = PEERS[p](dag, args)
                    ev(warm)  # the function is ready: one call completes
                    dt = time.perf_counter() - t0
                row[p] = dt * 1e3
                if dt > budget:
                    slow.add(p)
            except Exception as exc:  # noqa: BLE001
                row[p] = fail_cell(exc)
                slow.add(p)
        results.setdefault("compile_ms", {})[size] = row
        cells = [f"{v:.1f}" if isinstance(v, float) else v for v in row.values()]
        print(f"| {size} ({len(dag.live())}) | " + " | ".join(cells) + " |")
    print(f"(symengine backend: {peer_symengine.backend})")


def scalar_calls(results, reps):
    print("\n## Scalar call from Python, f([a, b]) (microseconds per call)")
    expr = x_s * y_s + sp.sin(x_s) / y_s
    calls = 20_000
    row = {}
    for t in alkahest_tiers():
        _, f = alk_compile(expr, [x_s, y_s], t)
        row[f"alk:{t}"] = (
            best(lambda f=f: [f([0.3, 1.7]) for _ in range(calls)], reps) / calls * 1e6
        )
    try:
        import numba

        nf = numba.njit(sp.lambdify([x_s, y_s], expr, "math"))
        nf(0.3, 1.7)
        row["numba njit f(a, b)"] = (
            best(lambda: [nf(0.3, 1.7) for _ in range(calls)], reps) / calls * 1e6
        )
    except Exception as exc:  # noqa: BLE001
        row["numba njit f(a, b)"] = f"fail ({type(exc).__name__})"
    try:
        import symengine as se

        sf = se.Lambdify([x_s, y_s], [expr], real=True)
        row["symengine f([a, b])"] = (
            best(lambda: [sf([0.3, 1.7]) for _ in range(calls)], reps) / calls * 1e6
        )
    except Exception as exc:  # noqa: BLE001
        row["symengine f([a, b])"] = f"fail ({type(exc).__name__})"
    try:
        import symjit

        jf = symjit.compile_func([x_s, y_s], [expr], use_threads=False)
        row["symjit f.apply([a, b])"] = (
            best(lambda: [jf.apply([0.3, 1.7]) for _ in range(calls)], reps) / calls * 1e6
        )
    except Exception as exc:  # noqa: BLE001
        row["symjit f.apply([a, b])"] = f"fail ({type(exc).__name__})"
    try:
        import casadi as ca

        a, b = ca.SX.sym("x"), ca.SX.sym("y")
        out = sympy_convert(expr, {"x": a, "y": b}, {sp.sin: ca.sin})
        with _CasadiScratch():
            cf = ca.Function("f", [a, b], [out], casadi_opts())
        row["casadi f(a, b)"] = (
            best(lambda: [float(cf(0.3, 1.7)) for _ in range(calls)], reps) / calls * 1e6
        )
    except Exception as exc:  # noqa: BLE001
        row["casadi f(a, b)"] = f"fail ({type(exc).__name__})"
    try:
        got = seed_job(expr, [x_s, y_s], reps=reps, scalar_calls=calls)
        row[f"{SEED_LABEL} f([a, b])"] = got["scalar_s"] * 1e6
    except Exception as exc:  # noqa: BLE001
        row[f"{SEED_LABEL} f([a, b])"] = fail_cell(exc)
    lf = sp.lambdify([x_s, y_s], expr, "math")
    row["sympy lambdify (math)"] = (
        best(lambda: [lf(0.3, 1.7) for _ in range(calls)], reps) / calls * 1e6
    )
    results["scalar_us"] = row
    for k, v in row.items():
        print(f"  {k:<28} {v:.3f}" if isinstance(v, float) else f"  {k:<28} {v}")
    scalar_calls_per_formula(results, reps)
    small_batches(results, reps)


def small_batches(results, reps):
    """What a call costs on few points (an ODE solver's vectorized right-hand
    side, a loop over small arrays): ``numpy_eval`` into ``out=`` and into a
    fresh result, against the peers' own small-array calls."""
    print("\n## Small batches: x*y + sin(x)/y on n points (microseconds per call)")
    expr = x_s * y_s + sp.sin(x_s) / y_s
    _, f = alk_compile(expr, [x_s, y_s], "llvm" if ak.features().get("jit") else None)
    peers = {}
    try:
        import numba

        point = numba.njit(sp.lambdify([x_s, y_s], expr, "math"))

        @numba.njit
        def loop(xs, ys, out):
            for i in range(xs.shape[0]):
                out[i] = point(xs[i], ys[i])
            return out

        peers["numba njit loop"] = lambda xs, ys, out: loop(xs, ys, out)
    except Exception as exc:  # noqa: BLE001
        peers["numba njit loop"] = exc
    try:
        import numexpr as ne

        peers["numexpr"] = lambda xs, ys, out: ne.evaluate(
            "x*y + sin(x)/y", local_dict={"x": xs, "y": ys}, out=out
        )
    except Exception as exc:  # noqa: BLE001
        peers["numexpr"] = exc
    peers["numpy"] = lambda xs, ys, out: np.add(xs * ys, np.sin(xs) / ys, out=out)
    sizes = [1, 16, 256, 4096]
    cols = ["alk numpy_eval out=", "alk numpy_eval", *peers]
    print("| n | " + " | ".join(cols) + " |")
    print("|---:|" + "---:|" * len(cols))
    table = {}
    rng = np.random.default_rng(5)
    for n in sizes:
        xs, ys, out = rng.uniform(-2, 2, n), rng.uniform(0.5, 2, n), np.empty(n)
        calls = 20_000 if n <= 256 else 2_000
        row = {
            "alk numpy_eval out=": per_call_us(
                lambda a, b, o: ak.numpy_eval(f, a, b, out=o), (xs, ys, out), calls, reps
            ),
            "alk numpy_eval": per_call_us(
                lambda a, b: ak.numpy_eval(f, a, b), (xs, ys), calls, reps
            ),
        }
        for name, g in peers.items():
            if isinstance(g, Exception):
                row[name] = f"fail ({type(g).__name__})"
                continue
            g(xs, ys, out)
            row[name] = per_call_us(g, (xs, ys, out), calls, reps)
        table[n] = row
        cells = [f"{row[c]:.2f}" if isinstance(row[c], float) else row[c] for c in cols]
        print(f"| {n} | " + " | ".join(cells) + " |", flush=True)
    results["small_batch_us"] = table


def per_call_us(fn, args, calls: int, reps: int) -> float:
    """Microseconds per ``fn(*args)``, best of ``reps`` rounds of ``calls``."""
    return best(lambda: [fn(*args) for _ in range(calls)], reps) / calls * 1e6


def scalar_calls_per_formula(results, reps):
    """Issue 17's point-call target on every throughput formula: each alkahest
    tier, and the default compile once its planned tier is in (``f.wait()``),
    against Numba's ``@njit`` of the same formula (for a DAG, of its straight-line
    Python with one temporary per node)."""
    print("\n## Scalar call per formula: alkahest vs Numba @njit (microseconds per call)")
    tiers = alkahest_tiers()
    cols = ["default", *tiers, "numba"]
    print("| expression | " + " | ".join(cols) + " | numba / fastest alkahest |")
    print("|---|" + "---:|" * (len(cols) + 1))
    table = {}
    for name, form, args in throughput_cases():
        expr = as_sympy(form)
        point = [0.3, 1.7][: len(args)]
        calls = 2_000 if isinstance(form, dp.Dag) else 20_000
        row = {}
        for t in [None, *tiers]:
            _, f = alk_compile(expr, args, t)
            f.wait()
            f(point)
            row[t or "default"] = per_call_us(f, (point,), calls, reps)
        try:
            import numba

            src = (
                form.python_function(MATH_NS)
                if isinstance(form, dp.Dag)
                else sp.lambdify(args, expr, "math")
            )
            nf = numba.njit(src)
            nf(*point)
            row["numba"] = per_call_us(nf, point, calls, reps)
        except Exception as exc:  # noqa: BLE001
            row["numba"] = f"fail ({type(exc).__name__})"
        table[name] = row
        cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else row[c] for c in cols]
        ratio = (
            f"{row['numba'] / min(row[t] for t in ['default', *tiers]):.2f}x"
            if isinstance(row["numba"], float)
            else "-"
        )
        print(f"| {name} | " + " | ".join(cells) + f" | {ratio} |", flush=True)
    results["scalar_per_formula_us"] = table


def parallel_scaling(results, reps, n):
    print(f"\n## numpy_eval_par scaling, {n:,} points (ms)")
    pool = ak.ExprPool()
    x = pool.symbol("x")
    cases = [
        ("sin(x)*cos(x)", ak.sin(x) * ak.cos(x)),
        ("exp(-x^2/2)cos(3x)", ak.exp(-(x**2) / 2) * ak.cos(3 * x)),
    ]
    xs = np.linspace(-3, 3, n)
    out = np.empty(n)
    for name, e in cases:
        f = ak.compile_expr(e, [x], ak.CompileConfig(expected_evals=n))
        serial = best(lambda f=f: ak.numpy_eval(f, xs, out=out), reps)
        row = {"numpy_eval": serial * 1e3}
        for t in range(1, (os.cpu_count() or 1) + 1):
            row[f"par threads={t}"] = (
                best(lambda f=f, t=t: ak.numpy_eval_par(f, xs, out=out, threads=t), reps) * 1e3
            )
        results.setdefault("parallel_ms", {})[name] = row
        print(
            f"  {name:<22} "
            + "  ".join(f"{k}: {v:.2f}" for k, v in row.items())
            + f"  (speed-up {serial * 1e3 / min(row.values()):.2f}x)"
        )


def peer_versions() -> str:
    """Installed version of each peer (and the seed's release, if given)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for dist in ("numexpr", "symengine", "numba", "jax", "symjit", "casadi", "pytensor"):
        try:
            found.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            found.append(f"{dist} missing")
    found.append(f"{SEED_LABEL}: {SEED_PYTHON or 'no --seed-python'}")
    return ", ".join(found)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes")
    ap.add_argument("--json", help="write the measurements to this file")
    ap.add_argument(
        "--sections",
        nargs="*",
        default=["throughput", "compile", "scalar", "parallel"],
        choices=["throughput", "compile", "scalar", "parallel"],
    )
    ap.add_argument(
        "--optimize",
        choices=["default", "none", "speed", "accuracy"],
        default="default",
        help="CompileConfig(optimize=...) for alkahest compiles (default: the build's default)",
    )
    ap.add_argument(
        "--peer-timeout",
        type=float,
        help="seconds SymEngine may take to get a random DAG ready before it is reported as "
        "failed (default: 20, or 120 without --quick)",
    )
    ap.add_argument(
        "--seed-python",
        help="a Python with the seed's published alkahest 3.12 installed (its own venv; see "
        "seed_peer.py); default .venv-seed/bin/python when it exists",
    )
    a = ap.parse_args()
    global OPTIMIZE, PEER_TIMEOUT_S, SEED_PYTHON
    default_seed = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv-seed")
    default_seed = os.path.join(default_seed, "bin", "python")
    SEED_PYTHON = a.seed_python or (default_seed if os.path.exists(default_seed) else None)
    OPTIMIZE = None if a.optimize == "default" else a.optimize
    budget = 5.0 if a.quick else 30.0
    PEER_TIMEOUT_S = a.peer_timeout if a.peer_timeout is not None else 4 * budget
    reps = 3 if a.quick else 7
    n = 200_000 if a.quick else N
    results = {
        "machine": machine(),
        "features": ak.features(),
        "points": n,
        "optimize": ak.CompileConfig(optimize=OPTIMIZE).optimize,
    }
    print(
        f"# Alkahest peer benchmark\nmachine: {results['machine']}\nfeatures: {results['features']}"
        f"\noptimize: {results['optimize']}\npeers: {peer_versions()}"
    )
    sizes = [10, 100, 1000] if a.quick else [10, 100, 1000, 10_000, 20_000]
    sections = {
        "throughput": lambda: throughput(results, reps, n),
        "compile": lambda: compile_latency(results, sizes, budget=budget, reps=reps),
        "scalar": lambda: scalar_calls(results, reps),
        "parallel": lambda: parallel_scaling(results, reps, n),
    }
    for name, run in sections.items():
        if name in a.sections:
            t0 = time.perf_counter()
            run()
            dt = time.perf_counter() - t0
            results.setdefault("section_s", {})[name] = dt
            print(f"({name} section: {dt:.1f} s)")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
