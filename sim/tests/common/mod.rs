//! Helpers shared by the simulation tests of this crate.

use node::bugs::BugSet;
use node::client::Client;
use node::config::{MemberConfig, Peer, StoreKnobs};
use node::version::Version;
use node::wire::api::{PutRequest, RangeRequest, StatusRequest, client_request, client_response};
use sim::{World, member_ip, run_seed};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Members 1 to `n`, each at its simulated address.
fn peers(n: u64) -> Vec<Peer> {
    (1..=n)
        .map(|id| Peer {
            id,
            ip: member_ip(id),
        })
        .collect()
}

pub fn configs(n: u64, knobs: StoreKnobs) -> Vec<MemberConfig> {
    let peers = peers(n);
    (1..=n)
        .map(|id| MemberConfig {
            id,
            version: Version::V3_6,
            cluster_id: 1,
            peers: peers.clone(),
            join_existing: false,
            knobs: knobs.clone(),
            bugs: BugSet::none(),
        })
        .collect()
}

/// `template` (a member of the three-member cluster) made member 4,
/// joining the existing cluster once the cluster has added it.
#[allow(dead_code)] // each test binary compiles this module; some never add
pub fn fourth_member_joining(template: MemberConfig) -> MemberConfig {
    MemberConfig {
        id: 4,
        join_existing: true,
        peers: peers(4),
        ..template
    }
}

#[allow(dead_code)] // each test binary compiles this module; some never write
pub fn put(key: String, value: String) -> client_request::Body {
    client_request::Body::Put(PutRequest {
        key: key.into_bytes(),
        value: value.into_bytes(),
        ..Default::default()
    })
}

/// Every key with its value, read linearizably (retrying until it works).
#[allow(dead_code)] // each test binary compiles this module; some never read back
pub async fn read_all(client: &mut Client) -> Vec<(String, String)> {
    for _ in 0..100 {
        let req = client_request::Body::Range(RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        });
        if let Ok(client_response::Body::Range(r)) = client.request(req).await {
            return r
                .kvs
                .iter()
                .map(|kv| {
                    (
                        String::from_utf8_lossy(&kv.key).into_owned(),
                        String::from_utf8_lossy(&kv.value).into_owned(),
                    )
                })
                .collect();
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the cluster never answered the final read");
}

/// The leader as `member` sees it (0 when it knows none).
#[allow(dead_code)] // each test binary compiles this module; some never ask
pub async fn leader_seen_by(endpoints: &[(u64, std::net::IpAddr)], member: u64) -> u64 {
    let start = endpoints.iter().position(|e| e.0 == member).unwrap_or(0);
    let mut c = Client::new(endpoints.to_vec(), start, Duration::from_millis(500));
    match c
        .request(client_request::Body::Status(StatusRequest {}))
        .await
    {
        Ok(client_response::Body::Status(s)) => s.leader,
        _ => 0,
    }
}

/// The leader once member 1 knows one (asked every 100 ms, up to 5 s).
#[allow(dead_code)] // each test binary compiles this module; some never ask
pub async fn wait_for_leader(endpoints: &[(u64, std::net::IpAddr)]) -> u64 {
    for _ in 0..50 {
        let leader = leader_seen_by(endpoints, 1).await;
        if leader != 0 {
            return leader;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no leader");
}

/// A client that asks `member` first.
#[allow(dead_code)] // each test binary compiles this module; some never ask
pub fn client_on(endpoints: &[(u64, std::net::IpAddr)], member: u64) -> Client {
    let start = endpoints.iter().position(|e| e.0 == member).unwrap_or(0);
    Client::new(endpoints.to_vec(), start, Duration::from_secs(5))
}

/// For each seed: a fresh three-member cluster with default knobs, and
/// `body` run as client 1 with the seed, the members' endpoints and the
/// world; no member may break an invariant meanwhile.
#[allow(dead_code)] // each test binary compiles this module; some never ask
pub fn on_three_members<F, Fut>(seeds: std::ops::Range<u64>, body: F)
where
    F: Fn(u64, Vec<(u64, IpAddr)>, Arc<World>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    for seed in seeds {
        let body = body.clone();
        let ((), _) = run_seed(seed, move |world| async move {
            for c in configs(3, StoreKnobs::default()) {
                world.start_member(c);
            }
            let endpoints = world.endpoints();
            world
                .spawn_client(1, body(seed, endpoints, world.clone()))
                .await
                .expect("the client ran");
            let broken = world.broken_invariants();
            assert!(broken.is_empty(), "seed {seed}: {broken:?}");
        })
        .expect("no panic");
    }
}
