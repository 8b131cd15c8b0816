//! What changed since the last review: the latest campaign day against
//! every earlier campaign given. New problems, problems gone, and problems
//! whose rate (runs showing it per run made) moved by a factor of
//! [`MOVED_FACTOR`] or more, with enough runs on the larger side
//! ([`MOVED_MIN_RUNS`]) that one unlucky seed does not count as a move.

use super::stats::{FailureGroup, Status, Summary};

/// A rate at least this many times the other counts as moved.
pub(crate) const MOVED_FACTOR: f64 = 2.0;
/// The larger side of a moved rate has at least this many failing runs.
pub(crate) const MOVED_MIN_RUNS: usize = 3;

/// One problem's rate before the latest day and on it.
pub(crate) struct Moved<'s, 'a> {
    pub group: &'s FailureGroup<'a>,
    /// Failing runs per run made, earlier campaigns.
    pub before: f64,
    /// Failing runs per run made, the latest day.
    pub now: f64,
}

pub(crate) struct Changes<'s, 'a> {
    /// Whether any campaign predates the latest day (else nothing to compare).
    pub has_previous: bool,
    pub new: Vec<&'s FailureGroup<'a>>,
    pub gone: Vec<&'s FailureGroup<'a>>,
    pub moved: Vec<Moved<'s, 'a>>,
}

fn rate(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Whether a problem seen `now` times in `runs_now` runs on the latest day
/// and `before` times in `runs_before` earlier ones moved.
fn moved(now: usize, runs_now: usize, before: usize, runs_before: usize) -> bool {
    let (r_now, r_before) = (rate(now, runs_now), rate(before, runs_before));
    let (lo, hi) = (r_now.min(r_before), r_now.max(r_before));
    now.max(before) >= MOVED_MIN_RUNS && (lo == 0.0 || hi / lo >= MOVED_FACTOR)
}

pub(crate) fn changes<'s, 'a>(s: &'s Summary<'a>) -> Changes<'s, 'a> {
    let latest = s.latest_day;
    let runs_now = latest.and_then(|d| s.per_day.get(&d)).map_or(0, |t| t.runs);
    let runs_before = s.totals.runs - runs_now;
    let mut out = Changes {
        has_previous: runs_before > 0,
        new: Vec::new(),
        gone: Vec::new(),
        moved: Vec::new(),
    };
    for g in &s.groups {
        match g.status {
            Status::New => out.new.push(g),
            Status::NotSeenLately => out.gone.push(g),
            Status::Open => {
                let now = g
                    .occurrences
                    .iter()
                    .filter(|o| Some(o.campaign.started.day()) == latest)
                    .count();
                let before = g.occurrences.len() - now;
                if moved(now, runs_now, before, runs_before) {
                    out.moved.push(Moved {
                        group: g,
                        before: rate(before, runs_before),
                        now: rate(now, runs_now),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_moves_at_twice_or_half_with_enough_runs() {
        // 1 in 100 before, 2 in 100 now: doubled, but too few runs to tell.
        assert!(!moved(2, 100, 1, 100));
        // 3 in 100 before, 6 in 100 now: doubled.
        assert!(moved(6, 100, 3, 100));
        // 10 in 1,000 before, 1 in 20 now: five times the rate.
        assert!(moved(1, 20, 10, 1000));
        // 30 in 1,000 before, 4 in 100 now: a third more, not moved.
        assert!(!moved(4, 100, 30, 1000));
        // Gone from the latest day's runs altogether: moved.
        assert!(moved(0, 100, 5, 100));
    }
}
