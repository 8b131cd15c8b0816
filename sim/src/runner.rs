//! The seed runner: one run is one fresh OS thread with one fresh madsim
//! runtime seeded with the run's seed. Nothing survives from one run to the
//! next, so a seed replays to the same trace wherever it runs.

use crate::disk::DiskSim;
use crate::world::World;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run produced besides its own result.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub seed: u64,
    /// Simulated time the run took.
    pub sim_time: Duration,
    /// Wall-clock time the run took (simulation only).
    pub wall_time: Duration,
}

/// The run panicked: a bug in the store or the framework.
#[derive(Debug, Clone, thiserror::Error)]
#[error("run with seed {seed} panicked: {message}")]
pub struct RunPanic {
    pub seed: u64,
    pub message: String,
}

/// Runs `body` in a fresh world seeded with `seed`, on a fresh thread, and
/// returns its output. The closure gets the world and must build its own
/// future (it runs on the run's thread).
pub fn run_seed<T, F, Fut>(seed: u64, body: F) -> Result<(T, RunInfo), RunPanic>
where
    T: Send + 'static,
    F: FnOnce(Arc<World>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
{
    let thread = std::thread::Builder::new()
        .name(format!("run-{seed}"))
        .stack_size(64 << 20)
        .spawn(move || {
            let rt =
                madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
            rt.add_simulator::<DiskSim>();
            let started = Instant::now();
            let (out, sim_time) = rt.block_on(async move {
                let world = World::new();
                let out = body(world.clone()).await;
                let sim_time = madsim::time::TimeHandle::current().elapsed();
                // The output is complete: free what the run's tasks hold.
                world.shutdown();
                madsim::time::sleep(Duration::from_millis(1)).await;
                (out, sim_time)
            });
            let wall_time = started.elapsed();
            (
                out,
                RunInfo {
                    seed,
                    sim_time,
                    wall_time,
                },
            )
        })
        .map_err(|e| RunPanic {
            seed,
            message: format!("cannot start the run's thread: {e}"),
        })?;
    thread.join().map_err(|payload| RunPanic {
        seed,
        message: panic_text(payload.as_ref()),
    })
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
