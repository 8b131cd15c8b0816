//! Which run `replay` and `shrink` act on, given as a repro or as a
//! scenario and seed.

use anyhow::Result;
use scenarios::artefacts;
use std::path::{Path, PathBuf};

/// Which run to act on: a repro file (or a run folder holding one), or a
/// catalog scenario (or file) with a seed and bugs. `replay` and `shrink`
/// take it.
#[derive(clap::Args)]
pub(super) struct RunTarget {
    /// A repro file (repro.toml) or a run folder holding one.
    #[arg(conflicts_with_all = ["scenario", "seed", "bugs"], required_unless_present = "scenario")]
    pub repro: Option<PathBuf>,
    /// Scenario name from the catalog, or a .toml file.
    #[arg(long, requires = "seed")]
    scenario: Option<String>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long = "bug")]
    bugs: Vec<String>,
}

/// A resolved [`RunTarget`]: the trace hash is the repro's, when there is one.
pub(super) struct Target {
    pub scenario: scenarios::schema::Scenario,
    pub seed: u64,
    pub bugs: node::bugs::BugSet,
    pub trace_hash: Option<String>,
}

impl RunTarget {
    pub(super) fn resolve(&self, command: &str) -> Result<Target> {
        if let Some(path) = &self.repro {
            let run = read_repro(path)?;
            return Ok(Target {
                scenario: run.scenario,
                seed: run.seed,
                bugs: run.bugs,
                trace_hash: Some(run.trace_hash),
            });
        }
        let (Some(name), Some(seed)) = (&self.scenario, self.seed) else {
            anyhow::bail!("{command}: give a repro file, or --scenario and --seed");
        };
        Ok(Target {
            scenario: scenarios::catalog::load(name)
                .map_err(|e| anyhow::anyhow!("--scenario {e}"))?,
            seed,
            bugs: super::parse_bugs(&self.bugs)?,
            trace_hash: None,
        })
    }
}

/// The repro file a path names: itself, or a run folder's `repro.toml`.
pub(super) fn repro_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(reports::artefacts::REPRO_FILE)
    } else {
        path.to_path_buf()
    }
}

/// A repro file, or a run folder holding `repro.toml`.
pub(super) fn read_repro(path: &Path) -> Result<artefacts::ReproRun> {
    let file = repro_file(path);
    let repro = reports::Repro::read(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
    artefacts::from_repro(&repro, &file.display().to_string()).map_err(|e| anyhow::anyhow!("{e}"))
}
