//! Coverage points are recorded per run, and a scenario aimed at one
//! reaches it: with WAL segments of 1 KiB, writes roll the WAL over
//! (`wal.segment-cut`) and a member restarted after a crash reads several
//! segments back (`wal.several-segments-read`); with the default 64 KiB
//! segments, ten seconds of the same writes roll nothing over. The counts
//! are part of the run: the same seed reaches the same points as often.

use node::coverage::Point;
use scenarios::catalog;
use scenarios::engine::{RunOptions, run};

fn scenario(segment_bytes: u64) -> String {
    format!(
        r#"
name = "small-wal-segments"
description = "writes into WAL segments of {segment_bytes} bytes, a follower crash"
duration_s = 6.0

[cluster.knobs]
wal_segment_bytes = {segment_bytes}

[[traffic]]
profile = "etcd"
clients = 4
rate = 50.0

[[faults]]
kind = "crash"
at_s = 3.0
target = "follower"
restart_after_s = 0.5
"#
    )
}

#[test]
fn small_segments_roll_the_wal_over_and_a_restart_reads_them_back() {
    let small = catalog::parse("small.toml", &scenario(1024)).expect("parses");
    let r = run(&small, 1, &RunOptions::default());
    assert!(
        r.points_reached
            .get(&Point::WalSegmentCut)
            .is_some_and(|n| *n > 0)
    );
    assert!(
        r.points_reached
            .contains_key(&Point::WalSeveralSegmentsRead)
    );
    let again = run(&small, 1, &RunOptions::default());
    assert_eq!(r.points_reached, again.points_reached);

    let default = catalog::parse("default.toml", &scenario(64 * 1024)).expect("parses");
    let r = run(&default, 1, &RunOptions::default());
    assert!(
        !r.points_reached.contains_key(&Point::WalSegmentCut),
        "{:?}",
        r.points_reached
    );
}
