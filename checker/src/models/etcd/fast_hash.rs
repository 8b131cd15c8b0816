//! A fast, deterministic hasher for the model's lookup tables (revisions,
//! lease ids, keys). The search asks them a few times per candidate step and
//! tries thousands of candidates per second: with the standard library's
//! SipHash, hashing was a third of a lease-heavy check. Keys come from the
//! history being checked, not from an adversary, so flooding resistance buys
//! nothing here; a multiply-and-rotate mix spreads revisions and lease ids
//! (small, dense integers) over the table well enough.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Word-at-a-time multiplicative mixing (the idea of Firefox's hasher).
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

/// An odd constant with well-spread bits (2^64 / golden ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(MIX);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // The product's high bits depend on every input bit, its low bits
        // only on the low ones: fold the high half in (tables index by the
        // low bits).
        self.0 ^ (self.0 >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
pub type FastSet<T> = HashSet<T, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash<T: Hash + ?Sized>(v: &T) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(v)
    }

    #[test]
    fn equal_values_hash_equal_and_near_ones_apart() {
        assert_eq!(hash("/l/01"), hash("/l/01"));
        assert_ne!(hash("/l/01"), hash("/l/02"));
        assert_ne!(hash("a"), hash("a\0"));
        assert_eq!(hash(&7i64), hash(&7i64));
        // Dense revisions spread over the low bits tables index by.
        let buckets: HashSet<u64> = (0..1024i64).map(|r| hash(&r) & 1023).collect();
        assert!(buckets.len() > 600, "{} of 1024 buckets", buckets.len());
    }

    #[test]
    fn maps_work_as_maps() {
        let mut m: FastMap<i64, u32> = FastMap::default();
        for i in 0..10_000 {
            *m.entry(i % 100).or_default() += 1;
        }
        assert_eq!(m.len(), 100);
        assert!(m.values().all(|&n| n == 100));
        let s: FastSet<&str> = ["a", "b", "a"].into_iter().collect();
        assert_eq!(s.len(), 2);
    }
}
