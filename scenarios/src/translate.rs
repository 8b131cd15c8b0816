//! Translation between the store's wire types and the checker's history
//! types (the checker knows nothing of the store).

use checker::history as h;
use node::client::ClientError;
use node::wire::api as w;

/// The bytes as text, invalid UTF-8 replaced (U+FFFD) as `from_utf8_lossy`
/// does. Keys and values are nearly always valid: the strict check, much
/// faster than the lossy scan, lets them through as they are.
pub fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(valid) => valid.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

pub fn kv(kv: &w::KeyValue) -> h::KeyValue {
    h::KeyValue {
        key: text(&kv.key),
        value: text(&kv.value),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        lease: kv.lease,
        ttl: kv.ttl,
    }
}

fn rev(header: &Option<w::ResponseHeader>) -> i64 {
    header.as_ref().map(|h| h.revision).unwrap_or(0)
}

pub fn range_request(r: &w::RangeRequest) -> h::RangeRequest {
    h::RangeRequest {
        key: text(&r.key),
        range_end: text(&r.range_end),
        limit: r.limit,
        revision: r.revision,
        keys_only: r.keys_only,
        count_only: r.count_only,
        serializable: r.serializable,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
        sort_order: match w::SortOrder::try_from(r.sort_order) {
            Ok(w::SortOrder::Ascend) => h::SortOrder::Ascend,
            Ok(w::SortOrder::Descend) => h::SortOrder::Descend,
            // The store reads an unknown order as none, as etcd does.
            _ => h::SortOrder::None,
        },
        sort_target: match w::SortTarget::try_from(r.sort_target) {
            Ok(w::SortTarget::Version) => h::SortTarget::Version,
            Ok(w::SortTarget::Create) => h::SortTarget::Create,
            Ok(w::SortTarget::Mod) => h::SortTarget::Mod,
            Ok(w::SortTarget::Value) => h::SortTarget::Value,
            _ => h::SortTarget::Key,
        },
    }
}

pub fn put_request(p: &w::PutRequest) -> h::PutRequest {
    h::PutRequest {
        key: text(&p.key),
        value: text(&p.value),
        lease: p.lease,
        prev_kv: p.prev_kv,
        ignore_value: p.ignore_value,
        ignore_lease: p.ignore_lease,
        ttl: p.ttl,
    }
}

pub fn delete_request(d: &w::DeleteRangeRequest) -> h::DeleteRangeRequest {
    h::DeleteRangeRequest {
        key: text(&d.key),
        range_end: text(&d.range_end),
        prev_kv: d.prev_kv,
    }
}

fn compare(c: &w::Compare) -> h::Compare {
    use w::compare::TargetUnion as U;
    let target = match c.target_union.clone() {
        Some(U::Value(v)) => h::CompareTarget::Value(text(&v)),
        Some(U::Version(v)) => h::CompareTarget::Version(v),
        Some(U::CreateRevision(v)) => h::CompareTarget::CreateRevision(v),
        Some(U::ModRevision(v)) => h::CompareTarget::ModRevision(v),
        Some(U::Lease(v)) => h::CompareTarget::Lease(v),
        None => h::CompareTarget::Version(0),
    };
    let result = match w::CompareResult::try_from(c.result).unwrap_or(w::CompareResult::Equal) {
        w::CompareResult::Equal => h::CompareResult::Equal,
        w::CompareResult::NotEqual => h::CompareResult::NotEqual,
        w::CompareResult::Greater => h::CompareResult::Greater,
        w::CompareResult::Less => h::CompareResult::Less,
    };
    h::Compare {
        key: text(&c.key),
        range_end: text(&c.range_end),
        target,
        result,
    }
}

fn txn_op(op: &w::RequestOp) -> Option<h::TxnOp> {
    Some(match op.request.as_ref()? {
        w::request_op::Request::Range(r) => h::TxnOp::Range(range_request(r)),
        w::request_op::Request::Put(p) => h::TxnOp::Put(put_request(p)),
        w::request_op::Request::DeleteRange(d) => h::TxnOp::DeleteRange(delete_request(d)),
        w::request_op::Request::Txn(t) => h::TxnOp::Txn(txn_request(t)),
    })
}

pub fn txn_request(t: &w::TxnRequest) -> h::TxnRequest {
    h::TxnRequest {
        compare: t.compare.iter().map(compare).collect(),
        success: t.success.iter().filter_map(txn_op).collect(),
        failure: t.failure.iter().filter_map(txn_op).collect(),
    }
}

/// The history form of a client request, for those the checker models.
pub fn request(body: &w::client_request::Body) -> Option<h::Request> {
    use w::client_request::Body as B;
    Some(match body {
        B::Range(r) => h::Request::Range(range_request(r)),
        B::Put(p) => h::Request::Put(put_request(p)),
        B::DeleteRange(d) => h::Request::DeleteRange(delete_request(d)),
        B::Txn(t) => h::Request::Txn(txn_request(t)),
        B::Compaction(c) => h::Request::Compact {
            revision: c.revision,
        },
        B::LeaseGrant(g) => h::Request::LeaseGrant {
            id: g.id,
            ttl: g.ttl,
        },
        B::LeaseRevoke(r) => h::Request::LeaseRevoke { id: r.id },
        B::LeaseKeepAlive(k) => h::Request::LeaseKeepAlive { id: k.id },
        B::LeaseTimeToLive(t) => h::Request::LeaseTimeToLive { id: t.id },
        _ => return None,
    })
}

fn range_response(r: &w::RangeResponse) -> h::RangeResponse {
    h::RangeResponse {
        header_revision: rev(&r.header),
        kvs: r.kvs.iter().map(kv).collect(),
        more: r.more,
        count: r.count,
    }
}

fn put_response(p: &w::PutResponse) -> h::PutResponse {
    h::PutResponse {
        header_revision: rev(&p.header),
        prev_kv: p.prev_kv.as_ref().map(kv),
    }
}

fn delete_response(d: &w::DeleteRangeResponse) -> h::DeleteRangeResponse {
    h::DeleteRangeResponse {
        header_revision: rev(&d.header),
        deleted: d.deleted,
        prev_kvs: d.prev_kvs.iter().map(kv).collect(),
    }
}

fn txn_response(t: &w::TxnResponse) -> h::TxnResponse {
    h::TxnResponse {
        header_revision: rev(&t.header),
        succeeded: t.succeeded,
        responses: t
            .responses
            .iter()
            .filter_map(|r| {
                Some(match r.response.as_ref()? {
                    w::response_op::Response::Range(r) => {
                        h::TxnOpResponse::Range(range_response(r))
                    }
                    w::response_op::Response::Put(p) => h::TxnOpResponse::Put(put_response(p)),
                    w::response_op::Response::DeleteRange(d) => {
                        h::TxnOpResponse::DeleteRange(delete_response(d))
                    }
                    w::response_op::Response::Txn(t) => h::TxnOpResponse::Txn(txn_response(t)),
                })
            })
            .collect(),
    }
}

/// The history form of a response (None for responses the checker does
/// not model, or that do not fit the request).
pub fn response(body: &w::client_response::Body) -> Option<h::Response> {
    use w::client_response::Body as B;
    Some(match body {
        B::Range(r) => h::Response::Range(range_response(r)),
        B::Put(p) => h::Response::Put(put_response(p)),
        B::DeleteRange(d) => h::Response::DeleteRange(delete_response(d)),
        B::Txn(t) => h::Response::Txn(txn_response(t)),
        B::Compaction(c) => h::Response::Compact(h::CompactResponse {
            header_revision: rev(&c.header),
        }),
        B::LeaseGrant(g) => h::Response::LeaseGrant(h::LeaseGrantResponse {
            header_revision: rev(&g.header),
            id: g.id,
            ttl: g.ttl,
        }),
        B::LeaseRevoke(r) => h::Response::LeaseRevoke(h::LeaseRevokeResponse {
            header_revision: rev(&r.header),
        }),
        B::LeaseKeepAlive(k) => h::Response::LeaseKeepAlive(h::LeaseKeepAliveResponse {
            header_revision: rev(&k.header),
            ttl: k.ttl,
        }),
        B::LeaseTimeToLive(t) => h::Response::LeaseTimeToLive(h::LeaseTimeToLiveResponse {
            header_revision: rev(&t.header),
            ttl: t.ttl,
            keys: t.keys.iter().map(|k| text(k)).collect(),
            granted_ttl: t.granted_ttl,
        }),
        _ => return None,
    })
}

/// What a request's result means for the history.
pub fn outcome(result: &Result<w::client_response::Body, ClientError>) -> h::OpResult {
    match result {
        // etcd answers a keep-alive of an unknown lease with TTL 0, and its
        // client library reports that as ErrLeaseNotFound (KeepAliveOnce).
        Ok(w::client_response::Body::LeaseKeepAlive(k)) if k.ttl <= 0 => {
            h::OpResult::Fail(h::EtcdError::LeaseNotFound)
        }
        Ok(body) => match response(body) {
            Some(r) => h::OpResult::Ok(r),
            None => h::OpResult::Unknown("response of an unexpected kind".into()),
        },
        Err(e) => failure(e),
    }
}

/// What a client error means for the history: certainly not applied, or
/// unknown.
pub fn failure(err: &ClientError) -> h::OpResult {
    if err.outcome_unknown() {
        return h::OpResult::Unknown(err.to_string());
    }
    match err {
        ClientError::Server {
            code,
            message,
            compact_revision,
            ..
        } => h::OpResult::Fail(match code {
            w::ErrorCode::Compacted => h::EtcdError::Compacted {
                compact_revision: *compact_revision,
            },
            w::ErrorCode::FutureRevision => h::EtcdError::FutureRevision,
            w::ErrorCode::LeaseNotFound => h::EtcdError::LeaseNotFound,
            w::ErrorCode::NoSpace => h::EtcdError::NoSpace,
            w::ErrorCode::InvalidArgument => match h::Invalid::from_message(message) {
                Some(invalid) => h::EtcdError::Invalid(invalid),
                None => h::EtcdError::Other(err.to_string()),
            },
            _ => h::EtcdError::Other(err.to_string()),
        }),
        _ => h::OpResult::Fail(h::EtcdError::Other(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_replaces_invalid_utf8_as_the_lossy_conversion_does() {
        let cases: [&[u8]; 5] = [
            b"",
            b"/registry/pods/a",
            "é✓".as_bytes(),
            b"a\xffb",
            b"\xe2\x82",
        ];
        for bytes in cases {
            assert_eq!(text(bytes), String::from_utf8_lossy(bytes), "{bytes:?}");
        }
        assert_eq!(text(b"a\xffb"), "a\u{fffd}b");
    }
}
