//! Shrinking a catalogued bug's failing seed keeps the failure and makes
//! the run smaller; the minimal repro replays to the same failure.

use node::bugs::{Bug, BugSet};
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};
use scenarios::shrink::shrink;

#[test]
fn shrinking_a_bugs_failing_seed_keeps_the_failure_and_gets_smaller() {
    let scenario = catalog::load("bug-watch-snapshot-restore").expect("catalog scenario");
    let bug: Bug = "etcd-15271".parse().expect("catalogued bug");
    let opts = RunOptions {
        bugs: BugSet::from_bugs([bug]),
        ..Default::default()
    };
    let outcome = shrink(&scenario, 0, &opts, 150).expect("seed 0 fails with the bug on");
    assert!(
        outcome.shrunk_ops < outcome.original_ops,
        "ops {} -> {}",
        outcome.original_ops,
        outcome.shrunk_ops
    );
    assert!(outcome.shrunk.faults.len() <= outcome.original.faults.len());
    assert!(outcome.shrunk.duration_s <= outcome.original.duration_s);

    // The minimal scenario and seed fail the same rule, with the same trace.
    let again = run(&outcome.shrunk, outcome.seed, &opts);
    assert!(
        again.failed_rules().contains(&outcome.rule),
        "the shrunk run no longer fails {}: {:?}",
        outcome.rule,
        again.failed_rules()
    );
    assert_eq!(again.trace_hash, outcome.trace_hash);
    assert_eq!(again.stats.ops, outcome.shrunk_ops);

    // Shrinking is deterministic.
    let twice = shrink(&scenario, 0, &opts, 150).expect("fails again");
    assert_eq!(twice.shrunk, outcome.shrunk);
    assert_eq!(twice.seed, outcome.seed);
}

#[test]
fn a_passing_run_has_nothing_to_shrink() {
    let scenario = catalog::load("single-member").expect("catalog scenario");
    assert!(shrink(&scenario, 0, &RunOptions::default(), 10).is_none());
}
