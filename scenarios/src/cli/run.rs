//! `run`, `replay` and `bench`: running seeds, one seed again, and speed.

use super::target::{RunTarget, repro_file};
use super::{check_options, load_scenarios, parallelism, parse_bugs, parse_seeds, print_failures};
use anyhow::{Context, Result};
use checker::Overall;
use scenarios::campaign::{self, Job, Outcome, Tally};
use scenarios::engine::{RunOptions, RunResult};
use scenarios::schema::Scenario;
use scenarios::{artefacts, catalog};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub(super) struct RunArgs {
    /// Scenario name from the catalog, or a .toml file; repeatable (default: default).
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// One seed.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// A seed range A..B (B excluded).
    #[arg(long)]
    seeds: Option<String>,
    /// Runs at once (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Switch a catalogued bug on; repeatable.
    #[arg(long = "bug")]
    bugs: Vec<String>,
    /// Run each seed twice on fresh threads and fail if the trace hashes differ.
    #[arg(long)]
    check_determinism: bool,
    /// Checker time limit per run, in seconds.
    #[arg(long, default_value_t = 60)]
    check_timeout: u64,
    /// Leave each failing run's folder (repro, history, trace, report.html) in DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// With --out: keep the folders of passing runs too.
    #[arg(long, requires = "out")]
    keep: bool,
    #[command(flatten)]
    runs_on: RunsOn,
}

/// Where `run` runs a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Target {
    Sim,
    Etcd,
}

/// What runs the runs, and the etcd binaries a real target uses: the
/// arguments `run` and `soak` share.
#[derive(clap::Args)]
pub(super) struct RunsOn {
    /// What runs the scenarios: the simulation (deterministic), or real
    /// etcd clusters on loopback (`faultline-etcd`, not deterministic, not
    /// replayable; steps a real cluster cannot do are refused). A soak
    /// keeps the target, and the etcd version, it started with.
    #[arg(long, value_enum, default_value_t = Target::Sim)]
    pub target: Target,
    /// With --target etcd: the etcd binary (default: $FAULTLINE_ETCD, else
    /// etcd on PATH).
    #[arg(long)]
    pub etcd: Option<PathBuf>,
    /// With --target etcd: the older etcd binary that version changes
    /// (swap_version, rolling_upgrade, rolling_downgrade, mixed
    /// cluster.versions) restart members into, the scenario's lower
    /// version (default: $FAULTLINE_ETCD_OLD; without it, version changes
    /// are refused).
    #[arg(long)]
    pub etcd_old: Option<PathBuf>,
}

impl RunsOn {
    pub fn is_real(&self) -> bool {
        self.target == Target::Etcd
    }

    /// Refuses, for a simulated run, the etcd binaries only a real one takes.
    pub fn refuse_etcd_binaries(&self) -> Result<()> {
        if self.etcd.is_some() {
            anyhow::bail!("--etcd: goes with --target etcd");
        }
        if self.etcd_old.is_some() {
            anyhow::bail!("--etcd-old: goes with --target etcd");
        }
        Ok(())
    }
}

/// Refuses `--bug` for real runs: the switches are the simulated store's.
pub(super) fn refuse_bugs_on_real_etcd(bugs: &[String]) -> Result<()> {
    if !bugs.is_empty() {
        anyhow::bail!("--bug: a real etcd has no bug switches (they are the simulated store's)");
    }
    Ok(())
}

#[derive(clap::Args)]
pub(super) struct ReplayArgs {
    #[command(flatten)]
    target: RunTarget,
    /// Where to write the human-readable trace (default: stdout).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Also write the history and end state as JSON lines (`faultline check` reads them).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Write the run's whole folder (repro, history, trace, report.html) to DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write each member's simulated disk out as real files under DIR/m<id>/
    /// (for `faultline inspect` and `faultline migrate`).
    #[arg(long)]
    dump_data: Option<PathBuf>,
    /// Accept a trace hash that differs from the repro's (the code changed
    /// since it was written); without it such a replay exits with 4.
    #[arg(long, conflicts_with = "refresh")]
    allow_drift: bool,
    /// Rewrite the repro's trace hash to this run's, provided the run
    /// passes (regenerates a corpus repro after a deliberate code change).
    #[arg(long)]
    refresh: bool,
}

/// `replay`'s exit code when the run is not the one the repro recorded.
pub(super) const EXIT_DRIFT: u8 = 4;

#[derive(clap::Args)]
pub(super) struct BenchArgs {
    #[arg(long, default_value = "default")]
    scenario: String,
    /// Seeds to run, one at a time on one core.
    #[arg(long, default_value = "0..20")]
    seeds: String,
}

fn exit_code(tally: &Tally) -> u8 {
    if tally.nondeterministic > 0 || tally.failed > 0 {
        1
    } else if tally.unknown > 0 {
        3
    } else {
        0
    }
}

/// Writes a run's folder `dir`; `flag` names the argument in errors.
pub(super) fn write_run_folder(
    dir: &Path,
    scenario: &Scenario,
    result: &RunResult,
    flag: &str,
) -> Result<()> {
    let repro_path = dir.join(reports::artefacts::REPRO_FILE);
    let run = artefacts::run_artefacts(scenario, result, &repro_path.display().to_string());
    reports::write_run(dir, &run).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

pub(super) fn run(args: RunArgs) -> Result<u8> {
    if args.runs_on.is_real() {
        refuse_bugs_on_real_etcd(&args.bugs)?;
        if args.check_determinism {
            anyhow::bail!("--check-determinism: a run against real etcd is not deterministic");
        }
        return super::real::run(super::real::RealArgs {
            scenarios: &args.scenarios,
            seed: args.seed,
            seeds: args.seeds.as_deref(),
            jobs: args.jobs,
            check_timeout: args.check_timeout,
            out: args.out.as_deref(),
            keep: args.keep,
            etcd: args.runs_on.etcd.as_deref(),
            etcd_old: args.runs_on.etcd_old.as_deref(),
        });
    }
    args.runs_on.refuse_etcd_binaries()?;
    let scenarios = load_scenarios(&args.scenarios)?;
    let seeds = parse_seeds(args.seed, args.seeds.as_deref())?;
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out)
            .with_context(|| format!("--out {}: cannot create", out.display()))?;
    }
    let opts = RunOptions {
        bugs: parse_bugs(&args.bugs)?,
        check: check_options(args.check_timeout),
        collect_files: false,
    };
    // A worker cannot stop the others: the first run folder that could not
    // be written is kept, and reported once every run is done.
    let write_error = std::sync::Mutex::new(None::<anyhow::Error>);
    let tally = campaign::run_all(
        every_seed_of_every_scenario(&scenarios, &seeds),
        parallelism(args.jobs),
        &opts,
        args.check_determinism,
        |o| {
            if let Err(e) = report_run(o, &args, &scenarios) {
                write_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(e);
            }
        },
    );
    if let Some(e) = write_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    print_totals(&tally, args.check_determinism);
    Ok(exit_code(&tally))
}

/// The runs `run` does: each scenario's seeds in turn.
fn every_seed_of_every_scenario(scenarios: &[Scenario], seeds: &[u64]) -> Vec<Job> {
    scenarios
        .iter()
        .flat_map(|s| {
            seeds.iter().map(move |&seed| Job {
                scenario: s.clone(),
                seed,
            })
        })
        .collect()
}

/// Reports one finished run as soon as it is done: its summary line (the
/// line `ci/trace-hashes.sh` reads), a replay whose trace differed, its
/// failures; with `--out`, writes its folder when it failed, was not
/// deterministic, or `--keep` asks for every run.
fn report_run(o: &Outcome, args: &RunArgs, scenarios: &[Scenario]) -> Result<()> {
    println!("{}", o.result.summary_line());
    if let Some(replay) = &o.replay_hash
        && *replay != o.result.trace_hash
    {
        println!(
            "NONDETERMINISM seed={} scenario={} first={} replay={}",
            o.result.seed, o.result.scenario, o.result.trace_hash, replay
        );
    }
    print_failures(&o.result);
    let keep = args.keep || o.result.overall() != Overall::Pass || !o.deterministic();
    if let Some(out) = args.out.as_ref().filter(|_| keep)
        && let Some(scenario) = scenarios.iter().find(|s| s.name == o.result.scenario)
    {
        let name = reports::run_dir_name(
            &o.result.scenario,
            o.result.seed,
            &artefacts::bug_names(&o.result.bugs),
        );
        let dir = out.join(name);
        write_run_folder(&dir, scenario, &o.result, "--out")?;
        println!("  run folder: {}", dir.display());
    }
    Ok(())
}

/// The closing count of verdicts, on stderr (stdout carries one line per
/// run for scripts).
fn print_totals(tally: &Tally, check_determinism: bool) {
    eprintln!(
        "{} runs: {} passed, {} failed, {} unknown{}",
        tally.runs(),
        tally.passed,
        tally.failed,
        tally.unknown,
        if check_determinism {
            format!(", {} nondeterministic", tally.nondeterministic)
        } else {
            String::new()
        }
    );
}

/// What `replay` runs: the scenario, seed and bugs, and the hash a repro expects.
struct Replay {
    scenario: Scenario,
    seed: u64,
    opts: RunOptions,
    expected_hash: Option<String>,
}

fn replay_target(args: &ReplayArgs) -> Result<Replay> {
    let opts = RunOptions {
        collect_files: args.dump_data.is_some(),
        ..Default::default()
    };
    let run = args.target.resolve("replay")?;
    Ok(Replay {
        scenario: run.scenario,
        seed: run.seed,
        opts: RunOptions {
            bugs: run.bugs,
            ..opts
        },
        expected_hash: run.trace_hash,
    })
}

pub(super) fn replay(args: ReplayArgs) -> Result<u8> {
    let target = replay_target(&args)?;
    let result = scenarios::run(&target.scenario, target.seed, &target.opts);
    if let Some(dir) = &args.dump_data {
        dump_data(dir, &result)?;
    }
    let mut text = Vec::new();
    result.trace.write_text(&mut text)?;
    match &args.trace {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("--trace {}: cannot write", path.display()))?,
        None => print!("{}", String::from_utf8_lossy(&text)),
    }
    if let Some(path) = &args.history {
        let file = std::fs::File::create(path)
            .with_context(|| format!("--history {}: cannot create", path.display()))?;
        checker::jsonl::write(
            std::io::BufWriter::new(file),
            &result.history,
            Some(&result.end_state),
        )
        .with_context(|| format!("--history {}: cannot write", path.display()))?;
    }
    if let Some(dir) = &args.out {
        write_run_folder(dir, &target.scenario, &result, "--out")?;
        eprintln!("run folder: {}", dir.display());
    }
    println!("{}", result.summary_line());
    print_failures(&result);
    let verdict = result.overall().exit_code() as u8;
    let Some(expected) = &target.expected_hash else {
        if args.refresh {
            anyhow::bail!("--refresh: give a repro file to rewrite");
        }
        return Ok(verdict);
    };
    if *expected == result.trace_hash {
        eprintln!("trace hash {expected} matches the repro: the run replayed exactly");
        return Ok(verdict);
    }
    if args.refresh {
        return refresh_repro(&args, expected, &result.trace_hash, verdict);
    }
    let repro = args.target.repro.as_deref().unwrap_or(Path::new("REPRO"));
    eprintln!(
        "trace hash {} differs from the repro's {expected}: this is not the run the repro recorded (the code changed since it was written)",
        result.trace_hash
    );
    if args.allow_drift {
        return Ok(verdict);
    }
    eprintln!(
        "regenerate it once the change is deliberate: `faultline replay --refresh {}` (reruns it, requires a pass, rewrites the hash); or accept it with --allow-drift",
        repro.display()
    );
    Ok(EXIT_DRIFT)
}

/// `replay --refresh`: a passing run's hash replaces the repro's.
fn refresh_repro(args: &ReplayArgs, old: &str, new: &str, verdict: u8) -> Result<u8> {
    let Some(path) = &args.target.repro else {
        anyhow::bail!("--refresh: give a repro file to rewrite");
    };
    if verdict != 0 {
        eprintln!(
            "{}: not refreshed: the run no longer passes on this code (trace {new}); a corpus repro must pass",
            path.display()
        );
        return Ok(verdict);
    }
    let file = repro_file(path);
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let line = format!("trace_hash = \"{old}\"");
    if text.matches(&line).count() != 1 {
        anyhow::bail!("{}: expected one line `{line}` to rewrite", file.display());
    }
    let rewritten = text.replacen(&line, &format!("trace_hash = \"{new}\""), 1);
    std::fs::write(&file, rewritten)
        .with_context(|| format!("{}: cannot write", file.display()))?;
    eprintln!(
        "{}: trace hash {old} -> {new} (the run passes)",
        file.display()
    );
    Ok(0)
}

pub(super) fn bench(args: BenchArgs) -> Result<u8> {
    let scenario = catalog::load(&args.scenario).map_err(|e| anyhow::anyhow!("--scenario {e}"))?;
    let seeds = parse_seeds(None, Some(&args.seeds))?;
    let opts = RunOptions::default();
    let (mut wall, mut sim, mut check, mut messages, mut ops) = (0u64, 0u64, 0u64, 0u64, 0usize);
    let (mut writes, mut served, mut events) = (0usize, 0usize, 0usize);
    // The traffic runs for the scenario's duration; the run goes on after
    // it (quiesce, end-state checks, compactions finishing), so rates of
    // requests are per simulated second of traffic.
    let window_ns = (scenario.duration_s * 1e9) as u64;
    let mut served_in_window = 0usize;
    let mut write_latencies: Vec<u64> = Vec::new();
    let mut failed = 0;
    for &seed in &seeds {
        let r = scenarios::run(&scenario, seed, &opts);
        wall += r.stats.wall_ms;
        sim += r.stats.sim_ms;
        check += r.stats.check_ms;
        messages += r.stats.messages;
        ops += r.stats.ops;
        events += r.stats.watch_events;
        writes += r.acknowledged_writes();
        write_latencies.extend(r.write_latencies_ns());
        served += r.served_requests();
        served_in_window += r.served_requests_within(window_ns);
        if r.overall() != Overall::Pass {
            failed += 1;
        }
    }
    let n = seeds.len() as f64;
    let wall_s = (wall.max(1)) as f64 / 1000.0;
    let sim_wall_s = (wall.saturating_sub(check).max(1)) as f64 / 1000.0;
    println!(
        "scenario={} runs={} failed={failed}",
        scenario.name,
        seeds.len()
    );
    println!(
        "wall per run:            {:>10.1} ms (check {:.1} ms)",
        wall as f64 / n,
        check as f64 / n
    );
    println!("runs per CPU-hour:       {:>10.0}", 3600.0 / (wall_s / n));
    println!(
        "simulated/wall time:     {:>10.1} x",
        sim as f64 / 1000.0 / sim_wall_s
    );
    println!(
        "messages per wall second:{:>10.0}",
        messages as f64 / sim_wall_s
    );
    let sim_s = sim.max(1) as f64 / 1000.0;
    println!("client ops per wall s:   {:>10.0}", ops as f64 / wall_s);
    let traffic_s = (scenario.duration_s * n).max(1e-3);
    println!(
        "requests served:         {:>10.0} per simulated s of traffic ({:.0} per simulated s of the whole run)",
        served_in_window as f64 / traffic_s,
        served as f64 / sim_s
    );
    println!(
        "writes per wall s:       {:>10.0} ({:.0} per simulated s of the whole run)",
        writes as f64 / wall_s,
        writes as f64 / sim_s
    );
    write_latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((write_latencies.len() as f64 - 1.0) * q).round() as usize;
        write_latencies.get(i).map_or(0.0, |ns| *ns as f64 / 1e6)
    };
    println!(
        "write latency:           {:>10.1} ms median, {:.1} ms p99 (simulated)",
        at(0.5),
        at(0.99)
    );
    println!("watch events per wall s: {:>10.0}", events as f64 / wall_s);
    Ok(if failed > 0 { 1 } else { 0 })
}

fn dump_data(dir: &Path, result: &RunResult) -> Result<()> {
    for (member, files) in &result.member_files {
        let root = dir.join(format!("m{member}"));
        for (path, bytes) in files {
            let full = root.join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("--dump-data {}: cannot create", parent.display()))?;
            }
            std::fs::write(&full, bytes)
                .with_context(|| format!("--dump-data {}: cannot write", full.display()))?;
        }
        eprintln!("m{member}: {} files in {}", files.len(), root.display());
    }
    Ok(())
}
