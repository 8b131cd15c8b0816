//! `sim`: the simulated world every run happens in — seeded runtime,
//! simulated disk, network faults, per-member clocks, process control, and
//! the trace with its hash.

pub mod clock;
pub mod disk;
pub mod net;
pub mod runner;
pub mod streams;
pub mod trace;
pub mod world;

pub use runner::{RunInfo, RunPanic, run_seed};
pub use trace::{SharedTrace, Trace, TraceEvent};
pub use world::{BrokenInvariant, FatalExit, MemberStatus, World, client_ip, member_ip};

/// Simulated time since the run started (the world's and the network's
/// timestamps).
pub(crate) fn now() -> std::time::Duration {
    madsim::time::TimeHandle::current().elapsed()
}
