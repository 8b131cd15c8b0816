//! The gates the store's own steps wait behind ([`crate::linearizable::Model::gate`]):
//! a lease's expiry that only matters for its keys opens when the lease has
//! keys; a key's `nth` expiry when the key's live version has a TTL and the
//! key was expired `nth` times before. Two gates may share a number: that
//! only makes the engine look at a few more steps, each still checked.

use std::hash::{Hash, Hasher};

use super::fast_hash::FastHasher;

/// The gate of the expiry of `lease`: the lease has keys.
pub fn keyed_lease(lease: i64) -> u64 {
    digest(&(0u8, lease))
}

/// The gate of a key's `nth` expiry: its turn, with a TTL on the key.
pub fn key_turn(key: &str, nth: u32) -> u64 {
    digest(&(1u8, key, nth))
}

fn digest(value: &impl Hash) -> u64 {
    let mut h = FastHasher::default();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_tell_leases_keys_and_turns_apart() {
        assert_ne!(keyed_lease(7), keyed_lease(8));
        assert_ne!(key_turn("a", 0), key_turn("a", 1));
        assert_ne!(key_turn("a", 0), key_turn("b", 0));
        assert_eq!(key_turn("a", 3), key_turn("a", 3));
    }
}
