"""Which native module ``alkahest`` runs on: its own, or a backend plugin's.

The base wheel's extension module has the interpreter, Cranelift, the e-graph
and rayon. The heavy backends come as separately built wheels that pip's
extras add: ``alkahest[jit]`` installs ``alkahest-llvm`` and ``alkahest[full]``
installs ``alkahest-full``. Each plugin is the same native core built with more
cargo features (``alkahest_llvm._alkahest``: + LLVM; ``alkahest_full._alkahest``:
+ LLVM, MLIR, CUDA), so no C interface crosses between separately built
binaries: at import the best plugin found whose version is this package's
version *replaces* the base module (``sys.modules["alkahest._alkahest"]``), and
the base module is never loaded. Everything in Python sees one module.

A plugin of another version, or one that fails to import, is skipped with an
:class:`~alkahest.exceptions.AlkahestWarning` that names both versions and the
fix; ``import alkahest`` then runs on the next plugin or the base module, with
its usual fallbacks. ``ALKAHEST_PLUGINS=0`` ignores plugins altogether.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from types import ModuleType

from .exceptions import AlkahestWarning

#: (import package, distribution, extra that installs it), best first.
PLUGINS: tuple[tuple[str, str, str], ...] = (
    ("alkahest_full", "alkahest-full", "full"),
    ("alkahest_llvm", "alkahest-llvm", "jit"),
)

#: The distribution whose native module is in use, and its version.
native: tuple[str, str] = ("alkahest", "")


def _base_version() -> str | None:
    """This package's installed version (None when it is not installed).
    ``importlib.metadata`` costs ~20 ms to import: only asked when a plugin is
    there to check."""
    import importlib.metadata

    try:
        return importlib.metadata.version("alkahest")
    except importlib.metadata.PackageNotFoundError:
        return None


def _try_plugin(pkg: str, dist: str, extra: str, want: str) -> ModuleType | None:
    """The plugin's native module, or None (with a warning) when unusable."""
    try:
        mod = importlib.import_module(pkg + "._alkahest")
    except Exception as exc:  # noqa: BLE001 - any failure means: do not use it
        why = f"its native module does not import ({type(exc).__name__}: {exc})"
    else:
        have = getattr(mod, "__version__", "unknown")
        if have == want:
            return mod
        why = f"it is version {have} and alkahest is {want}"
    warnings.warn(
        f"alkahest: ignoring the installed backend plugin {dist}: {why}. "
        f"Install the matching one with: pip install 'alkahest[{extra}]=={want}'",
        AlkahestWarning,
        stacklevel=3,
    )
    return None


def load() -> ModuleType:
    """Import the native module this process runs on (see the module doc);
    runs once, when ``alkahest`` is imported."""
    global native
    found = []
    if os.environ.get("ALKAHEST_PLUGINS", "1") != "0":
        found = [p for p in PLUGINS if importlib.util.find_spec(p[0]) is not None]
    want = _base_version() if found else None
    if want is not None:
        for pkg, dist, extra in found:
            mod = _try_plugin(pkg, dist, extra, want)
            if mod is not None:
                sys.modules[__package__ + "._alkahest"] = mod
                native = (dist, want)
                return mod
    mod = importlib.import_module(__package__ + "._alkahest")
    native = ("alkahest", getattr(mod, "__version__", ""))
    return mod


#: The native module in use (chosen when ``alkahest`` is first imported).
module: ModuleType = load()
