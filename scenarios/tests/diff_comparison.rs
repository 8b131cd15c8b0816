//! `faultline diff`'s comparison catches a store change that only alters
//! answers, without a real etcd: the simulated store with and without the
//! etcd-18089 switch (compacting at a delete's revision drops the
//! tombstone, so a watch from the compact revision loses the delete event)
//! answers the same sequences, and every difference found is in what a
//! watch saw; the correct store compared with itself agrees everywhere.

use differential::answer::Code;
use differential::step::{Kind, Padding, Put, Range, Step};
use differential::{Answer, Sequence, Tally, generate};
use node::bugs::{Bug, BugSet};
use scenarios::diff::answer;

/// Seeds 100..140: seeds 119 and 127 each open a watch at a compact
/// revision that is also a delete's.
fn sequences() -> Vec<Sequence> {
    (100..140)
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
        "the 18089 switch changed no watch's events in 40 sequences"
    );
    for d in &tally.disagreements {
        assert!(
            matches!(d.request.kind(), Kind::WatchProgress | Kind::WatchCancel),
            "{d:?}"
        );
        assert!(
            d.differences.iter().all(|f| f.field.starts_with("watch")),
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

fn put(key: &str, padding: u32) -> Step {
    Step::Put(Put {
        key: key.into(),
        value: "v".into(),
        padding: Padding::new(padding).expect("under the bound"),
        lease: 0,
        prev_kv: false,
        ignore_value: false,
        ignore_lease: false,
    })
}

/// etcd's processInternalRaftRequestOnce: a request over
/// --max-request-bytes (1.5 MiB) once encoded for raft is refused before it
/// is proposed, so it takes no revision; one a little under is stored.
#[test]
fn a_request_over_the_size_limit_is_refused_as_etcd_refuses_it() {
    let limit = generate::MAX_REQUEST_BYTES;
    let sequence = Sequence {
        seed: 1,
        steps: vec![
            put("a", limit + 1),
            put("b", limit - 1024),
            Step::Range(Range {
                key: "b".into(),
                range_end: String::new(),
                limit: 0,
                revision: differential::step::Rev::Zero,
                serializable: false,
                keys_only: true,
                count_only: false,
                sort_order: differential::step::SortOrder::None,
                sort_target: differential::step::SortTarget::Key,
                min_mod_revision: 0,
                max_mod_revision: 0,
                min_create_revision: 0,
                max_create_revision: 0,
            }),
        ],
    };
    let answers = answer(&sequence, BugSet::none()).expect("the run completes");
    assert_eq!(
        answers.answers[0],
        Answer::Error {
            code: Code::InvalidArgument,
            message: "etcdserver: request is too large".into()
        }
    );
    let Answer::Ok(stored) = &answers.answers[1] else {
        panic!("{:?}", answers.answers[1]);
    };
    assert_eq!(stored.revision, 2, "the refused put took no revision");
    assert!(
        matches!(answers.answers[2], Answer::Ok(_)),
        "{:?}",
        answers.answers[2]
    );
}

/// The rewrite etcd 3.4.23 panics on (see realetcd's tests): this store
/// refuses it as a duplicate key, as etcd PR 22395 proposes; with
/// etcd-22445 it lets it through as etcd does, and its member ends at
/// apply as etcd's does.
#[test]
fn a_rewrite_keeping_a_deleted_key_s_lease_is_refused_or_ends_the_member() {
    use differential::step::{Delete, Txn, TxnOp};
    let rewrite = Step::Txn(Txn {
        compare: vec![],
        success: vec![
            TxnOp::Delete(Delete {
                key: "a".into(),
                range_end: "\0".into(),
                prev_kv: false,
            }),
            TxnOp::Put(Put {
                ignore_lease: true,
                ..match put("p/2", 0) {
                    Step::Put(p) => p,
                    _ => unreachable!("put makes a Put"),
                }
            }),
        ],
        failure: vec![],
    });
    let sequence = Sequence {
        seed: 3,
        steps: vec![put("p/2", 0), rewrite, Step::Status],
    };
    let fixed = answer(&sequence, BugSet::none()).expect("the run completes");
    assert_eq!(
        fixed.answers[1],
        Answer::Error {
            code: Code::InvalidArgument,
            message: "etcdserver: duplicate key given in txn request".into()
        }
    );
    assert!(matches!(fixed.answers[2], Answer::Ok(_)));
    let as_etcd =
        answer(&sequence, BugSet::from_bugs([Bug::Etcd22445])).expect("the run completes");
    assert!(
        !matches!(as_etcd.answers[1], Answer::Ok(_)),
        "{:?}",
        as_etcd.answers[1]
    );
    assert!(
        !matches!(as_etcd.answers[2], Answer::Ok(_)),
        "the member answered after applying it: {:?}",
        as_etcd.answers[2]
    );
}
