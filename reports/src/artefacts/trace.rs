//! The run's trace as reports keep it: `trace.txt` for people (one event a
//! line, as `faultline replay` prints it) and `trace.jsonl` with exact
//! nanoseconds, which is what is read back.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ReportsError, Result, json_message};

/// One trace event in simulated time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TraceLine {
    /// Simulated nanoseconds since the run started.
    pub at_ns: u64,
    /// Who: `world`, `engine`, `m1` (a member), `c3` (a client).
    pub source: String,
    /// What: `process`, `crash`, `exit`, `role`, `version`, `fault`, `request`, ...
    pub kind: String,
    pub detail: String,
}

impl TraceLine {
    /// `   12.345678s m1     role       leader term=3 leader=1` (newlines in
    /// the detail are written as `\n`, so it stays one line).
    pub fn human(&self) -> String {
        format!(
            "{:>12.6}s {:<6} {:<10} {}",
            self.at_ns as f64 / 1e9,
            self.source,
            self.kind,
            self.detail.replace('\r', "\\r").replace('\n', "\\n")
        )
    }

    /// The member this event is about (`m3` -> 3), if its source is a member.
    pub fn member(&self) -> Option<u64> {
        self.source.strip_prefix('m')?.parse().ok()
    }
}

/// `trace.txt`: every event's [`TraceLine::human`] line.
pub(crate) fn to_text(trace: &[TraceLine]) -> String {
    let mut out = String::with_capacity(trace.len() * 64);
    for line in trace {
        out.push_str(&line.human());
        out.push('\n');
    }
    out
}

/// `trace.jsonl`: one JSON object per event.
pub(crate) fn to_jsonl(trace: &[TraceLine], path: &Path) -> Result<String> {
    let mut out = String::with_capacity(trace.len() * 80);
    for line in trace {
        let json = serde_json::to_string(line)
            .map_err(|e| ReportsError::invalid(path, format!("cannot encode the trace: {e}")))?;
        out.push_str(&json);
        out.push('\n');
    }
    Ok(out)
}

pub(crate) fn from_jsonl(text: &str, path: &Path) -> Result<Vec<TraceLine>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                ReportsError::malformed(
                    path,
                    i + 1,
                    format!(
                        "expected a trace event {{at_ns, source, kind, detail}}: {}",
                        json_message(&e)
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_lines_match_the_simulator_format() {
        let line = TraceLine {
            at_ns: 12_345_678_901,
            source: "m1".into(),
            kind: "role".into(),
            detail: "leader term=3\nsecond".into(),
        };
        assert_eq!(
            line.human(),
            "   12.345679s m1     role       leader term=3\\nsecond"
        );
        assert_eq!(line.member(), Some(1));
        let text = to_jsonl(std::slice::from_ref(&line), Path::new("t")).expect("encode");
        assert_eq!(
            from_jsonl(&text, Path::new("t")).expect("decode"),
            vec![line]
        );
        let err = from_jsonl("{}\n{\"at_ns\":1}", Path::new("t")).expect_err("bad");
        assert_eq!(err.line(), Some(1));
    }
}
