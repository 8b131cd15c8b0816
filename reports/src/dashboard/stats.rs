//! The numbers every dashboard output shares: tallies of runs and failures
//! by scenario, fault kind, version mix and day; coverage; and the failures
//! grouped into distinct problems by their signature (rule, anomaly class,
//! request kind where it is the problem, site: `checker::Signature`).

use std::collections::{BTreeMap, BTreeSet};

use checker::Signature;

use crate::results::ResultRow;
use crate::timestamp::{Day, Timestamp};

use super::campaign::{Campaign, FailedRun, RunsOn};

/// Runs, failures and undecided runs of some slice of the campaigns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub runs: usize,
    pub failures: usize,
    pub unknown: usize,
}

impl Tally {
    fn add(&mut self, row: &ResultRow) {
        self.runs += 1;
        if row.is_failure() {
            self.failures += 1;
        }
        if row.is_unknown() {
            self.unknown += 1;
        }
    }
}

/// Whether a failure group is new, still open, or has not shown up lately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// First seen on the latest campaign day.
    New,
    /// Seen on the latest campaign day and before.
    Open,
    /// Not seen on the latest campaign day.
    NotSeenLately,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::NotSeenLately => "not seen lately",
        }
    }
}

/// One occurrence of a failure: the campaign and the run.
pub(crate) struct Occurrence<'a> {
    pub campaign: &'a Campaign,
    pub run: &'a FailedRun,
}

/// Failures with the same signature: one distinct problem.
pub(crate) struct FailureGroup<'a> {
    pub signature: Signature,
    /// The first differing operation of the representative run (an
    /// example: other runs of the group may differ in key).
    pub first_difference: String,
    /// The explanation of the representative run.
    pub explanation: String,
    /// Fault kinds on at the violation in the group's runs, with how many
    /// of its runs had each on (shown, never a reason to split a group: the
    /// same bug shows up under many faults).
    pub fault_kinds: BTreeMap<String, usize>,
    /// Other problems the group's runs also showed (their later violations).
    pub also: BTreeSet<Signature>,
    /// Oldest campaign first.
    pub occurrences: Vec<Occurrence<'a>>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub status: Status,
}

/// Fault kinds shown per problem; the rest are counted.
const FAULT_KINDS_SHOWN: usize = 6;

impl<'a> FailureGroup<'a> {
    /// The fault kinds most of its runs applied, with their run counts:
    /// `crash (12), partition (9), +3 more`.
    pub fn fault_kinds_text(&self) -> String {
        let mut kinds: Vec<(&String, &usize)> = self.fault_kinds.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let mut parts: Vec<String> = kinds
            .iter()
            .take(FAULT_KINDS_SHOWN)
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        if kinds.len() > FAULT_KINDS_SHOWN {
            parts.push(format!("+{} more", kinds.len() - FAULT_KINDS_SHOWN));
        }
        parts.join(", ")
    }

    /// The run to look at first: the smallest (fewest operations) that has a
    /// report, else the smallest.
    pub fn representative(&self) -> &Occurrence<'a> {
        self.occurrences
            .iter()
            .min_by_key(|o| (o.run.dir.is_none(), o.run.row.ops, o.run.row.seed))
            .unwrap_or(&self.occurrences[0])
    }

    pub fn scenarios(&self) -> BTreeSet<&str> {
        self.occurrences
            .iter()
            .map(|o| o.run.row.scenario.as_str())
            .collect()
    }
}

/// Coverage of one name (a failpoint, fault kind or rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reach {
    /// Runs that reached / applied / decided it.
    pub runs: usize,
    /// Failpoints and points: times passed in all; rules: runs where it failed.
    pub count: u64,
}

/// Every number the outputs show.
pub(crate) struct Summary<'a> {
    pub totals: Tally,
    pub per_scenario: BTreeMap<String, Tally>,
    pub per_fault_kind: BTreeMap<String, Tally>,
    pub per_version_mix: BTreeMap<String, Tally>,
    pub per_day: BTreeMap<Day, Tally>,
    /// Runs with no coverage row (left out of the fault kind and version mixes).
    pub without_coverage: usize,
    /// Runs of simulated campaigns: the only ones that can reach a
    /// failpoint or a coverage point (real etcd reports neither).
    pub simulated_runs: usize,
    pub failpoints: BTreeMap<String, Reach>,
    pub fault_kinds: BTreeMap<String, Reach>,
    /// The store's coverage points: runs that reached each, times in all.
    pub points: BTreeMap<String, Reach>,
    pub rules: BTreeMap<String, Reach>,
    pub groups: Vec<FailureGroup<'a>>,
    pub sim_ms: u64,
    pub wall_ms: u64,
    pub first_day: Option<Day>,
    pub latest_day: Option<Day>,
}

impl Summary<'_> {
    /// Whether failpoints and coverage points were measured at all: not
    /// when every run was against real etcd.
    pub fn measures_store_coverage(&self) -> bool {
        self.simulated_runs > 0 || self.totals.runs == 0
    }
}

/// What the outputs say instead of listing every failpoint and coverage
/// point as never reached, when every run was against real etcd.
pub(crate) const NOT_MEASURED: &str =
    "not measured: every run was against real etcd, which reports no failpoint or coverage point";

pub(crate) const NO_FAULTS: &str = "(no faults)";
pub(crate) const NO_VERSIONS: &str = "(not recorded)";

/// The sorted distinct versions of a run, joined with " + ".
fn version_mix(versions: &[String]) -> String {
    let set: BTreeSet<&str> = versions.iter().map(String::as_str).collect();
    if set.is_empty() {
        NO_VERSIONS.to_string()
    } else {
        set.into_iter().collect::<Vec<_>>().join(" + ")
    }
}

/// Every name a campaign could cover, so the outputs can show what it did
/// not: the failpoints, fault kinds and coverage points that exist.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub failpoints: &'a [&'a str],
    pub fault_kinds: &'a [&'a str],
    pub points: &'a [&'a str],
}

pub(crate) fn summarize<'a>(campaigns: &'a [Campaign], known: &Known<'_>) -> Summary<'a> {
    let mut s = Summary {
        totals: Tally::default(),
        per_scenario: BTreeMap::new(),
        per_fault_kind: BTreeMap::new(),
        per_version_mix: BTreeMap::new(),
        per_day: BTreeMap::new(),
        without_coverage: 0,
        simulated_runs: 0,
        failpoints: known
            .failpoints
            .iter()
            .map(|n| (n.to_string(), Reach::default()))
            .collect(),
        fault_kinds: known
            .fault_kinds
            .iter()
            .map(|n| (n.to_string(), Reach::default()))
            .collect(),
        points: known
            .points
            .iter()
            .map(|n| (n.to_string(), Reach::default()))
            .collect(),
        rules: checker::rules::rules()
            .iter()
            .map(|r| (r.name.to_string(), Reach::default()))
            .collect(),
        groups: Vec::new(),
        sim_ms: 0,
        wall_ms: 0,
        first_day: campaigns.iter().map(|c| c.started.day()).min(),
        latest_day: campaigns.iter().map(|c| c.started.day()).max(),
    };
    for c in campaigns {
        let day = c.started.day();
        if c.info.runs_on() == RunsOn::Sim {
            s.simulated_runs += c.results.len();
        }
        for row in &c.results {
            s.totals.add(row);
            s.per_scenario
                .entry(row.scenario.clone())
                .or_default()
                .add(row);
            s.per_day.entry(day).or_default().add(row);
            s.sim_ms += row.sim_ms;
            s.wall_ms += row.wall_ms;
            for rule in row.failed_rule_list() {
                s.rules.entry(rule).or_default().count += 1;
            }
            let Some(cov) = c.coverage_of(row) else {
                s.without_coverage += 1;
                continue;
            };
            let kinds: BTreeSet<&str> = cov.faults_applied.iter().map(String::as_str).collect();
            if kinds.is_empty() {
                s.per_fault_kind
                    .entry(NO_FAULTS.to_string())
                    .or_default()
                    .add(row);
            }
            for kind in kinds {
                s.per_fault_kind
                    .entry(kind.to_string())
                    .or_default()
                    .add(row);
                s.fault_kinds.entry(kind.to_string()).or_default().runs += 1;
            }
            for kind in &cov.faults_applied {
                s.fault_kinds.entry(kind.clone()).or_default().count += 1;
            }
            s.per_version_mix
                .entry(version_mix(&cov.versions))
                .or_default()
                .add(row);
            for (name, passes) in &cov.failpoints_reached {
                if *passes > 0 {
                    let reach = s.failpoints.entry(name.clone()).or_default();
                    reach.runs += 1;
                    reach.count += passes;
                }
            }
            for (name, times) in &cov.points_reached {
                if *times > 0 {
                    let reach = s.points.entry(name.clone()).or_default();
                    reach.runs += 1;
                    reach.count += times;
                }
            }
            let decided: BTreeSet<&str> = cov.rules_checked.iter().map(String::as_str).collect();
            for rule in decided {
                s.rules.entry(rule.to_string()).or_default().runs += 1;
            }
        }
    }
    s.groups = group_failures(campaigns, s.latest_day);
    s
}

pub(crate) fn group_failures(campaigns: &[Campaign], latest: Option<Day>) -> Vec<FailureGroup<'_>> {
    type Found<'a> = (
        Occurrence<'a>,
        (String, String),
        Vec<Signature>,
        Option<Vec<String>>,
    );
    let mut groups: BTreeMap<Signature, Vec<Found<'_>>> = BTreeMap::new();
    for c in campaigns {
        for run in &c.failures {
            // One row per run: the problem it is filed under.
            let Some((p, also)) = run.problem() else {
                continue;
            };
            groups.entry(p.signature).or_default().push((
                Occurrence { campaign: c, run },
                (p.first_difference, p.explanation),
                also,
                p.faults_active,
            ));
        }
    }
    let mut out: Vec<FailureGroup<'_>> = groups
        .into_iter()
        .map(|(signature, list)| {
            let first_seen = list
                .iter()
                .map(|(o, _, _, _)| o.campaign.started)
                .min()
                .unwrap_or(Timestamp(0));
            let last_seen = list
                .iter()
                .map(|(o, _, _, _)| o.campaign.started)
                .max()
                .unwrap_or(Timestamp(0));
            let on_latest = Some(last_seen.day()) == latest;
            let status = match (on_latest, Some(first_seen.day()) == latest) {
                (true, true) => Status::New,
                (true, false) => Status::Open,
                (false, _) => Status::NotSeenLately,
            };
            let mut occurrences = Vec::with_capacity(list.len());
            let mut examples = Vec::with_capacity(list.len());
            let mut also = BTreeSet::new();
            let mut fault_kinds: BTreeMap<String, usize> = BTreeMap::new();
            for (o, example, others, active) in list {
                // The faults on at the violation; for a run whose record
                // does not say, the faults its run applied.
                let kinds: BTreeSet<String> = match active {
                    Some(active) => active.into_iter().collect(),
                    None => o
                        .campaign
                        .coverage_of(&o.run.row)
                        .map(|c| c.faults_applied.iter().cloned().collect())
                        .unwrap_or_default(),
                };
                for kind in kinds {
                    *fault_kinds.entry(kind).or_default() += 1;
                }
                occurrences.push(o);
                examples.push(example);
                also.extend(others);
            }
            let mut group = FailureGroup {
                signature,
                first_difference: String::new(),
                explanation: String::new(),
                fault_kinds,
                also,
                occurrences,
                first_seen,
                last_seen,
                status,
            };
            let rep = group.representative().run;
            if let Some((_, (first, explanation))) = group
                .occurrences
                .iter()
                .zip(examples)
                .find(|(o, _)| std::ptr::eq(o.run, rep))
            {
                group.first_difference = first;
                group.explanation = explanation;
            }
            group
        })
        .collect();
    out.sort_by(|a, b| {
        (
            a.status,
            std::cmp::Reverse(a.occurrences.len()),
            &a.signature,
        )
            .cmp(&(
                b.status,
                std::cmp::Reverse(b.occurrences.len()),
                &b.signature,
            ))
    });
    out
}
