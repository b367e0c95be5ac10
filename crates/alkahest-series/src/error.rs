//! The crate's error type.

/// Errors of [`taylor_coefficients`](crate::taylor_coefficients).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A function with no Taylor series here (`tgamma`, `lgamma`: their
    /// derivatives need polygamma functions).
    #[error("cannot lower {what} to Taylor series")]
    Unsupported {
        /// The function (its C name).
        what: String,
    },
    /// An out-of-range order or center, or a coefficient that is not finite
    /// (a singularity at the center).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Lowering the expression (unbound symbols, bad variable, ...).
    #[error(transparent)]
    Kernel(#[from] alkahest_tape::Error),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
