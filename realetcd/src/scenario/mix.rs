//! The etcd profile against a real cluster: the simulation's robustness
//! mix (`scenarios::traffic::etcd`), operation for operation with the
//! plan's weights, each client sequential and paced at the profile's rate
//! with the simulation's jitter; after a failed request the client
//! re-lists, as etcd's clients do. Its compactor compacts every period at
//! a revision drawn from the last one it compacted at to five past the
//! current one, as the simulation's (and etcd's `RunCompactLoop`).

use super::Shared;
use super::send::send;
use crate::grpc::Etcd;
use checker::history::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, OpResult, PutRequest, RangeRequest,
    Request, Response, TxnOp, TxnRequest, prefix_end,
};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use realplan::Op;
use std::collections::BTreeMap;
use std::time::Duration;

/// Lease TTL long enough that this profile's leases never expire in a run
/// (the simulation's).
const LEASE_TTL: i64 = 600;
/// How far past the current revision a compaction may reach (etcd's `+5`).
const FUTURE_REACH: i64 = 5;

/// One client of the profile.
pub struct MixClient {
    pub id: u64,
    pub grpc: Etcd,
    pub rng: ChaCha8Rng,
    pub mix: Vec<(Op, u32)>,
    pub keys: usize,
    pub prefix: String,
    pub rate: f64,
    pub until: Option<Duration>,
    pub shared: Shared,
    writes: u64,
    last_rev: i64,
    /// Last mod revision seen per key (0: seen absent).
    seen: BTreeMap<String, i64>,
    leases: Vec<i64>,
}

impl MixClient {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: u64,
        grpc: Etcd,
        rng: ChaCha8Rng,
        mix: Vec<(Op, u32)>,
        traffic: &realplan::Traffic,
        shared: Shared,
    ) -> MixClient {
        MixClient {
            id,
            grpc,
            rng,
            mix,
            keys: traffic.keys.max(1),
            prefix: traffic.key_prefix.clone(),
            rate: traffic.rate,
            until: traffic.until_ms.map(Duration::from_millis),
            shared,
            writes: 0,
            last_rev: 0,
            seen: BTreeMap::new(),
            leases: Vec::new(),
        }
    }

    pub async fn run(mut self) {
        while !self.shared.stopped(self.until) {
            let op = self.draw();
            let ok = self.step(op).await;
            if !ok && !self.shared.stopped(self.until) {
                self.pace().await;
                self.relist().await;
            }
            self.pace().await;
        }
    }

    fn draw(&mut self) -> Op {
        let total: u32 = self.mix.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.gen_range(0..total.max(1));
        for (op, w) in &self.mix {
            if x < *w {
                return *op;
            }
            x -= w;
        }
        self.mix.last().map_or(Op::Get, |(op, _)| *op)
    }

    /// The simulation's pacing: a gap of 0.5 to 1.5 times 1/rate.
    async fn pace(&mut self) {
        let gap = if self.rate > 0.0 {
            Duration::from_secs_f64(self.rng.gen_range(0.5..1.5) / self.rate)
        } else {
            Duration::from_millis(1)
        };
        tokio::time::sleep(gap).await;
    }

    fn key(&self, i: usize) -> String {
        format!("{}{}", self.prefix, i % self.keys)
    }

    fn list(&self) -> RangeRequest {
        RangeRequest {
            key: self.prefix.clone(),
            range_end: prefix_end(&self.prefix),
            ..Default::default()
        }
    }

    fn value(&mut self) -> String {
        self.writes += 1;
        format!("c{}-{}", self.id, self.writes)
    }

    /// Sends and records one request; its answer, if it succeeded.
    async fn call(&mut self, request: Request) -> Option<Response> {
        let call = self.shared.recorder.now();
        let result = send(&mut self.grpc, &request, self.shared.timeout).await;
        let answer = match &result {
            OpResult::Ok(r) => Some(r.clone()),
            _ => None,
        };
        self.shared
            .recorder
            .operation(self.id, call, request, result);
        answer
    }

    async fn relist(&mut self) {
        if let Some(Response::Range(r)) = self.call(Request::Range(self.list())).await {
            self.note(&Response::Range(r));
        }
    }

    fn note(&mut self, response: &Response) {
        let rev = match response {
            Response::Range(r) => {
                for kv in &r.kvs {
                    self.seen.insert(kv.key.clone(), kv.mod_revision);
                }
                r.header_revision
            }
            Response::Put(p) => p.header_revision,
            Response::DeleteRange(d) => d.header_revision,
            Response::Txn(t) => t.header_revision,
            _ => 0,
        };
        self.last_rev = self.last_rev.max(rev);
    }

    /// A revision a little before the last one seen.
    fn past(&mut self) -> i64 {
        (self.last_rev - self.rng.gen_range(0..8)).max(1)
    }

    /// Runs one operation; false when it failed (the client then re-lists).
    async fn step(&mut self, op: Op) -> bool {
        let k = self.rng.gen_range(0..self.keys);
        let key = self.key(k);
        let one = |key: String| RangeRequest {
            key,
            ..Default::default()
        };
        let request = match op {
            Op::Get => Request::Range(one(key)),
            Op::List => Request::Range(RangeRequest {
                keys_only: self.rng.gen_bool(0.3),
                ..self.list()
            }),
            Op::StaleGet => Request::Range(RangeRequest {
                revision: self.past(),
                ..one(key)
            }),
            Op::StaleList => Request::Range(RangeRequest {
                revision: self.past(),
                ..self.list()
            }),
            Op::Put => Request::Put(PutRequest {
                key,
                value: self.value(),
                ..Default::default()
            }),
            Op::Delete => Request::DeleteRange(DeleteRangeRequest {
                key,
                ..Default::default()
            }),
            Op::MultiOpTxn => {
                let mut keys: Vec<usize> = (0..self.keys).collect();
                keys.shuffle(&mut self.rng);
                let mut ops = Vec::new();
                for k in keys.iter().take(2) {
                    ops.push(TxnOp::Put(PutRequest {
                        key: self.key(*k),
                        value: self.value(),
                        ..Default::default()
                    }));
                }
                if let Some(k) = keys.get(2) {
                    let mut read = one(self.key(*k));
                    // Half at a revision around the last one seen: past,
                    // compacted or (up to two ahead) future.
                    if self.rng.gen_bool(0.5) {
                        read.revision = (self.last_rev + self.rng.gen_range(-8..=2)).max(1);
                    }
                    ops.push(TxnOp::Range(read));
                }
                Request::Txn(TxnRequest {
                    compare: Vec::new(),
                    success: ops,
                    failure: Vec::new(),
                })
            }
            Op::CompareAndSet => {
                let expected = self.seen.get(&key).copied().unwrap_or(0);
                Request::Txn(TxnRequest {
                    compare: vec![Compare {
                        key: key.clone(),
                        range_end: String::new(),
                        target: CompareTarget::ModRevision(expected),
                        result: CompareResult::Equal,
                    }],
                    success: vec![TxnOp::Put(PutRequest {
                        key: key.clone(),
                        value: self.value(),
                        ..Default::default()
                    })],
                    failure: vec![TxnOp::Range(one(key))],
                })
            }
            Op::PutWithLease => {
                let lease = match self.leases.last() {
                    Some(l) => *l,
                    None => match self
                        .call(Request::LeaseGrant {
                            id: 0,
                            ttl: LEASE_TTL,
                        })
                        .await
                    {
                        Some(Response::LeaseGrant(g)) => {
                            self.leases.push(g.id);
                            g.id
                        }
                        _ => return false,
                    },
                };
                Request::Put(PutRequest {
                    key,
                    value: self.value(),
                    lease,
                    ..Default::default()
                })
            }
            Op::LeaseRevoke => match self.leases.pop() {
                Some(id) => Request::LeaseRevoke { id },
                None => Request::Range(one(key)),
            },
        };
        match self.call(request).await {
            Some(response) => {
                self.note(&response);
                if let Response::Txn(t) = &response
                    && let Some(checker::history::TxnOpResponse::Range(r)) = t.responses.last()
                {
                    for kv in &r.kvs {
                        self.seen.insert(kv.key.clone(), kv.mod_revision);
                    }
                }
                true
            }
            None => false,
        }
    }
}

/// The profile's compactor: every `period`, asks its member for the
/// revision (a Status, not recorded) and compacts at a revision drawn in
/// `[last, current + 5)`.
pub async fn compactor(
    id: u64,
    mut grpc: Etcd,
    mut rng: ChaCha8Rng,
    period: Duration,
    until: Option<Duration>,
    shared: Shared,
) {
    // etcd's loop starts from revision 2: the first write's.
    let mut last = 2i64;
    while !shared.stopped(until) {
        tokio::time::sleep(period).await;
        if shared.stopped(until) {
            break;
        }
        let Ok(Ok(status)) = tokio::time::timeout(shared.timeout, grpc.status()).await else {
            continue;
        };
        let current = status.header.map_or(1, |h| h.revision);
        let end = current.saturating_add(FUTURE_REACH);
        let target = if end <= last {
            last
        } else {
            rng.gen_range(last..end)
        };
        let request = Request::Compact { revision: target };
        let call = shared.recorder.now();
        let result = send(&mut grpc, &request, shared.timeout).await;
        if matches!(result, OpResult::Ok(_)) {
            last = target;
        }
        shared.recorder.operation(id, call, request, result);
    }
}
