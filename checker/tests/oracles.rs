//! Every labelled history in ../shared/oracles must get its known verdict.

use std::path::PathBuf;
use std::time::Duration;

use checker::import::{edn, jepsen_log, kv_ops, register_ops};
use checker::linearizable::{Issuer, Linearizability, SearchLimits, check};
use checker::models::kv::KvModel;
use checker::models::register::RegisterModel;

fn oracles() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/oracles"))
}

fn limits() -> SearchLimits {
    SearchLimits {
        deadline: Some(std::time::Instant::now() + Duration::from_secs(60)),
        memory_bound_bytes: 4 << 30,
    }
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn jepsen_etcd_logs_match_their_verdicts() {
    let dir = oracles().join("jepsen-etcd");
    let verdicts = read(&dir.join("verdicts.csv"));
    let mut checked = 0;
    for line in verdicts.lines().skip(1) {
        let (file, expected) = line.split_once(',').expect("file,linearizable");
        let expected: bool = expected.trim().parse().expect("true or false");
        let imported = jepsen_log::import(&read(&dir.join(file))).expect("parses");
        let ops = register_ops(&imported).expect("register operations");
        let out = check(&RegisterModel, &ops, false, &limits(), Issuer::Process);
        let got = match &out.result {
            Linearizability::Linearizable { .. } => true,
            Linearizability::Violation(_) => false,
            Linearizability::Unknown { reason, .. } => panic!("{file}: unknown: {reason}"),
        };
        assert_eq!(got, expected, "{file}");
        if let Linearizability::Violation(c) = &out.result {
            assert!(
                !c.operations.is_empty(),
                "{file}: a violation names its operations"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 20);
}

fn kv_verdict(name: &str, partition: bool) -> bool {
    let path = oracles().join("porcupine-kv").join(format!("{name}.txt"));
    let imported = edn::import(&read(&path)).expect("parses");
    let ops = kv_ops(&imported).expect("kv operations");
    let out = check(&KvModel, &ops, partition, &limits(), Issuer::Process);
    match out.result {
        Linearizability::Linearizable { .. } => true,
        Linearizability::Violation(c) => {
            assert!(!c.explanation.is_empty());
            false
        }
        Linearizability::Unknown { reason, .. } => panic!("{name}: unknown: {reason}"),
    }
}

#[test]
fn porcupine_kv_partitioned() {
    for name in ["c01", "c10", "c50"] {
        assert!(kv_verdict(&format!("{name}-ok"), true), "{name}-ok");
        assert!(!kv_verdict(&format!("{name}-bad"), true), "{name}-bad");
    }
}

#[test]
fn porcupine_kv_unpartitioned() {
    for name in ["c01", "c10", "c50"] {
        assert!(kv_verdict(&format!("{name}-ok"), false), "{name}-ok");
        assert!(!kv_verdict(&format!("{name}-bad"), false), "{name}-bad");
    }
}

#[test]
fn a_memory_bound_gives_unknown_not_an_oom() {
    let path = oracles().join("porcupine-kv/c50-ok.txt");
    let ops = kv_ops(&edn::import(&read(&path)).expect("parses")).expect("kv operations");
    let tight = SearchLimits {
        deadline: None,
        memory_bound_bytes: 64 * 1024,
    };
    match check(&KvModel, &ops, false, &tight, Issuer::Process).result {
        Linearizability::Unknown { reason, .. } => {
            assert!(reason.contains("memory bound"), "{reason}")
        }
        other => panic!("expected unknown, got {other:?}"),
    }
}
