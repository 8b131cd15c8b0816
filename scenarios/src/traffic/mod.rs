//! Traffic profiles. Each client is sequential, every write carries a
//! unique value, and every request and response goes into the history.

pub mod compactor;
pub mod etcd;
pub mod kubernetes;
pub mod lease;
pub mod multi_op_txn;
pub mod requests;
pub mod watch;
pub mod watching;

use crate::recorder::Recorder;
use node::client::Client;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What every traffic client gets.
#[derive(Clone)]
pub struct TrafficContext {
    pub recorder: Arc<Recorder>,
    pub stop: Arc<AtomicBool>,
    pub endpoints: Vec<(u64, IpAddr)>,
    pub client_timeout: Duration,
    pub keys: usize,
    pub rate: f64,
    /// Clients of this profile (roles are handed out by index).
    pub clients: usize,
    /// Operation weights (etcd profile), when the scenario sets them.
    pub weights: Option<Vec<u32>>,
    /// TTL of per-key-TTL puts.
    pub key_ttl_s: i64,
    pub key_prefix: String,
    /// When this profile's clients stop (simulated time since the start).
    pub until: Option<Duration>,
    /// Watches per stream (watch profile), when the scenario fixes it.
    pub watches_per_stream: Option<usize>,
}

impl TrafficContext {
    pub fn stopped(&self) -> bool {
        let past_until = self.until.is_some_and(|u| {
            madsim::time::TimeHandle::try_current().is_some_and(|t| t.elapsed() >= u)
        });
        past_until || self.stop.load(Ordering::Relaxed)
    }

    pub fn client(&self, id: u64) -> Client {
        Client::new(self.endpoints.clone(), id as usize, self.client_timeout)
    }

    pub fn key(&self, i: usize) -> String {
        format!("{}{}", self.key_prefix, i % self.keys.max(1))
    }

    /// The range holding every key of the profile.
    pub fn key_range(&self) -> (Vec<u8>, Vec<u8>) {
        let start = self.key_prefix.as_bytes().to_vec();
        let end = node::mvcc::prefix_end(&start);
        (start, end)
    }

    /// Waits before the next request, at the offered rate (with jitter).
    pub async fn pace(&self, rng: &mut ChaCha8Rng) {
        let gap = if self.rate > 0.0 {
            Duration::from_secs_f64(rng.gen_range(0.5..1.5) / self.rate)
        } else {
            Duration::from_millis(1)
        };
        madsim::time::sleep(gap).await;
    }
}

/// Picks an index by weight.
pub fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.gen_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}
