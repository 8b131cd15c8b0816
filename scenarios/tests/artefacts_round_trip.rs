//! A run folder written by a run reads back whole, and its repro replays
//! to the same trace hash.

use node::bugs::{Bug, BugSet};
use scenarios::engine::{RunOptions, run};
use scenarios::{artefacts, catalog};

#[test]
fn a_run_folder_reads_back_and_its_repro_replays_to_the_same_trace() {
    // A swarm scenario and a bug: the repro must carry both.
    for (name, bugs) in [
        ("swarm", vec![]),
        ("bug-watch-snapshot-restore", vec!["etcd-15271"]),
    ] {
        let scenario = catalog::load(name).expect("catalog scenario");
        let bugs: Vec<Bug> = bugs.iter().map(|b| b.parse().expect("bug")).collect();
        let opts = RunOptions {
            bugs: BugSet::from_bugs(bugs),
            ..Default::default()
        };
        let result = run(&scenario, 3, &opts);
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join("run");
        let written = artefacts::run_artefacts(&scenario, &result, "run/repro.toml");
        reports::write_run(&folder, &written).expect("write the run folder");

        let back = reports::read_run(&folder).expect("read the run folder");
        assert_eq!(back.repro, written.repro);
        assert_eq!(back.history, result.history);
        assert_eq!(back.end_state, result.end_state);
        assert_eq!(back.report, result.report);
        assert_eq!(back.trace.len(), result.trace.len());
        assert!(folder.join("report.html").is_file());

        let repro = artefacts::from_repro(&back.repro, "run/repro.toml").expect("repro parses");
        let replay = run(
            &repro.scenario,
            repro.seed,
            &RunOptions {
                bugs: repro.bugs,
                ..Default::default()
            },
        );
        assert_eq!(
            replay.trace_hash, result.trace_hash,
            "{name}: the repro replays differently"
        );
        assert_eq!(replay.overall(), result.overall());
    }
}
