//! Rebuilding in-memory state from the backend, at start and after a
//! snapshot is applied, and the encoding of what that reads back.

use crate::backend::{Backend, Bucket};
use crate::lease::{LeaseError, Lessor};
use crate::mvcc::{Mvcc, MvccError, RangeOptions};
use protobuf::Message as _;
use raft::eraftpb::ConfState;
use std::time::Duration;

/// Why the leases could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Mvcc(#[from] MvccError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
}

/// Loads leases and re-attaches the live keys that carry one.
pub(crate) fn restore_lessor(
    lessor: &Lessor,
    backend: &Backend,
    mvcc: &Mvcc,
    now: Duration,
) -> Result<(), RestoreError> {
    let all = mvcc.range(&RangeOptions {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    })?;
    let attached = all
        .kvs
        .into_iter()
        .filter(|kv| kv.lease != 0)
        .map(|kv| (kv.key, kv.lease));
    lessor.restore(backend.scan(Bucket::Lease), attached, now)?;
    Ok(())
}

/// Encodes a conf state for the meta bucket.
pub(crate) fn encode_conf_state(cs: &ConfState) -> Vec<u8> {
    cs.write_to_bytes().unwrap_or_default()
}
