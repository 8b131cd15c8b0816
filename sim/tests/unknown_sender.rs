//! A member that missed a newcomer's addition still hears the newcomer once
//! it leads. The member does not read the newcomer's stream (it does not
//! know it as a member), so the newcomer sends by pipeline, which every
//! member takes from anyone, and the member answers it as a remote until it
//! applies the addition, as etcd's rafthttp does (`peer.pick`,
//! `addRemoteFromRequest`). When the member dropped whatever a peer it did
//! not know sent, it stayed behind for good: with pre-vote it could not
//! disrupt the leader it never heard.

mod common;

use common::{client_on, fourth_member_joining, on_three_members, put, wait_for_leader};
use node::coverage::Point;
use node::server::reconfig_check::HEALTH_INTERVAL;
use node::wire::api::{
    MemberAddRequest, MoveLeaderRequest, RangeRequest, client_request, client_response,
};
use sim::member_ip;
use std::time::Duration;

fn serializable_read(key: &str) -> client_request::Body {
    client_request::Body::Range(RangeRequest {
        key: key.as_bytes().to_vec(),
        serializable: true,
        ..Default::default()
    })
}

#[test]
fn a_member_that_missed_a_newcomer_catches_up_once_the_newcomer_leads() {
    on_three_members(0..3, |seed, endpoints, world| async move {
        let leader = wait_for_leader(&endpoints).await;
        madsim::time::sleep(HEALTH_INTERVAL + Duration::from_secs(1)).await;
        let behind = (1..=3).rev().find(|m| *m != leader).unwrap();
        let others: Vec<u64> = (1..=3).filter(|m| *m != behind).collect();
        let links = world.partition(&[&[behind], &others]);
        // Within the read timeout the cut member still counts as connected,
        // so the strict reconfiguration check lets the add through.
        let mut on_leader = client_on(&endpoints, leader);
        on_leader
            .request(client_request::Body::MemberAdd(MemberAddRequest {
                id: 4,
                ip: member_ip(4).to_string(),
                is_learner: false,
            }))
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: the add: {e:?}"));
        let template = world.config(leader).expect("the leader's config");
        world.start_member(fourth_member_joining(template));
        madsim::time::sleep(Duration::from_secs(3)).await;
        let moved = on_leader
            .request(client_request::Body::MoveLeader(MoveLeaderRequest {
                target_id: 4,
            }))
            .await;
        assert!(moved.is_ok(), "seed {seed}: moving the leader: {moved:?}");
        let mut on_newcomer = client_on(&[(4, member_ip(4))], 4);
        on_newcomer
            .request(put("after".into(), "v".into()))
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: a put led by m4: {e:?}"));

        world.heal_links(&links);
        let mut at_behind = client_on(&[(behind, member_ip(behind))], behind);
        let mut caught_up = false;
        for _ in 0..100 {
            if let Ok(client_response::Body::Range(r)) =
                at_behind.request(serializable_read("after")).await
                && !r.kvs.is_empty()
            {
                caught_up = true;
                break;
            }
            madsim::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(caught_up, "seed {seed}: m{behind} never caught up with m4");
        assert!(
            world
                .points_reached()
                .contains_key(&Point::PeerHeardFromNonMember),
            "seed {seed}: m{behind} heard m4 as a remote"
        );
    });
}
