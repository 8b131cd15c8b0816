//! faultline-etcd: the real-etcd half of `faultline diff`. It starts a
//! fresh one-member etcd per sequence, sends it the sequence and writes
//! the answers; `faultline diff` runs the simulated half and compares.
//! `cluster` is a smoke test of real clusters and their faults (`smoke`).
//! It is a plain tokio program, apart from the simulation binary.

mod scenario_command;
mod smoke;

use anyhow::Context;
use clap::{Parser, Subcommand};
use differential::{Answers, Sequence};
use realetcd::{execute, harness};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "faultline-etcd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send each sequence (a JSON array, as `faultline diff` writes it) to
    /// a fresh etcd and write the answers (a JSON array) to --out.
    Answer {
        #[arg(long)]
        sequences: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The etcd binary (default: $FAULTLINE_ETCD, else etcd on PATH).
        #[arg(long)]
        etcd: Option<PathBuf>,
    },
    /// Start a real cluster on loopback, apply each fault once (partition a
    /// follower, pause a member, kill and restart the leader, restart a
    /// member gracefully, replace a member), show it serves after each, and
    /// tear it down.
    Cluster {
        /// Members: 1, 3 or 5.
        #[arg(long, default_value_t = 3, value_parser = members)]
        members: usize,
        /// The etcd binary (default: $FAULTLINE_ETCD, else etcd on PATH).
        #[arg(long)]
        etcd: Option<PathBuf>,
        /// How long the partition and the pause each stay on.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=600))]
        seconds: u64,
    },
    /// Start a real cluster, run checked traffic with faults against it
    /// (isolate a member at 1/4 of the run, crash and restart one at 1/2,
    /// pause one at 3/4), heal, read every key back and check the history
    /// with faultline's checker. NOT deterministic: the seed fixes the
    /// clients' choices and the faults' targets, but real processes and
    /// clocks decide the order, so a seed does not replay a run.
    /// Exit 0: every rule passed; 1: a violation (or the cluster failed);
    /// 2: bad arguments; 3: no violation, but some rule undecided.
    Run {
        /// Members: 1, 3 or 5.
        #[arg(long, default_value_t = 3, value_parser = members)]
        members: usize,
        /// How long the traffic runs.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(4..=3600))]
        seconds: u64,
        /// Concurrent clients, spread over the members.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
        clients: u64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The etcd binary (default: $FAULTLINE_ETCD, else etcd on PATH).
        #[arg(long)]
        etcd: Option<PathBuf>,
        /// Where history.jsonl and report.json go (default: the current folder).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Run a scenario's plan (a JSON file `faultline run --target etcd`
    /// writes) on a real cluster: its traffic, its fault steps, then heal,
    /// read every key back and take every member's HashKV. Writes the
    /// history (with its end state) to OUT/history.jsonl and what ran to
    /// OUT/companion.json; `faultline` checks it. Exit 0: recorded; 1: the
    /// cluster failed (the message says how); 2: bad arguments or plan;
    /// 130: interrupted (everything stopped and removed first).
    Scenario {
        #[arg(long)]
        plan: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The etcd binary (default: $FAULTLINE_ETCD, else etcd on PATH):
        /// the plan's `new` binary.
        #[arg(long)]
        etcd: Option<PathBuf>,
        /// The older etcd binary, the plan's `old` (default:
        /// $FAULTLINE_ETCD_OLD); a plan naming it is refused without it.
        #[arg(long)]
        etcd_old: Option<PathBuf>,
    },
    /// Print the etcd binary's path and version.
    Version {
        #[arg(long)]
        etcd: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // Bad arguments: one line (clap's first), exit 2.
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("bad arguments"));
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command {
        Command::Cluster {
            members,
            etcd,
            seconds,
        } => cluster(members, etcd, seconds),
        Command::Run {
            members,
            seconds,
            clients,
            seed,
            etcd,
            out,
        } => {
            let config = realetcd::traffic::Config {
                clients: clients as usize,
                duration: std::time::Duration::from_secs(seconds),
                seed,
            };
            return checked_run(members, etcd, &config, &out);
        }
        Command::Scenario {
            plan,
            out,
            etcd,
            etcd_old,
        } => return scenario_command::main(&plan, &out, etcd, etcd_old),
        other => run(other).map_err(Failure::Setup),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Setup(e)) => {
            eprintln!("faultline-etcd: {e:#}");
            ExitCode::from(2)
        }
        // The smoke test's failures are the cluster's, not the command
        // line's: exit 1, on one line (etcd's log lines joined).
        Err(Failure::Demo(e)) => {
            let message = format!("{e:#}").replace('\n', " | ");
            eprintln!("faultline-etcd cluster: {message}");
            ExitCode::from(1)
        }
    }
}

fn members(text: &str) -> Result<usize, String> {
    match text.parse() {
        Ok(n @ (1 | 3 | 5)) => Ok(n),
        _ => Err(format!("a cluster has 1, 3 or 5 members, not {text}")),
    }
}

enum Failure {
    /// No binary, or no runtime: as a usage error, exit 2.
    Setup(anyhow::Error),
    /// The cluster did not start or did not serve: exit 1.
    Demo(anyhow::Error),
}

fn cluster(members: usize, etcd: Option<PathBuf>, seconds: u64) -> Result<(), Failure> {
    let binary = binary(etcd).map_err(Failure::Setup)?;
    if !binary.is_file() {
        return Err(Failure::Setup(anyhow::anyhow!(
            "{}: no such etcd binary",
            binary.display()
        )));
    }
    // The main thread runs the cluster: etcd's children die with the
    // thread that started them (PR_SET_PDEATHSIG), so it must be this one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Setup(e.into()))?;
    runtime
        .block_on(smoke::run(
            &binary,
            members,
            std::time::Duration::from_secs(seconds),
        ))
        .map_err(Failure::Demo)
}

/// The commands other than `cluster`, whose every failure exits 2.
fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Cluster {
            members,
            etcd,
            seconds,
        } => cluster(members, etcd, seconds).map_err(|(Failure::Setup(e) | Failure::Demo(e))| e),
        Command::Run { .. } | Command::Scenario { .. } => {
            unreachable!("main runs `run` and `scenario` itself")
        }
        Command::Version { etcd } => {
            let binary = binary(etcd)?;
            println!("{} {}", binary.display(), harness::version(&binary)?);
            Ok(())
        }
        Command::Answer {
            sequences,
            out,
            etcd,
        } => {
            let binary = binary(etcd)?;
            let text = std::fs::read_to_string(&sequences)
                .with_context(|| format!("{}: cannot read", sequences.display()))?;
            let sequences: Vec<Sequence> = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a list of sequences", sequences.display()))?;
            let server = format!("etcd {}", harness::version(&binary)?);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let answers = runtime.block_on(answer_all(&binary, &server, &sequences))?;
            let json = serde_json::to_string(&answers)?;
            std::fs::write(&out, json).with_context(|| format!("{}: cannot write", out.display()))
        }
    }
}

/// `run`: its exit code is the check's (0 pass, 1 violation, 3
/// undecided), 1 when the cluster failed, 2 for a setup problem.
fn checked_run(
    members: usize,
    etcd: Option<PathBuf>,
    config: &realetcd::traffic::Config,
    out: &std::path::Path,
) -> ExitCode {
    let setup = || -> anyhow::Result<(PathBuf, tokio::runtime::Runtime)> {
        let binary = binary(etcd)?;
        anyhow::ensure!(
            binary.is_file(),
            "{}: no such etcd binary",
            binary.display()
        );
        std::fs::create_dir_all(out)
            .with_context(|| format!("{}: cannot create", out.display()))?;
        // The main thread runs the cluster: etcd's children die with the
        // thread that started them (PR_SET_PDEATHSIG).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok((binary, runtime))
    };
    let (binary, runtime) = match setup() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("faultline-etcd run: {e:#}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(traffic_run(&binary, members, config, out)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let message = format!("{e:#}").replace('\n', " | ");
            eprintln!("faultline-etcd run: {message}");
            ExitCode::from(1)
        }
    }
}

async fn traffic_run(
    binary: &std::path::Path,
    members: usize,
    config: &realetcd::traffic::Config,
    out: &std::path::Path,
) -> anyhow::Result<u8> {
    use checker::report::Verdict;
    let mut cluster = realetcd::cluster::Cluster::start(binary, members)
        .await
        .with_context(|| format!("starting {members} members of {}", binary.display()))?;
    // The cluster asked the binary its version when it started.
    let version = cluster.binaries().new.version.clone();
    let outcome = realetcd::traffic::run(&mut cluster, config).await?;
    drop(cluster);
    let history_path = out.join("history.jsonl");
    std::fs::write(
        &history_path,
        checker::jsonl::to_string(&outcome.history, Some(&outcome.end)),
    )
    .with_context(|| format!("{}: cannot write", history_path.display()))?;
    let report = checker::check_run(
        &outcome.history,
        &outcome.end,
        &checker::CheckOptions::default(),
    );
    let report_path = out.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("{}: cannot write", report_path.display()))?;
    let ops = &outcome.history.operations;
    let unknown = ops
        .iter()
        .filter(|o| matches!(o.result, checker::history::OpResult::Unknown(_)))
        .count();
    println!(
        "etcd {version}, {members} members, {} clients, {} s, seed {} (not deterministic): {} operations ({unknown} unknown), {} faults",
        config.clients,
        config.duration.as_secs(),
        config.seed,
        ops.len(),
        outcome.history.annotations.len()
    );
    for a in &outcome.history.annotations {
        println!(
            "  fault {:.2}..{:.2} s: {}",
            a.at as f64 / 1e9,
            a.end.unwrap_or(a.at) as f64 / 1e9,
            a.text
        );
    }
    for r in &report.results {
        match &r.verdict {
            Verdict::Pass => println!("pass     {}", r.property),
            Verdict::Unknown(why) => println!("unknown  {}: {why}", r.property),
            Verdict::Fail(v) => println!("FAIL     {}: {}", r.property, v.explanation),
        }
    }
    println!(
        "{}: {} and {}",
        report.overall().word(),
        history_path.display(),
        report_path.display()
    );
    Ok(report.overall().exit_code() as u8)
}

pub(crate) fn binary(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(path) => Ok(path),
        None => Ok(harness::binary()?),
    }
}

async fn answer_all(
    binary: &std::path::Path,
    server: &str,
    sequences: &[Sequence],
) -> anyhow::Result<Vec<Answers>> {
    let mut all = Vec::with_capacity(sequences.len());
    for sequence in sequences {
        let (mut member, mut client) = harness::Member::start(binary).await?;
        let started = std::time::Instant::now();
        let run = execute::run(&mut member, &mut client, sequence).await;
        let wall_ms = started.elapsed().as_secs_f64() * 1e3;
        drop(client);
        drop(member);
        all.push(Answers {
            seed: sequence.seed,
            server: server.to_string(),
            answers: run.answers,
            wall_ms,
            exited: run.exited,
        });
    }
    Ok(all)
}
