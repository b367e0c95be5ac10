//! The kernel crate's error type.

/// Errors raised while lowering an expression or checking call arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The expression uses a symbol that is not among the inputs.
    #[error("symbol '{0}' is not bound: pass it in the variable list (or the values dict)")]
    UnboundSymbol(String),
    /// An input variable is not a symbol.
    #[error("input variable #{index} is not a symbol: {text}")]
    NotASymbol {
        /// Position in the variable list.
        index: usize,
        /// The offending expression, printed.
        text: String,
    },
    /// The same symbol was listed twice.
    #[error("symbol '{0}' appears more than once in the variable list")]
    DuplicateVar(String),
    /// Wrong number of input values.
    #[error("expected {expected} input value(s), got {got}")]
    Arity {
        /// Number of variables.
        expected: usize,
        /// Number given.
        got: usize,
    },
    /// Input columns of different lengths.
    #[error(
        "input column {index} has {got} points, expected {expected} (all inputs and the output must have the same length)"
    )]
    Length {
        /// Which column.
        index: usize,
        /// Length of the first column / output.
        expected: usize,
        /// Length of this column.
        got: usize,
    },
    /// A tape that breaks the rules of [`crate::Tape::new`].
    #[error("invalid tape: {0}")]
    InvalidTape(String),
    /// Output buffers that do not match the function's outputs.
    #[error("expected {expected} output column(s), got {got}")]
    Outputs {
        /// Number of outputs of the function.
        expected: usize,
        /// Number given.
        got: usize,
    },
    /// An error from the expression pool.
    #[error(transparent)]
    Core(#[from] alkahest_core::Error),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
