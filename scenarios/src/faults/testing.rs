//! A tiny world for the fault families' unit tests: a cluster started with
//! a leader elected, a `Control` over it, no traffic. A test applies one
//! fault, samples the world while it is on and after it healed, and reads
//! what the trace says.

use super::{Fault, FaultKind};
use crate::cluster;
use crate::control::{Control, ENGINE_CLIENT};
use crate::recorder::Recorder;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Runs `body` on the engine's node of a `size`-member cluster whose leader
/// is known, in a simulation from `seed`; returns what `body` returned and
/// the run's trace.
pub(crate) fn with_cluster<T, F, Fut>(size: usize, seed: u64, body: F) -> (T, sim::Trace)
where
    T: Send + 'static,
    F: FnOnce(Arc<Control>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    with_cluster_of(&format!("size = {size}\n"), seed, body)
}

/// [`with_cluster`] with `cluster` as the scenario's `[cluster]` table
/// (size, versions, ...).
pub(crate) fn with_cluster_of<T, F, Fut>(cluster: &str, seed: u64, body: F) -> (T, sim::Trace)
where
    T: Send + 'static,
    F: FnOnce(Arc<Control>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let text = format!(
        "name = \"unit\"\ndescription = \"a fault family's unit test\"\n\
         duration_s = 10.0\n\n[cluster]\n{cluster}"
    );
    let scenario = crate::catalog::parse("unit.toml", &text).expect("the unit cluster parses");
    let outcome = sim::run_seed(seed, move |world| async move {
        let configs = crate::engine::member_configs(&scenario, &Default::default());
        for config in configs {
            world.start_member(config);
        }
        let recorder = Recorder::with_trace(world.trace().clone());
        let rng = ChaCha8Rng::seed_from_u64(seed);
        let ctl = Arc::new(Control::new(world.clone(), recorder, &scenario, rng));
        let out = world
            .spawn_client(ENGINE_CLIENT, async move {
                wait_for_leader(&ctl).await;
                body(ctl).await
            })
            .await
            .expect("the test body ran");
        (out, world.trace().take())
    });
    match outcome {
        Ok(((out, trace), _)) => (out, trace),
        Err(panic) => panic!("the unit run panicked: {}", panic.message),
    }
}

async fn wait_for_leader(ctl: &Control) {
    for _ in 0..100 {
        if cluster::leader(&ctl.world, &ctl.running()).await.is_some() {
            return;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no leader in 10 s");
}

/// Applies `fault` and, `after` into it, samples the world with `probe`.
/// Returns the sample; the fault has healed when this returns.
pub(super) async fn sample_during<P>(
    ctl: &Control,
    fault: Fault,
    after: Duration,
    probe: impl AsyncFnOnce(&Control) -> P,
) -> P {
    let sample = async {
        madsim::time::sleep(after).await;
        probe(ctl).await
    };
    let ((), p) = tokio::join!(fault.inject(ctl), sample);
    p
}

/// Whether the trace has a line from `source` of `kind` whose detail starts
/// with `detail`.
pub(crate) fn traced(trace: &sim::Trace, source: &str, kind: &str, detail: &str) -> bool {
    times_traced(trace, source, kind, detail) > 0
}

/// How many lines of the trace are from `source` of `kind` with a detail
/// that starts with `detail`.
pub(crate) fn times_traced(trace: &sim::Trace, source: &str, kind: &str, detail: &str) -> usize {
    trace
        .events()
        .iter()
        .filter(|e| e.source == source && e.kind == kind && e.detail.starts_with(detail))
        .count()
}

/// Asserts the engine traced the fault being applied and healed.
pub(super) fn assert_applied_and_healed(trace: &sim::Trace, kind: FaultKind, detail: &str) {
    let line = format!("{} {detail}", kind.name());
    assert!(
        traced(trace, "engine", "fault", &line),
        "no `fault {line}` line in the trace"
    );
    assert!(
        traced(trace, "engine", "heal", &line),
        "no `heal {line}` line in the trace"
    );
}
