//! One member of a real cluster: its folder (data directory and log), its
//! etcd's own ports, the flags it starts with, and its process while it
//! has one.

use super::ClusterError;
use crate::grpc::Etcd as Grpc;
use crate::ports::Port;
use crate::process::Process;
use realplan::Binary;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(super) struct Member {
    pub name: String,
    /// `ROOT/NAME`: the data directory `data` and the log `etcd.log`,
    /// which every start of the member appends to.
    pub dir: PathBuf,
    /// etcd's member id, learnt from its first Status (0 until then); a
    /// replaced member gets a new one.
    pub id: u64,
    /// etcd's own listening ports. The peer port is only dialled by the
    /// proxy; the advertised peer address is the proxy's front.
    pub client: Port,
    pub peer: Port,
    /// The `--initial-cluster` and `--initial-cluster-state` it joined with,
    /// given again at every restart (etcd reads them only while the data
    /// directory is empty, but a replaced member must keep "existing").
    pub initial_cluster: String,
    pub state: &'static str,
    pub process: Option<Process>,
    /// Which of the cluster's binaries it runs (and starts with next).
    pub binary: Binary,
    /// `--snapshot-count`, at every start (None: etcd's default).
    pub snapshot_count: Option<u64>,
    pub paused: bool,
    pub grpc: Option<Grpc>,
}

impl Member {
    pub fn new(
        root: &Path,
        index: usize,
        initial_cluster: String,
        binary: Binary,
        snapshot_count: Option<u64>,
    ) -> Result<Member, ClusterError> {
        let name = format!("m{index}");
        let dir = root.join(&name);
        std::fs::create_dir_all(&dir)?;
        Ok(Member {
            name,
            dir,
            id: 0,
            client: Port::take()?,
            peer: Port::take()?,
            initial_cluster,
            state: "new",
            process: None,
            binary,
            snapshot_count,
            paused: false,
            grpc: None,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client.get())
    }

    pub fn peer_address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.peer.get()))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    /// Starts etcd for this member; `front` is its advertised peer address
    /// and `token` the cluster's `--initial-cluster-token`.
    pub fn spawn(
        &mut self,
        binary: &Path,
        front: SocketAddr,
        token: &str,
    ) -> Result<(), ClusterError> {
        let client = self.endpoint();
        let mut command = Command::new(binary);
        command
            .arg(format!("--name={}", self.name))
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls=http://{}", self.peer_address()))
            .arg(format!("--initial-advertise-peer-urls=http://{front}"))
            .arg(format!("--initial-cluster={}", self.initial_cluster))
            .arg(format!("--initial-cluster-state={}", self.state))
            .arg(format!("--initial-cluster-token={token}"));
        if let Some(count) = self.snapshot_count {
            command.arg(format!("--snapshot-count={count}"));
        }
        let process =
            Process::spawn(command, &self.log()).map_err(|source| ClusterError::Spawn {
                binary: binary.to_path_buf(),
                source,
            })?;
        self.process = Some(process);
        self.paused = false;
        self.grpc = None;
        Ok(())
    }

    /// Takes fresh ports for etcd, after a start that failed (another
    /// program may have bound one of ours meanwhile).
    pub fn fresh_ports(&mut self) -> Result<(), ClusterError> {
        self.client = Port::take()?;
        self.peer = Port::take()?;
        Ok(())
    }

    /// The last lines of the member's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}
