//! faultline history → etcd robustness report folder, written as etcd's
//! recorder (`tests/robustness/client`, `model/history.go`) would have:
//! puts and deletes as one-operation Txns, long values as their hash, the
//! granted lease id in the grant request, compaction answers at revision -1,
//! compaction refusals as `ClientError` and every other error as `Error`
//! (etcd's recorder knows no other definite refusal; its checker then takes
//! the outcome as unknown, which is weaker but true).
//!
//! Left out, and counted in the summary: what etcd's format has no place
//! for and that changed nothing (serializable or count-only reads,
//! keep-alives, time-to-lives, read-only requests and failed writes of a
//! shape it cannot hold, watches on a range that is no prefix or with
//! filters), the answers' previous values, create revisions and leases, and
//! lease TTLs. A write the format cannot hold that may have taken effect is
//! an error: leaving it out would make the report lie.
//! Annotations (faults) are not written: etcd's report keeps them nowhere.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::history::{
    CompareResult, CompareTarget, EtcdError, Event, EventKind, History, KeyValue, OpResult,
    Operation, RangeRequest, Request, Response, TxnOp, TxnOpResponse, WatchRecord, describe,
    prefix_end,
};
use crate::import::etcd_robustness::format::{
    self as f, CLIENT_DIR_PREFIX, OPERATIONS_FILE, OperationType, RequestType, WATCH_FILE,
};
use crate::import::etcd_robustness::value::from_history;

use super::{ExportError, ExportFormat, ExportSummary};

/// etcd's texts of the errors its recorder writes.
const ERR_COMPACTED: &str = "mvcc: required revision has been compacted";
const ERR_FUTURE_REV: &str = "mvcc: required revision is a future revision";

/// One client folder's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFiles {
    pub operations: Vec<f::KvOperation>,
    pub watches: Vec<f::WatchOperation>,
}

/// The report's client folders by client id, and the summary.
pub fn to_report(
    history: &History,
) -> Result<(BTreeMap<u64, ClientFiles>, ExportSummary), ExportError> {
    let mut clients: BTreeMap<u64, ClientFiles> = BTreeMap::new();
    let mut summary = ExportSummary::default();
    let mut left_out: BTreeMap<String, usize> = BTreeMap::new();
    // An operation that never returned ends, for etcd, after everything else.
    let end = last_time(history).saturating_add(1);
    for op in &history.operations {
        match operation(op, end) {
            Ok(written) => {
                clients
                    .entry(op.client)
                    .or_default()
                    .operations
                    .push(written);
                summary.operations += 1;
                note_losses(op, &mut left_out);
            }
            Err(why) if op.request.may_write() && !matches!(op.result, OpResult::Fail(_)) => {
                return Err(ExportError::Unrepresentable {
                    format: ExportFormat::EtcdRobustness,
                    id: op.id,
                    request: describe::request(&op.request),
                    why,
                });
            }
            Err(why) => *left_out.entry(why).or_default() += 1,
        }
    }
    for w in &history.watches {
        match watch(w) {
            Ok(written) => {
                clients.entry(w.client).or_default().watches.push(written);
                summary.watches += 1;
            }
            Err(why) => *left_out.entry(why).or_default() += 1,
        }
    }
    summary.left_out = left_out.into_iter().collect();
    Ok((clients, summary))
}

/// Writes the report folder.
pub fn write(history: &History, out: &Path) -> Result<ExportSummary, ExportError> {
    let (clients, summary) = to_report(history)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    for (client, files) in &clients {
        let dir = out.join(format!("{CLIENT_DIR_PREFIX}{client}"));
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        // etcd writes no file for a client without operations (or watches).
        if !files.operations.is_empty() {
            let path = dir.join(OPERATIONS_FILE);
            fs::write(&path, stream(&files.operations)).map_err(io(&path))?;
        }
        if !files.watches.is_empty() {
            let path = dir.join(WATCH_FILE);
            fs::write(&path, stream(&files.watches)).map_err(io(&path))?;
        }
    }
    Ok(summary)
}

/// As etcd's persist functions write: each value indented by two spaces,
/// then a newline.
pub fn stream<T: serde::Serialize>(values: &[T]) -> String {
    let mut out = String::new();
    for v in values {
        // Serializing these plain structs cannot fail.
        out.push_str(&serde_json::to_string_pretty(v).unwrap_or_default());
        out.push('\n');
    }
    out
}

fn last_time(h: &History) -> u64 {
    let ops = h.operations.iter().map(|o| o.ret.unwrap_or(o.call));
    let watches = h
        .watches
        .iter()
        .flat_map(|w| w.responses.iter().map(|r| r.at));
    ops.chain(watches).max().unwrap_or(0)
}

fn note_losses(op: &Operation, left_out: &mut BTreeMap<String, usize>) {
    let mut note = |why: &str| *left_out.entry(why.to_string()).or_default() += 1;
    match &op.request {
        Request::Put(p) if p.prev_kv => note("a put's prev_kv (etcd records no previous value)"),
        Request::DeleteRange(d) if d.prev_kv => {
            note("a delete's prev_kvs (etcd records no previous values)")
        }
        Request::LeaseGrant { .. } => note("a lease grant's TTL (etcd records none)"),
        _ => {}
    }
    if let OpResult::Fail(e) = &op.result
        && !compaction_refusal(&op.request, e)
    {
        note(
            "a definite refusal other than a compaction's (written as an error, which etcd reads as an unknown outcome)",
        );
    }
}

fn compaction_refusal(request: &Request, e: &EtcdError) -> bool {
    matches!(request, Request::Compact { .. })
        && matches!(e, EtcdError::Compacted { .. } | EtcdError::FutureRevision)
}

fn time(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn operation(op: &Operation, end: u64) -> Result<f::KvOperation, String> {
    let input = request(op)?;
    let output = output(op)?;
    Ok(f::KvOperation {
        client_id: i64::try_from(op.client).map_err(|_| "a client id above 2^63".to_string())?,
        input,
        call: time(op.call),
        ret: time(op.ret.unwrap_or(end)),
        metadata: Some(output.clone()),
        output,
    })
}

fn request(op: &Operation) -> Result<f::EtcdRequest, String> {
    let mut r = f::EtcdRequest::default();
    match &op.request {
        Request::Range(range) => {
            r.kind = Some(RequestType::Range);
            r.range = Some(f::RangeRequest {
                options: range_options(range)?,
                revision: range.revision,
            });
        }
        Request::Put(_) | Request::DeleteRange(_) => {
            let one = match &op.request {
                Request::Put(p) => TxnOp::Put(p.clone()),
                Request::DeleteRange(d) => TxnOp::DeleteRange(d.clone()),
                _ => return Err("not a put or delete".into()),
            };
            r.kind = Some(RequestType::Txn);
            r.txn = Some(f::TxnRequest {
                on_success: vec![txn_op(&one)?],
                ..Default::default()
            });
        }
        Request::Txn(t) => {
            r.kind = Some(RequestType::Txn);
            r.txn = Some(f::TxnRequest {
                conditions: t.compare.iter().map(condition).collect::<Result<_, _>>()?,
                on_success: t.success.iter().map(txn_op).collect::<Result<_, _>>()?,
                on_failure: t.failure.iter().map(txn_op).collect::<Result<_, _>>()?,
            });
        }
        Request::Compact { revision } => {
            r.kind = Some(RequestType::Compact);
            r.compact = Some(f::CompactRequest {
                revision: *revision,
            });
        }
        Request::LeaseGrant { id, .. } => {
            r.kind = Some(RequestType::LeaseGrant);
            // etcd's recorder keeps the id the server granted (0 when unanswered).
            let granted = match &op.result {
                OpResult::Ok(Response::LeaseGrant(g)) => g.id,
                _ => *id,
            };
            r.lease_grant = Some(f::LeaseId { lease_id: granted });
        }
        Request::LeaseRevoke { id } => {
            r.kind = Some(RequestType::LeaseRevoke);
            r.lease_revoke = Some(f::LeaseId { lease_id: *id });
        }
        Request::LeaseKeepAlive { .. } => {
            return Err("a lease keep-alive (etcd records none)".into());
        }
        Request::LeaseTimeToLive { .. } => {
            return Err("a lease time-to-live (etcd records none)".into());
        }
    }
    Ok(r)
}

fn range_options(r: &RangeRequest) -> Result<f::RangeOptions, String> {
    if r.serializable {
        return Err("a serializable read (etcd records none)".into());
    }
    if r.count_only {
        return Err("a count-only read (etcd records none)".into());
    }
    if r.reshaped() {
        return Err("a read pruned by revision or sorted (etcd records neither)".into());
    }
    Ok(f::RangeOptions {
        start: r.key.clone(),
        end: r.range_end.clone(),
        limit: r.limit,
        keys_only: r.keys_only,
    })
}

fn condition(c: &crate::history::Compare) -> Result<f::EtcdCondition, String> {
    if !c.range_end.is_empty() {
        return Err("a txn compare over a key range (etcd's compares name one key)".into());
    }
    if c.result != CompareResult::Equal {
        return Err("a txn compare other than equality (etcd's are equalities)".into());
    }
    let (expected_revision, expected_version) = match c.target {
        CompareTarget::ModRevision(r) => (r, 0),
        // Version 0 (absent) is mod revision 0 for etcd's model.
        CompareTarget::Version(0) => (0, 0),
        CompareTarget::Version(v) if v > 0 => (0, v),
        _ => {
            return Err("a txn compare of a value, create revision, lease or negative version (etcd compares mod revisions and versions)".into());
        }
    };
    Ok(f::EtcdCondition {
        key: c.key.clone(),
        expected_revision,
        expected_version,
    })
}

fn txn_op(op: &TxnOp) -> Result<f::EtcdOperation, String> {
    let mut o = f::EtcdOperation::default();
    match op {
        TxnOp::Range(r) => {
            if r.revision != 0 {
                return Err(
                    "a read at a past revision inside a txn (etcd's txn reads have no revision)"
                        .into(),
                );
            }
            o.kind = Some(OperationType::Range);
            o.range = range_options(r)?;
        }
        TxnOp::Put(p) => {
            if p.ignore_value || p.ignore_lease {
                return Err(
                    "a put with ignore_value or ignore_lease (etcd records neither)".into(),
                );
            }
            if p.ttl != 0 {
                return Err("a put with a per-key TTL (etcd has none)".into());
            }
            o.kind = Some(OperationType::Put);
            o.put = f::PutOptions {
                key: p.key.clone(),
                value: from_history(&p.value),
                lease_id: p.lease,
            };
        }
        TxnOp::DeleteRange(d) => {
            if !d.range_end.is_empty() {
                return Err("a delete of a key range (etcd's deletes name one key)".into());
            }
            o.kind = Some(OperationType::Delete);
            o.delete = f::DeleteOptions { key: d.key.clone() };
        }
        TxnOp::Txn(_) => return Err("a nested txn (etcd's format has none)".into()),
    }
    Ok(o)
}

fn output(op: &Operation) -> Result<f::MaybeEtcdResponse, String> {
    let mut out = f::MaybeEtcdResponse::default();
    match &op.result {
        OpResult::Unknown(reason) => {
            out.error = if reason.is_empty() {
                "outcome unknown".into()
            } else {
                reason.clone()
            };
        }
        OpResult::Fail(e) if compaction_refusal(&op.request, e) => {
            out.client_error = match e {
                EtcdError::FutureRevision => ERR_FUTURE_REV,
                _ => ERR_COMPACTED,
            }
            .into();
        }
        OpResult::Fail(e) => out.error = error_text(e),
        OpResult::Ok(resp) => response(resp, &mut out)?,
    }
    Ok(out)
}

fn error_text(e: &EtcdError) -> String {
    match e {
        EtcdError::Compacted { .. } => format!("etcdserver: {ERR_COMPACTED}"),
        EtcdError::FutureRevision => format!("etcdserver: {ERR_FUTURE_REV}"),
        EtcdError::LeaseNotFound => "etcdserver: requested lease not found".into(),
        EtcdError::Invalid(i) => i.message().into(),
        EtcdError::NoSpace => EtcdError::NO_SPACE.into(),
        EtcdError::Other(s) if s.is_empty() => "request failed".into(),
        EtcdError::Other(s) => s.clone(),
    }
}

fn response(resp: &Response, out: &mut f::MaybeEtcdResponse) -> Result<(), String> {
    out.revision = resp.header_revision();
    match resp {
        Response::Range(r) => {
            out.range = Some(f::RangeResponse {
                kvs: r.kvs.iter().map(key_value).collect(),
                count: r.count,
            });
        }
        Response::Put(_) => {
            out.txn = Some(f::TxnResponse {
                failure: false,
                results: vec![f::EtcdOperationResult::default()],
            });
        }
        Response::DeleteRange(d) => {
            out.txn = Some(f::TxnResponse {
                failure: false,
                results: vec![f::EtcdOperationResult {
                    deleted: d.deleted,
                    ..Default::default()
                }],
            });
        }
        Response::Txn(t) => {
            let results = t
                .responses
                .iter()
                .map(|r| match r {
                    TxnOpResponse::Range(r) => Ok(f::EtcdOperationResult {
                        kvs: r.kvs.iter().map(key_value).collect(),
                        count: r.count,
                        deleted: 0,
                    }),
                    TxnOpResponse::Put(_) => Ok(f::EtcdOperationResult::default()),
                    TxnOpResponse::DeleteRange(d) => Ok(f::EtcdOperationResult {
                        deleted: d.deleted,
                        ..Default::default()
                    }),
                    TxnOpResponse::Txn(_) => {
                        Err("a nested txn (etcd's format has none)".to_string())
                    }
                })
                .collect::<Result<_, _>>()?;
            out.txn = Some(f::TxnResponse {
                failure: !t.succeeded,
                results,
            });
        }
        Response::Compact(_) => {
            out.compact = Some(f::Empty {});
            // etcd's RevisionForNonLinearizableResponse.
            out.revision = -1;
        }
        Response::LeaseGrant(_) => out.lease_grant = Some(f::LeaseId::default()),
        Response::LeaseRevoke(_) => out.lease_revoke = Some(f::Empty {}),
        Response::LeaseKeepAlive(_) | Response::LeaseTimeToLive(_) => {
            return Err("a lease keep-alive or time-to-live (etcd records none)".into());
        }
    }
    Ok(())
}

fn key_value(kv: &KeyValue) -> f::KeyValue {
    f::KeyValue {
        key: kv.key.clone(),
        value: value_revision(kv),
    }
}

fn value_revision(kv: &KeyValue) -> f::ValueRevision {
    f::ValueRevision {
        value: from_history(&kv.value),
        mod_revision: kv.mod_revision,
        version: kv.version,
    }
}

fn watch(w: &WatchRecord) -> Result<f::WatchOperation, String> {
    let r = &w.request;
    if r.filter_put || r.filter_delete {
        return Err("a watch with event filters (etcd records none)".into());
    }
    let with_prefix = if r.range_end.is_empty() {
        false
    } else if r.range_end == prefix_end(&r.key) {
        true
    } else {
        return Err(
            "a watch on a key range that is no prefix (etcd watches a key or a prefix)".into(),
        );
    };
    let responses = w
        .responses
        .iter()
        .map(|resp| f::WatchResponse {
            events: resp.events.iter().map(event).collect(),
            is_progress_notify: resp.progress_notify,
            revision: resp.header_revision,
            time: time(resp.at),
            error: match (resp.canceled, resp.cancel_reason.is_empty()) {
                (false, _) => String::new(),
                (true, false) => resp.cancel_reason.clone(),
                (true, true) if resp.compact_revision > 0 => format!("etcdserver: {ERR_COMPACTED}"),
                (true, true) => "watch canceled".into(),
            },
        })
        .collect();
    Ok(f::WatchOperation {
        request: f::WatchRequest {
            key: r.key.clone(),
            revision: r.start_revision,
            with_prefix,
            with_progress_notify: r.progress_notify,
            with_prev_kv: r.prev_kv,
        },
        responses,
    })
}

fn event(e: &Event) -> f::WatchEvent {
    f::WatchEvent {
        kind: Some(match e.kind {
            EventKind::Put => OperationType::Put,
            EventKind::Delete => OperationType::Delete,
        }),
        key: e.kv.key.clone(),
        value: from_history(&e.kv.value),
        revision: e.kv.mod_revision,
        is_create: e.is_create(),
        prev_value: e.prev_kv.as_ref().map(value_revision),
    }
}
