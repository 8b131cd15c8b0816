//! `faultline soak` survives SIGKILL: killed at several moments and started
//! again with the same command, it ends with exactly the runs an
//! uninterrupted soak makes, each once, with the same trace hashes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: u64 = 24;

fn soak_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.args([
        "soak",
        "--scenario",
        "single-member",
        "--scenario",
        "pause",
        "--runs",
        &RUNS.to_string(),
        "--start-seed",
        "40",
        "--jobs",
        "2",
        "--keep-all",
        "--quiet",
        "--out",
    ])
    .arg(dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

/// Complete rows of results.csv: (scenario, seed) -> trace hash, failing
/// the test on a duplicate.
fn finished(dir: &Path) -> BTreeMap<(String, u64), String> {
    let rows = reports::read_results(dir.join("results.csv")).expect("results.csv reads back");
    let mut out = BTreeMap::new();
    for r in rows {
        let key = (r.scenario.clone(), r.seed);
        assert!(
            out.insert(key.clone(), r.trace_hash).is_none(),
            "{key:?} was run twice"
        );
    }
    out
}

fn rows_now(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("results.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

fn kill(mut child: Child) {
    // Child::kill sends SIGKILL on Unix.
    child.kill().expect("kill the soak");
    child.wait().expect("reap the soak");
}

#[test]
fn soak_killed_and_restarted_loses_and_repeats_nothing() {
    let reference_dir = tempfile::tempdir().expect("temp dir");
    let status = soak_command(reference_dir.path())
        .status()
        .expect("run soak");
    assert!(status.success(), "uninterrupted soak: {status}");
    let reference = finished(reference_dir.path());
    assert_eq!(reference.len() as u64, RUNS);

    let dir = tempfile::tempdir().expect("temp dir");
    // Kill it as soon as the first run lands, then a few rows later, then
    // right at start-up (before anything is written): every moment of a
    // run's life is hit across the kills.
    let mut partial_kills = 0;
    for (kill_after_rows, delay_ms) in [(1usize, 0u64), (6, 37), (0, 5), (12, 11)] {
        let child = soak_command(dir.path()).spawn().expect("start soak");
        let started = Instant::now();
        while rows_now(dir.path()) < kill_after_rows && started.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill(child);
        let rows = rows_now(dir.path());
        if rows > 0 && (rows as u64) < RUNS {
            partial_kills += 1;
        }
    }
    assert!(
        partial_kills >= 2,
        "only {partial_kills} kills landed mid-campaign: the test did not test resuming"
    );
    let status = soak_command(dir.path()).status().expect("run soak");
    assert!(status.success(), "resumed soak: {status}");
    let resumed = finished(dir.path());
    assert_eq!(
        resumed, reference,
        "the resumed campaign differs from an uninterrupted one"
    );

    // One coverage row per finished run, and a folder for each (--keep-all).
    let coverage = reports::read_coverage(dir.path().join("coverage.jsonl")).expect("coverage");
    let mut seen = std::collections::BTreeSet::new();
    for c in &coverage {
        assert!(
            seen.insert((c.scenario.clone(), c.seed)),
            "coverage row twice: {} {}",
            c.scenario,
            c.seed
        );
    }
    assert_eq!(
        seen.len(),
        resumed.len(),
        "coverage rows and results rows differ"
    );
    for (scenario, seed) in resumed.keys() {
        let folder = dir
            .path()
            .join("runs")
            .join(reports::run_dir_name(scenario, *seed, &[]));
        let run = reports::read_run(&folder).expect("run folder reads back");
        assert_eq!(run.repro.trace_hash, resumed[&(scenario.clone(), *seed)]);
    }

    // Started once more, it has nothing left to do and changes nothing.
    let status = soak_command(dir.path()).status().expect("run soak");
    assert!(status.success());
    assert_eq!(finished(dir.path()), reference);
}

#[test]
fn soak_refuses_a_different_campaign_in_the_same_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ok = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "soak",
            "--scenario",
            "single-member",
            "--runs",
            "1",
            "--quiet",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("run soak");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let other = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "soak",
            "--scenario",
            "single-member",
            "--runs",
            "1",
            "--start-seed",
            "9",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("run soak");
    assert_eq!(other.status.code(), Some(2));
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        err.contains("seed") && err.contains("campaign.json"),
        "{err}"
    );
}
