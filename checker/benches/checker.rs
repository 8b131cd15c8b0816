//! `cargo bench -p checker`: the checker on the outside oracles, side by side
//! with porcupine's reference timings (../shared/oracles/README.md), on a
//! generated 100,000-operation etcd history, and on lease-heavy histories (a
//! recorded `leases` scenario runs and a generated one).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use checker::history::{EndState, HashKv, MemberEndState};
use checker::import::{edn, jepsen_log, kv_ops, register_ops};
use checker::linearizable::{Issuer, Linearizability, Model, Op, SearchLimits, check};
use checker::models::kv::KvModel;
use checker::models::register::RegisterModel;
use checker::{CheckOptions, check_linearizability, check_run};
use support::generate::{GenConfig, generate};
use support::leases::{LeaseGenConfig, generate_leases};

fn oracles() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/oracles"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn limits() -> SearchLimits {
    SearchLimits {
        deadline: Some(Instant::now() + Duration::from_secs(120)),
        memory_bound_bytes: CheckOptions::default().memory_bound_bytes,
    }
}

/// A file's text, unzipped when its name ends in `.gz`.
fn read_maybe_gzipped(path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text
    } else {
        read(path)
    }
}

/// Median wall time of `runs` runs of `f`, and the verdict of the last one.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        last = Some(f());
        times.push(started.elapsed());
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one run"))
}

/// Enough runs for a stable median without making slow cases slower still.
fn runs_for(probe: Duration) -> usize {
    if probe < Duration::from_millis(2) {
        51
    } else if probe < Duration::from_millis(50) {
        11
    } else {
        3
    }
}

fn verdict<M: Model>(model: &M, ops: &[Op<M::Input, M::Output>], partition: bool) -> &'static str {
    match check(model, ops, partition, &limits(), Issuer::Process).result {
        Linearizability::Linearizable { .. } => "linearizable",
        Linearizability::Violation(_) => "violation",
        Linearizability::Unknown { .. } => "UNKNOWN",
    }
}

fn measure<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    partition: bool,
) -> (Duration, &'static str) {
    let (probe, _) = time(1, || verdict(model, ops, partition));
    time(runs_for(probe), || verdict(model, ops, partition))
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

struct Row {
    case: String,
    ops: usize,
    ours: Duration,
    verdict: &'static str,
    porcupine: Option<Duration>,
}

fn print_table(title: &str, rows: &[Row]) {
    println!("\n{title}");
    println!(
        "{:<34} {:>7} {:>13} {:>13} {:>9}  verdict",
        "case", "ops", "faultline", "porcupine", "speedup"
    );
    for r in rows {
        let (reference, speedup) = match r.porcupine {
            Some(p) => (
                ms(p),
                format!(
                    "{:.0}x{}",
                    p.as_secs_f64() / r.ours.as_secs_f64().max(1e-9),
                    if p.as_secs_f64() >= 5.0 * r.ours.as_secs_f64() {
                        ""
                    } else {
                        " (<5x!)"
                    }
                ),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<34} {:>7} {:>13} {:>13} {:>9}  {}",
            r.case,
            r.ops,
            ms(r.ours),
            reference,
            speedup,
            r.verdict
        );
    }
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn jepsen_logs() -> Vec<Row> {
    let dir = oracles().join("jepsen-etcd");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("jepsen-etcd oracles")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let mut rows = vec![];
    for path in files {
        let imported = jepsen_log::import(&read(&path)).expect("valid log");
        let ops = register_ops(&imported).expect("register operations");
        let (ours, verdict) = measure(&RegisterModel, &ops, true);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let porcupine = match name.as_str() {
            "etcd_002.log" => Some(Duration::from_millis(405)),
            "etcd_007.log" => Some(Duration::from_millis(219)),
            _ => None,
        };
        rows.push(Row {
            case: name,
            ops: ops.len(),
            ours,
            verdict,
            porcupine,
        });
    }
    rows
}

fn kv(name: &str, partition: bool, porcupine: Option<Duration>) -> Row {
    let path = oracles().join("porcupine-kv").join(format!("{name}.txt"));
    let imported = edn::import(&read(&path)).expect("valid history");
    let ops = kv_ops(&imported).expect("kv operations");
    let (ours, verdict) = measure(&KvModel, &ops, partition);
    Row {
        case: format!("{name}{}", if partition { "" } else { " (unpartitioned)" }),
        ops: ops.len(),
        ours,
        verdict,
        porcupine,
    }
}

fn describe(lin: &checker::EtcdLinearizability) -> String {
    let verdict = match lin.result.verdict {
        checker::Verdict::Pass => "linearizable",
        checker::Verdict::Fail(_) => "VIOLATION",
        checker::Verdict::Unknown(_) => "UNKNOWN",
    };
    let s = &lin.summary;
    format!(
        "{verdict}; {} iterations, {} backtracks, {} cache entries",
        s.iterations, s.backtracks, s.cache_entries
    )
}

/// The recorded runs that used to hit the 60 s limit (two of the `leases`
/// scenario, one of `standard`), and a generated
/// lease-heavy history with expiries, key TTLs and past reads.
fn leases(full: bool, options: &CheckOptions) {
    println!(
        "
Lease-heavy etcd histories"
    );
    let recorded = [
        ("leases-1.jsonl", "leader crash", 5),
        (
            "leases-2.jsonl",
            "crash, clock drift, lease keys read once",
            1,
        ),
        (
            "standard-100401.jsonl.gz",
            "crash, event leases only the final read sees",
            5,
        ),
    ];
    for (name, what, runs) in recorded {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        match checker::jsonl::read_str(&read_maybe_gzipped(&path)) {
            Ok(file) => {
                let (t, lin) = time(runs, || check_linearizability(&file.history, options));
                println!(
                    "  recorded run {name} ({} operations, {what}): {} ({})",
                    file.history.operations.len(),
                    ms(t),
                    describe(&lin)
                );
            }
            Err(e) => println!("  recorded run {name}: unreadable ({e})"),
        }
    }
    let operations = if full { 20_000 } else { 2_000 };
    let history = generate_leases(&LeaseGenConfig::benchmark(operations));
    let runs = if full { 3 } else { 1 };
    let (t, lin) = time(runs, || check_linearizability(&history, options));
    println!(
        "  generated: {operations} operations, 8 clients, expiries and key TTLs: {} ({})",
        ms(t),
        describe(&lin)
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: keep that quick.
    let full = std::env::args().any(|a| a == "--bench");
    println!("faultline checker benchmark (release build, median wall time of repeated runs)");

    let logs = jepsen_logs();
    let total: Duration = logs.iter().map(|r| r.ours).sum();
    let slowest = logs
        .iter()
        .max_by_key(|r| r.ours)
        .map(|r| (r.case.clone(), r.ops, r.ours));
    let mut sorted: Vec<Duration> = logs.iter().map(|r| r.ours).collect();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let mut summary = vec![
        Row {
            case: "20 jepsen logs: median".into(),
            ops: logs.iter().map(|r| r.ops).sum(),
            ours: median,
            verdict: "",
            porcupine: Some(Duration::from_micros(230)),
        },
        Row {
            case: "20 jepsen logs: total".into(),
            ops: logs.iter().map(|r| r.ops).sum(),
            ours: total,
            verdict: "",
            porcupine: None,
        },
    ];
    if let Some((name, ops, t)) = slowest {
        summary.push(Row {
            case: format!("20 jepsen logs: slowest ({name})"),
            ops,
            ours: t,
            verdict: "",
            porcupine: None,
        });
    }
    summary.extend(logs.into_iter().filter(|r| r.porcupine.is_some()));
    print_table("Jepsen etcd register logs (register model)", &summary);

    let mut rows = vec![
        kv("c50-ok", true, Some(Duration::from_millis(417))),
        kv("c50-bad", true, Some(Duration::from_millis(82))),
        kv("c10-ok", false, Some(Duration::from_millis(4000))),
        kv("c10-bad", false, Some(Duration::from_millis(5100))),
    ];
    if full {
        rows.push(kv("c50-ok", false, None));
        rows.push(kv("c50-bad", false, None));
    }
    print_table("porcupine key-value histories (kv model)", &rows);

    let operations = if full { 100_000 } else { 10_000 };
    let history = generate(&GenConfig {
        seed: 2024,
        clients: 16,
        operations,
        keys: 64,
        unknown_writes: 0.01,
        unknown_applied: 0.5,
        leases: false,
        final_read: true,
        watches: 0,
        mix: Default::default(),
    });
    let options = CheckOptions::default();
    let runs = if full { 3 } else { 1 };
    let (lin_time, lin) = time(runs, || check_linearizability(&history, &options));
    // Three members agreeing on HashKV, so every property can pass.
    let end = EndState {
        members: (1..=3)
            .map(|member| MemberEndState {
                member,
                alive: true,
                hash_kv: Some(HashKv {
                    revision: 1,
                    compact_revision: 0,
                    hash: 1,
                }),
                membership: Some(checker::history::Membership::new(
                    9,
                    vec![checker::history::ListedMember {
                        id: 1,
                        peer: "10.0.0.2".into(),
                        is_learner: false,
                    }],
                )),
            })
            .collect(),
        ..EndState::default()
    };
    let (run_time, report) = time(runs, || check_run(&history, &end, &options));
    let stats = lin.summary;
    println!(
        "\nGenerated etcd history: {operations} operations, 16 clients, 1% of writes with unknown outcome"
    );
    println!(
        "  linearizability: {} ({}; search {:.1} ms, {} iterations, {} backtracks, {} cache entries, ~{:.1} MiB)",
        ms(lin_time),
        match lin.result.verdict {
            checker::Verdict::Pass => "linearizable",
            checker::Verdict::Fail(_) => "VIOLATION",
            checker::Verdict::Unknown(_) => "UNKNOWN",
        },
        stats.elapsed_ms,
        stats.iterations,
        stats.backtracks,
        stats.cache_entries,
        stats.peak_bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "  every property (check_run): {} ({} properties, overall {:?}); target for 100,000 operations: < 2000 ms",
        ms(run_time),
        report.results.len(),
        report.overall()
    );
    leases(full, &options);
    match peak_memory_kib() {
        Some(kib) => println!(
            "\nPeak resident memory of this process (VmHWM): {:.1} MiB; configured bound of the search: {} MiB",
            kib as f64 / 1024.0,
            options.memory_bound_bytes / (1024 * 1024)
        ),
        None => println!("\nPeak resident memory: not available on this system"),
    }
}
