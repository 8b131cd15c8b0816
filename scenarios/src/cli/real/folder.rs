//! A real run's folder: the same files as a simulated run's (repro,
//! history, end state, report, trace, report.html), its repro marked real
//! and not replayable, its trace the fault steps as they ran.

use super::outcome::{Outcome, RealRun};
use anyhow::{Context, Result};
use scenarios::catalog;
use std::path::Path;

impl RealRun<'_> {
    /// Writes the run's folder at `dir`. A cluster that failed before there
    /// was a history leaves its message (`summary.txt`) and the members'
    /// logs, which say why a member did not come back.
    pub fn write_folder(&self, dir: &Path) -> Result<bool> {
        let Outcome::Checked(c) = &self.outcome else {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create", dir.display()))?;
            let summary = dir.join(reports::artefacts::SUMMARY_FILE);
            std::fs::write(&summary, format!("{}\n", self.printed()))
                .with_context(|| format!("{}: cannot write", summary.display()))?;
            self.keep_member_logs(&dir.join(realplan::MEMBER_LOGS))?;
            return Ok(true);
        };
        let job = &self.job;
        let etcd = self.etcd;
        let old = self.old_etcd();
        let repro = reports::Repro {
            scenario_name: job.scenario.name.clone(),
            scenario_toml: scenarios::artefacts::scenario_toml(&job.scenario),
            seed: job.seed,
            bugs: Vec::new(),
            versions: self.member_versions(),
            trace_hash: String::new(),
            real: Some(reports::RealEtcd {
                binary: etcd.binary.clone(),
                version: etcd.version.clone(),
                old_binary: old.map(|o| o.binary.clone()),
                old_version: old.map(|o| o.version.clone()),
                snapshot_count: job.plan.snapshot_count,
            }),
        };
        // No simulator trace: the fault steps as they ran are the trace.
        let trace = c
            .history
            .annotations
            .iter()
            .map(|a| reports::TraceLine {
                at_ns: a.at,
                source: "faultline-etcd".into(),
                kind: "fault".into(),
                detail: a.text.clone(),
            })
            .collect();
        let run = reports::RunArtefacts {
            repro,
            history: c.history.clone(),
            end_state: c.end.clone(),
            report: c.report.clone(),
            trace,
            summary_line: self.summary_line(),
            replay_command: format!(
                "faultline run --target etcd --scenario {} --seed {}",
                if catalog::builtin().contains(&job.scenario) {
                    job.scenario.name.clone()
                } else {
                    format!("{}/repro.toml's scenario", dir.display())
                },
                job.seed
            ),
        };
        reports::write_run(dir, &run)?;
        self.keep_member_logs(&dir.join(realplan::MEMBER_LOGS))?;
        Ok(true)
    }

    /// Copies the members' etcd logs the companion kept (`NAME.etcd.log`)
    /// into `to`: what the history cannot show, a member's own doings.
    fn keep_member_logs(&self, to: &Path) -> Result<()> {
        let from = self.companion_out.path().join(realplan::MEMBER_LOGS);
        let Ok(entries) = std::fs::read_dir(&from) else {
            return Ok(());
        };
        std::fs::create_dir_all(to).with_context(|| format!("{}: cannot create", to.display()))?;
        for entry in entries {
            let path = entry?.path();
            if let Some(name) = path.file_name() {
                std::fs::copy(&path, to.join(name))
                    .with_context(|| format!("{}: cannot copy", path.display()))?;
            }
        }
        Ok(())
    }

    /// The version each member started with.
    pub fn member_versions(&self) -> Vec<String> {
        let old = self.old_etcd();
        self.job
            .plan
            .binaries
            .iter()
            .map(|b| match (b, &old) {
                (realplan::Binary::Old, Some(old)) => old.version.clone(),
                _ => self.etcd.version.clone(),
            })
            .collect()
    }
}
