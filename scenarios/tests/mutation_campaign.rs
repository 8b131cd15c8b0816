//! The campaign a mutant of the store is judged by (`ci/mutants.sh`): the
//! general catalog, every scenario on the seeds of `FAULTLINE_MUTANT_SEEDS`
//! (default `0..1`), with no bug switched on and nothing written knowing
//! any mutant. On the correct store every run passes (the no-bug campaign
//! says so for 20,000 runs); a mutant is caught when a run fails, and
//! noticed when a run is inconclusive (the exit code 3 a CI job sees). The
//! log line of each such run says which (`Fail`, `Unknown`), so
//! `ci/mutants.sh` counts the two apart.
//!
//! Ignored by `cargo test`: a mutation run asks for it by name.

use checker::{Overall, Verdict};
use scenarios::campaign::{self, Job};
use scenarios::catalog;
use scenarios::engine::RunOptions;
use std::sync::Mutex;

/// The seeds a mutant runs on, from `FAULTLINE_MUTANT_SEEDS` (`A..B`).
fn seeds() -> std::ops::Range<u64> {
    let text = std::env::var("FAULTLINE_MUTANT_SEEDS").unwrap_or_else(|_| "0..1".into());
    let (a, b) = text
        .split_once("..")
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or_else(|| panic!("FAULTLINE_MUTANT_SEEDS={text}: expected A..B"));
    a..b
}

#[test]
#[ignore = "the mutation campaign (ci/mutants.sh), about a minute per seed"]
fn the_general_catalog_finds_nothing() {
    // A catalog file that no longer loads would drop out of the campaign
    // unseen (`builtin` keeps what parses); every user command naming it
    // would fail, so the campaign fails too.
    assert_eq!(
        catalog::builtin().len(),
        catalog::CATALOG.len(),
        "a catalog scenario no longer loads"
    );
    let jobs: Vec<Job> = catalog::general()
        .into_iter()
        .flat_map(|scenario| {
            seeds().map(move |seed| Job {
                scenario: scenario.clone(),
                seed,
            })
        })
        .collect();
    let not_passed = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tally = campaign::run_all(jobs, workers, &RunOptions::default(), false, |o| {
        let r = &o.result;
        if r.overall() == Overall::Pass {
            return;
        }
        // One line per run that did not pass, for the mutation log: each
        // property that did not pass, an undecided one with its reason.
        let properties: Vec<String> = r
            .report
            .results
            .iter()
            .filter_map(|p| match &p.verdict {
                Verdict::Pass => None,
                Verdict::Fail(_) => Some(p.property.clone()),
                Verdict::Unknown(why) => Some(format!("{} (undecided: {why})", p.property)),
            })
            .collect();
        println!(
            "{:?} {} seed {}: {}",
            r.overall(),
            r.scenario,
            r.seed,
            properties.join("; ")
        );
        not_passed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{} seed {}", r.scenario, r.seed));
    });
    let not_passed = not_passed.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(
        not_passed.is_empty(),
        "{} of {} runs failed, {} undecided: {}",
        tally.failed,
        tally.runs(),
        tally.unknown,
        not_passed.join(", ")
    );
}
