//! Short human text for history items: requests, key-values, results,
//! watch events. The one way a request prints, in a run's trace, in
//! violation explanations and in the HTML report. Long values are shortened
//! and control characters escaped, so the text is safe to show on one line.

use super::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, EtcdError, Event, EventKind,
    KeyValue, OpResult, PutRequest, RangeRequest, Request, Response, TxnOp, TxnOpResponse,
    TxnRequest, WatchRequest, prefix_end,
};

use std::fmt::Write as _;

/// Longest value shown in full.
const VALUE_CHARS: usize = 24;
/// Longest key shown in full.
const KEY_CHARS: usize = 64;
/// Key-values listed per range response.
const KVS_SHOWN: usize = 4;
/// Longest reason or error text shown in full.
const REASON_CHARS: usize = 120;

// Every text is appended to one `String` by a `push_*` function (the
// functions returning a `String` wrap them): the trace describes every
// operation of a run, and building each part as a string of its own only to
// copy it into the next cost more than the rest of describing.

/// A key with control characters escaped, shortened when very long.
pub fn key(k: &str) -> String {
    to_string(|out| push_key(out, k))
}

/// A value with control characters escaped, shortened to a few characters.
pub fn value(v: &str) -> String {
    to_string(|out| push_value(out, v))
}

fn to_string(push: impl FnOnce(&mut String)) -> String {
    let mut out = String::new();
    push(&mut out);
    out
}

fn push_key(out: &mut String, k: &str) {
    let from = out.len();
    push_escaped(out, k, KEY_CHARS + 1);
    if cut_to(out, from, KEY_CHARS) {
        out.push('…');
    }
}

fn push_value(out: &mut String, v: &str) {
    let from = out.len();
    push_escaped(out, v, VALUE_CHARS + 1);
    if cut_to(out, from, VALUE_CHARS) {
        let _ = write!(out, "…({} bytes)", v.len());
    }
}

/// Appends the first `chars` characters of `s`, escaped. Shortening to
/// `max` characters needs no more than the first `max + 1`: each escapes to
/// at least one. Values run to kilobytes (Kubernetes objects); the trace
/// describes every operation.
fn push_escaped(out: &mut String, s: &str, chars: usize) {
    for c in s.chars().take(chars) {
        match c {
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Cuts the text `out` holds from byte `from` on to its first `max`
/// characters; whether there was more.
fn cut_to(out: &mut String, from: usize, max: usize) -> bool {
    match out[from..].char_indices().nth(max) {
        Some((at, _)) => {
            out.truncate(from + at);
            true
        }
        None => false,
    }
}

/// A reason or error text, escaped and shortened.
fn push_reason(out: &mut String, text: &str) {
    let from = out.len();
    push_escaped(out, text, usize::MAX);
    if cut_to(out, from, REASON_CHARS) {
        out.push('…');
    }
}

/// A key span in etcd's `range_end` conventions: `/a`, `/a/*` (prefix),
/// `/a..` (every key from), `[/a, /b)`.
pub fn span(k: &str, range_end: &str) -> String {
    to_string(|out| push_span(out, k, range_end))
}

fn push_span(out: &mut String, k: &str, range_end: &str) {
    match range_end {
        "" => push_key(out, k),
        "\0" => {
            push_key(out, k);
            out.push_str("..");
        }
        end if !k.is_empty() && end == prefix_end(k) => {
            push_key(out, k);
            out.push('*');
        }
        end => {
            out.push('[');
            push_key(out, k);
            out.push_str(", ");
            push_key(out, end);
            out.push(')');
        }
    }
}

/// One request, e.g. `put /a=1 lease=5`, `range /pods/* rev=7 serializable`.
pub fn request(r: &Request) -> String {
    to_string(|out| push_request(out, r))
}

/// [`request`], appended to `out`.
pub fn push_request(out: &mut String, r: &Request) {
    // Writing to a String cannot fail: the `fmt::Result`s are dropped.
    match r {
        Request::Range(r) => push_range(out, r),
        Request::Put(p) => push_put(out, p),
        Request::DeleteRange(d) => push_delete(out, d),
        Request::Txn(t) => push_txn(out, t),
        Request::Compact { revision } => {
            let _ = write!(out, "compact {revision}");
        }
        Request::LeaseGrant { id, ttl } => {
            let _ = write!(out, "lease-grant id={id} ttl={ttl}s");
        }
        Request::LeaseRevoke { id } => {
            let _ = write!(out, "lease-revoke id={id}");
        }
        Request::LeaseKeepAlive { id } => {
            let _ = write!(out, "lease-keepalive id={id}");
        }
        Request::LeaseTimeToLive { id } => {
            let _ = write!(out, "lease-ttl id={id}");
        }
    }
}

fn push_range(out: &mut String, r: &RangeRequest) {
    out.push_str("range ");
    push_span(out, &r.key, &r.range_end);
    if r.revision != 0 {
        let _ = write!(out, " rev={}", r.revision);
    }
    if r.limit != 0 {
        let _ = write!(out, " limit={}", r.limit);
    }
    let bounds = [
        ("min-mod", r.min_mod_revision),
        ("max-mod", r.max_mod_revision),
        ("min-create", r.min_create_revision),
        ("max-create", r.max_create_revision),
    ];
    for (name, bound) in bounds {
        if bound != 0 {
            let _ = write!(out, " {name}={bound}");
        }
    }
    if let Some((target, descending)) = r.ordering() {
        let order = if descending { "descend" } else { "ascend" };
        let _ = write!(out, " sort={}-{order}", target.name());
    }
    let flags = [
        (r.keys_only, " keys-only"),
        (r.count_only, " count-only"),
        (r.serializable, " serializable"),
    ];
    for (on, flag) in flags {
        if on {
            out.push_str(flag);
        }
    }
}

fn push_put(out: &mut String, p: &PutRequest) {
    out.push_str("put ");
    push_key(out, &p.key);
    out.push('=');
    push_value(out, &p.value);
    if p.lease != 0 {
        let _ = write!(out, " lease={}", p.lease);
    }
    if p.ttl != 0 {
        let _ = write!(out, " ttl={}s", p.ttl);
    }
    if p.prev_kv {
        out.push_str(" prev-kv");
    }
}

fn push_delete(out: &mut String, d: &DeleteRangeRequest) {
    out.push_str("delete ");
    push_span(out, &d.key, &d.range_end);
    if d.prev_kv {
        out.push_str(" prev-kv");
    }
}

/// Appends each item with `push`, `separator` between them.
fn push_joined<T>(
    out: &mut String,
    items: &[T],
    separator: &str,
    mut push: impl FnMut(&mut String, &T),
) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        push(out, item);
    }
}

fn push_txn(out: &mut String, t: &TxnRequest) {
    out.push_str("txn if [");
    push_joined(out, &t.compare, " && ", push_compare);
    out.push_str("] then [");
    push_joined(out, &t.success, "; ", push_txn_op);
    out.push_str("] else [");
    push_joined(out, &t.failure, "; ", push_txn_op);
    out.push(']');
}

/// A transaction's operation prints as the request it stands for (by
/// reference: a put's value may be kilobytes).
fn push_txn_op(out: &mut String, op: &TxnOp) {
    match op {
        TxnOp::Range(r) => push_range(out, r),
        TxnOp::Put(p) => push_put(out, p),
        TxnOp::DeleteRange(d) => push_delete(out, d),
        TxnOp::Txn(t) => push_txn(out, t),
    }
}

fn push_compare(out: &mut String, c: &Compare) {
    let target = match &c.target {
        CompareTarget::Value(_) => "value",
        CompareTarget::Version(_) => "version",
        CompareTarget::CreateRevision(_) => "create_revision",
        CompareTarget::ModRevision(_) => "mod_revision",
        CompareTarget::Lease(_) => "lease",
    };
    let op = match c.result {
        CompareResult::Equal => "=",
        CompareResult::NotEqual => "!=",
        CompareResult::Greater => ">",
        CompareResult::Less => "<",
    };
    out.push_str(target);
    out.push('(');
    push_span(out, &c.key, &c.range_end);
    let _ = write!(out, ") {op} ");
    match &c.target {
        CompareTarget::Value(v) => push_value(out, v),
        CompareTarget::Version(n)
        | CompareTarget::CreateRevision(n)
        | CompareTarget::ModRevision(n)
        | CompareTarget::Lease(n) => {
            let _ = write!(out, "{n}");
        }
    }
}

/// A stored key-value: `/a=1@5` (value at mod revision), `v2` when version > 1,
/// its lease and per-key TTL when it has them.
pub fn key_value(kv: &KeyValue) -> String {
    to_string(|out| push_key_value(out, kv))
}

fn push_key_value(out: &mut String, kv: &KeyValue) {
    push_key(out, &kv.key);
    out.push('=');
    push_value(out, &kv.value);
    let _ = write!(out, "@{}", kv.mod_revision);
    if kv.version > 1 {
        let _ = write!(out, " v{}", kv.version);
    }
    if kv.lease != 0 {
        let _ = write!(out, " lease={}", kv.lease);
    }
    if kv.ttl != 0 {
        let _ = write!(out, " ttl={}s", kv.ttl);
    }
}

fn push_kvs(out: &mut String, list: &[KeyValue]) {
    out.push('[');
    push_joined(out, &list[..list.len().min(KVS_SHOWN)], ", ", |out, kv| {
        push_key_value(out, kv)
    });
    if list.len() > KVS_SHOWN {
        let _ = write!(out, ", +{} more", list.len() - KVS_SHOWN);
    }
    out.push(']');
}

/// What came back: `ok rev=7 count=1 [/a=1@5]`, `fail: compacted at 4`, `unknown: timeout`.
pub fn result(r: &OpResult) -> String {
    to_string(|out| push_result(out, r))
}

/// [`result`], appended to `out`.
pub fn push_result(out: &mut String, r: &OpResult) {
    match r {
        OpResult::Ok(resp) => push_answer(out, Ok(resp)),
        OpResult::Fail(e) => push_answer(out, Err(e)),
        OpResult::Unknown(reason) => {
            out.push_str("unknown: ");
            push_reason(out, reason);
        }
    }
}

/// A definite answer: `ok rev=7 count=1 [/a=1@5]` or `fail: compacted ...`,
/// as [`result`] prints it.
pub fn answer(a: Result<&Response, &EtcdError>) -> String {
    to_string(|out| push_answer(out, a))
}

fn push_answer(out: &mut String, a: Result<&Response, &EtcdError>) {
    match a {
        Ok(resp) => {
            out.push_str("ok ");
            push_response(out, resp);
        }
        Err(e) => {
            out.push_str("fail: ");
            push_error(out, e);
        }
    }
}

/// A definite refusal: `compacted (compact revision 4)`, `lease not found`.
pub fn error(e: &EtcdError) -> String {
    to_string(|out| push_error(out, e))
}

fn push_error(out: &mut String, e: &EtcdError) {
    match e {
        EtcdError::Compacted { compact_revision } => {
            let _ = write!(out, "compacted (compact revision {compact_revision})");
        }
        EtcdError::FutureRevision => out.push_str("future revision"),
        EtcdError::LeaseNotFound => out.push_str("lease not found"),
        EtcdError::Invalid(invalid) => out.push_str(invalid.message()),
        EtcdError::NoSpace => out.push_str(EtcdError::NO_SPACE),
        EtcdError::Other(text) => push_reason(out, text),
    }
}

/// A response without its outcome word.
pub fn response(r: &Response) -> String {
    to_string(|out| push_response(out, r))
}

fn push_response(out: &mut String, r: &Response) {
    let rev = r.header_revision();
    let _ = match r {
        Response::Range(r) => {
            let more = if r.more { " more" } else { "" };
            let _ = write!(out, "rev={rev} count={}{more} ", r.count);
            push_kvs(out, &r.kvs);
            Ok(())
        }
        Response::Put(p) => match &p.prev_kv {
            Some(prev) => {
                let _ = write!(out, "rev={rev} prev=");
                push_key_value(out, prev);
                Ok(())
            }
            None => write!(out, "rev={rev}"),
        },
        Response::DeleteRange(d) => write!(out, "rev={rev} deleted={}", d.deleted),
        Response::Txn(t) => {
            let branch = if t.succeeded { "then" } else { "else" };
            let _ = write!(out, "rev={rev} {branch} [");
            push_joined(out, &t.responses, "; ", push_txn_op_response);
            out.push(']');
            Ok(())
        }
        Response::Compact(_) | Response::LeaseRevoke(_) => write!(out, "rev={rev}"),
        Response::LeaseGrant(g) => write!(out, "rev={rev} id={} ttl={}s", g.id, g.ttl),
        Response::LeaseKeepAlive(k) => write!(out, "ttl={}s", k.ttl),
        Response::LeaseTimeToLive(t) => write!(out, "ttl={}s keys={}", t.ttl, t.keys.len()),
    };
}

fn push_txn_op_response(out: &mut String, r: &TxnOpResponse) {
    match r {
        TxnOpResponse::Range(r) => {
            out.push_str("range ");
            push_kvs(out, &r.kvs);
        }
        TxnOpResponse::Put(_) => out.push_str("put"),
        TxnOpResponse::DeleteRange(d) => {
            let _ = write!(out, "delete {}", d.deleted);
        }
        TxnOpResponse::Txn(t) => {
            out.push_str(if t.succeeded { "txn then" } else { "txn else" });
        }
    }
}

/// A watch event: `put /a=1@5 (create)`, `delete /a@6`.
pub fn event(e: &Event) -> String {
    let mut text = String::new();
    match e.kind {
        EventKind::Put => {
            text.push_str("put ");
            push_key_value(&mut text, &e.kv);
            if e.is_create() {
                text.push_str(" (create)");
            }
        }
        EventKind::Delete => {
            text.push_str("delete ");
            push_key(&mut text, &e.kv.key);
            let _ = write!(text, "@{}", e.kv.mod_revision);
        }
    }
    if let Some(prev) = &e.prev_kv {
        text.push_str(" prev=");
        push_key_value(&mut text, prev);
    }
    text
}

/// A watch request: `watch /pods/* from rev 5 prev-kv progress`.
pub fn watch_request(w: &WatchRequest) -> String {
    let mut text = String::from("watch ");
    push_span(&mut text, &w.key, &w.range_end);
    if w.start_revision > 0 {
        let _ = write!(text, " from rev {}", w.start_revision);
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
    use crate::history::{PutResponse, RangeResponse};

    /// The whole text escaped.
    fn escape(s: &str) -> String {
        to_string(|out| push_escaped(out, s, usize::MAX))
    }

    /// The first `max` characters, and `…` when there were more.
    fn shorten(s: &str, max: usize) -> String {
        if s.chars().count() <= max {
            s.to_string()
        } else {
            format!("{}…", s.chars().take(max).collect::<String>())
        }
    }

    #[test]
    fn range_answers_list_a_few_key_values() {
        let kv = |n: i64| KeyValue {
            key: format!("/k{n}"),
            value: "v".into(),
            mod_revision: n,
            version: n,
            lease: if n == 2 { 7 } else { 0 },
            ..Default::default()
        };
        let range = Response::Range(RangeResponse {
            header_revision: 9,
            kvs: (1..=6).map(kv).collect(),
            count: 6,
            more: true,
        });
        assert_eq!(
            answer(Ok(&range)),
            "ok rev=9 count=6 more [/k1=v@1, /k2=v@2 v2 lease=7, /k3=v@3 v3, /k4=v@4 v4, +2 more]"
        );
        assert_eq!(
            result(&OpResult::Unknown(format!("{}\n", "x".repeat(130)))),
            format!("unknown: {}…", "x".repeat(120))
        );
    }

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

    #[test]
    fn a_range_shows_its_bounds_and_sort() {
        let range = request(&Request::Range(RangeRequest {
            key: "/k".into(),
            range_end: "/l".into(),
            limit: 2,
            min_mod_revision: 7,
            sort_target: crate::history::SortTarget::Create,
            ..Default::default()
        }));
        assert_eq!(range, "range /k* limit=2 min-mod=7 sort=create-ascend");
    }
}
