"""Alkahest: compile symbolic expressions to fast native code.

Build expressions in an :class:`ExprPool`, then evaluate them once
(:func:`eval_expr`), compile them (:func:`compile_expr`, :class:`CompileCache`)
and run them over arrays (:func:`numpy_eval`, :func:`numpy_eval_par`; Dask
arrays through :func:`dask_eval` and :class:`Kernel`), or emit
source for other toolchains (:func:`emit_c`).
"""

import atexit as _atexit

# First: picks the native module, this package's own or an installed backend
# plugin's (`alkahest[jit]`, `alkahest[full]`) in its place; see `_native`.
from . import _native
from . import exceptions
from ._alkahest import (
    Abs,
    BallFn,
    CompileCache,
    CompileConfig,
    CompiledFn,
    Expr,
    ExprPool,
    Max,
    Min,
    SeriesFn,
    __version__,
    acos,
    asin,
    atan,
    atan2,
    acosh,
    add,
    And,
    asinh,
    atanh,
    cbrt,
    ceiling,
    copysign,
    diff,
    eq,
    erf,
    digamma,
    erfc,
    exp2,
    floor,
    fmod,
    gamma,
    ge,
    grad,
    gt,
    hessian,
    jacobian,
    le,
    log10,
    log2,
    loggamma,
    lt,
    Mod,
    mul,
    ne,
    Not,
    Or,
    piecewise,
    sign,
    where,
    compile_expr,
    compile_cuda,
    compile_interval,
    compile_series,
    cos,
    cosh,
    cuda_device,
    emit_c,
    eval_expr,
    exp,
    explain,
    expm1,
    fma,
    horner,
    hypot,
    interval_eval,
    log,
    log1p,
    mlir_dialect,
    numpy_eval,
    numpy_eval_par,
    sin,
    simplify,
    sinh,
    sqrt,
    tan,
    tanh,
    taylor,
    trigamma,
    to_mlir,
    to_stablehlo,
)
from ._sympy import from_sympy, to_sympy
from ._dask import Kernel, numpy_eval as dask_eval


from .exceptions import (
    AlkahestError,
    AlkahestWarning,
    ArityError,
    BackendUnavailableError,
    CompileError,
    ConditionError,
    ConversionError,
    DuplicateSymbolError,
    FallbackWarning,
    FormatError,
    InvalidNameError,
    NotASymbolError,
    NotPolynomialError,
    OptionError,
    PoolMismatchError,
    ShapeError,
    StorageError,
    SymbolClashError,
    UnboundSymbolError,
    UnsupportedError,
    ZeroDenominatorError,
)

_alkahest_ext = _native.module

# LLVM code may still be compiling on a background thread when the
# interpreter exits; LLVM's C++ statics must not be destroyed under it.
_atexit.register(_alkahest_ext._wait_background, 120.0)


def features() -> dict[str, bool | str]:
    """What this installation can do: one entry per backend (cargo feature name
    -> compiled in), plus ``"native"``, the distribution and version whose native
    module runs (``"alkahest 0.1.0"``, or a plugin such as ``"alkahest-llvm
    0.1.0"`` installed by ``pip install 'alkahest[jit]'``)."""
    found = dict(_alkahest_ext.features())
    found["native"] = " ".join(_native.native)
    return found


# SymPy's spellings of the same constructors, so printed expressions
# (`Piecewise((x, Lt(x, 0)), ...)`) paste back in.
Lt, Le, Gt, Ge, Eq, Ne = lt, le, gt, ge, eq, ne
Piecewise = piecewise
ceil = ceiling
lgamma = loggamma

# Present only in builds with the 'cuda' feature; compile_cuda exists in every
# build and says which feature is missing.
CudaFn = getattr(_alkahest_ext, "CudaFn", None)

__all__ = [
    "__version__",
    "Abs",
    "acos",
    "acosh",
    "AlkahestError",
    "AlkahestWarning",
    "add",
    "And",
    "ArityError",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "BackendUnavailableError",
    "BallFn",
    "cbrt",
    "ceil",
    "ceiling",
    "compile_cuda",
    "compile_expr",
    "compile_interval",
    "compile_series",
    "CompileCache",
    "CompileConfig",
    "CompiledFn",
    "CompileError",
    "ConditionError",
    "ConversionError",
    "copysign",
    "cos",
    "cosh",
    "cuda_device",
    "CudaFn",
    "diff",
    "digamma",
    "dask_eval",
    "DuplicateSymbolError",
    "emit_c",
    "Eq",
    "eq",
    "erf",
    "erfc",
    "eval_expr",
    "exceptions",
    "exp",
    "exp2",
    "explain",
    "expm1",
    "Expr",
    "ExprPool",
    "FallbackWarning",
    "features",
    "floor",
    "fma",
    "fmod",
    "FormatError",
    "from_sympy",
    "gamma",
    "Ge",
    "ge",
    "grad",
    "Gt",
    "gt",
    "hessian",
    "horner",
    "hypot",
    "interval_eval",
    "InvalidNameError",
    "jacobian",
    "Kernel",
    "Le",
    "le",
    "lgamma",
    "log",
    "log10",
    "log1p",
    "log2",
    "loggamma",
    "Lt",
    "lt",
    "Max",
    "Min",
    "mlir_dialect",
    "Mod",
    "mul",
    "Ne",
    "ne",
    "Not",
    "NotASymbolError",
    "NotPolynomialError",
    "numpy_eval",
    "numpy_eval_par",
    "OptionError",
    "Or",
    "Piecewise",
    "piecewise",
    "PoolMismatchError",
    "SeriesFn",
    "ShapeError",
    "sign",
    "simplify",
    "sin",
    "sinh",
    "sqrt",
    "StorageError",
    "SymbolClashError",
    "tan",
    "tanh",
    "taylor",
    "to_mlir",
    "to_stablehlo",
    "to_sympy",
    "trigamma",
    "UnboundSymbolError",
    "UnsupportedError",
    "where",
    "ZeroDenominatorError",
]
