//! The raft loop batches as etcd's does: proposals that queue while a WAL
//! fsync is under way go out together in the next `Ready`, with one WAL
//! append and one fsync. Under 64 clients writing back to back, every
//! member fsyncs fewer times than it stores entries (about 2.2 entries per
//! fsync here: with network round trips of 2 to 20 ms, about four writes
//! arrive during one 1 to 2 ms fsync). A loop that takes one queued
//! proposal per `Ready` (`DRAIN_MAX` at 1) fsyncs about once per entry:
//! 1,083 times for 1,280 on the leader of seed 0.

mod common;

use common::{configs, put};
use node::client::Client;
use node::config::StoreKnobs;
use sim::run_seed;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const CLIENTS: u64 = 64;
const WRITES_EACH: u64 = 20;

#[test]
fn one_fsync_carries_several_entries_under_concurrent_writes() {
    for seed in 0..2 {
        let ((acked, fsyncs), _) = run_seed(seed, move |world| async move {
            for c in configs(3, StoreKnobs::default()) {
                world.start_member(c);
            }
            madsim::time::sleep(Duration::from_secs(1)).await;
            let before: Vec<u64> = (1..=3).map(|m| world.disk_fsyncs(m)).collect();
            let acked = Arc::new(AtomicU64::new(0));
            let mut writers = Vec::new();
            for c in 0..CLIENTS {
                let endpoints = world.endpoints();
                let acked = acked.clone();
                writers.push(world.spawn_client(100 + c, async move {
                    let mut client = Client::new(endpoints, c as usize, Duration::from_secs(2));
                    for i in 0..WRITES_EACH {
                        if client
                            .request(put(format!("c{c}-{i}"), "v".into()))
                            .await
                            .is_ok()
                        {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            for w in writers {
                w.await.expect("writer");
            }
            let fsyncs: Vec<u64> = (1..=3)
                .map(|m| world.disk_fsyncs(m) - before[m as usize - 1])
                .collect();
            (acked.load(Ordering::Relaxed), fsyncs)
        })
        .expect("run");
        assert!(
            acked >= CLIENTS * WRITES_EACH * 9 / 10,
            "seed {seed}: only {acked} writes acknowledged"
        );
        for (m, f) in fsyncs.iter().enumerate() {
            // Every member stored at least the acknowledged entries; one
            // proposal per `Ready` gives fewer entries than fsyncs.
            assert!(
                2 * acked >= 3 * f,
                "seed {seed}: member {} fsynced {f} times for {acked} entries",
                m + 1
            );
        }
        eprintln!("seed {seed}: {acked} writes, fsyncs per member {fsyncs:?}");
    }
}
