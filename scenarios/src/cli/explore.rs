//! `explore`: a coverage-guided campaign over the general catalog (or the
//! scenarios given), crash-safe and resumable with the same command, one
//! shard per machine.

use super::{check_options, load_scenarios, parallelism, parse_bugs, print_failures};
use anyhow::Result;
use checker::Overall;
use scenarios::catalog;
use scenarios::explore::campaign::{self, ExploreConfig, Merged};
use scenarios::soak::Shard;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct ExploreArgs {
    /// The campaign folder (created, or resumed if it exists).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Scenario name or file to start from; repeatable (default: the
    /// general catalog).
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Switch a catalogued bug on in every run; repeatable.
    #[arg(long = "bug")]
    bugs: Vec<String>,
    /// Runs in this shard, counting those already done: the same command
    /// with the same --runs makes the same runs and the same corpus.
    #[arg(long)]
    runs: Option<u64>,
    /// Time box from the campaign's first start, e.g. 30m, 8h.
    #[arg(long)]
    duration: Option<String>,
    /// The explorer's seed (every run's seed derives from it).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// This machine's share: shard K of N explores on its own stream.
    #[arg(long, default_value = "0/1", value_name = "K/N")]
    shard: String,
    /// Runs at once (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Keep every run's folder, not only the failing ones.
    #[arg(long)]
    keep_all: bool,
    /// Checker time limit per run, in seconds.
    #[arg(long, default_value_t = 60)]
    check_timeout: u64,
    /// Print only failing runs and runs that grew the corpus.
    #[arg(long)]
    quiet: bool,
}

pub(super) fn explore(args: ExploreArgs) -> Result<u8> {
    let shard = Shard::parse(&args.shard).map_err(|e| anyhow::anyhow!("--shard: {e}"))?;
    let duration = args
        .duration
        .as_deref()
        .map(|d| scenarios::hunt::parse_budget(d).map_err(|e| anyhow::anyhow!("--duration: {e}")))
        .transpose()?;
    let bases = if args.scenarios.is_empty() {
        catalog::general()
    } else {
        load_scenarios(&args.scenarios)?
    };
    let cfg = ExploreConfig {
        dir: args.out.clone(),
        seed: args.seed,
        shard,
        bases,
        bugs: parse_bugs(&args.bugs)?,
        runs: args.runs,
        duration,
        jobs: parallelism(args.jobs),
        keep_all: args.keep_all,
        check: check_options(args.check_timeout),
    };
    if args.runs.is_none() && duration.is_none() {
        eprintln!("explore: no --runs or --duration: running until stopped (a restart resumes)");
    }
    let summary = campaign::explore(&cfg, |m| print_run(&m, args.quiet))
        .map_err(|e| anyhow::anyhow!("explore {}: {e}", args.out.display()))?;
    if summary.repaired {
        eprintln!(
            "explore: cut a torn last line off explore.jsonl or results.csv (left by a kill)"
        );
    }
    eprintln!(
        "explore {}: {} runs this time, {} before: {} failed, {} unknown; corpus {} runs, {} features ({})",
        args.out.display(),
        summary.ran,
        summary.resumed,
        summary.failed,
        summary.unknown,
        summary.corpus_size,
        summary.features_seen,
        summary.stop.describe()
    );
    Ok(if summary.failed > 0 {
        1
    } else if summary.unknown > 0 {
        3
    } else {
        0
    })
}

/// One line per merged run: its number, the run, what it added, and how
/// it was made.
fn print_run(m: &Merged<'_>, quiet: bool) {
    let failing = m.result.overall() != Overall::Pass;
    if quiet && !failing && !m.row.kept {
        return;
    }
    let made = match m.row.parent {
        None => "catalog".to_string(),
        Some(p) => format!("from run {p}: {}", m.row.mutations.join("; ")),
    };
    println!(
        "run={} {} new={} corpus={} features={} ({made})",
        m.row.run,
        m.result.summary_line(),
        m.row.new_features.len(),
        m.row.corpus_size,
        m.row.features_seen
    );
    if failing {
        print_failures(m.result);
        if let Some(folder) = m.folder {
            println!("  run folder: {}", folder.display());
        }
    }
}
