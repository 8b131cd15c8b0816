//! Answers in one shape for both stores, so they can be compared field by
//! field. Each side's executor fills these from its own protocol; nothing
//! here knows gRPC or the simulated wire format.

use serde::{Deserialize, Serialize};

/// gRPC status codes (the numbers etcd's errors travel with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

impl Code {
    /// From a gRPC status number; `None` for 0 (OK) and unknown numbers.
    pub fn from_grpc(code: i32) -> Option<Code> {
        Some(match code {
            1 => Code::Cancelled,
            2 => Code::Unknown,
            3 => Code::InvalidArgument,
            4 => Code::DeadlineExceeded,
            5 => Code::NotFound,
            6 => Code::AlreadyExists,
            7 => Code::PermissionDenied,
            8 => Code::ResourceExhausted,
            9 => Code::FailedPrecondition,
            10 => Code::Aborted,
            11 => Code::OutOfRange,
            12 => Code::Unimplemented,
            13 => Code::Internal,
            14 => Code::Unavailable,
            15 => Code::DataLoss,
            16 => Code::Unauthenticated,
            _ => return None,
        })
    }
}

/// A key-value; the default (empty) one stands for a watch event that came
/// without one (etcd never sends such), so the difference shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    pub key: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub value: String,
    pub lease: i64,
}

/// A successful answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Range {
        kvs: Vec<Kv>,
        more: bool,
        count: i64,
    },
    Put {
        prev_kv: Option<Kv>,
    },
    Delete {
        deleted: i64,
        prev_kvs: Vec<Kv>,
    },
    Txn {
        succeeded: bool,
        responses: Vec<Reply>,
    },
    Compact,
    LeaseGrant {
        id: i64,
        ttl: i64,
    },
    LeaseRevoke,
    LeaseTimeToLive {
        id: i64,
        ttl: i64,
        granted_ttl: i64,
        keys: Vec<String>,
    },
    LeaseLeases {
        leases: Vec<i64>,
    },
    LeaseKeepAlive {
        id: i64,
        ttl: i64,
    },
    Status {
        version: String,
        db_size: i64,
        raft_index: u64,
        raft_term: u64,
        is_learner: bool,
        errors: Vec<String>,
    },
    HashKv {
        hash: u32,
        compact_revision: i64,
        /// The revision hashed (a field etcd 3.5 added; 0 from 3.4).
        hash_revision: i64,
    },
    /// A watch's creation response.
    WatchCreated {
        canceled: bool,
        cancel_reason: String,
    },
    /// What the watch stream delivered since the last watch answer: the
    /// revisions of stream-wide progress notifications, then per watch.
    WatchStream {
        progress: Vec<i64>,
        watches: Vec<WatchLog>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Put,
    Delete,
}

impl EventKind {
    /// From etcd's `mvccpb.Event.EventType` number (PUT 0, DELETE 1),
    /// which the simulated wire format shares.
    pub fn from_etcd(number: i32) -> EventKind {
        if number == 1 {
            EventKind::Delete
        } else {
            EventKind::Put
        }
    }
}

/// One watch event (a delete's `kv` has the key and the delete revision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub kv: Kv,
    pub prev_kv: Option<Kv>,
}

/// What one watch delivered between two watch answers, in order; the
/// response boundaries are left out (which events one response carries is
/// the server's batching, not a promise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchLog {
    /// Which watch of the sequence (0: the first one opened).
    pub watch: usize,
    pub events: Vec<Event>,
    /// Revisions of progress notifications addressed to this watch.
    pub progress: Vec<i64>,
    pub canceled: bool,
    pub compact_revision: i64,
    pub cancel_reason: String,
}

/// A successful answer: the header's revision and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub revision: i64,
    pub body: Body,
}

/// What one request got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Ok(Reply),
    Error { code: Code, message: String },
}

/// One sequence's answers, in step order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answers {
    pub seed: u64,
    /// What answered: an etcd version, or the simulated store's.
    pub server: String,
    pub answers: Vec<Answer>,
    /// Wall-clock milliseconds the requests took (not the store's start).
    #[serde(default)]
    pub wall_ms: f64,
    /// The server's process ended while answering; no later step was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exited: Option<ServerExit>,
}

/// A server process that ended during a sequence: a finding about that
/// server, not a difference of the other side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerExit {
    /// The step whose request it was answering (its answer is the
    /// connection error the client saw).
    pub step: usize,
    /// The last lines it logged (a panic's message and stack).
    pub log: String,
}
