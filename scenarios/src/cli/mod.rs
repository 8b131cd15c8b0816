//! Command-line parsing and the commands, one module per family.

mod catalogs;
mod data;
mod diff;
mod explore;
mod export;
mod hunt;
mod real;
mod report;
mod run;
mod shrink;
mod soak;
mod target;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use node::bugs::{Bug, BugSet};
use scenarios::catalog;
use scenarios::schema::Scenario;
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
    Run(run::RunArgs),
    /// Run one seed again (from a repro file or --scenario/--seed) and write its full trace.
    Replay(run::ReplayArgs),
    /// List scenarios, fault kinds, failpoints, bugs, rules, the store's invariants or its coverage points.
    List {
        what: catalogs::Listing,
        /// With `bugs`: the bug table as the README shows it (Markdown).
        #[arg(long)]
        markdown: bool,
        /// With `scenarios`: which run against this target (`etcd`: a
        /// real cluster), and why the others do not.
        #[arg(long, value_enum)]
        target: Option<run::Target>,
    },
    /// Check a history file (faultline JSON lines, a Jepsen log or EDN) or an etcd robustness report folder.
    Check(catalogs::CheckArgs),
    /// Write a run's history in another tool's format (etcd-robustness, jepsen-edn, porcupine-kv).
    Export(export::ExportArgs),
    /// Measure simulation speed: messages and simulated seconds per wall second.
    Bench(run::BenchArgs),
    /// Hunt a catalogued bug: run its scenarios with it switched on until one fails.
    Hunt(hunt::HuntArgs),
    /// A long, crash-safe, resumable campaign over the catalog (shardable over machines).
    Soak(soak::SoakArgs),
    /// A coverage-guided campaign: mutates the runs that reached something new (resumable, shardable).
    Explore(explore::ExploreArgs),
    /// The review dashboard over campaign folders (HTML, Markdown, JUnit XML).
    Report(report::ReportArgs),
    /// Send the same seeded request sequences to a real etcd and to the simulated store; compare every answer.
    Diff(diff::DiffArgs),
    /// Shrink a failing run to a minimal repro that still fails the same rule.
    Shrink(shrink::ShrinkArgs),
    /// Migrate a data directory's storage to another version (offline).
    Migrate(data::MigrateArgs),
    /// Show a data directory's storage version, WAL minimal version, revision and members.
    Inspect(data::InspectArgs),
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
        Command::Run(args) => run::run(args),
        Command::Replay(args) => run::replay(args),
        Command::List {
            what,
            markdown,
            target,
        } => catalogs::list(what, markdown, target),
        Command::Check(args) => catalogs::check(args),
        Command::Export(args) => export::export(args),
        Command::Bench(args) => run::bench(args),
        Command::Hunt(args) => hunt::hunt(args),
        Command::Soak(args) => soak::soak(args),
        Command::Explore(args) => explore::explore(args),
        Command::Report(args) => report::report(args),
        Command::Shrink(args) => shrink::shrink(args),
        Command::Diff(args) => diff::diff(args),
        Command::Migrate(args) => data::migrate(args),
        Command::Inspect(args) => data::inspect(args),
    }
}

/// Refuses an output file whose folder does not exist, before any work is
/// spent on what would go into it.
fn writable_folder(flag: &str, path: &std::path::Path) -> Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !folder.is_dir() {
        bail!("{flag} {}: no folder {}", path.display(), folder.display());
    }
    Ok(())
}

fn parse_bugs(names: &[String]) -> Result<BugSet> {
    let bugs: Vec<Bug> = names
        .iter()
        .map(|n| n.parse::<Bug>().map_err(|e| anyhow::anyhow!("--bug: {e}")))
        .collect::<Result<_>>()?;
    Ok(BugSet::from_bugs(bugs))
}

/// Most seeds one `--seeds` range may hold (they are listed up front).
const MAX_SEEDS: u64 = 10_000_000;

fn parse_seeds(seed: Option<u64>, seeds: Option<&str>) -> Result<Vec<u64>> {
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
        if b - a > MAX_SEEDS {
            bail!(
                "--seeds: the range {a}..{b} holds {} seeds, more than {MAX_SEEDS} (for longer campaigns use `faultline soak`)",
                b - a
            );
        }
        return Ok((a..b).collect());
    }
    Ok(vec![seed.unwrap_or(0)])
}

/// Catalog names or scenario files; `default` when none is given.
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

/// `--jobs`, or every CPU.
fn parallelism(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
    .max(1)
}

/// The checker's time limit from `--check-timeout` seconds.
fn check_options(seconds: u64) -> checker::CheckOptions {
    checker::CheckOptions {
        timeout: Duration::from_secs(seconds),
        ..Default::default()
    }
}

/// Prints each failed rule's explanation under a run's summary line.
fn print_failures(result: &scenarios::RunResult) {
    for r in &result.report.results {
        if let checker::Verdict::Fail(v) = &r.verdict {
            println!("  {}: {}", r.property, v.explanation);
        }
    }
}

/// Fuzz-style properties of the argument parsers: whatever the words, the
/// command line parses to a command or to a usage error (exit 2), and the
/// value parsers answer with a value or a message naming the argument,
/// never a panic or a huge allocation.
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Words a command line is made of: every subcommand and flag, values
    /// that are huge, negative, empty, odd or well formed.
    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "run",
                "replay",
                "list",
                "check",
                "export",
                "--format",
                "etcd-robustness",
                "jepsen-edn",
                "porcupine-kv",
                "--model",
                "register",
                "bench",
                "hunt",
                "soak",
                "explore",
                "report",
                "shrink",
                "migrate",
                "inspect",
                "diff",
                "--requests",
                "--steps",
                "--etcd",
                "--seed",
                "--seeds",
                "--scenario",
                "--bug",
                "--jobs",
                "--budget",
                "--duration",
                "--runs",
                "--shard",
                "--start-seed",
                "--out",
                "--table",
                "--starts",
                "--blind",
                "--explore",
                "--check-timeout",
                "--keep-all",
                "--quiet",
                "--help",
                "--version",
                "points",
                "bugs",
                "scenarios",
                "--markdown",
                "0..10",
                "18446744073709551615",
                "18446744073709551616",
                "-1",
                "0",
                "1/0",
                "3/2",
                "0/1",
                "99999999999999999999h",
                "1e308s",
                "NaN",
                "",
                "..",
                "default",
                "etcd-13766",
                "no-such-bug",
            ])
            .prop_map(String::from),
            "[ -~]{0,12}",
            "\\PC{0,6}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_command_line_parses_or_is_a_usage_error(words in proptest::collection::vec(word(), 0..8)) {
            let argv = std::iter::once("faultline".to_string()).chain(words);
            if let Err(e) = Cli::try_parse_from(argv) {
                // --help and --version print and exit 0; everything else is usage.
                let expected = !e.use_stderr() || e.exit_code() == 2;
                prop_assert!(expected, "{e}");
            }
        }

        #[test]
        fn value_parsers_answer_without_panicking(text in "\\PC{0,40}", a in any::<u64>(), b in any::<u64>()) {
            let _ = parse_seeds(None, Some(&text));
            if let Ok(seeds) = parse_seeds(None, Some(&format!("{a}..{b}"))) {
                prop_assert!(a < b && b - a <= MAX_SEEDS && seeds.len() as u64 == b - a);
            }
            let _ = scenarios::hunt::parse_budget(&text);
            let _ = scenarios::soak::Shard::parse(&text);
            if let Err(e) = parse_bugs(std::slice::from_ref(&text)) {
                prop_assert!(e.to_string().starts_with("--bug: "), "{e}");
            }
        }
    }
}
