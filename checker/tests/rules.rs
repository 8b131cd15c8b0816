//! Every watch rule and contract rule has a history that breaks that rule
//! alone and is reported by exactly that rule's name; the end-state rules and
//! linearizability have breaking histories too.

mod support;

use checker::history::{Compare, CompareResult, CompareTarget};
use checker::history::{
    DeleteRangeRequest, EndState, EtcdError, EventKind, History, Invalid, K8sTag, KeyValue,
    OpResult, Operation, PutRequest, RangeRequest, RangeResponse, Request, Response, TxnOp,
    TxnRequest, WatchRecord, WatchResponse, prefix_end,
};
use checker::rules::*;
use checker::{CheckOptions, Overall, Report, check_run};
use support::build::{Builder, get, optimistic_put, put, watch_prefix};

fn run(history: &History, end: &EndState) -> Report {
    check_run(history, end, &CheckOptions::default())
}

fn failed(history: &History, end: &EndState) -> Vec<String> {
    run(history, end)
        .failed_rules()
        .into_iter()
        .map(String::from)
        .collect()
}

/// Puts, an update, a delete, a two-key transaction and a key outside the
/// watched prefix.
fn kv_base() -> Builder {
    let mut b = Builder::new();
    b.put("/a/x", "1"); // 2
    b.put("/a/y", "1"); // 3
    b.get("/a/x");
    b.put("/a/x", "2"); // 4: an update
    b.delete("/a/y"); // 5
    b.put("/a/z", "1"); // 6
    b.put("/b/q", "1"); // 7: not under /a/
    b.put("/a/x", "3"); // 8
    b.run(
        1,
        Request::Txn(TxnRequest {
            compare: vec![],
            success: vec![
                TxnOp::Put(PutRequest {
                    key: "/a/p".into(),
                    value: "1".into(),
                    ..Default::default()
                }),
                TxnOp::Put(PutRequest {
                    key: "/a/q".into(),
                    value: "1".into(),
                    ..Default::default()
                }),
            ],
            failure: vec![],
        }),
    ); // 9: two keys at one revision
    b
}

/// The base history with one watch on /a/ from revision 2, altered by `change`.
fn with_watch(prev_kv: bool, change: impl FnOnce(&mut WatchRecord)) -> (History, EndState) {
    let b = kv_base();
    let mut req = watch_prefix("/a/", 2);
    req.prev_kv = prev_kv;
    let mut w = b.watch(1, req, 1);
    change(&mut w);
    let (mut h, end) = b.finish();
    h.watches.push(w);
    (h, end)
}

/// Index of the response carrying the events of `rev`.
fn response_at(w: &WatchRecord, rev: i64) -> usize {
    w.responses
        .iter()
        .position(|r| r.events.first().is_some_and(|e| e.kv.mod_revision == rev))
        .unwrap_or_else(|| panic!("no response at revision {rev}"))
}

/// A read called after a write returned, answered from the state just
/// before it (a lagging member's view): the explanation names the read.
#[test]
fn a_read_of_the_past_is_named_as_such() {
    let mut b = kv_base();
    let before = b.revision();
    let write = b.put("/a/x", "4");
    let read = b.fake(
        2,
        get("/a/x"),
        OpResult::Ok(Response::Range(RangeResponse {
            header_revision: before,
            kvs: vec![KeyValue {
                key: "/a/x".into(),
                value: "3".into(),
                create_revision: 2,
                mod_revision: 8,
                version: 3,
                lease: 0,
                ttl: 0,
            }],
            more: false,
            count: 1,
        })),
    );
    b.put("/a/w", "1");
    let (h, end) = b.finish();
    let report = run(&h, &end);
    let v = report
        .result(LINEARIZABILITY)
        .and_then(|r| r.verdict.violation())
        .expect("a violation");
    assert_eq!(v.operations.first(), Some(&read), "{v:?}");
    assert!(v.operations.contains(&write), "{v:?}");
    assert!(v.explanation.contains("read the past"), "{}", v.explanation);
}

#[test]
fn a_correct_history_passes_every_rule() {
    let (h, end) = with_watch(true, |_| {});
    let report = run(&h, &end);
    assert_eq!(report.overall(), Overall::Pass, "{:#?}", report.results);
    assert_eq!(
        report.results.len(),
        checker::rules::checker_rules().count()
    );
}

#[test]
fn linearizability_catches_a_stale_read() {
    let mut b = kv_base();
    let rev = b.revision();
    b.fake(
        2,
        get("/a/x"),
        OpResult::Ok(Response::Range(RangeResponse {
            header_revision: rev,
            kvs: vec![KeyValue {
                key: "/a/x".into(),
                value: "1".into(),
                create_revision: 2,
                mod_revision: 2,
                version: 1,
                lease: 0,
                ttl: 0,
            }],
            more: false,
            count: 1,
        })),
    );
    b.put("/a/w", "1"); // the stale read is not a final read
    let (h, end) = b.finish();
    assert_eq!(failed(&h, &end), vec![LINEARIZABILITY]);
    let report = run(&h, &end);
    let v = report
        .result(LINEARIZABILITY)
        .and_then(|r| r.verdict.violation())
        .unwrap();
    assert!(
        v.operations.contains(&(h.operations.len() as u64 - 2)),
        "{v:?}"
    );
    assert!(!v.longest_prefix.is_empty());
    assert!(
        v.explanation.contains("cannot take effect"),
        "{}",
        v.explanation
    );
}

/// A serializable read that returned before the request that wrote its
/// revision was even called saw the future.
#[test]
fn serializable_read_cannot_report_a_revision_written_after_it() {
    let mut b = kv_base();
    let rev = b.revision();
    let read = b.fake(
        2,
        Request::Range(RangeRequest {
            key: "/a/x".into(),
            serializable: true,
            ..Default::default()
        }),
        OpResult::Ok(Response::Range(RangeResponse {
            header_revision: rev,
            kvs: vec![KeyValue {
                key: "/a/x".into(),
                value: "3".into(),
                create_revision: 2,
                mod_revision: 8,
                version: 3,
                lease: 0,
                ttl: 0,
            }],
            more: false,
            count: 1,
        })),
    );
    let (mut h, end) = b.finish();
    assert!(failed(&h, &end).is_empty(), "{:?}", run(&h, &end));
    let op = &mut h.operations[(read - 1) as usize];
    (op.call, op.ret) = (1, Some(2));
    assert_eq!(failed(&h, &end), vec![READS_SERIALIZABLE]);
}

#[test]
fn serializable_read_must_match_its_revision() {
    let mut b = kv_base();
    let rev = b.revision();
    b.fake(
        2,
        Request::Range(RangeRequest {
            key: "/a/x".into(),
            serializable: true,
            ..Default::default()
        }),
        OpResult::Ok(Response::Range(RangeResponse {
            header_revision: rev,
            kvs: vec![KeyValue {
                key: "/a/x".into(),
                value: "2".into(),
                create_revision: 2,
                mod_revision: 4,
                version: 2,
                lease: 0,
                ttl: 0,
            }],
            more: false,
            count: 1,
        })),
    );
    let (h, end) = b.finish();
    assert_eq!(failed(&h, &end), vec![READS_SERIALIZABLE]);
}

#[test]
fn watch_filter() {
    let (h, end) = with_watch(false, |w| {
        // The put of /b/q at revision 7, delivered in its own response.
        let at = response_at(w, 6) + 1;
        w.responses.insert(
            at,
            WatchResponse {
                at: w.responses[at - 1].at,
                header_revision: 7,
                events: vec![checker::history::Event {
                    kind: EventKind::Put,
                    kv: KeyValue {
                        key: "/b/q".into(),
                        value: "1".into(),
                        create_revision: 7,
                        mod_revision: 7,
                        version: 1,
                        lease: 0,
                        ttl: 0,
                    },
                    prev_kv: None,
                }],
                ..Default::default()
            },
        );
    });
    assert_eq!(failed(&h, &end), vec![WATCH_FILTER]);
}

#[test]
fn watch_ordered() {
    let (h, end) = with_watch(false, |w| {
        // Revision 5's events arrive before revision 4's.
        let (i, j) = (response_at(w, 4), response_at(w, 5));
        let events_i = std::mem::take(&mut w.responses[i].events);
        let events_j = std::mem::replace(&mut w.responses[j].events, events_i);
        w.responses[i].events = events_j;
    });
    assert_eq!(failed(&h, &end), vec![WATCH_ORDERED]);
}

#[test]
fn watch_unique() {
    let (h, end) = with_watch(false, |w| {
        let i = response_at(w, 4);
        let dup = w.responses[i].events[0].clone();
        w.responses[i].events.push(dup);
    });
    assert_eq!(failed(&h, &end), vec![WATCH_UNIQUE]);
}

#[test]
fn watch_atomic() {
    let (h, end) = with_watch(false, |w| {
        let i = response_at(w, 9);
        let second = w.responses[i].events.pop().unwrap();
        let mut split = w.responses[i].clone();
        split.events = vec![second];
        w.responses.insert(i + 1, split);
    });
    assert_eq!(failed(&h, &end), vec![WATCH_ATOMIC]);
}

#[test]
fn watch_bookmarkable() {
    let (h, end) = with_watch(false, |w| {
        let i = response_at(w, 4);
        let at = w.responses[i - 1].at;
        w.responses.insert(
            i,
            WatchResponse {
                at,
                header_revision: 4,
                progress_notify: true,
                ..Default::default()
            },
        );
    });
    assert_eq!(failed(&h, &end), vec![WATCH_BOOKMARKABLE]);
}

#[test]
fn watch_reliable() {
    let (h, end) = with_watch(false, |w| {
        let i = response_at(w, 5);
        w.responses.remove(i);
    });
    assert_eq!(failed(&h, &end), vec![WATCH_RELIABLE]);
    let report = run(&h, &end);
    let v = report
        .result(WATCH_RELIABLE)
        .and_then(|r| r.verdict.violation())
        .unwrap();
    assert_eq!(v.watch, Some(1));
    assert!(
        v.explanation.contains("never delivered delete /a/y@5"),
        "{}",
        v.explanation
    );
}

#[test]
fn watch_resumable() {
    let (h, end) = with_watch(false, |w| {
        let i = response_at(w, 2);
        w.responses.remove(i);
    });
    assert_eq!(failed(&h, &end), vec![WATCH_RESUMABLE]);
}

#[test]
fn watch_prev_kv() {
    let (h, end) = with_watch(true, |w| {
        let i = response_at(w, 4);
        if let Some(p) = w.responses[i].events[0].prev_kv.as_mut() {
            p.value = "not what it was".into();
        }
    });
    assert_eq!(failed(&h, &end), vec![WATCH_PREV_KV]);
}

#[test]
fn watch_is_create() {
    let (h, end) = with_watch(false, |w| {
        let i = response_at(w, 4);
        w.responses[i].events[0].kv.create_revision = 4;
    });
    assert_eq!(failed(&h, &end), vec![WATCH_IS_CREATE]);
}

#[test]
fn watch_cancel_on_compaction_must_be_justified() {
    let (h, end) = with_watch(false, |w| {
        let at = w.responses.last().map_or(0, |r| r.at) + 1;
        w.responses.push(WatchResponse {
            at,
            header_revision: 9,
            canceled: true,
            compact_revision: 3,
            cancel_reason: "mvcc: required revision has been compacted".into(),
            ..Default::default()
        });
    });
    assert_eq!(failed(&h, &end), vec![WATCH_CANCEL_ON_COMPACTION]);
}

/// A compaction whose answer was lost may still have been applied: a cancel
/// at its revision is justified even when no read needed it in the
/// linearization. Without that compaction the same cancel is reported.
#[test]
fn watch_cancel_justified_by_a_compaction_with_unknown_outcome() {
    let cancelled = |with_compaction: bool| {
        let mut b = kv_base();
        if with_compaction {
            b.fake(
                1,
                Request::Compact { revision: 6 },
                OpResult::Unknown("member crashed".into()),
            );
        }
        b.put("/a/x", "4"); // 9
        let mut w = b.watch(1, watch_prefix("/a/", 2), b.revision());
        let (mut h, end) = b.finish();
        w.responses.truncate(1); // the creation response, then the cancel
        let at = w.responses[0].at + 1;
        w.responses.push(WatchResponse {
            at,
            header_revision: 9,
            canceled: true,
            compact_revision: 6,
            cancel_reason: "mvcc: required revision has been compacted".into(),
            ..Default::default()
        });
        h.watches.push(w);
        failed(&h, &end)
    };
    assert!(cancelled(true).is_empty(), "{:?}", cancelled(true));
    assert_eq!(cancelled(false), vec![WATCH_CANCEL_ON_COMPACTION]);
}

/// Two writes with unknown outcome, a delete under the watched prefix and a
/// put outside it: the watch saw the delete at the later free
/// revision and nothing at the earlier one, so the checker places the put
/// first and every watch rule holds.
#[test]
fn unknown_writes_take_the_revisions_the_watches_imply() {
    let mut b = Builder::new();
    b.put("/a/x", "1"); // 2
    let outside = b.run(1, put("/b/e", "e")); // 3
    let delete = b.delete("/a/x"); // 4
    b.put("/a/z", "1"); // 5
    b.delete("/b/e"); // 6: so that no read pins the put's revision
    let w = b.watch(1, watch_prefix("/a/", 2), b.revision());
    let (mut h, end) = b.finish();
    h.watches.push(w);
    let (call, ret) = {
        let d = &h.operations[(delete - 1) as usize];
        (d.call - 20, d.ret)
    };
    for id in [outside, delete] {
        let op = &mut h.operations[(id - 1) as usize];
        op.result = OpResult::Unknown("connection lost".into());
        // The delete called last: nearest the time the next write is
        // expected, so the first candidate when nothing else tells.
        op.call = if id == delete { call + 1 } else { call };
        op.ret = ret;
    }
    let report = run(&h, &end);
    assert!(
        report.failed_rules().is_empty(),
        "{:?}",
        report.failed_rules()
    );
}

/// Two puts of one key with unknown outcomes, one of which took revision
/// 3; a watch that began after it reports the key's delete with the value
/// it held, which only the put that happened wrote. The checker places that
/// put, whichever of the two was called nearer the free revision.
#[test]
fn an_unknown_write_a_watch_s_previous_value_shows_is_placed() {
    for happened_first in [true, false] {
        let mut b = Builder::new();
        b.put("/a/x", "1"); // 2
        let mut unknown = vec![b.run(1, put("/a/x", "seen"))]; // 3
        let other = b.fake(
            2,
            put("/a/x", "unseen"),
            OpResult::Unknown("timeout".into()),
        );
        if happened_first {
            unknown.push(other);
        } else {
            unknown.insert(0, other);
        }
        let start = b.revision() + 1;
        b.delete("/a/x"); // 4
        b.put("/b/q", "1"); // 5
        let mut req = watch_prefix("/a/", start);
        req.prev_kv = true;
        let w = b.watch(1, req, start - 1);
        let (mut h, end) = b.finish();
        h.watches.push(w);
        let call = h.operations[0].ret.expect("answered") + 1;
        for (nth, id) in unknown.into_iter().enumerate() {
            let op = &mut h.operations[(id - 1) as usize];
            op.result = OpResult::Unknown("connection lost".into());
            op.call = call + nth as u64;
        }
        let failures = failed(&h, &end);
        assert!(failures.is_empty(), "{happened_first}: {failures:?}");
    }
}

#[test]
fn watch_on_a_compacted_revision_must_be_cancelled() {
    let mut b = kv_base();
    b.run(1, Request::Compact { revision: 6 });
    b.put("/a/x", "4"); // 10: the compaction is behind any member at 10
    let mut w = b.watch(1, watch_prefix("/a/", 3), b.revision());
    // The member said it had compacted to 6 before the watch was requested.
    w.member_compacted = Some(6);
    let (mut h, end) = b.finish();
    h.watches.push(w);
    assert_eq!(failed(&h, &end), vec![WATCH_CANCEL_ON_COMPACTION]);
    // Cancelled as it should be: fine.
    let mut w = h.watches.pop().unwrap();
    w.responses.truncate(1);
    w.responses.push(WatchResponse {
        at: w.responses[0].at + 1,
        header_revision: 10,
        canceled: true,
        compact_revision: 6,
        ..Default::default()
    });
    h.watches.push(w);
    assert!(failed(&h, &end).is_empty());
}

/// A compaction to 6 answered at revision 9, and a watch from revision 3
/// whose creation response says 10. The rule once demanded a cancel from
/// that alone, but a correct etcd can deliver these events: its member may
/// have been a revision or more behind the member that answered the
/// compaction (etcd-18667 numbers members apart), or still catching up and
/// registering the watch before applying the compaction (etcd v3.4.38 on
/// reads the creation revision after registering). Only the member's own
/// word that it had compacted past revision 3 before the request demands
/// the cancel.
#[test]
fn a_watch_is_owed_a_cancel_only_by_its_own_member_s_compaction() {
    let with_member_compacted = |member_compacted: Option<i64>| {
        let mut b = kv_base();
        b.run(1, Request::Compact { revision: 6 }); // answered at 9
        b.put("/a/x", "4"); // 10
        let mut w = b.watch(1, watch_prefix("/a/", 3), b.revision());
        w.member_compacted = member_compacted;
        let (mut h, end) = b.finish();
        h.watches.push(w);
        failed(&h, &end)
    };
    for correct in [None, Some(2), Some(3)] {
        assert!(
            with_member_compacted(correct).is_empty(),
            "{correct:?}: {:?}",
            with_member_compacted(correct)
        );
    }
    assert_eq!(
        with_member_compacted(Some(4)),
        vec![WATCH_CANCEL_ON_COMPACTION]
    );
}

/// Pods listed in two pages at revision 4, then changed, with optimistic writes.
struct K8s {
    b: Builder,
    list_revision: i64,
}

fn k8s_base(page_two: impl FnOnce(&mut RangeRequest)) -> K8s {
    let mut b = Builder::new();
    for pod in ["/pods/a", "/pods/b", "/pods/c"] {
        b.put(pod, "v1");
    }
    let list_revision = b.revision();
    let page0 = Request::Range(RangeRequest {
        key: "/pods/".into(),
        range_end: prefix_end("/pods/"),
        limit: 2,
        ..Default::default()
    });
    b.run_tagged(4, page0, Some(K8sTag::ListPage { list: 1, page: 0 }));
    let mut page1 = RangeRequest {
        key: "/pods/b\0".into(),
        range_end: prefix_end("/pods/"),
        limit: 2,
        revision: list_revision,
        ..Default::default()
    };
    page_two(&mut page1);
    b.run_tagged(
        4,
        Request::Range(page1),
        Some(K8sTag::ListPage { list: 1, page: 1 }),
    );
    b.put("/pods/a", "v2"); // 5
    b.delete("/pods/b"); // 6
    b.put("/pods/d", "v1"); // 7
    b.run_tagged(
        5,
        optimistic_put("/pods/c", "v2", 4),
        Some(K8sTag::OptimisticPut {
            expected_mod_revision: 4,
        }),
    ); // 8: succeeds
    b.run_tagged(
        5,
        optimistic_put("/pods/c", "v3", 4),
        Some(K8sTag::OptimisticPut {
            expected_mod_revision: 4,
        }),
    ); // fails, returns the object at 8
    K8s { b, list_revision }
}

fn k8s_watch(k: &K8s, start: i64) -> WatchRecord {
    let mut req = watch_prefix("/pods/", start);
    req.prev_kv = true;
    req.progress_notify = true;
    let mut w = k.b.watch(1, req, k.list_revision);
    w.k8s_list = Some(1);
    w
}

fn k8s_history(k: K8s, w: WatchRecord) -> (History, EndState) {
    let (mut h, end) = k.b.finish();
    h.watches.push(w);
    (h, end)
}

#[test]
fn a_correct_kubernetes_history_passes_every_rule() {
    let k = k8s_base(|_| {});
    let w = k8s_watch(&k, k.list_revision + 1);
    let (h, end) = k8s_history(k, w);
    let report = run(&h, &end);
    assert_eq!(report.overall(), Overall::Pass, "{:#?}", report.results);
}

#[test]
fn k8s_list_pinned() {
    // The second page reads "now"; nothing changed in between, so its content is right.
    let k = k8s_base(|p| p.revision = 0);
    let w = k8s_watch(&k, k.list_revision + 1);
    let (h, end) = k8s_history(k, w);
    assert_eq!(failed(&h, &end), vec![K8S_LIST_PINNED]);
}

#[test]
fn k8s_list_complete() {
    // The second page skips /pods/c.
    let k = k8s_base(|p| p.key = "/pods/c\0".into());
    let w = k8s_watch(&k, k.list_revision + 1);
    let (h, end) = k8s_history(k, w);
    assert_eq!(failed(&h, &end), vec![K8S_LIST_COMPLETE]);
}

#[test]
fn k8s_optimistic_write() {
    let mut k = k8s_base(|_| {});
    // Tagged as expecting mod revision 99, but the transaction compares the
    // version (which holds): it succeeds although the mod revision differs.
    let txn = Request::Txn(TxnRequest {
        compare: vec![Compare {
            key: "/pods/d".into(),
            range_end: String::new(),
            target: CompareTarget::Version(1),
            result: CompareResult::Equal,
        }],
        success: vec![TxnOp::Put(PutRequest {
            key: "/pods/d".into(),
            value: "v2".into(),
            ..Default::default()
        })],
        failure: vec![],
    });
    k.b.run_tagged(
        5,
        txn,
        Some(K8sTag::OptimisticPut {
            expected_mod_revision: 99,
        }),
    );
    let w = k8s_watch(&k, k.list_revision + 1);
    let (h, end) = k8s_history(k, w);
    assert_eq!(failed(&h, &end), vec![K8S_OPTIMISTIC_WRITE]);
}

#[test]
fn k8s_watch_from_list() {
    let k = k8s_base(|_| {});
    let w = k8s_watch(&k, k.list_revision + 2);
    let (h, end) = k8s_history(k, w);
    assert_eq!(failed(&h, &end), vec![K8S_WATCH_FROM_LIST]);
}

#[test]
fn k8s_watch_prev_kv() {
    let k = k8s_base(|_| {});
    let mut w = k8s_watch(&k, k.list_revision + 1);
    // The update of /pods/a at revision 5 loses its previous object.
    let i = response_at(&w, 5);
    w.responses[i].events[0].prev_kv = None;
    let (h, end) = k8s_history(k, w);
    assert_eq!(failed(&h, &end), vec![K8S_WATCH_PREV_KV]);
}

/// etcd leaves out a previous value it can no longer read: a compaction to
/// the event's revision, called before the event arrived, excuses it; one
/// below the event's revision does not.
#[test]
fn k8s_watch_prev_kv_compacted_away_is_excused() {
    for (compact_to, expected) in [(5, vec![]), (4, vec![K8S_WATCH_PREV_KV])] {
        let k = k8s_base(|_| {});
        let mut w = k8s_watch(&k, k.list_revision + 1);
        let i = response_at(&w, 5);
        w.responses[i].events[0].prev_kv = None;
        let arrived = w.responses[i].at;
        let (mut h, end) = k8s_history(k, w);
        let id = h.operations.len() as u64 + 1;
        h.operations.push(Operation {
            id,
            client: 99,
            call: arrived - 1,
            ret: None,
            request: Request::Compact {
                revision: compact_to,
            },
            result: OpResult::Unknown("timeout".into()),
            k8s: None,
        });
        assert_eq!(failed(&h, &end), expected, "compaction to {compact_to}");
    }
}

#[test]
fn k8s_watch_compacted() {
    let mut k = k8s_base(|_| {});
    k.b.run(1, Request::Compact { revision: 6 });
    k.b.put("/other", "1");
    let mut req = watch_prefix("/pods/", k.list_revision + 1);
    req.prev_kv = true;
    let mut w = k.b.watch(1, req, k.b.revision());
    w.k8s_list = Some(1);
    w.member_compacted = Some(6);
    let (h, end) = k8s_history(k, w);
    assert_eq!(failed(&h, &end), vec![K8S_WATCH_COMPACTED]);
}

#[test]
fn k8s_bookmarks() {
    let k = k8s_base(|_| {});
    let mut w = k8s_watch(&k, k.list_revision + 1);
    let at = w.responses.last().map_or(0, |r| r.at) + 1;
    w.responses.push(WatchResponse {
        at,
        header_revision: k.b.revision() + 5,
        progress_notify: true,
        ..Default::default()
    });
    let (h, end) = k8s_history(k, w);
    assert_eq!(failed(&h, &end), vec![K8S_BOOKMARKS]);
}

#[test]
fn end_hashkv() {
    let (h, mut end) = with_watch(false, |_| {});
    if let Some(hash) = end.members[1].hash_kv.as_mut() {
        hash.hash = 8;
    }
    assert_eq!(failed(&h, &end), vec![END_HASHKV]);
    end.members.iter_mut().for_each(|m| m.hash_kv = None);
    let report = run(&h, &end);
    assert!(matches!(
        report.result(END_HASHKV).map(|r| &r.verdict),
        Some(checker::Verdict::Unknown(_))
    ));
}

#[test]
fn watch_cancel_acknowledged() {
    use checker::history::{Annotation, WatchResponse};
    // Cancelled by the client 3 s in, away from faults and past the start.
    let cancelled = |w: &mut WatchRecord| w.cancel_sent = Some(3_000_000_000);
    let (h, end) = with_watch(false, cancelled);
    assert_eq!(failed(&h, &end), vec![WATCH_CANCEL_ACKNOWLEDGED]);
    // Answered: a response marked cancelled.
    let (h, end) = with_watch(false, |w| {
        cancelled(w);
        w.responses.push(WatchResponse {
            at: 3_001_000_000,
            header_revision: 1,
            canceled: true,
            ..Default::default()
        });
    });
    assert!(failed(&h, &end).is_empty());
    // Unanswered while a fault was on: not judged.
    let (mut h, end) = with_watch(false, cancelled);
    h.annotations.push(Annotation {
        at: 3_100_000_000,
        end: Some(3_500_000_000),
        source: Annotation::FAULT.into(),
        text: "isolate m1".into(),
        kind: None,
    });
    assert!(failed(&h, &end).is_empty());
    // Never cancelled by the client: nothing to answer.
    let (h, end) = with_watch(false, |_| {});
    assert!(failed(&h, &end).is_empty());
}

#[test]
fn end_members() {
    use checker::history::{ListedMember, Membership};
    let listed = |ids: &[u64]| {
        ids.iter()
            .map(|&id| ListedMember {
                id,
                peer: format!("10.0.0.{}", id + 1),
                is_learner: false,
            })
            .collect::<Vec<_>>()
    };
    let (h, mut end) = with_watch(false, |_| {});
    for m in &mut end.members {
        m.membership = Some(Membership::new(40, listed(&[1, 2, 3])));
    }
    assert!(failed(&h, &end).is_empty());
    // Member 2 still lists member 4, removed from the configuration the
    // others applied at the same index.
    end.members[1].membership = Some(Membership::new(40, listed(&[4, 1, 2, 3])));
    assert_eq!(failed(&h, &end), vec![END_MEMBERS]);
    let report = run(&h, &end);
    let Some(checker::Verdict::Fail(v)) = report.result(END_MEMBERS).map(|r| &r.verdict) else {
        panic!("{:?}", report.result(END_MEMBERS));
    };
    assert!(
        v.explanation.contains("applied raft index 40"),
        "{}",
        v.explanation
    );
    // At another index the lists may differ: a change may lie between.
    end.members[1].membership = Some(Membership::new(41, listed(&[4, 1, 2, 3])));
    assert!(failed(&h, &end).is_empty());
    // No member answered: not decided.
    end.members.iter_mut().for_each(|m| m.membership = None);
    assert!(matches!(
        run(&h, &end).result(END_MEMBERS).map(|r| &r.verdict),
        Some(checker::Verdict::Unknown(_))
    ));
}

#[test]
fn end_durability() {
    let mut b = Builder::new();
    b.put("k", "1"); // 2
    b.put("k", "2"); // 3
    // The final read has lost the second write.
    b.fake(
        3,
        get("k"),
        OpResult::Ok(Response::Range(RangeResponse {
            header_revision: 3,
            kvs: vec![KeyValue {
                key: "k".into(),
                value: "1".into(),
                create_revision: 2,
                mod_revision: 2,
                version: 1,
                lease: 0,
                ttl: 0,
            }],
            more: false,
            count: 1,
        })),
    );
    let h = b.history.clone();
    let end = EndState::default();
    let failed = failed(&h, &end);
    assert!(failed.contains(&END_DURABILITY.to_string()), "{failed:?}");
    assert!(failed.contains(&LINEARIZABILITY.to_string()), "{failed:?}");
}

/// A put that keeps the key's value (`ignore_value`) inside a Txn writes
/// the old value at the Txn's revision: the final read showing that value
/// is no lost write.
#[test]
fn end_durability_of_a_txn_put_keeping_the_value() {
    let mut b = Builder::new();
    b.put("k", "1"); // 2
    b.run(
        1,
        Request::Txn(TxnRequest {
            compare: vec![],
            success: vec![TxnOp::Put(PutRequest {
                key: "k".into(),
                ignore_value: true,
                ..Default::default()
            })],
            failure: vec![],
        }),
    ); // 3: k=1 again
    b.final_read();
    let (h, end) = b.finish();
    assert_eq!(failed(&h, &end), Vec::<String>::new());
}

/// A Txn that puts a key and then deletes every key from one before it on
/// (etcd lets that through its duplicate-key check, etcd #22445) leaves
/// the key deleted: its put is no lost write.
#[test]
fn end_durability_of_a_txn_put_its_own_delete_removed() {
    let mut b = Builder::new();
    b.put("k", "1"); // 2
    b.run(
        1,
        Request::Txn(TxnRequest {
            compare: vec![],
            success: vec![
                TxnOp::Put(PutRequest {
                    key: "k".into(),
                    value: "2".into(),
                    ..Default::default()
                }),
                TxnOp::DeleteRange(DeleteRangeRequest {
                    key: "a".into(),
                    range_end: "\0".into(),
                    ..Default::default()
                }),
            ],
            failure: vec![],
        }),
    ); // 3: k put and deleted
    b.final_read();
    let (h, end) = b.finish();
    assert_eq!(failed(&h, &end), Vec::<String>::new());
}

#[test]
fn end_liveness() {
    let (h, mut end) = with_watch(false, |_| {});
    let last = h.operations.iter().filter_map(|o| o.ret).max().unwrap_or(0);
    end.heal_time = Some(last + 1);
    end.liveness_bound = 100;
    assert_eq!(failed(&h, &end), vec![END_LIVENESS]);
    end.first_success_after_heal = Some(last + 50);
    assert!(failed(&h, &end).is_empty());
}

#[test]
fn optimistic_put_is_recorded_as_expected() {
    // The base scenario's own optimistic writes: one succeeded, one failed.
    let k = k8s_base(|_| {});
    let ops = &k.b.history.operations;
    let results: Vec<bool> = ops
        .iter()
        .filter(|o| matches!(o.k8s, Some(K8sTag::OptimisticPut { .. })))
        .filter_map(|o| match &o.result {
            OpResult::Ok(Response::Txn(t)) => Some(t.succeeded),
            _ => None,
        })
        .collect();
    assert_eq!(results, vec![true, false]);
    assert!(ops.iter().any(|o| o.request == put("/pods/d", "v1")));
}

fn txn_of_puts(n: usize) -> Request {
    Request::Txn(TxnRequest {
        compare: vec![],
        success: (0..n)
            .map(|i| {
                TxnOp::Put(PutRequest {
                    key: format!("/t/{i}"),
                    value: "1".into(),
                    ..Default::default()
                })
            })
            .collect(),
        failure: vec![],
    })
}

#[test]
fn errors_no_false_refusal_of_a_request_shape() {
    let refused = OpResult::Fail(EtcdError::Invalid(Invalid::TooManyOps));
    let mut b = kv_base();
    b.fake(1, txn_of_puts(3), refused.clone());
    let (h, end) = b.finish();
    assert_eq!(failed(&h, &end), vec![ERRORS_NO_FALSE_REFUSAL]);

    let mut b = kv_base();
    b.fake(1, txn_of_puts(129), refused);
    let (h, end) = b.finish();
    assert_eq!(failed(&h, &end), Vec::<String>::new());
}

#[test]
fn errors_no_false_refusal_of_a_request_size() {
    let refused = OpResult::Fail(EtcdError::Invalid(Invalid::RequestTooLarge));
    let put = |len: usize| {
        Request::Put(PutRequest {
            key: "/a/big".into(),
            value: "x".repeat(len),
            ..Default::default()
        })
    };
    // An ordinary put refused as too large: a false refusal.
    let mut b = kv_base();
    b.fake(1, put(100), refused.clone());
    let (h, end) = b.finish();
    assert_eq!(failed(&h, &end), vec![ERRORS_NO_FALSE_REFUSAL]);

    // One over etcd's default 1.5 MiB: justified.
    let mut b = kv_base();
    b.fake(1, put(1536 * 1024 + 1), refused);
    let (h, end) = b.finish();
    assert_eq!(failed(&h, &end), Vec::<String>::new());
}

#[test]
fn errors_no_false_refusal_of_the_store_state() {
    let at_one = || {
        Request::Range(RangeRequest {
            key: "/a/x".into(),
            revision: 1,
            ..Default::default()
        })
    };
    // Nothing was compacted, yet a read of revision 1 is refused: the
    // answered operations are linearizable, the refusal is not justified.
    let mut b = kv_base();
    let refusal = b.fake(
        2,
        at_one(),
        OpResult::Fail(EtcdError::Compacted {
            compact_revision: 4,
        }),
    );
    let (h, end) = b.finish();
    let report = run(&h, &end);
    assert_eq!(report.failed_rules(), vec![ERRORS_NO_FALSE_REFUSAL]);
    let violation = report
        .results
        .iter()
        .find_map(|r| match &r.verdict {
            checker::Verdict::Fail(v) => Some(v),
            _ => None,
        })
        .unwrap();
    assert_eq!(violation.operations, vec![refusal]);

    // After a compaction the same refusal is the store's true answer.
    let mut b = kv_base();
    b.run(1, Request::Compact { revision: 4 });
    let read = b.run(2, at_one());
    let (h, end) = b.finish();
    let read = h.operations.iter().find(|o| o.id == read).unwrap();
    assert!(matches!(
        read.result,
        OpResult::Fail(EtcdError::Compacted { .. })
    ));
    assert_eq!(failed(&h, &end), Vec::<String>::new());
}

#[test]
fn errors_kind_answered() {
    let overloaded = || OpResult::Fail(EtcdError::Other("etcdserver: too many requests".into()));
    let delete = || {
        Request::DeleteRange(checker::history::DeleteRangeRequest {
            key: "/a/x".into(),
            ..Default::default()
        })
    };
    let history_with = |failures: usize| {
        let mut b = kv_base();
        // Past the time the cluster takes to form.
        b.wait(3_000_000_000);
        for _ in 0..failures {
            b.fake(1, delete(), overloaded());
        }
        b.finish()
    };
    let (h, end) = history_with(5);
    assert_eq!(failed(&h, &end), vec![ERRORS_KIND_ANSWERED]);
    let tally = run(&h, &end).requests.unwrap();
    let deletes = tally.kinds["delete"];
    assert_eq!(
        (
            deletes.sent,
            deletes.fault_free,
            deletes.fault_free_answered
        ),
        (6, 5, 0)
    );
    // Too few to say anything (the base history's own delete ran while the
    // cluster formed, so only these count).
    let (h, end) = history_with(4);
    assert_eq!(failed(&h, &end), Vec::<String>::new());
}

/// etcd before its open PR 22395 lets a Txn delete every key from one on
/// and put a key of that range: one revision then holds a key's delete and
/// its put, a create (etcd's watchers get both events). Neither is a
/// duplicate, and the put is a create although the key existed before.
#[test]
fn a_delete_and_a_put_of_one_key_in_one_revision_are_two_events() {
    let mut b = kv_base();
    b.run(
        1,
        Request::Txn(TxnRequest {
            compare: vec![],
            success: vec![
                TxnOp::DeleteRange(DeleteRangeRequest {
                    key: "/a/x".into(),
                    range_end: "\0".into(),
                    ..Default::default()
                }),
                TxnOp::Put(PutRequest {
                    key: "/a/x".into(),
                    value: "4".into(),
                    ..Default::default()
                }),
            ],
            failure: vec![],
        }),
    ); // 10
    let w = b.watch(1, watch_prefix("/a/", 2), 1);
    let at_10: Vec<(EventKind, i64)> = w
        .events()
        .filter(|(_, e)| e.kv.mod_revision == 10 && e.kv.key == "/a/x")
        .map(|(_, e)| (e.kind, e.kv.create_revision))
        .collect();
    assert_eq!(at_10, vec![(EventKind::Delete, 0), (EventKind::Put, 10)]);
    let (mut h, end) = b.finish();
    h.watches.push(w);
    assert_eq!(failed(&h, &end), Vec::<String>::new());
}
