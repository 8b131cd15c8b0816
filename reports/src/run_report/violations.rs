//! The violations, listed first and prominently: for every failed property
//! its rule, its anomaly class and problem signature, what the rule means, the checker's explanation, the
//! operations it names (linked to their bars in the timeline), the watch it
//! names, the longest linearizable prefix, and the raw evidence.

use checker::history::History;
use checker::rules::LINEARIZABILITY;
use checker::{Report, Verdict, Violation};

use crate::describe::{self, seconds};
use crate::html::escape;

use super::evidence::{Evidence, more_of};

/// Operations listed in full under one violation.
const OPS_LISTED: usize = 30;

pub(crate) fn render(report: &Report, history: &History, evidence: &Evidence) -> String {
    let failed: Vec<(&str, &Violation)> = report
        .results
        .iter()
        .filter_map(|r| match &r.verdict {
            Verdict::Fail(v) => Some((r.property.as_str(), v)),
            _ => None,
        })
        .collect();
    let mut out = String::from("<section id=\"violations\">\n");
    if failed.is_empty() {
        out.push_str("<h2>Violations</h2>\n<p class=\"ok-note\">No property failed.</p>\n");
    } else {
        out.push_str(&format!(
            "<h2>Violations <span class=\"badge fail\">{}</span></h2>\n",
            failed.len()
        ));
        for (rule, v) in failed {
            out.push_str(&violation_block(rule, v, history, evidence));
        }
    }
    out.push_str("</section>\n");
    out
}

fn op_link(id: u64) -> String {
    format!("<a href=\"#op-{id}\" class=\"oplink\" data-op=\"{id}\">#{id}</a>")
}

fn watch_link(id: u64) -> String {
    format!("<a href=\"#watch-{id}\" data-watch=\"{id}\">watch #{id}</a>")
}

fn violation_block(rule: &str, v: &Violation, history: &History, evidence: &Evidence) -> String {
    let mut out = format!(
        "<div class=\"violation\" id=\"violation-{}\">\n<h3><span class=\"rule\">{}</span></h3>\n",
        escape(rule),
        escape(rule)
    );
    let class = v.anomaly();
    out.push_str(&format!(
        "<p class=\"class-line\">Class: <span class=\"class\">{}</span> {} Problem signature: <code class=\"signature\">{}</code></p>\n",
        escape(class.word()),
        escape(class.meaning()),
        escape(&checker::Signature::of(v).to_string())
    ));
    if let Some(meaning) = checker::rules::describe(rule) {
        out.push_str(&format!(
            "<p class=\"meaning\">The rule: {}</p>\n",
            escape(meaning)
        ));
    }
    out.push_str(&format!(
        "<p class=\"explanation\">{}</p>\n",
        escape(&v.explanation)
    ));
    if !v.operations.is_empty() {
        let links: Vec<String> = v.operations.iter().map(|&id| op_link(id)).collect();
        out.push_str(&format!(
            "<p>Operations involved (highlighted in the timeline): {}</p>\n",
            links.join(" ")
        ));
        out.push_str(&ops_table(&v.operations, history, evidence));
    }
    if let Some(w) = v.watch {
        out.push_str(&format!(
            "<p>Watch involved: {} (its stream is below, with the events in question marked).</p>\n",
            watch_link(w)
        ));
    }
    if rule == LINEARIZABILITY {
        out.push_str(&prefix_note(v, history, evidence));
    }
    let more = more_of(v);
    let count = v.details.get("violations").and_then(|c| c.as_u64());
    if let Some(count) = count.filter(|&c| c > 1) {
        out.push_str(&format!(
            "<p>{count} violations of this rule in all; the first is shown above.</p>\n"
        ));
    }
    if let Some(list) = v.details.get("more").and_then(|m| m.as_array()) {
        out.push_str("<ul class=\"more\">\n");
        for (item, (ops, watch)) in list.iter().zip(more) {
            let text = item
                .get("explanation")
                .and_then(|e| e.as_str())
                .unwrap_or("");
            let mut links: Vec<String> = ops.iter().map(|&id| op_link(id)).collect();
            links.extend(watch.map(watch_link));
            out.push_str(&format!("<li>{} {}</li>\n", escape(text), links.join(" ")));
        }
        out.push_str("</ul>\n");
    }
    let details = serde_json::to_string_pretty(&v.details).unwrap_or_default();
    out.push_str(&format!(
        "<details><summary>Evidence as the checker recorded it</summary><pre>{}</pre></details>\n</div>\n",
        escape(&details)
    ));
    out
}

fn ops_table(ids: &[u64], history: &History, evidence: &Evidence) -> String {
    let mut out = format!(
        "<table class=\"ops\"><thead><tr><th>op</th><th>{}</th><th>call</th><th>return</th><th>request</th><th>result</th></tr></thead><tbody>\n",
        history.issuer
    );
    for &id in ids.iter().take(OPS_LISTED) {
        let Some(op) = history.operation(id) else {
            out.push_str(&format!(
                "<tr><td>#{id}</td><td colspan=\"5\">not in the history</td></tr>\n"
            ));
            continue;
        };
        let stuck = if evidence.stuck == Some(id) {
            " <b class=\"tag\">stuck</b>"
        } else {
            ""
        };
        out.push_str(&format!(
            "<tr><td>{}{stuck}</td><td>c{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            op_link(id),
            op.client,
            seconds(op.call),
            op.ret.map(seconds).unwrap_or_else(|| "never".into()),
            escape(&describe::request(&op.request)),
            escape(&describe::result(&op.result))
        ));
    }
    if ids.len() > OPS_LISTED {
        out.push_str(&format!(
            "<tr><td colspan=\"6\">… and {} more</td></tr>\n",
            ids.len() - OPS_LISTED
        ));
    }
    out.push_str("</tbody></table>\n");
    out
}

fn prefix_note(v: &Violation, history: &History, evidence: &Evidence) -> String {
    let total = history.operations.len();
    let in_prefix = v.longest_prefix.len();
    let stuck = evidence
        .stuck
        .map(|id| format!(" The search could not place {} after it.", op_link(id)))
        .unwrap_or_default();
    format!(
        "<p class=\"prefix\">Longest linearizable prefix: {in_prefix} of {total} operations. \
Operations outside it are dimmed in the timeline; a line marks where the stuck operation was called.{stuck}</p>\n"
    )
}
