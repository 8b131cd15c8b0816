//! `check_run`: every property of one etcd-style run, in rule order.

mod end_state;
mod k8s;
mod lin_class;
mod linearizability;
mod nospace_cap;
mod refusals;
mod request_size;
pub(crate) mod requests;
mod serializable;
mod watch;
mod watch_cancel;

use serde_json::{Value, json};

use crate::history::{EndState, History};
use crate::models::etcd::LinearizedHistory;
use crate::options::CheckOptions;
use crate::report::{PropertyResult, Report, Verdict, Violation};
use crate::rules;

pub use linearizability::{EtcdLinearizability, check_linearizability};

/// What every rule gets to look at.
pub(crate) struct Context<'a> {
    pub history: &'a History,
    pub end: &'a EndState,
    pub options: &'a CheckOptions,
    /// The linearized history, or why there is none.
    pub linearized: Result<&'a LinearizedHistory, &'a str>,
}

/// Runs every property on a run's history and end state.
pub fn check_run(history: &History, end: &EndState, options: &CheckOptions) -> Report {
    if let Err(e) = history.validate() {
        let reason = format!("the history is malformed: {e}");
        return Report {
            results: rules::checker_rules()
                .map(|r| PropertyResult {
                    property: r.name.to_string(),
                    verdict: Verdict::Unknown(reason.clone()),
                })
                .collect(),
            stats: None,
            requests: None,
        };
    }
    let lin = check_linearizability(history, options);
    let unavailable = match &lin.result.verdict {
        Verdict::Fail(_) => {
            "the history is not linearizable, so what the store held at each revision is not known"
                .to_string()
        }
        Verdict::Unknown(reason) => format!("linearizability was not decided ({reason})"),
        Verdict::Pass => "the linearized history could not be rebuilt".to_string(),
    };
    let ctx = Context {
        history,
        end,
        options,
        linearized: lin.linearized.as_ref().map_err(|_| unavailable.as_str()),
    };
    let undecided = match &lin.result.verdict {
        Verdict::Pass => None,
        _ => Some(unavailable.as_str()),
    };
    let mut results = vec![lin.result.clone()];
    results.push(refusals::check(&ctx, lin.false_refusals.clone(), undecided));
    let (requests, kinds_answered) = requests::check(&ctx);
    results.push(kinds_answered);
    results.push(nospace_cap::check(&ctx));
    results.push(serializable::check(&ctx));
    results.extend(watch::check(&ctx));
    results.push(watch_cancel::check(&ctx));
    results.extend(k8s::check(&ctx));
    results.extend(end_state::check(&ctx));
    for r in &results {
        if let Verdict::Fail(v) = &r.verdict {
            tracing::info!(rule = %r.property, explanation = %v.explanation, "property failed");
        }
    }
    Report {
        results,
        stats: Some(lin.summary),
        requests: Some(requests),
    }
}

/// Collects the violations of one rule into its result: the first one as the
/// evidence, a count and a few more in its details.
pub(crate) fn verdict(
    rule: &str,
    mut violations: Vec<Violation>,
    max_reported: usize,
) -> PropertyResult {
    if violations.is_empty() {
        return PropertyResult {
            property: rule.to_string(),
            verdict: Verdict::Pass,
        };
    }
    let more: Vec<Value> = violations
        .iter()
        .skip(1)
        .take(max_reported)
        .map(
            |v| json!({"explanation": v.explanation, "operations": v.operations, "watch": v.watch}),
        )
        .collect();
    let count = violations.len();
    let mut first = violations.swap_remove(0);
    first.rule = rule.to_string();
    let mut details = match std::mem::take(&mut first.details) {
        Value::Object(map) => map,
        Value::Null => serde_json::Map::new(),
        other => {
            let mut map = serde_json::Map::new();
            map.insert("evidence".into(), other);
            map
        }
    };
    details.insert("violations".into(), json!(count));
    if !more.is_empty() {
        details.insert("more".into(), Value::Array(more));
    }
    first.details = Value::Object(details);
    PropertyResult {
        property: rule.to_string(),
        verdict: Verdict::Fail(first),
    }
}

/// A violation of `rule` with its explanation and evidence.
pub(crate) fn violation(
    rule: &str,
    explanation: String,
    operations: Vec<u64>,
    watch: Option<u64>,
    details: Value,
) -> Violation {
    Violation {
        at: None,
        rule: rule.to_string(),
        explanation,
        operations,
        watch,
        longest_prefix: vec![],
        details,
        class: None,
        subject: Default::default(),
    }
}

/// For rules that need the linearized history: their result when it is missing.
pub(crate) fn needs_linearization(rule: &str, reason: &str) -> PropertyResult {
    PropertyResult {
        property: rule.to_string(),
        verdict: Verdict::Unknown(format!("needs the linearized history: {reason}")),
    }
}
