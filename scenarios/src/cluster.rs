//! The engine's view of the cluster: admin requests to one member, status,
//! who leads. These run on the engine's own client node.

use node::client::{Client, ClientError};
use node::wire::api::{StatusRequest, StatusResponse, client_request, client_response};
use sim::World;
use std::net::IpAddr;
use std::time::Duration;

/// Sends one request to one member.
pub async fn admin(
    ip: IpAddr,
    member: u64,
    body: client_request::Body,
    timeout: Duration,
) -> Result<client_response::Body, ClientError> {
    let mut client = Client::new(vec![(member, ip)], 0, timeout);
    client.request(body).await
}

pub async fn status(world: &World, member: u64) -> Option<StatusResponse> {
    if !world
        .status(member)
        .is_some_and(|s| s == sim::MemberStatus::Running)
    {
        return None;
    }
    let ip = sim::member_ip(member);
    match admin(
        ip,
        member,
        client_request::Body::Status(StatusRequest {}),
        Duration::from_millis(300),
    )
    .await
    {
        Ok(client_response::Body::Status(s)) => Some(s),
        _ => None,
    }
}

/// Status of every running member.
pub async fn statuses(world: &World, members: &[u64]) -> Vec<(u64, StatusResponse)> {
    let mut out = Vec::new();
    for &m in members {
        if let Some(s) = status(world, m).await {
            out.push((m, s));
        }
    }
    out
}

/// The leader as reported by the member with the highest term.
pub async fn leader(world: &World, members: &[u64]) -> Option<u64> {
    statuses(world, members)
        .await
        .into_iter()
        .filter(|(_, s)| s.leader != 0)
        .max_by_key(|(_, s)| s.raft_term)
        .map(|(_, s)| s.leader)
        .filter(|l| members.contains(l))
}
