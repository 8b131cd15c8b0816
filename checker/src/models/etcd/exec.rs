//! etcd's request semantics: what a request does to the store and what it
//! answers. Requests that fail leave the store unchanged.

use crate::history::{
    CompactResponse, Compare, CompareResult, CompareTarget, DeleteRangeRequest,
    DeleteRangeResponse, EtcdError, KeySpan, KeyValue, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, PutRequest, PutResponse, RangeResponse, Recorded,
    Request, Response, TxnOp, TxnOpResponse, TxnRequest, TxnResponse,
};

use super::range::{range, read_revision};
use super::store::Store;

/// Executes `request`. `grant_id` is the lease id a grant without a requested
/// id obtained (taken from its response, or chosen by the search).
pub fn execute(
    store: &mut Store,
    request: &Request,
    grant_id: Option<i64>,
) -> Result<Response, EtcdError> {
    match request {
        Request::Range(r) => range(store, r, store.revision()).map(Response::Range),
        Request::Put(p) => {
            let txn = single_op_txn(TxnOp::Put(p.clone()));
            let resp = txn_exec(store, &txn)?;
            Ok(Response::Put(match resp.responses.into_iter().next() {
                Some(TxnOpResponse::Put(mut p)) => {
                    p.header_revision = resp.header_revision;
                    p
                }
                _ => PutResponse::default(),
            }))
        }
        Request::DeleteRange(d) => {
            let txn = single_op_txn(TxnOp::DeleteRange(d.clone()));
            let resp = txn_exec(store, &txn)?;
            Ok(Response::DeleteRange(
                match resp.responses.into_iter().next() {
                    Some(TxnOpResponse::DeleteRange(mut d)) => {
                        d.header_revision = resp.header_revision;
                        d
                    }
                    _ => DeleteRangeResponse::default(),
                },
            ))
        }
        Request::Txn(t) => txn_exec(store, t).map(Response::Txn),
        Request::Compact { revision } => {
            if *revision > store.revision() {
                return Err(EtcdError::FutureRevision);
            }
            if *revision <= store.compact_revision() {
                return Err(EtcdError::Compacted {
                    compact_revision: store.compact_revision(),
                });
            }
            store.set_compact_revision(*revision);
            Ok(Response::Compact(CompactResponse {
                header_revision: store.revision(),
            }))
        }
        Request::LeaseGrant { id, ttl } => {
            let id = if *id != 0 {
                *id
            } else {
                grant_id.ok_or_else(|| EtcdError::Other("lease id not known".into()))?
            };
            if store.lease(id).is_some() {
                return Err(EtcdError::Other("lease already exists".into()));
            }
            store.grant(id, *ttl);
            Ok(Response::LeaseGrant(LeaseGrantResponse {
                header_revision: store.revision(),
                id,
                ttl: *ttl,
            }))
        }
        Request::LeaseRevoke { id } => {
            if store.lease(*id).is_none() {
                return Err(EtcdError::LeaseNotFound);
            }
            expire_lease(store, *id);
            Ok(Response::LeaseRevoke(LeaseRevokeResponse {
                header_revision: store.revision(),
            }))
        }
        Request::LeaseKeepAlive { id } => match store.lease(*id) {
            None => Err(EtcdError::LeaseNotFound),
            Some(l) => Ok(Response::LeaseKeepAlive(LeaseKeepAliveResponse {
                header_revision: store.revision(),
                ttl: l.ttl,
            })),
        },
        Request::LeaseTimeToLive { id } => {
            let (ttl, keys, granted_ttl) = match store.lease(*id) {
                None => (-1, vec![], 0),
                Some(l) => (l.ttl, l.keys.iter().cloned().collect(), l.ttl),
            };
            Ok(Response::LeaseTimeToLive(LeaseTimeToLiveResponse {
                header_revision: store.revision(),
                ttl,
                keys,
                granted_ttl,
            }))
        }
    }
}

/// Revokes or expires a lease: its keys are deleted at one new revision (if it
/// has any), then the lease is gone.
pub fn expire_lease(store: &mut Store, id: i64) {
    let keys: Vec<String> = store
        .lease(id)
        .map(|l| l.keys.iter().cloned().collect())
        .unwrap_or_default();
    if !keys.is_empty() {
        let rev = store.revision() + 1;
        for k in &keys {
            store.delete(k, rev);
        }
        store.set_revision(rev);
    }
    store.remove_lease(id);
}

fn single_op_txn(op: TxnOp) -> TxnRequest {
    TxnRequest {
        compare: vec![],
        success: vec![op],
        failure: vec![],
    }
}

/// Which branch each (nested) transaction takes, decided before any write as
/// etcd does: nested compares see the state from before the outer transaction.
struct Path {
    succeeded: bool,
    nested: Vec<Path>,
}

fn choose_path(store: &Store, t: &TxnRequest) -> Path {
    let succeeded = t.compare.iter().all(|c| compare_holds(store, c));
    let branch = if succeeded { &t.success } else { &t.failure };
    let nested = branch
        .iter()
        .filter_map(|op| match op {
            TxnOp::Txn(inner) => Some(choose_path(store, inner)),
            _ => None,
        })
        .collect();
    Path { succeeded, nested }
}

/// The leases the puts of the branches a transaction would take now attach
/// keys to.
pub fn txn_leases(store: &Store, t: &TxnRequest) -> Vec<i64> {
    fn collect(t: &TxnRequest, path: &Path, out: &mut Vec<i64>) {
        let branch = if path.succeeded {
            &t.success
        } else {
            &t.failure
        };
        let mut nested = path.nested.iter();
        for op in branch {
            match op {
                TxnOp::Put(p) if p.lease != 0 && !p.ignore_lease => out.push(p.lease),
                TxnOp::Txn(inner) => {
                    if let Some(p) = nested.next() {
                        collect(inner, p, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    collect(t, &choose_path(store, t), &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// The first error the chosen path raises before anything is written.
fn check_path(store: &Store, t: &TxnRequest, path: &Path) -> Result<(), EtcdError> {
    let branch = if path.succeeded {
        &t.success
    } else {
        &t.failure
    };
    let mut nested = path.nested.iter();
    for op in branch {
        match op {
            TxnOp::Range(r) => {
                read_revision(store, r, store.revision())?;
            }
            TxnOp::Put(p) => check_put(store, p)?,
            TxnOp::DeleteRange(_) => {}
            TxnOp::Txn(inner) => {
                if let Some(p) = nested.next() {
                    check_path(store, inner, p)?;
                }
            }
        }
    }
    Ok(())
}

fn check_put(store: &Store, p: &PutRequest) -> Result<(), EtcdError> {
    if p.ignore_value || p.ignore_lease {
        if p.ignore_value && !p.value.is_empty() {
            return Err(EtcdError::Other("value provided with ignore_value".into()));
        }
        if p.ignore_lease && p.lease != 0 {
            return Err(EtcdError::Other("lease provided with ignore_lease".into()));
        }
        if store.get(&p.key).is_none() {
            return Err(EtcdError::Other("key not found".into()));
        }
    }
    if !p.ignore_lease && p.lease != 0 && store.lease(p.lease).is_none() {
        return Err(EtcdError::LeaseNotFound);
    }
    Ok(())
}

fn txn_exec(store: &mut Store, t: &TxnRequest) -> Result<TxnResponse, EtcdError> {
    let path = choose_path(store, t);
    check_path(store, t, &path)?;
    let begin = store.revision();
    let mut changed = false;
    let mut resp = run_branch(store, t, &path, begin, &mut changed);
    if changed {
        store.set_revision(begin + 1);
    }
    resp.header_revision = store.revision();
    Ok(resp)
}

fn run_branch(
    store: &mut Store,
    t: &TxnRequest,
    path: &Path,
    begin: i64,
    changed: &mut bool,
) -> TxnResponse {
    let branch = if path.succeeded {
        &t.success
    } else {
        &t.failure
    };
    let mut nested = path.nested.iter();
    let mut responses = Vec::with_capacity(branch.len());
    for op in branch {
        let now = if *changed { begin + 1 } else { begin };
        let r = match op {
            TxnOp::Range(r) => TxnOpResponse::Range(range(store, r, now).unwrap_or_default()),
            TxnOp::Put(p) => TxnOpResponse::Put(put(store, p, begin + 1, changed)),
            TxnOp::DeleteRange(d) => {
                TxnOpResponse::DeleteRange(delete_range(store, d, now, begin + 1, changed))
            }
            TxnOp::Txn(inner) => match nested.next() {
                Some(p) => TxnOpResponse::Txn(run_branch(store, inner, p, begin, changed)),
                None => TxnOpResponse::Txn(TxnResponse::default()),
            },
        };
        responses.push(r);
    }
    TxnResponse {
        header_revision: 0,
        succeeded: path.succeeded,
        responses,
    }
}

fn put(store: &mut Store, p: &PutRequest, rev: i64, changed: &mut bool) -> PutResponse {
    let prev = store.get(&p.key).cloned();
    let value = if p.ignore_value {
        prev.as_ref()
            .and_then(|v| v.value.clone())
            .unwrap_or_default()
    } else {
        p.value.clone()
    };
    let lease = if p.ignore_lease {
        prev.as_ref().map(|v| v.lease).unwrap_or(0)
    } else {
        p.lease
    };
    store.put(&p.key, value, lease, p.ttl.max(0), rev);
    *changed = true;
    PutResponse {
        header_revision: 0,
        prev_kv: if p.prev_kv {
            prev.map(|v| v.to_key_value(&p.key))
        } else {
            None
        },
    }
}

fn delete_range(
    store: &mut Store,
    d: &DeleteRangeRequest,
    now: i64,
    rev: i64,
    changed: &mut bool,
) -> DeleteRangeResponse {
    let doomed: Vec<KeyValue> = store
        .range_at(d.span(), now)
        .map(|(k, v)| v.to_key_value(k))
        .collect();
    for kv in &doomed {
        store.delete(&kv.key, rev);
    }
    if !doomed.is_empty() {
        *changed = true;
    }
    DeleteRangeResponse {
        header_revision: 0,
        deleted: doomed.len() as i64,
        prev_kvs: if d.prev_kv { doomed } else { vec![] },
    }
}

/// etcd's compare: over every key of a range; an empty range compares as an
/// absent key (version, revisions and lease 0), except that a value compare fails.
pub fn compare_holds(store: &Store, c: &Compare) -> bool {
    let rev = store.revision();
    let mut any = false;
    for (_, v) in store.range_at(c.span(), rev) {
        any = true;
        let ok = match &c.target {
            CompareTarget::Value(x) => {
                ordering_ok(v.value.as_deref().unwrap_or("").cmp(x.as_str()), c.result)
            }
            CompareTarget::Version(x) => ordering_ok(v.version.cmp(x), c.result),
            CompareTarget::CreateRevision(x) => ordering_ok(v.create_revision.cmp(x), c.result),
            CompareTarget::ModRevision(x) => ordering_ok(v.mod_revision.cmp(x), c.result),
            CompareTarget::Lease(x) => ordering_ok(v.lease.cmp(x), c.result),
        };
        if !ok {
            return false;
        }
    }
    if any {
        return true;
    }
    match &c.target {
        CompareTarget::Value(_) => false,
        CompareTarget::Version(x)
        | CompareTarget::CreateRevision(x)
        | CompareTarget::ModRevision(x)
        | CompareTarget::Lease(x) => ordering_ok(0.cmp(x), c.result),
    }
}

fn ordering_ok(ord: std::cmp::Ordering, result: CompareResult) -> bool {
    use std::cmp::Ordering::*;
    match result {
        CompareResult::Equal => ord == Equal,
        CompareResult::NotEqual => ord != Equal,
        CompareResult::Greater => ord == Greater,
        CompareResult::Less => ord == Less,
    }
}

/// Whether an observed answer is the one the model computed. Headers of
/// responses nested in a transaction, keep-alive and time-to-live headers, and
/// headers recorded as 0 are not compared; lease TTLs only for sign (and not
/// at all when the source did not record them); key-values in the fields the
/// source recorded.
pub fn response_matches(expected: &Response, actual: &Response, recorded: Recorded) -> bool {
    let header_ok = |e: i64, a: i64| a == 0 || a == e;
    match (expected, actual) {
        (Response::Range(e), Response::Range(a)) => {
            header_ok(e.header_revision, a.header_revision) && range_matches(e, a, recorded)
        }
        (Response::Put(e), Response::Put(a)) => {
            header_ok(e.header_revision, a.header_revision)
                && prev_kv_matches(&e.prev_kv, &a.prev_kv, recorded)
        }
        (Response::DeleteRange(e), Response::DeleteRange(a)) => {
            header_ok(e.header_revision, a.header_revision) && delete_matches(e, a, recorded)
        }
        (Response::Txn(e), Response::Txn(a)) => {
            header_ok(e.header_revision, a.header_revision) && txn_matches(e, a, recorded)
        }
        (Response::Compact(e), Response::Compact(a)) => {
            header_ok(e.header_revision, a.header_revision)
        }
        (Response::LeaseGrant(e), Response::LeaseGrant(a)) => {
            header_ok(e.header_revision, a.header_revision)
                && e.id == a.id
                && (a.ttl > 0 || !recorded.lease_ttl)
        }
        (Response::LeaseRevoke(e), Response::LeaseRevoke(a)) => {
            header_ok(e.header_revision, a.header_revision)
        }
        (Response::LeaseKeepAlive(_), Response::LeaseKeepAlive(a)) => a.ttl > 0,
        (Response::LeaseTimeToLive(e), Response::LeaseTimeToLive(a)) => {
            e.not_found() == a.not_found() && (a.keys.is_empty() || sorted(&a.keys) == e.keys)
        }
        _ => false,
    }
}

fn sorted(keys: &[String]) -> Vec<String> {
    let mut k = keys.to_vec();
    k.sort();
    k
}

/// A range's answer as built, key-value by key-value. A sorted range's keys
/// that tie on the sort target are compared in key order here (the order
/// the model builds): only a range outside a transaction is judged against
/// the store itself, where any order of a tie passes (`range::range_answers`).
fn range_matches(e: &RangeResponse, a: &RangeResponse, recorded: Recorded) -> bool {
    recorded.kvs_agree(&a.kvs, &e.kvs) && e.more == a.more && e.count == a.count
}

fn delete_matches(e: &DeleteRangeResponse, a: &DeleteRangeResponse, recorded: Recorded) -> bool {
    e.deleted == a.deleted && recorded.kvs_agree(&a.prev_kvs, &e.prev_kvs)
}

fn prev_kv_matches(e: &Option<KeyValue>, a: &Option<KeyValue>, recorded: Recorded) -> bool {
    match (e, a) {
        (Some(e), Some(a)) => recorded.kv_agrees(a, e),
        (None, None) => true,
        _ => false,
    }
}

fn txn_matches(e: &TxnResponse, a: &TxnResponse, recorded: Recorded) -> bool {
    e.succeeded == a.succeeded
        && e.responses.len() == a.responses.len()
        && e.responses
            .iter()
            .zip(&a.responses)
            .all(|(e, a)| match (e, a) {
                (TxnOpResponse::Range(e), TxnOpResponse::Range(a)) => range_matches(e, a, recorded),
                (TxnOpResponse::Put(e), TxnOpResponse::Put(a)) => {
                    prev_kv_matches(&e.prev_kv, &a.prev_kv, recorded)
                }
                (TxnOpResponse::DeleteRange(e), TxnOpResponse::DeleteRange(a)) => {
                    delete_matches(e, a, recorded)
                }
                (TxnOpResponse::Txn(e), TxnOpResponse::Txn(a)) => txn_matches(e, a, recorded),
                _ => false,
            })
}

/// Whether an observed error is the one the model computed (a Compacted error's
/// revision only when it was recorded).
pub fn error_matches(expected: &EtcdError, actual: &EtcdError) -> bool {
    match (expected, actual) {
        (
            EtcdError::Compacted {
                compact_revision: e,
            },
            EtcdError::Compacted {
                compact_revision: a,
            },
        ) => *a == 0 || a == e,
        (EtcdError::FutureRevision, EtcdError::FutureRevision)
        | (EtcdError::LeaseNotFound, EtcdError::LeaseNotFound) => true,
        _ => false,
    }
}

/// A time-to-live answer of no such lease and a LeaseNotFound error say the same.
pub fn ttl_not_found(resp: &Response) -> bool {
    matches!(resp, Response::LeaseTimeToLive(r) if r.not_found())
}

/// Every key span the request might write (for durability explanations).
pub fn written_spans(request: &Request) -> Vec<KeySpan<'_>> {
    fn txn_spans<'a>(t: &'a TxnRequest, out: &mut Vec<KeySpan<'a>>) {
        for op in t.success.iter().chain(&t.failure) {
            match op {
                TxnOp::Put(p) => out.push(KeySpan::Single(&p.key)),
                TxnOp::DeleteRange(d) => out.push(d.span()),
                TxnOp::Txn(inner) => txn_spans(inner, out),
                TxnOp::Range(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    match request {
        Request::Put(p) => out.push(KeySpan::Single(&p.key)),
        Request::DeleteRange(d) => out.push(d.span()),
        Request::Txn(t) => txn_spans(t, &mut out),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::RangeRequest;

    fn put_req(key: &str, value: &str) -> Request {
        Request::Put(PutRequest {
            key: key.into(),
            value: value.into(),
            prev_kv: true,
            ..Default::default()
        })
    }

    #[test]
    fn put_bumps_revision_and_returns_prev_kv() {
        let mut s = Store::new();
        let r1 = execute(&mut s, &put_req("a", "1"), None).unwrap();
        assert_eq!(r1.header_revision(), 2);
        let Response::Put(p2) = execute(&mut s, &put_req("a", "2"), None).unwrap() else {
            panic!("not a put response");
        };
        assert_eq!(p2.header_revision, 3);
        let prev = p2.prev_kv.unwrap();
        assert_eq!(
            (prev.value.as_str(), prev.mod_revision, prev.version),
            ("1", 2, 1)
        );
    }

    #[test]
    fn range_with_limit_counts_everything() {
        let mut s = Store::new();
        for k in ["a", "b", "c"] {
            execute(&mut s, &put_req(k, "v"), None).unwrap();
        }
        let req = Request::Range(RangeRequest {
            key: "a".into(),
            range_end: "\0".into(),
            limit: 2,
            ..Default::default()
        });
        let Response::Range(r) = execute(&mut s, &req, None).unwrap() else {
            panic!("not a range response");
        };
        assert_eq!((r.kvs.len(), r.more, r.count), (2, true, 3));
    }

    /// A lease past its deadline and not revoked yet answers a negative TTL,
    /// -1 between one and two seconds late (etcd truncates toward zero):
    /// with its granted TTL that is not "no such lease".
    #[test]
    fn a_late_lease_answering_minus_one_is_not_a_missing_one() {
        let mut s = Store::new();
        execute(&mut s, &Request::LeaseGrant { id: 7, ttl: 5 }, None).unwrap();
        let ttl = Request::LeaseTimeToLive { id: 7 };
        let expected = execute(&mut s, &ttl, None).unwrap();
        let answer = |ttl, granted_ttl| {
            Response::LeaseTimeToLive(LeaseTimeToLiveResponse {
                header_revision: 0,
                ttl,
                keys: vec![],
                granted_ttl,
            })
        };
        let all = Recorded::EVERYTHING;
        assert!(response_matches(&expected, &answer(3, 5), all));
        assert!(response_matches(&expected, &answer(-1, 5), all), "late");
        assert!(!response_matches(&expected, &answer(-1, 0), all), "gone");
        assert!(!ttl_not_found(&answer(-1, 5)));
        assert!(ttl_not_found(&answer(-1, 0)));
    }

    #[test]
    fn range_errors_on_future_and_compacted_revisions() {
        let mut s = Store::new();
        for v in ["1", "2", "3"] {
            execute(&mut s, &put_req("a", v), None).unwrap();
        }
        let at = |rev| {
            Request::Range(RangeRequest {
                key: "a".into(),
                revision: rev,
                ..Default::default()
            })
        };
        assert_eq!(
            execute(&mut s, &at(9), None),
            Err(EtcdError::FutureRevision)
        );
        execute(&mut s, &Request::Compact { revision: 3 }, None).unwrap();
        assert_eq!(
            execute(&mut s, &at(2), None),
            Err(EtcdError::Compacted {
                compact_revision: 3
            })
        );
        assert!(execute(&mut s, &at(3), None).is_ok());
        assert_eq!(
            execute(&mut s, &Request::Compact { revision: 3 }, None),
            Err(EtcdError::Compacted {
                compact_revision: 3
            })
        );
    }

    #[test]
    fn txn_is_one_revision_and_reads_its_own_writes() {
        let mut s = Store::new();
        let txn = Request::Txn(TxnRequest {
            compare: vec![Compare {
                key: "a".into(),
                range_end: String::new(),
                target: CompareTarget::ModRevision(0),
                result: CompareResult::Equal,
            }],
            success: vec![
                TxnOp::Put(PutRequest {
                    key: "a".into(),
                    value: "1".into(),
                    ..Default::default()
                }),
                TxnOp::Put(PutRequest {
                    key: "b".into(),
                    value: "1".into(),
                    ..Default::default()
                }),
                TxnOp::Range(RangeRequest {
                    key: "a".into(),
                    range_end: "\0".into(),
                    ..Default::default()
                }),
            ],
            failure: vec![],
        });
        let Response::Txn(t) = execute(&mut s, &txn, None).unwrap() else {
            panic!("not a txn response");
        };
        assert!(t.succeeded);
        assert_eq!(t.header_revision, 2);
        let TxnOpResponse::Range(r) = &t.responses[2] else {
            panic!("not a range");
        };
        assert_eq!(r.count, 2);
        // The compare now fails: the failure branch is empty, nothing changes.
        let Response::Txn(t2) = execute(&mut s, &txn, None).unwrap() else {
            panic!("not a txn response");
        };
        assert!(!t2.succeeded);
        assert_eq!(t2.header_revision, 2);
    }

    #[test]
    fn value_compare_on_absent_key_fails() {
        let s = Store::new();
        let c = |target, result| Compare {
            key: "x".into(),
            range_end: String::new(),
            target,
            result,
        };
        assert!(!compare_holds(
            &s,
            &c(CompareTarget::Value(String::new()), CompareResult::Equal)
        ));
        assert!(compare_holds(
            &s,
            &c(CompareTarget::Version(0), CompareResult::Equal)
        ));
        assert!(compare_holds(
            &s,
            &c(CompareTarget::ModRevision(1), CompareResult::Less)
        ));
    }

    #[test]
    fn revoke_deletes_attached_keys_at_one_revision() {
        let mut s = Store::new();
        execute(&mut s, &Request::LeaseGrant { id: 5, ttl: 10 }, None).unwrap();
        for k in ["a", "b"] {
            let req = Request::Put(PutRequest {
                key: k.into(),
                value: "v".into(),
                lease: 5,
                ..Default::default()
            });
            execute(&mut s, &req, None).unwrap();
        }
        let r = execute(&mut s, &Request::LeaseRevoke { id: 5 }, None).unwrap();
        assert_eq!(r.header_revision(), 4);
        assert!(s.get("a").is_none() && s.get("b").is_none());
        assert_eq!(
            execute(&mut s, &Request::LeaseRevoke { id: 5 }, None),
            Err(EtcdError::LeaseNotFound)
        );
        let bad = Request::Put(PutRequest {
            key: "c".into(),
            lease: 5,
            ..Default::default()
        });
        assert_eq!(execute(&mut s, &bad, None), Err(EtcdError::LeaseNotFound));
        assert_eq!(s.revision(), 4);
    }
}
