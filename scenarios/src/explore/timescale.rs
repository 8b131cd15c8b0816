//! Stretching or compressing a scenario's timeline: its duration, when its
//! traffic stops, and every step's moment and span, by one factor. The
//! store's own clocks (election and heartbeat timeouts, lease and key
//! TTLs, check intervals) and the quiescence bounds stay as they are, so
//! a compressed scenario meets the same store with its faults closer
//! together and its run cheaper: the simulation and the checker both
//! scale with the operations a run makes, which scale with its duration.
//!
//! Why the explorer wants it: most bugs show within seconds of the fault
//! that provokes them, so a third of the run finds them at about a third
//! of the cost (measured on the general catalog, see the README), and the
//! faults of a compressed plan overlap where the written plan kept them
//! apart. A bug that needs a long run is still met by the full-length
//! catalog runs the explorer keeps making, and by the stretch mutation.

use super::mutate::expects_outcome;
use crate::schema::{FaultStep, Scenario};

/// The factor the explorer's first pass runs the catalog at: each
/// scenario once, its timeline compressed to a third.
pub const SCOUT: f64 = 1.0 / 3.0;

/// A rescaled scenario runs at least this long: shorter, a cluster spends
/// the whole run electing its first leader.
pub const MIN_DURATION_S: f64 = 2.0;

/// A stretched scenario runs at most this long (unless it was longer as
/// written): beyond the catalog's longest, a run costs more than its
/// extra interleavings are worth.
pub const MAX_DURATION_S: f64 = 30.0;

/// Whether `s`'s timeline may be rescaled: not when a step expects an
/// outcome of the plan as written (an alarm its full disk must raise in
/// time, a corruption found with the clients stopped first), which holds
/// only for the timing as written.
pub fn rescalable(s: &Scenario) -> bool {
    !s.faults.iter().any(expects_outcome)
}

/// Multiplies `s`'s timeline by `factor`, narrowed so its duration stays
/// within [`MIN_DURATION_S`] and [`MAX_DURATION_S`] (or its own, when
/// longer); returns the factor applied, or None when the timeline may not
/// be rescaled or would not change. Moments are rounded to the
/// millisecond so the repro text stays readable.
pub fn rescale(s: &mut Scenario, factor: f64) -> Option<f64> {
    if !rescalable(s) || !factor.is_finite() || factor <= 0.0 || s.duration_s <= 0.0 {
        return None;
    }
    let longest = MAX_DURATION_S.max(s.duration_s);
    let shortest = MIN_DURATION_S.min(s.duration_s);
    let factor = (s.duration_s * factor).clamp(shortest, longest) / s.duration_s;
    if (factor - 1.0).abs() < 1e-9 {
        return None;
    }
    s.duration_s = scaled(s.duration_s, factor);
    for t in &mut s.traffic {
        t.until_s = t.until_s.map(|x| scaled(x, factor));
    }
    for step in &mut s.faults {
        for moment in moments(step) {
            *moment = moment.map(|x| scaled(x, factor));
        }
    }
    Some(factor)
}

/// A step's moments and spans on the run's timeline: what a rescale
/// multiplies (the rest of a step, rates, counts, latencies, is not time
/// on the timeline).
pub fn moments(step: &mut FaultStep) -> [&mut Option<f64>; 5] {
    [
        &mut step.at_s,
        &mut step.duration_s,
        &mut step.restart_after_s,
        &mut step.hold_s,
        &mut step.period_s,
    ]
}

/// `x` times `factor`, to the millisecond.
fn scaled(x: f64, factor: f64) -> f64 {
    (x * factor * 1000.0).round() / 1000.0
}

/// The explorer's first-pass form of a catalog scenario: compressed by
/// [`SCOUT`] when it may be, with the line the explorer logs for it.
pub fn scout(s: &mut Scenario) -> Option<String> {
    let applied = rescale(s, SCOUT)?;
    Some(format!("timeline x{applied:.2} (scout)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn scenario(name: &str) -> Scenario {
        catalog::load(name).expect("catalog scenario")
    }

    #[test]
    fn a_compressed_scenario_keeps_its_plan_in_order_a_third_as_long() {
        let written = scenario("partitions");
        let mut s = written.clone();
        let applied = rescale(&mut s, SCOUT).expect("rescaled");
        assert!((applied - SCOUT).abs() < 1e-9);
        assert!((s.duration_s - written.duration_s / 3.0).abs() < 1e-3);
        for (a, b) in written.faults.iter().zip(&s.faults) {
            assert_eq!(a.kind, b.kind);
            if let (Some(x), Some(y)) = (a.at_s, b.at_s) {
                assert!((x / 3.0 - y).abs() < 1e-3, "{x} -> {y}");
            }
            if let (Some(x), Some(y)) = (a.duration_s, b.duration_s) {
                assert!((x / 3.0 - y).abs() < 1e-3, "{x} -> {y}");
            }
        }
        catalog::validate(&s).expect("still a valid scenario");
    }

    #[test]
    fn traffic_that_stops_early_stops_early_in_the_compressed_run() {
        let written = scenario("corruption");
        let mut s = written.clone();
        // corruption expects its alarm: it is not rescaled at all.
        assert_eq!(rescale(&mut s, SCOUT), None);
        assert_eq!(s, written);
        let mut t = scenario("standard");
        t.traffic[0].until_s = Some(6.0);
        rescale(&mut t, 0.5).expect("rescaled");
        assert_eq!(t.traffic[0].until_s, Some(3.0));
    }

    #[test]
    fn the_duration_stays_within_its_bounds() {
        let mut s = scenario("bootstrap-crashes");
        let applied = rescale(&mut s, 0.01).expect("rescaled");
        assert_eq!(s.duration_s, MIN_DURATION_S);
        assert!(applied > 0.01);
        let mut s = scenario("bootstrap-crashes");
        rescale(&mut s, 100.0).expect("rescaled");
        assert_eq!(s.duration_s, MAX_DURATION_S);
        let mut short = scenario("bootstrap-crashes");
        short.duration_s = MIN_DURATION_S;
        assert_eq!(rescale(&mut short, 0.5), None, "nothing to compress");
        assert_eq!(rescale(&mut short, f64::NAN), None);
        assert_eq!(rescale(&mut short, -1.0), None);
    }

    #[test]
    fn every_general_scenario_scouts_to_a_valid_one_or_stays_as_written() {
        for written in catalog::general() {
            let mut s = written.clone();
            match scout(&mut s) {
                Some(_) => {
                    catalog::validate(&s).unwrap_or_else(|e| panic!("{}: {e}", written.name))
                }
                None => assert!(!rescalable(&written), "{}", written.name),
            }
        }
    }
}
