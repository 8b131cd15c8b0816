//! One-line descriptions of etcd answers for violation messages. Requests
//! and key-values print as everywhere else ([`crate::history::describe`]).

use crate::history::describe::key_value;
use crate::history::{EtcdError, KeyValue, Response, TxnOpResponse};

fn kvs_text(kvs: &[KeyValue]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = kvs.iter().take(SHOWN).map(key_value).collect();
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
                    Some(kv) => format!("ok, previous {}", key_value(kv)),
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
    use crate::history::describe::request;
    use crate::history::{PutRequest, PutResponse, Request};

    #[test]
    fn describes_requests_and_answers() {
        let put = Request::Put(PutRequest {
            key: "a".into(),
            value: "1".into(),
            ..Default::default()
        });
        assert_eq!(request(&put), "put a=1");
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
