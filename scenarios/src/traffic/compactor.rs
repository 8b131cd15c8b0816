//! The etcd profile's compactor, as etcd's robustness traffic runs one next
//! to its key-value clients (`RunCompactLoop`, tests/robustness/traffic):
//! every period it asks a member for its revision, then compacts at a
//! revision drawn uniformly from the last one it compacted at up to five past
//! the current one, so compactions land on every kind of revision (a put, a
//! delete, a transaction), repeat the last one ("required revision has been
//! compacted") or reach into the future ("future revision") alike. Unless
//! the scenario fixes the period, each seed draws it: etcd's 200 ms, or 1 s
//! or 5 s, so some runs compact long stretches of history at once (many
//! compaction batches), as kube-apiserver's five-minute compactions do.

use super::TrafficContext;
use super::requests::{compact, status};
use crate::recorder::RecordingClient;
use node::wire::api::client_response;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// How far past the current revision a compaction may reach (etcd's `+5`).
const FUTURE_REACH: i64 = 5;

/// The periods a seed draws from (ms): etcd's robustness default, and two
/// that leave more history to each compaction.
pub const DRAWN_PERIODS_MS: [u64; 3] = [200, 1000, 5000];

/// Compacts every `period` (drawn when None) until the profile's clients stop.
pub async fn run(ctx: TrafficContext, id: u64, period: Option<Duration>, mut rng: ChaCha8Rng) {
    let period = period.unwrap_or_else(|| {
        Duration::from_millis(DRAWN_PERIODS_MS[rng.gen_range(0..DRAWN_PERIODS_MS.len())])
    });
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    // etcd's loop starts from revision 2: the first write's.
    let mut last = 2i64;
    while !ctx.stopped() {
        madsim::time::sleep(period).await;
        if ctx.stopped() {
            break;
        }
        // Where the store is (a status request is not part of the history).
        let Ok(client_response::Body::Status(status)) = client.client.request(status()).await
        else {
            client.client.rotate();
            continue;
        };
        let current = status.header.map(|h| h.revision).unwrap_or(1);
        let target = draw_revision(&mut rng, last, current);
        if client.call(compact(target), None).await.is_ok() {
            last = target;
        }
    }
}

/// A revision in `[last, current + FUTURE_REACH)`, as etcd's `RandRange`
/// draws it; `last` itself when the range is empty.
fn draw_revision(rng: &mut ChaCha8Rng, last: i64, current: i64) -> i64 {
    let end = current.saturating_add(FUTURE_REACH);
    if end <= last {
        return last;
    }
    rng.gen_range(last..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn draws_from_the_last_compaction_to_a_few_past_the_current_revision() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let drawn: Vec<i64> = (0..2000).map(|_| draw_revision(&mut rng, 10, 20)).collect();
        assert!(drawn.iter().all(|r| (10..25).contains(r)));
        assert!(drawn.contains(&10), "the last compaction again");
        assert!(drawn.contains(&24), "a future revision");
        assert_eq!(draw_revision(&mut rng, 30, 20), 30);
        assert!(draw_revision(&mut rng, 1, i64::MAX) >= 1, "no overflow");
    }
}
