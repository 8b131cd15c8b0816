//! The first end-to-end run: a 3-member cluster under traffic with a crash
//! and a partition passes every check on 50 seeds, and the check can fail.

use checker::Overall;
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

#[test]
fn fifty_seeds_of_the_default_scenario_pass() {
    let scenario = catalog::load("default").expect("default scenario");
    for seed in 0..50 {
        let r = run(&scenario, seed, &RunOptions::default());
        assert_eq!(
            r.overall(),
            Overall::Pass,
            "seed {seed}: {:?}",
            r.failed_rules()
        );
        assert!(
            r.stats.ops > 200,
            "seed {seed}: only {} operations",
            r.stats.ops
        );
        assert_eq!(
            r.stats.faults, 2,
            "seed {seed}: the crash and the partition must both happen"
        );
        assert!(r.trace.events().iter().any(|e| e.kind == "crash"));
        assert!(
            r.trace
                .events()
                .iter()
                .any(|e| e.detail.starts_with("isolate"))
        );
    }
}

#[test]
fn a_store_serving_stale_reads_is_caught() {
    let scenario = catalog::load("default").expect("default scenario");
    let opts = RunOptions {
        bugs: node::bugs::BugSet::from_bugs(["stale-local-read".parse().expect("known bug")]),
        ..Default::default()
    };
    let caught = (0..20).any(|seed| {
        run(&scenario, seed, &opts)
            .failed_rules()
            .contains(&"linearizability".to_string())
    });
    assert!(
        caught,
        "20 seeds with stale local reads and no linearizability violation"
    );
}
