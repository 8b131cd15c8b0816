//! etcd robustness reports: the hand-written fixtures in etcd's layout are
//! judged right, export then import keeps what etcd's format can hold and
//! the verdicts, and bad reports give one line naming the file, never a panic.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use checker::command::{CheckFileOptions, InputFormat, check_file};
use checker::export::{ExportFormat, etcd_robustness as out, export};
use checker::history::{
    EndState, EtcdError, History, KeyValue, OpResult, Request, Response, TxnOpResponse,
};
use checker::import::etcd_robustness::{self as report, value::as_recorded};
use checker::{CheckOptions, Verdict, check_run};
use proptest::prelude::*;
use support::generate::{GenConfig, generate};

#[path = "support/edits.rs"]
mod edits;
use edits::{apply, edit};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/etcd-robustness")
        .join(name)
}

fn check(path: &Path) -> checker::command::CheckFileOutcome {
    check_file(path, &CheckFileOptions::default()).expect("a readable report")
}

#[test]
fn the_linearizable_fixture_passes_and_skips_what_it_has_no_data_for() {
    let outcome = check(&fixture("linearizable"));
    assert_eq!(outcome.format, InputFormat::EtcdRobustness);
    assert_eq!(outcome.exit_code(), 0, "{outcome}");
    // A defragmentation is a note, not an operation; the rest are operations.
    assert_eq!(outcome.operations, 7);
    let skipped: Vec<&str> = outcome.skipped.iter().map(|(r, _)| r.as_str()).collect();
    assert!(skipped.contains(&"end.hashkv") && skipped.contains(&"end.liveness"));
    assert!(
        outcome
            .report
            .results
            .iter()
            .all(|r| !skipped.contains(&r.property.as_str())),
        "a skipped rule is not reported as passed"
    );
    assert!(
        outcome
            .to_string()
            .contains("skipped: the report holds no members' HashKV")
    );
}

#[test]
fn the_stale_read_fixture_fails_linearizability() {
    let outcome = check(&fixture("stale-read"));
    assert_eq!(outcome.exit_code(), 1, "{outcome}");
    assert_eq!(outcome.report.failed_rules(), vec!["linearizability"]);
    // etcd's robustness tests name who issues requests clients.
    let text = outcome.to_string();
    assert!(text.contains("(client "), "{text}");
    assert!(!text.contains("process"), "{text}");
}

#[test]
fn the_fixture_reads_as_etcd_means_it() {
    let h = report::import(&fixture("linearizable")).unwrap();
    let ops = &h.operations;
    // A one-put Txn without conditions is a put; its header is the revision.
    assert!(matches!(&ops[0].request, Request::Put(p) if p.key == "key1" && p.value == "1"));
    assert!(matches!(&ops[0].result, OpResult::Ok(Response::Put(p)) if p.header_revision == 2));
    assert!(
        matches!(&ops[1].request, Request::Txn(t) if t.compare.len() == 1 && t.failure.len() == 1)
    );
    // The grant's id is the one the server gave; the TTL is not recorded.
    assert!(matches!(
        &ops[2].request,
        Request::LeaseGrant { id: 0, ttl: 0 }
    ));
    assert!(
        matches!(&ops[2].result, OpResult::Ok(Response::LeaseGrant(g)) if g.id == 7587883459370000001)
    );
    // An error: unknown outcome, with the hashed value as a placeholder.
    assert!(matches!(&ops[3].result, OpResult::Unknown(r) if r == "context deadline exceeded"));
    assert!(
        matches!(&ops[3].request, Request::Put(p) if p.value.len() >= 20 && p.lease == 7587883459370000001)
    );
    // A compaction answers at revision -1: not recorded.
    assert!(matches!(&ops[4].result, OpResult::Ok(Response::Compact(c)) if c.header_revision == 0));
    assert_eq!(h.annotations.len(), 1);
    assert!(h.annotations[0].text.contains("defragment"));
    let w = &h.watches[0];
    assert_eq!(w.request.range_end, "kez");
    assert!(w.responses[0].events[0].is_create());
    assert!(!w.responses[1].events[0].is_create());
    assert!(w.responses[2].progress_notify);
}

/// What etcd's format keeps of a history, in the shape the importer gives
/// it: the expectation of a round trip.
fn as_etcd_keeps(h: &History) -> History {
    let end = h
        .operations
        .iter()
        .map(|o| o.ret.unwrap_or(o.call))
        .chain(
            h.watches
                .iter()
                .flat_map(|w| w.responses.iter().map(|r| r.at)),
        )
        .max()
        .unwrap_or(0)
        + 1;
    let kv = |kv: &KeyValue| KeyValue {
        value: as_recorded(&kv.value),
        create_revision: 0,
        lease: 0,
        ..kv.clone()
    };
    let mut ops: BTreeMap<u64, Vec<checker::history::Operation>> = BTreeMap::new();
    for op in &h.operations {
        let mut op = op.clone();
        match &mut op.request {
            Request::LeaseKeepAlive { .. } | Request::LeaseTimeToLive { .. } => continue,
            Request::Range(r) if r.serializable || r.count_only => continue,
            Request::Put(p) => {
                p.prev_kv = false;
                p.value = as_recorded(&p.value);
            }
            Request::DeleteRange(d) => d.prev_kv = false,
            Request::LeaseGrant { id, ttl } => {
                *id = 0;
                *ttl = 0;
            }
            Request::Txn(t) => {
                // A version of 0 is a mod revision of 0 (the key is absent) for etcd.
                for c in &mut t.compare {
                    if c.target == checker::history::CompareTarget::Version(0) {
                        c.target = checker::history::CompareTarget::ModRevision(0);
                    }
                }
                for o in t.success.iter_mut().chain(t.failure.iter_mut()) {
                    if let checker::history::TxnOp::Put(p) = o {
                        p.value = as_recorded(&p.value);
                    }
                }
            }
            _ => {}
        }
        op.ret = Some(op.ret.unwrap_or(end));
        op.k8s = None;
        op.result = match op.result {
            OpResult::Ok(mut r) => {
                match &mut r {
                    Response::Range(r) => r.kvs = r.kvs.iter().map(kv).collect(),
                    Response::Put(p) => p.prev_kv = None,
                    Response::DeleteRange(d) => d.prev_kvs.clear(),
                    Response::Compact(c) => c.header_revision = 0,
                    Response::LeaseGrant(g) => g.ttl = 0,
                    Response::Txn(t) => {
                        for r in &mut t.responses {
                            // Nested headers are neither recorded nor checked.
                            match r {
                                TxnOpResponse::Range(r) => {
                                    r.kvs = r.kvs.iter().map(kv).collect();
                                    r.header_revision = 0;
                                }
                                TxnOpResponse::Put(p) => p.header_revision = 0,
                                TxnOpResponse::DeleteRange(d) => d.header_revision = 0,
                                TxnOpResponse::Txn(_) => {}
                            }
                        }
                    }
                    _ => {}
                }
                OpResult::Ok(r)
            }
            OpResult::Fail(e) => match (&op.request, e) {
                (
                    Request::Compact { .. },
                    e @ (EtcdError::Compacted { .. } | EtcdError::FutureRevision),
                ) => OpResult::Fail(match e {
                    EtcdError::Compacted { .. } => EtcdError::Compacted {
                        compact_revision: 0,
                    },
                    e => e,
                }),
                _ => OpResult::Unknown(String::new()),
            },
            OpResult::Unknown(_) => OpResult::Unknown(String::new()),
        };
        ops.entry(op.client).or_default().push(op);
    }
    let mut kept = History::default();
    for op in ops.into_values().flatten() {
        kept.operations.push(checker::history::Operation {
            id: kept.operations.len() as u64 + 1,
            ..op
        });
    }
    let mut watches: BTreeMap<u64, Vec<checker::history::WatchRecord>> = BTreeMap::new();
    for w in &h.watches {
        let mut w = w.clone();
        w.created = 0;
        w.stream = w.client;
        w.member = None;
        w.k8s_list = None;
        for r in &mut w.responses {
            r.requested_progress = false;
            r.compact_revision = 0;
            for e in &mut r.events {
                let created = e.is_create();
                e.kv = KeyValue {
                    create_revision: if created { e.kv.mod_revision } else { 0 },
                    version: i64::from(created),
                    ..kv(&e.kv)
                };
                e.prev_kv = e.prev_kv.as_ref().map(kv);
            }
        }
        watches.entry(w.client).or_default().push(w);
    }
    for w in watches.into_values().flatten() {
        kept.watches.push(checker::history::WatchRecord {
            id: kept.watches.len() as u64 + 1,
            ..w
        });
    }
    kept
}

fn round_trip(h: &History) -> History {
    let dir = tempfile::tempdir().unwrap();
    export(h, ExportFormat::EtcdRobustness, dir.path()).expect("exportable");
    report::import(dir.path()).expect("importable")
}

/// Each rule's verdict, as pass / fail / unknown.
fn verdicts(h: &History) -> Vec<(String, &'static str)> {
    check_run(h, &EndState::default(), &CheckOptions::default())
        .results
        .into_iter()
        .filter(|r| !r.property.starts_with("end."))
        .map(|r| {
            let v = match r.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail(_) => "fail",
                Verdict::Unknown(_) => "unknown",
            };
            (r.property, v)
        })
        .collect()
}

fn assert_round_trip(h: &History) {
    let back = round_trip(h);
    let mut expected = as_etcd_keeps(h);
    expected.recorded = report::RECORDED;
    let mut got = back.clone();
    for o in &mut got.operations {
        if let OpResult::Unknown(r) = &mut o.result {
            r.clear();
        }
    }
    assert_eq!(got.operations.len(), expected.operations.len());
    for (g, e) in got.operations.iter().zip(&expected.operations) {
        assert_eq!(g, e);
    }
    assert_eq!(got.watches.len(), expected.watches.len());
    for (g, e) in got.watches.iter().zip(&expected.watches) {
        assert_eq!(g, e);
    }
    assert_eq!(verdicts(&back), verdicts(h));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn export_then_import_keeps_operations_and_verdicts(
        seed in 0u64..1_000_000,
        leases in any::<bool>(),
        watches in 0usize..3,
    ) {
        let h = generate(&GenConfig {
            seed,
            operations: 150,
            keys: 8,
            clients: 6,
            unknown_writes: 0.05,
            leases,
            watches,
            ..GenConfig::default()
        });
        assert_round_trip(&h);
    }
}

#[test]
fn a_planted_stale_read_still_fails_after_the_round_trip() {
    let mut h = generate(&GenConfig {
        seed: 7,
        operations: 200,
        keys: 4,
        ..GenConfig::default()
    });
    // Make the last read of a key that was written since return the value
    // its first write gave: a stale read.
    let stale = h
        .operations
        .iter()
        .rposition(|o| matches!((&o.request, &o.result), (Request::Range(r), OpResult::Ok(Response::Range(a))) if r.range_end.is_empty() && a.kvs.first().is_some_and(|kv| kv.version > 1)))
        .expect("a read of a key written twice");
    if let OpResult::Ok(Response::Range(a)) = &mut h.operations[stale].result {
        a.kvs[0].value = "stale".into();
    }
    assert!(verdicts(&h).contains(&("linearizability".into(), "fail")));
    assert_round_trip(&h);
}

#[test]
fn real_runs_keep_their_operations_and_verdicts() {
    for name in ["standard-100401.jsonl.gz", "leases-1.jsonl"] {
        assert_round_trip(&support::recorded::history(name));
    }
}

#[test]
fn a_write_the_format_cannot_hold_is_refused() {
    // leases-2 has a txn that writes and reads at a past revision.
    let e = out::to_report(&support::recorded::history("leases-2.jsonl")).unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot be written in the etcd-robustness format"),
        "{e}"
    );
}

#[test]
fn export_formats_are_listed_by_the_parser() {
    assert_eq!(
        "etcd-robustness".parse::<ExportFormat>(),
        Ok(ExportFormat::EtcdRobustness)
    );
    let e = "jepsen".parse::<ExportFormat>().unwrap_err();
    assert!(e.contains("etcd-robustness"), "{e}");
}

/// A report folder holding `text` as client-1's operations.json.
fn report_with(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("client-1")).unwrap();
    std::fs::write(dir.path().join("client-1/operations.json"), text).unwrap();
    dir
}

fn input_error(text: &str) -> String {
    let dir = report_with(text);
    let opts = CheckFileOptions {
        format: InputFormat::EtcdRobustness,
        ..CheckFileOptions::default()
    };
    let e = check_file(dir.path(), &opts).expect_err("a bad report");
    let line = e.to_string();
    assert!(!line.contains('\n'), "{line}");
    assert!(line.contains("client-1/operations.json"), "{line}");
    line
}

const VALID: &str = include_str!("data/etcd-robustness/linearizable/client-1/operations.json");

#[test]
fn bad_reports_give_one_line_naming_the_file_line_and_field() {
    let cut = &VALID[..VALID.len() / 2];
    assert!(input_error(cut).contains("expected a KvOperation"));
    let no_type = VALID.replacen("\"Type\": \"txn\",", "", 1);
    let e = input_error(&no_type);
    assert!(e.contains(":1: Input.Type is missing"), "{e}");
    let bad_type = VALID.replacen("\"Type\": \"txn\"", "\"Type\": \"watch\"", 1);
    assert!(input_error(&bad_type).contains("unknown variant `watch`"));
    let backwards = VALID.replacen("\"Return\": 2000", "\"Return\": 10", 1);
    assert!(input_error(&backwards).contains("Return is 10; expected a time >= Call"));
    let no_range = VALID.replacen(
        "\"Range\": null,\n    \"Txn\": {",
        "\"Range\": null,\n    \"Txn\": null, \"X\": {",
        1,
    );
    assert!(input_error(&no_range).contains("Input.Txn is null"));
}

#[test]
fn folders_that_are_no_report_are_refused() {
    let empty = tempfile::tempdir().unwrap();
    let opts = CheckFileOptions {
        format: InputFormat::EtcdRobustness,
        ..CheckFileOptions::default()
    };
    let e = check_file(empty.path(), &opts).unwrap_err().to_string();
    assert!(e.contains("no client-N folder"), "{e}");
    std::fs::create_dir(empty.path().join("client-x")).unwrap();
    let e = check_file(empty.path(), &opts).unwrap_err().to_string();
    assert!(e.contains("expected client-N"), "{e}");
    // Guessing: a folder that is no report is not a history either.
    let e = check_file(empty.path(), &CheckFileOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("is a folder"), "{e}");
}

fn read_everything(text: &str) {
    let _ = report::parse_stream::<report::format::KvOperation>(text);
    let _ = report::parse_stream::<report::format::WatchOperation>(text);
    let dir = report_with(text);
    let _ = report::import(dir.path());
}

const WATCH: &str = include_str!("data/etcd-robustness/linearizable/client-2/watch.json");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        read_everything(&text);
    }

    #[test]
    fn edited_reports_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        read_everything(&apply(VALID, &edits));
        read_everything(&apply(WATCH, &edits));
    }

    #[test]
    fn truncated_reports_never_panic(cut in 0usize..4000) {
        let at = (0..=cut.min(VALID.len())).rev().find(|i| VALID.is_char_boundary(*i)).unwrap_or(0);
        read_everything(&VALID[..at]);
    }
}

#[test]
fn deep_nesting_is_refused_not_recursed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = input_error(&deep);
    assert!(
        e.contains("recursion limit") || e.contains("expected"),
        "{e}"
    );
}

#[test]
fn a_real_etcd_wal_reads_as_the_writes_it_persisted() {
    use report::wal::{PersistedWrite, read_persisted};
    // Written by etcd 3.4.23 (tests/data/etcd-robustness/wal-resolves/README.md).
    let persisted = read_persisted(&fixture("wal-resolves"))
        .expect("a readable WAL")
        .expect("the report has a member WAL");
    assert_eq!(persisted.members.len(), 1);
    assert!(persisted.unreadable.is_empty(), "{persisted:?}");
    let put = |key: &str, value: &str| PersistedWrite::Put {
        key: key.into(),
        value: value.into(),
    };
    assert_eq!(
        persisted.writes,
        vec![
            put("a", "1"),
            put("b", "2"),
            put("a", "3"),
            PersistedWrite::Delete { key: "b".into() },
            PersistedWrite::Compact { revision: 3 },
        ]
    );
    // A report without member folders has nothing to resolve with.
    assert_eq!(read_persisted(&fixture("stale-read")), Ok(None));
}

#[test]
fn the_wal_resolves_failed_writes_as_etcd_validation_does() {
    let path = fixture("wal-resolves");
    let imported = report::import_report(&path).expect("a readable report");
    let wal = imported.wal.expect("the report has a member WAL");
    // put a=1 was persisted; put c=9 was not, so it is left out.
    assert_eq!(wal.resolved.persisted, 1);
    assert_eq!(wal.resolved.not_persisted, 1);
    assert_eq!(imported.history.operations.len(), 3);
    assert!(
        imported
            .history
            .operations
            .iter()
            .all(|op| !matches!(&op.request, Request::Put(p) if p.key == "c"))
    );
    // The read of c=9 then reads a value never written ...
    let outcome = check(&path);
    assert_eq!(outcome.exit_code(), 1, "{outcome}");
    assert_eq!(outcome.report.failed_rules(), vec!["linearizability"]);
    assert!(
        outcome
            .to_string()
            .contains("WAL of 1 members: 5 persisted writes; failed writes resolved: 1 not persisted (left out), 1 persisted"),
        "{outcome}"
    );
    // ... which the unknown put c=9 explains when the WAL is not read.
    let without = report::to_history(&path, &report::read_report(&path).unwrap()).unwrap();
    let report = check_run(&without, &EndState::default(), &CheckOptions::default());
    assert!(
        report
            .result("linearizability")
            .is_some_and(|r| r.verdict.is_pass()),
        "{report:?}"
    );
}

#[test]
fn a_wal_that_cannot_be_read_is_skipped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("wal-resolves");
    for client in ["client-1", "client-2"] {
        std::fs::create_dir_all(dir.path().join(client)).unwrap();
        std::fs::copy(
            src.join(client).join("operations.json"),
            dir.path().join(client).join("operations.json"),
        )
        .unwrap();
    }
    let wal_dir = dir.path().join("server-m0/member/wal");
    std::fs::create_dir_all(&wal_dir).unwrap();
    let name = "0000000000000000-0000000000000000.wal";
    let mut bytes = std::fs::read(src.join("server-m0/member/wal").join(name)).unwrap();
    // A byte of the put of b=2's entry (the fourth entry record): its crc
    // no longer matches.
    bytes[640] ^= 0x01;
    std::fs::write(wal_dir.join(name), &bytes).unwrap();
    let imported = report::import_report(dir.path()).expect("the clients are readable");
    let wal = imported.wal.expect("the report has a member folder");
    assert_eq!(wal.members, 0);
    assert_eq!(wal.unreadable.len(), 1, "{wal:?}");
    assert!(wal.unreadable[0].contains(name), "{wal:?}");
    // Nothing resolved: both failed puts stay unknown, as without a WAL.
    assert_eq!(imported.history.operations.len(), 4);
}
