//! Running many (scenario, seed) runs on a pool of worker threads, each
//! run on its own fresh thread, optionally twice to check determinism.

use crate::engine::{self, RunOptions, RunResult};
use crate::schema::Scenario;
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

/// Runs every job, `parallelism` at a time; `on_done` sees each outcome as
/// it finishes (from worker threads, one at a time).
pub fn run_all(
    jobs: Vec<Job>,
    parallelism: usize,
    opts: &RunOptions,
    check_determinism: bool,
    on_done: impl Fn(&Outcome) + Sync,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let report = Mutex::new(());
    let workers = parallelism.clamp(1, jobs.len().max(1));
    crate::workers::run(
        workers,
        || {
            let i = next.fetch_add(1, Ordering::Relaxed);
            jobs.get(i).map(|job| (i, job))
        },
        |(i, job)| {
            let result = engine::run(&job.scenario, job.seed, opts);
            let replay_hash =
                check_determinism.then(|| engine::run(&job.scenario, job.seed, opts).trace_hash);
            let outcome = Outcome {
                result,
                replay_hash,
            };
            {
                let _guard = report.lock().unwrap_or_else(|e| e.into_inner());
                on_done(&outcome);
            }
            done.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((i, outcome));
        },
    );
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, o)| o).collect()
}
