//! The crate's error type.
//!
//! Every way a pool file can be wrong has its own variant, so callers (and
//! the Python layer) can tell "written by a newer Alkahest" from "damaged"
//! without parsing messages.

use std::path::PathBuf;

/// Errors of persistence: I/O, and every way a pool file can be invalid.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`"read"`, `"rename"`, ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The data does not start with the pool file's magic bytes.
    #[error("not an Alkahest pool file (bad magic bytes)")]
    BadMagic,
    /// Written by a format version this build cannot read (usually newer).
    #[error(
        "pool file format version {found} is not supported (this build reads versions 1..={supported}); upgrade alkahest to read it"
    )]
    UnsupportedVersion {
        /// Version found in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// Flag bits this version does not define are set.
    #[error("pool file sets unknown flags {0:#x}")]
    UnsupportedFlags(u32),
    /// The data ends before the length its header announces.
    #[error("pool file is truncated: {found} bytes, expected {expected}")]
    Truncated {
        /// Length the header announces (or the minimum length of a header).
        expected: u64,
        /// Length actually present.
        found: u64,
    },
    /// Bytes follow the announced end of the file.
    #[error("pool file has {extra} unexpected bytes after its end")]
    TrailingBytes {
        /// How many bytes follow.
        extra: u64,
    },
    /// The trailing checksum does not match the content: the file is damaged.
    #[error(
        "pool file checksum mismatch (stored {stored:#018x}, computed {computed:#018x}): the file is corrupted"
    )]
    ChecksumMismatch {
        /// Checksum stored in the file.
        stored: u64,
        /// Checksum of the bytes actually present.
        computed: u64,
    },
    /// A structural error inside the checksummed body (bad tag, bad varint,
    /// data ending inside a record, ...).
    #[error("malformed pool file at byte {offset}: {what}")]
    Malformed {
        /// Byte offset in the file.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// A node refers to a child that is not an earlier node of the file.
    #[error("node {index} refers to a child that is not an earlier node")]
    BadChild {
        /// Index of the offending node record.
        index: u64,
    },
    /// A function node has the wrong number of arguments.
    #[error("node {index}: {func} takes {expected} argument(s), the file gives {got}")]
    BadArity {
        /// Index of the offending node record.
        index: u64,
        /// The function's name.
        func: &'static str,
        /// Arguments the function takes.
        expected: usize,
        /// Arguments in the file.
        got: u64,
    },
    /// An operand of the wrong kind: a condition (a comparison or
    /// `And`/`Or`/`Not`) where a number is expected (an operand of a sum,
    /// product or power, or a numeric function argument), or a number where
    /// a condition is expected (the first argument of `where`, the operands
    /// of `And`/`Or`/`Not`). The canonical builders never produce either.
    #[error("node {index}: {what}")]
    BadKind {
        /// Index of the offending node record.
        index: u64,
        /// Which way round.
        what: &'static str,
    },
    /// A rational constant whose denominator is not greater than one.
    #[error("node {index}: rational constant with a denominator <= 1")]
    BadRational {
        /// Index of the offending node record.
        index: u64,
    },
    /// A symbol name that is empty or not UTF-8.
    #[error("node {index}: symbol name is empty or not valid UTF-8")]
    BadSymbol {
        /// Index of the offending node record.
        index: u64,
    },
    /// A count or size beyond what this build accepts (or beyond what the
    /// remaining bytes could possibly hold).
    #[error("pool file exceeds a limit: {what} is {value}, at most {limit} allowed")]
    LimitExceeded {
        /// Which quantity.
        what: &'static str,
        /// Its value in the file.
        value: u64,
        /// The largest accepted value.
        limit: u64,
    },
    /// A node record that the canonical builders would not produce as is
    /// (wrong operand order, foldable constant, duplicate node, ...).
    #[error("node {index} of the pool file is not in canonical form")]
    NonCanonical {
        /// Index of the offending node record.
        index: u64,
    },
    /// A rebuilt node's content key differs from the key stored in the file.
    #[error("content key mismatch for {what} {index}: the file is corrupted")]
    KeyMismatch {
        /// `"root"` or `"node digest"`.
        what: &'static str,
        /// Index of the root (0 for the digest).
        index: u64,
    },
    /// An expression id handed to a writer is not in the pool.
    #[error("expression id {0} does not belong to this pool")]
    UnknownId(u32),
    /// The pool itself refused (in practice only `PoolFull`).
    #[error(transparent)]
    Core(#[from] alkahest_core::Error),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
