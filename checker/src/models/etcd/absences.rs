//! Intervals in which a key certainly was not written, from reads that
//! returned a whole range without it and transactions whose compares or
//! ranges found it missing.
//!
//! A key a complete read at revision R does not show (or a transaction's
//! compare found missing at R) was absent at R. If
//! nothing but a definite delete can remove it (no put of it ever carried a
//! lease or a TTL, and no request with an unknown outcome may delete it),
//! then after its last definite write at or before R nothing wrote it: a put
//! there would still be visible at R. The search then never tries a write
//! with an unknown outcome of that key there, and the free revisions a
//! write may still fill are counted without them ([`super::slots`]).
//!
//! Only keys that a write whose revision is unknown may put are looked at:
//! those are the writes these intervals rule out.

use std::collections::{HashMap, HashSet};

use super::analysis::for_each_put;
use super::exec::written_spans;
use crate::history::{
    Compare, CompareResult, CompareTarget, History, KeySpan, OpResult, RangeRequest, RangeResponse,
    Request, Response, TxnOp, TxnOpResponse, TxnRequest, TxnResponse,
};

/// A span read completely at a revision, and the keys it showed there.
type Read<'h> = (KeySpan<'h>, i64, HashSet<&'h str>);

/// Per key, the intervals `(from, to]` in which it was certainly not written.
pub fn unwritten_by_absence(history: &History) -> Vec<(&str, i64, i64)> {
    let mut candidates: HashSet<&str> = HashSet::new();
    let mut expiring: HashSet<&str> = HashSet::new();
    let mut uncertain_deletes: Vec<KeySpan<'_>> = Vec::new();
    // Per key, the revisions of its definite puts; definite deletes by span.
    let mut puts: HashMap<&str, Vec<i64>> = HashMap::new();
    let mut deletes: Vec<(KeySpan<'_>, i64)> = Vec::new();
    let mut reads: Vec<Read<'_>> = Vec::new();
    for op in &history.operations {
        if op.request.is_serializable_read() {
            continue;
        }
        for_each_put(&op.request, None, &mut |p| {
            if p.lease != 0 || p.ignore_lease || p.ttl > 0 {
                expiring.insert(p.key.as_str());
            }
        });
        let placed = match &op.result {
            OpResult::Ok(resp) if resp.header_revision() > 0 => Some(resp),
            OpResult::Fail(_) => continue,
            _ => None,
        };
        let Some(resp) = placed else {
            for_each_put(&op.request, None, &mut |p| {
                candidates.insert(p.key.as_str());
            });
            uncertain_deletes.extend(
                written_spans(&op.request)
                    .into_iter()
                    .filter(|s| !matches!(s, KeySpan::Single(_)) || deletes_key(&op.request, s)),
            );
            continue;
        };
        let header = resp.header_revision();
        for_each_put(&op.request, Some(resp), &mut |p| {
            puts.entry(p.key.as_str()).or_default().push(header);
        });
        definite_deletes(&op.request, resp, &mut |span| deletes.push((span, header)));
        match (&op.request, resp) {
            (Request::Range(r), Response::Range(got)) => {
                if let Some(read) = complete_read(r, got, header) {
                    reads.push(read);
                }
            }
            (Request::Txn(t), Response::Txn(got)) => txn_absences(t, got, &mut reads),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for key in candidates {
        if expiring.contains(key) || uncertain_deletes.iter().any(|s| s.contains(key)) {
            continue;
        }
        let key_puts = puts.get(key).map(Vec::as_slice).unwrap_or(&[]);
        for (span, at, shown) in &reads {
            if !span.contains(key) || shown.contains(key) {
                continue;
            }
            let last_put = key_puts.iter().filter(|r| *r <= at).max().copied();
            let last_delete = deletes
                .iter()
                .filter(|(s, r)| r <= at && s.contains(key))
                .map(|(_, r)| *r)
                .max();
            let from = last_put.max(last_delete).unwrap_or(0);
            if from < *at {
                out.push((key, from, *at));
            }
        }
    }
    out
}

/// A complete read (every key of its span returned): the span, the
/// revision it read, and the keys it showed.
fn complete_read<'h>(r: &'h RangeRequest, got: &'h RangeResponse, header: i64) -> Option<Read<'h>> {
    if r.count_only || got.more || got.kvs.len() as i64 != got.count {
        return None;
    }
    let at = if r.revision > 0 { r.revision } else { header };
    let shown = got.kvs.iter().map(|kv| kv.key.as_str()).collect();
    Some((r.span(), at, shown))
}

/// What a definite transaction shows absent. Its compares ran at the
/// revision before its own write (at its header when it wrote nothing):
/// one that holds only for a missing key (version, create or mod revision
/// equal to 0) shows the key absent there when the transaction succeeded,
/// and so does the only compare of a failed transaction that holds only
/// for an existing key. A transaction that wrote nothing read its branch's
/// ranges at its header too (in one that wrote, a range may see the
/// transaction's own writes, which the search places itself).
fn txn_absences<'h>(t: &'h TxnRequest, got: &'h TxnResponse, reads: &mut Vec<Read<'h>>) {
    let header = got.header_revision;
    let read_only = super::read_only_txn(t, got);
    let evaluated_at = if read_only { header } else { header - 1 };
    let absent = |c: &'h Compare, reads: &mut Vec<Read<'h>>| {
        if let KeySpan::Single(key) = c.span() {
            reads.push((KeySpan::Single(key), evaluated_at, HashSet::new()));
        }
    };
    if got.succeeded {
        for c in t
            .compare
            .iter()
            .filter(|c| holds_only_for(c) == Some(Missing))
        {
            absent(c, reads);
        }
    } else if let [c] = t.compare.as_slice()
        && holds_only_for(c) == Some(Existing)
    {
        absent(c, reads);
    }
    if !read_only {
        return;
    }
    let branch = if got.succeeded {
        &t.success
    } else {
        &t.failure
    };
    for (op, resp) in branch.iter().zip(&got.responses) {
        match (op, resp) {
            (TxnOp::Range(r), TxnOpResponse::Range(rr)) => {
                reads.extend(complete_read(r, rr, header));
            }
            (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => txn_absences(inner, ir, reads),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    Missing,
    Existing,
}
use KeyState::{Existing, Missing};

/// Whether a compare holds exactly when its key is missing, or exactly
/// when it exists. etcd compares a missing key's version, create and mod
/// revisions as 0, and an existing key has all three at 1 or more.
fn holds_only_for(c: &Compare) -> Option<KeyState> {
    let n = match c.target {
        CompareTarget::Version(n)
        | CompareTarget::CreateRevision(n)
        | CompareTarget::ModRevision(n) => n,
        CompareTarget::Value(_) | CompareTarget::Lease(_) => return None,
    };
    match (c.result, n) {
        (CompareResult::Equal, 0) | (CompareResult::Less, 1) => Some(Missing),
        (CompareResult::NotEqual, 0) | (CompareResult::Greater, 0) => Some(Existing),
        _ => None,
    }
}

/// Whether `span`, one of the spans `req` may write, is one it may delete
/// (a put only adds a version).
fn deletes_key(req: &Request, span: &KeySpan<'_>) -> bool {
    fn txn(t: &TxnRequest, span: &KeySpan<'_>) -> bool {
        t.success.iter().chain(&t.failure).any(|op| match op {
            TxnOp::DeleteRange(d) => d.span() == *span,
            TxnOp::Txn(inner) => txn(inner, span),
            _ => false,
        })
    }
    match req {
        Request::DeleteRange(d) => d.span() == *span,
        Request::Txn(t) => txn(t, span),
        _ => false,
    }
}

/// The spans a definite answer's request deleted in (the branches that ran).
fn definite_deletes<'h>(req: &'h Request, resp: &Response, f: &mut impl FnMut(KeySpan<'h>)) {
    fn txn<'h>(t: &'h TxnRequest, r: &TxnResponse, f: &mut impl FnMut(KeySpan<'h>)) {
        let branch = if r.succeeded { &t.success } else { &t.failure };
        for (op, resp) in branch.iter().zip(&r.responses) {
            match (op, resp) {
                (TxnOp::DeleteRange(d), _) => f(d.span()),
                (TxnOp::Txn(inner), TxnOpResponse::Txn(ir)) => txn(inner, ir, f),
                _ => {}
            }
        }
    }
    match (req, resp) {
        (Request::DeleteRange(d), _) => f(d.span()),
        (Request::Txn(t), Response::Txn(r)) => txn(t, r, f),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{DeleteRangeRequest, PutRequest};
    use crate::models::etcd::store::Store;
    use crate::models::etcd::testing::{leased, read_everything, record, run, run_unanswered};

    fn put(key: &str) -> Request {
        Request::Put(PutRequest {
            key: key.into(),
            value: "v".into(),
            ..Default::default()
        })
    }

    fn delete(key: &str) -> Request {
        Request::DeleteRange(DeleteRangeRequest {
            key: key.into(),
            ..Default::default()
        })
    }

    /// /u put at 2 and deleted at 3; a put of /u with an unknown outcome
    /// (that did not take effect), `extra`, /x put at 4, and a read of
    /// everything at 4 that shows no /u.
    fn history(extra: Option<(Request, OpResult)>) -> History {
        let mut store = Store::new();
        let mut h = History::default();
        run(&mut store, &mut h, put("/u"));
        run(&mut store, &mut h, delete("/u"));
        record(&mut h, put("/u"), OpResult::Unknown("timeout".into()));
        if let Some((request, result)) = extra {
            record(&mut h, request, result);
        }
        run(&mut store, &mut h, put("/x"));
        read_everything(&mut store, &mut h);
        h
    }

    #[test]
    fn a_key_a_complete_read_does_not_show_was_not_written_since_its_last_definite_write() {
        let h = history(None);
        assert_eq!(unwritten_by_absence(&h), vec![("/u", 3, 4)]);
    }

    #[test]
    fn a_key_an_unknown_request_may_delete_gets_no_interval() {
        let h = history(Some((delete("/u"), OpResult::Unknown("timeout".into()))));
        assert_eq!(unwritten_by_absence(&h), vec![]);
    }

    #[test]
    fn a_key_ever_put_with_a_lease_gets_no_interval() {
        let h = history(Some((leased("/u", 7), OpResult::Unknown("timeout".into()))));
        assert_eq!(unwritten_by_absence(&h), vec![]);
    }

    /// A create of /u if absent, and a read-only transaction whose range
    /// shows /v gone, in place of the complete read.
    #[test]
    fn transactions_that_found_a_key_missing_give_it_an_interval() {
        use crate::history::{Compare, CompareResult, CompareTarget, RangeRequest};
        let mut store = Store::new();
        let mut h = History::default();
        run(&mut store, &mut h, put("/u"));
        run(&mut store, &mut h, delete("/u"));
        run(&mut store, &mut h, put("/v"));
        run(&mut store, &mut h, delete("/v"));
        record(&mut h, put("/u"), OpResult::Unknown("timeout".into()));
        record(&mut h, put("/v"), OpResult::Unknown("timeout".into()));
        run(&mut store, &mut h, put("/x"));
        let missing = |key: &str, target| Compare {
            key: key.into(),
            range_end: String::new(),
            target,
            result: CompareResult::Equal,
        };
        // Compares at 6 (the transaction writes 7); /u missing there.
        let create = TxnRequest {
            compare: vec![missing("/u", CompareTarget::CreateRevision(0))],
            success: vec![TxnOp::Put(PutRequest {
                key: "/w".into(),
                ..Default::default()
            })],
            failure: vec![],
        };
        run(&mut store, &mut h, Request::Txn(create));
        // Writes nothing: its range of /v reads 7.
        let look = TxnRequest {
            compare: vec![missing("/v", CompareTarget::Version(3))],
            success: vec![],
            failure: vec![TxnOp::Range(RangeRequest {
                key: "/v".into(),
                ..Default::default()
            })],
        };
        run(&mut store, &mut h, Request::Txn(look));
        let mut got = unwritten_by_absence(&h);
        got.sort();
        assert_eq!(got, vec![("/u", 3, 6), ("/v", 5, 7)]);
    }

    #[test]
    fn a_key_the_read_shows_gets_no_interval() {
        let mut store = Store::new();
        let mut h = History::default();
        run_unanswered(&mut store, &mut h, put("/u"));
        read_everything(&mut store, &mut h);
        assert_eq!(unwritten_by_absence(&h), vec![]);
    }
}
