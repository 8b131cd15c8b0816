//! How large a request can be once etcd encodes it for raft, from above.
//!
//! etcd refuses a write whose InternalRaftRequest, marshalled, is over
//! `--max-request-bytes` ("etcdserver: request is too large"), before it
//! is proposed. The exact size depends on fields a history does not
//! record (the request id in the header, the auth fields), so the checker
//! bounds it from above: a refusal is justified when the bound is over the
//! limit. The bound is a payload's bytes plus a generous per-field and
//! per-message allowance for protobuf tags, lengths and scalar fields, so
//! it never falls below what any store's encoding could reach; the slack
//! it leaves (a few hundred bytes on a 1.5 MiB limit) only lets a store
//! refuse a request that is a hair under the limit.

use crate::history::{
    Compare, CompareTarget, PutRequest, RangeRequest, Request, TxnOp, TxnRequest,
};

/// A length-delimited field: its bytes, a tag (at most 2 bytes for the
/// field numbers etcd's requests use) and a length varint (at most 10).
const FIELD: usize = 12;
/// A message's own scalar fields (leases, revisions, flags: at most 11
/// bytes each, at most 8 of them) besides its strings.
const SCALARS: usize = 8 * 11;
/// The InternalRaftRequest around a request: its header (id, member or
/// auth fields) and the field that holds the request.
const ENVELOPE: usize = 256;

/// At least as many bytes as `request` takes encoded for raft, or None for
/// a request etcd never proposes through raft (reads, lease keep-alives).
pub fn encoded_size_bound(request: &Request) -> Option<usize> {
    let body = match request {
        Request::Put(p) => put(p),
        Request::DeleteRange(d) => message(&[&d.key, &d.range_end]),
        Request::Txn(t) => txn(t),
        Request::Compact { .. } | Request::LeaseGrant { .. } | Request::LeaseRevoke { .. } => {
            message(&[])
        }
        Request::Range(_) | Request::LeaseKeepAlive { .. } | Request::LeaseTimeToLive { .. } => {
            return None;
        }
    };
    Some(ENVELOPE.saturating_add(body))
}

/// A message of these strings and some scalars, as a field of its parent.
fn message(strings: &[&str]) -> usize {
    strings
        .iter()
        .fold(FIELD + SCALARS, |n, s| n.saturating_add(FIELD + s.len()))
}

fn put(p: &PutRequest) -> usize {
    message(&[&p.key, &p.value])
}

fn range(r: &RangeRequest) -> usize {
    message(&[&r.key, &r.range_end])
}

fn compare(c: &Compare) -> usize {
    let value = match &c.target {
        CompareTarget::Value(v) => v.as_str(),
        _ => "",
    };
    message(&[&c.key, &c.range_end, value])
}

fn txn(t: &TxnRequest) -> usize {
    let ops = t.success.iter().chain(&t.failure).map(|op| {
        // Each operation is wrapped in a RequestOp.
        FIELD.saturating_add(match op {
            TxnOp::Range(r) => range(r),
            TxnOp::Put(p) => put(p),
            TxnOp::DeleteRange(d) => message(&[&d.key, &d.range_end]),
            TxnOp::Txn(inner) => txn(inner),
        })
    });
    t.compare
        .iter()
        .map(compare)
        .chain(ops)
        .fold(message(&[]), usize::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::CompareResult;
    use prost::Message as _;

    /// etcd's own messages, as far as the bound needs them: the bound
    /// must never be below what protobuf encodes.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Put {
        #[prost(bytes, tag = "1")]
        key: Vec<u8>,
        #[prost(bytes, tag = "2")]
        value: Vec<u8>,
        #[prost(int64, tag = "3")]
        lease: i64,
        #[prost(bool, tag = "4")]
        prev_kv: bool,
        #[prost(bool, tag = "5")]
        ignore_value: bool,
        #[prost(bool, tag = "6")]
        ignore_lease: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Header {
        #[prost(uint64, tag = "1")]
        id: u64,
        #[prost(string, tag = "2")]
        username: String,
        #[prost(uint64, tag = "3")]
        auth_revision: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Internal {
        #[prost(message, optional, tag = "100")]
        header: Option<Header>,
        #[prost(uint64, tag = "1")]
        id: u64,
        #[prost(message, optional, tag = "4")]
        put: Option<Put>,
    }

    fn put_request(key: &str, value: &str) -> PutRequest {
        PutRequest {
            key: key.into(),
            value: value.into(),
            lease: i64::MAX,
            prev_kv: true,
            ignore_value: true,
            ignore_lease: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_bound_is_never_below_etcds_encoding_and_close_above_it() {
        for len in [0usize, 1, 127, 128, 16_383, 16_384, 1_600_000] {
            let p = put_request(
                "/registry/pods/default/a-fairly-long-name",
                &"x".repeat(len),
            );
            let encoded = Internal {
                header: Some(Header {
                    id: u64::MAX,
                    username: "a-user-name".into(),
                    auth_revision: u64::MAX,
                }),
                id: u64::MAX,
                put: Some(Put {
                    key: p.key.clone().into_bytes(),
                    value: p.value.clone().into_bytes(),
                    lease: p.lease,
                    prev_kv: true,
                    ignore_value: true,
                    ignore_lease: true,
                }),
            }
            .encoded_len();
            let bound = encoded_size_bound(&Request::Put(p)).unwrap();
            assert!(
                bound >= encoded,
                "value of {len} bytes: bound {bound} < {encoded}"
            );
            assert!(
                bound - encoded < 512,
                "value of {len} bytes: bound {bound}, {encoded}"
            );
        }
    }

    #[test]
    fn a_txn_counts_every_compare_and_operation_nested_ones_too() {
        let big = "x".repeat(1000);
        let inner = TxnRequest {
            compare: vec![],
            success: vec![TxnOp::Put(put_request("k", &big))],
            failure: vec![],
        };
        let outer = TxnRequest {
            compare: vec![Compare {
                key: "k".into(),
                range_end: String::new(),
                target: CompareTarget::Value(big.clone()),
                result: CompareResult::Equal,
            }],
            success: vec![TxnOp::Txn(inner)],
            failure: vec![TxnOp::Put(put_request("j", &big))],
        };
        let bound = encoded_size_bound(&Request::Txn(outer)).unwrap();
        assert!(bound > 3000, "{bound}");
        assert!(bound < 4000, "{bound}");
    }

    #[test]
    fn reads_are_not_proposed() {
        let read = Request::Range(RangeRequest {
            key: "x".repeat(2_000_000),
            ..Default::default()
        });
        assert_eq!(encoded_size_bound(&read), None);
    }
}
