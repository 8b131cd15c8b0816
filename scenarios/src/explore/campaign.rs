//! An exploration as a campaign folder: `soak`'s folder (campaign.json,
//! results.csv, coverage.jsonl, runs/) plus `explore.jsonl`, the runs in
//! run order as they were merged into the corpus, and `corpus/`, a repro
//! file for every run the corpus kept (scenario text and seed:
//! `faultline replay corpus/000040.toml` runs it again).
//!
//! `explore.jsonl` is the commit point. Each merged run writes, in order,
//! its run folder (failing runs), coverage row and results row, its corpus
//! repro (kept runs), then its explore row. Killed at any moment and
//! started again with the same command, the explorer replays the rows into
//! its corpus without running them, checking that it makes the same runs,
//! and goes on from the first run without a row: a run whose results row
//! was written just before the kill is not written twice.

use super::drive::{Steer, drive};
use super::feature::{self, Feature};
use super::{Explorer, MergedRun, Outcome};
use crate::artefacts;
use crate::engine::{self, RunOptions, RunResult};
use crate::schema::Scenario;
use crate::soak::Stop;
use crate::soak::folder::{self, Asked, CampaignError, Mode, Shard, Sink};
use checker::{CheckOptions, Overall};
use node::bugs::BugSet;
use reports::{EXPLORE_FILE, ExploreRow, ExploreWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The folder of the corpus's repro files.
pub const CORPUS_DIR: &str = "corpus";

/// What to explore and for how long.
#[derive(Debug, Clone)]
pub struct ExploreConfig {
    pub dir: PathBuf,
    /// The explorer's own seed (every candidate and run seed derives from it).
    pub seed: u64,
    pub shard: Shard,
    /// The scenarios it starts from and mutates.
    pub bases: Vec<Scenario>,
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

#[derive(Debug, Clone)]
pub struct ExploreSummary {
    /// Runs replayed from explore.jsonl at the start.
    pub resumed: usize,
    /// Runs made and merged by this invocation.
    pub ran: usize,
    pub failed: usize,
    pub unknown: usize,
    pub corpus_size: usize,
    pub features_seen: usize,
    pub stop: Stop,
    /// A torn last line was cut off explore.jsonl or results.csv.
    pub repaired: bool,
}

/// A merged run, handed to the caller (for printing).
pub struct Merged<'a> {
    pub result: &'a RunResult,
    pub row: &'a ExploreRow,
    /// The run's folder, when one was written.
    pub folder: Option<&'a Path>,
}

fn invalid(message: String) -> CampaignError {
    CampaignError::Invalid(message)
}

/// Runs (or resumes) the exploration in `cfg.dir`.
pub fn explore(
    cfg: &ExploreConfig,
    on_run: impl Fn(Merged<'_>) + Sync,
) -> Result<ExploreSummary, CampaignError> {
    folder::check_scenarios(&cfg.bases)?;
    let asked = Asked {
        name: &folder::folder_name(&cfg.dir),
        mode: Mode::Explore,
        scenarios: &cfg.bases,
        seed: cfg.seed,
        shard: cfg.shard,
        bugs: &cfg.bugs,
        target: &crate::soak::CampaignTarget::Sim,
    };
    let deadline = folder::open(&cfg.dir, &asked, cfg.duration)?.deadline()?;
    std::fs::create_dir_all(cfg.dir.join(CORPUS_DIR))
        .map_err(|e| folder::io_error(&cfg.dir, "create corpus/ in", e))?;
    let sink = Sink::open(&cfg.dir)?;
    let log_path = cfg.dir.join(EXPLORE_FILE);
    let writer = ExploreWriter::open(&log_path)?;
    let repaired = writer.repaired().is_some() || sink.repaired_results;
    let rows = reports::read_explore(&log_path)?;
    let mut explorer = Explorer::new(cfg.seed, cfg.shard.index, cfg.bases.clone(), cfg.runs);
    let resumed = replay(&mut explorer, &rows, cfg.runs)?;
    let verdicts = rows
        .iter()
        .take(resumed)
        .fold((0, 0), |(f, u), r| match r.verdict {
            Overall::Fail => (f + 1, u),
            Overall::Unknown => (f, u + 1),
            Overall::Pass => (f, u),
        });
    let opts = RunOptions {
        bugs: cfg.bugs.clone(),
        check: cfg.check.clone(),
        collect_files: false,
    };
    let state = State {
        cfg,
        on_run: &on_run,
        sink,
        writer,
        deadline,
        stop: None,
        error: None,
        ran: 0,
        verdicts,
    };
    let (explorer, st) = drive(explorer, cfg.jobs, state, |c| {
        engine::run(&c.scenario, c.seed, &opts)
    });
    if let Some(e) = st.error {
        return Err(e);
    }
    Ok(ExploreSummary {
        resumed,
        ran: st.ran,
        failed: st.verdicts.0,
        unknown: st.verdicts.1,
        corpus_size: explorer.corpus().entries().len(),
        features_seen: explorer.corpus().features_seen(),
        stop: st.stop.unwrap_or(Stop::RunsDone),
        repaired,
    })
}

/// Feeds the logged runs back into a fresh explorer, in order, checking
/// that it makes each of them again; returns how many it replayed.
fn replay(
    explorer: &mut Explorer,
    rows: &[ExploreRow],
    limit: Option<u64>,
) -> Result<usize, CampaignError> {
    let rows = &rows[..rows.len().min(limit.map_or(usize::MAX, |n| n as usize))];
    for row in rows {
        let candidate = explorer
            .hand_out()
            .ok_or_else(|| invalid(format!("{EXPLORE_FILE}: run {}: no such run", row.run)))?;
        if candidate.seed != row.seed
            || folder::scenario_hash(&candidate.scenario) != row.scenario_hash
        {
            return Err(invalid(format!(
                "{EXPLORE_FILE}: run {}: this faultline makes another run than the one logged (seed {} / scenario {} here, seed {} / scenario {} there); explore into a new --out",
                row.run,
                candidate.seed,
                folder::scenario_hash(&candidate.scenario),
                row.seed,
                row.scenario_hash
            )));
        }
        let features = row
            .features
            .iter()
            .map(|f| f.parse::<Feature>())
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(format!("{EXPLORE_FILE}: run {}: features: {e}", row.run)))?;
        explorer.complete(
            candidate.run,
            Outcome {
                features,
                cost: row.ops,
            },
        );
    }
    Ok(rows.len())
}

/// The exploration's state while runs go on.
struct State<'a, F> {
    cfg: &'a ExploreConfig,
    on_run: &'a F,
    sink: Sink,
    writer: ExploreWriter,
    deadline: Option<SystemTime>,
    stop: Option<Stop>,
    error: Option<CampaignError>,
    ran: usize,
    /// Failed and unknown runs, resumed ones included.
    verdicts: (usize, usize),
}

impl<F: Fn(Merged<'_>)> Steer for State<'_, F> {
    /// No more runs once the time box is over or an error stopped the
    /// exploration (the runs out still finish and are written).
    fn go_on(&mut self) -> bool {
        if self.deadline.is_some_and(|d| SystemTime::now() >= d) {
            self.stop.get_or_insert(Stop::Deadline);
        }
        self.stop.is_none() && self.error.is_none()
    }

    /// Writes a merged run (folder, rows, corpus repro, then its explore
    /// row) and hands it to `on_run`; an error stops the exploration.
    fn merged(&mut self, run: MergedRun, result: RunResult) {
        if self.error.is_some() {
            return;
        }
        match self.write(&run, &result) {
            Ok((row, folder)) => {
                self.ran += 1;
                match result.overall() {
                    Overall::Fail => self.verdicts.0 += 1,
                    Overall::Unknown => self.verdicts.1 += 1,
                    Overall::Pass => {}
                }
                (self.on_run)(Merged {
                    result: &result,
                    row: &row,
                    folder: folder.as_deref(),
                });
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }
}

impl<F> State<'_, F> {
    fn write(
        &mut self,
        run: &MergedRun,
        result: &RunResult,
    ) -> Result<(ExploreRow, Option<PathBuf>), CampaignError> {
        let cfg = self.cfg;
        let c = &run.candidate;
        let keep = cfg.keep_all || result.overall() != Overall::Pass;
        // Written just before a kill: its rows are there already.
        let folder = if self
            .sink
            .done
            .contains(&(result.scenario.clone(), result.seed))
        {
            None
        } else {
            self.sink.record(&cfg.dir, &c.scenario, result, keep)?
        };
        if run.merged.kept {
            let path = cfg.dir.join(CORPUS_DIR).join(format!("{:06}.toml", c.run));
            let text = artefacts::repro_of(&c.scenario, result).to_toml(&path)?;
            folder::write_atomically(&path, &text)?;
        }
        let row = row_of(run, result);
        self.writer.append(&row)?;
        Ok((row, folder))
    }
}

/// The explore row of a merged run.
fn row_of(run: &MergedRun, result: &RunResult) -> ExploreRow {
    let c = &run.candidate;
    ExploreRow {
        run: c.run,
        scenario: c.scenario.name.clone(),
        seed: c.seed,
        scenario_hash: folder::scenario_hash(&c.scenario),
        parent: c.parent,
        mutations: c.mutations.clone(),
        verdict: result.overall(),
        failed_rules: result.failed_rules(),
        ops: result.stats.ops as u64,
        features: feature::of_run(result)
            .iter()
            .map(|f| f.to_string())
            .collect(),
        new_features: run
            .merged
            .new_features
            .iter()
            .map(|f| f.to_string())
            .collect(),
        kept: run.merged.kept,
        corpus_size: run.corpus_size as u64,
        features_seen: run.features_seen as u64,
    }
}
