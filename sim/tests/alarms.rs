//! The NOSPACE alarm, as etcd raises and clears it: a member whose
//! backend finds the disk full raises it through raft; every member then
//! refuses what grows the store with etcd's error and serves reads and
//! deletes; the alarm survives a restart (it is in the backend) and clears
//! once the operator disarms it.

mod common;

use common::{on_three_members, put, read_all};
use node::client::{Client, ClientError};
use node::wire::api::{
    AlarmType, DeleteRangeRequest, ErrorCode, RangeRequest, StatusRequest, client_request,
    client_response,
};
use sim::member_ip;
use std::time::Duration;

async fn alarms_at(member: u64) -> Option<Vec<String>> {
    let mut c = Client::new(
        vec![(member, member_ip(member))],
        0,
        Duration::from_millis(500),
    );
    match c
        .request(client_request::Body::Status(StatusRequest {}))
        .await
    {
        Ok(client_response::Body::Status(s)) => Some(s.errors),
        _ => None,
    }
}

fn read(key: &str, serializable: bool) -> client_request::Body {
    client_request::Body::Range(RangeRequest {
        key: key.as_bytes().to_vec(),
        serializable,
        ..Default::default()
    })
}

#[test]
fn a_full_backend_raises_nospace_which_holds_until_disarmed() {
    on_three_members(0..3, |seed, endpoints, world| async move {
        let mut client = Client::new(endpoints, 0, Duration::from_secs(2));
        madsim::time::sleep(Duration::from_secs(1)).await;
        for i in 0..10 {
            let _ = client.request(put(format!("k{i}"), "v".into())).await;
        }
        // m2's backend volume has 1 KB left; its WAL's is free.
        let mut full = world.disk_faults(2).expect("m2 has a disk");
        full.quota_bytes = Some(world.disk_used_bytes_under(2, "db") + 1024);
        full.quota_files = Some("db".into());
        world.set_disk_faults(2, full);
        let mut refused = None;
        for i in 10..200 {
            match client.request(put(format!("k{i}"), "x".repeat(100))).await {
                Err(ClientError::Server {
                    code: ErrorCode::NoSpace,
                    message,
                    ..
                }) => {
                    refused = Some(message);
                    break;
                }
                _ => madsim::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let message = refused.unwrap_or_else(|| panic!("seed {seed}: never refused"));
        assert_eq!(message, node::alarm::NO_SPACE);
        // Every member applied the alarm; Status lists it.
        for m in 1..=3 {
            let errors = alarms_at(m).await.expect("status");
            assert_eq!(errors, vec!["memberID:2 alarm:NOSPACE ".to_string()]);
        }
        // Reads and deletes are served; a put is refused.
        assert!(client.request(read("k1", false)).await.is_ok());
        assert!(client.request(read("k1", true)).await.is_ok());
        let delete = client_request::Body::DeleteRange(DeleteRangeRequest {
            key: b"k1".to_vec(),
            ..Default::default()
        });
        assert!(client.request(delete).await.is_ok(), "seed {seed}");
        // The disk has room again; the alarm stays, even across
        // a restart, until disarmed.
        world.clear_disk_faults(2);
        world.kill(1);
        world.restart(1);
        madsim::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            alarms_at(1).await.expect("status").len(),
            1,
            "seed {seed}: the alarm survives a restart"
        );
        let listed = client.alarm_list().await.expect("alarm list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].member_id, 2);
        let refusal = client.request(put("k0".into(), "y".into())).await;
        assert!(
            matches!(
                &refusal,
                Err(ClientError::Server {
                    code: ErrorCode::NoSpace,
                    ..
                })
            ),
            "seed {seed}: {refusal:?}"
        );
        let cleared = client
            .alarm_disarm(2, AlarmType::Nospace)
            .await
            .expect("disarm");
        assert_eq!(cleared.len(), 1);
        madsim::time::sleep(Duration::from_millis(300)).await;
        for m in 1..=3 {
            assert!(alarms_at(m).await.expect("status").is_empty());
        }
        assert!(client.alarm_list().await.expect("list").is_empty());
        client
            .request(put("k0".into(), "z".into()))
            .await
            .expect("writes are served once disarmed");
        let all = read_all(&mut client).await;
        assert!(all.contains(&("k0".to_string(), "z".to_string())));
        assert!(!all.iter().any(|(k, _)| k == "k1"), "the delete held");
    });
}
