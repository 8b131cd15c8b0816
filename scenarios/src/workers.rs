//! The one worker pool campaigns, hunts and soaks share: `workers` threads
//! each take the next job until the source runs dry. Every run already gets
//! its own fresh simulation thread (`sim::run_seed`); these threads only
//! decide which run comes next and what happens to its result.

/// Calls `work` on every job `next` hands out, from `workers` threads at
/// once (at least one); returns when `next` gave None to every thread. The
/// source decides the order, so callers keep results deterministic by
/// what they key them on, not by when they finish.
pub fn run<J>(workers: usize, next: impl Fn() -> Option<J> + Sync, work: impl Fn(J) + Sync) {
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| {
                while let Some(job) = next() {
                    work(job);
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_job_is_done_once() {
        let next = AtomicUsize::new(0);
        let done = Mutex::new(Vec::new());
        run(
            3,
            || {
                let i = next.fetch_add(1, Ordering::Relaxed);
                (i < 100).then_some(i)
            },
            |i| done.lock().expect("not poisoned").push(i),
        );
        let mut done = done.into_inner().expect("not poisoned");
        done.sort_unstable();
        assert_eq!(done, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn zero_workers_still_runs_the_jobs() {
        let next = AtomicUsize::new(0);
        let count = AtomicUsize::new(0);
        run(
            0,
            || (next.fetch_add(1, Ordering::Relaxed) < 5).then_some(()),
            |()| {
                count.fetch_add(1, Ordering::Relaxed);
            },
        );
        assert_eq!(count.load(Ordering::Relaxed), 5);
    }
}
