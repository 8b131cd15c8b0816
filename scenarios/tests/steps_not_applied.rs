//! A step of the plan that could not happen is counted, never passed over
//! in silence: a defragmentation asked of a member that is down did not
//! defragment anything, and the run says so.

use checker::Overall;
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

const DEFRAG_OF_A_DEAD_MEMBER: &str = r#"
name = "defrag-of-a-dead-member"
description = "m2 is down when it is asked to defragment"
duration_s = 6.0

[[faults]]
kind = "crash"
at_s = 1.0
target = "m2"
restart_after_s = 3.0

[[faults]]
kind = "defrag"
at_s = 2.0
target = "m2"

[[faults]]
kind = "defrag"
at_s = 4.5
target = "m3"
"#;

#[test]
fn a_defrag_of_a_member_that_is_down_is_not_applied() {
    let scenario = catalog::parse("defrag-of-a-dead-member.toml", DEFRAG_OF_A_DEAD_MEMBER)
        .expect("the scenario parses");
    for seed in 0..3 {
        let r = run(&scenario, seed, &RunOptions::default());
        assert_eq!(
            r.overall(),
            Overall::Pass,
            "seed {seed}: {:?}",
            r.failed_rules()
        );
        assert_eq!(
            r.not_applied.len(),
            1,
            "seed {seed}: only the defrag of the crashed m2 is not applied: {:?}",
            r.not_applied
        );
        assert!(
            r.not_applied[0].starts_with("defrag m2: no answer"),
            "seed {seed}: {:?}",
            r.not_applied
        );
        assert!(
            r.trace
                .events()
                .iter()
                .any(|e| e.kind == "not-applied" && e.detail.starts_with("defrag m2")),
            "seed {seed}: the trace records the step that did not happen"
        );
        assert!(r.summary_line().contains(" not_applied=1"));
    }
}
