//! A watch stream whose every response lands in the history: responses are
//! routed to the watch they belong to (stream-wide progress answers go to
//! every watch on the stream).

use crate::recorder::{Recorder, now_ns};
use crate::translate;
use checker::history as h;
use node::client::{ClientError, WatchReceiver, WatchSender, open_watch_stream};
use node::wire::api::{EventType, WatchCreateRequest, WatchFilter, WatchResponse};
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct RecordedStream {
    client: u64,
    stream: u64,
    member: u64,
    sender: WatchSender,
    receiver: WatchReceiver,
    /// Watches the server acknowledged, by its watch id.
    active: BTreeMap<i64, h::WatchRecord>,
    /// Watches requested but not acknowledged yet, in request order.
    pending: VecDeque<h::WatchRecord>,
    /// The highest revision the member is known to have compacted to: from
    /// a Status asked before the stream opened, or a compaction cancel on
    /// it. Each watch requested records it (`WatchRecord::member_compacted`).
    compacted: i64,
    recorder: Arc<Recorder>,
}

fn request(req: &WatchCreateRequest) -> h::WatchRequest {
    h::WatchRequest {
        key: translate::text(&req.key),
        range_end: translate::text(&req.range_end),
        start_revision: req.start_revision,
        prev_kv: req.prev_kv,
        progress_notify: req.progress_notify,
        filter_put: req.filters.contains(&(WatchFilter::NoPut as i32)),
        filter_delete: req.filters.contains(&(WatchFilter::NoDelete as i32)),
    }
}

fn response(r: &WatchResponse) -> h::WatchResponse {
    let events: Vec<h::Event> = r
        .events
        .iter()
        .filter_map(|e| {
            Some(h::Event {
                kind: if e.r#type == EventType::Delete as i32 {
                    h::EventKind::Delete
                } else {
                    h::EventKind::Put
                },
                kv: translate::kv(e.kv.as_ref()?),
                prev_kv: e.prev_kv.as_ref().map(translate::kv),
            })
        })
        .collect();
    h::WatchResponse {
        at: now_ns(),
        header_revision: r.header.as_ref().map(|h| h.revision).unwrap_or(0),
        progress_notify: events.is_empty() && !r.created && !r.canceled,
        events,
        canceled: r.canceled,
        compact_revision: r.compact_revision,
        cancel_reason: r.cancel_reason.clone(),
        requested_progress: r.watch_id == -1 && !r.created,
    }
}

impl RecordedStream {
    pub async fn open(
        client: u64,
        stream: u64,
        member: u64,
        ip: IpAddr,
        recorder: Arc<Recorder>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let (sender, receiver) = open_watch_stream(ip, timeout).await?;
        Ok(RecordedStream {
            client,
            stream,
            member,
            sender,
            receiver,
            active: BTreeMap::new(),
            pending: VecDeque::new(),
            compacted: 0,
            recorder,
        })
    }

    pub fn member(&self) -> u64 {
        self.member
    }

    /// The member said it had compacted to `revision` (a Status, say): so
    /// it had before any watch requested from now on.
    pub fn member_compacted(&mut self, revision: i64) {
        self.compacted = self.compacted.max(revision);
    }

    /// Asks for a watch; it counts from when the request was sent.
    pub async fn watch(
        &mut self,
        req: WatchCreateRequest,
        k8s_list: Option<u64>,
    ) -> Result<(), ClientError> {
        let record = h::WatchRecord {
            id: self.recorder.next_watch_id(),
            client: self.client,
            stream: self.stream,
            member: Some(self.member),
            member_compacted: (self.compacted > 0).then_some(self.compacted),
            request: request(&req),
            created: now_ns(),
            responses: Vec::new(),
            k8s_list,
            cancel_sent: None,
        };
        self.pending.push_back(record);
        self.sender.create(req).await
    }

    pub async fn request_progress(&mut self) -> Result<(), ClientError> {
        self.sender.request_progress().await
    }

    /// Asks the member to cancel a watch; the history notes when, so the
    /// acknowledgement can be judged (`watch.cancel-acknowledged`).
    pub async fn cancel(&mut self, watch_id: i64) -> Result<(), ClientError> {
        let sent = now_ns();
        self.sender.cancel(watch_id).await?;
        if let Some(w) = self.active.get_mut(&watch_id) {
            w.cancel_sent = Some(sent);
        }
        Ok(())
    }

    /// Watches still open on this stream (by server watch id).
    pub fn open_watches(&self) -> Vec<i64> {
        self.active.keys().copied().collect()
    }

    /// The next response, after recording it.
    pub async fn next(&mut self) -> Result<WatchResponse, ClientError> {
        let r = self.receiver.recv().await?;
        let recorded = response(&r);
        self.member_compacted(recorded.compact_revision);
        if r.created && r.canceled {
            // A create the server refused (etcd answers it for watch -1).
            if let Some(mut w) = self.pending.pop_front() {
                w.responses.push(recorded);
                self.recorder.add_watch(w);
            }
        } else if r.watch_id == -1 {
            // A progress notification for the whole stream.
            for w in self.active.values_mut() {
                w.responses.push(recorded.clone());
            }
        } else if r.created {
            if let Some(mut w) = self.pending.pop_front() {
                w.responses.push(recorded);
                self.active.insert(r.watch_id, w);
            }
        } else if r.canceled && !self.active.contains_key(&r.watch_id) {
            // A refused create answered with a bare cancel.
            if let Some(mut w) = self.pending.pop_front() {
                w.responses.push(recorded);
                self.recorder.add_watch(w);
            }
        } else if let Some(w) = self.active.get_mut(&r.watch_id) {
            w.responses.push(recorded);
            if r.canceled
                && let Some(w) = self.active.remove(&r.watch_id)
            {
                self.recorder.add_watch(w);
            }
        }
        Ok(r)
    }

    /// Hands every watch of the stream to the history.
    pub fn finish(self) {
        for w in self.active.into_values().chain(self.pending) {
            self.recorder.add_watch(w);
        }
    }
}
