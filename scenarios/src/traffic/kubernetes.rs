//! Kubernetes-shaped traffic, as kube-apiserver uses etcd: informers that
//! list with pagination (limit 10, later pages pinned to the first page's
//! revision) and then watch from the list revision + 1 with prev_kv,
//! progress notifications and a required leader, relisting when the watch
//! is compacted; writers doing optimistic puts and deletes on
//! mod_revision; events written with short leases and no keepalive; and a
//! compactor like kube-apiserver's.

use super::TrafficContext;
use super::requests::{
    Read, Txn, compact, delete_op, lease_grant, mod_revision_is, put, version_is, watch_prefix,
};
use super::watching::RecordedStream;
use crate::recorder::RecordingClient;
use checker::history::K8sTag;
use node::client::ClientError;
use node::wire::api::{RequestOp, client_response};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

const PODS: &str = "/registry/pods/";
const EVENTS: &str = "/registry/events/";
const COMPACT_KEY: &str = "compact_rev_key";
const PAGE: i64 = 10;

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
    let end = node::mvcc::prefix_end(prefix.as_bytes());
    let mut key = prefix.as_bytes().to_vec();
    let mut rev = 0;
    for page in 0u32.. {
        let req = Read::range(key.clone(), end.clone()).limit(PAGE).at(rev);
        let tag = K8sTag::ListPage {
            list: list_id,
            page,
        };
        let Ok(client_response::Body::Range(r)) = client.call(req.body(), Some(tag)).await else {
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
            let mut req = watch_prefix(PODS, last_rev + 1);
            req.progress_notify = true;
            req.prev_kv = true;
            // The apiserver's etcd3 watcher asks for a leader
            // (clientv3.WithRequireLeader): a member cut off from the
            // quorum ends the watch and the reflector re-watches elsewhere.
            req.require_leader = true;
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

fn optimistic_txn(key: &str, expected: i64, then: RequestOp) -> Txn {
    Txn::when(mod_revision_is(key, expected))
        .then([then])
        .otherwise([Read::key(key).op()])
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
                let req = Read::key(key.clone()).limit(1);
                let resp = client.call(req.body(), Some(K8sTag::Get)).await;
                learn(&mut known, &key, &resp);
            }
            1 => {
                let put = put(key.clone(), value).op();
                let tag = K8sTag::OptimisticPut {
                    expected_mod_revision: expected,
                };
                let resp = client
                    .call(optimistic_txn(&key, expected, put).body(), Some(tag))
                    .await;
                learn(&mut known, &key, &resp);
            }
            2 if expected != 0 => {
                let del = delete_op(key.clone());
                let tag = K8sTag::OptimisticDelete {
                    expected_mod_revision: expected,
                };
                let resp = client
                    .call(optimistic_txn(&key, expected, del).body(), Some(tag))
                    .await;
                learn(&mut known, &key, &resp);
            }
            3 => {
                let req = Read::prefix(PODS).count_only();
                let _ = client.call(req.body(), Some(K8sTag::Count)).await;
            }
            _ => {
                // Events: written with a short lease that is never kept alive.
                if lease.is_none_or(|(_, uses)| uses >= 10) {
                    let ttl = rng.gen_range(2..5);
                    lease = match client.call(lease_grant(ttl), None).await {
                        Ok(client_response::Body::LeaseGrant(g)) => Some((g.id, 0)),
                        _ => None,
                    };
                }
                if let Some((lease_id, uses)) = lease.as_mut() {
                    *uses += 1;
                    let event = put(format!("{EVENTS}ev-{id}-{n}"), value).lease(*lease_id);
                    let _ = client.call(event.body(), None).await;
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
        let txn = Txn::when(version_is(COMPACT_KEY, logical))
            .then([put(COMPACT_KEY, prev_rev.to_string()).op()])
            .otherwise([Read::key(COMPACT_KEY).op()]);
        let Ok(client_response::Body::Txn(t)) =
            client.call(txn.body(), Some(K8sTag::Compactor)).await
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
            let _ = client
                .call(compact(prev_rev), Some(K8sTag::Compactor))
                .await;
        }
        prev_rev = cur_rev;
    }
}
