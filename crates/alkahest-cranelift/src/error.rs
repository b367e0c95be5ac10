//! The Cranelift backend's error type.

/// Errors raised while compiling a tape to machine code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tape uses a function this backend has no native implementation
    /// for (a kernel function newer than this crate). Its C name is given;
    /// the interpreter evaluates it.
    #[error("the Cranelift backend cannot call '{0}'")]
    UnsupportedFunction(&'static str),
    /// The host CPU is not one Cranelift can generate code for.
    #[error("Cranelift does not support this host: {0}")]
    UnsupportedHost(String),
    /// A Cranelift ISA setting was rejected (a bug in this crate's settings).
    #[error("Cranelift setting rejected: {0}")]
    Setting(#[from] cranelift_codegen::settings::SetError),
    /// Cranelift failed to compile or to place the code in memory.
    #[error("Cranelift compilation failed: {0}")]
    Module(#[from] Box<cranelift_module::ModuleError>),
    /// A flat column-major input buffer whose length is not
    /// `n_inputs * n_points` (`n_points` is set by the output buffer).
    #[error("column-major buffer holds {got} values, expected {expected} (n_inputs * n_points)")]
    Shape {
        /// `n_inputs * n_points`.
        expected: usize,
        /// The buffer's length.
        got: usize,
    },
    /// A flat output buffer whose length is not a multiple of the number
    /// of outputs (it holds one column of `n_points` values per output).
    #[error(
        "output buffer holds {got} values, not a whole number of columns for {n_outputs} outputs"
    )]
    OutputShape {
        /// Number of outputs of the function.
        n_outputs: usize,
        /// The buffer's length.
        got: usize,
    },
    /// So many values are live at once that the generated code's stack frame
    /// would be too large for a thread's stack. Use the interpreter instead.
    #[error(
        "expression keeps {live} values live at once (limit {limit}); its stack frame would be too large"
    )]
    TooManyLive {
        /// Peak number of simultaneously live values.
        live: usize,
        /// The limit.
        limit: usize,
    },
}

impl From<cranelift_module::ModuleError> for Error {
    fn from(e: cranelift_module::ModuleError) -> Self {
        Error::Module(Box::new(e))
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
