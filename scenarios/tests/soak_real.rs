//! `faultline soak --target etcd` against real etcd clusters (etcd from
//! `$FAULTLINE_ETCD`, else on the PATH, as realetcd's tests find it; the
//! `faultline-etcd` companion beside `faultline`, as `cargo test` of the
//! workspace builds it): a 2-run campaign records 2 rows with verdicts,
//! its run folders and a target in campaign.json, the dashboard reads it,
//! the same command again runs nothing more, and a SIGKILL in the middle
//! leaves no companion or etcd running and is resumed by rerunning only
//! the run in flight. Nothing the soak started may outlive it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real-soak.toml");

fn faultline() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_faultline"))
}

/// Fails the test, saying how, when a real run cannot happen here.
fn require_a_real_etcd() {
    let companion = faultline().with_file_name("faultline-etcd");
    assert!(
        companion.is_file(),
        "{} is missing: build it (cargo build --release -p realetcd; it needs protoc)",
        companion.display()
    );
    let found = std::env::var_os("FAULTLINE_ETCD").is_some()
        || std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("etcd").is_file()));
    assert!(
        found,
        "no etcd: this test needs a real etcd (ci/test.sh installs Debian's etcd-server)"
    );
}

fn soak(dir: &Path, jobs: &str) -> Command {
    let mut command = Command::new(faultline());
    command
        .args(["soak", "--target", "etcd", "--scenario", SCENARIO])
        .args([
            "--runs",
            "2",
            "--jobs",
            jobs,
            "--start-seed",
            "5",
            "--keep-all",
        ])
        .arg("--out")
        .arg(dir)
        .env_remove("FAULTLINE_ETCD_OLD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Every live process whose parent is in `family`, added to it, until
/// none is new: what the soak has started, at this moment.
fn descendants(root: u32, family: &mut BTreeSet<u32>) {
    family.insert(root);
    loop {
        let before = family.len();
        for (pid, ppid) in processes() {
            if family.contains(&ppid) {
                family.insert(pid);
            }
        }
        if family.len() == before {
            return;
        }
    }
}

/// (pid, parent pid) of every process, from /proc.
fn processes() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`: comm may hold spaces.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect()
}

fn is_etcd(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "etcd")
}

/// Whether `pid` runs (a zombie has ended; only its parent's wait is due).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Waits for every process of `family` but `except` to end, failing after
/// `within`.
fn all_end(family: &BTreeSet<u32>, except: u32, within: Duration) {
    let start = Instant::now();
    loop {
        let left: Vec<u32> = family
            .iter()
            .copied()
            .filter(|&p| p != except && alive(p))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < within,
            "processes the soak started still run {within:?} later: {left:?} (etcd among them: {:?})",
            left.iter().filter(|&&p| is_etcd(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the command to its end, watching what it starts; returns its exit
/// code, stderr and every process it started.
fn watched(mut command: Command) -> (Option<i32>, String, BTreeSet<u32>) {
    let mut child = command.spawn().expect("faultline runs");
    let mut family = BTreeSet::new();
    let status = loop {
        descendants(child.id(), &mut family);
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (status.code(), stderr, family)
}

fn rows(dir: &Path) -> Vec<reports::ResultRow> {
    reports::read_results(dir.join("results.csv")).expect("results.csv reads")
}

/// Each (scenario, seed) once.
fn distinct(rows: &[reports::ResultRow]) -> usize {
    let keys: BTreeSet<_> = rows.iter().map(|r| (r.scenario.clone(), r.seed)).collect();
    assert_eq!(keys.len(), rows.len(), "a run was recorded twice: {rows:?}");
    keys.len()
}

#[test]
fn a_real_soak_records_its_runs_resumes_to_nothing_more_and_leaves_nothing_running() {
    require_a_real_etcd();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("real");
    let (code, stderr, family) = watched(soak(&dir, "2"));
    assert!(matches!(code, Some(0 | 1 | 3)), "exit {code:?}: {stderr}");
    assert!(family.len() > 1, "the soak started no process: {stderr}");
    all_end(&family, 0, Duration::from_secs(10));
    let first = rows(&dir);
    assert_eq!(distinct(&first), 2, "{stderr}");
    for row in &first {
        assert_eq!(row.scenario, "real-soak");
        assert!(row.trace_hash.is_empty() && row.sim_ms == 0 && row.bugs.is_empty());
        assert!(row.ops > 0 && row.wall_ms > 0, "{row:?}");
        // --keep-all: each run's folder, named as the dashboard finds it,
        // its repro marked real.
        let folder = dir.join("runs").join(format!("real-soak-{}", row.seed));
        let repro = std::fs::read_to_string(folder.join("repro.toml"))
            .unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        assert!(repro.contains("[real_etcd]"), "{repro}");
    }
    let campaign = std::fs::read_to_string(dir.join("campaign.json")).expect("campaign.json");
    assert!(campaign.contains("\"kind\": \"etcd\""), "{campaign}");
    // The same command again: every run is done.
    let (code, again, _) = watched(soak(&dir, "2"));
    assert!(matches!(code, Some(0 | 1 | 3)), "exit {code:?}: {again}");
    assert!(
        again.contains("0 runs this time, 2 before, 2 in all"),
        "{again}"
    );
    assert_eq!(rows(&dir).len(), 2);
    // A simulated soak may not continue it.
    let sim = Command::new(faultline())
        .args([
            "soak",
            "--scenario",
            SCENARIO,
            "--runs",
            "2",
            "--start-seed",
            "5",
        ])
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("faultline runs");
    let err = String::from_utf8_lossy(&sim.stderr);
    assert_eq!(sim.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("campaign.json: target: "), "{err}");
    // The dashboard reads the real campaign.
    let html = tmp.path().join("dashboard.html");
    let report = Command::new(faultline())
        .arg("report")
        .arg(&dir)
        .arg("--out")
        .arg(&html)
        .output()
        .expect("faultline report runs");
    assert!(
        matches!(report.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(html.is_file());
}

#[test]
fn a_killed_real_soak_leaves_nothing_running_and_reruns_only_the_run_in_flight() {
    require_a_real_etcd();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("killed");
    let mut child: Child = soak(&dir, "1").spawn().expect("faultline runs");
    let root = child.id();
    let mut family = BTreeSet::new();
    let start = Instant::now();
    // Until a cluster runs: the first run is in flight.
    while !family.iter().any(|&p| is_etcd(p)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no etcd started within 30 s"
        );
        assert!(child.try_wait().expect("wait").is_none(), "the soak ended");
        std::thread::sleep(Duration::from_millis(50));
        descendants(root, &mut family);
    }
    std::thread::sleep(Duration::from_millis(500));
    descendants(root, &mut family);
    // Child::kill sends SIGKILL on Unix.
    child.kill().expect("SIGKILL the soak");
    child.wait().expect("reap the soak");
    // Well before the run would have ended on its own (4 s of traffic
    // after the cluster is up, then the end checks): the companion must
    // stop its cluster because its parent died, not because it finished.
    all_end(&family, root, Duration::from_secs(3));
    let before = rows(&dir).len();
    assert!(before < 2, "both runs finished before the kill");
    let (code, stderr, family) = watched(soak(&dir, "1"));
    assert!(matches!(code, Some(0 | 1 | 3)), "exit {code:?}: {stderr}");
    all_end(&family, 0, Duration::from_secs(10));
    assert_eq!(distinct(&rows(&dir)), 2, "{stderr}");
    let expected = format!("{} runs this time, {before} before, 2 in all", 2 - before);
    assert!(stderr.contains(&expected), "{stderr}");
}
