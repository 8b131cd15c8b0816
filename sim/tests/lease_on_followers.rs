//! Lease renewals and time-to-live asked of a follower reach the leader, as
//! etcd's do (LeaseRenew and LeaseTimeToLive pass them on over the peer
//! port): a client on any member keeps its lease alive. A request another
//! member passed on is answered by its receiver or refused as not leader,
//! never passed on again.

mod common;

use common::{client_on, on_three_members, wait_for_leader};
use node::client::ClientError;
use node::wire::api::{
    ErrorCode, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseTimeToLiveRequest, client_request,
    client_response,
};

#[test]
fn a_follower_passes_lease_renewals_and_time_to_live_to_the_leader() {
    on_three_members(0..3, |seed, endpoints, _world| async move {
        let leader = wait_for_leader(&endpoints).await;
        let follower = endpoints
            .iter()
            .map(|e| e.0)
            .find(|m| *m != leader)
            .unwrap();
        let grant = client_on(&endpoints, leader)
            .request(client_request::Body::LeaseGrant(LeaseGrantRequest {
                ttl: 30,
                id: 0,
            }))
            .await;
        let Ok(client_response::Body::LeaseGrant(g)) = grant else {
            panic!("seed {seed}: grant {grant:?}");
        };
        let keep_alive = client_request::Body::LeaseKeepAlive(LeaseKeepAliveRequest { id: g.id });
        let renewed = client_on(&endpoints, follower)
            .request(keep_alive.clone())
            .await;
        assert!(
            matches!(&renewed, Ok(client_response::Body::LeaseKeepAlive(k)) if k.ttl == 30),
            "seed {seed}: renewal on follower m{follower}: {renewed:?}"
        );
        let ttl = client_on(&endpoints, follower)
            .request(client_request::Body::LeaseTimeToLive(
                LeaseTimeToLiveRequest {
                    id: g.id,
                    keys: true,
                },
            ))
            .await;
        assert!(
            matches!(&ttl, Ok(client_response::Body::LeaseTimeToLive(t)) if t.ttl > 0 && t.granted_ttl == 30),
            "seed {seed}: time-to-live on follower m{follower}: {ttl:?}"
        );
        // Passed on already: the follower says it is not the leader.
        let again = client_on(&endpoints, follower)
            .from_peer()
            .request(keep_alive)
            .await;
        assert!(
            matches!(&again, Err(ClientError::Server { code: ErrorCode::NoLeader, leader_hint, .. }) if *leader_hint == leader),
            "seed {seed}: a passed-on renewal on m{follower}: {again:?}"
        );
    });
}
