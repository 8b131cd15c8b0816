//! Events of one revision come in the order the revision wrote them (etcd's
//! sub-revisions): a transaction's operations in order, nested transactions
//! in place, a range delete's and a lease's keys in key order. Watches that
//! follow that order pass; a watch that delivers a known order wrongly fails
//! `watch.reliable` (and `watch.resumable` when it starts there); where the
//! order is not certain (a transaction with an unknown outcome) any order passes.

mod support;

use checker::history::{
    DeleteRangeRequest, EndState, History, OpResult, PutRequest, Request, TxnOp, TxnRequest,
    WatchRecord,
};
use checker::models::etcd::exec;
use checker::{CheckOptions, check_run};
use support::build::{Builder, watch_prefix};

fn put_op(key: &str, value: &str) -> TxnOp {
    TxnOp::Put(PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    })
}

fn txn(success: Vec<TxnOp>) -> Request {
    Request::Txn(TxnRequest {
        compare: vec![],
        success,
        failure: vec![],
    })
}

/// Rules that did not pass: failed ones by name, undecided ones as "?name".
fn failed(history: &History, end: &EndState) -> Vec<String> {
    check_run(history, end, &CheckOptions::default())
        .results
        .iter()
        .filter(|r| !r.verdict.is_pass())
        .map(|r| match r.verdict.violation() {
            Some(_) => r.property.clone(),
            None => format!("?{}", r.property),
        })
        .collect()
}

/// Keys of the events a watch delivered at `rev`, in delivery order.
fn keys_at(w: &WatchRecord, rev: i64) -> Vec<String> {
    w.events()
        .map(|(_, e)| e)
        .filter(|e| e.kv.mod_revision == rev)
        .map(|e| e.kv.key.clone())
        .collect()
}

/// Reverses the events of the response carrying revision `rev`.
fn reverse_at(w: &mut WatchRecord, rev: i64) {
    let r = w
        .responses
        .iter_mut()
        .find(|r| r.events.first().is_some_and(|e| e.kv.mod_revision == rev))
        .expect("a response at that revision");
    r.events.reverse();
}

/// /a/x at 2; at 3 a transaction puts /a/z, then (nested) /a/m, then /a/b;
/// /a/c at 4.
fn txn_base() -> Builder {
    let mut b = Builder::new();
    b.put("/a/x", "1");
    b.run(
        1,
        txn(vec![
            put_op("/a/z", "1"),
            TxnOp::Txn(TxnRequest {
                compare: vec![],
                success: vec![put_op("/a/m", "1")],
                failure: vec![],
            }),
            put_op("/a/b", "1"),
        ]),
    );
    b.put("/a/c", "1");
    b
}

fn watched(b: Builder, start: i64, change: impl FnOnce(&mut WatchRecord)) -> Vec<String> {
    let mut w = b.watch(1, watch_prefix("/a/", start), 1);
    change(&mut w);
    let (mut h, end) = b.finish();
    h.watches.push(w);
    failed(&h, &end)
}

#[test]
fn a_transaction_s_events_come_in_write_order() {
    let b = txn_base();
    let w = b.watch(1, watch_prefix("/a/", 3), 1);
    assert_eq!(keys_at(&w, 3), ["/a/z", "/a/m", "/a/b"]);
    assert!(watched(txn_base(), 3, |_| {}).is_empty());
    assert!(watched(txn_base(), 2, |_| {}).is_empty());
}

#[test]
fn key_order_instead_of_write_order_breaks_reliable() {
    let sort = |w: &mut WatchRecord| {
        for r in &mut w.responses {
            r.events.sort_by(|a, b| a.kv.key.cmp(&b.kv.key));
        }
    };
    // From an earlier revision: only the order inside revision 3 is wrong.
    assert_eq!(watched(txn_base(), 2, sort), ["watch.reliable"]);
    // From revision 3: the first event is wrong too.
    assert_eq!(
        watched(txn_base(), 3, sort),
        ["watch.reliable", "watch.resumable"]
    );
}

#[test]
fn the_wrong_order_is_explained() {
    let b = txn_base();
    let mut w = b.watch(1, watch_prefix("/a/", 2), 1);
    reverse_at(&mut w, 3);
    let (mut h, end) = b.finish();
    h.watches.push(w);
    let report = check_run(&h, &end, &CheckOptions::default());
    let reliable = report
        .results
        .iter()
        .find(|r| r.property == "watch.reliable")
        .and_then(|r| r.verdict.violation())
        .expect("a reliable violation");
    assert!(
        reliable
            .explanation
            .contains("revision 3 wrote \"/a/m\" first"),
        "{}",
        reliable.explanation
    );
}

#[test]
fn a_range_delete_and_a_revoke_delete_in_key_order() {
    let mut b = Builder::new();
    b.run(1, Request::LeaseGrant { id: 7, ttl: 5 });
    for k in ["/a/q", "/a/d", "/a/k"] {
        b.run(
            1,
            Request::Put(PutRequest {
                key: k.into(),
                value: "1".into(),
                lease: 7,
                ..Default::default()
            }),
        );
    }
    let revoked = b.revision() + 1;
    b.run(1, Request::LeaseRevoke { id: 7 });
    for k in ["/a/z", "/a/b"] {
        b.put(k, "1");
    }
    let deleted = b.revision() + 1;
    b.run(
        1,
        Request::DeleteRange(DeleteRangeRequest {
            key: "/a/".into(),
            range_end: "/a0".into(),
            prev_kv: false,
        }),
    );
    let w = b.watch(1, watch_prefix("/a/", 2), 1);
    assert_eq!(keys_at(&w, revoked), ["/a/d", "/a/k", "/a/q"]);
    assert_eq!(keys_at(&w, deleted), ["/a/b", "/a/z"]);
    let mut reversed = w.clone();
    reverse_at(&mut reversed, deleted);
    let (mut h, end) = b.finish();
    h.watches.push(w);
    assert!(failed(&h, &end).is_empty());
    h.watches[0] = reversed;
    assert_eq!(failed(&h, &end), ["watch.reliable"]);
}

/// A transaction whose outcome the client never learned, though a watch saw
/// it: which branch it took is the checker's inference, so any order of its
/// events passes.
#[test]
fn an_unknown_transaction_s_events_compare_as_a_set() {
    let build = || {
        let mut b = Builder::new();
        b.put("/a/x", "1");
        let request = txn(vec![put_op("/a/z", "1"), put_op("/a/b", "1")]);
        exec::execute(&mut b.store, &request, None).expect("the transaction applies");
        b.fake(1, request, OpResult::Unknown("timeout".into()));
        b.put("/a/c", "1");
        b
    };
    assert!(watched(build(), 3, |_| {}).is_empty());
    assert!(watched(build(), 3, |w| reverse_at(w, 3)).is_empty());
    assert!(watched(build(), 2, |w| reverse_at(w, 3)).is_empty());
}
