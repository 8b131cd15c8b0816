//! Every bug the table says is reproduced has a detecting seed (found with
//! `faultline hunt`): with the bug on, the run fails, and every rule that
//! fires is one the table expects for it; with no bug, the same seed
//! passes. A synthetic bug must be caught by a general rule, not only by a
//! check written for it.

use checker::Signature;
use checker::rules::{self, DecidedBy};
use node::bugs::{Bug, BugSet};
use scenarios::bug_table::{self, Reproduction};
use scenarios::catalog;
use scenarios::engine::{RunOptions, RunResult, run};

fn run_with(scenario: &str, seed: u64, bugs: &[Bug]) -> RunResult {
    let scenario = catalog::load(scenario).expect("catalog scenario");
    run(
        &scenario,
        seed,
        &RunOptions {
            bugs: BugSet::from_bugs(bugs.iter().copied()),
            ..Default::default()
        },
    )
}

/// Rules not written for any one bug: the checker's, a member's exit, and
/// the store's own invariants.
fn general(rule: &str) -> bool {
    rule == rules::MEMBER_NO_UNEXPECTED_EXIT
        || rule == rules::STORE_INVARIANT
        || rules::rules()
            .iter()
            .any(|r| r.name == rule && r.decided_by == DecidedBy::Checker)
}

#[test]
fn every_detecting_seed_fires_only_expected_rules_and_passes_without_the_bug() {
    for entry in bug_table::BUGS {
        let Some((scenario, seed)) = entry.detecting() else {
            continue;
        };
        let with = run_with(scenario, seed, &[entry.bug]);
        let fired = with.failed_rules();
        assert!(
            !fired.is_empty(),
            "{} on {scenario} seed {seed}: the run passes",
            entry.name()
        );
        for rule in &fired {
            assert!(
                entry.expects(rule),
                "{} on {scenario} seed {seed}: {rule} fired, which the bug table does not expect (expected {:?})",
                entry.name(),
                entry.expected_rules
            );
        }
        if entry.is_synthetic() && entry.general_rule_gap().is_none() {
            assert!(
                fired.iter().any(|r| general(r)),
                "{} (synthetic) on {scenario} seed {seed} is caught only by {fired:?}, no general rule",
                entry.name()
            );
        }
        let without = run_with(scenario, seed, &[]);
        assert_eq!(
            without.failed_rules(),
            Vec::<String>::new(),
            "{scenario} seed {seed} without bugs"
        );
    }
}

#[test]
fn every_bug_is_reproduced_or_says_why_not() {
    for entry in bug_table::BUGS {
        if let Reproduction::NotReproduced { why } = entry.reproduction {
            assert!(
                why.len() > 40,
                "{}: say why it is not reproduced",
                entry.name()
            );
        }
    }
}

/// etcd-17780 is not reproduced alone (see its table entry); with
/// etcd-18089's tombstone deletion also switched back on, it is.
#[test]
fn etcd_17780_fails_together_with_etcd_18089() {
    let both = run_with(
        "bug-compaction-tombstone-crash",
        97,
        &[Bug::Etcd17780, Bug::Etcd18089],
    );
    let entry = bug_table::entry(Bug::Etcd17780);
    let fired = both.failed_rules();
    assert!(!fired.is_empty());
    assert!(fired.iter().all(|r| entry.expects(r)), "{fired:?}");
    let alone = run_with("bug-compaction-tombstone-crash", 97, &[Bug::Etcd18089]);
    assert_eq!(alone.failed_rules(), Vec::<String>::new());
}

#[test]
fn the_known_signatures_are_what_each_detecting_seed_fails_with() {
    let mut wrong = Vec::new();
    for entry in bug_table::BUGS {
        let Some((scenario, seed)) = entry.detecting() else {
            continue;
        };
        let with = run_with(scenario, seed, &[entry.bug]);
        // The problem the dashboard files the run under: its first
        // violation in rule order.
        let found = with
            .report
            .results
            .iter()
            .filter_map(|r| r.verdict.violation())
            .min_by_key(|v| rules::filing_order(&v.rule))
            .map(Signature::of);
        let recorded = bug_table::known_signature(entry.bug);
        if found != recorded {
            wrong.push(format!(
                "{} on {scenario} seed {seed}: recorded {recorded:?}, the run fails with {found:?}",
                entry.name()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
