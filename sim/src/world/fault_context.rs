//! Which faults are on while the store reaches a coverage point, so an
//! explorer can tell "a watcher became a victim" from "a watcher became a
//! victim during a partition". The engine says when a fault begins and
//! ends by an opaque tag (its own fault kind's index: the world knows no
//! fault kinds); the world pairs every point reached with the tags active
//! then. Nothing here is traced or awaited, so runs are unchanged.

use node::coverage::Point;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long after it began a fault still counts as active, healed or not:
/// a crash, a compaction or an armed failpoint is over at once, but what it
/// set off (an election, a catch-up, a restart) follows within this.
pub const AFTERGLOW: Duration = Duration::from_secs(2);

#[derive(Debug, Default, Clone, Copy)]
struct Open {
    /// Begun and not yet ended.
    count: u32,
    /// When it last began (simulated time since the run started).
    last_begin: Duration,
}

/// The faults active now and the (point, fault) pairs reached so far.
#[derive(Debug, Default)]
pub(crate) struct FaultContext {
    open: BTreeMap<u16, Open>,
    under: BTreeSet<(Point, u16)>,
}

impl FaultContext {
    pub(crate) fn begin(&mut self, tag: u16, now: Duration) {
        let open = self.open.entry(tag).or_default();
        open.count += 1;
        open.last_begin = now;
    }

    pub(crate) fn end(&mut self, tag: u16) {
        if let Some(open) = self.open.get_mut(&tag) {
            open.count = open.count.saturating_sub(1);
        }
    }

    /// Records `point` under every fault active at `now`.
    pub(crate) fn reached(&mut self, point: Point, now: Duration) {
        let active = self
            .open
            .iter()
            .filter(|(_, o)| o.count > 0 || now.saturating_sub(o.last_begin) < AFTERGLOW);
        for (&tag, _) in active {
            self.under.insert((point, tag));
        }
    }

    pub(crate) fn under(&self) -> BTreeSet<(Point, u16)> {
        self.under.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_point_pairs_with_open_faults_and_those_begun_within_the_afterglow() {
        let mut c = FaultContext::default();
        c.reached(Point::WatchVictim, S(0));
        assert!(c.under().is_empty(), "no fault, no pair");
        c.begin(3, S(1));
        c.begin(7, S(1));
        c.end(7);
        c.reached(Point::WatchVictim, S(2));
        assert_eq!(
            c.under(),
            BTreeSet::from([(Point::WatchVictim, 3), (Point::WatchVictim, 7)])
        );
        // Tag 7 ended and its afterglow is over; tag 3 is still open.
        c.reached(Point::ReadIndexRetried, S(10));
        assert!(c.under().contains(&(Point::ReadIndexRetried, 3)));
        assert!(!c.under().contains(&(Point::ReadIndexRetried, 7)));
    }

    #[test]
    fn ending_more_than_begun_does_not_wrap() {
        let mut c = FaultContext::default();
        c.end(1);
        c.begin(1, S(0));
        c.end(1);
        c.end(1);
        c.reached(Point::WatchVictim, S(5));
        assert!(c.under().is_empty());
    }
}
