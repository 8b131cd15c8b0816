//! Kubernetes-shaped traffic, as kube-apiserver uses etcd: informers that
//! list with pagination (limit 10, later pages pinned to the first page's
//! revision) and then watch from the list revision + 1 with prev_kv and
//! progress notifications, relisting when the watch is compacted; writers
//! doing optimistic puts and deletes on mod_revision; events written with
//! short leases and no keepalive; and a compactor like kube-apiserver's.

use super::TrafficContext;
use super::watching::RecordedStream;
use crate::recorder::RecordingClient;
use checker::history::K8sTag;
use node::client::ClientError;
use node::wire::api::{
    CompactionRequest, Compare, CompareResult, CompareTarget, DeleteRangeRequest,
    LeaseGrantRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest,
    client_request::Body, client_response, compare, request_op,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

const PODS: &str = "/registry/pods/";
const EVENTS: &str = "/registry/events/";
const COMPACT_KEY: &str = "compact_rev_key";
const PAGE: i64 = 10;

fn prefix_end(prefix: &str) -> Vec<u8> {
    node::mvcc::prefix_end(prefix.as_bytes())
}

/// Which part a client plays, by its index within the profile.
pub async fn run(ctx: TrafficContext, id: u64, index: usize, rng: ChaCha8Rng) {
    let informers = (ctx.clients / 3).max(1);
    if index == 0 && ctx.clients >= 3 {
        compactor(ctx, id, rng).await
    } else if index <= informers {
        informer(ctx, id, rng).await
    } else {
        writer(ctx, id, rng).await
    }
}

/// Lists the prefix page by page at one revision. Returns the revision,
/// or None when the list failed and must start over.
async fn list(client: &mut RecordingClient, prefix: &str, list_id: u64) -> Option<i64> {
    let end = prefix_end(prefix);
    let mut key = prefix.as_bytes().to_vec();
    let mut rev = 0;
    for page in 0u32.. {
        let req = RangeRequest {
            key: key.clone(),
            range_end: end.clone(),
            limit: PAGE,
            revision: rev,
            ..Default::default()
        };
        let tag = K8sTag::ListPage {
            list: list_id,
            page,
        };
        let Ok(client_response::Body::Range(r)) = client.call(Body::Range(req), Some(tag)).await
        else {
            return None;
        };
        if page == 0 {
            rev = r.header.as_ref().map(|h| h.revision).unwrap_or(0);
        }
        match (r.more, r.kvs.last()) {
            (true, Some(last)) => {
                key = last.key.clone();
                key.push(0);
            }
            _ => return Some(rev),
        }
    }
    None
}

async fn informer(ctx: TrafficContext, id: u64, mut rng: ChaCha8Rng) {
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    let mut stream: Option<RecordedStream> = None;
    let mut stream_no = 0;
    'relist: while !ctx.stopped() {
        let list_id = ctx.recorder.next_list_id();
        let Some(list_rev) = list(&mut client, PODS, list_id).await else {
            ctx.pace(&mut rng).await;
            continue;
        };
        let mut last_rev = list_rev;
        // Only the watch right after the list is tied to it; re-watches
        // after a broken stream resume from the last revision seen.
        let mut follows_list = Some(list_id);
        loop {
            if ctx.stopped() {
                break 'relist;
            }
            if stream.is_none() {
                let member = client.client.member();
                let ip = sim::member_ip(member);
                stream_no += 1;
                match RecordedStream::open(
                    id,
                    stream_no,
                    member,
                    ip,
                    ctx.recorder.clone(),
                    ctx.client_timeout,
                )
                .await
                {
                    Ok(s) => stream = Some(s),
                    Err(_) => {
                        client.client.rotate();
                        ctx.pace(&mut rng).await;
                        continue;
                    }
                }
            }
            let Some(s) = stream.as_mut() else { continue };
            let req = WatchCreateRequest {
                key: PODS.as_bytes().to_vec(),
                range_end: prefix_end(PODS),
                start_revision: last_rev + 1,
                progress_notify: true,
                prev_kv: true,
                ..Default::default()
            };
            if s.watch(req, follows_list.take()).await.is_err() {
                if let Some(s) = stream.take() {
                    s.finish();
                }
                client.client.rotate();
                continue;
            }
            match consume(&ctx, s, &mut last_rev).await {
                WatchEnd::Stopped => break 'relist,
                WatchEnd::Compacted => continue 'relist,
                WatchEnd::Broken => {
                    // The reflector re-watches from where it got to.
                    if let Some(s) = stream.take() {
                        s.finish();
                    }
                    client.client.rotate();
                }
            }
        }
    }
    if let Some(s) = stream {
        s.finish();
    }
}

enum WatchEnd {
    Stopped,
    Compacted,
    Broken,
}

/// Reads the watch until it ends, asking for progress every 100 ms (how the
/// apiserver serves consistent reads from its cache).
async fn consume(ctx: &TrafficContext, s: &mut RecordedStream, last_rev: &mut i64) -> WatchEnd {
    let mut ticks = madsim::time::interval(Duration::from_millis(100));
    loop {
        if ctx.stopped() {
            return WatchEnd::Stopped;
        }
        tokio::select! {
            biased;
            resp = s.next() => match resp {
                Ok(r) if r.canceled && r.compact_revision > 0 => {
                    return WatchEnd::Compacted;
                }
                Ok(r) if r.canceled => return WatchEnd::Broken,
                Ok(r) => {
                    for e in &r.events {
                        if let Some(kv) = &e.kv {
                            *last_rev = (*last_rev).max(kv.mod_revision);
                        }
                    }
                    if r.events.is_empty() && !r.created {
                        *last_rev = (*last_rev).max(r.header.as_ref().map(|h| h.revision).unwrap_or(0));
                    }
                }
                Err(_) => return WatchEnd::Broken,
            },
            _ = ticks.tick() => {
                if s.request_progress().await.is_err() {
                    return WatchEnd::Broken;
                }
            }
        }
    }
}

fn optimistic_txn(key: &str, expected: i64, then: request_op::Request) -> TxnRequest {
    TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Mod as i32,
            key: key.as_bytes().to_vec(),
            target_union: Some(compare::TargetUnion::ModRevision(expected)),
            range_end: vec![],
        }],
        success: vec![RequestOp {
            request: Some(then),
        }],
        failure: vec![RequestOp {
            request: Some(request_op::Request::Range(RangeRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            })),
        }],
    }
}

/// What a writer knows of each object: its mod_revision (0 = absent).
fn learn(
    known: &mut BTreeMap<String, i64>,
    key: &str,
    resp: &Result<client_response::Body, ClientError>,
) {
    if let Ok(client_response::Body::Txn(t)) = resp {
        let rev = t.header.as_ref().map(|h| h.revision).unwrap_or(0);
        if t.succeeded {
            let deleted = matches!(
                t.responses.first().and_then(|r| r.response.as_ref()),
                Some(node::wire::api::response_op::Response::DeleteRange(_))
            );
            known.insert(key.to_string(), if deleted { 0 } else { rev });
        } else if let Some(node::wire::api::response_op::Response::Range(r)) =
            t.responses.first().and_then(|r| r.response.as_ref())
        {
            known.insert(
                key.to_string(),
                r.kvs.first().map(|kv| kv.mod_revision).unwrap_or(0),
            );
        }
    }
    if let Ok(client_response::Body::Range(r)) = resp {
        known.insert(
            key.to_string(),
            r.kvs.first().map(|kv| kv.mod_revision).unwrap_or(0),
        );
    }
}

async fn writer(ctx: TrafficContext, id: u64, mut rng: ChaCha8Rng) {
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    let mut known: BTreeMap<String, i64> = BTreeMap::new();
    let mut n = 0u64;
    let mut lease: Option<(i64, u32)> = None;
    while !ctx.stopped() {
        n += 1;
        let key = format!("{PODS}pod-{}", rng.gen_range(0..ctx.keys.max(1)));
        let expected = known.get(&key).copied().unwrap_or(0);
        let value = format!("c{id}-{n}").into_bytes();
        match super::weighted(&mut rng, &[20, 45, 15, 5, 15]) {
            0 => {
                let req = RangeRequest {
                    key: key.clone().into_bytes(),
                    limit: 1,
                    ..Default::default()
                };
                let resp = client.call(Body::Range(req), Some(K8sTag::Get)).await;
                learn(&mut known, &key, &resp);
            }
            1 => {
                let put = request_op::Request::Put(PutRequest {
                    key: key.clone().into_bytes(),
                    value,
                    ..Default::default()
                });
                let tag = K8sTag::OptimisticPut {
                    expected_mod_revision: expected,
                };
                let resp = client
                    .call(Body::Txn(optimistic_txn(&key, expected, put)), Some(tag))
                    .await;
                learn(&mut known, &key, &resp);
            }
            2 if expected != 0 => {
                let del = request_op::Request::DeleteRange(DeleteRangeRequest {
                    key: key.clone().into_bytes(),
                    ..Default::default()
                });
                let tag = K8sTag::OptimisticDelete {
                    expected_mod_revision: expected,
                };
                let resp = client
                    .call(Body::Txn(optimistic_txn(&key, expected, del)), Some(tag))
                    .await;
                learn(&mut known, &key, &resp);
            }
            3 => {
                let req = RangeRequest {
                    key: PODS.as_bytes().to_vec(),
                    range_end: prefix_end(PODS),
                    count_only: true,
                    ..Default::default()
                };
                let _ = client.call(Body::Range(req), Some(K8sTag::Count)).await;
            }
            _ => {
                // Events: written with a short lease that is never kept alive.
                if lease.is_none_or(|(_, uses)| uses >= 10) {
                    let ttl = rng.gen_range(2..5);
                    lease = match client
                        .call(Body::LeaseGrant(LeaseGrantRequest { ttl, id: 0 }), None)
                        .await
                    {
                        Ok(client_response::Body::LeaseGrant(g)) => Some((g.id, 0)),
                        _ => None,
                    };
                }
                if let Some((lease_id, uses)) = lease.as_mut() {
                    *uses += 1;
                    let put = PutRequest {
                        key: format!("{EVENTS}ev-{id}-{n}").into_bytes(),
                        value,
                        lease: *lease_id,
                        ..Default::default()
                    };
                    let _ = client.call(Body::Put(put), None).await;
                }
            }
        }
        ctx.pace(&mut rng).await;
    }
}

/// kube-apiserver's compactor: a transaction on the version of
/// `compact_rev_key` as a logical clock, then a compaction at the
/// revision seen in the previous round.
async fn compactor(ctx: TrafficContext, id: u64, mut rng: ChaCha8Rng) {
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    let interval = Duration::from_millis(1500);
    let mut logical = 0i64;
    let mut prev_rev = 0i64;
    while !ctx.stopped() {
        madsim::time::sleep(interval + Duration::from_millis(rng.gen_range(0..200))).await;
        if ctx.stopped() {
            break;
        }
        let txn = TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Version as i32,
                key: COMPACT_KEY.as_bytes().to_vec(),
                target_union: Some(compare::TargetUnion::Version(logical)),
                range_end: vec![],
            }],
            success: vec![RequestOp {
                request: Some(request_op::Request::Put(PutRequest {
                    key: COMPACT_KEY.as_bytes().to_vec(),
                    value: prev_rev.to_string().into_bytes(),
                    ..Default::default()
                })),
            }],
            failure: vec![RequestOp {
                request: Some(request_op::Request::Range(RangeRequest {
                    key: COMPACT_KEY.as_bytes().to_vec(),
                    ..Default::default()
                })),
            }],
        };
        let Ok(client_response::Body::Txn(t)) =
            client.call(Body::Txn(txn), Some(K8sTag::Compactor)).await
        else {
            continue;
        };
        let cur_rev = t.header.as_ref().map(|h| h.revision).unwrap_or(0);
        if !t.succeeded {
            if let Some(node::wire::api::response_op::Response::Range(r)) =
                t.responses.first().and_then(|r| r.response.as_ref())
            {
                logical = r.kvs.first().map(|kv| kv.version).unwrap_or(0);
            }
            prev_rev = cur_rev;
            continue;
        }
        logical += 1;
        if prev_rev > 0 {
            let compact = CompactionRequest {
                revision: prev_rev,
                physical: false,
            };
            let _ = client
                .call(Body::Compaction(compact), Some(K8sTag::Compactor))
                .await;
        }
        prev_rev = cur_rev;
    }
}
