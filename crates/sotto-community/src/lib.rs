#![doc = include_str!("../README.md")]

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod files;
mod permissions;
pub mod server;
pub mod store;
mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sotto_crypto::{X25519PublicKey, X25519SecretKey};
use sotto_identity::blinding::{blind15_ids, blind25_id};
use sotto_identity::{IdPrefix, PrefixedId, SessionId};
pub use sotto_transport::identity;
use store::Db;
use thiserror::Error;

pub use api::{ApiError, ApiRequest, ApiResponse, Settings};

/// Why the community could not be opened or an operator command failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CommunityError {
    /// The identity key could not be loaded or created.
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// A database query failed.
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
    /// A room token is not 1–64 of `A-Z a-z 0-9 _ -`.
    #[error("invalid room token {0:?}: use 1 to 64 letters, digits, '_' or '-'")]
    BadToken(String),
    /// The room exists already.
    #[error("room {0:?} exists already")]
    RoomExists(String),
    /// There is no such room.
    #[error("no room {0:?}")]
    NoRoom(String),
    /// A user id is not a `05` Session ID or a `15`/`25` blinded id.
    #[error("invalid user id: give a 05 Session ID or a 15/25 blinded id (66 hex digits)")]
    BadUserId,
}

/// The server's key: pysogs uses one 32-byte secret as its X25519 private key (onion
/// decryption, and `server_pk` in blinding) and as its Ed25519 seed.
#[derive(Clone)]
pub struct ServerKeys {
    /// The X25519 private key.
    pub x25519: X25519SecretKey,
    /// The X25519 public key: the `public_key` of join links.
    pub public: X25519PublicKey,
}

impl ServerKeys {
    /// Loads `DATA_DIR/identity.key`, creating the directory (0700) and the key (0600) if needed.
    pub fn load_or_create(data_dir: &Path) -> Result<(Self, bool), CommunityError> {
        let identity::Identity { key, created } =
            identity::load_or_create(data_dir, &mut sotto_crypto::OsRng)?;
        let x25519 = X25519SecretKey::from_bytes(key.seed().expose());
        let public = x25519.public_key();
        Ok((Self { x25519, public }, created))
    }
}

/// Options of a community server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommunityOptions {
    /// Refuse unblinded (`00`) keys (pysogs `REQUIRE_BLIND_KEYS`, default true).
    pub require_blind_keys: bool,
    /// A PostgreSQL URL (`postgresql://user@host/db`) to store everything there instead of
    /// in `DATA_DIR/community.sqlite`.
    pub database_url: Option<String>,
}

impl CommunityOptions {
    /// Options with `require_blind_keys` set as given (and SQLite storage).
    #[must_use]
    pub fn new(require_blind_keys: bool) -> Self {
        Self {
            require_blind_keys,
            database_url: None,
        }
    }

    /// The same options, storing in the PostgreSQL database at `url` (`None`: SQLite).
    #[must_use]
    pub fn with_database_url(mut self, url: Option<String>) -> Self {
        self.database_url = url;
        self
    }
}

impl Default for CommunityOptions {
    fn default() -> Self {
        Self::new(true)
    }
}

/// A community server's state: its key, its database and its settings. Cheap to clone.
#[derive(Clone)]
pub struct Community {
    conn: Arc<Mutex<Db>>,
    settings: Arc<Settings>,
    keys: ServerKeys,
    data_dir: PathBuf,
    last_maintenance: Arc<AtomicU64>,
}

/// The uploads directory's name inside the data directory.
pub const UPLOADS_DIR: &str = "uploads";

/// Unix time in seconds, as a float (SOGS timestamps).
#[must_use]
pub fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Community {
    /// Opens the community in `data_dir` (creating the key and database if needed).
    pub fn open(data_dir: &Path, options: CommunityOptions) -> Result<Self, CommunityError> {
        let (keys, _) = ServerKeys::load_or_create(data_dir)?;
        let conn = match &options.database_url {
            Some(url) => db::open_postgres(url)?,
            None => db::open(&data_dir.join(db::DB_FILE))?,
        };
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            settings: Arc::new(Settings {
                server_pk: keys.public.0,
                require_blind_keys: options.require_blind_keys,
                uploads: Some(data_dir.join(UPLOADS_DIR)),
            }),
            keys,
            data_dir: data_dir.to_owned(),
            last_maintenance: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A community with its database in memory and the given 32-byte key (for tests and
    /// fuzzing; nothing is written to disk).
    pub fn in_memory(secret: &[u8; 32], options: CommunityOptions) -> Result<Self, CommunityError> {
        let x25519 = X25519SecretKey::from_bytes(secret);
        let public = x25519.public_key();
        let conn = rusqlite::Connection::open_in_memory().map_err(store::StoreError::from)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(store::StoreError::from)?;
        let conn = Db::sqlite(conn);
        db::migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            settings: Arc::new(Settings {
                server_pk: public.0,
                require_blind_keys: options.require_blind_keys,
                uploads: None,
            }),
            keys: ServerKeys { x25519, public },
            data_dir: PathBuf::new(),
            last_maintenance: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The server's keys.
    #[must_use]
    pub fn keys(&self) -> &ServerKeys {
        &self.keys
    }

    /// The server's X25519 public key.
    #[must_use]
    pub fn server_pk(&self) -> [u8; 32] {
        self.settings.server_pk
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Answers one request on the calling thread (which must not be an async worker).
    #[must_use]
    pub fn handle_blocking(&self, req: &ApiRequest) -> ApiResponse {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = now_s();
        self.maintain(&conn, now);
        if let Err(e) = conn.begin_request() {
            tracing::error!(error = %e, "database error");
            return ApiResponse::internal_error();
        }
        let response = api::handle(&conn, &self.settings, req, now);
        if let Err(e) = conn.end_request() {
            tracing::error!(error = %e, "database error");
            return ApiResponse::internal_error();
        }
        response
    }

    /// At most once a minute: forget expired nonces, DMs and files.
    fn maintain(&self, conn: &Db, now: f64) {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "seconds"
        )]
        let now_whole = now as u64;
        let last = self.last_maintenance.load(Ordering::Relaxed);
        if now_whole < last.saturating_add(60) {
            return;
        }
        self.last_maintenance.store(now_whole, Ordering::Relaxed);
        let result = conn
            .execute("DELETE FROM user_request_nonces WHERE expiry < ?1", [now])
            .and_then(|_| conn.execute("DELETE FROM inbox WHERE expiry < ?1", [now]))
            .and_then(|_| files::prune(conn, self.settings.uploads.as_deref(), now));
        if let Err(e) = result {
            tracing::warn!(error = %e, "maintenance failed");
        }
    }

    /// Answers one request: the database work runs on a blocking thread, never on an async
    /// worker and never under a lock held across an `.await`.
    pub async fn handle(&self, req: ApiRequest) -> ApiResponse {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.handle_blocking(&req))
            .await
            .unwrap_or_else(|_| ApiResponse::internal_error())
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, CommunityError>,
    ) -> Result<T, CommunityError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&conn)
    }

    /// Creates a room.
    pub fn add_room(
        &self,
        token: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<(), CommunityError> {
        if !db::valid_token(token) {
            return Err(CommunityError::BadToken(token.to_owned()));
        }
        self.with_conn(|conn| {
            if db::add_room(conn, token, name, description, now_s())? {
                Ok(())
            } else {
                Err(CommunityError::RoomExists(token.to_owned()))
            }
        })
    }

    /// Deletes a room with its messages.
    pub fn remove_room(&self, token: &str) -> Result<(), CommunityError> {
        self.with_conn(|conn| {
            if db::remove_room(conn, token)? {
                Ok(())
            } else {
                Err(CommunityError::NoRoom(token.to_owned()))
            }
        })
    }

    /// Every room: `(token, name)`.
    pub fn rooms(&self) -> Result<Vec<(String, String)>, CommunityError> {
        self.with_conn(|conn| {
            Ok(db::all_rooms(conn)?
                .into_iter()
                .map(|r| (r.token, r.name))
                .collect())
        })
    }

    /// The ids a user given by the operator may authenticate as: a blinded id as given, or for
    /// a `05` Session ID the id itself (unblinded auth), both 15-blinded candidates and the
    /// 25-blinded id on this server.
    pub fn resolve_user(&self, id: &str) -> Result<Vec<String>, CommunityError> {
        let parsed: PrefixedId = id.parse().map_err(|_| CommunityError::BadUserId)?;
        match parsed.prefix() {
            IdPrefix::Blinded15 | IdPrefix::Blinded25 => Ok(vec![parsed.to_string()]),
            IdPrefix::Standard => {
                let sid = SessionId::try_from(parsed).map_err(|_| CommunityError::BadUserId)?;
                let pk = &self.settings.server_pk;
                let [a, b] = blind15_ids(&sid, pk).map_err(|_| CommunityError::BadUserId)?;
                let c = blind25_id(&sid, pk).map_err(|_| CommunityError::BadUserId)?;
                Ok(vec![
                    sid.to_string(),
                    a.to_string(),
                    b.to_string(),
                    c.to_string(),
                ])
            }
            _ => Err(CommunityError::BadUserId),
        }
    }

    /// Makes a user (see [`Community::resolve_user`]) a moderator or admin of `room`, or of
    /// every room when `room` is `None`; hidden ones are listed to moderators only.
    pub fn add_moderator(
        &self,
        room: Option<&str>,
        user: &str,
        admin: bool,
        visible: bool,
    ) -> Result<(), CommunityError> {
        let ids = self.resolve_user(user)?;
        self.with_conn(|conn| {
            let room = match room {
                Some(token) => Some(
                    db::room_by_token(conn, token)?
                        .ok_or_else(|| CommunityError::NoRoom(token.to_owned()))?,
                ),
                None => None,
            };
            for id in &ids {
                let uid = db::user_id(conn, id, now_s())?;
                match &room {
                    Some(r) => db::set_room_moderator(conn, r.id, uid, admin, visible)?,
                    None => db::set_global_moderator(conn, uid, admin, visible)?,
                }
            }
            Ok(())
        })
    }
}

impl Community {
    /// Bans (or unbans) a user (see [`Community::resolve_user`]) from `room`, or from the whole
    /// server when `room` is `None`; a ban with `timeout_s` ends by itself.
    pub fn ban(
        &self,
        room: Option<&str>,
        user: &str,
        banned: bool,
        timeout_s: Option<f64>,
    ) -> Result<(), CommunityError> {
        let ids = self.resolve_user(user)?;
        let now = now_s();
        let until = timeout_s.map(|t| now + t);
        self.with_conn(|conn| {
            let room = match room {
                Some(token) => Some(
                    db::room_by_token(conn, token)?
                        .ok_or_else(|| CommunityError::NoRoom(token.to_owned()))?,
                ),
                None => None,
            };
            for id in &ids {
                let uid = db::user_id(conn, id, now)?;
                match &room {
                    Some(r) => {
                        conn.execute(
                            "INSERT INTO user_permission_overrides (room, user, banned, banned_until)
                             VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (room, user) DO UPDATE SET banned = ?3, banned_until = ?4",
                            crate::store::params![r.id, uid, banned, until],
                        )?;
                    }
                    None => {
                        conn.execute(
                            "UPDATE users SET banned = ?2, banned_until = ?3 WHERE id = ?1",
                            crate::store::params![uid, banned, until],
                        )?;
                    }
                }
            }
            Ok(())
        })
    }
}

/// The join link of a room: `BASE/TOKEN?public_key=HEX`.
#[must_use]
pub fn join_link(base_url: &str, token: &str, server_pk: &[u8; 32]) -> String {
    format!(
        "{}/{token}?public_key={}",
        base_url.trim_end_matches('/'),
        hex::encode(server_pk)
    )
}
