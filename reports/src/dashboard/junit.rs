//! JUnit XML for CI systems: one `<testsuite>` per scenario, one
//! `<testcase name="seed=N">` per run (` bugs=a+b` appended when bugs were
//! injected), a `<failure>` for each failed run whose type is the
//! signature of the problem it is filed under (`FailedRun::problem`) (so CI systems group failures by problem,
//! not by key) and whose body lists each violation with its signature,
//! `<skipped>` for an undecided one.

use std::collections::{BTreeMap, HashMap};

use super::campaign::{Campaign, FailedRun};
use crate::results::ResultRow;

/// Escapes text for XML attribute values (line breaks and tabs as
/// character references, so they survive attribute normalization).
fn xml(text: &str) -> String {
    escape(text, true)
}

/// Escapes text for XML element content (line breaks kept as they are).
fn xml_text(text: &str) -> String {
    escape(text, false)
}

/// Characters XML 1.0 cannot hold at all are written as `\u{..}`.
fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' if !attribute => out.push(c),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

struct Case<'a> {
    row: &'a ResultRow,
    failed: Option<&'a FailedRun>,
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Renders JUnit XML over every run of the campaigns.
pub fn render_junit(campaigns: &[Campaign]) -> String {
    let mut suites: BTreeMap<&str, Vec<Case>> = BTreeMap::new();
    for c in campaigns {
        // Indexed once: a search per row is quadratic on a large campaign.
        let by_run: HashMap<(&str, u64, &str), &FailedRun> = c
            .failures
            .iter()
            .map(|f| {
                (
                    (f.row.scenario.as_str(), f.row.seed, f.row.bugs.as_str()),
                    f,
                )
            })
            .collect();
        for row in &c.results {
            let failed = by_run
                .get(&(row.scenario.as_str(), row.seed, row.bugs.as_str()))
                .copied();
            suites
                .entry(row.scenario.as_str())
                .or_default()
                .push(Case { row, failed });
        }
    }
    let count =
        |cases: &[Case], pred: fn(&ResultRow) -> bool| cases.iter().filter(|c| pred(c.row)).count();
    let all: Vec<&Case> = suites.values().flatten().collect();
    let total_ms: u64 = all.iter().map(|c| c.row.wall_ms).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"faultline\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">\n",
        all.len(),
        all.iter().filter(|c| c.row.is_failure()).count(),
        all.iter().filter(|c| c.row.is_unknown()).count(),
        seconds(total_ms)
    );
    for (scenario, cases) in &suites {
        let ms: u64 = cases.iter().map(|c| c.row.wall_ms).sum();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">\n",
            xml(scenario),
            cases.len(),
            count(cases, ResultRow::is_failure),
            count(cases, ResultRow::is_unknown),
            seconds(ms)
        ));
        for case in cases {
            out.push_str(&testcase(case));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn testcase(case: &Case) -> String {
    let row = case.row;
    let mut name = format!("seed={}", row.seed);
    if !row.bugs.is_empty() {
        name.push_str(&format!(" bugs={}", row.bugs));
    }
    let open = format!(
        "    <testcase name=\"{}\" classname=\"faultline.{}\" time=\"{}\"",
        xml(&name),
        xml(&row.scenario),
        seconds(row.wall_ms)
    );
    if row.is_failure() {
        // A run without its folder is judged from its results row alone.
        let from_row;
        let run = match case.failed {
            Some(f) => f,
            None => {
                from_row = FailedRun {
                    row: row.clone(),
                    dir: None,
                    record: None,
                };
                &from_row
            }
        };
        let violations = run.violations();
        let (kind, explanation) = run
            .problem()
            .map(|(p, _)| (p.signature.to_string(), p.explanation))
            .unwrap_or_else(|| ("unknown-rule".into(), String::new()));
        let mut body = String::new();
        for p in &violations {
            body.push_str(&format!(
                "{}: {} (problem: {}; first differing operation: {})\n",
                p.signature.rule, p.explanation, p.signature, p.first_difference
            ));
        }
        if let Some(f) = case.failed {
            body.push_str(&format!("replay: {}\n", f.replay_command()));
            if let Some(html) = f.html() {
                body.push_str(&format!("report: {}\n", html.display()));
            }
        }
        // A real etcd run (`soak --target etcd`) has no trace to hash.
        if !row.trace_hash.is_empty() {
            body.push_str(&format!("trace hash: {}\n", row.trace_hash));
        }
        format!(
            "{open}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
            xml(&format!("{kind}: {explanation}")),
            xml(&kind),
            xml_text(&body)
        )
    } else if row.is_unknown() {
        format!(
            "{open}>\n      <skipped message=\"undecided: the checker could not decide every property (time or memory bound)\"/>\n    </testcase>\n"
        )
    } else {
        format!("{open}/>\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_xml_cannot_hold() {
        assert_eq!(
            xml("a<b&\"c'\n\u{1}"),
            "a&lt;b&amp;&quot;c&apos;&#10;\\u{1}"
        );
        assert_eq!(xml_text("a\nb\r\u{ffff}"), "a\nb&#13;\\u{ffff}");
    }

    #[test]
    fn a_failed_run_shows_its_trace_hash_when_it_has_one() {
        let mut row = ResultRow {
            scenario: "partitions".into(),
            seed: 3,
            verdict: checker::Overall::Fail,
            failed_rules: "linearizability".into(),
            bugs: String::new(),
            ops: 10,
            failed_ops: 0,
            watch_events: 0,
            faults: 1,
            sim_ms: 0,
            wall_ms: 15000,
            trace_hash: "295e8561df97ef1e".into(),
            not_applied: 0,
            classes: Default::default(),
        };
        let case = |row: &ResultRow| testcase(&Case { row, failed: None });
        assert!(case(&row).contains("trace hash: 295e8561df97ef1e\n"));
        // A real etcd run has none: no empty line for it.
        row.trace_hash.clear();
        assert!(!case(&row).contains("trace hash"), "{}", case(&row));
    }
}
