//! `run --target etcd`: the same scenario files against real etcd
//! processes. Every scenario and seed is translated into a plan
//! (`scenarios::real`) before anything starts, and the first part a real
//! cluster cannot do refuses the command (one line, exit 2). Each run is
//! then the `faultline-etcd` companion beside this binary (`scenario
//! --plan`), which starts a cluster, runs the plan and writes the history;
//! this side checks it with the simulation's checker and writes the same
//! run folder, marked real and not replayable. Runs go `--jobs` at a time;
//! their clusters never share a port (each binds its own from the kernel
//! and keeps the advertised ones bound).
//!
//! Version changes run with a second, older binary (`--etcd-old`, else
//! `$FAULTLINE_ETCD_OLD`): the plan says which member starts with which
//! (`scenarios::real::Binaries`), and the companion gets both.

use super::{check_options, parallelism, parse_seeds};
use anyhow::{Context, Result, bail};
use checker::history::{EndState, History};
use checker::report::{Overall, Report};
use scenarios::catalog;
use scenarios::schema::{Profile, Scenario};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

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

/// One run to do: its scenario, seed and plan.
struct Job {
    scenario: Scenario,
    seed: u64,
    plan: realplan::Plan,
}

/// One run done.
struct Done {
    line: String,
    verdict: Verdict,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Checked(Overall),
    /// The cluster failed (a member did not come back, no leader): the
    /// companion's message says how. Counted as a failed run.
    ClusterFailed,
}

/// The real etcd the runs use, from `faultline-etcd version`.
struct Etcd {
    binary: String,
    version: String,
    /// The old binary, when some plan runs it.
    old: Option<Box<Etcd>>,
}

impl Etcd {
    /// `VERSION@BINARY`, for the summary line.
    fn word(&self) -> String {
        format!("{}@{}", self.version, self.binary)
    }
}

pub(super) fn run(args: RealArgs<'_>) -> Result<u8> {
    let names: Vec<String> = if args.scenarios.is_empty() {
        vec!["default".into()]
    } else {
        args.scenarios.to_vec()
    };
    let seeds = parse_seeds(args.seed, args.seeds)?;
    let old = args
        .etcd_old
        .map(Path::to_path_buf)
        .or_else(scenarios::real::versions::old_binary_from_env);
    let binaries = scenarios::real::Binaries::with_old(old.is_some());
    // Every plan before anything starts: a refusal costs no cluster.
    let mut jobs = Vec::new();
    for name in &names {
        let scenario = catalog::load(name).map_err(|e| anyhow::anyhow!("--scenario {e}"))?;
        for &seed in &seeds {
            let plan = scenarios::real::plan(&scenario, seed, binaries).map_err(|r| {
                anyhow::anyhow!(
                    "{}: {r} (not runnable against a real cluster; `faultline list scenarios --target etcd` shows what is)",
                    catalog::file_of(name)
                )
            })?;
            jobs.push(Job {
                scenario: scenario.clone(),
                seed,
                plan,
            });
        }
    }
    let companion = super::diff::companion()?;
    let mut etcd = etcd_version(&companion, args.etcd, "--etcd")?;
    if let Some(old) = old.filter(|_| jobs.iter().any(|j| j.plan.uses_old())) {
        let flag = if args.etcd_old.is_some() {
            "--etcd-old"
        } else {
            "$FAULTLINE_ETCD_OLD"
        };
        etcd.old = Some(Box::new(etcd_version(&companion, Some(&old), flag)?));
    }
    if let Some(out) = args.out {
        std::fs::create_dir_all(out)
            .with_context(|| format!("--out {}: cannot create", out.display()))?;
    }
    let old_too = etcd
        .old
        .as_ref()
        .map(|o| format!(" and old etcd {} ({})", o.version, o.binary))
        .unwrap_or_default();
    eprintln!(
        "{} real run(s) against etcd {} ({}){old_too}, {} at a time: not deterministic, a seed fixes the clients' choices only",
        jobs.len(),
        etcd.version,
        etcd.binary,
        parallelism(args.jobs).min(jobs.len())
    );
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    let first_error = Mutex::new(None::<anyhow::Error>);
    let interrupted = AtomicBool::new(false);
    // Ctrl-C reaches the whole process group: each companion stops and
    // removes its cluster and exits 130; this process waits for them,
    // removes its own scratch folders, and exits 130 too.
    let _ignoring = IgnoreInterrupts::start();
    std::thread::scope(|scope| {
        for _ in 0..parallelism(args.jobs).min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    if interrupted.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    match one_run(job, &companion, &etcd, &args) {
                        Ok(None) => interrupted.store(true, Ordering::SeqCst),
                        Ok(Some(d)) => {
                            println!("{}", d.line);
                            done.lock().unwrap_or_else(|e| e.into_inner()).push(d);
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
    let count = |v: Verdict| done.iter().filter(|d| d.verdict == v).count();
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

/// The exit status of a run stopped by Ctrl-C (128 + SIGINT), the
/// companion's and ours.
const EXIT_INTERRUPTED: u8 = 130;

/// SIGINT ignored by this process while it exists (the companions, which
/// get it too, do the stopping), the previous disposition back after.
struct IgnoreInterrupts(libc::sighandler_t);

impl IgnoreInterrupts {
    fn start() -> IgnoreInterrupts {
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

/// `faultline-etcd version`: the binary the runs will use, and its
/// version; `flag` names where the binary came from in errors.
fn etcd_version(companion: &Path, etcd: Option<&Path>, flag: &str) -> Result<Etcd> {
    let mut command = Command::new(companion);
    command.arg("version");
    if let Some(etcd) = etcd {
        command.arg("--etcd").arg(etcd);
    }
    let output = command
        .output()
        .with_context(|| format!("cannot run {}", companion.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.trim();
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        bail!(
            "{flag}: {}",
            message
                .trim()
                .trim_start_matches("faultline-etcd: ")
                .lines()
                .next()
                .unwrap_or("no usable etcd binary")
        );
    }
    let Some((binary, version)) = line.rsplit_once(' ') else {
        bail!(
            "{}: unexpected answer to `version`: {line:?}",
            companion.display()
        );
    };
    Ok(Etcd {
        binary: binary.to_string(),
        version: version.to_string(),
        old: None,
    })
}

/// Runs one plan through the companion, checks its history, reports it and
/// (when asked, or when it failed) writes its run folder. None: the run
/// was interrupted (Ctrl-C).
fn one_run(job: &Job, companion: &Path, etcd: &Etcd, args: &RealArgs<'_>) -> Result<Option<Done>> {
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
    let scenario = &job.scenario.name;
    let seed = job.seed;
    match output.status.code() {
        Some(0) => {}
        Some(130) => return Ok(None),
        Some(1) => {
            let message = String::from_utf8_lossy(&output.stderr)
                .trim()
                .replace('\n', " | ");
            return Ok(Some(Done {
                line: format!(
                    "seed={seed} scenario={scenario} target=etcd verdict=fail cluster_failed wall_ms={wall_ms}\n  {message}"
                ),
                verdict: Verdict::ClusterFailed,
            }));
        }
        _ => bail!(
            "faultline-etcd scenario ({scenario}, seed {seed}) ended with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
    let history_file = scratch.path().join("history.jsonl");
    let text = std::fs::read_to_string(&history_file)
        .with_context(|| format!("{}: cannot read", history_file.display()))?;
    let file = checker::jsonl::read_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", history_file.display()))?;
    let end = file.end.unwrap_or_default();
    let check_started = Instant::now();
    let report = check(&file.history, &end, &job.scenario, args.check_timeout);
    let check_ms = check_started.elapsed().as_millis() as u64;
    let explained = scenarios::real::known::explain(&file.history, &report);
    let line = summary_line(
        job,
        etcd,
        &file.history,
        &report,
        &explained,
        wall_ms,
        check_ms,
    );
    let mut out_line = line.clone();
    for r in &report.results {
        if let checker::Verdict::Fail(v) = &r.verdict {
            out_line.push_str(&format!("\n  {}: {}", r.property, v.explanation));
            let known = explained
                .iter()
                .find(|(rule, _)| *rule == r.property)
                .and_then(|(_, e)| e.as_ref());
            match known {
                Some(e) => {
                    out_line.push_str(&format!(" [known: {}: {}]", e.bugs.join(", "), e.evidence))
                }
                None => {
                    let alike = looks_like(v);
                    out_line.push_str(" [unexplained");
                    if !alike.is_empty() {
                        out_line
                            .push_str(&format!("; its signature looks like {}", alike.join(", ")));
                    }
                    out_line.push(']');
                }
            }
        }
    }
    let overall = report.overall();
    if let Some(out) = args.out.filter(|_| args.keep || overall != Overall::Pass) {
        let dir = out.join(reports::run_dir_name(scenario, seed, &["etcd".into()]));
        write_folder(&dir, job, etcd, &file.history, &end, &report, &line)?;
        out_line.push_str(&format!("\n  run folder: {}", dir.display()));
    }
    Ok(Some(Done {
        line: out_line,
        verdict: Verdict::Checked(overall),
    }))
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

fn summary_line(
    job: &Job,
    etcd: &Etcd,
    history: &History,
    report: &Report,
    explained: &[(String, Option<scenarios::real::known::Explained>)],
    wall_ms: u64,
    check_ms: u64,
) -> String {
    let ops = &history.operations;
    let failed_ops = ops
        .iter()
        .filter(|o| !matches!(o.result, checker::history::OpResult::Ok(_)))
        .count();
    let mut line = format!(
        "seed={} scenario={} target=etcd verdict={} ops={} failed_ops={} watches={} faults={} wall_ms={wall_ms} check_ms={check_ms}",
        job.seed,
        job.scenario.name,
        report.overall().word(),
        ops.len(),
        failed_ops,
        history.watches.len(),
        history.annotations.len(),
    );
    // The binaries the cluster ran: the old one only when the plan has it.
    line.push_str(&format!(" etcd={}", etcd.word()));
    if let Some(old) = etcd.old.as_ref().filter(|_| job.plan.uses_old()) {
        line.push_str(&format!(" etcd_old={}", old.word()));
    }
    if let Some(count) = job.plan.snapshot_count {
        line.push_str(&format!(" snapshot_count={count}"));
    }
    let not_applied = history
        .annotations
        .iter()
        .filter(|a| a.text.contains(": not applied: "))
        .count();
    if not_applied > 0 {
        line.push_str(&format!(" not_applied={not_applied}"));
    }
    let failed = report.failed_rules();
    if !failed.is_empty() {
        line.push_str(&format!(" rules={}", failed.join(",")));
        // Which known etcd bug each failed rule's evidence points at
        // (`known=`), and the rules no known bug explains (`unexplained=`):
        // the ones to investigate.
        let mut known: Vec<&str> = explained
            .iter()
            .filter_map(|(_, e)| e.as_ref())
            .flat_map(|e| e.bugs.iter().copied())
            .collect();
        known.sort();
        known.dedup();
        if !known.is_empty() {
            line.push_str(&format!(" known={}", known.join(",")));
        }
        let unexplained: Vec<&str> = explained
            .iter()
            .filter(|(_, e)| e.is_none())
            .map(|(rule, _)| rule.as_str())
            .collect();
        if !unexplained.is_empty() {
            line.push_str(&format!(" unexplained={}", unexplained.join(",")));
        }
    }
    line
}

/// The catalogued bugs whose detecting run fails with this violation's
/// signature (rule, anomaly class, subject). A hint, not a diagnosis: two
/// bugs may share a signature, and one bug may break several rules.
fn looks_like(v: &checker::Violation) -> Vec<&'static str> {
    let signature = checker::Signature::of(v);
    scenarios::bug_table::known_signatures()
        .filter(|(_, s)| *s == signature)
        .map(|(bug, _)| bug.name())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn write_folder(
    dir: &PathBuf,
    job: &Job,
    etcd: &Etcd,
    history: &History,
    end: &EndState,
    report: &Report,
    summary_line: &str,
) -> Result<()> {
    let old = etcd.old.as_deref().filter(|_| job.plan.uses_old());
    let repro = reports::Repro {
        scenario_name: job.scenario.name.clone(),
        scenario_toml: scenarios::artefacts::scenario_toml(&job.scenario),
        seed: job.seed,
        bugs: Vec::new(),
        // What each member started with.
        versions: job
            .plan
            .binaries
            .iter()
            .map(|b| match (b, &old) {
                (realplan::Binary::Old, Some(old)) => old.version.clone(),
                _ => etcd.version.clone(),
            })
            .collect(),
        trace_hash: String::new(),
        real: Some(reports::RealEtcd {
            binary: etcd.binary.clone(),
            version: etcd.version.clone(),
            old_binary: old.map(|o| o.binary.clone()),
            old_version: old.map(|o| o.version.clone()),
            snapshot_count: job.plan.snapshot_count,
        }),
    };
    // No simulator trace: the fault steps as they ran are the trace.
    let trace = history
        .annotations
        .iter()
        .map(|a| reports::TraceLine {
            at_ns: a.at,
            source: "faultline-etcd".into(),
            kind: "fault".into(),
            detail: a.text.clone(),
        })
        .collect();
    let run = reports::RunArtefacts {
        repro,
        history: history.clone(),
        end_state: end.clone(),
        report: report.clone(),
        trace,
        summary_line: summary_line.to_string(),
        replay_command: format!(
            "faultline run --target etcd --scenario {} --seed {}",
            if catalog::builtin().contains(&job.scenario) {
                job.scenario.name.clone()
            } else {
                format!("{}/repro.toml's scenario", dir.display())
            },
            job.seed
        ),
    };
    reports::write_run(dir, &run).map_err(|e| anyhow::anyhow!("--out: {e}"))
}
