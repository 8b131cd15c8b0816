//! Builds small etcd histories by running requests one after another on the
//! checker's own store (so the base history is linearizable), plus watches
//! that saw exactly the events the store produced. Tests then break one thing.

use checker::history::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, EndState, Event, EventKind, HashKv,
    History, K8sTag, KeyValue, MemberEndState, OpResult, Operation, PutRequest, RangeRequest,
    Request, Response, TxnOp, TxnRequest, WatchRecord, WatchRequest, WatchResponse, prefix_end,
};
use checker::models::etcd::{Store, exec};

pub struct Builder {
    pub store: Store,
    pub history: History,
    pub time: u64,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            store: Store::new(),
            history: History::default(),
            time: 10,
        }
    }

    pub fn revision(&self) -> i64 {
        self.store.revision()
    }

    /// Lets `ns` nanoseconds pass before the next operation.
    pub fn wait(&mut self, ns: u64) {
        self.time += ns;
    }

    fn record(
        &mut self,
        client: u64,
        request: Request,
        result: OpResult,
        k8s: Option<K8sTag>,
    ) -> u64 {
        let id = self.history.operations.len() as u64 + 1;
        self.history.operations.push(Operation {
            id,
            client,
            call: self.time,
            ret: Some(self.time + 5),
            request,
            result,
            k8s,
        });
        self.time += 10;
        id
    }

    /// Runs a request on the store and records it with its true answer.
    pub fn run_tagged(&mut self, client: u64, request: Request, k8s: Option<K8sTag>) -> u64 {
        let result = match exec::execute(&mut self.store, &request, None) {
            Ok(r) => OpResult::Ok(r),
            Err(e) => OpResult::Fail(e),
        };
        self.record(client, request, result, k8s)
    }

    pub fn run(&mut self, client: u64, request: Request) -> u64 {
        self.run_tagged(client, request, None)
    }

    /// Records an operation with a made-up answer (the store is not touched).
    pub fn fake(&mut self, client: u64, request: Request, result: OpResult) -> u64 {
        self.record(client, request, result, None)
    }

    pub fn put(&mut self, key: &str, value: &str) -> u64 {
        self.run(1, put(key, value))
    }

    pub fn delete(&mut self, key: &str) -> u64 {
        self.run(
            1,
            Request::DeleteRange(DeleteRangeRequest {
                key: key.into(),
                ..Default::default()
            }),
        )
    }

    pub fn get(&mut self, key: &str) -> u64 {
        self.run(2, get(key))
    }

    /// A linearizable read of everything, as runs end with.
    pub fn final_read(&mut self) -> u64 {
        self.run(
            3,
            Request::Range(RangeRequest {
                key: "\0".into(),
                range_end: "\0".into(),
                ..Default::default()
            }),
        )
    }

    pub fn events(&self, req: &WatchRequest, from: i64, to: i64) -> Vec<Event> {
        store_events(&self.store, req, from, to)
    }

    /// A watch that saw exactly what the store did from `start` to now: a
    /// creation response at `created_rev`, then one response per revision.
    pub fn watch(&self, id: u64, req: WatchRequest, created_rev: i64) -> WatchRecord {
        let first = if req.start_revision > 0 {
            req.start_revision
        } else {
            created_rev + 1
        };
        let events = self.events(&req, first, self.revision());
        let mut responses = vec![WatchResponse {
            at: self.time,
            header_revision: created_rev,
            ..Default::default()
        }];
        let mut at = self.time + 1;
        for e in events {
            match responses.last_mut() {
                Some(r)
                    if r.events
                        .last()
                        .is_some_and(|l| l.kv.mod_revision == e.kv.mod_revision) =>
                {
                    r.events.push(e)
                }
                _ => {
                    at += 1;
                    responses.push(WatchResponse {
                        at,
                        header_revision: e.kv.mod_revision,
                        events: vec![e],
                        ..Default::default()
                    });
                }
            }
        }
        WatchRecord {
            id,
            client: 9,
            stream: 1,
            member: None,
            member_compacted: None,
            request: req,
            created: 1,
            responses,
            k8s_list: None,
            cancel_sent: None,
        }
    }

    pub fn finish(mut self) -> (History, EndState) {
        self.final_read();
        let hash = HashKv {
            revision: self.revision(),
            compact_revision: self.store.compact_revision(),
            hash: 7,
        };
        let end = EndState {
            members: (1..=3)
                .map(|member| MemberEndState {
                    member,
                    alive: true,
                    hash_kv: Some(hash),
                    membership: Some(checker::history::Membership::new(
                        9,
                        vec![checker::history::ListedMember {
                            id: 1,
                            peer: "10.0.0.2".into(),
                            is_learner: false,
                        }],
                    )),
                })
                .collect(),
            heal_time: None,
            first_success_after_heal: None,
            liveness_bound: 1_000,
        };
        (self.history, end)
    }
}

/// Every event the store produced in `[from, to]` that `req` selects, in
/// revision then write order, with prev_kv when the watch asks for it.
pub fn store_events(store: &Store, req: &WatchRequest, from: i64, to: i64) -> Vec<Event> {
    let mut out = vec![];
    for (key, versions) in store.all_versions() {
        for (i, v) in versions.iter().enumerate() {
            if v.mod_revision < from || v.mod_revision > to {
                continue;
            }
            let kind = if v.is_live() {
                EventKind::Put
            } else {
                EventKind::Delete
            };
            if !req.selects(kind, key) {
                continue;
            }
            let prev = i
                .checked_sub(1)
                .map(|p| &versions[p])
                .filter(|p| p.is_live())
                .map(|p| p.to_key_value(key));
            let kv = if v.is_live() {
                v.to_key_value(key)
            } else {
                KeyValue {
                    key: key.clone(),
                    mod_revision: v.mod_revision,
                    ..Default::default()
                }
            };
            out.push((
                v.sub,
                Event {
                    kind,
                    kv,
                    prev_kv: if req.prev_kv { prev } else { None },
                },
            ));
        }
    }
    out.sort_by_key(|(sub, e)| (e.kv.mod_revision, *sub));
    out.into_iter().map(|(_, e)| e).collect()
}

pub fn put(key: &str, value: &str) -> Request {
    Request::Put(PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    })
}

pub fn get(key: &str) -> Request {
    Request::Range(RangeRequest {
        key: key.into(),
        ..Default::default()
    })
}

pub fn watch_prefix(prefix: &str, start: i64) -> WatchRequest {
    WatchRequest {
        key: prefix.into(),
        range_end: prefix_end(prefix),
        start_revision: start,
        ..Default::default()
    }
}

/// kube-apiserver's optimistic put: if mod_revision(key) == expected then put else get.
pub fn optimistic_put(key: &str, value: &str, expected: i64) -> Request {
    Request::Txn(TxnRequest {
        compare: vec![Compare {
            key: key.into(),
            range_end: String::new(),
            target: CompareTarget::ModRevision(expected),
            result: CompareResult::Equal,
        }],
        success: vec![TxnOp::Put(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })],
        failure: vec![TxnOp::Range(RangeRequest {
            key: key.into(),
            ..Default::default()
        })],
    })
}

pub fn response_of(h: &History, id: u64) -> Option<&Response> {
    h.operations
        .iter()
        .find(|o| o.id == id)
        .and_then(|o| o.result.response())
}
