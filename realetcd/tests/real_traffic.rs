//! Checked traffic against a real 3-member cluster (Debian's etcd-server,
//! which ci/test.sh installs, or $FAULTLINE_ETCD) with the fault plan:
//! the history is recorded, every rule the checker has passes or is
//! undecided with a reason, and the history is sharp enough that the
//! checker notices when one answer in it is falsified.

mod common;

use checker::history::{OpResult, Request, Response};
use checker::report::Verdict;
use realetcd::cluster::Cluster;
use realetcd::traffic::{self, Config};
use std::time::Duration;

#[test]
fn traffic_with_faults_on_a_real_cluster_checks_clean() {
    let binary = common::binary();
    let runtime = common::runtime();
    let config = Config {
        clients: 4,
        duration: Duration::from_secs(8),
        seed: 7,
    };
    let outcome = runtime.block_on(async {
        let mut cluster = Cluster::start(&binary, 3)
            .await
            .unwrap_or_else(|e| panic!("a 3-member cluster starts: {e}"));
        traffic::run(&mut cluster, &config)
            .await
            .unwrap_or_else(|e| panic!("the traffic runs: {e}"))
    });
    // Written before any assertion and removed only at the end: a failed
    // run leaves its history behind as the evidence.
    let kept = std::env::temp_dir().join(format!(
        "faultline-real-traffic-{}.jsonl",
        std::process::id()
    ));
    std::fs::write(
        &kept,
        checker::jsonl::to_string(&outcome.history, Some(&outcome.end)),
    )
    .expect("the history is written");

    let ops = &outcome.history.operations;
    assert!(ops.len() >= 100, "only {} operations recorded", ops.len());
    let faults: Vec<&str> = outcome
        .history
        .annotations
        .iter()
        .map(|a| a.text.as_str())
        .collect();
    assert_eq!(
        faults.len(),
        3,
        "isolate, crash and pause are annotated: {faults:?}"
    );
    assert!(faults.iter().all(|a| !a.is_empty()));
    for kind in ["range", "put", "delete", "txn"] {
        assert!(
            ops.iter()
                .any(|o| o.result.response().is_some_and(|r| r.kind() == kind)),
            "no answered {kind} in the history"
        );
    }
    let final_client = config.clients as u64;
    let finals = ops
        .iter()
        .filter(|o| o.client == final_client && matches!(o.result, OpResult::Ok(_)))
        .count();
    assert_eq!(finals, 10, "every key is read back once the cluster healed");
    let hashes = outcome
        .end
        .members
        .iter()
        .filter(|m| m.hash_kv.is_some())
        .count();
    assert_eq!(
        hashes, 3,
        "every member's HashKV: {:?}",
        outcome.end.members
    );

    let report = checker::check_run(&outcome.history, &outcome.end, &Default::default());
    for r in &report.results {
        match &r.verdict {
            Verdict::Pass => {}
            Verdict::Unknown(why) => {
                assert!(!why.is_empty(), "{} undecided without a reason", r.property)
            }
            Verdict::Fail(v) => panic!(
                "{} fails on real etcd: {} (history in {})",
                r.property,
                v.explanation,
                kept.display()
            ),
        }
    }
    assert!(
        report
            .result("linearizability")
            .is_some_and(|r| r.verdict.is_pass())
    );

    // The same history with one final read's value falsified must fail:
    // the recorded answers are what the verdict rests on.
    let mut forged = outcome.history.clone();
    let read = forged
        .operations
        .iter_mut()
        .rev()
        .find_map(|o| match (&o.request, &mut o.result) {
            (Request::Range(_), OpResult::Ok(Response::Range(r))) if !r.kvs.is_empty() => Some(r),
            _ => None,
        })
        .expect("a final read that found its key");
    read.kvs[0].value = "never written".into();
    let forged_report = checker::check_run(&forged, &outcome.end, &Default::default());
    assert!(
        !forged_report.failed_rules().is_empty(),
        "a falsified read went unnoticed"
    );
    let _ = std::fs::remove_file(&kept);
}
