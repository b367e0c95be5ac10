//! The e-graph crate's error type.

/// Errors raised while simplifying or measuring an expression.
///
/// Hitting a node, time or iteration limit is not an error: it is reported
/// as a [`crate::StopReason`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An error from the expression pool (unknown id, bad arity).
    #[error(transparent)]
    Core(#[from] alkahest_core::Error),
    /// An error from lowering to a tape (e.g. an unbound symbol).
    #[error(transparent)]
    Kernel(#[from] alkahest_tape::Error),
    /// A sample range that is empty or not finite.
    #[error("invalid sample range for '{var}': [{lo}, {hi}] (need finite lo <= hi)")]
    BadRange {
        /// The variable's name.
        var: String,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// A range was given for something that is not a symbol.
    #[error("sample ranges are given per symbol; got {0}")]
    NotASymbol(String),
    /// Extraction found no finite-cost term for the root (an internal
    /// invariant broke; the caller can keep the input expression).
    #[error("extraction failed: {0}")]
    Extraction(&'static str),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
