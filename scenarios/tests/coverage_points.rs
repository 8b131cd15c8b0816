//! Coverage points are recorded per run, and a scenario aimed at one
//! reaches it: with WAL segments of 1 KiB, writes roll the WAL over
//! (`wal.segment-cut`) and a member restarted after a crash reads several
//! segments back (`wal.several-segments-read`); with the default 64 KiB
//! segments, ten seconds of the same writes roll nothing over. The counts
//! are part of the run: the same seed reaches the same points as often.

use checker::Overall;
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

fn isolated_informers(isolated_s: f64) -> String {
    format!(
        r#"
name = "isolated-informers"
description = "kubernetes informers (their watches require a leader), a member cut off for {isolated_s} s"
duration_s = 9.0

[[traffic]]
profile = "kubernetes"
clients = 6
rate = 40.0

[[faults]]
kind = "isolate"
at_s = 2.0
target = "follower"
duration_s = {isolated_s}
"#
    )
}

/// etcd ends the watches that require a leader only after three election
/// timeouts without one (its monitorLeader; 300 ms with the default knobs):
/// a member cut off for 5 s gets there, one cut off for 150 ms (it notices
/// the missing leader after one election timeout at the earliest) does
/// not; the informers re-watch and the run passes either way.
#[test]
fn watches_requiring_a_leader_end_only_after_three_election_timeouts_without_one() {
    let long = catalog::parse("long.toml", &isolated_informers(5.0)).expect("parses");
    let short = catalog::parse("short.toml", &isolated_informers(0.15)).expect("parses");
    let mut reached = 0;
    for seed in 0..6 {
        let r = run(&long, seed, &RunOptions::default());
        assert_eq!(
            r.overall(),
            Overall::Pass,
            "seed {seed}: {}",
            r.summary_line()
        );
        reached += usize::from(r.points_reached.contains_key(&Point::WatchCanceledNoLeader));
        let r = run(&short, seed, &RunOptions::default());
        assert_eq!(
            r.overall(),
            Overall::Pass,
            "seed {seed}: {}",
            r.summary_line()
        );
        assert!(
            !r.points_reached.contains_key(&Point::WatchCanceledNoLeader),
            "seed {seed}: a watch ended after 150 ms cut off"
        );
    }
    assert!(
        reached > 0,
        "no seed of 0..6 ended a watch requiring a leader"
    );
}

/// `bootstrap-crashes` kills m2 about 5 ms into a new cluster, after its
/// WAL is written and before the initial members are in its backend: the
/// restarted member records them again (`bootstrap.members-recovered`,
/// reached by no other catalog scenario). Before WAL segments were written
/// under a temporary name, a kill while the first segment was written left
/// it named but empty, and 10 of seeds 0..40 failed with the member unable
/// to start ("no metadata record").
#[test]
fn members_killed_while_the_cluster_bootstraps_recover_their_members() {
    let scenario = catalog::load("bootstrap-crashes").expect("catalog scenario");
    for seed in 0..4 {
        let r = run(&scenario, seed, &RunOptions::default());
        assert_eq!(r.overall(), Overall::Pass, "{}", r.summary_line());
        assert!(
            r.points_reached
                .contains_key(&Point::BootstrapMembersRecovered),
            "seed {seed}: {:?}",
            r.points_reached.keys().collect::<Vec<_>>()
        );
    }
}

/// The explorer's shrunk scenario that found compactions going on after a
/// snapshot install, on a seed (in the regression corpus) that reaches the
/// point where a compaction planned before the install stops, and passes:
/// without the stop that seed breaks `end.hashkv` and linearizability, the
/// old compaction deleting rows of the installed data.
#[test]
fn a_compaction_planned_before_a_snapshot_install_stops() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ci/corpus/explore-standard-shrunk-7.toml"
    );
    let repro = reports::Repro::read(std::path::Path::new(file)).expect("repro reads");
    let run_of = scenarios::artefacts::from_repro(&repro, file).expect("repro parses");
    let r = run(&run_of.scenario, run_of.seed, &RunOptions::default());
    assert_eq!(r.overall(), Overall::Pass, "{}", r.summary_line());
    assert!(
        r.points_reached
            .contains_key(&Point::CompactionStoppedBySnapshot),
        "{:?}",
        r.points_reached.keys().collect::<Vec<_>>()
    );
}
