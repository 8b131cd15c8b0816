//! The simulated world: members (each a madsim node running the store),
//! client nodes, the disk, the network and the clocks, and the controls a
//! fault plan uses on them. Everything that happens goes into the trace.

use crate::clock::ClockTable;
use crate::disk::DiskSim;
use crate::disk::model::DiskFaults;
use crate::net::NetControl;
use crate::now;
use crate::streams::{Readers, Streams};
use crate::trace::SharedTrace;
use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;
use node::config::MemberConfig;
use node::coverage::Point;
use node::failpoint::{Failpoint, Failpoints};
use node::host::{AppliedTo, Backlog, BacklogSlot, ExitReason, Host, MemberEnv, NodeEvent};
use node::invariants::Invariant;
use node::version::Version;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

mod controls;
mod fault_context;
mod ledger;

pub use fault_context::AFTERGLOW;
use fault_context::FaultContext;

/// Where a member process is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberStatus {
    Running,
    Paused,
    /// Killed by the world (a crash).
    Crashed,
    /// The process ended by itself (failpoint crash, fatal error, stop).
    Exited(ExitReason),
}

impl MemberStatus {
    pub fn is_up(&self) -> bool {
        matches!(self, MemberStatus::Running | MemberStatus::Paused)
    }
}

struct MemberSlot {
    node: NodeHandle,
    ip: IpAddr,
    config: Arc<Mutex<MemberConfig>>,
    failpoints: Arc<Failpoints>,
    stop: Arc<Mutex<Arc<Notify>>>,
    /// The current process's backlog slot (a fresh one per process).
    backlog: Arc<Mutex<BacklogSlot>>,
    status: MemberStatus,
    /// Every exit of this member's processes, in order.
    exits: Vec<FatalExit>,
}

/// A member process that ended on an error, and whether an injected disk
/// fault had reached that process (which is then what explains the exit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatalExit {
    pub member: u64,
    pub message: String,
    /// The process was handed a failed fsync, ENOSPC or a flipped read
    /// before it exited: the disk fault is the cause.
    pub disk_fault_delivered: bool,
    /// Simulated time since the run started.
    pub at: Duration,
}

/// An invariant a member reported broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenInvariant {
    pub member: u64,
    pub invariant: Invariant,
    /// The values that broke it.
    pub detail: String,
    /// Simulated time since the run started.
    pub at: Duration,
}

/// The world's implementation of a member's host.
struct WorldHost {
    trace: SharedTrace,
    disk: Arc<DiskSim>,
    members: Arc<Mutex<BTreeMap<u64, MemberSlot>>>,
    broken: Mutex<Vec<BrokenInvariant>>,
    /// How often each coverage point was reached, by [`Point::index`].
    points: Vec<std::sync::atomic::AtomicU64>,
    /// The faults on now, and each point reached paired with them.
    faults: Mutex<FaultContext>,
    /// The cluster version each member applied last.
    cluster_versions: Mutex<BTreeMap<u64, Version>>,
    /// The highest cluster version any member applied in this run: a
    /// member joining later replays the log from wherever its snapshot
    /// leaves off, possibly from the first entry, and stops on any cluster
    /// version above its binary (etcd's downgrade detection).
    highest_cluster_version: Mutex<Option<Version>>,
    /// The replica agreement ledger ([`Host::applied_to`]).
    applied: Mutex<ledger::Ledger>,
    /// The members' peer connections ([`Host::peer_connected_for`]).
    streams: Arc<Mutex<Streams<NodeId>>>,
    /// Who reads whose stream ([`Host::stream_reader`]).
    readers: Mutex<Readers>,
}

impl WorldHost {
    /// The member's process ended, or a new one starts: its streams are
    /// gone and it reads none until its transport dials again.
    fn process_changed(&self, member: u64, node: NodeId, started: bool) {
        self.readers.lock().process_changed(member);
        let mut streams = self.streams.lock();
        if started {
            streams.started(node, now());
        } else {
            streams.ended(node);
        }
    }

    fn nodes_of(&self, member: u64, peer: u64) -> Option<(NodeId, NodeId)> {
        let members = self.members.lock();
        Some((
            members.get(&member)?.node.id(),
            members.get(&peer)?.node.id(),
        ))
    }
}

fn member_name(id: u64) -> String {
    format!("m{id}")
}

fn describe(event: &NodeEvent) -> (&'static str, String) {
    match event {
        NodeEvent::Started {
            version,
            applied_index,
            revision,
        } => (
            "start",
            format!("version={version} applied={applied_index} revision={revision}"),
        ),
        NodeEvent::Role { role, term, leader } => {
            ("role", format!("{role} term={term} leader={leader}"))
        }
        NodeEvent::SnapshotSaved { index } => ("snapshot", format!("saved index={index}")),
        NodeEvent::SnapshotApplied { index } => ("snapshot", format!("applied index={index}")),
        NodeEvent::Compacted { revision } => ("compact", format!("finished revision={revision}")),
        NodeEvent::Defragmented => ("defrag", "done".into()),
        NodeEvent::MembershipChanged { voters } => ("members", format!("voters={voters:?}")),
        NodeEvent::ClusterVersion { version } => ("version", format!("cluster={version}")),
        NodeEvent::StorageVersion { version } => ("version", format!("storage={version}")),
        NodeEvent::DowngradeInfo { enabled, target } => (
            "downgrade",
            format!(
                "enabled={enabled} target={}",
                target.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
            ),
        ),
        NodeEvent::FailpointFired { point, action } => ("failpoint", format!("{point} {action}")),
        NodeEvent::Note { text } => ("note", text.clone()),
        NodeEvent::InvariantBroken { invariant, detail } => {
            ("invariant", format!("{invariant} broken: {detail}"))
        }
    }
}

impl Host for WorldHost {
    fn emit(&self, member: u64, event: NodeEvent) {
        let (kind, detail) = describe(&event);
        self.trace.record(member_name(member), kind, detail);
        if let NodeEvent::ClusterVersion { version } = event {
            self.cluster_versions.lock().insert(member, version);
            let mut highest = self.highest_cluster_version.lock();
            *highest = (*highest).max(Some(version));
        }
        if let NodeEvent::InvariantBroken { invariant, detail } = event {
            self.broken.lock().push(BrokenInvariant {
                member,
                invariant,
                detail,
                at: now(),
            });
        }
    }

    fn exit(&self, member: u64, reason: ExitReason) {
        let node = {
            let mut members = self.members.lock();
            let Some(slot) = members.get_mut(&member) else {
                return;
            };
            slot.status = MemberStatus::Exited(reason.clone());
            if let ExitReason::Fatal(message) = &reason {
                slot.exits.push(FatalExit {
                    member,
                    message: message.clone(),
                    disk_fault_delivered: self.disk.faults_delivered(slot.node.id()) > 0,
                    at: now(),
                });
            }
            slot.node.id()
        };
        self.process_changed(member, node, false);
        let detail = match &reason {
            ExitReason::Stopped => "stopped".to_string(),
            ExitReason::Failpoint(point) => format!("crashed at failpoint {point}"),
            ExitReason::Fatal(msg) => format!("fatal: {msg}"),
        };
        self.trace.record(member_name(member), "exit", detail);
        Handle::current().kill(node);
    }

    fn applied_to(&self, report: AppliedTo, index: u64) -> Option<AppliedTo> {
        self.applied.lock().report(report, index)
    }

    fn peer_connected_for(&self, member: u64, peer: u64) -> Option<Duration> {
        let (me, peer) = self.nodes_of(member, peer)?;
        self.streams.lock().connected_for(me, peer, now())
    }

    fn stream_reader(&self, member: u64, peer: u64, open: bool) {
        self.readers.lock().set(member, peer, open);
    }

    fn stream_working(&self, member: u64, peer: u64) -> bool {
        let read = self.readers.lock().reads(peer, member);
        read && self
            .nodes_of(member, peer)
            .is_some_and(|(me, peer)| self.streams.lock().connected_for(me, peer, now()).is_some())
    }

    fn reached(&self, _member: u64, point: Point) {
        if let Some(n) = self.points.get(point.index()) {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.faults.lock().reached(point, now());
    }
}

/// The world of one run.
pub struct World {
    handle: Handle,
    disk: Arc<DiskSim>,
    clocks: Arc<ClockTable>,
    trace: SharedTrace,
    net: NetControl,
    members: Arc<Mutex<BTreeMap<u64, MemberSlot>>>,
    clients: Mutex<BTreeMap<u64, NodeHandle>>,
    host: Arc<WorldHost>,
}

/// The IP of member `id`.
pub fn member_ip(id: u64) -> IpAddr {
    IpAddr::from([10, 0, (id / 250) as u8, (id % 250) as u8 + 1])
}

/// The IP of client node `id`.
pub fn client_ip(id: u64) -> IpAddr {
    IpAddr::from([10, 1, (id / 250) as u8, (id % 250) as u8 + 1])
}

impl World {
    /// Builds the world inside a running simulation.
    pub fn new() -> Arc<World> {
        let trace = SharedTrace::default();
        let members = Arc::new(Mutex::new(BTreeMap::new()));
        let disk = madsim::plugin::simulator::<DiskSim>();
        let net = NetControl::new();
        let host = Arc::new(WorldHost {
            trace: trace.clone(),
            disk: disk.clone(),
            members: members.clone(),
            broken: Mutex::new(Vec::new()),
            points: Point::ALL.iter().map(|_| Default::default()).collect(),
            faults: Mutex::new(FaultContext::default()),
            cluster_versions: Mutex::new(BTreeMap::new()),
            highest_cluster_version: Mutex::new(None),
            applied: Mutex::new(ledger::Ledger::default()),
            streams: net.streams(),
            readers: Mutex::new(Readers::default()),
        });
        Arc::new(World {
            handle: Handle::current(),
            disk,
            clocks: ClockTable::new(),
            trace,
            net,
            members,
            clients: Mutex::new(BTreeMap::new()),
            host,
        })
    }

    /// Creates a member's node and starts its process.
    pub fn start_member(&self, config: MemberConfig) {
        let id = config.id;
        let ip = member_ip(id);
        let failpoints = Arc::new(Failpoints::new());
        let cell = Arc::new(Mutex::new(config.clone()));
        let stop = Arc::new(Mutex::new(Arc::new(Notify::new())));
        let backlog: Arc<Mutex<BacklogSlot>> = Default::default();
        let (disk, clocks, host, fps, cfg, stop_cell, backlog_cell) = (
            self.disk.clone(),
            self.clocks.clone(),
            self.host.clone(),
            failpoints.clone(),
            cell.clone(),
            stop.clone(),
            backlog.clone(),
        );
        let node = self
            .handle
            .create_node()
            .name(member_name(id))
            .ip(ip)
            .init(move || {
                let config = cfg.lock().clone();
                // A fresh stop signal per incarnation.
                let stop = Arc::new(Notify::new());
                *stop_cell.lock() = stop.clone();
                let backlog = BacklogSlot::default();
                *backlog_cell.lock() = backlog.clone();
                let (disk, clocks, host, fps) =
                    (disk.clone(), clocks.clone(), host.clone(), fps.clone());
                async move {
                    let node = madsim::plugin::node();
                    disk.begin_incarnation(node);
                    let env = MemberEnv {
                        member: config.id,
                        disk: Arc::new(disk.disk_for(node)),
                        clock: Arc::new(clocks.clock_for(config.id)),
                        host,
                        failpoints: fps,
                        stop,
                        backlog,
                    };
                    node::server::run_member(config, env).await;
                }
            })
            .build();
        self.host.process_changed(id, node.id(), true);
        self.trace.record(
            member_name(id),
            "process",
            format!("started version={}", config.version),
        );
        self.members.lock().insert(
            id,
            MemberSlot {
                node,
                ip,
                config: cell,
                failpoints,
                stop,
                backlog,
                status: MemberStatus::Running,
                exits: Vec::new(),
            },
        );
    }

    fn node_of(&self, member: u64) -> Option<NodeId> {
        self.members.lock().get(&member).map(|s| s.node.id())
    }

    pub fn member_ids(&self) -> Vec<u64> {
        self.members.lock().keys().copied().collect()
    }

    pub fn member_nodes(&self) -> Vec<(u64, NodeId)> {
        self.members
            .lock()
            .iter()
            .map(|(id, s)| (*id, s.node.id()))
            .collect()
    }

    pub fn member_node(&self, member: u64) -> Option<NodeId> {
        self.node_of(member)
    }

    pub fn status(&self, member: u64) -> Option<MemberStatus> {
        self.members.lock().get(&member).map(|s| s.status.clone())
    }

    /// For how long `member`'s peer connection with `peer` has been up
    /// (None: broken, or either is not a member): what the member's strict
    /// reconfiguration check reads, for the engine to judge its answers.
    pub fn peer_connected_for(&self, member: u64, peer: u64) -> Option<Duration> {
        self.host.peer_connected_for(member, peer)
    }

    /// Invariants members reported broken so far, in order.
    pub fn broken_invariants(&self) -> Vec<BrokenInvariant> {
        self.host.broken.lock().clone()
    }

    /// Fatal exits (not crashes or stops) of every member so far.
    pub fn fatal_exits(&self) -> Vec<FatalExit> {
        self.members
            .lock()
            .values()
            .flat_map(|slot| slot.exits.iter().cloned())
            .collect()
    }

    pub fn version(&self, member: u64) -> Option<Version> {
        self.members
            .lock()
            .get(&member)
            .map(|s| s.config.lock().version)
    }

    /// The cluster version `member` applied last (what its data holds, and
    /// what its binary is checked against when it starts); None before any.
    pub fn cluster_version(&self, member: u64) -> Option<Version> {
        self.host.cluster_versions.lock().get(&member).copied()
    }

    /// The highest cluster version any member applied so far in this run
    /// (removed members included); None before any.
    pub fn highest_cluster_version(&self) -> Option<Version> {
        *self.host.highest_cluster_version.lock()
    }

    pub fn failpoints(&self, member: u64) -> Option<Arc<Failpoints>> {
        self.members
            .lock()
            .get(&member)
            .map(|s| s.failpoints.clone())
    }

    /// The coverage points members reached this run, with how often.
    pub fn points_reached(&self) -> BTreeMap<Point, u64> {
        Point::ALL
            .iter()
            .zip(&self.host.points)
            .map(|(p, n)| (*p, n.load(std::sync::atomic::Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The engine's fault with tag `tag` (its own numbering) begins: points
    /// reached from now on, and within [`AFTERGLOW`] of now, pair with it.
    pub fn fault_began(&self, tag: u16) {
        self.host.faults.lock().begin(tag, now());
    }

    /// The fault with tag `tag` was healed (one begin undone).
    pub fn fault_ended(&self, tag: u16) {
        self.host.faults.lock().end(tag);
    }

    /// Every (coverage point, fault tag) pair reached this run: the point
    /// was reached while that fault was on or had just begun.
    pub fn points_under_faults(&self) -> std::collections::BTreeSet<(Point, u16)> {
        self.host.faults.lock().under()
    }

    /// Failpoint passes summed over every member.
    pub fn failpoints_reached(&self) -> BTreeMap<Failpoint, u64> {
        let mut total = BTreeMap::new();
        for slot in self.members.lock().values() {
            for (point, n) in slot.failpoints.reached() {
                *total.entry(point).or_insert(0) += n;
            }
        }
        total
    }

    /// Kills the member's process (a crash): unsynced data is lost.
    pub fn kill(&self, member: u64) {
        let Some(node) = self.node_of(member) else {
            return;
        };
        self.handle.kill(node);
        self.host.process_changed(member, node, false);
        if let Some(slot) = self.members.lock().get_mut(&member) {
            slot.status = MemberStatus::Crashed;
        }
        let detail = match self.disk.last_crash(node) {
            Some(r) => format!(
                "lost_bytes={} torn={:?} lost_dir_ops={}",
                r.lost_bytes, r.torn_files, r.lost_dir_ops
            ),
            None => String::new(),
        };
        self.trace.record(member_name(member), "crash", detail);
    }

    /// Starts the member's process again (after a crash, exit or stop).
    pub fn restart(&self, member: u64) {
        let Some(node) = self.node_of(member) else {
            return;
        };
        // madsim's restart keeps the old sockets unless the node was killed.
        let up = self.status(member).is_some_and(|s| s.is_up());
        if up {
            self.handle.kill(node);
        }
        self.handle.restart(node);
        self.host.process_changed(member, node, true);
        let version = self
            .version(member)
            .map(|v| v.to_string())
            .unwrap_or_default();
        if let Some(slot) = self.members.lock().get_mut(&member) {
            slot.status = MemberStatus::Running;
        }
        self.trace.record(
            member_name(member),
            "process",
            format!("restarted version={version}"),
        );
    }

    /// What a running member still owes (None: no process, or it is not
    /// serving yet).
    pub fn backlog(&self, member: u64) -> Option<Backlog> {
        let probe = {
            let members = self.members.lock();
            let slot = members.get(&member)?;
            if slot.status != MemberStatus::Running {
                return None;
            }
            slot.backlog.lock().lock().clone()
        }?;
        Some(probe())
    }

    /// Asks the member to stop gracefully; it flushes and exits.
    pub fn stop(&self, member: u64) {
        let stop = self
            .members
            .lock()
            .get(&member)
            .map(|s| s.stop.lock().clone());
        if let Some(stop) = stop {
            self.trace
                .record(member_name(member), "process", "stop requested");
            stop.notify_one();
        }
    }

    /// Stalls a running member's process; whether it did. A member that is
    /// down (crashed, stopped, refused) has no process to stall: marking it
    /// paused would make its later resume claim a dead process runs.
    pub fn pause(&self, member: u64) -> bool {
        let Some(node) = self.node_of(member) else {
            return false;
        };
        {
            let mut members = self.members.lock();
            let Some(slot) = members.get_mut(&member) else {
                return false;
            };
            if slot.status != MemberStatus::Running {
                return false;
            }
            slot.status = MemberStatus::Paused;
        }
        self.handle.pause(node);
        self.host.streams.lock().paused(node, now());
        self.trace.record(member_name(member), "process", "paused");
        true
    }

    pub fn resume(&self, member: u64) {
        if let Some(node) = self.node_of(member) {
            self.handle.resume(node);
            self.host.streams.lock().resumed(node, now());
            if let Some(slot) = self.members.lock().get_mut(&member)
                && slot.status == MemberStatus::Paused
            {
                slot.status = MemberStatus::Running;
            }
            self.trace.record(member_name(member), "process", "resumed");
        }
    }

    /// Kills the member and deletes its data directory.
    pub fn wipe(&self, member: u64) {
        let Some(node) = self.node_of(member) else {
            return;
        };
        if self.status(member).is_some_and(|s| s.is_up()) {
            self.kill(member);
        }
        self.disk.wipe(node);
        self.trace.record(member_name(member), "disk", "wiped");
    }

    /// Changes what the member's next start runs with.
    pub fn reconfigure(&self, member: u64, f: impl FnOnce(&mut MemberConfig)) {
        if let Some(slot) = self.members.lock().get(&member) {
            f(&mut slot.config.lock());
        }
    }

    pub fn config(&self, member: u64) -> Option<MemberConfig> {
        self.members
            .lock()
            .get(&member)
            .map(|s| s.config.lock().clone())
    }

    pub fn set_disk_faults(&self, member: u64, faults: DiskFaults) {
        if let Some(node) = self.node_of(member) {
            self.trace
                .record(member_name(member), "disk", format!("faults {faults:?}"));
            self.disk.set_faults(node, faults);
        }
    }

    /// A client node with its own IP; `f` runs on it.
    pub fn spawn_client<F>(&self, id: u64, f: F) -> madsim::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut clients = self.clients.lock();
        let node = clients.entry(id).or_insert_with(|| {
            self.handle
                .create_node()
                .name(format!("c{id}"))
                .ip(client_ip(id))
                .build()
        });
        node.spawn(f)
    }

    /// Kills every member and client node once a run is over. Tasks still
    /// waiting when the run ends are referenced only by the wakers of the
    /// channels they wait on, and a member's tasks wait on channels its own
    /// state holds: without a kill that wakes them (and a scheduler pass
    /// that then drops them), a run's members are never freed, about 1.5 MB
    /// a run, which ended a 2-core soak after about 13,000 runs.
    pub fn shutdown(&self) {
        let members: Vec<_> = self.members.lock().values().map(|s| s.node.id()).collect();
        let clients: Vec<_> = self.clients.lock().values().map(|n| n.id()).collect();
        for node in members.into_iter().chain(clients) {
            self.handle.kill(node);
        }
    }

    /// Every member's (id, ip), for clients.
    pub fn endpoints(&self) -> Vec<(u64, IpAddr)> {
        self.members
            .lock()
            .iter()
            .map(|(id, s)| (*id, s.ip))
            .collect()
    }
}
