"""Type stubs for the compiled extension ``alkahest._alkahest``."""

import os
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal, TypeAlias, final, overload

import numpy as np
import numpy.typing as npt

__version__: str

_Number: TypeAlias = int | float | Fraction
_Operand: TypeAlias = "Expr | _Number"
_ArrayLike: TypeAlias = npt.ArrayLike | Any  # any DLPack producer (PyTorch CPU tensor, JAX array)
# One expression, or a rectangular nested list of them (numbers allowed):
# a function with one output per leaf.
_Outputs: TypeAlias = "Expr | Sequence[Any]"

@final
class ExprPool:
    """A hash-consed expression pool; every expression belongs to exactly one."""

    def __init__(self) -> None: ...
    def symbol(self, name: str) -> Expr:
        """The symbol named ``name`` (same name, same expression)."""
    def symbols(self, names: str) -> list[Expr]:
        """Symbols from a whitespace- or comma-separated string."""
    def integer(self, n: int) -> Expr:
        """An exact integer of any size."""
    def rational(self, p: int, q: int) -> Expr:
        """The exact rational p/q in lowest terms."""
    def float(self, v: float) -> Expr:
        """A float constant."""
    def __len__(self) -> int: ...
    def to_bytes(self, exprs: Iterable[Expr] | None = None) -> bytes:
        """The whole pool, or the sub-DAG of ``exprs``, in the versioned binary format."""
    def save(self, path: str | os.PathLike[str], exprs: Iterable[Expr] | None = None) -> None:
        """Write ``to_bytes(exprs)`` to ``path`` atomically."""
    @staticmethod
    def from_bytes(data: bytes) -> ExprPool: ...
    @staticmethod
    def load(path: str | os.PathLike[str]) -> ExprPool: ...
    def exprs_from_bytes(self, data: bytes) -> list[Expr]:
        """Load into this pool (all or nothing); the saved expressions in order."""
    def load_exprs(self, path: str | os.PathLike[str]) -> list[Expr]: ...

@final
class Expr:
    """A node of an :class:`ExprPool`; immutable, hashable, compared structurally.

    The pool keeps one canonical form per expression (sums and products
    flattened and sorted, constants folded), so ``x*(y*z) == (x*y)*z``. Each
    ``Expr`` built with the operators and functions also remembers how it
    was written, one operation per operator in the order applied: that is
    what ``eval_expr`` and ``optimize="none"`` evaluate (IEEE arithmetic is
    not associative, and the grouping can decide between a result and an
    overflow). Pickling, ``to_bytes``/``save`` and the compile cache keep
    the written form; expressions made by ``diff``, ``subs``-like
    transformations or ``from_sympy``'s own canonical terms are written as
    their canonical form."""

    def __add__(self, other: _Operand, /) -> Expr: ...
    def __radd__(self, other: _Operand, /) -> Expr: ...
    def __sub__(self, other: _Operand, /) -> Expr: ...
    def __rsub__(self, other: _Operand, /) -> Expr: ...
    def __mul__(self, other: _Operand, /) -> Expr: ...
    def __rmul__(self, other: _Operand, /) -> Expr: ...
    def __truediv__(self, other: _Operand, /) -> Expr: ...
    def __rtruediv__(self, other: _Operand, /) -> Expr: ...
    def __pow__(self, other: _Operand, modulo: None = None, /) -> Expr: ...
    def __rpow__(self, other: _Operand, modulo: None = None, /) -> Expr: ...
    def __neg__(self) -> Expr: ...
    def __pos__(self) -> Expr: ...
    def __abs__(self) -> Expr: ...
    def __mod__(self, other: _Operand, /) -> Expr:
        """``Mod(self, other)``: Python's remainder, with the sign of the divisor."""
    def __rmod__(self, other: _Operand, /) -> Expr: ...
    def __lt__(self, other: _Operand, /) -> Expr:
        """The condition ``Lt(self, other)`` (decided per point, false for NaN)."""
    def __le__(self, other: _Operand, /) -> Expr: ...
    def __gt__(self, other: _Operand, /) -> Expr: ...
    def __ge__(self, other: _Operand, /) -> Expr: ...
    def __and__(self, other: Expr, /) -> Expr:
        """``And(self, other)`` of two conditions."""
    def __rand__(self, other: Expr, /) -> Expr: ...
    def __or__(self, other: Expr, /) -> Expr:
        """``Or(self, other)`` of two conditions."""
    def __ror__(self, other: Expr, /) -> Expr: ...
    def __invert__(self) -> Expr:
        """``Not(self)`` of a condition."""
    def __eq__(self, other: object, /) -> bool:
        """Structural identity (use ``eq(a, b)`` for a numeric condition)."""
    def __ne__(self, other: object, /) -> bool: ...
    @property
    def is_condition(self) -> bool:
        """Whether this is a condition (comparison, And/Or/Not) rather than a number."""
    def __hash__(self) -> int: ...
    @property
    def pool(self) -> ExprPool: ...
    @property
    def id(self) -> int: ...
    @property
    def content_key(self) -> int:
        """128-bit structural hash, equal for equal structure in any pool or process."""
    @property
    def kind(self) -> str:
        """'symbol', 'integer', 'rational', 'float', 'add', 'mul', 'pow' or a function name."""
    @property
    def args(self) -> tuple[Expr, ...]: ...
    @property
    def name(self) -> str | None: ...
    @property
    def value(self) -> int | Fraction | float | None: ...
    def free_symbols(self) -> list[Expr]: ...
    def dag_size(self) -> int: ...

def sin(x: _Operand) -> Expr: ...
def cos(x: _Operand) -> Expr: ...
def tan(x: _Operand) -> Expr: ...
def asin(x: _Operand) -> Expr: ...
def acos(x: _Operand) -> Expr: ...
def atan(x: _Operand) -> Expr: ...
def sinh(x: _Operand) -> Expr: ...
def cosh(x: _Operand) -> Expr: ...
def tanh(x: _Operand) -> Expr: ...
def exp(x: _Operand) -> Expr: ...
def log(x: _Operand) -> Expr: ...
def sqrt(x: _Operand) -> Expr: ...
def log1p(x: _Operand) -> Expr: ...
def expm1(x: _Operand) -> Expr: ...
def Abs(x: _Operand) -> Expr: ...
def atan2(y: _Operand, x: _Operand) -> Expr: ...
def hypot(x: _Operand, y: _Operand) -> Expr: ...
def fma(a: _Operand, b: _Operand, c: _Operand) -> Expr: ...
def Min(a: _Operand, b: _Operand) -> Expr: ...
def Max(a: _Operand, b: _Operand) -> Expr: ...
def asinh(x: _Operand) -> Expr: ...
def acosh(x: _Operand) -> Expr: ...
def atanh(x: _Operand) -> Expr: ...
def cbrt(x: _Operand) -> Expr: ...
def exp2(x: _Operand) -> Expr: ...
def log2(x: _Operand) -> Expr: ...
def log10(x: _Operand) -> Expr: ...
def erf(x: _Operand) -> Expr: ...
def erfc(x: _Operand) -> Expr: ...
def gamma(x: _Operand) -> Expr: ...
def loggamma(x: _Operand) -> Expr:
    """log|gamma(x)| (C's lgamma)."""

def digamma(x: _Operand) -> Expr:
    """psi(x) = gamma'(x)/gamma(x) (SymPy's ``polygamma(0, x)``)."""

def trigamma(x: _Operand) -> Expr:
    """psi'(x) (SymPy's ``polygamma(1, x)``)."""

def floor(x: _Operand) -> Expr: ...
def ceiling(x: _Operand) -> Expr: ...
def sign(x: _Operand) -> Expr:
    """1 above zero, -1 below, x itself at ±0 and NaN."""

def copysign(a: _Operand, b: _Operand) -> Expr: ...
def fmod(a: _Operand, b: _Operand) -> Expr:
    """C's remainder, with the sign of ``a``."""

def Mod(a: _Operand, b: _Operand) -> Expr:
    """Python's / SymPy's remainder, with the sign of ``b``."""

def lt(a: _Operand, b: _Operand) -> Expr: ...
def le(a: _Operand, b: _Operand) -> Expr: ...
def gt(a: _Operand, b: _Operand) -> Expr: ...
def ge(a: _Operand, b: _Operand) -> Expr: ...
def eq(a: _Operand, b: _Operand) -> Expr:
    """The condition a == b, per point (false where either is NaN)."""

def ne(a: _Operand, b: _Operand) -> Expr:
    """The condition a != b, per point (true where either is NaN)."""

def add(*terms: _Operand) -> Expr:
    """The sum of all terms as one flat node, in one step (``s = s + t`` in a
    loop keeps sums longer than 64 terms as nested groups). As written, it
    is ``t1 + t2 + ... + tn`` added left to right."""

def mul(*factors: _Operand) -> Expr:
    """The product of all factors as one flat node, in one step; as
    written, multiplied left to right."""

def And(*conds: Expr) -> Expr: ...
def Or(*conds: Expr) -> Expr: ...
def Not(c: Expr) -> Expr: ...
def where(cond: Expr, a: _Operand, b: _Operand) -> Expr:
    """``a`` where ``cond`` holds, else ``b``, per point and without branching."""

def piecewise(*pieces: tuple[_Operand, Expr | bool]) -> Expr:
    """The first piece whose condition holds; ``(z, True)`` last for elsewhere (else NaN)."""

def diff(expr: Expr, var: Expr, n: int = 1) -> Expr:
    """The n-th derivative (piecewise for Abs, Min, Max, floor, ...)."""

def grad(expr: Expr, vars: Iterable[Expr]) -> list[Expr]: ...
def jacobian(exprs: _Outputs, vars: Iterable[Expr]) -> list[list[Expr]]: ...
def hessian(expr: Expr, vars: Iterable[Expr]) -> list[list[Expr]]: ...

@final
class CompileConfig:
    """How to compile: planned evaluations, forced tier, rewriting, fast or exact math.

    ``optimize=None`` means ``"speed"`` (e-graph canonicalization, never more
    operations than written) in builds with the e-graph optimizer, and
    ``"none"`` in builds without it. ``"speed"`` also fuses ``a*b + c`` into
    one fused multiply-add (one rounding, never less accurate) on CPUs that
    have it, so results agree with ``eval_expr`` within rounding, not bit for
    bit; its algebraic rules assume finite inputs (e.g. ``x*y - 3*x`` may
    become ``x*(y - 3)``, which gives ``-inf`` instead of NaN at ``x=inf,
    y=0``). Pass ``"none"`` to compile the expression exactly as written:
    one IEEE operation per operator, grouped and ordered as written (not as
    the pool's canonical form), with results bit-identical to ``eval_expr``
    where the table below says so, IEEE special values included; the MLIR
    tier compiles the canonical form, so under ``"none"`` it falls back
    (with a ``FallbackWarning``) where the two differ.
    ``"accuracy"`` samples the inputs over the whole float range (or the
    ``domain``), measures each candidate's error against an MPFR reference
    and keeps the most accurate, never one worse than written on the
    samples: rewrites (``log1p``, ``expm1``, conjugates, sum-to-product,
    ...), truncated series around 0 and infinity for one-variable
    expressions (each used only where its truncation error is below half
    an ulp), and ``where`` selections between them (regimes). Where its
    result keeps the input (unchanged, or as the fallback of a guarded
    series) it keeps it as written, and when the written form measures more
    accurate than the result on 256 fresh samples it compiles the written
    form. It costs 5-200 ms per small formula. ``"speed"`` rewrites the
    canonical form alone (so its functions and cache entries do not depend
    on grouping).

    Without ``force_tier`` the tier follows from the tape's size and
    ``expected_evals`` (or the size of the batch about to run, which can
    upgrade a function once): the interpreter for few evaluations of a small
    expression; Cranelift for more, or for large expressions; LLVM for large
    batches. Expressions whose time goes mostly into math-library calls
    (``sin``, ``exp``, ...) skip Cranelift, which runs them slower than the
    interpreter, and get LLVM's quick code generation below about 2 million
    planned evaluations. The measured crossovers are in ``benches/RESULTS.md``.

    A function planned for LLVM is returned at once on a cheaper tier while a
    background thread builds LLVM, swapped in when ready: small arithmetic
    expressions return on the interpreter and get Cranelift from the same
    thread a fraction of a millisecond later, large ones return on Cranelift,
    call-bound ones on the interpreter. Each call uses one
    tier from start to end (which results can change with the tier: the
    table below). A batch that calls for LLVM
    later also gets it in the background when the expression makes no
    math-library call (every tier then gives the same bits); otherwise LLVM
    is built before that batch, so successive batches agree. ``wait=True``
    builds the planned tier before returning (so do a forced tier and a
    compile through a ``CompileCache`` with a ``path``, which stores it).
    ``domain={x: (lo, hi), ...}`` declares where the inputs lie: the
    optimizer's accuracy sampling (``optimize="accuracy"``) draws points
    there only, and guards that keep a rewrite defined elsewhere fold away.
    Points outside are still computed, with a form chosen for inside.
    ``CompiledFn.pending_tier`` and ``CompiledFn.wait()`` show and await it.

    ``exact_math=True`` makes LLVM's batch loop call the same scalar libm
    routines as every other CPU path, lane by lane, instead of glibc's
    vector math library (libmvec); arithmetic stays vectorized. It excludes
    ``fast_math`` (``OptionError``). Results against ``eval_expr``, with
    ``optimize="none"`` (NaN payload and sign aside):

    ============================  ===================  ===============
    path                          default              exact_math=True
    ============================  ===================  ===============
    scalar call, any CPU tier     identical            identical
    interpreter batch             identical            identical
    Cranelift batch               identical            identical
    LLVM batch                    libmvec ulps [1]     identical
    ``numpy_eval_par``            as ``numpy_eval``    identical
    batches after an upgrade      libmvec ulps [2]     identical
    ``CompileCache`` hit          as a fresh compile   identical
    MLIR tier (on request)        not promised [3]     not promised
    CUDA                          libdevice ulps [4]   libdevice ulps
    ============================  ===================  ===============

    [1] ``sin cos tan asin acos atan atan2 sinh cosh exp log log1p expm1
    hypot asinh acosh atanh cbrt exp2 log2 log10 erf erfc`` run through
    libmvec on x86-64 glibc: each within 4 ulp of libm (glibc's bound; 3
    measured); ``pow``, ``tanh``, ``lgamma`` and ``gamma`` through
    Alkahest's own vector routines, within 1, 3, 4 and 9 ulp of the true
    value, and ``exp``, ``sinh``, ``cosh``, ``log``, ``asin`` and ``acos``
    too where the CPU has AVX-512, within 1, 1.5, 1.5, 0.6, 2 and 2 ulp
    (docs/functions.md). Either is carried through the rest of the
    expression like any input error. Across a domain edge or a discontinuity that can be any
    difference: ``fmod`` by a difference that cancels to 0, ``sqrt`` of one
    that cancels to ±tiny, ``acosh(cos(1e-8))`` give NaN in one and a number
    in the other. Expressions without those functions: identical.
    [2] A function that moves to LLVM (by batch size, or when a background
    build lands) gives LLVM's batch results from then on. [3] Same scalar
    libm routines, but the canonical form (see ``"none"`` above); not
    covered by this table's tests. [4] NVIDIA's own implementations; ``exact_math`` does not
    apply. With ``optimize="speed"`` every path computes the rewritten
    form, so the table holds between paths instead of against
    ``eval_expr``. Cost: what the scalar routines cost, e.g. 47-50 ns/point
    instead of 11-13 on the mixed formula of ``benches/RESULTS.md`` (AVX-512
    Xeon, one thread), level with Cranelift; no cost without library calls.
    """

    def __new__(
        cls,
        expected_evals: int | None = None,
        force_tier: Literal["interpreter", "cranelift", "llvm", "jit", "mlir"] | None = None,
        optimize: Literal["none", "speed", "accuracy"] | None = None,
        fast_math: bool = False,
        wait: bool = False,
        domain: Mapping[Expr | str, tuple[float, float]] | None = None,
        exact_math: bool = False,
    ) -> CompileConfig: ...
    @property
    def expected_evals(self) -> int | None: ...
    @property
    def force_tier(self) -> str | None: ...
    @property
    def optimize(self) -> str: ...
    @property
    def fast_math(self) -> bool: ...
    @property
    def exact_math(self) -> bool: ...
    @property
    def wait(self) -> bool: ...
    @property
    def domain(self) -> dict[str, tuple[float, float]]:
        """Declared input intervals by variable name (empty: all floats)."""

@final
class CompiledFn:
    """A compiled expression."""

    @overload
    def __call__(self, values: Sequence[float], /) -> Any:
        """A float for one expression; an array of ``shape`` for several outputs.

        Called with arrays, one per variable (``f(xs, ys)``, any of them an
        array of one or more dimensions, NumPy or Dask), it is
        ``numpy_eval(f, xs, ys)``: elementwise, broadcasting, lazy for Dask
        arrays; so ``f`` works in ``dask.array.map_blocks`` as it stands. A
        single 1-D array of ``n_vars`` values stays one point (scipy's
        convention), as do a one-element 1-D array and a 0-d array for a
        function of one variable.
        """
    @overload
    def __call__(self, *values: float | np.ndarray) -> Any: ...
    def call_batch(self, inputs: _ArrayLike) -> np.ndarray:
        """Evaluate points given as shape (n_vars, n_points), one row per variable."""
    def call_bulk(
        self, flat: _ArrayLike, n_points: int | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Evaluate points from one flat buffer: ``flat[v * n_points + i]``."""
    @property
    def vars(self) -> list[Expr]: ...
    @property
    def n_vars(self) -> int: ...
    @property
    def tier(self) -> str:
        """'interpreter', 'cranelift' or 'llvm': the tier running batches now."""
    @property
    def expr(self) -> Any:
        """The expression, or the nested list of expressions of several outputs."""
    @property
    def shape(self) -> tuple[int, ...]:
        """One point's result shape: () for one expression."""
    @property
    def n_outputs(self) -> int: ...
    @property
    def config(self) -> CompileConfig: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def n_ops(self) -> int: ...
    @property
    def pending_tier(self) -> str | None:
        """The tier a background thread is building, swapped in when ready."""
    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no background build of this function runs (at most
        ``timeout`` seconds); whether none runs. Calls never need it."""
    def explain(self) -> dict[str, Any]:
        """``tier``, ``pending_tier``, ``planned_tier``, ``rewritten``,
        ``output_groups`` (how many groups of outputs the Cranelift and LLVM
        batch loops run one after another, for a wide function whose outputs
        each need few inputs; None when they run the whole function per
        point), and what the optimizer rewrote when it did (the keys of
        ``alkahest.explain``)."""

@final
class CompileCache:
    """Memoizes compilation by (expression content, variable order, config).

    With ``path``, compiled functions also persist in that directory (created
    if missing), keyed by content, configuration, backends, CPU features and
    library version; another process using the same directory loads them
    instead of compiling (for LLVM: the object code). Stale or corrupted
    entries are rebuilt, never run; disk failures fall back to compiling
    with a ``FallbackWarning``. A path that cannot be a directory raises
    ``StorageError``.
    """

    def __new__(cls, path: str | os.PathLike[str] | None = None) -> CompileCache: ...
    @property
    def path(self) -> pathlib.Path | None:
        """The cache directory, or None for a memory-only cache."""
    def compile(
        self,
        expr: _Outputs,
        vars: Iterable[Expr],
        pool: ExprPool | None = None,
        config: CompileConfig | None = None,
    ) -> CompiledFn: ...
    def stats(self) -> dict[str, float]:
        """``hits`` (= ``memory_hits`` + ``disk_hits``), ``compiles``, ``hit_rate``,
        ``disk_rejects`` (entries rebuilt), ``disk_errors``, ``disk_writes``."""
    def clear(self) -> None:
        """Forget functions held in memory (disk entries stay)."""
    def __len__(self) -> int: ...

def compile_expr(
    expr: _Outputs, vars: Iterable[Expr], config: CompileConfig | None = None
) -> CompiledFn:
    """Compile one expression, or a nested list of them into one function with
    an output per leaf (shared subexpressions computed once)."""

def eval_expr(expr: Expr, values: dict[Expr, float]) -> float:
    """Evaluate ``expr`` once, as written (see :class:`Expr`), with no
    compilation: the reference every ``optimize="none"`` tier agrees with."""
def _from_sympy_fast(expr: Any, pool: ExprPool, kinds: dict[Any, Any], names: dict[str, Any]) -> Expr | None:
    """``from_sympy``'s common case (see ``alkahest._sympy``); ``None`` when
    the expression has a node it does not convert."""
def _wait_background(timeout: float | None = None) -> bool:
    """Wait until no background LLVM build runs (registered with ``atexit``)."""
def numpy_eval(f: CompiledFn, *arrays: _ArrayLike | float, out: np.ndarray | None = None) -> Any:
    """Evaluate ``f`` elementwise; shape ``(*f.shape, *broadcast_shape)``.

    Inputs broadcast by NumPy's rules (scalars, length-1 and n-d arrays)
    without materializing the broadcast; ``out=`` may have the broadcast of
    the inputs as its points, like a ufunc's. Computed in float64 into a
    float64 result: float64 C-contiguous inputs are read in place; float32,
    int, bool, strided and broadcast inputs are read in place and widened a
    block of points at a time (float64 columns of one point-major array,
    ``*x.T`` of an ``(N, n)`` array, a row at a time); float16, long double and byte-swapped inputs
    are converted by NumPy first (one copy of that input). Dask arrays give a
    lazy Dask array (``alkahest.dask_eval``). On the main thread a long call
    checks for signals between blocks, so Ctrl-C raises ``KeyboardInterrupt``
    within about 0.1 s; ``out=`` is then partly written. A function of more
    than 16 outputs, some constant, fills its constant outputs column by
    column; a fresh result is then allocated zeroed and its constant ``0``
    outputs (a sparse Jacobian's zeros) are never written. A fresh result of
    4 MiB or more starts on a 64-byte boundary (a view into a buffer one
    cache line longer: ``result.base`` is that buffer), so the LLVM tier
    can write its columns with streaming stores (x86-64 with AVX-512). One
    of 32 MiB or more lives in memory this module keeps for reuse once the
    result is freed (``result.base`` is a ``PooledResult``): a later large
    result gets memory already paged in instead of fresh pages the kernel
    must zero (at most 2 blocks and 1 GiB kept; ``ALKAHEST_RESULT_POOL_MB``
    sets the cap, 0 turns it off; ``release_result_pool()`` frees them)."""

@final
class PooledResult:
    """Owner of a large ``numpy_eval`` result's memory (its ``.base``); gives
    the memory back for reuse when the last array over it is freed."""

def release_result_pool() -> int:
    """Free the memory kept for reuse by large ``numpy_eval`` results (see
    ``numpy_eval``); returns the bytes freed."""

def numpy_eval_par(
    f: CompiledFn, *arrays: _ArrayLike | float, out: np.ndarray | None = None, threads: int | None = None
) -> Any:
    """``numpy_eval`` (broadcasting, dtypes, Dask) on several cores, bit-identical results. ``threads``: None
    or 0 for every CPU; above ``max(256, CPUs)`` raises ``OptionError``. Safe
    to call in a child made by ``fork``; Ctrl-C as in ``numpy_eval``."""

def horner(expr: Expr, var: Expr) -> Expr: ...
def emit_c(expr: _Outputs, vars: Iterable[Expr], fn_name: str = "f") -> str:
    """C99 source computing ``expr`` as written (as ``optimize="none"``);
    several outputs give ``void f(double x, ..., double *out)``."""

def features() -> dict[str, bool]: ...
def simplify(expr: Expr, cost: Literal["ops", "stability"] = "ops") -> Expr: ...
def explain(
    expr: Expr,
    cost: Literal["ops", "stability"] = "stability",
    domain: Mapping[Expr | str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Result ``expr``, ``rules_fired``, ``stop_reason``, op counts, bits of error;
    ``domain`` as in ``CompileConfig``."""

def to_mlir(
    expr: _Outputs,
    vars: Sequence[Expr],
    fn_name: str = "f",
    dialect: Literal["alkahest", "arith", "llvm"] = "alkahest",
) -> str: ...
def to_stablehlo(expr: _Outputs, vars: Sequence[Expr], fn_name: str = "f") -> str:
    """StableHLO module text: public ``@main`` calling a private ``@fn_name``."""

def mlir_dialect() -> str:
    """The alkahest dialect's IRDL definition (for ``mlir-opt --irdl-file``)."""

# `order` defaults to 8 (written `...` because the runtime signature shows
# the Rust constant that way, and stubtest compares defaults).
def taylor(expr: Expr, var: Expr, center: float = 0.0, order: int = ...) -> list[float]:
    """Taylor coefficients ``f^(k)(center) / k!``, ``k = 0..=order`` (default 8), of ``expr`` in ``var``."""

def compile_series(expr: Expr, var: Expr, center: float = 0.0, order: int = ...) -> SeriesFn:
    """JIT-compile the degree-``order`` (default 8) Taylor polynomial of ``expr`` in ``var`` about ``center`` (MLIR)."""

def compile_interval(expr: Expr, vars: Sequence[Expr]) -> BallFn: ...
def interval_eval(
    expr: Expr, balls: dict[Expr, tuple[float, float] | float]
) -> tuple[float, float]: ...

@final
class SeriesFn:
    """A truncated Taylor series compiled through MLIR."""

    def __call__(self, x: float) -> float: ...
    @property
    def expr(self) -> Expr: ...
    @property
    def var(self) -> Expr: ...
    @property
    def center(self) -> float: ...
    @property
    def order(self) -> int: ...
    @property
    def coefficients(self) -> list[float]: ...
    def to_mlir(self, fn_name: str = "f", dialect: str = "alkahest") -> str: ...

@final
class BallFn:
    """Midpoint-radius ball arithmetic with outward rounding, compiled through MLIR."""

    def __call__(self, balls: Sequence[tuple[float, float] | float]) -> tuple[float, float]: ...
    @property
    def expr(self) -> Expr: ...
    @property
    def vars(self) -> list[Expr]: ...
    @property
    def n_vars(self) -> int: ...
    def to_mlir(self, fn_name: str = "f", dialect: str = "alkahest") -> str: ...

@final
class CudaFn:
    """An expression compiled to a CUDA kernel (PTX); present in 'cuda' builds."""

    @property
    def ptx(self) -> str: ...
    @property
    def arch(self) -> str: ...
    @property
    def vars(self) -> list[Expr]: ...
    @property
    def n_vars(self) -> int: ...
    @property
    def expr(self) -> Any:
        """The expression, or the nested list of several outputs."""
    @property
    def shape(self) -> tuple[int, ...]:
        """One point's result shape: () for one expression."""
    def call_batch(self, inputs: _ArrayLike) -> np.ndarray:
        """Host arrays in, shape (n_vars, n_points); out shape (*shape, n_points)."""
    def __call__(self, *args: float | Sequence[float]) -> Any: ...
    def call_device(self, *columns: Any, out: Any, stream: int | None = None) -> Any:
        """GPU arrays (``__cuda_array_interface__``) in and out, no host round trip."""

def compile_cuda(expr: _Outputs, vars: Sequence[Expr], arch: str | None = None) -> CudaFn:
    """A CUDA kernel (PTX) computing ``expr`` as written (as ``optimize="none"``)."""
def cuda_device() -> dict[str, Any]: ...
