//! Lease traffic: grants with short TTLs, keys attached, then keepalives,
//! revokes, time-to-live queries, or simply letting the lease expire.

use super::TrafficContext;
use crate::recorder::RecordingClient;
use node::wire::api::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest,
    PutRequest, client_request::Body, client_response,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

pub async fn run(ctx: TrafficContext, id: u64, mut rng: ChaCha8Rng) {
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    let mut n = 0u64;
    while !ctx.stopped() {
        let ttl = rng.gen_range(1..4);
        let lease = match client
            .call(Body::LeaseGrant(LeaseGrantRequest { ttl, id: 0 }), None)
            .await
        {
            Ok(client_response::Body::LeaseGrant(g)) => g.id,
            _ => {
                ctx.pace(&mut rng).await;
                continue;
            }
        };
        for _ in 0..rng.gen_range(1..4) {
            n += 1;
            let put = PutRequest {
                key: format!("lease/c{id}/k{}", rng.gen_range(0..ctx.keys.max(1))).into_bytes(),
                value: format!("c{id}-{n}").into_bytes(),
                lease,
                ..Default::default()
            };
            let _ = client.call(Body::Put(put), None).await;
        }
        match rng.gen_range(0..4) {
            // Keep it alive for a while, then revoke it.
            0 => {
                for _ in 0..rng.gen_range(1..5) {
                    madsim::time::sleep(Duration::from_millis(400)).await;
                    let _ = client
                        .call(
                            Body::LeaseKeepAlive(LeaseKeepAliveRequest { id: lease }),
                            None,
                        )
                        .await;
                }
                let _ = client
                    .call(Body::LeaseRevoke(LeaseRevokeRequest { id: lease }), None)
                    .await;
            }
            // Revoke it at once.
            1 => {
                let _ = client
                    .call(Body::LeaseRevoke(LeaseRevokeRequest { id: lease }), None)
                    .await;
            }
            // Ask how long it has left, then let it expire.
            2 => {
                let _ = client
                    .call(
                        Body::LeaseTimeToLive(LeaseTimeToLiveRequest {
                            id: lease,
                            keys: true,
                        }),
                        None,
                    )
                    .await;
            }
            // Let it expire.
            _ => {}
        }
        ctx.pace(&mut rng).await;
    }
}
