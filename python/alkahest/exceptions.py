"""Exceptions and warnings raised by Alkahest.

Every error derives from :class:`AlkahestError` *and* from the builtin that
matches its meaning, so ``except ValueError`` keeps working for code that
does not know about Alkahest.
"""

from __future__ import annotations

__all__ = [
    "AlkahestError",
    "PoolMismatchError",
    "UnboundSymbolError",
    "NotASymbolError",
    "DuplicateSymbolError",
    "ArityError",
    "ShapeError",
    "ConversionError",
    "InvalidNameError",
    "NotPolynomialError",
    "ZeroDenominatorError",
    "OptionError",
    "BackendUnavailableError",
    "CompileError",
    "FormatError",
    "StorageError",
    "ConditionError",
    "SymbolClashError",
    "UnsupportedError",
    "AlkahestWarning",
    "FallbackWarning",
]


class AlkahestError(Exception):
    """Base class of every Alkahest error."""


class PoolMismatchError(AlkahestError, ValueError):
    """Expressions from different ``ExprPool`` objects were combined."""


class UnboundSymbolError(AlkahestError, ValueError):
    """The expression uses a symbol that was not given a value / variable slot."""


class NotASymbolError(AlkahestError, ValueError):
    """A symbol was required (a variable list entry, ``horner``'s variable)."""


class DuplicateSymbolError(AlkahestError, ValueError):
    """The same symbol appears twice in a variable list."""


class ArityError(AlkahestError, TypeError):
    """Wrong number of inputs or function arguments."""


class ShapeError(AlkahestError, ValueError):
    """Array lengths or shapes do not fit together."""


class ConversionError(AlkahestError, TypeError):
    """A value of a type that cannot be used here (e.g. a string as a number)."""


class InvalidNameError(AlkahestError, ValueError):
    """A name that is not allowed (empty symbol, invalid C identifier, ...)."""


class NotPolynomialError(AlkahestError, ValueError):
    """``horner`` was given an expression that is not a polynomial in its variable."""


class ZeroDenominatorError(AlkahestError, ZeroDivisionError):
    """An exact rational with denominator zero."""


class OptionError(AlkahestError, ValueError):
    """An unknown option value (tier name, optimize mode, ...)."""


class BackendUnavailableError(AlkahestError, NotImplementedError):
    """The requested backend is not compiled into this build, or has no device."""


class CompileError(AlkahestError, RuntimeError):
    """A backend failed to compile an expression where no fallback exists."""


class FormatError(AlkahestError, ValueError):
    """A serialized pool or cache entry is malformed, truncated or of a newer version."""


class StorageError(AlkahestError, OSError):
    """Reading or writing a pool file or cache entry failed at the OS level."""


class ConditionError(AlkahestError, TypeError):
    """A condition (comparison, And/Or/Not) where a number is expected, or a
    number where a condition is expected (the first argument of ``where``)."""


class SymbolClashError(ConversionError, ValueError):
    """Two distinct SymPy symbols (e.g. a ``Dummy('x')`` and a ``Symbol('x')``)
    would become one Alkahest symbol because they share a name."""


class UnsupportedError(AlkahestError, NotImplementedError):
    """A construct Alkahest does not implement yet (the message says which)."""


class AlkahestWarning(UserWarning):
    """Base class of Alkahest warnings."""


class FallbackWarning(AlkahestWarning):
    """A faster tier was unavailable or failed; a slower tier runs instead."""
