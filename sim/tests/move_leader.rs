//! MoveLeader answers once the transfer happened, as etcd's does: after
//! the answer the target leads; a target that is not a voter is refused
//! with etcd's "bad leader transferee"; a follower refuses as not leader.

mod common;

use common::{configs, leader_seen_by, put, read_all};
use node::client::{Client, ClientError};
use node::config::StoreKnobs;
use node::wire::api::{ErrorCode, MoveLeaderRequest, client_request, client_response};
use sim::run_seed;
use std::time::Duration;

async fn move_leader(
    endpoints: &[(u64, std::net::IpAddr)],
    via: u64,
    target: u64,
) -> Result<client_response::Body, ClientError> {
    let start = endpoints.iter().position(|e| e.0 == via).unwrap_or(0);
    let mut c = Client::new(endpoints.to_vec(), start, Duration::from_secs(5));
    c.request(client_request::Body::MoveLeader(MoveLeaderRequest {
        target_id: target,
    }))
    .await
}

#[test]
fn move_leader_answers_after_the_target_leads() {
    for seed in 0..5 {
        let ((), _) = run_seed(seed, move |world| async move {
            for c in configs(3, StoreKnobs::default()) {
                world.start_member(c);
            }
            let endpoints = world.endpoints();
            world
                .spawn_client(1, async move {
                    let mut leader = 0;
                    for _ in 0..50 {
                        leader = leader_seen_by(&endpoints, 1).await;
                        if leader != 0 {
                            break;
                        }
                        madsim::time::sleep(Duration::from_millis(100)).await;
                    }
                    assert_ne!(leader, 0, "seed {seed}: no leader");
                    let follower = (1..=3).find(|m| *m != leader).expect("a follower");
                    let other = (1..=3)
                        .find(|m| *m != leader && *m != follower)
                        .expect("a second follower");

                    // A follower does not take it.
                    let refused = move_leader(&endpoints, follower, other).await;
                    assert!(
                        matches!(
                            refused,
                            Err(ClientError::Server {
                                code: ErrorCode::NoLeader,
                                ..
                            })
                        ),
                        "seed {seed}: {refused:?}"
                    );
                    // Not a member: etcd's bad leader transferee.
                    let bad = move_leader(&endpoints, leader, 99).await;
                    assert!(
                        matches!(
                            &bad,
                            Err(ClientError::Server { code: ErrorCode::BadLeaderTransferee, message, .. })
                                if message == "etcdserver: bad leader transferee"
                        ),
                        "seed {seed}: {bad:?}"
                    );
                    // Answered only once the follower leads.
                    let moved = move_leader(&endpoints, leader, follower).await;
                    assert!(
                        matches!(moved, Ok(client_response::Body::MoveLeader(_))),
                        "seed {seed}: {moved:?}"
                    );
                    assert_eq!(
                        leader_seen_by(&endpoints, leader).await,
                        follower,
                        "seed {seed}: the old leader does not see the target leading"
                    );
                    // And the cluster serves under its new leader.
                    let mut c = Client::new(endpoints.clone(), 0, Duration::from_secs(1));
                    let mut written = false;
                    for _ in 0..20 {
                        if c.request(put("after".into(), "move".into())).await.is_ok() {
                            written = true;
                            break;
                        }
                    }
                    assert!(written, "seed {seed}: no write after the move");
                    assert!(
                        read_all(&mut c)
                            .await
                            .contains(&("after".to_string(), "move".to_string())),
                        "seed {seed}"
                    );
                })
                .await
                .expect("the client finishes");
        })
        .expect("the run completes");
    }
}
