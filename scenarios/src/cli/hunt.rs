//! `hunt`: switch one catalogued bug on and run its trigger scenarios until
//! a seed catches it.

use super::{check_options, parallelism, print_failures, run::write_run_folder};
use anyhow::Result;
use node::bugs::Bug;
use scenarios::catalog;
use scenarios::engine::RunOptions;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct HuntArgs {
    #[arg(long)]
    bug: String,
    /// Wall-clock budget, e.g. 120s, 5m.
    #[arg(long, default_value = "120s")]
    budget: String,
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long, default_value_t = 0)]
    start_seed: u64,
    /// Where to leave the failing run's folder (repro, history, trace, report.html).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 60)]
    check_timeout: u64,
}

pub(super) fn hunt(args: HuntArgs) -> Result<u8> {
    let bug: Bug = args
        .bug
        .parse()
        .map_err(|e| anyhow::anyhow!("--bug: {e}"))?;
    let budget = scenarios::hunt::parse_budget(&args.budget)
        .map_err(|e| anyhow::anyhow!("--budget: {e}"))?;
    let opts = scenarios::hunt::HuntOptions {
        bug,
        budget,
        jobs: parallelism(args.jobs),
        start_seed: args.start_seed,
        run: RunOptions {
            check: check_options(args.check_timeout),
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
            print_failures(r);
            println!(
                "replay: faultline replay --scenario {} --seed {} --bug {bug}",
                r.scenario, r.seed
            );
            if let Some(dir) = &args.out {
                let scenario = catalog::load(&r.scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
                write_run_folder(dir, &scenario, r, "--out")?;
                println!("run folder: {}", dir.display());
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
