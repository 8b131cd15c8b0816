//! Lease traffic: grants with short TTLs, keys attached, then keepalives,
//! revokes, time-to-live queries, or simply letting the lease expire.

use super::TrafficContext;
use super::requests::{lease_grant, lease_keep_alive, lease_revoke, lease_time_to_live, put};
use crate::recorder::RecordingClient;
use node::wire::api::client_response;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

pub async fn run(ctx: TrafficContext, id: u64, mut rng: ChaCha8Rng) {
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    let mut n = 0u64;
    while !ctx.stopped() {
        let ttl = rng.gen_range(1..4);
        let lease = match client.call(lease_grant(ttl), None).await {
            Ok(client_response::Body::LeaseGrant(g)) => g.id,
            _ => {
                ctx.pace(&mut rng).await;
                continue;
            }
        };
        for _ in 0..rng.gen_range(1..4) {
            n += 1;
            let key = format!("lease/c{id}/k{}", rng.gen_range(0..ctx.keys.max(1)));
            let write = put(key, format!("c{id}-{n}")).lease(lease);
            let _ = client.call(write.body(), None).await;
        }
        match rng.gen_range(0..4) {
            // Keep it alive for a while, then revoke it.
            0 => {
                for _ in 0..rng.gen_range(1..5) {
                    madsim::time::sleep(Duration::from_millis(400)).await;
                    let _ = client.call(lease_keep_alive(lease), None).await;
                }
                let _ = client.call(lease_revoke(lease), None).await;
            }
            // Revoke it at once.
            1 => {
                let _ = client.call(lease_revoke(lease), None).await;
            }
            // Ask how long it has left, then let it expire.
            2 => {
                let _ = client.call(lease_time_to_live(lease, true), None).await;
            }
            // Let it expire.
            _ => {}
        }
        ctx.pace(&mut rng).await;
    }
}
