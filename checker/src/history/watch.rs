//! Watch streams: what was asked and every response that came back.

use serde::{Deserialize, Serialize};

use super::request::KeySpan;
use super::response::KeyValue;

/// One watch, from its creation request to its last response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRecord {
    pub id: u64,
    pub client: u64,
    /// The gRPC stream the watch shares with others (progress requests are per stream).
    pub stream: u64,
    /// The member that served the watch, when known.
    #[serde(default)]
    pub member: Option<u64>,
    /// A revision that member had certainly compacted to before the watch
    /// was requested, when the source recorded one: the simulation's Status
    /// reports the member's compact revision; against real etcd, whose
    /// Status has none, a serializable read at the watch's start revision
    /// that the member refused as compacted shows it compacted past that
    /// revision. Only the member's own word counts: members can number
    /// revisions apart (etcd-18667), so another member's compaction answer
    /// does not say what this one had applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_compacted: Option<i64>,
    pub request: WatchRequest,
    /// When the watch was requested.
    pub created: u64,
    /// Every response in arrival order; the first one is the creation response.
    #[serde(default)]
    pub responses: Vec<WatchResponse>,
    /// The Kubernetes-style list (`K8sTag::ListPage.list`) this watch followed.
    #[serde(default)]
    pub k8s_list: Option<u64>,
    /// When the client asked to cancel the watch, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_sent: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchRequest {
    pub key: String,
    pub range_end: String,
    /// 0 = from now: the watch begins after the creation response's header revision.
    pub start_revision: i64,
    pub prev_kv: bool,
    pub progress_notify: bool,
    /// Leave put events out.
    pub filter_put: bool,
    /// Leave delete events out.
    pub filter_delete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchResponse {
    /// When the response arrived.
    pub at: u64,
    pub header_revision: i64,
    pub events: Vec<Event>,
    /// A progress notification (bookmark): no events, header revision = progress.
    pub progress_notify: bool,
    pub canceled: bool,
    /// Set on a cancellation because the requested revision was compacted.
    pub compact_revision: i64,
    pub cancel_reason: String,
    /// This notification answers an explicit RequestProgress.
    pub requested_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Put,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    /// For a delete: the key and the delete revision as `mod_revision`.
    pub kv: KeyValue,
    #[serde(default)]
    pub prev_kv: Option<KeyValue>,
}

impl Event {
    pub fn revision(&self) -> i64 {
        self.kv.mod_revision
    }

    /// A put that created the key (etcd's IsCreate).
    pub fn is_create(&self) -> bool {
        self.kind == EventKind::Put && self.kv.create_revision == self.kv.mod_revision
    }
}

impl WatchRequest {
    pub fn span(&self) -> KeySpan<'_> {
        KeySpan::new(&self.key, &self.range_end)
    }

    /// Whether an event of this kind on this key belongs on the watch.
    pub fn selects(&self, kind: EventKind, key: &str) -> bool {
        let filtered = match kind {
            EventKind::Put => self.filter_put,
            EventKind::Delete => self.filter_delete,
        };
        !filtered && self.span().contains(key)
    }
}

impl WatchRecord {
    /// The first revision the watch must report: its start revision, or for a
    /// watch "from now" the creation response's header revision + 1 (if the
    /// first response recorded already carries events, the creation response
    /// was not recorded: the watch is taken to start at its first event).
    pub fn first_revision(&self) -> Option<i64> {
        if self.request.start_revision > 0 {
            return Some(self.request.start_revision);
        }
        let first = self.responses.first()?;
        Some(match first.events.first() {
            Some(e) => e.revision().min(first.header_revision + 1),
            None => first.header_revision + 1,
        })
    }

    /// Events in arrival order, with the index of the response that carried each.
    pub fn events(&self) -> impl Iterator<Item = (usize, &Event)> {
        self.responses
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.events.iter().map(move |e| (i, e)))
    }

    /// The highest revision the watch vouched for: its last event, or a
    /// progress notification's header revision (all events up to it were
    /// delivered).
    pub fn last_observed(&self) -> i64 {
        self.responses
            .iter()
            .map(|r| {
                let events = r.events.iter().map(Event::revision).max().unwrap_or(0);
                let progress = if r.progress_notify {
                    r.header_revision
                } else {
                    0
                };
                events.max(progress)
            })
            .max()
            .unwrap_or(0)
    }

    pub fn is_k8s(&self) -> bool {
        self.k8s_list.is_some()
    }
}
