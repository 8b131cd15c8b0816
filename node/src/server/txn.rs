//! Executing KV requests inside a write transaction: Put, DeleteRange and
//! Txn with its compares, as etcd's apply layer does.

use crate::lease::Lessor;
use crate::mvcc::{MvccError, RangeOptions, WriteTxn};
use crate::wire::api::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, ErrorCode,
    KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseHeader,
    ResponseOp, TxnRequest, TxnResponse, compare, request_op, response_op,
};
use std::collections::BTreeSet;

/// etcd's default --max-txn-ops.
pub const MAX_TXN_OPS: usize = 128;

/// Why a request failed at apply time (it changed nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    pub code: ErrorCode,
    pub message: String,
    pub compact_revision: i64,
}

impl ApplyError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApplyError {
            code,
            message: message.into(),
            compact_revision: 0,
        }
    }
}

impl From<MvccError> for ApplyError {
    fn from(e: MvccError) -> Self {
        match e {
            MvccError::Compacted { compact_revision } => ApplyError {
                code: ErrorCode::Compacted,
                message: e.to_string(),
                compact_revision,
            },
            MvccError::FutureRevision => ApplyError::new(ErrorCode::FutureRevision, e.to_string()),
            MvccError::KeyNotFound => ApplyError::new(ErrorCode::InvalidArgument, e.to_string()),
            other => ApplyError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

/// Checks a Txn's shape before anything runs: size and duplicate keys
/// within a branch (etcd's ErrTooManyOps / ErrDuplicateKey).
pub fn validate_txn(txn: &TxnRequest) -> Result<(), ApplyError> {
    if txn.compare.len() > MAX_TXN_OPS
        || txn.success.len() > MAX_TXN_OPS
        || txn.failure.len() > MAX_TXN_OPS
    {
        return Err(ApplyError::new(
            ErrorCode::TooManyRequests,
            "etcdserver: too many operations in txn request",
        ));
    }
    for branch in [&txn.success, &txn.failure] {
        let mut puts = BTreeSet::new();
        let mut deletes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        collect_writes(branch, &mut puts, &mut deletes)?;
        for key in &puts {
            if deletes
                .iter()
                .any(|(s, e)| crate::mvcc::in_range(key, s, e))
            {
                return Err(ApplyError::new(
                    ErrorCode::InvalidArgument,
                    "etcdserver: duplicate key given in txn request",
                ));
            }
        }
    }
    Ok(())
}

fn collect_writes(
    ops: &[RequestOp],
    puts: &mut BTreeSet<Vec<u8>>,
    deletes: &mut Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<(), ApplyError> {
    for op in ops {
        match op.request.as_ref() {
            Some(request_op::Request::Put(p)) => {
                if !puts.insert(p.key.clone()) {
                    return Err(ApplyError::new(
                        ErrorCode::InvalidArgument,
                        "etcdserver: duplicate key given in txn request",
                    ));
                }
            }
            Some(request_op::Request::DeleteRange(d)) => {
                deletes.push((d.key.clone(), d.range_end.clone()))
            }
            Some(request_op::Request::Txn(t)) => {
                validate_txn(t)?;
                // Writes of nested branches count against the outer branch.
                let mut inner = BTreeSet::new();
                collect_writes(&t.success, &mut inner, deletes)?;
                collect_writes(&t.failure, &mut inner, deletes)?;
                for k in inner {
                    if !puts.insert(k) {
                        return Err(ApplyError::new(
                            ErrorCode::InvalidArgument,
                            "etcdserver: duplicate key given in txn request",
                        ));
                    }
                }
            }
            Some(request_op::Request::Range(_)) => {}
            None => {
                return Err(ApplyError::new(
                    ErrorCode::InvalidArgument,
                    "empty operation in txn request",
                ));
            }
        }
    }
    Ok(())
}

/// Whether a request op list writes anything (a read-only Txn is served
/// like a read).
pub fn txn_is_read_only(txn: &TxnRequest) -> bool {
    fn ops_read_only(ops: &[RequestOp]) -> bool {
        ops.iter().all(|op| match op.request.as_ref() {
            Some(request_op::Request::Range(_)) => true,
            Some(request_op::Request::Txn(t)) => txn_is_read_only(t),
            _ => false,
        })
    }
    ops_read_only(&txn.success) && ops_read_only(&txn.failure)
}

fn compare_holds(c: &Compare, kv: &KeyValue) -> bool {
    use std::cmp::Ordering;
    let target = CompareTarget::try_from(c.target).unwrap_or(CompareTarget::Version);
    let ord: Option<Ordering> = match (target, c.target_union.as_ref()) {
        (CompareTarget::Value, Some(compare::TargetUnion::Value(v))) => {
            Some(kv.value.as_slice().cmp(v.as_slice()))
        }
        (CompareTarget::Version, Some(compare::TargetUnion::Version(v))) => Some(kv.version.cmp(v)),
        (CompareTarget::Create, Some(compare::TargetUnion::CreateRevision(v))) => {
            Some(kv.create_revision.cmp(v))
        }
        (CompareTarget::Mod, Some(compare::TargetUnion::ModRevision(v))) => {
            Some(kv.mod_revision.cmp(v))
        }
        (CompareTarget::Lease, Some(compare::TargetUnion::Lease(v))) => Some(kv.lease.cmp(v)),
        // A compare whose target and value disagree never holds.
        _ => None,
    };
    let Some(ord) = ord else {
        return false;
    };
    match CompareResult::try_from(c.result).unwrap_or(CompareResult::Equal) {
        CompareResult::Equal => ord == Ordering::Equal,
        CompareResult::NotEqual => ord != Ordering::Equal,
        CompareResult::Greater => ord == Ordering::Greater,
        CompareResult::Less => ord == Ordering::Less,
    }
}

/// etcd's applyCompare: every key in the compare's range must satisfy it;
/// an absent key compares as a zero key value, except on value.
pub fn compare_passes(kvs: &[KeyValue], c: &Compare) -> bool {
    if kvs.is_empty() {
        if c.target == CompareTarget::Value as i32 {
            return false;
        }
        return compare_holds(c, &KeyValue::default());
    }
    kvs.iter().all(|kv| compare_holds(c, kv))
}

/// Shapes a range result as etcd's RangeResponse.
pub fn range_response(
    mut kvs: Vec<KeyValue>,
    req: &RangeRequest,
    header: ResponseHeader,
) -> RangeResponse {
    let count = kvs.len() as i64;
    let limit = if req.limit > 0 {
        req.limit as usize
    } else {
        usize::MAX
    };
    let more = kvs.len() > limit;
    kvs.truncate(limit);
    if req.count_only {
        kvs.clear();
    }
    if req.keys_only {
        for kv in &mut kvs {
            kv.value.clear();
        }
    }
    RangeResponse {
        header: Some(header),
        kvs,
        more,
        count,
    }
}

/// Runs KV requests against one write transaction.
pub struct TxnExecutor<'a, 'b> {
    pub txn: &'a mut WriteTxn<'b>,
    pub lessor: &'a Lessor,
    pub mvcc: &'a crate::mvcc::Mvcc,
    /// Whether per-key TTLs are enabled (cluster version 3.7 or later).
    pub ttl_enabled: bool,
}

impl TxnExecutor<'_, '_> {
    /// Checks what would make a write fail before anything changes.
    pub fn check_put(&self, put: &PutRequest) -> Result<(), ApplyError> {
        if put.lease != 0 && !put.ignore_lease && !self.lessor.exists(put.lease) {
            return Err(ApplyError::new(
                ErrorCode::LeaseNotFound,
                "etcdserver: requested lease not found",
            ));
        }
        if (put.ignore_value || put.ignore_lease) && self.txn.get(&put.key)?.is_none() {
            return Err(ApplyError::new(
                ErrorCode::InvalidArgument,
                "etcdserver: key not found",
            ));
        }
        if put.ttl != 0 && !self.ttl_enabled {
            return Err(ApplyError::new(
                ErrorCode::Unsupported,
                "per-key TTL needs cluster version 3.7",
            ));
        }
        if put.ttl < 0 {
            return Err(ApplyError::new(ErrorCode::InvalidArgument, "negative TTL"));
        }
        Ok(())
    }

    fn check_ops(&self, ops: &[RequestOp]) -> Result<(), ApplyError> {
        for op in ops {
            match op.request.as_ref() {
                Some(request_op::Request::Put(p)) => self.check_put(p)?,
                Some(request_op::Request::Range(r)) if r.revision > 0 => {
                    let current = self.mvcc.current_revision();
                    if r.revision > current {
                        self.mvcc
                            .env()
                            .reach(crate::coverage::Point::RangeFutureRevision);
                        return Err(MvccError::FutureRevision.into());
                    }
                    let compacted = self.mvcc.compact_revision();
                    if r.revision < compacted {
                        self.mvcc
                            .env()
                            .reach(crate::coverage::Point::CompactionRefusedRead);
                        return Err(MvccError::Compacted {
                            compact_revision: compacted,
                        }
                        .into());
                    }
                }
                Some(request_op::Request::Txn(t)) => {
                    let branch = if self.evaluate(t)? {
                        &t.success
                    } else {
                        &t.failure
                    };
                    self.check_ops(branch)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn put(&mut self, put: &PutRequest) -> Result<PutResponse, ApplyError> {
        let prev = self.txn.get(&put.key)?;
        let value = match (&prev, put.ignore_value) {
            (Some(p), true) => p.value.clone(),
            _ => put.value.clone(),
        };
        let lease = match (&prev, put.ignore_lease) {
            (Some(p), true) => p.lease,
            _ => put.lease,
        };
        let prev = self.txn.put(&put.key, &value, lease, put.ttl)?;
        Ok(PutResponse {
            header: None,
            prev_kv: if put.prev_kv { prev } else { None },
        })
    }

    pub fn delete_range(
        &mut self,
        del: &DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, ApplyError> {
        let prev = self.txn.delete_range(&del.key, &del.range_end)?;
        Ok(DeleteRangeResponse {
            header: None,
            deleted: prev.len() as i64,
            prev_kvs: if del.prev_kv { prev } else { Vec::new() },
        })
    }

    fn range(
        &self,
        req: &RangeRequest,
        header: &ResponseHeader,
    ) -> Result<RangeResponse, ApplyError> {
        let kvs = if req.revision > 0 {
            self.mvcc
                .range(&RangeOptions {
                    key: req.key.clone(),
                    range_end: req.range_end.clone(),
                    revision: req.revision,
                    ..Default::default()
                })?
                .kvs
        } else {
            self.txn.range(&req.key, &req.range_end)?
        };
        Ok(range_response(kvs, req, header.clone()))
    }

    fn evaluate(&self, txn: &TxnRequest) -> Result<bool, ApplyError> {
        for c in &txn.compare {
            let kvs = self.txn.range(&c.key, &c.range_end)?;
            if !compare_passes(&kvs, c) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Runs a Txn: evaluates the compares, checks the chosen branch, then
    /// executes it. Nothing changes if the check fails.
    pub fn txn(
        &mut self,
        txn: &TxnRequest,
        header: &ResponseHeader,
    ) -> Result<TxnResponse, ApplyError> {
        let succeeded = self.evaluate(txn)?;
        let ops = if succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        self.check_ops(ops)?;
        self.run_ops(succeeded, ops, header)
    }

    fn run_ops(
        &mut self,
        succeeded: bool,
        ops: &[RequestOp],
        header: &ResponseHeader,
    ) -> Result<TxnResponse, ApplyError> {
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let response = match op.request.as_ref() {
                Some(request_op::Request::Range(r)) => {
                    response_op::Response::Range(self.range(r, header)?)
                }
                Some(request_op::Request::Put(p)) => {
                    let mut resp = self.put(p)?;
                    resp.header = Some(header.clone());
                    response_op::Response::Put(resp)
                }
                Some(request_op::Request::DeleteRange(d)) => {
                    let mut resp = self.delete_range(d)?;
                    resp.header = Some(header.clone());
                    response_op::Response::DeleteRange(resp)
                }
                Some(request_op::Request::Txn(t)) => {
                    let inner_ok = self.evaluate(t)?;
                    let branch = if inner_ok { &t.success } else { &t.failure };
                    response_op::Response::Txn(self.run_ops(inner_ok, branch, header)?)
                }
                None => {
                    return Err(ApplyError::new(
                        ErrorCode::InvalidArgument,
                        "empty operation in txn request",
                    ));
                }
            };
            responses.push(ResponseOp {
                response: Some(response),
            });
        }
        Ok(TxnResponse {
            header: Some(header.clone()),
            succeeded,
            responses,
        })
    }
}

/// A Txn without writes, evaluated against one revision of the store.
pub fn read_only_txn(
    mvcc: &crate::mvcc::Mvcc,
    txn: &TxnRequest,
    rev: i64,
    header: &ResponseHeader,
) -> Result<TxnResponse, ApplyError> {
    let read = |key: &[u8], end: &[u8], at: i64| -> Result<Vec<KeyValue>, ApplyError> {
        Ok(mvcc
            .range(&RangeOptions {
                key: key.to_vec(),
                range_end: end.to_vec(),
                revision: at,
                ..Default::default()
            })?
            .kvs)
    };
    let mut succeeded = true;
    for c in &txn.compare {
        if !compare_passes(&read(&c.key, &c.range_end, rev)?, c) {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded {
        &txn.success
    } else {
        &txn.failure
    };
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        let response = match op.request.as_ref() {
            Some(request_op::Request::Range(r)) => {
                let at = if r.revision > 0 { r.revision } else { rev };
                response_op::Response::Range(range_response(
                    read(&r.key, &r.range_end, at)?,
                    r,
                    header.clone(),
                ))
            }
            Some(request_op::Request::Txn(t)) => {
                response_op::Response::Txn(read_only_txn(mvcc, t, rev, header)?)
            }
            _ => {
                return Err(ApplyError::new(
                    ErrorCode::InvalidArgument,
                    "write in a read-only txn",
                ));
            }
        };
        responses.push(ResponseOp {
            response: Some(response),
        });
    }
    Ok(TxnResponse {
        header: Some(header.clone()),
        succeeded,
        responses,
    })
}

/// Fixes up the header revision of every response in a Txn response once
/// the transaction's revision is known.
pub fn set_txn_revision(resp: &mut TxnResponse, header: &ResponseHeader) {
    resp.header = Some(header.clone());
    for op in &mut resp.responses {
        match op.response.as_mut() {
            Some(response_op::Response::Range(r)) => r.header = Some(header.clone()),
            Some(response_op::Response::Put(r)) => r.header = Some(header.clone()),
            Some(response_op::Response::DeleteRange(r)) => r.header = Some(header.clone()),
            Some(response_op::Response::Txn(t)) => set_txn_revision(t, header),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(target: CompareTarget, result: CompareResult, u: compare::TargetUnion) -> Compare {
        Compare {
            result: result as i32,
            target: target as i32,
            key: b"k".to_vec(),
            target_union: Some(u),
            range_end: vec![],
        }
    }

    #[test]
    fn compares_follow_etcd() {
        let kv = KeyValue {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            version: 2,
            mod_revision: 7,
            create_revision: 3,
            ..Default::default()
        };
        use compare::TargetUnion as U;
        assert!(compare_passes(
            std::slice::from_ref(&kv),
            &cmp(CompareTarget::Mod, CompareResult::Equal, U::ModRevision(7))
        ));
        assert!(!compare_passes(
            std::slice::from_ref(&kv),
            &cmp(CompareTarget::Mod, CompareResult::Equal, U::ModRevision(6))
        ));
        assert!(compare_passes(
            std::slice::from_ref(&kv),
            &cmp(
                CompareTarget::Version,
                CompareResult::Greater,
                U::Version(1)
            )
        ));
        assert!(compare_passes(
            std::slice::from_ref(&kv),
            &cmp(
                CompareTarget::Create,
                CompareResult::Less,
                U::CreateRevision(4)
            )
        ));
        assert!(compare_passes(
            std::slice::from_ref(&kv),
            &cmp(
                CompareTarget::Value,
                CompareResult::NotEqual,
                U::Value(b"x".to_vec())
            )
        ));
        // Absent keys: mod_revision 0 matches, values never do.
        assert!(compare_passes(
            &[],
            &cmp(CompareTarget::Mod, CompareResult::Equal, U::ModRevision(0))
        ));
        assert!(!compare_passes(
            &[],
            &cmp(CompareTarget::Value, CompareResult::Equal, U::Value(vec![]))
        ));
        // A target/value mismatch never holds.
        assert!(!compare_passes(
            &[kv],
            &cmp(CompareTarget::Mod, CompareResult::Equal, U::Version(7))
        ));
    }

    #[test]
    fn duplicate_keys_in_a_branch_are_refused() {
        let put = |k: &str| RequestOp {
            request: Some(request_op::Request::Put(PutRequest {
                key: k.as_bytes().to_vec(),
                ..Default::default()
            })),
        };
        let del = |k: &str| RequestOp {
            request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
                key: k.as_bytes().to_vec(),
                ..Default::default()
            })),
        };
        let ok = TxnRequest {
            success: vec![put("a"), put("b")],
            failure: vec![put("a")],
            ..Default::default()
        };
        assert_eq!(validate_txn(&ok), Ok(()));
        let dup = TxnRequest {
            success: vec![put("a"), put("a")],
            ..Default::default()
        };
        assert!(validate_txn(&dup).is_err());
        let overlap = TxnRequest {
            success: vec![put("a"), del("a")],
            ..Default::default()
        };
        assert!(validate_txn(&overlap).is_err());
        assert!(txn_is_read_only(&TxnRequest::default()));
        assert!(!txn_is_read_only(&ok));
    }
}
