//! A map of independent objects, one per key, each following the same model:
//! Jepsen's `jepsen.independent` lifts a single-register test to a map of
//! registers this way (values `[key value]`), and its checker checks each
//! key's subhistory on its own. `Keyed(RegisterModel)` is that map of
//! compare-and-set registers; keys start at the model's initial state.
//!
//! The engine partitions a keyed history by key (`--no-partition` searches it
//! whole, with the key as each operation's footprint for backjumping).

use std::collections::HashMap;

use super::Scalar;
use crate::linearizable::{Model, Op, Outcome, hash128};

/// An operation of the inner model on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedInput<I> {
    pub key: Scalar,
    pub input: I,
}

/// Every key's state; keys never touched are in the initial state and absent.
#[derive(Debug, Clone)]
pub struct KeyedState<S> {
    states: HashMap<Scalar, S>,
    /// XOR over keys not in the initial state of hash128((key, inner fingerprint)).
    fingerprint: u128,
}

impl<S> KeyedState<S> {
    pub fn get(&self, key: &Scalar) -> Option<&S> {
        self.states.get(key)
    }
}

/// `M` for every key.
#[derive(Debug, Clone)]
pub struct Keyed<M> {
    inner: M,
    /// The inner model's initial fingerprint: a key in that state adds nothing
    /// to the map's fingerprint, so untouched and reset keys compare equal.
    init_fingerprint: u128,
}

impl<M: Model> Keyed<M> {
    pub fn new(inner: M) -> Self {
        let init_fingerprint = inner.fingerprint(&inner.init());
        Keyed {
            inner,
            init_fingerprint,
        }
    }

    pub fn inner(&self) -> &M {
        &self.inner
    }

    fn contribution(&self, key: &Scalar, inner: u128) -> u128 {
        if inner == self.init_fingerprint {
            0
        } else {
            hash128(&(key, inner))
        }
    }

    /// Runs `step` on `key`'s state, keeping the map's fingerprint current.
    fn on_key<T>(
        &self,
        state: &mut KeyedState<M::State>,
        key: &Scalar,
        step: impl FnOnce(&M, &mut M::State) -> Option<T>,
    ) -> Option<T> {
        let inner = state
            .states
            .entry(key.clone())
            .or_insert_with(|| self.inner.init());
        let before = self.inner.fingerprint(inner);
        let out = step(&self.inner, inner)?;
        let after = self.inner.fingerprint(inner);
        state.fingerprint ^= self.contribution(key, before) ^ self.contribution(key, after);
        Some(out)
    }
}

impl<M: Model> Model for Keyed<M> {
    type Input = KeyedInput<M::Input>;
    type Output = M::Output;
    type State = KeyedState<M::State>;
    type Undo = (Scalar, M::Undo);

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn init(&self) -> Self::State {
        KeyedState {
            states: HashMap::new(),
            fingerprint: 0,
        }
    }

    fn is_read_only(&self, input: &Self::Input, output: &M::Output) -> bool {
        self.inner.is_read_only(&input.input, output)
    }

    fn may_have_effect(&self, input: &Self::Input) -> bool {
        self.inner.may_have_effect(&input.input)
    }

    fn apply(
        &self,
        state: &mut Self::State,
        input: &Self::Input,
        output: &M::Output,
    ) -> Option<Self::Undo> {
        let undo = self.on_key(state, &input.key, |m, s| m.apply(s, &input.input, output))?;
        Some((input.key.clone(), undo))
    }

    fn unknown_branches(&self, input: &Self::Input) -> u32 {
        self.inner.unknown_branches(&input.input)
    }

    fn apply_unknown(
        &self,
        state: &mut Self::State,
        input: &Self::Input,
        branch: u32,
    ) -> Option<Self::Undo> {
        let undo = self.on_key(state, &input.key, |m, s| {
            m.apply_unknown(s, &input.input, branch)
        })?;
        Some((input.key.clone(), undo))
    }

    fn undo(&self, state: &mut Self::State, (key, undo): Self::Undo) {
        self.on_key(state, &key, |m, s| {
            m.undo(s, undo);
            Some(())
        });
    }

    fn fingerprint(&self, state: &Self::State) -> u128 {
        state.fingerprint
    }

    fn state_bytes(&self, state: &Self::State) -> usize {
        state
            .states
            .values()
            .map(|s| 64 + self.inner.state_bytes(s))
            .sum()
    }

    fn related(&self, last: &Self::Input, read: &Self::Input) -> bool {
        last.key == read.key
    }

    /// Keys are independent objects.
    fn footprint(&self, input: &Self::Input) -> Option<u64> {
        Some(hash128(&input.key) as u64)
    }

    fn footprint_fingerprint(&self, state: &Self::State, input: &Self::Input) -> Option<u128> {
        let inner = state
            .states
            .get(&input.key)
            .map_or(self.init_fingerprint, |s| self.inner.fingerprint(s));
        Some(self.contribution(&input.key, inner))
    }

    /// One part per key, in the order keys first appear.
    fn partition(&self, ops: &[Op<Self::Input, M::Output>]) -> Option<Vec<Vec<usize>>> {
        let mut part_of: HashMap<&Scalar, usize> = HashMap::new();
        let mut parts: Vec<Vec<usize>> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let part = *part_of.entry(&op.input.key).or_insert_with(|| {
                parts.push(Vec::new());
                parts.len() - 1
            });
            parts[part].push(i);
        }
        Some(parts)
    }

    fn describe(&self, input: &Self::Input, outcome: &Outcome<M::Output>) -> String {
        format!(
            "key {}: {}",
            input.key,
            self.inner.describe(&input.input, outcome)
        )
    }

    fn explain(&self, state: &Self::State, input: &Self::Input, output: &M::Output) -> String {
        let init;
        let inner = match state.states.get(&input.key) {
            Some(s) => s,
            None => {
                init = self.inner.init();
                &init
            }
        };
        format!(
            "key {}: {}",
            input.key,
            self.inner.explain(inner, &input.input, output)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::register::{RegisterInput, RegisterModel, RegisterOutput};

    fn on(key: i64, input: RegisterInput) -> KeyedInput<RegisterInput> {
        KeyedInput {
            key: Scalar::Int(key),
            input,
        }
    }

    #[test]
    fn keys_are_separate_registers_and_undo_restores_the_fingerprint() {
        let m = Keyed::new(RegisterModel);
        let mut s = m.init();
        let empty = m.fingerprint(&s);
        let w1 = m
            .apply(
                &mut s,
                &on(1, RegisterInput::Write(Scalar::Int(5))),
                &RegisterOutput::Written,
            )
            .expect("a write fits");
        let after_one = m.fingerprint(&s);
        assert_ne!(after_one, empty);
        // Key 2 is still nil: a read of 5 there does not fit, a read of nil does.
        let read = |k| on(k, RegisterInput::Read);
        assert!(
            m.apply(&mut s, &read(2), &RegisterOutput::Read(Scalar::Int(5)))
                .is_none()
        );
        assert!(
            m.apply(&mut s, &read(2), &RegisterOutput::Read(Scalar::Nil))
                .is_some()
        );
        assert!(
            m.apply(&mut s, &read(1), &RegisterOutput::Read(Scalar::Int(5)))
                .is_some()
        );
        assert_eq!(m.fingerprint(&s), after_one);
        let cas = on(
            1,
            RegisterInput::Cas {
                from: Scalar::Int(5),
                to: Scalar::Int(6),
            },
        );
        let c = m
            .apply(&mut s, &cas, &RegisterOutput::Swapped)
            .expect("cas fits");
        m.undo(&mut s, c);
        assert_eq!(m.fingerprint(&s), after_one);
        m.undo(&mut s, w1);
        assert_eq!(m.fingerprint(&s), empty);
    }

    #[test]
    fn partitions_by_key_in_order_of_appearance() {
        let m = Keyed::new(RegisterModel);
        let op = |id, key| Op {
            id,
            client: 0,
            call: id,
            ret: Some(id),
            input: on(key, RegisterInput::Read),
            outcome: Outcome::Ok(RegisterOutput::Read(Scalar::Nil)),
        };
        let ops = [op(0, 7), op(1, 3), op(2, 7)];
        assert_eq!(m.partition(&ops), Some(vec![vec![0, 2], vec![1]]));
        assert!(
            m.describe(&ops[0].input, &ops[0].outcome)
                .starts_with("key 7: read")
        );
    }
}
