//! A sequence's watch steps against a real etcd: one bidirectional Watch
//! stream, opened at the first watch step, every response off it taken in
//! by the shared [`differential::watch::Stream`].

use crate::execute::kv;
use crate::grpc::Etcd;
use differential::Resolver;
use differential::answer::{Answer, Body, Code, Event, EventKind, Reply};
use differential::step::{Rev, Step, Watch};
use differential::watch::{CREATE_TIMEOUT, DRAIN_LIMIT, Message, QUIET, Stream};
use etcd_client::proto::{PbWatchRequest, PbWatchRequestUnion, PbWatchResponse};
use futures::channel::mpsc;
use std::time::Duration;
use tokio::time::Instant;
use tonic::Status;

/// The sequence's watch stream, opened at its first watch step.
#[derive(Default)]
pub struct Watching {
    open: Option<Open>,
    stream: Stream,
}

struct Open {
    requests: mpsc::UnboundedSender<PbWatchRequest>,
    responses: tonic::Streaming<PbWatchResponse>,
}

impl Watching {
    /// The answer to a watch step (None for other steps).
    pub async fn step(&mut self, c: &mut Etcd, r: &Resolver, step: &Step) -> Option<Answer> {
        let answer = match step {
            Step::Watch(w) => self.create(c, r, w).await,
            Step::WatchProgress => self.progress(c).await,
            Step::WatchCancel { watch } => self.cancel(c, *watch).await,
            _ => return None,
        };
        Some(answer.unwrap_or_else(|status| Answer::Error {
            code: Code::from_grpc(status.code() as i32).unwrap_or(Code::Unknown),
            message: status.message().to_string(),
        }))
    }

    async fn create(&mut self, c: &mut Etcd, r: &Resolver, w: &Watch) -> Result<Answer, Status> {
        let start = r.rev(w.start);
        let from_past = start != 0 && start <= r.rev(Rev::Head(0));
        let mut union = PbWatchRequestUnion::CreateRequest(Default::default());
        if let PbWatchRequestUnion::CreateRequest(create) = &mut union {
            create.key = w.key.clone().into_bytes();
            create.range_end = w.range_end.clone().into_bytes();
            create.start_revision = start;
            create.prev_kv = w.prev_kv;
            // etcd's FilterType numbers (rpc.proto): NOPUT 0, NODELETE 1.
            create.filters = [(w.no_put, 0), (w.no_delete, 1)]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| *n)
                .collect();
        }
        self.send(c, union).await?;
        let deadline = Instant::now() + CREATE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(m) = self.next(left).await? else {
                return Err(Status::deadline_exceeded("no watch creation response"));
            };
            if let Some(created) = self.stream.take(m) {
                // A watch from the past catches up in the server's sync
                // loop (etcd: every 100 ms): let it, before the next step
                // (a compaction) can overtake it, which would make the
                // outcome a matter of timing. One from now or the future
                // is in step at once.
                if from_past {
                    self.drain().await?;
                }
                return Ok(Answer::Ok(Reply {
                    revision: created.revision,
                    body: Body::WatchCreated {
                        canceled: created.canceled,
                        cancel_reason: created.cancel_reason,
                    },
                }));
            }
        }
    }

    async fn progress(&mut self, c: &mut Etcd) -> Result<Answer, Status> {
        let union = PbWatchRequestUnion::ProgressRequest(Default::default());
        self.send(c, union).await?;
        self.drain().await?;
        Ok(self.collected())
    }

    async fn cancel(&mut self, c: &mut Etcd, watch: usize) -> Result<Answer, Status> {
        if let Some(id) = self.stream.id_of(watch) {
            let mut union = PbWatchRequestUnion::CancelRequest(Default::default());
            if let PbWatchRequestUnion::CancelRequest(cancel) = &mut union {
                cancel.watch_id = id;
            }
            self.send(c, union).await?;
        }
        self.drain().await?;
        Ok(self.collected())
    }

    fn collected(&mut self) -> Answer {
        Answer::Ok(Reply {
            revision: 0,
            body: self.stream.collect(),
        })
    }

    /// Sends a request, opening the stream with it the first time: etcd
    /// sends the stream's response headers only with its first answer, so
    /// the first request must be on its way before the call is awaited.
    async fn send(&mut self, c: &mut Etcd, union: PbWatchRequestUnion) -> Result<(), Status> {
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
        let responses = c.watch(rx).await?;
        self.open = Some(Open {
            requests,
            responses,
        });
        Ok(())
    }

    /// Takes in everything until the stream has been silent for [`QUIET`].
    async fn drain(&mut self) -> Result<(), Status> {
        if self.open.is_none() {
            return Ok(());
        }
        let limit = Instant::now() + DRAIN_LIMIT;
        while Instant::now() < limit {
            match self.next(QUIET).await? {
                Some(m) => {
                    // A creation response cannot come unasked.
                    let _ = self.stream.take(m);
                }
                None => break,
            }
        }
        Ok(())
    }

    /// The next message, or None after `wait` without one.
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
