//! The peer network of a real cluster: every byte between two etcd members
//! crosses a small TCP proxy of ours, so a directed link can pass, drop or
//! delay what one member sends another.
//!
//! # Which proxy carries which direction
//!
//! A cluster's configuration holds one peer URL per member, and every member
//! dials a peer at that URL (member ids are hashed from those URLs, so they
//! cannot differ per member). So the proxy cannot give member `i` an
//! address of its own for member `j`. Instead each member `j` has one front
//! listener, whose address is `j`'s advertised peer URL (`--listen-peer-urls`
//! is etcd's real socket, which only the proxy dials), and every connection
//! the front accepts is attributed to the member that dialed it: the
//! kernel's socket table names the dialing socket's inode and the member
//! whose process holds it (`dialer`). The proxy for the directed link
//! `i → j` is then the pair of byte streams that carry what `i` sends `j`.
//!
//! etcd's peer connections are HTTP exchanges in both directions, and which
//! end dialed says nothing about where raft messages flow:
//! - `i` dials `j` and POSTs raft messages and snapshots (the pipeline,
//!   and the snapshot sender): `i → j` is the request direction;
//! - `j` dials `i` and GETs `/raft/stream/...`: `i` then writes its
//!   messages to `j` (appends, heartbeats, votes: raft's usual traffic)
//!   into the *response* of a connection that `j` dialed.
//!
//! So link `i → j` governs the client-to-server bytes of connections `i`
//! dials to `j`, and the server-to-client bytes of connections `j` dials to
//! `i`; each connection is governed by two links, one per direction. Cutting
//! `i → j` alone cuts all that `i` says to `j` and nothing `j` says to `i`.
//!
//! # Limits of the model
//!
//! - It works on bytes, not messages: a dropped direction is a blackhole
//!   (bytes read and discarded, the TCP connection kept up, its end not
//!   passed on), as a partition looks to etcd: its stream reads time out.
//!   A connection that lost bytes is closed when the link passes again, so
//!   etcd reconnects on a clean stream instead of reading a torn one.
//! - A one-way cut also silences the answers that travel that way: an HTTP
//!   request `j` sends over a connection it dialed to `i` arrives, but `i`'s
//!   response does not when `i → j` is cut, so `j` sees the request fail
//!   (a pipeline POST times out, and `j` reports `i` unreachable to raft)
//!   although `i` got the message. On established streams, which carry
//!   most raft traffic, a one-way cut is exactly one way; a new stream from
//!   `i` to `j` needs `j`'s GET to reach `i`, so across a cut `j → i` etcd
//!   sends `i`'s messages by the pipeline instead, which still passes.
//! - Delay is per direction and keeps byte order: a chunk waits its delay
//!   from when the proxy read it, and never overtakes an earlier one.
//! - Connection set-up is not cut: the proxy accepts a dial on a cut link
//!   (TCP cannot be refused selectively by dialer before the dialer is
//!   known), then passes nothing. A dial to a member that is down is closed
//!   at once unless the link is cut, in which case it is held silent.
//! - A connection whose dialer is not one of the cluster's processes (none
//!   should be: clients talk to etcd's client port directly) passes
//!   unfiltered and is counted (`Network::unattributed`).

use crate::dialer;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

/// What a directed link does with the bytes it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Pass,
    /// A blackhole: everything read is discarded.
    Drop,
    /// Everything arrives this much later than it was sent.
    Delay(Duration),
}

/// Chunks queued per direction before the proxy stops reading (and TCP's
/// flow control slows the sender), so a delayed link holds bounded memory.
const QUEUE_CHUNKS: usize = 256;
const CHUNK_BYTES: usize = 64 * 1024;
/// How long the proxy looks for the dialer of a connection: the member's
/// pid is registered right after its process starts, before it can dial.
const ATTRIBUTION_TRIES: u32 = 10;

/// The proxies of one cluster: a front listener per member, a link per
/// ordered pair. Dropping it stops every proxy task and closes every
/// connection through it.
pub struct Network {
    members: usize,
    fronts: Vec<SocketAddr>,
    links: Vec<watch::Sender<Link>>,
    shared: Arc<Shared>,
    tasks: Vec<AbortHandle>,
}

/// What the proxy tasks read and the cluster updates as members come and go.
struct Shared {
    /// Per member: its etcd's real peer address, and the pid that dials
    /// from it (None while the member has no process).
    members: Mutex<Vec<Endpoint>>,
    unattributed: AtomicU64,
}

#[derive(Clone, Copy, Default)]
struct Endpoint {
    upstream: Option<SocketAddr>,
    pid: Option<u32>,
}

impl Network {
    /// Binds a front for each of `members` members on loopback and starts
    /// serving them on the current tokio runtime. Every link passes.
    pub async fn start(members: usize) -> std::io::Result<Network> {
        let shared = Arc::new(Shared {
            members: Mutex::new(vec![Endpoint::default(); members]),
            unattributed: AtomicU64::new(0),
        });
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..members * members)
            .map(|_| watch::channel(Link::Pass))
            .unzip();
        let receivers = Arc::new(receivers);
        let mut fronts = Vec::with_capacity(members);
        let mut tasks = Vec::with_capacity(members);
        for to in 0..members {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            fronts.push(listener.local_addr()?);
            let front = Front {
                to,
                members,
                shared: shared.clone(),
                links: receivers.clone(),
            };
            tasks.push(tokio::spawn(front.serve(listener)).abort_handle());
        }
        Ok(Network {
            members,
            fronts,
            links: senders,
            shared,
            tasks,
        })
    }

    /// Member `i`'s advertised peer address.
    pub fn front(&self, i: usize) -> SocketAddr {
        self.fronts[i]
    }

    /// Where member `i`'s etcd listens for peers, and its pid; both None
    /// while it has no process.
    pub fn set_member(&self, i: usize, upstream: Option<SocketAddr>, pid: Option<u32>) {
        self.shared.lock()[i] = Endpoint { upstream, pid };
    }

    pub fn set(&self, from: usize, to: usize, link: Link) {
        if from != to {
            self.links[from * self.members + to].send_replace(link);
        }
    }

    pub fn link(&self, from: usize, to: usize) -> Link {
        *self.links[from * self.members + to].borrow()
    }

    /// Drops every link to and from member `i`.
    pub fn isolate(&self, i: usize) {
        for other in 0..self.members {
            self.set(i, other, Link::Drop);
            self.set(other, i, Link::Drop);
        }
    }

    /// Whether every link to and from member `i` drops.
    /// (A lone member has no link, and is not isolated.)
    pub fn is_isolated(&self, i: usize) -> bool {
        self.members > 1
            && (0..self.members)
                .filter(|&other| other != i)
                .all(|other| self.link(i, other) == Link::Drop && self.link(other, i) == Link::Drop)
    }

    /// Every link passes again.
    pub fn heal(&self) {
        for from in 0..self.members {
            for to in 0..self.members {
                self.set(from, to, Link::Pass);
            }
        }
    }

    /// Connections whose dialer was none of the members' processes.
    pub fn unattributed(&self) -> u64 {
        self.shared.unattributed.load(Ordering::Relaxed)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Aborting a front drops its JoinSet, which aborts its connections.
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Endpoint>> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One member's front listener.
struct Front {
    to: usize,
    members: usize,
    shared: Arc<Shared>,
    links: Arc<Vec<watch::Receiver<Link>>>,
}

impl Front {
    async fn serve(self, listener: TcpListener) {
        let front = Arc::new(self);
        let mut connections = JoinSet::new();
        loop {
            match listener.accept().await {
                Ok((socket, peer)) => {
                    let front = front.clone();
                    connections.spawn(async move { front.connection(socket, peer).await });
                }
                // Out of descriptors, or a connection reset before accept:
                // the listener itself is fine, so keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
            while connections.try_join_next().is_some() {}
        }
    }

    /// Which member dialed from `source_port`.
    async fn dialer(&self, source_port: u16, front_port: u16) -> Option<usize> {
        for _ in 0..ATTRIBUTION_TRIES {
            if let Some(inode) = dialer::socket_inode(source_port, front_port) {
                let pids: Vec<Option<u32>> = self.shared.lock().iter().map(|e| e.pid).collect();
                let found = pids
                    .iter()
                    .position(|pid| pid.is_some_and(|pid| dialer::holds(pid, inode)));
                if found.is_some() {
                    return found;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    async fn connection(&self, inbound: TcpStream, peer: SocketAddr) {
        let front_port = inbound.local_addr().map(|a| a.port()).unwrap_or_default();
        // For a connection of unknown origin: links that always pass, whose
        // senders live as long as the connection (so `changed` waits).
        let mut unfiltered = None;
        let (forward, back) = match self.dialer(peer.port(), front_port).await {
            Some(from) => (
                self.links[from * self.members + self.to].clone(),
                self.links[self.to * self.members + from].clone(),
            ),
            None => {
                self.shared.unattributed.fetch_add(1, Ordering::Relaxed);
                let (pass_forward, forward) = watch::channel(Link::Pass);
                let (pass_back, back) = watch::channel(Link::Pass);
                unfiltered = Some((pass_forward, pass_back));
                (forward, back)
            }
        };
        let upstream = self.shared.lock()[self.to].upstream;
        let outbound = match upstream {
            Some(address) => TcpStream::connect(address).await.ok(),
            None => None,
        };
        let Some(outbound) = outbound else {
            // The member is down. Across a cut link the dialer must not
            // learn even that, so the connection is held silent until the
            // link heals.
            let (mut forward, mut back) = (forward, back);
            while is_drop(&forward) || is_drop(&back) {
                changed(&mut forward, &mut back).await;
            }
            return;
        };
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        let (in_read, in_write) = inbound.into_split();
        let (out_read, out_write) = outbound.into_split();
        let lost_forward = AtomicBool::new(false);
        let lost_back = AtomicBool::new(false);
        tokio::select! {
            () = direction(in_read, out_write, forward.clone(), &lost_forward) => {}
            () = direction(out_read, in_write, back.clone(), &lost_back) => {}
            () = reset_on_heal(forward, back, &lost_forward, &lost_back) => {}
        }
        drop(unfiltered);
    }
}

fn is_drop(link: &watch::Receiver<Link>) -> bool {
    *link.borrow() == Link::Drop
}

/// Waits until either link changes (forever once the network is gone: its
/// tasks are being aborted anyway).
async fn changed(a: &mut watch::Receiver<Link>, b: &mut watch::Receiver<Link>) {
    tokio::select! {
        Ok(()) = a.changed() => {}
        Ok(()) = b.changed() => {}
        else => std::future::pending().await,
    }
}

/// Copies `from` to `to` as `link` says, until `from` ends and what was
/// queued is written, or `to` fails. `lost` is set once a byte (or the
/// end of the stream) was dropped.
async fn direction(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut link: watch::Receiver<Link>,
    lost: &AtomicBool,
) {
    let (queue, mut queued) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE_CHUNKS);
    let writer = async move {
        while let Some((due, bytes)) = queued.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buffer = vec![0; CHUNK_BYTES];
        loop {
            let n = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let state = *link.borrow();
            let due = match state {
                Link::Pass => Instant::now(),
                Link::Delay(delay) => Instant::now() + delay,
                Link::Drop => {
                    lost.store(true, Ordering::Relaxed);
                    continue;
                }
            };
            if queue.send((due, buffer[..n].to_vec())).await.is_err() {
                return;
            }
        }
        // A blackholed link does not carry the end of the stream either.
        if is_drop(&link) {
            lost.store(true, Ordering::Relaxed);
            while is_drop(&link) {
                if link.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
        drop(queue);
    };
    tokio::join!(reader, writer);
}

/// Ends once a direction that lost bytes passes again: the byte stream it
/// carries is torn, so the connection must go and etcd dial a fresh one.
async fn reset_on_heal(
    mut forward: watch::Receiver<Link>,
    mut back: watch::Receiver<Link>,
    lost_forward: &AtomicBool,
    lost_back: &AtomicBool,
) {
    loop {
        changed(&mut forward, &mut back).await;
        let torn = |link: &watch::Receiver<Link>, lost: &AtomicBool| {
            lost.load(Ordering::Relaxed) && !is_drop(link)
        };
        if torn(&forward, lost_forward) || torn(&back, lost_back) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that sends back what it reads, and keeps a copy.
    async fn echo() -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buffer = [0; 1024];
                    while let Ok(n @ 1..) = socket.read(&mut buffer).await {
                        log.lock().expect("lock").extend_from_slice(&buffer[..n]);
                        if socket.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (address, received)
    }

    /// Sends `bytes` and reads as many back, within `limit`.
    async fn round_trip(stream: &mut TcpStream, bytes: &[u8], limit: Duration) -> Option<Vec<u8>> {
        stream.write_all(bytes).await.ok()?;
        let mut back = vec![0; bytes.len()];
        tokio::time::timeout(limit, stream.read_exact(&mut back))
            .await
            .ok()?
            .ok()?;
        Some(back)
    }

    #[test]
    fn links_pass_delay_and_drop_each_direction_and_a_torn_connection_is_reset() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let network = Network::start(2).await.expect("network");
            // This test process is member 0, dialing member 1 (an echo).
            network.set_member(0, None, Some(std::process::id()));
            let (upstream, received) = echo().await;
            network.set_member(1, Some(upstream), None);
            let received = move || received.lock().expect("lock").clone();
            let mut stream = TcpStream::connect(network.front(1)).await.expect("dial");
            let second = Duration::from_secs(1);
            assert_eq!(
                round_trip(&mut stream, b"ping", second).await.as_deref(),
                Some(&b"ping"[..])
            );

            // What 0 sends 1 arrives later; the echo back is not delayed.
            network.set(0, 1, Link::Delay(Duration::from_millis(300)));
            let sent = Instant::now();
            stream.write_all(b"slow").await.expect("write");
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert_eq!(received(), b"ping", "the delayed bytes arrived early");
            let mut back = [0; 4];
            stream.read_exact(&mut back).await.expect("echo");
            assert!(
                sent.elapsed() >= Duration::from_millis(300),
                "{:?}",
                sent.elapsed()
            );
            network.set(0, 1, Link::Pass);

            // Cut 1 → 0 only: the request passes (the echo answers), the
            // answer is dropped.
            network.set(1, 0, Link::Drop);
            assert_eq!(
                round_trip(&mut stream, b"lost", Duration::from_millis(300)).await,
                None
            );
            assert_eq!(received(), b"pingslowlost", "the request did not pass");
            // Healing closes the torn connection instead of resuming it.
            network.heal();
            let mut rest = Vec::new();
            let end = tokio::time::timeout(second, stream.read_to_end(&mut rest)).await;
            assert!(
                matches!(end, Ok(Ok(_)) | Ok(Err(_))),
                "the connection stayed open"
            );
            assert!(rest.is_empty(), "dropped bytes arrived after all: {rest:?}");

            // A fresh connection passes again; every dialer was attributed.
            let mut stream = TcpStream::connect(network.front(1)).await.expect("dial");
            assert_eq!(
                round_trip(&mut stream, b"back", second).await.as_deref(),
                Some(&b"back"[..])
            );
            assert_eq!(network.unattributed(), 0);
        });
    }
}
