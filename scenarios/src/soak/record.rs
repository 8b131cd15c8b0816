//! What a campaign needs of a run, whatever ran it: its two rows and its
//! folder. A simulated run ([`RunResult`]) is one; `soak --target etcd`
//! brings its own (a real cluster's run, in the `faultline` binary).

use super::folder::CampaignError;
use crate::artefacts;
use crate::engine::{self, RunOptions, RunResult};
use crate::schema::Scenario;
use reports::{CoverageRow, ResultRow};
use std::path::Path;

/// One finished run as a campaign folder records it.
pub trait CampaignRun {
    /// Its `results.csv` row (the commit point).
    fn result_row(&self) -> ResultRow;
    /// Its `coverage.jsonl` row.
    fn coverage_row(&self) -> CoverageRow;
    /// Writes its run folder at `folder`; false when the run has nothing
    /// to keep (a real cluster that failed before it had a history).
    fn write_folder(&self, scenario: &Scenario, folder: &Path) -> Result<bool, CampaignError>;
}

impl CampaignRun for RunResult {
    fn result_row(&self) -> ResultRow {
        artefacts::result_row(self)
    }

    fn coverage_row(&self) -> CoverageRow {
        artefacts::coverage_row(self)
    }

    fn write_folder(&self, scenario: &Scenario, folder: &Path) -> Result<bool, CampaignError> {
        let repro_path = folder.join(reports::artefacts::REPRO_FILE);
        let run = artefacts::run_artefacts(scenario, self, &repro_path.display().to_string());
        reports::write_run(folder, &run)?;
        Ok(true)
    }
}

/// Does the runs of a soak, several at once.
pub trait Runner: Sync {
    type Run: CampaignRun;
    /// Runs `scenario` under `seed`. None: the run was interrupted (Ctrl-C)
    /// and nothing of it is to be recorded; the soak stops.
    fn run(&self, scenario: &Scenario, seed: u64) -> Result<Option<Self::Run>, CampaignError>;
}

/// The simulation as a soak's runner.
pub struct Simulation {
    pub opts: RunOptions,
}

impl Runner for Simulation {
    type Run = RunResult;

    fn run(&self, scenario: &Scenario, seed: u64) -> Result<Option<RunResult>, CampaignError> {
        Ok(Some(engine::run(scenario, seed, &self.opts)))
    }
}
