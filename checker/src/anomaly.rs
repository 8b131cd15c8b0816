//! Anomaly classes: what kind of wrong a violation's evidence shows, named
//! without the keys and values it happened on. A rule says which guarantee
//! broke; the class says how (a stale read and a lost write both break
//! linearizability, and are different problems to a reviewer). The checker
//! sets the class where it builds each violation, from the evidence it has
//! there; a rule with no finer evidence gets its fallback class.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rules;

/// Declares the classes once: variant, the word files use, one line for people.
macro_rules! anomalies {
    ($($variant:ident => $word:literal, $meaning:literal;)*) => {
        /// One anomaly class. Written as its word (`stale-read`) in files.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Anomaly {
            $(#[doc = $meaning] $variant,)*
        }

        impl Anomaly {
            /// Every class, in declaration order.
            pub const ALL: &'static [Anomaly] = &[$(Anomaly::$variant,)*];

            /// The word results files and reports use, e.g. `stale-read`.
            pub const fn word(self) -> &'static str {
                match self {
                    $(Anomaly::$variant => $word,)*
                }
            }

            /// One line saying what the class means.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Anomaly::$variant => $meaning,)*
                }
            }
        }
    };
}

anomalies! {
    // Linearizability, from the operation the search could not place.
    StaleRead => "stale-read", "A read returned a state older than a write acknowledged before the read was sent.";
    LostWrite => "lost-write", "A read at a revision past an acknowledged write's does not show that write.";
    DoubleWrite => "double-write", "One write took effect twice (its value appears at two revisions).";
    RevisionBackwards => "revision-backwards", "A write was answered with a revision below one already acknowledged before it was sent.";
    ValueNeverWritten => "value-never-written", "A read returned a value no request ever wrote.";
    FailedWriteObserved => "failed-write-observed", "A read returned a value only a write that definitely failed wrote.";
    NotLinearizable => "not-linearizable", "No order of the operations explains the answers (no finer class found).";
    // Serializable reads and refusals.
    SerializableReadWrong => "serializable-read-wrong", "A serializable read does not return the state at the revision it reports.";
    FalseRefusal => "false-refusal", "A request was refused for a reason neither it nor the store's state gives.";
    KindNeverAnswered => "kind-never-answered", "A request kind sent away from faults was never answered.";
    WriteUnderNospace => "write-under-nospace", "A write etcd's NOSPACE alarm caps succeeded while the alarm was certainly active.";
    // Watches.
    MissingEvent => "missing-event", "A watch skipped an event it selects.";
    DuplicateEvent => "duplicate-event", "A watch delivered the same event twice.";
    OutOfOrderEvent => "out-of-order-event", "A watch delivered events out of revision (or write) order.";
    EventAfterProgress => "event-after-progress", "A watch delivered an event at or below a progress notification that vouched past it.";
    ProgressBackwards => "progress-backwards", "A progress notification went back, below an event delivered or below the start.";
    EventBeforeStart => "event-before-start", "A watch delivered an event from before its requested start revision.";
    WrongFirstEvent => "wrong-first-event", "A resumed watch did not start with the first event at or after its start revision.";
    WrongEvent => "wrong-event", "A watch delivered an event the history does not have (other value, kind or version).";
    UnselectedEvent => "unselected-event", "A watch delivered an event outside its key range or filters.";
    SplitRevision => "split-revision", "A watch split one revision's events over two responses.";
    WrongPrevKv => "wrong-prev-kv", "An event's previous key-value is not the key's state before it.";
    MissingPrevKv => "missing-prev-kv", "An event asked for with its previous key-value came without it.";
    WrongCreateFlag => "wrong-create-flag", "A put event is marked a create when it is an update, or the other way round.";
    MissedCompactionCancel => "missed-compaction-cancel", "A watch whose start was compacted went on instead of being cancelled.";
    UnjustifiedCompactionCancel => "unjustified-compaction-cancel", "A watch was cancelled for a compaction that did not remove what it needed.";
    EventAfterCancel => "event-after-cancel", "A watch kept answering after it was cancelled.";
    CancelUnanswered => "cancel-unanswered", "A watch the client cancelled was never answered as cancelled.";
    BookmarkAhead => "bookmark-ahead", "A bookmark claimed a revision the store had not reached.";
    // Kubernetes lists and writes.
    ListNotPinned => "list-not-pinned", "A list's pages were read at different revisions.";
    ListIncomplete => "list-incomplete", "A list's pages do not hold exactly the keys at the list revision.";
    OptimisticWriteWrong => "optimistic-write-wrong", "An optimistic write's outcome does not match the key's mod revision.";
    WatchFromListBroken => "watch-from-list-broken", "A watch after a list did not continue exactly from the list revision.";
    // End state.
    HashDivergence => "hash-divergence", "Members hashing the same revision report different hashes.";
    MembershipDivergence => "membership-divergence", "Members that applied the same raft index list different members.";
    AckedWriteMissingAtEnd => "acked-write-missing-at-end", "An acknowledged write is missing from the final reads with nothing to explain it.";
    NoLivenessAfterHeal => "no-liveness-after-heal", "No request succeeded within the bound after the faults healed.";
    LeaseOutlived => "lease-outlived", "A lease or key TTL stayed alive past its deadline on the healed cluster.";
    CompactionStalled => "compaction-stalled", "A scheduled compaction did not finish on the healed cluster.";
    WatcherStuck => "watcher-stuck", "A watcher stayed behind the store's revision on the healed cluster.";
    // The engine's rules.
    MemberExit => "member-exit", "A member process stopped on an error no injected fault explains.";
    InvariantBroken => "invariant-broken", "A member reported one of the store's invariants broken.";
    VersionRefusalWrong => "version-refusal-wrong", "A member version change was refused, or accepted, against the plan.";
    DowngradedFieldLeft => "downgraded-field-left", "A field of the newer version was left after a storage downgrade.";
    RequiredStepSkipped => "required-step-skipped", "A step the plan requires never ran.";
    OperatorRefused => "operator-refused", "An operator request a correct store must accept was refused.";
    UnsafeChangeAccepted => "unsafe-change-accepted", "A membership change the strict reconfiguration check must decline was accepted.";
    AlarmNotCleared => "alarm-not-cleared", "An alarm the plan expected was not raised, members listed different alarms, or an alarm stayed on after the operator disarmed it.";
    SimulationPanic => "simulation-panic", "The simulation itself panicked.";
    Unclassified => "unclassified", "A rule this build does not know.";
}

impl Anomaly {
    /// The class of a violation of `rule` when the evidence says nothing
    /// finer: every registered rule has one, an unknown rule is `unclassified`.
    pub fn fallback(rule: &str) -> Anomaly {
        match rule {
            rules::LINEARIZABILITY => Anomaly::NotLinearizable,
            rules::READS_SERIALIZABLE => Anomaly::SerializableReadWrong,
            rules::ERRORS_NO_FALSE_REFUSAL => Anomaly::FalseRefusal,
            rules::ERRORS_KIND_ANSWERED => Anomaly::KindNeverAnswered,
            rules::ERRORS_CAPPED_UNDER_NOSPACE => Anomaly::WriteUnderNospace,
            rules::WATCH_FILTER => Anomaly::UnselectedEvent,
            rules::WATCH_ORDERED => Anomaly::OutOfOrderEvent,
            rules::WATCH_UNIQUE => Anomaly::DuplicateEvent,
            rules::WATCH_ATOMIC => Anomaly::SplitRevision,
            rules::WATCH_BOOKMARKABLE => Anomaly::EventAfterProgress,
            rules::WATCH_RELIABLE => Anomaly::MissingEvent,
            rules::WATCH_RESUMABLE => Anomaly::WrongFirstEvent,
            rules::WATCH_PREV_KV => Anomaly::WrongPrevKv,
            rules::WATCH_IS_CREATE => Anomaly::WrongCreateFlag,
            rules::WATCH_CANCEL_ON_COMPACTION => Anomaly::MissedCompactionCancel,
            rules::WATCH_CANCEL_ACKNOWLEDGED => Anomaly::CancelUnanswered,
            rules::K8S_LIST_PINNED => Anomaly::ListNotPinned,
            rules::K8S_LIST_COMPLETE => Anomaly::ListIncomplete,
            rules::K8S_OPTIMISTIC_WRITE => Anomaly::OptimisticWriteWrong,
            rules::K8S_WATCH_FROM_LIST => Anomaly::WatchFromListBroken,
            rules::K8S_WATCH_PREV_KV => Anomaly::MissingPrevKv,
            rules::K8S_WATCH_COMPACTED => Anomaly::MissedCompactionCancel,
            rules::K8S_BOOKMARKS => Anomaly::BookmarkAhead,
            rules::END_HASHKV => Anomaly::HashDivergence,
            rules::END_MEMBERS => Anomaly::MembershipDivergence,
            rules::END_DURABILITY => Anomaly::AckedWriteMissingAtEnd,
            rules::END_LIVENESS => Anomaly::NoLivenessAfterHeal,
            rules::END_LEASES_EXPIRE => Anomaly::LeaseOutlived,
            rules::END_COMPACTION_FINISHES => Anomaly::CompactionStalled,
            rules::END_WATCHERS_CATCH_UP => Anomaly::WatcherStuck,
            rules::MEMBER_NO_UNEXPECTED_EXIT => Anomaly::MemberExit,
            rules::STORE_INVARIANT => Anomaly::InvariantBroken,
            rules::VERSION_EXPECTED_REFUSAL => Anomaly::VersionRefusalWrong,
            rules::VERSION_DOWNGRADED_FIELDS => Anomaly::DowngradedFieldLeft,
            rules::PLAN_REQUIRED_STEP => Anomaly::RequiredStepSkipped,
            rules::OPERATOR_ACCEPTED => Anomaly::OperatorRefused,
            rules::OPERATOR_UNSAFE_DECLINED => Anomaly::UnsafeChangeAccepted,
            rules::OPERATOR_ALARM_CLEARED => Anomaly::AlarmNotCleared,
            rules::RUN_NO_PANIC => Anomaly::SimulationPanic,
            _ => Anomaly::Unclassified,
        }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// A word that names no class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown anomaly class {0:?} (expected one of `faultline list classes`)")]
pub struct UnknownAnomaly(pub String);

impl FromStr for Anomaly {
    type Err = UnknownAnomaly;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        Anomaly::ALL
            .iter()
            .copied()
            .find(|a| a.word() == word)
            .ok_or_else(|| UnknownAnomaly(word.to_string()))
    }
}

impl Serialize for Anomaly {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.word())
    }
}

impl<'de> Deserialize<'de> for Anomaly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        word.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_unique_and_parse_back() {
        let mut words: Vec<&str> = Anomaly::ALL.iter().map(|a| a.word()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), Anomaly::ALL.len());
        for a in Anomaly::ALL {
            assert_eq!(a.word().parse::<Anomaly>(), Ok(*a));
            assert!(!a.meaning().is_empty());
        }
        assert!("stale read".parse::<Anomaly>().is_err());
    }

    #[test]
    fn every_registered_rule_has_its_own_fallback() {
        for rule in rules::rules() {
            assert_ne!(
                Anomaly::fallback(rule.name),
                Anomaly::Unclassified,
                "{}",
                rule.name
            );
        }
        assert_eq!(Anomaly::fallback("no.such-rule"), Anomaly::Unclassified);
    }

    #[test]
    fn serializes_as_its_word() {
        let json = serde_json::to_string(&Anomaly::MissingEvent).unwrap();
        assert_eq!(json, "\"missing-event\"");
        assert_eq!(
            serde_json::from_str::<Anomaly>(&json).unwrap(),
            Anomaly::MissingEvent
        );
        assert!(serde_json::from_str::<Anomaly>("\"nope\"").is_err());
    }
}
