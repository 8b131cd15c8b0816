//! 128-bit fingerprints for states and sets of operations.
//!
//! The search cache stores (set of linearized operations, state) pairs as two
//! 128-bit fingerprints instead of a bitset and a state copy, so each entry is
//! 32 bytes whatever the history size. Two different configurations collide with
//! probability about 2^-128 per pair, far below any hardware error rate.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use xxhash_rust::xxh3::Xxh3Default;

/// Fingerprint of any hashable value: XXH3's 128-bit digest of what its
/// `Hash` writes. A 128-bit hash built for fingerprints, in one pass where
/// two SipHash streams took two (the search hashes a state per
/// configuration, so this is its hottest function after `advance`).
pub fn hash128<T: Hash + ?Sized>(value: &T) -> u128 {
    let mut h = Xxh3Default::new();
    value.hash(&mut h);
    h.digest128()
}

/// A pseudo-random 128-bit value per index (splitmix64), XORed into a set's
/// fingerprint when the index enters or leaves the set.
pub fn zobrist(index: u64) -> u128 {
    let hi = splitmix64(index.wrapping_mul(2));
    let lo = splitmix64(index.wrapping_mul(2).wrapping_add(1));
    (u128::from(hi) << 64) | u128::from(lo)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A configuration of the search: which operations are linearized, and the state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ConfigKey {
    pub linearized: u128,
    pub state: u128,
}

impl Hash for ConfigKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Both halves are already uniformly distributed: fold, do not rehash.
        h.write_u64((self.linearized ^ self.state.rotate_left(17)) as u64);
    }
}

/// Hasher for keys whose bits are already random: takes the last u64 written.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

pub type ConfigCache = HashSet<ConfigKey, BuildHasherDefault<PassThrough>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_and_repeat() {
        assert_eq!(hash128("abc"), hash128("abc"));
        assert_ne!(hash128("abc"), hash128("abd"));
        assert_ne!(zobrist(1), zobrist(2));
        assert_eq!(zobrist(7) ^ zobrist(9) ^ zobrist(7), zobrist(9));
    }

    #[test]
    fn cache_finds_equal_keys() {
        let mut cache = ConfigCache::default();
        let k = ConfigKey {
            linearized: zobrist(3),
            state: hash128(&5u32),
        };
        assert!(cache.insert(k));
        assert!(!cache.insert(k));
    }
}
