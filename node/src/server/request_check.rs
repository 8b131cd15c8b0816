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

/// A Txn's shape: its size, every operation's own checks, then no key both
/// put twice or put and deleted where both could run.
pub fn check_txn(txn: &TxnRequest) -> Result<(), ApplyError> {
    check_txn_request(txn, MAX_TXN_OPS)?;
    // After the size check, so the interval check never meets a huge Txn.
    check_intervals(&txn.success)?;
    check_intervals(&txn.failure)?;
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
/// bytes, a single key when `end` is empty. etcd's "from key" end `"\0"` is
/// not special here, so such a delete meets no put (as in etcd).
#[derive(Default)]
struct Deletes(Vec<(Vec<u8>, Vec<u8>)>);

impl Deletes {
    fn hits(&self, key: &[u8]) -> bool {
        self.0.iter().any(|(start, end)| {
            if end.is_empty() {
                key == start.as_slice()
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
fn check_intervals(ops: &[RequestOp]) -> Result<(BTreeSet<Vec<u8>>, Deletes), ApplyError> {
    let mut deletes = Deletes::default();
    for op in ops {
        if let Some(request_op::Request::DeleteRange(d)) = op.request.as_ref() {
            deletes.0.push((d.key.clone(), d.range_end.clone()));
        }
    }
    let mut puts = BTreeSet::new();
    for op in ops {
        let Some(request_op::Request::Txn(t)) = op.request.as_ref() else {
            continue;
        };
        let (puts_then, deletes_then) = check_intervals(&t.success)?;
        let (puts_else, deletes_else) = check_intervals(&t.failure)?;
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
        deletes.0.extend(deletes_then.0);
        deletes.0.extend(deletes_else.0);
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
        assert!(check_txn(&txn(vec![put("a"), put("b")])).is_ok());
        assert!(check_txn(&txn(vec![put("a"), put("a")])).is_err());
        assert!(check_txn(&txn(vec![put("a"), del("a", "")])).is_err());
        assert!(check_txn(&txn(vec![put("b"), del("a", "c")])).is_err());
        // etcd's interval tree does not read "\0" as "to the end".
        assert!(check_txn(&txn(vec![put("b"), del("a", "\0")])).is_ok());
        // Success and failure never both run.
        let both = TxnRequest {
            success: vec![put("a")],
            failure: vec![put("a")],
            ..Default::default()
        };
        assert!(check_txn(&both).is_ok());
    }

    #[test]
    fn branches_of_a_nested_txn_exclude_each_other() {
        // Put in one nested branch, deleted in the other: allowed.
        assert!(check_txn(&txn(vec![nested(vec![put("c")], vec![del("c", "")])])).is_ok());
        // Put in both nested branches: one put.
        assert!(check_txn(&txn(vec![nested(vec![put("c")], vec![put("c")])])).is_ok());
        // A nested put against an outer put or delete: refused.
        assert!(check_txn(&txn(vec![put("c"), nested(vec![put("c")], vec![])])).is_err());
        assert!(check_txn(&txn(vec![del("c", ""), nested(vec![], vec![put("c")])])).is_err());
    }

    #[test]
    fn the_longest_list_counts_and_nested_txns_get_what_is_left() {
        let many = |n: usize| (0..n).map(|i| put(&format!("k{i}"))).collect::<Vec<_>>();
        let inner = |n: usize| (0..n).map(|i| put(&format!("n{i}"))).collect::<Vec<_>>();
        assert!(check_txn(&txn(many(MAX_TXN_OPS))).is_ok());
        let e = check_txn(&txn(many(MAX_TXN_OPS + 1))).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.message, "etcdserver: too many operations in txn request");
        // The outer Txn uses 2 of 128; its nested one may hold 126, not 127.
        let mut outer = many(1);
        outer.push(nested(inner(MAX_TXN_OPS - 2), vec![]));
        assert!(check_txn(&txn(outer.clone())).is_ok());
        outer[1] = nested(inner(MAX_TXN_OPS - 1), vec![]);
        assert!(check_txn(&txn(outer)).is_err());
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
