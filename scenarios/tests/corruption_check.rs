//! The leader's periodic corruption check (etcd's PeriodicCheck) raises
//! CORRUPT when members' data differ: with etcd-18667 on, members apply a
//! Txn differently and their HashKV at one revision diverge; with the
//! check on (`corrupt_check_interval_ms`), the alarm is raised. The same
//! seed without the bug raises none, and with the check off (etcd's
//! default) none is raised either.

use node::bugs::{Bug, BugSet};
use node::coverage::Point;
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

fn raised(check_ms: u64, bugs: BugSet, seed: u64) -> bool {
    let mut scenario = catalog::load("bug-txn-compacted-range").expect("catalog scenario");
    scenario.cluster.knobs.corrupt_check_interval_ms = check_ms;
    let opts = RunOptions {
        bugs,
        ..Default::default()
    };
    run(&scenario, seed, &opts)
        .points_reached
        .contains_key(&Point::AlarmRaised)
}

#[test]
fn diverging_members_raise_corrupt_only_with_the_check_on() {
    let buggy = || BugSet::from_bugs([Bug::Etcd18667]);
    let seeds: Vec<u64> = (0..4).filter(|&s| raised(500, buggy(), s)).collect();
    assert!(!seeds.is_empty(), "no seed of 0..4 raised CORRUPT");
    for seed in seeds {
        assert!(
            !raised(500, BugSet::none(), seed),
            "seed {seed}: no bug, no alarm"
        );
        assert!(!raised(0, buggy(), seed), "seed {seed}: the check is off");
    }
}
