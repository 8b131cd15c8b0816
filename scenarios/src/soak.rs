//! Soak campaigns: an open-ended, crash-safe run of many seeds over many
//! scenarios, resumable with the same command and shardable over machines.
//!
//! A campaign folder holds:
//! - `campaign.json`: what the campaign runs (scenarios with a hash of each,
//!   bugs, first seed, shard) and its time box. A restart must ask for the
//!   same campaign, or it is refused.
//! - `results.csv`: one row per finished run, fsynced as it is written. It
//!   is the commit point: a run is done once, and only once, its row is there.
//! - `coverage.jsonl`: what each finished run exercised.
//! - `runs/<scenario>-<seed>[-<bugs>]/`: the folder of every failing run
//!   (every run with `keep_all`).
//!
//! Each run writes its folder, then its coverage row, then its results row.
//! Killed at any moment (SIGKILL included) and started again, a soak drops
//! coverage rows without a results row, keeps every finished run, and
//! reruns only the runs that were in flight: nothing lost, nothing repeated.
//!
//! The shard K of N runs, for every catalog scenario, the seeds
//! `start + K`, `start + K + N`, `start + K + 2N`, ...: shards never overlap,
//! together they cover the same seeds one machine would, and each shard
//! covers every scenario however long it runs.

use crate::artefacts;
use crate::engine::{self, RunOptions, RunResult};
use crate::schema::Scenario;
use checker::{CheckOptions, Overall};
use node::bugs::BugSet;
use reports::{CoverageWriter, ResultRow, ResultsWriter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

pub use reports::dashboard::{CAMPAIGN_FILE, COVERAGE_FILE, RESULTS_FILE, RUNS_DIR};
pub const CAMPAIGN_FORMAT: &str = "faultline-campaign";

#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    /// The command asks for another campaign than the folder holds.
    #[error(
        "{file}: {field}: the folder holds another campaign ({detail}); use a new --out or the campaign's own arguments"
    )]
    Mismatch {
        file: PathBuf,
        field: &'static str,
        detail: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Reports(#[from] reports::ReportsError),
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> SoakError {
    SoakError::Io {
        path: path.to_path_buf(),
        message: format!("cannot {what}: {e}"),
    }
}

/// This machine's share of a campaign: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `K/N` with 0 <= K < N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("expected K/N (e.g. 0/4), got {text:?}"))?;
        let index: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("K in K/N must be a whole number, got {k:?}"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("N in K/N must be a whole number, got {n:?}"))?;
        if count == 0 || index >= count {
            return Err(format!("need 0 <= K < N, got {index}/{count}"));
        }
        Ok(Shard { index, count })
    }
}

/// The campaign's run order: run `j` of the shard is a (scenario, seed).
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenarios: Vec<Scenario>,
    pub start_seed: u64,
    pub shard: Shard,
}

impl Plan {
    /// The scenario index and seed of the shard's `j`-th run: every
    /// scenario for one seed, then the shard's next seed.
    pub fn job(&self, j: u64) -> (usize, u64) {
        let per_seed = self.scenarios.len().max(1) as u64;
        let round = j / per_seed;
        let seed = self
            .start_seed
            .wrapping_add(round.wrapping_mul(self.shard.count))
            .wrapping_add(self.shard.index);
        ((j % per_seed) as usize, seed)
    }
}

/// One scenario as the campaign knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioEntry {
    pub name: String,
    /// SHA-256 (16 hex digits) of the scenario's TOML: a restart must run
    /// the same scenarios, not ones edited since.
    pub hash: String,
}

/// `campaign.json`. The first four fields are what the dashboard reads
/// (`reports::dashboard::CampaignInfo`); the rest pin the campaign down so
/// that a restart runs the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignFile {
    /// The campaign folder's name when it first started.
    pub name: String,
    /// When the campaign first started (RFC 3339, UTC).
    pub started: String,
    /// The first seed.
    pub seed: u64,
    /// `K/N`, or null when the campaign is not sharded.
    pub shard: Option<String>,
    pub format: String,
    pub version: u32,
    /// The end of the time box, set at the first start (RFC 3339, UTC).
    #[serde(default)]
    pub deadline: Option<String>,
    pub scenarios: Vec<ScenarioEntry>,
    pub bugs: Vec<String>,
    /// The faultline version that started it.
    #[serde(default)]
    pub faultline: String,
}

pub fn scenario_hash(s: &Scenario) -> String {
    let digest = Sha256::digest(artefacts::scenario_toml(s).as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl CampaignFile {
    fn new(
        name: &str,
        plan: &Plan,
        bugs: &BugSet,
        duration: Option<Duration>,
        now: SystemTime,
    ) -> Self {
        CampaignFile {
            name: name.to_string(),
            started: rfc3339(now),
            seed: plan.start_seed,
            shard: (plan.shard != Shard::WHOLE)
                .then(|| format!("{}/{}", plan.shard.index, plan.shard.count)),
            format: CAMPAIGN_FORMAT.to_string(),
            version: 1,
            deadline: duration.map(|d| rfc3339(now + d)),
            scenarios: plan
                .scenarios
                .iter()
                .map(|s| ScenarioEntry {
                    name: s.name.clone(),
                    hash: scenario_hash(s),
                })
                .collect(),
            bugs: artefacts::bug_names(bugs),
            faultline: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    pub fn read(path: &Path) -> Result<Self, SoakError> {
        let text = std::fs::read_to_string(path).map_err(|e| io_error(path, "read", e))?;
        let file: CampaignFile = serde_json::from_str(&text).map_err(|e| {
            SoakError::Invalid(format!("{}: not a campaign file: {e}", path.display()))
        })?;
        if file.format != CAMPAIGN_FORMAT {
            return Err(SoakError::Invalid(format!(
                "{}: format: expected {CAMPAIGN_FORMAT:?}, found {:?}",
                path.display(),
                file.format
            )));
        }
        Ok(file)
    }

    /// Refuses a restart that asks for another campaign, naming what differs.
    fn same_campaign(&self, asked: &CampaignFile, path: &Path) -> Result<(), SoakError> {
        let mismatch = |field: &'static str, detail: String| SoakError::Mismatch {
            file: path.to_path_buf(),
            field,
            detail,
        };
        let names = |f: &CampaignFile| {
            f.scenarios
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        };
        if names(self) != names(asked) {
            return Err(mismatch(
                "scenarios",
                format!(
                    "it runs {:?}, the command asks for {:?}",
                    names(self),
                    names(asked)
                ),
            ));
        }
        if let Some((was, now)) = self
            .scenarios
            .iter()
            .zip(&asked.scenarios)
            .find(|(a, b)| a.hash != b.hash)
        {
            return Err(mismatch(
                "scenarios",
                format!(
                    "scenario {} changed since the campaign started ({} -> {})",
                    was.name, was.hash, now.hash
                ),
            ));
        }
        if self.bugs != asked.bugs {
            return Err(mismatch(
                "bugs",
                format!(
                    "it runs {:?}, the command asks for {:?}",
                    self.bugs, asked.bugs
                ),
            ));
        }
        if self.seed != asked.seed {
            return Err(mismatch(
                "seed",
                format!(
                    "it starts at seed {}, the command (--start-seed) at {}",
                    self.seed, asked.seed
                ),
            ));
        }
        if self.shard != asked.shard {
            let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "0/1".into());
            return Err(mismatch(
                "shard",
                format!(
                    "it is shard {}, the command asks for {}",
                    show(&self.shard),
                    show(&asked.shard)
                ),
            ));
        }
        Ok(())
    }

    /// The time box's end, if there is one.
    pub fn deadline(&self) -> Result<Option<SystemTime>, SoakError> {
        self.deadline
            .as_deref()
            .map(|d| {
                humantime::parse_rfc3339(d)
                    .map_err(|e| SoakError::Invalid(format!("{CAMPAIGN_FILE}: deadline: {e}")))
            })
            .transpose()
    }
}

/// What to soak and for how long.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    pub dir: PathBuf,
    pub plan: Plan,
    pub bugs: BugSet,
    /// Runs in this shard, counting those done before a restart.
    pub runs: Option<u64>,
    /// The time box, counted from the campaign's first start.
    pub duration: Option<Duration>,
    pub jobs: usize,
    /// Keep every run's folder, not only failing ones.
    pub keep_all: bool,
    pub check: CheckOptions,
}

/// Why a soak stopped issuing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every run of `--runs` is done.
    RunsDone,
    /// The time box ended.
    Deadline,
}

#[derive(Debug, Clone)]
pub struct SoakSummary {
    /// Runs already done when this invocation started.
    pub resumed: usize,
    /// Runs finished by this invocation.
    pub ran: usize,
    /// Over the whole campaign.
    pub total: usize,
    pub failed: usize,
    pub unknown: usize,
    pub stop: Stop,
    /// A torn last line of results.csv cut off at the start (left by a kill).
    pub repaired_results: bool,
}

/// What a finished run hands to the caller (for printing).
pub struct Finished<'a> {
    pub result: &'a RunResult,
    /// The run's folder, when one was written.
    pub folder: Option<&'a Path>,
}

/// The writers; one run's three writes happen under one lock, in order.
struct Sink {
    results: ResultsWriter,
    coverage: CoverageWriter,
    done: BTreeSet<(String, u64)>,
    ran: usize,
}

/// A soak runs at least one scenario, each named once (results are kept
/// per scenario name).
fn check_scenarios(plan: &Plan) -> Result<(), SoakError> {
    if plan.scenarios.is_empty() {
        return Err(SoakError::Invalid(
            "a soak needs at least one scenario".into(),
        ));
    }
    let mut names = BTreeSet::new();
    if let Some(twice) = plan.scenarios.iter().find(|s| !names.insert(&s.name)) {
        return Err(SoakError::Invalid(format!(
            "--scenario: {} is named twice (results are kept per scenario name)",
            twice.name
        )));
    }
    Ok(())
}

/// The campaign this folder holds: the one already started there (which
/// must be the one asked for, to be resumed), or a new one written now.
fn open_campaign(cfg: &SoakConfig) -> Result<CampaignFile, SoakError> {
    let dir = &cfg.dir;
    std::fs::create_dir_all(dir.join(RUNS_DIR)).map_err(|e| io_error(dir, "create", e))?;
    let campaign_path = dir.join(CAMPAIGN_FILE);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "soak".to_string());
    let asked = CampaignFile::new(&name, &cfg.plan, &cfg.bugs, cfg.duration, SystemTime::now());
    if campaign_path.exists() {
        let existing = CampaignFile::read(&campaign_path)?;
        existing.same_campaign(&asked, &campaign_path)?;
        Ok(existing)
    } else {
        write_atomically(&campaign_path, &to_json(&asked))?;
        Ok(asked)
    }
}

/// Runs (or resumes) the campaign in `cfg.dir`.
pub fn soak(
    cfg: &SoakConfig,
    on_run: impl Fn(Finished<'_>) + Sync,
) -> Result<SoakSummary, SoakError> {
    check_scenarios(&cfg.plan)?;
    let dir = &cfg.dir;
    let deadline = open_campaign(cfg)?.deadline()?;

    // results.csv first: it decides what is done.
    let results = ResultsWriter::open(dir.join(RESULTS_FILE))?;
    let repaired_results = results.repaired().is_some();
    let rows = reports::read_results(dir.join(RESULTS_FILE))?;
    let done: BTreeSet<(String, u64)> = rows.iter().map(|r| (r.scenario.clone(), r.seed)).collect();
    let (mut failed, mut unknown) = count_verdicts(&rows);
    let resumed = done.len();
    prune_coverage(&dir.join(COVERAGE_FILE), &done)?;
    let coverage = CoverageWriter::open(dir.join(COVERAGE_FILE))?;

    let opts = RunOptions {
        bugs: cfg.bugs.clone(),
        check: cfg.check.clone(),
        collect_files: false,
    };
    let next = Mutex::new(0u64);
    let stop = Mutex::new(None::<Stop>);
    let sink = Mutex::new(Sink {
        results,
        coverage,
        done,
        ran: 0,
    });
    let error = Mutex::new(None::<SoakError>);
    let new_verdicts = Mutex::new((0usize, 0usize));

    // The next run to start, or None when the soak is over.
    let take = || -> Option<(usize, u64)> {
        let mut j = next.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if cfg.runs.is_some_and(|n| *j >= n) {
                stop.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(Stop::RunsDone);
                return None;
            }
            if deadline.is_some_and(|d| SystemTime::now() >= d) {
                stop.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(Stop::Deadline);
                return None;
            }
            if error.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                return None;
            }
            let (s, seed) = cfg.plan.job(*j);
            *j += 1;
            let key = (cfg.plan.scenarios[s].name.clone(), seed);
            if !sink
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .done
                .contains(&key)
            {
                return Some((s, seed));
            }
        }
    };

    // After an error `take` hands out nothing more.
    crate::workers::run(cfg.jobs, take, |(s, seed)| {
        let scenario = &cfg.plan.scenarios[s];
        let result = engine::run(scenario, seed, &opts);
        let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
        match record(cfg, scenario, &result, &mut sink) {
            Ok(folder) => {
                let mut v = new_verdicts.lock().unwrap_or_else(|e| e.into_inner());
                match result.overall() {
                    Overall::Fail => v.0 += 1,
                    Overall::Unknown => v.1 += 1,
                    Overall::Pass => {}
                }
                on_run(Finished {
                    result: &result,
                    folder: folder.as_deref(),
                });
            }
            Err(e) => {
                error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(e);
            }
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let sink = sink.into_inner().unwrap_or_else(|e| e.into_inner());
    let (new_failed, new_unknown) = new_verdicts.into_inner().unwrap_or_else(|e| e.into_inner());
    failed += new_failed;
    unknown += new_unknown;
    Ok(SoakSummary {
        resumed,
        ran: sink.ran,
        total: sink.done.len(),
        failed,
        unknown,
        stop: stop
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(Stop::RunsDone),
        repaired_results,
    })
}

/// Writes one finished run: its folder (if kept), its coverage row, then
/// its results row, which commits it.
fn record(
    cfg: &SoakConfig,
    scenario: &Scenario,
    result: &RunResult,
    sink: &mut Sink,
) -> Result<Option<PathBuf>, SoakError> {
    let keep = cfg.keep_all || result.overall() != Overall::Pass;
    let folder = if keep {
        let name = reports::run_dir_name(
            &result.scenario,
            result.seed,
            &artefacts::bug_names(&result.bugs),
        );
        let folder = cfg.dir.join(RUNS_DIR).join(name);
        let repro_path = folder.join(reports::artefacts::REPRO_FILE);
        let run = artefacts::run_artefacts(scenario, result, &repro_path.display().to_string());
        reports::write_run(&folder, &run)?;
        Some(folder)
    } else {
        None
    };
    sink.coverage.append(&artefacts::coverage_row(result))?;
    sink.results.append(&artefacts::result_row(result))?;
    sink.done.insert((result.scenario.clone(), result.seed));
    sink.ran += 1;
    Ok(folder)
}

fn count_verdicts(rows: &[ResultRow]) -> (usize, usize) {
    (
        rows.iter().filter(|r| r.is_failure()).count(),
        rows.iter().filter(|r| r.is_unknown()).count(),
    )
}

/// Keeps exactly one coverage row per finished run: rows of runs that were
/// in flight at a kill (no results row) go, and so does a torn last line.
fn prune_coverage(path: &Path, done: &BTreeSet<(String, u64)>) -> Result<(), SoakError> {
    if !path.exists() {
        return Ok(());
    }
    let file = reports::coverage::load_coverage(path)?;
    let mut seen = BTreeSet::new();
    let kept: Vec<_> = file
        .rows
        .iter()
        .filter(|r| {
            let key = (r.scenario.clone(), r.seed);
            done.contains(&key) && seen.insert(key)
        })
        .collect();
    if kept.len() == file.rows.len() && file.torn.is_none() {
        return Ok(());
    }
    let mut text = String::new();
    for row in kept {
        let line = serde_json::to_string(row).map_err(|e| {
            SoakError::Invalid(format!("{}: cannot encode a row: {e}", path.display()))
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    write_atomically(path, &text)
}

fn to_json(file: &CampaignFile) -> String {
    // A CampaignFile holds strings and integers only.
    serde_json::to_string_pretty(file).unwrap_or_default() + "\n"
}

/// Writes a file whole or not at all: temporary file, fsync, rename, fsync
/// of the folder.
fn write_atomically(path: &Path, text: &str) -> Result<(), SoakError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, "create", e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io_error(&tmp, "write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, "rename into place", e))?;
    if let Some(parent) = path.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use std::time::UNIX_EPOCH;

    fn plan(shard: Shard) -> Plan {
        Plan {
            scenarios: vec![
                catalog::load("default").expect("catalog"),
                catalog::load("single-member").expect("catalog"),
            ],
            start_seed: 100,
            shard,
        }
    }

    #[test]
    fn shard_parsing_names_the_problem() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("4/4").unwrap_err().contains("0 <= K < N"));
        assert!(Shard::parse("1-4").unwrap_err().contains("K/N"));
        assert!(Shard::parse("x/4").unwrap_err().contains("K in K/N"));
        assert!(Shard::parse("0/0").is_err());
    }

    #[test]
    fn shards_partition_the_seeds_and_each_covers_every_scenario() {
        let whole = plan(Shard::WHOLE);
        let mut union = BTreeSet::new();
        for k in 0..3 {
            let p = plan(Shard { index: k, count: 3 });
            let jobs: Vec<_> = (0..20).map(|j| p.job(j)).collect();
            assert!(jobs.iter().any(|(s, _)| *s == 0) && jobs.iter().any(|(s, _)| *s == 1));
            for job in jobs {
                assert_eq!((job.1 - 100) % 3, k, "seed {} is not shard {k}'s", job.1);
                assert!(union.insert(job), "{job:?} is in two shards");
            }
        }
        let single: BTreeSet<_> = (0..60).map(|j| whole.job(j)).collect();
        assert_eq!(union, single);
    }

    #[test]
    fn a_restart_with_another_campaign_is_refused() {
        let p = plan(Shard::WHOLE);
        let a = CampaignFile::new("c", &p, &BugSet::none(), None, UNIX_EPOCH);
        let mut other = p.clone();
        other.start_seed = 5;
        let b = CampaignFile::new("c", &other, &BugSet::none(), None, UNIX_EPOCH);
        let err = a
            .same_campaign(&b, Path::new("c/campaign.json"))
            .unwrap_err();
        assert!(err.to_string().contains("seed"), "{err}");
        let mut edited = p.clone();
        edited.scenarios[1].duration_s += 1.0;
        let c = CampaignFile::new("c", &edited, &BugSet::none(), None, UNIX_EPOCH);
        let err = a
            .same_campaign(&c, Path::new("c/campaign.json"))
            .unwrap_err();
        assert!(err.to_string().contains("changed since"), "{err}");
        // The time box is not part of the identity.
        let d = CampaignFile::new(
            "c",
            &p,
            &BugSet::none(),
            Some(Duration::from_secs(60)),
            UNIX_EPOCH,
        );
        assert!(a.same_campaign(&d, Path::new("c/campaign.json")).is_ok());
    }
}
