//! Whether two members' peer connection is up, and since when: what
//! etcd's rafthttp keeps per peer (`peerStatus`: active since the stream
//! was last established, zero while it is broken) and what its strict
//! reconfiguration check reads. The simulated network carries raft
//! traffic as datagrams with no connection, so the world answers for the
//! connection the way a TCP stack and rafthttp would:
//!
//! - a stream opens once both processes run, and breaks at once when
//!   either process ends (its kernel closes the socket);
//! - a cut link in either direction, or a paused process, stops the
//!   stream's reads: it breaks once the silence reaches rafthttp's
//!   `ConnReadTimeout` (5 s; its idle links carry heartbeats, so silence
//!   only comes from the fault), and a shorter fault leaves it up;
//! - a broken stream is established again when the cut heals or the
//!   process resumes (rafthttp dials again every 100 ms; taken as at once).
//!
//! Times are simulated time since the run started.
//!
//! A stream carries one direction of traffic and is opened by the member
//! that reads it: rafthttp's stream reader dials every peer the member
//! knows, and a member asked for a stream by a sender it does not know
//! refuses it. [`Readers`] keeps who reads whose stream; a sender whose
//! stream is not read, or whose connection is broken, sends by pipeline
//! (`peer.pick`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// rafthttp's `ConnReadTimeout`: a stream that reads nothing for this long
/// is broken.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Two nodes, the smaller first: a connection has no direction.
fn pair<N: Ord>(a: N, b: N) -> (N, N) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The connection state of every pair of member nodes (the world keys
/// them by madsim node; the tests by number).
#[derive(Debug)]
pub struct Streams<NodeId> {
    /// Since when each node's current process runs (absent: none runs).
    up_since: BTreeMap<NodeId, Duration>,
    /// Since when each node's process is paused.
    paused_since: BTreeMap<NodeId, Duration>,
    /// When a node's process resumed from a pause long enough to have
    /// broken its streams (they open again then).
    resumed_at: BTreeMap<NodeId, Duration>,
    /// Since when a cut holds a pair (in either direction).
    cut_since: BTreeMap<(NodeId, NodeId), Duration>,
    /// When a pair's cut healed after breaking its stream.
    reconnected_at: BTreeMap<(NodeId, NodeId), Duration>,
}

impl<NodeId> Default for Streams<NodeId> {
    fn default() -> Self {
        Streams {
            up_since: BTreeMap::new(),
            paused_since: BTreeMap::new(),
            resumed_at: BTreeMap::new(),
            cut_since: BTreeMap::new(),
            reconnected_at: BTreeMap::new(),
        }
    }
}

impl<NodeId: Ord + Copy> Streams<NodeId> {
    /// A process of `node` started (a fresh process: its streams are new).
    pub fn started(&mut self, node: NodeId, now: Duration) {
        self.up_since.insert(node, now);
        self.paused_since.remove(&node);
        self.resumed_at.remove(&node);
    }

    /// The process of `node` ended (crash, exit, stop).
    pub fn ended(&mut self, node: NodeId) {
        self.up_since.remove(&node);
        self.paused_since.remove(&node);
        self.resumed_at.remove(&node);
    }

    pub fn paused(&mut self, node: NodeId, now: Duration) {
        if self.up_since.contains_key(&node) {
            self.paused_since.entry(node).or_insert(now);
        }
    }

    pub fn resumed(&mut self, node: NodeId, now: Duration) {
        if let Some(since) = self.paused_since.remove(&node)
            && now.saturating_sub(since) >= READ_TIMEOUT
        {
            self.resumed_at.insert(node, now);
        }
    }

    /// A cut now holds the link between `a` and `b` (one direction or
    /// both); a pair already cut keeps its first cut's time.
    pub fn cut(&mut self, a: NodeId, b: NodeId, now: Duration) {
        self.cut_since.entry(pair(a, b)).or_insert(now);
    }

    /// No cut holds the link between `a` and `b` any more.
    pub fn healed(&mut self, a: NodeId, b: NodeId, now: Duration) {
        let p = pair(a, b);
        if let Some(since) = self.cut_since.remove(&p)
            && now.saturating_sub(since) >= READ_TIMEOUT
        {
            self.reconnected_at.insert(p, now);
        }
    }

    /// For how long `me`'s stream with `peer` has been up; None while it
    /// is broken (rafthttp's `ActiveSince` giving zero).
    pub fn connected_for(&self, me: NodeId, peer: NodeId, now: Duration) -> Option<Duration> {
        let silent_too_long = |since: Option<&Duration>| {
            since.is_some_and(|&s| now.saturating_sub(s) >= READ_TIMEOUT)
        };
        let p = pair(me, peer);
        if silent_too_long(self.cut_since.get(&p))
            || silent_too_long(self.paused_since.get(&me))
            || silent_too_long(self.paused_since.get(&peer))
        {
            return None;
        }
        let since = [
            self.up_since.get(&me),
            self.up_since.get(&peer),
            self.reconnected_at.get(&p),
            self.resumed_at.get(&me),
            self.resumed_at.get(&peer),
        ];
        let mut opened = Duration::ZERO;
        for (i, t) in since.into_iter().enumerate() {
            match t {
                Some(&t) => opened = opened.max(t),
                // Both processes must run; the other times are optional.
                None if i < 2 => return None,
                None => {}
            }
        }
        Some(now.saturating_sub(opened))
    }
}

/// Which member reads which member's stream, by member id: a member reads
/// the stream of every peer it knows as a member, from when its process
/// starts (or learns of the peer) until the peer is removed or the
/// process ends.
#[derive(Debug, Default)]
pub struct Readers(BTreeSet<(u64, u64)>);

impl Readers {
    /// `reader` now reads `writer`'s stream (`open`), or stopped reading it.
    pub fn set(&mut self, reader: u64, writer: u64, open: bool) {
        if open {
            self.0.insert((reader, writer));
        } else {
            self.0.remove(&(reader, writer));
        }
    }

    /// The process of `reader` ended or started afresh: it reads nothing
    /// until its transport dials again.
    pub fn process_changed(&mut self, reader: u64) {
        self.0.retain(|&(r, _)| r != reader);
    }

    pub fn reads(&self, reader: u64, writer: u64) -> bool {
        self.0.contains(&(reader, writer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_reads_a_stream_until_it_stops_or_its_process_changes() {
        let mut readers = Readers::default();
        readers.set(1, 2, true);
        readers.set(1, 3, true);
        readers.set(2, 1, true);
        assert!(readers.reads(1, 2) && !readers.reads(3, 1));
        readers.set(1, 3, false);
        assert!(!readers.reads(1, 3));
        readers.process_changed(1);
        assert!(!readers.reads(1, 2), "a new process reads nothing yet");
        assert!(readers.reads(2, 1), "other members' streams are untouched");
    }

    fn node(n: u64) -> u64 {
        n
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn two_up() -> Streams<u64> {
        let mut streams = Streams::default();
        streams.started(node(1), s(0));
        streams.started(node(2), s(1));
        streams
    }

    #[test]
    fn a_stream_is_up_from_the_later_start_until_a_process_ends() {
        let mut streams = two_up();
        assert_eq!(streams.connected_for(node(1), node(2), s(10)), Some(s(9)));
        assert_eq!(streams.connected_for(node(2), node(1), s(10)), Some(s(9)));
        streams.ended(node(2));
        assert_eq!(streams.connected_for(node(1), node(2), s(10)), None);
        streams.started(node(2), s(12));
        assert_eq!(streams.connected_for(node(1), node(2), s(13)), Some(s(1)));
    }

    #[test]
    fn a_cut_breaks_the_stream_only_after_the_read_timeout() {
        let mut streams = two_up();
        streams.cut(node(2), node(1), s(10));
        assert_eq!(streams.connected_for(node(1), node(2), s(14)), Some(s(13)));
        assert_eq!(streams.connected_for(node(1), node(2), s(15)), None);
        streams.healed(node(1), node(2), s(20));
        assert_eq!(streams.connected_for(node(1), node(2), s(21)), Some(s(1)));
    }

    #[test]
    fn a_short_cut_or_pause_leaves_the_stream_as_it_was() {
        let mut streams = two_up();
        streams.cut(node(1), node(2), s(10));
        streams.healed(node(1), node(2), s(12));
        streams.paused(node(2), s(13));
        streams.resumed(node(2), s(14));
        assert_eq!(streams.connected_for(node(1), node(2), s(20)), Some(s(19)));
    }

    #[test]
    fn a_long_pause_breaks_every_stream_of_the_paused_process() {
        let mut streams = two_up();
        streams.started(node(3), s(0));
        streams.paused(node(2), s(10));
        assert_eq!(streams.connected_for(node(1), node(2), s(16)), None);
        assert_eq!(streams.connected_for(node(3), node(2), s(16)), None);
        assert_eq!(streams.connected_for(node(1), node(3), s(16)), Some(s(16)));
        streams.resumed(node(2), s(17));
        assert_eq!(streams.connected_for(node(1), node(2), s(18)), Some(s(1)));
    }
}
