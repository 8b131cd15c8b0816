//! The checks etcd's gRPC layer makes before a write is proposed
//! (`api/v3rpc/key.go`: checkPutRequest, checkTxnRequest, checkIntervals),
//! with etcd's errors. What they refuse never reaches raft.

use super::txn::{ApplyError, MAX_TXN_OPS};
use crate::wire::api::{ErrorCode, PutRequest, RequestOp, TxnRequest, request_op};
use std::collections::BTreeSet;

fn invalid(message: &str) -> ApplyError {
    ApplyError::new(ErrorCode::InvalidArgument, message)
}

const EMPTY_KEY: &str = "etcdserver: key is not provided";
const DUPLICATE_KEY: &str = "etcdserver: duplicate key given in txn request";
/// etcd's ErrGRPCTooManyOps.
pub const TOO_MANY_OPS: &str = "etcdserver: too many operations in txn request";

/// A Range or DeleteRange names a key (etcd's checkRangeRequest and
/// checkDeleteRequest).
pub fn check_key(key: &[u8]) -> Result<(), ApplyError> {
    if key.is_empty() {
        return Err(invalid(EMPTY_KEY));
    }
    Ok(())
}

/// A Put's own shape: a key, and no value or lease given with the flag
/// that says to keep the old one.
pub fn check_put(put: &PutRequest) -> Result<(), ApplyError> {
    if put.key.is_empty() {
        return Err(invalid(EMPTY_KEY));
    }
    if put.ignore_value && !put.value.is_empty() {
        return Err(invalid("etcdserver: value is provided"));
    }
    if put.ignore_lease && put.lease != 0 {
        return Err(invalid("etcdserver: lease is provided"));
    }
    Ok(())
}

/// How the duplicate-key check reads a delete whose range end is "\0"
/// (every key from its key on, as etcd's `WithFromKey` sends it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromKeyDeletes {
    /// As far as the keyspace goes, so a put at or after its key in the
    /// same branch is a duplicate: the open etcd PR 22395 (etcd #22445).
    ReachTheEnd,
    /// As etcd's checkIntervals builds it, the empty interval
    /// `[key, "\0")`: such a delete meets no put (etcd-22445).
    MeetNothing,
}

/// A Txn's shape: its size, every operation's own checks, then no key both
/// put twice or put and deleted where both could run.
pub fn check_txn(txn: &TxnRequest, from_key: FromKeyDeletes) -> Result<(), ApplyError> {
    check_txn_request(txn, MAX_TXN_OPS)?;
    // After the size check, so the interval check never meets a huge Txn.
    check_intervals(&txn.success, from_key)?;
    check_intervals(&txn.failure, from_key)?;
    Ok(())
}

/// etcd's checkTxnRequest: the longest of compares, success and failure
/// against the limit; a nested Txn gets what its parent left of it.
fn check_txn_request(txn: &TxnRequest, max_ops: usize) -> Result<(), ApplyError> {
    let ops = txn
        .compare
        .len()
        .max(txn.success.len())
        .max(txn.failure.len());
    if ops > max_ops {
        // An invalid argument in etcd, not a rate limit.
        return Err(invalid(TOO_MANY_OPS));
    }
    if txn.compare.iter().any(|c| c.key.is_empty()) {
        return Err(invalid(EMPTY_KEY));
    }
    for op in txn.success.iter().chain(&txn.failure) {
        check_op(op, max_ops - ops)?;
    }
    Ok(())
}

fn check_op(op: &RequestOp, max_ops: usize) -> Result<(), ApplyError> {
    match op.request.as_ref() {
        Some(request_op::Request::Range(r)) if r.key.is_empty() => Err(invalid(EMPTY_KEY)),
        Some(request_op::Request::Range(_)) => Ok(()),
        Some(request_op::Request::Put(p)) => check_put(p),
        Some(request_op::Request::DeleteRange(d)) if d.key.is_empty() => Err(invalid(EMPTY_KEY)),
        Some(request_op::Request::DeleteRange(_)) => Ok(()),
        Some(request_op::Request::Txn(t)) => check_txn_request(t, max_ops),
        // etcd answers an empty operation with ErrGRPCKeyNotFound.
        None => Err(invalid("etcdserver: key not found")),
    }
}

/// Deleted ranges as etcd's interval tree compares them: `[key, end)` by
/// bytes, a single key when `end` is empty; the "from key" end `"\0"` as
/// `from_key` says.
struct Deletes {
    ranges: Vec<(Vec<u8>, Vec<u8>)>,
    from_key: FromKeyDeletes,
}

impl Deletes {
    fn new(from_key: FromKeyDeletes) -> Deletes {
        Deletes {
            ranges: Vec::new(),
            from_key,
        }
    }

    fn hits(&self, key: &[u8]) -> bool {
        self.ranges.iter().any(|(start, end)| {
            if end.is_empty() {
                key == start.as_slice()
            } else if end.as_slice() == [0] && self.from_key == FromKeyDeletes::ReachTheEnd {
                start.as_slice() <= key
            } else {
                start.as_slice() <= key && key < end.as_slice()
            }
        })
    }
}

/// etcd's checkIntervals over one list of operations: the puts it makes
/// and the ranges it deletes, or ErrDuplicateKey. The branches of a nested
/// Txn exclude each other, so a key put in one and deleted in the other is
/// allowed, and one put in both counts once.
fn check_intervals(
    ops: &[RequestOp],
    from_key: FromKeyDeletes,
) -> Result<(BTreeSet<Vec<u8>>, Deletes), ApplyError> {
    let mut deletes = Deletes::new(from_key);
    for op in ops {
        if let Some(request_op::Request::DeleteRange(d)) = op.request.as_ref() {
            deletes.ranges.push((d.key.clone(), d.range_end.clone()));
        }
    }
    let mut puts = BTreeSet::new();
    for op in ops {
        let Some(request_op::Request::Txn(t)) = op.request.as_ref() else {
            continue;
        };
        let (puts_then, deletes_then) = check_intervals(&t.success, from_key)?;
        let (puts_else, deletes_else) = check_intervals(&t.failure, from_key)?;
        for key in &puts_then {
            if puts.contains(key) || deletes.hits(key) {
                return Err(invalid(DUPLICATE_KEY));
            }
            puts.insert(key.clone());
        }
        for key in puts_else {
            if (puts.contains(&key) && !puts_then.contains(&key)) || deletes.hits(&key) {
                return Err(invalid(DUPLICATE_KEY));
            }
            puts.insert(key);
        }
        deletes.ranges.extend(deletes_then.ranges);
        deletes.ranges.extend(deletes_else.ranges);
    }
    for op in ops {
        let Some(request_op::Request::Put(p)) = op.request.as_ref() else {
            continue;
        };
        if puts.contains(&p.key) || deletes.hits(&p.key) {
            return Err(invalid(DUPLICATE_KEY));
        }
        puts.insert(p.key.clone());
    }
    Ok((puts, deletes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::api::DeleteRangeRequest;
    use FromKeyDeletes::{MeetNothing, ReachTheEnd};

    fn put(k: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::Put(PutRequest {
                key: k.as_bytes().to_vec(),
                ..Default::default()
            })),
        }
    }

    fn del(k: &str, end: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
                key: k.as_bytes().to_vec(),
                range_end: end.as_bytes().to_vec(),
                ..Default::default()
            })),
        }
    }

    fn nested(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::Txn(TxnRequest {
                success,
                failure,
                ..Default::default()
            })),
        }
    }

    fn txn(success: Vec<RequestOp>) -> TxnRequest {
        TxnRequest {
            success,
            ..Default::default()
        }
    }

    #[test]
    fn a_key_put_twice_or_put_and_deleted_in_one_branch_is_refused() {
        assert!(check_txn(&txn(vec![put("a"), put("b")]), ReachTheEnd).is_ok());
        assert!(check_txn(&txn(vec![put("a"), put("a")]), ReachTheEnd).is_err());
        assert!(check_txn(&txn(vec![put("a"), del("a", "")]), ReachTheEnd).is_err());
        assert!(check_txn(&txn(vec![put("b"), del("a", "c")]), ReachTheEnd).is_err());
        // A from-key delete reaches the end of the keyspace (etcd PR 22395);
        // etcd's own check reads it as the empty [a, "\0") (etcd-22445).
        assert!(check_txn(&txn(vec![put("b"), del("a", "\0")]), ReachTheEnd).is_err());
        assert!(check_txn(&txn(vec![put("0"), del("a", "\0")]), ReachTheEnd).is_ok());
        assert!(check_txn(&txn(vec![put("b"), del("a", "\0")]), MeetNothing).is_ok());
        // Success and failure never both run.
        let both = TxnRequest {
            success: vec![put("a")],
            failure: vec![put("a")],
            ..Default::default()
        };
        assert!(check_txn(&both, ReachTheEnd).is_ok());
    }

    #[test]
    fn branches_of_a_nested_txn_exclude_each_other() {
        // Put in one nested branch, deleted in the other: allowed.
        assert!(
            check_txn(
                &txn(vec![nested(vec![put("c")], vec![del("c", "")])]),
                ReachTheEnd
            )
            .is_ok()
        );
        // Put in both nested branches: one put.
        assert!(
            check_txn(
                &txn(vec![nested(vec![put("c")], vec![put("c")])]),
                ReachTheEnd
            )
            .is_ok()
        );
        // A nested put against an outer put or delete: refused.
        assert!(
            check_txn(
                &txn(vec![put("c"), nested(vec![put("c")], vec![])]),
                ReachTheEnd
            )
            .is_err()
        );
        assert!(
            check_txn(
                &txn(vec![del("c", ""), nested(vec![], vec![put("c")])]),
                ReachTheEnd
            )
            .is_err()
        );
    }

    #[test]
    fn the_longest_list_counts_and_nested_txns_get_what_is_left() {
        let many = |n: usize| (0..n).map(|i| put(&format!("k{i}"))).collect::<Vec<_>>();
        let inner = |n: usize| (0..n).map(|i| put(&format!("n{i}"))).collect::<Vec<_>>();
        assert!(check_txn(&txn(many(MAX_TXN_OPS)), ReachTheEnd).is_ok());
        let e = check_txn(&txn(many(MAX_TXN_OPS + 1)), ReachTheEnd).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.message, "etcdserver: too many operations in txn request");
        // The outer Txn uses 2 of 128; its nested one may hold 126, not 127.
        let mut outer = many(1);
        outer.push(nested(inner(MAX_TXN_OPS - 2), vec![]));
        assert!(check_txn(&txn(outer.clone()), ReachTheEnd).is_ok());
        outer[1] = nested(inner(MAX_TXN_OPS - 1), vec![]);
        assert!(check_txn(&txn(outer), ReachTheEnd).is_err());
    }

    #[test]
    fn a_put_that_keeps_its_value_names_none() {
        let p = PutRequest {
            key: b"a".to_vec(),
            value: b"v".to_vec(),
            ignore_value: true,
            ..Default::default()
        };
        assert_eq!(
            check_put(&p).unwrap_err().message,
            "etcdserver: value is provided"
        );
        let p = PutRequest {
            key: b"a".to_vec(),
            lease: 7,
            ignore_lease: true,
            ..Default::default()
        };
        assert_eq!(
            check_put(&p).unwrap_err().message,
            "etcdserver: lease is provided"
        );
        assert!(check_put(&PutRequest::default()).is_err(), "empty key");
        assert_eq!(check_key(b"").unwrap_err().message, EMPTY_KEY);
        assert!(check_key(b"a").is_ok());
    }
}
