//! Failpoints: arm a named point in the store with crash, sleep or error,
//! and ask for what reaches the point when the workload would not.

use super::fields::field;
use super::maintenance::compact;
use super::{FaultKind, Fields, Inject};
use crate::control::Control;
use crate::target::Target;
use node::failpoint::FailAction;
use node::wire::api::{DefragmentRequest, client_request};
use std::time::Duration;

/// `failpoint`: arm a failpoint; the engine issues what reaches it when
/// needed (a compaction `offset` revisions back for compaction points).
#[derive(Debug, Clone, PartialEq)]
pub struct Failpoint {
    pub target: Target,
    pub name: String,
    pub action: FailAction,
    pub times: u32,
    pub offset: Option<i64>,
}

impl Inject for Failpoint {
    fn parse(f: &Fields) -> Result<Self, String> {
        let name = field!(f, failpoint).ok_or("failpoint: required for kind \"failpoint\"")?;
        if node::failpoint::lookup(&name).is_none() {
            return Err(format!(
                "failpoint: unknown failpoint {name:?} (see `faultline list failpoints`)"
            ));
        }
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
            match world
                .failpoints(m)
                .map(|fp| fp.arm(&name, action, Some(times)))
            {
                Some(Ok(())) => ctl.note(kind, format!("m{m} {name} {action:?} x{times}")),
                Some(Err(e)) => ctl.not_applied(kind.name(), &format!("m{m} {name}: {e}")),
                None => ctl.not_applied(kind.name(), &format!("m{m} has no process")),
            }
        }
        // Some points are only reached when something asks for it.
        if name.starts_with("compact") {
            compact(ctl, offset).await;
        } else if name.starts_with("defrag") {
            for &m in &ms {
                let _ = ctl
                    .admin(m, client_request::Body::Defragment(DefragmentRequest {}))
                    .await;
            }
        }
    }
}
