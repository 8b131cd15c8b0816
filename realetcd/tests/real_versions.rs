//! Restarts into the other etcd binary on a real 3-member cluster under
//! the etcd mix: the members start mixed (m0 and m2 with the old binary,
//! m1 with the new), a rolling upgrade moves them all to the new one
//! (followers first, the leader last), and a swap moves a follower back. Only one etcd version is installed
//! here, so the old binary is a symlink to the new one under another name:
//! the same version, but each process's command line shows which binary
//! it was started as, so the test sees every member stop with one and
//! start with the other, on the same data (same member id), and the
//! history still passes the checker. Nothing may be left running.
//! The mix leaves out the multi-op Txn, as `real_scenario.rs` does
//! (etcd-18667 in 3.4.23).

mod common;

use checker::report::Verdict;
use realetcd::cluster::{Binaries, Cluster, Settings};
use realetcd::harness;
use realplan::{Binary, Fault, Plan, Step, Target};
use std::path::{Path, PathBuf};

fn plan() -> Plan {
    Plan {
        scenario: "versions".into(),
        seed: 5,
        members: 3,
        binaries: vec![Binary::Old, Binary::New, Binary::Old],
        duration_ms: 12_000,
        client_timeout_ms: 2000,
        liveness_bound_ms: 20_000,
        snapshot_count: None,
        traffic: vec![common::etcd_traffic()],
        steps: vec![
            Step {
                index: 0,
                kind: "rolling_upgrade".into(),
                at_ms: 1500,
                fault: Fault::Rolling {
                    binary: Binary::New,
                },
            },
            Step {
                index: 1,
                kind: "swap_version".into(),
                at_ms: 8000,
                fault: Fault::Swap {
                    target: Target::Follower,
                    binary: Binary::Old,
                },
            },
        ],
    }
}

/// The program a process was started as (its argv[0]).
fn started_as(pid: Option<u32>) -> PathBuf {
    let pid = pid.expect("the member runs");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("its command line");
    let first = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    PathBuf::from(String::from_utf8_lossy(first).into_owned())
}

/// Processes whose command line names `folder`.
fn processes_naming(folder: &Path) -> usize {
    let needle = folder.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .count()
}

#[test]
fn members_move_between_two_binaries_on_their_data_under_traffic() {
    let new = common::binary();
    let links = tempfile::tempdir().expect("a temporary folder");
    let old = links.path().join("etcd-old");
    std::os::unix::fs::symlink(&new, &old).expect("the old binary's name");
    let version = harness::version(&new).expect("its version");
    let binaries = Binaries::new(&new, Some(&old)).expect("both binaries answer --version");
    let plan = plan();
    let runtime = common::runtime();
    let (outcome, root, before, after) = runtime.block_on(async {
        let mut cluster = Cluster::start_with(binaries, &plan.binaries, Settings::of(&plan))
            .await
            .unwrap_or_else(|e| panic!("a cluster of the old binary starts: {e}"));
        let mut ids = Vec::new();
        for i in 0..3 {
            let (role, path) = if i == 1 {
                (Binary::New, &new)
            } else {
                (Binary::Old, &old)
            };
            assert_eq!(cluster.binary_of(i), role);
            assert_eq!(
                &started_as(cluster.pid(i)),
                path,
                "m{i} started as {role:?}"
            );
            ids.push(
                cluster
                    .status(i)
                    .await
                    .expect("answers")
                    .header
                    .expect("header")
                    .member_id,
            );
        }
        let outcome = realetcd::scenario::run(&mut cluster, &plan)
            .await
            .unwrap_or_else(|e| panic!("the plan runs: {e}"));
        let mut after = Vec::new();
        for i in 0..3 {
            let binary = cluster.binary_of(i);
            let expected = if binary == Binary::Old { &old } else { &new };
            assert_eq!(
                &started_as(cluster.pid(i)),
                expected,
                "m{i} runs its binary"
            );
            let id = cluster
                .status(i)
                .await
                .expect("answers")
                .header
                .expect("header")
                .member_id;
            after.push((binary, id));
        }
        let root = cluster.root().to_path_buf();
        drop(cluster);
        (outcome, root, ids, after)
    });
    // The same member ids: every member came back on its own data.
    assert_eq!(after.iter().map(|(_, id)| *id).collect::<Vec<_>>(), before);
    // The rolling upgrade moved all three to new, the swap one follower back.
    let olds = after.iter().filter(|(b, _)| *b == Binary::Old).count();
    assert_eq!(olds, 1, "{after:?}");

    let steps = &outcome.steps;
    assert_eq!(steps.len(), 2, "{steps:?}");
    let moved = format!("old ({version}) -> new ({version}) (SIGTERM, stopped");
    let stayed = format!("m1 new ({version}) -> new ({version}) (SIGTERM, stopped");
    assert!(
        steps[0].starts_with(&format!(
            "faults[0] rolling_upgrade: rolling restart into new ({version}), followers first: m"
        )),
        "{steps:?}"
    );
    let entries: Vec<&str> = steps[0].split("), m").collect();
    assert_eq!(steps[0].matches(&moved).count(), 2, "{steps:?}");
    assert_eq!(steps[0].matches(&stayed).count(), 1, "{steps:?}");
    // The leader last: no member that led was moved before another.
    assert!(
        entries[..entries.len() - 1]
            .iter()
            .all(|e| !e.contains("was leader")),
        "{steps:?}"
    );
    assert!(
        steps[1].contains(&format!(
            "new ({version}) -> old ({version}) (SIGTERM, stopped)"
        )),
        "{steps:?}"
    );
    assert_eq!(outcome.history.annotations.len(), 2);
    assert_eq!(outcome.history.annotations[1].text, steps[1]);

    let kept = std::env::temp_dir().join(format!(
        "faultline-real-versions-{}.jsonl",
        std::process::id()
    ));
    std::fs::write(
        &kept,
        checker::jsonl::to_string(&outcome.history, Some(&outcome.end)),
    )
    .expect("the history is written");
    let report = checker::check_run(&outcome.history, &outcome.end, &Default::default());
    for r in &report.results {
        if let Verdict::Fail(v) = &r.verdict {
            panic!(
                "{} fails across the binary changes: {} (history in {})",
                r.property,
                v.explanation,
                kept.display()
            );
        }
    }
    for rule in [checker::rules::LINEARIZABILITY, checker::rules::END_HASHKV] {
        assert!(
            report.result(rule).is_some_and(|r| r.verdict.is_pass()),
            "{rule} is decided"
        );
    }
    let _ = std::fs::remove_file(&kept);

    // Nothing left: no etcd of the cluster's, no folder.
    assert_eq!(processes_naming(&root), 0);
    assert!(!root.exists(), "{} is left", root.display());
}
