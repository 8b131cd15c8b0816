//! results.csv and coverage.jsonl: durable appends, a torn last line
//! tolerated (and cut off when the file is reopened), a malformed line in
//! the middle reported with file and line, another header refused, and a
//! writer killed with SIGKILL leaving a readable file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use checker::{Anomaly, Overall};
use reports::coverage::load_coverage;
use reports::results::{Classes, load_results};
use reports::{
    CoverageRow, CoverageWriter, RESULTS_HEADER, ReportsError, ResultRow, ResultsWriter,
    read_coverage, read_results,
};

fn row(seed: u64) -> ResultRow {
    ResultRow {
        scenario: "default".into(),
        seed,
        bugs: if seed.is_multiple_of(3) {
            "etcd-17247+etcd-15271".into()
        } else {
            String::new()
        },
        verdict: if seed.is_multiple_of(2) {
            Overall::Pass
        } else {
            Overall::Fail
        },
        failed_rules: if seed.is_multiple_of(2) {
            String::new()
        } else {
            "linearizability;watch.unique".into()
        },
        ops: 600 + seed as usize,
        failed_ops: 26,
        watch_events: 120,
        faults: 2,
        sim_ms: 10_242,
        wall_ms: 110,
        trace_hash: "295e8561df97ef1e".into(),
        not_applied: (seed % 2) as usize,
        classes: if seed.is_multiple_of(2) {
            Classes::default()
        } else {
            Classes(vec![Anomaly::StaleRead, Anomaly::DuplicateEvent])
        },
    }
}

fn coverage_row(seed: u64) -> CoverageRow {
    CoverageRow {
        scenario: "partitions, \"quoted\"".into(),
        seed,
        bugs: String::new(),
        faults_applied: vec!["partition".into(), "kill".into()],
        failpoints_reached: BTreeMap::from([("raftBeforeSave".to_string(), seed)]),
        points_reached: BTreeMap::from([("wal.segment-cut".to_string(), seed + 1)]),
        rules_checked: vec!["linearizability".into()],
        versions: vec!["3.6".into()],
    }
}

fn append_raw(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .expect("append raw bytes");
}

#[test]
fn results_rows_append_and_read_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("results.csv");
    let mut writer = ResultsWriter::open(&path).expect("create");
    let rows: Vec<ResultRow> = (0..5).map(row).collect();
    for r in &rows {
        writer.append(r).expect("append");
    }
    drop(writer);
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.lines().next(), Some(RESULTS_HEADER));
    assert_eq!(
        text.lines().nth(2),
        Some(
            "default,1,,fail,linearizability;watch.unique,601,26,120,2,10242,110,295e8561df97ef1e,1,stale-read;duplicate-event"
        )
    );
    // Reopening appends after the existing rows.
    let mut writer = ResultsWriter::open(&path).expect("reopen");
    assert!(writer.repaired().is_none());
    writer.append(&row(5)).expect("append");
    let back = read_results(&path).expect("read back");
    assert_eq!(back.len(), 6);
    assert_eq!(back[..5], rows[..]);
    assert_eq!(back[3].bug_list(), ["etcd-17247", "etcd-15271"]);
    assert_eq!(
        back[1].failed_rule_list(),
        ["linearizability", "watch.unique"]
    );
}

#[test]
fn a_torn_last_results_line_is_skipped_and_then_cut_off() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("results.csv");
    let mut writer = ResultsWriter::open(&path).expect("create");
    writer.append(&row(1)).expect("append");
    writer.append(&row(2)).expect("append");
    drop(writer);
    append_raw(&path, b"default,3,,pass,,6");
    let file = load_results(&path).expect("a torn tail is tolerated");
    assert_eq!(file.rows, vec![row(1), row(2)]);
    assert_eq!(file.torn.as_ref().map(|t| t.line), Some(4));
    assert_eq!(
        file.torn.map(|t| t.text),
        Some("default,3,,pass,,6".to_string())
    );
    // The next writer cuts the torn tail before appending.
    let mut writer = ResultsWriter::open(&path).expect("reopen");
    assert_eq!(writer.repaired().map(|t| t.line), Some(4));
    writer.append(&row(3)).expect("append");
    let file = load_results(&path).expect("read");
    assert_eq!(file.rows, vec![row(1), row(2), row(3)]);
    assert!(file.torn.is_none());
}

#[test]
fn a_malformed_results_line_in_the_middle_names_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("results.csv");
    let mut writer = ResultsWriter::open(&path).expect("create");
    writer.append(&row(1)).expect("append");
    drop(writer);
    append_raw(&path, b"default,2,,pass\n");
    let mut writer = ResultsWriter::open(&path).expect("reopen");
    writer.append(&row(3)).expect("append");
    let err = read_results(&path).expect_err("short line");
    assert!(
        matches!(err, ReportsError::Malformed { line: 3, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:3: ", path.display())),
        "{text}"
    );
    assert!(text.contains("expected 14 fields, found 4"), "{text}");

    // A field of the wrong type is named.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{RESULTS_HEADER}\ndefault,seven,,pass,,1,0,0,0,1,1,h,0,\ndefault,8,,pass,,1,0,0,0,1,1,h,0,\n"
        ),
    )
    .expect("write");
    let err = read_results(&bad).expect_err("bad seed");
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("field seed"), "{err}");
    // So is a verdict that is not pass, fail or unknown.
    std::fs::write(
        &bad,
        format!("{RESULTS_HEADER}\ndefault,7,,maybe,,1,0,0,0,1,1,h,0,\n"),
    )
    .expect("write");
    let err = read_results(&bad).expect_err("bad verdict");
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("field verdict"), "{err}");
}

#[test]
fn files_from_before_the_not_applied_column_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("results.csv");
    std::fs::write(
        &path,
        "scenario,seed,bugs,verdict,failed_rules,ops,failed_ops,watch_events,faults,sim_ms,wall_ms,trace_hash\ndefault,7,,pass,,1,0,0,0,1,1,h\n",
    )
    .expect("write");
    let rows = read_results(&path).expect("an older results file is read");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].not_applied, 0);
}

#[test]
fn files_from_before_the_classes_column_are_read_with_fallback_classes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("results.csv");
    std::fs::write(
        &path,
        "scenario,seed,bugs,verdict,failed_rules,ops,failed_ops,watch_events,faults,sim_ms,wall_ms,trace_hash,not_applied\ndefault,7,,fail,linearizability;watch.reliable,1,0,0,0,1,1,h,0\n",
    )
    .expect("write");
    let rows = read_results(&path).expect("an older results file is read");
    assert_eq!(rows[0].classes, Classes::default());
    assert_eq!(
        rows[0].failed_with_classes(),
        vec![
            ("linearizability".to_string(), Anomaly::NotLinearizable),
            ("watch.reliable".to_string(), Anomaly::MissingEvent)
        ]
    );
}

#[test]
fn an_unknown_class_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("results.csv");
    std::fs::write(
        &path,
        format!("{RESULTS_HEADER}\ndefault,7,,fail,linearizability,1,0,0,0,1,1,h,0,stale-reed\n"),
    )
    .expect("write");
    let err = read_results(&path).expect_err("bad class");
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("field classes"), "{err}");
    assert!(err.to_string().contains("stale-reed"), "{err}");
}

#[test]
fn another_results_header_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("results.csv");
    std::fs::write(&path, "scenario,seed,verdict\ndefault,1,pass\n").expect("write");
    let err = ResultsWriter::open(&path).err().expect("header mismatch");
    assert!(matches!(err, ReportsError::HeaderMismatch { .. }), "{err}");
    assert!(err.to_string().contains("results.csv:1"), "{err}");
    assert!(matches!(
        read_results(&path),
        Err(ReportsError::HeaderMismatch { .. })
    ));
    // The file was left alone.
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "scenario,seed,verdict\ndefault,1,pass\n"
    );
    // A torn header reads as no rows.
    let torn = dir.path().join("torn.csv");
    std::fs::write(&torn, "scenario,seed,bu").expect("write");
    let file = load_results(&torn).expect("a torn header is a torn line");
    assert!(file.rows.is_empty());
    assert_eq!(file.torn.map(|t| t.line), Some(1));
    // An empty file gets the header.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").expect("write");
    ResultsWriter::open(&empty).expect("open empty");
    assert_eq!(read_results(&empty).expect("read"), vec![]);
}

#[test]
fn coverage_rows_append_tolerate_a_torn_tail_and_name_bad_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("coverage.jsonl");
    let mut writer = CoverageWriter::open(&path).expect("create");
    writer.append(&coverage_row(1)).expect("append");
    writer.append(&coverage_row(2)).expect("append");
    drop(writer);
    assert_eq!(
        read_coverage(&path).expect("read"),
        vec![coverage_row(1), coverage_row(2)]
    );
    append_raw(&path, b"{\"scenario\":\"default\",\"se");
    let file = load_coverage(&path).expect("torn tail tolerated");
    assert_eq!(file.rows.len(), 2);
    assert_eq!(file.torn.map(|t| t.line), Some(3));
    let mut writer = CoverageWriter::open(&path).expect("reopen");
    assert!(writer.repaired().is_some());
    writer.append(&coverage_row(3)).expect("append");
    assert_eq!(read_coverage(&path).expect("read").len(), 3);
    // A bad line in the middle.
    append_raw(&path, b"{\"scenario\":\"x\",\"seed\":\"nine\"}\n");
    writer.append(&coverage_row(4)).expect("append");
    let err = read_coverage(&path).expect_err("bad middle line");
    assert!(
        matches!(err, ReportsError::Malformed { line: 4, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("coverage.jsonl:4:"), "{err}");
    // Rows from older writers without the newer fields still read.
    let old = dir.path().join("old.jsonl");
    std::fs::write(&old, "{\"scenario\":\"default\",\"seed\":1}\n").expect("write");
    assert_eq!(read_coverage(&old).expect("read")[0].seed, 1);
}

/// Run as a child process by the SIGKILL test: appends rows until killed.
#[test]
#[ignore = "a helper the SIGKILL test runs in a child process"]
fn child_appends_until_killed() {
    let Some(dir) = std::env::var_os("REPORTS_TEST_CHILD_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let mut results = ResultsWriter::open(dir.join("results.csv")).expect("results");
    let mut coverage = CoverageWriter::open(dir.join("coverage.jsonl")).expect("coverage");
    for seed in 0.. {
        results.append(&row(seed)).expect("append");
        coverage.append(&coverage_row(seed)).expect("append");
    }
}

#[test]
fn a_writer_killed_with_sigkill_leaves_readable_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--ignored",
                "--exact",
                "child_appends_until_killed",
                "--nocapture",
            ])
            .env("REPORTS_TEST_CHILD_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the writer");
        std::thread::sleep(Duration::from_millis(300 + 100 * round));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let results = load_results(dir.path().join("results.csv")).expect("results readable");
        let coverage = load_coverage(dir.path().join("coverage.jsonl")).expect("coverage readable");
        assert!(
            !results.rows.is_empty(),
            "round {round}: the writer wrote nothing"
        );
        assert!(!coverage.rows.is_empty());
        // Every complete row is a whole row the writer meant to write.
        for r in &results.rows {
            assert_eq!(r, &row(r.seed));
        }
        for c in &coverage.rows {
            assert_eq!(c, &coverage_row(c.seed));
        }
    }
}
