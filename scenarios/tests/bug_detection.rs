//! Every catalogued bug has a known detecting seed (found with
//! `faultline hunt`): with the bug on, the run fails with the expected
//! rule; with no bug, the same seed passes.

use node::bugs::{Bug, BugSet};
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

/// (bug, scenario, seed, a rule that must fire)
const KNOWN: &[(&str, &str, u64, &str)] = &[
    ("etcd-13766", "bug-write-load-crashes", 97, "end.hashkv"),
    (
        "etcd-14370",
        "bug-single-member-save-crash",
        1,
        "linearizability",
    ),
    ("etcd-14685", "bug-defrag-crash", 0, "linearizability"),
    (
        "etcd-15220",
        "bug-slow-watchers-progress",
        0,
        "watch.bookmarkable",
    ),
    (
        "etcd-15271",
        "bug-watch-snapshot-restore",
        0,
        "watch.unique",
    ),
    ("etcd-17247", "bug-buffer-writeback", 19, "watch.unique"),
    (
        "etcd-17529",
        "bug-slow-watchers-compaction",
        0,
        "watch.cancel-on-compaction",
    ),
    (
        "etcd-17780",
        "bug-compaction-tombstone-crash",
        15,
        "member.no-unexpected-exit",
    ),
    (
        "etcd-18055",
        "bug-snapshot-purge",
        5,
        "member.no-unexpected-exit",
    ),
    (
        "etcd-18089",
        "bug-watch-at-compact-revision",
        0,
        "watch.resumable",
    ),
    (
        "etcd-19179",
        "bug-batched-compaction-crash",
        160,
        "end.hashkv",
    ),
    (
        "etcd-20221",
        "bug-watch-snapshot-restore",
        61,
        "watch.resumable",
    ),
    (
        "etcd-20418",
        "bug-paused-leader-reads",
        12,
        "linearizability",
    ),
    ("stale-local-read", "partitions", 1, "linearizability"),
    (
        "downgrade-no-snapshot",
        "bug-downgrade-with-ttl",
        0,
        "plan.required-step",
    ),
    (
        "downgrade-keeps-fields",
        "bug-downgrade-with-ttl",
        0,
        "version.downgraded-fields",
    ),
];

#[test]
fn every_known_seed_catches_its_bug_and_passes_without_it() {
    for (bug, scenario, seed, rule) in KNOWN {
        let scenario = catalog::load(scenario).expect("catalog scenario");
        let bug: Bug = bug.parse().expect("catalogued bug");
        let with = run(
            &scenario,
            *seed,
            &RunOptions {
                bugs: BugSet::from_bugs([bug]),
                ..Default::default()
            },
        );
        assert!(
            with.failed_rules().iter().any(|r| r == rule),
            "{bug} on {} seed {seed}: expected {rule} to fire, got {:?}",
            scenario.name,
            with.failed_rules()
        );
        let without = run(&scenario, *seed, &RunOptions::default());
        assert_eq!(
            without.verdict_word(),
            "pass",
            "{} seed {seed} without bugs: {:?}",
            scenario.name,
            without.failed_rules()
        );
    }
}

#[test]
fn every_catalogued_bug_has_a_known_seed() {
    for info in node::bugs::CATALOG {
        assert!(
            KNOWN.iter().any(|(b, ..)| *b == info.name),
            "{} has no detecting seed",
            info.name
        );
    }
}
