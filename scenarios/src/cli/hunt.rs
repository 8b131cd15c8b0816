//! `hunt`: switch one catalogued bug on and run its trigger scenarios until
//! a seed catches it; with `--table`, the benchmark: hunt bugs from several
//! start seeds and write the hunt table (CSV).

use super::{check_options, parallelism, print_failures, run::write_run_folder, writable_folder};
use anyhow::Result;
use node::bugs::Bug;
use scenarios::catalog;
use scenarios::engine::RunOptions;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct HuntArgs {
    /// The bug to hunt (with --table: repeatable, default every catalogued bug).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<String>,
    /// Write the hunt table (bug, median seeds and wall time to detection,
    /// worst wall time, rule) to FILE instead of hunting once.
    #[arg(long, value_name = "FILE")]
    table: Option<PathBuf>,
    /// With --table: hunts per bug, from start seeds S, S+1000, ...
    #[arg(long, default_value_t = 5)]
    starts: u64,
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
    let bugs = args
        .bugs
        .iter()
        .map(|b| b.parse::<Bug>().map_err(|e| anyhow::anyhow!("--bug: {e}")))
        .collect::<Result<Vec<Bug>>>()?;
    let budget = scenarios::hunt::parse_budget(&args.budget)
        .map_err(|e| anyhow::anyhow!("--budget: {e}"))?;
    let options = |bug: Bug| scenarios::hunt::HuntOptions {
        bug,
        budget,
        jobs: parallelism(args.jobs),
        start_seed: args.start_seed,
        run: RunOptions {
            check: check_options(args.check_timeout),
            ..Default::default()
        },
    };
    if let Some(path) = &args.table {
        if args.starts == 0 {
            anyhow::bail!("--starts: must be at least 1");
        }
        writable_folder("--table", path)?;
        let bugs = if bugs.is_empty() {
            node::bugs::CATALOG.iter().map(|info| info.bug).collect()
        } else {
            bugs
        };
        return table(path, &bugs, args.starts, &options);
    }
    let [bug] = bugs[..] else {
        anyhow::bail!("--bug: give exactly one bug to hunt (several only with --table)");
    };
    let opts = options(bug);
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

/// Hunts each bug from `starts` start seeds and writes the table, printing
/// each row as it is done.
fn table(
    path: &std::path::Path,
    bugs: &[Bug],
    starts: u64,
    options: &dyn Fn(Bug) -> scenarios::hunt::HuntOptions,
) -> Result<u8> {
    let mut rows = Vec::new();
    for bug in bugs {
        let row = scenarios::hunt::table_row(&options(*bug), starts)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        println!(
            "{}: found {}/{} median seeds {} median {}s worst {}s rule {}",
            row.bug,
            row.found,
            row.start_seeds,
            show(row.median_seeds),
            show(row.median_wall_s),
            show(row.worst_wall_s),
            if row.rule.is_empty() { "-" } else { &row.rule }
        );
        rows.push(row);
    }
    reports::dashboard::write_hunt_table(path, &rows)
        .map_err(|e| anyhow::anyhow!("--table {e}"))?;
    println!("hunt table: {}", path.display());
    Ok(if rows.iter().all(|r| r.found == r.start_seeds) {
        0
    } else {
        1
    })
}
