//! The core crate's error type.

/// Errors raised while building or transforming expressions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Two expressions from different pools were combined.
    #[error(
        "expressions belong to different ExprPools; build every expression of one computation in the same pool"
    )]
    PoolMismatch,
    /// `rational(p, 0)`.
    #[error("rational number with zero denominator: {0}/0")]
    ZeroDenominator(String),
    /// A function was given the wrong number of arguments.
    #[error("{func} takes {expected} argument(s), got {got}")]
    FuncArity {
        /// Function name.
        func: &'static str,
        /// Number of arguments it takes.
        expected: usize,
        /// Number of arguments given.
        got: usize,
    },
    /// An n-ary node was built from an empty operand list where no identity exists.
    #[error("{0} needs at least one argument")]
    Empty(&'static str),
    /// An id that this pool never handed out.
    #[error("expression id {0} does not belong to this pool")]
    UnknownId(u32),
    /// `horner` was given something that is not a polynomial in the variable.
    #[error("not a polynomial in {var}: {detail}")]
    NotPolynomial {
        /// The variable's name.
        var: String,
        /// Which part is not polynomial.
        detail: String,
    },
    /// A symbol was required (e.g. the variable of `horner`).
    #[error("expected a symbol, got {0}")]
    NotASymbol(String),
    /// The pool reached its 2^32-node capacity.
    #[error("ExprPool is full (2^32 nodes)")]
    PoolFull,
    /// A condition (comparison or logical connective) where a number is expected.
    #[error(
        "a condition cannot be used as a number: {0} (use where(cond, a, b) to turn it into one)"
    )]
    ConditionAsNumber(String),
    /// A number where a condition is expected (the first argument of `where`,
    /// the operands of `And`/`Or`/`Not`).
    #[error("expected a condition (a comparison such as x < y, or And/Or/Not of them), got {0}")]
    NumberAsCondition(String),
    /// A construct that is not implemented yet.
    #[error("{0}")]
    NotImplemented(String),
    /// A symbol name that cannot be a symbol: empty, or longer than
    /// [`crate::ExprPool::MAX_SYMBOL_BYTES`] (the pool file format's limit).
    /// Holds the name (its start and length when it is too long).
    #[error(
        "invalid symbol name {0:?}: symbol names must be non-empty and at most {max} bytes long",
        max = crate::ExprPool::MAX_SYMBOL_BYTES
    )]
    InvalidSymbolName(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
