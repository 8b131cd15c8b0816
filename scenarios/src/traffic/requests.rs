//! The requests traffic sends, built by what they ask rather than by
//! filling protobuf structs: `Read::key(k).at(rev)`, `put(k, v).lease(id)`,
//! `Txn::when(mod_revision_is(k, rev)).then(...).otherwise(...)`. Every
//! profile builds its requests here, so a request means the same in all of
//! them (and the next client, for a real etcd, has one place to follow).

use node::mvcc::prefix_end;
use node::wire::api::{
    CompactionRequest, Compare, CompareResult, CompareTarget, DeleteRangeRequest,
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest,
    PutRequest, RangeRequest, RequestOp, SortOrder, SortTarget, StatusRequest, TxnRequest,
    WatchCreateRequest, client_request::Body, compare, request_op,
};

/// A read: one key, or every key in a range, now or at a past revision.
#[derive(Debug, Clone)]
pub struct Read(RangeRequest);

impl Read {
    /// The key `key` alone.
    pub fn key(key: impl Into<Vec<u8>>) -> Read {
        Read(RangeRequest {
            key: key.into(),
            ..Default::default()
        })
    }

    /// Every key in `[key, range_end)`.
    pub fn range(key: impl Into<Vec<u8>>, range_end: impl Into<Vec<u8>>) -> Read {
        Read(RangeRequest {
            key: key.into(),
            range_end: range_end.into(),
            ..Default::default()
        })
    }

    /// Every key starting with `prefix`.
    pub fn prefix(prefix: &str) -> Read {
        Read::range(prefix.as_bytes(), prefix_end(prefix.as_bytes()))
    }

    /// At `revision` (0: the latest).
    pub fn at(mut self, revision: i64) -> Read {
        self.0.revision = revision;
        self
    }

    /// At most `limit` keys (0: no limit).
    pub fn limit(mut self, limit: i64) -> Read {
        self.0.limit = limit;
        self
    }

    /// Keys without their values.
    pub fn keys_only(mut self, keys_only: bool) -> Read {
        self.0.keys_only = keys_only;
        self
    }

    /// Only how many keys there are.
    pub fn count_only(mut self) -> Read {
        self.0.count_only = true;
        self
    }

    /// Only keys last modified in `[min, max]` (0: no bound on that side);
    /// the others are still counted.
    pub fn modified_within(mut self, min: i64, max: i64) -> Read {
        self.0.min_mod_revision = min;
        self.0.max_mod_revision = max;
        self
    }

    /// Only keys created in `[min, max]` (0: no bound on that side); the
    /// others are still counted.
    pub fn created_within(mut self, min: i64, max: i64) -> Read {
        self.0.min_create_revision = min;
        self.0.max_create_revision = max;
        self
    }

    /// Sorted by `target` in `order` (etcd sorts before the limit cuts).
    pub fn sorted(mut self, target: SortTarget, order: SortOrder) -> Read {
        self.0.sort_target = target as i32;
        self.0.sort_order = order as i32;
        self
    }

    pub fn body(self) -> Body {
        Body::Range(self.0)
    }

    /// As one operation of a Txn.
    pub fn op(self) -> RequestOp {
        op(request_op::Request::Range(self.0))
    }
}

/// A write of `value` at `key`.
#[derive(Debug, Clone)]
pub struct Write(PutRequest);

pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Write {
    Write(PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    })
}

impl Write {
    /// Attached to lease `id` (0: none).
    pub fn lease(mut self, id: i64) -> Write {
        self.0.lease = id;
        self
    }

    /// Keep the key's lease (etcd's `ignore_lease`); the key must exist,
    /// and no lease may be given with it.
    pub fn keep_lease(mut self) -> Write {
        self.0.ignore_lease = true;
        self.0.lease = 0;
        self
    }

    /// Keep the key's value (etcd's `ignore_value`); the key must exist,
    /// and no value may be given with it.
    pub fn keep_value(mut self) -> Write {
        self.0.ignore_value = true;
        self.0.value.clear();
        self
    }

    /// Expiring after `ttl_s` seconds (this store's per-key TTL, 3.7).
    pub fn ttl(mut self, ttl_s: i64) -> Write {
        self.0.ttl = ttl_s;
        self
    }

    pub fn body(self) -> Body {
        Body::Put(self.0)
    }

    /// As one operation of a Txn.
    pub fn op(self) -> RequestOp {
        op(request_op::Request::Put(self.0))
    }
}

fn delete_request(key: impl Into<Vec<u8>>) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: key.into(),
        ..Default::default()
    }
}

/// Deletes the key `key`.
pub fn delete(key: impl Into<Vec<u8>>) -> Body {
    Body::DeleteRange(delete_request(key))
}

/// Deletes the key `key`, as one operation of a Txn.
pub fn delete_op(key: impl Into<Vec<u8>>) -> RequestOp {
    op(request_op::Request::DeleteRange(delete_request(key)))
}

/// Deletes every key from `key` on (range end "\0"), as one operation of
/// a Txn.
pub fn delete_from_op(key: impl Into<Vec<u8>>) -> RequestOp {
    delete_range_op(key, FROM_KEY)
}

/// Deletes every key in `[key, range_end)` (a single key when `range_end`
/// is empty, every key from `key` on when it is [`FROM_KEY`]), as one
/// operation of a Txn.
pub fn delete_range_op(key: impl Into<Vec<u8>>, range_end: impl Into<Vec<u8>>) -> RequestOp {
    op(request_op::Request::DeleteRange(DeleteRangeRequest {
        range_end: range_end.into(),
        ..delete_request(key)
    }))
}

/// The range end that reaches the end of the keyspace (etcd's
/// `WithFromKey`): `[key, "\0")` is every key from `key` on.
pub const FROM_KEY: &[u8] = &[0];

fn op(request: request_op::Request) -> RequestOp {
    RequestOp {
        request: Some(request),
    }
}

/// A transaction: if every comparison holds, `then`, else `otherwise`.
#[derive(Debug, Clone, Default)]
pub struct Txn(TxnRequest);

impl Txn {
    /// A transaction with no comparison: `then` always runs.
    pub fn always() -> Txn {
        Txn::default()
    }

    pub fn when(comparison: Compare) -> Txn {
        Txn(TxnRequest {
            compare: vec![comparison],
            ..Default::default()
        })
    }

    pub fn then(mut self, ops: impl IntoIterator<Item = RequestOp>) -> Txn {
        self.0.success.extend(ops);
        self
    }

    pub fn otherwise(mut self, ops: impl IntoIterator<Item = RequestOp>) -> Txn {
        self.0.failure.extend(ops);
        self
    }

    pub fn body(self) -> Body {
        Body::Txn(self.0)
    }
}

/// The key's mod revision is `revision` (0: the key does not exist).
pub fn mod_revision_is(key: &str, revision: i64) -> Compare {
    equal(
        key,
        CompareTarget::Mod,
        compare::TargetUnion::ModRevision(revision),
    )
}

/// The key's version (writes since its creation) is `version`.
pub fn version_is(key: &str, version: i64) -> Compare {
    equal(
        key,
        CompareTarget::Version,
        compare::TargetUnion::Version(version),
    )
}

fn equal(key: &str, target: CompareTarget, value: compare::TargetUnion) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: target as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(value),
        range_end: vec![],
    }
}

/// Grants a lease of `ttl_s` seconds, its id chosen by the cluster.
pub fn lease_grant(ttl_s: i64) -> Body {
    Body::LeaseGrant(LeaseGrantRequest { ttl: ttl_s, id: 0 })
}

pub fn lease_keep_alive(id: i64) -> Body {
    Body::LeaseKeepAlive(LeaseKeepAliveRequest { id })
}

pub fn lease_revoke(id: i64) -> Body {
    Body::LeaseRevoke(LeaseRevokeRequest { id })
}

/// The lease's remaining time, with its keys when `keys`.
pub fn lease_time_to_live(id: i64, keys: bool) -> Body {
    Body::LeaseTimeToLive(LeaseTimeToLiveRequest { id, keys })
}

/// Compacts history up to `revision` (not waiting for the physical
/// compaction).
pub fn compact(revision: i64) -> Body {
    Body::Compaction(CompactionRequest {
        revision,
        physical: false,
    })
}

pub fn status() -> Body {
    Body::Status(StatusRequest {})
}

/// A watch on the key `key` (`range_end` empty) or on `[key, range_end)`,
/// from `start_revision` (0: from the next change).
pub fn watch(
    key: impl Into<Vec<u8>>,
    range_end: impl Into<Vec<u8>>,
    start_revision: i64,
) -> WatchCreateRequest {
    WatchCreateRequest {
        key: key.into(),
        range_end: range_end.into(),
        start_revision,
        ..Default::default()
    }
}

/// A watch on every key starting with `prefix`, from `start_revision`.
pub fn watch_prefix(prefix: &str, start_revision: i64) -> WatchCreateRequest {
    watch(prefix, prefix_end(prefix.as_bytes()), start_revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_fill_the_fields_they_name_and_no_other() {
        let Body::Range(r) = Read::key("k").at(7).limit(1).body() else {
            panic!("a read is a range request")
        };
        assert_eq!(
            (r.key, r.range_end, r.revision, r.limit, r.keys_only),
            (b"k".to_vec(), vec![], 7, 1, false)
        );
        let Body::Put(p) = put("k", "v").lease(5).body() else {
            panic!("a write is a put")
        };
        assert_eq!((p.lease, p.ttl), (5, 0));
        let Body::Txn(t) = Txn::when(mod_revision_is("k", 3))
            .then([put("k", "v").op()])
            .otherwise([Read::key("k").op()])
            .body()
        else {
            panic!("a txn")
        };
        assert_eq!(
            t.compare[0].target_union,
            Some(compare::TargetUnion::ModRevision(3))
        );
        assert_eq!((t.success.len(), t.failure.len()), (1, 1));
    }
}
