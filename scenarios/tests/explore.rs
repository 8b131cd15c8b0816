//! `faultline explore`: the same command makes the same runs and the same
//! corpus whatever the number of jobs; killed (SIGKILL) and started again
//! it ends with what an uninterrupted exploration has, each run once; every
//! corpus entry is a repro `replay` takes; and a folder holding another
//! campaign is refused.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs: two passes of the three scenarios, then mutants.
const RUNS: u64 = 30;

fn explore_command(dir: &Path, jobs: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.args([
        "explore",
        "--scenario",
        "single-member",
        "--scenario",
        "pause",
        "--scenario",
        "crash-restart",
        "--runs",
        &RUNS.to_string(),
        "--seed",
        "7",
        "--jobs",
        jobs,
        "--quiet",
        "--out",
    ])
    .arg(dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

/// explore.jsonl, which lists the runs in run order.
fn log(dir: &Path) -> Vec<reports::ExploreRow> {
    reports::read_explore(dir.join(reports::EXPLORE_FILE)).expect("explore.jsonl reads back")
}

fn rows_now(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join(reports::EXPLORE_FILE))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn kill(mut child: Child) {
    child.kill().expect("kill the exploration");
    child.wait().expect("reap it");
}

#[test]
fn the_same_command_explores_the_same_way_and_survives_sigkill() {
    let one_job = tempfile::tempdir().expect("temp dir");
    let status = explore_command(one_job.path(), "1")
        .status()
        .expect("run explore");
    assert!(status.success(), "exploration: {status}");
    let reference = log(one_job.path());
    assert_eq!(reference.len() as u64, RUNS);
    assert!(
        reference.iter().any(|r| r.parent.is_some()),
        "no mutant in {RUNS} runs"
    );
    assert!(
        reference.iter().any(|r| r.kept) && reference.last().is_some_and(|r| r.corpus_size > 3)
    );

    // Two jobs, killed at several moments and started again.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut partial_kills = 0;
    for (kill_after_rows, delay_ms) in [(1usize, 0u64), (0, 5), (8, 23), (15, 3)] {
        let child = explore_command(dir.path(), "2")
            .spawn()
            .expect("start explore");
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
        "only {partial_kills} kills landed mid-exploration: the test did not test resuming"
    );
    let status = explore_command(dir.path(), "2")
        .status()
        .expect("run explore");
    assert!(status.success(), "resumed exploration: {status}");
    assert_eq!(
        log(dir.path()),
        reference,
        "a killed and resumed two-job exploration differs from an uninterrupted one-job one"
    );
    let results = reports::read_results(dir.path().join("results.csv")).expect("results.csv");
    let mut seen = std::collections::BTreeSet::new();
    for r in &results {
        assert!(
            seen.insert((r.scenario.clone(), r.seed)),
            "{} {} twice",
            r.scenario,
            r.seed
        );
    }
    assert_eq!(results.len() as u64, RUNS);

    // Every corpus entry is a repro; one replays to its recorded hash.
    let corpus: Vec<_> = std::fs::read_dir(dir.path().join("corpus"))
        .expect("corpus/")
        .map(|e| e.expect("entry").path())
        .collect();
    let kept = reference.iter().filter(|r| r.kept).count();
    assert_eq!(corpus.len(), kept);
    let mutant = reference
        .iter()
        .rfind(|r| r.kept && r.parent.is_some())
        .expect("a kept mutant");
    let repro = dir
        .path()
        .join("corpus")
        .join(format!("{:06}.toml", mutant.run));
    let replay = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("replay")
        .arg(&repro)
        .output()
        .expect("replay");
    let out = String::from_utf8_lossy(&replay.stdout).to_string()
        + &String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success(), "{out}");
    assert!(out.contains("matches the repro"), "{out}");
}

#[test]
fn a_soak_folder_is_not_explored_and_bad_arguments_say_which() {
    let dir = tempfile::tempdir().expect("temp dir");
    let soak = Command::new(env!("CARGO_BIN_EXE_faultline"))
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
        .expect("soak");
    assert!(soak.status.success());
    let explore = explore_command(dir.path(), "1")
        .stderr(Stdio::piped())
        .output()
        .expect("explore");
    let err = String::from_utf8_lossy(&explore.stderr);
    assert_eq!(explore.status.code(), Some(2), "{err}");
    assert!(err.contains("mode") && err.contains("a soak"), "{err}");

    let bad = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["explore", "--shard", "3/2", "--out"])
        .arg(dir.path().join("other"))
        .output()
        .expect("explore");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(err.contains("--shard"), "{err}");
}
