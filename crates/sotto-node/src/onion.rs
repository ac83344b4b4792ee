//! Onion requests (spec §4.2): `POST /onion_req/v2` from clients and `POST /sn/onion` from
//! other nodes. One layer is opened here; the request is then relayed to the next node,
//! served as a storage RPC, or proxied to an HTTP server.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use sotto_crypto::OsRng;
use sotto_onion::{
    Decision, OnionError, OnionRequest, OpenedLayer, RelayError, ReplyBody, relay_error, seal_v3,
};
use sotto_rpc::Request;
use sotto_transport::{Response, TransportError};

use crate::error::NodeError;
use crate::node::{Node, short, version_string};

/// How long the next node has to answer a relayed onion request (spec §6).
pub const HOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a proxied server request may take (spec §6).
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(25);

/// An error the client's layer key encrypts (HTTP 200 with the sealed `{"status","body"}`).
fn sealed(
    layer: &OpenedLayer,
    status: u16,
    body: ReplyBody<'_>,
    opts: sotto_onion::ReplyOptions,
) -> Response {
    match seal_v3(layer.reply_key(), status, body, opts, &mut OsRng) {
        Ok(bytes) if opts.base64 => Response::bytes(200, "text/plain; charset=utf-8", bytes),
        Ok(bytes) => Response::bytes(200, "application/octet-stream", bytes),
        Err(_) => Response::text(500, "Internal error"),
    }
}

/// A 502 for a next node this hop cannot find or reach. The text names the node, so it is
/// sealed with this layer's key for the client (Sotto's extension, see
/// `sotto_onion::relay_error`): the hops before this one pass it back without reading it.
fn relay_failed(layer: &OpenedLayer, text: String) -> Response {
    let error = RelayError { status: 502, text };
    match relay_error::seal(layer.reply_key(), &error, &mut OsRng) {
        Ok(body) => Response::bytes(502, "text/plain; charset=utf-8", body),
        Err(_) => Response::text(502, "Next node not reachable"),
    }
}

fn passthrough(resp: Response) -> Response {
    let ct = resp
        .header("content-type")
        .unwrap_or("application/octet-stream")
        .to_owned();
    Response::bytes(resp.status, &ct, resp.body)
}

impl Node {
    /// `POST /onion_req/v2` from a client (rate limited per client address).
    pub(crate) async fn onion_http(
        self: &Arc<Self>,
        req: &sotto_transport::Request,
        now_ms: u64,
        admitted: bool,
    ) -> Result<Response, NodeError> {
        if !admitted {
            self.allow_client(req.peer.ip(), now_ms)?;
        }
        // Never the client's address, at any level (a guard's log would link it to timing).
        tracing::debug!("onion request from a client");
        Ok(match OnionRequest::from_client_body(&req.body) {
            Ok(onion) => self.onion(&onion, now_ms).await,
            Err(e) => Response::text(400, format!("Invalid onion request: {e}")),
        })
    }

    /// `POST /sn/onion` from a listed node (rate limited per node).
    pub(crate) async fn onion_from_node(
        self: &Arc<Self>,
        req: &sotto_transport::Request,
        now_ms: u64,
    ) -> Result<Response, NodeError> {
        let sender = self.authenticate_peer(req, now_ms)?;
        tracing::debug!(peer = %req.peer.ip(), from = %short(&sender.pubkey_ed25519()), "onion request from a node");
        Ok(match OnionRequest::from_node_frame(&req.body) {
            Ok(onion) => self.onion(&onion, now_ms).await,
            Err(e) => Response::text(400, format!("Invalid onion request: {e}")),
        })
    }

    async fn onion(self: &Arc<Self>, request: &OnionRequest<'_>, now_ms: u64) -> Response {
        let layer = match self.onion_key.open(request) {
            Ok(layer) => layer,
            Err(OnionError::HopLimit { .. }) => {
                return Response::text(400, "onion request max path length exceeded");
            }
            Err(_) => return Response::text(400, "Invalid ciphertext"),
        };
        let decision = match layer.route() {
            Ok(d) => d,
            Err(OnionError::TargetNotAllowed(_) | OnionError::HostNotAllowed(_)) => {
                return sealed(
                    &layer,
                    400,
                    ReplyBody::Text("Invalid url"),
                    Default::default(),
                );
            }
            Err(_) => {
                return sealed(
                    &layer,
                    400,
                    ReplyBody::Text("Invalid json"),
                    Default::default(),
                );
            }
        };
        match decision {
            Decision::RelayToNode { next_node, request } => {
                let view = self.view();
                let Some(next) = view.node(&next_node) else {
                    return relay_failed(
                        &layer,
                        format!("Next node not found: {}", hex::encode(next_node.0)),
                    );
                };
                tracing::debug!(next = %short(&next_node), hop = request.hop_no, "relaying onion request");
                match self
                    .post_to_node(next, "/sn/onion", request.to_node_frame(), HOP_TIMEOUT)
                    .await
                {
                    Ok(resp) => passthrough(resp),
                    Err(TransportError::Timeout(_)) => Response::text(504, "Request time out"),
                    Err(e) => {
                        tracing::info!(next = %short(&next_node), error = %e, "onion relay failed");
                        relay_failed(
                            &layer,
                            format!("Next node not reachable: {}", hex::encode(next_node.0)),
                        )
                    }
                }
            }
            Decision::FinalDestination(fin) => {
                tracing::debug!("onion request for this node: serving a storage rpc");
                let answer = match Request::from_http_body(fin.body) {
                    Ok(rpc) => self.rpc(rpc, now_ms).await,
                    Err(e) => Err(e.into()),
                };
                let (status, text, json) = match answer {
                    Ok(a) if a.json => (
                        a.status,
                        String::from_utf8_lossy(&a.body).into_owned(),
                        true,
                    ),
                    Ok(a) => (
                        a.status,
                        base64::engine::general_purpose::STANDARD.encode(&a.body),
                        false,
                    ),
                    Err(NodeError::WrongSwarm(body)) => {
                        (421, String::from_utf8_lossy(&body).into_owned(), true)
                    }
                    Err(e) => (e.status(), e.message(), false),
                };
                let body = if json {
                    ReplyBody::Json(&text)
                } else {
                    ReplyBody::Text(&text)
                };
                sealed(&layer, status, body, fin.options)
            }
            Decision::RelayToServer(relay) => {
                let url = relay.url();
                let agent = format!("Sotto Storage Server/{}", version_string());
                let headers = [
                    ("user-agent", agent.as_str()),
                    ("content-type", "application/octet-stream"),
                ];
                match self
                    .client
                    .post_url(&url, &headers, relay.payload.to_vec(), SERVER_TIMEOUT)
                    .await
                {
                    Ok(resp) => passthrough(resp),
                    Err(TransportError::Timeout(_)) => Response::text(504, "Request time out"),
                    // A target refused by the node's policy (a loopback, private or
                    // link-local address) gets the same answer as an unreachable one.
                    Err(e) => {
                        tracing::debug!(error = %e, "server relay failed");
                        Response::text(502, "Unable to reach the server")
                    }
                }
            }
        }
    }
}
