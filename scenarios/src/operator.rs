//! The operator's requests to the cluster (member add and remove, enabling
//! a downgrade): tried again, as an operator would, while the answer is
//! unknown, the cluster cannot take requests yet or it says the change is
//! unsafe now, then classified. A request the correct store must accept
//! that ends refused is a violation for the engine to report; one that
//! never got a definite answer, or that the cluster kept declining as
//! unsafe, is a step that was not applied. Declining as unsafe a change
//! the cluster was whole for (`crate::health`) is a refusal; accepting one
//! etcd's check must decline is a violation too ([`Judge::must_decline`]).

use node::client::ClientError;
use node::wire::api::ErrorCode;
use sim::SharedTrace;
use std::future::Future;
use std::time::Duration;

/// Attempts before the operator gives up on a request that gets no answer.
const ATTEMPTS: u32 = 10;
/// The pause between two attempts.
const BACKOFF: Duration = Duration::from_millis(500);
/// How long the operator keeps asking while the cluster declines a
/// membership change as unsafe now ("unhealthy cluster": a voter down, or
/// connected for less than etcd's 5 s health interval). etcd's robustness
/// tests wait the health interval and ask again; twice that lets a member
/// that just restarted count as connected.
const UNHEALTHY_WAIT: Duration = Duration::from_secs(10);

/// What the engine knows a correct store must do with a request.
pub trait Judge {
    /// Whether an "unhealthy cluster" answer would be a refusal now.
    fn must_accept(&self) -> bool;

    /// Whether accepting it would be unsafe: asked with zero just before
    /// an attempt is sent, and again with the time the attempt took once
    /// it was accepted; both must hold.
    fn must_decline(&self, _since: Duration) -> bool {
        false
    }
}

/// A request judged only on declines: `|| whole`.
impl<F: Fn() -> bool> Judge for F {
    fn must_accept(&self) -> bool {
        self()
    }
}

/// How an operator request ended.
#[derive(Debug)]
pub enum Outcome {
    /// The cluster accepted it.
    Applied,
    /// The cluster accepted a change a correct store declines as unsafe.
    AcceptedUnsafe,
    /// An earlier attempt whose answer was lost took effect: the retry was
    /// refused with the error that says so.
    AppliedEarlier,
    /// A definite refusal.
    Refused(ClientError),
    /// No attempt got a definite answer.
    NoAnswer(ClientError),
    /// The cluster kept declining it as unsafe now (etcd's strict
    /// reconfiguration check) for [`UNHEALTHY_WAIT`]: what the correct
    /// store does with a member down, so not a refusal.
    Declined(ClientError),
}

/// Whether an error says nothing about the request (it may be tried again).
fn transient(e: &ClientError) -> bool {
    e.outcome_unknown()
        || matches!(
            e,
            ClientError::Unavailable(_)
                | ClientError::Server {
                    code: ErrorCode::NoLeader
                        | ErrorCode::LeaderChanged
                        | ErrorCode::NotMember
                        // A cluster whose members have not agreed on a
                        // version yet (its first second): ask again.
                        | ErrorCode::UnknownClusterVersion
                        // With no leader known, the member asked was a
                        // learner, which serves no such request: ask again.
                        | ErrorCode::NotSupportedForLearner,
                    ..
                }
        )
}

/// Sends a request through `attempt` until it is answered. `done` is the
/// refusal the cluster gives when the request already took effect (e.g.
/// "member not found" for a removal): after an attempt whose outcome was
/// unknown, that refusal means the earlier attempt was applied. `judge`
/// says whether an "unhealthy cluster" answer is a refusal, not a
/// decline, and whether an acceptance is unsafe. Each retry is a trace
/// line under `what`.
pub async fn request<F, Fut>(
    trace: &SharedTrace,
    what: &str,
    done: ErrorCode,
    judge: impl Judge,
    mut attempt: F,
) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), ClientError>>,
{
    let mut unsure = false;
    let mut n = 1;
    let mut unanswered = 0;
    let mut declined_since = None;
    loop {
        let unsafe_now = judge.must_decline(Duration::ZERO);
        let sent = madsim::time::Instant::now();
        let e = match attempt().await {
            Ok(()) if unsafe_now && judge.must_decline(sent.elapsed()) => {
                return Outcome::AcceptedUnsafe;
            }
            Ok(()) => return Outcome::Applied,
            Err(e) => e,
        };
        if unsure && matches!(&e, ClientError::Server { code, .. } if *code == done) {
            return Outcome::AppliedEarlier;
        }
        if matches!(
            &e,
            ClientError::Server {
                code: ErrorCode::Unhealthy,
                ..
            }
        ) {
            if judge.must_accept() {
                return Outcome::Refused(e);
            }
            let now = madsim::time::Instant::now();
            if now - *declined_since.get_or_insert(now) >= UNHEALTHY_WAIT {
                return Outcome::Declined(e);
            }
        } else if !transient(&e) {
            return Outcome::Refused(e);
        } else {
            unanswered += 1;
            if unanswered == ATTEMPTS {
                return Outcome::NoAnswer(e);
            }
        }
        unsure |= e.outcome_unknown();
        trace.record(
            "engine",
            what,
            format!("attempt {n} failed ({e}); retrying"),
        );
        madsim::time::sleep(BACKOFF).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: ErrorCode) -> ClientError {
        ClientError::Server {
            code,
            message: String::new(),
            compact_revision: 0,
            leader_hint: 0,
        }
    }

    #[test]
    fn definite_refusals_are_not_retried_and_lost_answers_are() {
        assert!(!transient(&server(ErrorCode::MemberNotFound)));
        assert!(!transient(&server(ErrorCode::InvalidDowngradeTarget)));
        assert!(transient(&server(ErrorCode::NoLeader)));
        assert!(transient(&server(ErrorCode::NotSupportedForLearner)));
        assert!(transient(&ClientError::Timeout));
    }

    #[test]
    fn a_refusal_after_a_lost_answer_means_the_first_attempt_took_effect() {
        let outcome = sim::run_seed(1, |_world| async {
            let trace = SharedTrace::default();
            let mut answers = vec![
                Err(server(ErrorCode::MemberNotFound)),
                Err(ClientError::Timeout),
            ];
            let outcome = request(
                &trace,
                "member",
                ErrorCode::MemberNotFound,
                || false,
                || {
                    let answer = answers.pop().expect("an answer per attempt");
                    async move { answer }
                },
            )
            .await;
            (
                matches!(outcome, Outcome::AppliedEarlier),
                trace.take().len(),
            )
        });
        let ((applied_earlier, retries), _) = outcome.expect("no panic");
        assert!(applied_earlier);
        assert_eq!(retries, 1);
    }

    /// How a request the cluster always answers with `code` ends, and how
    /// long the operator kept asking; `whole` as the engine would judge the
    /// cluster.
    fn always_answered(seed: u64, code: ErrorCode, whole: bool) -> (Outcome, Duration) {
        let outcome = sim::run_seed(seed, move |_world| async move {
            let trace = SharedTrace::default();
            let start = madsim::time::Instant::now();
            let outcome = request(
                &trace,
                "member",
                ErrorCode::MemberNotFound,
                || whole,
                || async move { Err(server(code)) },
            )
            .await;
            (outcome, start.elapsed())
        });
        outcome.expect("no panic").0
    }

    #[test]
    fn an_unhealthy_cluster_is_asked_again_for_a_while_then_the_step_is_declined() {
        let (outcome, waited) = always_answered(3, ErrorCode::Unhealthy, false);
        assert!(matches!(outcome, Outcome::Declined(_)), "{outcome:?}");
        assert!(waited >= UNHEALTHY_WAIT, "{waited:?}");
    }

    #[test]
    fn an_unhealthy_answer_from_a_whole_cluster_is_a_refusal() {
        let (outcome, _) = always_answered(4, ErrorCode::Unhealthy, true);
        assert!(
            matches!(
                outcome,
                Outcome::Refused(ClientError::Server {
                    code: ErrorCode::Unhealthy,
                    ..
                })
            ),
            "{outcome:?}"
        );
    }

    /// A judge that takes every acceptance for unsafe when `unsafe_`.
    struct Always {
        unsafe_: bool,
    }

    impl Judge for Always {
        fn must_accept(&self) -> bool {
            false
        }

        fn must_decline(&self, _since: Duration) -> bool {
            self.unsafe_
        }
    }

    #[test]
    fn an_acceptance_the_judge_holds_unsafe_is_reported_as_such() {
        let accepted = |unsafe_: bool| {
            sim::run_seed(5, move |_world| async move {
                let trace = SharedTrace::default();
                request(
                    &trace,
                    "member",
                    ErrorCode::MemberNotFound,
                    Always { unsafe_ },
                    || async { Ok(()) },
                )
                .await
            })
            .expect("no panic")
            .0
        };
        assert!(matches!(accepted(true), Outcome::AcceptedUnsafe));
        assert!(matches!(accepted(false), Outcome::Applied));
    }

    #[test]
    fn a_refusal_with_nothing_lost_is_a_refusal() {
        let (outcome, _) = always_answered(2, ErrorCode::MemberNotFound, false);
        assert!(matches!(outcome, Outcome::Refused(_)), "{outcome:?}");
    }
}
