//! Responses in the shape of the etcd v3 API.
//!
//! `header_revision` is the store revision when the request was served; 0 means
//! "not recorded" and is never checked. Responses nested inside a transaction
//! carry a header too, but only the transaction's own header is checked.

use serde::{Deserialize, Serialize};

/// One stored version of a key as etcd reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
    /// The per-key time to live in seconds the key's last put asked for
    /// (faultline's store from version 3.7; 0 = none, and always 0 in etcd).
    #[serde(skip_serializing_if = "is_zero")]
    pub ttl: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Range(RangeResponse),
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact(CompactResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
    LeaseKeepAlive(LeaseKeepAliveResponse),
    LeaseTimeToLive(LeaseTimeToLiveResponse),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RangeResponse {
    pub header_revision: i64,
    pub kvs: Vec<KeyValue>,
    /// More keys match than `limit` allowed to return.
    pub more: bool,
    /// How many keys match in total.
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PutResponse {
    pub header_revision: i64,
    pub prev_kv: Option<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteRangeResponse {
    pub header_revision: i64,
    pub deleted: i64,
    pub prev_kvs: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TxnResponse {
    pub header_revision: i64,
    /// Whether the compares held (the success branch ran).
    pub succeeded: bool,
    /// One response per operation of the branch that ran.
    pub responses: Vec<TxnOpResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnOpResponse {
    Range(RangeResponse),
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CompactResponse {
    pub header_revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaseGrantResponse {
    pub header_revision: i64,
    pub id: i64,
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaseRevokeResponse {
    pub header_revision: i64,
}

/// The keep-alive is answered by the leader's lessor outside Raft, so its header
/// revision is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaseKeepAliveResponse {
    pub header_revision: i64,
    pub ttl: i64,
}

/// `ttl` -1 with `granted_ttl` 0 means the lease does not exist (etcd
/// answers so instead of an error). A lease that exists but is past its
/// deadline, not yet revoked, has the whole seconds since it as a negative
/// `ttl` (etcd truncates toward zero: -1 between one and two seconds late),
/// and its `granted_ttl`. A source that does not record `granted_ttl`
/// (absent, 0) leaves -1 meaning "no such lease", as before.
/// `keys` is checked only when non-empty (the keys are only listed on request).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaseTimeToLiveResponse {
    pub header_revision: i64,
    pub ttl: i64,
    pub keys: Vec<String>,
    /// The TTL the lease was granted with (0: no such lease, or not recorded).
    #[serde(skip_serializing_if = "is_zero")]
    pub granted_ttl: i64,
}

impl LeaseTimeToLiveResponse {
    /// Whether the answer says there is no such lease.
    pub fn not_found(&self) -> bool {
        self.ttl == -1 && self.granted_ttl == 0
    }
}

impl Response {
    pub fn header_revision(&self) -> i64 {
        match self {
            Response::Range(r) => r.header_revision,
            Response::Put(r) => r.header_revision,
            Response::DeleteRange(r) => r.header_revision,
            Response::Txn(r) => r.header_revision,
            Response::Compact(r) => r.header_revision,
            Response::LeaseGrant(r) => r.header_revision,
            Response::LeaseRevoke(r) => r.header_revision,
            Response::LeaseKeepAlive(r) => r.header_revision,
            Response::LeaseTimeToLive(r) => r.header_revision,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Response::Range(_) => "range",
            Response::Put(_) => "put",
            Response::DeleteRange(_) => "delete",
            Response::Txn(_) => "txn",
            Response::Compact(_) => "compact",
            Response::LeaseGrant(_) => "lease-grant",
            Response::LeaseRevoke(_) => "lease-revoke",
            Response::LeaseKeepAlive(_) => "lease-keepalive",
            Response::LeaseTimeToLive(_) => "lease-ttl",
        }
    }
}

impl TxnOpResponse {
    pub fn kind(&self) -> &'static str {
        match self {
            TxnOpResponse::Range(_) => "range",
            TxnOpResponse::Put(_) => "put",
            TxnOpResponse::DeleteRange(_) => "delete",
            TxnOpResponse::Txn(_) => "txn",
        }
    }
}
