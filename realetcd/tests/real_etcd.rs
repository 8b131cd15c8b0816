//! Against a real etcd (Debian's etcd-server, which ci/test.sh installs,
//! or $FAULTLINE_ETCD): the harness starts a member and always stops it,
//! and a sequence's answers are what etcd's API says they are.

use differential::answer::{Answer, Body, Code};
use differential::step::{Put, Rev, Step};
use differential::{Sequence, generate};
use realetcd::{execute, harness};

fn binary() -> std::path::PathBuf {
    harness::binary().unwrap_or_else(|e| {
        panic!("{e}: this test needs a real etcd (ci/test.sh installs Debian's etcd-server)")
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn put(key: &str, value: &str) -> Step {
    Step::Put(Put {
        key: key.into(),
        value: value.into(),
        padding: Default::default(),
        lease: 0,
        prev_kv: true,
        ignore_value: false,
        ignore_lease: false,
    })
}

#[test]
fn a_member_answers_and_is_gone_when_dropped() {
    let binary = binary();
    let rt = runtime();
    let endpoint = rt.block_on(async {
        let (member, mut client) = harness::Member::start(&binary).await.expect("etcd starts");
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
        let answers = execute::run(&mut client, &sequence).await;
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
        let (_member, mut client) = harness::Member::start(&binary).await.expect("etcd starts");
        let sequence = Sequence {
            seed: 3,
            steps: generate::sequence(3, 150),
        };
        let answers = execute::run(&mut client, &sequence).await;
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
