//! Determinism is the product: a seed replays to the same trace hash on
//! fresh threads, and different seeds explore different runs.

use scenarios::catalog;
use scenarios::engine::{RunOptions, run};
use std::collections::BTreeSet;

#[test]
fn the_same_seed_gives_the_same_trace_ten_times() {
    let scenario = catalog::load("default").expect("default scenario");
    let opts = RunOptions::default();
    let first = run(&scenario, 7, &opts);
    assert!(
        first.trace.len() > 100,
        "the trace should record the run in detail"
    );
    for _ in 0..9 {
        let again = run(&scenario, 7, &opts);
        assert_eq!(again.trace_hash, first.trace_hash);
        assert_eq!(again.history, first.history);
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let scenario = catalog::load("default").expect("default scenario");
    let opts = RunOptions::default();
    let hashes: BTreeSet<String> = (0..100)
        .map(|seed| run(&scenario, seed, &opts).trace_hash)
        .collect();
    assert!(
        hashes.len() >= 95,
        "only {} distinct trace hashes in 100 seeds",
        hashes.len()
    );
}
