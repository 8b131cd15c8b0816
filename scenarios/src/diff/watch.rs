//! A sequence's watch steps against the simulated member: one watch
//! stream, opened at the first watch step, every response off it taken in
//! by the shared [`differential::watch::Stream`]; waits are simulated time.

use super::kv;
use differential::Resolver;
use differential::answer::{Answer, Body, Code, Event, EventKind, Reply};
use differential::step::{Rev, Step, Watch};
use differential::watch::{CREATE_TIMEOUT, DRAIN_LIMIT, Message, QUIET, Stream};
use node::client::{ClientError, WatchReceiver, WatchSender, open_watch_stream};
use node::wire::api as w;
use std::time::Duration;

/// The sequence's watch stream, opened at its first watch step.
#[derive(Default)]
pub(super) struct Watching {
    open: Option<(WatchSender, WatchReceiver)>,
    stream: Stream,
}

impl Watching {
    /// The answer to a watch step (None for other steps).
    pub(super) async fn step(&mut self, r: &Resolver, step: &Step) -> Option<Answer> {
        let answer = match step {
            Step::Watch(w) => self.create(r, w).await,
            Step::WatchProgress => self.progress().await,
            Step::WatchCancel { watch } => self.cancel(*watch).await,
            _ => return None,
        };
        // No answer at all: what a gRPC client sees as unavailable.
        Some(answer.unwrap_or_else(|e| Answer::Error {
            code: Code::Unavailable,
            message: e.to_string(),
        }))
    }

    async fn sender(&mut self) -> Result<&WatchSender, ClientError> {
        if self.open.is_none() {
            let member = sim::member_ip(1);
            self.open = Some(open_watch_stream(member, CREATE_TIMEOUT).await?);
        }
        self.open
            .as_ref()
            .map(|(tx, _)| tx)
            .ok_or_else(|| ClientError::Unavailable("the watch stream did not open".into()))
    }

    async fn create(&mut self, r: &Resolver, watch: &Watch) -> Result<Answer, ClientError> {
        let start = r.rev(watch.start);
        let from_past = start != 0 && start <= r.rev(Rev::Head(0));
        let filters = [
            (watch.no_put, w::WatchFilter::NoPut),
            (watch.no_delete, w::WatchFilter::NoDelete),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| *f as i32)
        .collect();
        self.sender()
            .await?
            .create(w::WatchCreateRequest {
                key: watch.key.clone().into_bytes(),
                range_end: watch.range_end.clone().into_bytes(),
                start_revision: start,
                progress_notify: false,
                filters,
                prev_kv: watch.prev_kv,
                watch_id: 0,
                require_leader: false,
            })
            .await?;
        let deadline = madsim::time::Instant::now() + CREATE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(madsim::time::Instant::now());
            let Some(m) = self.next(left).await? else {
                return Ok(Answer::Error {
                    code: Code::DeadlineExceeded,
                    message: "no watch creation response".into(),
                });
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

    async fn progress(&mut self) -> Result<Answer, ClientError> {
        self.sender().await?.request_progress().await?;
        self.drain().await?;
        Ok(self.collected())
    }

    async fn cancel(&mut self, watch: usize) -> Result<Answer, ClientError> {
        if let Some(id) = self.stream.id_of(watch) {
            self.sender().await?.cancel(id).await?;
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

    /// Takes in everything until the stream has been silent for [`QUIET`].
    async fn drain(&mut self) -> Result<(), ClientError> {
        if self.open.is_none() {
            return Ok(());
        }
        let limit = madsim::time::Instant::now() + DRAIN_LIMIT;
        while madsim::time::Instant::now() < limit {
            match self.next(QUIET).await? {
                // A creation response cannot come unasked.
                Some(m) => {
                    let _ = self.stream.take(m);
                }
                None => break,
            }
        }
        Ok(())
    }

    /// The next message, or None after `wait` without one.
    async fn next(&mut self, wait: Duration) -> Result<Option<Message>, ClientError> {
        let Some((_, rx)) = self.open.as_mut() else {
            return Ok(None);
        };
        match madsim::time::timeout(wait, rx.recv()).await {
            Err(_) => Ok(None),
            Ok(Ok(m)) => Ok(Some(message(m))),
            Ok(Err(e)) => Err(e),
        }
    }
}

fn message(m: w::WatchResponse) -> Message {
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
