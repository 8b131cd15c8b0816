//! Running many (scenario, seed) runs on a pool of worker threads, each
//! run on its own fresh thread, optionally twice to check determinism.

use crate::engine::{self, RunOptions, RunResult};
use crate::schema::Scenario;
use checker::Overall;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone)]
pub struct Job {
    pub scenario: Scenario,
    pub seed: u64,
}

/// A finished run, with the determinism check's second hash if asked.
pub struct Outcome {
    pub result: RunResult,
    /// The trace hash of the replay, when determinism was checked.
    pub replay_hash: Option<String>,
}

impl Outcome {
    pub fn deterministic(&self) -> bool {
        self.replay_hash
            .as_ref()
            .is_none_or(|h| *h == self.result.trace_hash)
    }
}

/// How a set of runs ended, counted: all `run_all` keeps of them. A run's
/// result (its history and trace, megabytes each) is dropped as soon as
/// `on_done` has seen it, so a long `run --seeds` holds one run at a time
/// per worker instead of growing with every run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub unknown: usize,
    /// Runs whose replay gave another trace hash.
    pub nondeterministic: usize,
}

impl Tally {
    fn count(&mut self, outcome: &Outcome) {
        match outcome.result.overall() {
            Overall::Pass => self.passed += 1,
            Overall::Fail => self.failed += 1,
            Overall::Unknown => self.unknown += 1,
        }
        if !outcome.deterministic() {
            self.nondeterministic += 1;
        }
    }

    pub fn runs(&self) -> usize {
        self.passed + self.failed + self.unknown
    }
}

/// Runs every job, `parallelism` at a time; `on_done` sees each outcome as
/// it finishes (from worker threads, one at a time).
pub fn run_all(
    jobs: Vec<Job>,
    parallelism: usize,
    opts: &RunOptions,
    check_determinism: bool,
    on_done: impl Fn(&Outcome) + Sync,
) -> Tally {
    let next = AtomicUsize::new(0);
    // One lock for reporting and counting, so lines come out whole.
    let tally = Mutex::new(Tally::default());
    let workers = parallelism.clamp(1, jobs.len().max(1));
    crate::workers::run(
        workers,
        || {
            let i = next.fetch_add(1, Ordering::Relaxed);
            jobs.get(i)
        },
        |job| {
            let result = engine::run(&job.scenario, job.seed, opts);
            let replay_hash =
                check_determinism.then(|| engine::run(&job.scenario, job.seed, opts).trace_hash);
            let outcome = Outcome {
                result,
                replay_hash,
            };
            let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
            on_done(&outcome);
            tally.count(&outcome);
        },
    );
    tally.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn run_all_counts_every_run_and_reports_each_once() {
        let scenario = crate::catalog::load("default").expect("the catalog's default scenario");
        let jobs: Vec<Job> = (0..3)
            .map(|seed| Job {
                scenario: scenario.clone(),
                seed,
            })
            .collect();
        let reported = AtomicUsize::new(0);
        let tally = run_all(jobs, 2, &RunOptions::default(), true, |_| {
            reported.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(reported.into_inner(), 3);
        assert_eq!(tally.runs(), 3);
        assert_eq!(tally.passed, 3, "{tally:?}");
        assert_eq!(tally.nondeterministic, 0);
    }
}
