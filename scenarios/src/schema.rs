//! The scenario file format (TOML). See `scenarios/README.md` for the
//! documented schema; every field here appears there.

use crate::faults::FaultKind;
use crate::knobs::DrawnKnob;
use node::config::StoreKnobs;
use node::version::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A scenario: the cluster, the traffic, how long, and the fault plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// What the scenario is for: part of the general catalog (the default),
    /// written to trigger one catalogued bug, or a benchmark's run.
    #[serde(default, skip_serializing_if = "Purpose::is_general")]
    pub purpose: Purpose,
    #[serde(default)]
    pub cluster: ClusterSpec,
    /// Traffic profiles running at the same time (default: the etcd mix and
    /// two watching clients, `default_traffic`).
    #[serde(default = "default_traffic")]
    pub traffic: Vec<TrafficSpec>,
    /// Simulated seconds of traffic and faults before the run quiesces.
    #[serde(default = "default_duration")]
    pub duration_s: f64,
    #[serde(default)]
    pub faults: Vec<FaultStep>,
    /// When present, each seed draws its own fault mix and store knobs.
    #[serde(default)]
    pub swarm: Option<SwarmSpec>,
    #[serde(default)]
    pub quiesce: QuiesceSpec,
}

/// What a scenario is for. Blind hunting and the no-bug campaign use only
/// the general catalog: a scenario written knowing a bug says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    #[default]
    General,
    /// Written to trigger a catalogued bug (the bug table names it).
    BugTrigger,
    /// The run a benchmark measures.
    Benchmark,
}

impl Purpose {
    pub fn is_general(&self) -> bool {
        *self == Purpose::General
    }
}

/// A scenario without a `[[traffic]]` section gets the etcd mix and two
/// watching clients: etcd's robustness tests watch in every run, and a
/// bug that only shows in watch responses is invisible to a run that
/// never watches.
fn default_traffic() -> Vec<TrafficSpec> {
    vec![
        TrafficSpec::default(),
        TrafficSpec {
            profile: Profile::Watch,
            clients: 2,
            rate: 10.0,
            ..TrafficSpec::default()
        },
    ]
}

fn default_duration() -> f64 {
    10.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Number of members, 1 to 5.
    pub size: usize,
    /// Version of every member, or one per member (e.g. ["3.6", "3.6", "3.5"]).
    pub versions: Vec<Version>,
    pub knobs: StoreKnobs,
    /// Whether a general scenario's seed draws the knobs it does not set
    /// (`crate::knobs`); false runs the store's defaults.
    pub draw_knobs: bool,
    /// The drawable knobs `[cluster.knobs]` sets (filled at load).
    #[serde(skip)]
    pub pinned_knobs: BTreeSet<DrawnKnob>,
    /// How long a client waits for an answer before the outcome is unknown.
    pub client_timeout_ms: u64,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            size: 3,
            versions: vec![Version::V3_6],
            knobs: StoreKnobs::default(),
            draw_knobs: true,
            pinned_knobs: BTreeSet::new(),
            client_timeout_ms: 2000,
        }
    }
}

impl ClusterSpec {
    /// The version member `index` (0-based) starts with.
    pub fn version_of(&self, index: usize) -> Version {
        match self.versions.len() {
            0 => Version::V3_6,
            1 => self.versions[0],
            _ => self.versions.get(index).copied().unwrap_or(Version::V3_6),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// etcd's robustness mix over a few keys.
    Etcd,
    /// kube-apiserver's use of etcd: informers, optimistic writers, a compactor.
    Kubernetes,
    /// Watches at offsets around the current revision, with progress requests.
    Watch,
    /// Lease grants, keepalives, revokes and expiries with keys attached.
    Lease,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficSpec {
    pub profile: Profile,
    /// Concurrent clients; each is sequential.
    pub clients: usize,
    /// Offered requests per second per client (0 = back to back).
    pub rate: f64,
    /// Number of distinct keys.
    pub keys: usize,
    /// etcd profile only: weights of its operations, in this order: get,
    /// list, stale_get, stale_list, put, delete, multi_op_txn,
    /// compare_and_set, put_with_lease, lease_revoke, put_with_ttl.
    pub weights: Option<Vec<u32>>,
    /// TTL in seconds of put_with_ttl (3.7 per-key TTL).
    pub key_ttl_s: i64,
    /// Keys are this prefix plus a number (etcd and watch profiles).
    pub key_prefix: String,
    /// Clients stop sending at this simulated second (default: run end).
    pub until_s: Option<f64>,
    /// watch profile only: watches each client keeps on its stream
    /// (default: 1 to 3, drawn per stream).
    pub watches_per_stream: Option<usize>,
    /// etcd profile only: how often its compactor compacts, in milliseconds
    /// (0: no compactor; default: drawn per seed, see [`Compactor::Drawn`]).
    pub compact_period_ms: Option<u64>,
}

/// How the etcd profile's compactor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compactor {
    /// No compactor (`compact_period_ms = 0`, or another profile).
    Off,
    /// Every period, as the scenario file sets it.
    Every(std::time::Duration),
    /// A period each seed draws (the compactor draws it from its own
    /// stream): etcd's robustness default 200 ms, or 1 s or 5 s, since
    /// longer periods compact longer stretches of history at once, as
    /// kube-apiserver's five-minute compactions do.
    Drawn,
}

impl TrafficSpec {
    /// The etcd profile's compactor.
    pub fn compactor(&self) -> Compactor {
        if self.profile != Profile::Etcd {
            return Compactor::Off;
        }
        match self.compact_period_ms {
            Some(0) => Compactor::Off,
            Some(ms) => Compactor::Every(std::time::Duration::from_millis(ms)),
            None => Compactor::Drawn,
        }
    }
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            profile: Profile::Etcd,
            clients: 4,
            rate: 50.0,
            keys: 10,
            weights: None,
            key_ttl_s: 60,
            key_prefix: "key".into(),
            until_s: None,
            watches_per_stream: None,
            compact_period_ms: None,
        }
    }
}

/// One step of the fault plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultStep {
    /// Fault kind; `faultline list faults` shows them.
    pub kind: String,
    /// Simulated seconds from the start (default 0).
    pub at_s: Option<f64>,
    /// Fire only once this holds (checked from `at_s` on): `revision >= N`,
    /// `lagging >= N`, `downgrade_enabled`, `cluster_version == X.Y`,
    /// `storage_version == X.Y`, `leader_known` (see `conditions`).
    pub when: Option<String>,
    /// leader | follower | random | all | m1..m5 (default random).
    pub target: Option<String>,
    /// How long an interval fault lasts before it is healed.
    pub duration_s: Option<f64>,
    /// Seconds before a crashed member is restarted (crash kinds).
    pub restart_after_s: Option<f64>,
    /// Failpoint name (failpoint kind).
    pub failpoint: Option<String>,
    /// crash | sleep | error (failpoint kind).
    pub action: Option<String>,
    pub sleep_ms: Option<u64>,
    /// How many passes fire (failpoint kind; default 1).
    pub times: Option<u32>,
    /// Probability (packet_loss, bit_flip).
    pub rate: Option<f64>,
    pub latency_ms: Option<[u64; 2]>,
    pub drift_ppm: Option<i64>,
    pub offset_ms: Option<i64>,
    pub count: Option<u32>,
    pub quota_kb: Option<u64>,
    /// Which files a full disk fills (enospc): `all` (default) or
    /// `backend` (the db file's volume only, the WAL's elsewhere).
    pub files: Option<String>,
    /// The alarm an `alarm_disarm` step expects raised first: `nospace`
    /// or `corrupt`.
    pub expect: Option<String>,
    /// How long an `alarm_disarm` operator waits between the `alarm list`
    /// that showed the alarm and the disarm (default 0): writes sent in
    /// between meet the alarm.
    pub hold_s: Option<f64>,
    /// Target version (upgrade/downgrade kinds).
    pub version: Option<Version>,
    /// Period of a flapping fault.
    pub period_s: Option<f64>,
    /// Extra switch for some kinds (e.g. migrate `force`).
    pub force: Option<bool>,
    /// The member must refuse to start (version kinds): an older binary on
    /// newer data, a too-old member joining, a forced migration.
    pub expect_refusal: Option<bool>,
    /// Compact this many revisions below the current one (default 0 to 4, drawn).
    pub offset: Option<i64>,
    /// The step must run before the run ends; if its condition never held,
    /// that is a violation (a downgrade that never completes, say).
    pub required: Option<bool>,
}

/// Swarm mode: a random subset of fault kinds and random store knobs per seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SwarmSpec {
    /// Kinds to draw from (default: those the fault registry marks for
    /// swarm); each must be usable without parameters.
    pub kinds: Vec<FaultKind>,
    /// How many fault steps a seed gets, at most.
    pub max_faults: usize,
    /// Whether store knobs are randomized too.
    pub randomize_knobs: bool,
}

impl Default for SwarmSpec {
    fn default() -> Self {
        SwarmSpec {
            kinds: Vec::new(),
            max_faults: 6,
            randomize_knobs: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuiesceSpec {
    /// How long the healed cluster has to answer again (liveness bound).
    pub liveness_bound_s: f64,
    /// How long to wait for members to converge before comparing hashes.
    pub converge_timeout_s: f64,
    /// How long the converged cluster has to drain what it owes: expire
    /// leases and per-key TTLs past their deadline, finish compactions,
    /// catch watchers up (the eventual properties).
    pub drain_bound_s: f64,
}

impl Default for QuiesceSpec {
    fn default() -> Self {
        QuiesceSpec {
            liveness_bound_s: 20.0,
            converge_timeout_s: 20.0,
            drain_bound_s: 10.0,
        }
    }
}
