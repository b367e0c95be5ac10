//! The facade's error type.

/// Everything that can go wrong through this crate's API. Building
/// expressions with operators never fails; what fails are bad inputs
/// (symbol names, variables that are not symbols, shapes that do not
/// match) and requests a build cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The expression layer refused an input (e.g. an empty symbol name).
    #[error(transparent)]
    Core(#[from] alkahest_core::Error),
    /// Compiling or calling a function failed (e.g. a variable that is not a
    /// symbol, or the wrong number of inputs).
    #[error(transparent)]
    Compile(#[from] alkahest_compile::Error),
    /// A parallel batch was refused (too many threads asked for).
    #[error(transparent)]
    Batch(#[from] alkahest_batch::Error),
    /// Arrays or slices of the wrong shape.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Expressions of different pools were given to one call.
    #[error(
        "expressions belong to different Pools; build every expression of one computation in the same pool"
    )]
    PoolMismatch,
}

impl From<alkahest_tape::Error> for Error {
    fn from(e: alkahest_tape::Error) -> Self {
        Error::Compile(e.into())
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
