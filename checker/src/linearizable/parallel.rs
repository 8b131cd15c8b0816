//! Independent partitions searched on worker threads.
//!
//! Worker `w` of `n` takes partitions `w`, `w + n`, `w + 2n`, ... and
//! searches them round-robin in growing slices, so one hard partition does
//! not hide a violation another shows quickly. The answer does not depend
//! on the number of workers or on timing (limits aside): every partition's
//! search is deterministic, and so is the number of iterations it takes to
//! find a violation; the caller reports the violation found in the fewest
//! iterations (the lower partition on a tie). So a worker drops a partition
//! once it has run more iterations than a violation already found took (it
//! could not be the one reported), and only then: a hard partition does not
//! delay a violation another shows quickly.
//!
//! The time limit and the memory bound stay shared: each worker publishes
//! what its runs hold, a run's bound counts everyone's, and a run that hits a
//! limit stops every worker.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::model::{Model, Op};
use super::search::{Run, SearchLimits, SearchOutcome, SearchStats};

/// Iterations of a partition's first slice; each round doubles it.
const FIRST_SLICE: u64 = 1024;

/// What the workers share.
struct Shared {
    /// Per partition, the bytes its run holds now (0 once it is over).
    bytes: Vec<AtomicUsize>,
    /// The violation found first, as (iterations, partition): none beats it
    /// that has run more iterations.
    best_violation: Mutex<Option<(u64, usize)>>,
    /// Some run hit the time limit or the memory bound.
    stopped: AtomicBool,
}

impl Shared {
    fn others_bytes(&self, own: usize) -> usize {
        self.bytes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != own)
            .map(|(_, b)| b.load(Ordering::Relaxed))
            .sum()
    }
}

/// Searches every partition of `parts` (indices into `ops`) on `threads`
/// workers. Per partition its outcome and the iterations it took, or None
/// when it was not searched to the end (a limit stopped it, or another
/// partition's violation was found in fewer iterations); and the counters of
/// all the searches.
pub fn search_parts<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    parts: &[Vec<usize>],
    limits: &SearchLimits,
    threads: usize,
) -> (Vec<Option<(SearchOutcome, u64)>>, SearchStats) {
    let workers = threads.clamp(1, parts.len().max(1));
    let shared = Shared {
        bytes: parts.iter().map(|_| AtomicUsize::new(0)).collect(),
        best_violation: Mutex::new(None),
        stopped: AtomicBool::new(false),
    };
    let mut outcomes: Vec<Option<(SearchOutcome, u64)>> = vec![None; parts.len()];
    let mut stats = SearchStats::default();
    let results: Vec<Done> = if workers == 1 {
        vec![work(model, ops, parts, limits, &shared, 0, 1)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let shared = &shared;
                    scope.spawn(move || work(model, ops, parts, limits, shared, w, workers))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    for (done, worker_stats) in results {
        for (index, outcome, iterations) in done {
            outcomes[index] = Some((outcome, iterations));
        }
        stats.iterations += worker_stats.iterations;
        stats.applied += worker_stats.applied;
        stats.backtracks += worker_stats.backtracks;
        stats.cache_entries += worker_stats.cache_entries;
        stats.peak_bytes = stats.peak_bytes.max(worker_stats.peak_bytes);
    }
    (outcomes, stats)
}

/// What a worker finished: (partition, outcome, iterations), and its counters.
type Done = (Vec<(usize, SearchOutcome, u64)>, SearchStats);

impl Shared {
    /// Whether a run at `iterations` can no longer be the violation reported.
    fn beaten(&self, iterations: u64, index: usize) -> bool {
        let best = *self
            .best_violation
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        best.is_some_and(|best| (iterations, index) > best)
    }

    fn found_violation(&self, iterations: u64, index: usize) {
        let mut best = self
            .best_violation
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if best.is_none_or(|b| (iterations, index) < b) {
            *best = Some((iterations, index));
        }
    }
}

/// One worker: its share of the partitions, round-robin in growing slices.
fn work<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    parts: &[Vec<usize>],
    limits: &SearchLimits,
    shared: &Shared,
    worker: usize,
    workers: usize,
) -> Done {
    let mut stats = SearchStats::default();
    let mut done = Vec::new();
    let mut runs: Vec<(usize, Run<'_, M>)> = (worker..parts.len())
        .step_by(workers)
        .map(|i| (i, Run::new(model, ops, &parts[i])))
        .collect();
    let mut slice = FIRST_SLICE;
    while !runs.is_empty() {
        let mut i = 0;
        while i < runs.len() {
            if shared.stopped.load(Ordering::Relaxed) {
                for (_, run) in &runs {
                    run.finish(&mut stats);
                }
                return (done, stats);
            }
            let (index, run) = &mut runs[i];
            let index = *index;
            if shared.beaten(run.iterations(), index) {
                // A violation was found in fewer iterations: this one cannot
                // be the violation reported.
                shared.bytes[index].store(0, Ordering::Relaxed);
                run.finish(&mut stats);
                runs.swap_remove(i);
                continue;
            }
            let others = shared.others_bytes(index);
            let outcome = run.advance(slice, others, limits, &mut stats);
            shared.bytes[index].store(run.bytes(), Ordering::Relaxed);
            let Some(outcome) = outcome else {
                i += 1;
                continue;
            };
            let iterations = run.iterations();
            run.finish(&mut stats);
            shared.bytes[index].store(0, Ordering::Relaxed);
            runs.swap_remove(i);
            match &outcome {
                SearchOutcome::Linearizable(_) => {}
                SearchOutcome::NotLinearizable(_) => shared.found_violation(iterations, index),
                SearchOutcome::Unknown { .. } => shared.stopped.store(true, Ordering::Relaxed),
            }
            done.push((index, outcome, iterations));
        }
        slice = slice.saturating_mul(2);
    }
    (done, stats)
}
