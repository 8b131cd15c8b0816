//! The replica agreement ledger: what the world, which alone sees every
//! member, holds each member's report against (`Host::applied_to`, the
//! store's `server::agreement`).

use std::collections::BTreeMap;

use node::host::AppliedTo;

/// Per log index, the first member's report of the revision it held after
/// it. Only the run's first disagreement is reported: once a member
/// diverged, its later reports (or theirs, if it reported first) differ by
/// the same offset and would only repeat it, so the ledger stops there.
#[derive(Default)]
pub(super) struct Ledger {
    first: BTreeMap<u64, AppliedTo>,
    diverged: bool,
}

impl Ledger {
    pub(super) fn report(&mut self, report: AppliedTo, index: u64) -> Option<AppliedTo> {
        if self.diverged {
            return None;
        }
        let first = *self.first.entry(index).or_insert(report);
        if first.revision == report.revision {
            return None;
        }
        self.diverged = true;
        self.first.clear();
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node::host::HowReached;

    fn at(member: u64, revision: i64, how: HowReached) -> AppliedTo {
        AppliedTo {
            member,
            revision,
            how,
        }
    }

    #[test]
    fn agreeing_reports_pass_and_the_first_disagreement_names_the_first_report() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.report(at(1, 5, HowReached::Applied), 10), None);
        assert_eq!(ledger.report(at(2, 5, HowReached::Applied), 10), None);
        assert_eq!(ledger.report(at(3, 5, HowReached::Recovered), 10), None);
        assert_eq!(ledger.report(at(2, 6, HowReached::Applied), 11), None);
        assert_eq!(
            ledger.report(at(3, 7, HowReached::Applied), 11),
            Some(at(2, 6, HowReached::Applied))
        );
    }

    #[test]
    fn a_divergence_is_reported_once() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.report(at(1, 5, HowReached::Applied), 10), None);
        assert!(ledger.report(at(2, 4, HowReached::Recovered), 10).is_some());
        // The diverged member's offset carries on into every later entry.
        assert_eq!(ledger.report(at(1, 6, HowReached::Applied), 11), None);
        assert_eq!(ledger.report(at(2, 5, HowReached::Applied), 11), None);
    }
}
