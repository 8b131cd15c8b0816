//! `report.html`: one self-contained page (inline CSS, script and markup;
//! a content security policy forbids every fetch) that explains one run:
//! the violations with their rule, explanation and operations; a timeline of
//! every client's operations with the faults and member events on the same
//! axis; the longest linearizable prefix; the watch streams with the events
//! in question marked; the exact replay command.

mod evidence;
mod faults;
mod lane;
mod marks;
mod scale;
mod timeline;
mod trace_lanes;
mod violations;
mod watches;

use checker::Verdict;
use checker::history::OpResult;

use crate::artefacts::RunArtefacts;
use crate::describe::seconds;
use crate::html::{escape, page_end, page_start};

use evidence::Evidence;
use scale::Scale;

const CSS: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Renders the run report page.
pub fn render(run: &RunArtefacts) -> String {
    let evidence = Evidence::of(&run.report);
    let marks = marks::marks_of(&run.report);
    let scale = Scale::new(timeline::end_of_run(run));
    let verdict = run.report.overall().word();
    let title = format!(
        "faultline: {} seed {} ({verdict})",
        run.repro.scenario_name, run.repro.seed
    );
    let mut out = page_start(&title, CSS);
    out.push_str(&header(run, verdict, &scale));
    out.push_str(NAV);
    out.push_str("<main>\n");
    out.push_str(&violations::render(&run.report, &run.history, &evidence));
    out.push_str(&timeline::render(run, &evidence, &scale));
    out.push_str(&properties(run));
    out.push_str(&watches::render(&run.history, &evidence, &marks));
    out.push_str(&scenario(run));
    out.push_str("</main>\n");
    out.push_str(&page_end(Some(SCRIPT)));
    out
}

const NAV: &str = "<nav><a href=\"#violations\">Violations</a> <a href=\"#timeline-section\">Timeline</a> \
<a href=\"#properties\">Properties</a> <a href=\"#watches\">Watch streams</a> <a href=\"#scenario\">Scenario</a></nav>\n";

fn header(run: &RunArtefacts, verdict: &str, scale: &Scale) -> String {
    let ops = &run.history.operations;
    let failed = ops
        .iter()
        .filter(|o| matches!(o.result, OpResult::Fail(_)))
        .count();
    let unknown = ops
        .iter()
        .filter(|o| matches!(o.result, OpResult::Unknown(_)))
        .count();
    let faults = run
        .history
        .annotations
        .iter()
        .filter(|a| a.source == "fault")
        .count();
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_string()
        } else {
            escape(&items.join(", "))
        }
    };
    let repro = &run.repro;
    let mut out = format!(
        "<header>\n<h1>faultline run: {} seed {} <span class=\"badge {verdict}\">{verdict}</span></h1>\n",
        escape(&repro.scenario_name),
        repro.seed
    );
    out.push_str(&format!(
        "<p class=\"summary\"><code id=\"summary-line\">{}</code></p>\n",
        escape(&run.summary_line)
    ));
    out.push_str(&format!(
        "<div class=\"replay\"><span class=\"replay-label\">{}</span><code id=\"replay-cmd\">{}</code>\
<button type=\"button\" id=\"copy-replay\">Copy</button></div>\n",
        // A real run does not replay: its command runs the scenario again.
        if repro.real.is_some() { "Run again (not a replay)" } else { "Replay" },
        escape(&run.replay_command)
    ));
    out.push_str("<table class=\"facts\">\n");
    let rows = [
        ("scenario", escape(&repro.scenario_name)),
        ("seed", repro.seed.to_string()),
        ("bugs", list(&repro.bugs)),
        ("versions", list(&repro.versions)),
        match &repro.real {
            Some(real) => (
                "target",
                format!(
                    "real etcd {} ({}){}: not deterministic, not replayable",
                    escape(&real.version),
                    escape(&real.binary),
                    match (&real.old_version, &real.old_binary) {
                        (Some(v), Some(b)) => format!(", old etcd {} ({})", escape(v), escape(b)),
                        _ => String::new(),
                    }
                ),
            ),
            None => ("trace hash", escape(&repro.trace_hash)),
        },
        (
            "operations",
            format!(
                "{} ({} failed, {} unknown outcome)",
                ops.len(),
                failed,
                unknown
            ),
        ),
        (
            "watches",
            format!(
                "{} ({} events)",
                run.history.watches.len(),
                run.history
                    .watches
                    .iter()
                    .map(|w| w.events().count())
                    .sum::<usize>()
            ),
        ),
        ("faults", faults.to_string()),
        (
            if repro.real.is_some() {
                "time"
            } else {
                "simulated time"
            },
            seconds(scale.end_ns),
        ),
    ];
    for (name, value) in rows {
        out.push_str(&format!("<tr><th>{name}</th><td>{value}</td></tr>\n"));
    }
    if let Some(stats) = &run.report.stats {
        out.push_str(&format!(
            "<tr><th>linearizability search</th><td>{} operations, {} partitions, {:.1} ms, {} iterations, {} backtracks</td></tr>\n",
            stats.operations, stats.partitions, stats.elapsed_ms, stats.iterations, stats.backtracks
        ));
    }
    if let Some(requests) = &run.report.requests {
        let kinds: Vec<String> = requests
            .kinds
            .iter()
            .filter(|(_, k)| k.fault_free > 0)
            .map(|(kind, k)| {
                format!(
                    "{} {}/{}",
                    escape(kind),
                    k.fault_free - k.fault_free_answered,
                    k.fault_free
                )
            })
            .collect();
        out.push_str(&format!(
            "<tr><th>failed away from faults</th><td>{} ({})</td></tr>\n",
            requests.fault_free_failed_ratio(),
            kinds.join(", ")
        ));
    }
    out.push_str("</table>\n</header>\n");
    out
}

fn properties(run: &RunArtefacts) -> String {
    let mut out = String::from(
        "<section id=\"properties\">\n<h2>Properties</h2>\n<table class=\"props\"><thead><tr><th>rule</th><th>verdict</th><th>note</th></tr></thead><tbody>\n",
    );
    for r in &run.report.results {
        let (word, note) = match &r.verdict {
            Verdict::Pass => ("pass", String::new()),
            Verdict::Fail(v) => (
                "fail",
                format!(
                    "<a href=\"#violation-{}\">{}</a>",
                    escape(&r.property),
                    escape(&v.explanation)
                ),
            ),
            Verdict::Unknown(reason) => ("unknown", escape(reason)),
        };
        out.push_str(&format!(
            "<tr class=\"{word}\"><td>{}</td><td><span class=\"badge {word}\">{word}</span></td><td>{note}</td></tr>\n",
            escape(&r.property)
        ));
    }
    out.push_str("</tbody></table>\n</section>\n");
    out
}

fn scenario(run: &RunArtefacts) -> String {
    format!(
        "<section id=\"scenario\">\n<h2>Scenario</h2>\n<details><summary>The scenario file as run ({} lines; also in repro.toml)</summary><pre>{}</pre></details>\n</section>\n",
        run.repro.scenario_toml.lines().count(),
        escape(&run.repro.scenario_toml)
    )
}
