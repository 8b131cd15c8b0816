//! Writes one large synthetic campaign folder, to measure how long the
//! dashboard takes on it: `cargo run -p reports --release --example
//! synthetic_campaign -- DIR [RUNS] [FAILING]` (default 100,000 runs of
//! which 1,000 fail, each failing run with its folder). The failing runs
//! are the test suite's small run with one of its three violations kept
//! (so the dashboard finds three problems), spread over ten scenarios; the
//! rows are written in one go, not appended one fsync at a time as a soak
//! does, so generating takes seconds.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use checker::Verdict;
use reports::dashboard::CampaignInfo;
use reports::results::Classes;
use reports::{CoverageRow, RESULTS_HEADER, run_dir_name, write_run};

const SCENARIOS: &[&str] = &[
    "default",
    "partitions",
    "standard",
    "watch-heavy",
    "leases",
    "disk-faults",
    "clock-skew",
    "rolling-upgrade",
    "network-quality",
    "k8s",
];
const RULES: &[&str] = &["linearizability", "watch.unique", "watch.reliable"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: synthetic_campaign DIR [RUNS] [FAILING]")?,
    );
    let runs: u64 = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let failing: u64 = args.next().map_or(Ok(1_000), |a| a.parse())?;
    if failing > runs || failing == 0 {
        return Err("FAILING must be between 1 and RUNS".into());
    }
    CampaignInfo {
        name: "synthetic".into(),
        started: "2025-03-01T02:00:00Z".into(),
        seed: 0,
        shard: None,
        target: None,
    }
    .write(&dir)?;
    let mut results = BufWriter::new(std::fs::File::create(dir.join("results.csv"))?);
    let mut coverage = BufWriter::new(std::fs::File::create(dir.join("coverage.jsonl"))?);
    writeln!(results, "{RESULTS_HEADER}")?;
    let every = runs / failing;
    let sample = support::small_run();
    for seed in 0..runs {
        let scenario = SCENARIOS[(seed % SCENARIOS.len() as u64) as usize];
        let fails = seed % every == 0 && seed / every < failing;
        let (failed_rules, classes) = if fails {
            let keep = RULES[((seed / every) % RULES.len() as u64) as usize];
            let mut run = sample.clone();
            for r in &mut run.report.results {
                if r.property != keep && matches!(r.verdict, Verdict::Fail(_)) {
                    r.verdict = Verdict::Pass;
                }
            }
            run.repro.scenario_name = scenario.into();
            run.repro.seed = seed;
            run.replay_command = format!("faultline replay --scenario {scenario} --seed {seed}");
            write_run(
                dir.join("runs").join(run_dir_name(scenario, seed, &[])),
                &run,
            )?;
            let classes = Classes::of(&run.report);
            let words: Vec<&str> = classes.0.iter().map(|c| c.word()).collect();
            (keep.to_string(), words.join(";"))
        } else {
            (String::new(), String::new())
        };
        writeln!(
            results,
            "{scenario},{seed},,{},{failed_rules},{},3,10,2,10000,150,{:016x},0,{classes}",
            if fails { "fail" } else { "pass" },
            100 + seed % 500,
            seed.wrapping_mul(7919)
        )?;
        let row = CoverageRow {
            scenario: scenario.into(),
            seed,
            bugs: String::new(),
            faults_applied: vec!["partition".into(), "kill".into()],
            failpoints_reached: [("raftBeforeSave".to_string(), seed % 7)]
                .into_iter()
                .collect(),
            points_reached: [("watch.victim".to_string(), seed % 3)]
                .into_iter()
                .collect(),
            rules_checked: RULES.iter().map(|r| r.to_string()).collect(),
            versions: vec!["3.6".into()],
        };
        serde_json::to_writer(&mut coverage, &row)?;
        writeln!(coverage)?;
    }
    results.flush()?;
    coverage.flush()?;
    println!(
        "{}: {runs} runs, {failing} failing with run folders",
        dir.display()
    );
    Ok(())
}
