//! The client library: connects to members, sends one request at a time,
//! and reports errors a caller can act on. It never retries a request by
//! itself: when an outcome is unknown it says so.
//!
//! Requests and responses are the `wire::api` protobuf messages, handed
//! over as values: nothing in the simulation reads the bytes a gRPC
//! stream would carry, so they are not encoded and decoded again on each
//! side (the size limits etcd checks are computed from encoded lengths
//! where they apply, as in `propose`).

use crate::config::CLIENT_PORT;
use crate::wire::api::{
    AlarmAction, AlarmMember, AlarmRequest, AlarmType, ClientRequest, ClientResponse, ErrorCode,
    ErrorResponse, WatchCancelRequest, WatchCreateRequest, WatchProgressRequest, WatchRequest,
    WatchResponse, client_request, client_response, watch_request,
};
use madsim::net::{Endpoint, Receiver, Sender};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Could not reach a member: the request was not sent.
    #[error("no member reachable: {0}")]
    Unavailable(String),
    /// No answer in time: the request may or may not have taken effect.
    #[error("request timed out")]
    Timeout,
    /// The connection broke after the request was sent: outcome unknown.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// The member answered with an error.
    #[error("{code:?}: {message}")]
    Server {
        code: ErrorCode,
        message: String,
        compact_revision: i64,
        leader_hint: u64,
    },
    /// The answer could not be decoded or did not match the request.
    #[error("bad response: {0}")]
    BadResponse(String),
}

impl ClientError {
    /// Whether a write that got this error may still have been applied.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ClientError::Timeout | ClientError::ConnectionLost(_) => true,
            ClientError::Server { code, .. } => {
                matches!(code, ErrorCode::Timeout | ErrorCode::Stopped)
            }
            ClientError::Unavailable(_) | ClientError::BadResponse(_) => false,
        }
    }

    /// The member's error answer this is, as it was sent (None for an
    /// error of the client's own: not reached, no answer).
    pub fn into_response(self) -> Option<ErrorResponse> {
        match self {
            ClientError::Server {
                code,
                message,
                compact_revision,
                leader_hint,
            } => Some(ErrorResponse {
                code: code as i32,
                message,
                compact_revision,
                leader_hint,
            }),
            _ => None,
        }
    }

    fn from_response(e: ErrorResponse) -> Self {
        ClientError::Server {
            code: ErrorCode::try_from(e.code).unwrap_or(ErrorCode::Unspecified),
            message: e.message,
            compact_revision: e.compact_revision,
            leader_hint: e.leader_hint,
        }
    }
}

struct Connection {
    member: usize,
    tx: Sender,
    rx: Receiver,
}

/// A client of the cluster. Requests go to the current endpoint; after a
/// failure the next request goes to the next endpoint.
pub struct Client {
    endpoints: Vec<(u64, IpAddr)>,
    current: usize,
    conn: Option<Connection>,
    timeout: Duration,
    next_id: u64,
    from_peer: bool,
}

impl Client {
    /// `endpoints`: (member id, ip) pairs; `start` picks the first one.
    pub fn new(endpoints: Vec<(u64, IpAddr)>, start: usize, timeout: Duration) -> Self {
        let current = if endpoints.is_empty() {
            0
        } else {
            start % endpoints.len()
        };
        Client {
            endpoints,
            current,
            conn: None,
            timeout,
            next_id: 1,
            from_peer: false,
        }
    }

    /// A member's client passing on requests only the leader serves
    /// (`ClientRequest::from_peer`).
    pub fn from_peer(mut self) -> Self {
        self.from_peer = true;
        self
    }

    /// The member the next request goes to.
    pub fn member(&self) -> u64 {
        self.endpoints.get(self.current).map(|e| e.0).unwrap_or(0)
    }

    pub fn set_endpoints(&mut self, endpoints: Vec<(u64, IpAddr)>) {
        self.endpoints = endpoints;
        self.current = 0;
        self.conn = None;
    }

    /// Sends the next request to another member.
    pub fn rotate(&mut self) {
        if !self.endpoints.is_empty() {
            self.current = (self.current + 1) % self.endpoints.len();
        }
        self.conn = None;
    }

    /// Sends the next request to this member, if it is an endpoint.
    pub fn prefer(&mut self, member: u64) {
        if let Some(i) = self.endpoints.iter().position(|e| e.0 == member)
            && i != self.current
        {
            self.current = i;
            self.conn = None;
        }
    }

    async fn connect(&mut self) -> Result<(), ClientError> {
        if self
            .conn
            .as_ref()
            .is_some_and(|c| c.member == self.current && !c.tx.is_closed())
        {
            return Ok(());
        }
        let (_, ip) = *self
            .endpoints
            .get(self.current)
            .ok_or_else(|| ClientError::Unavailable("no endpoints".into()))?;
        let ep = Endpoint::bind("0.0.0.0:0")
            .await
            .map_err(|e| ClientError::Unavailable(e.to_string()))?;
        let connect = ep.connect1(SocketAddr::new(ip, CLIENT_PORT));
        let (tx, rx) = match madsim::time::timeout(self.timeout, connect).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(ClientError::Unavailable(format!("{ip}: {e}"))),
            Err(_) => return Err(ClientError::Unavailable(format!("{ip}: connect timed out"))),
        };
        self.conn = Some(Connection {
            member: self.current,
            tx,
            rx,
        });
        Ok(())
    }

    /// Sends one request and waits for its answer.
    pub async fn request(
        &mut self,
        body: client_request::Body,
    ) -> Result<client_response::Body, ClientError> {
        let result = self.request_once(body).await;
        if let Err(e) = &result {
            let switch = match e {
                ClientError::Server { code, .. } => matches!(
                    code,
                    ErrorCode::NoLeader
                        | ErrorCode::Stopped
                        | ErrorCode::Timeout
                        // A learner serves almost nothing: ask a voter.
                        | ErrorCode::NotSupportedForLearner
                ),
                _ => true,
            };
            if switch {
                if let ClientError::Server { leader_hint, .. } = e
                    && *leader_hint != 0
                {
                    self.prefer(*leader_hint);
                } else {
                    self.rotate();
                }
            }
        }
        result
    }

    /// The cluster's active alarms (etcd's `alarm list`).
    pub async fn alarm_list(&mut self) -> Result<Vec<AlarmMember>, ClientError> {
        self.alarm(AlarmAction::Get, 0, AlarmType::None).await
    }

    /// Disarms one member's alarm (etcd's `alarm disarm` sends one of
    /// these per listed alarm); the alarms it cleared.
    pub async fn alarm_disarm(
        &mut self,
        member: u64,
        alarm: AlarmType,
    ) -> Result<Vec<AlarmMember>, ClientError> {
        self.alarm(AlarmAction::Deactivate, member, alarm).await
    }

    async fn alarm(
        &mut self,
        action: AlarmAction,
        member: u64,
        alarm: AlarmType,
    ) -> Result<Vec<AlarmMember>, ClientError> {
        let request = client_request::Body::Alarm(AlarmRequest {
            action: action as i32,
            member_id: member,
            alarm: alarm as i32,
        });
        match self.request(request).await? {
            client_response::Body::Alarm(a) => Ok(a.alarms),
            _ => Err(ClientError::BadResponse("not an alarm response".into())),
        }
    }

    async fn request_once(
        &mut self,
        body: client_request::Body,
    ) -> Result<client_response::Body, ClientError> {
        let deadline = madsim::time::Instant::now() + self.timeout;
        self.connect().await?;
        let id = self.next_id;
        self.next_id += 1;
        let request = ClientRequest {
            id,
            body: Some(body),
            from_peer: self.from_peer,
        };
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| ClientError::Unavailable("not connected".into()))?;
        if let Err(e) = conn.tx.send(Box::new(request)).await {
            self.conn = None;
            return Err(ClientError::Unavailable(e.to_string()));
        }
        loop {
            let left = deadline.saturating_duration_since(madsim::time::Instant::now());
            let received = madsim::time::timeout(left, conn.rx.recv()).await;
            let payload = match received {
                Err(_) => {
                    // Drop the connection: a late answer must not be taken
                    // for the next request's.
                    self.conn = None;
                    return Err(ClientError::Timeout);
                }
                Ok(Err(e)) => {
                    self.conn = None;
                    return Err(ClientError::ConnectionLost(e.to_string()));
                }
                Ok(Ok(p)) => p,
            };
            let resp = payload
                .downcast::<ClientResponse>()
                .map_err(|_| ClientError::BadResponse("not a client response".into()))?;
            if resp.id != id {
                continue;
            }
            return match resp.body {
                Some(client_response::Body::Error(e)) => Err(ClientError::from_response(e)),
                Some(body) => Ok(body),
                None => Err(ClientError::BadResponse("empty response".into())),
            };
        }
    }
}

/// The sending half of a watch stream.
pub struct WatchSender {
    tx: Sender,
}

/// The receiving half of a watch stream.
pub struct WatchReceiver {
    rx: Receiver,
}

/// Opens a watch stream to one member.
pub async fn open_watch_stream(
    ip: IpAddr,
    timeout: Duration,
) -> Result<(WatchSender, WatchReceiver), ClientError> {
    let ep = Endpoint::bind("0.0.0.0:0")
        .await
        .map_err(|e| ClientError::Unavailable(e.to_string()))?;
    let connect = ep.connect1(SocketAddr::new(ip, crate::config::WATCH_PORT));
    match madsim::time::timeout(timeout, connect).await {
        Ok(Ok((tx, rx))) => Ok((WatchSender { tx }, WatchReceiver { rx })),
        Ok(Err(e)) => Err(ClientError::Unavailable(format!("{ip}: {e}"))),
        Err(_) => Err(ClientError::Unavailable(format!("{ip}: connect timed out"))),
    }
}

impl WatchSender {
    async fn send(&self, request: watch_request::Request) -> Result<(), ClientError> {
        self.tx
            .send(Box::new(WatchRequest {
                request: Some(request),
            }))
            .await
            .map_err(|e| ClientError::ConnectionLost(e.to_string()))
    }

    pub async fn create(&self, req: WatchCreateRequest) -> Result<(), ClientError> {
        self.send(watch_request::Request::Create(req)).await
    }

    pub async fn cancel(&self, watch_id: i64) -> Result<(), ClientError> {
        self.send(watch_request::Request::Cancel(WatchCancelRequest {
            watch_id,
        }))
        .await
    }

    pub async fn request_progress(&self) -> Result<(), ClientError> {
        self.send(watch_request::Request::Progress(WatchProgressRequest {}))
            .await
    }
}

impl WatchReceiver {
    /// The next response; `ConnectionLost` once the stream is gone.
    pub async fn recv(&mut self) -> Result<WatchResponse, ClientError> {
        let payload = self
            .rx
            .recv()
            .await
            .map_err(|e| ClientError::ConnectionLost(e.to_string()))?;
        payload
            .downcast::<WatchResponse>()
            .map(|response| *response)
            .map_err(|_| ClientError::BadResponse("not a watch response".into()))
    }
}
