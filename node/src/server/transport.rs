//! Raft traffic between members: datagrams on the peer port, each a
//! protobuf `PeerMessage`. Raft tolerates loss, reordering and
//! duplication, so there is no retransmission here.

use crate::config::{MemberConfig, PEER_PORT};
use crate::wire::api::{decode, encode};
use crate::wire::internal::{PeerMessage, peer_message};
use madsim::net::Endpoint;
use parking_lot::Mutex;
use protobuf::Message as _;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::mpsc;

pub const PEER_TAG: u64 = 1;

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
    endpoint: Endpoint,
    peers: Arc<Mutex<BTreeMap<u64, IpAddr>>>,
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
            endpoint,
            peers: Arc::new(Mutex::new(peers)),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let receiver = transport.clone();
        madsim::task::spawn(async move { receiver.receive_loop(tx).await });
        Ok((transport, rx))
    }

    pub fn set_peer(&self, id: u64, ip: IpAddr) {
        self.peers.lock().insert(id, ip);
    }

    pub fn remove_peer(&self, id: u64) {
        self.peers.lock().remove(&id);
    }

    async fn send(&self, to: u64, body: peer_message::Body) {
        let Some(ip) = self.peers.lock().get(&to).copied() else {
            return;
        };
        let msg = PeerMessage {
            from: self.me,
            body: Some(body),
        };
        // Datagrams to a cut link vanish, as on a real network.
        let _ = self
            .endpoint
            .send_to(SocketAddr::new(ip, PEER_PORT), PEER_TAG, &encode(&msg))
            .await;
    }

    pub async fn send_raft(&self, msg: &raft::eraftpb::Message) {
        match msg.write_to_bytes() {
            Ok(bytes) => self.send(msg.to, peer_message::Body::Raft(bytes)).await,
            Err(e) => tracing::error!(member = self.me, "cannot encode raft message: {e}"),
        }
    }

    pub async fn query_version(&self, to: u64) {
        self.send(to, peer_message::Body::VersionQuery(true)).await;
    }

    pub async fn reply_version(&self, to: u64, version: String) {
        self.send(to, peer_message::Body::VersionReply(version))
            .await;
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
            let inbound = match msg.body {
                Some(peer_message::Body::Raft(b)) => {
                    match raft::eraftpb::Message::parse_from_bytes(&b) {
                        Ok(m) => Inbound::Raft(m),
                        Err(e) => {
                            tracing::warn!(
                                member = self.me,
                                "dropping undecodable raft message: {e}"
                            );
                            continue;
                        }
                    }
                }
                Some(peer_message::Body::VersionQuery(_)) => {
                    Inbound::VersionQuery { from: msg.from }
                }
                Some(peer_message::Body::VersionReply(v)) => Inbound::VersionReply {
                    from: msg.from,
                    version: v,
                },
                None => continue,
            };
            if tx.send(inbound).is_err() {
                return;
            }
        }
    }
}
