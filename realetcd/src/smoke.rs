//! `faultline-etcd cluster`: starts a real cluster, applies each fault the
//! cluster module offers once (partition a follower, pause a member, kill
//! and restart the leader, restart a member gracefully, replace a member),
//! shows after each that the cluster still serves a put and a linearizable
//! read, and tears it down. One line per step, with its time.

use anyhow::{Context, bail};
use realetcd::cluster::Cluster;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a put or read may take once a fault is healed: an election
/// after a leader's loss or a partitioned member's return takes a few
/// seconds of etcd's default timing.
const SERVE_WAIT: Duration = Duration::from_secs(15);
const REQUEST: Duration = Duration::from_secs(3);

pub async fn run(binary: &Path, members: usize, hold: Duration) -> anyhow::Result<()> {
    let mut demo = Demo {
        started: Instant::now(),
        step: Instant::now(),
        writes: 0,
    };
    let mut cluster = Cluster::start(binary, members)
        .await
        .with_context(|| format!("starting {members} members of {}", binary.display()))?;
    let leader = cluster.wait_leader(SERVE_WAIT).await?;
    demo.line(&format!(
        "start: {members} member{} in {}, leader {}",
        if members == 1 { "" } else { "s" },
        cluster.root().display(),
        cluster.name(leader)
    ));
    demo.serve(&mut cluster, leader).await?;

    match follower(&mut cluster).await? {
        Some(f) => {
            cluster.isolate(f);
            tokio::time::sleep(hold).await;
            let leader = cluster.wait_leader(SERVE_WAIT).await?;
            let cut_off = cluster.get(f, "demo", true, REQUEST).await.is_err();
            demo.line(&format!(
                "partition: {} cut off from every peer for {hold:?}; its linearizable read {}",
                cluster.name(f),
                if cut_off {
                    "fails, as it must"
                } else {
                    "was answered"
                }
            ));
            if !cut_off {
                bail!(
                    "{} answered a linearizable read while partitioned",
                    cluster.name(f)
                );
            }
            demo.serve(&mut cluster, leader).await?;
            cluster.heal();
            demo.line(&format!("heal: {} reconnected", cluster.name(f)));
            demo.serve(&mut cluster, f).await?;
        }
        None => demo.line("partition: skipped, one member has no peer"),
    }

    match follower(&mut cluster).await? {
        Some(f) => {
            cluster.pause(f)?;
            tokio::time::sleep(hold).await;
            let leader = cluster.wait_leader(SERVE_WAIT).await?;
            demo.line(&format!(
                "pause: {} stopped (SIGSTOP) for {hold:?}",
                cluster.name(f)
            ));
            demo.serve(&mut cluster, leader).await?;
            cluster.resume(f)?;
            demo.line(&format!("resume: {} continued (SIGCONT)", cluster.name(f)));
            demo.serve(&mut cluster, f).await?;
        }
        None => demo.line("pause: skipped, a paused single member cannot serve"),
    }

    let leader = cluster.wait_leader(SERVE_WAIT).await?;
    cluster.kill(leader)?;
    demo.line(&format!(
        "kill: leader {} killed (SIGKILL)",
        cluster.name(leader)
    ));
    if cluster.size() > 1 {
        let next = cluster.wait_leader(SERVE_WAIT).await?;
        demo.line(&format!("elect: {} leads", cluster.name(next)));
        demo.serve(&mut cluster, next).await?;
    }
    cluster.start_member(leader).await?;
    demo.line(&format!(
        "restart: {} on its data directory",
        cluster.name(leader)
    ));
    demo.serve(&mut cluster, leader).await?;

    let target = follower(&mut cluster).await?.unwrap_or(0);
    let clean = cluster.graceful_restart(target).await?;
    demo.line(&format!(
        "graceful restart: {} (SIGTERM: {}, then started)",
        cluster.name(target),
        if clean {
            "stopped"
        } else {
            "killed after the wait"
        }
    ));
    demo.serve(&mut cluster, target).await?;

    match follower(&mut cluster).await? {
        Some(f) => {
            cluster.replace(f).await?;
            demo.line(&format!(
                "replace: {} removed, wiped, added back as a new member",
                cluster.name(f)
            ));
            demo.serve(&mut cluster, f).await?;
        }
        None => demo.line("replace: skipped, the only member cannot be removed"),
    }

    let root = cluster.root().to_path_buf();
    drop(cluster);
    if root.exists() {
        bail!("{} is left after the teardown", root.display());
    }
    demo.line("teardown: every etcd killed, the proxies stopped, the folder removed");
    Ok(())
}

struct Demo {
    started: Instant,
    step: Instant,
    writes: u32,
}

impl Demo {
    /// Prints a step with the time since the last line and since the start.
    fn line(&mut self, what: &str) {
        println!(
            "{:>7.2}s  {what} ({:.2} s)",
            self.started.elapsed().as_secs_f64(),
            self.step.elapsed().as_secs_f64()
        );
        self.step = Instant::now();
    }

    /// Puts a new value through member `i` and reads it back through it
    /// (linearizable), retrying while the cluster settles.
    async fn serve(&mut self, cluster: &mut Cluster, i: usize) -> anyhow::Result<()> {
        self.writes += 1;
        let value = format!("write {}", self.writes);
        let started = Instant::now();
        loop {
            let outcome = match cluster.put(i, "demo", &value, REQUEST).await {
                Ok(()) => cluster.get(i, "demo", true, REQUEST).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(Some(read)) if read == value => break,
                Ok(other) => bail!("{} read {other:?} after writing {value:?}", cluster.name(i)),
                Err(e) if started.elapsed() >= SERVE_WAIT => {
                    bail!(
                        "{} does not serve after {SERVE_WAIT:?}: {e}",
                        cluster.name(i)
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        self.line(&format!(
            "serves: put and read {value:?} through {}",
            cluster.name(i)
        ));
        Ok(())
    }
}

/// A member that is not the leader, if the cluster has one.
async fn follower(cluster: &mut Cluster) -> anyhow::Result<Option<usize>> {
    let leader = cluster.wait_leader(SERVE_WAIT).await?;
    Ok((0..cluster.size()).find(|&i| i != leader))
}
