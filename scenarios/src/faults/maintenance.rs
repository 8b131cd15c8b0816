//! Maintenance an operator or Kubernetes does: compaction,
//! defragmentation, and disarming alarms.

use super::fields::field;
use super::{FaultKind, Fields, Inject};
use crate::cluster;
use crate::control::{Control, ENGINE_CLIENT};
use crate::recorder::RecordingClient;
use crate::target::Target;
use node::client::{Client, ClientError};
use node::wire::api::{
    AlarmAction, AlarmMember, AlarmRequest, AlarmType, CompactionRequest, DefragmentRequest,
    ErrorCode, client_request,
};
use rand::Rng;
use sim::member_ip;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

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
/// the request (not one shutting down, no longer in the cluster, or a
/// learner, which serves no maintenance request, as etcd's).
fn refused_by_running_member(e: &ClientError) -> bool {
    matches!(e, ClientError::Server { code, .. }
    if !matches!(
        code,
        ErrorCode::Stopped | ErrorCode::NotMember | ErrorCode::NotSupportedForLearner
    ))
}

/// `alarm_disarm`: what an operator does after a full disk (`etcdctl
/// alarm list`, then `etcdctl alarm disarm`). It waits up to `duration_s`
/// (default 5) for the alarm `expect` names to be raised, waits `hold_s`
/// more (default 0: an operator who looks into the disk first), disarms
/// every alarm listed, and waits as long for every running member to
/// report none (see `disarm`). An expected alarm that never appears, running
/// members at one applied index that list different alarms for as long,
/// or alarms that do not clear, break rule `operator.alarm-cleared`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDisarm {
    pub expect: Option<AlarmType>,
    pub wait: Duration,
    pub hold: Duration,
}

impl Inject for AlarmDisarm {
    fn parse(f: &Fields) -> Result<Self, String> {
        let expect = match field!(f, expect).as_deref() {
            None => None,
            Some("nospace") => Some(AlarmType::Nospace),
            Some("corrupt") => Some(AlarmType::Corrupt),
            Some(other) => {
                return Err(format!(
                    "expect: expected \"nospace\" or \"corrupt\", got {other:?}"
                ));
            }
        };
        Ok(AlarmDisarm {
            expect,
            wait: f.duration(5.0),
            hold: f.hold(),
        })
    }

    async fn inject(self, ctl: &Control, kind: FaultKind) {
        let AlarmDisarm { expect, wait, hold } = self;
        let what = expect.map_or("any", |a| a.etcd_name());
        ctl.note(kind, format!("expect={what}"));
        let disarmed = disarm(ctl, expect, wait, hold).await;
        ctl.healed(kind, format!("disarmed [{}]", disarmed.join(", ")));
    }
}

/// The operator's part after an alarm: waits up to `wait` for the alarm
/// `expect` names, for running members at the same applied index to list
/// the same alarms, disarms every alarm listed, and waits as long for all
/// to clear; those the cluster accepted to disarm must have (but a NOSPACE
/// of a member whose disk was full meanwhile, raised again). What it
/// disarmed. What does not happen breaks rule `operator.alarm-cleared`.
/// When no member answers `alarm list`, the step is not applied. Between
/// the listing and the first disarm it waits `hold`; a NOSPACE listed is
/// marked held over that span for the checker (`Control::nospace_held`).
pub(super) async fn disarm(
    ctl: &Control,
    expect: Option<AlarmType>,
    wait: Duration,
    hold: Duration,
) -> Vec<String> {
    let began = crate::recorder::now_ns();
    let deadline = madsim::time::Instant::now() + wait;
    let listing = await_alarm(ctl, expect, deadline).await;
    // The listing answered no later than now: what it showed was applied
    // by then.
    let listed_at = crate::recorder::now_ns();
    let Some(listed) = listing else {
        // No member answered `alarm list`: the operator cannot tell what to
        // disarm, and nothing is judged.
        ctl.not_applied(
            FaultKind::AlarmDisarm.name(),
            &format!(
                "no member answered alarm list within {:.1} s",
                wait.as_secs_f64()
            ),
        );
        return Vec::new();
    };
    if let Some(e) = expect
        && !listed.iter().any(|a| a.alarm == e as i32)
    {
        ctl.alarm_violation(format!(
            "no {} alarm was raised within {:.1} s of the step",
            e.etcd_name(),
            wait.as_secs_f64()
        ));
    }
    let mut split = disagreeing(ctl).await;
    while split.is_some() && madsim::time::Instant::now() < deadline && !ctl.quiescing() {
        madsim::time::sleep(Duration::from_millis(100)).await;
        split = disagreeing(ctl).await;
    }
    if let Some(split) = split.filter(|_| !ctl.quiescing()) {
        ctl.alarm_violation(format!(
            "running members that applied the same entries still listed different alarms {:.1} s after the step began: {split}",
            wait.as_secs_f64()
        ));
    }
    if !hold.is_zero() && !ctl.quiescing() {
        madsim::time::sleep(hold).await;
    }
    let nospace: Vec<String> = listed
        .iter()
        .filter(|a| a.alarm == AlarmType::Nospace as i32)
        .map(|a| a.status_text().trim_end().to_string())
        .collect();
    if !nospace.is_empty() {
        ctl.nospace_held(began, listed_at, &nospace.join(", "));
    }
    // The alarms the cluster accepted to disarm: only those must clear.
    let mut disarmed: Vec<AlarmMember> = Vec::new();
    // Members whose disk was full while the step ran: their NOSPACE may be
    // raised again after its disarm, as etcd raises it past its quota.
    let mut filled: BTreeSet<u64> = BTreeSet::new();
    let mut to_disarm = listed;
    let deadline = madsim::time::Instant::now() + wait;
    let mut poll = 0u32;
    let left = loop {
        poll += 1;
        filled.extend(ctl.members().into_iter().filter(|&m| {
            ctl.world
                .disk_faults(m)
                .is_some_and(|f| f.quota_bytes.is_some())
        }));
        // A round that disarmed every alarm listed is marked on the
        // timeline: from then on no alarm the operator knew of is active.
        let mut round = Vec::new();
        let listed_now = to_disarm.len();
        for alarm in to_disarm.drain(..) {
            if disarm_one(ctl, &alarm).await {
                round.push(alarm.status_text().trim_end().to_string());
                if !disarmed.contains(&alarm) {
                    disarmed.push(alarm);
                }
            }
        }
        if listed_now > 0 && round.len() == listed_now {
            ctl.alarms_disarmed(&round.join(", "));
        }
        // Until every alarm is gone (disarms not answered are tried again).
        let left = still_alarmed(ctl, None).await;
        if left.is_empty() || madsim::time::Instant::now() >= deadline || ctl.quiescing() {
            break left;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
        // Every half second, what is still listed is disarmed again: an
        // alarm raised after the listing, or raised again by a member
        // whose disk was still full, or one whose disarm was not
        // answered, as an operator who runs `alarm list` again would.
        if poll.is_multiple_of(5) {
            to_disarm = list_alarms(ctl).await.unwrap_or_default();
        }
    };
    // A member whose disk was full meanwhile may have raised its NOSPACE
    // again after the disarm (etcd re-raises it past its quota): not a
    // failure to clear. Every other alarm the cluster accepted to disarm
    // must be gone.
    let must_clear: Vec<AlarmMember> = disarmed
        .iter()
        .filter(|a| !(a.alarm == AlarmType::Nospace as i32 && filled.contains(&a.member_id)))
        .cloned()
        .collect();
    let left = if left.is_empty() {
        left
    } else {
        still_alarmed(ctl, Some(&must_clear)).await
    };
    if !left.is_empty() && !ctl.quiescing() {
        ctl.alarm_violation(format!(
            "alarms did not clear within {:.1} s of the disarm: {}",
            wait.as_secs_f64(),
            left.join("; ")
        ));
    }
    disarmed
        .iter()
        .map(|a| a.status_text().trim_end().to_string())
        .collect()
}

/// Asks the leader to deactivate one alarm, as `etcdctl alarm disarm`;
/// whether the cluster accepted it.
async fn disarm_one(ctl: &Control, alarm: &AlarmMember) -> bool {
    let step = format!("alarm disarm {}", alarm.status_text().trim_end());
    ctl.disarm_sent();
    let outcome = crate::operator::request(
        ctl.world.trace(),
        "alarm",
        ErrorCode::Unspecified,
        || ctl.whole(),
        || async {
            ctl.to_leader(client_request::Body::Alarm(AlarmRequest {
                action: AlarmAction::Deactivate as i32,
                member_id: alarm.member_id,
                alarm: alarm.alarm,
            }))
            .await
            .map(drop)
        },
    )
    .await;
    ctl.settle(&step, &outcome)
}

/// The cluster's alarms once the one `expect` names is among them, or as
/// they were last listed at `deadline` (at once when `expect` is None);
/// None when no member answered any listing.
pub(super) async fn await_alarm(
    ctl: &Control,
    expect: Option<AlarmType>,
    deadline: madsim::time::Instant,
) -> Option<Vec<AlarmMember>> {
    let mut listed = list_alarms(ctl).await;
    while listed
        .as_ref()
        .is_none_or(|l| expect.is_some_and(|e| !l.iter().any(|a| a.alarm == e as i32)))
        && madsim::time::Instant::now() < deadline
        && !ctl.quiescing()
    {
        madsim::time::sleep(Duration::from_millis(100)).await;
        listed = list_alarms(ctl).await.or(listed);
    }
    listed
}

/// The cluster's alarms (etcd's `alarm list`: a Get through raft); None
/// when no member answers.
async fn list_alarms(ctl: &Control) -> Option<Vec<AlarmMember>> {
    let running = ctl.running();
    let m = cluster::leader(&ctl.world, &running)
        .await
        .or_else(|| running.first().copied())?;
    let mut client = Client::new(vec![(m, member_ip(m))], 0, ctl.timeout);
    client.alarm_list().await.ok()
}

/// Each running member that answers Status: its applied index and the
/// alarms it lists, sorted.
async fn member_alarms(ctl: &Control) -> Vec<(u64, u64, Vec<String>)> {
    let mut answers = Vec::new();
    for m in ctl.running() {
        if let Some(status) = cluster::status(&ctl.world, m).await {
            let mut alarms: Vec<String> = status
                .errors
                .into_iter()
                .filter(|e| e.contains("alarm:"))
                .map(|e| e.trim_end().to_string())
                .collect();
            alarms.sort();
            answers.push((m, status.raft_applied_index, alarms));
        }
    }
    answers
}

/// Running members that applied the same entries but list different
/// alarms, with what each lists. Alarms are replicated state: every member
/// applies the same raises and disarms, and one that restarts reads them
/// back from its backend, so two members at the same applied index must
/// list the same ones. A member behind the others (partitioned, slow,
/// restarting) is compared only with those as far as it is.
async fn disagreeing(ctl: &Control) -> Option<String> {
    let mut by_applied: BTreeMap<u64, Vec<(u64, Vec<String>)>> = BTreeMap::new();
    for (m, applied, alarms) in member_alarms(ctl).await {
        by_applied.entry(applied).or_default().push((m, alarms));
    }
    let (applied, lists) = by_applied
        .into_iter()
        .find(|(_, lists)| lists.windows(2).any(|w| w[0].1 != w[1].1))?;
    let each: Vec<String> = lists
        .iter()
        .map(|(m, alarms)| format!("m{m} {alarms:?}"))
        .collect();
    Some(format!("at applied index {applied}, {}", each.join(", ")))
}

/// The running members whose Status still lists an alarm (of `only`, when
/// given: those the cluster accepted to disarm), with those alarms, among
/// the members that applied the most entries. A member that does not
/// answer is not counted (it reads its alarms from its backend when it
/// serves again), nor one behind the others: it has not applied the
/// disarm yet, which is lag, not an alarm that stays.
async fn still_alarmed(ctl: &Control, only: Option<&[AlarmMember]>) -> Vec<String> {
    let only: Option<Vec<String>> = only.map(|alarms| {
        alarms
            .iter()
            .map(|a| a.status_text().trim_end().to_string())
            .collect()
    });
    let answers = member_alarms(ctl).await;
    let newest = answers.iter().map(|(_, applied, _)| *applied).max();
    answers
        .into_iter()
        .filter(|(_, applied, _)| Some(*applied) == newest)
        .map(|(m, _, alarms)| {
            let kept: Vec<String> = alarms
                .into_iter()
                .filter(|a| only.as_ref().is_none_or(|only| only.contains(a)))
                .collect();
            (m, kept)
        })
        .filter(|(_, kept)| !kept.is_empty())
        .map(|(m, kept)| format!("m{m}: {kept:?}"))
        .collect()
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
    use node::wire::api::{PutRequest, client_response};

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

    async fn put(ctl: &Control, i: u32) -> Result<client_response::Body, ClientError> {
        ctl.to_leader(client_request::Body::Put(PutRequest {
            key: format!("k{i}").into_bytes(),
            value: vec![b'v'; 200],
            ..Default::default()
        }))
        .await
    }

    /// A full backend raises NOSPACE through raft; writes are refused
    /// with etcd's error until the operator disarms it, which it does
    /// `hold` after listing the alarm: the span is marked for the checker.
    #[test]
    fn a_full_backend_raises_nospace_until_the_operator_disarms_it() {
        use crate::faults::disk::{Enospc, FullFiles};
        let ((refused, violations, after, held), trace) = with_cluster(3, 4, |ctl| async move {
            let full = Fault::Enospc(Enospc {
                target: Target::Member(3),
                quota_kb: 1,
                files: FullFiles::Backend,
                duration: Duration::from_millis(800),
            });
            let refused = crate::faults::testing::sample_during(
                &ctl,
                full,
                Duration::from_millis(0),
                async |c| {
                    let mut refused = None;
                    for i in 0..60 {
                        if let Err(e) = put(c, i).await
                            && refused.is_none()
                        {
                            refused = Some(e.to_string());
                        }
                        madsim::time::sleep(Duration::from_millis(10)).await;
                    }
                    refused
                },
            )
            .await;
            Fault::AlarmDisarm(AlarmDisarm {
                expect: Some(AlarmType::Nospace),
                wait: Duration::from_secs(3),
                hold: Duration::from_millis(300),
            })
            .inject(&ctl)
            .await;
            let after = put(&ctl, 1000).await.is_ok();
            let held: Vec<(u64, u64)> = ctl
                .recorder
                .history()
                .annotations
                .iter()
                .filter_map(|a| a.nospace_held())
                .collect();
            (refused, ctl.violations.lock().clone(), after, held)
        });
        assert_eq!(held.len(), 1, "one span marked held: {held:?}");
        assert!(
            held[0].1 - held[0].0 >= 300_000_000,
            "the span lasts the hold at least: {held:?}"
        );
        let refused = refused.expect("a write was refused while the alarm was on");
        assert!(
            refused.contains(node::alarm::NO_SPACE),
            "refused with etcd's error: {refused}"
        );
        assert!(violations.is_empty(), "{violations:?}");
        assert!(after, "writes are served once disarmed");
        assert!(traced(
            &trace,
            "engine",
            "heal",
            "alarm_disarm disarmed [memberID:3 alarm:NOSPACE]"
        ));
    }

    /// With no full disk, the alarm the step expects never appears: a
    /// violation.
    #[test]
    fn an_expected_alarm_that_never_appears_is_a_violation() {
        let (violations, _) = with_cluster(3, 5, |ctl| async move {
            Fault::AlarmDisarm(AlarmDisarm {
                expect: Some(AlarmType::Nospace),
                wait: Duration::from_millis(500),
                hold: Duration::ZERO,
            })
            .inject(&ctl)
            .await;
            ctl.violations.lock().clone()
        });
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].0, checker::rules::OPERATOR_ALARM_CLEARED);
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
