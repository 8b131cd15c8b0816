//! One-line descriptions of etcd requests and answers for violation messages.

use std::fmt::Write;

use crate::history::{
    CompareResult, CompareTarget, EtcdError, KeyValue, Request, Response, TxnOp, TxnOpResponse,
};
use crate::models::abbreviate;

pub fn describe_request(req: &Request) -> String {
    match req {
        Request::Range(r) => {
            let mut s = format!("range {}", span_text(&r.key, &r.range_end));
            if r.revision > 0 {
                let _ = write!(s, " at revision {}", r.revision);
            }
            if r.limit > 0 {
                let _ = write!(s, " limit {}", r.limit);
            }
            if r.count_only {
                s.push_str(" count-only");
            } else if r.keys_only {
                s.push_str(" keys-only");
            }
            if r.serializable {
                s.push_str(" serializable");
            }
            s
        }
        Request::Put(p) => {
            let mut s = format!("put {:?}={}", p.key, abbreviate(&p.value));
            if p.lease != 0 {
                let _ = write!(s, " lease {}", p.lease);
            }
            s
        }
        Request::DeleteRange(d) => format!("delete {}", span_text(&d.key, &d.range_end)),
        Request::Txn(t) => {
            let compares: Vec<String> = t
                .compare
                .iter()
                .map(|c| {
                    let (field, value) = match &c.target {
                        CompareTarget::Value(v) => ("value", abbreviate(v)),
                        CompareTarget::Version(v) => ("version", v.to_string()),
                        CompareTarget::CreateRevision(v) => ("create_revision", v.to_string()),
                        CompareTarget::ModRevision(v) => ("mod_revision", v.to_string()),
                        CompareTarget::Lease(v) => ("lease", v.to_string()),
                    };
                    let op = match c.result {
                        CompareResult::Equal => "==",
                        CompareResult::NotEqual => "!=",
                        CompareResult::Greater => ">",
                        CompareResult::Less => "<",
                    };
                    format!("{field}({:?}) {op} {value}", c.key)
                })
                .collect();
            format!(
                "txn if [{}] then [{}] else [{}]",
                compares.join(", "),
                ops_text(&t.success),
                ops_text(&t.failure)
            )
        }
        Request::Compact { revision } => format!("compact {revision}"),
        Request::LeaseGrant { id, ttl } => format!("lease-grant {id} ttl {ttl}"),
        Request::LeaseRevoke { id } => format!("lease-revoke {id}"),
        Request::LeaseKeepAlive { id } => format!("lease-keepalive {id}"),
        Request::LeaseTimeToLive { id } => format!("lease-ttl {id}"),
    }
}

fn span_text(key: &str, range_end: &str) -> String {
    match range_end {
        "" => format!("{key:?}"),
        "\0" => format!("{key:?}.."),
        end => format!("[{key:?}, {end:?})"),
    }
}

fn ops_text(ops: &[TxnOp]) -> String {
    ops.iter()
        .map(|op| match op {
            TxnOp::Range(r) => format!("range {}", span_text(&r.key, &r.range_end)),
            TxnOp::Put(p) => format!("put {:?}={}", p.key, abbreviate(&p.value)),
            TxnOp::DeleteRange(d) => format!("delete {}", span_text(&d.key, &d.range_end)),
            TxnOp::Txn(_) => "txn".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn describe_kv(kv: &KeyValue) -> String {
    format!(
        "{:?}={}@{} (version {}{})",
        kv.key,
        abbreviate(&kv.value),
        kv.mod_revision,
        kv.version,
        if kv.lease != 0 {
            format!(", lease {}", kv.lease)
        } else {
            String::new()
        }
    )
}

fn kvs_text(kvs: &[KeyValue]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = kvs.iter().take(SHOWN).map(describe_kv).collect();
    if kvs.len() > SHOWN {
        parts.push(format!("… {} more", kvs.len() - SHOWN));
    }
    format!("[{}]", parts.join(", "))
}

/// Describes an answer as the engine holds it (borrowed).
pub fn describe_answer(answer: &Result<&Response, &EtcdError>) -> String {
    match answer {
        Ok(r) => describe_result(&Ok((*r).clone())),
        Err(e) => describe_error(e),
    }
}

pub fn describe_result(result: &Result<Response, EtcdError>) -> String {
    match result {
        Err(e) => describe_error(e),
        Ok(resp) => {
            let body = match resp {
                Response::Range(r) => {
                    let mut s = format!("{} of {} keys {}", r.kvs.len(), r.count, kvs_text(&r.kvs));
                    if r.more {
                        s.push_str(" (more)");
                    }
                    s
                }
                Response::Put(p) => match &p.prev_kv {
                    Some(kv) => format!("ok, previous {}", describe_kv(kv)),
                    None => "ok".to_string(),
                },
                Response::DeleteRange(d) => format!("deleted {}", d.deleted),
                Response::Txn(t) => format!(
                    "{} [{}]",
                    if t.succeeded { "succeeded" } else { "failed" },
                    t.responses
                        .iter()
                        .map(sub_response_text)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Response::Compact(_) => "ok".to_string(),
                Response::LeaseGrant(g) => format!("granted {} ttl {}", g.id, g.ttl),
                Response::LeaseRevoke(_) => "revoked".to_string(),
                Response::LeaseKeepAlive(k) => format!("ttl {}", k.ttl),
                Response::LeaseTimeToLive(t) => format!("ttl {} keys {:?}", t.ttl, t.keys),
            };
            if resp.header_revision() != 0 {
                format!("{body} at revision {}", resp.header_revision())
            } else {
                body
            }
        }
    }
}

fn sub_response_text(r: &TxnOpResponse) -> String {
    match r {
        TxnOpResponse::Range(r) => format!("{} keys {}", r.count, kvs_text(&r.kvs)),
        TxnOpResponse::Put(_) => "put ok".to_string(),
        TxnOpResponse::DeleteRange(d) => format!("deleted {}", d.deleted),
        TxnOpResponse::Txn(t) => {
            format!("txn {}", if t.succeeded { "succeeded" } else { "failed" })
        }
    }
}

pub fn describe_error(e: &EtcdError) -> String {
    match e {
        EtcdError::Compacted { compact_revision } if *compact_revision > 0 => {
            format!("error: compacted (compact revision {compact_revision})")
        }
        EtcdError::Compacted { .. } => "error: compacted".to_string(),
        EtcdError::FutureRevision => "error: future revision".to_string(),
        EtcdError::LeaseNotFound => "error: lease not found".to_string(),
        EtcdError::Other(m) => format!("error: {m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{PutRequest, PutResponse};

    #[test]
    fn describes_requests_and_answers() {
        let put = Request::Put(PutRequest {
            key: "a".into(),
            value: "1".into(),
            ..Default::default()
        });
        assert_eq!(describe_request(&put), "put \"a\"=\"1\"");
        let ok = Ok(Response::Put(PutResponse {
            header_revision: 4,
            prev_kv: None,
        }));
        assert_eq!(describe_result(&ok), "ok at revision 4");
        assert_eq!(
            describe_result(&Err(EtcdError::FutureRevision)),
            "error: future revision"
        );
    }
}
