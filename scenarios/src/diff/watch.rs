//! The simulated member's side of a sequence's watch steps: one watch
//! stream, opened at the first watch step, on simulated time; what the
//! steps do and answer is the shared [`differential::watch::Watching`].

use super::kv;
use differential::answer::{Event, EventKind};
use differential::step::Watch;
use differential::watch::{CREATE_TIMEOUT, Message, Transport};
use node::client::{ClientError, WatchReceiver, WatchSender, open_watch_stream};
use node::wire::api as w;
use std::time::Duration;

/// The watch stream to the simulated member, opened on first use.
pub(super) struct SimStream {
    open: Option<(WatchSender, WatchReceiver)>,
    started: madsim::time::Instant,
}

impl SimStream {
    pub(super) fn new() -> Self {
        SimStream {
            open: None,
            started: madsim::time::Instant::now(),
        }
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
}

impl Transport for SimStream {
    type Error = ClientError;

    async fn create(&mut self, watch: &Watch, start_revision: i64) -> Result<(), ClientError> {
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
                start_revision,
                progress_notify: false,
                filters,
                prev_kv: watch.prev_kv,
                watch_id: 0,
                require_leader: false,
            })
            .await
    }

    async fn cancel(&mut self, watch_id: i64) -> Result<(), ClientError> {
        self.sender().await?.cancel(watch_id).await
    }

    async fn request_progress(&mut self) -> Result<(), ClientError> {
        self.sender().await?.request_progress().await
    }

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

    fn now(&self) -> Duration {
        self.started.elapsed()
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
