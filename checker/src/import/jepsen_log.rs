//! Jepsen's `jepsen.util` operation log lines:
//! `INFO  jepsen.util - PROCESS :TYPE :F VALUE`, the fields separated by
//! tabs or spaces (porcupine reads any whitespace; Jepsen writes tabs, and
//! logs copied through other tools often hold spaces). A line is an
//! operation when its first field is a process (a number or a `:name`) and
//! its second one of `:invoke`, `:ok`, `:fail`, `:info`; anything else after
//! `jepsen.util - ` is other log output and is ignored.

use super::edn_reader::{Edn, read_one};
use super::{EventType, ImportError, Imported, JepsenEvent, Pairing, Process};

const MARKER: &str = "jepsen.util - ";

pub fn import(text: &str) -> Result<Imported, ImportError> {
    let mut pairing = Pairing::default();
    let mut events = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let Some(at) = raw.find(MARKER) else {
            continue;
        };
        let rest = &raw[at + MARKER.len()..];
        let (Some(process), Some(kind)) = (process(rest), event_type(rest)) else {
            continue;
        };
        pairing.push(event(line, rest, process, kind)?);
        events += 1;
    }
    if events == 0 {
        return Err(ImportError::new(
            1,
            "the file holds no `jepsen.util - PROCESS :TYPE :F VALUE` lines",
        ));
    }
    pairing.finish()
}

/// The first `n` whitespace-separated fields and the rest of the line
/// after them (trimmed), if there are that many.
fn split_fields(rest: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut fields = Vec::with_capacity(n);
    let mut left = rest.trim_start();
    for _ in 0..n {
        let end = left.find(char::is_whitespace).unwrap_or(left.len());
        if end == 0 {
            return None;
        }
        fields.push(&left[..end]);
        left = left[end..].trim_start();
    }
    Some((fields, left.trim_end()))
}

fn process(rest: &str) -> Option<Process> {
    let (fields, _) = split_fields(rest, 1)?;
    let field = fields[0];
    match field.parse::<i64>() {
        Ok(p) => Some(Process::Client(p)),
        Err(_) => field
            .strip_prefix(':')
            .filter(|name| !name.is_empty())
            .map(|name| Process::Other(name.to_string())),
    }
}

fn event_type(rest: &str) -> Option<EventType> {
    let (fields, _) = split_fields(rest, 2)?;
    match fields[1] {
        ":invoke" => Some(EventType::Invoke),
        ":ok" => Some(EventType::Ok),
        ":fail" => Some(EventType::Fail),
        ":info" => Some(EventType::Info),
        _ => None,
    }
}

fn event(
    line: usize,
    rest: &str,
    process: Process,
    kind: EventType,
) -> Result<JepsenEvent, ImportError> {
    let Some((fields, value)) = split_fields(rest, 3).filter(|(_, value)| !value.is_empty()) else {
        return Err(ImportError::new(
            line,
            format!("expected PROCESS :TYPE :F VALUE after `{MARKER}`, found {rest:?}"),
        ));
    };
    let Some(f) = fields[2].strip_prefix(':').filter(|n| !n.is_empty()) else {
        return Err(ImportError::new(
            line,
            format!("an operation must be a :keyword, found {:?}", fields[2]),
        ));
    };
    let value: Edn = read_one(value)
        .map_err(|e| ImportError::new(line, format!("cannot read the value: {e}")))?;
    Ok(JepsenEvent::new(line, process, kind, f, value))
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
    fn fields_may_be_separated_by_spaces_as_porcupine_reads_them() {
        let tabs = "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n\
                    INFO  jepsen.util - 3\t:ok\t:cas\t[1 4]\n";
        let spaces = "INFO  jepsen.util - 3   :invoke :cas  [1 4]\n\
                      INFO  jepsen.util - 3 \t:ok\t :cas [1 4]  \n\
                      INFO  jepsen.util - Worker 3 done\n";
        let (a, b) = (import(tabs).unwrap(), import(spaces).unwrap());
        assert_eq!(a.ops.len(), 1);
        assert_eq!(a.ops[0].invoke_value, b.ops[0].invoke_value);
        assert_eq!(a.ops[0].completion, b.ops[0].completion);
        assert_eq!(b.ops.len(), 1);
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
