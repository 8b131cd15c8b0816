//! The review dashboard as one self-contained HTML page: totals, the open
//! problems (one row per signature, each linking to its smallest run's
//! report and, when one was made, its shrunk repro), plots as
//! inline SVG, coverage tables and the hunt table.

use std::path::Path;

use crate::html::{escape, page_end, page_start};

use super::campaign::Campaign;
use super::hunt::HuntRow;
use super::links::relative_url;
use super::stats::{FailureGroup, Known, NOT_MEASURED, Reach, Status, Summary, Tally, summarize};
use super::svg::{Growth, HuntBar, day_bars, growth_lines, hunt_bars, run_bars};
use super::triage::Triage;

const CSS: &str = include_str!("dashboard.css");
/// Further occurrences linked per failure group.
const MORE_LINKS: usize = 5;

pub(crate) fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "0%".to_string()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

pub(crate) fn hours(ms: u64) -> String {
    format!("{:.1} h", ms as f64 / 3_600_000.0)
}

/// The period the campaigns cover: `2025-03-01 – 2025-03-14`, or one day.
pub(crate) fn period(s: &Summary) -> String {
    match (s.first_day, s.latest_day) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a} – {b}"),
        _ => "no campaigns".to_string(),
    }
}

/// Renders the dashboard; links to run reports are relative to `out_path`.
pub fn render_html(
    campaigns: &[Campaign],
    hunt: Option<&[HuntRow]>,
    known: &Known<'_>,
    triage: &Triage,
    out_path: &Path,
) -> String {
    let s = summarize(campaigns, known);
    let mut out = page_start(&format!("faultline review: {}", period(&s)), CSS);
    out.push_str(&header(campaigns, &s));
    out.push_str(
        "<nav><a href=\"#failures\">Failures</a> <a href=\"#plots\">Plots</a> <a href=\"#coverage\">Coverage</a> \
<a href=\"#hunt\">Time to detect</a> <a href=\"#campaigns\">Campaigns</a></nav>\n<main>\n",
    );
    out.push_str(&failures(&s, triage, out_path));
    out.push_str(&plots(&s, campaigns));
    out.push_str(&coverage(&s, known));
    out.push_str(&hunt_section(hunt));
    out.push_str(&campaign_table(campaigns, out_path));
    out.push_str("</main>\n");
    out.push_str(&page_end(None));
    out
}

fn header(campaigns: &[Campaign], s: &Summary) -> String {
    let new = s.groups.iter().filter(|g| g.status == Status::New).count();
    format!(
        "<header>\n<h1>faultline review: {}</h1>\n<p class=\"totals\">{} campaigns · <b>{}</b> runs · \
<b>{}</b> failed ({}) · {} undecided · <b>{}</b> distinct problems ({} new) · {} simulated · {} wall clock</p>\n</header>\n",
        escape(&period(s)),
        campaigns.len(),
        s.totals.runs,
        s.totals.failures,
        percent(s.totals.failures, s.totals.runs),
        s.totals.unknown,
        s.groups.len(),
        new,
        hours(s.sim_ms),
        hours(s.wall_ms)
    )
}

fn status_badge(status: Status) -> String {
    let class = match status {
        Status::New => "new",
        Status::Open => "open",
        Status::NotSeenLately => "old",
    };
    format!("<span class=\"badge {class}\">{}</span>", status.word())
}

fn run_link(group: &FailureGroup, index: usize, out_path: &Path) -> String {
    let o = &group.occurrences[index];
    let label = format!("{} seed={}", o.run.row.scenario, o.run.row.seed);
    match o.run.html() {
        Some(html) => format!(
            "<a href=\"{}\">{}</a>",
            escape(&relative_url(out_path, &html)),
            escape(&label)
        ),
        None => format!("{} (no run folder)", escape(&label)),
    }
}

/// The problem's name: its signature, and the catalogued bug it looks like.
fn problem_cell(g: &FailureGroup, triage: &Triage) -> String {
    let s = &g.signature;
    let mut out = format!(
        "<span class=\"rule\">{}</span> <span class=\"class\" title=\"{}\">{}</span>",
        escape(&s.rule),
        escape(s.class.meaning()),
        escape(s.class.word())
    );
    let mut subject = Vec::new();
    if let Some(r) = &s.subject.request {
        subject.push(format!("{r} request"));
    }
    if let Some(site) = &s.subject.site {
        subject.push(format!("at {site}"));
    }
    if !subject.is_empty() {
        out.push_str(&format!(
            "<br><small>{}</small>",
            escape(&subject.join(", "))
        ));
    }
    if !g.also.is_empty() {
        let also: Vec<String> = g.also.iter().map(|a| a.to_string()).collect();
        out.push_str(&format!(
            "<br><small class=\"muted\">its runs also fail: {}</small>",
            escape(&also.join("; "))
        ));
    }
    if let Some(bug) = triage.looks_like(s) {
        out.push_str(&format!(
            "<br><span class=\"badge known\">looks like {}</span>",
            escape(&bug)
        ));
    }
    out
}

/// The smallest repro: the shrunk one when made, and the replay command.
fn repro_cell(g: &FailureGroup, triage: &Triage, out_path: &Path) -> String {
    let rep = g.representative();
    let mut out = format!("<code>{}</code>", escape(&rep.run.replay_command()));
    if let Some(path) = triage.shrink_of(&g.signature) {
        out.push_str(&format!(
            "<br><a class=\"shrunk\" href=\"{}\">shrunk repro</a> <code>faultline replay {}</code>",
            escape(&relative_url(out_path, &path)),
            escape(&path.display().to_string())
        ));
    }
    out
}

fn failures(s: &Summary, triage: &Triage, out_path: &Path) -> String {
    let mut out = String::from("<section id=\"failures\">\n<h2>Open problems</h2>\n");
    if s.groups.is_empty() {
        out.push_str("<p>No run failed.</p>\n</section>\n");
        return out;
    }
    out.push_str(
        "<p class=\"muted\">Failures with the same signature (rule, anomaly class, the request kind where it is the problem, and for exits and invariants the site; keys, values and event kinds left out) are one problem, one row. \
A run breaking several rules is filed under one violation: a broken invariant, a member exit or a panic first (the store naming what broke where), else the first in rule order; the others are listed as \"also fail\". \
Fault kinds are those on when the violation happened (counted per run; a run recorded before this shows the faults it applied); they do not split a problem. \
\"new\": first seen on the latest campaign day; \"open\": seen then and before; \"not seen lately\": not on the latest day.</p>\n\
<table class=\"failures\"><thead><tr><th>status</th><th>problem</th><th class=\"num\">runs</th>\
<th>scenarios</th><th>faults on at the violation</th><th>first seen</th><th>last seen</th><th>example (smallest run)</th><th>run reports</th><th>smallest repro</th></tr></thead><tbody>\n",
    );
    for g in &s.groups {
        let rep = g.representative();
        let rep_index = g
            .occurrences
            .iter()
            .position(|o| std::ptr::eq(o.run, rep.run))
            .unwrap_or(0);
        let mut links = vec![run_link(g, rep_index, out_path)];
        links.extend(
            (0..g.occurrences.len())
                .filter(|&i| i != rep_index)
                .take(MORE_LINKS)
                .map(|i| run_link(g, i, out_path)),
        );
        if g.occurrences.len() > MORE_LINKS + 1 {
            links.push(format!("+{} more", g.occurrences.len() - MORE_LINKS - 1));
        }
        let scenarios: Vec<&str> = g.scenarios().into_iter().collect();
        out.push_str(&format!(
            "<tr data-signature=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td><code>{}</code> {}</td><td>{}</td><td>{}</td></tr>\n",
            g.signature.id(),
            status_badge(g.status),
            problem_cell(g, triage),
            g.occurrences.len(),
            escape(&scenarios.join(", ")),
            escape(&g.fault_kinds_text()),
            g.first_seen,
            g.last_seen,
            escape(&g.first_difference),
            escape(&g.explanation),
            links.join("<br>"),
            repro_cell(g, triage, out_path)
        ));
    }
    out.push_str("</tbody></table>\n</section>\n");
    out
}

fn sorted_by_runs(map: &std::collections::BTreeMap<String, Tally>) -> Vec<(String, Tally)> {
    let mut rows: Vec<(String, Tally)> = map.iter().map(|(k, t)| (k.clone(), *t)).collect();
    rows.sort_by(|a, b| b.1.runs.cmp(&a.1.runs).then_with(|| a.0.cmp(&b.0)));
    rows
}

/// Each exploration's features and corpus entries after each run.
fn growth(campaigns: &[Campaign]) -> Vec<Growth> {
    campaigns
        .iter()
        .filter(|c| !c.explore.is_empty())
        .map(|c| {
            let points = c
                .explore
                .iter()
                .map(|r| (r.run, r.features_seen, r.corpus_size))
                .collect();
            (c.label(), points)
        })
        .collect()
}

fn plots(s: &Summary, campaigns: &[Campaign]) -> String {
    let mut out = String::from("<section id=\"plots\">\n<h2>Plots</h2>\n<div class=\"plots\">\n");
    let explorations = growth(campaigns);
    if !explorations.is_empty() {
        out.push_str(&growth_lines(
            "Explorations: distinct features (solid) and corpus entries (dashed) per run",
            &explorations,
        ));
    }
    out.push_str(&run_bars(
        "Runs and failures per scenario",
        &sorted_by_runs(&s.per_scenario),
    ));
    let days: Vec<(String, Tally)> = s.per_day.iter().map(|(d, t)| (d.to_string(), *t)).collect();
    out.push_str(&day_bars("Runs and failures per campaign day", &days));
    out.push_str(&run_bars(
        "Runs and failures per fault kind applied",
        &sorted_by_runs(&s.per_fault_kind),
    ));
    out.push_str(&run_bars(
        "Runs and failures per version mix",
        &sorted_by_runs(&s.per_version_mix),
    ));
    out.push_str("</div>\n");
    if s.without_coverage > 0 {
        out.push_str(&format!(
            "<p class=\"muted\">{} runs have no coverage row and are left out of the fault kind and version plots.</p>\n",
            s.without_coverage
        ));
    }
    out.push_str("</section>\n");
    out
}

/// A coverage table: known names first (in the given order), then names
/// seen but not known.
fn reach_table(
    title: &str,
    known: &[&str],
    reach: &std::collections::BTreeMap<String, Reach>,
    count_header: &str,
) -> String {
    let reached = known
        .iter()
        .filter(|n| reach.get(**n).is_some_and(|r| r.runs > 0))
        .count();
    let mut out = format!(
        "<h3>{} — {reached} of {} known reached</h3>\n<table><thead><tr><th>name</th><th class=\"num\">runs</th><th class=\"num\">{count_header}</th></tr></thead><tbody>\n",
        escape(title),
        known.len()
    );
    let extra = reach
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(String::as_str);
    for name in known.iter().copied().chain(extra) {
        let r = reach.get(name).copied().unwrap_or_default();
        let note = if known.contains(&name) {
            ""
        } else {
            " <span class=\"muted\">(not in the known list)</span>"
        };
        out.push_str(&format!(
            "<tr{}><td>{}{note}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            if r.runs == 0 { " class=\"gap\"" } else { "" },
            escape(name),
            r.runs,
            r.count
        ));
    }
    out.push_str("</tbody></table>\n");
    out
}

fn coverage(s: &Summary, known: &Known<'_>) -> String {
    let mut out = String::from(
        "<section id=\"coverage\">\n<h2>Coverage</h2>\n<p class=\"muted\">Highlighted rows were never reached in these campaigns.</p>\n",
    );
    // Failpoints and coverage points are the simulated store's: a
    // campaign of real etcd alone did not measure them.
    let store_table = |title: &str, known: &[&str], reach, count_header: &str| {
        if s.measures_store_coverage() {
            reach_table(title, known, reach, count_header)
        } else {
            format!("<h3>{title}</h3>\n<p class=\"muted\">{NOT_MEASURED}.</p>\n")
        }
    };
    out.push_str(&store_table(
        "Failpoints reached",
        known.failpoints,
        &s.failpoints,
        "times passed",
    ));
    out.push_str(&reach_table(
        "Fault kinds applied",
        known.fault_kinds,
        &s.fault_kinds,
        "times applied",
    ));
    out.push_str(&store_table(
        "Coverage points reached (the store's rare states)",
        known.points,
        &s.points,
        "times reached",
    ));
    let rules: Vec<&str> = checker::rules::rules().iter().map(|r| r.name).collect();
    let watch_rules: Vec<&str> = rules
        .iter()
        .copied()
        .filter(|r| r.starts_with("watch.") || r.starts_with("k8s.watch"))
        .collect();
    let others: Vec<&str> = rules
        .iter()
        .copied()
        .filter(|r| !watch_rules.contains(r))
        .collect();
    let watch_reach = s
        .rules
        .iter()
        .filter(|(k, _)| watch_rules.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let other_reach = s
        .rules
        .iter()
        .filter(|(k, _)| !watch_rules.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    out.push_str(&reach_table(
        "Watch rules exercised (decided pass or fail)",
        &watch_rules,
        &watch_reach,
        "runs failed",
    ));
    out.push_str(&reach_table(
        "Other rules exercised",
        &others,
        &other_reach,
        "runs failed",
    ));
    out.push_str("</section>\n");
    out
}

fn hunt_section(hunt: Option<&[HuntRow]>) -> String {
    let mut out = String::from("<section id=\"hunt\">\n<h2>Bug time to detect</h2>\n");
    let Some(rows) = hunt else {
        out.push_str("<p class=\"muted\">No hunt table was given.</p>\n</section>\n");
        return out;
    };
    let bars: Vec<HuntBar> = rows
        .iter()
        .map(|r| {
            (
                format!("{} ({})", r.bug, r.mode.word()),
                r.found,
                r.start_seeds,
                r.median_wall_s,
                r.worst_wall_s,
            )
        })
        .collect();
    out.push_str(&hunt_bars(
        "Wall-clock time to find each bug (bar: median, whisker: worst)",
        &bars,
    ));
    out.push_str("<table><thead><tr><th>bug</th><th>origin</th><th>hunt</th><th class=\"num\">found</th><th class=\"num\">median seeds</th>\
<th class=\"num\">median wall</th><th class=\"num\">worst wall</th><th>rule</th></tr></thead><tbody>\n");
    let num = |v: Option<f64>, unit: &str| {
        v.map(|x| format!("{x:.1}{unit}"))
            .unwrap_or_else(|| "–".into())
    };
    for r in rows {
        out.push_str(&format!(
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}/{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"rule\">{}</td></tr>\n",
            if r.found == 0 { " class=\"gap\"" } else { "" },
            escape(&r.bug),
            escape(if r.origin.is_empty() { "–" } else { &r.origin }),
            r.mode.word(),
            r.found,
            r.start_seeds,
            num(r.median_seeds, ""),
            num(r.median_wall_s, " s"),
            num(r.worst_wall_s, " s"),
            escape(&r.rule)
        ));
    }
    out.push_str("</tbody></table>\n</section>\n");
    out
}

fn campaign_table(campaigns: &[Campaign], out_path: &Path) -> String {
    let mut out = String::from(
        "<section id=\"campaigns\">\n<h2>Campaigns</h2>\n<table><thead><tr><th>campaign</th><th>started</th><th class=\"num\">seed</th>\
<th class=\"num\">runs</th><th class=\"num\">failed</th><th class=\"num\">undecided</th><th>folder</th></tr></thead><tbody>\n",
    );
    let mut warnings = Vec::new();
    for c in campaigns {
        let mut t = Tally::default();
        for row in &c.results {
            t.runs += 1;
            t.failures += usize::from(row.is_failure());
            t.unknown += usize::from(row.is_unknown());
        }
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>\n",
            escape(&c.label()),
            c.started,
            c.info.seed,
            t.runs,
            t.failures,
            t.unknown,
            escape(&relative_url(out_path, &c.dir))
        ));
        warnings.extend(c.warnings.iter().cloned());
    }
    out.push_str("</tbody></table>\n");
    if !warnings.is_empty() {
        out.push_str("<h3>Warnings</h3>\n<ul class=\"warnings\">\n");
        for w in warnings {
            out.push_str(&format!("<li>{}</li>\n", escape(&w)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}
