//! The offline tools, on any [`Disk`](crate::disk::Disk) (real files for
//! `faultline migrate` / `faultline inspect`, the simulated disk for the
//! scenario step): inspect a data directory, and migrate its storage to a
//! target version, checking the WAL's minimal version first.

use crate::backend::{Backend, Bucket};
use crate::cluster::ClusterState;
use crate::disk::DiskRef;
use crate::failpoint::Failpoints;
use crate::host::{ExitReason, Host, MemberEnv, NodeEvent};
use crate::schema;
use crate::storage_version::{self, StorageVersionError};
use crate::version::Version;
use crate::wal::{Wal, WalError};
use crate::wire::internal::InternalRequest;
use prost::Message;
use raft::eraftpb::EntryType;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    #[error(transparent)]
    StorageVersion(#[from] StorageVersionError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterDataError),
    #[error("WAL entry {index} cannot be decoded: {detail}")]
    Entry { index: u64, detail: String },
    #[error("key bucket record {revision} cannot be decoded: {detail}")]
    KeyRecord { revision: String, detail: String },
}

/// What `faultline inspect` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub storage_version: Option<Version>,
    pub wal_minimal_version: Version,
    pub revision: i64,
    pub consistent_index: u64,
    pub members: Vec<(u64, String)>,
    pub cluster_version: Option<Version>,
    pub downgrade_target: Option<Version>,
    pub wal_entries: usize,
}

impl std::fmt::Display for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |v: Option<Version>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        writeln!(f, "storage version:     {}", v(self.storage_version))?;
        writeln!(
            f,
            "WAL minimal version: {} ({} entries since the last snapshot)",
            self.wal_minimal_version, self.wal_entries
        )?;
        writeln!(f, "revision:            {}", self.revision)?;
        writeln!(f, "consistent index:    {}", self.consistent_index)?;
        writeln!(f, "cluster version:     {}", v(self.cluster_version))?;
        writeln!(f, "downgrade target:    {}", v(self.downgrade_target))?;
        let members: Vec<String> = self
            .members
            .iter()
            .map(|(id, ip)| format!("{id}@{ip}"))
            .collect();
        write!(f, "members:             {}", members.join(", "))
    }
}

/// A host for tools that run outside any world: events go to the log.
struct ToolHost;

impl Host for ToolHost {
    fn emit(&self, member: u64, event: NodeEvent) {
        tracing::info!(member, ?event, "offline tool");
    }
    fn exit(&self, member: u64, reason: ExitReason) {
        tracing::error!(member, ?reason, "offline tool stopped");
    }
}

fn tool_env(disk: DiskRef) -> MemberEnv {
    MemberEnv {
        member: 0,
        disk,
        clock: Arc::new(crate::clock::SimTimeClock::new()),
        host: Arc::new(ToolHost),
        failpoints: Arc::new(Failpoints::new()),
        stop: Arc::new(tokio::sync::Notify::new()),
        backlog: Default::default(),
    }
}

/// The newest version any WAL entry after the last snapshot needs.
pub async fn wal_minimal_version(disk: &DiskRef) -> Result<(Version, usize), MigrateError> {
    let contents = Wal::read(disk.clone()).await?;
    let since = contents
        .snapshots
        .iter()
        .map(|m| m.index)
        .max()
        .unwrap_or(0);
    let mut min = Version::V3_5;
    let mut count = 0;
    for e in contents.entries.iter().filter(|e| e.index > since) {
        count += 1;
        if e.get_entry_type() != EntryType::EntryNormal || e.data.is_empty() {
            continue;
        }
        let req = InternalRequest::decode(e.data.as_ref()).map_err(|err| MigrateError::Entry {
            index: e.index,
            detail: err.to_string(),
        })?;
        min = min.max(schema::minimal_version(&req));
    }
    Ok((min, count))
}

pub async fn inspect(disk: DiskRef) -> Result<Inspection, MigrateError> {
    let (wal_minimal_version, wal_entries) = wal_minimal_version(&disk).await?;
    let env = tool_env(disk);
    let backend = Backend::open(env.clone(), 1, false).await?;
    let storage_version = storage_version::detect(&backend)?;
    let (mvcc, _) =
        crate::mvcc::Mvcc::open(backend.clone(), env, crate::mvcc::MvccOptions::default())
            .map_err(|e| MigrateError::Entry {
                index: 0,
                detail: e.to_string(),
            })?;
    let cluster = ClusterState::load(&backend)?;
    Ok(Inspection {
        storage_version,
        wal_minimal_version,
        revision: mvcc.current_revision(),
        consistent_index: backend.consistent_index().0,
        members: cluster
            .members
            .values()
            .map(|m| (m.id, m.ip.clone()))
            .collect(),
        cluster_version: cluster.cluster_version,
        downgrade_target: cluster
            .downgrade
            .target
            .filter(|_| cluster.downgrade.enabled),
        wal_entries,
    })
}

/// Corrupts a stopped member's data the way etcd's own tests do
/// (`testutil.CorruptBBolt`, used by `TestPeriodicCheckDetectsCorruption`):
/// every record of the key bucket keeps its revision, but its key's and
/// value's first bytes are incremented, and the records are written back.
/// Checksums stay valid: only a comparison with the other members (the
/// corruption check) can tell. Returns how many records it rewrote.
pub async fn corrupt_values(disk: DiskRef) -> Result<usize, MigrateError> {
    let env = tool_env(disk);
    let backend = Backend::open(env, 1, false).await?;
    let records = backend.scan(Bucket::Key);
    let mut tx = backend.batch_tx().await;
    for (revision, record) in &records {
        let mut kv = crate::wire::api::KeyValue::decode(record.as_slice()).map_err(|e| {
            MigrateError::KeyRecord {
                revision: format!("{revision:02x?}"),
                detail: e.to_string(),
            }
        })?;
        for field in [&mut kv.key, &mut kv.value] {
            if let Some(first) = field.first_mut() {
                *first = first.wrapping_add(1);
            }
        }
        tx.put(Bucket::Key, revision, &kv.encode_to_vec());
    }
    tx.commit_now(false).await?;
    Ok(records.len())
}

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub from: Version,
    pub to: Version,
    pub steps: Vec<(Version, Version)>,
    /// The WAL check failed but `force` went ahead.
    pub forced: bool,
}

/// Migrates the storage to `target` (several steps allowed offline).
/// Refuses a downgrade below the WAL's minimal version unless `force`.
pub async fn migrate(
    disk: DiskRef,
    target: Version,
    force: bool,
) -> Result<Migration, MigrateError> {
    if !target.is_supported() {
        return Err(StorageVersionError::Unsupported(target.to_string()).into());
    }
    let (wal_min, _) = wal_minimal_version(&disk).await?;
    let env = tool_env(disk);
    let backend = Backend::open(env, 1, false).await?;
    let from = storage_version::detect(&backend)?.ok_or(StorageVersionError::Undetectable)?;
    let mut forced = false;
    if target < from && wal_min > target {
        if !force {
            return Err(StorageVersionError::WalTooNew {
                wal: wal_min,
                target,
            }
            .into());
        }
        forced = true;
    }
    let mut tx = backend.batch_tx().await;
    let steps = storage_version::migrate(&backend, &mut tx, from, target, false)?;
    tx.commit_now(false).await?;
    Ok(Migration {
        from,
        to: target,
        steps,
        forced,
    })
}
