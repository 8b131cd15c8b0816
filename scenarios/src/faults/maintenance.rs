//! Maintenance an operator or Kubernetes does: compaction and
//! defragmentation.

use super::fields::field;
use super::{FaultKind, Fields, Inject};
use crate::cluster;
use crate::control::{Control, ENGINE_CLIENT};
use crate::recorder::RecordingClient;
use crate::target::Target;
use node::client::{Client, ClientError};
use node::wire::api::{CompactionRequest, DefragmentRequest, ErrorCode, client_request};
use rand::Rng;
use sim::member_ip;

/// `compact`: the engine compacts history up to a recent revision
/// (`offset` below the current one; drawn when not given).
#[derive(Debug, Clone, PartialEq)]
pub struct Compact {
    pub offset: Option<i64>,
}

impl Inject for Compact {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Compact {
            offset: field!(f, offset),
        })
    }

    async fn inject(self, ctl: &Control, _kind: FaultKind) {
        compact(ctl, self.offset).await
    }
}

/// `defrag`: the engine asks the target to defragment its backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Defrag {
    pub target: Target,
}

impl Inject for Defrag {
    fn parse(f: &Fields) -> Result<Self, String> {
        Ok(Defrag {
            target: f.target()?,
        })
    }

    /// Defragments each target. A member that did not answer (crashed,
    /// paused, cut off) was not defragmented: the step is not applied. A
    /// running member that refuses is a violation, since a correct member
    /// always defragments when asked.
    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let Defrag { target } = self;
        for m in ctl.targets(kind, target).await {
            ctl.note(kind, format!("m{m}"));
            let answer = ctl
                .admin(m, client_request::Body::Defragment(DefragmentRequest {}))
                .await;
            ctl.healed(kind, format!("m{m}"));
            let step = format!("{} m{m}", kind.name());
            match answer {
                Ok(_) => {}
                Err(e) if refused_by_running_member(&e) => ctl.refused(&step, &e),
                Err(e) => ctl.not_applied(&step, &format!("no answer ({e})")),
            }
        }
    }
}

/// Whether a member's error answer is a refusal by a member that was up to
/// the request (not one shutting down or no longer in the cluster).
fn refused_by_running_member(e: &ClientError) -> bool {
    matches!(e, ClientError::Server { code, .. }
        if !matches!(code, ErrorCode::Stopped | ErrorCode::NotMember))
}

/// Compacts history at a recent revision, like an operator or the
/// Kubernetes compactor would.
pub(super) async fn compact(ctl: &Control, offset: Option<i64>) {
    let running = ctl.running();
    let step = FaultKind::Compact.name();
    let Some(leader) = cluster::leader(&ctl.world, &running).await else {
        ctl.not_applied(step, "no leader");
        return;
    };
    let Some(status) = cluster::status(&ctl.world, leader).await else {
        ctl.not_applied(step, &format!("no status from the leader m{leader}"));
        return;
    };
    let rev = status.header.map(|h| h.revision).unwrap_or(0);
    let back = offset.unwrap_or_else(|| ctl.rng.lock().gen_range(0..5));
    let target = (rev - back).max(1);
    if target <= status.compact_revision {
        return;
    }
    ctl.note(FaultKind::Compact, format!("revision={target}"));
    // The compaction is a client request like any other: it goes into the
    // history, since it changes what reads at old revisions may return.
    let mut client = RecordingClient::new(
        ENGINE_CLIENT,
        Client::new(vec![(leader, member_ip(leader))], 0, ctl.timeout),
        ctl.recorder.clone(),
    );
    let request = client_request::Body::Compaction(CompactionRequest {
        revision: target,
        physical: false,
    });
    let _ = client.call(request, None).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::faults::testing::{assert_applied_and_healed, traced, with_cluster};
    use node::wire::api::PutRequest;

    #[test]
    fn a_compaction_reaches_the_revision_asked_for() {
        let ((revision, compacted), trace) = with_cluster(3, 1, |ctl| async move {
            for i in 0..6u8 {
                let _ = ctl
                    .to_leader(client_request::Body::Put(PutRequest {
                        key: vec![b'k', i],
                        value: b"v".to_vec(),
                        ..Default::default()
                    }))
                    .await;
            }
            let leader = cluster::leader(&ctl.world, &ctl.running()).await.unwrap();
            let revision = cluster::status(&ctl.world, leader)
                .await
                .unwrap()
                .header
                .unwrap()
                .revision;
            Fault::Compact(Compact { offset: Some(2) })
                .inject(&ctl)
                .await;
            let compacted = cluster::status(&ctl.world, leader)
                .await
                .unwrap()
                .compact_revision;
            (revision, compacted)
        });
        assert_eq!(revision, 7);
        assert_eq!(compacted, revision - 2);
        assert!(traced(&trace, "engine", "fault", "compact revision=5"));
    }

    #[test]
    fn a_defrag_of_a_running_member_is_applied() {
        let (not_applied, trace) = with_cluster(3, 2, |ctl| async move {
            Fault::Defrag(Defrag {
                target: Target::Member(1),
            })
            .inject(&ctl)
            .await;
            ctl.not_applied.lock().clone()
        });
        assert!(not_applied.is_empty(), "{not_applied:?}");
        assert_applied_and_healed(&trace, FaultKind::Defrag, "m1");
    }

    #[test]
    fn a_defrag_of_a_crashed_member_is_not_applied() {
        let (not_applied, _) = with_cluster(3, 3, |ctl| async move {
            ctl.world.kill(2);
            Fault::Defrag(Defrag {
                target: Target::Member(2),
            })
            .inject(&ctl)
            .await;
            ctl.not_applied.lock().clone()
        });
        assert_eq!(not_applied.len(), 1, "{not_applied:?}");
        assert!(not_applied[0].starts_with("defrag m2: no answer"));
    }
}
