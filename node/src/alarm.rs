//! The active alarms (etcd's v3alarm.AlarmStore): which member raised
//! which alarm, kept in the backend's alarm bucket so they survive a
//! restart and travel in snapshots. Changed only by applying an Alarm
//! entry, so every member holds the same set at the same index; what the
//! set refuses is decided at apply ([`Alarms::refusal`]), as etcd's capped
//! and corrupt appliers do.

use crate::backend::{Backend, BatchTx, Bucket};
use crate::wire::api::{AlarmMember, AlarmType, ErrorCode};
use std::collections::BTreeSet;

/// etcd's ErrGRPCNoSpace: what a write is refused with under NOSPACE.
pub const NO_SPACE: &str = "etcdserver: mvcc: database space exceeded";
/// etcd's ErrGRPCCorrupt: what a request is refused with under CORRUPT.
pub const CORRUPT: &str = "etcdserver: corrupt cluster";

/// The active alarms, by member then type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alarms(BTreeSet<(u64, AlarmType)>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt alarm record {key:?}")]
pub struct AlarmDataError {
    pub key: Vec<u8>,
}

/// The key of one alarm in the bucket: member id then type, big-endian.
fn key(member: u64, alarm: AlarmType) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&member.to_be_bytes());
    k[8..].copy_from_slice(&(alarm as i32).to_be_bytes());
    k
}

/// What the applier may do with a request while alarms are active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// A Put, a Txn that writes, a lease grant: what NOSPACE caps.
    Grows,
    /// A delete, a compaction, a lease revoke: frees space, so NOSPACE
    /// lets it through; CORRUPT refuses it.
    Shrinks,
    /// A Txn that only reads, applied through raft.
    ReadOnlyTxn,
}

impl Alarms {
    /// The alarms the backend holds.
    pub fn load(backend: &Backend) -> Result<Alarms, AlarmDataError> {
        let mut set = BTreeSet::new();
        for (k, _) in backend.scan(Bucket::Alarm) {
            let parsed = (k.len() == 12)
                .then(|| {
                    let member = u64::from_be_bytes(k[..8].try_into().ok()?);
                    let alarm = i32::from_be_bytes(k[8..].try_into().ok()?);
                    Some((member, AlarmType::try_from(alarm).ok()?))
                })
                .flatten();
            match parsed {
                Some(entry) => {
                    set.insert(entry);
                }
                None => return Err(AlarmDataError { key: k }),
            }
        }
        Ok(Alarms(set))
    }

    /// Raises an alarm (etcd's Activate); None if there is nothing to
    /// raise (type NONE).
    pub fn activate(
        &mut self,
        tx: &mut BatchTx<'_>,
        member: u64,
        alarm: AlarmType,
    ) -> Option<AlarmMember> {
        if alarm == AlarmType::None {
            return None;
        }
        if self.0.insert((member, alarm)) {
            tx.put(Bucket::Alarm, &key(member, alarm), &[]);
        }
        Some(member_of(member, alarm))
    }

    /// Clears an alarm (etcd's Deactivate); None if it was not active.
    pub fn deactivate(
        &mut self,
        tx: &mut BatchTx<'_>,
        member: u64,
        alarm: AlarmType,
    ) -> Option<AlarmMember> {
        if !self.0.remove(&(member, alarm)) {
            return None;
        }
        tx.delete(Bucket::Alarm, &key(member, alarm));
        Some(member_of(member, alarm))
    }

    /// The alarms of one type, or every alarm for NONE (etcd's Get).
    pub fn get(&self, alarm: AlarmType) -> Vec<AlarmMember> {
        self.0
            .iter()
            .filter(|(_, a)| alarm == AlarmType::None || *a == alarm)
            .map(|&(m, a)| member_of(m, a))
            .collect()
    }

    pub fn has(&self, alarm: AlarmType) -> bool {
        self.0.iter().any(|(_, a)| *a == alarm)
    }

    pub fn has_for(&self, member: u64, alarm: AlarmType) -> bool {
        self.0.contains(&(member, alarm))
    }

    /// The refusal an applied request meets, as etcd's appliers chain
    /// them: CORRUPT refuses every write and read-only Txn alike
    /// (applierV3Corrupt), NOSPACE only what grows the store
    /// (applierV3Capped).
    pub fn refusal(&self, write: Write) -> Option<(ErrorCode, &'static str)> {
        if self.has(AlarmType::Corrupt) {
            return Some((ErrorCode::Corrupt, CORRUPT));
        }
        (self.has(AlarmType::Nospace) && write == Write::Grows)
            .then_some((ErrorCode::NoSpace, NO_SPACE))
    }
}

fn member_of(member: u64, alarm: AlarmType) -> AlarmMember {
    AlarmMember {
        member_id: member,
        alarm: alarm as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::env_in;
    use futures::executor::block_on;

    #[test]
    fn alarms_survive_a_reopen_and_refuse_as_etcds_appliers() {
        let dir = tempfile::tempdir().expect("temp dir");
        block_on(async {
            let backend = Backend::open(env_in(dir.path()), 100, false)
                .await
                .expect("open");
            let mut alarms = Alarms::load(&backend).expect("load");
            assert_eq!(alarms.refusal(Write::Grows), None);
            let mut tx = backend.batch_tx().await;
            assert!(alarms.activate(&mut tx, 2, AlarmType::None).is_none());
            assert!(alarms.activate(&mut tx, 2, AlarmType::Nospace).is_some());
            tx.commit_now(false).await.expect("commit");
            assert_eq!(
                alarms.refusal(Write::Grows),
                Some((ErrorCode::NoSpace, NO_SPACE))
            );
            assert_eq!(alarms.refusal(Write::Shrinks), None);
            assert_eq!(alarms.refusal(Write::ReadOnlyTxn), None);

            let reopened = Backend::open(env_in(dir.path()), 100, false)
                .await
                .expect("reopen");
            let mut loaded = Alarms::load(&reopened).expect("load");
            assert_eq!(loaded, alarms);
            assert_eq!(loaded.get(AlarmType::None).len(), 1);
            assert!(loaded.get(AlarmType::Corrupt).is_empty());

            let mut tx = reopened.batch_tx().await;
            loaded.activate(&mut tx, 3, AlarmType::Corrupt);
            assert_eq!(
                loaded.refusal(Write::Shrinks),
                Some((ErrorCode::Corrupt, CORRUPT))
            );
            assert!(loaded.deactivate(&mut tx, 2, AlarmType::Nospace).is_some());
            assert!(loaded.deactivate(&mut tx, 2, AlarmType::Nospace).is_none());
            assert!(loaded.deactivate(&mut tx, 3, AlarmType::Corrupt).is_some());
            tx.commit_now(false).await.expect("commit");
            let again = Backend::open(env_in(dir.path()), 100, false)
                .await
                .expect("reopen");
            assert_eq!(Alarms::load(&again).expect("load"), Alarms::default());
        });
    }
}
