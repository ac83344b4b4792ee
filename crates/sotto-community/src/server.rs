//! The HTTP shell: the plain-HTTP server from `sotto-transport` (connection caps, deadlines,
//! per-address admission, body caps) around [`Community::handle`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sotto_transport::{Admission, Request, Response, ServerLimits, serve_plain_with};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::{ApiRequest, Community, CommunityError, CommunityOptions, join_link};

/// Most client addresses tracked by the admission buckets; beyond, the table is cleared.
const MAX_TRACKED: usize = 65_536;

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

/// Token buckets per client address.
struct Buckets {
    table: Mutex<HashMap<IpAddr, (f64, Instant)>>,
    per_s: f64,
    burst: f64,
}

impl Buckets {
    fn take(&self, ip: IpAddr) -> bool {
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if table.len() >= MAX_TRACKED && !table.contains_key(&ip) {
            table.clear();
        }
        let now = Instant::now();
        let (tokens, last) = table.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_s).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
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
    let buckets = Arc::new(Buckets {
        table: Mutex::new(HashMap::new()),
        per_s: f64::from(config.requests_per_s_per_ip),
        burst: f64::from(config.request_burst_per_ip),
    });
    let admission: Admission = Arc::new(move |head| {
        if buckets.take(head.peer.ip()) {
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
