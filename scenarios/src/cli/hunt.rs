//! `hunt`: switch one catalogued bug on and run its trigger scenarios until
//! a seed catches it; with `--table`, the benchmark: hunt bugs from several
//! start seeds and write the hunt table (CSV).

use super::{check_options, parallelism, print_failures, run::write_run_folder, writable_folder};
use anyhow::Result;
use node::bugs::Bug;
use scenarios::catalog;
use scenarios::engine::{RunOptions, RunResult};
use scenarios::hunt::HuntMode;
use scenarios::schema::Scenario;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct HuntArgs {
    /// The bug to hunt (with --table: repeatable, default every bug the bug
    /// table says is reproduced).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<String>,
    /// Write the hunt table (bug, median seeds and wall time to detection,
    /// worst wall time, rule) to FILE instead of hunting once.
    #[arg(long, value_name = "FILE")]
    table: Option<PathBuf>,
    /// Hunt with the general catalog only (no scenario written for the
    /// bug), as a user hunting an unknown bug would. With --table: the
    /// table gets blind rows next to the triggered ones.
    #[arg(long)]
    blind: bool,
    /// Hunt with the general catalog as `faultline explore` mutates it
    /// (coverage-guided; the start seed is the explorer's seed). With
    /// --table: the table gets explore rows too.
    #[arg(long)]
    explore: bool,
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
    let options = |bug: Bug, mode: HuntMode| scenarios::hunt::HuntOptions {
        bug,
        mode,
        budget,
        jobs: parallelism(args.jobs),
        start_seed: args.start_seed,
        run: RunOptions {
            check: check_options(args.check_timeout),
            ..Default::default()
        },
    };
    if let Some(path) = &args.table {
        return hunt_table(&args, path, bugs, &options);
    }
    let [bug] = bugs[..] else {
        anyhow::bail!("--bug: give exactly one bug to hunt (several only with --table)");
    };
    let mode = match (args.blind, args.explore) {
        (true, true) => anyhow::bail!("--explore: a single hunt is blind or explore, not both"),
        (true, false) => HuntMode::Blind,
        (false, true) => HuntMode::Explore,
        (false, false) => HuntMode::Triggered,
    };
    let outcome = scenarios::hunt::hunt(&options(bug, mode)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let shown = Shown {
        bug,
        mode,
        out: args.out.as_deref(),
    };
    for other in &outcome.other_failures {
        shown.other_failure(other)?;
    }
    match &outcome.found {
        Some(r) => {
            shown.found(r, &outcome)?;
            Ok(0)
        }
        None => {
            println!(
                "not found: {bug} survived {} seeds of the {} hunt in {:.1}s (budget {})",
                outcome.seeds_tried,
                mode.word(),
                outcome.wall.as_secs_f64(),
                args.budget
            );
            Ok(1)
        }
    }
}

/// `--table`: the bugs asked for (default: every bug the table says is
/// reproduced: one whose faithful mechanism never failed here would only
/// burn its budget), triggered and, as asked, blind and explore.
fn hunt_table(
    args: &HuntArgs,
    path: &std::path::Path,
    bugs: Vec<Bug>,
    options: &dyn Fn(Bug, HuntMode) -> scenarios::hunt::HuntOptions,
) -> Result<u8> {
    if args.starts == 0 {
        anyhow::bail!("--starts: must be at least 1");
    }
    writable_folder("--table", path)?;
    let bugs = if bugs.is_empty() {
        scenarios::bug_table::BUGS
            .iter()
            .filter(|e| e.detecting().is_some())
            .map(|e| e.bug)
            .collect()
    } else {
        bugs
    };
    let modes: Vec<HuntMode> = [
        (true, HuntMode::Triggered),
        (args.blind, HuntMode::Blind),
        (args.explore, HuntMode::Explore),
    ]
    .into_iter()
    .filter_map(|(on, mode)| on.then_some(mode))
    .collect();
    table(path, &bugs, &modes, args.starts, options)
}

/// How a single hunt shows what it found.
struct Shown<'a> {
    bug: Bug,
    mode: HuntMode,
    out: Option<&'a std::path::Path>,
}

impl Shown<'_> {
    /// The scenario a run ran: an explore run's is a mutant, not a catalog
    /// entry, so its folder holds the scenario as run.
    fn scenario_of(&self, r: &RunResult) -> Result<Scenario> {
        if self.mode == HuntMode::Explore {
            Ok(r.effective.clone())
        } else {
            catalog::load(&r.scenario).map_err(|e| anyhow::anyhow!("{e}"))
        }
    }

    /// A catalog run replays by name; an explorer's needs its folder.
    fn replay_line(&self, prefix: &str, r: &RunResult) {
        if self.mode != HuntMode::Explore {
            println!(
                "{prefix}replay: faultline replay --scenario {} --seed {} --bug {}",
                r.scenario, r.seed, self.bug
            );
        }
    }

    fn other_failure(&self, other: &RunResult) -> Result<()> {
        println!(
            "another failure (not counted: {} does not explain {}): scenario={} seed={}",
            self.bug,
            other.failed_rules().join(","),
            other.scenario,
            other.seed
        );
        self.replay_line("  ", other);
        if let Some(dir) = self.out {
            let folder = dir
                .join("other-failures")
                .join(reports::artefacts::run_dir_name(
                    &other.scenario,
                    other.seed,
                    &[self.bug.name().to_string()],
                ));
            write_run_folder(&folder, &self.scenario_of(other)?, other, "--out")?;
        }
        Ok(())
    }

    fn found(&self, r: &RunResult, outcome: &scenarios::hunt::HuntOutcome) -> Result<()> {
        println!(
            "found {} ({} hunt) after {} seeds in {:.1}s: scenario={} seed={} rules={}",
            self.bug,
            self.mode.word(),
            outcome.seeds_tried,
            outcome.wall.as_secs_f64(),
            r.scenario,
            r.seed,
            r.failed_rules().join(",")
        );
        print_failures(r);
        self.replay_line("", r);
        match self.out {
            Some(dir) => {
                write_run_folder(dir, &self.scenario_of(r)?, r, "--out")?;
                println!(
                    "run folder: {} (replay: faultline replay {})",
                    dir.display(),
                    dir.display()
                );
            }
            None if self.mode == HuntMode::Explore => println!(
                "give --out DIR to keep its repro (the explorer's scenario is not in the catalog)"
            ),
            None => {}
        }
        Ok(())
    }
}

/// Hunts each bug in each mode from `starts` start seeds and writes the
/// table, printing each row as it is done.
fn table(
    path: &std::path::Path,
    bugs: &[Bug],
    modes: &[HuntMode],
    starts: u64,
    options: &dyn Fn(Bug, HuntMode) -> scenarios::hunt::HuntOptions,
) -> Result<u8> {
    let mut rows = Vec::new();
    for bug in bugs {
        for mode in modes {
            let row = scenarios::hunt::table_row(&options(*bug, *mode), starts)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            println!(
                "{} {}: found {}/{} median seeds {} median {}s worst {}s rule {}",
                row.bug,
                row.mode.word(),
                row.found,
                row.start_seeds,
                show(row.median_seeds),
                show(row.median_wall_s),
                show(row.worst_wall_s),
                if row.rule.is_empty() { "-" } else { &row.rule }
            );
            rows.push(row);
            // Written after every row, so a long table run keeps what it measured.
            reports::dashboard::write_hunt_table(path, &rows)
                .map_err(|e| anyhow::anyhow!("--table {e}"))?;
        }
    }
    println!("hunt table: {}", path.display());
    Ok(if rows.iter().all(|r| r.found == r.start_seeds) {
        0
    } else {
        1
    })
}
