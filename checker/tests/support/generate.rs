//! Deterministic generator of etcd histories: clients issue requests with
//! random delays, a single store (the checker's own sequential semantics)
//! executes each at a linearization point between call and return, and a
//! fraction of writes time out (applied or not, the client never knows).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use checker::history::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, History, OpResult, Operation,
    PutRequest, RangeRequest, Request, TxnOp, TxnRequest, WatchRecord, WatchRequest, WatchResponse,
    prefix_end,
};

use super::build::store_events;
use checker::models::etcd::{Store, exec};

/// splitmix64: small, fast, and deterministic across platforms.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[derive(Debug, Clone)]
pub struct GenConfig {
    pub seed: u64,
    pub clients: u64,
    pub operations: usize,
    pub keys: u64,
    /// Fraction of writes whose outcome the client never learns.
    pub unknown_writes: f64,
    /// Of those, the fraction that did take effect.
    pub unknown_applied: f64,
    /// Use leases (grant, put with lease, revoke).
    pub leases: bool,
    /// End with a linearizable read of every key (as a run does after quiescing).
    pub final_read: bool,
    /// Watches on the whole key space, created at random times.
    pub watches: usize,
    /// Which requests clients send.
    pub mix: Mix,
}

/// Which requests a generated history's clients send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mix {
    /// Reads of a key and of the key space, puts (some with leases and
    /// prev_kv), deletes and optimistic puts (compare mod revision).
    #[default]
    Etcd,
    /// What registers hold: reads of one key, plain puts, deletes of one key
    /// and, with `cas`, txns comparing a key's value then putting it.
    Registers { cas: bool },
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            clients: 16,
            operations: 1000,
            keys: 64,
            unknown_writes: 0.01,
            unknown_applied: 0.5,
            leases: false,
            final_read: true,
            watches: 0,
            mix: Mix::Etcd,
        }
    }
}

const NS: u64 = 1_000;

fn key(i: u64) -> String {
    format!("/k/{i:04}")
}

fn random_request(
    rng: &mut Rng,
    cfg: &GenConfig,
    store: &Store,
    n: u64,
    leases: &[i64],
) -> Request {
    if let Mix::Registers { cas } = cfg.mix {
        return register_request(rng, cfg, store, n, cas);
    }
    let k = key(rng.below(cfg.keys));
    let value = format!("v{n}");
    match rng.below(100) {
        0..=44 => Request::Range(RangeRequest {
            key: k,
            ..Default::default()
        }),
        45..=54 => Request::Range(RangeRequest {
            key: "/k/".into(),
            range_end: prefix_end("/k/"),
            limit: 1 + rng.below(8) as i64,
            ..Default::default()
        }),
        55..=79 => {
            let lease = if cfg.leases && !leases.is_empty() && rng.chance(0.2) {
                leases[rng.below(leases.len() as u64) as usize]
            } else {
                0
            };
            Request::Put(PutRequest {
                key: k,
                value,
                lease,
                prev_kv: rng.chance(0.3),
                ..Default::default()
            })
        }
        80..=84 => Request::DeleteRange(DeleteRangeRequest {
            key: k,
            prev_kv: rng.chance(0.5),
            ..Default::default()
        }),
        _ => {
            // Optimistic put: usually against the key's real mod revision.
            let mod_rev = store.get(&k).map_or(0, |v| v.mod_revision);
            let expected = if rng.chance(0.7) {
                mod_rev
            } else {
                mod_rev.saturating_sub(1)
            };
            Request::Txn(TxnRequest {
                compare: vec![Compare {
                    key: k.clone(),
                    range_end: String::new(),
                    target: CompareTarget::ModRevision(expected),
                    result: CompareResult::Equal,
                }],
                success: vec![TxnOp::Put(PutRequest {
                    key: k.clone(),
                    value,
                    ..Default::default()
                })],
                failure: vec![TxnOp::Range(RangeRequest {
                    key: k,
                    ..Default::default()
                })],
            })
        }
    }
}

/// A request of [`Mix::Registers`]: a cas compares against the key's value
/// most of the time, else against an older or never-written one.
fn register_request(rng: &mut Rng, cfg: &GenConfig, store: &Store, n: u64, cas: bool) -> Request {
    let k = key(rng.below(cfg.keys));
    let value = format!("v{n}");
    match rng.below(if cas { 100 } else { 88 }) {
        0..=44 => Request::Range(RangeRequest {
            key: k,
            ..Default::default()
        }),
        45..=79 => Request::Put(PutRequest {
            key: k,
            value,
            prev_kv: rng.chance(0.2),
            ..Default::default()
        }),
        80..=87 => Request::DeleteRange(DeleteRangeRequest {
            key: k,
            ..Default::default()
        }),
        _ => {
            let current = store.get(&k).and_then(|v| v.value.clone());
            let expected = match current {
                Some(v) if rng.chance(0.7) => v,
                _ => format!("v{}", rng.below(n.max(1))),
            };
            Request::Txn(TxnRequest {
                compare: vec![Compare {
                    key: k.clone(),
                    range_end: String::new(),
                    target: CompareTarget::Value(expected),
                    result: CompareResult::Equal,
                }],
                success: vec![TxnOp::Put(PutRequest {
                    key: k.clone(),
                    value,
                    ..Default::default()
                })],
                failure: vec![TxnOp::Range(RangeRequest {
                    key: k,
                    ..Default::default()
                })],
            })
        }
    }
}

/// Generates a linearizable history (by construction) of `cfg.operations` operations.
pub fn generate(cfg: &GenConfig) -> History {
    let mut rng = Rng::new(cfg.seed);
    let mut store = Store::new();
    let mut history = History::default();
    // (linearization time, client, call time, request) waiting to take effect.
    let mut pending: BinaryHeap<Reverse<(u64, u64, u64, u64)>> = BinaryHeap::new();
    let mut requests: Vec<Option<Request>> = Vec::new();
    let mut leases: Vec<i64> = Vec::new();
    let mut next_lease = 1000;
    let mut issued = 0usize;
    // When each revision came to be (its write's linearization point).
    let mut revision_at: Vec<(i64, u64)> = vec![(1, 0)];
    for client in 0..cfg.clients {
        let call = rng.below(50) * NS;
        pending.push(Reverse((
            call + 1 + rng.below(20) * NS,
            client,
            call,
            requests.len() as u64,
        )));
        requests.push(Some(random_request(&mut rng, cfg, &store, 0, &leases)));
        issued += 1;
    }
    while let Some(Reverse((at, client, call, slot))) = pending.pop() {
        let Some(request) = requests[slot as usize].take() else {
            continue;
        };
        let id = history.operations.len() as u64 + 1;
        let unknown = request.may_write() && rng.chance(cfg.unknown_writes);
        let before = store.revision();
        let result = if unknown {
            if rng.chance(cfg.unknown_applied) {
                let _ = exec::execute(&mut store, &request, None);
            }
            OpResult::Unknown("timeout".into())
        } else {
            match exec::execute(&mut store, &request, None) {
                Ok(resp) => OpResult::Ok(resp),
                Err(e) => OpResult::Fail(e),
            }
        };
        if store.revision() != before {
            revision_at.push((store.revision(), at));
        }
        if let (Request::LeaseGrant { id, .. }, OpResult::Ok(_)) = (&request, &result) {
            leases.push(*id);
        }
        let ret = at + 1 + rng.below(if unknown { 200 } else { 20 }) * NS;
        history.operations.push(Operation {
            id,
            client,
            call,
            ret: Some(ret),
            request,
            result,
            k8s: None,
        });
        if issued < cfg.operations {
            let call = ret + rng.below(5) * NS;
            let request = if cfg.leases && rng.chance(0.02) {
                next_lease += 1;
                Request::LeaseGrant {
                    id: next_lease,
                    ttl: 10,
                }
            } else if cfg.leases && !leases.is_empty() && rng.chance(0.01) {
                let i = rng.below(leases.len() as u64) as usize;
                Request::LeaseRevoke {
                    id: leases.swap_remove(i),
                }
            } else {
                random_request(&mut rng, cfg, &store, issued as u64, &leases)
            };
            pending.push(Reverse((
                call + 1 + rng.below(20) * NS,
                client,
                call,
                requests.len() as u64,
            )));
            requests.push(Some(request));
            issued += 1;
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
            key: "/k/".into(),
            range_end: prefix_end("/k/"),
            ..Default::default()
        });
        let result = match exec::execute(&mut store, &request, None) {
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
    let end = history
        .operations
        .iter()
        .filter_map(|o| o.ret)
        .max()
        .unwrap_or(0);
    for id in 0..cfg.watches as u64 {
        history
            .watches
            .push(watch(&mut rng, &store, &revision_at, id, end));
    }
    history.operations.sort_by_key(|o| (o.call, o.id));
    history
}

/// A watch created at a random time, from "now" or from an earlier revision,
/// that sees every later event in order, with a bookmark now and then.
fn watch(
    rng: &mut Rng,
    store: &Store,
    revision_at: &[(i64, u64)],
    id: u64,
    end: u64,
) -> WatchRecord {
    let created = rng.below(end.max(1));
    let current = revision_at
        .iter()
        .take_while(|(_, at)| *at <= created)
        .last()
        .map_or(1, |(rev, _)| *rev);
    let start = if rng.chance(0.5) {
        0
    } else {
        1 + rng.below(current as u64) as i64
    };
    let request = WatchRequest {
        key: "/k/".into(),
        range_end: prefix_end("/k/"),
        start_revision: start,
        prev_kv: rng.chance(0.5),
        ..Default::default()
    };
    let first = if start > 0 { start } else { current + 1 };
    let mut responses = vec![WatchResponse {
        at: created,
        header_revision: current,
        ..Default::default()
    }];
    let time_of = |rev: i64| {
        revision_at
            .binary_search_by_key(&rev, |(r, _)| *r)
            .map_or(created, |i| revision_at[i].1)
    };
    let mut at = created;
    for e in store_events(store, &request, first, store.revision()) {
        let rev = e.kv.mod_revision;
        match responses.last_mut() {
            Some(r) if r.events.last().is_some_and(|l| l.kv.mod_revision == rev) => {
                r.events.push(e)
            }
            _ => {
                at = at.max(time_of(rev)) + 1;
                responses.push(WatchResponse {
                    at,
                    header_revision: rev,
                    events: vec![e],
                    ..Default::default()
                });
                if rng.chance(0.05) {
                    at += 1;
                    responses.push(WatchResponse {
                        at,
                        header_revision: rev,
                        progress_notify: true,
                        ..Default::default()
                    });
                }
            }
        }
    }
    WatchRecord {
        id,
        client: 100 + id,
        stream: id,
        member: None,
        member_compacted: None,
        request,
        created,
        responses,
        k8s_list: None,
        cancel_sent: None,
    }
}
