//! Any fault plan the loader accepts runs without a panic: random steps of
//! every kind (with the fields each kind reads, drawn over their whole
//! accepted range of shapes), loaded through the same validation a file
//! gets, then simulated for a short time. A plan that validates but
//! panics the engine would be a crash a user's scenario file could cause.

use checker::rules;
use proptest::prelude::*;
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};
use scenarios::faults::{self, FaultKind};
use scenarios::schema::FaultStep;

fn step_strategy() -> impl Strategy<Value = FaultStep> {
    (
        proptest::sample::select(FaultKind::ALL.to_vec()),
        0.0f64..2.0,
        proptest::sample::select(vec!["leader", "follower", "random", "all", "m1", "m3"]),
        0.0f64..1.5,
        proptest::sample::select(vec!["3.5", "3.6", "3.7"]),
        proptest::sample::select(node::failpoint::Failpoint::ALL.to_vec()),
        proptest::sample::select(vec!["crash", "sleep", "error"]),
        any::<bool>(),
    )
        .prop_map(
            |(kind, at, target, duration, version, failpoint, action, flag)| {
                let mut step = FaultStep {
                    kind: kind.name().to_string(),
                    at_s: Some(at),
                    target: Some(target.to_string()),
                    duration_s: Some(duration),
                    restart_after_s: Some(duration),
                    version: version.parse().ok(),
                    failpoint: Some(failpoint.name().to_string()),
                    action: Some(action.to_string()),
                    sleep_ms: Some(50),
                    expect_refusal: Some(flag),
                    force: Some(!flag),
                    ..Default::default()
                };
                // Every kind keeps only the fields it reads.
                faults::clear_unused(&mut step);
                step
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn an_accepted_plan_runs_without_a_panic(
        steps in proptest::collection::vec(step_strategy(), 1..4),
        seed in 0u64..1000,
    ) {
        let mut scenario = catalog::parse(
            "t.toml",
            "name = \"t\"\nduration_s = 2.0\n[quiesce]\nliveness_bound_s = 5.0\nconverge_timeout_s = 5.0\n[[traffic]]\nprofile = \"etcd\"\nclients = 2\nrate = 20.0\n",
        )
        .expect("the base scenario loads");
        scenario.faults = steps;
        // Plans the loader refuses (e.g. a version step with a version
        // the cluster cannot take) are drawn again.
        prop_assume!(catalog::validate(&scenario).is_ok());
        let result = run(&scenario, seed, &RunOptions::default());
        let failed = result.failed_rules();
        prop_assert!(
            !failed.iter().any(|r| r == rules::RUN_NO_PANIC),
            "seed {seed}: {:?}",
            result.report
        );
        prop_assert!(result.stats.sim_ms >= 2000, "the run was simulated");
    }
}
