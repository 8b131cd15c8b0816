//! A member's configuration: identity, version, peers, knobs and bug switches.

use crate::bugs::BugSet;
use crate::version::Version;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Port members use for raft traffic between them.
pub const PEER_PORT: u16 = 2380;
/// Port clients connect to.
pub const CLIENT_PORT: u16 = 2379;
/// Port watch streams connect to.
pub const WATCH_PORT: u16 = 2378;

/// Tunable store behaviour. Defaults are etcd's, scaled down where a
/// simulation of seconds must reach the same code paths as hours in
/// production (snapshots, compaction batches, progress notifications).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreKnobs {
    /// Raft tick interval.
    pub tick_ms: u64,
    /// Ticks without a leader before a follower campaigns.
    pub election_ticks: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: usize,
    /// Applied entries between snapshots (etcd --snapshot-count).
    pub snapshot_count: u64,
    /// Entries kept in the raft log after a snapshot so slow followers can
    /// catch up without one (etcd --experimental-snapshot-catchup-entries).
    pub catchup_entries: u64,
    /// The backend commits its batch at least this often.
    pub backend_batch_interval_ms: u64,
    /// ...or as soon as the batch holds this many writes.
    pub backend_batch_limit: usize,
    /// Revisions removed per compaction batch.
    pub compaction_batch_limit: usize,
    /// Pause between compaction batches.
    pub compaction_sleep_interval_ms: u64,
    /// Interval of periodic progress notifications to watchers that asked.
    pub progress_notify_interval_ms: u64,
    /// Maximum revisions sent in one catch-up batch to an unsynced watcher.
    pub watch_batch_max_revs: usize,
    /// Buffered responses per watch stream before a watcher becomes a victim.
    pub watch_stream_buffer: usize,
    /// Interval at which the leader checkpoints remaining lease TTLs (3.6+).
    pub lease_checkpoint_interval_ms: u64,
    /// Smallest lease TTL granted, in seconds (etcd: 1.5 election timeouts,
    /// rounded up).
    pub min_lease_ttl_s: i64,
    /// Bytes per WAL segment before a new one is cut.
    pub wal_segment_bytes: u64,
    /// Snapshot and WAL files kept; older ones are purged.
    pub max_snapshot_files: usize,
    /// How long the server waits for a proposal to apply before answering
    /// with a timeout (the outcome is then unknown to the client).
    pub request_timeout_ms: u64,
    /// How often the storage version is brought to the cluster version.
    pub storage_version_sync_ms: u64,
    /// The largest request proposed through raft, encoded (etcd
    /// --max-request-bytes, not scaled down: requests are as large as
    /// production's); a larger one is refused before it is proposed.
    pub max_request_bytes: usize,
    /// How often the leader compares its followers' HashKV with its own
    /// and raises CORRUPT on a mismatch (etcd
    /// --experimental-corrupt-check-time); 0, etcd's default, is never.
    pub corrupt_check_interval_ms: u64,
}

/// etcd's default --max-request-bytes (embed.DefaultMaxRequestBytes).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1536 * 1024;

impl Default for StoreKnobs {
    fn default() -> Self {
        StoreKnobs {
            tick_ms: 10,
            election_ticks: 10,
            heartbeat_ticks: 1,
            snapshot_count: 200,
            catchup_entries: 50,
            backend_batch_interval_ms: 20,
            backend_batch_limit: 64,
            compaction_batch_limit: 16,
            compaction_sleep_interval_ms: 2,
            progress_notify_interval_ms: 1000,
            watch_batch_max_revs: 32,
            watch_stream_buffer: 16,
            lease_checkpoint_interval_ms: 1000,
            min_lease_ttl_s: 1,
            wal_segment_bytes: 64 * 1024,
            max_snapshot_files: 3,
            request_timeout_ms: 3000,
            storage_version_sync_ms: 500,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            corrupt_check_interval_ms: 0,
        }
    }
}

impl StoreKnobs {
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }

    pub fn election_timeout(&self) -> Duration {
        self.tick() * self.election_ticks as u32
    }

    /// Problems with the knobs, as `field: what is wrong`.
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(bool, &str); 9] = [
            (self.tick_ms > 0, "tick_ms: must be at least 1"),
            (
                self.election_ticks > self.heartbeat_ticks,
                "election_ticks: must be greater than heartbeat_ticks",
            ),
            (
                self.heartbeat_ticks > 0,
                "heartbeat_ticks: must be at least 1",
            ),
            (
                self.snapshot_count > 0,
                "snapshot_count: must be at least 1",
            ),
            (
                self.backend_batch_limit > 0,
                "backend_batch_limit: must be at least 1",
            ),
            (
                self.compaction_batch_limit > 0,
                "compaction_batch_limit: must be at least 1",
            ),
            (
                self.watch_batch_max_revs > 0,
                "watch_batch_max_revs: must be at least 1",
            ),
            (
                self.wal_segment_bytes >= 1024,
                "wal_segment_bytes: must be at least 1024",
            ),
            (
                self.max_snapshot_files > 0,
                "max_snapshot_files: must be at least 1",
            ),
        ];
        if let Some((_, msg)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(msg.to_string());
        }
        self.within_upper_bounds()
    }

    /// Every knob below a bound far above any sensible setting, so that
    /// a huge value is an error naming it rather than an overflow in the
    /// store (a tick times the election ticks, an index plus the snapshot
    /// count, an instant plus a timeout).
    fn within_upper_bounds(&self) -> Result<(), String> {
        const HOUR_MS: u64 = 3_600_000;
        const COUNT: u64 = 1_000_000_000;
        let bounds: [(&str, u64, u64); 20] = [
            ("tick_ms", self.tick_ms, 60_000),
            ("election_ticks", self.election_ticks as u64, 1_000_000),
            ("heartbeat_ticks", self.heartbeat_ticks as u64, 1_000_000),
            ("snapshot_count", self.snapshot_count, COUNT),
            ("catchup_entries", self.catchup_entries, COUNT),
            (
                "backend_batch_interval_ms",
                self.backend_batch_interval_ms,
                HOUR_MS,
            ),
            (
                "backend_batch_limit",
                self.backend_batch_limit as u64,
                COUNT,
            ),
            (
                "compaction_batch_limit",
                self.compaction_batch_limit as u64,
                COUNT,
            ),
            (
                "compaction_sleep_interval_ms",
                self.compaction_sleep_interval_ms,
                HOUR_MS,
            ),
            (
                "progress_notify_interval_ms",
                self.progress_notify_interval_ms,
                HOUR_MS,
            ),
            (
                "watch_batch_max_revs",
                self.watch_batch_max_revs as u64,
                COUNT,
            ),
            (
                "watch_stream_buffer",
                self.watch_stream_buffer as u64,
                1_000_000,
            ),
            (
                "lease_checkpoint_interval_ms",
                self.lease_checkpoint_interval_ms,
                HOUR_MS,
            ),
            (
                "min_lease_ttl_s",
                self.min_lease_ttl_s.unsigned_abs(),
                HOUR_MS / 1000 * 24 * 365,
            ),
            ("wal_segment_bytes", self.wal_segment_bytes, 1 << 30),
            ("max_snapshot_files", self.max_snapshot_files as u64, 1_000),
            ("request_timeout_ms", self.request_timeout_ms, HOUR_MS),
            (
                "storage_version_sync_ms",
                self.storage_version_sync_ms,
                HOUR_MS,
            ),
            ("max_request_bytes", self.max_request_bytes as u64, 1 << 30),
            (
                "corrupt_check_interval_ms",
                self.corrupt_check_interval_ms,
                HOUR_MS,
            ),
        ];
        match bounds.iter().find(|(_, v, max)| v > max) {
            Some((name, v, max)) => Err(format!("{name}: expected at most {max}, got {v}")),
            None => Ok(()),
        }
    }
}

/// A member of the cluster as others address it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub id: u64,
    pub ip: IpAddr,
}

impl Peer {
    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, PEER_PORT)
    }

    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, CLIENT_PORT)
    }
}

/// Everything a member process is started with.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    pub id: u64,
    pub version: Version,
    pub cluster_id: u64,
    /// The peers known at start. On first start of a new cluster these are
    /// the initial voters; a member joining an existing cluster lists the
    /// members it may contact.
    pub peers: Vec<Peer>,
    /// True when this member was added to a running cluster (it starts
    /// empty and waits for the leader instead of bootstrapping).
    pub join_existing: bool,
    pub knobs: StoreKnobs,
    pub bugs: BugSet,
}

impl MemberConfig {
    pub fn peer(&self, id: u64) -> Option<&Peer> {
        self.peers.iter().find(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_knobs_are_valid_and_bad_ones_name_the_field() {
        assert_eq!(StoreKnobs::default().validate(), Ok(()));
        let bad = StoreKnobs {
            election_ticks: 1,
            ..StoreKnobs::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("election_ticks"));
    }

    /// Each lower bound refuses the value just below it, naming the knob,
    /// and takes the bound itself.
    #[test]
    fn every_lower_bound_refuses_just_below_it_and_takes_the_bound() {
        type Set = fn(&mut StoreKnobs, u64);
        let bounds: [(&str, u64, Set); 9] = [
            ("tick_ms", 1, |k, v| k.tick_ms = v),
            ("heartbeat_ticks", 1, |k, v| k.heartbeat_ticks = v as _),
            ("snapshot_count", 1, |k, v| k.snapshot_count = v),
            ("backend_batch_limit", 1, |k, v| {
                k.backend_batch_limit = v as _
            }),
            ("compaction_batch_limit", 1, |k, v| {
                k.compaction_batch_limit = v as _
            }),
            ("watch_batch_max_revs", 1, |k, v| {
                k.watch_batch_max_revs = v as _
            }),
            ("wal_segment_bytes", 1024, |k, v| {
                k.wal_segment_bytes = v as _
            }),
            ("max_snapshot_files", 1, |k, v| {
                k.max_snapshot_files = v as _
            }),
            ("election_ticks", 2, |k, v| {
                k.heartbeat_ticks = 1;
                k.election_ticks = v as _;
            }),
        ];
        for (name, bound, set) in bounds {
            let mut below = StoreKnobs::default();
            set(&mut below, bound - 1);
            let e = below.validate().expect_err(name);
            assert!(e.starts_with(name), "{name}: {e}");
            let mut at = StoreKnobs::default();
            set(&mut at, bound);
            assert_eq!(at.validate(), Ok(()), "{name} at {bound}");
        }
    }
}
