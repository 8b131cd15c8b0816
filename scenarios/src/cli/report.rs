//! `report`: the review dashboard over campaign folders.

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
    let html = dashboard::render_html(&campaigns, hunt.as_deref(), &known, &args.out);
    write(&args.out, &html, "--out")?;
    if let Some(path) = &args.markdown {
        let md = dashboard::render_markdown(&campaigns, hunt.as_deref(), &known);
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
