//! A graceful stop never commits half of a batch of entries: it waits for
//! the apply loop to finish the batch it is applying, then commits and
//! exits, as etcd's stop waits for the scheduler's running apply job before
//! it closes the backend. With etcd-13766 switched on, the consistent index
//! runs ahead of the applied data inside an entry; a stop that committed in
//! the middle of an entry persisted that index, and the restarted member
//! skipped the entry. Without the wait, 4 of seeds 0..100 of this
//! scenario fail with the bug on (so 80 seeds miss a regression about one
//! time in 25); with it, none may: a graceful stop alone must never expose
//! the bug (a kill can, after a periodic commit).

use checker::Overall;
use node::bugs::{Bug, BugSet};
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

const GRACEFUL_RESTARTS: &str = r#"
name = "graceful-restarts-under-writes"
description = "8 etcd clients with no pause; a graceful restart every half second, followers and the leader"
duration_s = 8.0

[[traffic]]
profile = "etcd"
clients = 8
rate = 0.0

[[faults]]
kind = "graceful_restart"
at_s = 1.0
target = "follower"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 1.5
target = "leader"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 2.0
target = "follower"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 2.5
target = "leader"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 3.0
target = "follower"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 3.5
target = "leader"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 4.0
target = "follower"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 4.5
target = "leader"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 5.0
target = "follower"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 5.5
target = "leader"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 6.0
target = "follower"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 6.5
target = "leader"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 7.0
target = "follower"
restart_after_s = 0.2

[[faults]]
kind = "graceful_restart"
at_s = 7.5
target = "leader"
restart_after_s = 0.2
"#;

#[test]
fn graceful_restarts_never_persist_an_index_ahead_of_its_data() {
    let scenario =
        catalog::parse("graceful-restarts.toml", GRACEFUL_RESTARTS).expect("the scenario parses");
    let opts = RunOptions {
        bugs: BugSet::from_bugs([Bug::Etcd13766]),
        ..Default::default()
    };
    for seed in 0..80 {
        let r = run(&scenario, seed, &opts);
        assert_eq!(r.overall(), Overall::Pass, "{}", r.summary_line());
    }
}
