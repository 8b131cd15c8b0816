//! Where a violation points inside a watch stream, read from the checker's
//! `Violation.details`: the event it names (duplicated, out of order, not
//! selected, ...), an event that should have come and did not (missing), or
//! whole responses (a split revision, a progress notification, a cancel).

use std::collections::BTreeMap;

use checker::history::Event;
use checker::{Report, Verdict, Violation};
use serde_json::Value;

/// What in the stream a mark points at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// A delivered event, in the given response if known.
    Event {
        response: Option<usize>,
        event: Event,
    },
    /// A whole response.
    Response(usize),
    /// An event the watch should have delivered (shown where it belongs).
    Absent(Event),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mark {
    pub target: Target,
    /// A word or two: `duplicate`, `missing`, `out of order`, ...
    pub label: String,
    pub rule: String,
}

/// Marks per watch id, from every failed property that names a watch.
pub(crate) fn marks_of(report: &Report) -> BTreeMap<u64, Vec<Mark>> {
    let mut marks: BTreeMap<u64, Vec<Mark>> = BTreeMap::new();
    for result in &report.results {
        let Verdict::Fail(v) = &result.verdict else {
            continue;
        };
        if let Some(watch) = v.watch {
            marks
                .entry(watch)
                .or_default()
                .extend(marks_of_violation(&result.property, v));
        }
    }
    marks
}

fn marks_of_violation(rule: &str, v: &Violation) -> Vec<Mark> {
    let d = &v.details;
    let mut out = Vec::new();
    let mut push = |target: Target, field: &str| {
        out.push(Mark {
            target,
            label: label(rule, field).to_string(),
            rule: rule.to_string(),
        });
    };
    let response = d.get("response").and_then(index);
    let event = |field: &str| d.get(field).and_then(as_event);
    if let Some(e) = event("event") {
        push(Target::Event { response, event: e }, "event");
    } else if let Some(r) = response {
        push(Target::Response(r), "response");
    }
    if let Some(e) = event("previous") {
        push(
            Target::Event {
                response: None,
                event: e,
            },
            "previous",
        );
    }
    for field in ["first_delivered", "then"] {
        if let Some(e) = event(field) {
            push(
                Target::Event {
                    response: None,
                    event: e,
                },
                field,
            );
        }
    }
    for field in ["missing", "first_expected"] {
        if let Some(e) = event(field) {
            push(Target::Absent(e), field);
        }
    }
    if let Some(list) = d.get("responses").and_then(Value::as_array) {
        for r in list.iter().filter_map(index) {
            push(Target::Response(r), "responses");
        }
    }
    for field in ["notification_response", "cancel_response"] {
        if let Some(r) = d.get(field).and_then(index) {
            push(Target::Response(r), field);
        }
    }
    out
}

fn index(v: &Value) -> Option<usize> {
    v.as_u64().and_then(|n| usize::try_from(n).ok())
}

fn as_event(v: &Value) -> Option<Event> {
    serde_json::from_value(v.clone()).ok()
}

/// The words shown on a mark, by rule and the details field it came from.
fn label(rule: &str, field: &str) -> &'static str {
    match (rule, field) {
        ("watch.unique", "event") => "duplicate",
        ("watch.ordered", "event") => "out of order",
        ("watch.ordered", "previous") => "came before it",
        ("watch.reliable", "event") => "not in the history",
        ("watch.reliable", "missing") => "missing",
        ("watch.reliable", "first_delivered") => "delivered first",
        ("watch.reliable", "then") => "written first",
        ("watch.resumable", "first_delivered") => "wrong first event",
        ("watch.resumable", "first_expected") => "expected first",
        ("watch.filter", "event") => "not selected",
        ("watch.prev-kv", "event") => "wrong prev_kv",
        ("watch.is-create", "event") => "wrong create flag",
        ("watch.bookmarkable", "event") => "after progress",
        ("watch.bookmarkable", "notification_response") => "progress notification",
        ("watch.bookmarkable", "response") => "progress went back",
        ("watch.atomic", "responses") => "split revision",
        ("watch.cancel-on-compaction", "cancel_response") => "cancel",
        (_, "missing") => "missing",
        (_, "event") => "this event",
        _ => "here",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::PropertyResult;
    use serde_json::json;

    fn report(rule: &str, details: Value) -> Report {
        Report {
            results: vec![PropertyResult {
                property: rule.into(),
                verdict: Verdict::Fail(Violation {
                    rule: rule.into(),
                    watch: Some(4),
                    details,
                    ..Default::default()
                }),
            }],
            stats: None,
            requests: None,
        }
    }

    fn event_json(rev: i64) -> Value {
        json!({"kind": "put", "kv": {"key": "/a", "value": "x", "create_revision": 2, "mod_revision": rev, "version": 1, "lease": 0}, "prev_kv": null})
    }

    #[test]
    fn reads_the_checker_details_of_watch_rules() {
        let dup = marks_of(&report(
            "watch.unique",
            json!({"response": 3, "event": event_json(5)}),
        ));
        let m = &dup[&4][0];
        assert_eq!(m.label, "duplicate");
        assert!(matches!(
            m.target,
            Target::Event {
                response: Some(3),
                ..
            }
        ));

        let missing = marks_of(&report(
            "watch.reliable",
            json!({"missing": event_json(7), "last_observed": 9}),
        ));
        assert!(matches!(missing[&4][0].target, Target::Absent(ref e) if e.kv.mod_revision == 7));
        assert_eq!(missing[&4][0].label, "missing");

        let split = marks_of(&report(
            "watch.atomic",
            json!({"revision": 5, "responses": [1, 2]}),
        ));
        assert_eq!(split[&4].len(), 2);
        assert_eq!(split[&4][1].target, Target::Response(2));

        let ordered = marks_of(&report(
            "watch.ordered",
            json!({"response": 2, "event": event_json(3), "previous": event_json(6)}),
        ));
        let labels: Vec<&str> = ordered[&4].iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["out of order", "came before it"]);
    }
}
