//! A real etcd cluster of 1, 3 or 5 members on loopback: one temporary
//! folder with a folder per member (its data directory and its log),
//! etcd's ports from the kernel, every peer byte through the proxy
//! (`proxy`: the advertised peer URLs are the proxy's fronts), and a gRPC
//! client per member. `start` returns once every member answers and they
//! agree on a leader. The process faults are in `faults`; restarts into
//! the other etcd binary (version changes) in `versions`. Each member
//! remembers which of the two binaries (`Binaries`) it runs.
//!
//! Cleaning up: dropping the cluster (also while a panic unwinds) kills
//! and reaps every etcd, stops every proxy task and removes the folder;
//! if this program is killed, the kernel kills the etcds
//! (`PR_SET_PDEATHSIG`, `process`) and the proxies die with us, and the
//! next cluster started on the machine removes the folder left behind
//! (`reap`: the folder names the pid that made it).

mod faults;
mod member;
pub mod snapshots;
mod versions;

pub use versions::{Binaries, Etcd, Swapped};

use crate::grpc::Etcd as Grpc;
use crate::proxy::{Link, Network};
use etcd_client::proto::{PbPutRequest, PbRangeRequest, PbStatusResponse};
use member::Member;
use realplan::Binary;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a new cluster may take to have every member answer and a
/// leader: five etcds starting on two busy cores take a few seconds.
const START_WAIT: Duration = Duration::from_secs(40);
/// How long a restarted member may take to answer and know the leader.
const MEMBER_WAIT: Duration = Duration::from_secs(20);
/// Starts of one member tried when its etcd ended at once (a port of ours
/// taken by another program between our reservation and etcd's bind).
const START_ATTEMPTS: u32 = 3;
/// How long one health probe may take: a member that is paused or cut off
/// must not hold a wait for the client's whole request timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const LOG_LINES: usize = 20;
/// The temporary folder's prefix; the pid that made it follows.
const FOLDER_PREFIX: &str = "faultline-cluster-";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("a cluster has 1, 3 or 5 members, not {0}")]
    Size(usize),
    #[error("no member {0} in this cluster")]
    NoMember(usize),
    #[error("cannot prepare the cluster's folder, ports or proxy: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot run {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    #[error("{member} did not answer with a leader within {seconds} s; its last log lines:\n{log}")]
    Unhealthy {
        member: String,
        seconds: u64,
        log: String,
    },
    #[error("{member}'s etcd ended as it started, {tries} times; its last log lines:\n{log}")]
    Ended {
        member: String,
        tries: u32,
        log: String,
    },
    #[error(
        "the members did not agree on a leader within {seconds} s; what each said, and its last log lines:\n{views}"
    )]
    NoLeader { seconds: u64, views: String },
    #[error("{0} has no running process")]
    NotRunning(String),
    #[error("{0} is paused")]
    Paused(String),
    #[error("cannot signal {member}: {source}")]
    Signal {
        member: String,
        source: std::io::Error,
    },
    #[error("{member}: {what}: {message}")]
    Request {
        member: String,
        what: &'static str,
        message: String,
    },
    #[error("replacing {0} needs another running member to ask")]
    NoOtherMember(String),
    #[error("{0} is to run the old etcd binary, but the cluster was given none")]
    NoOldBinary(String),
}

/// How every member's etcd is tuned beyond what a cluster needs to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// `--snapshot-count` (None: etcd's default, 100,000 in 3.4).
    pub snapshot_count: Option<u64>,
}

impl Settings {
    /// What a plan asks of its members.
    pub fn of(plan: &realplan::Plan) -> Settings {
        Settings {
            snapshot_count: plan.snapshot_count,
        }
    }
}

pub struct Cluster {
    binaries: Binaries,
    token: String,
    // Declaration order is drop order: the processes end first, then the
    // proxies, and the folder is removed last, once nothing writes to it.
    members: Vec<Member>,
    network: Network,
    root: TempDir,
}

impl Cluster {
    /// Starts a cluster of `size` members (1, 3 or 5) of `binary`, and waits
    /// until every member answers and all agree on a leader. Must run on a
    /// tokio runtime (the proxies are tasks on it), from a thread that
    /// outlives the cluster (`process`).
    pub async fn start(binary: &Path, size: usize) -> Result<Cluster, ClusterError> {
        let binaries = Binaries::new(binary, None)?;
        Cluster::start_with(binaries, &vec![Binary::New; size], Settings::default()).await
    }

    /// Starts a cluster of `roles.len()` members (1, 3 or 5), member `i`
    /// with the binary `roles[i]` and every one with `settings`, and waits
    /// as `start` does.
    pub async fn start_with(
        binaries: Binaries,
        roles: &[Binary],
        settings: Settings,
    ) -> Result<Cluster, ClusterError> {
        let size = roles.len();
        if ![1, 3, 5].contains(&size) {
            return Err(ClusterError::Size(size));
        }
        if let Some(i) = roles.iter().position(|r| *r == Binary::Old)
            && binaries.old.is_none()
        {
            return Err(ClusterError::NoOldBinary(format!("m{i}")));
        }
        reap(&std::env::temp_dir());
        let root = tempfile::Builder::new()
            .prefix(&format!("{FOLDER_PREFIX}{}-", std::process::id()))
            .tempdir()?;
        let network = Network::start(size).await?;
        let initial_cluster = (0..size)
            .map(|i| format!("m{i}=http://{}", network.front(i)))
            .collect::<Vec<_>>()
            .join(",");
        let members = (0..size)
            .map(|i| {
                Member::new(
                    root.path(),
                    i,
                    initial_cluster.clone(),
                    roles[i],
                    settings.snapshot_count,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A token of this cluster's own, so that members of two clusters
        // could never take each other for peers.
        let token = root
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| FOLDER_PREFIX.into());
        let mut cluster = Cluster {
            binaries,
            token,
            members,
            network,
            root,
        };
        // All at once: a member of a new cluster waits for a quorum of the
        // others before it answers.
        for i in 0..size {
            cluster.spawn(i)?;
        }
        for i in 0..size {
            cluster.await_member(i, START_WAIT).await?;
        }
        cluster.wait_leader(START_WAIT).await?;
        Ok(cluster)
    }

    pub fn size(&self) -> usize {
        self.members.len()
    }

    pub fn name(&self, i: usize) -> &str {
        &self.members[i].name
    }

    /// Each member's name and etcd log (every start of it appended), for
    /// keeping beside a run's history: the history cannot show what a
    /// member did alone (a request it failed to apply, a snapshot it
    /// restored), its log does.
    pub fn logs(&self) -> impl Iterator<Item = (&str, PathBuf)> {
        self.members.iter().map(|m| (m.name.as_str(), m.log()))
    }

    /// The cluster's temporary folder (a folder per member inside).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Member `i`'s client URL.
    pub fn endpoint(&self, i: usize) -> String {
        self.members[i].endpoint()
    }

    /// The pid of member `i`'s etcd, while it has one.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].process.as_ref().map(|p| p.pid())
    }

    /// Whether member `i` is paused (SIGSTOP) now.
    pub fn is_paused(&self, i: usize) -> bool {
        self.members[i].paused
    }

    /// Defragments member `i`'s backend, within `limit`.
    pub async fn defragment(&mut self, i: usize, limit: Duration) -> Result<(), ClusterError> {
        if self.members.get(i).is_some_and(|m| m.paused) {
            return Err(ClusterError::Paused(self.members[i].name.clone()));
        }
        let mut grpc = self.client(i).await?;
        let answer = tokio::time::timeout(limit, grpc.defragment()).await;
        self.answered(i, "defragment", answer).map(|_| ())
    }

    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        self.members[i].log_tail(lines)
    }

    /// The peer network: set a directed link with `network().set(from, to,
    /// link)`, or use `isolate` and `heal` below.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Cuts every link to and from member `i` (both directions).
    pub fn isolate(&self, i: usize) {
        self.network.isolate(i);
    }

    /// Cuts what `from` sends `to`, and nothing the other way.
    pub fn cut(&self, from: usize, to: usize) {
        self.network.set(from, to, Link::Drop);
    }

    pub fn heal(&self) {
        self.network.heal();
    }

    /// A gRPC client of member `i` (a clone shares its connection).
    pub async fn client(&mut self, i: usize) -> Result<Grpc, ClusterError> {
        let member = self.members.get_mut(i).ok_or(ClusterError::NoMember(i))?;
        if member.process.is_none() {
            return Err(ClusterError::NotRunning(member.name.clone()));
        }
        if let Some(grpc) = &member.grpc {
            return Ok(grpc.clone());
        }
        let grpc = Grpc::connect(&member.endpoint())
            .await
            .map_err(|e| ClusterError::Request {
                member: member.name.clone(),
                what: "connect",
                message: e.to_string(),
            })?;
        member.grpc = Some(grpc.clone());
        Ok(grpc)
    }

    /// Member `i`'s Status, if it answers within the probe timeout.
    pub async fn status(&mut self, i: usize) -> Option<PbStatusResponse> {
        if self.members[i].paused {
            return None;
        }
        let mut grpc = self.client(i).await.ok()?;
        let status = tokio::time::timeout(PROBE_TIMEOUT, grpc.status())
            .await
            .ok()?
            .ok()?;
        if let Some(header) = &status.header {
            self.members[i].id = header.member_id;
        }
        Some(status)
    }

    /// The member every running, unpaused member names as leader, if they
    /// agree and it is one of them (right after a leader is killed, the
    /// others still name it until their election timeout). An isolated
    /// member is not asked: it cannot know the leader, and campaigns.
    pub async fn leader(&mut self) -> Option<usize> {
        let mut agreed = None;
        let mut answered = Vec::new();
        for i in 0..self.size() {
            let member = &self.members[i];
            if member.process.is_none() || member.paused || self.network.is_isolated(i) {
                continue;
            }
            let leader = self.status(i).await?.leader;
            if leader == 0 || agreed.is_some_and(|l| l != leader) {
                return None;
            }
            agreed = Some(leader);
            answered.push(i);
        }
        let id = agreed?;
        answered.into_iter().find(|&i| self.members[i].id == id)
    }

    /// Waits until the running members agree on a leader.
    pub async fn wait_leader(&mut self, limit: Duration) -> Result<usize, ClusterError> {
        let started = Instant::now();
        loop {
            if let Some(leader) = self.leader().await {
                return Ok(leader);
            }
            if started.elapsed() >= limit {
                return Err(ClusterError::NoLeader {
                    seconds: limit.as_secs(),
                    views: self.views().await,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What every member says of the leader, with its last log lines: the
    /// evidence a run keeps when the members did not agree (a start that
    /// failed leaves nothing else, its folder is removed).
    async fn views(&mut self) -> String {
        let mut out = String::new();
        for i in 0..self.size() {
            let member = &self.members[i];
            let name = member.name.clone();
            let view = if member.process.is_none() {
                "not running".to_string()
            } else if member.paused {
                "paused".to_string()
            } else if self.network.is_isolated(i) {
                "isolated".to_string()
            } else {
                match self.status(i).await {
                    Some(s) => format!(
                        "member id {:x}, leader {:x}, raft term {}, raft index {}",
                        s.header.as_ref().map_or(0, |h| h.member_id),
                        s.leader,
                        s.raft_term,
                        s.raft_index
                    ),
                    None => format!("no Status answer within {} s", PROBE_TIMEOUT.as_secs()),
                }
            };
            out.push_str(&format!(
                "{name}: {view}\n{}\n",
                self.members[i].log_tail(LOG_LINES)
            ));
        }
        out
    }

    /// Puts `key` through member `i`, within `limit`.
    pub async fn put(
        &mut self,
        i: usize,
        key: &str,
        value: &str,
        limit: Duration,
    ) -> Result<(), ClusterError> {
        let mut grpc = self.client(i).await?;
        let request = PbPutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        };
        let answer = tokio::time::timeout(limit, grpc.put(request)).await;
        self.answered(i, "put", answer).map(|_| ())
    }

    /// Reads `key` through member `i` within `limit`: linearizable (the
    /// member asks the leader's read index) or serializable (its own
    /// store, whatever it has applied).
    pub async fn get(
        &mut self,
        i: usize,
        key: &str,
        linearizable: bool,
        limit: Duration,
    ) -> Result<Option<String>, ClusterError> {
        let mut grpc = self.client(i).await?;
        let request = PbRangeRequest {
            key: key.into(),
            serializable: !linearizable,
            ..Default::default()
        };
        let answer = tokio::time::timeout(limit, grpc.range(request)).await;
        let reply = self.answered(i, "get", answer)?;
        Ok(reply
            .kvs
            .first()
            .map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    fn answered<T>(
        &self,
        i: usize,
        what: &'static str,
        answer: Result<Result<T, tonic::Status>, tokio::time::error::Elapsed>,
    ) -> Result<T, ClusterError> {
        let message = match answer {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(status)) => format!("{:?}: {}", status.code(), status.message()),
            Err(_) => "no answer in time".to_string(),
        };
        Err(ClusterError::Request {
            member: self.members[i].name.clone(),
            what,
            message,
        })
    }

    /// Starts member `i`'s etcd (the binary its role names) and tells the
    /// proxy where it listens.
    fn spawn(&mut self, i: usize) -> Result<(), ClusterError> {
        let front = self.network.front(i);
        let member = &mut self.members[i];
        let binary = self
            .binaries
            .get(member.binary)
            .ok_or_else(|| ClusterError::NoOldBinary(member.name.clone()))?;
        member.spawn(&binary.path, front, &self.token)?;
        self.network.set_member(
            i,
            Some(member.peer_address()),
            member.process.as_ref().map(|p| p.pid()),
        );
        Ok(())
    }

    /// Waits until member `i` answers and knows a leader; an etcd that
    /// ended at once is started again on fresh ports (`ports`).
    async fn await_member(&mut self, i: usize, limit: Duration) -> Result<(), ClusterError> {
        let mut attempt = 1;
        let mut started = Instant::now();
        loop {
            // Whether our etcd ended first: when another program took its
            // client port, what answers there is that program (another
            // test's etcd, say), which must not pass for our member.
            let ended = self.members[i]
                .process
                .as_mut()
                .is_none_or(|p| p.has_ended());
            if !ended && self.status(i).await.is_some_and(|s| s.leader != 0) {
                return Ok(());
            }
            if ended && attempt < START_ATTEMPTS {
                attempt += 1;
                self.members[i].fresh_ports()?;
                self.spawn(i)?;
                started = Instant::now();
                continue;
            }
            if ended {
                return Err(ClusterError::Ended {
                    member: self.members[i].name.clone(),
                    tries: attempt,
                    log: self.members[i].log_tail(LOG_LINES),
                });
            }
            if started.elapsed() >= limit {
                return Err(ClusterError::Unhealthy {
                    member: self.members[i].name.clone(),
                    seconds: limit.as_secs(),
                    log: self.members[i].log_tail(LOG_LINES),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Removes the folders of clusters whose program died without cleaning up
/// (a SIGKILL leaves no chance to): those named after a pid that no longer
/// runs. A pid reused since is mistaken for the owner, and its folder kept.
fn reap(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(FOLDER_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
