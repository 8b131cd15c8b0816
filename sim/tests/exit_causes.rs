//! A disk fault explains only the exits of the process it reached: a
//! member that died on a failed fsync, was healed and restarted, and later
//! dies of something else has that later exit reported as not disk-caused.

mod common;

use common::{configs, put, read_all};
use node::client::Client;
use node::config::StoreKnobs;
use node::failpoint::{FailAction, Failpoint};
use sim::disk::model::DiskFaults;
use sim::{MemberStatus, run_seed};
use std::time::Duration;

/// Writes until the member is no longer running (or a bound is reached).
async fn write_until_down(world: &sim::World, client: &mut Client, from: u64) {
    for i in from..from + 200 {
        if world.status(1) != Some(MemberStatus::Running) {
            return;
        }
        let _ = client.request(put(format!("k{i}"), "v".into())).await;
        madsim::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn an_exit_after_a_healed_disk_fault_is_not_excused_by_it() {
    let (exits, _) = run_seed(3, |world| async move {
        for c in configs(1, StoreKnobs::default()) {
            world.start_member(c);
        }
        let endpoints = world.endpoints();
        let w = world.clone();
        world
            .spawn_client(1, async move {
                let mut client = Client::new(endpoints, 0, Duration::from_millis(500));
                madsim::time::sleep(Duration::from_millis(500)).await;
                client
                    .request(put("before".into(), "v".into()))
                    .await
                    .expect("a healthy member takes a write");
                // A failed fsync: the member exits on it.
                w.set_disk_faults(
                    1,
                    DiskFaults {
                        fsync_failures: 1,
                        ..Default::default()
                    },
                );
                write_until_down(&w, &mut client, 0).await;
                // Healed, restarted: a new process the fault never reached.
                w.set_disk_faults(1, DiskFaults::default());
                w.restart(1);
                madsim::time::sleep(Duration::from_secs(1)).await;
                assert!(
                    !read_all(&mut client).await.is_empty(),
                    "the new process serves"
                );
                // An injected WAL error, not the disk: the member exits again.
                w.failpoints(1).expect("member 1").arm(
                    Failpoint::RaftBeforeSave,
                    FailAction::Error,
                    Some(1),
                );
                write_until_down(&w, &mut client, 1000).await;
            })
            .await
            .expect("client task");
        world.fatal_exits()
    })
    .expect("no panic");
    assert_eq!(exits.len(), 2, "{exits:?}");
    assert!(exits[0].disk_fault_delivered, "{exits:?}");
    assert!(exits[0].message.contains("EIO"), "{exits:?}");
    assert!(!exits[1].disk_fault_delivered, "{exits:?}");
    assert!(exits[1].message.contains("raftBeforeSave"), "{exits:?}");
}
