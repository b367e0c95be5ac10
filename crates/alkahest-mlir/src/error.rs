//! The crate's error type.

/// Errors raised while emitting, lowering or compiling MLIR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The function name is not a valid MLIR symbol name (or is reserved).
    #[error("invalid function name {name:?}: {why}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        why: &'static str,
    },
    /// Something in the expression has no lowering for this target.
    #[error("cannot lower {what} to {target}")]
    Unsupported {
        /// The construct that could not be lowered.
        what: String,
        /// The target that lacks it.
        target: &'static str,
    },
    /// MLIR rejected a module (parse, verification or a pass failed):
    /// always a bug in this crate or in its input text, never silently ignored.
    #[error("MLIR {stage} failed: {diagnostics}")]
    Mlir {
        /// Which step failed.
        stage: &'static str,
        /// Diagnostics MLIR reported, joined by newlines.
        diagnostics: String,
    },
    /// A melior call failed while building IR.
    #[error("building MLIR failed: {0}")]
    Build(String),
    /// The ExecutionEngine could not compile the module or lacks the entry point.
    #[error("MLIR ExecutionEngine: {0}")]
    Engine(String),
    /// Invalid arguments to a series or interval entry point.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Lowering the expression (unbound symbols, bad variable list, ...).
    #[error(transparent)]
    Kernel(#[from] alkahest_tape::Error),
    /// An error from the expression pool.
    #[error(transparent)]
    Core(#[from] alkahest_core::Error),
}

impl From<melior::Error> for Error {
    fn from(e: melior::Error) -> Self {
        Error::Build(e.to_string())
    }
}

impl From<alkahest_series::Error> for Error {
    fn from(e: alkahest_series::Error) -> Self {
        use alkahest_series::Error as S;
        match e {
            S::Unsupported { what } => Error::Unsupported {
                what,
                target: "Taylor series",
            },
            S::InvalidArgument(msg) => Error::InvalidArgument(msg),
            S::Kernel(k) => Error::Kernel(k),
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
