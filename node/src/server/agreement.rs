//! Replica agreement: the state machine is deterministic, so every member
//! that holds the log up to index i holds the same revision, whether it
//! applied the entries, installed a snapshot or recovered from its backend
//! after a restart. Each member reports what it holds to the world, which
//! alone sees every member (`Host::applied_to`); a disagreement breaks
//! [`Invariant::RecoveredStateAgrees`] when a recovered state is one side
//! of it (the index and the data were not committed together: etcd-13766,
//! 14685), else [`Invariant::ReplicasAgreeOnEntry`] (members applied the
//! same entry differently: etcd-18667). Clients may never see the
//! difference; end-of-run hashes see it only if it survives the run.

use crate::host::{AppliedTo, HowReached, MemberEnv};
use crate::invariants::Invariant;

/// Reports that this member holds `revision` after the log up to `index`,
/// reached `how`, and asserts that it agrees with the first report of any
/// member (this one in an earlier process included).
pub(crate) fn check(env: &MemberEnv, index: u64, revision: i64, how: HowReached) {
    if index == 0 {
        return;
    }
    let here = AppliedTo {
        member: env.member,
        revision,
        how,
    };
    let Some(first) = env.host.applied_to(here, index) else {
        return;
    };
    let invariant = if first.how == HowReached::Recovered || how == HowReached::Recovered {
        Invariant::RecoveredStateAgrees
    } else {
        Invariant::ReplicasAgreeOnEntry
    };
    env.check(invariant, false, || {
        format!(
            "after entry {index}: revision {revision} on m{} ({}), {} on m{} ({})",
            here.member,
            describe(here.how),
            first.revision,
            first.member,
            describe(first.how)
        )
    });
}

fn describe(how: HowReached) -> &'static str {
    match how {
        HowReached::Applied => "applied",
        HowReached::Recovered => "recovered at restart",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{ExitReason, Host, NodeEvent};
    use parking_lot::Mutex;
    use std::sync::Arc;

    /// A host whose ledger already holds `first` for every index.
    struct Ledger {
        first: AppliedTo,
        broken: Mutex<Vec<(Invariant, String)>>,
    }

    impl Host for Ledger {
        fn emit(&self, _member: u64, event: NodeEvent) {
            if let NodeEvent::InvariantBroken { invariant, detail } = event {
                self.broken.lock().push((invariant, detail));
            }
        }
        fn exit(&self, _member: u64, _reason: ExitReason) {}
        fn applied_to(&self, report: AppliedTo, _index: u64) -> Option<AppliedTo> {
            (report.revision != self.first.revision).then_some(self.first)
        }
    }

    fn broken_after(first: HowReached, revision: i64, how: HowReached) -> Vec<(Invariant, String)> {
        let host = Arc::new(Ledger {
            first: AppliedTo {
                member: 2,
                revision: 40,
                how: first,
            },
            broken: Mutex::default(),
        });
        let mut env = crate::host::testing::env_in(std::path::Path::new("."));
        env.host = host.clone();
        check(&env, 17, revision, how);
        host.broken.lock().clone()
    }

    #[test]
    fn agreement_breaks_nothing() {
        assert!(broken_after(HowReached::Applied, 40, HowReached::Recovered).is_empty());
    }

    #[test]
    fn a_recovered_side_makes_it_a_recovery_problem_whichever_reported_first() {
        assert_eq!(
            broken_after(HowReached::Applied, 39, HowReached::Recovered),
            vec![(
                Invariant::RecoveredStateAgrees,
                "after entry 17: revision 39 on m1 (recovered at restart), 40 on m2 (applied)"
                    .into()
            )]
        );
        let broken = broken_after(HowReached::Recovered, 41, HowReached::Applied);
        assert_eq!(broken[0].0, Invariant::RecoveredStateAgrees);
    }

    #[test]
    fn two_applications_that_differ_break_replica_agreement() {
        let broken = broken_after(HowReached::Applied, 41, HowReached::Applied);
        assert_eq!(broken.len(), 1);
        assert_eq!(broken[0].0, Invariant::ReplicasAgreeOnEntry);
    }
}
