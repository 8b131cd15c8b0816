//! Per-key TTL (store version 3.7): a key put with a TTL may be deleted by the
//! store at any later revision no request claimed, one key per revision, as
//! long as it was not written since; a later put without TTL cancels that.

mod support;

use checker::history::{DeleteRangeRequest, History, PutRequest, Request, TxnOp, TxnRequest};
use checker::{CheckOptions, check_linearizability, check_run, jsonl};
use support::build::{Builder, watch_prefix};

fn put_ttl(key: &str, value: &str, ttl: i64) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ttl,
        ..Default::default()
    }
}

fn linearizable(history: &History) -> bool {
    let lin = check_linearizability(history, &CheckOptions::default());
    assert!(
        lin.result.verdict.is_pass() || lin.result.verdict.violation().is_some(),
        "undecided: {:?}",
        lin.result.verdict
    );
    lin.result.verdict.is_pass()
}

/// Deletes `key` at a new revision behind every client's back.
fn vanish(b: &mut Builder, key: &str) {
    let delete = Request::DeleteRange(DeleteRangeRequest {
        key: key.into(),
        ..Default::default()
    });
    checker::models::etcd::exec::execute(&mut b.store, &delete, None).expect("deletes");
}

#[test]
fn a_key_that_expires_at_an_unclaimed_revision_passes_every_rule() {
    let mut b = Builder::new();
    b.run(1, Request::Put(put_ttl("/k/a", "1", 2))); // 2
    b.put("/k/x", "1"); // 3
    assert!(b.store.expire_key("/k/a")); // 4
    b.put("/k/y", "1"); // 5
    b.get("/k/a");
    let w = b.watch(1, watch_prefix("/k/", 2), 1);
    assert_eq!(
        w.events().filter(|(_, e)| e.kv.mod_revision == 4).count(),
        1,
        "the watch saw the expiry"
    );
    let (mut h, end) = b.finish();
    h.watches.push(w);
    let report = check_run(&h, &end, &CheckOptions::default());
    let not_passed: Vec<_> = report
        .results
        .iter()
        .filter(|r| !r.verdict.is_pass())
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
}

#[test]
fn a_key_overwritten_without_ttl_cannot_expire() {
    let build = |second_ttl: i64| {
        let mut b = Builder::new();
        b.run(1, Request::Put(put_ttl("/k/a", "1", 2))); // 2
        b.run(1, Request::Put(put_ttl("/k/a", "2", second_ttl))); // 3
        vanish(&mut b, "/k/a"); // 4
        b.put("/k/y", "1"); // 5
        b.finish().0
    };
    // Overwritten with another TTL: that one may run out.
    assert!(linearizable(&build(1)));
    // Overwritten without: the first TTL no longer applies.
    assert!(!linearizable(&build(0)));
}

#[test]
fn a_key_without_ttl_does_not_vanish() {
    let mut b = Builder::new();
    b.put("/k/a", "1"); // 2
    vanish(&mut b, "/k/a"); // 3
    b.put("/k/y", "1"); // 4
    assert!(!linearizable(&b.finish().0));
}

#[test]
fn a_key_may_expire_again_after_a_new_ttl_put() {
    let mut b = Builder::new();
    b.run(1, Request::Put(put_ttl("/k/a", "1", 1))); // 2
    assert!(b.store.expire_key("/k/a")); // 3
    b.run(
        1,
        Request::Txn(TxnRequest {
            compare: vec![],
            success: vec![TxnOp::Put(put_ttl("/k/a", "2", 1))],
            failure: vec![],
        }),
    ); // 4
    assert!(b.store.expire_key("/k/a")); // 5
    b.put("/k/y", "1"); // 6
    assert!(linearizable(&b.finish().0));
}

#[test]
fn one_expiry_takes_one_key_and_one_revision() {
    let mut b = Builder::new();
    b.run(1, Request::Put(put_ttl("/k/a", "1", 1))); // 2
    b.run(1, Request::Put(put_ttl("/k/b", "1", 1))); // 3
    // Both keys gone at one revision: no single expiry does that.
    let both = Request::DeleteRange(DeleteRangeRequest {
        key: "/k/".into(),
        range_end: "/k0".into(),
        ..Default::default()
    });
    checker::models::etcd::exec::execute(&mut b.store, &both, None).expect("deletes");
    b.put("/k/y", "1"); // 5
    assert!(!linearizable(&b.finish().0));
}

#[test]
fn ttl_is_written_only_when_set_and_old_lines_still_read() {
    let mut b = Builder::new();
    b.run(1, Request::Put(put_ttl("/k/a", "1", 3)));
    b.put("/k/b", "1");
    let (h, _) = b.finish();
    let text = jsonl::to_string(&h, None);
    let puts: Vec<&str> = text.lines().filter(|l| l.contains("\"put\"")).collect();
    assert_eq!(puts.len(), 2);
    assert!(puts[0].contains("\"ttl\":3"), "{}", puts[0]);
    assert!(!puts[1].contains("ttl"), "{}", puts[1]);
    let back = jsonl::read_str(&text).expect("reads back");
    assert_eq!(back.history, h);
    let old = r#"{"type":"op","id":1,"client":1,"call":1,"ret":2,"request":{"put":{"key":"a","value":"1"}},"result":{"ok":{"put":{"header_revision":2}}}}"#;
    let read = jsonl::read_str(old).expect("an old line reads");
    let Request::Put(p) = &read.history.operations[0].request else {
        panic!("not a put");
    };
    assert_eq!(p.ttl, 0);
}
