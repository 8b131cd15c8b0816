//! Raft traffic between members: datagrams on the peer port, each a
//! protobuf `PeerMessage`. Raft tolerates loss, reordering and
//! duplication, so there is no retransmission here.
//!
//! Sending never blocks the caller, as in etcd's rafthttp: each peer has a
//! writer task with a bounded queue (etcd's stream buffer holds 4,096
//! messages and drops beyond that), and the writer puts everything queued
//! into one datagram. So the raft loop hands over a Ready's messages and
//! goes on, and a busy leader's many messages to one follower travel
//! together.

use crate::config::{MemberConfig, PEER_PORT};
use crate::wire::api::{decode, encode};
use crate::wire::internal::{PeerBody, PeerMessage, peer_body};
use madsim::net::Endpoint;
use parking_lot::Mutex;
use protobuf::Message as _;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::mpsc;

pub const PEER_TAG: u64 = 1;

/// Messages queued for one peer, at most (etcd's `streamBufSize`); beyond
/// that a message is dropped, as etcd drops it.
const PEER_QUEUE: usize = 4096;

/// Messages put into one datagram, at most.
const BATCH_MAX: usize = 512;

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
    peers: Arc<Mutex<BTreeMap<u64, IpAddr>>>,
    /// Each peer's writer queue, started with the first message to it.
    writers: Arc<Mutex<BTreeMap<u64, mpsc::Sender<peer_body::Body>>>>,
}

impl Transport {
    pub async fn bind(
        config: &MemberConfig,
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
            peers: Arc::new(Mutex::new(peers)),
            writers: Arc::default(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let receiver = transport.clone();
        madsim::task::spawn(async move { receiver.receive_loop(tx).await });
        Ok((transport, rx))
    }

    pub fn set_peer(&self, id: u64, ip: IpAddr) {
        self.peers.lock().insert(id, ip);
    }

    /// Forgets a removed member; its writer ends once its queue is empty.
    pub fn remove_peer(&self, id: u64) {
        self.peers.lock().remove(&id);
        self.writers.lock().remove(&id);
    }

    /// Queues a message for a peer; false when it was dropped (unknown
    /// peer, or its queue is full).
    fn send(&self, to: u64, body: peer_body::Body) -> bool {
        if !self.peers.lock().contains_key(&to) {
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

    fn start_writer(&self, to: u64) -> mpsc::Sender<peer_body::Body> {
        let (tx, rx) = mpsc::channel(PEER_QUEUE);
        let writer = self.clone();
        madsim::task::spawn(async move { writer.write_loop(to, rx).await });
        tx
    }

    /// Sends whatever is queued for `to` as one datagram, again and again.
    async fn write_loop(self, to: u64, mut queue: mpsc::Receiver<peer_body::Body>) {
        while let Some(first) = queue.recv().await {
            let mut bodies = vec![PeerBody { body: Some(first) }];
            while bodies.len() < BATCH_MAX {
                let Ok(body) = queue.try_recv() else { break };
                bodies.push(PeerBody { body: Some(body) });
            }
            let Some(ip) = self.peers.lock().get(&to).copied() else {
                continue;
            };
            let msg = PeerMessage {
                from: self.me,
                bodies,
            };
            // Datagrams to a cut link vanish, as on a real network.
            let _ = self
                .endpoint
                .send_to(SocketAddr::new(ip, PEER_PORT), PEER_TAG, &encode(&msg))
                .await;
        }
    }

    /// Queues a raft message; false when it was dropped.
    pub fn send_raft(&self, msg: &raft::eraftpb::Message) -> bool {
        match msg.write_to_bytes() {
            Ok(bytes) => self.send(msg.to, peer_body::Body::Raft(bytes)),
            Err(e) => {
                tracing::error!(member = self.me, "cannot encode raft message: {e}");
                false
            }
        }
    }

    pub fn query_version(&self, to: u64) {
        self.send(to, peer_body::Body::VersionQuery(true));
    }

    pub fn reply_version(&self, to: u64, version: String) {
        self.send(to, peer_body::Body::VersionReply(version));
    }

    async fn receive_loop(self, tx: mpsc::UnboundedSender<Inbound>) {
        loop {
            let Ok((payload, _from)) = self.endpoint.recv_from_raw(PEER_TAG).await else {
                return;
            };
            let Ok(bytes) = payload.downcast::<Vec<u8>>() else {
                continue;
            };
            let msg: PeerMessage = match decode("peer message", &bytes) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(member = self.me, "dropping undecodable peer message: {e}");
                    continue;
                }
            };
            for body in msg.bodies.into_iter().filter_map(|b| b.body) {
                let Some(inbound) = self.inbound(msg.from, body) else {
                    continue;
                };
                if tx.send(inbound).is_err() {
                    return;
                }
            }
        }
    }

    fn inbound(&self, from: u64, body: peer_body::Body) -> Option<Inbound> {
        match body {
            peer_body::Body::Raft(b) => match raft::eraftpb::Message::parse_from_bytes(&b) {
                Ok(m) => Some(Inbound::Raft(m)),
                Err(e) => {
                    tracing::warn!(member = self.me, "dropping undecodable raft message: {e}");
                    None
                }
            },
            peer_body::Body::VersionQuery(_) => Some(Inbound::VersionQuery { from }),
            peer_body::Body::VersionReply(version) => Some(Inbound::VersionReply { from, version }),
        }
    }
}
