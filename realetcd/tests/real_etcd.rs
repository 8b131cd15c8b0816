//! Against a real etcd (Debian's etcd-server, which ci/test.sh installs,
//! or $FAULTLINE_ETCD): the harness starts a member and always stops it,
//! and a sequence's answers are what etcd's API says they are.

mod common;

use common::{binary, runtime};
use differential::answer::{Answer, Body, Code};
use differential::step::{Put, Rev, Step, TxnOp};
use differential::{Sequence, generate};
use realetcd::{execute, harness};

fn put_of(key: &str, value: &str) -> Put {
    Put {
        key: key.into(),
        value: value.into(),
        padding: Default::default(),
        lease: 0,
        prev_kv: true,
        ignore_value: false,
        ignore_lease: false,
    }
}

fn put(key: &str, value: &str) -> Step {
    Step::Put(put_of(key, value))
}

#[test]
fn a_member_answers_and_is_gone_when_dropped() {
    let binary = binary();
    let rt = runtime();
    let endpoint = rt.block_on(async {
        let (mut member, mut client) = harness::Member::start(&binary).await.expect("etcd starts");
        let sequence = Sequence {
            seed: 0,
            steps: vec![
                put("a", "1"),
                put("a", "2"),
                Step::Compact {
                    revision: Rev::Head(0),
                    physical: true,
                },
                Step::Compact {
                    revision: Rev::Compacted(0),
                    physical: false,
                },
                Step::LeaseKeepAlive { id: 999 },
            ],
        };
        let answers = execute::run(&mut member, &mut client, &sequence)
            .await
            .answers;
        // The second put returns the first as its previous value.
        let Answer::Ok(reply) = &answers[1] else {
            panic!("put refused: {:?}", answers[1])
        };
        assert_eq!(reply.revision, 3);
        let Body::Put { prev_kv: Some(prev) } = &reply.body else {
            panic!("no previous value: {reply:?}")
        };
        assert_eq!((prev.value.as_str(), prev.mod_revision), ("1", 2));
        // Compacting at the compact revision again is refused as etcd says.
        assert_eq!(
            answers[3],
            Answer::Error {
                code: Code::OutOfRange,
                message: "etcdserver: mvcc: required revision has been compacted".into()
            }
        );
        // A keep-alive of an unknown lease is an answer with TTL 0.
        assert!(
            matches!(&answers[4], Answer::Ok(r) if r.body == Body::LeaseKeepAlive { id: 999, ttl: 0 }),
            "{:?}",
            answers[4]
        );
        let endpoint = member.endpoint.clone();
        drop(member);
        endpoint
    });
    // Nothing listens on the member's port any more.
    let port = endpoint.rsplit(':').next().unwrap_or_default();
    let addr = format!("127.0.0.1:{port}");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "etcd still listens on {addr} after the member was dropped"
    );
}

#[test]
fn every_generated_request_gets_an_answer() {
    let binary = binary();
    let rt = runtime();
    rt.block_on(async {
        let (mut member, mut client) = harness::Member::start(&binary).await.expect("etcd starts");
        let sequence = Sequence {
            seed: 3,
            steps: generate::sequence(3, 150),
        };
        let run = execute::run(&mut member, &mut client, &sequence).await;
        assert_eq!(run.exited, None, "etcd ended");
        let answers = run.answers;
        assert_eq!(answers.len(), 150);
        // Nothing was left unanswered: an unavailable member would say so.
        let unavailable = answers
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Answer::Error {
                        code: Code::Unavailable,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(unavailable, 0, "{answers:?}");
    });
}

/// A Txn that deletes every key from "a" on and puts "p/2" again keeping
/// its lease: etcd's duplicate-key check lets it through (etcd #22445), and
/// at apply the key is gone. etcd 3.4.23 panics on it ("unexpected error
/// during txn: etcdserver: key not found"), found by `faultline diff`; an
/// etcd with the check fixed (PR 22395) refuses it as a duplicate key.
/// Either way it is never answered as if it had run.
#[test]
fn a_rewrite_keeping_a_deleted_key_s_lease_ends_etcd_or_is_refused() {
    let binary = binary();
    let rt = runtime();
    rt.block_on(async {
        let (mut member, mut client) = harness::Member::start(&binary).await.expect("etcd starts");
        let rewrite = Step::Txn(differential::step::Txn {
            compare: vec![],
            success: vec![
                TxnOp::Delete(differential::step::Delete {
                    key: "a".into(),
                    range_end: "\0".into(),
                    prev_kv: false,
                }),
                TxnOp::Put(Put {
                    ignore_lease: true,
                    ..put_of("p/2", "v2")
                }),
            ],
            failure: vec![],
        });
        let sequence = Sequence {
            seed: 0,
            steps: vec![put("p/2", "v1"), rewrite, Step::Status],
        };
        let run = execute::run(&mut member, &mut client, &sequence).await;
        match &run.exited {
            Some(exit) => {
                assert_eq!(exit.step, 1);
                assert!(exit.log.contains("panic"), "{}", exit.log);
                assert_eq!(run.answers.len(), 2, "nothing is sent after the end");
            }
            None => assert_eq!(
                run.answers[1],
                Answer::Error {
                    code: Code::InvalidArgument,
                    message: "etcdserver: duplicate key given in txn request".into()
                }
            ),
        }
    });
}
