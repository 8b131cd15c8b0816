//! The names of every rule a run can report, with one line each: the
//! properties the checker decides from a history, and the ones a run's
//! engine decides from what it saw happen (member exits, operator steps,
//! versions). One registry, so `faultline list rules`, the reports and the
//! bug table share these constants.

use serde::Serialize;

pub const LINEARIZABILITY: &str = "linearizability";
pub const READS_SERIALIZABLE: &str = "reads.serializable";
pub const ERRORS_NO_FALSE_REFUSAL: &str = "errors.no-false-refusal";
pub const ERRORS_KIND_ANSWERED: &str = "errors.kind-answered";
pub const ERRORS_CAPPED_UNDER_NOSPACE: &str = "errors.capped-under-nospace";
pub const WATCH_FILTER: &str = "watch.filter";
pub const WATCH_ORDERED: &str = "watch.ordered";
pub const WATCH_UNIQUE: &str = "watch.unique";
pub const WATCH_ATOMIC: &str = "watch.atomic";
pub const WATCH_BOOKMARKABLE: &str = "watch.bookmarkable";
pub const WATCH_RELIABLE: &str = "watch.reliable";
pub const WATCH_RESUMABLE: &str = "watch.resumable";
pub const WATCH_PREV_KV: &str = "watch.prev-kv";
pub const WATCH_IS_CREATE: &str = "watch.is-create";
pub const WATCH_CANCEL_ON_COMPACTION: &str = "watch.cancel-on-compaction";
pub const WATCH_CANCEL_ACKNOWLEDGED: &str = "watch.cancel-acknowledged";
pub const K8S_LIST_PINNED: &str = "k8s.list-pinned";
pub const K8S_LIST_COMPLETE: &str = "k8s.list-complete";
pub const K8S_OPTIMISTIC_WRITE: &str = "k8s.optimistic-write";
pub const K8S_WATCH_FROM_LIST: &str = "k8s.watch-from-list";
pub const K8S_WATCH_PREV_KV: &str = "k8s.watch-prev-kv";
pub const K8S_WATCH_COMPACTED: &str = "k8s.watch-compacted";
pub const K8S_BOOKMARKS: &str = "k8s.bookmarks";
pub const END_HASHKV: &str = "end.hashkv";
pub const END_MEMBERS: &str = "end.members";
pub const END_DURABILITY: &str = "end.durability";
pub const END_LIVENESS: &str = "end.liveness";
pub const END_LEASES_EXPIRE: &str = "end.leases-expire";
pub const END_COMPACTION_FINISHES: &str = "end.compaction-finishes";
pub const END_WATCHERS_CATCH_UP: &str = "end.watchers-catch-up";
pub const MEMBER_NO_UNEXPECTED_EXIT: &str = "member.no-unexpected-exit";
pub const STORE_INVARIANT: &str = "store.invariant";
pub const VERSION_EXPECTED_REFUSAL: &str = "version.expected-refusal";
pub const VERSION_DOWNGRADED_FIELDS: &str = "version.downgraded-fields";
pub const PLAN_REQUIRED_STEP: &str = "plan.required-step";
pub const OPERATOR_ACCEPTED: &str = "operator.accepted";
pub const OPERATOR_UNSAFE_DECLINED: &str = "operator.unsafe-declined";
pub const OPERATOR_ALARM_CLEARED: &str = "operator.alarm-cleared";
pub const RUN_NO_PANIC: &str = "run.no-panic";

/// Who decides a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DecidedBy {
    /// The checker, from the history and the end state.
    Checker,
    /// The run's engine, from what it saw happen in the simulation.
    Engine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub decided_by: DecidedBy,
}

/// Every rule, in the order reports list them.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        name: LINEARIZABILITY,
        description: "Some order of all operations respects real time and the model (etcd, register or kv) answers every one as observed.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: READS_SERIALIZABLE,
        description: "A successful serializable read at revision R returns exactly the state of the linearized history at R.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: ERRORS_NO_FALSE_REFUSAL,
        description: "A definite error is justified: a refusal for the request's shape (too many operations, duplicate key, empty key, value or lease given with ignore, request too large) only when the request has that fault, and one for the store's state (compacted or future revision, lease not found) only where some linearization of the answered operations puts the store in that state.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: ERRORS_KIND_ANSWERED,
        description: "Every request kind sent at least 5 times away from faults (from its call to its return no fault active or healed in the second before, and past the run's first 2 s while the cluster forms) is answered at least once there: with a success or a refusal that names its reason.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: ERRORS_CAPPED_UNDER_NOSPACE,
        description: "While the cluster certainly holds a NOSPACE alarm (from an operator's alarm list that showed it to the first disarm sent), no Put, Txn that puts or lease grant sent and answered inside that time succeeds: etcd's capped applier refuses them.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_FILTER,
        description: "A watch only delivers events on its key or range, and never an event kind it filtered out.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_ORDERED,
        description: "Event revisions never decrease on a watch.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_UNIQUE,
        description: "No event arrives twice on a watch (same revision and key; for Kubernetes watches, same revision).",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_ATOMIC,
        description: "All events of one revision arrive in the same response.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_BOOKMARKABLE,
        description: "After a progress notification at R no event <= R arrives; notifications never go backwards, below the last event or below the start.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_RELIABLE,
        description: "From its first event to the last revision it reported, a watch delivers every event of the linearized history it selects, each as it happened, the events of one revision in the order they were written.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_RESUMABLE,
        description: "A watch started at revision R first delivers the first selected event with revision >= R (within a revision, in write order).",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_PREV_KV,
        description: "A requested previous key-value, when present, is the key's state at revision - 1.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_IS_CREATE,
        description: "A put event is a create (create revision = mod revision) exactly when the key did not exist at revision - 1.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_CANCEL_ON_COMPACTION,
        description: "A watch whose start revision was compacted on its member before it was requested (as the member itself reported) is cancelled with the compact revision; a compaction cancel is justified and ends the watch.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: WATCH_CANCEL_ACKNOWLEDGED,
        description: "A watch the client cancels away from faults (from the cancel to 200 ms after it no fault active or healed in the second before, and past the run's first 2 s) gets a response marked cancelled: etcd answers the cancel of a watch it has with one, and the client waits 200 ms for it.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: K8S_LIST_PINNED,
        description: "All pages of a list are read at the first page's revision.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: K8S_LIST_COMPLETE,
        description: "A list's pages continue from the last key + \"\\0\", end with more=false and together hold exactly the keys at the list revision.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: K8S_OPTIMISTIC_WRITE,
        description: "An OptimisticPut/OptimisticDelete succeeds exactly when the key's mod revision equals the expected one (0 = absent).",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: K8S_WATCH_FROM_LIST,
        description: "A watch after a list starts at the list revision + 1 and sees every later event exactly once, in order.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: K8S_WATCH_PREV_KV,
        description: "On a Kubernetes watch asking for prev_kv, every update and delete event carries it.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: K8S_WATCH_COMPACTED,
        description: "A watch after a list whose revision was already compacted on the watch's member before it was requested is cancelled (HTTP 410 for the apiserver), never silently resumed.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: K8S_BOOKMARKS,
        description: "A bookmark on a Kubernetes watch never claims a revision the store had not reached when it arrived.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: END_HASHKV,
        description: "Members hashing their key-value data at the same revision (and compact revision) report the same hash (a simulated member reports a hash stricter than etcd's HashKV, which leaves out the tombstone at the compact revision).",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: END_MEMBERS,
        description: "Members that applied the same raft index list the same members (ids, peer addresses, learner flags): the membership is replicated state, as the keys are.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: END_DURABILITY,
        description: "Every acknowledged write is in the final reads unless a later write, delete, lease expiry or key TTL explains its absence.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: END_LIVENESS,
        description: "After the last fault healed, a request succeeded within the liveness bound.",
        decided_by: DecidedBy::Checker,
    },
    RuleInfo {
        name: END_LEASES_EXPIRE,
        description: "On the healed cluster, no lease and no per-key TTL stays alive more than the stated slack past its deadline on the leader (nothing keeps them alive once traffic stopped).",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: END_COMPACTION_FINISHES,
        description: "On the healed cluster, every member finishes the compaction it scheduled within the drain bound.",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: END_WATCHERS_CATCH_UP,
        description: "On the healed cluster, no watcher stays behind the store's revision (unsynced) or stuck behind a full stream (victim) beyond the drain bound.",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: STORE_INVARIANT,
        description: "No member reports a broken invariant: the store asserts, while it runs, what must hold at the places it can break (`faultline list invariants`).",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: MEMBER_NO_UNEXPECTED_EXIT,
        description: "No member process ends on an error that no injected fault explains (a disk fault excuses only the exits it caused: EIO, ENOSPC or damage it made the member read).",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: VERSION_EXPECTED_REFUSAL,
        description: "A member the plan expects to be refused (too old for the data or the cluster) refuses cleanly, and an offline migration the plan expects to work is not refused.",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: VERSION_DOWNGRADED_FIELDS,
        description: "After a storage downgrade, no field of the newer version is left in a member's data.",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: PLAN_REQUIRED_STEP,
        description: "Every step the plan marks required ran: its condition held before the run ended.",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: OPERATOR_ACCEPTED,
        description: "An operator request a correct store must accept (removing an existing member, adding one, enabling a valid downgrade) does not fail with a definite error, nor is a membership change declined as unsafe (\"unhealthy cluster\") while every member runs and has been connected with every other for longer than etcd's 5 s health interval (on 3.7, an add while a quorum of the voters plus the newcomer is).",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: OPERATOR_UNSAFE_DECLINED,
        description: "A member removal etcd's strict reconfiguration check must decline is not accepted: the voter removed is connected to the member asked, and the voters that member counts active (connected for etcd's 5 s health interval) less the one removed are no quorum of the configuration without it, whichever running voter is asked.",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: OPERATOR_ALARM_CLEARED,
        description: "An alarm an operator step expects (NOSPACE after the backend's disk filled) is raised, every running member lists the same alarms (they are replicated, and a restarted member reads them back), and once the operator disarms them every running member reports them cleared.",
        decided_by: DecidedBy::Engine,
    },
    RuleInfo {
        name: RUN_NO_PANIC,
        description: "The simulation itself did not panic.",
        decided_by: DecidedBy::Engine,
    },
];

/// Every rule a run can report, for `faultline list rules` and reports.
pub fn rules() -> &'static [RuleInfo] {
    RULES
}

/// The rules the checker decides from a history (the rest are the engine's).
pub fn checker_rules() -> impl Iterator<Item = &'static RuleInfo> {
    RULES.iter().filter(|r| r.decided_by == DecidedBy::Checker)
}

/// The registered name equal to `name`, if any: text becomes a rule here.
pub fn lookup(name: &str) -> Option<&'static str> {
    RULES.iter().find(|r| r.name == name).map(|r| r.name)
}

/// The rules whose violation is the store's own report of what broke and
/// where (an invariant it asserts, a process exit, a panic): nearest the
/// cause, so a run is filed under them first.
const FILED_FIRST: &[&str] = &[STORE_INVARIANT, MEMBER_NO_UNEXPECTED_EXIT, RUN_NO_PANIC];

/// The order in which a run's violations are taken for the one problem it
/// is filed under on the dashboard (lowest first): the store's own reports
/// ([`FILED_FIRST`]), then every other rule in [`RULES`] order (what
/// clients saw before its consequences at the end state), unknown rules
/// last. A bug that breaks an invariant and, in some runs, a watch rule or
/// two is then one problem, not one per combination: a soak with etcd-15220
/// switched on showed the invariant in every failing run and the watch
/// rules in some.
pub fn filing_order(name: &str) -> (usize, usize) {
    let first = FILED_FIRST
        .iter()
        .position(|r| *r == name)
        .unwrap_or(FILED_FIRST.len());
    let place = RULES
        .iter()
        .position(|r| r.name == name)
        .unwrap_or(RULES.len());
    (first, place)
}

pub fn describe(name: &str) -> Option<&'static str> {
    RULES.iter().find(|r| r.name == name).map(|r| r.description)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_described() {
        let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
        assert!(RULES.iter().all(|r| !r.description.is_empty()));
        assert_eq!(
            describe(WATCH_RELIABLE).map(|d| d.contains("every event")),
            Some(true)
        );
    }

    #[test]
    fn the_store_s_own_reports_are_filed_first_then_rule_order() {
        let mut rules = vec![
            END_HASHKV,
            "no.such-rule",
            WATCH_RELIABLE,
            STORE_INVARIANT,
            LINEARIZABILITY,
        ];
        rules.sort_by_key(|r| filing_order(r));
        assert_eq!(
            rules,
            [
                STORE_INVARIANT,
                LINEARIZABILITY,
                WATCH_RELIABLE,
                END_HASHKV,
                "no.such-rule"
            ]
        );
    }
}
