//! faultline-etcd: the real-etcd half of `faultline diff`. It starts a
//! fresh one-member etcd per sequence, sends it the sequence and writes
//! the answers; `faultline diff` runs the simulated half and compares.
//! It is a plain tokio program, apart from the simulation binary.

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
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline-etcd: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
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

fn binary(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
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
