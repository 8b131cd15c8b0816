//! `faultline-etcd scenario`: one plan on one real cluster, the history
//! written for `faultline` to check. SIGINT and SIGTERM end the run early
//! with everything stopped and removed (the cluster is dropped before
//! exiting), exit 130. Members start with the binary the plan gives each
//! (`--etcd`: new, `--etcd-old`: old), and version steps restart them into
//! the other one.

use anyhow::Context;
use realetcd::harness;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn main(plan: &Path, out: &Path, etcd: Option<PathBuf>, etcd_old: Option<PathBuf>) -> ExitCode {
    let setup = || -> anyhow::Result<_> {
        let binary = crate::binary(etcd)?;
        anyhow::ensure!(
            binary.is_file(),
            "{}: no such etcd binary",
            binary.display()
        );
        let old = etcd_old.or_else(harness::old_binary);
        if let Some(old) = &old {
            anyhow::ensure!(
                old.is_file(),
                "--etcd-old {}: no such etcd binary",
                old.display()
            );
        }
        let text = std::fs::read_to_string(plan)
            .with_context(|| format!("--plan {}: cannot read", plan.display()))?;
        let plan = realplan::Plan::from_json(&text)
            .and_then(|p| p.check_binaries(old.is_some()).map(|()| p))
            .with_context(|| format!("--plan {}", plan.display()))?;
        std::fs::create_dir_all(out)
            .with_context(|| format!("--out {}: cannot create", out.display()))?;
        let binaries = realetcd::cluster::Binaries::new(&binary, old.as_deref())?;
        // The main thread runs the cluster: etcd's children die with the
        // thread that started them (PR_SET_PDEATHSIG).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok((binaries, plan, runtime))
    };
    let (binaries, plan, runtime) = match setup() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("faultline-etcd scenario: {e:#}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let outcome = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return Err(anyhow::anyhow!("cannot handle SIGINT and SIGTERM"));
        };
        tokio::select! {
            biased;
            _ = interrupt.recv() => Ok(None),
            _ = terminate.recv() => Ok(None),
            // Dropping this future (on a signal) drops the cluster in it:
            // every etcd killed, every proxy stopped, the folder removed.
            r = run(binaries.clone(), &plan, out) => r.map(Some),
        }
    });
    let outcome = match outcome {
        Ok(Some(o)) => o,
        Ok(None) => {
            eprintln!("faultline-etcd scenario: interrupted; the cluster is stopped and removed");
            return ExitCode::from(130);
        }
        Err(e) => {
            let message = format!("{e:#}").replace('\n', " | ");
            eprintln!("faultline-etcd scenario: {message}");
            return ExitCode::from(1);
        }
    };
    let write = || -> anyhow::Result<()> {
        let history = out.join("history.jsonl");
        std::fs::write(
            &history,
            checker::jsonl::to_string(&outcome.history, Some(&outcome.end)),
        )
        .with_context(|| format!("{}: cannot write", history.display()))?;
        // What ran, beside the history: `faultline` puts it in the run
        // folder's repro and summary.
        let companion = serde_json::json!({
            "etcd_binary": binaries.new.path.display().to_string(),
            "etcd_version": binaries.new.version,
            "etcd_old_binary": binaries.old.as_ref().map(|o| o.path.display().to_string()),
            "etcd_old_version": binaries.old.as_ref().map(|o| o.version.clone()),
            "wall_ms": started.elapsed().as_millis() as u64,
            "steps": outcome.steps,
        });
        let path = out.join("companion.json");
        std::fs::write(&path, serde_json::to_string_pretty(&companion)?)
            .with_context(|| format!("{}: cannot write", path.display()))
    };
    match write() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline-etcd scenario: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(
    binaries: realetcd::cluster::Binaries,
    plan: &realplan::Plan,
    out: &Path,
) -> anyhow::Result<realetcd::scenario::Outcome> {
    let what = format!(
        "starting {} members of {}{}",
        plan.members,
        binaries.new.path.display(),
        binaries
            .old
            .as_ref()
            .map(|o| format!(" and {}", o.path.display()))
            .unwrap_or_default()
    );
    let mut cluster = realetcd::cluster::Cluster::start_with(
        binaries,
        &plan.binaries,
        realetcd::cluster::Settings::of(plan),
    )
    .await
    .context(what)?;
    let outcome = realetcd::scenario::run(&mut cluster, plan).await;
    keep_logs(&cluster, &out.join(realplan::MEMBER_LOGS));
    drop(cluster);
    Ok(outcome?)
}

/// Copies the members' logs before the cluster's folder is removed; a log
/// that cannot be copied is said on stderr and left out (the run stands
/// without it).
fn keep_logs(cluster: &realetcd::cluster::Cluster, dir: &Path) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!(
            "faultline-etcd scenario: {}: cannot create: {e}",
            dir.display()
        );
        return;
    }
    for (name, log) in cluster.logs() {
        let to = dir.join(format!("{name}.etcd.log"));
        if let Err(e) = std::fs::copy(&log, &to) {
            eprintln!(
                "faultline-etcd scenario: {}: cannot copy to {}: {e}",
                log.display(),
                to.display()
            );
        }
    }
}
