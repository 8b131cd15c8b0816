//! Watch streams on the server: each connection is one stream carrying
//! many watchers. Requests (create, cancel, progress) come in; responses
//! go out through a bounded queue, so a slow stream makes its watchers
//! victims instead of blocking the store.

use super::store::WatchableStore;
use super::watcher::Outbound;
use crate::failpoint::Failpoint;
use crate::host::MemberEnv;
use crate::mvcc::Mvcc;
use crate::wire::api::{EventType, WatchRequest, WatchResponse, watch_request};
use madsim::net::{Receiver, Sender};
use std::sync::Arc;
use tokio::sync::mpsc;

/// etcd's InvalidWatchID: the watch id of a creation that failed.
const NO_WATCH: i64 = -1;

/// Serves one stream until its connection closes.
pub async fn serve_stream(
    store: WatchableStore,
    mvcc: Mvcc,
    env: MemberEnv,
    buffer: usize,
    tx: Sender,
    mut rx: Receiver,
    header: Arc<dyn Fn(i64) -> crate::wire::api::ResponseHeader + Send + Sync>,
) {
    let (stream, end) = store.open_stream();
    let (out_tx, out_rx) = mpsc::channel::<Outbound>(buffer.max(1));
    let sender = madsim::task::spawn(send_loop(mvcc.clone(), env.clone(), tx, out_rx));
    loop {
        // The store ends the stream when the member lost its leader and a
        // watch on it required one: the connection closes, as etcd cancels
        // the gRPC stream with "etcdserver: no leader".
        let payload = tokio::select! {
            biased;
            () = end.notified() => break,
            received = rx.recv() => match received {
                Ok(payload) => payload,
                Err(_) => break,
            },
        };
        let Ok(req) = payload.downcast::<WatchRequest>() else {
            tracing::warn!(
                member = env.member,
                "dropping a watch message of unknown form"
            );
            continue;
        };
        match req.request {
            Some(watch_request::Request::Create(c)) => {
                if let Err(e) = store.watch(stream, &c, c.require_leader, out_tx.clone()) {
                    // As etcd: a creation response, cancelled, for no watch.
                    let resp = WatchResponse {
                        header: Some(header(mvcc.current_revision())),
                        watch_id: NO_WATCH,
                        created: true,
                        canceled: true,
                        cancel_reason: e.to_string(),
                        ..Default::default()
                    };
                    let _ = out_tx
                        .send(Outbound {
                            response: resp,
                            prev_kv: false,
                        })
                        .await;
                }
            }
            Some(watch_request::Request::Cancel(c)) if store.cancel(stream, c.watch_id) => {
                let resp = WatchResponse {
                    header: Some(header(mvcc.current_revision())),
                    watch_id: c.watch_id,
                    canceled: true,
                    ..Default::default()
                };
                let _ = out_tx
                    .send(Outbound {
                        response: resp,
                        prev_kv: false,
                    })
                    .await;
            }
            Some(watch_request::Request::Progress(_))
                if env.failpoint(Failpoint::BeforeProgressIfSync).await.is_ok() =>
            {
                store.progress_if_sync(stream, &out_tx);
            }
            // Cancelling an unknown watch, a progress request dropped by the
            // failpoint, or an empty request: nothing to answer.
            _ => {}
        }
    }
    store.close_stream(stream);
    sender.abort();
}

/// Puts responses on the wire in order, filling in previous values for
/// watchers that asked (read at the event's revision minus one), except on
/// a create event, which has none (etcd's sendLoop skips those: a key put
/// again within the Txn that deleted it would otherwise show the deleted
/// value).
async fn send_loop(mvcc: Mvcc, env: MemberEnv, tx: Sender, mut out: mpsc::Receiver<Outbound>) {
    while let Some(Outbound {
        mut response,
        prev_kv,
    }) = out.recv().await
    {
        if let Err(e) = env.failpoint(Failpoint::BeforeSendWatchResponse).await {
            tracing::warn!(member = env.member, "{e}");
        }
        if prev_kv {
            for ev in &mut response.events {
                if let Some(kv) = &ev.kv {
                    let create =
                        ev.r#type == EventType::Put as i32 && kv.create_revision == kv.mod_revision;
                    if !create {
                        ev.prev_kv = mvcc.get_at(&kv.key, kv.mod_revision - 1);
                    }
                }
            }
        }
        if tx.send(Box::new(response)).await.is_err() {
            return;
        }
    }
}
