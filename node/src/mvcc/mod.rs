//! Multi-version concurrency control over the backend, as etcd's mvcc
//! package does it: every write gets the next revision; the key bucket maps
//! revisions to key values; an in-memory index maps keys to revisions.

pub mod key_index;
pub mod revision;
mod store;
mod write;

#[cfg(test)]
mod model_tests;

pub use key_index::AtCompactRevision;
pub use store::{CompactionJob, HashKv, Mvcc, MvccOptions, RangeOptions, RangeResult};
pub use write::{LeaseChange, WriteTxn, WrittenEvent};

use crate::backend::BackendError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MvccError {
    #[error("mvcc: required revision has been compacted (compact revision {compact_revision})")]
    Compacted { compact_revision: i64 },
    #[error("mvcc: required revision is a future revision")]
    FutureRevision,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("mvcc: corrupt key bucket: {0}")]
    Corrupt(String),
    /// The index names a revision the backend does not hold: etcd ends
    /// the process over it (kvstore_txn.go, "range failed to find
    /// revision pair").
    #[error("range failed to find revision pair: revision {revision} of {key:?}")]
    MissingRevision { key: String, revision: String },
}

impl MvccError {
    fn missing(key: &[u8], rev: revision::Revision) -> MvccError {
        MvccError::MissingRevision {
            key: String::from_utf8_lossy(key).into_owned(),
            revision: format!("{}.{}", rev.main, rev.sub),
        }
    }
}

/// Whether `key` falls in `[start, end)` with etcd's conventions: an empty
/// end means the single key `start`; `"\0"` means every key from `start`.
pub fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        key == start
    } else if end == [0] {
        key >= start
    } else {
        key >= start && key < end
    }
}

/// The end of the range holding every key with this prefix.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): every key from the prefix on.
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_etcd_conventions() {
        assert!(in_range(b"a", b"a", b""));
        assert!(!in_range(b"ab", b"a", b""));
        assert!(in_range(b"zzz", b"a", &[0]));
        assert!(in_range(b"ab", b"a", b"b"));
        assert!(!in_range(b"b", b"a", b"b"));
        assert_eq!(prefix_end(b"ab"), b"ac".to_vec());
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b".to_vec());
        assert_eq!(prefix_end(&[0xff]), vec![0]);
    }
}
