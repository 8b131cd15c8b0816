//! Register operations as a Jepsen history's events: an invocation at the
//! call, a completion at the return (`:ok`, `:fail`, or `:info` for an
//! unknown outcome; none when the operation never returned), each on a
//! Jepsen process.
//!
//! Processes follow jepsen.history: a process does one thing at a time, and
//! one that crashed (an `:info`, or no completion) never invokes again. A
//! faultline client keeps its process while its operations follow one
//! another strictly; after an unknown outcome, or when its next operation
//! starts at the very time the previous one returned (the events could then
//! not be told apart by position), it goes on under a new process number.

use std::collections::HashMap;

use super::registers::{Ending, RegisterOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// One event of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    pub time: u64,
    pub process: u64,
    pub kind: Kind,
    pub op: &'a RegisterOp,
}

/// Every event of `ops`, in time order. At equal times invocations come
/// first: such operations are concurrent, as faultline's checker reads equal
/// times, so a reader that goes by position agrees with one that goes by time.
pub fn events(ops: &[RegisterOp]) -> Vec<Event<'_>> {
    let mut by_call: Vec<&RegisterOp> = ops.iter().collect();
    by_call.sort_by_key(|o| (o.call, o.id));
    // Per client: its process and when it is free again (None: never).
    let mut processes: HashMap<u64, (u64, Option<u64>)> = HashMap::new();
    let mut next = 0u64;
    let mut out = Vec::with_capacity(ops.len() * 2);
    for op in by_call {
        let process = match processes.get(&op.client) {
            Some(&(p, Some(free))) if free < op.call => p,
            _ => {
                next += 1;
                next - 1
            }
        };
        out.push(Event {
            time: op.call,
            process,
            kind: Kind::Invoke,
            op,
        });
        let (completion, free) = match (&op.ending, op.ret) {
            (Ending::Ok, Some(ret)) => (Some(Kind::Ok), Some(ret)),
            (Ending::Failed(_), Some(ret)) => (Some(Kind::Fail), Some(ret)),
            (Ending::Unknown(_), Some(_)) => (Some(Kind::Info), None),
            (_, None) => (None, None),
        };
        if let (Some(kind), Some(time)) = (completion, op.ret) {
            out.push(Event {
                time: time.max(op.call),
                process,
                kind,
                op,
            });
        }
        processes.insert(op.client, (process, free));
    }
    out.sort_by_key(|e| (e.time, e.kind != Kind::Invoke, e.op.call, e.op.id));
    out
}

/// A string as EDN writes it: escapes for quotes, backslashes and control
/// characters, so every value stays on its line and reads back the same.
pub fn edn_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::registers::Action;

    fn op(id: u64, client: u64, call: u64, ret: Option<u64>, ending: Ending) -> RegisterOp {
        RegisterOp {
            id,
            client,
            call,
            ret,
            key: "k".into(),
            action: Action::Read { value: None },
            ending,
        }
    }

    #[test]
    fn a_client_keeps_its_process_until_it_crashes() {
        let ops = [
            op(1, 7, 0, Some(5), Ending::Ok),
            op(2, 7, 6, Some(9), Ending::Unknown("timeout".into())),
            op(3, 7, 10, Some(12), Ending::Ok),
            op(4, 8, 5, Some(6), Ending::Ok),
        ];
        let evs = events(&ops);
        let process_of = |id| evs.iter().find(|e| e.op.id == id).map(|e| e.process);
        assert_eq!(process_of(1), process_of(2));
        assert_ne!(process_of(2), process_of(3));
        // Op 4 invokes at 5, the time op 1 returns: invocations come first.
        let at_5: Vec<Kind> = evs.iter().filter(|e| e.time == 5).map(|e| e.kind).collect();
        assert_eq!(at_5, [Kind::Invoke, Kind::Ok]);
        assert_eq!(evs.iter().filter(|e| e.kind == Kind::Info).count(), 1);
    }

    #[test]
    fn strings_are_escaped_to_one_line() {
        assert_eq!(edn_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        let back = crate::import::edn_reader::read_one(&edn_string("x\"\n\t\u{2}é")).unwrap();
        assert_eq!(
            back,
            crate::import::edn_reader::Edn::Str("x\"\n\t\u{2}é".into())
        );
    }
}
