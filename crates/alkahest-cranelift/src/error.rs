//! The Cranelift backend's error type.

/// Errors raised while compiling a tape to machine code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tape breaks one of its invariants (an operand that is not an
    /// earlier register, an input out of range, ...). Tapes made by
    /// `alkahest_kernel::lower` never do; hand-built ones might.
    #[error("malformed tape: {0}")]
    InvalidTape(String),
    /// The host CPU is not one Cranelift can generate code for.
    #[error("Cranelift does not support this host: {0}")]
    UnsupportedHost(String),
    /// A Cranelift ISA setting was rejected (a bug in this crate's settings).
    #[error("Cranelift setting rejected: {0}")]
    Setting(#[from] cranelift_codegen::settings::SetError),
    /// Cranelift failed to compile or to place the code in memory.
    #[error("Cranelift compilation failed: {0}")]
    Module(#[from] Box<cranelift_module::ModuleError>),
    /// A flat column-major buffer whose length is not `n_inputs * n_points`.
    #[error("column-major buffer holds {got} values, expected {expected} (n_inputs * n_points)")]
    Shape {
        /// `n_inputs * out.len()`.
        expected: usize,
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
