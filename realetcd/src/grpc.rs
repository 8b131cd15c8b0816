//! etcd's v3 gRPC services, called with tonic on etcd's own message types
//! (generated from etcd's proto files by the etcd-client crate): every
//! field of every request is set by us, and every field of every answer is
//! seen.

use etcd_client::proto::{
    PbCompactionRequest, PbCompactionResponse, PbDefragmentResponse, PbDeleteRequest,
    PbDeleteResponse, PbHashKvRequest, PbHashKvResponse, PbLeaseGrantRequest, PbLeaseGrantResponse,
    PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse, PbLeaseLeasesRequest, PbLeaseLeasesResponse,
    PbLeaseRevokeRequest, PbLeaseRevokeResponse, PbLeaseTimeToLiveRequest,
    PbLeaseTimeToLiveResponse, PbMemberAddRequest, PbMemberAddResponse, PbMemberListRequest,
    PbMemberListResponse, PbMemberRemoveRequest, PbMemberRemoveResponse, PbPutRequest,
    PbPutResponse, PbRangeRequest, PbRangeResponse, PbStatusRequest, PbStatusResponse,
    PbTxnRequest, PbTxnResponse, PbWatchRequest, PbWatchResponse,
};
use std::time::Duration;
use tonic::Status;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;
use tonic_prost::prost::Message;

/// How long one request may take before it counts as unanswered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one etcd member (a clone shares it).
#[derive(Clone)]
pub struct Etcd {
    grpc: tonic::client::Grpc<Channel>,
}

impl Etcd {
    pub async fn connect(endpoint: &str) -> Result<Etcd, ConnectError> {
        let channel = Channel::from_shared(endpoint.to_string())
            .map_err(|e| ConnectError::Endpoint(format!("{endpoint}: {e}")))?
            .connect_timeout(Duration::from_secs(1))
            .timeout(REQUEST_TIMEOUT)
            .connect()
            .await?;
        Ok(Etcd {
            grpc: tonic::client::Grpc::new(channel),
        })
    }

    async fn unary<Req, Resp>(&mut self, path: &'static str, request: Req) -> Result<Resp, Status>
    where
        Req: Message + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let codec = ProstCodec::<Req, Resp>::default();
        self.grpc
            .unary(
                tonic::Request::new(request),
                PathAndQuery::from_static(path),
                codec,
            )
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn range(&mut self, r: PbRangeRequest) -> Result<PbRangeResponse, Status> {
        self.unary("/etcdserverpb.KV/Range", r).await
    }

    pub async fn put(&mut self, r: PbPutRequest) -> Result<PbPutResponse, Status> {
        self.unary("/etcdserverpb.KV/Put", r).await
    }

    pub async fn delete(&mut self, r: PbDeleteRequest) -> Result<PbDeleteResponse, Status> {
        self.unary("/etcdserverpb.KV/DeleteRange", r).await
    }

    pub async fn txn(&mut self, r: PbTxnRequest) -> Result<PbTxnResponse, Status> {
        self.unary("/etcdserverpb.KV/Txn", r).await
    }

    pub async fn compact(
        &mut self,
        r: PbCompactionRequest,
    ) -> Result<PbCompactionResponse, Status> {
        self.unary("/etcdserverpb.KV/Compact", r).await
    }

    pub async fn lease_grant(
        &mut self,
        r: PbLeaseGrantRequest,
    ) -> Result<PbLeaseGrantResponse, Status> {
        self.unary("/etcdserverpb.Lease/LeaseGrant", r).await
    }

    pub async fn lease_revoke(
        &mut self,
        r: PbLeaseRevokeRequest,
    ) -> Result<PbLeaseRevokeResponse, Status> {
        self.unary("/etcdserverpb.Lease/LeaseRevoke", r).await
    }

    pub async fn lease_time_to_live(
        &mut self,
        r: PbLeaseTimeToLiveRequest,
    ) -> Result<PbLeaseTimeToLiveResponse, Status> {
        self.unary("/etcdserverpb.Lease/LeaseTimeToLive", r).await
    }

    pub async fn lease_leases(&mut self) -> Result<PbLeaseLeasesResponse, Status> {
        self.unary("/etcdserverpb.Lease/LeaseLeases", PbLeaseLeasesRequest {})
            .await
    }

    /// One keep-alive on a stream of its own: the first answer.
    pub async fn lease_keep_alive(
        &mut self,
        r: PbLeaseKeepAliveRequest,
    ) -> Result<PbLeaseKeepAliveResponse, Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let codec = ProstCodec::<PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse>::default();
        let requests = futures::stream::iter(vec![r]);
        let mut stream = self
            .grpc
            .streaming(
                tonic::Request::new(requests),
                PathAndQuery::from_static("/etcdserverpb.Lease/LeaseKeepAlive"),
                codec,
            )
            .await?
            .into_inner();
        stream
            .message()
            .await?
            .ok_or_else(|| Status::unavailable("the keep-alive stream ended without an answer"))
    }

    /// Opens a Watch stream: requests go in through `requests`, responses
    /// come out of the returned stream.
    pub async fn watch(
        &mut self,
        requests: futures::channel::mpsc::UnboundedReceiver<PbWatchRequest>,
    ) -> Result<tonic::Streaming<PbWatchResponse>, Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let codec = ProstCodec::<PbWatchRequest, PbWatchResponse>::default();
        Ok(self
            .grpc
            .streaming(
                tonic::Request::new(requests),
                PathAndQuery::from_static("/etcdserverpb.Watch/Watch"),
                codec,
            )
            .await?
            .into_inner())
    }

    pub async fn status(&mut self) -> Result<PbStatusResponse, Status> {
        self.unary("/etcdserverpb.Maintenance/Status", PbStatusRequest {})
            .await
    }

    pub async fn member_list(&mut self) -> Result<PbMemberListResponse, Status> {
        self.unary(
            "/etcdserverpb.Cluster/MemberList",
            PbMemberListRequest::default(),
        )
        .await
    }

    pub async fn member_add(
        &mut self,
        r: PbMemberAddRequest,
    ) -> Result<PbMemberAddResponse, Status> {
        self.unary("/etcdserverpb.Cluster/MemberAdd", r).await
    }

    pub async fn member_remove(
        &mut self,
        r: PbMemberRemoveRequest,
    ) -> Result<PbMemberRemoveResponse, Status> {
        self.unary("/etcdserverpb.Cluster/MemberRemove", r).await
    }

    /// Defragment: its request message is empty (and not exported by
    /// etcd-client under a name), so the unit type encodes it.
    pub async fn defragment(&mut self) -> Result<PbDefragmentResponse, Status> {
        self.unary("/etcdserverpb.Maintenance/Defragment", ()).await
    }

    pub async fn hash_kv(&mut self, r: PbHashKvRequest) -> Result<PbHashKvResponse, Status> {
        self.unary("/etcdserverpb.Maintenance/HashKV", r).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("not an endpoint: {0}")]
    Endpoint(String),
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
}
