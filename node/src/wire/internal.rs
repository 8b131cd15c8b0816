//! What goes into raft entries: the requests every member applies, encoded
//! with protobuf. A member decodes entries with its own version's view of
//! the schema: an entry type newer than its version is an error (as in a real
//! older binary), and fields newer than its version are not seen.

#![allow(clippy::derive_partial_eq_without_eq)]

use super::api::{
    AlarmRequest, CompactionRequest, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest,
    PutRequest, TxnRequest,
};
use prost::{Message, Oneof};

#[derive(Clone, PartialEq, Message)]
pub struct RequestHeader {
    /// Unique per proposing member; the member waiting for the result
    /// matches applied entries to waiters by it.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The member that proposed the request.
    #[prost(uint64, tag = "2")]
    pub member: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct ClusterVersionSetRequest {
    #[prost(string, tag = "1")]
    pub version: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct DowngradeInfoSetRequest {
    #[prost(bool, tag = "1")]
    pub enabled: bool,
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseCheckpoint {
    #[prost(int64, tag = "1")]
    pub id: i64,
    #[prost(int64, tag = "2")]
    pub remaining_ttl: i64,
}

/// The leader's record of remaining lease TTLs (3.6), so a new leader does
/// not extend them to the full TTL.
#[derive(Clone, PartialEq, Message)]
pub struct LeaseCheckpointRequest {
    #[prost(message, repeated, tag = "1")]
    pub checkpoints: Vec<LeaseCheckpoint>,
}

/// Deletes a key whose per-key TTL (3.7) ran out, if it was not written since.
#[derive(Clone, PartialEq, Message)]
pub struct KeyExpireRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub mod_revision: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct InternalRequest {
    #[prost(message, optional, tag = "1")]
    pub header: Option<RequestHeader>,
    #[prost(
        oneof = "internal_request::Request",
        tags = "3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13"
    )]
    pub request: Option<internal_request::Request>,
}

pub mod internal_request {
    use super::*;
    #[derive(Clone, PartialEq, Oneof)]
    pub enum Request {
        #[prost(message, tag = "3")]
        Put(PutRequest),
        #[prost(message, tag = "4")]
        DeleteRange(DeleteRangeRequest),
        #[prost(message, tag = "5")]
        Txn(TxnRequest),
        #[prost(message, tag = "6")]
        Compaction(CompactionRequest),
        #[prost(message, tag = "7")]
        LeaseGrant(LeaseGrantRequest),
        #[prost(message, tag = "8")]
        LeaseRevoke(LeaseRevokeRequest),
        #[prost(message, tag = "9")]
        ClusterVersionSet(ClusterVersionSetRequest),
        #[prost(message, tag = "10")]
        DowngradeInfoSet(DowngradeInfoSetRequest),
        #[prost(message, tag = "11")]
        LeaseCheckpoint(LeaseCheckpointRequest),
        #[prost(message, tag = "12")]
        KeyExpire(KeyExpireRequest),
        #[prost(message, tag = "13")]
        Alarm(AlarmRequest),
    }
}

impl internal_request::Request {
    /// The entry type's name as the schema table lists it.
    pub fn type_name(&self) -> &'static str {
        use internal_request::Request as R;
        match self {
            R::Put(_) => "Put",
            R::DeleteRange(_) => "DeleteRange",
            R::Txn(_) => "Txn",
            R::Compaction(_) => "Compaction",
            R::LeaseGrant(_) => "LeaseGrant",
            R::LeaseRevoke(_) => "LeaseRevoke",
            R::ClusterVersionSet(_) => "ClusterVersionSet",
            R::DowngradeInfoSet(_) => "DowngradeInfoSet",
            R::LeaseCheckpoint(_) => "LeaseCheckpoint",
            R::KeyExpire(_) => "KeyExpire",
            R::Alarm(_) => "Alarm",
        }
    }
}

/// Carried in a raft configuration change: who proposed it (to answer
/// them) and the member being added.
#[derive(Clone, PartialEq, Message)]
pub struct ConfChangeContext {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub proposer: u64,
    #[prost(message, optional, tag = "3")]
    pub member: Option<super::api::Member>,
}
