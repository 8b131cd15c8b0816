//! A write transaction: every change gets the next main revision (one per
//! transaction) and its own sub revision, as in etcd's storeTxnWrite.

use super::MvccError;
use super::revision::{Revision, encode_key};
use super::store::{Mvcc, index_range};
use crate::backend::{BatchTx, Bucket};
use crate::invariants::Invariant;
use crate::wire::api::KeyValue;
use prost::Message;

/// A lease attachment that changed with a put or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseChange {
    pub key: Vec<u8>,
    pub old_lease: i64,
    pub new_lease: i64,
}

/// One change, as watchers get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenEvent {
    pub is_delete: bool,
    /// For a delete: the key and the tombstone's mod_revision only.
    pub kv: KeyValue,
}

pub struct WriteTxn<'a> {
    mvcc: &'a Mvcc,
    tx: BatchTx<'a>,
    begin_rev: i64,
    events: Vec<WrittenEvent>,
    lease_changes: Vec<LeaseChange>,
}

impl Mvcc {
    /// Starts a write transaction (takes the backend's batch transaction).
    pub async fn write(&self) -> WriteTxn<'_> {
        let tx = self.shared.backend.batch_tx().await;
        let begin_rev = self.current_revision();
        WriteTxn {
            mvcc: self,
            tx,
            begin_rev,
            events: Vec::new(),
            lease_changes: Vec::new(),
        }
    }
}

impl<'a> WriteTxn<'a> {
    /// The revision this transaction's changes get.
    pub fn revision(&self) -> i64 {
        self.begin_rev + 1
    }

    /// The revision reads inside the transaction see: its own changes too.
    pub fn read_revision(&self) -> i64 {
        if self.events.is_empty() {
            self.begin_rev
        } else {
            self.begin_rev + 1
        }
    }

    /// The transaction's underlying backend transaction (the applier also
    /// writes the consistent index and lease records through it).
    pub fn backend_tx(&mut self) -> &mut BatchTx<'a> {
        &mut self.tx
    }

    fn value(&self, key: &[u8], rev: Revision) -> Result<KeyValue, MvccError> {
        self.tx
            .read(Bucket::Key, &encode_key(rev, false), |v| {
                KeyValue::decode(v)
            })
            .ok_or_else(|| MvccError::missing(key, rev))?
            .map_err(|e| MvccError::Corrupt(e.to_string()))
    }

    /// Live keys in the range as this transaction sees them (own writes
    /// included), sorted by key.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Result<Vec<KeyValue>, MvccError> {
        let rev = self.read_revision();
        // The values are read with the index still locked (the backend has
        // a lock of its own), so the keys need no copies to outlive it.
        let st = self.mvcc.shared.state.lock();
        index_range(&st.index, start, end)
            .filter_map(|(key, ki)| ki.get(rev).map(|at| (key, at.modified)))
            .map(|(key, r)| self.value(key, r))
            .collect()
    }

    /// The key's current value as this transaction sees it.
    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, MvccError> {
        Ok(self.range(key, &[])?.pop())
    }

    /// Writes a key. Returns its previous value, if any. The store's own
    /// writes read the key first and call [`Self::put_over`]; this is the
    /// tests' shorthand.
    #[cfg(test)]
    pub fn put(
        &mut self,
        key: &[u8],
        value: &[u8],
        lease: i64,
        ttl: i64,
    ) -> Result<Option<KeyValue>, MvccError> {
        let prev = self.get(key)?;
        self.put_over(prev, key, value, lease, ttl)
    }

    /// [`Self::put`] for a caller that has just read the key's current
    /// value (`prev`, as [`Self::get`] returned it) and so need not have
    /// it read again.
    pub fn put_over(
        &mut self,
        prev: Option<KeyValue>,
        key: &[u8],
        value: &[u8],
        lease: i64,
        ttl: i64,
    ) -> Result<Option<KeyValue>, MvccError> {
        let rev = Revision::new(self.begin_rev + 1, self.events.len() as i64);
        let (create_revision, version) = match &prev {
            Some(p) => (p.create_revision, p.version + 1),
            None => (rev.main, 1),
        };
        self.mvcc.shared.env.check(
            Invariant::PutRevisionsOrdered,
            create_revision <= rev.main
                && version >= 1
                && prev.as_ref().is_none_or(|p| p.mod_revision < rev.main),
            || {
                format!(
                    "put at {}: created at {create_revision}, version {version}, previous write at {:?}",
                    rev.main,
                    prev.as_ref().map(|p| p.mod_revision)
                )
            },
        );
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision,
            mod_revision: rev.main,
            version,
            value: value.to_vec(),
            lease,
            ttl,
        };
        self.tx
            .put_owned(Bucket::Key, encode_key(rev, false), kv.encode_to_vec());
        {
            let mut st = self.mvcc.shared.state.lock();
            st.index
                .entry(key.to_vec())
                .or_default()
                .put(rev)
                .map_err(|e| MvccError::Corrupt(e.to_string()))?;
        }
        let old_lease = prev.as_ref().map(|p| p.lease).unwrap_or(0);
        if old_lease != lease {
            self.lease_changes.push(LeaseChange {
                key: key.to_vec(),
                old_lease,
                new_lease: lease,
            });
        }
        self.events.push(WrittenEvent {
            is_delete: false,
            kv,
        });
        Ok(prev)
    }

    /// Deletes every live key in the range. Returns the deleted values.
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<Vec<KeyValue>, MvccError> {
        let victims = self.range(start, end)?;
        for prev in &victims {
            let rev = Revision::new(self.begin_rev + 1, self.events.len() as i64);
            // Stored as etcd stores it: the key alone (the hash over the
            // key bucket depends on these bytes).
            let stored = KeyValue {
                key: prev.key.clone(),
                ..Default::default()
            };
            self.tx
                .put_owned(Bucket::Key, encode_key(rev, true), stored.encode_to_vec());
            let tomb = KeyValue {
                mod_revision: rev.main,
                ..stored
            };
            {
                let mut st = self.mvcc.shared.state.lock();
                if let Some(ki) = st.index.get_mut(&prev.key) {
                    ki.tombstone(rev)
                        .map_err(|e| MvccError::Corrupt(e.to_string()))?;
                }
            }
            if prev.lease != 0 {
                self.lease_changes.push(LeaseChange {
                    key: prev.key.clone(),
                    old_lease: prev.lease,
                    new_lease: 0,
                });
            }
            self.events.push(WrittenEvent {
                is_delete: true,
                kv: tomb,
            });
        }
        Ok(victims)
    }

    pub fn has_changes(&self) -> bool {
        !self.events.is_empty()
    }

    /// Ends the transaction: publishes the new revision (if anything
    /// changed) and returns it with the changes.
    pub async fn end(self) -> Result<(i64, Vec<WrittenEvent>, Vec<LeaseChange>), MvccError> {
        let WriteTxn {
            mvcc,
            tx,
            begin_rev,
            events,
            lease_changes,
        } = self;
        let rev = if events.is_empty() {
            begin_rev
        } else {
            let mut st = mvcc.shared.state.lock();
            let env = &mvcc.shared.env;
            env.check(
                Invariant::WriteTxnsDoNotOverlap,
                st.current_rev == begin_rev,
                || {
                    format!(
                        "began at {begin_rev}, store at {} when it ends",
                        st.current_rev
                    )
                },
            );
            let stray = events.iter().find(|e| e.kv.mod_revision != begin_rev + 1);
            env.check(Invariant::EventsAtTxnRevision, stray.is_none(), || {
                let e = stray.map(|e| e.kv.mod_revision).unwrap_or_default();
                format!("an event at {e} in the write of revision {}", begin_rev + 1)
            });
            st.current_rev = begin_rev + 1;
            begin_rev + 1
        };
        tx.end().await?;
        Ok((rev, events, lease_changes))
    }
}
