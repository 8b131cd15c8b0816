//! A real run as a campaign folder records it (`soak --target etcd`): the
//! same `results.csv` and `coverage.jsonl` columns as a simulated run's,
//! holding what a real run has. `bugs` is empty (a real etcd has no bug
//! switches), `sim_ms` 0 and `trace_hash` empty (no simulation, no trace),
//! `wall_ms` the cluster's run plus the check; `faults` counts the
//! companion's notes of its fault steps (the summary line's `faults=`). A run whose cluster failed has verdict `fail`, no
//! failed rules and no folder. In `coverage.jsonl`, `faults_applied` is
//! the steps that applied, `versions` what each member started with, and
//! no failpoint or store coverage point (real etcd reports none).

use super::outcome::{Outcome, RealRun};
use super::steps::StepNote;
use reports::{CoverageRow, ResultRow};
use scenarios::schema::Scenario;
use scenarios::soak::{CampaignError, CampaignRun};
use std::path::Path;

impl CampaignRun for RealRun<'_> {
    fn result_row(&self) -> ResultRow {
        let mut row = ResultRow {
            scenario: self.job.scenario.name.clone(),
            seed: self.job.seed,
            bugs: String::new(),
            verdict: self.overall(),
            failed_rules: String::new(),
            ops: 0,
            failed_ops: 0,
            watch_events: 0,
            faults: 0,
            sim_ms: 0,
            wall_ms: self.wall_ms,
            trace_hash: String::new(),
            not_applied: 0,
            classes: Default::default(),
        };
        if let Outcome::Checked(c) = &self.outcome {
            let ops = &c.history.operations;
            row.failed_rules = c.report.failed_rules().join(";");
            row.ops = ops.len();
            row.failed_ops = ops
                .iter()
                .filter(|o| !matches!(o.result, checker::history::OpResult::Ok(_)))
                .count();
            row.watch_events = c
                .history
                .watches
                .iter()
                .flat_map(|w| &w.responses)
                .map(|r| r.events.len())
                .sum();
            row.faults = c.history.annotations.len();
            row.not_applied = StepNote::all(&c.history).filter(|s| !s.applied).count();
            row.wall_ms += c.check_ms;
            row.classes = reports::results::Classes::of(&c.report);
        }
        row
    }

    fn coverage_row(&self) -> CoverageRow {
        let (faults_applied, rules_checked) = match &self.outcome {
            Outcome::Checked(c) => (
                StepNote::all(&c.history)
                    .filter(|s| s.applied)
                    .map(|s| s.kind)
                    .collect(),
                reports::coverage::rules_checked(&c.report),
            ),
            Outcome::ClusterFailed(_) => (Vec::new(), Vec::new()),
        };
        let mut versions = self.member_versions();
        versions.sort();
        versions.dedup();
        CoverageRow {
            scenario: self.job.scenario.name.clone(),
            seed: self.job.seed,
            bugs: String::new(),
            faults_applied,
            failpoints_reached: Default::default(),
            points_reached: Default::default(),
            rules_checked,
            versions,
        }
    }

    fn write_folder(&self, _scenario: &Scenario, folder: &Path) -> Result<bool, CampaignError> {
        RealRun::write_folder(self, folder).map_err(|e| CampaignError::Run(format!("{e:#}")))
    }
}
