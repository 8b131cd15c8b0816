//! Checked traffic against a real cluster: `clients` concurrent tokio
//! tasks, each with its own gRPC connection to one member (spread over the
//! members), send a seeded mix of linearizable gets, puts of distinct
//! values, deletes and compare-and-set transactions over a few keys, while
//! a fault plan isolates, crashes and pauses members. Everything is
//! recorded (`record`) in the checker's history shape; at the end the
//! cluster is healed, every key is read back linearizably (into the
//! history, as the simulation's quiesce does) and every member's HashKV
//! at one revision and own member list go into the end state.
//!
//! Not deterministic: the seed fixes each client's choices and the fault
//! plan's targets, but real processes, sockets and clocks decide the order.

use crate::cluster::{Cluster, ClusterError};
use crate::grpc::Etcd;
use crate::record::{self, Recorder};
use checker::history::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, EndState, HashKv, History,
    ListedMember, MemberEndState, Membership, OpResult, PutRequest, RangeRequest, Request,
    Response, TxnOp, TxnRequest,
};
use etcd_client::proto::{
    PbCompare, PbDeleteRequest, PbHashKvRequest, PbPutRequest, PbRangeRequest, PbTargetUnion,
    PbTxnOpRequest, PbTxnRequest, PbTxnRequestOp,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long one request may take before its outcome counts as unknown.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Keys the clients share: few, so that operations conflict.
const KEYS: usize = 10;
/// How long the healed cluster may take to answer again (the end state's
/// liveness bound): an election after a partition or a crash takes a few
/// seconds of etcd's default timing.
const LIVENESS_BOUND: Duration = Duration::from_secs(20);
/// How long the fault plan's isolation and pause last.
const ISOLATION: Duration = Duration::from_secs(2);
const PAUSE: Duration = Duration::from_secs(1);
/// Pause between a client's failed request and its next one, so that a
/// client of a member that is down does not spin.
const BACKOFF: Duration = Duration::from_millis(100);
/// Tries of each final read: the healed cluster may still be electing.
const FINAL_READ_TRIES: u32 = 50;

#[derive(Debug, Clone)]
pub struct Config {
    pub clients: usize,
    pub duration: Duration,
    pub seed: u64,
}

/// A recorded run: the history and what the end state saw.
pub struct Outcome {
    pub history: History,
    pub end: EndState,
}

#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("a run needs at least one client")]
    NoClients,
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("a client task ended abnormally: {0}")]
    Client(#[from] tokio::task::JoinError),
}

pub fn key(i: usize) -> String {
    format!("key{i}")
}

/// Runs the traffic and the fault plan on `cluster`, then quiesces.
pub async fn run(cluster: &mut Cluster, config: &Config) -> Result<Outcome, TrafficError> {
    if config.clients == 0 {
        return Err(TrafficError::NoClients);
    }
    let recorder = Recorder::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..config.clients {
        let member = c % cluster.size();
        let grpc = cluster.client(member).await?;
        let client = Client {
            id: c as u64,
            grpc,
            recorder: recorder.clone(),
            // Each client its own stream, all fixed by the run's seed.
            rng: ChaCha8Rng::seed_from_u64(
                config.seed ^ (c as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ),
            seen: HashMap::new(),
            writes: 0,
        };
        tasks.push(tokio::spawn(client.run(stop.clone())));
    }
    let plan = faults(cluster, &recorder, config).await;
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await?;
    }
    plan?;
    let end = quiesce(
        cluster,
        &recorder,
        config.clients as u64,
        &(0..KEYS).map(key).collect::<Vec<_>>(),
        LIVENESS_BOUND,
    )
    .await?;
    Ok(Outcome {
        history: recorder.history(),
        end,
    })
}

/// At 1/4 of the run one member (the leader half the time) is cut off
/// from its peers for `ISOLATION`; at 1/2 one crashes (SIGKILL) and starts
/// again; at 3/4 one is paused (SIGSTOP) for `PAUSE`. Each is an
/// annotation from its start to its heal. Returns once the run's time is up.
async fn faults(
    cluster: &mut Cluster,
    recorder: &Recorder,
    config: &Config,
) -> Result<(), TrafficError> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let n = cluster.size();
    let at = |fraction: f64| config.duration.mul_f64(fraction).as_nanos() as u64;
    let until = |recorder: &Recorder, t: u64| {
        let wait = t.saturating_sub(recorder.now());
        tokio::time::sleep(Duration::from_nanos(wait))
    };

    until(recorder, at(0.25)).await;
    let isolated = if rng.gen_bool(0.5) {
        match cluster.leader().await {
            Some(l) => l,
            None => rng.gen_range(0..n),
        }
    } else {
        rng.gen_range(0..n)
    };
    let start = recorder.now();
    cluster.isolate(isolated);
    tokio::time::sleep(ISOLATION).await;
    cluster.heal();
    recorder.annotate(
        start,
        Some(recorder.now()),
        format!("isolate {} from every peer", cluster.name(isolated)),
    );

    until(recorder, at(0.5)).await;
    let crashed = rng.gen_range(0..n);
    let start = recorder.now();
    let restarted = cluster.crash(crashed).await;
    recorder.annotate(
        start,
        Some(recorder.now()),
        format!("crash {} (SIGKILL) and restart it", cluster.name(crashed)),
    );
    restarted?;

    until(recorder, at(0.75)).await;
    let paused = rng.gen_range(0..n);
    let start = recorder.now();
    cluster.pause(paused)?;
    tokio::time::sleep(PAUSE).await;
    cluster.resume(paused)?;
    recorder.annotate(
        start,
        Some(recorder.now()),
        format!("pause {} (SIGSTOP, then SIGCONT)", cluster.name(paused)),
    );

    until(recorder, at(1.0)).await;
    Ok(())
}

/// Heals everything, waits for a leader (within `liveness_bound`), reads
/// every key back linearizably as client `client` (recorded), and takes
/// every member's HashKV at one revision.
pub(crate) async fn quiesce(
    cluster: &mut Cluster,
    recorder: &Recorder,
    client: u64,
    keys: &[String],
    liveness_bound: Duration,
) -> Result<EndState, TrafficError> {
    cluster.heal();
    let heal_time = recorder.now();
    let leader = cluster.wait_leader(liveness_bound).await?;
    let mut grpc = cluster.client(leader).await?;
    for k in keys {
        for _ in 0..FINAL_READ_TRIES {
            let request = RangeRequest {
                key: k.clone(),
                ..Default::default()
            };
            let call = recorder.now();
            let answer =
                tokio::time::timeout(REQUEST_TIMEOUT, grpc.range(range_pb(&request))).await;
            let result = match answer {
                Ok(Ok(a)) => OpResult::Ok(Response::Range(record::range(&a))),
                Ok(Err(status)) => record::failed(&status, true),
                Err(_) => OpResult::Unknown("no answer within 2 s".into()),
            };
            let done = matches!(result, OpResult::Ok(_));
            recorder.operation(client, call, Request::Range(request), result);
            if done {
                break;
            }
            tokio::time::sleep(BACKOFF).await;
        }
    }

    // One revision every member has reached: the lowest any reports.
    let mut revisions = Vec::new();
    for i in 0..cluster.size() {
        if let Some(status) = cluster.status(i).await {
            revisions.push(status.header.map_or(0, |h| h.revision));
        }
    }
    let revision = revisions.into_iter().min().unwrap_or(0);
    let mut members = Vec::new();
    for i in 0..cluster.size() {
        let alive = cluster.pid(i).is_some();
        let mut hash_kv = None;
        if alive
            && revision > 0
            && let Ok(mut grpc) = cluster.client(i).await
        {
            let answer =
                tokio::time::timeout(REQUEST_TIMEOUT, grpc.hash_kv(PbHashKvRequest { revision }))
                    .await;
            if let Ok(Ok(h)) = answer {
                hash_kv = Some(HashKv {
                    revision,
                    compact_revision: h.compact_revision,
                    hash: h.hash,
                });
            }
        }
        let membership = if alive {
            membership(cluster, i).await
        } else {
            None
        };
        members.push(MemberEndState {
            member: i as u64,
            alive,
            hash_kv,
            membership,
        });
    }
    Ok(EndState {
        members,
        heal_time: Some(heal_time),
        first_success_after_heal: None,
        liveness_bound: liveness_bound.as_nanos() as u64,
    })
}

/// Member `i`'s own member list (etcd serves it from the member's own
/// cluster store), with the raft index it had applied: taken only when
/// that index is the same before and after the list (a few tries).
async fn membership(cluster: &mut Cluster, i: usize) -> Option<Membership> {
    for _ in 0..5 {
        let before = cluster.status(i).await?;
        let mut grpc = cluster.client(i).await.ok()?;
        let list = tokio::time::timeout(REQUEST_TIMEOUT, grpc.member_list()).await;
        let after = cluster.status(i).await?;
        if let (Ok(Ok(list)), true) = (list, before.raft_applied_index == after.raft_applied_index)
        {
            let listed = list
                .members
                .into_iter()
                .map(|m| ListedMember {
                    id: m.id,
                    peer: m.peer_ur_ls.join(","),
                    is_learner: m.is_learner,
                })
                .collect();
            return Some(Membership::new(after.raft_applied_index, listed));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

struct Client {
    id: u64,
    grpc: Etcd,
    recorder: Recorder,
    rng: ChaCha8Rng,
    /// The last mod revision this client saw per key (0: absent), what its
    /// compare-and-set expects.
    seen: HashMap<String, i64>,
    writes: u64,
}

impl Client {
    async fn run(mut self, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::SeqCst) {
            let k = key(self.rng.gen_range(0..KEYS));
            let roll = self.rng.gen_range(0..100);
            let answered = match roll {
                0..40 => self.get(k).await,
                40..70 => self.put(k).await,
                70..80 => self.delete(k).await,
                _ => self.cas(k).await,
            };
            if !answered {
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }

    fn value(&mut self) -> String {
        self.writes += 1;
        format!("c{}-{}", self.id, self.writes)
    }

    /// Records one call; returns whether it was answered.
    fn record(&mut self, call: u64, request: Request, result: OpResult) -> bool {
        let answered = matches!(result, OpResult::Ok(_));
        self.recorder.operation(self.id, call, request, result);
        answered
    }

    async fn get(&mut self, key: String) -> bool {
        let request = RangeRequest {
            key: key.clone(),
            ..Default::default()
        };
        let call = self.recorder.now();
        let result = match tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.grpc.range(range_pb(&request)),
        )
        .await
        {
            Ok(Ok(a)) => {
                let r = record::range(&a);
                self.seen
                    .insert(key, r.kvs.first().map_or(0, |kv| kv.mod_revision));
                OpResult::Ok(Response::Range(r))
            }
            Ok(Err(status)) => record::failed(&status, true),
            Err(_) => timed_out(),
        };
        self.record(call, Request::Range(request), result)
    }

    async fn put(&mut self, key: String) -> bool {
        let request = PutRequest {
            key: key.clone(),
            value: self.value(),
            ..Default::default()
        };
        let call = self.recorder.now();
        let result =
            match tokio::time::timeout(REQUEST_TIMEOUT, self.grpc.put(put_pb(&request))).await {
                Ok(Ok(a)) => {
                    let r = record::put(&a);
                    self.seen.insert(key, r.header_revision);
                    OpResult::Ok(Response::Put(r))
                }
                Ok(Err(status)) => record::failed(&status, false),
                Err(_) => timed_out(),
            };
        self.record(call, Request::Put(request), result)
    }

    async fn delete(&mut self, key: String) -> bool {
        let request = DeleteRangeRequest {
            key: key.clone(),
            ..Default::default()
        };
        let call = self.recorder.now();
        let pb = PbDeleteRequest {
            key: key.clone().into_bytes(),
            ..Default::default()
        };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, self.grpc.delete(pb)).await {
            Ok(Ok(a)) => {
                self.seen.insert(key, 0);
                OpResult::Ok(Response::DeleteRange(record::delete(&a)))
            }
            Ok(Err(status)) => record::failed(&status, false),
            Err(_) => timed_out(),
        };
        self.record(call, Request::DeleteRange(request), result)
    }

    /// If the key's mod revision is still the one this client last saw,
    /// put a new value, else read the key.
    async fn cas(&mut self, key: String) -> bool {
        let expected = self.seen.get(&key).copied().unwrap_or(0);
        let put = PutRequest {
            key: key.clone(),
            value: self.value(),
            ..Default::default()
        };
        let get = RangeRequest {
            key: key.clone(),
            ..Default::default()
        };
        let request = TxnRequest {
            compare: vec![Compare {
                key: key.clone(),
                range_end: String::new(),
                target: CompareTarget::ModRevision(expected),
                result: CompareResult::Equal,
            }],
            success: vec![TxnOp::Put(put.clone())],
            failure: vec![TxnOp::Range(get.clone())],
        };
        let pb = PbTxnRequest {
            compare: vec![PbCompare {
                // etcd's enum numbers (rpc.proto): EQUAL = 0, MOD = 2.
                result: 0,
                target: 2,
                key: key.clone().into_bytes(),
                range_end: Vec::new(),
                target_union: Some(PbTargetUnion::ModRevision(expected)),
            }],
            success: vec![PbTxnRequestOp {
                request: Some(PbTxnOpRequest::RequestPut(put_pb(&put))),
            }],
            failure: vec![PbTxnRequestOp {
                request: Some(PbTxnOpRequest::RequestRange(range_pb(&get))),
            }],
        };
        let call = self.recorder.now();
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, self.grpc.txn(pb)).await {
            Ok(Ok(a)) => {
                let r = record::txn(&a);
                let seen = if r.succeeded {
                    r.header_revision
                } else {
                    match r.responses.first() {
                        Some(checker::history::TxnOpResponse::Range(g)) => {
                            g.kvs.first().map_or(0, |kv| kv.mod_revision)
                        }
                        _ => expected,
                    }
                };
                self.seen.insert(key, seen);
                OpResult::Ok(Response::Txn(r))
            }
            Ok(Err(status)) => record::failed(&status, false),
            Err(_) => timed_out(),
        };
        self.record(call, Request::Txn(request), result)
    }
}

fn timed_out() -> OpResult {
    OpResult::Unknown(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))
}

pub(crate) fn range_pb(r: &RangeRequest) -> PbRangeRequest {
    PbRangeRequest {
        key: r.key.clone().into_bytes(),
        range_end: r.range_end.clone().into_bytes(),
        limit: r.limit,
        revision: r.revision,
        keys_only: r.keys_only,
        count_only: r.count_only,
        serializable: r.serializable,
        ..Default::default()
    }
}

pub(crate) fn put_pb(p: &PutRequest) -> PbPutRequest {
    PbPutRequest {
        key: p.key.clone().into_bytes(),
        value: p.value.clone().into_bytes(),
        lease: p.lease,
        prev_kv: p.prev_kv,
        ..Default::default()
    }
}
