//! Histories as JSON lines: one record per line, each with a "type":
//! "history" (optional header with the format version), "op", "watch",
//! "annotation" and at most one "end". See the crate README for the format.

use std::collections::HashSet;
use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::history::{Annotation, EndState, History, Operation, WatchRecord};

/// The format version this checker writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
pub const FORMAT_NAME: &str = "faultline-history";

/// A history file: the history and, if recorded, the end state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryFile {
    pub history: History,
    pub end: Option<EndState>,
}

/// A line that cannot be read, with its 1-based number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct HistoryFormatError {
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Record {
    History {
        format: String,
        version: u32,
        /// False when the key-values do not carry the per-key TTL their
        /// put asked for (`Recorded::key_ttl`); absent means they do.
        #[serde(default)]
        key_ttl: Option<bool>,
    },
    Op(Operation),
    Watch(WatchRecord),
    Annotation(Annotation),
    End(EndState),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RecordRef<'a> {
    History {
        format: &'a str,
        version: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        key_ttl: Option<bool>,
    },
    Op(&'a Operation),
    Watch(&'a WatchRecord),
    Annotation(&'a Annotation),
    End(&'a EndState),
}

/// Writes a header, then every operation, watch and annotation, then the end state.
pub fn write<W: Write>(mut out: W, history: &History, end: Option<&EndState>) -> io::Result<()> {
    let mut line = |record: RecordRef<'_>| -> io::Result<()> {
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")
    };
    line(RecordRef::History {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        key_ttl: (!history.recorded.key_ttl).then_some(false),
    })?;
    for op in &history.operations {
        line(RecordRef::Op(op))?;
    }
    for w in &history.watches {
        line(RecordRef::Watch(w))?;
    }
    for a in &history.annotations {
        line(RecordRef::Annotation(a))?;
    }
    if let Some(end) = end {
        line(RecordRef::End(end))?;
    }
    Ok(())
}

pub fn to_string(history: &History, end: Option<&EndState>) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail and serde_json only emits UTF-8.
    let _ = write(&mut buf, history, end);
    String::from_utf8_lossy(&buf).into_owned()
}

/// serde_json appends " at line L column C" (of the single line): drop it, the
/// file line is what matters.
fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Reads a history; every problem names its line.
pub fn read<R: BufRead>(input: R) -> Result<HistoryFile, HistoryFormatError> {
    let mut file = HistoryFile::default();
    let mut op_ids = HashSet::new();
    let mut watch_ids = HashSet::new();
    let mut records = 0;
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let err = |message: String| HistoryFormatError {
            line: number,
            message,
        };
        let line = line.map_err(|e| err(format!("cannot read the line: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(&line).map_err(|e| {
            err(format!(
                "expected a JSON record with \"type\" history, op, watch, annotation or end: {}",
                serde_message(&e)
            ))
        })?;
        records += 1;
        match record {
            Record::History {
                format,
                version,
                key_ttl,
            } => {
                if records != 1 {
                    return Err(err("the \"history\" header must be the first record".into()));
                }
                if format != FORMAT_NAME {
                    return Err(err(format!(
                        "expected format {FORMAT_NAME:?}, found {format:?}"
                    )));
                }
                if version > FORMAT_VERSION {
                    return Err(err(format!(
                        "format version {version} is newer than this checker reads ({FORMAT_VERSION})"
                    )));
                }
                file.history.recorded.key_ttl = key_ttl.unwrap_or(true);
            }
            Record::Op(op) => {
                op.validate().map_err(err)?;
                if !op_ids.insert(op.id) {
                    return Err(err(format!("operation id {} is used twice", op.id)));
                }
                file.history.operations.push(op);
            }
            Record::Watch(w) => {
                w.validate().map_err(err)?;
                if !watch_ids.insert(w.id) {
                    return Err(err(format!("watch id {} is used twice", w.id)));
                }
                file.history.watches.push(w);
            }
            Record::Annotation(a) => file.history.annotations.push(a),
            Record::End(end) => {
                if file.end.is_some() {
                    return Err(err("a second \"end\" record".into()));
                }
                file.end = Some(end);
            }
        }
    }
    if records == 0 {
        return Err(HistoryFormatError {
            line: 1,
            message: "the file holds no records".into(),
        });
    }
    Ok(file)
}

pub fn read_str(text: &str) -> Result<HistoryFile, HistoryFormatError> {
    read(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{
        Event, EventKind, HashKv, KeyValue, MemberEndState, OpResult, PutRequest, PutResponse,
        RangeRequest, Request, Response, SortOrder, SortTarget, WatchRequest, WatchResponse,
    };

    fn sample() -> (History, EndState) {
        let history = History {
            operations: vec![Operation {
                id: 1,
                client: 2,
                call: 10,
                ret: Some(20),
                request: Request::Put(PutRequest {
                    key: "a".into(),
                    value: "1".into(),
                    ..Default::default()
                }),
                result: OpResult::Ok(Response::Put(PutResponse {
                    header_revision: 2,
                    prev_kv: None,
                })),
                k8s: None,
            }],
            watches: vec![WatchRecord {
                id: 7,
                client: 2,
                stream: 1,
                member: None,
                member_compacted: None,
                request: WatchRequest {
                    key: "a".into(),
                    ..Default::default()
                },
                created: 5,
                responses: vec![WatchResponse {
                    at: 25,
                    header_revision: 2,
                    events: vec![Event {
                        kind: EventKind::Put,
                        kv: KeyValue {
                            key: "a".into(),
                            value: "1".into(),
                            create_revision: 2,
                            mod_revision: 2,
                            version: 1,
                            lease: 0,
                            ttl: 0,
                        },
                        prev_kv: None,
                    }],
                    ..Default::default()
                }],
                k8s_list: None,
                cancel_sent: None,
            }],
            annotations: vec![Annotation {
                kind: None,
                at: 12,
                end: Some(15),
                source: "nemesis".into(),
                text: "partition".into(),
            }],
            ..Default::default()
        };
        let end = EndState {
            members: vec![MemberEndState {
                member: 1,
                alive: true,
                hash_kv: Some(HashKv {
                    revision: 2,
                    compact_revision: 0,
                    hash: 42,
                }),
                membership: Some(crate::history::Membership::new(
                    9,
                    vec![crate::history::ListedMember {
                        id: 1,
                        peer: "10.0.0.2".into(),
                        is_learner: false,
                    }],
                )),
            }],
            heal_time: Some(15),
            first_success_after_heal: None,
            liveness_bound: 1000,
        };
        (history, end)
    }

    #[test]
    fn round_trips() {
        let (history, end) = sample();
        let text = to_string(&history, Some(&end));
        assert_eq!(text.lines().count(), 5);
        assert!(text.starts_with("{\"type\":\"history\""));
        let back = read_str(&text).unwrap();
        assert_eq!(back.history, history);
        assert_eq!(back.end, Some(end));
        assert!(!text.contains("key_ttl"), "written only when false");
    }

    #[test]
    fn a_history_without_key_ttls_says_so_in_its_header() {
        let (mut history, _) = sample();
        history.recorded.key_ttl = false;
        let text = to_string(&history, None);
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.contains("\"key_ttl\":false"))
        );
        assert_eq!(read_str(&text).unwrap().history, history);
    }

    #[test]
    fn a_range_keeps_its_bounds_and_sort_and_leaves_them_out_when_unset() {
        let (mut history, _) = sample();
        let filtered = RangeRequest {
            key: "a".into(),
            range_end: "\0".into(),
            max_mod_revision: 9,
            min_create_revision: 2,
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Value,
            ..Default::default()
        };
        history.operations[0].request = Request::Range(filtered);
        history.operations[0].result = OpResult::Ok(Response::Range(Default::default()));
        let text = to_string(&history, None);
        assert!(text.contains(r#""max_mod_revision":9"#), "{text}");
        assert!(
            text.contains(r#""sort_order":"descend","sort_target":"value""#),
            "{text}"
        );
        assert!(!text.contains("min_mod_revision"), "{text}");
        assert_eq!(read_str(&text).unwrap().history, history);
    }

    #[test]
    fn reads_minimal_records() {
        let text = r#"{"type":"op","id":1,"client":1,"call":1,"ret":2,"request":{"range":{"key":"a"}},"result":{"ok":{"range":{"header_revision":1}}}}"#;
        let file = read_str(text).unwrap();
        assert_eq!(file.history.operations.len(), 1);
        assert!(file.end.is_none());
    }

    #[test]
    fn errors_name_the_line() {
        let (history, _) = sample();
        let text = to_string(&history, None);
        let truncated = &text[..text.len() - 20];
        let err = read_str(truncated).unwrap_err();
        assert_eq!(err.line, 4);
        let err = read_str("\n{\"type\":\"op\",\"id\":1}\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("missing field"), "{}", err.message);
        let err = read_str("{\"type\":\"frobnicate\"}").unwrap_err();
        assert!(err.message.contains("unknown variant"), "{}", err.message);
        assert_eq!(read_str("").unwrap_err().line, 1);
        let twice = format!("{text}{}", text.lines().nth(1).unwrap());
        assert!(read_str(&twice).unwrap_err().message.contains("used twice"));
        let newer = "{\"type\":\"history\",\"format\":\"faultline-history\",\"version\":9}";
        assert!(read_str(newer).unwrap_err().message.contains("newer"));
    }
}
