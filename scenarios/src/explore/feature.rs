//! What a run exercised, as the explorer counts it: each coverage point
//! reached at least 1, 4, 16, 64 or 256 times (so "many victims" is news
//! after "one victim", as AFL's hit-count buckets make it), each failpoint
//! site passed, and each coverage point reached while a fault of some kind
//! was on (`RunResult::points_under_faults`). A run that shows a feature
//! the corpus has not seen joins the corpus.

use crate::engine::RunResult;
use crate::faults::FaultKind;
use node::coverage::Point;
use node::failpoint::Failpoint;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// The reach counts a point feature distinguishes ("at least this often").
pub const HIT_THRESHOLDS: [u64; 5] = [1, 4, 16, 64, 256];

/// One thing a run exercised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// The point was reached at least this many times (a [`HIT_THRESHOLDS`]).
    Point(Point, u64),
    /// The failpoint site was passed (armed or not).
    Failpoint(Failpoint),
    /// The point was reached while a fault of this kind was on or had just
    /// begun.
    PointUnder(Point, FaultKind),
}

/// Every feature of a finished run.
pub fn of_run(result: &RunResult) -> BTreeSet<Feature> {
    let mut out = BTreeSet::new();
    for (&point, &times) in &result.points_reached {
        for &t in HIT_THRESHOLDS.iter().filter(|&&t| times >= t) {
            out.insert(Feature::Point(point, t));
        }
    }
    for (&point, &passes) in &result.failpoints_reached {
        if passes > 0 {
            out.insert(Feature::Failpoint(point));
        }
    }
    for &(point, kind) in &result.points_under_faults {
        out.insert(Feature::PointUnder(point, kind));
    }
    out
}

impl fmt::Display for Feature {
    /// `watch.victim>=4`, `failpoint:beforeCommit`, `watch.victim@partition_minority`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feature::Point(p, t) => write!(f, "{p}>={t}"),
            Feature::Failpoint(name) => write!(f, "failpoint:{name}"),
            Feature::PointUnder(p, k) => write!(f, "{p}@{k}"),
        }
    }
}

impl FromStr for Feature {
    type Err = String;

    /// Reads back what `Display` wrote (the explorer's log keeps features
    /// as text).
    fn from_str(text: &str) -> Result<Feature, String> {
        let point = |name: &str| {
            Point::parse(name).ok_or_else(|| format!("unknown coverage point {name:?}"))
        };
        if let Some(name) = text.strip_prefix("failpoint:") {
            return Failpoint::parse(name)
                .map(Feature::Failpoint)
                .ok_or_else(|| format!("unknown failpoint {name:?}"));
        }
        if let Some((p, t)) = text.split_once(">=") {
            let t: u64 = t
                .parse()
                .map_err(|_| format!("expected a reach count after >= in {text:?}"))?;
            if !HIT_THRESHOLDS.contains(&t) {
                return Err(format!("{t} is not a reach threshold in {text:?}"));
            }
            return Ok(Feature::Point(point(p)?, t));
        }
        if let Some((p, k)) = text.split_once('@') {
            return Ok(Feature::PointUnder(point(p)?, k.parse()?));
        }
        Err(format!(
            "expected point>=N, failpoint:NAME or point@fault_kind, got {text:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_read_back_what_they_print() {
        let all = [
            Feature::Point(Point::WatchVictim, 16),
            Feature::Failpoint(Failpoint::BeforeCommit),
            Feature::PointUnder(Point::ReadIndexRetried, FaultKind::PartitionMinority),
        ];
        for f in all {
            assert_eq!(f.to_string().parse::<Feature>(), Ok(f.clone()), "{f}");
        }
        for bad in [
            "watch.victim>=3",
            "watch.victim>=x",
            "no.point>=1",
            "watch.victim@no_kind",
            "failpoint:noSuchPoint",
            "something",
        ] {
            assert!(bad.parse::<Feature>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_point_counts_every_threshold_it_passed() {
        let mut r = crate::engine::testing::empty_result();
        r.points_reached.insert(Point::WatchVictim, 20);
        r.points_reached.insert(Point::SnapshotSent, 1);
        r.failpoints_reached.insert(Failpoint::BeforeCommit, 3);
        r.failpoints_reached.insert(Failpoint::AfterCommit, 0);
        r.points_under_faults
            .insert((Point::SnapshotSent, FaultKind::Crash));
        let got: Vec<String> = of_run(&r).iter().map(|f| f.to_string()).collect();
        assert_eq!(
            got,
            [
                "watch.victim>=1",
                "watch.victim>=4",
                "watch.victim>=16",
                "snapshot.sent>=1",
                "failpoint:beforeCommit",
                "snapshot.sent@crash",
            ]
        );
    }
}
