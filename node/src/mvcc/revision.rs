//! Revisions and their encoding as key-bucket keys: `main` (8 bytes, big
//! endian), `_`, `sub` (8 bytes, big endian), and a trailing `t` when the
//! revision is a tombstone (a delete), as etcd lays them out.

/// A revision: `main` is the store revision of the write, `sub` orders the
/// changes of one multi-write transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

impl Revision {
    pub const fn new(main: i64, sub: i64) -> Self {
        Revision { main, sub }
    }
}

pub const KEY_LEN: usize = 17;

pub fn encode_key(rev: Revision, tombstone: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(KEY_LEN + 1);
    out.extend_from_slice(&rev.main.to_be_bytes());
    out.push(b'_');
    out.extend_from_slice(&rev.sub.to_be_bytes());
    if tombstone {
        out.push(b't');
    }
    out
}

/// The smallest key-bucket key at or after a main revision.
pub fn start_key(main: i64) -> Vec<u8> {
    encode_key(Revision::new(main, 0), false)
}

/// Decodes a key-bucket key into its revision and tombstone mark.
pub fn decode_key(bytes: &[u8]) -> Option<(Revision, bool)> {
    let tombstone = match bytes.len() {
        KEY_LEN => false,
        n if n == KEY_LEN + 1 && bytes[KEY_LEN] == b't' => true,
        _ => return None,
    };
    if bytes[8] != b'_' {
        return None;
    }
    let main = i64::from_be_bytes(bytes[0..8].try_into().ok()?);
    let sub = i64::from_be_bytes(bytes[9..17].try_into().ok()?);
    Some((Revision { main, sub }, tombstone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_revision_and_round_trip() {
        let a = encode_key(Revision::new(5, 1), false);
        let b = encode_key(Revision::new(5, 2), true);
        let c = encode_key(Revision::new(6, 0), false);
        assert!(a < b && b < c);
        assert_eq!(decode_key(&b), Some((Revision::new(5, 2), true)));
        assert_eq!(decode_key(&a), Some((Revision::new(5, 1), false)));
        assert_eq!(decode_key(b"short"), None);
        assert!(start_key(6) <= c && start_key(6) > b);
    }
}
