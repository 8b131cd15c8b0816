//! A member that joins after the leader's last snapshot file still catches
//! up by snapshot at once. The file was taken before the member was added,
//! so its configuration does not name the member, and raft drops a
//! snapshot that does not name the receiver. The leader therefore sends,
//! as etcd's server does (createMergedSnapshotMessage), the state it has
//! applied, with the current configuration. Before it did, a joining
//! member waited for the next periodic snapshot (here: forever, as nothing
//! is written after the add), and the no-bug campaign saw a too-old member
//! refused 5.2 s after it started instead of about 1 s.

mod common;

use common::{configs, fourth_member_joining, put, read_all};
use node::client::Client;
use node::config::StoreKnobs;
use node::server::reconfig_check::HEALTH_INTERVAL;
use node::wire::api::{MemberAddRequest, client_request};
use sim::{member_ip, run_seed};
use std::time::Duration;

#[test]
fn a_member_added_after_the_last_snapshot_receives_one_that_names_it() {
    let knobs = StoreKnobs {
        snapshot_count: 50,
        catchup_entries: 10,
        ..Default::default()
    };
    let (applied, _) = run_seed(5, move |world| async move {
        let mut members = configs(3, knobs);
        let template = members[0].clone();
        for c in members.drain(..) {
            world.start_member(c);
        }
        let endpoints = world.endpoints();
        let w = world.clone();
        world
            .spawn_client(1, async move {
                let mut client = Client::new(endpoints, 0, Duration::from_millis(500));
                // Peers connected for the health interval: the strict
                // reconfiguration check lets the add through.
                madsim::time::sleep(HEALTH_INTERVAL + Duration::from_secs(1)).await;
                // Past several snapshots, and the log compacted behind them.
                for i in 0..300 {
                    let _ = client.request(put(format!("k{i}"), "v".into())).await;
                }
                let add = MemberAddRequest {
                    id: 4,
                    ip: member_ip(4).to_string(),
                    is_learner: false,
                };
                client
                    .request(client_request::Body::MemberAdd(add))
                    .await
                    .expect("the cluster adds a member");
                w.start_member(fourth_member_joining(template));
                madsim::time::sleep(Duration::from_secs(3)).await;
                // And it serves what it received.
                let mut at_new =
                    Client::new(vec![(4, member_ip(4))], 0, Duration::from_millis(500));
                assert_eq!(read_all(&mut at_new).await.len(), 300);
            })
            .await
            .expect("client task");
        world.trace().with(|t| {
            t.events()
                .iter()
                .filter(|e| e.source == "m4" && e.kind == "snapshot")
                .filter(|e| e.detail.starts_with("applied"))
                .count()
        })
    })
    .expect("no panic");
    assert!(
        applied >= 1,
        "the joining member applied no snapshot in 3 s"
    );
}
