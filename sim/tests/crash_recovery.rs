//! Crash recovery of the store on the simulated disk: kill members at
//! random points (and at every failpoint), restart them, and check that
//! the cluster holds every acknowledged write, none that certainly failed,
//! and nothing that was never written.

mod common;

use common::{configs, put, read_all};
use node::client::Client;
use node::config::StoreKnobs;
use node::failpoint::{FailAction, Failpoint};
use node::wire::api::{
    CompactionRequest, DefragmentRequest, StatusRequest, client_request, client_response,
};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::{MemberStatus, run_seed};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Acked,
    Failed,
    Unknown,
}

/// Runs a writer while `chaos` does its damage, heals, reads back.
fn crash_run(seed: u64, members: u64, knobs: StoreKnobs, failpoint: Option<Failpoint>) {
    let out = run_seed(seed, move |world| async move {
        for c in configs(members, knobs) {
            world.start_member(c);
        }
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let endpoints = world.endpoints();
        let log = outcomes.clone();
        let writer = world.spawn_client(1, async move {
            let mut client = Client::new(endpoints, 0, Duration::from_secs(1));
            madsim::time::sleep(Duration::from_millis(500)).await;
            for i in 0..400u64 {
                let outcome = match client
                    .request(put(format!("w{i:04}"), format!("v{i}")))
                    .await
                {
                    Ok(_) => Outcome::Acked,
                    Err(e) if e.outcome_unknown() => Outcome::Unknown,
                    Err(_) => Outcome::Failed,
                };
                log.lock().push(outcome);
                madsim::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let members_ids = world.member_ids();
        if let Some(fp) = failpoint {
            for m in &members_ids {
                if let Some(f) = world.failpoints(*m) {
                    f.arm(fp, FailAction::Crash, Some(1));
                }
            }
        }
        // Random kills, isolations (long enough to need a snapshot),
        // compactions and defragmentations; members that crashed at a
        // failpoint are restarted too.
        for round in 0..8 {
            madsim::time::sleep(Duration::from_millis(rng.gen_range(200..900))).await;
            let m = members_ids[rng.gen_range(0..members_ids.len())];
            // Every kind of damage happens at least once.
            let what = if round < 2 {
                round
            } else {
                rng.gen_range(0..4)
            };
            match what {
                0 if members_ids.len() > 1 => {
                    let others: Vec<u64> =
                        members_ids.iter().copied().filter(|x| *x != m).collect();
                    if world.member_node(m).is_none() {
                        continue;
                    }
                    let links = world.partition(&[&[m], &others]);
                    madsim::time::sleep(Duration::from_millis(2500)).await;
                    world.heal_links(&links);
                }
                1 => {
                    let endpoints = world.endpoints();
                    let _ = world
                        .spawn_client(3, async move {
                            let mut admin =
                                Client::new(endpoints, m as usize, Duration::from_secs(1));
                            if let Ok(client_response::Body::Status(s)) = admin
                                .request(client_request::Body::Status(StatusRequest {}))
                                .await
                            {
                                let rev = s.header.map(|h| h.revision).unwrap_or(1);
                                let compact = CompactionRequest {
                                    revision: (rev - 5).max(1),
                                    physical: false,
                                };
                                let _ = admin
                                    .request(client_request::Body::Compaction(compact))
                                    .await;
                            }
                            let _ = admin
                                .request(client_request::Body::Defragment(DefragmentRequest {}))
                                .await;
                        })
                        .await;
                }
                _ => {
                    if world.status(m) == Some(MemberStatus::Running) {
                        world.kill(m);
                    }
                }
            }
            madsim::time::sleep(Duration::from_millis(rng.gen_range(50..500))).await;
            for &x in &members_ids {
                if !world.status(x).is_some_and(|s| s.is_up()) {
                    world.restart(x);
                }
            }
        }
        let _ = writer.await;
        for m in &members_ids {
            if let Some(f) = world.failpoints(*m) {
                f.disarm_all();
            }
            if !world.status(*m).is_some_and(|s| s.is_up()) {
                world.restart(*m);
            }
        }
        let endpoints = world.endpoints();
        let kvs = world
            .spawn_client(2, async move {
                let mut client = Client::new(endpoints, 0, Duration::from_secs(1));
                read_all(&mut client).await
            })
            .await
            .expect("reader");
        let outcomes = outcomes.lock().clone();
        if std::env::var("DUMP_TRACE").ok().as_deref() == failpoint.map(Failpoint::name) {
            world.trace().with(|t| {
                for e in t.events() {
                    if e.kind != "request" {
                        eprintln!("{}", e.human());
                    }
                }
            });
        }
        (
            kvs,
            outcomes,
            world.fatal_exits(),
            world.failpoints_reached(),
        )
    });
    let ((kvs, outcomes, fatal, reached), _) = out.expect("the run must not panic");
    if let Some(fp) = failpoint {
        assert!(
            reached.get(&fp).copied().unwrap_or(0) > 0,
            "seed {seed}: failpoint {fp} was never reached"
        );
    }
    assert!(fatal.is_empty(), "seed {seed}: members failed: {fatal:?}");
    let present: BTreeMap<u64, String> = kvs
        .iter()
        .map(|(k, v)| (k[1..].parse::<u64>().expect("w<index>"), v.clone()))
        .collect();
    let acked = outcomes.iter().filter(|o| **o == Outcome::Acked).count();
    assert!(
        acked > 50,
        "seed {seed}: only {acked} writes acknowledged; the test did not exercise much"
    );
    for (i, outcome) in outcomes.iter().enumerate() {
        let here = present.get(&(i as u64));
        match outcome {
            Outcome::Acked => assert!(
                here.is_some(),
                "seed {seed} ({failpoint:?}): acknowledged write {i} is gone"
            ),
            Outcome::Failed => assert!(
                here.is_none(),
                "seed {seed} ({failpoint:?}): write {i} failed but is present"
            ),
            Outcome::Unknown => {}
        }
        if let Some(v) = here {
            assert_eq!(
                v,
                &format!("v{i}"),
                "seed {seed}: write {i} has a foreign value"
            );
        }
    }
    assert!(
        present.keys().all(|i| (*i as usize) < outcomes.len()),
        "seed {seed}: a key was never written"
    );
}

fn small_knobs() -> StoreKnobs {
    StoreKnobs {
        snapshot_count: 40,
        catchup_entries: 10,
        backend_batch_limit: 8,
        ..StoreKnobs::default()
    }
}

#[test]
fn single_member_survives_random_crashes() {
    for seed in 0..8 {
        crash_run(seed, 1, small_knobs(), None);
    }
}

#[test]
fn three_members_survive_random_crashes() {
    for seed in 0..8 {
        crash_run(seed, 3, small_knobs(), None);
    }
}

#[test]
fn five_members_survive_random_crashes() {
    for seed in 0..4 {
        crash_run(seed, 5, small_knobs(), None);
    }
}

/// Points this workload (writes, kills, isolation, compaction, defrag)
/// reaches; the others belong to membership, watch, lease and version code
/// paths and are exercised by their own scenarios (`applyBeforeForcedSnapshot`
/// by downgrade-faults, which needs a downgrade).
fn reached_by_this_workload(point: Failpoint) -> bool {
    !matches!(
        point,
        Failpoint::BeforeApplyOneConfChange
            | Failpoint::BeforeSendWatchResponse
            | Failpoint::BeforeSyncWatchers
            | Failpoint::BeforeMoveVictims
            | Failpoint::BeforeProgressIfSync
            | Failpoint::BeforeLeaseCheckpoint
            | Failpoint::BeforeLeaseRevokeExpired
            | Failpoint::BeforeStorageMigrate
            | Failpoint::ApplyBeforeForcedSnapshot
    )
}

#[test]
fn crashing_at_every_failpoint_loses_nothing_acknowledged() {
    let mut tried = 0;
    for (i, &point) in Failpoint::ALL.iter().enumerate() {
        if reached_by_this_workload(point) {
            crash_run(100 + i as u64, 3, small_knobs(), Some(point));
            tried += 1;
        }
    }
    assert!(tried >= 18, "only {tried} failpoints tried");
}
