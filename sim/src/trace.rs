//! The run's trace: an append-only list of events in simulated time, and
//! its hash. The hash covers a canonical text encoding of every event, so
//! two runs with the same hash did the same things at the same times.

use parking_lot::Mutex;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceEvent {
    /// Simulated time since the run started, in nanoseconds.
    pub at_ns: u64,
    /// Who: `world`, `m1` (a member), `c3` (a client), `engine`...
    pub source: String,
    /// What kind of event: `start`, `crash`, `role`, `fault`, `request`...
    pub kind: String,
    pub detail: String,
}

impl TraceEvent {
    /// Feeds the event's canonical text, `at_ns|source|kind|detail\n`, to
    /// the hash piece by piece (the digest is that of the whole line; no
    /// line is built: a run hashes thousands of them).
    fn hash_into(&self, hasher: &mut Sha256) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = self.at_ns;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        hasher.update(&digits[at..]);
        for field in [&self.source, &self.kind, &self.detail] {
            hasher.update(b"|");
            hasher.update(field.as_bytes());
        }
        hasher.update(b"\n");
    }

    /// `12.345678s m1 role leader term=3`
    pub fn human(&self) -> String {
        let at = Duration::from_nanos(self.at_ns);
        format!(
            "{:>12.6}s {:<6} {:<10} {}",
            at.as_secs_f64(),
            self.source,
            self.kind,
            self.detail
        )
    }
}

#[derive(Default)]
pub struct Trace {
    events: Vec<TraceEvent>,
    hasher: Sha256,
}

impl Trace {
    pub fn push(
        &mut self,
        at: Duration,
        source: impl Into<String>,
        kind: impl Into<String>,
        detail: impl Into<String>,
    ) {
        let event = TraceEvent {
            at_ns: at.as_nanos() as u64,
            source: source.into(),
            kind: kind.into(),
            detail: detail.into(),
        };
        event.hash_into(&mut self.hasher);
        self.events.push(event);
    }

    /// The trace hash: first 16 hex digits of SHA-256 over every event.
    pub fn hash(&self) -> String {
        let digest = self.hasher.clone().finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Writes the human-readable trace, one event a line.
    pub fn write_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        for e in &self.events {
            writeln!(out, "{}", e.human())?;
        }
        Ok(())
    }
}

/// The trace as the world's parts share it.
#[derive(Clone, Default)]
pub struct SharedTrace(Arc<Mutex<Trace>>);

impl SharedTrace {
    /// Records an event at the current simulated time.
    pub fn record(
        &self,
        source: impl Into<String>,
        kind: impl Into<String>,
        detail: impl Into<String>,
    ) {
        let at = madsim::time::TimeHandle::try_current()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        self.0.lock().push(at, source, kind, detail);
    }

    pub fn hash(&self) -> String {
        self.0.lock().hash()
    }

    pub fn with<T>(&self, f: impl FnOnce(&Trace) -> T) -> T {
        f(&self.0.lock())
    }

    /// Takes the finished trace out.
    pub fn take(&self) -> Trace {
        std::mem::take(&mut *self.0.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_field_and_order() {
        let mut a = Trace::default();
        a.push(Duration::from_millis(1), "m1", "start", "v3.6");
        a.push(Duration::from_millis(2), "m2", "start", "v3.6");
        let mut b = Trace::default();
        b.push(Duration::from_millis(1), "m1", "start", "v3.6");
        b.push(Duration::from_millis(2), "m2", "start", "v3.6");
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.hash().len(), 16);
        let mut c = Trace::default();
        c.push(Duration::from_millis(2), "m2", "start", "v3.6");
        c.push(Duration::from_millis(1), "m1", "start", "v3.6");
        assert_ne!(a.hash(), c.hash());
        let mut d = Trace::default();
        d.push(Duration::from_millis(1), "m1", "start", "v3.7");
        d.push(Duration::from_millis(2), "m2", "start", "v3.6");
        assert_ne!(a.hash(), d.hash());
        let mut text = Vec::new();
        a.write_text(&mut text).expect("write to memory");
        // The hash is SHA-256 of the canonical lines, pinned here because
        // every trace hash in the corpus depends on it.
        let mut e = Trace::default();
        e.push(Duration::from_nanos(0), "m1", "start", "v3.6");
        e.push(
            Duration::from_nanos(12_345_678_901),
            "c3",
            "request",
            "#1 put",
        );
        let lines = "0|m1|start|v3.6\n12345678901|c3|request|#1 put\n";
        let digest = Sha256::digest(lines.as_bytes());
        let expected: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(e.hash(), expected);
        assert!(String::from_utf8_lossy(&text).contains("m1     start"));
    }
}
