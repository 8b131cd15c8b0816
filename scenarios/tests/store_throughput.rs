//! The store batches as etcd does: 128 clients writing back to back into a
//! 3-member cluster get at least 2,000 writes per simulated second
//! acknowledged. Simulated time, so the figure is the same on any machine.
//! A raft loop that awaited each send (madsim's send sleeps at least 1 ms)
//! or took one message per `Ready` served about 200.

use checker::report::Overall;
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

#[test]
fn write_throughput_acknowledges_at_least_2000_writes_per_simulated_second() {
    let scenario = catalog::load("write-throughput").expect("catalog scenario");
    let r = run(&scenario, 0, &RunOptions::default());
    assert_eq!(r.overall(), Overall::Pass, "{}", r.summary_line());
    let writes = r.acknowledged_writes();
    let per_second = writes as f64 / (r.stats.sim_ms as f64 / 1000.0);
    assert!(
        per_second >= 2000.0,
        "{per_second:.0} writes per simulated second ({writes} in {} ms)",
        r.stats.sim_ms
    );
}
