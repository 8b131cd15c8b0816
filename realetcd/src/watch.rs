//! The real etcd's side of a sequence's watch steps: one bidirectional
//! Watch stream, opened at the first watch step, on wall time; what the
//! steps do and answer is the shared [`differential::watch::Watching`].

use crate::execute::kv;
use crate::grpc::Etcd;
use differential::answer::{Event, EventKind};
use differential::step::Watch;
use differential::watch::{Message, Transport};
use etcd_client::proto::{PbWatchRequest, PbWatchRequestUnion, PbWatchResponse};
use futures::channel::mpsc;
use std::time::Duration;
use tokio::time::Instant;
use tonic::Status;

/// The Watch stream to the real member, opened with its first request.
pub struct EtcdStream {
    client: Etcd,
    open: Option<Open>,
    started: Instant,
}

struct Open {
    requests: mpsc::UnboundedSender<PbWatchRequest>,
    responses: tonic::Streaming<PbWatchResponse>,
}

impl EtcdStream {
    pub fn new(client: Etcd) -> Self {
        EtcdStream {
            client,
            open: None,
            started: Instant::now(),
        }
    }

    /// Sends a request, opening the stream with it the first time: etcd
    /// sends the stream's response headers only with its first answer, so
    /// the first request must be on its way before the call is awaited.
    async fn send(&mut self, union: PbWatchRequestUnion) -> Result<(), Status> {
        let request = PbWatchRequest {
            request_union: Some(union),
        };
        if let Some(open) = &self.open {
            return open
                .requests
                .unbounded_send(request)
                .map_err(|e| Status::unavailable(format!("the watch stream closed: {e}")));
        }
        let (requests, rx) = mpsc::unbounded();
        requests
            .unbounded_send(request)
            .map_err(|e| Status::internal(e.to_string()))?;
        let responses = self.client.watch(rx).await?;
        self.open = Some(Open {
            requests,
            responses,
        });
        Ok(())
    }
}

impl Transport for EtcdStream {
    type Error = Status;

    async fn create(&mut self, w: &Watch, start_revision: i64) -> Result<(), Status> {
        let mut union = PbWatchRequestUnion::CreateRequest(Default::default());
        if let PbWatchRequestUnion::CreateRequest(create) = &mut union {
            create.key = w.key.clone().into_bytes();
            create.range_end = w.range_end.clone().into_bytes();
            create.start_revision = start_revision;
            create.prev_kv = w.prev_kv;
            // etcd's FilterType numbers (rpc.proto): NOPUT 0, NODELETE 1.
            create.filters = [(w.no_put, 0), (w.no_delete, 1)]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| *n)
                .collect();
        }
        self.send(union).await
    }

    async fn cancel(&mut self, watch_id: i64) -> Result<(), Status> {
        let mut union = PbWatchRequestUnion::CancelRequest(Default::default());
        if let PbWatchRequestUnion::CancelRequest(cancel) = &mut union {
            cancel.watch_id = watch_id;
        }
        self.send(union).await
    }

    async fn request_progress(&mut self) -> Result<(), Status> {
        self.send(PbWatchRequestUnion::ProgressRequest(Default::default()))
            .await
    }

    async fn next(&mut self, wait: Duration) -> Result<Option<Message>, Status> {
        let Some(open) = self.open.as_mut() else {
            return Ok(None);
        };
        match tokio::time::timeout(wait, open.responses.message()).await {
            Err(_) => Ok(None),
            Ok(Ok(Some(m))) => Ok(Some(message(m))),
            Ok(Ok(None)) => Err(Status::unavailable("the watch stream ended")),
            Ok(Err(status)) => Err(status),
        }
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }
}

fn message(m: PbWatchResponse) -> Message {
    Message {
        watch_id: m.watch_id,
        revision: m.header.as_ref().map_or(0, |h| h.revision),
        created: m.created,
        canceled: m.canceled,
        compact_revision: m.compact_revision,
        cancel_reason: m.cancel_reason,
        events: m
            .events
            .iter()
            .map(|e| Event {
                kind: EventKind::from_etcd(e.r#type),
                kv: e.kv.as_ref().map(kv).unwrap_or_default(),
                prev_kv: e.prev_kv.as_ref().map(kv),
            })
            .collect(),
    }
}
