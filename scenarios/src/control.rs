//! The engine's shared state during one run: who is a member, who runs,
//! which steps were applied or not, and the operator's requests. Fault
//! code (`faults`) acts on the world through it.

use crate::cluster;
use crate::faults::FaultKind;
use crate::operator;
use crate::recorder::{Recorder, now_ns};
use crate::schema::Scenario;
use crate::target::Target;
use checker::rules;
use node::client::ClientError;
use node::config::{MemberConfig, Peer, StoreKnobs};
use node::wire::api::{
    ErrorCode, MemberAddRequest, MemberListRequest, MemberRemoveRequest, client_request,
    client_response,
};
use parking_lot::Mutex;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sim::{MemberStatus, World, member_ip};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// The client id the engine's own requests (faults, operator steps) use;
/// traffic clients count from 1.
pub(crate) const ENGINE_CLIENT: u64 = 0;

/// Shared state of the engine's tasks during one run.
pub(crate) struct Control {
    pub(crate) world: Arc<World>,
    pub(crate) rng: Mutex<ChaCha8Rng>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) quiescing: AtomicBool,
    pub(crate) knobs: StoreKnobs,
    /// Members with a disk fault active now (the supervisor leaves them down).
    pub(crate) disk_fault_active: Mutex<BTreeSet<u64>>,
    /// Refusals the plan expected: (member, message), not failures.
    pub(crate) expected_refusals: Mutex<Vec<(u64, String)>>,
    /// Violations the engine itself found (rule, explanation).
    pub(crate) violations: Mutex<Vec<(String, String)>>,
    /// Members removed from the cluster.
    pub(crate) removed: Mutex<BTreeSet<u64>>,
    /// Members a replace step is working on (a learner replacement waits
    /// seconds for its promotion before it removes the old member).
    replacing: Mutex<BTreeSet<u64>>,
    pub(crate) faults_applied: Mutex<Vec<String>>,
    /// Steps of the plan that could not be applied, each with why.
    pub(crate) not_applied: Mutex<Vec<String>>,
    pub(crate) next_member_id: Mutex<u64>,
    /// A member add may have taken effect without its process started (its
    /// answer never came, or no template to start it from), or a learner's
    /// promotion without the engine knowing: the store's configuration may
    /// hold a member the engine does not run, or a voter it takes for a
    /// learner, so whether a change must be accepted is no longer judged.
    unknown_member: AtomicBool,
    /// Members added as learners and not promoted (as far as the engine
    /// knows: a promotion whose answer was lost sets `unknown_member`).
    learners: Mutex<BTreeSet<u64>>,
    /// Members the cluster started with: the endpoints traffic clients are
    /// given, and keep (as etcd's clientv3 does without AutoSyncInterval).
    initial_members: u64,
    pub(crate) timeout: Duration,
    /// Member adds, promotions and removals under way: a removal is judged
    /// unsafe only while it is the one change (another may have changed
    /// the configuration the member asked sees).
    membership_changes: AtomicU32,
    /// When the engine sent each alarm disarm (simulated ns), by any step:
    /// a span in which an alarm is certainly held ends at the first.
    disarms_sent: Mutex<Vec<u64>>,
}

impl Control {
    /// A run's control at its start: the scenario's members, nothing
    /// applied yet; `rng` draws the engine's own choices (targets, splits).
    pub(crate) fn new(
        world: Arc<World>,
        recorder: Arc<Recorder>,
        scenario: &Scenario,
        rng: ChaCha8Rng,
    ) -> Control {
        Control {
            world,
            rng: Mutex::new(rng),
            recorder,
            quiescing: AtomicBool::new(false),
            knobs: scenario.cluster.knobs.clone(),
            disk_fault_active: Mutex::new(BTreeSet::new()),
            expected_refusals: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            removed: Mutex::new(BTreeSet::new()),
            replacing: Mutex::new(BTreeSet::new()),
            faults_applied: Mutex::new(Vec::new()),
            not_applied: Mutex::new(Vec::new()),
            next_member_id: Mutex::new(scenario.cluster.size as u64 + 1),
            unknown_member: AtomicBool::new(false),
            learners: Mutex::new(BTreeSet::new()),
            initial_members: scenario.cluster.size as u64,
            timeout: Duration::from_millis(scenario.cluster.client_timeout_ms),
            membership_changes: AtomicU32::new(0),
            disarms_sent: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn quiescing(&self) -> bool {
        self.quiescing.load(Ordering::Relaxed)
    }

    /// Whether the cluster is whole now ([`crate::health`]): a membership
    /// change declined as unsafe is then refused.
    pub(crate) fn whole(&self) -> bool {
        !self.unknown_member.load(Ordering::Relaxed)
            && crate::health::is_whole(&self.world, &self.members())
    }

    /// Whether adding a member must be accepted now: the cluster is whole,
    /// or every running member runs 3.7 and sees a quorum of voters
    /// ([`crate::health::add_allowed_on_3_7`]).
    fn add_must_be_accepted(&self) -> bool {
        if self.whole() {
            return true;
        }
        if self.unknown_member.load(Ordering::Relaxed) {
            return false;
        }
        crate::health::add_allowed_on_3_7(&self.world, &self.members(), &self.voters())
    }

    /// The cluster's configuration may hold a member the engine does not
    /// run, or a voter it takes for a learner: from now on no membership
    /// change is judged (`operator.accepted` on declines,
    /// `operator.unsafe-declined`), which the trace says once, with why.
    fn configuration_uncertain(&self, why: &str) {
        if !self.unknown_member.swap(true, Ordering::Relaxed) {
            self.world.trace().record(
                "engine",
                "membership",
                format!("configuration uncertain ({why}): membership changes no longer judged"),
            );
        }
    }

    /// The members the engine knows are voters: every member not added as
    /// a learner and left one.
    fn voters(&self) -> Vec<u64> {
        let learners = self.learners.lock().clone();
        self.members()
            .into_iter()
            .filter(|m| !learners.contains(m))
            .collect()
    }

    /// Marks a membership change under way until the guard drops.
    fn membership_change(&self) -> ChangeUnderWay<'_> {
        self.membership_changes.fetch_add(1, Ordering::Relaxed);
        ChangeUnderWay(&self.membership_changes)
    }

    pub(crate) fn members(&self) -> Vec<u64> {
        let removed = self.removed.lock().clone();
        self.world
            .member_ids()
            .into_iter()
            .filter(|m| !removed.contains(m))
            .collect()
    }

    /// Whether traffic clients can still reach a member once `m` is gone:
    /// some member they were given at the start, other than `m`, is still
    /// in the cluster and no other step is replacing it. A replaced member
    /// comes back under a new id and address, which the clients never
    /// learn.
    pub(crate) fn clients_reach_a_member_without(&self, m: u64) -> bool {
        let replacing = self.replacing.lock().clone();
        self.members()
            .into_iter()
            .any(|x| x != m && x <= self.initial_members && !replacing.contains(&x))
    }

    /// Whether a step removed `m` from the cluster.
    pub(crate) fn is_removed(&self, m: u64) -> bool {
        self.removed.lock().contains(&m)
    }

    /// Claims `m` for one replace step: false when another step is
    /// replacing it or it is gone, so two steps never both remove it (the
    /// second would be refused "member not found", which is no failure of
    /// the store). Released with [`Control::release_replacement`].
    pub(crate) fn claim_replacement(&self, m: u64) -> bool {
        !self.is_removed(m) && self.replacing.lock().insert(m)
    }

    pub(crate) fn release_replacement(&self, m: u64) {
        self.replacing.lock().remove(&m);
    }

    pub(crate) fn running(&self) -> Vec<u64> {
        self.members()
            .into_iter()
            .filter(|m| self.world.status(*m) == Some(MemberStatus::Running))
            .collect()
    }

    pub(crate) fn pick(&self, from: &[u64]) -> Option<u64> {
        from.choose(&mut *self.rng.lock()).copied()
    }

    /// The members a step hits; none is a step that was not applied.
    pub(crate) async fn targets(&self, kind: FaultKind, target: Target) -> Vec<u64> {
        let mut members = self.resolve(target).await;
        // Resolving asks the members (who leads?), which takes a while: a
        // step may have removed and wiped one meanwhile. Hit, it would be
        // restarted on its empty disk as a cluster of its own.
        members.retain(|m| !self.is_removed(*m));
        if members.is_empty() {
            self.not_applied(
                kind.name(),
                &format!("no member matches target {target:?} now"),
            );
        }
        members
    }

    pub(crate) async fn resolve(&self, target: Target) -> Vec<u64> {
        let members = self.members();
        let running = self.running();
        match target {
            Target::All => members,
            Target::Member(m) => members.into_iter().filter(|x| *x == m).collect(),
            Target::Random => self.pick(&running).into_iter().collect(),
            Target::Leader => match cluster::leader(&self.world, &running).await {
                Some(l) => vec![l],
                None => self.pick(&running).into_iter().collect(),
            },
            Target::Follower => {
                let leader = cluster::leader(&self.world, &running).await;
                let followers: Vec<u64> =
                    running.into_iter().filter(|m| Some(*m) != leader).collect();
                self.pick(&followers).into_iter().collect()
            }
        }
    }

    /// A fault began: traced, opened on the history's timeline, counted as
    /// applied, and on in the world's fault context (points pair with it).
    pub(crate) fn note(&self, kind: FaultKind, detail: String) {
        self.world.fault_began(kind.tag());
        let kind = kind.name();
        self.world
            .trace()
            .record("engine", "fault", format!("{kind} {detail}"));
        self.recorder
            .fault_began(now_ns(), kind, format!("{kind} {detail}"));
        self.faults_applied.lock().push(kind.to_string());
    }

    /// A fault was healed: traced, closed on the timeline and in the world.
    pub(crate) fn healed(&self, kind: FaultKind, detail: String) {
        self.world.fault_ended(kind.tag());
        let kind = kind.name();
        self.world
            .trace()
            .record("engine", "heal", format!("{kind} {detail}"));
        self.recorder.fault_healed(kind, now_ns());
    }

    /// Sleeps unless the run is quiescing (then returns at once).
    pub(crate) async fn hold(&self, d: Duration) {
        let step = Duration::from_millis(50);
        let mut left = d;
        while !left.is_zero() && !self.quiescing() {
            let s = left.min(step);
            madsim::time::sleep(s).await;
            left = left.saturating_sub(s);
        }
    }

    pub(crate) async fn admin(
        &self,
        member: u64,
        body: client_request::Body,
    ) -> Result<client_response::Body, node::client::ClientError> {
        cluster::admin(member_ip(member), member, body, self.timeout).await
    }

    /// Sends a request to the leader (or any running member).
    pub(crate) async fn to_leader(
        &self,
        body: client_request::Body,
    ) -> Result<client_response::Body, node::client::ClientError> {
        let running = self.running();
        let target = cluster::leader(&self.world, &running)
            .await
            .or_else(|| running.first().copied());
        match target {
            Some(m) => self.admin(m, body).await,
            None => Err(node::client::ClientError::Unavailable(
                "no running member".into(),
            )),
        }
    }

    /// The id the next member added to the cluster gets.
    pub(crate) fn next_member_id(&self) -> u64 {
        let mut next = self.next_member_id.lock();
        let id = *next;
        *next += 1;
        id
    }

    /// What a replacement for `m` starts from: `m`'s configuration, with a
    /// binary no older than any cluster version the cluster has had. A
    /// joining member may replay the log from its first entry, and etcd
    /// 3.6 and later stop a member that applies a cluster version above its
    /// binary even while a downgrade is in force (`MustDetectDowngrade`
    /// compares the two only; a 3.6 replacement of a member swapped down
    /// to 3.6 dies on the cluster's old "3.7" entry). `m`'s own binary
    /// may be older still: a member removed before a rolling upgrade
    /// reached it keeps the binary it had.
    pub(crate) fn replacement_template(&self, m: u64) -> Option<MemberConfig> {
        let mut config = self.world.config(m)?;
        if let Some(cv) = self.world.highest_cluster_version() {
            config.version = config.version.max(cv);
        }
        Some(config)
    }

    /// Adds member `id` through the leader and, once the cluster accepted
    /// it, starts it joining from `template` (a member's configuration, with
    /// the id, the peers and the join flag replaced). The template is read
    /// only then: a replacement runs the binary its member runs when it
    /// starts, not the one it ran when the add was asked for (a rolling
    /// upgrade may have gone by while the cluster declined the add).
    /// Whether it started.
    pub(crate) async fn add_member(
        &self,
        id: u64,
        template: impl FnOnce() -> Option<MemberConfig>,
    ) -> bool {
        self.add_member_as(id, template, false).await
    }

    /// As [`Control::add_member`], as a learner when `learner` (etcd's
    /// `member add --learner`).
    pub(crate) async fn add_member_as(
        &self,
        id: u64,
        template: impl FnOnce() -> Option<MemberConfig>,
        learner: bool,
    ) -> bool {
        let add = MemberAddRequest {
            id,
            ip: member_ip(id).to_string(),
            is_learner: learner,
        };
        if learner {
            self.learners.lock().insert(id);
        }
        let _change = self.membership_change();
        let outcome = operator::request(
            self.world.trace(),
            "member",
            ErrorCode::MemberExists,
            || self.add_must_be_accepted(),
            || async {
                self.to_leader(client_request::Body::MemberAdd(add.clone()))
                    .await
                    .map(drop)
            },
        )
        .await;
        let what = if learner {
            "member add --learner"
        } else {
            "member add"
        };
        let accepted = match &outcome {
            operator::Outcome::NoAnswer(e) if self.listed_anywhere(id).await => {
                self.world.trace().record(
                    "engine",
                    "member",
                    format!("{what} m{id} got no answer ({e}), but a member lists it: starting it"),
                );
                true
            }
            operator::Outcome::NoAnswer(_) => {
                self.configuration_uncertain(&format!("{what} m{id} got no answer"));
                self.settle(&format!("{what} m{id}"), &outcome)
            }
            _ => self.settle(&format!("{what} m{id}"), &outcome),
        };
        if !accepted {
            return false;
        }
        let Some(mut config) = template() else {
            self.configuration_uncertain(&format!(
                "m{id} was added with no member to start it from"
            ));
            return false;
        };
        config.id = id;
        config.join_existing = true;
        config.peers = self
            .members()
            .into_iter()
            .chain([id])
            .map(|id| Peer {
                id,
                ip: member_ip(id),
            })
            .collect();
        self.world.start_member(config);
        true
    }

    /// Whether a running member lists `id` in its own (serializable) member
    /// list, asked a few times a second apart: what a member applied was
    /// committed. An operator whose `member add` got no answer looks at
    /// `member list` before giving up; starting a member the cluster did
    /// add is what lets a cluster whose quorum now counts it elect a
    /// leader again (a one-voter cluster that committed the add alone has
    /// no quorum until the new member runs).
    async fn listed_anywhere(&self, id: u64) -> bool {
        for round in 0..3 {
            if round > 0 {
                if self.quiescing() {
                    return false;
                }
                madsim::time::sleep(Duration::from_secs(1)).await;
            }
            for m in self.running() {
                let list = self
                    .admin(
                        m,
                        client_request::Body::MemberList(MemberListRequest {
                            linearizable: false,
                        }),
                    )
                    .await;
                if let Ok(client_response::Body::MemberList(list)) = list
                    && list.members.iter().any(|listed| listed.id == id)
                {
                    return true;
                }
            }
        }
        false
    }

    /// Promotes learner `id` through the leader, asking again while it is
    /// not yet in sync (etcd's "can only promote a learner member which is
    /// in sync with leader") for up to `wait`; whether it is a voter. A
    /// learner still behind at the end is a step not applied (a fault may
    /// hold it back); any other refusal is a violation.
    pub(crate) async fn promote_member(&self, id: u64, wait: Duration) -> bool {
        let deadline = madsim::time::Instant::now() + wait;
        let step = format!("member promote m{id}");
        let _change = self.membership_change();
        loop {
            let outcome = operator::request(
                self.world.trace(),
                "member",
                ErrorCode::MemberNotLearner,
                || self.whole(),
                || async move {
                    self.to_leader(client_request::Body::MemberPromote(
                        node::wire::api::MemberPromoteRequest { id },
                    ))
                    .await
                    .map(drop)
                },
            )
            .await;
            let behind = matches!(
                &outcome,
                operator::Outcome::Refused(ClientError::Server {
                    code: ErrorCode::LearnerNotReady,
                    ..
                })
            );
            if !behind {
                match outcome {
                    operator::Outcome::Applied
                    | operator::Outcome::AppliedEarlier
                    | operator::Outcome::AcceptedUnsafe => {
                        self.learners.lock().remove(&id);
                    }
                    // It may be a voter now: the voters are not known.
                    operator::Outcome::NoAnswer(_) => {
                        self.configuration_uncertain(&format!("{step} got no answer"));
                    }
                    operator::Outcome::Refused(_) | operator::Outcome::Declined(_) => {}
                }
                return self.settle(&step, &outcome);
            }
            if madsim::time::Instant::now() >= deadline || self.quiescing() {
                self.not_applied(&step, "the learner did not catch up with the leader");
                return false;
            }
            madsim::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Removes member `m` through the leader; whether it is out.
    pub(crate) async fn remove_member(&self, m: u64) -> bool {
        let _change = self.membership_change();
        let outcome = operator::request(
            self.world.trace(),
            "member",
            ErrorCode::MemberNotFound,
            Removal {
                ctl: self,
                member: m,
            },
            || async move {
                self.to_leader(client_request::Body::MemberRemove(MemberRemoveRequest {
                    id: m,
                }))
                .await
                .map(drop)
            },
        )
        .await;
        self.settle(&format!("member remove m{m}"), &outcome)
    }

    /// What an operator request's outcome means for the run: a refusal is
    /// an `operator.accepted` violation, no answer a step not applied.
    /// Whether the request took effect.
    pub(crate) fn settle(&self, step: &str, outcome: &operator::Outcome) -> bool {
        match outcome {
            operator::Outcome::Applied | operator::Outcome::AppliedEarlier => true,
            operator::Outcome::AcceptedUnsafe => {
                self.violations.lock().push((
                    rules::OPERATOR_UNSAFE_DECLINED.into(),
                    format!(
                        "{step}: accepted, but etcd's strict reconfiguration check declines it: the voters connected to the member asked, less the one removed, are no quorum of the configuration without it"
                    ),
                ));
                true
            }
            operator::Outcome::Refused(e) => {
                self.refused(step, e);
                false
            }
            operator::Outcome::NoAnswer(e) => {
                self.not_applied(step, &format!("no answer ({e})"));
                false
            }
            operator::Outcome::Declined(e) => {
                self.not_applied(step, &format!("declined as unsafe now ({e})"));
                false
            }
        }
    }

    /// An alarm disarm is about to be sent.
    pub(crate) fn disarm_sent(&self) {
        self.disarms_sent.lock().push(now_ns());
    }

    /// An `alarm list` a step began at `began` showed NOSPACE (`alarms`, as
    /// it showed them), its answer in by `listed_at`: until the first
    /// disarm sent since, the cluster certainly holds it, and the checker
    /// reads the span as a time every write that grows the store is
    /// refused (rule `errors.capped-under-nospace`). Marked now, before
    /// this step sends its own first disarm. Not marked when another step
    /// sent a disarm after this one began: the listing may predate it.
    pub(crate) fn nospace_held(&self, began: u64, listed_at: u64, alarms: &str) {
        let now = now_ns();
        let sent = self.disarms_sent.lock().clone();
        if sent.iter().any(|&t| (began..listed_at).contains(&t)) {
            return;
        }
        let end = sent
            .into_iter()
            .filter(|&t| t >= listed_at)
            .min()
            .unwrap_or(now);
        self.recorder.annotate(
            listed_at,
            Some(end),
            checker::history::Annotation::OPERATOR,
            format!("{} {alarms}", checker::history::Annotation::NOSPACE_HELD),
        );
    }

    /// The cluster accepted to disarm every alarm an `alarm list` showed
    /// (`alarms`, as it showed them): a mark on the timeline the checker
    /// reads (a NOSPACE refusal after it needs a disk full again).
    pub(crate) fn alarms_disarmed(&self, alarms: &str) {
        let now = now_ns();
        self.recorder.annotate(
            now,
            None,
            checker::history::Annotation::OPERATOR,
            format!("{} {alarms}", checker::history::Annotation::ALARM_DISARMED),
        );
    }

    /// A step of the plan that could not be applied: a trace event, a
    /// fault annotation, and a count in the run's results.
    pub(crate) fn not_applied(&self, step: &str, why: &str) {
        self.world
            .trace()
            .record("engine", "not-applied", format!("{step}: {why}"));
        self.recorder
            .annotate(now_ns(), None, "not-applied", format!("{step}: {why}"));
        self.not_applied.lock().push(format!("{step}: {why}"));
    }

    /// The alarm an operator step expected was not raised, or did not
    /// clear once disarmed: a violation of `operator.alarm-cleared`.
    pub(crate) fn alarm_violation(&self, what: String) {
        self.world.trace().record("engine", "alarm", what.clone());
        self.violations
            .lock()
            .push((rules::OPERATOR_ALARM_CLEARED.into(), what));
    }

    /// An operator request the correct store must accept was refused: the
    /// step is not applied, and that is a violation.
    pub(crate) fn refused(&self, step: &str, e: &ClientError) {
        self.not_applied(step, &format!("refused ({e})"));
        self.violations.lock().push((
            rules::OPERATOR_ACCEPTED.into(),
            format!("{step}: a correct cluster accepts this request, but it was refused: {e}"),
        ));
    }
}

/// A membership change under way, counted in `Control::membership_changes`
/// until dropped.
struct ChangeUnderWay<'a>(&'a AtomicU32);

impl Drop for ChangeUnderWay<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How the engine judges removing `member`: a decline while the cluster
/// is whole is a refusal, an acceptance etcd's check must decline is
/// unsafe (not judged once the configuration is uncertain, or while
/// another membership change is under way).
struct Removal<'a> {
    ctl: &'a Control,
    member: u64,
}

impl operator::Judge for Removal<'_> {
    fn must_accept(&self) -> bool {
        self.ctl.whole()
    }

    fn must_decline(&self, since: Duration) -> bool {
        !self.ctl.unknown_member.load(Ordering::Relaxed)
            && self.ctl.membership_changes.load(Ordering::Relaxed) == 1
            && crate::health::remove_must_be_declined(
                &self.ctl.world,
                &self.ctl.voters(),
                self.member,
                since,
            )
    }
}

pub(crate) async fn wait_down(world: &World, m: u64) {
    let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
    while world.status(m).is_some_and(|s| s.is_up()) && madsim::time::Instant::now() < deadline {
        madsim::time::sleep(Duration::from_millis(20)).await;
    }
    if world.status(m).is_some_and(|s| s.is_up()) {
        world.kill(m);
    }
}

pub(crate) fn restart_if_down(ctl: &Control, m: u64) {
    if !ctl.quiescing() && !ctl.world.status(m).is_some_and(|s| s.is_up()) && !ctl.is_removed(m) {
        ctl.world.restart(m);
    }
}

#[cfg(test)]
mod tests {
    use crate::faults::testing::{times_traced, traced, with_cluster};
    use std::time::Duration;

    /// A member add that gets no answer leaves the configuration unknown:
    /// the engine stops judging membership changes and says so once.
    #[test]
    fn an_unanswered_add_stops_membership_judgments_and_the_trace_says_so() {
        let ((added, whole_before, whole_after), trace) = with_cluster(3, 7, |ctl| async move {
            madsim::time::sleep(Duration::from_secs(7)).await;
            let whole_before = ctl.whole();
            for m in ctl.members() {
                ctl.world.kill(m);
            }
            let added = ctl.add_member(4, || None).await;
            // Every member up and connected again: whole, were it judged.
            for m in ctl.members() {
                ctl.world.restart(m);
            }
            madsim::time::sleep(Duration::from_secs(7)).await;
            (added, whole_before, ctl.whole())
        });
        assert!(!added);
        assert!(whole_before, "whole before the add");
        assert!(!whole_after, "no longer judged after it");
        assert_eq!(
            times_traced(&trace, "engine", "membership", ""),
            1,
            "said once"
        );
        assert!(traced(
            &trace,
            "engine",
            "membership",
            "configuration uncertain (member add m4 got no answer)"
        ));
    }
}
