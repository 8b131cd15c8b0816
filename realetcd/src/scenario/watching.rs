//! The watch profile against a real cluster, as the simulation's
//! (`scenarios::traffic::watch`): each client opens a Watch stream to its
//! member, starts 1 to 3 watches (or the profile's count) around the
//! member's current revision (up to 100 either way), around its compact
//! revision, or from now, on one key or every key, sometimes filtered,
//! asks for progress every 100 ms, and after a second or two (one stream
//! in four: 5 to 15 s) cancels them and opens another stream. Every
//! response is routed to the watch it belongs to and recorded; etcd's
//! answers to a progress request (watch id -1) go to every watch of the
//! stream, as the simulation records them. Before a watch from a start
//! revision, a serializable read at that revision asks the member whether
//! it had compacted past it (the watch's `member_compacted`; the
//! simulation reads its member's compact revision from the Status).

use super::Shared;
use super::send::send;
use crate::grpc::Etcd;
use crate::record::key_value;
use checker::history as h;
use etcd_client::proto::{PbWatchRequest, PbWatchRequestUnion, PbWatchResponse};
use futures::channel::mpsc;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// etcd's WatchCreateRequest FilterType numbers (rpc.proto).
const NOPUT: i32 = 0;
const NODELETE: i32 = 1;
/// etcd's Event EventType number of a delete (kv.proto).
const DELETE: i32 = 1;

pub struct WatchClient {
    pub id: u64,
    pub grpc: Etcd,
    /// The member the client's connection goes to (0-based).
    pub member: u64,
    pub rng: ChaCha8Rng,
    pub keys: usize,
    pub prefix: String,
    pub watches_per_stream: Option<usize>,
    pub until: Option<Duration>,
    pub shared: Shared,
}

impl WatchClient {
    pub async fn run(mut self) {
        let mut current = 1i64;
        let mut stream_no = 0;
        while !self.shared.stopped(self.until) {
            // Where the member is (a Status, not part of the history).
            let compacted =
                match tokio::time::timeout(self.shared.timeout, self.grpc.status()).await {
                    Ok(Ok(s)) => {
                        current = current.max(s.header.map_or(1, |h| h.revision));
                        // etcd 3.4's Status has no compact revision; the
                        // compactor's last one is the best known.
                        self.shared.compacted()
                    }
                    _ => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
            stream_no += 1;
            let mut stream = Stream::new(self.id, stream_no, self.member, &self.shared);
            let watches = self
                .watches_per_stream
                .unwrap_or_else(|| self.rng.gen_range(1..4));
            let mut ok = true;
            for _ in 0..watches {
                let request = self.draw(current, compacted);
                let member_compacted = self.compacted_past(&request).await;
                if stream
                    .watch(&mut self.grpc, request, member_compacted)
                    .await
                    .is_err()
                {
                    ok = false;
                    break;
                }
            }
            // Drawn even when a watch could not start, as the simulation does.
            let lifetime = if self.rng.gen_bool(0.25) {
                Duration::from_millis(self.rng.gen_range(5_000..15_000))
            } else {
                Duration::from_millis(self.rng.gen_range(800..2500))
            };
            if ok {
                ok = stream
                    .follow(Instant::now() + lifetime, self.until, &mut current)
                    .await;
            }
            if ok {
                stream.close().await;
            } else {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            stream.finish();
        }
    }

    /// Whether the member had compacted past the watch's start revision
    /// before the watch is requested, asked of the member itself: a
    /// serializable read at the start revision, answered from its own
    /// state, refused as compacted (etcd 3.4's Status has no compact
    /// revision). Then the member had compacted to at least the start + 1.
    /// Not part of the history; None when the read was answered or failed
    /// otherwise.
    async fn compacted_past(&mut self, request: &h::WatchRequest) -> Option<i64> {
        let start = request.start_revision;
        if start <= 0 {
            return None;
        }
        let probe = h::Request::Range(h::RangeRequest {
            key: request.key.clone(),
            range_end: request.range_end.clone(),
            limit: 1,
            revision: start,
            count_only: true,
            serializable: true,
            ..Default::default()
        });
        match send(&mut self.grpc, &probe, self.shared.timeout).await {
            h::OpResult::Fail(h::EtcdError::Compacted { .. }) => Some(start + 1),
            _ => None,
        }
    }

    fn draw(&mut self, current: i64, compacted: i64) -> h::WatchRequest {
        let rng = &mut self.rng;
        let start_revision = match rng.gen_range(0..10) {
            0 => 0,
            1 | 2 => (compacted + rng.gen_range(-2..=2)).max(1),
            _ => (current + rng.gen_range(-100..=100)).max(1),
        };
        let (key, range_end) = if rng.gen_bool(0.5) {
            (
                format!("{}{}", self.prefix, rng.gen_range(0..self.keys.max(1))),
                String::new(),
            )
        } else {
            (self.prefix.clone(), h::prefix_end(&self.prefix))
        };
        let (mut filter_put, mut filter_delete) = (false, false);
        if rng.gen_bool(0.1) {
            if rng.gen_bool(0.5) {
                filter_put = true;
            } else {
                filter_delete = true;
            }
        }
        h::WatchRequest {
            key,
            range_end,
            start_revision,
            progress_notify: rng.gen_bool(0.5),
            prev_kv: rng.gen_bool(0.5),
            filter_put,
            filter_delete,
        }
    }
}

/// One recorded Watch stream.
struct Stream {
    client: u64,
    stream: u64,
    member: u64,
    shared: Shared,
    requests: Option<mpsc::UnboundedSender<PbWatchRequest>>,
    responses: Option<tonic::Streaming<PbWatchResponse>>,
    /// Watches etcd acknowledged, by its watch id.
    active: BTreeMap<i64, h::WatchRecord>,
    /// Watches requested but not acknowledged yet, in request order.
    pending: VecDeque<h::WatchRecord>,
    /// The highest revision the member is known to have compacted to: from
    /// a compaction cancel on the stream, or a read refused as compacted
    /// before a watch. Each watch requested records it
    /// (`WatchRecord::member_compacted`).
    compacted: i64,
}

impl Stream {
    fn new(client: u64, stream: u64, member: u64, shared: &Shared) -> Stream {
        Stream {
            client,
            stream,
            member,
            shared: shared.clone(),
            requests: None,
            responses: None,
            active: BTreeMap::new(),
            pending: VecDeque::new(),
            compacted: 0,
        }
    }

    /// The member had compacted to `revision`: so it had before any watch
    /// requested from now on.
    fn member_compacted(&mut self, revision: i64) {
        self.compacted = self.compacted.max(revision);
    }

    /// Sends a request, opening the stream with the first (etcd sends the
    /// stream's headers only with its first answer, so the first request
    /// must be on its way before the call is awaited).
    async fn send(&mut self, grpc: &mut Etcd, union: PbWatchRequestUnion) -> Result<(), ()> {
        let request = PbWatchRequest {
            request_union: Some(union),
        };
        if let Some(requests) = &self.requests {
            return requests.unbounded_send(request).map_err(|_| ());
        }
        let (requests, rx) = mpsc::unbounded();
        requests.unbounded_send(request).map_err(|_| ())?;
        let opened = tokio::time::timeout(self.shared.timeout, grpc.watch(rx)).await;
        let Ok(Ok(responses)) = opened else {
            return Err(());
        };
        self.requests = Some(requests);
        self.responses = Some(responses);
        Ok(())
    }

    /// Asks for a watch; it counts from when the request was sent.
    /// `member_compacted`: what the member just said it had compacted to.
    async fn watch(
        &mut self,
        grpc: &mut Etcd,
        request: h::WatchRequest,
        member_compacted: Option<i64>,
    ) -> Result<(), ()> {
        if let Some(revision) = member_compacted {
            self.member_compacted(revision);
        }
        // The request's message type is not exported by name: built
        // through the union, as `watch` does.
        let mut union = PbWatchRequestUnion::CreateRequest(Default::default());
        if let PbWatchRequestUnion::CreateRequest(create) = &mut union {
            create.key = request.key.clone().into_bytes();
            create.range_end = request.range_end.clone().into_bytes();
            create.start_revision = request.start_revision;
            create.progress_notify = request.progress_notify;
            create.prev_kv = request.prev_kv;
            if request.filter_put {
                create.filters.push(NOPUT);
            }
            if request.filter_delete {
                create.filters.push(NODELETE);
            }
        }
        self.pending.push_back(h::WatchRecord {
            id: self.shared.recorder.next_watch_id(),
            client: self.client,
            stream: self.stream,
            member: Some(self.member),
            member_compacted: (self.compacted > 0).then_some(self.compacted),
            request,
            created: self.shared.recorder.now(),
            responses: Vec::new(),
            k8s_list: None,
            cancel_sent: None,
        });
        self.send(grpc, union).await
    }

    /// Reads responses until `deadline` (or the traffic stops), asking
    /// for progress every 100 ms. False once the stream failed.
    async fn follow(
        &mut self,
        deadline: Instant,
        until: Option<Duration>,
        current: &mut i64,
    ) -> bool {
        let mut ticks = tokio::time::interval(Duration::from_millis(100));
        while !self.shared.stopped(until) && Instant::now() < deadline {
            let Some(responses) = self.responses.as_mut() else {
                return false;
            };
            tokio::select! {
                biased;
                message = responses.message() => match message {
                    Ok(Some(m)) => {
                        *current = (*current).max(m.header.as_ref().map_or(0, |h| h.revision));
                        self.record(m);
                    }
                    _ => return false,
                },
                _ = ticks.tick() => {
                    let progress = PbWatchRequest {
                        request_union: Some(PbWatchRequestUnion::ProgressRequest(Default::default())),
                    };
                    let sent = self.requests.as_ref().is_some_and(|r| r.unbounded_send(progress).is_ok());
                    if !sent {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Cancels the open watches and collects the acknowledgements for at
    /// most 200 ms, so that the history records each watch's end.
    async fn close(&mut self) {
        let ids: Vec<i64> = self.active.keys().copied().collect();
        for watch_id in ids {
            let mut union = PbWatchRequestUnion::CancelRequest(Default::default());
            if let PbWatchRequestUnion::CancelRequest(cancel) = &mut union {
                cancel.watch_id = watch_id;
            }
            let cancel = PbWatchRequest {
                request_union: Some(union),
            };
            if let Some(r) = &self.requests {
                let _ = r.unbounded_send(cancel);
            }
        }
        let deadline = Instant::now() + Duration::from_millis(200);
        while !self.active.is_empty() && Instant::now() < deadline {
            let Some(responses) = self.responses.as_mut() else {
                break;
            };
            match tokio::time::timeout_at(deadline, responses.message()).await {
                Ok(Ok(Some(m))) => self.record(m),
                _ => break,
            }
        }
    }

    /// Routes one response to its watch, as the simulation's recorder does.
    fn record(&mut self, r: PbWatchResponse) {
        let recorded = response(&r, self.shared.recorder.now());
        self.member_compacted(recorded.compact_revision);
        if r.created && r.canceled {
            // A create etcd refused.
            if let Some(mut w) = self.pending.pop_front() {
                w.responses.push(recorded);
                self.shared.recorder.add_watch(w);
            }
        } else if r.watch_id == -1 {
            // A progress answer for the whole stream.
            for w in self.active.values_mut() {
                w.responses.push(recorded.clone());
            }
        } else if r.created {
            if let Some(mut w) = self.pending.pop_front() {
                w.responses.push(recorded);
                self.active.insert(r.watch_id, w);
            }
        } else if r.canceled && !self.active.contains_key(&r.watch_id) {
            if let Some(mut w) = self.pending.pop_front() {
                w.responses.push(recorded);
                self.shared.recorder.add_watch(w);
            }
        } else if let Some(w) = self.active.get_mut(&r.watch_id) {
            w.responses.push(recorded);
            if r.canceled
                && let Some(w) = self.active.remove(&r.watch_id)
            {
                self.shared.recorder.add_watch(w);
            }
        }
    }

    /// Hands every watch of the stream to the history; dropping the
    /// request sender ends the stream.
    fn finish(self) {
        for w in self.active.into_values().chain(self.pending) {
            self.shared.recorder.add_watch(w);
        }
    }
}

fn response(r: &PbWatchResponse, at: u64) -> h::WatchResponse {
    let events: Vec<h::Event> = r
        .events
        .iter()
        .filter_map(|e| {
            Some(h::Event {
                kind: if e.r#type == DELETE {
                    h::EventKind::Delete
                } else {
                    h::EventKind::Put
                },
                kv: key_value(e.kv.as_ref()?),
                prev_kv: e.prev_kv.as_ref().map(key_value),
            })
        })
        .collect();
    h::WatchResponse {
        at,
        header_revision: r.header.as_ref().map_or(0, |h| h.revision),
        progress_notify: events.is_empty() && !r.created && !r.canceled,
        events,
        canceled: r.canceled,
        compact_revision: r.compact_revision,
        cancel_reason: r.cancel_reason.clone(),
        requested_progress: r.watch_id == -1 && !r.created,
    }
}
