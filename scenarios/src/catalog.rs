//! The scenario catalog (`scenarios/catalog/*.toml`, built into the
//! binary) and loading scenario files from disk, with validation that names
//! the file, the field and what was expected.

use crate::faults::FaultKind;
use crate::plan::Plan;
use crate::schema::{ClusterSpec, Profile, Scenario, TrafficSpec};
use crate::target::Target;
use std::path::Path;

/// Built-in scenarios: (file name, TOML text).
pub const CATALOG: &[(&str, &str)] = &[
    ("default.toml", include_str!("../catalog/default.toml")),
    (
        "bootstrap-crashes.toml",
        include_str!("../catalog/bootstrap-crashes.toml"),
    ),
    (
        "bug-batched-compaction-crash.toml",
        include_str!("../catalog/bug-batched-compaction-crash.toml"),
    ),
    (
        "bug-buffer-writeback.toml",
        include_str!("../catalog/bug-buffer-writeback.toml"),
    ),
    (
        "bug-compact-recreated-key.toml",
        include_str!("../catalog/bug-compact-recreated-key.toml"),
    ),
    (
        "bug-compaction-tombstone-crash.toml",
        include_str!("../catalog/bug-compaction-tombstone-crash.toml"),
    ),
    (
        "bug-defrag-crash.toml",
        include_str!("../catalog/bug-defrag-crash.toml"),
    ),
    (
        "bug-downgrade-with-ttl.toml",
        include_str!("../catalog/bug-downgrade-with-ttl.toml"),
    ),
    (
        "bug-paused-leader-reads.toml",
        include_str!("../catalog/bug-paused-leader-reads.toml"),
    ),
    (
        "bug-rewrite-keeping-lease.toml",
        include_str!("../catalog/bug-rewrite-keeping-lease.toml"),
    ),
    (
        "bug-single-member-save-crash.toml",
        include_str!("../catalog/bug-single-member-save-crash.toml"),
    ),
    (
        "bug-slow-watchers-compaction.toml",
        include_str!("../catalog/bug-slow-watchers-compaction.toml"),
    ),
    (
        "bug-slow-watchers-progress.toml",
        include_str!("../catalog/bug-slow-watchers-progress.toml"),
    ),
    (
        "bug-snapshot-purge.toml",
        include_str!("../catalog/bug-snapshot-purge.toml"),
    ),
    (
        "bug-watch-at-compact-revision.toml",
        include_str!("../catalog/bug-watch-at-compact-revision.toml"),
    ),
    (
        "bug-txn-compacted-range.toml",
        include_str!("../catalog/bug-txn-compacted-range.toml"),
    ),
    (
        "bug-watch-snapshot-restore.toml",
        include_str!("../catalog/bug-watch-snapshot-restore.toml"),
    ),
    (
        "bug-write-load-crashes.toml",
        include_str!("../catalog/bug-write-load-crashes.toml"),
    ),
    (
        "clock-skew.toml",
        include_str!("../catalog/clock-skew.toml"),
    ),
    (
        "crash-restart.toml",
        include_str!("../catalog/crash-restart.toml"),
    ),
    (
        "disk-faults.toml",
        include_str!("../catalog/disk-faults.toml"),
    ),
    (
        "downgrade-3.5.toml",
        include_str!("../catalog/downgrade-3.5.toml"),
    ),
    (
        "downgrade-cancel.toml",
        include_str!("../catalog/downgrade-cancel.toml"),
    ),
    (
        "downgrade-faults.toml",
        include_str!("../catalog/downgrade-faults.toml"),
    ),
    ("downgrade.toml", include_str!("../catalog/downgrade.toml")),
    (
        "failpoints.toml",
        include_str!("../catalog/failpoints.toml"),
    ),
    (
        "five-members.toml",
        include_str!("../catalog/five-members.toml"),
    ),
    ("key-ttls.toml", include_str!("../catalog/key-ttls.toml")),
    (
        "kubernetes.toml",
        include_str!("../catalog/kubernetes.toml"),
    ),
    ("leases.toml", include_str!("../catalog/leases.toml")),
    (
        "member-replace.toml",
        include_str!("../catalog/member-replace.toml"),
    ),
    (
        "member-replace-3.7.toml",
        include_str!("../catalog/member-replace-3.7.toml"),
    ),
    (
        "network-quality.toml",
        include_str!("../catalog/network-quality.toml"),
    ),
    (
        "partitions.toml",
        include_str!("../catalog/partitions.toml"),
    ),
    ("pause.toml", include_str!("../catalog/pause.toml")),
    (
        "restarts-under-load.toml",
        include_str!("../catalog/restarts-under-load.toml"),
    ),
    (
        "rolling-upgrade.toml",
        include_str!("../catalog/rolling-upgrade.toml"),
    ),
    (
        "single-member.toml",
        include_str!("../catalog/single-member.toml"),
    ),
    (
        "slow-follower.toml",
        include_str!("../catalog/slow-follower.toml"),
    ),
    (
        "snapshot-catchup.toml",
        include_str!("../catalog/snapshot-catchup.toml"),
    ),
    (
        "snapshot-catchup-writes.toml",
        include_str!("../catalog/snapshot-catchup-writes.toml"),
    ),
    ("standard.toml", include_str!("../catalog/standard.toml")),
    ("swarm.toml", include_str!("../catalog/swarm.toml")),
    (
        "version-refusals.toml",
        include_str!("../catalog/version-refusals.toml"),
    ),
    (
        "watch-heavy.toml",
        include_str!("../catalog/watch-heavy.toml"),
    ),
    (
        "watch-fanout.toml",
        include_str!("../catalog/watch-fanout.toml"),
    ),
    (
        "write-throughput.toml",
        include_str!("../catalog/write-throughput.toml"),
    ),
    // Added after the others, so that campaigns' seed-to-scenario draws
    // over the older scenarios stay as they were.
    ("alarms.toml", include_str!("../catalog/alarms.toml")),
    (
        "corruption.toml",
        include_str!("../catalog/corruption.toml"),
    ),
];

/// What is wrong with a scenario file: `FILE: line N: field: problem`
/// (the line when it is known).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ScenarioError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

fn err(file: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        line: None,
        message: message.into(),
    }
}

fn err_at(file: &str, line: Option<usize>, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        line,
        ..err(file, message)
    }
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses and validates a scenario; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_at(text, span.start));
        err_at(file, line, e.message().trim())
    })?;
    let mut scenario = scenario;
    scenario.cluster.pinned_knobs = pinned_knobs(text);
    validate(&scenario).map_err(|m| err_at(file, line_of_field(text, &m), m))?;
    Ok(scenario)
}

/// The line a validation message's field path (`faults[2].rate: ...`,
/// `cluster.knobs.tick_ms: ...`) points at in the file: the field's key,
/// or the nearest table holding it when the field is not written (a
/// default that is refused, a required field left out).
fn line_of_field(text: &str, message: &str) -> Option<usize> {
    let (path, _) = message.split_once(": ")?;
    let is_path = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']');
    if path.is_empty() || !path.chars().all(is_path) {
        return None;
    }
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut table: &toml_edit::Table = doc.as_table();
    let mut offset = None;
    for segment in path.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.strip_suffix(']')?.parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some((key, item)) = table.get_key_value(name) else {
            break;
        };
        offset = key.span().map(|s| s.start).or(offset);
        match (item, index) {
            (toml_edit::Item::Table(t), None) => {
                offset = t.span().map(|s| s.start).or(offset);
                table = t;
            }
            (toml_edit::Item::ArrayOfTables(tables), Some(i)) => {
                let Some(t) = tables.get(i) else { break };
                offset = t.span().map(|s| s.start).or(offset);
                table = t;
            }
            _ => break,
        }
    }
    offset.map(|o| line_at(text, o))
}

/// The drawable knobs the file's `[cluster.knobs]` table sets (the text
/// already parsed as a scenario, so it is valid TOML).
fn pinned_knobs(text: &str) -> std::collections::BTreeSet<crate::knobs::DrawnKnob> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Default::default();
    };
    table
        .get("cluster")
        .and_then(|c| c.get("knobs"))
        .and_then(|k| k.as_table())
        .map(|k| {
            k.keys()
                .filter_map(|name| crate::knobs::DrawnKnob::from_field(name))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks what the format alone cannot; messages start with the field.
pub fn validate(s: &Scenario) -> Result<(), String> {
    if s.name.trim().is_empty() {
        return Err("name: must not be empty".into());
    }
    validate_cluster(&s.cluster)?;
    // Before anything converts a number (a fault step's seconds become
    // durations as it is parsed).
    bounds(s)?;
    if s.cluster.client_timeout_ms == 0 {
        return Err("cluster.client_timeout_ms: must be at least 1".into());
    }
    if !(s.duration_s > 0.0 && s.duration_s <= 3600.0) {
        return Err(format!(
            "duration_s: expected 0 < seconds <= 3600, got {}",
            s.duration_s
        ));
    }
    for (i, t) in s.traffic.iter().enumerate() {
        validate_traffic(i, t)?;
    }
    validate_faults(s)?;
    if let Some(swarm) = &s.swarm {
        for (i, &k) in swarm.kinds.iter().enumerate() {
            // Swarm draws steps with default parameters (a failpoint's it draws).
            if !crate::swarm::drawable(k) {
                return Err(format!(
                    "swarm.kinds[{i}]: kind {k:?} cannot be drawn without parameters"
                ));
            }
        }
    }
    seconds("quiesce.liveness_bound_s", s.quiesce.liveness_bound_s)?;
    seconds("quiesce.converge_timeout_s", s.quiesce.converge_timeout_s)?;
    seconds("quiesce.drain_bound_s", s.quiesce.drain_bound_s)?;
    Ok(())
}

/// A positive number of seconds no larger than [`MAX_SECONDS`].
fn seconds(field: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v > 0.0 && v <= MAX_SECONDS {
        Ok(())
    } else {
        Err(format!(
            "{field}: expected a positive number of seconds up to {MAX_SECONDS}, got {v}"
        ))
    }
}

fn validate_cluster(c: &ClusterSpec) -> Result<(), String> {
    if !(1..=5).contains(&c.size) {
        return Err(format!(
            "cluster.size: expected 1 to 5 members, got {}",
            c.size
        ));
    }
    if c.versions.len() > 1 && c.versions.len() != c.size {
        return Err(format!(
            "cluster.versions: expected one version or one per member ({}), got {}",
            c.size,
            c.versions.len()
        ));
    }
    if let Some(v) = c.versions.iter().find(|v| !v.is_supported()) {
        return Err(format!(
            "cluster.versions: unsupported version {v} (supported: 3.5, 3.6, 3.7)"
        ));
    }
    c.knobs.validate().map_err(|m| format!("cluster.knobs.{m}"))
}

/// One `[[traffic]]` table (`i`: its index); fields a profile does not use
/// are refused where ignoring them would hide a mistake.
fn validate_traffic(i: usize, t: &TrafficSpec) -> Result<(), String> {
    if t.clients == 0 || t.clients > 256 {
        return Err(format!(
            "traffic[{i}].clients: expected 1 to 256, got {}",
            t.clients
        ));
    }
    if !(t.rate >= 0.0 && t.rate.is_finite()) {
        return Err(format!(
            "traffic[{i}].rate: expected a rate >= 0, got {}",
            t.rate
        ));
    }
    if t.keys == 0 {
        return Err(format!("traffic[{i}].keys: must be at least 1"));
    }
    if let Some(n) = t.watches_per_stream {
        if t.profile != Profile::Watch {
            return Err(format!(
                "traffic[{i}].watches_per_stream: only the watch profile keeps watch streams"
            ));
        }
        if !(1..=1000).contains(&n) {
            return Err(format!(
                "traffic[{i}].watches_per_stream: expected 1 to 1000, got {n}"
            ));
        }
    }
    if let Some(ms) = t.compact_period_ms {
        if t.profile != Profile::Etcd {
            return Err(format!(
                "traffic[{i}].compact_period_ms: only the etcd profile runs a compactor"
            ));
        }
        if ms > 3_600_000 {
            return Err(format!(
                "traffic[{i}].compact_period_ms: expected 0 (no compactor) to 3600000, got {ms}"
            ));
        }
    }
    if let Some(w) = &t.weights {
        if t.profile != Profile::Etcd {
            return Err(format!(
                "traffic[{i}].weights: only the etcd profile has operation weights"
            ));
        }
        // Weights left out at the end are 0: a scenario written before an
        // operation was added keeps its mix.
        let ops = &crate::traffic::etcd::OPS;
        if w.len() > ops.len() || w.iter().all(|x| *x == 0) {
            let names: Vec<&str> = ops.iter().map(|(op, _)| op.name()).collect();
            return Err(format!(
                "traffic[{i}].weights: expected at most {} weights ({}; missing ones are 0), not all zero",
                ops.len(),
                names.join(", ")
            ));
        }
    }
    if let Some(until) = t.until_s {
        seconds(&format!("traffic[{i}].until_s"), until)?;
    }
    Ok(())
}

/// The fault plan parses, and every member a step names exists by then.
fn validate_faults(s: &Scenario) -> Result<(), String> {
    let plan = Plan::of(&s.faults).map_err(|e| e.to_string())?;
    // Members join with the next free id: m4 exists in a 3-member cluster
    // only after a step added one.
    let joins = plan
        .faults()
        .filter(|f| matches!(f.kind(), FaultKind::JoinMember | FaultKind::MemberReplace))
        .count();
    let size = s.cluster.size;
    let highest_member = size + joins;
    for (i, f) in s.faults.iter().enumerate() {
        if let Some(t) = &f.target
            && let Ok(Target::Member(m)) = Target::parse(t)
            && !(1..=highest_member as u64).contains(&m)
        {
            return Err(format!(
                "faults[{i}].target: {t:?}: the cluster has members m1 to m{highest_member} ({size} at the start, {joins} added by steps)"
            ));
        }
        if let Some(v) = f.version
            && !v.is_supported()
        {
            return Err(format!(
                "faults[{i}].version: unsupported version {v} (supported: 3.5, 3.6, 3.7)"
            ));
        }
    }
    Ok(())
}

/// The longest time any scenario field may name: a run is at most an hour
/// of simulated time, and a bound keeps every conversion to a duration
/// (and every sum of durations) far from overflowing.
pub const MAX_SECONDS: f64 = 3600.0;

/// Upper bounds on the numbers a scenario may hold, so that a huge value
/// is a clear error rather than an overflow or a panic deep in a run.
fn bounds(s: &Scenario) -> Result<(), String> {
    const MAX_MS: u64 = 3_600_000;
    const MAX_COUNT: u64 = 1_000_000;
    let at_most = |field: String, v: u64, max: u64| {
        if v <= max {
            Ok(())
        } else {
            Err(format!("{field}: expected at most {max}, got {v}"))
        }
    };
    let within = |field: String, v: i64, limit: i64| {
        if (-limit..=limit).contains(&v) {
            Ok(())
        } else {
            Err(format!("{field}: expected {} to {limit}, got {v}", -limit))
        }
    };
    let seconds = |field: String, v: Option<f64>| match v {
        Some(v) if !(v.is_finite() && (0.0..=MAX_SECONDS).contains(&v)) => Err(format!(
            "{field}: expected 0 to {MAX_SECONDS} seconds, got {v}"
        )),
        _ => Ok(()),
    };
    at_most(
        "cluster.client_timeout_ms".into(),
        s.cluster.client_timeout_ms,
        MAX_MS,
    )?;
    for (i, t) in s.traffic.iter().enumerate() {
        // A tiny positive rate would space requests further apart than a
        // duration can hold; 0 means back to back.
        if t.rate != 0.0 && !(MIN_RATE..=MAX_RATE).contains(&t.rate) {
            return Err(format!(
                "traffic[{i}].rate: expected 0 (back to back) or {MIN_RATE} to {MAX_RATE} requests per second, got {}",
                t.rate
            ));
        }
        at_most(format!("traffic[{i}].keys"), t.keys as u64, MAX_COUNT)?;
        if !(1..=MAX_SECONDS as i64 * 24 * 365).contains(&t.key_ttl_s) {
            return Err(format!(
                "traffic[{i}].key_ttl_s: expected 1 to {} seconds, got {}",
                MAX_SECONDS as i64 * 24 * 365,
                t.key_ttl_s
            ));
        }
    }
    for (i, f) in s.faults.iter().enumerate() {
        let field = |name: &str| format!("faults[{i}].{name}");
        seconds(field("at_s"), f.at_s)?;
        seconds(field("duration_s"), f.duration_s)?;
        seconds(field("restart_after_s"), f.restart_after_s)?;
        seconds(field("period_s"), f.period_s)?;
        seconds(field("hold_s"), f.hold_s)?;
        if let Some(v) = f.sleep_ms {
            at_most(field("sleep_ms"), v, MAX_MS)?;
        }
        if let Some(v) = f.times {
            at_most(field("times"), v.into(), MAX_COUNT)?;
        }
        if let Some(v) = f.count {
            at_most(field("count"), v.into(), MAX_COUNT)?;
        }
        if let Some([lo, hi]) = f.latency_ms {
            at_most(field("latency_ms"), lo.max(hi), 60_000)?;
        }
        if let Some(v) = f.quota_kb {
            at_most(field("quota_kb"), v, 1 << 30)?;
        }
        if let Some(v) = f.drift_ppm {
            within(field("drift_ppm"), v, 1_000_000)?;
        }
        if let Some(v) = f.offset_ms {
            within(field("offset_ms"), v, MAX_MS as i64)?;
        }
        if let Some(v) = f.offset {
            within(field("offset"), v, 1_000_000_000)?;
        }
    }
    Ok(())
}

/// The slowest and fastest a traffic client may be paced, requests per
/// second (0, back to back, is allowed too).
pub const MIN_RATE: f64 = 0.001;
pub const MAX_RATE: f64 = 1_000_000.0;

/// Every built-in scenario, parsed.
pub fn builtin() -> Vec<Scenario> {
    CATALOG
        .iter()
        .filter_map(|(file, text)| parse(&format!("scenarios/catalog/{file}"), text).ok())
        .collect()
}

/// The built-in scenario called `name`. A catalog file is named after its
/// scenario (a test checks it), so only that file is parsed, not the whole
/// catalog.
fn builtin_named(name: &str) -> Option<Scenario> {
    let (file, text) = catalog_entry(name)?;
    parse(&format!("scenarios/catalog/{file}"), text)
        .ok()
        .filter(|s| s.name == name)
}

/// The catalog's (file, text) of the scenario called `name`: its file is
/// named after it.
fn catalog_entry(name: &str) -> Option<&'static (&'static str, &'static str)> {
    CATALOG
        .iter()
        .find(|(file, _)| file.strip_suffix(".toml") == Some(name))
}

/// The general catalog: every built-in scenario that is neither a bug's
/// trigger nor a benchmark's run. What a user hunting an unknown bug has.
pub fn general() -> Vec<Scenario> {
    builtin()
        .into_iter()
        .filter(|s| s.purpose.is_general())
        .collect()
}

/// The file a name or path names, for messages: a catalog scenario's
/// `scenarios/catalog/FILE`, else the path as given.
pub fn file_of(name_or_path: &str) -> String {
    builtin_named(name_or_path)
        .and(catalog_entry(name_or_path))
        .map(|(file, _)| format!("scenarios/catalog/{file}"))
        .unwrap_or_else(|| name_or_path.to_string())
}

/// A scenario by catalog name, or from a TOML file path.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if let Some(s) = builtin_named(name_or_path) {
        return Ok(s);
    }
    let path = Path::new(name_or_path);
    if name_or_path.ends_with(".toml") || path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(name_or_path, format!("cannot read: {e}")))?;
        return parse(name_or_path, &text);
    }
    let names: Vec<String> = builtin().into_iter().map(|s| s.name).collect();
    Err(err(
        name_or_path,
        format!(
            "no such scenario (catalog: {}; or give a .toml file)",
            names.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_file_parses() {
        for (file, text) in CATALOG {
            parse(file, text).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(builtin().len(), CATALOG.len());
        assert!(load("default").is_ok());
    }

    #[test]
    fn every_catalog_file_is_named_after_its_scenario() {
        for s in builtin() {
            assert_eq!(builtin_named(&s.name).as_ref(), Some(&s), "{}", s.name);
        }
        assert_eq!(builtin_named("no-such-scenario"), None);
    }

    #[test]
    fn every_file_in_the_catalog_folder_is_built_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/catalog");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("catalog folder")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        files.sort();
        let mut built_in: Vec<String> = CATALOG.iter().map(|(f, _)| f.to_string()).collect();
        built_in.sort();
        assert_eq!(files, built_in);
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let e = parse("x.toml", "name = \"x\"\nduration_s = \"long\"\n").unwrap_err();
        assert_eq!(e.file, "x.toml");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.to_string().starts_with("x.toml: line 2: "), "{e}");
        let e = parse("x.toml", "name = \"x\"\n[cluster]\nsize = 9\n").unwrap_err();
        assert!(e.message.starts_with("cluster.size:"), "{}", e.message);
        let e = parse("x.toml", "name = \"x\"\nbogus = 1\n").unwrap_err();
        assert!(e.message.contains("bogus"), "{}", e.message);
        let e = parse(
            "x.toml",
            "name = \"x\"\n[[faults]]\nkind = \"crash\"\ntarget = \"mars\"\n",
        )
        .unwrap_err();
        assert!(e.message.starts_with("faults[0].target:"), "{}", e.message);
        assert_eq!(e.line, Some(4), "the target's own line: {e}");
        let e = parse(
            "x.toml",
            "name = \"x\"\n[[faults]]\nkind = \"crash\"\nwhen = \"soon\"\n",
        )
        .unwrap_err();
        assert!(e.message.starts_with("faults[0].when:"), "{}", e.message);
        let e = parse("x.toml", "name = \"x\"\n[cluster]\nversions = [\"3.9\"]\n").unwrap_err();
        assert!(e.message.starts_with("cluster.versions:"), "{}", e.message);
        assert_eq!(e.line, Some(3), "{e}");
        // A refused default: the line of the step that left the field out.
        let e = parse(
            "x.toml",
            "name = \"x\"\n\n[[faults]]\nkind = \"crash\"\n[[faults]]\nkind = \"rolling_upgrade\"\n",
        )
        .unwrap_err();
        assert!(e.message.starts_with("faults[1].version:"), "{e}");
        assert_eq!(e.line, Some(5), "{e}");
        let e = load("no-such-scenario").unwrap_err();
        assert!(e.message.contains("no such scenario"));
    }

    #[test]
    fn values_that_would_break_a_run_are_refused() {
        let field = |text: &str| {
            parse("x.toml", &format!("name = \"x\"\n{text}"))
                .unwrap_err()
                .message
        };
        let e = field("[[faults]]\nkind = \"rolling_upgrade\"\nversion = \"3.9\"\n");
        assert!(e.starts_with("faults[0].version:"), "{e}");
        let e = field("[quiesce]\nconverge_timeout_s = -1.0\n");
        assert!(e.starts_with("quiesce.converge_timeout_s:"), "{e}");
        let e = field("[quiesce]\nliveness_bound_s = inf\n");
        assert!(e.starts_with("quiesce.liveness_bound_s:"), "{e}");
        let e = field("[[traffic]]\nuntil_s = nan\n");
        assert!(e.starts_with("traffic[0].until_s:"), "{e}");
        let e = field("[swarm]\nkinds = [\"failpoint\", \"swap_version\"]\n");
        assert!(e.starts_with("swarm.kinds[1]:"), "{e}");
        let e = field(
            "[[traffic]]\nprofile = \"lease\"\nweights = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n",
        );
        assert!(e.starts_with("traffic[0].weights:"), "{e}");
        let e = field("[[traffic]]\nprofile = \"etcd\"\nwatches_per_stream = 3\n");
        assert!(e.starts_with("traffic[0].watches_per_stream:"), "{e}");
        let e = field("[[traffic]]\nprofile = \"watch\"\ncompact_period_ms = 100\n");
        assert!(e.starts_with("traffic[0].compact_period_ms:"), "{e}");
        let e = field("[[traffic]]\ncompact_period_ms = 99999999999\n");
        assert!(e.starts_with("traffic[0].compact_period_ms:"), "{e}");
    }

    #[test]
    fn huge_and_tiny_numbers_are_refused_naming_the_field() {
        let field = |text: &str| {
            parse("x.toml", &format!("name = \"x\"\n{text}"))
                .unwrap_err()
                .message
        };
        for (text, name) in [
            (
                "[[faults]]\nkind = \"crash\"\nat_s = 1e300\n",
                "faults[0].at_s:",
            ),
            (
                "[[faults]]\nkind = \"isolate\"\nduration_s = 1e300\n",
                "faults[0].duration_s:",
            ),
            (
                "[[faults]]\nkind = \"crash\"\nrestart_after_s = 1e30\n",
                "faults[0].restart_after_s:",
            ),
            (
                "[[faults]]\nkind = \"flapping\"\nperiod_s = 1e30\n",
                "faults[0].period_s:",
            ),
            (
                "[[faults]]\nkind = \"failpoint\"\nfailpoint = \"beforeCommit\"\naction = \"sleep\"\nsleep_ms = 9223372036854775807\n",
                "faults[0].sleep_ms:",
            ),
            (
                "[[faults]]\nkind = \"latency\"\nlatency_ms = [1, 9223372036854775807]\n",
                "faults[0].latency_ms:",
            ),
            (
                "[[faults]]\nkind = \"clock_skew\"\ndrift_ppm = -9223372036854775808\n",
                "faults[0].drift_ppm:",
            ),
            ("[[traffic]]\nuntil_s = 1e300\n", "traffic[0].until_s:"),
            ("[[traffic]]\nrate = 1e-300\n", "traffic[0].rate:"),
            ("[[traffic]]\nkey_ttl_s = -5\n", "traffic[0].key_ttl_s:"),
            (
                "[cluster]\nclient_timeout_ms = 9223372036854775807\n",
                "cluster.client_timeout_ms:",
            ),
            (
                "[cluster.knobs]\nsnapshot_count = 9223372036854775807\n",
                "cluster.knobs.snapshot_count:",
            ),
            (
                "[cluster.knobs]\ntick_ms = 9223372036854775807\n",
                "cluster.knobs.tick_ms:",
            ),
            (
                "[cluster.knobs]\nelection_ticks = 4294967296\n",
                "cluster.knobs.election_ticks:",
            ),
            (
                "[quiesce]\nconverge_timeout_s = 1e300\n",
                "quiesce.converge_timeout_s:",
            ),
        ] {
            let e = field(text);
            assert!(e.starts_with(name), "{text:?}: {e}");
        }
    }

    fn with_fault(size: usize, faults: &str) -> Result<Scenario, String> {
        let text = format!("name = \"x\"\n[cluster]\nsize = {size}\n{faults}");
        parse("x.toml", &text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_target_member_the_cluster_never_has_is_refused() {
        let isolate = |m: &str| format!("[[faults]]\nkind = \"isolate\"\ntarget = \"{m}\"\n");
        let err = with_fault(3, &isolate("m9")).expect_err("m9 of 3");
        assert!(
            err.contains("faults[0].target") && err.contains("m1 to m3"),
            "{err}"
        );
        assert!(with_fault(3, &isolate("m0")).is_err());
        assert!(with_fault(3, &isolate("m3")).is_ok());
        // A member a step adds gets the next id.
        let joined = format!(
            "[[faults]]\nkind = \"join_member\"\nversion = \"3.6\"\n{}",
            isolate("m4")
        );
        assert!(
            with_fault(3, &joined).is_ok(),
            "{:?}",
            with_fault(3, &joined)
        );
    }

    proptest::proptest! {
        /// Whatever numbers a fault step and its traffic hold, loading the
        /// file never panics, and a file that loads converts every time
        /// field to a duration.
        #[test]
        fn any_numbers_load_or_are_refused_without_a_panic(
            at in proptest::num::f64::ANY,
            dur in proptest::num::f64::ANY,
            rate in proptest::num::f64::ANY,
            sleep in proptest::num::u64::ANY,
            count in proptest::num::u32::ANY,
            kind in proptest::sample::select(vec!["crash", "fsync_eio", "isolate", "flapping", "latency", "clock_skew", "failpoint"]),
        ) {
            let num = |v: f64| if v.is_nan() { "nan".to_string() } else if v.is_infinite() { if v > 0.0 { "inf".into() } else { "-inf".into() } } else { format!("{v:e}") };
            // Each kind gets the fields it uses (others are refused).
            let fields = match kind {
                "crash" => format!("restart_after_s = {}\n", num(dur)),
                "fsync_eio" => format!("count = {count}\nrestart_after_s = {}\n", num(dur)),
                "flapping" => format!("duration_s = {}\nperiod_s = {}\n", num(dur), num(dur)),
                "failpoint" => format!(
                    "failpoint = \"beforeCommit\"\naction = \"sleep\"\nsleep_ms = {sleep}\ntimes = {count}\n"
                ),
                _ => format!("duration_s = {}\n", num(dur)),
            };
            let text = format!(
                "name = \"x\"\n[[traffic]]\nrate = {}\n[[faults]]\nkind = \"{kind}\"\nat_s = {}\n{fields}",
                num(rate), num(at)
            );
            if let Ok(s) = parse("x.toml", &text) {
                for f in &s.faults {
                    crate::faults::parse(f).expect("a loaded step parses");
                    for v in [f.at_s, f.duration_s, f.period_s, f.restart_after_s].into_iter().flatten() {
                        proptest::prop_assert!(std::time::Duration::try_from_secs_f64(v).is_ok());
                    }
                }
            }
        }
    }
}
