//! `run --target etcd`: the same scenario files against real etcd
//! processes. Every scenario and seed is translated into a plan
//! (`scenarios::real`, [`job`]) before anything starts, and the first part
//! a real cluster cannot do refuses the command (one line, exit 2). Each
//! run is then the `faultline-etcd` companion beside this binary
//! ([`execute`]: `scenario --plan`), which starts a cluster, runs the plan
//! and writes the history; this side checks it with the simulation's
//! checker, explains its failures ([`outcome`]) and writes the same run
//! folder, marked real and not replayable ([`folder`]). Runs go `--jobs`
//! at a time; their clusters never share a port (each binds its own from
//! the kernel and keeps the advertised ones bound). `soak --target etcd`
//! runs the same way, one run at a time recorded in a campaign folder
//! ([`campaign`]).
//!
//! Version changes run with a second, older binary (`--etcd-old`, else
//! `$FAULTLINE_ETCD_OLD`): the plan says which member starts with which
//! (`scenarios::real::Binaries`), and the companion gets both.

mod campaign;
pub(super) mod etcd;
pub(super) mod execute;
mod folder;
pub(super) mod job;
pub(super) mod outcome;
mod steps;

use super::{parallelism, parse_seeds};
use anyhow::{Context, Result};
use checker::report::Overall;
use etcd::Etcd;
use job::Job;
use outcome::Outcome;
use scenarios::catalog;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What `run --target etcd` takes from `run`'s arguments.
pub(super) struct RealArgs<'a> {
    pub scenarios: &'a [String],
    pub seed: Option<u64>,
    pub seeds: Option<&'a str>,
    pub jobs: Option<usize>,
    pub check_timeout: u64,
    pub out: Option<&'a Path>,
    pub keep: bool,
    pub etcd: Option<&'a Path>,
    pub etcd_old: Option<&'a Path>,
}

/// One run done, as `run` counts it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Checked(Overall),
    /// The cluster failed: counted as a failed run.
    ClusterFailed,
}

pub(super) fn run(args: RealArgs<'_>) -> Result<u8> {
    let names: Vec<String> = if args.scenarios.is_empty() {
        vec!["default".into()]
    } else {
        args.scenarios.to_vec()
    };
    let seeds = parse_seeds(args.seed, args.seeds)?;
    let old = etcd::old_binary(args.etcd_old);
    let binaries = scenarios::real::Binaries::with_old(old.is_some());
    // Every plan before anything starts: a refusal costs no cluster.
    let mut jobs = Vec::new();
    for name in &names {
        let scenario = catalog::load(name).map_err(|e| anyhow::anyhow!("--scenario {e}"))?;
        for &seed in &seeds {
            jobs.push(Job::plan(&scenario, name, seed, binaries)?);
        }
    }
    let companion = super::diff::companion()?;
    let needs_old = old.filter(|_| jobs.iter().any(|j| j.plan.uses_old()));
    let etcd = Etcd::ask(
        &companion,
        args.etcd,
        needs_old
            .as_ref()
            .map(|(path, flag)| (path.as_path(), *flag)),
    )?;
    if let Some(out) = args.out {
        std::fs::create_dir_all(out)
            .with_context(|| format!("--out {}: cannot create", out.display()))?;
    }
    let workers = parallelism(args.jobs).min(jobs.len());
    eprintln!(
        "{} real run(s) against {}, {workers} at a time: not deterministic, a seed fixes the clients' choices only",
        jobs.len(),
        etcd.describe(),
    );
    let queue = Mutex::new(jobs.into_iter());
    let done = Mutex::new(Vec::new());
    let first_error = Mutex::new(None::<anyhow::Error>);
    let interrupted = AtomicBool::new(false);
    let _ignoring = IgnoreInterrupts::start();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !interrupted.load(Ordering::SeqCst) {
                    let Some(job) = queue.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                        break;
                    };
                    let result = execute::execute(job, &companion, &etcd, args.check_timeout)
                        .and_then(|run| run.map(|run| report(&run, &args)).transpose());
                    match result {
                        Ok(None) => interrupted.store(true, Ordering::SeqCst),
                        Ok(Some(verdict)) => {
                            done.lock().unwrap_or_else(|e| e.into_inner()).push(verdict)
                        }
                        Err(e) => {
                            first_error
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if interrupted.load(Ordering::SeqCst) {
        eprintln!("interrupted: every cluster is stopped and its folder removed");
        return Ok(EXIT_INTERRUPTED);
    }
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    let count = |v: Verdict| done.iter().filter(|d| **d == v).count();
    let failed = count(Verdict::Checked(Overall::Fail)) + count(Verdict::ClusterFailed);
    let unknown = count(Verdict::Checked(Overall::Unknown));
    eprintln!(
        "{} real runs: {} passed, {} failed ({} of them the cluster failing), {} unknown",
        done.len(),
        count(Verdict::Checked(Overall::Pass)),
        failed,
        count(Verdict::ClusterFailed),
        unknown
    );
    Ok(if failed > 0 {
        1
    } else if unknown > 0 {
        3
    } else {
        0
    })
}

/// Prints a finished run and (when asked, or when it failed) writes its
/// folder under `--out`, named `<scenario>-<seed>-etcd` beside simulated
/// runs' folders.
fn report(run: &outcome::RealRun<'_>, args: &RealArgs<'_>) -> Result<Verdict> {
    let mut printed = run.printed();
    if let Some(out) = args
        .out
        .filter(|_| args.keep || run.overall() != Overall::Pass)
    {
        let dir = out.join(reports::run_dir_name(
            &run.job.scenario.name,
            run.job.seed,
            &["etcd".into()],
        ));
        if run
            .write_folder(&dir)
            .map_err(|e| anyhow::anyhow!("--out: {e}"))?
        {
            printed.push_str(&format!("\n  run folder: {}", dir.display()));
        }
    }
    println!("{printed}");
    Ok(match &run.outcome {
        Outcome::Checked(c) => Verdict::Checked(c.report.overall()),
        Outcome::ClusterFailed(_) => Verdict::ClusterFailed,
    })
}

/// The exit status of a run stopped by Ctrl-C (128 + SIGINT), the
/// companion's and ours.
pub(super) const EXIT_INTERRUPTED: u8 = 130;

/// SIGINT ignored by this process while it exists (the companions, which
/// get it too, do the stopping: each stops and removes its cluster and
/// exits 130; this process waits for them, removes its own scratch
/// folders, and exits 130 too), the previous disposition back after.
pub(super) struct IgnoreInterrupts(libc::sighandler_t);

impl IgnoreInterrupts {
    pub(super) fn start() -> IgnoreInterrupts {
        // SAFETY: SIG_IGN is a valid disposition; nothing here relies on
        // a SIGINT handler of its own.
        IgnoreInterrupts(unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) })
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        // SAFETY: restores the disposition `start` found.
        unsafe {
            libc::signal(libc::SIGINT, self.0);
        }
    }
}
