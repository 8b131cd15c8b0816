//! The process faults a real member allows: crash (SIGKILL, then start
//! again on the same data directory), pause and resume (SIGSTOP, SIGCONT),
//! graceful restart (SIGTERM, wait, start) and replace (removed through the
//! cluster API, data wiped, added back as a new member that joins the
//! existing cluster).

use super::{Cluster, ClusterError, MEMBER_WAIT};
use etcd_client::proto::{PbMemberAddRequest, PbMemberRemoveRequest};
use std::time::{Duration, Instant};

/// How long a SIGTERMed etcd may take to stop before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// How long a membership change is retried: etcd refuses one while the
/// cluster is not yet healthy enough for it ("unhealthy cluster", with
/// its strict reconfiguration check), which passes within moments.
const RECONFIGURE_WAIT: Duration = Duration::from_secs(15);

impl Cluster {
    /// SIGKILL: the member's etcd ends at once, and stays down until
    /// `start_member`.
    pub fn kill(&mut self, i: usize) -> Result<(), ClusterError> {
        let member = self.members.get_mut(i).ok_or(ClusterError::NoMember(i))?;
        let mut process = member
            .process
            .take()
            .ok_or_else(|| ClusterError::NotRunning(member.name.clone()))?;
        process.kill();
        member.paused = false;
        member.grpc = None;
        self.network.set_member(i, None, None);
        Ok(())
    }

    /// Starts member `i` again on its data directory, and waits until it
    /// answers and knows the leader.
    pub async fn start_member(&mut self, i: usize) -> Result<(), ClusterError> {
        let member = self.members.get(i).ok_or(ClusterError::NoMember(i))?;
        if member.process.is_some() {
            return Err(ClusterError::Request {
                member: member.name.clone(),
                what: "start",
                message: "already running".into(),
            });
        }
        self.spawn(i)?;
        self.await_member(i, MEMBER_WAIT).await
    }

    /// Crash and restart: SIGKILL, then `start_member`.
    pub async fn crash(&mut self, i: usize) -> Result<(), ClusterError> {
        self.kill(i)?;
        self.start_member(i).await
    }

    /// SIGSTOP: the process stays, answering nothing, until `resume`.
    pub fn pause(&mut self, i: usize) -> Result<(), ClusterError> {
        self.signal(i, libc::SIGSTOP)?;
        self.members[i].paused = true;
        Ok(())
    }

    /// SIGCONT.
    pub fn resume(&mut self, i: usize) -> Result<(), ClusterError> {
        self.signal(i, libc::SIGCONT)?;
        self.members[i].paused = false;
        Ok(())
    }

    /// SIGTERM, and waits for etcd to stop (killing it after `STOP_WAIT`).
    /// Returns whether it stopped on its own.
    pub async fn stop(&mut self, i: usize) -> Result<bool, ClusterError> {
        if self.members.get(i).is_some_and(|m| m.paused) {
            // A stopped process would hold SIGTERM until resumed.
            self.resume(i)?;
        }
        self.signal(i, libc::SIGTERM)?;
        let member = &mut self.members[i];
        let mut process = member.process.take().expect("signal checked the process");
        let clean = process.wait_end(STOP_WAIT).await;
        process.kill();
        member.grpc = None;
        self.network.set_member(i, None, None);
        Ok(clean)
    }

    /// Graceful restart: `stop`, then `start_member`. Returns whether the stop was
    /// clean.
    pub async fn graceful_restart(&mut self, i: usize) -> Result<bool, ClusterError> {
        let clean = self.stop(i).await?;
        self.start_member(i).await?;
        Ok(clean)
    }

    /// Member replace: removes member `i` through another running member,
    /// ends its process, wipes its data directory, adds it back under the
    /// same name and peer address (a new member id) and starts it with
    /// `--initial-cluster-state=existing`.
    pub async fn replace(&mut self, i: usize) -> Result<(), ClusterError> {
        let name = self
            .members
            .get(i)
            .ok_or(ClusterError::NoMember(i))?
            .name
            .clone();
        let helper = (0..self.size())
            .find(|&k| k != i && self.members[k].process.is_some() && !self.members[k].paused)
            .ok_or_else(|| ClusterError::NoOtherMember(name.clone()))?;
        if self.members[i].id == 0 {
            self.status(i).await;
        }
        let id = self.members[i].id;
        if id == 0 {
            return Err(ClusterError::Request {
                member: name,
                what: "member remove",
                message: "its member id is unknown (it never answered a Status)".into(),
            });
        }
        self.reconfigure(helper, "member remove", |mut grpc| async move {
            // Not found: an earlier attempt was applied though its answer
            // was lost, so the member is gone as asked.
            match grpc.member_remove(PbMemberRemoveRequest { id }).await {
                Err(status) if status.code() != tonic::Code::NotFound => Err(status),
                _ => Ok(()),
            }
        })
        .await?;
        if self.members[i].process.is_some() {
            self.kill(i)?;
        }
        let data = self.members[i].data_dir();
        match std::fs::remove_dir_all(&data) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let front = format!("http://{}", self.network.front(i));
        let added = self
            .reconfigure(helper, "member add", |mut grpc| {
                let front = front.clone();
                async move {
                    grpc.member_add(PbMemberAddRequest {
                        peer_ur_ls: vec![front],
                        is_learner: false,
                    })
                    .await
                }
            })
            .await?;
        // The new member is listed without a name until it starts: it is
        // ours, so it gets its old one.
        let initial_cluster = added
            .members
            .iter()
            .filter_map(|m| {
                let url = m.peer_ur_ls.first()?;
                let name = if url == &front { &name } else { &m.name };
                Some(format!("{name}={url}"))
            })
            .collect::<Vec<_>>()
            .join(",");
        let member = &mut self.members[i];
        member.id = added.member.map(|m| m.id).unwrap_or_default();
        member.initial_cluster = initial_cluster;
        member.state = "existing";
        self.start_member(i).await
    }

    /// Sends a membership change through member `helper`, again while etcd
    /// refuses it for now, up to `RECONFIGURE_WAIT`.
    async fn reconfigure<T, F, Fut>(
        &mut self,
        helper: usize,
        what: &'static str,
        request: F,
    ) -> Result<T, ClusterError>
    where
        F: Fn(crate::grpc::Etcd) -> Fut,
        Fut: std::future::Future<Output = Result<T, tonic::Status>>,
    {
        let started = Instant::now();
        loop {
            let grpc = self.client(helper).await?;
            let status = match request(grpc).await {
                Ok(answer) => return Ok(answer),
                Err(status) => status,
            };
            if started.elapsed() >= RECONFIGURE_WAIT {
                return Err(ClusterError::Request {
                    member: self.members[helper].name.clone(),
                    what,
                    message: format!("{:?}: {}", status.code(), status.message()),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn signal(&self, i: usize, signal: libc::c_int) -> Result<(), ClusterError> {
        let member = self.members.get(i).ok_or(ClusterError::NoMember(i))?;
        let process = member
            .process
            .as_ref()
            .ok_or_else(|| ClusterError::NotRunning(member.name.clone()))?;
        process
            .signal(signal)
            .map_err(|source| ClusterError::Signal {
                member: member.name.clone(),
                source,
            })
    }
}
