//! One real etcd member on loopback: a fresh data directory under a
//! temporary folder, ports the kernel handed out, health awaited before
//! use, and the process always stopped (on drop, and by the kernel if this
//! program dies first).

use crate::grpc::Etcd as Grpc;
use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Where the etcd binary comes from: `FAULTLINE_ETCD`, else `etcd` on the
/// PATH.
pub const BINARY_VARIABLE: &str = "FAULTLINE_ETCD";
/// Where the old etcd binary (version changes) comes from.
pub const OLD_BINARY_VARIABLE: &str = "FAULTLINE_ETCD_OLD";
/// How long a member may take to answer its first Status.
const HEALTH_WAIT: Duration = Duration::from_secs(20);
/// Starts tried when the ports the kernel gave were taken meanwhile.
const START_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "no etcd binary: set {BINARY_VARIABLE} to one, or install Debian's etcd-server (ci/test.sh does)"
    )]
    NoBinary,
    #[error("cannot run {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot prepare a data directory or ports: {0}")]
    Io(#[from] std::io::Error),
    #[error("etcd did not become healthy within {seconds} s; last log lines:\n{log}")]
    Unhealthy { seconds: u64, log: String },
}

/// The etcd binary to run.
pub fn binary() -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os(BINARY_VARIABLE).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("etcd"))
        .find(|p| p.is_file())
        .ok_or(HarnessError::NoBinary)
}

/// The old etcd binary, if `FAULTLINE_ETCD_OLD` names one.
pub fn old_binary() -> Option<PathBuf> {
    std::env::var_os(OLD_BINARY_VARIABLE)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// What the binary says its version is (`etcd --version`'s first line).
pub fn version(binary: &Path) -> Result<String, HarnessError> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|source| HarnessError::Spawn {
            binary: binary.to_path_buf(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .next()
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into()))
}

/// A running one-member etcd.
pub struct Member {
    child: Child,
    dir: TempDir,
    pub endpoint: String,
}

impl Member {
    /// Starts a member and waits until it answers.
    pub async fn start(binary: &Path) -> Result<(Member, Grpc), HarnessError> {
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            let mut member = Member::spawn(binary)?;
            match member.healthy().await {
                Ok(client) => return Ok((member, client)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(HarnessError::NoBinary))
    }

    fn spawn(binary: &Path) -> Result<Member, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("faultline-etcd-")
            .tempdir()?;
        let client = free_port()?;
        let peer = free_port()?;
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = File::create(dir.path().join("etcd.log"))?;
        let mut command = Command::new(binary);
        command
            .arg("--name=faultline")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=faultline={peer_url}"))
            .arg("--initial-cluster-state=new")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to
        // kill the child when this process dies, so no etcd outlives us.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|source| HarnessError::Spawn {
            binary: binary.to_path_buf(),
            source,
        })?;
        Ok(Member {
            child,
            dir,
            endpoint: client_url,
        })
    }

    async fn healthy(&mut self) -> Result<Grpc, HarnessError> {
        let started = Instant::now();
        while started.elapsed() < HEALTH_WAIT {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if let Ok(mut client) = Grpc::connect(&self.endpoint).await
                && client.status().await.is_ok()
            {
                return Ok(client);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(HarnessError::Unhealthy {
            seconds: HEALTH_WAIT.as_secs(),
            log: self.log_tail(20),
        })
    }

    /// Whether the etcd process has ended. A request whose connection
    /// broke is followed by the process's end within moments (a panic
    /// unwinding, the log being written), so `grace` waits that long for it.
    pub async fn exited(&mut self, grace: Duration) -> bool {
        let started = Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            if started.elapsed() >= grace {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines etcd logged.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
