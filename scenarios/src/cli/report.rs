//! `report`: the review dashboard over campaign folders, with the
//! catalogued bugs' signatures (so a known bug's regression is named) and,
//! with `--shrink N`, a shrunk repro for up to N new problems.

use anyhow::{Context, Result, bail};
use reports::dashboard::{self, CAMPAIGN_FILE};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub(super) struct ReportArgs {
    /// Campaign folders (soak --out), or folders holding campaign folders
    /// (e.g. every shard of a night, or a fortnight of nights).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// The HTML dashboard.
    #[arg(long, value_name = "FILE", default_value = "dashboard.html")]
    out: PathBuf,
    /// Also write the Markdown summary for the meeting notes.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Also write JUnit XML for CI systems.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// The bug hunt table (CSV) for the time-to-detect section.
    #[arg(long, value_name = "FILE")]
    hunt_table: Option<PathBuf>,
    /// Shrink the smallest run of up to N new problems (a problem already
    /// shrunk into the shrinks folder is reused, not counted).
    #[arg(long, value_name = "N", default_value_t = 0)]
    shrink: usize,
    /// At most this many runs per shrink.
    #[arg(long, value_name = "RUNS", default_value_t = 60)]
    shrink_runs: usize,
    /// Where shrunk repros are kept, one per problem (default: `shrinks/`
    /// beside the --out file).
    #[arg(long, value_name = "DIR")]
    shrinks: Option<PathBuf>,
    /// Checker time limit per run while shrinking, in seconds.
    #[arg(long, default_value_t = 60)]
    check_timeout: u64,
}

/// The campaign folders under `dir`: itself if it holds campaign.json,
/// else its sub-folders that do (recursively), in name order.
fn campaign_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    if dir.join(CAMPAIGN_FILE).is_file() {
        found.push(dir.to_path_buf());
        return Ok(());
    }
    if !dir.is_dir() {
        bail!("{}: no such folder", dir.display());
    }
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for sub in subs {
        campaign_dirs(&sub, found)?;
    }
    Ok(())
}

fn write(path: &Path, text: &str, flag: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("{flag} {}: cannot write", path.display()))
}

pub(super) fn report(args: ReportArgs) -> Result<u8> {
    let mut dirs = Vec::new();
    for d in &args.dirs {
        let before = dirs.len();
        campaign_dirs(d, &mut dirs)?;
        if dirs.len() == before {
            bail!(
                "{}: no campaign folder here (a campaign folder holds {CAMPAIGN_FILE} and results.csv)",
                d.display()
            );
        }
    }
    let campaigns = dashboard::load_campaigns(&dirs).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hunt = args
        .hunt_table
        .as_ref()
        .map(|p| dashboard::load_hunt_table(p).map_err(|e| anyhow::anyhow!("--hunt-table {e}")))
        .transpose()?;
    let failpoints: Vec<&str> = node::failpoint::Failpoint::ALL
        .iter()
        .map(|p| p.name())
        .collect();
    let kinds: Vec<&str> = scenarios::faults::FaultKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    let points: Vec<&str> = node::coverage::Point::ALL
        .iter()
        .map(|p| p.name())
        .collect();
    let known = dashboard::Known {
        failpoints: &failpoints,
        fault_kinds: &kinds,
        points: &points,
    };
    super::writable_folder("--out", &args.out)?;
    let shrinks_dir = args.shrinks.clone().unwrap_or_else(|| {
        args.out
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default()
            .join("shrinks")
    });
    if args.shrink > 0 {
        shrink_new_problems(&campaigns, &shrinks_dir, &args)?;
    }
    let triage = dashboard::Triage {
        known_bugs: scenarios::bug_table::known_signatures()
            .map(|(bug, s)| (bug.name().to_string(), s))
            .collect(),
        shrinks_dir: Some(shrinks_dir),
    };
    let html = dashboard::render_html(&campaigns, hunt.as_deref(), &known, &triage, &args.out);
    write(&args.out, &html, "--out")?;
    if let Some(path) = &args.markdown {
        let md = dashboard::render_markdown(&campaigns, hunt.as_deref(), &known, &triage);
        write(path, &md, "--markdown")?;
    }
    if let Some(path) = &args.junit {
        write(path, &dashboard::render_junit(&campaigns), "--junit")?;
    }
    for c in &campaigns {
        for w in &c.warnings {
            eprintln!("report: {}: {w}", c.dir.display());
        }
    }
    let runs: usize = campaigns.iter().map(|c| c.results.len()).sum();
    let failed: usize = campaigns.iter().map(|c| c.failures.len()).sum();
    eprintln!(
        "report: {} campaigns, {runs} runs, {failed} failed -> {}",
        campaigns.len(),
        args.out.display()
    );
    Ok(0)
}

/// Shrinks the smallest run of up to `args.shrink` new problems into
/// `dir/<signature id>.toml`; a problem with a shrink there already (from
/// an earlier report) is skipped without counting.
fn shrink_new_problems(
    campaigns: &[dashboard::Campaign],
    dir: &Path,
    args: &ReportArgs,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--shrinks {}: cannot create", dir.display()))?;
    let mut made = 0;
    for problem in dashboard::new_problems(campaigns) {
        let out = dashboard::shrink_path(dir, &problem.signature);
        if out.is_file() {
            eprintln!(
                "report: {} already shrunk: {}",
                problem.signature,
                out.display()
            );
            continue;
        }
        if made == args.shrink {
            break;
        }
        made += 1;
        // One unreadable repro costs its shrink, not the dashboard.
        let run = match super::target::read_repro(&problem.run_dir) {
            Ok(run) => run,
            Err(e) => {
                eprintln!("report: {}: not shrunk: {e:#}", problem.signature);
                continue;
            }
        };
        let opts = scenarios::engine::RunOptions {
            bugs: run.bugs,
            check: super::check_options(args.check_timeout),
            collect_files: false,
        };
        let Some(outcome) = scenarios::shrink::shrink_problem(
            &run.scenario,
            run.seed,
            &opts,
            args.shrink_runs,
            &problem.signature,
        ) else {
            eprintln!(
                "report: {}: its run {} no longer shows it, not shrunk",
                problem.signature,
                problem.run_dir.display()
            );
            continue;
        };
        let repro = super::shrink::shrunk_repro(&outcome, &opts.bugs);
        let text = repro.to_toml(&out).map_err(|e| anyhow::anyhow!("{e}"))?;
        std::fs::write(&out, text).with_context(|| format!("{}: cannot write", out.display()))?;
        eprintln!(
            "report: shrank {} ({} runs of it): ops {} -> {}, {} runs -> {}",
            problem.signature,
            problem.runs,
            outcome.original_ops,
            outcome.shrunk_ops,
            outcome.runs,
            out.display()
        );
    }
    Ok(())
}
