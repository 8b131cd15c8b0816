//! The meeting summary in Markdown: what changed since the last review
//! (new problems, problems gone, rates that moved), totals, the problems
//! by status with their smallest repros, coverage gaps and the hunt table.

use super::campaign::Campaign;
use super::changes::{MOVED_FACTOR, changes};
use super::hunt::HuntRow;
use super::page::{hours, percent, period};
use super::stats::{FailureGroup, Status, Summary, summarize};
use super::stats::{Known, NOT_MEASURED};
use super::triage::Triage;

/// Control characters as `\u{..}`, line breaks as spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => " ".to_string(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    one_line(&text.replace('\\', "\\\\").replace('|', "\\|"))
}

/// Text safe inside inline code in a table (a longer fence when it holds backticks).
fn code(text: &str) -> String {
    let text = one_line(&text.replace('|', "\\|"));
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Renders the meeting summary.
pub fn render_markdown(
    campaigns: &[Campaign],
    hunt: Option<&[HuntRow]>,
    known: &Known<'_>,
    triage: &Triage,
) -> String {
    let s = summarize(campaigns, known);
    let mut out = format!("# faultline review: {}\n\n", period(&s));
    out.push_str(&what_changed(&s, triage));
    out.push_str(&totals(campaigns, &s));
    out.push_str(&failures(&s, triage));
    out.push_str(&per_scenario(&s));
    out.push_str(&gaps(&s, known));
    out.push_str(&hunt_table(hunt));
    out
}

fn totals(campaigns: &[Campaign], s: &Summary) -> String {
    let new = s.groups.iter().filter(|g| g.status == Status::New).count();
    let open = s.groups.iter().filter(|g| g.status == Status::Open).count();
    let mut out = format!(
        "- Campaigns: {}\n- Runs: {}\n- Failed: {} ({})\n- Undecided: {}\n- Distinct problems: {} ({new} new, {open} open)\n- Simulated: {}, wall clock: {}\n\n",
        campaigns.len(),
        s.totals.runs,
        s.totals.failures,
        percent(s.totals.failures, s.totals.runs),
        s.totals.unknown,
        s.groups.len(),
        hours(s.sim_ms),
        hours(s.wall_ms)
    );
    for c in campaigns.iter().filter(|c| !c.explore.is_empty()) {
        let last = c
            .explore
            .last()
            .map_or((0, 0), |r| (r.features_seen, r.corpus_size));
        out.push_str(&format!(
            "- Exploration {}: {} runs, {} distinct features, {} kept in its corpus\n",
            cell(&c.label()),
            c.explore.len(),
            last.0,
            last.1
        ));
    }
    if campaigns.iter().any(|c| !c.explore.is_empty()) {
        out.push('\n');
    }
    let warnings: usize = campaigns.iter().map(|c| c.warnings.len()).sum();
    if warnings > 0 {
        out.push_str(&format!(
            "{warnings} warnings (torn lines, missing run folders): see the HTML dashboard.\n\n"
        ));
    }
    out
}

/// A problem's name for the notes: its signature, and the bug it looks like.
fn problem(g: &FailureGroup, triage: &Triage) -> String {
    match triage.looks_like(&g.signature) {
        Some(bug) => format!("{} (looks like {bug})", code(&g.signature.to_string())),
        None => code(&g.signature.to_string()),
    }
}

/// A problem with the other problems its runs also showed.
fn problem_with_also(g: &FailureGroup, triage: &Triage) -> String {
    let mut out = problem(g, triage);
    if !g.also.is_empty() {
        let also: Vec<String> = g.also.iter().map(|a| a.to_string()).collect();
        out.push_str(&format!(" — also fail: {}", cell(&also.join("; "))));
    }
    out
}

/// The section the meeting starts with: the latest campaign day against
/// the earlier campaigns given.
fn what_changed(s: &Summary, triage: &Triage) -> String {
    let c = changes(s);
    let mut out = String::from("## What changed since the last review\n\n");
    if !c.has_previous {
        out.push_str(
            "No earlier campaign was given to compare with: every problem below is new.\n\n",
        );
        return out;
    }
    let list = |title: &str, groups: &[&FailureGroup], out: &mut String| {
        if groups.is_empty() {
            out.push_str(&format!("- {title}: none\n"));
            return;
        }
        out.push_str(&format!("- {title}:\n"));
        for g in groups {
            out.push_str(&format!(
                "  - {}: {} runs, last seen {}\n",
                problem(g, triage),
                g.occurrences.len(),
                g.last_seen.day()
            ));
        }
    };
    list("New problems", &c.new, &mut out);
    list("Problems gone (not on the latest day)", &c.gone, &mut out);
    if c.moved.is_empty() {
        out.push_str(&format!(
            "- Problems whose rate moved ({MOVED_FACTOR}× or more): none\n"
        ));
    } else {
        out.push_str(&format!(
            "- Problems whose rate moved ({MOVED_FACTOR}× or more):\n"
        ));
        for m in &c.moved {
            out.push_str(&format!(
                "  - {}: {} of runs before, {} on the latest day\n",
                problem(m.group, triage),
                rate(m.before),
                rate(m.now)
            ));
        }
    }
    out.push('\n');
    out
}

fn rate(r: f64) -> String {
    format!("{:.2}%", 100.0 * r)
}

fn failures(s: &Summary, triage: &Triage) -> String {
    let mut out = String::new();
    for (status, title) in [
        (Status::New, "New problems"),
        (Status::Open, "Open problems"),
        (Status::NotSeenLately, "Problems not seen lately"),
    ] {
        let groups: Vec<_> = s.groups.iter().filter(|g| g.status == status).collect();
        if groups.is_empty() {
            continue;
        }
        out.push_str(&format!("## {title}\n\n"));
        out.push_str("| problem | runs | scenarios | faults on at the violation | last seen | example (smallest run) | replay | shrunk repro |\n|---|---:|---|---|---|---|---|---|\n");
        for g in groups {
            let rep = g.representative();
            let scenarios: Vec<&str> = g.scenarios().into_iter().collect();
            let shrunk = triage
                .shrink_of(&g.signature)
                .map(|p| code(&format!("faultline replay {}", p.display())))
                .unwrap_or_else(|| "–".to_string());
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} {} | {} | {} |\n",
                problem_with_also(g, triage),
                g.occurrences.len(),
                cell(&scenarios.join(", ")),
                cell(&g.fault_kinds_text()),
                g.last_seen.day(),
                code(&g.first_difference),
                cell(&g.explanation),
                code(&rep.run.replay_command()),
                shrunk
            ));
        }
        out.push('\n');
    }
    if s.groups.is_empty() {
        out.push_str("## Problems\n\nNo run failed.\n\n");
    }
    out
}

fn per_scenario(s: &Summary) -> String {
    let mut out = String::from(
        "## Runs per scenario\n\n| scenario | runs | failed | undecided |\n|---|---:|---:|---:|\n",
    );
    for (name, t) in &s.per_scenario {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            cell(name),
            t.runs,
            t.failures,
            t.unknown
        ));
    }
    out.push('\n');
    out
}

fn gaps(s: &Summary, known: &Known<'_>) -> String {
    let never = |known: &[&str],
                 reach: &std::collections::BTreeMap<String, super::stats::Reach>| {
        known
            .iter()
            .filter(|n| reach.get(**n).is_none_or(|r| r.runs == 0))
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };
    let failpoints = never(known.failpoints, &s.failpoints);
    let kinds = never(known.fault_kinds, &s.fault_kinds);
    let points = never(known.points, &s.points);
    let rule_names: Vec<&str> = checker::rules::rules().iter().map(|r| r.name).collect();
    let rules = never(&rule_names, &s.rules);
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.iter().map(|n| code(n)).collect::<Vec<_>>().join(", ")
        }
    };
    let store = |what: &str, never: &[String], of: usize| {
        if s.measures_store_coverage() {
            format!(
                "- {what} never reached ({} of {of}): {}\n",
                never.len(),
                list(never)
            )
        } else {
            format!("- {what}: {NOT_MEASURED}\n")
        }
    };
    format!(
        "## Coverage gaps\n\n{}- Fault kinds never applied ({} of {}): {}\n{}- Rules never decided ({} of {}): {}\n\n",
        store("Failpoints", &failpoints, known.failpoints.len()),
        kinds.len(),
        known.fault_kinds.len(),
        list(&kinds),
        store("Coverage points", &points, known.points.len()),
        rules.len(),
        rule_names.len(),
        list(&rules)
    )
}

fn hunt_table(hunt: Option<&[HuntRow]>) -> String {
    let Some(rows) = hunt else {
        return String::new();
    };
    let mut out = String::from(
        "## Bug time to detect\n\n| bug | origin | hunt | found | median seeds | median wall | worst wall | rule |\n|---|---|---|---:|---:|---:|---:|---|\n",
    );
    let num = |v: Option<f64>, unit: &str| {
        v.map(|x| format!("{x:.1}{unit}"))
            .unwrap_or_else(|| "–".into())
    };
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {}/{} | {} | {} | {} | {} |\n",
            cell(&r.bug),
            cell(if r.origin.is_empty() {
                "–"
            } else {
                &r.origin
            }),
            r.mode.word(),
            r.found,
            r.start_seeds,
            num(r.median_seeds, ""),
            num(r.median_wall_s, " s"),
            num(r.worst_wall_s, " s"),
            cell(&r.rule)
        ));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_stay_on_one_line() {
        assert_eq!(cell("a|b\nc\0"), "a\\|b c\\u{0}");
        assert_eq!(code("x`y"), "`` x`y ``");
        assert_eq!(code("put /a|b"), "`put /a\\|b`");
    }
}
