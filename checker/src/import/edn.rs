//! Jepsen-style EDN histories (jepsen.history's operations): one map per
//! event, either inside one vector or one (or more) per line; `;` comments.
//! Read: `:process`, `:type`, `:f`, `:value`, `:key` (porcupine), `:time`
//! (nanoseconds), `:index` and `:error`; other keys are ignored.

use super::edn_reader::{Edn, TopForm, read_each_map};
use super::{EventType, ImportError, Imported, JepsenEvent, Pairing, Process};

/// The keys an event is read from, in the order of [`Fields`].
const NAMES: [&str; 8] = [
    "process", "type", "f", "value", "key", "time", "index", "error",
];

/// An operation map's values under [`NAMES`].
type Fields = [Option<Edn>; 8];

/// Reads and pairs the events of an EDN history. Each form becomes an
/// event as it is read (a map straight into its fields, no tree built) and
/// is paired at once, but the first, which is held back: a file of one
/// vector (or list) holds the whole history in it.
pub fn import(text: &str) -> Result<Imported, ImportError> {
    let mut pairing = Pairing::with_capacity(expected_events(text));
    let mut first: Option<(usize, TopForm<8>)> = None;
    let mut forms = 0usize;
    read_each_map(
        text,
        &NAMES,
        |e| ImportError::new(e.line, e.message),
        |line, form| {
            forms += 1;
            if forms == 1 {
                first = Some((line, form));
                return Ok(());
            }
            if let Some((l, f)) = first.take() {
                pairing.push(top_level_event(l, f)?);
            }
            pairing.push(top_level_event(line, form)?);
            Ok(())
        },
    )?;
    match first {
        Some((line, TopForm::Other(Edn::Vector(items) | Edn::List(items)))) if forms == 1 => {
            // One collection holding the whole history: its elements carry no
            // line of their own, so count them from the collection's line.
            if items.is_empty() {
                return Err(no_operations());
            }
            for item in items {
                match item.into_fields(&NAMES) {
                    Ok(fields) => pairing.push(event(line, fields)?),
                    Err(other) => return Err(not_a_map(line, &other)),
                }
            }
        }
        Some((line, form)) => pairing.push(top_level_event(line, form)?),
        None if forms == 0 => return Err(no_operations()),
        None => {}
    }
    pairing.finish()
}

fn no_operations() -> ImportError {
    ImportError::new(1, "the file holds no operations")
}

/// Room for the operations of a history of one map per line, so that
/// reading thousands of them does not copy the ones read so far again and
/// again;
/// bounded by the smallest map an event can be (`{:process 0 :type :ok :f
/// :x}`), so that a file of blank lines reserves nothing much.
fn expected_events(text: &str) -> usize {
    const SMALLEST_EVENT: usize = 28;
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    lines.min(text.len() / SMALLEST_EVENT + 1)
}

fn top_level_event(line: usize, form: TopForm<8>) -> Result<JepsenEvent, ImportError> {
    match form {
        TopForm::Map(fields) => event(line, fields),
        TopForm::Other(other) => Err(not_a_map(line, &other)),
    }
}

fn not_a_map(line: usize, form: &Edn) -> ImportError {
    ImportError::new(
        line,
        format!(
            "expected an operation map like {{:process 0, :type :invoke, :f :read, :value nil}}, found {form}"
        ),
    )
}

fn name_of(v: Edn) -> Result<String, Edn> {
    match v {
        Edn::Keyword(k) | Edn::Symbol(k) | Edn::Str(k) => Ok(k),
        other => Err(other),
    }
}

fn event(line: usize, fields: Fields) -> Result<JepsenEvent, ImportError> {
    let [process, kind, f, value, key, time, index, error] = fields;
    let process = match process {
        Some(Edn::Int(p)) => Process::Client(p),
        Some(other) => match name_of(other) {
            Ok(name) => Process::Other(name),
            Err(other) => {
                return Err(ImportError::new(
                    line,
                    format!("a :process of {other} is neither a number nor a name"),
                ));
            }
        },
        None => return Err(ImportError::new(line, "an operation without :process")),
    };
    let kind = match kind.map(name_of) {
        Some(Ok(name)) => match name.as_str() {
            "invoke" => EventType::Invoke,
            "ok" => EventType::Ok,
            "fail" => EventType::Fail,
            "info" => EventType::Info,
            other => {
                return Err(ImportError::new(
                    line,
                    format!("unknown :type :{other} (expected :invoke, :ok, :fail or :info)"),
                ));
            }
        },
        Some(Err(_)) | None => {
            return Err(ImportError::new(line, "an operation without :type"));
        }
    };
    let Some(Ok(f)) = f.map(name_of) else {
        return Err(ImportError::new(line, "an operation without :f"));
    };
    Ok(JepsenEvent {
        key,
        time: natural(line, time, "time", "nanoseconds since the test began")?,
        index: natural(line, index, "index", "the event's position in the history")?,
        error,
        ..JepsenEvent::new(line, process, kind, f, value.unwrap_or(Edn::Nil))
    })
}

/// An optional field that must be a non-negative integer.
fn natural(
    line: usize,
    value: Option<Edn>,
    field: &str,
    what: &str,
) -> Result<Option<u64>, ImportError> {
    match value {
        None => Ok(None),
        Some(Edn::Int(n)) if n >= 0 => Ok(Some(n as u64)),
        Some(other) => Err(ImportError::new(
            line,
            format!("a :{field} of {other}; expected {what}, a non-negative integer"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Completion, kv_ops, register_ops};
    use crate::linearizable::Outcome;
    use crate::models::kv::{KvInput, KvOutput};

    #[test]
    fn reads_one_map_per_line() {
        let text = "{:process 0, :type :invoke, :f :put, :key \"a\", :value \"x\"}\n\
                    {:process 0, :type :ok, :f :put, :key \"a\", :value \"x\"}\n\
                    {:process 1, :type :invoke, :f :get, :key \"a\", :value nil}\n";
        let imported = import(text).unwrap();
        assert_eq!(imported.ops.len(), 2);
        assert_eq!(imported.ops[1].completion, Completion::Never);
        let ops = kv_ops(&imported).unwrap();
        assert_eq!(ops[0].outcome, Outcome::Ok(KvOutput::Done));
        assert_eq!(ops[1].input, KvInput::Get { key: "a".into() });
    }

    #[test]
    fn reads_a_vector_of_knossos_register_operations() {
        let text = "[{:process 0 :type :invoke :f :cas :value [1 2] :time 5}\n\
                    {:process 0 :type :fail :f :cas :value [1 2] :time 9}\n\
                    {:process :nemesis :type :info :f :start :value nil :time 7}]";
        let imported = import(text).unwrap();
        assert_eq!(imported.annotations.len(), 1);
        assert_eq!(imported.annotations[0].at, 7);
        assert!(register_ops(&imported).unwrap().is_empty());
    }

    /// jepsen.history's fields: `:time` is the event's time, an invocation's
    /// `:index` the operation's id, `:error` kept.
    #[test]
    fn reads_jepsen_history_times_indices_and_errors() {
        let text = "{:type :invoke, :f :write, :value 3, :time 1000, :process 0, :index 4}\n\
                    {:type :info, :f :start, :value nil, :time 1500, :process :nemesis, :index 5}\n\
                    {:type :info, :f :write, :value 3, :time 2500, :process 0, :index 7, :error [:timeout \"t\"]}\n";
        let imported = import(text).unwrap();
        assert_eq!(imported.clock, crate::import::Clock::Nanoseconds);
        let op = &imported.ops[0];
        assert_eq!((op.id, op.call, op.ret), (4, 1000, Some(2500)));
        assert_eq!(op.completion, Completion::Info);
        assert_eq!(
            op.error.as_ref().map(Edn::to_string).as_deref(),
            Some("[:timeout \"t\"]")
        );
        assert_eq!(imported.annotations[0].at, 1500);
    }

    #[test]
    fn refuses_times_and_indices_that_do_not_fit() {
        let some_times = "{:process 0, :type :invoke, :f :read, :time 5}\n\
                          {:process 0, :type :ok, :f :read, :value 1}\n";
        let e = import(some_times).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("without :time"), "{}", e.message);
        let backwards = "{:process 0, :type :invoke, :f :read, :time 5}\n\
                         {:process 0, :type :ok, :f :read, :value 1, :time 4}\n";
        let e = import(backwards).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("before its invocation"), "{}", e.message);
        let index = "{:process 0, :type :invoke, :f :read, :index 3}\n\
                     {:process 0, :type :ok, :f :read, :value 1, :index 3}\n";
        let e = import(index).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("ascending"), "{}", e.message);
        let negative = "{:process 0, :type :invoke, :f :read, :time -1}\n";
        let e = import(negative).unwrap_err();
        assert!(e.message.contains("non-negative"), "{}", e.message);
    }

    #[test]
    fn names_the_line_of_a_bad_event() {
        let err =
            import("{:process 0, :type :invoke, :f :get}\n{:process 0, :type :done, :f :get}\n")
                .unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unknown :type :done"));
        assert_eq!(import("; nothing\n").unwrap_err().line, 1);
        assert!(
            import("[1 2]")
                .unwrap_err()
                .message
                .contains("expected an operation map")
        );
    }
}
