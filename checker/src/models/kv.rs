//! porcupine's key-value model: every key is a string register starting at "";
//! get returns it, put sets it, append concatenates. Keys are independent, so a
//! history can be checked one key at a time.

use std::collections::{BTreeMap, HashMap};

use super::abbreviate;
use crate::linearizable::{Model, Op, Outcome, hash128};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvInput {
    Get { key: String },
    Put { key: String, value: String },
    Append { key: String, value: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvOutput {
    /// What a get returned.
    Value(String),
    /// A put or append completed.
    Done,
}

impl KvInput {
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }
}

/// Polynomial string hashes modulo the Mersenne prime 2^61-1 with two bases:
/// an append extends a hash in O(appended length) instead of rehashing the
/// whole (ever growing) value.
const P61: u64 = (1 << 61) - 1;
const BASES: [u64; 2] = [0x1f3d_5b79_a2c4_e681 % P61, 0x0b5a_d4ec_e3f2_d71b % P61];

fn mul_mod(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    let s = (r as u64 & P61) + (r >> 61) as u64;
    if s >= P61 { s - P61 } else { s }
}

fn extend_hash(mut h: [u64; 2], bytes: &[u8]) -> [u64; 2] {
    for &b in bytes {
        for (hi, base) in h.iter_mut().zip(BASES) {
            let s = mul_mod(*hi, base) + u64::from(b) + 1;
            *hi = if s >= P61 { s - P61 } else { s };
        }
    }
    h
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    hash: [u64; 2],
}

/// The key space; absent keys and keys holding "" are the same state.
#[derive(Debug, Clone, Default)]
pub struct KvState {
    values: HashMap<String, Entry>,
    /// XOR over keys with a non-empty value of hash128((key, value hash)).
    fingerprint: u128,
}

/// How to take back one put or append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvUndo {
    Nothing,
    Truncate {
        key: String,
        len: usize,
        hash: [u64; 2],
    },
    Replace {
        key: String,
        value: String,
        hash: [u64; 2],
    },
}

impl KvState {
    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(|e| e.value.as_str()).unwrap_or("")
    }

    fn contribution(key: &str, hash: [u64; 2]) -> u128 {
        if hash == [0, 0] {
            0
        } else {
            hash128(&(key, hash))
        }
    }

    fn entry(&mut self, key: &str) -> &mut Entry {
        self.values.entry(key.to_string()).or_insert_with(|| Entry {
            value: String::new(),
            hash: [0, 0],
        })
    }

    fn set(&mut self, key: &str, value: String, hash: [u64; 2]) -> (String, [u64; 2]) {
        let entry = self.entry(key);
        let old_hash = std::mem::replace(&mut entry.hash, hash);
        let old = std::mem::replace(&mut entry.value, value);
        self.fingerprint ^= Self::contribution(key, old_hash) ^ Self::contribution(key, hash);
        (old, old_hash)
    }

    fn append(&mut self, key: &str, suffix: &str) -> KvUndo {
        let entry = self.entry(key);
        let (len, old_hash) = (entry.value.len(), entry.hash);
        entry.value.push_str(suffix);
        entry.hash = extend_hash(old_hash, suffix.as_bytes());
        let new_hash = entry.hash;
        self.fingerprint ^= Self::contribution(key, old_hash) ^ Self::contribution(key, new_hash);
        KvUndo::Truncate {
            key: key.to_string(),
            len,
            hash: old_hash,
        }
    }

    fn truncate(&mut self, key: &str, len: usize, hash: [u64; 2]) {
        let entry = self.entry(key);
        let new_hash = std::mem::replace(&mut entry.hash, hash);
        entry.value.truncate(len);
        self.fingerprint ^= Self::contribution(key, new_hash) ^ Self::contribution(key, hash);
    }
}

/// Whether `text` splits into pieces each equal to one of `pieces` (pieces may
/// repeat: a relaxation of "each append at most once" that is cheap and still
/// sound for pruning).
fn made_of(text: &str, pieces: &[&str]) -> bool {
    if text.is_empty() {
        return true;
    }
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for i in 0..text.len() {
        if !reachable[i] {
            continue;
        }
        for p in pieces {
            if text.as_bytes()[i..].starts_with(p.as_bytes()) {
                reachable[i + p.len()] = true;
            }
        }
    }
    reachable[text.len()]
}

#[derive(Debug, Clone, Copy, Default)]
pub struct KvModel;

impl Model for KvModel {
    type Input = KvInput;
    type Output = KvOutput;
    type State = KvState;
    type Undo = KvUndo;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::default()
    }

    fn is_read_only(&self, input: &KvInput, _: &KvOutput) -> bool {
        matches!(input, KvInput::Get { .. })
    }

    fn may_have_effect(&self, input: &KvInput) -> bool {
        match input {
            KvInput::Get { .. } => false,
            KvInput::Put { .. } => true,
            KvInput::Append { value, .. } => !value.is_empty(),
        }
    }

    fn apply(&self, state: &mut KvState, input: &KvInput, output: &KvOutput) -> Option<KvUndo> {
        match (input, output) {
            (KvInput::Get { key }, KvOutput::Value(v)) => {
                (state.get(key) == v).then_some(KvUndo::Nothing)
            }
            (KvInput::Get { .. }, KvOutput::Done) => None,
            (_, KvOutput::Done) => self
                .apply_unknown(state, input, 0)
                .or(Some(KvUndo::Nothing)),
            (_, KvOutput::Value(_)) => None,
        }
    }

    fn apply_unknown(&self, state: &mut KvState, input: &KvInput, _branch: u32) -> Option<KvUndo> {
        match input {
            KvInput::Get { .. } => None,
            KvInput::Put { key, value } => {
                if state.get(key) == value {
                    return None;
                }
                let hash = extend_hash([0, 0], value.as_bytes());
                let (old, old_hash) = state.set(key, value.clone(), hash);
                Some(KvUndo::Replace {
                    key: key.clone(),
                    value: old,
                    hash: old_hash,
                })
            }
            KvInput::Append { key, value } => (!value.is_empty()).then(|| state.append(key, value)),
        }
    }

    fn undo(&self, state: &mut KvState, undo: KvUndo) {
        match undo {
            KvUndo::Nothing => {}
            KvUndo::Truncate { key, len, hash } => state.truncate(&key, len, hash),
            KvUndo::Replace { key, value, hash } => {
                state.set(&key, value, hash);
            }
        }
    }

    fn fingerprint(&self, state: &KvState) -> u128 {
        state.fingerprint
    }

    fn state_bytes(&self, state: &KvState) -> usize {
        state
            .values
            .iter()
            .map(|(k, v)| k.len() + v.value.len() + 64)
            .sum()
    }

    fn checks_pending_reads(&self) -> bool {
        true
    }

    fn related(&self, last: &KvInput, read: &KvInput) -> bool {
        last.key() == read.key()
    }

    /// Keys are independent objects.
    fn footprint(&self, input: &KvInput) -> Option<u64> {
        Some(hash128(input.key()) as u64)
    }

    fn footprint_fingerprint(&self, state: &KvState, input: &KvInput) -> Option<u128> {
        let key = input.key();
        let hash = state.values.get(key).map_or([0, 0], |e| e.hash);
        Some(KvState::contribution(key, hash))
    }

    /// Values only grow by appends: a pending get must return what the key
    /// holds now, or the value of a put that may still come first, followed by
    /// values of appends that may still come.
    fn may_still_hold(
        &self,
        state: &KvState,
        last: &KvInput,
        read: &KvInput,
        answer: &KvOutput,
        writes: &mut dyn Iterator<Item = &KvInput>,
    ) -> bool {
        let (KvInput::Get { key }, KvOutput::Value(v)) = (read, answer) else {
            return true;
        };
        if last.key() != key {
            return true;
        }
        let mut appends: Vec<&str> = Vec::new();
        let mut puts: Vec<&str> = Vec::new();
        for w in writes {
            match w {
                KvInput::Append { key: k, value } if k == key && !value.is_empty() => {
                    appends.push(value)
                }
                KvInput::Put { key: k, value } if k == key => puts.push(value),
                _ => {}
            }
        }
        let extends = |base: &str| {
            v.strip_prefix(base)
                .is_some_and(|rest| made_of(rest, &appends))
        };
        extends(state.get(key)) || puts.into_iter().any(extends)
    }

    fn partition(&self, ops: &[Op<KvInput, KvOutput>]) -> Option<Vec<Vec<usize>>> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            by_key.entry(op.input.key()).or_default().push(i);
        }
        Some(by_key.into_values().collect())
    }

    fn describe(&self, input: &KvInput, outcome: &Outcome<KvOutput>) -> String {
        let call = match input {
            KvInput::Get { key } => format!("get {key:?}"),
            KvInput::Put { key, value } => format!("put {key:?} {}", abbreviate(value)),
            KvInput::Append { key, value } => format!("append {key:?} {}", abbreviate(value)),
        };
        match outcome {
            Outcome::Ok(KvOutput::Value(v)) => format!("{call} returned {}", abbreviate(v)),
            Outcome::Ok(KvOutput::Done) => call,
            Outcome::Unknown => format!("{call} with unknown outcome"),
        }
    }

    fn explain(&self, state: &KvState, input: &KvInput, output: &KvOutput) -> String {
        match (input, output) {
            (KvInput::Get { key }, KvOutput::Value(v)) => format!(
                "key {key:?} holds {}, so the get cannot return {}",
                abbreviate(state.get(key)),
                abbreviate(v)
            ),
            _ => "the answer does not fit the operation".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_concatenates_and_undoes() {
        let m = KvModel;
        let mut s = m.init();
        let fp0 = m.fingerprint(&s);
        let a = KvInput::Append {
            key: "k".into(),
            value: "x".into(),
        };
        let u1 = m.apply(&mut s, &a, &KvOutput::Done).unwrap();
        let u2 = m.apply(&mut s, &a, &KvOutput::Done).unwrap();
        assert_eq!(s.get("k"), "xx");
        let get = KvInput::Get { key: "k".into() };
        assert!(
            m.apply(&mut s, &get, &KvOutput::Value("xx".into()))
                .is_some()
        );
        assert!(
            m.apply(&mut s, &get, &KvOutput::Value("x".into()))
                .is_none()
        );
        m.undo(&mut s, u2);
        m.undo(&mut s, u1);
        assert_eq!(s.get("k"), "");
        assert_eq!(m.fingerprint(&s), fp0);
    }

    #[test]
    fn pending_gets_prune_impossible_states() {
        let m = KvModel;
        let mut s = m.init();
        let a = KvInput::Append {
            key: "k".into(),
            value: "a".into(),
        };
        let b = KvInput::Append {
            key: "k".into(),
            value: "b".into(),
        };
        m.apply(&mut s, &b, &KvOutput::Done).unwrap();
        let get = KvInput::Get { key: "k".into() };
        let wants = |v: &str| KvOutput::Value(v.into());
        // "ab" needs a before b: b already went first, no put can reset it.
        assert!(!m.may_still_hold(&s, &b, &get, &wants("ab"), &mut [&a].into_iter()));
        assert!(m.may_still_hold(&s, &b, &get, &wants("ba"), &mut [&a].into_iter()));
        let put = KvInput::Put {
            key: "k".into(),
            value: "a".into(),
        };
        assert!(m.may_still_hold(&s, &b, &get, &wants("ab"), &mut [&put, &b].into_iter()));
        assert!(made_of("xyxyz", &["xy", "z"]));
        assert!(!made_of("xyq", &["xy", "z"]));
    }

    #[test]
    fn put_of_the_current_value_is_a_definite_no_op() {
        let m = KvModel;
        let mut s = m.init();
        let put = KvInput::Put {
            key: "k".into(),
            value: String::new(),
        };
        assert_eq!(
            m.apply(&mut s, &put, &KvOutput::Done),
            Some(KvUndo::Nothing)
        );
        assert!(m.apply_unknown(&mut s, &put, 0).is_none());
    }
}
