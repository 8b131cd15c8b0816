//! Values as etcd's robustness reports keep them: a value shorter than 20
//! bytes as it is, a longer one only as its FNV-1a 32-bit hash
//! (`model.ToValueOrHash`). Two values are the same for etcd's model when
//! these are equal, and so for the imported history: a hash becomes a
//! placeholder string of 20 bytes or more, which no short value can equal.

use super::format::ValueOrHash;

/// etcd's `ToValueOrHash` keeps values shorter than this.
pub const HASHED_FROM: usize = 20;

const PREFIX: &str = "<value fnv1a32 0x";

pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The history's value for a recorded value-or-hash; `None` when both are
/// set, which etcd never writes.
pub fn to_history(v: &ValueOrHash) -> Option<String> {
    match (v.value.as_str(), v.hash) {
        ("", 0) => Some(String::new()),
        ("", h) => Some(placeholder(h)),
        (s, 0) if s.len() >= HASHED_FROM => Some(placeholder(fnv1a32(s.as_bytes()))),
        (s, 0) => Some(s.to_string()),
        _ => None,
    }
}

/// What etcd's recorder writes for a history value.
pub fn from_history(s: &str) -> ValueOrHash {
    if let Some(h) = parse_placeholder(s) {
        return ValueOrHash {
            value: String::new(),
            hash: h,
        };
    }
    if s.len() >= HASHED_FROM {
        ValueOrHash {
            value: String::new(),
            hash: fnv1a32(s.as_bytes()),
        }
    } else {
        ValueOrHash {
            value: s.to_string(),
            hash: 0,
        }
    }
}

/// The history value etcd's format keeps of `s` (itself, or its hash).
pub fn as_recorded(s: &str) -> String {
    to_history(&from_history(s)).unwrap_or_default()
}

fn placeholder(hash: u32) -> String {
    format!("{PREFIX}{hash:08x}>")
}

fn parse_placeholder(s: &str) -> Option<u32> {
    let hex = s.strip_prefix(PREFIX)?.strip_suffix('>')?;
    if hex.len() != 8 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_matches_the_reference() {
        // Reference values of FNV-1a 32 (Go's hash/fnv New32a).
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn long_values_become_their_hash_both_ways() {
        let long = "x".repeat(25);
        let recorded = from_history(&long);
        assert_eq!(recorded.value, "");
        assert_eq!(recorded.hash, fnv1a32(long.as_bytes()));
        let back = to_history(&recorded).unwrap();
        assert!(back.len() >= HASHED_FROM);
        assert_eq!(from_history(&back), recorded);
        // A full long value (etcd's Txn puts keep them) is the same value as its hash.
        let full = ValueOrHash {
            value: long.clone(),
            hash: 0,
        };
        assert_eq!(to_history(&full).unwrap(), back);
        assert_eq!(to_history(&from_history("short")).unwrap(), "short");
        assert_eq!(
            to_history(&ValueOrHash {
                value: "a".into(),
                hash: 1
            }),
            None
        );
    }
}
