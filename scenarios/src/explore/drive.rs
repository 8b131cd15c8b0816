//! Running an explorer's candidates on the worker pool: workers take the
//! next candidate (waiting while every candidate the corpus allows is
//! running), run it, and hand the outcome back; merged runs come out in
//! run order, one at a time. The campaign and the explore hunt share it.

use super::{Candidate, Explorer, MergedRun, Outcome};
use crate::engine::RunResult;
use parking_lot::{Condvar, Mutex};
use std::collections::BTreeMap;

/// What the caller decides as runs go on.
pub trait Steer {
    /// Whether to hand out another run (false: time box over, bug found,
    /// an error); runs already out still finish and merge.
    fn go_on(&mut self) -> bool;

    /// A run merged into the corpus, in run order, with its result.
    fn merged(&mut self, run: MergedRun, result: RunResult);
}

struct Shared<S> {
    explorer: Explorer,
    /// Finished runs waiting for an earlier one to merge.
    pending: BTreeMap<u64, RunResult>,
    steer: S,
}

/// Runs candidates on `jobs` workers until the explorer's limit is merged
/// or `steer` says stop; returns the explorer and the steer.
pub fn drive<S: Steer + Send>(
    explorer: Explorer,
    jobs: usize,
    steer: S,
    run: impl Fn(&Candidate) -> RunResult + Sync,
) -> (Explorer, S) {
    let shared = Mutex::new(Shared {
        explorer,
        pending: BTreeMap::new(),
        steer,
    });
    let merged = Condvar::new();
    let take = || {
        let mut sh = shared.lock();
        loop {
            if !sh.steer.go_on() {
                return None;
            }
            if let Some(c) = sh.explorer.hand_out() {
                return Some(c);
            }
            if sh.explorer.finished() {
                return None;
            }
            // Every candidate the corpus allows is out: a merge makes the next.
            merged.wait(&mut sh);
        }
    };
    crate::workers::run(jobs, take, |candidate: Candidate| {
        let result = run(&candidate);
        let outcome = Outcome::of_run(&result);
        let mut sh = shared.lock();
        sh.pending.insert(candidate.run, result);
        for m in sh.explorer.complete(candidate.run, outcome) {
            if let Some(result) = sh.pending.remove(&m.candidate.run) {
                sh.steer.merged(m, result);
            }
        }
        merged.notify_all();
    });
    let sh = shared.into_inner();
    (sh.explorer, sh.steer)
}
