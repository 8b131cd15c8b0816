//! Failpoints: arm a named point in the store with crash, sleep or error,
//! and ask for what reaches the point when the workload would not.

use super::fields::field;
use super::maintenance::compact;
use super::{FaultKind, Fields, Inject};
use crate::control::Control;
use crate::target::Target;
use node::failpoint::{self, FailAction};
use node::wire::api::{DefragmentRequest, client_request};
use std::time::Duration;

/// `failpoint`: arm a failpoint; the engine issues what reaches it when
/// needed (a compaction `offset` revisions back for compaction points).
#[derive(Debug, Clone, PartialEq)]
pub struct Failpoint {
    pub target: Target,
    pub name: failpoint::Failpoint,
    pub action: FailAction,
    pub times: u32,
    pub offset: Option<i64>,
}

impl Inject for Failpoint {
    fn parse(f: &Fields) -> Result<Self, String> {
        let name: failpoint::Failpoint = field!(f, failpoint)
            .ok_or("failpoint: required for kind \"failpoint\"")?
            .parse()
            .map_err(|e| format!("failpoint: {e}"))?;
        let action = match field!(f, action).as_deref().unwrap_or("crash") {
            "crash" => FailAction::Crash,
            "error" => FailAction::Error,
            // A sleep's length means nothing to the other actions.
            "sleep" => FailAction::Sleep(Duration::from_millis(field!(f, sleep_ms).unwrap_or(100))),
            other => {
                return Err(format!(
                    "action: expected crash, sleep or error, got {other:?}"
                ));
            }
        };
        Ok(Failpoint {
            target: f.target()?,
            name,
            action,
            times: field!(f, times).unwrap_or(1),
            offset: field!(f, offset),
        })
    }

    /// Arms the failpoint on each target.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Failpoint {
            target,
            name,
            action,
            times,
            offset,
        } = self;
        let world = ctl.world.clone();
        let ms = ctl.targets(kind, target).await;
        for &m in &ms {
            match world.failpoints(m) {
                Some(fp) => {
                    fp.arm(name, action, Some(times));
                    ctl.note(kind, format!("m{m} {name} {action:?} x{times}"));
                }
                None => ctl.not_applied(kind.name(), &format!("m{m} has no process")),
            }
        }
        // Some points are only reached when something asks for it.
        if name.is_compaction() {
            compact(ctl, offset).await;
        } else if name.is_defrag() {
            for &m in &ms {
                let _ = ctl
                    .admin(m, client_request::Body::Defragment(DefragmentRequest {}))
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::faults::testing::with_cluster;

    fn sleep_at_before_commit(target: Target) -> Fault {
        Fault::Failpoint(Failpoint {
            target,
            name: failpoint::Failpoint::BeforeCommit,
            action: FailAction::Sleep(Duration::from_millis(10)),
            times: 3,
            offset: None,
        })
    }

    #[test]
    fn an_armed_failpoint_is_armed_on_its_member_only() {
        let ((on_target, elsewhere), _) = with_cluster(3, 1, |ctl| async move {
            sleep_at_before_commit(Target::Member(2)).inject(&ctl).await;
            let armed = |m| {
                ctl.world
                    .failpoints(m)
                    .is_some_and(|fp| fp.is_armed(failpoint::Failpoint::BeforeCommit))
            };
            (armed(2), armed(1) || armed(3))
        });
        assert!(on_target);
        assert!(!elsewhere);
    }

    #[test]
    fn a_crash_failpoint_stops_the_member_when_a_write_reaches_it() {
        let ((before, after), trace) = with_cluster(3, 2, |ctl| async move {
            Fault::Failpoint(Failpoint {
                target: Target::Member(3),
                name: failpoint::Failpoint::RaftBeforeSave,
                action: FailAction::Crash,
                times: 1,
                offset: None,
            })
            .inject(&ctl)
            .await;
            let before = ctl.world.status(3);
            let _ = ctl
                .to_leader(client_request::Body::Put(node::wire::api::PutRequest {
                    key: b"k".to_vec(),
                    value: b"v".to_vec(),
                    ..Default::default()
                }))
                .await;
            madsim::time::sleep(Duration::from_millis(300)).await;
            (before, ctl.world.status(3))
        });
        assert_eq!(before, Some(sim::MemberStatus::Running));
        assert!(
            matches!(after, Some(sim::MemberStatus::Exited(_))),
            "m3 stops at raftBeforeSave: {after:?}"
        );
        assert!(crate::faults::testing::traced(
            &trace,
            "engine",
            "fault",
            "failpoint m3 raftBeforeSave Crash x1"
        ));
    }
}
