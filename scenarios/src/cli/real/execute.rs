//! One real run: its plan through the `faultline-etcd` companion (`scenario
//! --plan`), which starts a cluster, runs the plan and writes the history;
//! then the history checked with the simulation's checker and each failed
//! rule explained by a known etcd bug, or not.

use super::etcd::Etcd;
use super::job::Job;
use super::outcome::{Checked, Outcome, RealRun};
use crate::cli::check_options;
use anyhow::{Context, Result, bail};
use checker::history::{EndState, History};
use checker::report::Report;
use scenarios::schema::{Profile, Scenario};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The companion's exit status when Ctrl-C stopped it (128 + SIGINT),
/// after it stopped and removed its cluster.
const COMPANION_INTERRUPTED: i32 = 130;
/// The companion's exit status when the cluster failed (a member did not
/// come back, no leader).
const COMPANION_CLUSTER_FAILED: i32 = 1;

/// Runs `job` against `etcd`; None: the run was interrupted (Ctrl-C).
pub(in crate::cli) fn execute<'e>(
    job: Job,
    companion: &Path,
    etcd: &'e Etcd,
    check_timeout: u64,
) -> Result<Option<RealRun<'e>>> {
    // The companion's scratch folder is named as the cluster folders are
    // (`faultline-cluster-PID-`), so that if this process is killed the
    // next cluster started on the machine removes it.
    let scratch = tempfile::Builder::new()
        .prefix(&format!("faultline-cluster-{}-", std::process::id()))
        .tempdir()
        .context("cannot create a temporary folder")?;
    let plan_file = scratch.path().join("plan.json");
    std::fs::write(&plan_file, job.plan.to_json())
        .with_context(|| format!("{}: cannot write", plan_file.display()))?;
    let started = Instant::now();
    let mut command = Command::new(companion);
    command
        .arg("scenario")
        .arg("--plan")
        .arg(&plan_file)
        .arg("--out")
        .arg(scratch.path())
        .arg("--etcd")
        .arg(&etcd.binary)
        .args(
            etcd.old
                .iter()
                .filter(|_| job.plan.uses_old())
                .flat_map(|o| ["--etcd-old", o.binary.as_str()]),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    die_with_this_thread(&mut command);
    let output = command
        .output()
        .with_context(|| format!("cannot run {}", companion.display()))?;
    let wall_ms = started.elapsed().as_millis() as u64;
    let outcome = match output.status.code() {
        Some(0) => Outcome::Checked(Box::new(check_history(
            &scratch.path().join("history.jsonl"),
            &job.scenario,
            check_timeout,
        )?)),
        Some(COMPANION_INTERRUPTED) => return Ok(None),
        Some(COMPANION_CLUSTER_FAILED) => Outcome::ClusterFailed(
            String::from_utf8_lossy(&output.stderr)
                .trim()
                .replace('\n', " | "),
        ),
        _ => bail!(
            "faultline-etcd scenario ({}, seed {}) ended with {}: {}",
            job.scenario.name,
            job.seed,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    };
    Ok(Some(RealRun {
        job,
        etcd,
        wall_ms,
        outcome,
        companion_out: scratch,
    }))
}

/// Reads the companion's history and checks it.
fn check_history(file: &Path, scenario: &Scenario, timeout: u64) -> Result<Checked> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let read =
        checker::jsonl::read_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let end = read.end.unwrap_or_default();
    let started = Instant::now();
    let report = check(&read.history, &end, scenario, timeout);
    let check_ms = started.elapsed().as_millis() as u64;
    let explained = scenarios::real::known::explain(&read.history, &report);
    Ok(Checked {
        history: read.history,
        end,
        report,
        explained,
        check_ms,
    })
}

/// The companion is a child of the thread that waits for it: if this
/// process dies (even by SIGKILL), the kernel sends it SIGTERM, and it
/// stops its cluster and removes it. It takes SIGINT as usual (this
/// process ignores it meanwhile, which a child would inherit).
fn die_with_this_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl and signal are async-signal-safe, and the closure
    // touches nothing of the parent's memory.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The checker's rules that apply to a real run: every checker rule,
/// except the watch rules when no traffic watched and the Kubernetes rules
/// (the kubernetes profile does not run for real), which would pass
/// without a history to judge.
fn check(history: &History, end: &EndState, scenario: &Scenario, timeout: u64) -> Report {
    let mut report = checker::check_run(history, end, &check_options(timeout));
    let watched = scenario
        .traffic
        .iter()
        .any(|t| t.profile == Profile::Watch && t.clients > 0);
    report.results.retain(|r| {
        !(r.property.starts_with("k8s.") || (!watched && r.property.starts_with("watch.")))
    });
    report
}
