//! Sends a differential sequence to a real etcd, one request at a time,
//! and writes down each answer in the shared shape.

use crate::grpc::Etcd;
use crate::harness::Member;
use crate::watch::EtcdStream;
use differential::answer::{Answer, Body, Code, Kv, Reply, ServerExit};
use differential::step::{
    Compare, CompareOp, CompareTarget, Delete, Put, Range, SortOrder, SortTarget, Step, Txn, TxnOp,
};
use differential::watch::Watching;
use differential::{Resolver, Sequence};
use etcd_client::proto::{
    PbCompactionRequest, PbCompare, PbDeleteRequest, PbDeleteResponse, PbHashKvRequest, PbKeyValue,
    PbLeaseGrantRequest, PbLeaseKeepAliveRequest, PbLeaseRevokeRequest, PbLeaseTimeToLiveRequest,
    PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse, PbResponseHeader, PbTargetUnion,
    PbTxnOpRequest, PbTxnOpResponse, PbTxnRequest, PbTxnRequestOp, PbTxnResponse,
};
use std::time::Duration;
use tonic::Status;

/// What a member answered to a sequence.
pub struct Run {
    /// Every step's answer, in order, up to the one etcd ended on.
    pub answers: Vec<Answer>,
    /// etcd's process ended: on which step, and its last log lines.
    pub exited: Option<ServerExit>,
}

/// How long a broken connection may come before the process's end.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Log lines kept from an etcd that ended (a Go panic's message and the
/// top of its stack).
const EXIT_LOG_LINES: usize = 40;

/// Sends every step to `member` through `client`, until the sequence ends
/// or etcd's process does (nothing is sent to a server that is gone).
pub async fn run(member: &mut Member, client: &mut Etcd, sequence: &Sequence) -> Run {
    let mut resolver = Resolver::default();
    let mut watching = Watching::default();
    let mut stream = EtcdStream::new(client.clone());
    let mut answers = Vec::with_capacity(sequence.steps.len());
    for (i, step) in sequence.steps.iter().enumerate() {
        let answer = match watching.step(&mut stream, &resolver, step).await {
            Some(answer) => answer.unwrap_or_else(error),
            None => one(client, &resolver, step)
                .await
                .map_or_else(error, Answer::Ok),
        };
        let broken = matches!(
            answer,
            Answer::Error {
                code: Code::Unknown | Code::Unavailable,
                ..
            }
        );
        let grace = if broken { EXIT_GRACE } else { Duration::ZERO };
        if member.exited(grace).await {
            answers.push(answer);
            return Run {
                answers,
                exited: Some(ServerExit {
                    step: i,
                    log: member.log_tail(EXIT_LOG_LINES),
                }),
            };
        }
        resolver.observe(step, &answer);
        answers.push(answer);
    }
    Run {
        answers,
        exited: None,
    }
}

/// An error status as an answer: its gRPC code and message.
fn error(status: Status) -> Answer {
    Answer::Error {
        code: Code::from_grpc(status.code() as i32).unwrap_or(Code::Unknown),
        message: status.message().to_string(),
    }
}

async fn one(c: &mut Etcd, r: &Resolver, step: &Step) -> Result<Reply, Status> {
    Ok(match step {
        Step::Watch(_) | Step::WatchProgress | Step::WatchCancel { .. } => {
            return Err(Status::internal("watch steps go to the watch stream"));
        }
        Step::Put(p) => put_reply(c.put(put(p)).await?),
        Step::Range(x) => range_reply(c.range(range(r, x)).await?),
        Step::Delete(d) => delete_reply(c.delete(delete(d)).await?),
        Step::Txn(t) => txn_reply(c.txn(txn(r, t)).await?),
        Step::Compact { revision, physical } => {
            let a = c
                .compact(PbCompactionRequest {
                    revision: r.rev(*revision),
                    physical: *physical,
                })
                .await?;
            reply(&a.header, Body::Compact)
        }
        Step::LeaseGrant { id, ttl } => {
            let a = c
                .lease_grant(PbLeaseGrantRequest { ttl: *ttl, id: *id })
                .await?;
            reply(
                &a.header,
                Body::LeaseGrant {
                    id: a.id,
                    ttl: a.ttl,
                },
            )
        }
        Step::LeaseRevoke { id } => {
            let a = c.lease_revoke(PbLeaseRevokeRequest { id: *id }).await?;
            reply(&a.header, Body::LeaseRevoke)
        }
        Step::LeaseTimeToLive { id, keys } => {
            let a = c
                .lease_time_to_live(PbLeaseTimeToLiveRequest {
                    id: *id,
                    keys: *keys,
                })
                .await?;
            let body = Body::LeaseTimeToLive {
                id: a.id,
                ttl: a.ttl,
                granted_ttl: a.granted_ttl,
                keys: a.keys.iter().map(|k| text(k)).collect(),
            };
            reply(&a.header, body)
        }
        Step::LeaseLeases => {
            let a = c.lease_leases().await?;
            let mut leases: Vec<i64> = a.leases.iter().map(|l| l.id).collect();
            // etcd lists leases in map order.
            leases.sort_unstable();
            reply(&a.header, Body::LeaseLeases { leases })
        }
        Step::LeaseKeepAlive { id } => {
            let a = c
                .lease_keep_alive(PbLeaseKeepAliveRequest { id: *id })
                .await?;
            reply(
                &a.header,
                Body::LeaseKeepAlive {
                    id: a.id,
                    ttl: a.ttl,
                },
            )
        }
        Step::Status => {
            let a = c.status().await?;
            let body = Body::Status {
                version: a.version.clone(),
                db_size: a.db_size,
                raft_index: a.raft_index,
                raft_term: a.raft_term,
                is_learner: a.is_learner,
                errors: a.errors.clone(),
            };
            reply(&a.header, body)
        }
        Step::HashKv { revision } => {
            let a = c
                .hash_kv(PbHashKvRequest {
                    revision: r.rev(*revision),
                })
                .await?;
            let body = Body::HashKv {
                hash: a.hash,
                compact_revision: a.compact_revision,
                hash_revision: a.hash_revision,
            };
            reply(&a.header, body)
        }
    })
}

fn reply(header: &Option<PbResponseHeader>, body: Body) -> Reply {
    Reply {
        revision: header.as_ref().map(|h| h.revision).unwrap_or(0),
        body,
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn kv(kv: &PbKeyValue) -> Kv {
    Kv {
        key: text(&kv.key),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: text(&kv.value),
        lease: kv.lease,
    }
}

fn put(p: &Put) -> PbPutRequest {
    PbPutRequest {
        key: p.key.clone().into_bytes(),
        value: p.value_bytes(),
        lease: p.lease,
        prev_kv: p.prev_kv,
        ignore_value: p.ignore_value,
        ignore_lease: p.ignore_lease,
    }
}

fn put_reply(a: PbPutResponse) -> Reply {
    reply(
        &a.header,
        Body::Put {
            prev_kv: a.prev_kv.as_ref().map(kv),
        },
    )
}

fn range(r: &Resolver, x: &Range) -> PbRangeRequest {
    // etcd's enum numbers (rpc.proto RangeRequest.SortOrder / SortTarget).
    let sort_order = match x.sort_order {
        SortOrder::None => 0,
        SortOrder::Ascend => 1,
        SortOrder::Descend => 2,
    };
    let sort_target = match x.sort_target {
        SortTarget::Key => 0,
        SortTarget::Version => 1,
        SortTarget::Create => 2,
        SortTarget::Mod => 3,
        SortTarget::Value => 4,
    };
    PbRangeRequest {
        key: x.key.clone().into_bytes(),
        range_end: x.range_end.clone().into_bytes(),
        limit: x.limit,
        revision: r.rev(x.revision),
        sort_order,
        sort_target,
        serializable: x.serializable,
        keys_only: x.keys_only,
        count_only: x.count_only,
        min_mod_revision: x.min_mod_revision,
        max_mod_revision: x.max_mod_revision,
        min_create_revision: x.min_create_revision,
        max_create_revision: x.max_create_revision,
    }
}

fn range_reply(a: PbRangeResponse) -> Reply {
    reply(
        &a.header,
        Body::Range {
            kvs: a.kvs.iter().map(kv).collect(),
            more: a.more,
            count: a.count,
        },
    )
}

fn delete(d: &Delete) -> PbDeleteRequest {
    PbDeleteRequest {
        key: d.key.clone().into_bytes(),
        range_end: d.range_end.clone().into_bytes(),
        prev_kv: d.prev_kv,
    }
}

fn delete_reply(a: PbDeleteResponse) -> Reply {
    reply(
        &a.header,
        Body::Delete {
            deleted: a.deleted,
            prev_kvs: a.prev_kvs.iter().map(kv).collect(),
        },
    )
}

fn compare(r: &Resolver, c: &Compare) -> PbCompare {
    // etcd's enum numbers (rpc.proto Compare.CompareResult / CompareTarget).
    let result = match c.op {
        CompareOp::Equal => 0,
        CompareOp::Greater => 1,
        CompareOp::Less => 2,
        CompareOp::NotEqual => 3,
    };
    let (target, union) = match &c.target {
        CompareTarget::Version(v) => (0, PbTargetUnion::Version(*v)),
        CompareTarget::Create(rev) => (1, PbTargetUnion::CreateRevision(r.rev(*rev))),
        CompareTarget::Mod(rev) => (2, PbTargetUnion::ModRevision(r.rev(*rev))),
        CompareTarget::Value(v) => (3, PbTargetUnion::Value(v.clone().into_bytes())),
        CompareTarget::Lease(l) => (4, PbTargetUnion::Lease(*l)),
    };
    PbCompare {
        result,
        target,
        key: c.key.clone().into_bytes(),
        range_end: c.range_end.clone().into_bytes(),
        target_union: Some(union),
    }
}

fn txn(r: &Resolver, t: &Txn) -> PbTxnRequest {
    let ops = |ops: &[TxnOp]| -> Vec<PbTxnRequestOp> {
        ops.iter()
            .map(|op| PbTxnRequestOp {
                request: Some(match op {
                    TxnOp::Range(x) => PbTxnOpRequest::RequestRange(range(r, x)),
                    TxnOp::Put(p) => PbTxnOpRequest::RequestPut(put(p)),
                    TxnOp::Delete(d) => PbTxnOpRequest::RequestDeleteRange(delete(d)),
                    TxnOp::Txn(inner) => PbTxnOpRequest::RequestTxn(txn(r, inner)),
                }),
            })
            .collect()
    };
    PbTxnRequest {
        compare: t.compare.iter().map(|c| compare(r, c)).collect(),
        success: ops(&t.success),
        failure: ops(&t.failure),
    }
}

fn txn_reply(a: PbTxnResponse) -> Reply {
    let responses = a
        .responses
        .into_iter()
        .filter_map(|op| op.response)
        .map(|op| match op {
            PbTxnOpResponse::ResponseRange(x) => range_reply(x),
            PbTxnOpResponse::ResponsePut(x) => put_reply(x),
            PbTxnOpResponse::ResponseDeleteRange(x) => delete_reply(x),
            PbTxnOpResponse::ResponseTxn(x) => txn_reply(x),
        })
        .collect();
    reply(
        &a.header,
        Body::Txn {
            succeeded: a.succeeded,
            responses,
        },
    )
}
