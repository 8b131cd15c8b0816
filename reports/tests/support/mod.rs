//! Synthetic runs for the tests: a small failing run with every kind of
//! item the report draws, and a large one for size and speed.
#![allow(dead_code)]

pub mod campaigns;

use checker::history::{
    Annotation, EndState, EtcdError, Event, EventKind, HashKv, History, KeyValue, MemberEndState,
    OpResult, Operation, PutRequest, PutResponse, RangeRequest, RangeResponse, Request, Response,
    WatchRecord, WatchRequest, WatchResponse,
};
use checker::{PropertyResult, Report, SearchSummary, Verdict, Violation};
use reports::{Repro, RunArtefacts, TraceLine};
use serde_json::json;

pub const MS: u64 = 1_000_000;

pub const LIN_EXPLANATION: &str = "Operation #5 (range /a) returned value 1 at revision 3, but after #4 wrote 2 no order explains it.";
pub const UNIQUE_EXPLANATION: &str = "Watch 1 delivered put \"/a\"=2@3 a second time.";
pub const RELIABLE_EXPLANATION: &str =
    "Watch 2 never delivered put \"/b\"=x@4 although it reported revision 6.";
pub const REPLAY: &str = "faultline replay --scenario default --seed 7 --bug etcd-17247";

pub fn kv(key: &str, value: &str, create: i64, rev: i64, version: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
        create_revision: create,
        mod_revision: rev,
        version,
        lease: 0,
        ttl: 0,
    }
}

pub fn put_event(key: &str, value: &str, create: i64, rev: i64, version: i64) -> Event {
    Event {
        kind: EventKind::Put,
        kv: kv(key, value, create, rev, version),
        prev_kv: None,
    }
}

pub fn put(
    id: u64,
    client: u64,
    call: u64,
    ret: Option<u64>,
    key: &str,
    value: &str,
    result: OpResult,
) -> Operation {
    Operation {
        id,
        client,
        call,
        ret,
        request: Request::Put(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        }),
        result,
        k8s: None,
    }
}

pub fn put_ok(rev: i64) -> OpResult {
    OpResult::Ok(Response::Put(PutResponse {
        header_revision: rev,
        prev_kv: None,
    }))
}

pub fn get(
    id: u64,
    client: u64,
    call: u64,
    ret: u64,
    key: &str,
    found: Vec<KeyValue>,
    rev: i64,
) -> Operation {
    Operation {
        id,
        client,
        call,
        ret: Some(ret),
        request: Request::Range(RangeRequest {
            key: key.into(),
            ..Default::default()
        }),
        result: OpResult::Ok(Response::Range(RangeResponse {
            header_revision: rev,
            count: found.len() as i64,
            kvs: found,
            more: false,
        })),
        k8s: None,
    }
}

fn line(at_ms: u64, source: &str, kind: &str, detail: &str) -> TraceLine {
    TraceLine {
        at_ns: at_ms * MS + 17,
        source: source.into(),
        kind: kind.into(),
        detail: detail.into(),
    }
}

/// A small failing run: linearizability (with a prefix and a stuck
/// operation), watch.unique (a duplicated event) and watch.reliable (a
/// missing event) fail; one property is undecided.
pub fn small_run() -> RunArtefacts {
    let operations = vec![
        put(1, 1, 10 * MS, Some(15 * MS), "/a", "1", put_ok(2)),
        put(
            2,
            2,
            12 * MS,
            Some(20 * MS),
            "/b",
            "x<&>\"'",
            OpResult::Unknown("deadline exceeded".into()),
        ),
        get(
            3,
            1,
            25 * MS,
            30 * MS,
            "/a",
            vec![kv("/a", "1", 2, 2, 1)],
            2,
        ),
        put(4, 3, 32 * MS, Some(40 * MS), "/a", "2", put_ok(3)),
        get(
            5,
            1,
            45 * MS,
            50 * MS,
            "/a",
            vec![kv("/a", "1", 2, 2, 1)],
            3,
        ),
        put(
            6,
            2,
            52 * MS,
            None,
            "/c",
            "never returned",
            OpResult::Unknown("connection lost".into()),
        ),
        put(
            7,
            3,
            55 * MS,
            Some(60 * MS),
            "/d",
            "y",
            OpResult::Fail(EtcdError::Other("no leader".into())),
        ),
        get(8, 4, 61 * MS, 70 * MS, "/b", vec![], 5),
    ];
    let watches = vec![
        WatchRecord {
            id: 1,
            client: 9,
            stream: 1,
            member: Some(2),
            member_compacted: None,
            request: WatchRequest {
                key: "/a".into(),
                start_revision: 2,
                ..Default::default()
            },
            created: 5 * MS,
            responses: vec![
                WatchResponse {
                    at: 6 * MS,
                    header_revision: 1,
                    ..Default::default()
                },
                WatchResponse {
                    at: 16 * MS,
                    header_revision: 2,
                    events: vec![put_event("/a", "1", 2, 2, 1)],
                    ..Default::default()
                },
                WatchResponse {
                    at: 41 * MS,
                    header_revision: 3,
                    events: vec![put_event("/a", "2", 2, 3, 2)],
                    ..Default::default()
                },
                WatchResponse {
                    at: 42 * MS,
                    header_revision: 3,
                    events: vec![put_event("/a", "2", 2, 3, 2)],
                    ..Default::default()
                },
            ],
            k8s_list: None,
            cancel_sent: None,
        },
        WatchRecord {
            id: 2,
            client: 9,
            stream: 1,
            member: None,
            member_compacted: None,
            request: WatchRequest {
                key: "/".into(),
                range_end: "0".into(),
                start_revision: 2,
                prev_kv: true,
                ..Default::default()
            },
            created: 5 * MS,
            responses: vec![
                WatchResponse {
                    at: 16 * MS,
                    header_revision: 2,
                    events: vec![put_event("/a", "1", 2, 2, 1)],
                    ..Default::default()
                },
                WatchResponse {
                    at: 65 * MS,
                    header_revision: 6,
                    events: vec![put_event("/e", "z", 6, 6, 1)],
                    ..Default::default()
                },
            ],
            k8s_list: None,
            cancel_sent: None,
        },
    ];
    let annotations = vec![
        Annotation {
            kind: Some("partition".into()),
            at: 20 * MS,
            end: Some(48 * MS),
            source: "fault".into(),
            text: "partition {1} {2,3}".into(),
        },
        Annotation {
            kind: Some("kill".into()),
            at: 44 * MS,
            end: None,
            source: "fault".into(),
            text: "kill m3".into(),
        },
    ];
    let history = History {
        operations,
        watches,
        annotations,
        ..Default::default()
    };
    let end_state = EndState {
        members: vec![MemberEndState {
            member: 1,
            alive: true,
            hash_kv: Some(HashKv {
                revision: 6,
                compact_revision: 0,
                hash: 42,
            }),
            membership: Some(checker::history::Membership::new(
                9,
                vec![checker::history::ListedMember {
                    id: 1,
                    peer: "10.0.0.2".into(),
                    is_learner: false,
                }],
            )),
        }],
        heal_time: Some(66 * MS),
        first_success_after_heal: Some(69 * MS),
        liveness_bound: 5_000 * MS,
    };
    let mut results: Vec<PropertyResult> = checker::rules::rules()
        .iter()
        .map(|r| PropertyResult {
            property: r.name.to_string(),
            verdict: Verdict::Pass,
        })
        .collect();
    let set = |results: &mut Vec<PropertyResult>, rule: &str, verdict: Verdict| {
        if let Some(r) = results.iter_mut().find(|r| r.property == rule) {
            r.verdict = verdict;
        }
    };
    set(
        &mut results,
        "linearizability",
        Verdict::Fail(Violation {
            rule: "linearizability".into(),
            explanation: LIN_EXPLANATION.into(),
            operations: vec![5, 4],
            watch: None,
            longest_prefix: vec![1, 2, 3],
            details: json!({"stuck_operation": 5, "prefix_length": 3, "violations": 1}),
            ..Default::default()
        }),
    );
    set(
        &mut results,
        "watch.unique",
        Verdict::Fail(Violation {
            rule: "watch.unique".into(),
            explanation: UNIQUE_EXPLANATION.into(),
            operations: vec![],
            watch: Some(1),
            longest_prefix: vec![],
            details: json!({"response": 3, "event": put_event("/a", "2", 2, 3, 2), "violations": 1}),
            ..Default::default()
        }),
    );
    set(
        &mut results,
        "watch.reliable",
        Verdict::Fail(Violation {
            rule: "watch.reliable".into(),
            explanation: RELIABLE_EXPLANATION.into(),
            operations: vec![],
            watch: Some(2),
            longest_prefix: vec![],
            details: json!({"missing": put_event("/b", "x", 4, 4, 1), "last_observed": 6, "violations": 1}),
            ..Default::default()
        }),
    );
    set(
        &mut results,
        "k8s.bookmarks",
        Verdict::Unknown("needs the linearized history: the history is not linearizable".into()),
    );
    let report = Report {
        results,
        stats: Some(SearchSummary {
            operations: 8,
            partitions: 3,
            elapsed_ms: 0.123_456_789_012_345_6,
            iterations: 42,
            backtracks: 3,
            cache_entries: 17,
            peak_bytes: 4096,
        }),
        requests: None,
    };
    let trace = vec![
        line(0, "m1", "process", "started version=3.6"),
        line(0, "m2", "process", "started version=3.6"),
        line(0, "m3", "process", "started version=3.5"),
        line(3, "m1", "role", "leader term=2 leader=1"),
        line(3, "m2", "role", "follower term=2 leader=1"),
        line(20, "engine", "fault", "partition {1} {2,3}"),
        line(23, "m2", "role", "leader term=3 leader=2"),
        line(24, "m1", "role", "follower term=3 leader=2"),
        line(30, "m2", "snapshot", "saved index=100"),
        line(35, "m2", "compact", "finished revision=2"),
        line(44, "m3", "crash", "killed by the fault plan"),
        line(46, "m1", "version", "cluster=3.6"),
        line(48, "engine", "heal", "partition {1} {2,3}"),
        line(58, "m3", "process", "restarted version=3.6"),
        line(66, "engine", "quiesce", "healing every fault"),
        line(67, "c1", "request", "#9 range /a -> ok"),
    ];
    RunArtefacts {
        repro: Repro {
            scenario_name: "default".into(),
            scenario_toml: "name = \"default\"\nmembers = 3\n\n[traffic]\nprofile = \"etcd\"\n".into(),
            seed: 7,
            bugs: vec!["etcd-17247".into()],
            versions: vec!["3.5".into(), "3.6".into()],
            trace_hash: "295e8561df97ef1e".into(),
            real: None,
        },
        history,
        end_state,
        report,
        trace,
        summary_line: "seed=7 scenario=default verdict=fail trace=295e8561df97ef1e ops=8 failed_ops=1 faults=2 sim_ms=70 wall_ms=12 bugs=etcd-17247 rules=linearizability,watch.unique,watch.reliable".into(),
        replay_command: REPLAY.into(),
    }
}

/// A large run: `clients` clients issuing `ops` operations over ten
/// simulated seconds, `watches` watches on the whole key space receiving
/// every write, faults, member events, and a linearizability violation.
pub fn large_run(ops: usize, clients: u64, watch_count: u64) -> RunArtefacts {
    let mut run = small_run();
    let span = 10_000 * MS;
    let per_client = ops as u64 / clients;
    let slot = span / per_client.max(1);
    let mut operations = Vec::with_capacity(ops);
    let mut events = Vec::new();
    let mut revision = 1i64;
    for i in 0..ops as u64 {
        let client = i % clients + 1;
        let n = i / clients;
        let call = n * slot + client * 1_000;
        let ret = call + slot / 2 + (i * 7919 % 97) * 10_000;
        let key = format!("/key/{}", i % 113);
        let op = match i % 10 {
            0..=4 => {
                revision += 1;
                events.push((ret, put_event(&key, &format!("value-{i}"), 2, revision, 1)));
                put(
                    i + 1,
                    client,
                    call,
                    Some(ret),
                    &key,
                    &format!("value-{i}"),
                    put_ok(revision),
                )
            }
            5 => put(
                i + 1,
                client,
                call,
                Some(ret),
                &key,
                "v",
                OpResult::Unknown("deadline exceeded".into()),
            ),
            6 => put(
                i + 1,
                client,
                call,
                Some(ret),
                &key,
                "v",
                OpResult::Fail(EtcdError::Other("no leader".into())),
            ),
            _ => get(
                i + 1,
                client,
                call,
                ret,
                &key,
                vec![kv(&key, "v", 2, revision, 3)],
                revision,
            ),
        };
        operations.push(op);
    }
    let watches = (1..=watch_count)
        .map(|id| WatchRecord {
            id,
            client: 100 + id,
            stream: id,
            member: Some(id % 3 + 1),
            member_compacted: None,
            request: WatchRequest {
                key: "/key/".into(),
                range_end: "/key0".into(),
                start_revision: 2,
                ..Default::default()
            },
            created: 0,
            responses: events
                .iter()
                .map(|(at, e)| WatchResponse {
                    at: *at + 1_000 * id,
                    header_revision: e.kv.mod_revision,
                    events: vec![e.clone()],
                    ..Default::default()
                })
                .collect(),
            k8s_list: None,
            cancel_sent: None,
        })
        .collect();
    let mut annotations = Vec::new();
    let mut trace = Vec::new();
    for f in 0..20u64 {
        let at = f * 500 * MS;
        annotations.push(Annotation {
            kind: Some("partition".into()),
            at,
            end: Some(at + 700 * MS),
            source: "fault".into(),
            text: format!("partition {{{}}} {{others}}", f % 3 + 1),
        });
        trace.push(line(
            f * 500,
            &format!("m{}", f % 3 + 1),
            "role",
            &format!("leader term={} leader={}", f + 2, f % 3 + 1),
        ));
        trace.push(line(
            f * 500 + 250,
            &format!("m{}", (f + 1) % 3 + 1),
            "crash",
            "killed",
        ));
        trace.push(line(
            f * 500 + 400,
            &format!("m{}", (f + 1) % 3 + 1),
            "process",
            "restarted version=3.6",
        ));
    }
    let stuck = (ops as u64) / 2;
    if let Some(Verdict::Fail(v)) = run
        .report
        .results
        .iter_mut()
        .find(|r| r.property == "linearizability")
        .map(|r| &mut r.verdict)
    {
        v.operations = vec![stuck, stuck + 1, stuck + 2];
        v.longest_prefix = (1..stuck).collect();
        v.details = json!({"stuck_operation": stuck, "prefix_length": stuck - 1, "violations": 1});
    }
    run.history = History {
        operations,
        watches,
        annotations,
        ..Default::default()
    };
    run.trace = trace;
    run
}
