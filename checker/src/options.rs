//! Bounds and switches for a check.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// Wall-clock limit of the linearizability search; past it the verdict is Unknown.
    pub timeout: Duration,
    /// Memory the linearizability search may use; past it the verdict is Unknown.
    pub memory_bound_bytes: usize,
    /// Split the history into independent parts when the model allows it
    /// (the etcd model never does: the global revision ties every key).
    pub partition: bool,
    /// How many further violations of one rule to list in its details.
    pub max_reported: usize,
    /// The most operations a Txn's compares or branch may hold (etcd's
    /// `--max-txn-ops`, 128 by default): past it etcd refuses the Txn.
    pub max_txn_ops: usize,
    /// The largest request etcd proposes, encoded for raft (etcd's
    /// `--max-request-bytes`, 1.5 MiB by default): past it etcd refuses
    /// the request.
    pub max_request_bytes: usize,
}

/// etcd's default `--max-request-bytes` (embed.DefaultMaxRequestBytes).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1536 * 1024;

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            timeout: Duration::from_secs(60),
            memory_bound_bytes: 2 << 30,
            partition: true,
            max_reported: 10,
            max_txn_ops: 128,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }
    }
}
