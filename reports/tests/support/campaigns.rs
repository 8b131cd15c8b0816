//! Generated campaign folders for the dashboard tests and the example: a
//! few nightly campaigns on two days (one sharded, one with a torn results
//! line), some failing runs with run folders and one without.

use std::io::Write;
use std::path::{Path, PathBuf};

use checker::{Verdict, Violation};
use reports::dashboard::{CampaignInfo, HuntMode, HuntRow, load_hunt_table, write_hunt_table};
use reports::{CoverageRow, CoverageWriter, ResultRow, ResultsWriter, run_dir_name, write_run};

pub const FAILPOINTS: &[&str] = &[
    "raftBeforeSave",
    "raftAfterSave",
    "beforeCommit",
    "defragBeforeCopy",
];
/// Appended to one explanation.
pub const NASTY: &str = " <&>\"' \u{1}\0\u{ffff}";

pub const FAULT_KINDS: &[&str] = &["partition", "kill", "pause", "disk", "clock"];

pub const POINTS: &[&str] = &["watch.victim", "wal.segment-cut", "snapshot.sent"];

/// What the generated campaigns could have covered.
pub const KNOWN: reports::dashboard::Known<'static> = reports::dashboard::Known {
    failpoints: FAILPOINTS,
    fault_kinds: FAULT_KINDS,
    points: POINTS,
};

/// A run of a generated campaign.
struct Planned {
    scenario: &'static str,
    seed: u64,
    /// Failing runs name the rule and the operation id of the violation (an
    /// operation of support::small_run: 5 is `range /a`, 4 is `put /a`).
    failure: Option<(&'static str, u64)>,
    /// Whether the failing run's folder is written.
    folder: bool,
}

fn ok(scenario: &'static str, seed: u64) -> Planned {
    Planned {
        scenario,
        seed,
        failure: None,
        folder: false,
    }
}

fn failing(scenario: &'static str, seed: u64, rule: &'static str, op: u64) -> Planned {
    Planned {
        scenario,
        seed,
        failure: Some((rule, op)),
        folder: true,
    }
}

fn write_campaign(
    root: &Path,
    name: &str,
    started: &str,
    shard: Option<&str>,
    runs: &[Planned],
) -> PathBuf {
    let folder = match shard {
        Some(shard) => format!("{name}-shard-{}", shard.replace('/', "-of-")),
        None => name.to_string(),
    };
    let dir = root.join(folder);
    CampaignInfo {
        name: name.into(),
        started: started.into(),
        seed: 1000,
        shard: shard.map(String::from),
        target: None,
    }
    .write(&dir)
    .expect("campaign.json");
    let mut results = ResultsWriter::open(dir.join("results.csv")).expect("results");
    let mut coverage = CoverageWriter::open(dir.join("coverage.jsonl")).expect("coverage");
    for (i, p) in runs.iter().enumerate() {
        let mut run = super::small_run();
        run.repro.scenario_name = p.scenario.into();
        run.repro.seed = p.seed;
        run.repro.bugs = vec![];
        run.replay_command = format!(
            "faultline replay --scenario {} --seed {}",
            p.scenario, p.seed
        );
        // Keep only the planned violation (the sample's own, where it has one).
        for r in &mut run.report.results {
            let planned = p.failure.filter(|(rule, _)| r.property == *rule);
            r.verdict = match (std::mem::replace(&mut r.verdict, Verdict::Pass), planned) {
                (Verdict::Fail(mut v), Some((rule, op))) => {
                    if rule == "watch.unique" {
                        // Characters XML and HTML must escape or cannot hold.
                        v.explanation.push_str(NASTY);
                    }
                    v.operations = vec![op];
                    v.watch = None;
                    Verdict::Fail(v)
                }
                (_, Some((rule, op))) => Verdict::Fail(Violation {
                    rule: rule.into(),
                    explanation: format!("{rule} broke at operation {op}."),
                    operations: vec![op],
                    ..Default::default()
                }),
                (_, None) => Verdict::Pass,
            };
        }
        let row = ResultRow {
            scenario: p.scenario.into(),
            seed: p.seed,
            bugs: String::new(),
            verdict: run.report.overall(),
            failed_rules: reports::results::failed_rules_column(&run.report),
            ops: 100 + i,
            failed_ops: 3,
            watch_events: 10,
            faults: 2,
            sim_ms: 10_000,
            wall_ms: 150 + i as u64,
            trace_hash: format!("{:016x}", p.seed * 7919),
            not_applied: 0,
            classes: reports::results::Classes::of(&run.report),
        };
        if p.folder {
            write_run(
                dir.join("runs").join(run_dir_name(p.scenario, p.seed, &[])),
                &run,
            )
            .expect("run folder");
        }
        results.append(&row).expect("append result");
        coverage
            .append(&CoverageRow {
                scenario: p.scenario.into(),
                seed: p.seed,
                bugs: String::new(),
                faults_applied: if p.seed % 2 == 0 {
                    vec!["partition".into(), "kill".into(), "partition".into()]
                } else {
                    vec!["pause".into()]
                },
                failpoints_reached: [
                    ("raftBeforeSave".to_string(), p.seed + 1),
                    ("customPoint".to_string(), 1),
                ]
                .into_iter()
                .collect(),
                points_reached: [("watch.victim".to_string(), p.seed + 2)]
                    .into_iter()
                    .filter(|_| p.seed % 2 == 0)
                    .collect(),
                rules_checked: reports::coverage::rules_checked(&run.report),
                versions: if p.scenario == "rolling-upgrade" {
                    vec!["3.5".into(), "3.6".into(), "3.6".into()]
                } else {
                    vec!["3.6".into()]
                },
            })
            .expect("append coverage");
    }
    dir
}

pub fn generate(root: &Path) -> Vec<PathBuf> {
    let day1 = write_campaign(
        root,
        "nightly-03-01",
        "2025-03-01T02:00:00Z",
        None,
        &[
            ok("default", 1),
            failing("default", 2, "linearizability", 5),
            ok("partitions", 3),
            failing("partitions", 4, "watch.unique", 4),
        ],
    );
    let day2a = write_campaign(
        root,
        "nightly-03-02",
        "2025-03-02T02:00:00+00:00",
        Some("1/2"),
        &[
            failing("default", 11, "linearizability", 5),
            ok("rolling-upgrade", 12),
            Planned {
                folder: false,
                ..failing("rolling-upgrade", 13, "end.durability", 4)
            },
        ],
    );
    let day2b = write_campaign(
        root,
        "nightly-03-02",
        "2025-03-02T02:00:05Z",
        Some("2/2"),
        &[
            ok("default", 21),
            failing("partitions", 22, "watch.reliable", 5),
        ],
    );
    // A soak killed while appending: a torn last line.
    std::fs::OpenOptions::new()
        .append(true)
        .open(day2b.join("results.csv"))
        .and_then(|mut f| f.write_all(b"default,23,,pa"))
        .expect("tear");
    vec![day2b, day1, day2a]
}

/// Fourteen nightly campaigns, 2025-03-01 to 2025-03-14, twenty runs each:
/// a failure every night (open), one that stopped after the first week
/// (not seen lately) and one only on the last night (new).
pub fn fortnight(root: &Path) -> Vec<PathBuf> {
    (1..=14u64)
        .map(|day| {
            let base = day * 100;
            let mut runs: Vec<Planned> = (0..20).map(|i| ok("default", base + i)).collect();
            runs[0] = failing("partitions", base, "watch.unique", 7);
            if day <= 7 {
                runs[1] = failing("default", base + 1, "linearizability", 5);
            }
            if day == 14 {
                runs[2] = failing("kubernetes", base + 2, "k8s.bookmarks", 9);
            }
            write_campaign(
                root,
                &format!("nightly-03-{day:02}"),
                &format!("2025-03-{day:02}T02:00:00Z"),
                None,
                &runs,
            )
        })
        .collect()
}

pub fn hunt(root: &Path) -> Vec<HuntRow> {
    let path = root.join("hunt.csv");
    write_hunt_table(
        &path,
        &[
            HuntRow {
                bug: "etcd-17247".into(),
                mode: HuntMode::Triggered,
                start_seeds: 5,
                found: 5,
                median_seeds: Some(14.0),
                median_wall_s: Some(4.5),
                worst_wall_s: Some(20.0),
                rule: "watch.unique".into(),
                origin: "etcd #17247".into(),
            },
            HuntRow {
                bug: "etcd-15271".into(),
                mode: HuntMode::Blind,
                start_seeds: 5,
                found: 0,
                median_seeds: None,
                median_wall_s: None,
                worst_wall_s: Some(120.0),
                rule: String::new(),
                origin: "etcd #15271".into(),
            },
        ],
    )
    .expect("hunt table");
    load_hunt_table(&path).expect("read hunt table")
}

/// One campaign where the same stale read shows on two keys (its failing
/// runs name different first operations, `range /a` and `put /a`) and a
/// duplicate watch event once: two problems, three failing runs.
pub fn keys_apart(root: &Path) -> Vec<PathBuf> {
    vec![write_campaign(
        root,
        "keys-apart",
        "2025-03-01T02:00:00Z",
        None,
        &[
            failing("default", 1, "linearizability", 5),
            failing("default", 2, "linearizability", 4),
            failing("partitions", 3, "watch.unique", 4),
            ok("default", 4),
        ],
    )]
}
