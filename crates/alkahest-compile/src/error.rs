//! The compile crate's error type.

/// Errors of the compile pipeline. Backend failures are not errors (they
/// fall back to another tier); what remains are problems with the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Lowering or argument checking failed.
    #[error(transparent)]
    Kernel(#[from] alkahest_tape::Error),
    /// The expression pool rejected an operation.
    #[error(transparent)]
    Core(#[from] alkahest_core::Error),
    /// An unknown tier or option name.
    #[error("unknown {what} {value:?}; expected one of: {expected}")]
    UnknownOption {
        /// Which option.
        what: &'static str,
        /// The value given.
        value: String,
        /// Accepted values.
        expected: &'static str,
    },
    /// A `CompileConfig::domain` entry that is not an interval of floats
    /// over one of the function's variables.
    #[error("domain of {var:?}: {reason}")]
    BadDomain {
        /// The variable's name.
        var: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A compile cache directory could not be opened or created (e.g. the
    /// path is a file). Later disk failures are not errors: the cache falls
    /// back to compiling.
    #[error("cannot use {path:?} as a compile cache directory: {reason}")]
    CacheDir {
        /// The path given.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Written forms given for a different number of expressions.
    #[error("{written} written forms for {exprs} expressions")]
    WrittenMismatch {
        /// How many expressions.
        exprs: usize,
        /// How many written forms.
        written: usize,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
