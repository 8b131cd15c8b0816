//! `soak`: a long campaign over the catalog, crash-safe and resumable with
//! the same command, one shard of it per machine; simulated, or against
//! real etcd processes ([`real`], `--target etcd`).

mod real;

use super::run::RunsOn;
use super::{check_options, load_scenarios, parallelism, parse_bugs, print_failures};
use anyhow::Result;
use checker::Overall;
use scenarios::catalog;
use scenarios::schema::Scenario;
use scenarios::soak::{self, CampaignTarget, Plan, Shard, SoakConfig, SoakSummary, Stop};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct SoakArgs {
    /// The campaign folder (created, or resumed if it exists).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Scenario name or file; repeatable (default: the whole catalog; with
    /// --target etcd, every general scenario a real cluster runs).
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Switch a catalogued bug on in every run; repeatable.
    #[arg(long = "bug")]
    bugs: Vec<String>,
    /// Time box from the campaign's first start, e.g. 30m, 8h (a restart
    /// keeps the first start's deadline).
    #[arg(long)]
    duration: Option<String>,
    /// Runs in this shard, counting those already done.
    #[arg(long)]
    runs: Option<u64>,
    /// This machine's share: shard K of N (0 <= K < N).
    #[arg(long, default_value = "0/1", value_name = "K/N")]
    shard: String,
    /// The campaign's first seed (all shards of one campaign share it).
    #[arg(long, default_value_t = 0)]
    start_seed: u64,
    /// Runs at once (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Keep every run's folder, not only the failing ones.
    #[arg(long)]
    keep_all: bool,
    /// Checker time limit per run, in seconds.
    #[arg(long, default_value_t = 60)]
    check_timeout: u64,
    /// Print only failing runs (and the final count).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    runs_on: RunsOn,
}

pub(super) fn soak(args: SoakArgs) -> Result<u8> {
    if args.runs_on.is_real() {
        return real::soak(&args);
    }
    args.runs_on.refuse_etcd_binaries()?;
    let scenarios = if args.scenarios.is_empty() {
        catalog::builtin()
    } else {
        load_scenarios(&args.scenarios)?
    };
    let cfg = config(
        &args,
        scenarios,
        parse_bugs(&args.bugs)?,
        CampaignTarget::Sim,
    )?;
    warn_if_unbounded(&cfg);
    let summary = soak::soak(&cfg, |done| {
        let failing = done.result.overall() != Overall::Pass;
        if failing || !args.quiet {
            println!("{}", done.result.summary_line());
        }
        if failing {
            print_failures(done.result);
            if let Some(folder) = done.folder {
                println!("  run folder: {}", folder.display());
            }
        }
    })
    .map_err(|e| anyhow::anyhow!("soak {}: {e}", args.out.display()))?;
    Ok(conclude(&args, &summary))
}

/// The campaign the arguments ask for, on `target`.
fn config(
    args: &SoakArgs,
    scenarios: Vec<Scenario>,
    bugs: node::bugs::BugSet,
    target: CampaignTarget,
) -> Result<SoakConfig> {
    let shard = Shard::parse(&args.shard).map_err(|e| anyhow::anyhow!("--shard: {e}"))?;
    let duration = args
        .duration
        .as_deref()
        .map(|d| scenarios::hunt::parse_budget(d).map_err(|e| anyhow::anyhow!("--duration: {e}")))
        .transpose()?;
    Ok(SoakConfig {
        dir: args.out.clone(),
        plan: Plan {
            scenarios,
            start_seed: args.start_seed,
            shard,
        },
        bugs,
        runs: args.runs,
        duration,
        jobs: parallelism(args.jobs),
        keep_all: args.keep_all,
        check: check_options(args.check_timeout),
        target,
    })
}

/// Says so when nothing bounds the campaign (once the command is known
/// to be good: a refusal stays one line).
fn warn_if_unbounded(cfg: &SoakConfig) {
    if cfg.runs.is_none() && cfg.duration.is_none() {
        eprintln!("soak: no --runs or --duration: running until stopped (a restart resumes)");
    }
}

/// Prints the campaign's count and gives the exit code: 1 a failed run,
/// 3 an undecided one, 0 otherwise.
fn conclude(args: &SoakArgs, summary: &SoakSummary) -> u8 {
    if summary.repaired_results {
        eprintln!("soak: cut a torn last line off results.csv (left by a kill)");
    }
    eprintln!(
        "soak {}: {} runs this time, {} before, {} in all: {} failed, {} unknown ({})",
        args.out.display(),
        summary.ran,
        summary.resumed,
        summary.total,
        summary.failed,
        summary.unknown,
        summary.stop.describe()
    );
    if summary.stop == Stop::Interrupted {
        crate::cli::real::EXIT_INTERRUPTED
    } else if summary.failed > 0 {
        1
    } else if summary.unknown > 0 {
        3
    } else {
        0
    }
}
