//! Jepsen's `jepsen.util` operation log lines:
//! `INFO  jepsen.util - PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE`. Lines without
//! `jepsen.util - ` followed by tab-separated fields are other log output and
//! are ignored.

use super::edn_reader::{Edn, read_one};
use super::{EventType, ImportError, Imported, JepsenEvent, Process, pair_events};

const MARKER: &str = "jepsen.util - ";

pub fn import(text: &str) -> Result<Imported, ImportError> {
    let mut events = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let Some(at) = raw.find(MARKER) else {
            continue;
        };
        let rest = &raw[at + MARKER.len()..];
        if !rest.contains('\t') {
            continue;
        }
        events.push(event(line, rest)?);
    }
    if events.is_empty() {
        return Err(ImportError::new(
            1,
            "the file holds no `jepsen.util - PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE` lines",
        ));
    }
    pair_events(events)
}

fn event(line: usize, rest: &str) -> Result<JepsenEvent, ImportError> {
    let fields: Vec<&str> = rest.splitn(4, '\t').collect();
    let [process, kind, f, value] = fields.as_slice() else {
        return Err(ImportError::new(
            line,
            format!("expected PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE after `{MARKER}`, found {rest:?}"),
        ));
    };
    let process = match process.trim().parse::<i64>() {
        Ok(p) => Process::Client(p),
        Err(_) => match process.trim().strip_prefix(':') {
            Some(name) if !name.is_empty() => Process::Other(name.to_string()),
            _ => {
                return Err(ImportError::new(
                    line,
                    format!("a process must be a number or a :name, found {process:?}"),
                ));
            }
        },
    };
    let kind = match kind.trim() {
        ":invoke" => EventType::Invoke,
        ":ok" => EventType::Ok,
        ":fail" => EventType::Fail,
        ":info" => EventType::Info,
        other => {
            return Err(ImportError::new(
                line,
                format!("unknown type {other:?} (expected :invoke, :ok, :fail or :info)"),
            ));
        }
    };
    let Some(f) = f.trim().strip_prefix(':').filter(|n| !n.is_empty()) else {
        return Err(ImportError::new(
            line,
            format!("an operation must be a :keyword, found {f:?}"),
        ));
    };
    let value: Edn = read_one(value.trim())
        .map_err(|e| ImportError::new(line, format!("cannot read the value: {e}")))?;
    Ok(JepsenEvent {
        line,
        process,
        kind,
        f: f.to_string(),
        key: None,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Completion;

    #[test]
    fn reads_operation_lines_and_ignores_the_rest() {
        let text = "INFO  jepsen.core - Running test\n\
                    INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n\
                    INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
                    INFO  jepsen.util - 3\t:fail\t:cas\t[1 4]\n";
        let imported = import(text).unwrap();
        assert_eq!(imported.ops.len(), 1);
        assert_eq!(imported.ops[0].completion, Completion::Fail);
        assert_eq!(
            imported.ops[0].invoke_value,
            Edn::Vector(vec![Edn::Int(1), Edn::Int(4)])
        );
        assert_eq!(imported.annotations.len(), 1);
    }

    #[test]
    fn rejects_truncated_lines() {
        let text = "INFO  jepsen.util - 3\t:invoke\t:read\tnil\nINFO  jepsen.util - 3\t:ok\t:re";
        let err = import(text).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("expected PROCESS"), "{}", err.message);
        let err = import("INFO  jepsen.util - 3\t:invoke\t:read\t[1").unwrap_err();
        assert!(err.message.contains("cannot read the value"));
        assert!(import("").is_err());
    }
}
