//! A campaign folder, as `soak` and `explore` keep one: `campaign.json`
//! (what the campaign runs, so a restart runs the same one), `results.csv`
//! (one row per finished run, the commit point), `coverage.jsonl` (what
//! each run exercised) and `runs/` (the folders of failing runs). Written
//! so that a kill at any moment loses nothing finished and repeats
//! nothing (see `soak` for the order of writes).

use super::record::CampaignRun;
use super::target::CampaignTarget;
use crate::artefacts;
use crate::schema::Scenario;
use node::bugs::BugSet;
use reports::{CoverageWriter, ResultRow, ResultsWriter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use reports::dashboard::{CAMPAIGN_FILE, COVERAGE_FILE, RESULTS_FILE, RUNS_DIR};
pub const CAMPAIGN_FORMAT: &str = "faultline-campaign";

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
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
    /// A run could not be done (its runner's words).
    #[error("{0}")]
    Run(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Reports(#[from] reports::ReportsError),
}

pub fn io_error(path: &Path, what: &str, e: std::io::Error) -> CampaignError {
    CampaignError::Io {
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

/// How a campaign chooses its runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every scenario for one seed, then the next seed (`soak`).
    #[default]
    Soak,
    /// Coverage-guided mutants of the scenarios (`explore`).
    Explore,
}

impl Mode {
    fn is_soak(&self) -> bool {
        *self == Mode::Soak
    }

    fn describe(self) -> &'static str {
        match self {
            Mode::Soak => "a soak",
            Mode::Explore => "an exploration",
        }
    }
}

/// What a command asks a campaign folder to hold.
pub struct Asked<'a> {
    /// The folder's name (the campaign's, in the dashboard).
    pub name: &'a str,
    pub mode: Mode,
    pub scenarios: &'a [Scenario],
    /// The first seed (soak) or the explorer's seed.
    pub seed: u64,
    pub shard: Shard,
    pub bugs: &'a BugSet,
    pub target: &'a CampaignTarget,
}

/// The campaign `dir` holds: the one already started there (which must be
/// the one asked for, to be resumed), or a new one written now. Creates
/// the folder and its `runs/`.
pub fn open(
    dir: &Path,
    asked: &Asked<'_>,
    duration: Option<Duration>,
) -> Result<CampaignFile, CampaignError> {
    std::fs::create_dir_all(dir.join(RUNS_DIR)).map_err(|e| io_error(dir, "create", e))?;
    let campaign_path = dir.join(CAMPAIGN_FILE);
    let asked = CampaignFile::new(asked, duration, SystemTime::now());
    if campaign_path.exists() {
        let existing = CampaignFile::read(&campaign_path)?;
        existing.same_campaign(&asked, &campaign_path)?;
        Ok(existing)
    } else {
        write_atomically(&campaign_path, &to_json(&asked))?;
        Ok(asked)
    }
}

/// A campaign runs at least one scenario, each named once (results are
/// kept per scenario name).
pub fn check_scenarios(scenarios: &[Scenario]) -> Result<(), CampaignError> {
    if scenarios.is_empty() {
        return Err(CampaignError::Invalid(
            "a campaign needs at least one scenario".into(),
        ));
    }
    let mut names = BTreeSet::new();
    if let Some(twice) = scenarios.iter().find(|s| !names.insert(&s.name)) {
        return Err(CampaignError::Invalid(format!(
            "--scenario: {} is named twice (results are kept per scenario name)",
            twice.name
        )));
    }
    Ok(())
}

/// The folder's name, for a campaign started there.
pub fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "campaign".to_string())
}

/// One scenario as the campaign knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioEntry {
    pub name: String,
    /// SHA-256 (16 hex digits) of the scenario's TOML: a restart must run
    /// the same scenarios, not ones edited since.
    pub hash: String,
}

/// `campaign.json`. The first four fields and `target`'s kind are what
/// the dashboard reads (`reports::dashboard::CampaignInfo`); the rest pin
/// the campaign down so that a restart runs the same one.
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
    /// A soak (seeds in order) or an exploration (coverage-guided).
    #[serde(default, skip_serializing_if = "Mode::is_soak")]
    pub mode: Mode,
    /// The end of the time box, set at the first start (RFC 3339, UTC).
    #[serde(default)]
    pub deadline: Option<String>,
    pub scenarios: Vec<ScenarioEntry>,
    pub bugs: Vec<String>,
    /// The faultline version that started it.
    #[serde(default)]
    pub faultline: String,
    /// What runs the campaign's runs: absent for the simulation (as in
    /// every file written before real campaigns), else the etcd binaries
    /// and their versions.
    #[serde(default, skip_serializing_if = "CampaignTarget::is_sim")]
    pub target: CampaignTarget,
}

pub fn scenario_hash(s: &Scenario) -> String {
    let digest = Sha256::digest(artefacts::scenario_toml(s).as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl CampaignFile {
    /// The campaign a command asks for, as of `now`.
    pub fn new(asked: &Asked<'_>, duration: Option<Duration>, now: SystemTime) -> Self {
        CampaignFile {
            name: asked.name.to_string(),
            started: rfc3339(now),
            seed: asked.seed,
            shard: (asked.shard != Shard::WHOLE)
                .then(|| format!("{}/{}", asked.shard.index, asked.shard.count)),
            format: CAMPAIGN_FORMAT.to_string(),
            version: 1,
            mode: asked.mode,
            deadline: duration.map(|d| rfc3339(now + d)),
            scenarios: asked
                .scenarios
                .iter()
                .map(|s| ScenarioEntry {
                    name: s.name.clone(),
                    hash: scenario_hash(s),
                })
                .collect(),
            bugs: artefacts::bug_names(asked.bugs),
            faultline: env!("CARGO_PKG_VERSION").to_string(),
            target: asked.target.clone(),
        }
    }

    pub fn read(path: &Path) -> Result<Self, CampaignError> {
        let text = std::fs::read_to_string(path).map_err(|e| io_error(path, "read", e))?;
        let file: CampaignFile = serde_json::from_str(&text).map_err(|e| {
            CampaignError::Invalid(format!("{}: not a campaign file: {e}", path.display()))
        })?;
        if file.format != CAMPAIGN_FORMAT {
            return Err(CampaignError::Invalid(format!(
                "{}: format: expected {CAMPAIGN_FORMAT:?}, found {:?}",
                path.display(),
                file.format
            )));
        }
        Ok(file)
    }

    /// Refuses a restart that asks for another campaign, naming what differs.
    pub fn same_campaign(&self, asked: &CampaignFile, path: &Path) -> Result<(), CampaignError> {
        let mismatch = |field: &'static str, detail: String| CampaignError::Mismatch {
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
        if !self.target.same_as(&asked.target) {
            return Err(mismatch(
                "target",
                format!(
                    "it runs on {}, the command asks for {}",
                    self.target.describe(),
                    asked.target.describe()
                ),
            ));
        }
        if self.mode != asked.mode {
            return Err(mismatch(
                "mode",
                format!(
                    "it is {}, the command asks for {}",
                    self.mode.describe(),
                    asked.mode.describe()
                ),
            ));
        }
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
    pub fn deadline(&self) -> Result<Option<SystemTime>, CampaignError> {
        self.deadline
            .as_deref()
            .map(|d| {
                humantime::parse_rfc3339(d)
                    .map_err(|e| CampaignError::Invalid(format!("{CAMPAIGN_FILE}: deadline: {e}")))
            })
            .transpose()
    }
}

/// The campaign's two row files and the runs they hold; one run's writes
/// happen under one lock, in order.
pub struct Sink {
    results: ResultsWriter,
    coverage: CoverageWriter,
    /// (scenario, seed) of every run with a results row.
    pub done: BTreeSet<(String, u64)>,
    /// Verdicts of the runs done before this start: (failed, unknown).
    pub resumed_verdicts: (usize, usize),
    /// A torn last line was cut off results.csv (left by a kill).
    pub repaired_results: bool,
}

impl Sink {
    /// Opens `results.csv` (it decides what is done), then keeps exactly
    /// one coverage row per done run and opens `coverage.jsonl`.
    pub fn open(dir: &Path) -> Result<Sink, CampaignError> {
        let results = ResultsWriter::open(dir.join(RESULTS_FILE))?;
        let repaired_results = results.repaired().is_some();
        let rows = reports::read_results(dir.join(RESULTS_FILE))?;
        let done: BTreeSet<(String, u64)> =
            rows.iter().map(|r| (r.scenario.clone(), r.seed)).collect();
        prune_coverage(&dir.join(COVERAGE_FILE), &done)?;
        let coverage = CoverageWriter::open(dir.join(COVERAGE_FILE))?;
        Ok(Sink {
            results,
            coverage,
            done,
            resumed_verdicts: count_verdicts(&rows),
            repaired_results,
        })
    }

    /// Writes one finished run: its folder (when `keep` and the run has
    /// one), its coverage row, then its results row, which commits it.
    /// Returns the folder.
    pub fn record(
        &mut self,
        dir: &Path,
        scenario: &Scenario,
        run: &impl CampaignRun,
        keep: bool,
    ) -> Result<Option<PathBuf>, CampaignError> {
        let row = run.result_row();
        // Named from the row, as the dashboard finds it.
        let folder = dir.join(RUNS_DIR).join(reports::run_dir_name(
            &row.scenario,
            row.seed,
            &row.bug_list(),
        ));
        let written = keep && run.write_folder(scenario, &folder)?;
        self.coverage.append(&run.coverage_row())?;
        self.results.append(&row)?;
        self.done.insert((row.scenario, row.seed));
        Ok(written.then_some(folder))
    }
}

pub fn count_verdicts(rows: &[ResultRow]) -> (usize, usize) {
    (
        rows.iter().filter(|r| r.is_failure()).count(),
        rows.iter().filter(|r| r.is_unknown()).count(),
    )
}

/// Keeps exactly one coverage row per finished run: rows of runs that were
/// in flight at a kill (no results row) go, and so does a torn last line.
pub fn prune_coverage(path: &Path, done: &BTreeSet<(String, u64)>) -> Result<(), CampaignError> {
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
            CampaignError::Invalid(format!("{}: cannot encode a row: {e}", path.display()))
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    write_atomically(path, &text)
}

pub fn to_json(file: &CampaignFile) -> String {
    // A CampaignFile holds strings and integers only.
    serde_json::to_string_pretty(file).unwrap_or_default() + "\n"
}

/// Writes a file whole or not at all: temporary file, fsync, rename, fsync
/// of the folder.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), CampaignError> {
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

    #[test]
    fn shard_parsing_names_the_problem() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("4/4").unwrap_err().contains("0 <= K < N"));
        assert!(Shard::parse("1-4").unwrap_err().contains("K/N"));
        assert!(Shard::parse("x/4").unwrap_err().contains("K in K/N"));
        assert!(Shard::parse("0/0").is_err());
    }

    #[test]
    fn a_restart_with_another_campaign_is_refused() {
        let scenarios = vec![
            catalog::load("default").expect("catalog"),
            catalog::load("single-member").expect("catalog"),
        ];
        let none = BugSet::none();
        let asked = |scenarios: &[Scenario], seed: u64, mode: Mode, duration: Option<Duration>| {
            let asked = Asked {
                name: "c",
                mode,
                scenarios,
                seed,
                shard: Shard::WHOLE,
                bugs: &none,
                target: &CampaignTarget::Sim,
            };
            CampaignFile::new(&asked, duration, UNIX_EPOCH)
        };
        let path = Path::new("c/campaign.json");
        let a = asked(&scenarios, 100, Mode::Soak, None);
        let err = a
            .same_campaign(&asked(&scenarios, 5, Mode::Soak, None), path)
            .unwrap_err();
        assert!(err.to_string().contains("seed"), "{err}");
        let mut edited = scenarios.clone();
        edited[1].duration_s += 1.0;
        let err = a
            .same_campaign(&asked(&edited, 100, Mode::Soak, None), path)
            .unwrap_err();
        assert!(err.to_string().contains("changed since"), "{err}");
        let err = a
            .same_campaign(&asked(&scenarios, 100, Mode::Explore, None), path)
            .unwrap_err();
        assert!(err.to_string().contains("mode: the folder holds another campaign (it is a soak, the command asks for an exploration)"), "{err}");
        // The time box is not part of the identity.
        let d = asked(&scenarios, 100, Mode::Soak, Some(Duration::from_secs(60)));
        assert!(a.same_campaign(&d, path).is_ok());
    }

    #[test]
    fn a_soak_campaign_file_reads_as_before_and_an_exploration_says_so() {
        let none = BugSet::none();
        let scenarios = vec![catalog::load("default").expect("catalog")];
        let mut asked = Asked {
            name: "c",
            mode: Mode::Soak,
            scenarios: &scenarios,
            seed: 1,
            shard: Shard::WHOLE,
            bugs: &none,
            target: &CampaignTarget::Sim,
        };
        let soak = to_json(&CampaignFile::new(&asked, None, UNIX_EPOCH));
        assert!(
            !soak.contains("mode"),
            "soak folders keep their old layout: {soak}"
        );
        asked.mode = Mode::Explore;
        let explore = to_json(&CampaignFile::new(&asked, None, UNIX_EPOCH));
        assert!(explore.contains("\"mode\": \"explore\""), "{explore}");
    }

    /// A campaign.json as written before campaigns recorded their target.
    const OLD_FILE: &str = r#"{
  "name": "nightly",
  "started": "2026-01-01T00:00:00Z",
  "seed": 0,
  "shard": null,
  "format": "faultline-campaign",
  "version": 1,
  "deadline": null,
  "scenarios": [{"name": "default", "hash": "0123456789abcdef"}],
  "bugs": [],
  "faultline": "0.1.0"
}"#;

    fn etcd(version: &str) -> CampaignTarget {
        CampaignTarget::Etcd(crate::soak::target::EtcdBinaries {
            binary: "/usr/bin/etcd".into(),
            version: version.into(),
            old: None,
        })
    }

    #[test]
    fn a_file_without_a_target_reads_as_a_simulated_campaign() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(CAMPAIGN_FILE);
        std::fs::write(&path, OLD_FILE).expect("write");
        let file = CampaignFile::read(&path).expect("an old file reads");
        assert_eq!(file.target, CampaignTarget::Sim);
        // And a simulated campaign still writes no target field.
        assert!(!to_json(&file).contains("target"), "{}", to_json(&file));
    }

    #[test]
    fn a_restart_on_another_target_or_etcd_version_is_refused() {
        let scenarios = vec![catalog::load("default").expect("catalog")];
        let none = BugSet::none();
        let file = |target: &CampaignTarget| {
            let asked = Asked {
                name: "c",
                mode: Mode::Soak,
                scenarios: &scenarios,
                seed: 0,
                shard: Shard::WHOLE,
                bugs: &none,
                target,
            };
            CampaignFile::new(&asked, None, UNIX_EPOCH)
        };
        let path = Path::new("c/campaign.json");
        let sim = file(&CampaignTarget::Sim);
        let real = file(&etcd("3.4.23"));
        let err = sim.same_campaign(&real, path).unwrap_err().to_string();
        assert_eq!(
            err,
            "c/campaign.json: target: the folder holds another campaign (it runs on the simulation, \
the command asks for etcd 3.4.23 (/usr/bin/etcd)); use a new --out or the campaign's own arguments"
        );
        let err = real.same_campaign(&sim, path).unwrap_err().to_string();
        assert!(err.contains("target: "), "{err}");
        let err = real
            .same_campaign(&file(&etcd("3.5.0")), path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("it runs on etcd 3.4.23"), "{err}");
        assert!(real.same_campaign(&file(&etcd("3.4.23")), path).is_ok());
        // The real target survives the file.
        let back: CampaignFile = serde_json::from_str(&to_json(&real)).expect("reads back");
        assert_eq!(back.target, etcd("3.4.23"));
    }
}
