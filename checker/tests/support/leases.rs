//! Deterministic generator of lease-heavy etcd histories, shaped like the
//! `leases` scenario: clients grant short leases (mostly with ids the server
//! chooses and returns), attach keys, keep leases alive, read their
//! time-to-live, revoke them, put keys with a per-key TTL and read, sometimes
//! at a past revision; the store expires leases and TTL keys on its own, each
//! at one new revision; some writes time out (applied or not).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use checker::history::{
    DeleteRangeRequest, History, OpResult, Operation, PutRequest, RangeRequest, Request, TxnOp,
    TxnRequest,
};
use checker::models::etcd::{Store, exec};

use super::generate::Rng;

#[derive(Debug, Clone)]
pub struct LeaseGenConfig {
    pub seed: u64,
    pub clients: u64,
    pub operations: usize,
    pub keys: u64,
    /// Fraction of writes whose outcome the client never learns (half applied).
    pub unknown_writes: f64,
    /// Chance that the store expires a lease (and, with `key_ttls`, a key)
    /// before a request takes effect.
    pub expiries: f64,
    /// Puts sometimes carry a per-key TTL.
    pub key_ttls: bool,
    /// End with a linearizable read of every key.
    pub final_read: bool,
}

impl LeaseGenConfig {
    /// The benchmark's lease-heavy history (`cargo bench -p checker`,
    /// "generated"; `--example write_lease_heavy` writes it to a file).
    pub fn benchmark(operations: usize) -> Self {
        LeaseGenConfig {
            seed: 7,
            clients: 8,
            operations,
            keys: 32,
            unknown_writes: 0.02,
            expiries: 0.05,
            key_ttls: true,
            final_read: true,
        }
    }
}

impl Default for LeaseGenConfig {
    fn default() -> Self {
        LeaseGenConfig {
            seed: 1,
            clients: 4,
            operations: 400,
            keys: 8,
            unknown_writes: 0.02,
            expiries: 0.05,
            key_ttls: false,
            final_read: true,
        }
    }
}

const NS: u64 = 1_000;
const FIRST_LEASE: i64 = 7_000;

fn key(i: u64) -> String {
    format!("/l/{i:02}")
}

struct Gen<'c> {
    cfg: &'c LeaseGenConfig,
    rng: Rng,
    store: Store,
    /// Lease ids clients learned (granted or asked for), alive or not.
    known: Vec<i64>,
    next_lease: i64,
}

impl Gen<'_> {
    fn known_lease(&mut self) -> i64 {
        match self.known.len() as u64 {
            0 => FIRST_LEASE,
            n => self.known[self.rng.below(n) as usize],
        }
    }

    fn put(&mut self, n: u64) -> PutRequest {
        let lease = if self.rng.chance(0.7) {
            self.known_lease()
        } else {
            0
        };
        let ttl = if self.cfg.key_ttls && self.rng.chance(0.3) {
            1 + self.rng.below(3) as i64
        } else {
            0
        };
        PutRequest {
            key: key(self.rng.below(self.cfg.keys)),
            value: format!("v{n}"),
            lease,
            prev_kv: self.rng.chance(0.2),
            ttl,
            ..Default::default()
        }
    }

    fn request(&mut self, n: u64) -> Request {
        // Early on, grant leases with requested ids so that they are used at once.
        let pick = if self.known.len() < 2 && self.rng.chance(0.5) {
            0
        } else {
            self.rng.below(100)
        };
        match pick {
            0..=11 => {
                let explicit = self.known.len() < 2 || self.rng.chance(0.2);
                let id = if explicit {
                    self.next_lease += 1;
                    self.known.push(self.next_lease);
                    self.next_lease
                } else {
                    0
                };
                Request::LeaseGrant {
                    id,
                    ttl: 1 + self.rng.below(3) as i64,
                }
            }
            12..=36 => Request::Put(self.put(n)),
            37..=40 => {
                // Two keys, at most one lease (as clients attach objects to a lease).
                let (a, mut b) = (self.put(n), self.put(n + 1));
                if a.key == b.key {
                    return Request::Put(a);
                }
                b.lease = if a.lease == 0 { b.lease } else { a.lease };
                Request::Txn(TxnRequest {
                    compare: vec![],
                    success: vec![TxnOp::Put(a), TxnOp::Put(b)],
                    failure: vec![],
                })
            }
            41..=50 => Request::LeaseKeepAlive {
                id: self.known_lease(),
            },
            51..=55 => Request::LeaseTimeToLive {
                id: self.known_lease(),
            },
            56..=63 => Request::LeaseRevoke {
                id: self.known_lease(),
            },
            64..=68 => Request::DeleteRange(DeleteRangeRequest {
                key: key(self.rng.below(self.cfg.keys)),
                ..Default::default()
            }),
            r => {
                let now = self.store.revision();
                let revision = if r >= 90 && now > 2 {
                    now - self.rng.below(3) as i64
                } else {
                    0
                };
                let (k, end) = if self.rng.chance(0.5) {
                    (key(self.rng.below(self.cfg.keys)), String::new())
                } else {
                    ("/l/".to_string(), "/l0".to_string())
                };
                Request::Range(RangeRequest {
                    key: k,
                    range_end: end,
                    revision,
                    count_only: self.rng.chance(0.2),
                    ..Default::default()
                })
            }
        }
    }

    /// The store's own steps before a request: a lease or a TTL key expires.
    fn maybe_expire(&mut self) {
        if self.rng.chance(self.cfg.expiries) {
            let alive: Vec<i64> = (FIRST_LEASE..=self.next_lease)
                .filter(|id| self.store.lease(*id).is_some())
                .collect();
            if !alive.is_empty() {
                let id = alive[self.rng.below(alive.len() as u64) as usize];
                exec::expire_lease(&mut self.store, id);
            }
        }
        if self.cfg.key_ttls && self.rng.chance(self.cfg.expiries) {
            let expiring: Vec<String> = (0..self.cfg.keys)
                .map(key)
                .filter(|k| self.store.get(k).is_some_and(|v| v.ttl > 0))
                .collect();
            if !expiring.is_empty() {
                let k = &expiring[self.rng.below(expiring.len() as u64) as usize];
                self.store.expire_key(k);
            }
        }
    }

    /// Runs a request now: its result, and whether the client timed out.
    fn execute(&mut self, request: &Request) -> (OpResult, bool) {
        let grant_id = match request {
            Request::LeaseGrant { id: 0, .. } => {
                self.next_lease += 1;
                Some(self.next_lease)
            }
            _ => None,
        };
        let unknown = request.may_write() && self.rng.chance(self.cfg.unknown_writes);
        if unknown {
            if self.rng.chance(0.5) {
                let _ = exec::execute(&mut self.store, request, grant_id);
            }
            return (OpResult::Unknown("timeout".into()), true);
        }
        let result = match exec::execute(&mut self.store, request, grant_id) {
            Ok(resp) => OpResult::Ok(resp),
            Err(e) => OpResult::Fail(e),
        };
        if let (Some(id), OpResult::Ok(_)) = (grant_id, &result) {
            self.known.push(id);
        }
        (result, false)
    }
}

/// Generates a linearizable history (by construction).
pub fn generate_leases(cfg: &LeaseGenConfig) -> History {
    let mut g = Gen {
        cfg,
        rng: Rng::new(cfg.seed),
        store: Store::new(),
        known: Vec::new(),
        next_lease: FIRST_LEASE,
    };
    let mut history = History::default();
    // (linearization time, client, call time, slot of the request)
    let mut pending: BinaryHeap<Reverse<(u64, u64, u64, usize)>> = BinaryHeap::new();
    let mut requests: Vec<Option<Request>> = Vec::new();
    for client in 0..cfg.clients {
        let call = g.rng.below(50) * NS;
        pending.push(Reverse((
            call + 1 + g.rng.below(20) * NS,
            client,
            call,
            requests.len(),
        )));
        requests.push(Some(g.request(0)));
    }
    while let Some(Reverse((at, client, call, slot))) = pending.pop() {
        let Some(request) = requests[slot].take() else {
            continue;
        };
        g.maybe_expire();
        let (result, unknown) = g.execute(&request);
        let ret = at + 1 + g.rng.below(if unknown { 200 } else { 20 }) * NS;
        history.operations.push(Operation {
            id: history.operations.len() as u64 + 1,
            client,
            call,
            ret: Some(ret),
            request,
            result,
            k8s: None,
        });
        if requests.len() < cfg.operations {
            let call = ret + g.rng.below(5) * NS;
            pending.push(Reverse((
                call + 1 + g.rng.below(20) * NS,
                client,
                call,
                requests.len(),
            )));
            let n = requests.len() as u64;
            requests.push(Some(g.request(n)));
        }
    }
    if cfg.final_read {
        let call = history
            .operations
            .iter()
            .filter_map(|o| o.ret)
            .max()
            .unwrap_or(0)
            + NS;
        let request = Request::Range(RangeRequest {
            key: "/l/".into(),
            range_end: "/l0".into(),
            ..Default::default()
        });
        let result = match exec::execute(&mut g.store, &request, None) {
            Ok(resp) => OpResult::Ok(resp),
            Err(e) => OpResult::Fail(e),
        };
        history.operations.push(Operation {
            id: history.operations.len() as u64 + 1,
            client: 0,
            call,
            ret: Some(call + NS),
            request,
            result,
            k8s: None,
        });
    }
    history.operations.sort_by_key(|o| (o.call, o.id));
    history
}
