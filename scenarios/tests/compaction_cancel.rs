//! A watch is owed a compaction cancel on its own member's word only: the
//! simulated watch traffic records with each watch the compact revision its
//! member reported before the watch was requested (`member_compacted`, from
//! the Status before the stream), and `watch.cancel-on-compaction` holds
//! every such watch to it. On etcd-17529's trigger the rule passes without
//! the bug (each watch its member had compacted past was cancelled) and
//! fails on such a watch with the bug on.

use checker::history::WatchRecord;
use checker::rules::WATCH_CANCEL_ON_COMPACTION;
use node::bugs::{Bug, BugSet};
use scenarios::catalog;
use scenarios::engine::{RunOptions, RunResult, run};

const TRIGGER: &str = "bug-slow-watchers-compaction";

fn run_with(bugs: &[Bug]) -> RunResult {
    let scenario = catalog::load(TRIGGER).expect("catalog scenario");
    run(
        &scenario,
        0,
        &RunOptions {
            bugs: BugSet::from_bugs(bugs.iter().copied()),
            ..Default::default()
        },
    )
}

/// Watches whose member had compacted past their start before they were requested.
fn owed_a_cancel(r: &RunResult) -> Vec<&WatchRecord> {
    r.history
        .watches
        .iter()
        .filter(|w| {
            let start = w.request.start_revision;
            start > 0 && w.member_compacted.is_some_and(|c| c > start)
        })
        .collect()
}

#[test]
fn a_watch_its_member_had_compacted_past_is_cancelled_and_the_rule_holds_it_to_that() {
    let correct = run_with(&[]);
    let owed = owed_a_cancel(&correct);
    assert!(
        !owed.is_empty(),
        "no watch of {TRIGGER} seed 0 records a member compaction past its start"
    );
    for w in &owed {
        assert!(
            w.responses
                .iter()
                .any(|r| r.canceled && r.compact_revision > 0)
                || w.events().next().is_none(),
            "watch {} was owed a cancel",
            w.id
        );
    }
    assert!(
        correct
            .report
            .result(WATCH_CANCEL_ON_COMPACTION)
            .is_some_and(|r| r.verdict.is_pass())
    );

    let buggy = run_with(&[Bug::Etcd17529]);
    let violation = buggy
        .report
        .result(WATCH_CANCEL_ON_COMPACTION)
        .and_then(|r| r.verdict.violation())
        .expect("etcd-17529 fails watch.cancel-on-compaction");
    let watch = violation.watch.expect("the violation names its watch");
    assert!(
        owed_a_cancel(&buggy).iter().any(|w| w.id == watch),
        "{}",
        violation.explanation
    );
}
