//! Campaign folders: `campaign.json`, `results.csv`, `coverage.jsonl` and
//! `runs/<scenario>-<seed>[-<bugs>]/` for failing runs, loaded together.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::artefacts::{self, RunRecord, run_dir_name};
use crate::coverage::{self, CoverageRow};
use crate::error::{ReportsError, Result, json_message};
use crate::explore_log::{EXPLORE_FILE, ExploreRow, read_explore};
use crate::results::{self, ResultRow};
use crate::timestamp::Timestamp;
use checker::Signature;

pub const CAMPAIGN_FILE: &str = "campaign.json";
pub const RESULTS_FILE: &str = "results.csv";
pub const COVERAGE_FILE: &str = "coverage.jsonl";
pub const RUNS_DIR: &str = "runs";

/// `campaign.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CampaignInfo {
    /// e.g. `nightly-2025-03-01`.
    pub name: String,
    /// When the campaign started, RFC 3339 (`2025-03-01T02:00:00Z`).
    pub started: String,
    /// The campaign's base seed.
    pub seed: u64,
    /// `K/N` for shard K of N, null when not sharded.
    #[serde(default)]
    pub shard: Option<String>,
    /// What ran the runs (`soak --target etcd` writes it; absent: the
    /// simulation). Only its kind is read here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetInfo>,
}

/// `campaign.json`'s `target`, as far as the dashboard needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub kind: RunsOn,
}

/// What ran a campaign's runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunsOn {
    /// The simulation: its runs report failpoints and coverage points.
    #[default]
    Sim,
    /// Real etcd processes, which report neither.
    Etcd,
}

impl CampaignInfo {
    pub fn runs_on(&self) -> RunsOn {
        self.target.map_or(RunsOn::Sim, |t| t.kind)
    }

    /// Writes `campaign.json` into a campaign folder (created if missing).
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| ReportsError::io(dir, "create", e))?;
        let path = dir.join(CAMPAIGN_FILE);
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| ReportsError::invalid(&path, format!("cannot encode: {e}")))?;
        text.push('\n');
        std::fs::write(&path, text).map_err(|e| ReportsError::io(&path, "write", e))
    }

    /// Reads and checks `campaign.json` (the start time must be RFC 3339,
    /// the shard `K/N`).
    pub fn read(path: impl AsRef<Path>) -> Result<(Self, Timestamp)> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ReportsError::io(path, "read", e))?;
        let info: CampaignInfo = serde_json::from_str(&text).map_err(|e| {
            ReportsError::malformed(
                path,
                e.line(),
                format!(
                    "expected {{\"name\", \"started\", \"seed\", \"shard\"}}: {}",
                    json_message(&e)
                ),
            )
        })?;
        let started = Timestamp::parse(&info.started)
            .map_err(|e| ReportsError::invalid(path, format!("field started: {e}")))?;
        if let Some(shard) = &info.shard {
            check_shard(shard)
                .map_err(|e| ReportsError::invalid(path, format!("field shard: {e}")))?;
        }
        Ok((info, started))
    }
}

fn check_shard(shard: &str) -> Result<(), String> {
    let expected = || format!("expected \"K/N\" (shard K of N), found {shard:?}");
    let (k, n) = shard.split_once('/').ok_or_else(expected)?;
    let k: u64 = k.trim().parse().map_err(|_| expected())?;
    let n: u64 = n.trim().parse().map_err(|_| expected())?;
    if n == 0 || k > n {
        return Err(expected());
    }
    Ok(())
}

/// A failing run of a campaign and what its folder says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedRun {
    pub row: ResultRow,
    /// The run folder, when it exists.
    pub dir: Option<PathBuf>,
    /// Its `report.json`, when readable.
    pub record: Option<RunRecord>,
}

impl FailedRun {
    /// The run's `report.html`, when its folder exists.
    pub fn html(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(artefacts::html_path)
    }

    /// The command that replays the run: the recorded one, else one built
    /// from the scenario, seed and bugs.
    pub fn replay_command(&self) -> String {
        match &self.record {
            Some(r) if !r.replay_command.is_empty() => r.replay_command.clone(),
            _ => {
                let mut cmd = format!(
                    "faultline replay --scenario {} --seed {}",
                    self.row.scenario, self.row.seed
                );
                for bug in self.row.bug_list() {
                    cmd.push_str(&format!(" --bug {bug}"));
                }
                cmd
            }
        }
    }

    /// Every failed property with its signature; from the results row
    /// alone (rule and class, first operation `-`, no explanation) when the
    /// run folder is missing or unreadable.
    pub fn violations(&self) -> Vec<FailedProperty> {
        match &self.record {
            Some(r) if !r.violations.is_empty() => r
                .violations
                .iter()
                .map(|v| FailedProperty {
                    signature: r.signature_of(v),
                    first_difference: v.first_difference.clone(),
                    explanation: v.explanation.clone(),
                    faults_active: v.faults_active.clone(),
                })
                .collect(),
            _ => self
                .row
                .failed_with_classes()
                .into_iter()
                .map(|(rule, class)| FailedProperty {
                    signature: Signature {
                        rule: rule.into(),
                        class,
                        subject: Default::default(),
                    },
                    first_difference: "-".to_string(),
                    explanation: String::new(),
                    faults_active: None,
                })
                .collect(),
        }
    }
}

impl FailedRun {
    /// The problem the run is filed under, and its other violations' problems.
    /// A run is one row of the dashboard however many rules it broke: the
    /// one filed under is its first violation in filing order
    /// ([`checker::rules::filing_order`]: the store's own
    /// reports of what broke where, then the client-visible rules, then the
    /// end state); the rest are shown with it, never a row
    /// of their own, so a bug that breaks three rules is one problem.
    pub fn problem(&self) -> Option<(FailedProperty, Vec<Signature>)> {
        let mut all = self.violations();
        all.sort_by_key(|p| checker::rules::filing_order(&p.signature.rule));
        let mut rest = all.into_iter();
        let first = rest.next()?;
        let mut also: Vec<Signature> = rest.map(|p| p.signature).collect();
        also.dedup();
        also.retain(|s| *s != first.signature);
        Some((first, also))
    }
}

/// One failed property of a failing run, as the dashboard groups it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedProperty {
    /// The problem it is an instance of; its rule is the property's.
    pub signature: Signature,
    /// See [`crate::describe::first_difference`].
    pub first_difference: String,
    pub explanation: String,
    /// The fault kinds on at the violation; `None` when the run's record
    /// does not say (written before, or no record: then the run's applied
    /// faults stand in).
    pub faults_active: Option<Vec<String>>,
}

/// One campaign folder, loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// The folder (absolute).
    pub dir: PathBuf,
    pub info: CampaignInfo,
    pub started: Timestamp,
    pub results: Vec<ResultRow>,
    pub coverage: Vec<CoverageRow>,
    /// An exploration's runs in run order (`explore.jsonl`; empty for a soak).
    pub explore: Vec<ExploreRow>,
    /// Every row with verdict `fail`, in results order.
    pub failures: Vec<FailedRun>,
    /// What a reader should know: torn lines skipped, run folders missing or unreadable.
    pub warnings: Vec<String>,
    /// (scenario, seed, bugs) -> position in `coverage` (the first row of
    /// a run), so looking a run up does not scan the file: a campaign of
    /// 100,000 runs would otherwise take minutes.
    coverage_index: HashMap<(String, u64, String), usize>,
}

impl Campaign {
    /// The coverage row of a result row (same scenario, seed and bugs).
    pub fn coverage_of(&self, row: &ResultRow) -> Option<&CoverageRow> {
        self.coverage_index
            .get(&(row.scenario.clone(), row.seed, row.bugs.clone()))
            .map(|&i| &self.coverage[i])
    }

    /// A short label: the name, with the shard when sharded.
    pub fn label(&self) -> String {
        match &self.info.shard {
            Some(shard) => format!("{} [{shard}]", self.info.name),
            None => self.info.name.clone(),
        }
    }
}

/// Loads campaign folders, oldest first (by start time, then name).
pub fn load_campaigns(dirs: &[PathBuf]) -> Result<Vec<Campaign>> {
    let mut campaigns = dirs
        .iter()
        .map(|d| load_campaign(d))
        .collect::<Result<Vec<_>>>()?;
    campaigns.sort_by(|a, b| {
        (a.started, &a.info.name, &a.info.shard).cmp(&(b.started, &b.info.name, &b.info.shard))
    });
    Ok(campaigns)
}

/// Loads one campaign folder. `campaign.json` and `results.csv` must be
/// there; a missing `coverage.jsonl` or run folder is a warning.
pub fn load_campaign(dir: &Path) -> Result<Campaign> {
    let dir = std::path::absolute(dir).map_err(|e| ReportsError::io(dir, "resolve", e))?;
    if !dir.is_dir() {
        return Err(ReportsError::invalid(
            &dir,
            "is not a campaign folder (expected a folder with campaign.json and results.csv)",
        ));
    }
    let (info, started) = CampaignInfo::read(dir.join(CAMPAIGN_FILE))?;
    let mut warnings = Vec::new();
    let results_path = dir.join(RESULTS_FILE);
    let results = results::load_results(&results_path)?;
    if let Some(torn) = &results.torn {
        warnings.push(format!(
            "{}:{}: skipped a torn last line (the writer was killed while appending it)",
            results_path.display(),
            torn.line
        ));
    }
    let coverage_path = dir.join(COVERAGE_FILE);
    let coverage = if coverage_path.exists() {
        let file = coverage::load_coverage(&coverage_path)?;
        if let Some(torn) = &file.torn {
            warnings.push(format!(
                "{}:{}: skipped a torn last line",
                coverage_path.display(),
                torn.line
            ));
        }
        file.rows
    } else {
        warnings.push(format!(
            "{}: missing, so this campaign adds nothing to coverage",
            coverage_path.display()
        ));
        Vec::new()
    };
    let explore_path = dir.join(EXPLORE_FILE);
    let explore = if explore_path.exists() {
        read_explore(&explore_path)?
    } else {
        Vec::new()
    };
    let mut failures = Vec::new();
    for row in results.rows.iter().filter(|r| r.is_failure()) {
        let run_dir =
            dir.join(RUNS_DIR)
                .join(run_dir_name(&row.scenario, row.seed, &row.bug_list()));
        let (found, record) = if run_dir.is_dir() {
            match RunRecord::read(run_dir.join(artefacts::RECORD_FILE)) {
                Ok(record) => (Some(run_dir), Some(record)),
                Err(e) => {
                    warnings.push(format!("{e}"));
                    (Some(run_dir), None)
                }
            }
        } else {
            warnings.push(format!(
                "{}: no run folder for failing run {} seed {}",
                run_dir.display(),
                row.scenario,
                row.seed
            ));
            (None, None)
        };
        failures.push(FailedRun {
            row: row.clone(),
            dir: found,
            record,
        });
    }
    let mut seen: HashMap<(&str, u64, &str), usize> = HashMap::new();
    for row in &results.rows {
        *seen
            .entry((row.scenario.as_str(), row.seed, row.bugs.as_str()))
            .or_default() += 1;
    }
    let repeats = seen.values().filter(|&&n| n > 1).count();
    if repeats > 0 {
        warnings.push(format!(
            "{}: {repeats} runs appear more than once (a resumed campaign re-ran them?)",
            results_path.display()
        ));
    }
    let mut coverage_index = HashMap::with_capacity(coverage.len());
    for (i, c) in coverage.iter().enumerate() {
        coverage_index
            .entry((c.scenario.clone(), c.seed, c.bugs.clone()))
            .or_insert(i);
    }
    Ok(Campaign {
        dir,
        info,
        started,
        results: results.rows,
        coverage,
        explore,
        failures,
        warnings,
        coverage_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_k_of_n() {
        assert!(check_shard("1/4").is_ok());
        assert!(check_shard("0/4").is_ok());
        for bad in ["5/4", "1/0", "x/4", "14", ""] {
            assert!(check_shard(bad).is_err(), "{bad}");
        }
    }
}
