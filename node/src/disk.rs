//! The store's only way to reach persistent storage.
//!
//! Paths are relative, `/`-separated strings such as `wal/0000000000000001.wal`;
//! the part before the last `/` is the file's directory. Directories exist
//! implicitly. Inside a simulation the world supplies a disk that models the
//! page cache, fsync and crashes; the offline tools use [`crate::real_disk`].

use async_trait::async_trait;
use std::sync::Arc;

/// What went wrong with a disk operation. Each variant names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiskError {
    #[error("{path}: no such file")]
    NotFound { path: String },
    #[error("{path}: no space left on device (ENOSPC)")]
    NoSpace { path: String },
    #[error("{path}: input/output error during {op} (EIO)")]
    Io { path: String, op: &'static str },
    #[error("{path}: {op} failed: {detail}")]
    Other {
        path: String,
        op: &'static str,
        detail: String,
    },
}

impl DiskError {
    /// The file the error is about.
    pub fn path(&self) -> &str {
        match self {
            DiskError::NotFound { path }
            | DiskError::NoSpace { path }
            | DiskError::Io { path, .. }
            | DiskError::Other { path, .. } => path,
        }
    }
}

pub type DiskResult<T> = Result<T, DiskError>;

/// A file system as the store sees it: files with a page cache in front of
/// durable storage. Nothing written is durable until `fsync` succeeds, and a
/// new or renamed name is not durable until `fsync_dir` on its directory.
#[async_trait]
pub trait Disk: Send + Sync {
    /// Creates an empty file, or truncates an existing one to length zero.
    async fn create(&self, path: &str) -> DiskResult<()>;
    /// Whether a file exists under this name.
    async fn exists(&self, path: &str) -> DiskResult<bool>;
    /// Appends bytes at the end of the file; returns the offset they start at.
    async fn append(&self, path: &str, data: &[u8]) -> DiskResult<u64>;
    /// Writes bytes at an offset, extending the file (with zeros) if needed.
    async fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> DiskResult<()>;
    /// Reads up to `len` bytes starting at `offset` (fewer at the end of file).
    async fn read(&self, path: &str, offset: u64, len: usize) -> DiskResult<Vec<u8>>;
    /// Reads the whole file.
    async fn read_all(&self, path: &str) -> DiskResult<Vec<u8>>;
    /// The file's current length.
    async fn len(&self, path: &str) -> DiskResult<u64>;
    /// Cuts the file to `len` bytes (or extends it with zeros).
    async fn truncate(&self, path: &str, len: u64) -> DiskResult<()>;
    /// Makes the file's data durable.
    async fn fsync(&self, path: &str) -> DiskResult<()>;
    /// Atomically gives `from` the name `to`, replacing any file named `to`.
    async fn rename(&self, from: &str, to: &str) -> DiskResult<()>;
    /// Removes the name.
    async fn remove(&self, path: &str) -> DiskResult<()>;
    /// File names (not paths) in a directory, sorted; empty if none.
    async fn list_dir(&self, dir: &str) -> DiskResult<Vec<String>>;
    /// Makes creations, renames and removals in the directory durable.
    async fn fsync_dir(&self, dir: &str) -> DiskResult<()>;
}

pub type DiskRef = Arc<dyn Disk>;

/// The directory part of a path (`""` for a top-level file).
pub fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// The file name part of a path.
pub fn file_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a directory and a file name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parts() {
        assert_eq!(parent_dir("wal/0001.wal"), "wal");
        assert_eq!(parent_dir("db"), "");
        assert_eq!(parent_dir("a/b/c"), "a/b");
        assert_eq!(file_name("wal/0001.wal"), "0001.wal");
        assert_eq!(file_name("db"), "db");
        assert_eq!(join("wal", "x"), "wal/x");
        assert_eq!(join("", "x"), "x");
    }
}
