//! A watch that requires a leader (as Kubernetes asks for every watch)
//! ends with its stream once its member has known no leader for three
//! election timeouts, as etcd's monitorLeader cancels the gRPC stream: the
//! client learns it from the stream closing, whatever the stream still
//! had queued. A stream without such a watch stays open.

mod common;

use common::on_three_members;
use node::client::{ClientError, open_watch_stream};
use node::wire::api::WatchCreateRequest;
use sim::member_ip;
use std::time::Duration;

fn watch(key: &str, require_leader: bool) -> WatchCreateRequest {
    WatchCreateRequest {
        key: key.as_bytes().to_vec(),
        require_leader,
        ..Default::default()
    }
}

#[test]
fn a_watch_requiring_a_leader_ends_its_stream_when_the_member_loses_it() {
    on_three_members(0..3, |seed, _endpoints, world| async move {
        madsim::time::sleep(Duration::from_secs(1)).await;
        let timeout = Duration::from_secs(1);
        let (needs, mut needs_rx) = open_watch_stream(member_ip(3), timeout)
            .await
            .expect("open");
        needs.create(watch("a", true)).await.expect("create");
        let (plain, mut plain_rx) = open_watch_stream(member_ip(3), timeout)
            .await
            .expect("open");
        plain.create(watch("b", false)).await.expect("create");
        for rx in [&mut needs_rx, &mut plain_rx] {
            let created = rx.recv().await.expect("created");
            assert!(
                created.created && !created.canceled,
                "seed {seed}: {created:?}"
            );
        }
        let links = world.partition(&[&[3], &[1, 2]]);
        // Member 3 keeps asking, never leads: after three election
        // timeouts (300 ms here) the require-leader stream closes.
        let mut ended = None;
        for _ in 0..40 {
            let _ = needs.request_progress().await;
            if let Ok(Err(e)) =
                madsim::time::timeout(Duration::from_millis(100), needs_rx.recv()).await
            {
                ended = Some(e);
                break;
            }
        }
        assert!(
            matches!(ended, Some(ClientError::ConnectionLost(_))),
            "seed {seed}: the stream stayed open: {ended:?}"
        );
        plain
            .request_progress()
            .await
            .expect("the other stream is open");
        world.heal_links(&links);
    });
}
