//! The schema table: every persisted bucket and field, and every WAL entry
//! type and field, with the version that introduced it. It is the single
//! source of truth for entry decoding per version, the WAL's minimal version,
//! and storage migration.

use crate::version::Version;
use crate::wire::api::{RequestOp, request_op};
use crate::wire::internal::{InternalRequest, internal_request::Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A backend bucket.
    Bucket,
    /// A key or field inside a backend bucket (`bucket/field`).
    PersistedField,
    /// A request type carried in raft entries.
    EntryType,
    /// A field of a request type (`Type.field`).
    EntryField,
}

#[derive(Debug, Clone, Copy)]
pub struct SchemaItem {
    pub kind: ItemKind,
    pub name: &'static str,
    pub introduced: Version,
    pub what: &'static str,
}

const fn item(
    kind: ItemKind,
    name: &'static str,
    introduced: Version,
    what: &'static str,
) -> SchemaItem {
    SchemaItem {
        kind,
        name,
        introduced,
        what,
    }
}

use ItemKind::*;
const V35: Version = Version::V3_5;
const V36: Version = Version::V3_6;
const V37: Version = Version::V3_7;
/// The version whose entries and key-values carry a per-key TTL (`Put.ttl`):
/// a member below it drops the field.
pub const KEY_TTL_SINCE: Version = V37;

pub const SCHEMA: &[SchemaItem] = &[
    item(Bucket, "key", V35, "MVCC revisions: revision -> key value"),
    item(
        Bucket,
        "meta",
        V35,
        "consistent index, term, compaction marks, storage version",
    ),
    item(Bucket, "lease", V35, "leases: id -> TTL"),
    item(Bucket, "members", V35, "cluster members"),
    item(Bucket, "cluster", V35, "cluster version and downgrade info"),
    item(
        PersistedField,
        "meta/consistent_index",
        V35,
        "index of the last applied raft entry",
    ),
    item(
        PersistedField,
        "meta/term",
        V35,
        "term of the last applied raft entry",
    ),
    item(
        PersistedField,
        "meta/confState",
        V35,
        "raft configuration at the consistent index",
    ),
    item(
        PersistedField,
        "meta/scheduledCompactRev",
        V35,
        "compaction requested up to this revision",
    ),
    item(
        PersistedField,
        "meta/finishedCompactRev",
        V35,
        "compaction finished up to this revision",
    ),
    item(
        PersistedField,
        "cluster/clusterVersion",
        V35,
        "the cluster version",
    ),
    item(
        PersistedField,
        "cluster/downgrade",
        V35,
        "downgrade enabled and its target",
    ),
    item(
        PersistedField,
        "meta/storageVersion",
        V36,
        "version of the data in this backend",
    ),
    item(
        PersistedField,
        "lease/remainingTTL",
        V36,
        "checkpointed remaining TTL of a lease",
    ),
    item(
        PersistedField,
        "key/ttl",
        V37,
        "per-key time to live on a key value",
    ),
    item(EntryType, "Put", V35, "write one key"),
    item(EntryType, "DeleteRange", V35, "delete a key or range"),
    item(
        EntryType,
        "Txn",
        V35,
        "compare, then one of two operation lists",
    ),
    item(
        EntryType,
        "Compaction",
        V35,
        "compact history up to a revision",
    ),
    item(EntryType, "LeaseGrant", V35, "create a lease"),
    item(
        EntryType,
        "LeaseRevoke",
        V35,
        "revoke a lease and delete its keys",
    ),
    item(
        EntryType,
        "ClusterVersionSet",
        V35,
        "set the cluster version",
    ),
    item(
        EntryType,
        "DowngradeInfoSet",
        V35,
        "enable or cancel a downgrade",
    ),
    item(
        EntryType,
        "LeaseCheckpoint",
        V36,
        "persist remaining lease TTLs",
    ),
    item(
        EntryType,
        "KeyExpire",
        V37,
        "delete a key whose per-key TTL ran out",
    ),
    item(
        EntryType,
        "Alarm",
        V35,
        "raise, clear or list a member's alarm",
    ),
    item(EntryField, "Put.ttl", KEY_TTL_SINCE, "per-key time to live"),
];

/// When the named item was introduced, if the table has it.
pub fn introduced(kind: ItemKind, name: &str) -> Option<Version> {
    SCHEMA
        .iter()
        .find(|i| i.kind == kind && i.name == name)
        .map(|i| i.introduced)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryVersionError {
    #[error("entry carries no request type this binary knows")]
    UnknownType,
    #[error("entry type {name} was introduced in {introduced}; version {own} cannot decode it")]
    TooNew {
        name: &'static str,
        introduced: Version,
        own: Version,
    },
}

fn put_ttl_known(version: Version) -> bool {
    introduced(EntryField, "Put.ttl").is_some_and(|v| v <= version)
}

/// Makes a decoded request look as a binary of `version` would see it:
/// refuses entry types newer than it and drops fields newer than it.
pub fn restrict_to_version(
    req: &mut InternalRequest,
    version: Version,
) -> Result<(), EntryVersionError> {
    let request = req.request.as_mut().ok_or(EntryVersionError::UnknownType)?;
    let name = request.type_name();
    let intro = introduced(EntryType, name).ok_or(EntryVersionError::UnknownType)?;
    if intro > version {
        return Err(EntryVersionError::TooNew {
            name,
            introduced: intro,
            own: version,
        });
    }
    if !put_ttl_known(version) {
        match request {
            Request::Put(put) => put.ttl = 0,
            Request::Txn(txn) => {
                for op in txn.success.iter_mut().chain(txn.failure.iter_mut()) {
                    strip_op_ttl(op);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn strip_op_ttl(op: &mut RequestOp) {
    match op.request.as_mut() {
        Some(request_op::Request::Put(put)) => put.ttl = 0,
        Some(request_op::Request::Txn(txn)) => {
            for op in txn.success.iter_mut().chain(txn.failure.iter_mut()) {
                strip_op_ttl(op);
            }
        }
        _ => {}
    }
}

fn op_uses_ttl(op: &RequestOp) -> bool {
    match op.request.as_ref() {
        Some(request_op::Request::Put(put)) => put.ttl != 0,
        Some(request_op::Request::Txn(txn)) => txn
            .success
            .iter()
            .chain(txn.failure.iter())
            .any(op_uses_ttl),
        _ => false,
    }
}

/// The lowest version that can apply this request: the newest entry type,
/// field or cluster version it uses (etcd's WAL "minimal version").
pub fn minimal_version(req: &InternalRequest) -> Version {
    let Some(request) = req.request.as_ref() else {
        return V35;
    };
    let mut min = introduced(EntryType, request.type_name()).unwrap_or(V35);
    let uses_ttl = match request {
        Request::Put(put) => put.ttl != 0,
        Request::Txn(txn) => txn
            .success
            .iter()
            .chain(txn.failure.iter())
            .any(op_uses_ttl),
        _ => false,
    };
    if uses_ttl {
        min = min.max(introduced(EntryField, "Put.ttl").unwrap_or(V37));
    }
    if let Request::ClusterVersionSet(set) = request
        && let Ok(v) = set.version.parse::<Version>()
    {
        min = min.max(v);
    }
    min
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::api::PutRequest;
    use crate::wire::internal::{ClusterVersionSetRequest, KeyExpireRequest};

    fn put(ttl: i64) -> InternalRequest {
        InternalRequest {
            header: None,
            request: Some(Request::Put(PutRequest {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                ttl,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn older_versions_refuse_newer_entry_types() {
        let mut req = InternalRequest {
            header: None,
            request: Some(Request::KeyExpire(KeyExpireRequest::default())),
        };
        assert!(matches!(
            restrict_to_version(&mut req, Version::V3_6),
            Err(EntryVersionError::TooNew {
                name: "KeyExpire",
                ..
            })
        ));
        assert_eq!(restrict_to_version(&mut req, Version::V3_7), Ok(()));
    }

    #[test]
    fn older_versions_do_not_see_newer_fields() {
        let mut req = put(30);
        restrict_to_version(&mut req, Version::V3_6).expect("Put is 3.5");
        assert!(matches!(req.request, Some(Request::Put(ref p)) if p.ttl == 0));
        let mut req = put(30);
        restrict_to_version(&mut req, Version::V3_7).expect("Put is 3.5");
        assert!(matches!(req.request, Some(Request::Put(ref p)) if p.ttl == 30));
    }

    #[test]
    fn minimal_version_follows_fields_types_and_cluster_version() {
        assert_eq!(minimal_version(&put(0)), V35);
        assert_eq!(minimal_version(&put(5)), V37);
        let set = InternalRequest {
            header: None,
            request: Some(Request::ClusterVersionSet(ClusterVersionSetRequest {
                version: "3.6".into(),
            })),
        };
        assert_eq!(minimal_version(&set), V36);
    }
}
