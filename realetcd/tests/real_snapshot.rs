//! `partition_until_snapshot` on a real 3-member cluster: m2 (the third
//! member; the cluster names them from m0) is cut off
//! under a write-heavy mix until each of the others has a snapshot more
//! than etcd's 5000 catch-up entries past m2's index, then healed.
//! What proves the snapshot path, and not merely the partition: the leader
//! logs the snapshot it sent to m2, m2 logs the snapshot it received and
//! applied, at an index past what m2 held when it was cut off plus the
//! catch-up entries. After it, m2 serves linearizable reads that agree
//! with the leader's on every key, and the recorded history passes the
//! checker.

mod common;

use checker::report::Verdict;
use realetcd::cluster::snapshots::CATCH_UP_ENTRIES;
use realetcd::cluster::{Binaries, Cluster, Settings};
use realplan::{Binary, Fault, Op, Plan, Profile, Step, Target, Traffic};
use std::time::{Duration, Instant};

/// The member cut off: m2.
const CUT: usize = 2;
/// How long m2 may take to apply the snapshot once healed.
const CATCH_UP_WAIT: Duration = Duration::from_secs(30);

fn plan() -> Plan {
    Plan {
        scenario: "test-snapshot".into(),
        seed: 5,
        members: 3,
        binaries: vec![Binary::New; 3],
        duration_ms: 2000,
        client_timeout_ms: 2000,
        liveness_bound_ms: 20_000,
        snapshot_count: Some(100),
        // Back to back and mostly writes: the others must apply more than
        // 5000 entries while m2 is cut off.
        traffic: vec![Traffic {
            profile: Profile::Etcd {
                mix: vec![
                    (Op::Get, 10),
                    (Op::Put, 70),
                    (Op::Delete, 10),
                    (Op::CompareAndSet, 10),
                ],
                compact_period_ms: Some(1000),
            },
            clients: 6,
            rate: 0.0,
            keys: 10,
            key_prefix: "key".into(),
            until_ms: None,
        }],
        steps: vec![Step {
            index: 0,
            kind: "partition_until_snapshot".into(),
            at_ms: 1000,
            fault: Fault::PartitionUntilSnapshot {
                target: Target::Member(CUT),
                timeout_ms: 90_000,
            },
        }],
    }
}

/// `... passed m2's index 1234 + 5000, ...`: the index the step read.
fn index_cut_off(step: &str) -> u64 {
    let marker = format!("passed m{CUT}'s index ");
    let rest = &step[step.find(&marker).expect("the index in the step") + marker.len()..];
    rest.split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

#[test]
fn an_isolated_member_is_caught_up_by_a_snapshot_and_reads_what_the_leader_reads() {
    let binary = common::binary();
    let runtime = common::runtime();
    let plan = plan();
    runtime.block_on(async {
        let binaries = Binaries::new(&binary, None).expect("etcd answers --version");
        let mut cluster = Cluster::start_with(binaries, &plan.binaries, Settings::of(&plan))
            .await
            .unwrap_or_else(|e| panic!("a 3-member cluster starts: {e}"));
        let started = Instant::now();
        let outcome = realetcd::scenario::run(&mut cluster, &plan)
            .await
            .unwrap_or_else(|e| panic!("the plan runs: {e}"));
        let step = &outcome.steps[0];
        eprintln!("{step} (run: {:.1} s)", started.elapsed().as_secs_f64());
        assert!(
            step.starts_with(&format!(
                "faults[0] partition_until_snapshot: isolate m{CUT} until "
            )),
            "the snapshot never came: {step}"
        );
        let behind = index_cut_off(step);

        // m2 applies a snapshot received from the leader, past what it held.
        let waited = Instant::now();
        let applied = loop {
            let applied = cluster.snapshots_applied(CUT);
            if !applied.is_empty() || waited.elapsed() >= CATCH_UP_WAIT {
                break applied;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let last_lines = cluster.log_tail(CUT, 30);
        let restored = *applied
            .iter()
            .max()
            .unwrap_or_else(|| panic!("m{CUT} applied no incoming snapshot:\n{last_lines}"));
        assert!(
            restored > behind + CATCH_UP_ENTRIES,
            "m{CUT} restored index {restored}, not past {behind} + {CATCH_UP_ENTRIES}"
        );
        let sender = (0..3)
            .filter(|&i| i != CUT)
            .find(|&i| cluster.snapshots_sent(i).contains(&restored));
        assert!(
            sender.is_some(),
            "no other member logs sending the snapshot at {restored}"
        );
        assert!(
            cluster
                .log(CUT)
                .contains("received and saved database snapshot"),
            "m{CUT} does not log receiving the database"
        );

        // Then it serves linearizable reads, agreeing with the leader on
        // every key, and one new write.
        let leader = cluster
            .wait_leader(Duration::from_secs(20))
            .await
            .expect("a leader");
        let limit = Duration::from_secs(5);
        for k in 0..10 {
            let key = format!("key{k}");
            let theirs = cluster.get(leader, &key, true, limit).await;
            let ours = cluster.get(CUT, &key, true, limit).await;
            assert_eq!(
                ours.expect("m2 reads"),
                theirs.expect("the leader reads"),
                "{key}"
            );
        }
        cluster
            .put(leader, "after-snapshot", "written", limit)
            .await
            .expect("a put");
        assert_eq!(
            cluster
                .get(CUT, "after-snapshot", true, limit)
                .await
                .expect("a linearizable read through m2")
                .as_deref(),
            Some("written")
        );

        let report = checker::check_run(&outcome.history, &outcome.end, &Default::default());
        for rule in [checker::rules::LINEARIZABILITY, checker::rules::END_HASHKV] {
            let verdict = report.result(rule).map(|r| &r.verdict);
            assert!(
                matches!(verdict, Some(Verdict::Pass)),
                "{rule}: {verdict:?}"
            );
        }
    });
}
