//! The crate's one error type. Every variant names the file it is about.

use std::io;
use std::path::{Path, PathBuf};

/// What went wrong reading or writing a reports file.
#[derive(Debug, thiserror::Error)]
pub enum ReportsError {
    /// The file could not be opened, read, written or synced.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    /// A line (1-based) of a line-oriented file does not parse.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// An existing results or coverage file starts with another header.
    #[error("{}:1: expected the header {expected:?}, found {found:?}", path.display())]
    HeaderMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// A whole-file problem: a missing field, a wrong format name or version.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

pub type Result<T, E = ReportsError> = std::result::Result<T, E>;

impl ReportsError {
    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        ReportsError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn malformed(path: &Path, line: usize, message: impl Into<String>) -> Self {
        ReportsError::Malformed {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        ReportsError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReportsError::Io { path, .. }
            | ReportsError::Malformed { path, .. }
            | ReportsError::HeaderMismatch { path, .. }
            | ReportsError::Invalid { path, .. } => path,
        }
    }

    /// The 1-based line the error is about, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ReportsError::Malformed { line, .. } => Some(*line),
            ReportsError::HeaderMismatch { .. } => Some(1),
            _ => None,
        }
    }
}

/// serde_json's message without " at line L column C": the caller names the
/// file line, which is what a reader needs.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
