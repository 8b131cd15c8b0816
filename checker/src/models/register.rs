//! A compare-and-set register as in Jepsen and Knossos: read, write, cas.
//! The register starts as nil.

use super::Scalar;
use crate::linearizable::{Model, Outcome, hash128};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterInput {
    Read,
    Write(Scalar),
    Cas { from: Scalar, to: Scalar },
}

/// What a completed register operation answered. A failed cas certainly did
/// not take effect and is not given to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutput {
    Read(Scalar),
    Written,
    Swapped,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterModel;

impl Model for RegisterModel {
    type Input = RegisterInput;
    type Output = RegisterOutput;
    type State = Scalar;
    /// The previous value, when the operation changed it.
    type Undo = Option<Scalar>;

    fn name(&self) -> &'static str {
        "register"
    }

    fn init(&self) -> Scalar {
        Scalar::Nil
    }

    fn is_read_only(&self, input: &RegisterInput, _: &RegisterOutput) -> bool {
        matches!(input, RegisterInput::Read)
    }

    fn may_have_effect(&self, input: &RegisterInput) -> bool {
        !matches!(input, RegisterInput::Read)
    }

    fn apply(
        &self,
        state: &mut Scalar,
        input: &RegisterInput,
        output: &RegisterOutput,
    ) -> Option<Option<Scalar>> {
        match (input, output) {
            (RegisterInput::Read, RegisterOutput::Read(v)) => (state == v).then_some(None),
            (RegisterInput::Write(v), RegisterOutput::Written) => {
                Some(Some(std::mem::replace(state, v.clone())))
            }
            (RegisterInput::Cas { from, to }, RegisterOutput::Swapped) => {
                (state == from).then(|| Some(std::mem::replace(state, to.clone())))
            }
            _ => None,
        }
    }

    fn apply_unknown(
        &self,
        state: &mut Scalar,
        input: &RegisterInput,
        _branch: u32,
    ) -> Option<Option<Scalar>> {
        match input {
            RegisterInput::Read => None,
            RegisterInput::Write(v) => {
                (state != v).then(|| Some(std::mem::replace(state, v.clone())))
            }
            RegisterInput::Cas { from, to } => {
                (state == from && from != to).then(|| Some(std::mem::replace(state, to.clone())))
            }
        }
    }

    fn undo(&self, state: &mut Scalar, undo: Option<Scalar>) {
        if let Some(previous) = undo {
            *state = previous;
        }
    }

    fn fingerprint(&self, state: &Scalar) -> u128 {
        hash128(state)
    }

    fn describe(&self, input: &RegisterInput, outcome: &Outcome<RegisterOutput>) -> String {
        let call = match input {
            RegisterInput::Read => "read".to_string(),
            RegisterInput::Write(v) => format!("write {v}"),
            RegisterInput::Cas { from, to } => format!("cas {from} -> {to}"),
        };
        match outcome {
            Outcome::Ok(RegisterOutput::Read(v)) => format!("{call} returned {v}"),
            Outcome::Ok(_) => format!("{call} succeeded"),
            Outcome::Unknown => format!("{call} with unknown outcome"),
        }
    }

    fn explain(&self, state: &Scalar, input: &RegisterInput, output: &RegisterOutput) -> String {
        match (input, output) {
            (RegisterInput::Read, RegisterOutput::Read(v)) => {
                format!("the register holds {state}, so a read cannot return {v}")
            }
            (RegisterInput::Cas { from, .. }, RegisterOutput::Swapped) => {
                format!("the register holds {state}, not {from}, so the cas cannot succeed")
            }
            _ => "the answer does not fit the operation".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_needs_the_expected_value() {
        let m = RegisterModel;
        let mut s = m.init();
        let cas = RegisterInput::Cas {
            from: Scalar::Int(1),
            to: Scalar::Int(2),
        };
        assert!(m.apply(&mut s, &cas, &RegisterOutput::Swapped).is_none());
        let undo = m
            .apply(
                &mut s,
                &RegisterInput::Write(Scalar::Int(1)),
                &RegisterOutput::Written,
            )
            .unwrap();
        assert!(m.apply(&mut s, &cas, &RegisterOutput::Swapped).is_some());
        assert_eq!(s, Scalar::Int(2));
        m.undo(&mut s, Some(Scalar::Int(1)));
        m.undo(&mut s, undo);
        assert_eq!(s, Scalar::Nil);
    }

    #[test]
    fn unknown_operations_only_apply_when_they_change_something() {
        let m = RegisterModel;
        let mut s = Scalar::Int(3);
        assert!(
            m.apply_unknown(&mut s, &RegisterInput::Write(Scalar::Int(3)), 0)
                .is_none()
        );
        assert!(m.apply_unknown(&mut s, &RegisterInput::Read, 0).is_none());
        assert!(
            m.apply_unknown(&mut s, &RegisterInput::Write(Scalar::Int(4)), 0)
                .is_some()
        );
    }
}
