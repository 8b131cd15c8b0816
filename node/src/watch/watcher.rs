//! One watcher: what it watches, how far it got, and where its responses go.

use crate::host::MemberEnv;
use crate::invariants::Invariant;
use crate::mvcc::in_range;
use crate::wire::api::{Event, EventType, KeyValue, WatchResponse};
use tokio::sync::mpsc;

/// Which group a watcher is in (etcd's synced / unsynced / victims).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Caught up: gets new events as they are applied.
    Synced,
    /// Behind: catches up from the store's history in batches.
    Unsynced,
    /// Its stream was full: holds responses to retry.
    Victim,
}

/// A response on its way to a stream, with whether the sender should fill
/// in previous values.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub response: WatchResponse,
    pub prev_kv: bool,
}

pub type StreamSender = mpsc::Sender<Outbound>;

#[derive(Debug, Clone)]
pub struct Watcher {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub filter_put: bool,
    pub filter_delete: bool,
    pub prev_kv: bool,
    pub progress_notify: bool,
    pub require_leader: bool,
    /// The start revision the client asked for (0: from now). Progress is
    /// never reported below it (etcd PR 20229).
    pub start_rev: i64,
    /// The next revision this watcher needs.
    pub min_rev: i64,
    pub group: Group,
    /// Responses that could not be sent yet (victims), in order.
    pub pending: Vec<WatchResponse>,
    pub stream: StreamSender,
    /// The revision of the last event queued on the stream (0: none yet).
    pub last_event_rev: i64,
}

impl Watcher {
    /// Whether an event is for this watcher (key range and filters).
    pub fn wants(&self, is_delete: bool, key: &[u8]) -> bool {
        if (is_delete && self.filter_delete) || (!is_delete && self.filter_put) {
            return false;
        }
        in_range(key, &self.key, &self.range_end)
    }

    /// Queues a response without waiting, or gives it back when the stream
    /// is full; asserts first that its events come, in order, after every
    /// event this watcher sent before.
    pub fn send(&mut self, env: &MemberEnv, response: WatchResponse) -> Result<(), WatchResponse> {
        let rev = |e: &Event| e.kv.as_ref().map_or(0, |kv| kv.mod_revision);
        let last = self.last_event_rev;
        // The first event comes after the last one sent; the others do
        // not go back.
        let mut floor = last + 1;
        let ascends = response.events.iter().map(rev).all(|r| {
            let ok = r >= floor;
            floor = r;
            ok
        });
        env.check(Invariant::WatchResponseAscends, ascends, || {
            let revs: Vec<i64> = response.events.iter().map(rev).collect();
            format!("events at {revs:?} after an event at {last}")
        });
        let newest = response.events.last().map(rev);
        self.try_send(response)?;
        if let Some(newest) = newest {
            self.last_event_rev = newest;
        }
        Ok(())
    }

    /// Queues a response without waiting; false when the stream is full.
    pub fn try_send(&self, response: WatchResponse) -> Result<(), WatchResponse> {
        let out = Outbound {
            response,
            prev_kv: self.prev_kv,
        };
        self.stream.try_send(out).map_err(|e| match e {
            mpsc::error::TrySendError::Full(o) | mpsc::error::TrySendError::Closed(o) => o.response,
        })
    }
}

/// A change as the watch layer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub revision: i64,
    pub is_delete: bool,
    pub kv: KeyValue,
}

impl Change {
    pub fn event(&self) -> Event {
        Event {
            r#type: if self.is_delete {
                EventType::Delete as i32
            } else {
                EventType::Put as i32
            },
            kv: Some(self.kv.clone()),
            prev_kv: None,
        }
    }
}
