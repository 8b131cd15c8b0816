//! The timeline: one shared axis in simulated seconds; rows for the fault
//! intervals, each member (down, paused, leader, events) and each client,
//! whose operations are bars from call to return in the porcupine style.

use std::collections::BTreeMap;

use checker::history::{Issuer, OpResult, Operation, Request};

use crate::artefacts::RunArtefacts;
use crate::describe::{self, duration, seconds};
use crate::html::escape;

use super::evidence::Evidence;
use super::faults::annotation_lanes;
use super::lane::Lane;
use super::scale::{Scale, tick_label};
use super::trace_lanes::{engine_lane, member_lanes};

/// Ticks on the axis at zoom 1 (the page's script adds more when zoomed).
const TICKS: u64 = 10;

/// The end of the axis: the last thing that happened.
pub(crate) fn end_of_run(run: &RunArtefacts) -> u64 {
    let h = &run.history;
    let ops = h.operations.iter().map(|o| o.ret.unwrap_or(o.call));
    let watches = h
        .watches
        .iter()
        .flat_map(|w| w.responses.iter().map(|r| r.at).chain([w.created]));
    let notes = h.annotations.iter().map(|a| a.end.unwrap_or(a.at));
    let trace = run.trace.iter().map(|t| t.at_ns);
    ops.chain(watches)
        .chain(notes)
        .chain(trace)
        .chain(run.end_state.heal_time)
        .max()
        .unwrap_or(0)
}

/// The timeline section.
pub(crate) fn render(run: &RunArtefacts, evidence: &Evidence, scale: &Scale) -> String {
    let mut lanes = Vec::new();
    let faults = annotation_lanes(&run.history.annotations, scale);
    if !faults.is_empty() {
        lanes.push(Lane::group("Faults"));
        lanes.extend(faults);
    }
    let members = member_lanes(&run.trace, scale);
    let engine = engine_lane(&run.trace, scale);
    if !members.is_empty() || engine.is_some() {
        lanes.push(Lane::group("Members"));
        lanes.extend(members);
        lanes.extend(engine);
    }
    let issuer = run.history.issuer;
    lanes.push(Lane::group(match issuer {
        Issuer::Client => "Clients",
        Issuer::Process => "Processes",
    }));
    lanes.extend(client_lanes(
        &run.history.operations,
        issuer,
        evidence,
        scale,
    ));

    let mut out = String::new();
    out.push_str("<section id=\"timeline-section\">\n<h2>Timeline</h2>\n");
    out.push_str(CONTROLS);
    out.push_str(LEGEND);
    out.push_str(
        "<div class=\"tl\">\n<div class=\"tl-labels\">\n<div class=\"lbl axis\">time</div>\n",
    );
    for lane in &lanes {
        out.push_str(&format!(
            "<div class=\"lbl {}\" title=\"{}\">{}</div>\n",
            lane.class,
            escape(&lane.title),
            escape(&lane.label)
        ));
    }
    out.push_str("</div>\n<div class=\"tl-scroll\" id=\"tl-scroll\">\n");
    out.push_str(&format!(
        "<div class=\"tl-inner\" id=\"tl-inner\" data-end-ns=\"{}\">\n",
        scale.end_ns
    ));
    out.push_str(&axis(scale));
    for lane in &lanes {
        out.push_str(&format!(
            "<div class=\"lane {}\">{}</div>\n",
            lane.class, lane.items
        ));
    }
    out.push_str(&vertical_lines(run, evidence, scale));
    out.push_str("</div>\n</div>\n</div>\n");
    out.push_str(
        "<pre id=\"op-detail\" class=\"op-detail\">Click an operation for its request and response.</pre>\n</section>\n",
    );
    out
}

const CONTROLS: &str = "<div class=\"controls\"><label for=\"zoom\">Zoom</label> \
<input type=\"range\" id=\"zoom\" min=\"0\" max=\"8\" value=\"0\"> <span id=\"zoom-label\">1×</span> \
<span class=\"hint\">Hover an operation for a summary, click it for the whole request and response. \
Times are simulated seconds since the run started.</span></div>\n";

const LEGEND: &str = "<div class=\"legend\">\
<span><i class=\"sw ok\"></i>ok</span>\
<span><i class=\"sw fail\"></i>failed (did not take effect)</span>\
<span><i class=\"sw unknown\"></i>unknown outcome (may take effect any time after the call; open to the right)</span>\
<span><i class=\"sw involved\"></i>named by a violation</span>\
<span><i class=\"sw dim\"></i>outside the longest linearizable prefix</span>\
<span><i class=\"sw fault\"></i>fault</span>\
<span><i class=\"sw leader\"></i>leader</span>\
<span><i class=\"sw down\"></i>down</span>\
<span><i class=\"sw paused\"></i>paused</span>\
<span>✕ crash/exit ▲ start ★ became leader ◆ version ▪ snapshot • compaction ⚑ failpoint</span>\
</div>\n";

fn axis(scale: &Scale) -> String {
    let (step, ticks) = scale.ticks(TICKS);
    let mut labels = String::new();
    let mut grid = String::new();
    for t in ticks {
        labels.push_str(&format!(
            "<div class=\"tick\" style=\"left:{}\">{}</div>",
            scale.left(t),
            tick_label(t, step)
        ));
        grid.push_str(&format!(
            "<div class=\"gridline\" style=\"left:{}\"></div>",
            scale.left(t)
        ));
    }
    format!(
        "<div class=\"grid\" id=\"tl-grid\">{grid}</div>\n<div class=\"lane axis\" id=\"tl-axis\">{labels}</div>\n"
    )
}

/// A lane per client (or process: the history's own word), its operations.
fn client_lanes(
    ops: &[Operation],
    issuer: Issuer,
    evidence: &Evidence,
    scale: &Scale,
) -> Vec<Lane> {
    let mut by_client: BTreeMap<u64, Vec<&Operation>> = BTreeMap::new();
    for op in ops {
        by_client.entry(op.client).or_default().push(op);
    }
    by_client
        .into_iter()
        .map(|(client, ops)| {
            let mut lane = Lane::new(format!("c{client}"), "client");
            lane.title = format!("{issuer} {client}: {} operations", ops.len());
            for op in ops {
                lane.items.push_str(&op_bar(op, issuer, evidence, scale));
            }
            lane
        })
        .collect()
}

/// The CSS classes of an operation's bar.
fn op_classes(op: &Operation, evidence: &Evidence) -> String {
    let mut classes = String::from("op ");
    classes.push_str(match (&op.result, op.ret) {
        (OpResult::Ok(_), _) => "ok",
        (OpResult::Fail(_), _) => "fail",
        (OpResult::Unknown(_), Some(_)) => "unknown",
        (OpResult::Unknown(_), None) => "unknown open",
    });
    let involved = evidence.operations.contains_key(&op.id);
    if involved {
        classes.push_str(" involved");
    }
    if evidence.stuck == Some(op.id) {
        classes.push_str(" stuck");
    }
    // Failures that say nothing of the state (reasonless ones, refusals of
    // the request's shape) and serializable reads are not part of the
    // linearizability search, so they are never in its prefix.
    let searched = !matches!(&op.result, OpResult::Fail(e) if !e.is_informative())
        && !matches!(&op.request, Request::Range(r) if r.serializable);
    if !involved && searched && evidence.after_prefix(op.id) {
        classes.push_str(" dim");
    }
    classes
}

/// Tooltip text: what was asked, when, what came back, and which rules name it.
pub(crate) fn op_title(op: &Operation, issuer: Issuer, evidence: &Evidence) -> String {
    let when = match op.ret {
        Some(ret) => format!(
            "call {} return {} ({})",
            seconds(op.call),
            seconds(ret),
            duration(ret - op.call)
        ),
        None => format!("call {}, never returned", seconds(op.call)),
    };
    let mut title = format!(
        "#{} {issuer} {}: {}\n{when}\n{}",
        op.id,
        op.client,
        describe::request(&op.request),
        describe::result(&op.result)
    );
    if let Some(rules) = evidence.operations.get(&op.id) {
        let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
        title.push_str(&format!("\nnamed by: {}", rules.join(", ")));
    }
    if evidence.after_prefix(op.id) {
        title.push_str("\noutside the longest linearizable prefix");
    }
    title
}

fn op_bar(op: &Operation, issuer: Issuer, evidence: &Evidence, scale: &Scale) -> String {
    let end = op.ret.unwrap_or(scale.end_ns);
    format!(
        "<div class=\"{}\" id=\"op-{}\" data-op=\"{}\" style=\"left:{};width:{}\" title=\"{}\"></div>",
        op_classes(op, evidence),
        op.id,
        op.id,
        scale.left(op.call),
        scale.width(op.call, end),
        escape(&op_title(op, issuer, evidence))
    )
}

/// Near the right edge a line's label goes to its left, where there is room.
fn flip(scale: &Scale, at: u64) -> &'static str {
    if scale.fraction(at) > 0.85 {
        " flip"
    } else {
        ""
    }
}

/// Full-height lines: where the stuck operation was called, when faults healed.
fn vertical_lines(run: &RunArtefacts, evidence: &Evidence, scale: &Scale) -> String {
    let mut out = String::new();
    if let Some(op) = evidence.stuck.and_then(|id| run.history.operation(id)) {
        out.push_str(&format!(
            "<div class=\"vline stuck{}\" style=\"left:{}\" title=\"operation #{} could not be linearized after the longest linearizable prefix (called at {})\"><span>stuck #{}</span></div>\n",
            flip(scale, op.call),
            scale.left(op.call),
            op.id,
            seconds(op.call),
            op.id
        ));
    }
    if let Some(heal) = run.end_state.heal_time {
        out.push_str(&format!(
            "<div class=\"vline heal{}\" style=\"left:{}\" title=\"every fault healed at {}\"><span>healed</span></div>\n",
            flip(scale, heal),
            scale.left(heal),
            seconds(heal)
        ));
    }
    out
}
