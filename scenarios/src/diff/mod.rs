//! The simulated half of `faultline diff`: a differential sequence sent to
//! a one-member cluster of our store in a fresh simulated world, one
//! request at a time, each answer written down in the shared shape.
//!
//! The member runs as 3.5, the version closest to the Debian etcd (3.4.23)
//! that `faultline-etcd` compares with; the world's seed is the sequence's,
//! so a difference replays exactly.

use differential::answer::{Answer, Body, Code, Kv, Reply};
use differential::step::{
    Compare, CompareOp, CompareTarget, Delete, Put, Range, SortOrder, SortTarget, Step, Txn, TxnOp,
};
use differential::watch::Watching;
use differential::{Answers, Resolver, Sequence};
use node::bugs::BugSet;
use node::client::{Client, ClientError};
use node::config::{MemberConfig, Peer, StoreKnobs};
use node::version::Version;
use node::wire::api as w;
use node::wire::api::{client_request, client_response};
use sim::{RunPanic, member_ip, run_seed};
use std::time::Duration;
use watch::SimStream;

mod watch;

/// The member's version in a differential run.
pub const VERSION: Version = Version::V3_5;
/// How long the member may take to elect itself.
const STARTUP: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// One-way latency of the simulated loopback between client and member.
const LOOPBACK: std::ops::Range<Duration> = Duration::from_micros(20)..Duration::from_micros(100);

/// Every step's answer from a one-member cluster of our store.
pub fn answer(sequence: &Sequence, bugs: BugSet) -> Result<Answers, RunPanic> {
    let steps = sequence.steps.clone();
    let (answers, info) = run_seed(sequence.seed, move |world| async move {
        // The real member answers on loopback; so does this one, or leases
        // granted for two seconds would run out here and not there.
        world.set_network_latency(LOOPBACK);
        world.start_member(MemberConfig {
            id: 1,
            version: VERSION,
            cluster_id: 1,
            peers: vec![Peer {
                id: 1,
                ip: member_ip(1),
            }],
            join_existing: false,
            knobs: etcd_timing(),
            bugs,
        });
        let endpoints = world.endpoints();
        let client = world.spawn_client(1, async move {
            let mut client = Client::new(endpoints, 0, REQUEST_TIMEOUT);
            wait_for_leader(&mut client).await;
            let mut resolver = Resolver::default();
            let mut watching = Watching::default();
            let mut stream = SimStream::new();
            let mut answers = Vec::with_capacity(steps.len());
            for step in &steps {
                let answer = match watching.step(&mut stream, &resolver, step).await {
                    Some(Ok(answer)) => answer,
                    // No answer at all: what a gRPC client sees as unavailable.
                    Some(Err(e)) => Answer::Error {
                        code: Code::Unavailable,
                        message: e.to_string(),
                    },
                    None => one(&mut client, &resolver, step).await,
                };
                resolver.observe(step, &answer);
                answers.push(answer);
            }
            answers
        });
        client.await.map_err(|e| e.to_string())
    })?;
    let answers = answers.map_err(|message| RunPanic {
        seed: sequence.seed,
        message: format!("the client of the simulated member ended early: {message}"),
    })?;
    Ok(Answers {
        seed: sequence.seed,
        server: format!("faultline store {VERSION}"),
        answers,
        wall_ms: info.wall_time.as_secs_f64() * 1e3,
        exited: None,
    })
}

/// etcd's default timing (100 ms heartbeat, 1 s election timeout), which
/// the real member runs with; the smallest lease TTL follows from it as in
/// etcd: ceil(1.5 election timeouts) = 2 s. Simulations elsewhere run ten
/// times faster.
fn etcd_timing() -> StoreKnobs {
    StoreKnobs {
        tick_ms: 100,
        election_ticks: 10,
        heartbeat_ticks: 1,
        min_lease_ttl_s: 2,
        ..StoreKnobs::default()
    }
}

async fn wait_for_leader(client: &mut Client) {
    let started = madsim::time::Instant::now();
    while started.elapsed() < STARTUP {
        if let Ok(client_response::Body::Status(s)) = client
            .request(client_request::Body::Status(w::StatusRequest {}))
            .await
            && s.leader != 0
        {
            return;
        }
        madsim::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn one(client: &mut Client, r: &Resolver, step: &Step) -> Answer {
    use client_request::Body as Q;
    let request = match step {
        Step::Watch(_) | Step::WatchProgress | Step::WatchCancel { .. } => {
            return Answer::Error {
                code: Code::Internal,
                message: "watch steps go to the watch stream".into(),
            };
        }
        Step::Put(p) => Q::Put(put(p)),
        Step::Range(x) => Q::Range(range(r, x)),
        Step::Delete(d) => Q::DeleteRange(delete(d)),
        Step::Txn(t) => Q::Txn(txn(r, t)),
        Step::Compact { revision, physical } => Q::Compaction(w::CompactionRequest {
            revision: r.rev(*revision),
            physical: *physical,
        }),
        Step::LeaseGrant { id, ttl } => Q::LeaseGrant(w::LeaseGrantRequest { ttl: *ttl, id: *id }),
        Step::LeaseRevoke { id } => Q::LeaseRevoke(w::LeaseRevokeRequest { id: *id }),
        Step::LeaseTimeToLive { id, keys } => Q::LeaseTimeToLive(w::LeaseTimeToLiveRequest {
            id: *id,
            keys: *keys,
        }),
        Step::LeaseLeases => Q::LeaseLeases(w::LeaseLeasesRequest {}),
        Step::LeaseKeepAlive { id } => Q::LeaseKeepAlive(w::LeaseKeepAliveRequest { id: *id }),
        Step::Status => Q::Status(w::StatusRequest {}),
        Step::HashKv { revision } => Q::HashKv(w::HashKvRequest {
            revision: r.rev(*revision),
        }),
    };
    match client.request(request).await {
        Ok(body) => match reply(body) {
            Ok(reply) => Answer::Ok(reply),
            Err(what) => Answer::Error {
                code: Code::Unknown,
                message: format!("the store answered with {what}"),
            },
        },
        Err(ClientError::Server { code, message, .. }) => Answer::Error {
            code: Code::from_grpc(code.grpc_code()).unwrap_or(Code::Unknown),
            message,
        },
        // No answer at all: what a gRPC client sees as unavailable.
        Err(e) => Answer::Error {
            code: Code::Unavailable,
            message: e.to_string(),
        },
    }
}

fn revision(header: &Option<w::ResponseHeader>) -> i64 {
    header.as_ref().map(|h| h.revision).unwrap_or(0)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn kv(kv: &w::KeyValue) -> Kv {
    Kv {
        key: text(&kv.key),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: text(&kv.value),
        lease: kv.lease,
    }
}

/// The answer in the shared shape; `Err` names an answer of a kind no
/// sequence asks for.
fn reply(body: client_response::Body) -> Result<Reply, String> {
    use client_response::Body as A;
    let (header, body) = match body {
        A::Range(x) => return Ok(range_reply(x)),
        A::Put(x) => return Ok(put_reply(x)),
        A::DeleteRange(x) => return Ok(delete_reply(x)),
        A::Txn(x) => return Ok(txn_reply(x)),
        A::Compaction(x) => (x.header, Body::Compact),
        A::LeaseGrant(x) => (
            x.header,
            Body::LeaseGrant {
                id: x.id,
                ttl: x.ttl,
            },
        ),
        A::LeaseRevoke(x) => (x.header, Body::LeaseRevoke),
        A::LeaseTimeToLive(x) => (
            x.header,
            Body::LeaseTimeToLive {
                id: x.id,
                ttl: x.ttl,
                granted_ttl: x.granted_ttl,
                keys: x.keys.iter().map(|k| text(k)).collect(),
            },
        ),
        A::LeaseLeases(x) => {
            let mut leases = x.leases;
            leases.sort_unstable();
            (x.header, Body::LeaseLeases { leases })
        }
        A::LeaseKeepAlive(x) => (
            x.header,
            Body::LeaseKeepAlive {
                id: x.id,
                ttl: x.ttl,
            },
        ),
        A::Status(x) => (
            x.header,
            Body::Status {
                version: x.version,
                db_size: x.db_size,
                raft_index: x.raft_index,
                raft_term: x.raft_term,
                is_learner: x.is_learner,
                errors: x.errors,
            },
        ),
        A::HashKv(x) => (
            x.header,
            Body::HashKv {
                hash: x.hash,
                compact_revision: x.compact_revision,
                hash_revision: x.hash_revision,
            },
        ),
        other => return Err(format!("{other:?}")),
    };
    Ok(Reply {
        revision: revision(&header),
        body,
    })
}

fn put(p: &Put) -> w::PutRequest {
    w::PutRequest {
        key: p.key.clone().into_bytes(),
        value: p.value_bytes(),
        lease: p.lease,
        prev_kv: p.prev_kv,
        ignore_value: p.ignore_value,
        ignore_lease: p.ignore_lease,
        ttl: 0,
    }
}

fn put_reply(x: w::PutResponse) -> Reply {
    Reply {
        revision: revision(&x.header),
        body: Body::Put {
            prev_kv: x.prev_kv.as_ref().map(kv),
        },
    }
}

fn range(r: &Resolver, x: &Range) -> w::RangeRequest {
    let sort_order = match x.sort_order {
        SortOrder::None => w::SortOrder::None,
        SortOrder::Ascend => w::SortOrder::Ascend,
        SortOrder::Descend => w::SortOrder::Descend,
    };
    let sort_target = match x.sort_target {
        SortTarget::Key => w::SortTarget::Key,
        SortTarget::Version => w::SortTarget::Version,
        SortTarget::Create => w::SortTarget::Create,
        SortTarget::Mod => w::SortTarget::Mod,
        SortTarget::Value => w::SortTarget::Value,
    };
    w::RangeRequest {
        key: x.key.clone().into_bytes(),
        range_end: x.range_end.clone().into_bytes(),
        limit: x.limit,
        revision: r.rev(x.revision),
        sort_order: sort_order as i32,
        sort_target: sort_target as i32,
        serializable: x.serializable,
        keys_only: x.keys_only,
        count_only: x.count_only,
        min_mod_revision: x.min_mod_revision,
        max_mod_revision: x.max_mod_revision,
        min_create_revision: x.min_create_revision,
        max_create_revision: x.max_create_revision,
    }
}

fn range_reply(x: w::RangeResponse) -> Reply {
    Reply {
        revision: revision(&x.header),
        body: Body::Range {
            kvs: x.kvs.iter().map(kv).collect(),
            more: x.more,
            count: x.count,
        },
    }
}

fn delete(d: &Delete) -> w::DeleteRangeRequest {
    w::DeleteRangeRequest {
        key: d.key.clone().into_bytes(),
        range_end: d.range_end.clone().into_bytes(),
        prev_kv: d.prev_kv,
    }
}

fn delete_reply(x: w::DeleteRangeResponse) -> Reply {
    Reply {
        revision: revision(&x.header),
        body: Body::Delete {
            deleted: x.deleted,
            prev_kvs: x.prev_kvs.iter().map(kv).collect(),
        },
    }
}

fn compare(r: &Resolver, c: &Compare) -> w::Compare {
    let result = match c.op {
        CompareOp::Equal => w::CompareResult::Equal,
        CompareOp::Greater => w::CompareResult::Greater,
        CompareOp::Less => w::CompareResult::Less,
        CompareOp::NotEqual => w::CompareResult::NotEqual,
    };
    use w::compare::TargetUnion as U;
    let (target, union) = match &c.target {
        CompareTarget::Version(v) => (w::CompareTarget::Version, U::Version(*v)),
        CompareTarget::Create(rev) => (w::CompareTarget::Create, U::CreateRevision(r.rev(*rev))),
        CompareTarget::Mod(rev) => (w::CompareTarget::Mod, U::ModRevision(r.rev(*rev))),
        CompareTarget::Value(v) => (w::CompareTarget::Value, U::Value(v.clone().into_bytes())),
        CompareTarget::Lease(l) => (w::CompareTarget::Lease, U::Lease(*l)),
    };
    w::Compare {
        result: result as i32,
        target: target as i32,
        key: c.key.clone().into_bytes(),
        target_union: Some(union),
        range_end: c.range_end.clone().into_bytes(),
    }
}

fn txn(r: &Resolver, t: &Txn) -> w::TxnRequest {
    let ops = |ops: &[TxnOp]| -> Vec<w::RequestOp> {
        ops.iter()
            .map(|op| w::RequestOp {
                request: Some(match op {
                    TxnOp::Range(x) => w::request_op::Request::Range(range(r, x)),
                    TxnOp::Put(p) => w::request_op::Request::Put(put(p)),
                    TxnOp::Delete(d) => w::request_op::Request::DeleteRange(delete(d)),
                    TxnOp::Txn(inner) => w::request_op::Request::Txn(txn(r, inner)),
                }),
            })
            .collect()
    };
    w::TxnRequest {
        compare: t.compare.iter().map(|c| compare(r, c)).collect(),
        success: ops(&t.success),
        failure: ops(&t.failure),
    }
}

fn txn_reply(x: w::TxnResponse) -> Reply {
    let responses = x
        .responses
        .into_iter()
        .filter_map(|op| op.response)
        .map(|op| match op {
            w::response_op::Response::Range(x) => range_reply(x),
            w::response_op::Response::Put(x) => put_reply(x),
            w::response_op::Response::DeleteRange(x) => delete_reply(x),
            w::response_op::Response::Txn(x) => txn_reply(x),
        })
        .collect();
    Reply {
        revision: revision(&x.header),
        body: Body::Txn {
            succeeded: x.succeeded,
            responses,
        },
    }
}
