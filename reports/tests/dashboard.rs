//! The dashboard over generated campaign folders: a few nightly campaigns
//! on different days (one sharded, one with a torn results line), some
//! failing runs with run folders (and one without).

mod support;

use reports::dashboard::{Triage, load_campaigns, render_html, render_junit, render_markdown};
use support::campaigns::{KNOWN, NASTY, fortnight, generate, hunt};

/// Every `href="..."` of a page.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("utf-8");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn campaigns_load_oldest_first_with_warnings() {
    let root = tempfile::tempdir().expect("temp dir");
    let campaigns = load_campaigns(&generate(root.path())).expect("load");
    let names: Vec<String> = campaigns.iter().map(|c| c.label()).collect();
    assert_eq!(
        names,
        [
            "nightly-03-01",
            "nightly-03-02 [1/2]",
            "nightly-03-02 [2/2]"
        ]
    );
    assert_eq!(campaigns[2].results.len(), 2, "the torn row is skipped");
    assert!(
        campaigns[2]
            .warnings
            .iter()
            .any(|w| w.contains("results.csv:4") && w.contains("torn"))
    );
    assert!(
        campaigns[1]
            .warnings
            .iter()
            .any(|w| w.contains("no run folder"))
    );
    assert_eq!(campaigns.iter().map(|c| c.failures.len()).sum::<usize>(), 5);
}

#[test]
fn the_html_dashboard_has_plots_and_links_that_resolve() {
    let root = tempfile::tempdir().expect("temp dir");
    let campaigns = load_campaigns(&generate(root.path())).expect("load");
    let out_path = root.path().join("review").join("dashboard.html");
    std::fs::create_dir_all(root.path().join("review")).expect("output folder");
    let hunt = hunt(root.path());
    let html = render_html(
        &campaigns,
        Some(&hunt),
        &KNOWN,
        &Triage::default(),
        &out_path,
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external URLs"
    );
    assert!(
        html.matches("<svg").count() >= 5,
        "four plots and the hunt chart"
    );
    assert!(html.contains("Runs and failures per scenario"));
    assert!(html.contains("Runs and failures per campaign day"));
    assert!(html.contains("3.5 + 3.6"), "the version mix");
    // Links to run reports resolve from where the dashboard is written.
    let report_links: Vec<String> = hrefs(&html)
        .into_iter()
        .filter(|h| h.ends_with("report.html"))
        .collect();
    assert_eq!(report_links.len(), 4, "{report_links:?}");
    for link in &report_links {
        assert!(link.starts_with("../"), "{link}");
        let target = out_path
            .parent()
            .expect("parent")
            .join(percent_decode(link));
        assert!(
            target.is_file(),
            "{link} does not resolve ({})",
            target.display()
        );
    }
    // Grouped by signature: the two linearizability failures are one row.
    assert_eq!(
        html.matches("<span class=\"rule\">linearizability</span> <span class=\"class\"")
            .count(),
        1
    );
    assert!(
        html.contains(">not-linearizable</span>"),
        "the class is shown"
    );
    assert!(html.contains("<code>range /a</code>"));
    assert!(html.contains("<td class=\"num\">2</td>"));
    // Coverage: known but never reached, and seen but not known.
    assert!(html.contains("1 of 4 known reached"), "failpoints");
    assert!(html.contains("customPoint <span class=\"muted\">(not in the known list)</span>"));
    assert!(html.contains("3 of 5 known reached"), "fault kinds");
    assert!(html.contains("1 of 3 known reached"), "coverage points");
    assert!(html.contains("etcd-17247") && html.contains("not found (0/5)"));
    assert!(
        html.contains("<td>etcd #15271</td>"),
        "the bug table's origin is shown"
    );
    assert!(html.contains("torn"), "warnings are shown");
    assert!(!html.contains(NASTY), "unescaped text");
    assert!(html.contains(" &lt;&amp;&gt;&quot;&#39; \\u{1}\\u{0}"));
}

#[test]
fn the_markdown_summary_has_totals_failures_and_gaps() {
    let root = tempfile::tempdir().expect("temp dir");
    let campaigns = load_campaigns(&generate(root.path())).expect("load");
    let md = render_markdown(
        &campaigns,
        Some(&hunt(root.path())),
        &KNOWN,
        &Triage::default(),
    );
    assert!(
        md.starts_with("# faultline review: 2025-03-01 – 2025-03-02\n"),
        "{md}"
    );
    assert!(md.contains("- Campaigns: 3\n"));
    assert!(md.contains("- Runs: 9\n"), "{md}");
    assert!(md.contains("- Failed: 5 (55.6%)\n"), "{md}");
    assert!(
        md.contains("- Distinct problems: 4 (2 new, 1 open)\n"),
        "{md}"
    );
    assert!(md.contains("## New problems"));
    assert!(md.contains("## Open problems"));
    assert!(md.contains("## Problems not seen lately"));
    assert!(
        md.contains("`faultline replay --scenario default --seed 11`"),
        "{md}"
    );
    assert!(md.contains("Failpoints never reached (3 of 4)"), "{md}");
    assert!(
        md.contains("Coverage points never reached (2 of 3): `wal.segment-cut`, `snapshot.sent`"),
        "{md}"
    );
    assert!(md.contains("`clock`"), "fault kinds never applied");
    assert!(
        md.contains("| etcd-15271 | etcd #15271 | blind | 0/5 |"),
        "{md}"
    );
}

/// Marks a campaign folder's runs as real etcd's, as `soak --target etcd`
/// writes its `campaign.json` (the binary and version beside the kind).
fn mark_real(dir: &std::path::Path) {
    let path = dir.join("campaign.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    json["target"] =
        serde_json::json!({"kind": "etcd", "binary": "/usr/bin/etcd", "version": "3.4.23"});
    std::fs::write(&path, json.to_string()).expect("write");
}

#[test]
fn real_etcd_campaigns_do_not_list_every_store_coverage_point_as_a_gap() {
    let root = tempfile::tempdir().expect("temp dir");
    let dirs = generate(root.path());
    // One real campaign among simulated ones: the gaps are the simulated runs'.
    mark_real(&dirs[0]);
    let campaigns = load_campaigns(&dirs).expect("load");
    assert_eq!(
        campaigns
            .iter()
            .filter(|c| c.info.runs_on() == reports::dashboard::RunsOn::Etcd)
            .count(),
        1
    );
    let md = render_markdown(&campaigns, None, &KNOWN, &Triage::default());
    assert!(md.contains("Failpoints never reached"), "{md}");
    // Every campaign real: failpoints and coverage points were not measured.
    for dir in &dirs[1..] {
        mark_real(dir);
    }
    let campaigns = load_campaigns(&dirs).expect("load");
    let md = render_markdown(&campaigns, None, &KNOWN, &Triage::default());
    let not_measured = "not measured: every run was against real etcd, which reports no failpoint or coverage point";
    assert!(
        md.contains(&format!("- Failpoints: {not_measured}\n")),
        "{md}"
    );
    assert!(
        md.contains(&format!("- Coverage points: {not_measured}\n")),
        "{md}"
    );
    assert!(!md.contains("never reached"), "{md}");
    assert!(md.contains("Fault kinds never applied"), "{md}");
    let html = render_html(
        &campaigns,
        None,
        &KNOWN,
        &Triage::default(),
        &root.path().join("d.html"),
    );
    assert!(html.contains(not_measured), "the page says so too");
    assert!(
        !html.contains("Failpoints reached —"),
        "no table of failpoints"
    );
}

#[test]
fn the_junit_xml_is_valid_and_complete() {
    let root = tempfile::tempdir().expect("temp dir");
    let campaigns = load_campaigns(&generate(root.path())).expect("load");
    let xml = render_junit(&campaigns);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(suites.attribute("tests"), Some("9"));
    assert_eq!(suites.attribute("failures"), Some("5"));
    let suite_names: Vec<&str> = suites
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(suite_names, ["default", "partitions", "rolling-upgrade"]);
    let mut cases = 0;
    let mut failures = 0;
    for suite in suites.children().filter(|n| n.has_tag_name("testsuite")) {
        let tests: usize = suite
            .attribute("tests")
            .and_then(|t| t.parse().ok())
            .expect("tests");
        let listed: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(tests, listed.len());
        for case in listed {
            cases += 1;
            let name = case.attribute("name").expect("name");
            assert!(name.starts_with("seed="), "{name}");
            if let Some(f) = case.children().find(|n| n.has_tag_name("failure")) {
                failures += 1;
                let message = f.attribute("message").expect("message");
                assert!(f.attribute("type").is_some_and(|t| message.starts_with(t)));
                assert!(
                    f.text()
                        .is_some_and(|t| t.contains("replay: faultline replay"))
                        || name == "seed=13"
                );
            }
        }
    }
    assert_eq!((cases, failures), (9, 5));
    let lin = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("seed=2"))
        .and_then(|n| n.children().find(|c| c.has_tag_name("failure")))
        .expect("seed=2 failed");
    let unique = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("seed=4"))
        .and_then(|n| n.children().find(|c| c.has_tag_name("failure")))
        .and_then(|f| f.attribute("message"))
        .expect("seed=4 failed");
    assert!(
        unique.ends_with(" <&>\"' \\u{1}\\u{0}\\u{ffff}"),
        "{unique:?}"
    );
    assert_eq!(
        lin.attribute("message"),
        Some(
            format!(
                "linearizability · not-linearizable: {}",
                support::LIN_EXPLANATION
            )
            .as_str()
        )
    );
}

#[test]
fn a_campaign_folder_with_a_bad_file_is_refused_naming_it() {
    let root = tempfile::tempdir().expect("temp dir");
    let dirs = generate(root.path());
    std::fs::write(
        dirs[1].join("campaign.json"),
        "{\"name\":\"x\",\"started\":\"yesterday\",\"seed\":1,\"shard\":null}",
    )
    .expect("write");
    let err = load_campaigns(&dirs).expect_err("bad start time");
    assert!(err.to_string().contains("campaign.json"), "{err}");
    assert!(err.to_string().contains("field started"), "{err}");
    let err = load_campaigns(&[root.path().join("nowhere")]).expect_err("no folder");
    assert!(err.to_string().contains("nowhere"), "{err}");
}

/// The review meeting's input: two weeks of nightly campaigns.
#[test]
fn a_fortnight_of_campaigns_in_one_dashboard() {
    let root = tempfile::tempdir().expect("temp dir");
    let campaigns = load_campaigns(&fortnight(root.path())).expect("load");
    assert_eq!(campaigns.len(), 14);
    let md = render_markdown(&campaigns, None, &KNOWN, &Triage::default());
    assert!(
        md.starts_with("# faultline review: 2025-03-01 – 2025-03-14\n"),
        "{md}"
    );
    assert!(md.contains("- Campaigns: 14\n"), "{md}");
    assert!(md.contains("- Runs: 280\n"), "{md}");
    assert!(md.contains("- Failed: 22 (7.9%)\n"), "{md}");
    assert!(
        md.contains("- Distinct problems: 3 (1 new, 1 open)\n"),
        "{md}"
    );
    let out_path = root.path().join("dashboard.html");
    let html = render_html(&campaigns, None, &KNOWN, &Triage::default(), &out_path);
    assert!(html.contains("Runs and failures per campaign day"));
    for day in 1..=14 {
        assert!(html.contains(&format!("03-{day:02}")), "day {day} missing");
    }
}

#[test]
fn an_exploration_gets_its_corpus_growth_plotted_and_summed_up() {
    let root = tempfile::tempdir().expect("temp dir");
    let dirs = generate(root.path());
    let explored = dirs
        .iter()
        .find(|d| d.ends_with("nightly-03-01"))
        .expect("the first night");
    let mut log = reports::ExploreWriter::open(explored.join(reports::EXPLORE_FILE)).expect("open");
    for (run, features, corpus) in [(0u64, 40u64, 1u64), (1, 52, 2), (2, 52, 2)] {
        log.append(&reports::ExploreRow {
            run,
            scenario: "default".into(),
            seed: run,
            scenario_hash: "0".into(),
            parent: run.checked_sub(1),
            mutations: Vec::new(),
            verdict: checker::Overall::Pass,
            failed_rules: Vec::new(),
            ops: 100,
            features: Vec::new(),
            new_features: Vec::new(),
            kept: run < 2,
            corpus_size: corpus,
            features_seen: features,
        })
        .expect("append");
    }
    let campaigns = load_campaigns(&dirs).expect("load");
    let html = render_html(
        &campaigns,
        None,
        &KNOWN,
        &Triage::default(),
        &root.path().join("d.html"),
    );
    assert!(
        html.contains("Explorations: distinct features"),
        "the growth plot"
    );
    assert_eq!(
        html.matches("class=\"growth ").count(),
        2,
        "features and corpus lines"
    );
    assert!(html.contains("nightly-03-01: 52 features, 2 kept"));
    let md = reports::dashboard::render_markdown(&campaigns, None, &KNOWN, &Triage::default());
    assert!(
        md.contains(
            "- Exploration nightly-03-01: 3 runs, 52 distinct features, 2 kept in its corpus"
        ),
        "{md}"
    );
    // A soak has no growth plot.
    let soaks: Vec<_> = campaigns
        .into_iter()
        .filter(|c| c.explore.is_empty())
        .collect();
    let html = render_html(
        &soaks,
        None,
        &KNOWN,
        &Triage::default(),
        &root.path().join("d.html"),
    );
    assert!(!html.contains("Explorations:"));
}

/// The meeting's questions: what is new, what went away, which known bug
/// a problem looks like, and where its shrunk repro is.
#[test]
fn the_fortnight_says_what_changed_and_names_known_bugs_and_shrinks() {
    use checker::{Anomaly, Signature};
    let root = tempfile::tempdir().expect("temp dir");
    let campaigns = load_campaigns(&fortnight(root.path())).expect("load");
    let shrinks = root.path().join("shrinks");
    std::fs::create_dir_all(&shrinks).expect("shrinks folder");
    let bookmarks = Signature::bare("k8s.bookmarks", Anomaly::BookmarkAhead);
    std::fs::write(
        reports::dashboard::shrink_path(&shrinks, &bookmarks),
        "# a shrunk repro\n",
    )
    .expect("shrink");
    let triage = Triage {
        known_bugs: vec![(
            "etcd-17247".into(),
            Signature::bare("watch.unique", Anomaly::DuplicateEvent),
        )],
        shrinks_dir: Some(shrinks.clone()),
    };
    let md = render_markdown(&campaigns, None, &KNOWN, &triage);
    let changed = md
        .find("## What changed since the last review")
        .expect("the section");
    assert!(changed < md.find("- Campaigns:").expect("totals"), "{md}");
    assert!(
        md.contains("- New problems:\n  - `k8s.bookmarks · bookmark-ahead`: 1 runs"),
        "{md}"
    );
    assert!(
        md.contains("- Problems gone (not on the latest day):\n  - `linearizability · not-linearizable`: 7 runs"),
        "{md}"
    );
    assert!(
        md.contains("`watch.unique · duplicate-event` (looks like etcd-17247)"),
        "{md}"
    );
    assert!(md.contains("faultline replay "), "{md}");
    // Fault kinds are shown with how many of the problem's runs had them on at the violation.
    assert!(md.contains("| kill (14), partition (14) |"), "{md}");
    let out_path = root.path().join("dashboard.html");
    let html = render_html(&campaigns, None, &KNOWN, &triage, &out_path);
    assert!(html.contains("looks like etcd-17247"));
    let link = html
        .split("<a class=\"shrunk\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a shrunk repro link");
    assert!(root.path().join(link).is_file(), "{link}");
    assert_eq!(html.matches("class=\"shrunk\"").count(), 1);
    // Without the shrinks folder there is no link.
    let html = render_html(&campaigns, None, &KNOWN, &Triage::default(), &out_path);
    assert!(!html.contains("class=\"shrunk\""));
}
