//! Per-member clocks: simulated time plus an offset and a drift the world
//! may change during a run. Each member's clock is monotonic (it never goes
//! backwards), like the monotonic clock etcd measures lease time with.

use madsim::time::TimeHandle;
use node::clock::Clock;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default)]
struct Skew {
    /// Constant offset in nanoseconds.
    offset_ns: i128,
    /// Rate error in parts per million (+ runs fast).
    drift_ppm: i64,
    /// Skew accumulated by earlier drift settings, in nanoseconds.
    accumulated_ns: i128,
    /// When the current drift setting started.
    anchor: Duration,
    /// The last reading handed out (readings never decrease).
    last: Duration,
}

/// Every member's clock settings.
#[derive(Default)]
pub struct ClockTable {
    clocks: Mutex<BTreeMap<u64, Skew>>,
}

fn elapsed() -> Duration {
    TimeHandle::try_current()
        .map(|t| t.elapsed())
        .unwrap_or_default()
}

impl ClockTable {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn reading(skew: &Skew, at: Duration) -> Duration {
        let drift = (at.as_nanos() as i128 - skew.anchor.as_nanos() as i128)
            * skew.drift_ppm as i128
            / 1_000_000;
        let ns = at.as_nanos() as i128 + skew.offset_ns + skew.accumulated_ns + drift;
        Duration::from_nanos(ns.clamp(0, u64::MAX as i128) as u64)
    }

    /// The member's clock now.
    pub fn now(&self, member: u64) -> Duration {
        let at = elapsed();
        let mut clocks = self.clocks.lock();
        let skew = clocks.entry(member).or_default();
        let reading = Self::reading(skew, at).max(skew.last);
        skew.last = reading;
        reading
    }

    /// Shifts the member's clock by an offset (forward jumps show at once;
    /// backward ones hold the clock still until real time catches up).
    pub fn set_offset(&self, member: u64, offset: Duration, ahead: bool) {
        let mut clocks = self.clocks.lock();
        let skew = clocks.entry(member).or_default();
        let ns = offset.as_nanos() as i128;
        skew.offset_ns = if ahead { ns } else { -ns };
    }

    /// Makes the member's clock run fast (+) or slow (-) from now on.
    pub fn set_drift(&self, member: u64, ppm: i64) {
        let at = elapsed();
        let mut clocks = self.clocks.lock();
        let skew = clocks.entry(member).or_default();
        let so_far = (at.as_nanos() as i128 - skew.anchor.as_nanos() as i128)
            * skew.drift_ppm as i128
            / 1_000_000;
        skew.accumulated_ns += so_far;
        skew.anchor = at;
        skew.drift_ppm = ppm;
    }

    /// Removes offset and drift from now on (the clock keeps its reading).
    pub fn reset(&self, member: u64) {
        let current = self.now(member);
        let at = elapsed();
        let mut clocks = self.clocks.lock();
        let skew = clocks.entry(member).or_default();
        skew.drift_ppm = 0;
        skew.anchor = at;
        skew.offset_ns = 0;
        skew.accumulated_ns = current.as_nanos() as i128 - at.as_nanos() as i128;
    }

    pub fn clock_for(self: &Arc<Self>, member: u64) -> SimClock {
        SimClock {
            member,
            table: self.clone(),
        }
    }
}

/// One member's clock, as the store reads it.
pub struct SimClock {
    member: u64,
    table: Arc<ClockTable>,
}

impl Clock for SimClock {
    fn now(&self) -> Duration {
        self.table.now(self.member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_and_offset_shift_readings_monotonically() {
        let rt = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
        rt.block_on(async {
            let table = ClockTable::new();
            let t0 = table.now(1);
            table.set_drift(1, 500_000); // +50%
            madsim::time::sleep(Duration::from_secs(2)).await;
            let t1 = table.now(1);
            let gained = t1 - t0;
            assert!(
                gained >= Duration::from_millis(2900) && gained <= Duration::from_millis(3100),
                "{gained:?}"
            );
            table.set_offset(1, Duration::from_secs(10), false);
            let t2 = table.now(1);
            assert!(
                t2 >= t1,
                "a backward offset must not make the clock go back"
            );
            table.reset(1);
            let before = table.now(1);
            madsim::time::sleep(Duration::from_secs(1)).await;
            let after = table.now(1);
            let step = after - before;
            assert!(
                step >= Duration::from_millis(990) && step <= Duration::from_millis(1010),
                "{step:?}"
            );
            // Other members are unaffected.
            assert!(table.now(2) <= madsim::time::TimeHandle::current().elapsed());
        });
    }
}
