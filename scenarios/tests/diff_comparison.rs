//! `faultline diff`'s comparison catches a store change that only alters
//! answers, without a real etcd: the simulated store with and without the
//! etcd-18089 switch (which changes which revisions HashKV counts after a
//! compaction) answers the same sequences, and every difference found is
//! in HashKV; the correct store compared with itself agrees everywhere.

use differential::step::Kind;
use differential::{Sequence, Tally, generate};
use node::bugs::{Bug, BugSet};
use scenarios::diff::answer;

/// Seeds 40..80: seeds 50 and 76 each hold a Txn that deletes a key and
/// puts it again at the revision HashKV then hashes, where the switch's
/// keep set (etcd before the fix) takes the new generation.
fn sequences() -> Vec<Sequence> {
    (40..80)
        .map(|seed| Sequence {
            seed,
            steps: generate::sequence(seed, 200),
        })
        .collect()
}

#[test]
fn a_changed_answer_is_found_and_named() {
    let mut tally = Tally::default();
    for s in sequences() {
        let correct = answer(&s, BugSet::none()).expect("the run completes");
        let changed = answer(&s, BugSet::from_bugs([Bug::Etcd18089])).expect("the run completes");
        tally.add(&s, &changed, &correct);
    }
    assert!(
        !tally.disagreements.is_empty(),
        "the 18089 switch changed no HashKV answer in 40 sequences"
    );
    for d in &tally.disagreements {
        assert_eq!(d.request.kind(), Kind::HashKv, "{d:?}");
        assert!(
            d.differences.iter().any(|f| f.field == "hash"),
            "{:?}",
            d.differences
        );
    }
}

#[test]
fn the_store_agrees_with_itself() {
    let mut tally = Tally::default();
    for s in sequences().into_iter().take(10) {
        let a = answer(&s, BugSet::none()).expect("the run completes");
        let b = answer(&s, BugSet::none()).expect("the run completes");
        assert_eq!(
            a.answers, b.answers,
            "seed {}: the same seed answers alike",
            s.seed
        );
        tally.add(&s, &a, &b);
    }
    assert!(tally.disagreements.is_empty());
    assert_eq!(tally.agreeing(), tally.requests());
}

/// Each answer-only refusal bug, and the kind of request its first
/// difference in a sequence must be.
const REFUSALS: [(Bug, Kind); 3] = [
    (Bug::TxnRefused, Kind::Txn),
    (Bug::LeasePutRefused, Kind::Put),
    (Bug::DeleteRefused, Kind::Delete),
];

#[test]
fn a_store_that_refuses_what_it_should_serve_is_found() {
    for (bug, kind) in REFUSALS {
        let mut tally = Tally::default();
        for s in sequences().into_iter().take(10) {
            let correct = answer(&s, BugSet::none()).expect("the run completes");
            let refusing = answer(&s, BugSet::from_bugs([bug])).expect("the run completes");
            tally.add(&s, &refusing, &correct);
        }
        assert!(
            !tally.disagreements.is_empty(),
            "{bug}: no difference in 10 sequences"
        );
        // Later answers differ too (a refused write takes no revision), so
        // only each sequence's first difference is the refusal itself: an
        // error where the store answers, or another error (a Txn the
        // store refuses for a duplicate key). A Status is passed over: a
        // request refused before raft takes no raft entry, so a Status can
        // show the index gap of an earlier refusal whose answer was the
        // same (a put with a lease that is gone either way).
        let mut seen = std::collections::BTreeSet::new();
        for d in &tally.disagreements {
            if d.request.kind() != Kind::Status && seen.insert(d.seed) {
                assert_eq!(d.request.kind(), kind, "{bug}: {d:?}");
                assert!(
                    d.differences
                        .iter()
                        .any(|f| f.field == "outcome" || f.field.starts_with("error.")),
                    "{bug}: {:?}",
                    d.differences
                );
            }
        }
    }
}
