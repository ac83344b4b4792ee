//! The HTTP shell: the plain-HTTP server from `sotto-transport` (connection caps, deadlines,
//! per-address admission, body caps) around [`Community::handle`].

use std::sync::Arc;

use sotto_crypto::OsRng;
use sotto_onion::{V4_TARGET, V4Response, X25519Keypair, open_v4};
use sotto_transport::ratelimit::{PerAddress, Rate};
use sotto_transport::{Admission, Request, Response, ServerLimits, serve_plain_with};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::{ApiRequest, Community, CommunityError, CommunityOptions, join_link};

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Opening the data directory, key or database failed.
    #[error(transparent)]
    Community(#[from] CommunityError),
    /// Binding or accepting failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Converts a transport request into an API request.
#[must_use]
pub fn api_request(req: Request) -> ApiRequest {
    ApiRequest::new(req.method, req.path, req.headers, req.body.to_vec())
}

/// Serves the community on `listener` until accepting fails.
pub async fn serve(
    community: Community,
    listener: TcpListener,
    config: &Config,
) -> std::io::Result<()> {
    let limits = ServerLimits::new(config.max_body);
    let limiter = PerAddress::new(Rate {
        per_s: config.requests_per_s_per_ip,
        burst: config.request_burst_per_ip,
    });
    let admission: Admission = Arc::new(move |head| {
        if limiter.allow(head.peer.ip()) {
            Ok(())
        } else {
            Err(Response::text(429, "Too many requests"))
        }
    });
    let keypair = Arc::new(X25519Keypair::new(community.keys().x25519.clone()));
    serve_plain_with(listener, limits, Some(admission), move |req: Request| {
        let community = community.clone();
        let keypair = Arc::clone(&keypair);
        async move {
            let method = req.method.clone();
            let resp = if req.method == "POST" && req.path == V4_TARGET {
                onion(&community, &keypair, &req.body).await
            } else {
                let resp = community.handle(api_request(req)).await;
                Response {
                    status: resp.status,
                    headers: resp.headers,
                    body: resp.body.into(),
                }
            };
            // No paths (they name rooms and ids), bodies, keys or addresses in the log.
            tracing::debug!(%method, status = resp.status, "request");
            resp
        }
    })
    .await
}

/// `POST /oxen/v4/lsrpc`, the way Session apps reach a community: opens the layer with the
/// server's key, runs the inner request on the same routes, and seals the answer. A body that
/// does not open gets a plain 400; a layer that opens but holds no v4 request, a sealed 400.
async fn onion(community: &Community, keypair: &X25519Keypair, body: &[u8]) -> Response {
    let Ok(opened) = open_v4(body, keypair) else {
        return Response::text(400, "Invalid ciphertext");
    };
    let sealed = match opened.request {
        Err(_) => opened.reply_key.seal_invalid(&mut OsRng),
        Ok(request) if request.endpoint == V4_TARGET => opened.reply_key.seal(
            &V4Response {
                code: 404,
                headers: Vec::new(),
                body: None,
            },
            &mut OsRng,
        ),
        Ok(request) => {
            let inner = ApiRequest::new(
                request.method,
                request.endpoint,
                request.headers,
                request.body.unwrap_or_default(),
            );
            let resp = community.handle(inner).await;
            opened.reply_key.seal(
                &V4Response {
                    code: resp.status,
                    headers: resp.headers,
                    body: Some(resp.body),
                },
                &mut OsRng,
            )
        }
    };
    match sealed {
        Ok(bytes) => Response::bytes(200, "application/octet-stream", bytes),
        Err(_) => Response::text(500, "Could not seal the reply"),
    }
}

/// Opens the community named by `config` and serves it until accepting fails.
pub async fn run(config: Config) -> Result<(), RunError> {
    // Opening connects to the database with a blocking client: off the async threads.
    let (data_dir, options) = (
        config.data_dir.clone(),
        CommunityOptions::new(config.require_blind_keys)
            .with_database_url(config.database_url.clone()),
    );
    let (community, rooms) = tokio::task::spawn_blocking(move || {
        let community = Community::open(&data_dir, options)?;
        let rooms = community.rooms()?;
        Ok::<_, CommunityError>((community, rooms))
    })
    .await
    .map_err(std::io::Error::other)??;
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(
        listen = %config.listen,
        public_key = %hex::encode(community.server_pk()),
        "community server listening"
    );
    for (token, _) in rooms {
        tracing::info!(
            link = %join_link(&config.public_url, &token, &community.server_pk()),
            "room"
        );
    }
    serve(community, listener, &config).await?;
    Ok(())
}
