//! `shrink`: delta-debug a failing run down to a minimal repro.

use super::target::{RunTarget, Target};
use super::{check_options, writable_folder};
use anyhow::{Context, Result};
use scenarios::artefacts;
use scenarios::engine::RunOptions;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(super) struct ShrinkArgs {
    #[command(flatten)]
    target: RunTarget,
    /// At most this many runs while shrinking.
    #[arg(long, default_value_t = 300)]
    max_runs: usize,
    /// Where to write the minimal repro (default: shrunk-repro.toml beside
    /// the repro, or in the current folder).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Checker time limit per run, in seconds.
    #[arg(long, default_value_t = 60)]
    check_timeout: u64,
}

pub(super) fn shrink(args: ShrinkArgs) -> Result<u8> {
    let Target {
        scenario,
        seed,
        bugs,
        ..
    } = args.target.resolve("shrink")?;
    // Beside the repro it came from, or in the current folder.
    let default_out = match &args.target.repro {
        Some(path) if path.is_dir() => path.join("shrunk-repro.toml"),
        Some(path) => path
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default()
            .join("shrunk-repro.toml"),
        None => PathBuf::from("shrunk-repro.toml"),
    };
    let out = args.out.clone().unwrap_or(default_out);
    writable_folder("--out", &out)?;
    let opts = RunOptions {
        bugs,
        check: check_options(args.check_timeout),
        collect_files: false,
    };
    let Some(outcome) = scenarios::shrink::shrink(&scenario, seed, &opts, args.max_runs) else {
        println!(
            "nothing to shrink: {} seed {seed} passes{}",
            scenario.name,
            if opts.bugs.is_empty() {
                String::new()
            } else {
                format!(" with {}", opts.bugs)
            }
        );
        return Ok(0);
    };
    let repro = shrunk_repro(&outcome, &opts.bugs);
    let text = repro
        .to_toml(&out)
        .map_err(|e| anyhow::anyhow!("--out: {e}"))?;
    std::fs::write(&out, text).with_context(|| format!("--out {}: cannot write", out.display()))?;
    let percent = 100.0 * outcome.shrunk_ops as f64 / outcome.original_ops.max(1) as f64;
    println!(
        "{} still fails {} after shrinking: seed {} -> {}, ops {} -> {} ({percent:.0}%), faults {} -> {}, clients {} -> {}, {:.1}s -> {:.1}s simulated ({} runs)",
        scenario.name,
        outcome.rule,
        outcome.original_seed,
        outcome.seed,
        outcome.original_ops,
        outcome.shrunk_ops,
        outcome.original.faults.len(),
        outcome.shrunk.faults.len(),
        clients(&outcome.original),
        clients(&outcome.shrunk),
        outcome.original.duration_s,
        outcome.shrunk.duration_s,
        outcome.runs
    );
    println!("minimal repro: {}", out.display());
    println!("replay: faultline replay {}", out.display());
    Ok(1)
}

/// The repro of a shrink's minimal scenario (what `replay` takes).
pub(super) fn shrunk_repro(
    outcome: &scenarios::shrink::ShrinkOutcome,
    bugs: &node::bugs::BugSet,
) -> reports::Repro {
    reports::Repro {
        scenario_name: outcome.shrunk.name.clone(),
        scenario_toml: artefacts::scenario_toml(&outcome.shrunk),
        seed: outcome.seed,
        bugs: artefacts::bug_names(bugs),
        versions: artefacts::versions_of(&outcome.shrunk),
        trace_hash: outcome.trace_hash.clone(),
        real: None,
    }
}

fn clients(s: &scenarios::schema::Scenario) -> usize {
    s.traffic.iter().map(|t| t.clients).sum()
}
