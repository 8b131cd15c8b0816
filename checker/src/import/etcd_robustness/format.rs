//! etcd's robustness report files as Go's `encoding/json` writes them: one
//! type per Go struct of etcd's `tests/robustness/model` (types.go,
//! watch.go, replay.go) and `report/client.go`, with Go's field names.
//! Embedded Go structs are flattened by hand; Go's `omitempty` is mirrored
//! when writing; Go's nil slices and pointers are `null`, read as empty.
//! Shared by the importer and the exporter, so both speak the same layout.

use serde::{Deserialize, Deserializer, Serialize};

/// Go writes a nil slice as `null`; reading treats it as empty.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One element of `client-N/operations.json`: porcupine's `Operation`
/// holding an `EtcdRequest` and a `MaybeEtcdResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KvOperation {
    /// porcupine's stream id (a client gets a new one after a failed write).
    #[serde(rename = "ClientId", alias = "ClientID")]
    pub client_id: i64,
    #[serde(rename = "Input")]
    pub input: EtcdRequest,
    /// Nanoseconds since the test's base time.
    #[serde(rename = "Call")]
    pub call: i64,
    #[serde(rename = "Output")]
    pub output: MaybeEtcdResponse,
    #[serde(rename = "Return")]
    pub ret: i64,
    /// etcd's recorder stores the output here too; readers ignore it.
    #[serde(rename = "Metadata", skip_deserializing)]
    pub metadata: Option<MaybeEtcdResponse>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestType {
    #[serde(rename = "range")]
    Range,
    #[serde(rename = "txn")]
    Txn,
    #[serde(rename = "leaseGrant")]
    LeaseGrant,
    #[serde(rename = "leaseRevoke")]
    LeaseRevoke,
    #[serde(rename = "defragment")]
    Defragment,
    #[serde(rename = "compact")]
    Compact,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EtcdRequest {
    /// Go's zero value is "", which etcd's model refuses too.
    #[serde(rename = "Type")]
    pub kind: Option<RequestType>,
    #[serde(rename = "LeaseGrant")]
    pub lease_grant: Option<LeaseId>,
    #[serde(rename = "LeaseRevoke")]
    pub lease_revoke: Option<LeaseId>,
    #[serde(rename = "Range")]
    pub range: Option<RangeRequest>,
    #[serde(rename = "Txn")]
    pub txn: Option<TxnRequest>,
    #[serde(rename = "Defragment")]
    pub defragment: Option<Empty>,
    #[serde(rename = "Compact")]
    pub compact: Option<CompactRequest>,
}

/// `LeaseGrantRequest`, `LeaseRevokeRequest` and `LeaseGrantResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaseId {
    #[serde(rename = "LeaseID")]
    pub lease_id: i64,
}

/// Go's empty structs (`DefragmentRequest`, `LeaseRevokeResponse`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CompactRequest {
    #[serde(rename = "Revision")]
    pub revision: i64,
}

/// `RangeOptions`; `RangeRequest` embeds it and adds `Revision`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RangeOptions {
    #[serde(rename = "Start")]
    pub start: String,
    /// "" = the single key `Start`; otherwise `[Start, End)`.
    #[serde(rename = "End")]
    pub end: String,
    #[serde(rename = "Limit")]
    pub limit: i64,
    #[serde(rename = "KeysOnly")]
    pub keys_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RangeRequest {
    #[serde(flatten)]
    pub options: RangeOptions,
    #[serde(rename = "Revision")]
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TxnRequest {
    #[serde(rename = "Conditions", deserialize_with = "null_as_default")]
    pub conditions: Vec<EtcdCondition>,
    #[serde(rename = "OperationsOnSuccess", deserialize_with = "null_as_default")]
    pub on_success: Vec<EtcdOperation>,
    #[serde(rename = "OperationsOnFailure", deserialize_with = "null_as_default")]
    pub on_failure: Vec<EtcdOperation>,
}

/// A compare: `version == ExpectedVersion` when it is > 0, else
/// `mod_revision == ExpectedRevision` (0 = the key is absent).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EtcdCondition {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "ExpectedRevision")]
    pub expected_revision: i64,
    #[serde(rename = "ExpectedVersion")]
    pub expected_version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationType {
    #[serde(rename = "range-operation")]
    Range,
    #[serde(rename = "put-operation")]
    Put,
    #[serde(rename = "delete-operation")]
    Delete,
}

/// All three option structs are always written (Go structs, not pointers);
/// `Type` says which one counts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EtcdOperation {
    #[serde(rename = "Type")]
    pub kind: Option<OperationType>,
    #[serde(rename = "Range")]
    pub range: RangeOptions,
    #[serde(rename = "Put")]
    pub put: PutOptions,
    #[serde(rename = "Delete")]
    pub delete: DeleteOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PutOptions {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: ValueOrHash,
    #[serde(rename = "LeaseID")]
    pub lease_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteOptions {
    #[serde(rename = "Key")]
    pub key: String,
}

/// A value, or for values of 20 bytes or more only their FNV-1a 32 hash
/// (etcd's `ToValueOrHash`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ValueOrHash {
    #[serde(rename = "Value", skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(rename = "Hash", skip_serializing_if = "is_zero_u32")]
    pub hash: u32,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// `MaybeEtcdResponse`, with the embedded `EtcdResponse` flattened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MaybeEtcdResponse {
    #[serde(rename = "Txn")]
    pub txn: Option<TxnResponse>,
    #[serde(rename = "Range")]
    pub range: Option<RangeResponse>,
    #[serde(rename = "LeaseGrant")]
    pub lease_grant: Option<LeaseId>,
    #[serde(rename = "LeaseRevoke")]
    pub lease_revoke: Option<Empty>,
    #[serde(rename = "Defragment")]
    pub defragment: Option<Empty>,
    #[serde(rename = "Compact")]
    pub compact: Option<Empty>,
    /// A definite refusal the model compares (compaction errors).
    #[serde(rename = "ClientError")]
    pub client_error: String,
    /// The header revision; -1 for answers that are not linearizable
    /// (compaction, defragmentation).
    #[serde(rename = "Revision")]
    pub revision: i64,
    #[serde(rename = "member-id", skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// Set by etcd's validation from the members' WAL: the request was
    /// persisted (at `PersistedRevision` when known) though its answer was lost.
    #[serde(rename = "Persisted")]
    pub persisted: bool,
    #[serde(rename = "PersistedRevision")]
    pub persisted_revision: i64,
    /// The client got an error: the outcome is unknown.
    #[serde(rename = "Error")]
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TxnResponse {
    #[serde(rename = "Failure")]
    pub failure: bool,
    #[serde(rename = "Results", deserialize_with = "null_as_default")]
    pub results: Vec<EtcdOperationResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RangeResponse {
    #[serde(rename = "KVs", deserialize_with = "null_as_default")]
    pub kvs: Vec<KeyValue>,
    #[serde(rename = "Count")]
    pub count: i64,
}

/// `EtcdOperationResult`: an embedded `RangeResponse` and `Deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EtcdOperationResult {
    #[serde(rename = "KVs", deserialize_with = "null_as_default")]
    pub kvs: Vec<KeyValue>,
    #[serde(rename = "Count")]
    pub count: i64,
    #[serde(rename = "Deleted")]
    pub deleted: i64,
}

/// `KeyValue` with the embedded `ValueRevision`: no create revision, no lease.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(flatten)]
    pub value: ValueRevision,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ValueRevision {
    #[serde(rename = "Value")]
    pub value: ValueOrHash,
    #[serde(rename = "ModRevision", skip_serializing_if = "is_zero")]
    pub mod_revision: i64,
    #[serde(rename = "Version", skip_serializing_if = "is_zero")]
    pub version: i64,
}

/// One element of `client-N/watch.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchOperation {
    #[serde(rename = "Request")]
    pub request: WatchRequest,
    #[serde(
        rename = "Responses",
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub responses: Vec<WatchResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchRequest {
    #[serde(rename = "Key")]
    pub key: String,
    /// 0 = from now.
    #[serde(rename = "Revision")]
    pub revision: i64,
    #[serde(rename = "WithPrefix")]
    pub with_prefix: bool,
    #[serde(rename = "WithProgressNotify")]
    pub with_progress_notify: bool,
    #[serde(rename = "WithPrevKV")]
    pub with_prev_kv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchResponse {
    #[serde(
        rename = "Events",
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub events: Vec<WatchEvent>,
    #[serde(rename = "IsProgressNotify", skip_serializing_if = "is_false")]
    pub is_progress_notify: bool,
    /// The header revision.
    #[serde(rename = "Revision", skip_serializing_if = "is_zero")]
    pub revision: i64,
    /// Go's `time.Duration` since the base time: nanoseconds.
    #[serde(rename = "Time", skip_serializing_if = "is_zero")]
    pub time: i64,
    /// The watch ended with this error (a cancel, such as a compaction).
    #[serde(rename = "Error", skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// `WatchEvent` with the embedded `PersistedEvent` and `Event` flattened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchEvent {
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<OperationType>,
    #[serde(rename = "Key", skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: ValueOrHash,
    /// The event's mod revision.
    #[serde(rename = "Revision", skip_serializing_if = "is_zero")]
    pub revision: i64,
    #[serde(rename = "IsCreate", skip_serializing_if = "is_false")]
    pub is_create: bool,
    #[serde(rename = "PrevValue", skip_serializing_if = "Option::is_none")]
    pub prev_value: Option<ValueRevision>,
}

/// The files and folders of a report (etcd's `report/client.go`).
pub const OPERATIONS_FILE: &str = "operations.json";
pub const WATCH_FILE: &str = "watch.json";
pub const CLIENT_DIR_PREFIX: &str = "client-";
