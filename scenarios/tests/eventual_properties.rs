//! The eventual properties are checked, and each can fail: on the healed
//! cluster, a lease past its deadline must be revoked, a compaction must
//! finish. A leader whose lease loop is stuck (a failpoint that sleeps for
//! an hour before it revokes) keeps expired leases alive; a compaction
//! that pauses an hour between batches never finishes. The same scenarios
//! without the stall pass every rule.

use checker::Overall;
use checker::rules;
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

const LEASES: &str = r#"
name = "leases-to-expire"
description = "lease clients grant, keep alive and stop; nothing else happens"
duration_s = 4.0

[[traffic]]
profile = "lease"
clients = 3
rate = 10.0
"#;

const STUCK_REVOKE: &str = r#"
[[faults]]
kind = "failpoint"
at_s = 0.5
target = "leader"
failpoint = "beforeLeaseRevokeExpired"
action = "sleep"
sleep_ms = 3600000
"#;

const COMPACTIONS: &str = r#"
name = "compactions-to-finish"
description = "writes, then compactions"
duration_s = 4.0

[[traffic]]
profile = "etcd"
clients = 2
rate = 30.0

[[faults]]
kind = "compact"
at_s = 3.0
"#;

const SLOW_COMPACTION: &str = r#"
[cluster.knobs]
compaction_batch_limit = 1
compaction_sleep_interval_ms = 3600000
"#;

fn failed_rules(toml: &str, seed: u64) -> Vec<String> {
    let scenario = catalog::parse("eventual.toml", toml).expect("the scenario parses");
    let r = run(&scenario, seed, &RunOptions::default());
    assert_ne!(r.overall(), Overall::Unknown, "{}", r.summary_line());
    r.failed_rules()
}

#[test]
fn leases_expire_on_a_healed_cluster_unless_the_leader_never_revokes() {
    for seed in 0..3 {
        assert_eq!(failed_rules(LEASES, seed), Vec::<String>::new());
        let stuck = failed_rules(&format!("{LEASES}{STUCK_REVOKE}"), seed);
        assert!(
            stuck.iter().any(|r| r == rules::END_LEASES_EXPIRE),
            "seed {seed}: {stuck:?}"
        );
    }
}

#[test]
fn compactions_finish_on_a_healed_cluster_unless_they_stall() {
    for seed in 0..3 {
        assert_eq!(failed_rules(COMPACTIONS, seed), Vec::<String>::new());
        let stalled = failed_rules(&format!("{COMPACTIONS}{SLOW_COMPACTION}"), seed);
        assert_eq!(
            stalled,
            vec![rules::END_COMPACTION_FINISHES.to_string()],
            "seed {seed}"
        );
    }
}
