//! Generated etcd runs (linearizable by construction, with unknown write
//! outcomes, leases and watches) pass every property.

mod support;

use checker::history::{EndState, HashKv, MemberEndState};
use checker::{CheckOptions, Overall, check_run};
use support::generate::{GenConfig, generate};

fn end_state() -> EndState {
    EndState {
        members: (1..=3)
            .map(|member| MemberEndState {
                member,
                alive: true,
                hash_kv: Some(HashKv {
                    revision: 100,
                    compact_revision: 0,
                    hash: 1,
                }),
                membership: Some(checker::history::Membership::new(
                    9,
                    vec![checker::history::ListedMember {
                        id: 1,
                        peer: "10.0.0.2".into(),
                        is_learner: false,
                    }],
                )),
            })
            .collect(),
        heal_time: None,
        first_success_after_heal: None,
        liveness_bound: 1,
    }
}

#[test]
fn generated_runs_pass_every_property() {
    for seed in 1..=12u64 {
        let history = generate(&GenConfig {
            seed,
            clients: 8,
            operations: 1500,
            keys: 16,
            unknown_writes: 0.05,
            unknown_applied: 0.5,
            leases: seed % 2 == 0,
            final_read: true,
            watches: 3,
            mix: Default::default(),
        });
        let report = check_run(&history, &end_state(), &CheckOptions::default());
        let problems: Vec<_> = report
            .results
            .iter()
            .filter(|r| !r.verdict.is_pass())
            .collect();
        assert_eq!(
            report.overall(),
            Overall::Pass,
            "seed {seed}: {problems:#?}"
        );
    }
}

#[test]
fn a_larger_run_passes() {
    let history = generate(&GenConfig {
        seed: 99,
        operations: 20_000,
        watches: 4,
        ..Default::default()
    });
    let report = check_run(&history, &end_state(), &CheckOptions::default());
    let problems: Vec<_> = report
        .results
        .iter()
        .filter(|r| !r.verdict.is_pass())
        .collect();
    assert_eq!(report.overall(), Overall::Pass, "{problems:#?}");
    let stats = report.stats.expect("search statistics");
    assert_eq!(stats.operations, history.operations.len());
}

#[test]
fn a_dropped_watch_event_is_caught() {
    let mut history = generate(&GenConfig {
        seed: 5,
        operations: 3000,
        watches: 2,
        unknown_writes: 0.05,
        ..Default::default()
    });
    let w = &mut history.watches[0];
    let with_events: Vec<usize> = (0..w.responses.len())
        .filter(|&i| !w.responses[i].events.is_empty())
        .collect();
    assert!(with_events.len() > 10, "the watch saw events");
    w.responses.remove(with_events[with_events.len() / 2]);
    let report = check_run(&history, &end_state(), &CheckOptions::default());
    assert_eq!(report.failed_rules(), vec!["watch.reliable"]);
}

/// Many unknown outcomes on few keys, with leases: the search must place the
/// writes that took effect (and the lease expiries) without false violations.
#[test]
fn heavy_uncertainty_stays_linearizable() {
    let configs = [(4u64, 0.15, 800usize), (8, 0.05, 3000), (16, 0.1, 2000)];
    for (keys, unknown, operations) in configs {
        for seed in 0..12u64 {
            let history = generate(&GenConfig {
                seed,
                clients: 16,
                operations,
                keys,
                unknown_writes: unknown,
                unknown_applied: 0.5,
                leases: seed % 2 == 0,
                final_read: true,
                watches: 1,
                mix: Default::default(),
            });
            let lin = checker::check_linearizability(&history, &CheckOptions::default());
            assert!(
                lin.result.verdict.is_pass(),
                "keys {keys}, unknown {unknown}, seed {seed}: {:?}",
                lin.result.verdict
            );
        }
    }
}

#[test]
fn a_stale_read_deep_in_a_long_run_is_found_and_named() {
    let mut history = generate(&GenConfig {
        seed: 11,
        operations: 30_000,
        ..Default::default()
    });
    let middle = history.operations.len() / 2;
    let victim = (middle..history.operations.len())
        .find(|&i| {
            matches!(&history.operations[i].result,
                checker::history::OpResult::Ok(checker::history::Response::Range(r)) if r.kvs.len() == 1)
        })
        .expect("a single-key read");
    if let checker::history::OpResult::Ok(checker::history::Response::Range(r)) =
        &mut history.operations[victim].result
    {
        r.kvs[0].value = "never written".into();
    }
    let id = history.operations[victim].id;
    let lin = checker::check_linearizability(&history, &CheckOptions::default());
    let violation = lin.result.verdict.violation().expect("a violation");
    assert_eq!(
        violation.operations.first(),
        Some(&id),
        "{}",
        violation.explanation
    );
    assert!(
        violation.explanation.contains("never written"),
        "{}",
        violation.explanation
    );
    assert!(violation.longest_prefix.len() > middle / 2);
}
