//! Leases: lease-heavy runs decide quickly and pass; the shortcuts the etcd
//! model takes with leases never change a verdict (against the brute-force
//! checker on the literal model); planted lease violations are found.

mod support;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use checker::command::{CheckFileOptions, InputFormat, ModelKind, check_file};
use checker::history::{
    EndState, History, KeyValue, LeaseKeepAliveResponse, OpResult, PutRequest, RangeResponse,
    Request, Response,
};
use checker::linearizable::{Issuer, Linearizability, SearchLimits, check};
use checker::models::etcd::{exec, prepare};
use checker::{CheckOptions, check_linearizability, check_run};
use proptest::prelude::*;
use support::brute;
use support::build::{Builder, get};
use support::leases::{LeaseGenConfig, generate_leases};

fn options() -> CheckOptions {
    CheckOptions {
        timeout: Duration::from_secs(20),
        ..Default::default()
    }
}

fn linearizable(history: &History) -> bool {
    let lin = check_linearizability(history, &options());
    assert!(
        lin.result.verdict.violation().is_some() || lin.result.verdict.is_pass(),
        "undecided: {:?}",
        lin.result.verdict
    );
    lin.result.verdict.is_pass()
}

fn leased_put(key: &str, lease: i64) -> Request {
    Request::Put(PutRequest {
        key: key.into(),
        value: "v".into(),
        lease,
        ..Default::default()
    })
}

/// Lease 5 with keys /a and /b (revisions 2 and 3), and /x at 4.
fn leased_base() -> Builder {
    let mut b = Builder::new();
    b.run(1, Request::LeaseGrant { id: 5, ttl: 1 });
    b.run(1, leased_put("/a", 5));
    b.run(1, leased_put("/b", 5));
    b.put("/x", "1");
    b
}

fn range_answer(header: i64, kvs: Vec<KeyValue>) -> OpResult {
    OpResult::Ok(Response::Range(RangeResponse {
        header_revision: header,
        count: kvs.len() as i64,
        kvs,
        more: false,
    }))
}

#[test]
fn a_lease_that_expires_on_its_own_passes() {
    let mut b = leased_base();
    exec::expire_lease(&mut b.store, 5); // 5: the store expires it, no request says so
    b.put("/y", "1"); // 6
    b.run(2, Request::LeaseKeepAlive { id: 5 }); // LeaseNotFound
    b.run(2, Request::LeaseTimeToLive { id: 5 }); // ttl -1
    b.get("/a");
    let (h, end) = b.finish();
    let report = check_run(&h, &end, &options());
    assert!(report.failed_rules().is_empty(), "{report:#?}");
}

#[test]
fn a_key_read_after_its_lease_was_revoked_is_a_violation() {
    let mut b = leased_base();
    b.run(1, Request::LeaseRevoke { id: 5 }); // 5: deletes /a and /b
    let a = KeyValue {
        key: "/a".into(),
        value: "v".into(),
        create_revision: 2,
        mod_revision: 2,
        version: 1,
        lease: 5,
        ttl: 0,
    };
    b.fake(2, get("/a"), range_answer(5, vec![a]));
    let (h, _) = b.finish();
    assert!(!linearizable(&h));
}

#[test]
fn an_expiry_that_deletes_only_some_keys_is_a_violation() {
    let mut b = leased_base();
    // Revision 5 deletes /a alone, and no request did it.
    let delete_a = Request::DeleteRange(checker::history::DeleteRangeRequest {
        key: "/a".into(),
        ..Default::default()
    });
    exec::execute(&mut b.store, &delete_a, None).expect("deletes");
    b.put("/y", "1"); // 6
    let (h, _) = b.finish(); // /b still there with lease 5, /a gone
    assert!(!linearizable(&h));
}

/// The lease's key vanished at an unclaimed revision (so the lease expired),
/// yet a keep-alive called after that answered that the lease was alive.
#[test]
fn a_keep_alive_after_the_lease_expired_is_a_violation() {
    let build = |concurrent: bool| {
        let mut b = leased_base();
        exec::expire_lease(&mut b.store, 5); // 5
        b.put("/y", "1"); // 6
        let read = b.get("/a"); // nothing, at 6
        let alive = OpResult::Ok(Response::LeaseKeepAlive(LeaseKeepAliveResponse {
            header_revision: 6,
            ttl: 1,
        }));
        let keep = b.fake(2, Request::LeaseKeepAlive { id: 5 }, alive);
        if concurrent {
            // Called before anything after the grant: it may come before the expiry.
            let first = b.history.operations[1].call;
            let op = b
                .history
                .operations
                .iter_mut()
                .find(|o| o.id == keep)
                .expect("recorded");
            op.call = first;
        }
        let _ = read;
        b.finish().0
    };
    assert!(linearizable(&build(true)));
    assert!(!linearizable(&build(false)));
}

#[test]
fn a_put_with_a_revoked_lease_that_succeeds_is_a_violation() {
    let mut b = leased_base();
    b.run(1, Request::LeaseRevoke { id: 5 }); // 5
    let ok = OpResult::Ok(Response::Put(checker::history::PutResponse {
        header_revision: 6,
        prev_kv: None,
    }));
    b.fake(1, leased_put("/c", 5), ok);
    let (h, _) = b.finish();
    assert!(!linearizable(&h));
}

/// A lease id granted again after its revoke: the second life may be used
/// and expire like the first.
#[test]
fn a_lease_id_granted_twice_passes() {
    let mut b = leased_base();
    b.run(1, Request::LeaseRevoke { id: 5 }); // 5
    b.run(1, Request::LeaseGrant { id: 5, ttl: 1 });
    b.run(1, leased_put("/c", 5)); // 6
    b.run(2, Request::LeaseKeepAlive { id: 5 });
    exec::expire_lease(&mut b.store, 5); // 7
    b.put("/y", "1"); // 8
    let (h, _) = b.finish();
    assert!(linearizable(&h));
}

/// Two leases expire at two revisions no request claimed; only a read at a
/// past revision (counting, so it shows no version to reason from) tells
/// which went first. Both histories are linearizable:
/// the search must not mistake one order for the other (its cache keeps what
/// pending past reads can still see).
#[test]
fn a_past_read_tells_which_expiry_came_first() {
    for first in [1, 2] {
        let mut b = Builder::new();
        b.run(1, Request::LeaseGrant { id: 1, ttl: 1 });
        b.run(1, Request::LeaseGrant { id: 2, ttl: 1 });
        b.run(1, leased_put("/a", 1)); // 2
        b.run(1, leased_put("/b", 2)); // 3
        exec::expire_lease(&mut b.store, first); // 4
        exec::expire_lease(&mut b.store, 3 - first); // 5
        b.put("/c", "1"); // 6
        b.run(
            2,
            Request::Range(checker::history::RangeRequest {
                key: "/a".into(),
                revision: 4,
                count_only: true,
                ..Default::default()
            }),
        );
        let (h, _) = b.finish();
        assert!(linearizable(&h), "lease {first} expired first");
    }
}

/// A keep-alive that found the lease gone, concurrent with a put attaching a
/// key to it whose outcome is unknown but that a read later saw: the lease
/// expired only after the put. Answering the keep-alive early must not remove
/// the lease the put still needs.
#[test]
fn a_lease_not_found_leaves_the_lease_to_an_unknown_put() {
    let mut b = Builder::new();
    b.run(1, Request::LeaseGrant { id: 5, ttl: 1 });
    let put = b.fake(2, leased_put("/a", 5), OpResult::Unknown("timeout".into()));
    let keep = b.fake(
        3,
        Request::LeaseKeepAlive { id: 5 },
        OpResult::Fail(checker::history::EtcdError::LeaseNotFound),
    );
    exec::execute(&mut b.store, &leased_put("/a", 5), None).expect("the put applies"); // 2
    b.get("/a"); // sees it, with lease 5
    exec::expire_lease(&mut b.store, 5); // 3
    b.get("/a"); // gone
    let (mut h, _) = b.finish();
    for op in &mut h.operations {
        if op.id == put || op.id == keep {
            op.ret = Some(10_000);
        }
    }
    assert!(linearizable(&h));
}

/// Kubernetes events: every event key has its own lease, the leases expire
/// at revisions no answer claims, and a put whose outcome is unknown (it did
/// not happen) could take any of those revisions. Only counting shows it
/// cannot: the final read needs every free revision for an expiry. Before the
/// search counted, it learned that only at the final read and backtracked
/// over every earlier placement (a standard run with 61 such expiries ran
/// out of time).
#[test]
fn an_unknown_write_cannot_take_a_revision_every_expiry_needs() {
    const LEASES: i64 = 12;
    let mut b = Builder::new();
    let lost = b.fake(
        9,
        leased_put("/events/lost", 100),
        OpResult::Unknown("timeout".into()),
    );
    for i in 0..LEASES {
        b.run(
            1,
            Request::LeaseGrant {
                id: 100 + i,
                ttl: 1,
            },
        );
        b.run(1, leased_put(&format!("/events/{i}"), 100 + i));
    }
    for i in 0..LEASES {
        b.put(&format!("/pods/{i}"), "v");
        exec::expire_lease(&mut b.store, 100 + i);
    }
    b.final_read();
    let (mut h, _) = b.finish();
    h.operations[lost as usize - 1].ret = None;
    let prepared = prepare(&h);
    let out = check(
        &prepared.model,
        &prepared.ops,
        false,
        &SearchLimits::default(),
        Issuer::Client,
    );
    assert!(
        matches!(out.result, Linearizability::Linearizable { .. }),
        "{:?}",
        out.result
    );
    assert!(
        out.stats.backtracks < 100,
        "the search backtracked {} times",
        out.stats.backtracks
    );
}

#[test]
fn generated_lease_runs_pass_every_property() {
    for seed in 0..16u64 {
        let history = generate_leases(&LeaseGenConfig {
            seed,
            clients: 4 + seed % 4,
            operations: 600,
            unknown_writes: 0.03,
            expiries: 0.06,
            key_ttls: seed % 2 == 1,
            ..Default::default()
        });
        let report = check_run(&history, &EndState::default(), &options());
        let problems: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.verdict.violation().is_some())
            .collect();
        assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
        assert!(
            report.results[0].verdict.is_pass(),
            "seed {seed}: {:?}",
            report.results[0].verdict
        );
    }
}

/// A run of the `leases` scenario (leader crash, clock skew, 515 requests)
/// that took more than 60 s before the search learned to reason about leases.
#[test]
fn a_recorded_lease_run_decides_quickly() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/leases-1.jsonl");
    let outcome = check_file(
        &path,
        &CheckFileOptions {
            model: ModelKind::Etcd,
            format: InputFormat::Faultline,
            timeout: Duration::from_secs(10),
            partition: true,
        },
    )
    .expect("a readable history");
    assert_eq!(outcome.exit_code(), 0, "{outcome}");
}

/// A run of the `leases` scenario (a member crash, then 30% clock drift on
/// another; 542 requests) whose clients read the lease keys back only once,
/// at the end, while reading other keys at past revisions: every order of
/// its lease expiries looked different to the search cache, and the search
/// took 22 million steps (87 s) before the fingerprint kept past versions per
/// span of the past reads. Bounded in steps, not time: the search is
/// deterministic.
#[test]
fn lease_expiries_nobody_reads_do_not_multiply_the_search() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/leases-2.jsonl");
    let text = std::fs::read_to_string(&path).expect("the recorded history");
    let file = checker::jsonl::read_str(&text).expect("a valid history");
    let options = CheckOptions {
        timeout: Duration::from_secs(600),
        ..CheckOptions::default()
    };
    let lin = check_linearizability(&file.history, &options);
    assert!(lin.result.verdict.is_pass(), "{:?}", lin.result.verdict);
    assert!(
        lin.summary.iterations < 6_000_000,
        "{} search steps",
        lin.summary.iterations
    );
}

/// A run of the `standard` scenario (seed 100401: a member crash, the
/// Kubernetes events traffic: 67 leases, none kept alive, whose keys only
/// the final read sees) in which two puts with a lease and an unknown
/// outcome took two of the 63 revisions no definite write claimed, and lease
/// expiries took the rest. An order that expired such a put's lease before
/// placing the put left a revision nothing could fill, which only the final
/// read found out: 11.5 million search steps (55 s) before the search
/// counted the steps still able to fill the free revisions ahead.
#[test]
fn an_expiry_that_leaves_a_revision_unfillable_is_refused_at_once() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/standard-100401.jsonl.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("the recorded history"))
        .read_to_string(&mut text)
        .expect("gzipped JSON lines");
    let file = checker::jsonl::read_str(&text).expect("a valid history");
    let lin = check_linearizability(&file.history, &options());
    assert!(lin.result.verdict.is_pass(), "{:?}", lin.result.verdict);
    assert!(
        lin.summary.iterations < 100_000,
        "{} search steps",
        lin.summary.iterations
    );
}

fn engine_says(history: &History) -> bool {
    let prepared = prepare(history);
    match check(
        &prepared.model,
        &prepared.ops,
        false,
        &SearchLimits::default(),
        Issuer::Client,
    )
    .result
    {
        Linearizability::Linearizable { .. } => true,
        Linearizability::Violation(_) => false,
        Linearizability::Unknown { reason, .. } => panic!("no limits, yet unknown: {reason}"),
    }
}

/// Breaks one answer so that the history may or may not stay linearizable.
fn mutate(history: &mut History, victim: usize, how: u8) {
    let answered: Vec<usize> = (0..history.operations.len())
        .filter(|&i| !matches!(history.operations[i].result, OpResult::Unknown(_)))
        .collect();
    if answered.is_empty() {
        return;
    }
    let op = &mut history.operations[answered[victim % answered.len()]];
    op.result = match (&op.result, how) {
        (OpResult::Fail(checker::history::EtcdError::LeaseNotFound), _) => match &op.request {
            Request::LeaseKeepAlive { .. } => {
                OpResult::Ok(Response::LeaseKeepAlive(LeaseKeepAliveResponse {
                    header_revision: 0,
                    ttl: 1,
                }))
            }
            _ => return,
        },
        (OpResult::Ok(Response::LeaseKeepAlive(_) | Response::LeaseRevoke(_)), _) => {
            OpResult::Fail(checker::history::EtcdError::LeaseNotFound)
        }
        (OpResult::Ok(Response::LeaseTimeToLive(t)), _) => {
            let mut t = t.clone();
            t.ttl = if t.ttl == -1 { 1 } else { -1 };
            OpResult::Ok(Response::LeaseTimeToLive(t))
        }
        (OpResult::Ok(Response::Range(r)), 1) if !r.kvs.is_empty() => {
            let mut r = r.clone();
            r.kvs.remove(0);
            r.count -= 1;
            OpResult::Ok(Response::Range(r))
        }
        (OpResult::Ok(Response::Range(r)), _) => {
            let mut r = r.clone();
            r.header_revision += 1;
            OpResult::Ok(Response::Range(r))
        }
        (OpResult::Ok(Response::Put(p)), _) => {
            let mut p = p.clone();
            p.header_revision += 1;
            OpResult::Ok(Response::Put(p))
        }
        _ => return,
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The engine on the model with its lease shortcuts agrees with the
    /// brute-force checker on the literal model.
    #[test]
    fn lease_shortcuts_never_change_a_verdict(
        seed in any::<u64>(),
        operations in 2..12usize,
        how in 0..3u8,
        victim in any::<usize>(),
        key_ttls in any::<bool>(),
    ) {
        let mut history = generate_leases(&LeaseGenConfig {
            seed,
            clients: 3,
            operations,
            keys: 2,
            unknown_writes: 0.2,
            expiries: 0.3,
            key_ttls,
            final_read: seed % 2 == 0,
        });
        if how > 0 {
            mutate(&mut history, victim, how);
        }
        let prepared = prepare(&history);
        let truth = brute::linearizable(&prepared.model.literal(), &prepared.ops);
        prop_assert_eq!(engine_says(&history), truth);
    }
}
