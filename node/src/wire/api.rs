//! Client API messages, in the shape of etcd's v3 API. They are encoded to
//! bytes with protobuf (prost) before they cross the network, so clients and
//! members of different versions really exchange bytes, as in etcd.

#![allow(clippy::derive_partial_eq_without_eq)]

use prost::{Enumeration, Message, Oneof};

#[derive(Clone, PartialEq, Message)]
pub struct ResponseHeader {
    #[prost(uint64, tag = "1")]
    pub cluster_id: u64,
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    #[prost(int64, tag = "3")]
    pub revision: i64,
    #[prost(uint64, tag = "4")]
    pub raft_term: u64,
}

#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub create_revision: i64,
    #[prost(int64, tag = "3")]
    pub mod_revision: i64,
    #[prost(int64, tag = "4")]
    pub version: i64,
    #[prost(bytes = "vec", tag = "5")]
    pub value: Vec<u8>,
    #[prost(int64, tag = "6")]
    pub lease: i64,
    /// Per-key time to live in seconds (3.7); 0 = none.
    #[prost(int64, tag = "7")]
    pub ttl: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum SortOrder {
    None = 0,
    Ascend = 1,
    Descend = 2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum SortTarget {
    Key = 0,
    Version = 1,
    Create = 2,
    Mod = 3,
    Value = 4,
}

/// Field numbers as in etcd's rpc.proto.
#[derive(Clone, PartialEq, Message)]
pub struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub limit: i64,
    #[prost(int64, tag = "4")]
    pub revision: i64,
    #[prost(enumeration = "SortOrder", tag = "5")]
    pub sort_order: i32,
    #[prost(enumeration = "SortTarget", tag = "6")]
    pub sort_target: i32,
    #[prost(bool, tag = "7")]
    pub serializable: bool,
    #[prost(bool, tag = "8")]
    pub keys_only: bool,
    #[prost(bool, tag = "9")]
    pub count_only: bool,
    /// Leave out keys last modified before this revision (0: no bound).
    #[prost(int64, tag = "10")]
    pub min_mod_revision: i64,
    #[prost(int64, tag = "11")]
    pub max_mod_revision: i64,
    #[prost(int64, tag = "12")]
    pub min_create_revision: i64,
    #[prost(int64, tag = "13")]
    pub max_create_revision: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct RangeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub kvs: Vec<KeyValue>,
    #[prost(bool, tag = "3")]
    pub more: bool,
    #[prost(int64, tag = "4")]
    pub count: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub lease: i64,
    #[prost(bool, tag = "4")]
    pub prev_kv: bool,
    #[prost(bool, tag = "5")]
    pub ignore_value: bool,
    #[prost(bool, tag = "6")]
    pub ignore_lease: bool,
    /// Per-key time to live in seconds (3.7); 0 = none.
    #[prost(int64, tag = "7")]
    pub ttl: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct PutResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, optional, tag = "2")]
    pub prev_kv: Option<KeyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct DeleteRangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    #[prost(bool, tag = "3")]
    pub prev_kv: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct DeleteRangeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub deleted: i64,
    #[prost(message, repeated, tag = "3")]
    pub prev_kvs: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct RequestOp {
    #[prost(oneof = "request_op::Request", tags = "1, 2, 3, 4")]
    pub request: Option<request_op::Request>,
}

pub mod request_op {
    use super::*;
    #[derive(Clone, PartialEq, Oneof)]
    pub enum Request {
        #[prost(message, tag = "1")]
        Range(RangeRequest),
        #[prost(message, tag = "2")]
        Put(PutRequest),
        #[prost(message, tag = "3")]
        DeleteRange(DeleteRangeRequest),
        #[prost(message, tag = "4")]
        Txn(TxnRequest),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct ResponseOp {
    #[prost(oneof = "response_op::Response", tags = "1, 2, 3, 4")]
    pub response: Option<response_op::Response>,
}

pub mod response_op {
    use super::*;
    #[derive(Clone, PartialEq, Oneof)]
    pub enum Response {
        #[prost(message, tag = "1")]
        Range(RangeResponse),
        #[prost(message, tag = "2")]
        Put(PutResponse),
        #[prost(message, tag = "3")]
        DeleteRange(DeleteRangeResponse),
        #[prost(message, tag = "4")]
        Txn(TxnResponse),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum CompareResult {
    Equal = 0,
    Greater = 1,
    Less = 2,
    NotEqual = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum CompareTarget {
    Version = 0,
    Create = 1,
    Mod = 2,
    Value = 3,
    Lease = 4,
}

#[derive(Clone, PartialEq, Message)]
pub struct Compare {
    #[prost(enumeration = "CompareResult", tag = "1")]
    pub result: i32,
    #[prost(enumeration = "CompareTarget", tag = "2")]
    pub target: i32,
    #[prost(bytes = "vec", tag = "3")]
    pub key: Vec<u8>,
    #[prost(oneof = "compare::TargetUnion", tags = "4, 5, 6, 7, 8")]
    pub target_union: Option<compare::TargetUnion>,
    #[prost(bytes = "vec", tag = "64")]
    pub range_end: Vec<u8>,
}

pub mod compare {
    use super::*;
    #[derive(Clone, PartialEq, Oneof)]
    pub enum TargetUnion {
        #[prost(int64, tag = "4")]
        Version(i64),
        #[prost(int64, tag = "5")]
        CreateRevision(i64),
        #[prost(int64, tag = "6")]
        ModRevision(i64),
        #[prost(bytes = "vec", tag = "7")]
        Value(Vec<u8>),
        #[prost(int64, tag = "8")]
        Lease(i64),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct TxnRequest {
    #[prost(message, repeated, tag = "1")]
    pub compare: Vec<Compare>,
    #[prost(message, repeated, tag = "2")]
    pub success: Vec<RequestOp>,
    #[prost(message, repeated, tag = "3")]
    pub failure: Vec<RequestOp>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TxnResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(bool, tag = "2")]
    pub succeeded: bool,
    #[prost(message, repeated, tag = "3")]
    pub responses: Vec<ResponseOp>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CompactionRequest {
    #[prost(int64, tag = "1")]
    pub revision: i64,
    #[prost(bool, tag = "2")]
    pub physical: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct CompactionResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

#[derive(Clone, PartialEq, Message)]
pub struct HashKvRequest {
    #[prost(int64, tag = "1")]
    pub revision: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct HashKvResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(uint32, tag = "2")]
    pub hash: u32,
    #[prost(int64, tag = "3")]
    pub compact_revision: i64,
    #[prost(int64, tag = "4")]
    pub hash_revision: i64,
    /// faultline's own, not etcd's: a stricter hash of the key bucket for
    /// the simulation's end-state check (`mvcc::HashKv::strict_hash`).
    #[prost(uint32, tag = "100")]
    pub strict_hash: u32,
}

#[derive(Clone, PartialEq, Message)]
pub struct StatusRequest {}

#[derive(Clone, PartialEq, Message)]
pub struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(int64, tag = "3")]
    pub db_size: i64,
    #[prost(uint64, tag = "4")]
    pub leader: u64,
    #[prost(uint64, tag = "5")]
    pub raft_index: u64,
    #[prost(uint64, tag = "6")]
    pub raft_term: u64,
    #[prost(uint64, tag = "7")]
    pub raft_applied_index: u64,
    #[prost(string, repeated, tag = "8")]
    pub errors: Vec<String>,
    #[prost(int64, tag = "9")]
    pub db_size_in_use: i64,
    #[prost(bool, tag = "10")]
    pub is_learner: bool,
    #[prost(string, tag = "11")]
    pub storage_version: String,
    #[prost(string, tag = "12")]
    pub cluster_version: String,
    #[prost(int64, tag = "13")]
    pub compact_revision: i64,
    #[prost(bool, tag = "14")]
    pub downgrade_enabled: bool,
    #[prost(string, tag = "15")]
    pub downgrade_target: String,
    /// Index of the newest snapshot; the raft log is kept from
    /// `snapshot_index - catchup_entries` on.
    #[prost(uint64, tag = "16")]
    pub snapshot_index: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseGrantRequest {
    #[prost(int64, tag = "1")]
    pub ttl: i64,
    #[prost(int64, tag = "2")]
    pub id: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseGrantResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub id: i64,
    #[prost(int64, tag = "3")]
    pub ttl: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseRevokeRequest {
    #[prost(int64, tag = "1")]
    pub id: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseRevokeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseKeepAliveRequest {
    #[prost(int64, tag = "1")]
    pub id: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseKeepAliveResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub id: i64,
    #[prost(int64, tag = "3")]
    pub ttl: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseTimeToLiveRequest {
    #[prost(int64, tag = "1")]
    pub id: i64,
    #[prost(bool, tag = "2")]
    pub keys: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseTimeToLiveResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub id: i64,
    #[prost(int64, tag = "3")]
    pub ttl: i64,
    #[prost(int64, tag = "4")]
    pub granted_ttl: i64,
    #[prost(bytes = "vec", repeated, tag = "5")]
    pub keys: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseLeasesRequest {}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseLeasesResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(int64, repeated, tag = "2")]
    pub leases: Vec<i64>,
}

#[derive(Clone, PartialEq, Eq, Message)]
pub struct Member {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub ip: String,
    #[prost(bool, tag = "3")]
    pub is_learner: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct MemberAddRequest {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub ip: String,
    #[prost(bool, tag = "3")]
    pub is_learner: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct MemberAddResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, optional, tag = "2")]
    pub member: Option<Member>,
    #[prost(message, repeated, tag = "3")]
    pub members: Vec<Member>,
}

#[derive(Clone, PartialEq, Message)]
pub struct MemberRemoveRequest {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct MemberRemoveResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub members: Vec<Member>,
}

/// etcd's MemberPromote: a learner becomes a voter.
#[derive(Clone, PartialEq, Message)]
pub struct MemberPromoteRequest {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct MemberPromoteResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub members: Vec<Member>,
}

#[derive(Clone, PartialEq, Message)]
pub struct MemberListRequest {
    #[prost(bool, tag = "1")]
    pub linearizable: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct MemberListResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub members: Vec<Member>,
}

#[derive(Clone, PartialEq, Message)]
pub struct DefragmentRequest {}

#[derive(Clone, PartialEq, Message)]
pub struct DefragmentResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum DowngradeAction {
    Validate = 0,
    Enable = 1,
    Cancel = 2,
}

#[derive(Clone, PartialEq, Message)]
pub struct DowngradeRequest {
    #[prost(enumeration = "DowngradeAction", tag = "1")]
    pub action: i32,
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct DowngradeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The cluster version when the request was handled.
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct MoveLeaderRequest {
    #[prost(uint64, tag = "1")]
    pub target_id: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct MoveLeaderResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

/// etcd's AlarmType: what an alarm says about a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum AlarmType {
    /// In a request: every type (Get), or none.
    None = 0,
    /// The member's backend ran out of space: writes are refused.
    Nospace = 1,
    /// The corruption check found the member's data differs: everything
    /// that goes through apply is refused.
    Corrupt = 2,
}

impl AlarmType {
    /// The name etcd prints (the protobuf enum value's name).
    pub fn etcd_name(self) -> &'static str {
        match self {
            AlarmType::None => "NONE",
            AlarmType::Nospace => "NOSPACE",
            AlarmType::Corrupt => "CORRUPT",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum AlarmAction {
    Get = 0,
    Activate = 1,
    Deactivate = 2,
}

/// etcd's Maintenance.Alarm request (field numbers as in rpc.proto).
#[derive(Clone, PartialEq, Message)]
pub struct AlarmRequest {
    #[prost(enumeration = "AlarmAction", tag = "1")]
    pub action: i32,
    /// The member the alarm is about; 0 with Get means every member.
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    #[prost(enumeration = "AlarmType", tag = "3")]
    pub alarm: i32,
}

#[derive(Clone, PartialEq, Eq, Message)]
pub struct AlarmMember {
    #[prost(uint64, tag = "1")]
    pub member_id: u64,
    #[prost(enumeration = "AlarmType", tag = "2")]
    pub alarm: i32,
}

impl AlarmMember {
    /// As etcd's Status lists an alarm in its errors (the protobuf text
    /// form of AlarmMember).
    pub fn status_text(&self) -> String {
        let alarm = AlarmType::try_from(self.alarm).unwrap_or(AlarmType::None);
        format!("memberID:{} alarm:{} ", self.member_id, alarm.etcd_name())
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct AlarmResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub alarms: Vec<AlarmMember>,
}

/// Errors a client can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum ErrorCode {
    Unspecified = 0,
    /// No leader is known; the request was not proposed.
    NoLeader = 1,
    /// The request was proposed but did not finish in time: outcome unknown.
    Timeout = 2,
    Compacted = 3,
    FutureRevision = 4,
    LeaseNotFound = 5,
    LeaseExists = 6,
    InvalidArgument = 7,
    /// The member is shutting down or not started.
    Stopped = 8,
    /// A feature newer than the cluster version was used.
    Unsupported = 9,
    MemberNotFound = 10,
    MemberExists = 11,
    /// The leader changed while a read was waiting for its index.
    LeaderChanged = 12,
    TooManyRequests = 13,
    InvalidDowngradeTarget = 14,
    DowngradeInProgress = 15,
    NoInflightDowngrade = 16,
    UnknownClusterVersion = 17,
    Corrupt = 18,
    Internal = 19,
    /// The member is not (yet) a voter or lost its membership.
    NotMember = 20,
    /// MoveLeader towards a member that is not a voter.
    BadLeaderTransferee = 21,
    /// A write refused while a NOSPACE alarm is active.
    NoSpace = 22,
    /// MemberPromote of a member that is not a learner.
    MemberNotLearner = 23,
    /// MemberPromote of a learner too far behind the leader.
    LearnerNotReady = 24,
    /// A request a learner does not serve (all but Status and
    /// serializable reads).
    NotSupportedForLearner = 25,
    /// A membership change refused by the strict reconfiguration check:
    /// it would leave no active quorum (etcd's ErrGRPCUnhealthy).
    Unhealthy = 26,
}

impl ErrorCode {
    /// The gRPC status code etcd sends this error with (etcd's
    /// `api/v3rpc/rpctypes/error.go`), as its number.
    pub fn grpc_code(self) -> i32 {
        const INVALID_ARGUMENT: i32 = 3;
        const NOT_FOUND: i32 = 5;
        const RESOURCE_EXHAUSTED: i32 = 8;
        const FAILED_PRECONDITION: i32 = 9;
        const OUT_OF_RANGE: i32 = 11;
        const INTERNAL: i32 = 13;
        const UNAVAILABLE: i32 = 14;
        const DATA_LOSS: i32 = 15;
        const UNKNOWN: i32 = 2;
        match self {
            ErrorCode::Unspecified => UNKNOWN,
            ErrorCode::NoLeader
            | ErrorCode::Timeout
            | ErrorCode::Stopped
            | ErrorCode::LeaderChanged
            | ErrorCode::UnknownClusterVersion
            | ErrorCode::Unhealthy => UNAVAILABLE,
            ErrorCode::Compacted | ErrorCode::FutureRevision => OUT_OF_RANGE,
            ErrorCode::LeaseNotFound | ErrorCode::MemberNotFound => NOT_FOUND,
            ErrorCode::LeaseExists
            | ErrorCode::MemberExists
            | ErrorCode::Unsupported
            | ErrorCode::DowngradeInProgress
            | ErrorCode::NoInflightDowngrade
            | ErrorCode::NotMember
            | ErrorCode::BadLeaderTransferee
            | ErrorCode::MemberNotLearner
            | ErrorCode::LearnerNotReady
            | ErrorCode::NotSupportedForLearner => FAILED_PRECONDITION,
            ErrorCode::InvalidArgument | ErrorCode::InvalidDowngradeTarget => INVALID_ARGUMENT,
            ErrorCode::TooManyRequests | ErrorCode::NoSpace => RESOURCE_EXHAUSTED,
            ErrorCode::Corrupt => DATA_LOSS,
            ErrorCode::Internal => INTERNAL,
        }
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct ErrorResponse {
    #[prost(enumeration = "ErrorCode", tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(int64, tag = "3")]
    pub compact_revision: i64,
    #[prost(uint64, tag = "4")]
    pub leader_hint: u64,
}

/// One request on a client connection.
#[derive(Clone, PartialEq, Message)]
pub struct ClientRequest {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(
        oneof = "client_request::Body",
        tags = "2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21"
    )]
    pub body: Option<client_request::Body>,
    /// Sent by a member passing on a request only the leader serves (a
    /// lease renewal or time-to-live, as etcd's leasehttp over the peer
    /// port): the receiver answers it itself, or says it is not the
    /// leader, and never passes it on again.
    #[prost(bool, tag = "22")]
    pub from_peer: bool,
}

pub mod client_request {
    use super::*;
    #[derive(Clone, PartialEq, Oneof)]
    pub enum Body {
        #[prost(message, tag = "2")]
        Range(RangeRequest),
        #[prost(message, tag = "3")]
        Put(PutRequest),
        #[prost(message, tag = "4")]
        DeleteRange(DeleteRangeRequest),
        #[prost(message, tag = "5")]
        Txn(TxnRequest),
        #[prost(message, tag = "6")]
        Compaction(CompactionRequest),
        #[prost(message, tag = "7")]
        HashKv(HashKvRequest),
        #[prost(message, tag = "8")]
        Status(StatusRequest),
        #[prost(message, tag = "9")]
        LeaseGrant(LeaseGrantRequest),
        #[prost(message, tag = "10")]
        LeaseRevoke(LeaseRevokeRequest),
        #[prost(message, tag = "11")]
        LeaseKeepAlive(LeaseKeepAliveRequest),
        #[prost(message, tag = "12")]
        LeaseTimeToLive(LeaseTimeToLiveRequest),
        #[prost(message, tag = "13")]
        LeaseLeases(LeaseLeasesRequest),
        #[prost(message, tag = "14")]
        MemberAdd(MemberAddRequest),
        #[prost(message, tag = "15")]
        MemberRemove(MemberRemoveRequest),
        #[prost(message, tag = "16")]
        MemberList(MemberListRequest),
        #[prost(message, tag = "17")]
        Defragment(DefragmentRequest),
        #[prost(message, tag = "18")]
        Downgrade(DowngradeRequest),
        #[prost(message, tag = "19")]
        MoveLeader(MoveLeaderRequest),
        #[prost(message, tag = "20")]
        Alarm(AlarmRequest),
        #[prost(message, tag = "21")]
        MemberPromote(MemberPromoteRequest),
    }
}

/// The answer to one [`ClientRequest`], with the same id.
#[derive(Clone, PartialEq, Message)]
pub struct ClientResponse {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(
        oneof = "client_response::Body",
        tags = "2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 30"
    )]
    pub body: Option<client_response::Body>,
}

pub mod client_response {
    use super::*;
    #[derive(Clone, PartialEq, Oneof)]
    pub enum Body {
        #[prost(message, tag = "2")]
        Range(RangeResponse),
        #[prost(message, tag = "3")]
        Put(PutResponse),
        #[prost(message, tag = "4")]
        DeleteRange(DeleteRangeResponse),
        #[prost(message, tag = "5")]
        Txn(TxnResponse),
        #[prost(message, tag = "6")]
        Compaction(CompactionResponse),
        #[prost(message, tag = "7")]
        HashKv(HashKvResponse),
        #[prost(message, tag = "8")]
        Status(StatusResponse),
        #[prost(message, tag = "9")]
        LeaseGrant(LeaseGrantResponse),
        #[prost(message, tag = "10")]
        LeaseRevoke(LeaseRevokeResponse),
        #[prost(message, tag = "11")]
        LeaseKeepAlive(LeaseKeepAliveResponse),
        #[prost(message, tag = "12")]
        LeaseTimeToLive(LeaseTimeToLiveResponse),
        #[prost(message, tag = "13")]
        LeaseLeases(LeaseLeasesResponse),
        #[prost(message, tag = "14")]
        MemberAdd(MemberAddResponse),
        #[prost(message, tag = "15")]
        MemberRemove(MemberRemoveResponse),
        #[prost(message, tag = "16")]
        MemberList(MemberListResponse),
        #[prost(message, tag = "17")]
        Defragment(DefragmentResponse),
        #[prost(message, tag = "18")]
        Downgrade(DowngradeResponse),
        #[prost(message, tag = "19")]
        MoveLeader(MoveLeaderResponse),
        #[prost(message, tag = "20")]
        Alarm(AlarmResponse),
        #[prost(message, tag = "21")]
        MemberPromote(MemberPromoteResponse),
        #[prost(message, tag = "30")]
        Error(ErrorResponse),
    }
}

// ---- Watch ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum WatchFilter {
    NoPut = 0,
    NoDelete = 1,
}

#[derive(Clone, PartialEq, Message)]
pub struct WatchCreateRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub start_revision: i64,
    #[prost(bool, tag = "4")]
    pub progress_notify: bool,
    #[prost(enumeration = "WatchFilter", repeated, tag = "5")]
    pub filters: Vec<i32>,
    #[prost(bool, tag = "6")]
    pub prev_kv: bool,
    #[prost(int64, tag = "7")]
    pub watch_id: i64,
    /// End the watch when the member loses its leader (etcd's
    /// require-leader stream metadata).
    #[prost(bool, tag = "8")]
    pub require_leader: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct WatchCancelRequest {
    #[prost(int64, tag = "1")]
    pub watch_id: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct WatchProgressRequest {}

#[derive(Clone, PartialEq, Message)]
pub struct WatchRequest {
    #[prost(oneof = "watch_request::Request", tags = "1, 2, 3")]
    pub request: Option<watch_request::Request>,
}

pub mod watch_request {
    use super::*;
    #[derive(Clone, PartialEq, Oneof)]
    pub enum Request {
        #[prost(message, tag = "1")]
        Create(WatchCreateRequest),
        #[prost(message, tag = "2")]
        Cancel(WatchCancelRequest),
        #[prost(message, tag = "3")]
        Progress(WatchProgressRequest),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum EventType {
    Put = 0,
    Delete = 1,
}

#[derive(Clone, PartialEq, Message)]
pub struct Event {
    #[prost(enumeration = "EventType", tag = "1")]
    pub r#type: i32,
    #[prost(message, optional, tag = "2")]
    pub kv: Option<KeyValue>,
    #[prost(message, optional, tag = "3")]
    pub prev_kv: Option<KeyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct WatchResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// -1 for a stream-wide progress notification (answer to a progress request).
    #[prost(int64, tag = "2")]
    pub watch_id: i64,
    #[prost(bool, tag = "3")]
    pub created: bool,
    #[prost(bool, tag = "4")]
    pub canceled: bool,
    #[prost(int64, tag = "5")]
    pub compact_revision: i64,
    #[prost(string, tag = "6")]
    pub cancel_reason: String,
    #[prost(message, repeated, tag = "11")]
    pub events: Vec<Event>,
}

/// Decodes a message, naming what was being decoded when it fails.
pub fn decode<M: Message + Default>(what: &'static str, bytes: &[u8]) -> Result<M, DecodeError> {
    M::decode(bytes).map_err(|e| DecodeError {
        what,
        detail: e.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {what}: {detail}")]
pub struct DecodeError {
    pub what: &'static str,
    pub detail: String,
}
