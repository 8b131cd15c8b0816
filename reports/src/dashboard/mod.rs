//! The review dashboard over one or many campaign folders (e.g. a
//! fortnight of nightly soaks): [`load_campaigns`], then
//! [`render_html`] (with inline SVG plots), [`render_markdown`] (the
//! meeting summary) and [`render_junit`] (JUnit XML for CI systems).
//!
//! Failures are grouped into distinct problems by their signature
//! (`checker::Signature`: rule, anomaly class, the request kind where it
//! is the problem, site), not by key, so one bug touching forty keys is one row. The
//! binary adds what this crate cannot know ([`Triage`]: catalogued bugs'
//! signatures, shrunk repros) and picks the problems to shrink from
//! [`new_problems`].
//!
//! A campaign folder:
//!
//! ```text
//! campaign.json     {"name": "nightly-2025-03-01", "started": "2025-03-01T02:00:00Z", "seed": 1000, "shard": "1/4" | null}
//! results.csv       one row per run (crate::results)
//! coverage.jsonl    one row per run (crate::coverage)
//! runs/<scenario>-<seed>[-<bugs>]/   each failing run's folder (crate::artefacts)
//! ```

mod campaign;
mod changes;
mod hunt;
mod junit;
mod links;
mod markdown;
mod page;
mod stats;
mod svg;
mod triage;

pub use campaign::{
    CAMPAIGN_FILE, COVERAGE_FILE, Campaign, CampaignInfo, FailedProperty, FailedRun, RESULTS_FILE,
    RUNS_DIR, RunsOn, TargetInfo, load_campaign, load_campaigns,
};
pub use hunt::{HUNT_HEADER, HuntMode, HuntRow, load_hunt_table, write_hunt_table};
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use page::render_html;
pub use stats::Known;
pub use triage::{NewProblem, Triage, new_problems, shrink_path};
