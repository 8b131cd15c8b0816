//! Independent partitions searched on worker threads.
//!
//! Partitions are searched round-robin in growing slices, so one hard
//! partition does not hide a violation another shows quickly. The answer
//! does not depend on the number of workers or on timing (limits aside):
//! every partition's search is deterministic, and so is the number of
//! iterations it takes to find a violation; the caller reports the
//! violation found in the fewest iterations (the lower partition on a tie).
//! So a partition is searched no further than the iterations that could
//! still beat a violation already found, and dropped there: a hard partition
//! does not delay a violation another shows quickly, nor does an easy one
//! search on past it (searching on, whole 1024-iteration slices, made
//! porcupine's c50-bad take 3,808 iterations and 5 to 6 ms instead of 533
//! and about 1 ms).
//!
//! The calling thread searches every partition first, up to
//! [`INLINE_BUDGET`] iterations in all: most histories are decided before
//! a thread would even be scheduled. What is left undecided then goes to
//! the workers and is searched anew: worker `w` of `n` takes the left
//! partitions `w`, `w + n`, `w + 2n`, ...
//!
//! The time limit and the memory bound stay shared: each worker publishes
//! what its runs hold, a run's bound counts everyone's, and a run that hits a
//! limit stops every worker.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::model::{Model, Op};
use super::search::{Run, SearchLimits, SearchOutcome, SearchStats};

/// Iterations of a partition's first slice; each round doubles it. Small,
/// so that a violation one partition shows at once is found before the
/// others have searched long.
const FIRST_SLICE: u64 = 64;

/// Iterations searched on the calling thread before any worker starts
/// (a few milliseconds of search at most on the histories measured).
const INLINE_BUDGET: u64 = 16_384;

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
    // First on this thread, up to a budget: most histories are decided
    // sooner than threads are started and scheduled (on a busy machine a
    // new thread can wait milliseconds for a core). The partitions left
    // undecided are then searched anew on the workers: at most the budget
    // is spent twice.
    let everything: Vec<usize> = (0..parts.len()).collect();
    let budget = (workers > 1).then_some(INLINE_BUDGET);
    let (inline, left) = work(model, ops, parts, everything, limits, &shared, budget);
    let mut results = vec![inline];
    if !left.is_empty() && !shared.stopped.load(Ordering::Relaxed) {
        let workers = workers.min(left.len());
        let share = |w: usize| left.iter().copied().skip(w).step_by(workers).collect();
        if workers == 1 {
            results.push(work(model, ops, parts, share(0), limits, &shared, None).0);
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| {
                        let shared = &shared;
                        let mine = share(w);
                        scope.spawn(move || work(model, ops, parts, mine, limits, shared, None).0)
                    })
                    .collect();
                for h in handles {
                    results.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
                }
            });
        }
    }
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
    /// How many more iterations a run of partition `index`, at `iterations`,
    /// may take and still be the violation reported; None when it cannot
    /// (a run's outcome comes at least one iteration on, and ties go to the
    /// lower partition).
    fn allowance(&self, iterations: u64, index: usize) -> Option<u64> {
        let best = *self
            .best_violation
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some((at, by)) = best else {
            return Some(u64::MAX);
        };
        let last = if index < by { at } else { at.saturating_sub(1) };
        last.checked_sub(iterations).filter(|n| *n > 0)
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

/// One worker: the partitions `mine`, round-robin in growing slices. With
/// a `budget`, it stops once its runs took that many iterations and returns
/// the partitions it left undecided (their runs are dropped).
fn work<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    parts: &[Vec<usize>],
    mine: Vec<usize>,
    limits: &SearchLimits,
    shared: &Shared,
    budget: Option<u64>,
) -> (Done, Vec<usize>) {
    let mut stats = SearchStats::default();
    let mut done = Vec::new();
    let mut runs: Vec<(usize, Run<'_, M>)> = mine
        .into_iter()
        .map(|i| (i, Run::new(model, ops, &parts[i])))
        .collect();
    let mut spent = 0;
    let mut slice = FIRST_SLICE;
    while !runs.is_empty() {
        let mut i = 0;
        while i < runs.len() {
            if shared.stopped.load(Ordering::Relaxed) {
                for (_, run) in &runs {
                    run.finish(&mut stats);
                }
                return ((done, stats), vec![]);
            }
            if budget.is_some_and(|b| spent >= b) {
                let mut left = Vec::with_capacity(runs.len());
                for (index, run) in &runs {
                    shared.bytes[*index].store(0, Ordering::Relaxed);
                    run.finish(&mut stats);
                    left.push(*index);
                }
                left.sort_unstable();
                return ((done, stats), left);
            }
            let (index, run) = &mut runs[i];
            let index = *index;
            let Some(allowance) = shared.allowance(run.iterations(), index) else {
                // A violation was found in fewer iterations: this one cannot
                // be the violation reported.
                shared.bytes[index].store(0, Ordering::Relaxed);
                run.finish(&mut stats);
                runs.swap_remove(i);
                continue;
            };
            let others = shared.others_bytes(index);
            let before = run.iterations();
            // Never past the iterations that could still beat the best
            // violation: a run that reaches them is dropped next round.
            let outcome = run.advance(slice.min(allowance), others, limits, &mut stats);
            spent += run.iterations() - before;
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
    ((done, stats), vec![])
}
