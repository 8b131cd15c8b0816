//! A scenario's plan (`realplan::Plan`, made by `faultline run --target
//! etcd`) on a real cluster: the traffic profiles' clients run as tokio
//! tasks (`mix`: the etcd profile and its compactor, `watching`: the watch
//! profile), the fault steps fire at their times (`steps`), each recorded
//! as an annotation from its start to its heal, and at the end the
//! cluster is healed, every key read back linearizably and every member's
//! HashKV taken (`traffic::quiesce`).
//!
//! Steps run one after another on the task that owns the cluster: a step
//! whose time comes while the one before it still holds starts when that
//! one ends (its annotation says when it really ran). Not deterministic:
//! the seed fixes the clients' choices and the steps' draws, but real
//! processes and clocks decide the order.

mod mix;
mod send;
mod steps;
mod watching;

use crate::cluster::{Cluster, ClusterError};
use crate::record::Recorder;
use crate::traffic::{self, TrafficError};
use checker::history::{EndState, History};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use realplan::{Plan, Profile};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// What every client of a run shares.
#[derive(Clone)]
pub struct Shared {
    pub recorder: Recorder,
    stop: Arc<AtomicBool>,
    /// How long a request may take before its outcome is unknown.
    pub timeout: Duration,
    /// The last revision a compaction succeeded at (watches start around it).
    compacted: Arc<AtomicI64>,
}

impl Shared {
    /// Whether the run is over, or this profile's `until` has passed.
    pub fn stopped(&self, until: Option<Duration>) -> bool {
        self.stop.load(Ordering::SeqCst)
            || until.is_some_and(|u| self.recorder.now() >= u.as_nanos() as u64)
    }

    pub fn compacted(&self) -> i64 {
        self.compacted.load(Ordering::Relaxed)
    }
}

/// A recorded run: the history, the end state, and what became of each step.
pub struct Outcome {
    pub history: History,
    pub end: EndState,
    /// Per step, in the order they ran: what it did, or why it was not applied.
    pub steps: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    /// The step's error is in the message, not the source chain: printed
    /// with its chain (`{:#}`) it would read twice.
    #[error("faults[{index}] ({kind}): {error}")]
    Step {
        index: usize,
        kind: String,
        error: ClusterError,
    },
}

/// A client's random stream, from the run's seed as the simulation's
/// (`scenarios::seeds::Streams::client_seed`): the same seed gives a
/// client the same choices in both.
fn client_rng(seed: u64, client: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ client)
}

/// Runs `plan` on `cluster` (already started with `plan.members`).
pub async fn run(cluster: &mut Cluster, plan: &Plan) -> Result<Outcome, ScenarioError> {
    let shared = Shared {
        recorder: Recorder::new(),
        stop: Arc::new(AtomicBool::new(false)),
        timeout: Duration::from_millis(plan.client_timeout_ms.max(1)),
        compacted: Arc::default(),
    };
    let n = cluster.size();
    let mut tasks = Vec::new();
    let mut next_id = 0u64;
    for traffic in &plan.traffic {
        for _ in 0..traffic.clients {
            let id = next_id;
            next_id += 1;
            let member = id as usize % n;
            let grpc = cluster.client(member).await?;
            let rng = client_rng(plan.seed, id);
            match &traffic.profile {
                Profile::Etcd { mix, .. } => {
                    let client =
                        mix::MixClient::new(id, grpc, rng, mix.clone(), traffic, shared.clone());
                    tasks.push(tokio::spawn(client.run()));
                }
                Profile::Watch { watches_per_stream } => {
                    let client = watching::WatchClient {
                        id,
                        grpc,
                        member: member as u64,
                        rng,
                        keys: traffic.keys,
                        prefix: traffic.key_prefix.clone(),
                        watches_per_stream: *watches_per_stream,
                        until: traffic.until_ms.map(Duration::from_millis),
                        shared: shared.clone(),
                    };
                    tasks.push(tokio::spawn(client.run()));
                }
            }
        }
    }
    // Compactors after every client, as the simulation numbers them.
    for traffic in &plan.traffic {
        if let Profile::Etcd {
            compact_period_ms: Some(period),
            ..
        } = &traffic.profile
        {
            let id = next_id;
            next_id += 1;
            let grpc = cluster.client(id as usize % n).await?;
            tasks.push(tokio::spawn(mix::compactor(
                id,
                grpc,
                client_rng(plan.seed, id),
                Duration::from_millis((*period).max(1)),
                traffic.until_ms.map(Duration::from_millis),
                shared.clone(),
            )));
        }
    }
    let quiesce_client = next_id;
    let operator = next_id + 1;
    let applied = steps::run_all(cluster, plan, &shared, operator).await;
    shared.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.map_err(TrafficError::from)?;
    }
    let applied = applied?;
    let mut keys: Vec<String> = plan
        .traffic
        .iter()
        .flat_map(|t| (0..t.keys.max(1)).map(move |k| format!("{}{k}", t.key_prefix)))
        .collect();
    keys.sort();
    keys.dedup();
    let end = traffic::quiesce(
        cluster,
        &shared.recorder,
        quiesce_client,
        &keys,
        Duration::from_millis(plan.liveness_bound_ms),
    )
    .await?;
    Ok(Outcome {
        history: shared.recorder.history(),
        end,
        steps: applied,
    })
}
