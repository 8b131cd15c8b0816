//! report.html in headless Chromium: the page loads without a console
//! message (errors, failed fetches and policy violations are all reported
//! there), its script runs to the end, and the rendered page shows the
//! violations and the replay command.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`; ci/test.sh
//! installs it). Without it the test fails and says so. Set
//! `FAULTLINE_CHROMIUM` to use another binary.

mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("FAULTLINE_CHROMIUM") {
        return PathBuf::from(path);
    }
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "Chromium is not installed: the report.html browser test needs it. \
         Install Debian's package with `apt-get install -y chromium` (ci/test.sh does this), \
         or point FAULTLINE_CHROMIUM at a Chromium binary."
    );
}

/// What the browser made of a page.
struct Loaded {
    /// The DOM after scripts ran (`--dump-dom`).
    dom: String,
    /// Console messages from the page (any level).
    console: Vec<String>,
    elapsed: Duration,
}

fn load(page: &Path) -> Loaded {
    let work = tempfile::tempdir().expect("temp dir");
    let stdout_path = work.path().join("dom.html");
    let stderr_path = work.path().join("stderr.txt");
    let url = format!(
        "file://{}",
        page.canonicalize().expect("page path").display()
    );
    let started = Instant::now();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.path().join("profile").display()
        ))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading {url} within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let dom = std::fs::read_to_string(&stdout_path).expect("dom");
    let stderr = std::fs::read_to_string(&stderr_path).expect("stderr");
    assert!(
        status.success() && !dom.is_empty(),
        "chromium failed on {url} ({status}):\n{stderr}"
    );
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    Loaded {
        dom,
        console,
        elapsed,
    }
}

/// Text as `--dump-dom` serializes a text node.
fn text_node(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn the_run_report_loads_cleanly_and_shows_the_violations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = support::small_run();
    reports::write_run(dir.path(), &run).expect("write run");
    let page = dir.path().join("report.html");
    let loaded = load(&page);
    assert!(
        loaded.console.is_empty(),
        "console messages:\n{}",
        loaded.console.join("\n")
    );
    assert!(
        loaded.dom.contains("data-ready=\"1\""),
        "the page's script did not run to its end"
    );
    for rule in ["linearizability", "watch.unique", "watch.reliable"] {
        assert!(
            loaded
                .dom
                .contains(&format!("<span class=\"rule\">{rule}</span>")),
            "{rule} is not shown"
        );
    }
    for explanation in [
        support::LIN_EXPLANATION,
        support::UNIQUE_EXPLANATION,
        support::RELIABLE_EXPLANATION,
    ] {
        assert!(
            loaded.dom.contains(&text_node(explanation)),
            "explanation not shown: {explanation}"
        );
    }
    // Each violation's anomaly class and problem signature.
    assert!(
        loaded
            .dom
            .contains("Class: <span class=\"class\">duplicate-event</span>")
    );
    assert!(
        loaded
            .dom
            .contains("<code class=\"signature\">watch.reliable · missing-event</code>")
    );
    assert!(loaded.dom.contains(&format!(
        "<code id=\"replay-cmd\">{}</code>",
        text_node(support::REPLAY)
    )));
    // The operations involved are drawn and highlighted, the missing and
    // duplicated watch events marked.
    assert!(
        loaded
            .dom
            .contains("class=\"op ok involved stuck\" id=\"op-5\"")
    );
    assert!(loaded.dom.contains("<b class=\"tag\">missing</b>"));
    assert!(loaded.dom.contains("<b class=\"tag\">duplicate</b>"));
}

#[test]
fn the_harness_sees_console_errors() {
    // The check above is only worth something if a broken page fails it.
    let dir = tempfile::tempdir().expect("temp dir");
    let html = reports::run_report::render(&support::small_run()).replace(
        "</body>",
        "<script>console.error('planted'); missingFunction();</script></body>",
    );
    let page = dir.path().join("broken.html");
    std::fs::write(&page, html).expect("write");
    let loaded = load(&page);
    assert!(
        loaded.console.iter().any(|l| l.contains("planted")),
        "console.error not seen: {:?}",
        loaded.console
    );
    assert!(
        loaded.console.iter().any(|l| l.contains("missingFunction")),
        "uncaught error not seen: {:?}",
        loaded.console
    );
    // A fetch the page's policy forbids is reported too.
    let fetching = reports::run_report::render(&support::small_run()).replace(
        "</body>",
        "<img src=\"https://example.invalid/x.png\"></body>",
    );
    std::fs::write(&page, fetching).expect("write");
    let loaded = load(&page);
    assert!(
        !loaded.console.is_empty(),
        "a blocked fetch left no console message"
    );
}

#[test]
fn a_two_thousand_operation_report_loads_quickly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = support::large_run(2_000, 10, 50);
    let html = reports::run_report::render(&run);
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).expect("write");
    let loaded = load(&page);
    assert!(
        loaded.console.is_empty(),
        "console messages:\n{}",
        loaded.console.join("\n")
    );
    assert!(loaded.dom.contains("data-ready=\"1\""));
    assert!(loaded.dom.contains("id=\"op-2000\""));
    eprintln!(
        "report.html of 2,000 operations and 50 watches: {} bytes, loaded in {:?}",
        html.len(),
        loaded.elapsed
    );
    assert!(loaded.elapsed < Duration::from_secs(60));
}

/// The dashboard in a browser: failures on different keys are one problem
/// row, the row names the catalogued bug it looks like, and its shrunk
/// repro link resolves.
#[test]
fn the_dashboard_shows_one_row_per_problem_with_a_shrunk_repro_link() {
    use checker::{Anomaly, Signature};
    use reports::dashboard::{Triage, load_campaigns, render_html, shrink_path};
    let root = tempfile::tempdir().expect("temp dir");
    let campaigns =
        load_campaigns(&support::campaigns::keys_apart(root.path())).expect("load campaigns");
    let shrinks = root.path().join("shrinks");
    std::fs::create_dir_all(&shrinks).expect("shrinks folder");
    let stale = Signature::bare("linearizability", Anomaly::NotLinearizable);
    std::fs::write(shrink_path(&shrinks, &stale), "# shrunk\n").expect("shrink");
    let triage = Triage {
        known_bugs: vec![(
            "etcd-17247".into(),
            Signature::bare("watch.unique", Anomaly::DuplicateEvent),
        )],
        shrinks_dir: Some(shrinks),
    };
    let page = root.path().join("dashboard.html");
    let html = render_html(&campaigns, None, &support::campaigns::KNOWN, &triage, &page);
    std::fs::write(&page, html).expect("write dashboard");
    let loaded = load(&page);
    assert!(
        loaded.console.is_empty(),
        "console messages:\n{}",
        loaded.console.join("\n")
    );
    let rows: Vec<&str> = loaded
        .dom
        .split("<tr data-signature=\"")
        .skip(1)
        .map(|r| r.split("</tr>").next().unwrap_or(""))
        .collect();
    assert_eq!(rows.len(), 2, "two problems, one row each:\n{}", loaded.dom);
    let lin = rows
        .iter()
        .find(|r| r.contains("<span class=\"rule\">linearizability</span>"))
        .expect("the linearizability row");
    assert!(
        lin.contains("<td class=\"num\">2</td>"),
        "both runs in it: {lin}"
    );
    let href = lin
        .split("<a class=\"shrunk\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a shrunk repro link");
    assert!(root.path().join(href).is_file(), "{href} does not resolve");
    let unique = rows
        .iter()
        .find(|r| r.contains("<span class=\"rule\">watch.unique</span>"))
        .expect("the watch.unique row");
    assert!(unique.contains("looks like etcd-17247"), "{unique}");
    assert!(!unique.contains("class=\"shrunk\""), "not shrunk: no link");
}
