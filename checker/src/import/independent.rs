//! Keyed registers: a history of many compare-and-set registers, one per
//! key, checked key by key as Jepsen's `jepsen.independent/checker` does.
//!
//! The key comes from one of two places:
//! - Jepsen's `independent` tuples: every client operation's value is
//!   `[key value]` (`{:f :write :value [3 5]}`, `{:f :cas :value [3 [5 6]]}`,
//!   `{:f :read :value [3 nil]}` completing `[3 5]`). A history is read so
//!   when some read is invoked with `[key nil]` or some cas with
//!   `[key [from to]]` (a plain register invokes reads with `nil` and cas
//!   with `[from to]`), or when every invocation's value is a two-element
//!   vector; then an operation of another shape is an error naming its
//!   line. A plain register history of nothing but writes of two-element
//!   vectors is the one that would be taken for a keyed one.
//! - A `:key` on the operations (porcupine's layout), the value being the
//!   register's own.

use super::edn_reader::Edn;
use super::{ImportError, Imported, JepsenOp, engine_op, register_input, register_output, scalar};
use crate::linearizable::Op;
use crate::models::Scalar;
use crate::models::keyed::KeyedInput;
use crate::models::register::{RegisterInput, RegisterOutput};

/// Where a history's operations name their key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// One register.
    None,
    /// Jepsen `independent` `[key value]` tuples; the first operation's line.
    Tuples { line: usize },
    /// A `:key` on the first operation that has one (at this line).
    KeyField { line: usize },
}

impl KeySource {
    /// The line of a keyed history's first keyed operation; None for one register.
    pub fn keyed_at(self) -> Option<usize> {
        match self {
            KeySource::None => None,
            KeySource::Tuples { line } | KeySource::KeyField { line } => Some(line),
        }
    }
}

/// `[key value]` with a key that is no collection.
fn tuple(v: &Edn) -> Option<(&Edn, &Edn)> {
    match v {
        Edn::Vector(items) if items.len() == 2 => match &items[0] {
            Edn::List(_) | Edn::Vector(_) | Edn::Set(_) | Edn::Map(_) => None,
            key => Some((key, &items[1])),
        },
        _ => None,
    }
}

fn is_pair(v: &Edn) -> bool {
    matches!(v, Edn::Vector(items) | Edn::List(items) if items.len() == 2)
}

/// Whether `op`'s invocation is shaped as Jepsen's `independent` writes it.
fn independent_shape(op: &JepsenOp) -> bool {
    match tuple(&op.invoke_value) {
        Some((_, inner)) if op.f == "cas" => is_pair(inner),
        Some(_) => true,
        None => false,
    }
}

/// Whether `op` could only be a keyed operation: a read invoked with
/// `[key nil]`, a cas with `[key [from to]]`.
fn only_keyed(op: &JepsenOp) -> bool {
    match (op.f.as_str(), tuple(&op.invoke_value)) {
        ("read", Some((_, Edn::Nil))) => true,
        ("cas", Some(_)) => independent_shape(op),
        _ => false,
    }
}

/// How the history names keys (see the module's documentation).
pub fn key_source(imported: &Imported) -> KeySource {
    if let Some(op) = imported.ops.iter().find(|o| o.key.is_some()) {
        return KeySource::KeyField { line: op.line };
    }
    let all = !imported.ops.is_empty() && imported.ops.iter().all(independent_shape);
    match imported.ops.iter().find(|o| only_keyed(o)) {
        Some(op) => KeySource::Tuples { line: op.line },
        None if all => KeySource::Tuples {
            line: imported.ops[0].line,
        },
        None => KeySource::None,
    }
}

/// The operations of a keyed register history, each on its key's register.
pub fn keyed_register_ops(
    imported: &Imported,
) -> Result<Vec<Op<KeyedInput<RegisterInput>, RegisterOutput>>, ImportError> {
    let tuples = matches!(key_source(imported), KeySource::Tuples { .. });
    let mut ops = Vec::with_capacity(imported.ops.len());
    for op in &imported.ops {
        let (key, value) = if tuples {
            split(op)?
        } else {
            match &op.key {
                Some(key) => (key, &op.invoke_value),
                None => {
                    return Err(ImportError::new(
                        op.line,
                        format!(
                            "a :{} without :key where other operations have one (expected a :key on every operation)",
                            op.f
                        ),
                    ));
                }
            }
        };
        let key = scalar(key);
        let input = register_input(op, value)?;
        let keyed = KeyedInput {
            key: key.clone(),
            input,
        };
        ops.extend(engine_op(op, keyed, |keyed| {
            let answer = if tuples {
                completed_value(op, &key)?
            } else {
                &op.complete_value
            };
            Ok(register_output(&keyed.input, answer))
        })?);
    }
    Ok(ops)
}

/// An invocation's `[key value]`.
fn split(op: &JepsenOp) -> Result<(&Edn, &Edn), ImportError> {
    match tuple(&op.invoke_value) {
        Some(kv) if independent_shape(op) => Ok(kv),
        _ => Err(ImportError::new(
            op.line,
            format!(
                "a :{} of {}, where the other operations are Jepsen independent [key value] tuples",
                op.f, op.invoke_value
            ),
        )),
    }
}

/// The value an ok completion of a tuple operation on `key` carries.
fn completed_value<'a>(op: &'a JepsenOp, key: &Scalar) -> Result<&'a Edn, ImportError> {
    match tuple(&op.complete_value) {
        Some((k, v)) if scalar(k) == *key => Ok(v),
        _ => Err(ImportError::new(
            op.completion_line.unwrap_or(op.line),
            format!(
                "the :{} on key {key} completes with {}; expected [{key} value]",
                op.f, op.complete_value
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::edn;
    use crate::linearizable::Outcome;

    #[test]
    fn reads_independent_tuples_per_key() {
        let text = "{:process 0, :type :invoke, :f :write, :value [3 5]}\n\
                    {:process 0, :type :ok, :f :write, :value [3 5]}\n\
                    {:process 1, :type :invoke, :f :cas, :value [3 [5 6]]}\n\
                    {:process 1, :type :ok, :f :cas, :value [3 [5 6]]}\n\
                    {:process 2, :type :invoke, :f :read, :value [4 nil]}\n\
                    {:process 2, :type :ok, :f :read, :value [4 nil]}\n";
        let imported = edn::import(text).unwrap();
        // The cas on line 3 is what only a keyed history holds.
        assert_eq!(key_source(&imported), KeySource::Tuples { line: 3 });
        let ops = keyed_register_ops(&imported).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[1].input.key, Scalar::Int(3));
        assert_eq!(
            ops[1].input.input,
            RegisterInput::Cas {
                from: Scalar::Int(5),
                to: Scalar::Int(6)
            }
        );
        assert_eq!(ops[2].input.key, Scalar::Int(4));
        assert_eq!(
            ops[2].outcome,
            Outcome::Ok(RegisterOutput::Read(Scalar::Nil))
        );
    }

    #[test]
    fn plain_register_histories_are_not_keyed() {
        let text = "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n\
                    {:process 1, :type :invoke, :f :write, :value [1 2]}\n";
        assert_eq!(key_source(&edn::import(text).unwrap()), KeySource::None);
        let text = "{:process 0, :type :invoke, :f :read, :value nil}\n\
                    {:process 1, :type :invoke, :f :write, :value [1 2]}\n";
        assert_eq!(key_source(&edn::import(text).unwrap()), KeySource::None);
    }

    #[test]
    fn one_operation_of_another_shape_in_a_keyed_history_is_refused() {
        let text = "{:process 0, :type :invoke, :f :read, :value [1 nil]}\n\
                    {:process 1, :type :invoke, :f :cas, :value [1 2]}\n";
        let imported = edn::import(text).unwrap();
        assert_eq!(key_source(&imported), KeySource::Tuples { line: 1 });
        let e = keyed_register_ops(&imported).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("independent [key value] tuples"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_read_completing_on_another_key_is_refused_with_its_line() {
        let text = "{:process 0, :type :invoke, :f :read, :value [3 nil]}\n\
                    {:process 0, :type :ok, :f :read, :value [4 1]}\n";
        let e = keyed_register_ops(&edn::import(text).unwrap()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("expected [3 value]"), "{}", e.message);
    }

    #[test]
    fn key_fields_name_registers_too() {
        let text = "{:process 0, :type :invoke, :f :write, :key \"a\", :value 1}\n\
                    {:process 0, :type :ok, :f :write, :key \"a\", :value 1}\n\
                    {:process 1, :type :invoke, :f :read, :value nil}\n";
        let imported = edn::import(text).unwrap();
        assert_eq!(key_source(&imported), KeySource::KeyField { line: 1 });
        let e = keyed_register_ops(&imported).unwrap_err();
        assert_eq!(e.line, 3);
    }
}
