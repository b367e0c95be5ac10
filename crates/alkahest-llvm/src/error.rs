//! The LLVM backend's error type.

/// Errors raised while compiling a tape to machine code or loading an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An option is out of range (e.g. `opt_level > 3`).
    #[error("invalid LLVM option: {0}")]
    InvalidOption(String),
    /// LLVM could not be set up for the host (no native target, ...).
    #[error("LLVM initialization failed: {0}")]
    Init(String),
    /// The generated IR failed LLVM's verifier (a bug in this crate).
    #[error("LLVM rejected the generated IR: {0}")]
    Verify(String),
    /// Optimization or code generation failed.
    #[error("LLVM code generation failed: {0}")]
    Codegen(String),
    /// The JIT could not link or look up the compiled code.
    #[error("LLVM JIT failed: {0}")]
    Jit(String),
    /// An object file was not produced by [`crate::emit_object`] for this
    /// host (other CPU features, other LLVM, or not ours at all).
    #[error("object file is not loadable here: {0}")]
    IncompatibleObject(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
