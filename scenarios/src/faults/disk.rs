//! Disk faults: failed fsyncs, a full disk, a slow disk, bit flips on
//! read, and the torn tails a crash may leave. A member with a disk fault
//! on is left down by the supervisor until the fault is cleared.

use super::fields::field;
use super::{FaultKind, Fields, Inject};
use crate::control::{Control, restart_if_down};
use crate::target::Target;
use std::time::Duration;

/// `fsync_eio`: the next `count` fsyncs of the target fail with EIO.
#[derive(Debug, Clone, PartialEq)]
pub struct FsyncEio {
    pub target: Target,
    pub count: u32,
    pub restart_after: Duration,
}

impl Inject for FsyncEio {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(FsyncEio {
            target: f.target()?,
            count: field!(f, count).unwrap_or(1),
            restart_after: f.restart_after(),
        })
    }

    /// Fails the next `count` fsyncs of each target; the member dies on it, as etcd does.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let FsyncEio {
            target,
            count,
            restart_after,
        } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            disk_fault(ctl, m, |f| f.fsync_failures = count);
            ctl.note(kind, format!("m{m} count={count}"));
            // The member dies on the failed fsync, as etcd does.
            let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
            while world.status(m).is_some_and(|s| s.is_up())
                && madsim::time::Instant::now() < deadline
                && !ctl.quiescing()
            {
                madsim::time::sleep(Duration::from_millis(20)).await;
            }
            clear_disk_fault(ctl, m);
            ctl.hold(restart_after).await;
            restart_if_down(ctl, m);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// Which of a member's files a full disk fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullFiles {
    /// One disk for everything: the WAL fills too, and the member ends
    /// on its first failed WAL write, as etcd does.
    All,
    /// The backend's volume only (etcd with its WAL on another disk,
    /// `--wal-dir`): the backend's commits fail and the member raises
    /// its NOSPACE alarm.
    Backend,
}

impl FullFiles {
    fn parse(s: &str) -> Result<FullFiles, String> {
        match s {
            "all" => Ok(FullFiles::All),
            "backend" => Ok(FullFiles::Backend),
            other => Err(format!(
                "files: expected \"all\" or \"backend\", got {other:?}"
            )),
        }
    }

    /// The path prefix the quota counts, None for every file.
    fn prefix(self) -> Option<&'static str> {
        match self {
            FullFiles::All => None,
            FullFiles::Backend => Some(node::backend::DB_FILE),
        }
    }
}

/// `enospc`: writes past the quota fail with ENOSPC.
#[derive(Debug, Clone, PartialEq)]
pub struct Enospc {
    pub target: Target,
    pub quota_kb: u64,
    pub files: FullFiles,
    pub duration: Duration,
}

impl Inject for Enospc {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Enospc {
            target: f.target()?,
            quota_kb: field!(f, quota_kb).unwrap_or(0),
            files: match field!(f, files) {
                Some(s) => FullFiles::parse(&s)?,
                None => FullFiles::All,
            },
            duration: f.duration(2.0),
        })
    }

    /// Lets each target's disk take only `quota_kb` more.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Enospc {
            target,
            quota_kb,
            files,
            duration,
        } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            let used = match files.prefix() {
                Some(prefix) => world.disk_used_bytes_under(m, prefix),
                None => world.disk_used_bytes(m),
            };
            let quota = used + quota_kb * 1024;
            disk_fault(ctl, m, |f| {
                f.quota_bytes = Some(quota);
                f.quota_files = files.prefix().map(str::to_string);
            });
            let on = match files {
                FullFiles::All => String::new(),
                FullFiles::Backend => " files=backend".to_string(),
            };
            ctl.note(kind, format!("m{m} quota={quota}{on}"));
            ctl.hold(duration).await;
            clear_disk_fault(ctl, m);
            restart_if_down(ctl, m);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// `slow_disk`: every disk operation of the target takes `min..max`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowDisk {
    pub target: Target,
    pub min: Duration,
    pub max: Duration,
    pub duration: Duration,
}

impl Inject for SlowDisk {
    fn parse(f: &Fields) -> Result<Self, String> {
        let (min, max) = f.latency([5, 50])?;
        Ok(SlowDisk {
            target: f.target()?,
            min,
            max,
            duration: f.duration(2.0),
        })
    }

    /// Adds `min..max` to every disk operation of each target.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let SlowDisk {
            target,
            min,
            max,
            duration,
        } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            if world.member_node(m).is_none() {
                ctl.not_applied(kind.name(), &format!("m{m} has no process"));
                continue;
            }
            ctl.note(
                kind,
                format!("m{m} {}..{}ms", min.as_millis(), max.as_millis()),
            );
            world.set_disk_latency(
                m,
                sim::disk::DiskLatency {
                    op: (min, max),
                    ..Default::default()
                },
            );
            ctl.hold(duration).await;
            world.set_disk_latency(m, sim::disk::DiskLatency::default());
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

/// `bit_flip`: reads return a flipped bit with probability `rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct BitFlip {
    pub target: Target,
    pub rate: f64,
    pub duration: Duration,
}

impl Inject for BitFlip {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(BitFlip {
            target: f.target()?,
            rate: f.rate(0.05)?,
            duration: f.duration(2.0),
        })
    }

    /// Flips bits in reads with probability `rate`, restarting each target so its start reads them.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let BitFlip {
            target,
            rate,
            duration,
        } = self;
        let world = ctl.world.clone();
        for m in ctl.targets(kind, target).await {
            disk_fault(ctl, m, |f| f.bit_flip_rate = rate);
            ctl.note(kind, format!("m{m} rate={rate}"));
            // Reads happen at start: restart the member while flips are on.
            world.kill(m);
            restart_if_down(ctl, m);
            ctl.hold(duration).await;
            clear_disk_fault(ctl, m);
            restart_if_down(ctl, m);
            ctl.healed(kind, format!("m{m}"));
        }
    }
}

fn disk_fault(ctl: &Control, m: u64, f: impl FnOnce(&mut sim::disk::model::DiskFaults)) {
    if let Some(mut faults) = ctl.world.disk_faults(m) {
        f(&mut faults);
        ctl.world.set_disk_faults(m, faults);
        ctl.disk_fault_active.lock().insert(m);
    }
}

fn clear_disk_fault(ctl: &Control, m: u64) {
    ctl.world.clear_disk_faults(m);
    ctl.disk_fault_active.lock().remove(&m);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::faults::testing::{assert_applied_and_healed, sample_during, traced, with_cluster};
    use node::wire::api::{PutRequest, client_request};
    use sim::MemberStatus;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    async fn put(ctl: &Control) {
        let _ = ctl
            .to_leader(client_request::Body::Put(PutRequest {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                ..Default::default()
            }))
            .await;
    }

    #[test]
    fn a_failed_fsync_stops_the_member_which_restarts_once_it_is_cleared() {
        let ((armed, exited, after), trace) = with_cluster(3, 1, |ctl| async move {
            let eio = Fault::FsyncEio(FsyncEio {
                target: Target::Member(2),
                count: 1,
                restart_after: MS(500),
            });
            // Sampled at once: 10 ms in, the member may already have
            // fsynced and used the failure up.
            let (armed, exited) = sample_during(&ctl, eio, MS(0), async |c| {
                let armed = c.world.disk_faults(2).map(|f| f.fsync_failures);
                // A write makes every member fsync its WAL.
                put(c).await;
                madsim::time::sleep(MS(300)).await;
                (armed, c.world.status(2))
            })
            .await;
            (armed, exited, ctl.world.status(2))
        });
        assert_eq!(armed, Some(1));
        assert!(
            matches!(exited, Some(MemberStatus::Exited(_))),
            "m2 stops on the failed fsync: {exited:?}"
        );
        assert_eq!(after, Some(MemberStatus::Running));
        assert!(traced(&trace, "m2", "disk", "faults cleared"));
        assert_applied_and_healed(&trace, FaultKind::FsyncEio, "m2");
    }

    #[test]
    fn a_full_disk_has_a_quota_until_it_is_cleared() {
        let ((during, after), trace) = with_cluster(3, 2, |ctl| async move {
            let enospc = Fault::Enospc(Enospc {
                target: Target::Member(3),
                quota_kb: 64,
                files: FullFiles::All,
                duration: MS(500),
            });
            let during = sample_during(&ctl, enospc, MS(100), async |c| {
                c.world.disk_faults(3).and_then(|f| f.quota_bytes)
            })
            .await;
            (during, ctl.world.disk_faults(3).and_then(|f| f.quota_bytes))
        });
        assert!(during.is_some_and(|q| q >= 64 * 1024));
        assert_eq!(after, None);
        assert!(traced(&trace, "m3", "disk", "faults DiskFaults"));
        assert!(traced(&trace, "m3", "disk", "faults cleared"));
        assert_applied_and_healed(&trace, FaultKind::Enospc, "m3");
    }

    #[test]
    fn bit_flips_restart_the_member_and_stop_when_cleared() {
        let ((during, after), trace) = with_cluster(3, 3, |ctl| async move {
            let flips = Fault::BitFlip(BitFlip {
                target: Target::Member(1),
                rate: 0.5,
                duration: MS(500),
            });
            let during = sample_during(&ctl, flips, MS(100), async |c| {
                c.world.disk_faults(1).map(|f| f.bit_flip_rate)
            })
            .await;
            (during, ctl.world.disk_faults(1).map(|f| f.bit_flip_rate))
        });
        assert_eq!(during, Some(0.5));
        assert_eq!(after, Some(0.0));
        assert!(traced(&trace, "m1", "process", "restarted"));
        assert_applied_and_healed(&trace, FaultKind::BitFlip, "m1");
    }

    #[test]
    fn a_slow_disk_sets_and_resets_the_latency() {
        let (_, trace) = with_cluster(3, 4, |ctl| async move {
            Fault::SlowDisk(SlowDisk {
                target: Target::Member(2),
                min: MS(5),
                max: MS(6),
                duration: MS(300),
            })
            .inject(&ctl)
            .await;
        });
        let latencies: Vec<&str> = trace
            .events()
            .iter()
            .filter(|e| e.source == "m2" && e.kind == "disk" && e.detail.starts_with("latency"))
            .map(|e| e.detail.as_str())
            .collect();
        assert_eq!(latencies.len(), 2, "{latencies:?}");
        assert!(latencies[0].contains("5ms"), "{latencies:?}");
        assert!(traced(&trace, "engine", "fault", "slow_disk m2 5..6ms"));
        assert_applied_and_healed(&trace, FaultKind::SlowDisk, "m2");
    }
}
