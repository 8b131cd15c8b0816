//! Sends one request of the checker's shape to a real member and turns the
//! answer back into the checker's shape: what a traffic client records.

use crate::grpc::Etcd;
use crate::record;
use crate::traffic::{put_pb, range_pb};
use checker::history::{
    CompactResponse, Compare, CompareResult, CompareTarget, DeleteRangeRequest, LeaseGrantResponse,
    LeaseRevokeResponse, OpResult, Request, Response, TxnOp, TxnRequest,
};
use etcd_client::proto::{
    PbCompactionRequest, PbCompare, PbDeleteRequest, PbLeaseGrantRequest, PbLeaseRevokeRequest,
    PbTargetUnion, PbTxnOpRequest, PbTxnRequest, PbTxnRequestOp,
};
use std::time::Duration;

/// Sends `request` and waits at most `timeout` for the answer; no answer
/// in time is an unknown outcome (it may still apply).
pub async fn send(grpc: &mut Etcd, request: &Request, timeout: Duration) -> OpResult {
    let read_only = !request.may_write();
    let answer = tokio::time::timeout(timeout, call(grpc, request)).await;
    match answer {
        Ok(Ok(response)) => OpResult::Ok(response),
        Ok(Err(status)) => record::failed(&status, read_only),
        Err(_) => OpResult::Unknown(format!("no answer within {} ms", timeout.as_millis())),
    }
}

async fn call(grpc: &mut Etcd, request: &Request) -> Result<Response, tonic::Status> {
    Ok(match request {
        Request::Range(r) => Response::Range(record::range(&grpc.range(range_pb(r)).await?)),
        Request::Put(p) => Response::Put(record::put(&grpc.put(put_pb(p)).await?)),
        Request::DeleteRange(d) => {
            Response::DeleteRange(record::delete(&grpc.delete(delete_pb(d)).await?))
        }
        Request::Txn(t) => Response::Txn(record::txn(&grpc.txn(txn_pb(t)).await?)),
        Request::Compact { revision } => {
            let a = grpc
                .compact(PbCompactionRequest {
                    revision: *revision,
                    physical: false,
                })
                .await?;
            Response::Compact(CompactResponse {
                header_revision: a.header.map_or(0, |h| h.revision),
            })
        }
        Request::LeaseGrant { id, ttl } => {
            let a = grpc
                .lease_grant(PbLeaseGrantRequest { ttl: *ttl, id: *id })
                .await?;
            Response::LeaseGrant(LeaseGrantResponse {
                header_revision: a.header.map_or(0, |h| h.revision),
                id: a.id,
                ttl: a.ttl,
            })
        }
        Request::LeaseRevoke { id } => {
            let a = grpc.lease_revoke(PbLeaseRevokeRequest { id: *id }).await?;
            Response::LeaseRevoke(LeaseRevokeResponse {
                header_revision: a.header.map_or(0, |h| h.revision),
            })
        }
        Request::LeaseKeepAlive { .. } | Request::LeaseTimeToLive { .. } => {
            return Err(tonic::Status::unimplemented(
                "the real traffic sends no keep-alives or TTL queries",
            ));
        }
    })
}

fn delete_pb(d: &DeleteRangeRequest) -> PbDeleteRequest {
    PbDeleteRequest {
        key: d.key.clone().into_bytes(),
        range_end: d.range_end.clone().into_bytes(),
        prev_kv: d.prev_kv,
    }
}

fn txn_pb(t: &TxnRequest) -> PbTxnRequest {
    let ops = |ops: &[TxnOp]| {
        ops.iter()
            .map(|op| PbTxnRequestOp {
                request: Some(match op {
                    TxnOp::Range(r) => PbTxnOpRequest::RequestRange(range_pb(r)),
                    TxnOp::Put(p) => PbTxnOpRequest::RequestPut(put_pb(p)),
                    TxnOp::DeleteRange(d) => PbTxnOpRequest::RequestDeleteRange(delete_pb(d)),
                    TxnOp::Txn(t) => PbTxnOpRequest::RequestTxn(txn_pb(t)),
                }),
            })
            .collect()
    };
    PbTxnRequest {
        compare: t.compare.iter().map(compare_pb).collect(),
        success: ops(&t.success),
        failure: ops(&t.failure),
    }
}

/// etcd's enum numbers (rpc.proto): CompareResult EQUAL 0, GREATER 1,
/// LESS 2, NOT_EQUAL 3; CompareTarget VERSION 0, CREATE 1, MOD 2, VALUE 3,
/// LEASE 4.
fn compare_pb(c: &Compare) -> PbCompare {
    let result = match c.result {
        CompareResult::Equal => 0,
        CompareResult::Greater => 1,
        CompareResult::Less => 2,
        CompareResult::NotEqual => 3,
    };
    let (target, union) = match &c.target {
        CompareTarget::Version(v) => (0, PbTargetUnion::Version(*v)),
        CompareTarget::CreateRevision(r) => (1, PbTargetUnion::CreateRevision(*r)),
        CompareTarget::ModRevision(r) => (2, PbTargetUnion::ModRevision(*r)),
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
