//! The backend's storage version: detection, the strict start check, and
//! migration one minor version per step, up or down. Each step adds,
//! removes or converts exactly what the schema table says that version
//! introduced.

use crate::backend::{Backend, BatchTx, Bucket, keys};
use crate::lease::LeaseRecord;
use crate::schema::{ItemKind, introduced};
use crate::version::Version;
use crate::wire::api::KeyValue;
use prost::Message;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageVersionError {
    #[error(
        "failed to validate schema: storage version {storage} is newer than server version {server}"
    )]
    Newer { storage: Version, server: Version },
    #[error(
        "cannot detect the storage version: the backend has neither meta/storageVersion nor meta/term"
    )]
    Undetectable,
    #[error("unsupported storage version {0}")]
    Unsupported(String),
    #[error(
        "cannot downgrade storage, WAL contains newer entries (WAL minimal version {wal}, target {target})"
    )]
    WalTooNew { wal: Version, target: Version },
    #[error("migration failed: {0}")]
    Failed(String),
}

/// What the backend's data is: its storage version, or None for an empty
/// (never written) backend.
pub fn detect(backend: &Backend) -> Result<Option<Version>, StorageVersionError> {
    if let Some(v) = backend.get(Bucket::Meta, keys::STORAGE_VERSION) {
        let s = String::from_utf8_lossy(&v).into_owned();
        let v: Version = s
            .parse()
            .map_err(|_| StorageVersionError::Unsupported(s.clone()))?;
        if !v.is_supported() {
            return Err(StorageVersionError::Unsupported(s));
        }
        return Ok(Some(v));
    }
    // etcd 3.5 wrote no storage version, but always the term.
    if backend.get(Bucket::Meta, keys::TERM).is_some() {
        return Ok(Some(Version::V3_5));
    }
    let empty = Bucket::ALL.iter().all(|b| backend.scan(*b).is_empty());
    if empty {
        Ok(None)
    } else {
        Err(StorageVersionError::Undetectable)
    }
}

/// A binary never runs on data newer than itself.
pub fn check_start(storage: Option<Version>, server: Version) -> Result<(), StorageVersionError> {
    match storage {
        Some(s) if s > server => Err(StorageVersionError::Newer { storage: s, server }),
        _ => Ok(()),
    }
}

fn field_version(name: &str) -> Version {
    introduced(ItemKind::PersistedField, name).unwrap_or(Version::V3_5)
}

/// Writes the storage version marker for `v` (none below its version).
fn set_marker(tx: &mut BatchTx<'_>, v: Version) {
    if v >= field_version("meta/storageVersion") {
        tx.put(
            Bucket::Meta,
            keys::STORAGE_VERSION,
            v.to_string().as_bytes(),
        );
    } else {
        tx.delete(Bucket::Meta, keys::STORAGE_VERSION);
    }
}

/// Undoes what version `v` introduced, moving the data to `v - 1`.
/// `keep_fields` is the downgrade-keeps-fields bug: newer fields stay.
fn step_down(
    backend: &Backend,
    tx: &mut BatchTx<'_>,
    v: Version,
    keep_fields: bool,
) -> Result<(), StorageVersionError> {
    let bad = |e: prost::DecodeError| StorageVersionError::Failed(e.to_string());
    if !keep_fields {
        if field_version("key/ttl") == v {
            for (k, bytes) in backend.scan(Bucket::Key) {
                let mut kv = KeyValue::decode(bytes.as_slice()).map_err(bad)?;
                if kv.ttl != 0 {
                    kv.ttl = 0;
                    tx.put(Bucket::Key, &k, &kv.encode_to_vec());
                }
            }
        }
        if field_version("lease/remainingTTL") == v {
            for (k, bytes) in backend.scan(Bucket::Lease) {
                let mut rec = LeaseRecord::decode(bytes.as_slice()).map_err(bad)?;
                if rec.remaining_ttl != 0 {
                    rec.remaining_ttl = 0;
                    tx.put(Bucket::Lease, &k, &rec.encode_to_vec());
                }
            }
        }
    }
    Ok(())
}

/// Moves the data from `from` to `to`, one minor version per step, inside
/// the given transaction. Upgrades add nothing but the marker: every field
/// a version introduces is optional.
pub fn migrate(
    backend: &Backend,
    tx: &mut BatchTx<'_>,
    from: Version,
    to: Version,
    keep_fields: bool,
) -> Result<Vec<(Version, Version)>, StorageVersionError> {
    if !to.is_supported() {
        return Err(StorageVersionError::Unsupported(to.to_string()));
    }
    let mut steps = Vec::new();
    let mut v = from;
    while v != to {
        let next = if to > v { v.next() } else { v.previous() };
        let next = next.ok_or_else(|| {
            StorageVersionError::Unsupported(format!("no step from {v} towards {to}"))
        })?;
        if next < v {
            step_down(backend, tx, v, keep_fields)?;
        }
        set_marker(tx, next);
        steps.push((v, next));
        v = next;
    }
    if steps.is_empty() {
        set_marker(tx, to);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::env_in;

    #[test]
    fn detection_and_the_start_check() {
        madsim::runtime::Runtime::new().block_on(async {
            let dir = tempfile::tempdir().expect("temp dir");
            let b = Backend::open(env_in(dir.path()), 100, false)
                .await
                .expect("backend");
            assert_eq!(detect(&b), Ok(None));
            let mut tx = b.batch_tx().await;
            tx.put(Bucket::Key, b"x", b"y");
            tx.commit_now(false).await.expect("commit");
            assert_eq!(detect(&b), Err(StorageVersionError::Undetectable));
            let mut tx = b.batch_tx().await;
            tx.put(Bucket::Meta, keys::TERM, &1u64.to_be_bytes());
            tx.commit_now(false).await.expect("commit");
            assert_eq!(detect(&b), Ok(Some(Version::V3_5)));
            let mut tx = b.batch_tx().await;
            tx.put(Bucket::Meta, keys::STORAGE_VERSION, b"3.7");
            tx.commit_now(false).await.expect("commit");
            assert_eq!(detect(&b), Ok(Some(Version::V3_7)));
            let err = check_start(Some(Version::V3_7), Version::V3_6).unwrap_err();
            assert_eq!(
                err.to_string(),
                "failed to validate schema: storage version 3.7 is newer than server version 3.6"
            );
            assert!(check_start(Some(Version::V3_6), Version::V3_7).is_ok());
        });
    }
}

#[cfg(test)]
mod round_trips {
    use super::*;
    use crate::host::testing::env_in;
    use proptest::prelude::*;

    type Image = Vec<(Bucket, Vec<u8>, Vec<u8>)>;

    fn image(b: &Backend) -> Image {
        Bucket::ALL
            .iter()
            .flat_map(|bucket| {
                b.scan(*bucket)
                    .into_iter()
                    .map(move |(k, v)| (*bucket, k, v))
            })
            .collect()
    }

    async fn backend_with(
        dir: &std::path::Path,
        keys: &[(u8, u8, i64)],
        leases: &[(i64, i64)],
    ) -> Backend {
        let b = Backend::open(env_in(dir), 1000, false)
            .await
            .expect("backend");
        let mut tx = b.batch_tx().await;
        tx.put(Bucket::Meta, keys::TERM, &3u64.to_be_bytes());
        for (i, (k, v, ttl)) in keys.iter().enumerate() {
            let kv = KeyValue {
                key: vec![*k],
                value: vec![*v],
                mod_revision: i as i64 + 2,
                create_revision: i as i64 + 2,
                version: 1,
                ttl: *ttl,
                ..Default::default()
            };
            tx.put(
                Bucket::Key,
                &crate::mvcc::revision::encode_key(
                    crate::mvcc::revision::Revision::new(i as i64 + 2, 0),
                    false,
                ),
                &kv.encode_to_vec(),
            );
        }
        for (id, remaining) in leases {
            let rec = LeaseRecord {
                id: *id,
                ttl: 30,
                remaining_ttl: *remaining,
            };
            tx.put(
                Bucket::Lease,
                &crate::lease::lease_key(*id),
                &rec.encode_to_vec(),
            );
        }
        tx.commit_now(false).await.expect("commit");
        b
    }

    async fn migrate_to(b: &Backend, to: Version, keep: bool) {
        let from = detect(b).expect("detectable").expect("not empty");
        let mut tx = b.batch_tx().await;
        migrate(b, &mut tx, from, to, keep).expect("migration");
        tx.commit_now(false).await.expect("commit");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn data_of_3_5_goes_up_to_3_7_and_back_unchanged(
            keys in proptest::collection::vec((any::<u8>(), any::<u8>(), Just(0i64)), 0..20),
            leases in proptest::collection::vec((1..1000i64, Just(0i64)), 0..5),
        ) {
            let dir = tempfile::tempdir().expect("temp dir");
            madsim::runtime::Runtime::new().block_on(async {
                let b = backend_with(dir.path(), &keys, &leases).await;
                let original = image(&b);
                assert_eq!(detect(&b), Ok(Some(Version::V3_5)));
                migrate_to(&b, Version::V3_7, false).await;
                assert_eq!(detect(&b), Ok(Some(Version::V3_7)));
                migrate_to(&b, Version::V3_5, false).await;
                assert_eq!(image(&b), original);
            });
        }

        #[test]
        fn downgrades_remove_exactly_the_newer_fields(
            keys in proptest::collection::vec((any::<u8>(), any::<u8>(), 0..5i64), 1..20),
            leases in proptest::collection::vec((1..1000i64, 0..9i64), 1..5),
        ) {
            let dir = tempfile::tempdir().expect("temp dir");
            madsim::runtime::Runtime::new().block_on(async {
                let b = backend_with(dir.path(), &keys, &leases).await;
                migrate_to(&b, Version::V3_7, false).await;
                migrate_to(&b, Version::V3_6, false).await;
                for (_, v) in b.scan(Bucket::Key) {
                    assert_eq!(KeyValue::decode(v.as_slice()).expect("kv").ttl, 0, "3.6 has no per-key TTL");
                }
                let remaining: Vec<i64> = b
                    .scan(Bucket::Lease)
                    .iter()
                    .map(|(_, v)| LeaseRecord::decode(v.as_slice()).expect("lease").remaining_ttl)
                    .collect();
                let mut want: Vec<i64> = leases.iter().map(|(_, r)| *r).collect();
                want.sort();
                let mut got = remaining.clone();
                got.sort();
                // Duplicate lease ids keep the last write.
                assert!(got.iter().all(|r| want.contains(r)), "3.6 keeps lease checkpoints");
                migrate_to(&b, Version::V3_5, false).await;
                assert!(b.scan(Bucket::Lease).iter().all(|(_, v)| LeaseRecord::decode(v.as_slice()).expect("lease").remaining_ttl == 0));
                assert_eq!(b.get(Bucket::Meta, keys::STORAGE_VERSION), None, "3.5 has no storage version");
            });
        }

        #[test]
        fn the_keeps_fields_bug_leaves_ttls_behind(keys in proptest::collection::vec((any::<u8>(), any::<u8>(), 1..5i64), 1..10)) {
            let dir = tempfile::tempdir().expect("temp dir");
            madsim::runtime::Runtime::new().block_on(async {
                let b = backend_with(dir.path(), &keys, &[]).await;
                migrate_to(&b, Version::V3_7, false).await;
                migrate_to(&b, Version::V3_6, true).await;
                assert!(b.scan(Bucket::Key).iter().any(|(_, v)| KeyValue::decode(v.as_slice()).expect("kv").ttl != 0));
            });
        }
    }
}
