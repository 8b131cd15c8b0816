//! Failed writes resolved by what the members persisted, as etcd's
//! robustness validation does (`validate/patch_history.go`,
//! `patchLinearizableOperations`).
//!
//! A request the client got an error for may or may not have taken effect.
//! When one of its writes is unique (no other client request puts that
//! key and value, or deletes that key) the WALs tell: not persisted, it
//! certainly did not take effect and is left out; persisted, it took
//! effect and is marked `Persisted` (faultline reads that as an unknown
//! outcome still: weaker, never wrong). A failed compaction of a revision no
//! other request compacts, and that no WAL holds, is left out the same way.
//! Requests whose writes are not unique stay as they are, as for etcd. Not
//! done here (etcd does them too): moving an unknown write's return time
//! to the first return of an operation that depended on it, and giving a
//! persisted put the revision a watch saw it at.

use std::collections::HashMap;

use super::ClientReport;
use super::format::{EtcdOperation, KvOperation, OperationType, RequestType};
use super::value;
use super::wal::{PersistedWrite, counts};

/// What resolving changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Failed requests left out: the WALs show they took no effect.
    pub not_persisted: usize,
    /// Failed requests the WALs show took effect (marked `Persisted`).
    pub persisted: usize,
}

/// The write of one operation of a transaction, if it writes.
fn op_write(o: &EtcdOperation) -> Option<PersistedWrite> {
    match o.kind {
        Some(OperationType::Put) => Some(PersistedWrite::Put {
            key: o.put.key.clone(),
            value: value::to_history(&o.put.value).unwrap_or_default(),
        }),
        Some(OperationType::Delete) => Some(PersistedWrite::Delete {
            key: o.delete.key.clone(),
        }),
        _ => None,
    }
}

/// The writes of a request, as etcd's validation counts them.
fn writes(op: &KvOperation) -> Vec<PersistedWrite> {
    match (op.input.kind, &op.input.txn, &op.input.compact) {
        (Some(RequestType::Txn), Some(txn), _) => txn
            .on_success
            .iter()
            .chain(&txn.on_failure)
            .filter_map(op_write)
            .collect(),
        (Some(RequestType::Compact), _, Some(c)) => vec![PersistedWrite::Compact {
            revision: c.revision,
        }],
        _ => vec![],
    }
}

/// Resolves the failed writes of `clients` by the persisted `writes`
/// (nothing when there are none, as for etcd).
pub fn resolve(clients: &mut [ClientReport], persisted: &[PersistedWrite]) -> Resolved {
    let mut resolved = Resolved::default();
    if persisted.is_empty() {
        return resolved;
    }
    let persisted = counts(persisted);
    let mut requested: HashMap<PersistedWrite, usize> = HashMap::new();
    for c in clients.iter() {
        for (_, op) in &c.operations {
            for w in writes(op) {
                *requested.entry(w).or_default() += 1;
            }
        }
    }
    let unique = |w: &PersistedWrite| requested.get(w) == Some(&1);
    for c in clients.iter_mut() {
        c.operations.retain_mut(|(_, op)| {
            if op.output.error.is_empty() {
                return true;
            }
            let ws = writes(op);
            let was_persisted = ws.iter().any(|w| persisted.contains_key(w));
            let decided = match (op.input.kind, &op.input.txn) {
                (Some(RequestType::Compact), _) => ws.iter().all(unique),
                // etcd's isUniqueTxn: each branch writes something unique,
                // or nothing.
                (Some(RequestType::Txn), Some(txn)) => [&txn.on_success, &txn.on_failure]
                    .into_iter()
                    .all(|branch| {
                        let mut branch_writes = branch.iter().filter_map(op_write).peekable();
                        branch_writes.peek().is_none() || branch_writes.any(|w| unique(&w))
                    }),
                _ => false,
            };
            if !decided || ws.is_empty() {
                return true;
            }
            if was_persisted {
                if op.input.kind == Some(RequestType::Txn) {
                    op.output.persisted = true;
                    resolved.persisted += 1;
                }
                true
            } else {
                resolved.not_persisted += 1;
                false
            }
        });
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::etcd_robustness::format::{
        EtcdRequest, MaybeEtcdResponse, PutOptions, TxnRequest,
    };
    use crate::import::etcd_robustness::value::from_history;

    fn put(key: &str, value: &str, error: &str) -> (usize, KvOperation) {
        let input = EtcdRequest {
            kind: Some(RequestType::Txn),
            txn: Some(TxnRequest {
                conditions: vec![],
                on_success: vec![EtcdOperation {
                    kind: Some(OperationType::Put),
                    put: PutOptions {
                        key: key.into(),
                        value: from_history(value),
                        lease_id: 0,
                    },
                    ..Default::default()
                }],
                on_failure: vec![],
            }),
            ..Default::default()
        };
        let op = KvOperation {
            input,
            output: MaybeEtcdResponse {
                error: error.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        (1, op)
    }

    fn persisted_put(key: &str, value: &str) -> PersistedWrite {
        PersistedWrite::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn only_unique_failed_writes_are_resolved() {
        let mut clients = vec![
            ClientReport {
                client: 1,
                operations: vec![put("a", "1", "timeout"), put("b", "2", "timeout")],
                watches: vec![],
            },
            // Another request puts b=2 too: whose took effect is unknown.
            ClientReport {
                client: 2,
                operations: vec![put("b", "2", ""), put("c", "3", "timeout")],
                watches: vec![],
            },
        ];
        let resolved = resolve(&mut clients, &[persisted_put("x", "0")]);
        assert_eq!(
            resolved,
            Resolved {
                not_persisted: 2,
                persisted: 0
            }
        );
        let left: Vec<usize> = clients.iter().map(|c| c.operations.len()).collect();
        assert_eq!(left, vec![1, 1], "a=1 and c=3 left out, both b=2 kept");
        // Persisted: kept and marked, its outcome still unknown.
        let mut clients = vec![ClientReport {
            client: 1,
            operations: vec![put("a", "1", "timeout")],
            watches: vec![],
        }];
        let resolved = resolve(&mut clients, &[persisted_put("a", "1")]);
        assert_eq!(resolved.persisted, 1);
        assert!(clients[0].operations[0].1.output.persisted);
        // No WAL writes at all: nothing is resolved, as for etcd.
        let mut clients = vec![ClientReport {
            client: 1,
            operations: vec![put("a", "1", "timeout")],
            watches: vec![],
        }];
        assert_eq!(resolve(&mut clients, &[]), Resolved::default());
        assert_eq!(clients[0].operations.len(), 1);
    }
}
