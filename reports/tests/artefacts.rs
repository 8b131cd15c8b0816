//! A run folder written and read back gives the same run.

mod support;

use reports::artefacts::{self, RunRecord};
use reports::{ReportsError, read_run, run_dir_name, write_run};

#[test]
fn a_run_folder_round_trips_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = support::small_run();
    let folder = dir.path().join("runs").join(run_dir_name(
        &run.repro.scenario_name,
        run.repro.seed,
        &run.repro.bugs,
    ));
    write_run(&folder, &run).expect("write");
    for file in [
        "repro.toml",
        "history.jsonl",
        "trace.txt",
        "trace.jsonl",
        "report.json",
        "summary.txt",
        "report.html",
    ] {
        assert!(folder.join(file).is_file(), "{file} is missing");
    }
    let back = read_run(&folder).expect("read");
    assert_eq!(back.repro.trace_hash, "295e8561df97ef1e");
    assert_eq!(back.repro, run.repro);
    assert_eq!(back.history, run.history);
    assert_eq!(back.end_state, run.end_state);
    assert_eq!(back.report, run.report);
    assert_eq!(back.trace, run.trace);
    assert_eq!(back, run);
    // Nothing is left behind half-written.
    let names: Vec<String> = std::fs::read_dir(&folder)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn the_text_files_are_for_people() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = support::small_run();
    write_run(dir.path(), &run).expect("write");
    let trace = std::fs::read_to_string(dir.path().join("trace.txt")).expect("trace.txt");
    assert_eq!(trace.lines().count(), run.trace.len());
    assert_eq!(
        trace.lines().nth(3),
        Some("    0.003000s m1     role       leader term=2 leader=1")
    );
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).expect("summary.txt");
    let mut lines = summary.lines();
    assert_eq!(lines.next(), Some(run.summary_line.as_str()));
    assert_eq!(
        lines.next(),
        Some(format!("replay: {}", support::REPLAY).as_str())
    );
    assert!(summary.contains(&format!(
        "failed linearizability: {}",
        support::LIN_EXPLANATION
    )));
    assert!(summary.contains("undecided k8s.bookmarks"));
    let repro = std::fs::read_to_string(dir.path().join("repro.toml")).expect("repro.toml");
    assert!(repro.contains("seed = 7"), "{repro}");
    assert!(repro.contains("scenario_toml = "), "{repro}");
    // The history file is one the checker reads on its own.
    let history = std::fs::read_to_string(dir.path().join("history.jsonl")).expect("history");
    let file = checker::jsonl::read_str(&history).expect("checker reads it");
    assert_eq!(file.end.as_ref(), Some(&run.end_state));
}

#[test]
fn the_record_indexes_violations_by_first_operation() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_run(dir.path(), &support::small_run()).expect("write");
    let record = RunRecord::read(dir.path().join("report.json")).expect("report.json");
    let index: Vec<(&str, &str)> = record
        .violations
        .iter()
        .map(|v| (v.rule.as_str(), v.first_difference.as_str()))
        .collect();
    assert_eq!(
        index,
        [
            ("linearizability", "range /a"),
            ("watch.unique", "watch /a"),
            ("watch.reliable", "watch /*"),
        ]
    );
    assert_eq!(record.replay_command, support::REPLAY);
}

#[test]
fn damaged_folders_are_reported_with_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_run(dir.path(), &support::small_run()).expect("write");
    let history = dir.path().join(artefacts::HISTORY_FILE);
    let text = std::fs::read_to_string(&history).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    // Drop the end record: the file looks cut short.
    std::fs::write(&history, lines[..lines.len() - 1].join("\n")).expect("write");
    let err = read_run(dir.path()).expect_err("no end record");
    assert!(err.to_string().contains("history.jsonl"), "{err}");
    assert!(err.to_string().contains("end"), "{err}");
    // A broken line names its number.
    let mut broken = lines.clone();
    broken[2] = "{\"type\":\"op\",\"id\":";
    std::fs::write(&history, broken.join("\n")).expect("write");
    let err = read_run(dir.path()).expect_err("broken line");
    assert!(
        matches!(err, ReportsError::Malformed { line: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("history.jsonl:3:"), "{err}");
    // A missing file names itself.
    std::fs::remove_file(dir.path().join(artefacts::REPRO_FILE)).expect("remove");
    let err = read_run(dir.path()).expect_err("missing repro");
    assert!(err.to_string().contains("repro.toml"), "{err}");
}
