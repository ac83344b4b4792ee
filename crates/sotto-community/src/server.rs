//! The HTTP shell: the plain-HTTP server from `sotto-transport` (connection caps, deadlines,
//! per-address admission, body caps) around [`Community::handle`].

use std::sync::Arc;

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
    serve_plain_with(listener, limits, Some(admission), move |req: Request| {
        let community = community.clone();
        async move {
            let method = req.method.clone();
            let resp = community.handle(api_request(req)).await;
            // No paths (they name rooms and ids), bodies, keys or addresses in the log.
            tracing::debug!(%method, status = resp.status, "request");
            Response {
                status: resp.status,
                headers: resp.headers,
                body: resp.body.into(),
            }
        }
    })
    .await
}

/// Opens the community named by `config` and serves it until accepting fails.
pub async fn run(config: Config) -> Result<(), RunError> {
    let community = Community::open(
        &config.data_dir,
        CommunityOptions {
            require_blind_keys: config.require_blind_keys,
        },
    )?;
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(
        listen = %config.listen,
        public_key = %hex::encode(community.server_pk()),
        "community server listening"
    );
    for (token, _) in community.rooms()? {
        tracing::info!(
            link = %join_link(&config.public_url, &token, &community.server_pk()),
            "room"
        );
    }
    serve(community, listener, &config).await?;
    Ok(())
}
