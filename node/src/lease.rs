//! Leases, as etcd's lessor keeps them. Every member knows every lease and
//! the keys attached to it, but only the leader (the primary lessor) tracks
//! expiry, with its own clock; it proposes a revoke through raft when a
//! lease runs out. A new leader extends every lease before expiring any.

use crate::backend::{BatchTx, Bucket};
use parking_lot::Mutex;
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A lease as stored in the lease bucket.
#[derive(Clone, PartialEq, Message)]
pub struct LeaseRecord {
    #[prost(int64, tag = "1")]
    pub id: i64,
    #[prost(int64, tag = "2")]
    pub ttl: i64,
    /// Checkpointed remaining TTL in seconds (3.6); 0 = not checkpointed.
    #[prost(int64, tag = "3")]
    pub remaining_ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error("etcdserver: requested lease not found")]
    NotFound,
    /// The lease ran out; its revoke is on its way through raft.
    #[error("etcdserver: lease expired")]
    Expired,
    #[error("etcdserver: lease already exists")]
    Exists,
    #[error("etcdserver: lease TTL out of range")]
    TtlOutOfRange,
    #[error("etcdserver: corrupt lease record: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone)]
struct Lease {
    ttl: i64,
    remaining_ttl: i64,
    /// When it runs out, on the leader's clock; None on followers.
    expiry: Option<Duration>,
    keys: BTreeSet<Vec<u8>>,
}

impl Lease {
    /// The TTL to count from when this lease is (re)started.
    fn effective_ttl(&self) -> i64 {
        if self.remaining_ttl > 0 {
            self.remaining_ttl
        } else {
            self.ttl
        }
    }
}

#[derive(Default)]
struct State {
    leases: BTreeMap<i64, Lease>,
    primary: bool,
}

/// What `time_to_live` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseStatus {
    pub id: i64,
    pub ttl: i64,
    pub granted_ttl: i64,
    pub keys: Vec<Vec<u8>>,
}

pub struct Lessor {
    state: Mutex<State>,
    min_ttl: i64,
}

pub fn lease_key(id: i64) -> [u8; 8] {
    id.to_be_bytes()
}

fn secs(d: Duration) -> i64 {
    d.as_secs() as i64 + i64::from(d.subsec_nanos() > 0)
}

/// Milliseconds from `now` to `deadline`, negative once it passed.
pub fn signed_ms(deadline: Duration, now: Duration) -> i64 {
    if deadline >= now {
        i64::try_from((deadline - now).as_millis()).unwrap_or(i64::MAX)
    } else {
        i64::try_from((now - deadline).as_millis()).map_or(i64::MIN, |ms| -ms)
    }
}

impl Lessor {
    pub fn new(min_ttl: i64) -> Self {
        Lessor {
            state: Mutex::new(State::default()),
            min_ttl,
        }
    }

    /// Loads the leases from the lease bucket and attaches `keys` (the live
    /// keys and their leases from the key bucket).
    pub fn restore(
        &self,
        records: Vec<(Vec<u8>, Vec<u8>)>,
        keys: impl IntoIterator<Item = (Vec<u8>, i64)>,
        now: Duration,
    ) -> Result<(), LeaseError> {
        let mut st = self.state.lock();
        let primary = st.primary;
        st.leases.clear();
        for (_, v) in records {
            let rec = LeaseRecord::decode(v.as_slice())
                .map_err(|e| LeaseError::Corrupt(e.to_string()))?;
            let mut lease = Lease {
                ttl: rec.ttl,
                remaining_ttl: rec.remaining_ttl,
                expiry: None,
                keys: BTreeSet::new(),
            };
            if primary {
                lease.expiry = Some(now + Duration::from_secs(lease.effective_ttl().max(0) as u64));
            }
            st.leases.insert(rec.id, lease);
        }
        for (key, id) in keys {
            if let Some(lease) = st.leases.get_mut(&id) {
                lease.keys.insert(key);
            }
        }
        Ok(())
    }

    pub fn exists(&self, id: i64) -> bool {
        self.state.lock().leases.contains_key(&id)
    }

    /// Applies a grant: records the lease (durably through `tx`).
    pub fn grant(
        &self,
        tx: &mut BatchTx<'_>,
        id: i64,
        ttl: i64,
        now: Duration,
    ) -> Result<i64, LeaseError> {
        if id <= 0 {
            return Err(LeaseError::NotFound);
        }
        if ttl > 9_000_000_000 {
            return Err(LeaseError::TtlOutOfRange);
        }
        let ttl = ttl.max(self.min_ttl);
        let mut st = self.state.lock();
        if st.leases.contains_key(&id) {
            return Err(LeaseError::Exists);
        }
        let expiry = st.primary.then(|| now + Duration::from_secs(ttl as u64));
        st.leases.insert(
            id,
            Lease {
                ttl,
                remaining_ttl: 0,
                expiry,
                keys: BTreeSet::new(),
            },
        );
        let rec = LeaseRecord {
            id,
            ttl,
            remaining_ttl: 0,
        };
        tx.put(Bucket::Lease, &lease_key(id), &rec.encode_to_vec());
        Ok(ttl)
    }

    /// Applies a revoke's bookkeeping; returns the keys to delete.
    pub fn revoke(&self, tx: &mut BatchTx<'_>, id: i64) -> Result<Vec<Vec<u8>>, LeaseError> {
        let mut st = self.state.lock();
        let lease = st.leases.remove(&id).ok_or(LeaseError::NotFound)?;
        tx.delete(Bucket::Lease, &lease_key(id));
        Ok(lease.keys.into_iter().collect())
    }

    /// The keys attached to a lease (for deleting them in a revoke).
    pub fn keys(&self, id: i64) -> Option<Vec<Vec<u8>>> {
        self.state
            .lock()
            .leases
            .get(&id)
            .map(|l| l.keys.iter().cloned().collect())
    }

    pub fn attach(&self, id: i64, key: &[u8]) {
        if let Some(lease) = self.state.lock().leases.get_mut(&id) {
            lease.keys.insert(key.to_vec());
        }
    }

    pub fn detach(&self, id: i64, key: &[u8]) {
        if let Some(lease) = self.state.lock().leases.get_mut(&id) {
            lease.keys.remove(key);
        }
    }

    /// This member became leader: start expiry clocks, extended by
    /// `extend` (etcd extends by the election timeout so a lease does not
    /// expire just because leadership moved).
    pub fn promote(&self, now: Duration, extend: Duration) {
        let mut st = self.state.lock();
        st.primary = true;
        for lease in st.leases.values_mut() {
            lease.expiry =
                Some(now + extend + Duration::from_secs(lease.effective_ttl().max(0) as u64));
        }
    }

    /// This member is no longer leader: followers never expire leases.
    pub fn demote(&self) {
        let mut st = self.state.lock();
        st.primary = false;
        for lease in st.leases.values_mut() {
            lease.expiry = None;
        }
    }

    pub fn is_primary(&self) -> bool {
        self.state.lock().primary
    }

    /// Leases whose time ran out, on the leader (at most `limit`).
    pub fn expired(&self, now: Duration, limit: usize) -> Vec<i64> {
        let st = self.state.lock();
        st.leases
            .iter()
            .filter(|(_, l)| l.expiry.is_some_and(|e| e <= now))
            .map(|(id, _)| *id)
            .take(limit)
            .collect()
    }

    /// A keepalive on the leader: restarts the lease's full TTL.
    pub fn renew(&self, id: i64, now: Duration) -> Result<i64, LeaseError> {
        let mut st = self.state.lock();
        let primary = st.primary;
        let lease = st.leases.get_mut(&id).ok_or(LeaseError::NotFound)?;
        if let Some(expiry) = lease.expiry
            && expiry <= now
        {
            return Err(LeaseError::Expired);
        }
        lease.remaining_ttl = 0;
        if primary {
            lease.expiry = Some(now + Duration::from_secs(lease.ttl as u64));
        }
        Ok(lease.ttl)
    }

    pub fn time_to_live(&self, id: i64, now: Duration) -> Result<LeaseStatus, LeaseError> {
        let st = self.state.lock();
        let lease = st.leases.get(&id).ok_or(LeaseError::NotFound)?;
        let ttl = match lease.expiry {
            // Whole seconds left, cut toward zero as etcd cuts them (int64
            // of Remaining().Seconds()): past the deadline, and not revoked
            // yet, that is 0, then -1, -2, ... whole seconds late.
            Some(e) if e > now => i64::try_from((e - now).as_secs()).unwrap_or(i64::MAX),
            Some(e) => -i64::try_from((now - e).as_secs()).unwrap_or(i64::MAX),
            None => lease.effective_ttl(),
        };
        Ok(LeaseStatus {
            id,
            ttl,
            granted_ttl: lease.ttl,
            keys: lease.keys.iter().cloned().collect(),
        })
    }

    /// On the primary, every lease with the milliseconds left before its
    /// deadline (negative once past it); nothing on a follower.
    pub fn deadlines(&self, now: Duration) -> Vec<(i64, i64)> {
        let st = self.state.lock();
        st.leases
            .iter()
            .filter_map(|(id, l)| l.expiry.map(|e| (*id, signed_ms(e, now))))
            .collect()
    }

    pub fn ids(&self) -> Vec<i64> {
        self.state.lock().leases.keys().copied().collect()
    }

    /// Remaining TTLs to checkpoint (leader only, 3.6+).
    pub fn checkpoints(&self, now: Duration) -> Vec<(i64, i64)> {
        let st = self.state.lock();
        st.leases
            .iter()
            .filter_map(|(id, l)| l.expiry.map(|e| (*id, secs(e.saturating_sub(now)).max(1))))
            .collect()
    }

    /// Applies a checkpoint: records the remaining TTL durably.
    pub fn apply_checkpoint(&self, tx: &mut BatchTx<'_>, id: i64, remaining: i64) {
        let mut st = self.state.lock();
        if let Some(lease) = st.leases.get_mut(&id) {
            lease.remaining_ttl = remaining;
            let rec = LeaseRecord {
                id,
                ttl: lease.ttl,
                remaining_ttl: remaining,
            };
            tx.put(Bucket::Lease, &lease_key(id), &rec.encode_to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_primary_expires_and_promotion_extends() {
        let lessor = Lessor::new(1);
        lessor
            .restore(
                vec![(
                    lease_key(7).to_vec(),
                    LeaseRecord {
                        id: 7,
                        ttl: 5,
                        remaining_ttl: 0,
                    }
                    .encode_to_vec(),
                )],
                vec![(b"k".to_vec(), 7)],
                Duration::ZERO,
            )
            .expect("valid records");
        assert!(
            lessor.expired(Duration::from_secs(100), 10).is_empty(),
            "followers never expire"
        );
        lessor.promote(Duration::from_secs(10), Duration::from_secs(1));
        assert!(lessor.expired(Duration::from_secs(15), 10).is_empty());
        assert_eq!(lessor.expired(Duration::from_secs(16), 10), vec![7]);
        assert_eq!(lessor.keys(7), Some(vec![b"k".to_vec()]));
        assert_eq!(lessor.deadlines(Duration::from_secs(15)), vec![(7, 1000)]);
        assert_eq!(
            lessor.deadlines(Duration::from_millis(16_500)),
            vec![(7, -500)]
        );
        assert_eq!(
            lessor.renew(7, Duration::from_secs(17)),
            Err(LeaseError::Expired)
        );
        lessor.demote();
        assert!(lessor.expired(Duration::from_secs(100), 10).is_empty());
        assert!(lessor.deadlines(Duration::from_secs(100)).is_empty());
    }

    #[test]
    fn checkpointed_remaining_ttl_is_used_after_promotion() {
        let lessor = Lessor::new(1);
        lessor
            .restore(
                vec![(
                    lease_key(1).to_vec(),
                    LeaseRecord {
                        id: 1,
                        ttl: 100,
                        remaining_ttl: 3,
                    }
                    .encode_to_vec(),
                )],
                vec![],
                Duration::ZERO,
            )
            .expect("valid records");
        lessor.promote(Duration::ZERO, Duration::ZERO);
        assert_eq!(lessor.expired(Duration::from_secs(3), 10), vec![1]);
        let ttl = lessor
            .time_to_live(1, Duration::from_secs(1))
            .expect("exists");
        assert_eq!((ttl.ttl, ttl.granted_ttl), (2, 100));
    }
}
