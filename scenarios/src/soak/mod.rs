//! Soak campaigns: an open-ended, crash-safe run of many seeds over many
//! scenarios, resumable with the same command and shardable over machines.
//!
//! A campaign folder holds:
//! - `campaign.json`: what the campaign runs (scenarios with a hash of each,
//!   bugs, first seed, shard, and what runs them: the simulation or real
//!   etcd of one version) and its time box. A restart must ask for the
//!   same campaign, or it is refused.
//! - `results.csv`: one row per finished run, fsynced as it is written. It
//!   is the commit point: a run is done once, and only once, its row is there.
//! - `coverage.jsonl`: what each finished run exercised.
//! - `runs/<scenario>-<seed>[-<bugs>]/`: the folder of every failing run
//!   (every run with `keep_all`).
//!
//! Whatever runs the runs (a [`Runner`]: the simulation, or `soak --target
//! etcd`'s real clusters) hands back a [`CampaignRun`], which the folder
//! records the same way. Each run writes its folder, then its coverage
//! row, then its results row.
//! Killed at any moment (SIGKILL included) and started again, a soak drops
//! coverage rows without a results row, keeps every finished run, and
//! reruns only the runs that were in flight: nothing lost, nothing repeated.
//!
//! The shard K of N runs, for every catalog scenario, the seeds
//! `start + K`, `start + K + N`, `start + K + 2N`, ...: shards never overlap,
//! together they cover the same seeds one machine would, and each shard
//! covers every scenario however long it runs.

pub mod folder;
pub mod record;
pub mod target;

use crate::engine::{RunOptions, RunResult};
use crate::schema::Scenario;
use checker::{CheckOptions, Overall};
use folder::{Asked, Mode, Sink};
use node::bugs::BugSet;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use folder::{
    CAMPAIGN_FILE, CAMPAIGN_FORMAT, COVERAGE_FILE, CampaignError, CampaignFile, RESULTS_FILE,
    RUNS_DIR, ScenarioEntry, Shard, scenario_hash,
};
pub use record::{CampaignRun, Runner, Simulation};
pub use target::{CampaignTarget, EtcdBinaries, OldEtcd};

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
    /// What runs the runs (recorded in campaign.json).
    pub target: CampaignTarget,
}

/// Why a soak stopped issuing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every run of `--runs` is done.
    RunsDone,
    /// The time box ended.
    Deadline,
    /// A run was interrupted (Ctrl-C); the runs in flight were not recorded.
    Interrupted,
}

impl Stop {
    /// For the summary line.
    pub fn describe(self) -> &'static str {
        match self {
            Stop::RunsDone => "every run done",
            Stop::Deadline => "time box over",
            Stop::Interrupted => "interrupted",
        }
    }
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
pub struct Finished<'a, R> {
    pub result: &'a R,
    /// The run's folder, when one was written.
    pub folder: Option<&'a Path>,
}

/// The soak's shared state while runs go on.
struct Progress<'a> {
    cfg: &'a SoakConfig,
    deadline: Option<SystemTime>,
    /// The shard's next job number.
    next: u64,
    stop: Option<Stop>,
    error: Option<CampaignError>,
    sink: Sink,
    ran: usize,
    /// Failed and unknown runs of this invocation.
    new_verdicts: (usize, usize),
}

impl Progress<'_> {
    /// The next run to start, or None when the soak is over (runs done,
    /// time box over, or an error).
    fn take(&mut self) -> Option<(usize, u64)> {
        loop {
            if self.stop == Some(Stop::Interrupted) {
                return None;
            }
            if self.cfg.runs.is_some_and(|n| self.next >= n) {
                self.stop.get_or_insert(Stop::RunsDone);
                return None;
            }
            if self.deadline.is_some_and(|d| SystemTime::now() >= d) {
                self.stop.get_or_insert(Stop::Deadline);
                return None;
            }
            if self.error.is_some() {
                return None;
            }
            let (s, seed) = self.cfg.plan.job(self.next);
            self.next += 1;
            let key = (self.cfg.plan.scenarios[s].name.clone(), seed);
            if !self.sink.done.contains(&key) {
                return Some((s, seed));
            }
        }
    }

    /// Records a finished run and hands it to `on_run`; an error stops the
    /// soak (no run is handed out after it).
    fn finish<R: CampaignRun>(
        &mut self,
        scenario: &Scenario,
        result: &R,
        on_run: impl Fn(Finished<'_, R>),
    ) {
        let overall = result.result_row().verdict;
        let keep = self.cfg.keep_all || overall != Overall::Pass;
        match self.sink.record(&self.cfg.dir, scenario, result, keep) {
            Ok(folder) => {
                self.ran += 1;
                match overall {
                    Overall::Fail => self.new_verdicts.0 += 1,
                    Overall::Unknown => self.new_verdicts.1 += 1,
                    Overall::Pass => {}
                }
                on_run(Finished {
                    result,
                    folder: folder.as_deref(),
                });
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    fn summary(self, resumed: usize) -> Result<SoakSummary, CampaignError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let (failed, unknown) = self.sink.resumed_verdicts;
        Ok(SoakSummary {
            resumed,
            ran: self.ran,
            total: self.sink.done.len(),
            failed: failed + self.new_verdicts.0,
            unknown: unknown + self.new_verdicts.1,
            stop: self.stop.unwrap_or(Stop::RunsDone),
            repaired_results: self.sink.repaired_results,
        })
    }
}

/// Runs (or resumes) the simulated campaign in `cfg.dir`.
pub fn soak(
    cfg: &SoakConfig,
    on_run: impl Fn(Finished<'_, RunResult>) + Sync,
) -> Result<SoakSummary, CampaignError> {
    let simulation = Simulation {
        opts: RunOptions {
            bugs: cfg.bugs.clone(),
            check: cfg.check.clone(),
            collect_files: false,
        },
    };
    soak_with(cfg, &simulation, on_run)
}

/// Runs (or resumes) the campaign in `cfg.dir`, each run by `runner`.
pub fn soak_with<R: Runner>(
    cfg: &SoakConfig,
    runner: &R,
    on_run: impl Fn(Finished<'_, R::Run>) + Sync,
) -> Result<SoakSummary, CampaignError> {
    folder::check_scenarios(&cfg.plan.scenarios)?;
    let asked = Asked {
        name: &folder::folder_name(&cfg.dir),
        mode: Mode::Soak,
        scenarios: &cfg.plan.scenarios,
        seed: cfg.plan.start_seed,
        shard: cfg.plan.shard,
        bugs: &cfg.bugs,
        target: &cfg.target,
    };
    let deadline = folder::open(&cfg.dir, &asked, cfg.duration)?.deadline()?;
    // results.csv first: it decides what is done.
    let sink = Sink::open(&cfg.dir)?;
    let resumed = sink.done.len();
    let progress = Mutex::new(Progress {
        cfg,
        deadline,
        next: 0,
        stop: None,
        error: None,
        sink,
        ran: 0,
        new_verdicts: (0, 0),
    });
    crate::workers::run(
        cfg.jobs,
        || progress.lock().take(),
        |(s, seed)| {
            let scenario = &cfg.plan.scenarios[s];
            match runner.run(scenario, seed) {
                Ok(Some(result)) => progress.lock().finish(scenario, &result, &on_run),
                Ok(None) => {
                    progress.lock().stop = Some(Stop::Interrupted);
                }
                Err(e) => {
                    progress.lock().error.get_or_insert(e);
                }
            }
        },
    );
    progress.into_inner().summary(resumed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use std::collections::BTreeSet;

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
}
