//! Raft traffic between members: datagrams on the peer port, each a
//! [`Datagram`] handed over as a value. Raft tolerates loss, reordering and
//! duplication, so there is no retransmission here.
//!
//! Nothing in the simulation reads the bytes a peer stream would carry
//! (the network neither corrupts nor weighs them), so a datagram is not
//! encoded: encoding every raft message and parsing it again on arrival
//! cost about a tenth of a run. What reaches the disk (WAL entries,
//! snapshots) and what clients send is still protobuf.
//!
//! Sending never blocks the caller, as in etcd's rafthttp: each peer has a
//! writer task with a bounded queue (etcd's stream buffer holds 4,096
//! messages and drops beyond that), and the writer puts everything queued
//! into one datagram. So the raft loop hands over a Ready's messages and
//! goes on, and a busy leader's many messages to one follower travel
//! together.
//!
//! What arrives from one peer is taken in the order it was sent, as from
//! etcd's peer streams (TCP): each datagram carries the sender's count, and
//! the receiver puts them back in order ([`Stream`]). madsim's datagrams
//! do not keep that order: each has its own latency, so they overtake
//! each other, and while they wait to be received the mailbox hands out
//! the newest first (`Mailbox::recv` removes with `swap_remove`), so under
//! a burst old datagrams waited until the load stopped. A proposal forwarded to
//! the leader then took effect seconds after its client had given up, in
//! reverse order of sending, which no etcd does.
//!
//! A stream works only while the receiver reads it, and a member reads
//! the streams of the peers it knows (rafthttp's stream reader dials each
//! of them). Otherwise a datagram goes by pipeline, as rafthttp's
//! `peer.pick` sends over HTTP POSTs when the stream is down: under the
//! pipeline tag, which every member takes from anyone, in arrival order
//! (pipelined requests keep none). A member that missed a newcomer's
//! addition thus still hears the newcomer once it leads, and, as etcd's
//! pipeline handler adds the sender as a remote (`addRemoteFromRequest`),
//! answers it by pipeline until it applies the addition.

use crate::config::{MemberConfig, PEER_PORT};
use crate::coverage::Point;
use crate::host::Host;
use madsim::net::Endpoint;
use madsim::time::Instant;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages queued for one peer, at most (etcd's `streamBufSize`); beyond
/// that a message is dropped, as etcd drops it.
const PEER_QUEUE: usize = 4096;

/// Messages put into one datagram, at most.
const BATCH_MAX: usize = 512;

/// The tag of pipelined datagrams. Stream datagrams carry their sender's
/// id, which raft never lets be 0.
const PIPELINE_TAG: u64 = 0;

/// One datagram between members: everything the sender had queued for
/// this peer, in order (etcd's peer streams likewise carry many messages
/// per write).
#[derive(Debug)]
struct Datagram {
    from: u64,
    bodies: Vec<PeerBody>,
    /// Which run of the sending process sent it (drawn at start).
    incarnation: u64,
    /// The sender's count of stream datagrams to this receiver, from 1;
    /// 0 for a pipelined one.
    seq: u64,
}

/// One message inside a [`Datagram`].
#[derive(Debug)]
enum PeerBody {
    Raft(raft::eraftpb::Message),
    /// The leader asks for the member's server version.
    VersionQuery,
    /// The member's server version.
    VersionReply(String),
}

/// What arrives from other members.
pub enum Inbound {
    Raft(raft::eraftpb::Message),
    VersionQuery { from: u64 },
    VersionReply { from: u64, version: String },
}

/// Sends to peers; the address book follows membership changes.
#[derive(Clone)]
pub struct Transport {
    me: u64,
    endpoint: Arc<Endpoint>,
    /// Who reads whose stream, and whether a connection is up.
    host: Arc<dyn Host>,
    peers: Arc<Mutex<BTreeMap<u64, IpAddr>>>,
    /// Senders that are not members here yet, heard by pipeline: answered
    /// by pipeline (etcd's remotes).
    remotes: Arc<Mutex<BTreeMap<u64, IpAddr>>>,
    /// Each peer's writer queue, started with the first message to it.
    writers: Arc<Mutex<BTreeMap<u64, mpsc::Sender<PeerBody>>>>,
    /// This process's run, so receivers tell a restarted sender's count
    /// from the old one's.
    incarnation: u64,
    /// Per peer, datagrams sent to it so far (kept when its writer ends).
    sent: Arc<Mutex<BTreeMap<u64, u64>>>,
    listening: Arc<Mutex<Listening>>,
}

/// Peers whose datagrams a receive loop takes, and where it hands them.
#[derive(Default)]
struct Listening {
    peers: BTreeSet<u64>,
    inbound: Option<mpsc::UnboundedSender<Inbound>>,
}

impl Transport {
    pub async fn bind(
        config: &MemberConfig,
        host: Arc<dyn Host>,
    ) -> std::io::Result<(Transport, mpsc::UnboundedReceiver<Inbound>)> {
        let me = config
            .peer(config.id)
            .map(|p| p.ip)
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let endpoint = Endpoint::bind(SocketAddr::new(me, PEER_PORT)).await?;
        let peers = config.peers.iter().map(|p| (p.id, p.ip)).collect();
        let transport = Transport {
            me: config.id,
            endpoint: Arc::new(endpoint),
            host,
            peers: Arc::new(Mutex::new(peers)),
            remotes: Arc::default(),
            writers: Arc::default(),
            incarnation: madsim::rand::random(),
            sent: Arc::default(),
            listening: Arc::default(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        transport.listening.lock().inbound = Some(tx.clone());
        for peer in &config.peers {
            transport.listen_to(peer.id);
        }
        let pipeline = transport.clone();
        madsim::task::spawn(async move { pipeline.pipeline_loop(tx).await });
        Ok((transport, rx))
    }

    pub fn set_peer(&self, id: u64, ip: IpAddr) {
        self.peers.lock().insert(id, ip);
        self.remotes.lock().remove(&id);
        self.listen_to(id);
    }

    /// Starts reading `from`'s stream. Stream datagrams are tagged with
    /// their sender, and each sender has its own receive loop: one loop for
    /// all of them took one datagram per receive delay, fewer than two busy
    /// peers send, and fell seconds behind.
    fn listen_to(&self, from: u64) {
        if from == self.me {
            return;
        }
        self.host.stream_reader(self.me, from, true);
        let tx = {
            let mut listening = self.listening.lock();
            if !listening.peers.insert(from) {
                return;
            }
            listening.inbound.clone()
        };
        if let Some(tx) = tx {
            let receiver = self.clone();
            madsim::task::spawn(async move { receiver.receive_loop(from, tx).await });
        }
    }

    /// Forgets a removed member and stops reading its stream; its writer
    /// ends once its queue is empty.
    pub fn remove_peer(&self, id: u64) {
        self.peers.lock().remove(&id);
        self.remotes.lock().remove(&id);
        self.writers.lock().remove(&id);
        self.host.stream_reader(self.me, id, false);
    }

    /// Where `to` is, and whether it is a member here (else a remote).
    fn address(&self, to: u64) -> Option<(IpAddr, bool)> {
        if let Some(&ip) = self.peers.lock().get(&to) {
            return Some((ip, true));
        }
        self.remotes.lock().get(&to).map(|&ip| (ip, false))
    }

    /// Queues a message for a peer or remote; false when it was dropped
    /// (unknown target, or its queue is full).
    fn send(&self, to: u64, body: PeerBody) -> bool {
        if self.address(to).is_none() {
            return false;
        }
        let queue = self
            .writers
            .lock()
            .entry(to)
            .or_insert_with(|| self.start_writer(to))
            .clone();
        match queue.try_send(body) {
            Ok(()) => true,
            Err(_) => {
                tracing::warn!(member = self.me, to, "peer queue full: message dropped");
                false
            }
        }
    }

    fn start_writer(&self, to: u64) -> mpsc::Sender<PeerBody> {
        let (tx, rx) = mpsc::channel(PEER_QUEUE);
        let writer = self.clone();
        madsim::task::spawn(async move { writer.write_loop(to, rx).await });
        tx
    }

    /// Sends whatever is queued for `to` as one datagram, again and again.
    async fn write_loop(self, to: u64, mut queue: mpsc::Receiver<PeerBody>) {
        while let Some(first) = queue.recv().await {
            let mut bodies = vec![first];
            while bodies.len() < BATCH_MAX {
                let Ok(body) = queue.try_recv() else { break };
                bodies.push(body);
            }
            let Some((ip, member)) = self.address(to) else {
                continue;
            };
            let (tag, seq) = if member && self.host.stream_working(self.me, to) {
                let mut sent = self.sent.lock();
                let count = sent.entry(to).or_default();
                *count += 1;
                (self.me, *count)
            } else {
                (PIPELINE_TAG, 0)
            };
            let datagram = Datagram {
                from: self.me,
                bodies,
                incarnation: self.incarnation,
                seq,
            };
            // Datagrams to a cut link vanish, as on a real network.
            let _ = self
                .endpoint
                .send_to_raw(SocketAddr::new(ip, PEER_PORT), tag, Box::new(datagram))
                .await;
        }
    }

    /// Queues a raft message; false when it was dropped.
    pub fn send_raft(&self, msg: raft::eraftpb::Message) -> bool {
        self.send(msg.to, PeerBody::Raft(msg))
    }

    pub fn query_version(&self, to: u64) {
        self.send(to, PeerBody::VersionQuery);
    }

    pub fn reply_version(&self, to: u64, version: String) {
        self.send(to, PeerBody::VersionReply(version));
    }

    /// Takes the datagrams `from` sends (tagged with its id) and hands
    /// their messages on in sending order (see [`Stream`]).
    async fn receive_loop(self, from: u64, tx: mpsc::UnboundedSender<Inbound>) {
        let mut stream = Stream::default();
        loop {
            let received = match stream.gap_deadline() {
                Some(deadline) => {
                    tokio::select! {
                        biased;
                        r = self.endpoint.recv_from_raw(from) => Some(r),
                        _ = madsim::time::sleep_until(deadline) => None,
                    }
                }
                None => Some(self.endpoint.recv_from_raw(from).await),
            };
            let ready = match received {
                Some(Ok((payload, _))) => match self.datagram(payload) {
                    Some(msg) => stream.arrive(msg, madsim::time::Instant::now()),
                    None => continue,
                },
                Some(Err(_)) => return,
                None => stream.give_up_gap(),
            };
            for datagram in ready {
                for body in datagram.bodies {
                    if tx.send(inbound(datagram.from, body)).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Takes pipelined datagrams from anyone, in arrival order. A sender
    /// that is not a member here becomes a remote, answered by pipeline
    /// (etcd's pipeline handler calls `addRemoteFromRequest` first).
    async fn pipeline_loop(self, tx: mpsc::UnboundedSender<Inbound>) {
        loop {
            let Ok((payload, source)) = self.endpoint.recv_from_raw(PIPELINE_TAG).await else {
                return;
            };
            let Some(datagram) = self.datagram(payload) else {
                continue;
            };
            if datagram.from != self.me
                && !self.peers.lock().contains_key(&datagram.from)
                && self
                    .remotes
                    .lock()
                    .insert(datagram.from, source.ip())
                    .is_none()
            {
                self.host.reached(self.me, Point::PeerHeardFromNonMember);
            }
            for body in datagram.bodies {
                if tx.send(inbound(datagram.from, body)).is_err() {
                    return;
                }
            }
        }
    }

    fn datagram(&self, payload: Box<dyn std::any::Any + Send + Sync>) -> Option<Datagram> {
        match payload.downcast::<Datagram>() {
            Ok(datagram) => Some(*datagram),
            Err(_) => {
                tracing::warn!(member = self.me, "dropping a peer datagram of unknown form");
                None
            }
        }
    }
}

fn inbound(from: u64, body: PeerBody) -> Inbound {
    match body {
        PeerBody::Raft(m) => Inbound::Raft(m),
        PeerBody::VersionQuery => Inbound::VersionQuery { from },
        PeerBody::VersionReply(version) => Inbound::VersionReply { from, version },
    }
}

/// How long a gap in one peer's datagrams is waited for before what came
/// after it is taken anyway: Linux's minimum TCP retransmission timeout, the
/// least a stream stalls for when a segment is lost.
const GAP_WAIT: Duration = Duration::from_millis(200);

/// One peer's datagrams as a stream: taken in the order they were sent, as
/// TCP delivers them. Datagrams arrive out of order (each has its own
/// latency); one that comes early waits for those before it, for at most
/// [`GAP_WAIT`], after which the missing ones count as lost (as when etcd's
/// peer stream breaks) and are dropped if they still come. A datagram from
/// a new run of the sender starts the stream over.
#[derive(Debug, Default)]
struct Stream {
    incarnation: u64,
    /// The count of the next datagram to take.
    next: u64,
    /// Datagrams that came before the ones ahead of them, by count.
    early: BTreeMap<u64, Datagram>,
    /// Since when the first early datagram has waited.
    gap_since: Option<Instant>,
}

impl Stream {
    /// Files a datagram that arrived `now`; returns what is now in order.
    fn arrive(&mut self, msg: Datagram, now: Instant) -> Vec<Datagram> {
        if msg.incarnation != self.incarnation || self.next == 0 {
            *self = Stream {
                incarnation: msg.incarnation,
                next: msg.seq,
                ..Stream::default()
            };
        }
        if msg.seq < self.next {
            tracing::debug!(
                from = msg.from,
                seq = msg.seq,
                "dropping a datagram given up for lost"
            );
            return Vec::new();
        }
        self.early.insert(msg.seq, msg);
        let ready = self.take_in_order();
        if self.early.is_empty() {
            self.gap_since = None;
        } else if self.gap_since.is_none() {
            self.gap_since = Some(now);
        }
        ready
    }

    /// When the gap before the early datagrams stops being waited for.
    fn gap_deadline(&self) -> Option<Instant> {
        self.gap_since.map(|since| since + GAP_WAIT)
    }

    /// Counts the missing datagrams as lost; returns the early ones.
    fn give_up_gap(&mut self) -> Vec<Datagram> {
        self.gap_since = None;
        let Some(&first) = self.early.keys().next() else {
            return Vec::new();
        };
        tracing::debug!(
            lost = first - self.next,
            "gave up waiting for peer datagrams"
        );
        self.next = first;
        self.take_in_order()
    }

    fn take_in_order(&mut self) -> Vec<Datagram> {
        let mut ready = Vec::new();
        while let Some(msg) = self.early.remove(&self.next) {
            ready.push(msg);
            self.next += 1;
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::{Datagram, GAP_WAIT, Stream};
    use madsim::time::Instant;

    fn datagram(incarnation: u64, seq: u64) -> Datagram {
        Datagram {
            from: 2,
            bodies: Vec::new(),
            incarnation,
            seq,
        }
    }

    fn seqs(msgs: Vec<Datagram>) -> Vec<u64> {
        msgs.into_iter().map(|m| m.seq).collect()
    }

    #[madsim::test]
    async fn datagrams_are_taken_in_sending_order() {
        let mut stream = Stream::default();
        let now = Instant::now();
        assert_eq!(seqs(stream.arrive(datagram(7, 1), now)), vec![1]);
        assert_eq!(seqs(stream.arrive(datagram(7, 3), now)), Vec::<u64>::new());
        assert_eq!(stream.gap_deadline(), Some(now + GAP_WAIT));
        assert_eq!(seqs(stream.arrive(datagram(7, 2), now)), vec![2, 3]);
        assert_eq!(stream.gap_deadline(), None);
        assert_eq!(
            seqs(stream.arrive(datagram(7, 3), now)),
            Vec::<u64>::new(),
            "a duplicate"
        );
    }

    #[madsim::test]
    async fn a_gap_waited_for_too_long_counts_as_lost() {
        let mut stream = Stream::default();
        let now = Instant::now();
        stream.arrive(datagram(7, 1), now);
        stream.arrive(datagram(7, 4), now);
        stream.arrive(datagram(7, 5), now);
        assert_eq!(seqs(stream.give_up_gap()), vec![4, 5]);
        assert_eq!(
            seqs(stream.arrive(datagram(7, 2), now)),
            Vec::<u64>::new(),
            "given up"
        );
        assert_eq!(seqs(stream.arrive(datagram(7, 6), now)), vec![6]);
    }

    #[madsim::test]
    async fn a_restarted_sender_starts_the_stream_over() {
        let mut stream = Stream::default();
        let now = Instant::now();
        stream.arrive(datagram(7, 40), now);
        assert_eq!(seqs(stream.arrive(datagram(8, 1), now)), vec![1]);
        assert_eq!(seqs(stream.arrive(datagram(8, 2), now)), vec![2]);
    }
}
