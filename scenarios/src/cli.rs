//! Command-line parsing and the commands.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use node::bugs::{Bug, BugSet};
use scenarios::campaign::{self, Job, Outcome};
use scenarios::catalog;
use scenarios::engine::{RunOptions, RunResult};
use scenarios::schema::Scenario;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "Deterministic-simulation robustness testing for an etcd-style store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios over seeds and check every run.
    Run(RunArgs),
    /// Run one seed again and write its full trace.
    Replay(ReplayArgs),
    /// List scenarios, fault kinds, failpoints or bugs.
    List {
        /// scenarios | faults | failpoints | bugs | rules
        what: String,
    },
    /// Check a history file (faultline JSON lines, a Jepsen log or EDN).
    Check(CheckArgs),
    /// Measure simulation speed: messages and simulated seconds per wall second.
    Bench(BenchArgs),
    /// Hunt a catalogued bug: run its scenarios with it switched on until one fails.
    Hunt(HuntArgs),
    /// Migrate a data directory's storage to another version (offline).
    Migrate(MigrateArgs),
    /// Show a data directory's storage version, WAL minimal version, revision and members.
    Inspect(InspectArgs),
}

#[derive(clap::Args)]
struct HuntArgs {
    #[arg(long)]
    bug: String,
    /// Wall-clock budget, e.g. 120s, 5m.
    #[arg(long, default_value = "120s")]
    budget: String,
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long, default_value_t = 0)]
    start_seed: u64,
    /// Where to leave the failing run's artefacts.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 60)]
    check_timeout: u64,
}

#[derive(clap::Args)]
struct MigrateArgs {
    #[arg(long)]
    data_dir: PathBuf,
    /// X.Y, e.g. 3.6
    #[arg(long)]
    target_version: String,
    /// Migrate even when the WAL holds entries newer than the target.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct InspectArgs {
    #[arg(long)]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct BenchArgs {
    #[arg(long, default_value = "default")]
    scenario: String,
    /// Seeds to run, one at a time on one core.
    #[arg(long, default_value = "0..20")]
    seeds: String,
}

#[derive(clap::Args)]
struct RunArgs {
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
}

#[derive(clap::Args)]
struct ReplayArgs {
    #[arg(long)]
    scenario: String,
    #[arg(long)]
    seed: u64,
    #[arg(long = "bug")]
    bugs: Vec<String>,
    /// Where to write the human-readable trace (default: stdout).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Also write the history and end state as JSON lines (`faultline check` reads them).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Write each member's simulated disk out as real files under DIR/m<id>/
    /// (for `faultline inspect` and `faultline migrate`).
    #[arg(long)]
    dump_data: Option<PathBuf>,
}

#[derive(clap::Args)]
struct CheckArgs {
    file: PathBuf,
    /// etcd | register | kv
    #[arg(long, default_value = "etcd")]
    model: String,
    /// faultline | jepsen-log | edn (default: guessed from the content)
    #[arg(long, default_value = "auto")]
    format: String,
    /// Time limit in seconds; past it the verdict is unknown (exit 3).
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Check the whole history at once instead of per independent key.
    #[arg(long)]
    no_partition: bool,
}

pub fn main() -> Result<u8> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(code);
        }
    };
    match cli.command {
        Command::Run(args) => run(args),
        Command::Replay(args) => replay(args),
        Command::List { what } => list(&what),
        Command::Check(args) => check(args),
        Command::Bench(args) => bench(args),
        Command::Hunt(args) => hunt(args),
        Command::Migrate(args) => migrate(args),
        Command::Inspect(args) => inspect(args),
    }
}

pub fn parse_bugs(names: &[String]) -> Result<BugSet> {
    let bugs: Vec<Bug> = names
        .iter()
        .map(|n| n.parse::<Bug>().map_err(|e| anyhow::anyhow!("--bug: {e}")))
        .collect::<Result<_>>()?;
    Ok(BugSet::from_bugs(bugs))
}

pub fn parse_seeds(seed: Option<u64>, seeds: Option<&str>) -> Result<Vec<u64>> {
    if let Some(range) = seeds {
        let (a, b) = range
            .split_once("..")
            .with_context(|| format!("--seeds: expected A..B (B excluded), got {range:?}"))?;
        let a: u64 = a
            .trim()
            .parse()
            .with_context(|| format!("--seeds: {a:?} is not a number"))?;
        let b: u64 = b
            .trim()
            .parse()
            .with_context(|| format!("--seeds: {b:?} is not a number"))?;
        if b <= a {
            bail!("--seeds: the range {a}..{b} is empty");
        }
        return Ok((a..b).collect());
    }
    Ok(vec![seed.unwrap_or(0)])
}

fn load_scenarios(names: &[String]) -> Result<Vec<Scenario>> {
    let names = if names.is_empty() {
        vec!["default".to_string()]
    } else {
        names.to_vec()
    };
    names
        .iter()
        .map(|n| catalog::load(n).map_err(|e| anyhow::anyhow!("--scenario {e}")))
        .collect()
}

/// The one-line summary printed for every run.
pub fn summary_line(r: &RunResult) -> String {
    let mut line = format!(
        "seed={} scenario={} verdict={} trace={} ops={} failed_ops={} faults={} sim_ms={} wall_ms={}",
        r.seed,
        r.scenario,
        r.verdict_word(),
        r.trace_hash,
        r.stats.ops,
        r.stats.failed_ops,
        r.stats.faults,
        r.stats.sim_ms,
        r.stats.wall_ms
    );
    if !r.bugs.is_empty() {
        line.push_str(&format!(" bugs={}", r.bugs));
    }
    let failed = r.failed_rules();
    if !failed.is_empty() {
        line.push_str(&format!(" rules={}", failed.join(",")));
    }
    line
}

fn exit_code(outcomes: &[Outcome]) -> u8 {
    if outcomes
        .iter()
        .any(|o| !o.deterministic() || o.result.verdict_word() == "fail")
    {
        1
    } else if outcomes
        .iter()
        .any(|o| o.result.verdict_word() == "unknown")
    {
        3
    } else {
        0
    }
}

fn run(args: RunArgs) -> Result<u8> {
    let scenarios = load_scenarios(&args.scenarios)?;
    let seeds = parse_seeds(args.seed, args.seeds.as_deref())?;
    let opts = RunOptions {
        bugs: parse_bugs(&args.bugs)?,
        check: checker::CheckOptions {
            timeout: Duration::from_secs(args.check_timeout),
            ..Default::default()
        },
        collect_files: false,
    };
    let jobs: Vec<Job> = scenarios
        .iter()
        .flat_map(|s| {
            seeds.iter().map(move |&seed| Job {
                scenario: s.clone(),
                seed,
            })
        })
        .collect();
    let parallelism = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let outcomes = campaign::run_all(jobs, parallelism, &opts, args.check_determinism, |o| {
        println!("{}", summary_line(&o.result));
        if let Some(replay) = &o.replay_hash
            && *replay != o.result.trace_hash
        {
            println!(
                "NONDETERMINISM seed={} scenario={} first={} replay={}",
                o.result.seed, o.result.scenario, o.result.trace_hash, replay
            );
        }
        for r in &o.result.report.results {
            if let checker::Verdict::Fail(v) = &r.verdict {
                println!("  {}: {}", r.property, v.explanation);
            }
        }
    });
    let failed = outcomes
        .iter()
        .filter(|o| o.result.verdict_word() == "fail")
        .count();
    let nondet = outcomes.iter().filter(|o| !o.deterministic()).count();
    eprintln!(
        "{} runs: {} passed, {} failed, {} unknown{}",
        outcomes.len(),
        outcomes
            .iter()
            .filter(|o| o.result.verdict_word() == "pass")
            .count(),
        failed,
        outcomes
            .iter()
            .filter(|o| o.result.verdict_word() == "unknown")
            .count(),
        if args.check_determinism {
            format!(", {nondet} nondeterministic")
        } else {
            String::new()
        }
    );
    Ok(exit_code(&outcomes))
}

fn replay(args: ReplayArgs) -> Result<u8> {
    let scenario = catalog::load(&args.scenario).map_err(|e| anyhow::anyhow!("--scenario {e}"))?;
    let opts = RunOptions {
        bugs: parse_bugs(&args.bugs)?,
        collect_files: args.dump_data.is_some(),
        ..Default::default()
    };
    let result = scenarios::run(&scenario, args.seed, &opts);
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
    println!("{}", summary_line(&result));
    for r in &result.report.results {
        if let checker::Verdict::Fail(v) = &r.verdict {
            println!("  {}: {}", r.property, v.explanation);
        }
    }
    Ok(match result.verdict_word() {
        "pass" => 0,
        "fail" => 1,
        _ => 3,
    })
}

fn list(what: &str) -> Result<u8> {
    match what {
        "scenarios" => {
            for s in catalog::builtin() {
                println!("{:<28} {}", s.name, s.description);
            }
        }
        "faults" => {
            for (kind, what) in scenarios::faults::KINDS {
                println!("{kind:<28} {what}");
            }
        }
        "failpoints" => {
            for (name, what) in node::failpoint::FAILPOINTS {
                println!("{name:<36} {what}");
            }
        }
        "bugs" => {
            for b in node::bugs::CATALOG {
                println!("{:<24} {}", b.name, b.mechanism);
                println!(
                    "{:<24}   trigger: {}; caught by: {}",
                    "", b.trigger, b.caught_by
                );
            }
        }
        "rules" => {
            for r in checker::rules::RULES {
                println!("{:<32} {}", r.name, r.description);
            }
        }
        other => bail!(
            "list: unknown list {other:?} (expected scenarios, faults, failpoints, bugs or rules)"
        ),
    }
    Ok(0)
}

fn check(args: CheckArgs) -> Result<u8> {
    let model = args
        .model
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--model: {e}"))?;
    let format = args
        .format
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--format: {e}"))?;
    let opts = checker::command::CheckFileOptions {
        model,
        format,
        timeout: Duration::from_secs(args.timeout),
        partition: !args.no_partition,
    };
    match checker::command::check_file(&args.file, &opts) {
        Ok(outcome) => {
            println!("{outcome}");
            Ok(outcome.exit_code() as u8)
        }
        Err(e) => bail!("{e}"),
    }
}

fn bench(args: BenchArgs) -> Result<u8> {
    let scenario = catalog::load(&args.scenario).map_err(|e| anyhow::anyhow!("--scenario {e}"))?;
    let seeds = parse_seeds(None, Some(&args.seeds))?;
    let opts = RunOptions::default();
    let (mut wall, mut sim, mut check, mut messages, mut ops) = (0u64, 0u64, 0u64, 0u64, 0usize);
    let mut failed = 0;
    for &seed in &seeds {
        let r = scenarios::run(&scenario, seed, &opts);
        wall += r.stats.wall_ms;
        sim += r.stats.sim_ms;
        check += r.stats.check_ms;
        messages += r.stats.messages;
        ops += r.stats.ops;
        if r.verdict_word() != "pass" {
            failed += 1;
        }
    }
    let n = seeds.len() as f64;
    let wall_s = wall as f64 / 1000.0;
    let sim_wall_s = (wall - check) as f64 / 1000.0;
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
    println!("client ops per wall s:   {:>10.0}", ops as f64 / wall_s);
    Ok(if failed > 0 { 1 } else { 0 })
}

fn dump_data(dir: &std::path::Path, result: &RunResult) -> Result<()> {
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

fn data_dir(path: &std::path::Path) -> Result<node::disk::DiskRef> {
    if !path.is_dir() {
        bail!("--data-dir {}: not a directory", path.display());
    }
    if !path.join("wal").is_dir() || !path.join("db").is_file() {
        bail!(
            "--data-dir {}: not a member data directory (expected wal/ and db)",
            path.display()
        );
    }
    Ok(std::sync::Arc::new(node::real_disk::RealDisk::new(path)))
}

fn migrate(args: MigrateArgs) -> Result<u8> {
    let target: node::version::Version = args
        .target_version
        .parse()
        .map_err(|e| anyhow::anyhow!("--target-version: {e}"))?;
    if !target.is_supported() {
        bail!("--target-version: {target} is not a version this binary knows (3.5, 3.6, 3.7)");
    }
    let disk = data_dir(&args.data_dir)?;
    let rt = madsim::runtime::Runtime::new();
    match rt.block_on(node::migrate::migrate(disk, target, args.force)) {
        Ok(m) => {
            let steps: Vec<String> = m.steps.iter().map(|(a, b)| format!("{a}->{b}")).collect();
            println!(
                "migrated {} from {} to {} ({}){}",
                args.data_dir.display(),
                m.from,
                m.to,
                if steps.is_empty() {
                    "nothing to do".to_string()
                } else {
                    steps.join(", ")
                },
                if m.forced {
                    " despite newer WAL entries (--force)"
                } else {
                    ""
                }
            );
            Ok(0)
        }
        Err(e) => bail!("migrate {}: {e}", args.data_dir.display()),
    }
}

fn inspect(args: InspectArgs) -> Result<u8> {
    let disk = data_dir(&args.data_dir)?;
    let rt = madsim::runtime::Runtime::new();
    match rt.block_on(node::migrate::inspect(disk)) {
        Ok(i) => {
            println!("{i}");
            Ok(0)
        }
        Err(e) => bail!("inspect {}: {e}", args.data_dir.display()),
    }
}

fn hunt(args: HuntArgs) -> Result<u8> {
    let bug: Bug = args
        .bug
        .parse()
        .map_err(|e| anyhow::anyhow!("--bug: {e}"))?;
    let budget = scenarios::hunt::parse_budget(&args.budget)
        .map_err(|e| anyhow::anyhow!("--budget: {e}"))?;
    let opts = scenarios::hunt::HuntOptions {
        bug,
        budget,
        jobs: args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        start_seed: args.start_seed,
        run: RunOptions {
            check: checker::CheckOptions {
                timeout: Duration::from_secs(args.check_timeout),
                ..Default::default()
            },
            ..Default::default()
        },
    };
    let outcome = scenarios::hunt::hunt(&opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let wall = outcome.wall.as_secs_f64();
    match &outcome.found {
        Some(r) => {
            println!(
                "found {bug} after {} seeds in {wall:.1}s: scenario={} seed={} rules={}",
                outcome.seeds_tried,
                r.scenario,
                r.seed,
                r.failed_rules().join(",")
            );
            for p in &r.report.results {
                if let checker::Verdict::Fail(v) = &p.verdict {
                    println!("  {}: {}", p.property, v.explanation);
                }
            }
            println!(
                "replay: faultline replay --scenario {} --seed {} --bug {bug}",
                r.scenario, r.seed
            );
            if let Some(dir) = &args.out {
                write_artefacts(dir, r)?;
                println!("artefacts: {}", dir.display());
            }
            Ok(0)
        }
        None => {
            println!(
                "not found: {bug} survived {} seeds in {wall:.1}s (budget {})",
                outcome.seeds_tried, args.budget
            );
            Ok(1)
        }
    }
}

/// Leaves a run's history, trace and summary in a folder.
pub fn write_artefacts(dir: &std::path::Path, r: &RunResult) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--out {}: cannot create", dir.display()))?;
    let mut trace = Vec::new();
    r.trace.write_text(&mut trace)?;
    std::fs::write(dir.join("trace.txt"), trace)
        .with_context(|| format!("--out {}: cannot write", dir.display()))?;
    let history = std::fs::File::create(dir.join("history.jsonl"))
        .with_context(|| format!("--out {}: cannot write", dir.display()))?;
    checker::jsonl::write(
        std::io::BufWriter::new(history),
        &r.history,
        Some(&r.end_state),
    )?;
    std::fs::write(dir.join("summary.txt"), format!("{}\n", summary_line(r)))
        .with_context(|| format!("--out {}: cannot write", dir.display()))?;
    Ok(())
}
