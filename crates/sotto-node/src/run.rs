//! Running a node: identity, store, HTTPS server, expiry sweep and directory follower.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sotto_crypto::OsRng;
use sotto_store::Store;
use sotto_transport::{Admission, HttpsClient, TargetPolicy, TlsIdentity, serve_with};
use thiserror::Error;

use crate::config::NodeConfig;
use crate::directory::{Directory, follow};
use crate::identity::{IdentityError, load_or_create};
use crate::node::{Node, server_limits, unix_now_ms, version_string};

/// How often expired messages are deleted (spec §6).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// Why the node could not start or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// The identity key.
    #[error("identity: {0}")]
    Identity(#[from] IdentityError),
    /// The message store.
    #[error("message store {path}: {source}")]
    Store {
        /// The database file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: sotto_store::StoreError,
    },
    /// The store's thread could not start.
    #[error("cannot start the store thread: {0}")]
    StoreThread(#[source] std::io::Error),
    /// The TLS identity.
    #[error("TLS: {0}")]
    Tls(#[from] sotto_transport::TransportError),
    /// Binding or serving the listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddrV4,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The `server_ca_file` could not be read.
    #[error("server_ca_file {path}: {source}")]
    ServerCa {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Builds the directory link for a node (the node's key signs registrations and proofs).
pub type DirectoryFactory =
    dyn FnOnce(&NodeConfig, &sotto_crypto::Ed25519SecretKey, HttpsClient) -> Arc<dyn Directory>;

/// Starts the node from `config` and runs until the server fails or Ctrl-C / SIGTERM.
pub async fn run(config: NodeConfig, directory: Box<DirectoryFactory>) -> Result<(), RunError> {
    let identity = load_or_create(&config.data_dir, &mut OsRng)?;
    let key = identity.key;
    let pubkey = key.public_key();
    if identity.created {
        tracing::info!(pubkey = %hex::encode(pubkey.0), "created a new identity key");
    }
    let store_path = config.store_path();
    let mut store =
        Store::open(&store_path, config.store_limit_bytes).map_err(|source| RunError::Store {
            path: store_path.clone(),
            source,
        })?;
    store.set_quota(config.account_quota);
    let tls = TlsIdentity::new(&key)?;
    let mut client = HttpsClient::with_local_addr(IpAddr::V4(config.public_ip()))
        .with_target_policy(if config.allow_private_targets {
            TargetPolicy::AllowPrivate
        } else {
            TargetPolicy::PublicOnly
        });
    if let Some(path) = &config.server_ca_file {
        let pem = std::fs::read(path).map_err(|source| RunError::ServerCa {
            path: path.clone(),
            source,
        })?;
        client = client.with_extra_roots(&pem)?;
    }
    let link = directory(&config, &key, client.clone());
    let node = Arc::new(Node::new(key, store, client).map_err(RunError::StoreThread)?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Listen {
            addr: config.listen,
            source,
        })?;
    tracing::info!(
        pubkey = %hex::encode(pubkey.0),
        listen = %config.listen,
        version = %version_string(),
        sotto = env!("CARGO_PKG_VERSION"),
        "service node listening"
    );
    let handler = {
        let node = Arc::clone(&node);
        move |req| {
            let node = Arc::clone(&node);
            async move { node.handle_admitted(req, unix_now_ms()).await }
        }
    };
    let admission: Admission = {
        let node = Arc::clone(&node);
        Arc::new(move |head| node.admit(head, unix_now_ms()))
    };
    let limits = server_limits(config.max_connections, config.max_connections_per_ip);
    let mut server = tokio::spawn(serve_with(listener, tls, limits, Some(admission), handler));
    let sweeper = tokio::spawn(sweep(Arc::clone(&node)));
    let resumer = tokio::spawn(resume_forwards(Arc::clone(&node)));
    let follower = tokio::spawn(follow(
        Arc::clone(&node),
        link,
        config.proof_interval,
        config.list_poll_interval,
    ));
    let result = tokio::select! {
        served = &mut server => match served {
            Ok(Err(source)) => Err(RunError::Listen { addr: config.listen, source }),
            _ => Ok(()),
        },
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            Ok(())
        }
    };
    server.abort();
    sweeper.abort();
    resumer.abort();
    follower.abort();
    result
}

async fn sweep(node: Arc<Node>) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        tick.tick().await;
        match node.with_store(|s| s.sweep_expired(unix_now_ms())).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "expired messages swept"),
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
    }
}

/// How often peers with requests in the retry queue get their forwarding task back (after a
/// restart, the queue is all that is left of them).
pub const RESUME_INTERVAL: Duration = Duration::from_secs(5);

async fn resume_forwards(node: Arc<Node>) {
    let mut tick = tokio::time::interval(RESUME_INTERVAL);
    loop {
        tick.tick().await;
        node.replicator.resume(&node).await;
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
