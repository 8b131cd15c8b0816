//! Executing KV requests inside a write transaction: Put, DeleteRange and
//! Txn with its compares, as etcd's apply layer does.

use crate::lease::Lessor;
use crate::mvcc::{MvccError, RangeOptions, WriteTxn};
use crate::wire::api::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, ErrorCode,
    KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseHeader,
    ResponseOp, SortOrder, SortTarget, TxnRequest, TxnResponse, compare, request_op, response_op,
};

/// etcd's default --max-txn-ops.
pub const MAX_TXN_OPS: usize = 128;

/// Why a request failed at apply time (it changed nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    pub code: ErrorCode,
    pub message: String,
    pub compact_revision: i64,
    /// The store found its own data broken where etcd ends the process
    /// rather than answer (a revision the index names and the backend
    /// lacks): the member exits instead of answering.
    pub fatal: bool,
}

impl ApplyError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApplyError {
            code,
            message: message.into(),
            compact_revision: 0,
            fatal: false,
        }
    }
}

impl From<MvccError> for ApplyError {
    fn from(e: MvccError) -> Self {
        match e {
            // The texts of etcd's gRPC errors (rpctypes.ErrGRPCCompacted,
            // ErrGRPCFutureRev), which is what a client reads.
            MvccError::Compacted { compact_revision } => ApplyError {
                code: ErrorCode::Compacted,
                message: "etcdserver: mvcc: required revision has been compacted".into(),
                compact_revision,
                fatal: false,
            },
            MvccError::FutureRevision => ApplyError::new(
                ErrorCode::FutureRevision,
                "etcdserver: mvcc: required revision is a future revision",
            ),
            MvccError::KeyNotFound => ApplyError::new(ErrorCode::InvalidArgument, e.to_string()),
            MvccError::MissingRevision { .. } => ApplyError {
                fatal: true,
                ..ApplyError::new(ErrorCode::Internal, e.to_string())
            },
            other => ApplyError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

/// Whether a Txn is served like a read (a linearizable read, no raft
/// entry): as etcd's `IsTxnReadonly`, only when both branches hold ranges
/// and nothing else. A nested Txn counts as a write even when it only
/// reads, so such a Txn goes through raft and takes a log entry there too.
pub fn txn_is_read_only(txn: &TxnRequest) -> bool {
    txn.success
        .iter()
        .chain(&txn.failure)
        .all(|op| matches!(op.request, Some(request_op::Request::Range(_))))
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

/// Whether etcd reads the whole range for this request before cutting it
/// to its limit: when it sorts or prunes by revision (etcd's apply Range).
pub fn reads_whole_range(req: &RangeRequest) -> bool {
    req.sort_order != SortOrder::None as i32
        || req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0
}

/// The limit to read a range with: everything when the result is sorted
/// or pruned afterwards, else one more than asked (to know `more`).
pub fn read_limit(req: &RangeRequest) -> i64 {
    if reads_whole_range(req) || req.limit <= 0 {
        0
    } else {
        req.limit.saturating_add(1)
    }
}

/// Shapes a range result as etcd's apply Range does: `kvs` is what was
/// read (at most [`read_limit`] keys), `count` every key in the range.
/// The revision bounds prune, then the sort, then the limit; a count-only
/// request gets no keys and never `more`.
pub fn range_response(
    mut kvs: Vec<KeyValue>,
    count: i64,
    req: &RangeRequest,
    header: ResponseHeader,
) -> RangeResponse {
    if req.count_only {
        kvs.clear();
    }
    let bound = |b: i64| (b != 0).then_some(b);
    if let Some(max) = bound(req.max_mod_revision) {
        kvs.retain(|kv| kv.mod_revision <= max);
    }
    if let Some(min) = bound(req.min_mod_revision) {
        kvs.retain(|kv| kv.mod_revision >= min);
    }
    if let Some(max) = bound(req.max_create_revision) {
        kvs.retain(|kv| kv.create_revision <= max);
    }
    if let Some(min) = bound(req.min_create_revision) {
        kvs.retain(|kv| kv.create_revision >= min);
    }
    sort(&mut kvs, req);
    let limit = usize::try_from(req.limit)
        .ok()
        .filter(|&l| l > 0)
        .unwrap_or(usize::MAX);
    let more = kvs.len() > limit;
    kvs.truncate(limit);
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

/// Orders a range's keys as asked. Keys come sorted by key; etcd sorts
/// ascending by default when the target is not the key.
fn sort(kvs: &mut [KeyValue], req: &RangeRequest) {
    let target = SortTarget::try_from(req.sort_target).unwrap_or(SortTarget::Key);
    let order = match SortOrder::try_from(req.sort_order).unwrap_or(SortOrder::None) {
        SortOrder::None if target != SortTarget::Key => SortOrder::Ascend,
        order => order,
    };
    if order == SortOrder::None {
        return;
    }
    kvs.sort_by(|a, b| {
        let ord = match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        if order == SortOrder::Descend {
            ord.reverse()
        } else {
            ord
        }
    });
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
    /// etcd's checkPut: the key a Put keeps the value or lease of must
    /// exist, then its lease must.
    pub fn check_put(&self, put: &PutRequest) -> Result<(), ApplyError> {
        if (put.ignore_value || put.ignore_lease) && self.txn.get(&put.key)?.is_none() {
            return Err(ApplyError::new(
                ErrorCode::InvalidArgument,
                "etcdserver: key not found",
            ));
        }
        if put.lease != 0 && !put.ignore_lease && !self.lessor.exists(put.lease) {
            return Err(ApplyError::new(
                ErrorCode::LeaseNotFound,
                crate::lease::LeaseError::NotFound.to_string(),
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

    /// etcd's checkRange: a Range at a revision the store no longer or
    /// not yet has.
    fn check_range(&self, op: &RequestOp) -> Result<(), ApplyError> {
        let Some(request_op::Request::Range(r)) = op.request.as_ref() else {
            return Ok(());
        };
        if r.revision == 0 {
            return Ok(());
        }
        if r.revision > self.mvcc.current_revision() {
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
        Ok(())
    }

    fn check_put_op(&self, op: &RequestOp) -> Result<(), ApplyError> {
        match op.request.as_ref() {
            Some(request_op::Request::Put(p)) => self.check_put(p),
            _ => Ok(()),
        }
    }

    /// Which branch every Txn takes, decided before any of it runs: as in
    /// etcd's compareToPath, nested compares see the store as it was before
    /// the outer Txn wrote anything.
    fn path(&self, txn: &TxnRequest) -> Result<Path, ApplyError> {
        let succeeded = self.evaluate(txn)?;
        let nested = branch(txn, succeeded)
            .iter()
            .filter_map(|op| match op.request.as_ref() {
                Some(request_op::Request::Txn(t)) => Some(self.path(t)),
                _ => None,
            })
            .collect::<Result<_, _>>()?;
        Ok(Path { succeeded, nested })
    }

    /// Runs `check` on every operation the path takes (etcd's checkRequests).
    fn check_taken(
        &self,
        txn: &TxnRequest,
        path: &Path,
        check: fn(&Self, &RequestOp) -> Result<(), ApplyError>,
    ) -> Result<(), ApplyError> {
        let mut nested = path.nested.iter();
        for op in branch(txn, path.succeeded) {
            match op.request.as_ref() {
                Some(request_op::Request::Txn(t)) => {
                    if let Some(p) = nested.next() {
                        self.check_taken(t, p, check)?;
                    }
                }
                _ => check(self, op)?,
            }
        }
        Ok(())
    }

    pub fn put(&mut self, put: &PutRequest) -> Result<PutResponse, ApplyError> {
        let prev = self.txn.get(&put.key)?;
        // check_put saw the key before the Txn ran; an operation before
        // this one in the same Txn deleted it since (only a from-key
        // delete, which etcd's duplicate-key check lets through, can).
        // etcd's apply then has no value or lease to keep and panics
        // ("unexpected error during txn: etcdserver: key not found",
        // etcd 3.4.23 as faultline diff saw it): so does this member.
        if (put.ignore_value || put.ignore_lease) && prev.is_none() {
            return Err(ApplyError {
                fatal: true,
                ..ApplyError::new(
                    ErrorCode::Internal,
                    "unexpected error during txn: etcdserver: key not found",
                )
            });
        }
        let kept_value = match (&prev, put.ignore_value) {
            (Some(p), true) => Some(p.value.clone()),
            _ => None,
        };
        let value = kept_value.as_deref().unwrap_or(&put.value);
        let lease = match (&prev, put.ignore_lease) {
            (Some(p), true) => p.lease,
            _ => put.lease,
        };
        // Nothing was written since `prev` was read.
        let prev = self.txn.put_over(prev, &put.key, value, lease, put.ttl)?;
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
        let count = kvs.len() as i64;
        Ok(range_response(kvs, count, req, header.clone()))
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
    /// Runs a Txn as etcd's applier does: the path first, then the checks
    /// of its puts (for a Txn that writes) and of its ranges, then the
    /// operations. Nothing changes if a check fails. The top header is the
    /// caller's to set once the revision is known.
    pub fn txn(&mut self, txn: &TxnRequest) -> Result<TxnResponse, ApplyError> {
        let path = self.path(txn)?;
        if !txn_is_read_only(txn) {
            self.check_taken(txn, &path, Self::check_put_op)?;
        }
        self.check_taken(txn, &path, Self::check_range)?;
        self.run(txn, &path)
    }

    /// The operations of the path. Each answer's header has the revision
    /// etcd gives it: a range the one it read at (the Txn's own once it
    /// wrote), a put the one it wrote, a delete the Txn's own if anything
    /// changed so far; a nested Txn's header stays empty.
    fn run(&mut self, txn: &TxnRequest, path: &Path) -> Result<TxnResponse, ApplyError> {
        let ops = branch(txn, path.succeeded);
        let mut nested = path.nested.iter();
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let response = match op.request.as_ref() {
                Some(request_op::Request::Range(r)) => {
                    let header = revision_header(self.txn.read_revision());
                    response_op::Response::Range(self.range(r, &header)?)
                }
                Some(request_op::Request::Put(p)) => {
                    let mut resp = self.put(p)?;
                    resp.header = Some(revision_header(self.txn.revision()));
                    response_op::Response::Put(resp)
                }
                Some(request_op::Request::DeleteRange(d)) => {
                    let mut resp = self.delete_range(d)?;
                    resp.header = Some(revision_header(self.txn.read_revision()));
                    response_op::Response::DeleteRange(resp)
                }
                Some(request_op::Request::Txn(t)) => {
                    let Some(inner) = nested.next() else {
                        return Err(ApplyError::new(ErrorCode::Internal, "txn path too short"));
                    };
                    let mut resp = self.run(t, inner)?;
                    resp.header = Some(ResponseHeader::default());
                    response_op::Response::Txn(resp)
                }
                None => {
                    return Err(ApplyError::new(
                        ErrorCode::InvalidArgument,
                        "etcdserver: key not found",
                    ));
                }
            };
            responses.push(ResponseOp {
                response: Some(response),
            });
        }
        Ok(TxnResponse {
            header: None,
            succeeded: path.succeeded,
            responses,
        })
    }
}

/// The branches taken in a Txn and in each nested Txn of the taken branch.
struct Path {
    succeeded: bool,
    nested: Vec<Path>,
}

fn branch(txn: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded {
        &txn.success
    } else {
        &txn.failure
    }
}

/// A sub-answer's header: etcd fills only the revision of those.
fn revision_header(revision: i64) -> ResponseHeader {
    ResponseHeader {
        revision,
        ..Default::default()
    }
}

/// A Txn whose branches hold only ranges ([`txn_is_read_only`]), evaluated
/// against one revision of the store.
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
                let kvs = read(&r.key, &r.range_end, at)?;
                let count = kvs.len() as i64;
                response_op::Response::Range(range_response(kvs, count, r, header.clone()))
            }
            _ => {
                return Err(ApplyError::new(
                    ErrorCode::InvalidArgument,
                    "not a range in a read-only txn",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn range_op() -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::Range(RangeRequest::default())),
        }
    }

    #[test]
    fn a_nested_txn_makes_a_txn_a_write_as_in_etcd() {
        let reads = TxnRequest {
            success: vec![range_op()],
            failure: vec![range_op()],
            ..Default::default()
        };
        assert!(txn_is_read_only(&reads));
        let nested = TxnRequest {
            success: vec![
                range_op(),
                RequestOp {
                    request: Some(request_op::Request::Txn(reads.clone())),
                },
            ],
            ..Default::default()
        };
        assert!(!txn_is_read_only(&nested));
    }

    /// A put reads the key's previous value once and writes over it: an
    /// ignored value is the stored one, and the previous value comes back.
    #[test]
    fn a_put_keeps_what_it_ignores_and_returns_what_it_replaced() {
        use crate::backend::Backend;
        use crate::host::testing::env_in;
        use crate::mvcc::{Mvcc, MvccOptions};
        let dir = tempfile::tempdir().expect("temp dir");
        futures::executor::block_on(async {
            let env = env_in(dir.path());
            let backend = Backend::open(env.clone(), 1000, false)
                .await
                .expect("backend");
            let (mvcc, _) = Mvcc::open(backend, env, MvccOptions::default()).expect("mvcc");
            let lessor = Lessor::new(1);
            let put = |value: &[u8], ignore_value: bool| PutRequest {
                key: b"k".to_vec(),
                value: value.to_vec(),
                prev_kv: true,
                ignore_value,
                ..Default::default()
            };
            for (value, ignore_value) in [(&b"v1"[..], false), (b"", true), (b"v3", false)] {
                let mut txn = mvcc.write().await;
                let mut exec = TxnExecutor {
                    txn: &mut txn,
                    lessor: &lessor,
                    mvcc: &mvcc,
                    ttl_enabled: false,
                };
                let before = exec.txn.get(b"k").expect("get");
                let response = exec.put(&put(value, ignore_value)).expect("put");
                assert_eq!(response.prev_kv, before);
                txn.end().await.expect("end");
            }
            let stored = |rev| mvcc.get_at(b"k", rev).expect("stored");
            assert_eq!(stored(2).value, b"v1", "the first put");
            assert_eq!((stored(3).value, stored(3).version), (b"v1".to_vec(), 2));
            assert_eq!((stored(4).value, stored(4).version), (b"v3".to_vec(), 3));
            assert_eq!(stored(4).create_revision, 2);
        });
    }

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
}
