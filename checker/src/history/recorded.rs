//! Which fields of the key-values a history reports its source recorded.
//!
//! faultline records every field. etcd's robustness reports
//! (`tests/robustness/model` in etcd) keep neither a key's create revision
//! nor its lease, their watch events carry no version, and their lease
//! grants no TTL. A field that was
//! not recorded reads as 0 in the imported history; the checks compare only
//! the fields that were recorded, so an absent field is neither taken for a
//! wrong answer nor for evidence.

use super::response::KeyValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Key-values carry their create revision (reads, watch events, previous values).
    pub create_revision: bool,
    /// Key-values carry their lease.
    pub lease: bool,
    /// Watch events' key-values carry the key's version (their previous
    /// values and read answers are covered by `create_revision`/`lease` only).
    pub event_version: bool,
    /// Lease grants carry the lease's TTL.
    pub lease_ttl: bool,
    /// Key-values carry the per-key TTL their put asked for. Not so in a
    /// run whose cluster ran, or was downgraded, below the version that
    /// introduced the field: such a member drops it, as it must.
    pub key_ttl: bool,
}

impl Default for Recorded {
    fn default() -> Self {
        Recorded::EVERYTHING
    }
}

impl Recorded {
    pub const EVERYTHING: Recorded = Recorded {
        create_revision: true,
        lease: true,
        event_version: true,
        lease_ttl: true,
        key_ttl: true,
    };

    pub fn is_everything(&self) -> bool {
        *self == Recorded::EVERYTHING
    }

    /// Whether a reported key-value agrees with the real one on every
    /// recorded field (key, value, mod revision and version always count).
    pub fn kv_agrees(&self, reported: &KeyValue, real: &KeyValue) -> bool {
        reported.key == real.key
            && reported.value == real.value
            && reported.mod_revision == real.mod_revision
            && reported.version == real.version
            && self.create_revision_agrees(reported.create_revision, real.create_revision)
            && self.lease_agrees(reported.lease, real.lease)
            && self.key_ttl_agrees(reported.ttl, real.ttl)
    }

    pub fn kvs_agree(&self, reported: &[KeyValue], real: &[KeyValue]) -> bool {
        reported.len() == real.len() && reported.iter().zip(real).all(|(a, b)| self.kv_agrees(a, b))
    }

    pub fn create_revision_agrees(&self, reported: i64, real: i64) -> bool {
        !self.create_revision || reported == real
    }

    pub fn lease_agrees(&self, reported: i64, real: i64) -> bool {
        !self.lease || reported == real
    }

    pub fn key_ttl_agrees(&self, reported: i64, real: i64) -> bool {
        !self.key_ttl || reported == real
    }

    /// For a watch event's key-value.
    pub fn event_version_agrees(&self, reported: i64, real: i64) -> bool {
        !self.event_version || reported == real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(create_revision: i64, lease: i64) -> KeyValue {
        KeyValue {
            key: "a".into(),
            value: "1".into(),
            create_revision,
            mod_revision: 3,
            version: 2,
            lease,
            ttl: 0,
        }
    }

    #[test]
    fn compares_only_recorded_fields() {
        let everything = Recorded::EVERYTHING;
        assert!(everything.kv_agrees(&kv(2, 7), &kv(2, 7)));
        assert!(!everything.kv_agrees(&kv(0, 0), &kv(2, 7)));
        let with_ttl = KeyValue { ttl: 5, ..kv(2, 7) };
        assert!(
            !everything.kv_agrees(&kv(2, 7), &with_ttl),
            "a key-value that lost its per-key TTL is not the one put"
        );
        let etcd = Recorded {
            create_revision: false,
            lease: false,
            event_version: false,
            lease_ttl: false,
            key_ttl: false,
        };
        assert!(etcd.kv_agrees(&kv(0, 0), &kv(2, 7)));
        assert!(etcd.kv_agrees(&kv(0, 0), &with_ttl));
        let mut other_value = kv(0, 0);
        other_value.value = "2".into();
        assert!(!etcd.kv_agrees(&other_value, &kv(2, 7)));
    }
}
