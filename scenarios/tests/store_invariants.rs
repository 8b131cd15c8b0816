//! The store's invariants (`node::invariants`) reach the run's verdict:
//! one broken by a planted bug fails rule `store.invariant`, naming the
//! invariant and the values that broke it; the correct store breaks none
//! on the general catalog.

use checker::report::Verdict;
use checker::rules;
use node::bugs::{Bug, BugSet};
use node::invariants::Invariant;
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

#[test]
fn a_lone_member_applying_before_its_wal_write_breaks_an_invariant() {
    let scenario = catalog::load("bug-single-member-save-crash").expect("catalog scenario");
    let opts = RunOptions {
        bugs: BugSet::from_bugs([Bug::Etcd14370]),
        ..Default::default()
    };
    let r = run(&scenario, 0, &opts);
    let broken = r
        .report
        .results
        .iter()
        .find(|p| p.property == rules::STORE_INVARIANT)
        .expect("the run reports the store's invariants");
    let Verdict::Fail(v) = &broken.verdict else {
        panic!("etcd-14370 breaks no invariant: {:?}", broken.verdict);
    };
    let name = Invariant::OneVoterAppliesOnlyDurable.name();
    assert!(v.explanation.contains(name), "{}", v.explanation);
    assert!(
        v.explanation.contains("handed to apply"),
        "{}",
        v.explanation
    );
    assert!(
        r.trace
            .events()
            .iter()
            .any(|e| e.kind == "invariant" && e.detail.starts_with(name)),
        "the trace shows where it broke"
    );
}

#[test]
fn the_correct_store_breaks_no_invariant_on_the_general_catalog() {
    for scenario in catalog::general() {
        for seed in 0..3 {
            let r = run(&scenario, seed, &RunOptions::default());
            let broken: Vec<_> = r
                .trace
                .events()
                .iter()
                .filter(|e| e.kind == "invariant")
                .map(|e| format!("{} {}", e.source, e.detail))
                .collect();
            assert!(
                broken.is_empty(),
                "{} seed {seed}: {broken:?}",
                scenario.name
            );
        }
    }
}
