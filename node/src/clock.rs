//! The member's own clock. The world decides it (simulated time plus an
//! offset and a drift it may change during a run); the store reads wall-clock
//! time only through this trait, so clock skew reaches exactly the code that
//! depends on it (lease expiry).

use std::sync::Arc;
use std::time::Duration;

pub trait Clock: Send + Sync {
    /// The member's idea of the current time, as a duration since the start
    /// of the world's epoch.
    fn now(&self) -> Duration;
}

pub type ClockRef = Arc<dyn Clock>;

/// A clock that reads madsim's simulated time directly, with no skew.
/// (Outside a simulation this is the real monotonic clock.)
pub struct SimTimeClock {
    start: madsim::time::Instant,
}

impl SimTimeClock {
    pub fn new() -> Self {
        SimTimeClock {
            start: madsim::time::Instant::now(),
        }
    }
}

impl Default for SimTimeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SimTimeClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}
