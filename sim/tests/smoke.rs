use node::bugs::BugSet;
use node::client::Client;
use node::config::{MemberConfig, Peer, StoreKnobs};
use node::version::Version;
use node::wire::api::{PutRequest, RangeRequest, client_request, client_response};
use sim::{member_ip, run_seed};
use std::time::Duration;

fn configs(n: u64) -> Vec<MemberConfig> {
    let peers: Vec<Peer> = (1..=n)
        .map(|id| Peer {
            id,
            ip: member_ip(id),
        })
        .collect();
    (1..=n)
        .map(|id| MemberConfig {
            id,
            version: Version::V3_6,
            cluster_id: 1,
            peers: peers.clone(),
            join_existing: false,
            knobs: StoreKnobs::default(),
            bugs: BugSet::none(),
        })
        .collect()
}

#[test]
fn three_members_serve_puts_and_gets() {
    let (out, info) = run_seed(1, |world| async move {
        for c in configs(3) {
            world.start_member(c);
        }
        let endpoints = world.endpoints();
        let h = world.spawn_client(1, async move {
            madsim::time::sleep(Duration::from_secs(1)).await;
            let mut client = Client::new(endpoints, 0, Duration::from_secs(2));
            let mut acked = 0;
            for i in 0..50 {
                let put = client_request::Body::Put(PutRequest {
                    key: format!("k{}", i % 5).into_bytes(),
                    value: format!("v{i}").into_bytes(),
                    ..Default::default()
                });
                if client.request(put).await.is_ok() {
                    acked += 1;
                }
            }
            let get = client_request::Body::Range(RangeRequest {
                key: b"k".to_vec(),
                range_end: b"l".to_vec(),
                ..Default::default()
            });
            let resp = client.request(get).await;
            (acked, resp)
        });
        let (acked, resp) = h.await.expect("client task");
        (
            acked,
            resp,
            world.trace.hash(),
            world.trace.with(|t| t.len()),
        )
    })
    .expect("run");
    let (acked, resp, hash, events) = out;
    eprintln!(
        "acked={acked} events={events} hash={hash} sim={:?} wall={:?}",
        info.sim_time, info.wall_time
    );
    assert!(acked >= 45, "acked {acked}");
    match resp {
        Ok(client_response::Body::Range(r)) => {
            assert_eq!(r.count, 5);
            assert_eq!(r.header.map(|h| h.revision), Some(acked as i64 + 1));
        }
        other => panic!("range failed: {other:?}"),
    }
}
