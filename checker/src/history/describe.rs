//! Short human text for history items: requests, key-values, results,
//! watch events. The one way a request prints, in a run's trace, in
//! violation explanations and in the HTML report. Long values are shortened
//! and control characters escaped, so the text is safe to show on one line.

use super::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, EtcdError, Event, EventKind,
    KeyValue, OpResult, PutRequest, RangeRequest, Request, Response, TxnOp, TxnOpResponse,
    TxnRequest, WatchRequest, prefix_end,
};

/// Longest value shown in full.
const VALUE_CHARS: usize = 24;
/// Longest key shown in full.
const KEY_CHARS: usize = 64;
/// Key-values listed per range response.
const KVS_SHOWN: usize = 4;

/// A key with control characters escaped, shortened when very long.
pub fn key(k: &str) -> String {
    shorten(&escape_start(k, KEY_CHARS + 1), KEY_CHARS)
}

/// A value with control characters escaped, shortened to a few characters.
pub fn value(v: &str) -> String {
    let text = escape_start(v, VALUE_CHARS + 1);
    if text.chars().count() <= VALUE_CHARS {
        text
    } else {
        format!(
            "{}…({} bytes)",
            text.chars().take(VALUE_CHARS).collect::<String>(),
            v.len()
        )
    }
}

fn escape(s: &str) -> String {
    escape_start(s, usize::MAX)
}

/// The first `chars` characters of `s`, escaped. Shortening to `max`
/// characters needs no more than the first `max + 1`: each escapes to at
/// least one. Values run to kilobytes (Kubernetes objects); the trace
/// describes every operation.
fn escape_start(s: &str, chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(chars.saturating_mul(2)));
    for c in s.chars().take(chars) {
        match c {
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// A key span in etcd's `range_end` conventions: `/a`, `/a/*` (prefix),
/// `/a..` (every key from), `[/a, /b)`.
pub fn span(k: &str, range_end: &str) -> String {
    match range_end {
        "" => key(k),
        "\0" => format!("{}..", key(k)),
        end if !k.is_empty() && end == prefix_end(k) => format!("{}*", key(k)),
        end => format!("[{}, {})", key(k), key(end)),
    }
}

/// One request, e.g. `put /a=1 lease=5`, `range /pods/* rev=7 serializable`.
pub fn request(r: &Request) -> String {
    match r {
        Request::Range(r) => range(r),
        Request::Put(p) => put(p),
        Request::DeleteRange(d) => delete(d),
        Request::Txn(t) => txn(t),
        Request::Compact { revision } => format!("compact {revision}"),
        Request::LeaseGrant { id, ttl } => format!("lease-grant id={id} ttl={ttl}s"),
        Request::LeaseRevoke { id } => format!("lease-revoke id={id}"),
        Request::LeaseKeepAlive { id } => format!("lease-keepalive id={id}"),
        Request::LeaseTimeToLive { id } => format!("lease-ttl id={id}"),
    }
}

fn range(r: &RangeRequest) -> String {
    let mut text = format!("range {}", span(&r.key, &r.range_end));
    let flags = [
        (r.revision != 0).then(|| format!("rev={}", r.revision)),
        (r.limit != 0).then(|| format!("limit={}", r.limit)),
        r.keys_only.then(|| "keys-only".to_string()),
        r.count_only.then(|| "count-only".to_string()),
        r.serializable.then(|| "serializable".to_string()),
    ];
    for flag in flags.into_iter().flatten() {
        text.push(' ');
        text.push_str(&flag);
    }
    text
}

fn put(p: &PutRequest) -> String {
    let mut text = format!("put {}={}", key(&p.key), value(&p.value));
    if p.lease != 0 {
        text.push_str(&format!(" lease={}", p.lease));
    }
    if p.ttl != 0 {
        text.push_str(&format!(" ttl={}s", p.ttl));
    }
    if p.prev_kv {
        text.push_str(" prev-kv");
    }
    text
}

fn delete(d: &DeleteRangeRequest) -> String {
    let mut text = format!("delete {}", span(&d.key, &d.range_end));
    if d.prev_kv {
        text.push_str(" prev-kv");
    }
    text
}

fn txn(t: &TxnRequest) -> String {
    let compares: Vec<String> = t.compare.iter().map(compare).collect();
    let branch = |ops: &[TxnOp]| ops.iter().map(txn_op).collect::<Vec<_>>().join("; ");
    format!(
        "txn if [{}] then [{}] else [{}]",
        compares.join(" && "),
        branch(&t.success),
        branch(&t.failure)
    )
}

/// A transaction's operation prints as the request it stands for (by
/// reference: a put's value may be kilobytes).
fn txn_op(op: &TxnOp) -> String {
    match op {
        TxnOp::Range(r) => range(r),
        TxnOp::Put(p) => put(p),
        TxnOp::DeleteRange(d) => delete(d),
        TxnOp::Txn(t) => txn(t),
    }
}

fn compare(c: &Compare) -> String {
    let (target, operand) = match &c.target {
        CompareTarget::Value(v) => ("value", value(v)),
        CompareTarget::Version(n) => ("version", n.to_string()),
        CompareTarget::CreateRevision(n) => ("create_revision", n.to_string()),
        CompareTarget::ModRevision(n) => ("mod_revision", n.to_string()),
        CompareTarget::Lease(n) => ("lease", n.to_string()),
    };
    let op = match c.result {
        CompareResult::Equal => "=",
        CompareResult::NotEqual => "!=",
        CompareResult::Greater => ">",
        CompareResult::Less => "<",
    };
    format!("{target}({}) {op} {operand}", span(&c.key, &c.range_end))
}

/// A stored key-value: `/a=1@5` (value at mod revision), `v2` when version > 1.
pub fn key_value(kv: &KeyValue) -> String {
    let mut text = format!("{}={}@{}", key(&kv.key), value(&kv.value), kv.mod_revision);
    if kv.version > 1 {
        text.push_str(&format!(" v{}", kv.version));
    }
    if kv.lease != 0 {
        text.push_str(&format!(" lease={}", kv.lease));
    }
    text
}

fn kvs(list: &[KeyValue]) -> String {
    let mut shown: Vec<String> = list.iter().take(KVS_SHOWN).map(key_value).collect();
    if list.len() > KVS_SHOWN {
        shown.push(format!("+{} more", list.len() - KVS_SHOWN));
    }
    format!("[{}]", shown.join(", "))
}

/// What came back: `ok rev=7 count=1 [/a=1@5]`, `fail: compacted at 4`, `unknown: timeout`.
pub fn result(r: &OpResult) -> String {
    match r {
        OpResult::Ok(resp) => answer(Ok(resp)),
        OpResult::Fail(e) => answer(Err(e)),
        OpResult::Unknown(reason) => format!("unknown: {}", shorten(&escape(reason), 120)),
    }
}

/// A definite answer: `ok rev=7 count=1 [/a=1@5]` or `fail: compacted ...`,
/// as [`result`] prints it.
pub fn answer(a: Result<&Response, &EtcdError>) -> String {
    match a {
        Ok(resp) => format!("ok {}", response(resp)),
        Err(e) => format!("fail: {}", error(e)),
    }
}

/// A definite refusal: `compacted (compact revision 4)`, `lease not found`.
pub fn error(e: &EtcdError) -> String {
    match e {
        EtcdError::Compacted { compact_revision } => {
            format!("compacted (compact revision {compact_revision})")
        }
        EtcdError::FutureRevision => "future revision".to_string(),
        EtcdError::LeaseNotFound => "lease not found".to_string(),
        EtcdError::Invalid(invalid) => invalid.message().to_string(),
        EtcdError::NoSpace => EtcdError::NO_SPACE.to_string(),
        EtcdError::Other(text) => shorten(&escape(text), 120),
    }
}

/// A response without its outcome word.
pub fn response(r: &Response) -> String {
    let rev = r.header_revision();
    match r {
        Response::Range(r) => format!(
            "rev={rev} count={}{} {}",
            r.count,
            if r.more { " more" } else { "" },
            kvs(&r.kvs)
        ),
        Response::Put(p) => match &p.prev_kv {
            Some(prev) => format!("rev={rev} prev={}", key_value(prev)),
            None => format!("rev={rev}"),
        },
        Response::DeleteRange(d) => format!("rev={rev} deleted={}", d.deleted),
        Response::Txn(t) => format!(
            "rev={rev} {} [{}]",
            if t.succeeded { "then" } else { "else" },
            t.responses
                .iter()
                .map(txn_op_response)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Response::Compact(_) | Response::LeaseRevoke(_) => format!("rev={rev}"),
        Response::LeaseGrant(g) => format!("rev={rev} id={} ttl={}s", g.id, g.ttl),
        Response::LeaseKeepAlive(k) => format!("ttl={}s", k.ttl),
        Response::LeaseTimeToLive(t) => format!("ttl={}s keys={}", t.ttl, t.keys.len()),
    }
}

fn txn_op_response(r: &TxnOpResponse) -> String {
    match r {
        TxnOpResponse::Range(r) => format!("range {}", kvs(&r.kvs)),
        TxnOpResponse::Put(_) => "put".to_string(),
        TxnOpResponse::DeleteRange(d) => format!("delete {}", d.deleted),
        TxnOpResponse::Txn(t) => format!("txn {}", if t.succeeded { "then" } else { "else" }),
    }
}

/// A watch event: `put /a=1@5 (create)`, `delete /a@6`.
pub fn event(e: &Event) -> String {
    match e.kind {
        EventKind::Put => {
            let mut text = format!("put {}", key_value(&e.kv));
            if e.is_create() {
                text.push_str(" (create)");
            }
            if let Some(prev) = &e.prev_kv {
                text.push_str(&format!(" prev={}", key_value(prev)));
            }
            text
        }
        EventKind::Delete => {
            let mut text = format!("delete {}@{}", key(&e.kv.key), e.kv.mod_revision);
            if let Some(prev) = &e.prev_kv {
                text.push_str(&format!(" prev={}", key_value(prev)));
            }
            text
        }
    }
}

/// A watch request: `watch /pods/* from rev 5 prev-kv progress`.
pub fn watch_request(w: &WatchRequest) -> String {
    let mut text = format!("watch {}", span(&w.key, &w.range_end));
    if w.start_revision > 0 {
        text.push_str(&format!(" from rev {}", w.start_revision));
    } else {
        text.push_str(" from now");
    }
    let flags = [
        (w.prev_kv, "prev-kv"),
        (w.progress_notify, "progress"),
        (w.filter_put, "no-puts"),
        (w.filter_delete, "no-deletes"),
    ];
    for (on, name) in flags {
        if on {
            text.push(' ');
            text.push_str(name);
        }
    }
    text
}

/// The key (span) a request is about: for a transaction its first compare's
/// key, else its first branch operation's.
pub fn request_key(r: &Request) -> String {
    match r {
        Request::Range(r) => span(&r.key, &r.range_end),
        Request::Put(p) => key(&p.key),
        Request::DeleteRange(d) => span(&d.key, &d.range_end),
        Request::Txn(t) => t
            .compare
            .first()
            .map(|c| span(&c.key, &c.range_end))
            .or_else(|| t.success.first().or(t.failure.first()).map(txn_op_key))
            .unwrap_or_default(),
        Request::Compact { revision } => format!("rev {revision}"),
        Request::LeaseGrant { id, .. }
        | Request::LeaseRevoke { id }
        | Request::LeaseKeepAlive { id }
        | Request::LeaseTimeToLive { id } => format!("lease {id}"),
    }
}

fn txn_op_key(op: &TxnOp) -> String {
    match op {
        TxnOp::Range(r) => span(&r.key, &r.range_end),
        TxnOp::Put(p) => key(&p.key),
        TxnOp::DeleteRange(d) => span(&d.key, &d.range_end),
        TxnOp::Txn(t) => request_key(&Request::Txn(t.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::PutResponse;

    #[test]
    fn answers_print_as_results_do() {
        let put = Response::Put(PutResponse {
            header_revision: 4,
            prev_kv: None,
        });
        assert_eq!(answer(Ok(&put)), "ok rev=4");
        assert_eq!(
            answer(Ok(&put)),
            result(&OpResult::Ok(put.clone())),
            "an answer and a recorded result print alike"
        );
        assert_eq!(
            answer(Err(&EtcdError::FutureRevision)),
            "fail: future revision"
        );
    }

    #[test]
    fn spans_follow_range_end_conventions() {
        assert_eq!(span("/a", ""), "/a");
        assert_eq!(span("/a", "\0"), "/a..");
        assert_eq!(span("/pods/", "/pods0"), "/pods/*");
        assert_eq!(span("/a", "/c"), "[/a, /c)");
        assert_eq!(key("x\0y"), "x\\0y");
    }

    #[test]
    fn keys_and_values_print_as_their_whole_escaped_text_shortened() {
        // What key() and value() print, from the whole escaped text.
        let whole_key = |k: &str| shorten(&escape(k), KEY_CHARS);
        let whole_value = |v: &str| {
            let text = escape(v);
            if text.chars().count() <= VALUE_CHARS {
                text
            } else {
                let start: String = text.chars().take(VALUE_CHARS).collect();
                format!("{start}…({} bytes)", v.len())
            }
        };
        for n in 0..80 {
            for filler in ["v", "é", "\n", "\0", "\u{7f}"] {
                for tail in ["", "\t", "ü"] {
                    let s = format!("{}{tail}", filler.repeat(n));
                    assert_eq!(key(&s), whole_key(&s), "key {s:?}");
                    assert_eq!(value(&s), whole_value(&s), "value {s:?}");
                }
            }
        }
    }

    #[test]
    fn transaction_operations_print_as_their_requests() {
        let put = PutRequest {
            key: "/k".into(),
            value: "1".into(),
            lease: 3,
            ..Default::default()
        };
        let text = request(&Request::Txn(TxnRequest {
            compare: vec![],
            success: vec![TxnOp::Put(put.clone())],
            failure: vec![],
        }));
        assert_eq!(
            text,
            format!("txn if [] then [{}] else []", request(&Request::Put(put)))
        );
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "v".repeat(100);
        let text = request(&Request::Put(PutRequest {
            key: "/k".into(),
            value: long,
            ..Default::default()
        }));
        assert!(text.contains("…(100 bytes)"), "{text}");
        assert!(text.len() < 60, "{text}");
        let range = request(&Request::Range(RangeRequest {
            key: "/k".into(),
            serializable: true,
            revision: 4,
            ..Default::default()
        }));
        assert_eq!(range, "range /k rev=4 serializable");
    }
}
