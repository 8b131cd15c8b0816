//! Writes the test suite's synthetic runs and campaigns, to look at the
//! reports in a browser: `cargo run -p reports --release --example
//! sample_report -- DIR` leaves `DIR/small/` and `DIR/large/` run folders
//! (the large one has 2,000 operations and 50 watches), generated campaign
//! folders under `DIR/campaigns/`, and `DIR/review/dashboard.html`,
//! `summary.md` and `junit.xml`; it prints each report's size and render time.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::Instant;

use reports::dashboard::{Triage, load_campaigns, render_html, render_junit, render_markdown};
use support::campaigns::{KNOWN, generate, hunt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: sample_report DIR (where to write the samples)")?,
    );
    for (name, run) in [
        ("small", support::small_run()),
        ("large", support::large_run(2_000, 10, 50)),
    ] {
        let started = Instant::now();
        let html = reports::run_report::render(&run);
        let render = started.elapsed();
        let dir = out.join(name);
        reports::write_run(&dir, &run)?;
        println!(
            "{}: {} operations, {} watches: report.html {} bytes, rendered in {:.1} ms",
            dir.display(),
            run.history.operations.len(),
            run.history.watches.len(),
            html.len(),
            render.as_secs_f64() * 1e3
        );
    }
    let root = out.join("campaigns");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    let campaigns = load_campaigns(&generate(&root))?;
    let hunt = hunt(&root);
    let review = out.join("review");
    std::fs::create_dir_all(&review)?;
    let html_path = review.join("dashboard.html");
    std::fs::write(
        &html_path,
        render_html(
            &campaigns,
            Some(&hunt),
            &KNOWN,
            &Triage::default(),
            &html_path,
        ),
    )?;
    std::fs::write(
        review.join("summary.md"),
        render_markdown(&campaigns, Some(&hunt), &KNOWN, &Triage::default()),
    )?;
    std::fs::write(review.join("junit.xml"), render_junit(&campaigns))?;
    println!("{}: dashboard, summary.md, junit.xml", review.display());
    Ok(())
}
