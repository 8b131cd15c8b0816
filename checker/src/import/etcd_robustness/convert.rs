//! etcd's recorded operations and watches → faultline's history, read as
//! etcd's own checker reads them (`model/non_deterministic.go`,
//! `model/deterministic.go`, `model/replay.go`):
//!
//! - `Error` set: the client got an error and the outcome is unknown (the
//!   request may have taken effect at any time after its call).
//! - `Persisted` set (etcd's validation found the request in a WAL): it
//!   took effect but the answer was lost. faultline cannot say "certainly
//!   applied, answer unknown", so it stays unknown: weaker, never wrong.
//! - `ClientError` set: a definite refusal (etcd records compaction
//!   errors there): certainly not applied.
//! - Otherwise the response answers the request, with `Revision` as its
//!   header revision (-1, etcd's mark of a compaction or defragmentation
//!   answer that is not linearizable, is "not recorded").
//!
//! A Txn without conditions holding one put (or one delete) and nothing on
//! failure is how etcd's recorder writes a plain Put (Delete): it becomes
//! one again. Range answers say whether more keys matched by their count.

use crate::history::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, EtcdError,
    Event, EventKind, Invalid, KeyValue, LeaseGrantResponse, LeaseRevokeResponse, OpResult,
    PutRequest, PutResponse, RangeRequest, RangeResponse, Request, Response, TxnOp, TxnOpResponse,
    TxnRequest, TxnResponse, WatchRequest, WatchResponse, prefix_end,
};

use super::format::{self as f, OperationType, RequestType};
use super::value;

/// etcd's `RevisionForNonLinearizableResponse`.
const NOT_LINEARIZABLE: i64 = -1;
/// etcd's texts of the two compaction refusals (`mvcc.ErrCompacted`, `mvcc.ErrFutureRev`).
const ERR_COMPACTED: &str = "mvcc: required revision has been compacted";
const ERR_FUTURE_REV: &str = "mvcc: required revision is a future revision";

/// What one recorded operation becomes.
pub enum Converted {
    Operation {
        request: Request,
        result: OpResult,
    },
    /// A defragmentation: no request of faultline's history (it changes no
    /// key, and etcd's model answers it outside linearizability), kept as a note.
    Defragment {
        outcome: String,
    },
}

pub fn operation(op: &f::KvOperation) -> Result<Converted, String> {
    let out = &op.output;
    let kind = op
        .input
        .kind
        .ok_or("Input.Type is missing; expected range, txn, leaseGrant, leaseRevoke, defragment or compact")?;
    if kind == RequestType::Defragment {
        let outcome = if out.error.is_empty() {
            "ok".to_string()
        } else {
            format!("error: {}", out.error)
        };
        return Ok(Converted::Defragment { outcome });
    }
    let request = request(&op.input, kind)?;
    let result = if !out.error.is_empty() {
        OpResult::Unknown(out.error.clone())
    } else if out.persisted {
        OpResult::Unknown(match out.persisted_revision {
            0 => "persisted (etcd's validation), answer not recorded".to_string(),
            r => format!("persisted at revision {r} (etcd's validation), answer not recorded"),
        })
    } else if !out.client_error.is_empty() {
        OpResult::Fail(refusal(&out.client_error))
    } else {
        OpResult::Ok(response(&request, &op.input, out)?)
    };
    Ok(Converted::Operation { request, result })
}

fn refusal(text: &str) -> EtcdError {
    if text.ends_with(ERR_COMPACTED) {
        // The compact revision is not recorded.
        EtcdError::Compacted {
            compact_revision: 0,
        }
    } else if text.ends_with(ERR_FUTURE_REV) {
        EtcdError::FutureRevision
    } else if let Some(invalid) = Invalid::from_message(text) {
        EtcdError::Invalid(invalid)
    } else {
        EtcdError::Other(text.to_string())
    }
}

fn request(input: &f::EtcdRequest, kind: RequestType) -> Result<Request, String> {
    Ok(match kind {
        RequestType::Range => {
            let r = input
                .range
                .as_ref()
                .ok_or("Input.Range is null; expected a range request")?;
            Request::Range(RangeRequest {
                revision: r.revision,
                ..range_options(&r.options)
            })
        }
        RequestType::Txn => {
            let t = input
                .txn
                .as_ref()
                .ok_or("Input.Txn is null; expected a txn request")?;
            txn_request(t)?
        }
        RequestType::LeaseGrant => {
            input
                .lease_grant
                .as_ref()
                .ok_or("Input.LeaseGrant is null; expected a lease grant request")?;
            // The recorded LeaseID is the one the server granted (0 when the
            // client got no answer): the client let the server choose it.
            // The TTL is not recorded.
            Request::LeaseGrant { id: 0, ttl: 0 }
        }
        RequestType::LeaseRevoke => {
            let l = input
                .lease_revoke
                .as_ref()
                .ok_or("Input.LeaseRevoke is null; expected a lease revoke request")?;
            Request::LeaseRevoke { id: l.lease_id }
        }
        RequestType::Compact => {
            let c = input
                .compact
                .as_ref()
                .ok_or("Input.Compact is null; expected a compact request")?;
            Request::Compact {
                revision: c.revision,
            }
        }
        // Handled by the caller: no request of faultline's history.
        RequestType::Defragment => return Err("a defragment has no faultline request".into()),
    })
}

fn range_options(o: &f::RangeOptions) -> RangeRequest {
    RangeRequest {
        key: o.start.clone(),
        range_end: o.end.clone(),
        limit: o.limit,
        keys_only: o.keys_only,
        ..Default::default()
    }
}

fn txn_request(t: &f::TxnRequest) -> Result<Request, String> {
    if t.conditions.is_empty() && t.on_failure.is_empty() && t.on_success.len() == 1 {
        match txn_op(&t.on_success[0], "OperationsOnSuccess[0]")? {
            TxnOp::Put(p) => return Ok(Request::Put(p)),
            TxnOp::DeleteRange(d) => return Ok(Request::DeleteRange(d)),
            _ => {}
        }
    }
    let compare = t.conditions.iter().map(condition).collect();
    let ops = |list: &[f::EtcdOperation], name: &str| {
        list.iter()
            .enumerate()
            .map(|(i, o)| txn_op(o, &format!("{name}[{i}]")))
            .collect::<Result<Vec<_>, String>>()
    };
    Ok(Request::Txn(TxnRequest {
        compare,
        success: ops(&t.on_success, "OperationsOnSuccess")?,
        failure: ops(&t.on_failure, "OperationsOnFailure")?,
    }))
}

/// etcd's model: a version compare when `ExpectedVersion` > 0, else a mod
/// revision compare (0 = the key does not exist).
fn condition(c: &f::EtcdCondition) -> Compare {
    let target = if c.expected_version > 0 {
        CompareTarget::Version(c.expected_version)
    } else {
        CompareTarget::ModRevision(c.expected_revision)
    };
    Compare {
        key: c.key.clone(),
        range_end: String::new(),
        target,
        result: CompareResult::Equal,
    }
}

fn txn_op(o: &f::EtcdOperation, at: &str) -> Result<TxnOp, String> {
    let kind = o.kind.ok_or_else(|| {
        format!("Input.Txn.{at}.Type is missing; expected range-operation, put-operation or delete-operation")
    })?;
    Ok(match kind {
        OperationType::Range => TxnOp::Range(range_options(&o.range)),
        OperationType::Put => TxnOp::Put(PutRequest {
            key: o.put.key.clone(),
            value: value::to_history(&o.put.value)
                .ok_or_else(|| format!("Input.Txn.{at}.Put.Value has both Value and Hash"))?,
            lease: o.put.lease_id,
            ..Default::default()
        }),
        OperationType::Delete => TxnOp::DeleteRange(DeleteRangeRequest {
            key: o.delete.key.clone(),
            ..Default::default()
        }),
    })
}

fn header(revision: i64) -> Result<i64, String> {
    match revision {
        NOT_LINEARIZABLE => Ok(0),
        r if r < 0 => Err(format!(
            "Output.Revision is {r}; expected a revision >= 0 (or -1)"
        )),
        r => Ok(r),
    }
}

fn response(
    request: &Request,
    input: &f::EtcdRequest,
    out: &f::MaybeEtcdResponse,
) -> Result<Response, String> {
    let header_revision = header(out.revision)?;
    let missing = |field: &str, kind: &str| {
        format!(
            "Output.{field} is null for a {kind} request without Error or ClientError; expected its response"
        )
    };
    Ok(match request {
        Request::Range(_) => {
            let r = out
                .range
                .as_ref()
                .ok_or_else(|| missing("Range", "range"))?;
            Response::Range(RangeResponse {
                header_revision,
                ..range_response(&r.kvs, r.count, "Output.Range")?
            })
        }
        Request::Put(_) | Request::DeleteRange(_) | Request::Txn(_) => {
            let t = out.txn.as_ref().ok_or_else(|| missing("Txn", "txn"))?;
            txn_response(request, t, header_revision)?
        }
        Request::LeaseGrant { .. } => {
            out.lease_grant
                .as_ref()
                .ok_or_else(|| missing("LeaseGrant", "leaseGrant"))?;
            // etcd's recorder keeps the granted id in the request.
            let id = input.lease_grant.as_ref().map_or(0, |l| l.lease_id);
            if id == 0 {
                return Err("Input.LeaseGrant.LeaseID is 0 in a grant that was answered; expected the granted lease id".into());
            }
            Response::LeaseGrant(LeaseGrantResponse {
                header_revision,
                id,
                // Not recorded (`Recorded::lease_ttl`).
                ttl: 0,
            })
        }
        Request::LeaseRevoke { .. } => {
            out.lease_revoke
                .as_ref()
                .ok_or_else(|| missing("LeaseRevoke", "leaseRevoke"))?;
            Response::LeaseRevoke(LeaseRevokeResponse { header_revision })
        }
        Request::Compact { .. } => {
            out.compact
                .as_ref()
                .ok_or_else(|| missing("Compact", "compact"))?;
            Response::Compact(crate::history::CompactResponse { header_revision })
        }
        Request::LeaseKeepAlive { .. } | Request::LeaseTimeToLive { .. } => {
            return Err("etcd's format has no keep-alive or time-to-live".into());
        }
    })
}

fn range_response(kvs: &[f::KeyValue], count: i64, at: &str) -> Result<RangeResponse, String> {
    let kvs = kvs
        .iter()
        .enumerate()
        .map(|(i, kv)| key_value(&kv.key, &kv.value, &format!("{at}.KVs[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    // etcd sets `more` exactly when fewer keys came back than matched.
    let more = (kvs.len() as i64) < count;
    Ok(RangeResponse {
        header_revision: 0,
        kvs,
        more,
        count,
    })
}

/// A key-value as etcd records it: no create revision, no lease (0 here,
/// and `Recorded` tells the checks not to compare them).
fn key_value(key: &str, v: &f::ValueRevision, at: &str) -> Result<KeyValue, String> {
    Ok(KeyValue {
        key: key.to_string(),
        value: value::to_history(&v.value)
            .ok_or_else(|| format!("{at}.Value has both Value and Hash"))?,
        create_revision: 0,
        mod_revision: v.mod_revision,
        version: v.version,
        lease: 0,
        ttl: 0,
    })
}

fn txn_response(
    request: &Request,
    t: &f::TxnResponse,
    header_revision: i64,
) -> Result<Response, String> {
    let single = |expected: &str| -> Result<&f::EtcdOperationResult, String> {
        match t.results.as_slice() {
            [one] if !t.failure => Ok(one),
            _ => Err(format!(
                "Output.Txn of a {expected} has {} results (Failure {}); expected one result of a succeeded txn",
                t.results.len(),
                t.failure
            )),
        }
    };
    Ok(match request {
        Request::Put(_) => {
            single("put")?;
            Response::Put(PutResponse {
                header_revision,
                prev_kv: None,
            })
        }
        Request::DeleteRange(_) => Response::DeleteRange(DeleteRangeResponse {
            header_revision,
            deleted: single("delete")?.deleted,
            prev_kvs: vec![],
        }),
        Request::Txn(txn) => {
            let branch = if t.failure {
                &txn.failure
            } else {
                &txn.success
            };
            if branch.len() != t.results.len() {
                return Err(format!(
                    "Output.Txn.Results has {} results but the {} branch has {} operations",
                    t.results.len(),
                    if t.failure { "failure" } else { "success" },
                    branch.len()
                ));
            }
            let responses = branch
                .iter()
                .zip(&t.results)
                .enumerate()
                .map(|(i, (op, r))| {
                    Ok(match op {
                        TxnOp::Range(_) => TxnOpResponse::Range(range_response(
                            &r.kvs,
                            r.count,
                            &format!("Output.Txn.Results[{i}]"),
                        )?),
                        TxnOp::Put(_) => TxnOpResponse::Put(PutResponse::default()),
                        TxnOp::DeleteRange(_) => TxnOpResponse::DeleteRange(DeleteRangeResponse {
                            deleted: r.deleted,
                            ..Default::default()
                        }),
                        TxnOp::Txn(_) => {
                            return Err("nested txns do not exist in etcd's format".to_string());
                        }
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Response::Txn(TxnResponse {
                header_revision,
                succeeded: !t.failure,
                responses,
            })
        }
        _ => return Err("a txn response answers a request that is not a txn".into()),
    })
}

/// The watch request: a key, or a prefix.
pub fn watch_request(r: &f::WatchRequest) -> WatchRequest {
    WatchRequest {
        key: r.key.clone(),
        range_end: if r.with_prefix {
            prefix_end(&r.key)
        } else {
            String::new()
        },
        start_revision: r.revision,
        prev_kv: r.with_prev_kv,
        progress_notify: r.with_progress_notify,
        filter_put: false,
        filter_delete: false,
    }
}

pub fn watch_response(r: &f::WatchResponse, at: &str) -> Result<WatchResponse, String> {
    let time = u64::try_from(r.time)
        .map_err(|_| format!("{at}.Time is {}; expected nanoseconds >= 0", r.time))?;
    let events = r
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| event(e, &format!("{at}.Events[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WatchResponse {
        at: time,
        header_revision: r.revision,
        events,
        progress_notify: r.is_progress_notify,
        // clientv3 reports a cancel (compaction, or another reason) as the
        // response's error; the compact revision is not recorded (0).
        canceled: !r.error.is_empty(),
        compact_revision: 0,
        cancel_reason: r.error.clone(),
        requested_progress: false,
    })
}

/// An event: etcd records kind, key, value, mod revision and IsCreate, and
/// the previous value's value, mod revision and version. A created key's
/// create revision is its mod revision and its version 1; otherwise both
/// are not recorded (0).
fn event(e: &f::WatchEvent, at: &str) -> Result<Event, String> {
    let kind = match e.kind {
        Some(OperationType::Put) => EventKind::Put,
        Some(OperationType::Delete) => EventKind::Delete,
        _ => {
            return Err(format!(
                "{at}.Type is {:?}; expected put-operation or delete-operation",
                e.kind
            ));
        }
    };
    let value =
        value::to_history(&e.value).ok_or_else(|| format!("{at}.Value has both Value and Hash"))?;
    let created = kind == EventKind::Put && e.is_create;
    let kv = KeyValue {
        key: e.key.clone(),
        value,
        create_revision: if created { e.revision } else { 0 },
        mod_revision: e.revision,
        version: i64::from(created),
        lease: 0,
        ttl: 0,
    };
    let prev_kv = match &e.prev_value {
        Some(p) => Some(key_value(&e.key, p, &format!("{at}.PrevValue"))?),
        None => None,
    };
    Ok(Event { kind, kv, prev_kv })
}
