//! The watch streams: one collapsible block per watch with its request and
//! every response (time, header revision, flags, events). Events a violation
//! names are marked in place; events that should have come and did not are
//! shown as "missing" rows where they belong. Long streams show their
//! beginning, their end and the neighbourhood of every mark.

use std::collections::{BTreeMap, BTreeSet};

use checker::history::{Event, History, Issuer, WatchRecord, WatchResponse};

use crate::describe::{self, seconds};
use crate::html::escape;

use super::evidence::Evidence;
use super::marks::{Mark, Target};

/// Events shown over all watches before long streams are shortened.
const EVENT_BUDGET: usize = 10_000;
/// Events shown of any one watch at least.
const MIN_EVENTS_PER_WATCH: usize = 100;
/// Responses shown around each mark.
const CONTEXT: usize = 2;

pub(crate) fn render(
    history: &History,
    evidence: &Evidence,
    marks: &BTreeMap<u64, Vec<Mark>>,
) -> String {
    let mut out = String::from("<section id=\"watches\">\n<h2>Watch streams</h2>\n");
    if history.watches.is_empty() {
        out.push_str("<p class=\"muted\">This run recorded no watches.</p>\n</section>\n");
        return out;
    }
    let named: Vec<u64> = history
        .watches
        .iter()
        .map(|w| w.id)
        .filter(|id| evidence.watches.contains_key(id) || marks.contains_key(id))
        .collect();
    out.push_str(&format!(
        "<p>{} watches, {} responses, {} events.",
        history.watches.len(),
        history
            .watches
            .iter()
            .map(|w| w.responses.len())
            .sum::<usize>(),
        history
            .watches
            .iter()
            .map(|w| w.events().count())
            .sum::<usize>()
    ));
    if !named.is_empty() {
        let links: Vec<String> = named
            .iter()
            .map(|id| format!("<a href=\"#watch-{id}\" data-watch=\"{id}\">#{id}</a>"))
            .collect();
        out.push_str(&format!(
            " Named by violations (opened below): {}.",
            links.join(", ")
        ));
    }
    out.push_str("</p>\n");
    let budget = (EVENT_BUDGET / history.watches.len()).max(MIN_EVENTS_PER_WATCH);
    for w in &history.watches {
        let no_marks = Vec::new();
        let w_marks = marks.get(&w.id).unwrap_or(&no_marks);
        let rules = evidence.watches.get(&w.id);
        out.push_str(&watch_block(w, history.issuer, w_marks, rules, budget));
    }
    out.push_str("</section>\n");
    out
}

/// Per response: the marks on its events (by event index) and on itself.
#[derive(Default)]
struct ResponseMarks<'a> {
    events: BTreeMap<usize, Vec<&'a Mark>>,
    whole: Vec<&'a Mark>,
    /// Absent events to show just before this response.
    absent_before: Vec<&'a Mark>,
}

fn same_event(a: &Event, b: &Event) -> bool {
    a.kind == b.kind && a.kv.key == b.kv.key && a.kv.mod_revision == b.kv.mod_revision
}

/// Places every mark on a response (an absent event goes before the first
/// response carrying a later revision; None = after the last response).
fn place<'a>(w: &WatchRecord, marks: &'a [Mark]) -> (Vec<ResponseMarks<'a>>, Vec<&'a Mark>) {
    let mut placed: Vec<ResponseMarks<'a>> =
        (0..w.responses.len()).map(|_| Default::default()).collect();
    let mut at_end = Vec::new();
    for mark in marks {
        match &mark.target {
            Target::Event { response, event } => {
                let candidates: Vec<usize> = match response {
                    Some(r) if *r < w.responses.len() => vec![*r],
                    _ => (0..w.responses.len()).collect(),
                };
                let mut found = false;
                for r in candidates {
                    for (i, e) in w.responses[r].events.iter().enumerate() {
                        if same_event(e, event) {
                            placed[r].events.entry(i).or_default().push(mark);
                            found = true;
                        }
                    }
                }
                if !found {
                    // Named but not found as delivered: show it like an absent one.
                    at_end.push(mark);
                }
            }
            Target::Response(r) => match placed.get_mut(*r) {
                Some(p) => p.whole.push(mark),
                None => at_end.push(mark),
            },
            Target::Absent(event) => {
                let rev = event.revision();
                let before = w
                    .responses
                    .iter()
                    .position(|r| r.events.iter().any(|e| e.revision() > rev));
                match before {
                    Some(r) => placed[r].absent_before.push(mark),
                    None => at_end.push(mark),
                }
            }
        }
    }
    (placed, at_end)
}

/// Which responses to show: the first ones, the last ones, and the
/// neighbourhood of every marked response, within about `budget` events.
fn visible(w: &WatchRecord, placed: &[ResponseMarks], budget: usize) -> Vec<bool> {
    let n = w.responses.len();
    let total: usize = w.responses.iter().map(|r| r.events.len()).sum();
    if total <= budget {
        return vec![true; n];
    }
    let mut show = vec![false; n];
    let mut used = 0;
    for (i, r) in w.responses.iter().enumerate() {
        if used >= budget * 7 / 10 && i >= 10 {
            break;
        }
        show[i] = true;
        used += r.events.len();
    }
    let mut used_end = 0;
    for (i, r) in w.responses.iter().enumerate().rev() {
        if used_end >= budget * 3 / 10 && i + 5 < n {
            break;
        }
        show[i] = true;
        used_end += r.events.len();
    }
    for (i, p) in placed.iter().enumerate() {
        if !p.events.is_empty() || !p.whole.is_empty() || !p.absent_before.is_empty() {
            let from = i.saturating_sub(CONTEXT);
            let to = (i + CONTEXT).min(n - 1);
            show[from..=to].iter_mut().for_each(|s| *s = true);
        }
    }
    show
}

fn watch_block(
    w: &WatchRecord,
    issuer: Issuer,
    marks: &[Mark],
    rules: Option<&BTreeSet<String>>,
    budget: usize,
) -> String {
    let named = rules.is_some() || !marks.is_empty();
    let events = w.events().count();
    let mut summary = format!(
        "<span class=\"wid\">watch #{}</span> {issuer} {} · stream {}{} · {}{} · {} responses, {} events",
        w.id,
        w.client,
        w.stream,
        w.member.map(|m| format!(" · m{m}")).unwrap_or_default(),
        escape(&describe::watch_request(&w.request)),
        w.k8s_list
            .map(|l| format!(" · after list {l}"))
            .unwrap_or_default(),
        w.responses.len(),
        events
    );
    if let Some(rules) = rules {
        let names: Vec<String> = rules.iter().map(|r| escape(r)).collect();
        summary.push_str(&format!(
            " <span class=\"badge fail\">{}</span>",
            names.join(", ")
        ));
    }
    let mut out = format!(
        "<details class=\"watch{}\" id=\"watch-{}\"{}>\n<summary>{summary}</summary>\n",
        if named { " named" } else { "" },
        w.id,
        if named { " open" } else { "" }
    );
    out.push_str(&format!(
        "<p class=\"muted\">Created at {}.</p>\n",
        seconds(w.created)
    ));
    let (placed, at_end) = place(w, marks);
    let show = visible(w, &placed, budget);
    out.push_str("<table class=\"stream\">\n<thead><tr><th>#</th><th>at</th><th>header rev</th><th>flags</th><th>events</th></tr></thead>\n<tbody>\n");
    let mut hidden = 0usize;
    for (i, (r, p)) in w.responses.iter().zip(&placed).enumerate() {
        if !show[i] {
            hidden += 1;
            continue;
        }
        if hidden > 0 {
            out.push_str(&gap_row(hidden));
            hidden = 0;
        }
        for mark in &p.absent_before {
            out.push_str(&absent_row(mark));
        }
        out.push_str(&response_row(i, r, p));
    }
    if hidden > 0 {
        out.push_str(&gap_row(hidden));
    }
    for mark in at_end {
        out.push_str(&absent_row(mark));
    }
    out.push_str("</tbody>\n</table>\n</details>\n");
    out
}

fn gap_row(hidden: usize) -> String {
    format!(
        "<tr class=\"gap\"><td colspan=\"5\">… {hidden} responses not shown (all are in history.jsonl) …</td></tr>\n"
    )
}

fn absent_row(mark: &Mark) -> String {
    let event = match &mark.target {
        Target::Absent(e) | Target::Event { event: e, .. } => describe::event(e),
        Target::Response(r) => format!("response {r}"),
    };
    format!(
        "<tr class=\"absent\"><td></td><td></td><td></td><td></td><td><span class=\"ev marked\" title=\"{}\">{} <b class=\"tag\">{}</b></span></td></tr>\n",
        escape(&mark.rule),
        escape(&event),
        escape(&mark.label)
    )
}

fn response_row(i: usize, r: &WatchResponse, p: &ResponseMarks) -> String {
    let mut flags = Vec::new();
    if r.progress_notify {
        flags.push("progress".to_string());
    }
    if r.requested_progress {
        flags.push("requested".to_string());
    }
    if r.canceled {
        let mut cancel = "canceled".to_string();
        if r.compact_revision > 0 {
            cancel.push_str(&format!(" (compacted at {})", r.compact_revision));
        }
        if !r.cancel_reason.is_empty() {
            cancel.push_str(&format!(": {}", r.cancel_reason));
        }
        flags.push(cancel);
    }
    let mut flags = escape(&flags.join(", "));
    for mark in &p.whole {
        flags.push_str(&format!(
            " <b class=\"tag\" title=\"{}\">{}</b>",
            escape(&mark.rule),
            escape(&mark.label)
        ));
    }
    let events: Vec<String> = r
        .events
        .iter()
        .enumerate()
        .map(|(j, e)| {
            let text = escape(&describe::event(e));
            match p.events.get(&j) {
                Some(marks) => {
                    let rules: Vec<&str> = marks.iter().map(|m| m.rule.as_str()).collect();
                    let labels: Vec<String> = marks.iter().map(|m| escape(&m.label)).collect();
                    format!(
                        "<span class=\"ev marked\" title=\"{}\">{text} <b class=\"tag\">{}</b></span>",
                        escape(&rules.join(", ")),
                        labels.join(", ")
                    )
                }
                None => format!("<span class=\"ev\">{text}</span>"),
            }
        })
        .collect();
    let marked = !p.events.is_empty() || !p.whole.is_empty();
    format!(
        "<tr class=\"resp{}\"><td>{i}</td><td>{}</td><td>{}</td><td>{flags}</td><td>{}</td></tr>\n",
        if marked { " marked" } else { "" },
        seconds(r.at),
        r.header_revision,
        events.join(" ")
    )
}
