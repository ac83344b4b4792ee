//! The SOGS v3 API (spec groups.md §4.4): one synchronous function from a parsed request to a
//! response, run on the storage thread with the database connection.

use crate::store::{Db, OptionalExtension, named_params, params};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sotto_crypto::{Ed25519PublicKey, Signature};
use sotto_identity::{IdPrefix, PrefixedId};
use thiserror::Error;

use crate::auth::{self, AuthError};
use crate::db::{self, Perms, Room};
use crate::users;

/// Seconds a room counts a user as active after their last request (`active_users_cutoff`).
pub const ACTIVE_USERS_CUTOFF_S: i64 = 7 * 24 * 60 * 60;
/// How long a used nonce is remembered: past the ±24 h window on both sides.
pub const NONCE_KEEP_S: f64 = 50.0 * 60.0 * 60.0;
/// Default page size of message listings.
pub const DEFAULT_LIMIT: i64 = 100;
/// Largest page size of message listings.
pub const MAX_LIMIT: i64 = 256;
/// Default number of reactors listed per reaction.
pub const DEFAULT_REACTORS: i64 = 4;
/// Largest number of reactors listed per reaction.
pub const MAX_REACTORS: i64 = 20;
/// Posts a user may make per room within [`RATE_LIMIT_WINDOW_S`] (moderators are exempt).
pub const RATE_LIMIT_POSTS: i64 = 5;
/// The posting rate-limit window, seconds.
pub const RATE_LIMIT_WINDOW_S: f64 = 16.0;
/// Most subrequests in one batch or sequence.
pub const MAX_SUBREQUESTS: usize = 64;
/// Longest reaction, in Unicode code points.
pub const MAX_REACTION_CHARS: usize = 12;

/// A request as the API sees it: method, path with its raw query, headers and body. The plain
/// HTTP route builds one from the socket; an onion route builds one from a v4 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path and query as sent (percent-encoded), e.g. `/room/lobby/messages/recent?limit=5`.
    pub path: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body (empty when none).
    pub body: Vec<u8>,
}

impl ApiRequest {
    /// A request from its parts.
    pub fn new(
        method: impl Into<String>,
        path: impl Into<String>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            headers,
            body,
        }
    }
}

/// A response: status, headers (lower-case names) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// A bare 500 answer (the database failed outside any endpoint).
    pub(crate) fn internal_error() -> Self {
        Self::text(500, "internal error")
    }

    pub(crate) fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: text.as_bytes().to_vec(),
        }
    }

    /// Whether the body is JSON.
    #[must_use]
    pub fn is_json(&self) -> bool {
        self.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("content-type") && v.starts_with("application/json")
        })
    }
}

/// Why a request failed; each maps to one HTTP status in [`ApiError::status`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The X-SOGS authentication was refused.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(&'static str),
    /// The endpoint needs an authenticated user.
    #[error("X-SOGS-* request authentication required")]
    Unauthorized,
    /// The user may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such endpoint, room or message (or not visible to this user).
    #[error("Not found")]
    NotFound,
    /// The posting rate limit was hit.
    #[error("Rate limit exceeded: too many posts in this room")]
    RateLimited,
    /// An upload is larger than the server accepts.
    #[error("File too large")]
    TooLarge,
    /// Reading or writing an uploaded file failed.
    #[error("internal storage error")]
    Storage(#[source] std::io::Error),
    /// The database failed.
    #[error("internal database error")]
    Database(#[from] crate::store::StoreError),
}

impl ApiError {
    /// The HTTP status of this error.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Auth(e) => e.status(),
            Self::BadRequest(_) => 400,
            Self::Unauthorized => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound => 404,
            Self::RateLimited => 429,
            Self::TooLarge => 413,
            Self::Database(_) | Self::Storage(_) => 500,
        }
    }

    fn response(&self) -> ApiResponse {
        match self {
            Self::Database(e) => tracing::error!(error = %e, "database error"),
            Self::Storage(e) => tracing::error!(error = %e, "file storage error"),
            _ => {}
        }
        ApiResponse::text(self.status(), &self.to_string())
    }
}

/// Server-wide settings the API needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server's X25519 public key (`server_pk` in every SOGS formula).
    pub server_pk: [u8; 32],
    /// Refuse unblinded (`00`) keys (pysogs `REQUIRE_BLIND_KEYS`, default true).
    pub require_blind_keys: bool,
    /// Where uploaded files go; `None` disables files (an in-memory server).
    pub uploads: Option<std::path::PathBuf>,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: i64,
    key: Ed25519PublicKey,
    pub(crate) prefix: IdPrefix,
}

/// What an endpoint works with: the connection, settings, time and caller.
pub(crate) struct Ctx<'a> {
    pub(crate) conn: &'a Db,
    settings: &'a Settings,
    pub(crate) now: f64,
    user: Option<User>,
    pub(crate) uploads: Option<&'a std::path::Path>,
}

impl Ctx<'_> {
    pub(crate) fn user_id(&self) -> Option<i64> {
        self.user.as_ref().map(|u| u.id)
    }

    pub(crate) fn require_user(&self) -> Result<&User, ApiError> {
        self.user.as_ref().ok_or(ApiError::Unauthorized)
    }
}

/// Answers one request at time `now` (unix seconds): authentication, then the endpoint. Any
/// change an endpoint makes is undone when it answers with an error.
pub fn handle(conn: &Db, settings: &Settings, req: &ApiRequest, now: f64) -> ApiResponse {
    let user = match authenticate(conn, settings, req, now) {
        Ok(user) => user,
        Err(e) => return e.response(),
    };
    if let Err(e) = db::apply_due_futures(conn, now) {
        return ApiError::from(e).response();
    }
    let ctx = Ctx {
        conn,
        settings,
        now,
        user,
        uploads: settings.uploads.as_deref(),
    };
    dispatch(&ctx, &req.method, &req.path, &req.headers, &req.body, true)
}

fn authenticate(
    conn: &Db,
    settings: &Settings,
    req: &ApiRequest,
    now: f64,
) -> Result<Option<User>, ApiError> {
    let Some(headers) = auth::parse_headers(&req.headers, settings.require_blind_keys)? else {
        return Ok(None);
    };
    #[allow(clippy::cast_possible_truncation, reason = "unix seconds fit in i64")]
    let now_whole = now as i64;
    auth::check_timestamp(&headers, now_whole)?;
    let session_id = auth::session_id_of(&headers.pubkey)?;
    let key = auth::signing_key(&headers.pubkey)?;
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM users WHERE session_id = ?1",
            [&session_id],
            |r| r.get(0),
        )
        .optional()?;
    // A banned user is refused whether or not the signature is good.
    if let Some(id) = existing
        && db::globally_banned(conn, id, now)?
    {
        return Err(AuthError::Banned.into());
    }
    auth::verify_signature(
        &headers,
        &settings.server_pk,
        &req.method,
        &req.path,
        &req.body,
    )?;
    let id = db::user_id(conn, &session_id, now)?;
    let fresh = conn.execute(
        "INSERT OR IGNORE INTO user_request_nonces (user, nonce, expiry) VALUES (?1, ?2, ?3)",
        params![id, &headers.nonce[..], now + NONCE_KEEP_S],
    )?;
    if fresh == 0 {
        return Err(AuthError::NonceReused.into());
    }
    conn.execute(
        "UPDATE users SET last_active = ?2, seen = TRUE WHERE id = ?1",
        params![id, now],
    )?;
    Ok(Some(User {
        id,
        key,
        prefix: headers.pubkey.prefix(),
    }))
}

/// Runs one (sub)request inside a savepoint, rolled back unless it succeeds.
fn dispatch(
    ctx: &Ctx<'_>,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    top: bool,
) -> ApiResponse {
    if let Err(e) = ctx.conn.execute_batch("SAVEPOINT api_request") {
        return ApiError::from(e).response();
    }
    let result = route(ctx, method, path, headers, body, top);
    let ok = matches!(&result, Ok(r) if r.status < 400);
    let end = if ok {
        "RELEASE api_request"
    } else {
        "ROLLBACK TO api_request; RELEASE api_request"
    };
    if let Err(e) = ctx.conn.execute_batch(end) {
        return ApiError::from(e).response();
    }
    result.unwrap_or_else(|e| e.response())
}

/// Sets `key` in a JSON object (a no-op on other values).
pub(crate) fn set(out: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = out {
        map.insert(key.to_owned(), value);
    }
}

/// A parsed batch subrequest: method, path, headers, body.
type Subrequest = (String, String, Vec<(String, String)>, Vec<u8>);

/// The query string's parameters, percent-decoded.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Self {
        Self(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    Some((auth::percent_decode(k)?, auth::percent_decode(v)?))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An integer parameter clamped into `min..=max` (pysogs `truncate=True`); 400 if it is not
    /// an integer.
    pub(crate) fn int(
        &self,
        name: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map(|n| n.clamp(min, max))
                .map_err(|_| ApiError::BadRequest("Invalid integer query parameter")),
        }
    }
}

/// A path segment that must be an integer (a non-integer matches no route, as in pysogs).
fn int_seg(seg: &str) -> Result<i64, ApiError> {
    if seg.is_empty() || seg.len() > 18 || !seg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::NotFound);
    }
    seg.parse().map_err(|_| ApiError::NotFound)
}

fn route(
    ctx: &Ctx<'_>,
    method: &str,
    raw_path: &str,
    headers: &[(String, String)],
    body: &[u8],
    top: bool,
) -> Result<ApiResponse, ApiError> {
    let (path, query) = raw_path.split_once('?').unwrap_or((raw_path, ""));
    let path = path.strip_prefix('/').ok_or(ApiError::NotFound)?;
    let segs = path
        .split('/')
        .map(|s| auth::percent_decode(s).ok_or(ApiError::BadRequest("Invalid path encoding")))
        .collect::<Result<Vec<String>, ApiError>>()?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let q = Query::parse(query);
    match (method, segs.as_slice()) {
        ("GET", ["capabilities"]) => Ok(capabilities(ctx, &q)),
        ("POST", ["batch"]) if top => batch(ctx, body, false),
        ("POST", ["sequence"]) if top => batch(ctx, body, true),
        ("GET", ["rooms"]) => rooms(ctx),
        ("GET", ["room", token]) => {
            let (room, perms) = room_for(ctx, token)?;
            Ok(ApiResponse::json(200, &room_json(ctx, &room, &perms)?))
        }
        ("PUT", ["room", token]) => update_room(ctx, token, body),
        ("GET", ["room", token, "pollInfo", n]) => poll_info(ctx, token, int_seg(n)?),
        ("GET", ["room", token, "messages", "since", s]) => {
            messages(ctx, token, &q, Listing::Since(int_seg(s)?))
        }
        ("GET", ["room", token, "messages", "recent"]) => messages(ctx, token, &q, Listing::Recent),
        ("GET", ["room", token, "messages", "before", id]) => {
            messages(ctx, token, &q, Listing::Before(int_seg(id)?))
        }
        ("GET", ["room", token, "message", id]) => {
            messages(ctx, token, &q, Listing::Single(int_seg(id)?))
        }
        ("POST", ["room", token, "message"]) => post_message(ctx, token, body),
        ("PUT", ["room", token, "message", id]) => edit_message(ctx, token, int_seg(id)?, body),
        ("DELETE", ["room", token, "message", id]) => delete_message(ctx, token, int_seg(id)?),
        ("POST", ["room", token, "pin", id]) => pin(ctx, token, int_seg(id)?),
        ("POST", ["room", token, "unpin", "all"]) => unpin(ctx, token, None),
        ("POST", ["room", token, "unpin", id]) => unpin(ctx, token, Some(int_seg(id)?)),
        ("PUT", ["room", token, "reaction", id, emoji]) => {
            react(ctx, token, int_seg(id)?, emoji, true)
        }
        ("DELETE", ["room", token, "reaction", id, emoji]) => {
            react(ctx, token, int_seg(id)?, emoji, false)
        }
        ("DELETE", ["room", token, "reactions", id]) => {
            delete_reactions(ctx, token, int_seg(id)?, None)
        }
        ("DELETE", ["room", token, "reactions", id, emoji]) => {
            delete_reactions(ctx, token, int_seg(id)?, Some(emoji))
        }
        ("GET", ["room", token, "reactors", id, emoji]) => {
            reactors(ctx, token, int_seg(id)?, emoji, &q)
        }
        ("POST", ["room", token, "file"]) => crate::files::upload(ctx, token, headers, body),
        ("GET", ["room", token, "file", id] | ["room", token, "file", id, _]) => {
            crate::files::download(ctx, token, int_seg(id)?)
        }
        ("GET", ["room", token, "permissions"]) => crate::permissions::list(ctx, token),
        ("GET", ["room", token, "permissions", sid]) => crate::permissions::get(ctx, token, sid),
        ("POST", ["room", token, "permissions", sid]) => {
            crate::permissions::set(ctx, token, sid, body)
        }
        ("GET", ["room", token, "futurePermissions"]) => {
            crate::permissions::list_futures(ctx, token)
        }
        ("GET", ["room", token, "futurePermissions", sid]) => {
            crate::permissions::get_futures(ctx, token, sid)
        }
        ("POST", ["room", token, "futurePermissions", sid]) => {
            crate::permissions::schedule(ctx, token, sid, body)
        }
        ("DELETE", ["room", token, "all", sid]) => users::delete_all_in_room(ctx, token, sid),
        ("DELETE", ["rooms", "all", sid]) => users::delete_all_everywhere(ctx, sid),
        ("POST", ["user", sid, "moderator"]) => users::set_moderator(ctx, sid, body),
        ("POST", ["user", sid, "ban"]) => users::ban(ctx, sid, body, true),
        ("POST", ["user", sid, "unban"]) => users::ban(ctx, sid, body, false),
        ("GET", ["inbox"]) => users::list_dms(ctx, false, None, &q),
        ("GET", ["inbox", "since", id]) => users::list_dms(ctx, false, Some(int_seg(id)?), &q),
        ("GET", ["outbox"]) => users::list_dms(ctx, true, None, &q),
        ("GET", ["outbox", "since", id]) => users::list_dms(ctx, true, Some(int_seg(id)?), &q),
        ("POST", ["inbox", sid]) => users::send_dm(ctx, sid, body),
        ("DELETE", ["inbox"]) => users::clear_inbox(ctx),
        _ => Err(ApiError::NotFound),
    }
}

fn capabilities(ctx: &Ctx<'_>, q: &Query) -> ApiResponse {
    let mut caps = vec!["reactions", "sogs"];
    if ctx.settings.require_blind_keys {
        caps.push("blind");
    }
    caps.sort_unstable();
    let mut out = json!({ "capabilities": caps });
    let missing: Vec<&str> = q
        .get("required")
        .unwrap_or("")
        .split(',')
        .filter(|c| !c.is_empty() && !caps.contains(c))
        .collect();
    if missing.is_empty() {
        ApiResponse::json(200, &out)
    } else {
        set(&mut out, "missing", json!(missing));
        ApiResponse::json(412, &out)
    }
}

/// One subrequest of a batch: `{method, path, headers?, json|b64|bytes}`.
fn parse_subrequest(v: &Value) -> Result<Subrequest, ApiError> {
    let bad = ApiError::BadRequest("Invalid batch subrequest");
    let obj = v
        .as_object()
        .ok_or(ApiError::BadRequest("Invalid batch subrequest"))?;
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or(ApiError::BadRequest("Invalid batch subrequest"))?;
    let path = obj
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| p.starts_with('/'))
        .ok_or(ApiError::BadRequest("Invalid batch subrequest"))?;
    let mut headers = Vec::new();
    if let Some(h) = obj.get("headers") {
        let h = h
            .as_object()
            .ok_or(ApiError::BadRequest("Invalid batch subrequest"))?;
        for (name, value) in h {
            let value = value
                .as_str()
                .ok_or(ApiError::BadRequest("Invalid batch subrequest"))?;
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    let bodies = ["json", "b64", "bytes"]
        .iter()
        .filter(|k| obj.contains_key(**k))
        .count();
    if bodies > 1 {
        return Err(bad);
    }
    let body = if let Some(j) = obj.get("json") {
        headers.push(("content-type".into(), "application/json".into()));
        j.to_string().into_bytes()
    } else if let Some(b) = obj.get("b64") {
        let text = b
            .as_str()
            .ok_or(ApiError::BadRequest("Invalid batch subrequest"))?;
        STANDARD
            .decode(text)
            .map_err(|_| ApiError::BadRequest("Invalid batch subrequest"))?
    } else if let Some(b) = obj.get("bytes") {
        b.as_str().ok_or(bad)?.as_bytes().to_vec()
    } else {
        Vec::new()
    };
    Ok((method.to_owned(), path.to_owned(), headers, body))
}

fn batch(ctx: &Ctx<'_>, body: &[u8], sequence: bool) -> Result<ApiResponse, ApiError> {
    let list: Vec<Value> = serde_json::from_slice(body)
        .map_err(|_| ApiError::BadRequest("Invalid batch request: expected a JSON list"))?;
    if list.is_empty() || list.len() > MAX_SUBREQUESTS {
        return Err(ApiError::BadRequest(
            "Invalid batch request: between 1 and 64 subrequests",
        ));
    }
    let subs = list
        .iter()
        .map(parse_subrequest)
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(subs.len());
    for (method, path, headers, body) in subs {
        let resp = dispatch(ctx, &method, &path, &headers, &body, false);
        let body = if resp.is_json() {
            serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
        } else {
            Value::String(STANDARD.encode(&resp.body))
        };
        let headers: Map<String, Value> = resp
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), Value::String(v.clone())))
            .collect();
        let failed = !(200..300).contains(&resp.status);
        out.push(json!({ "code": resp.status, "headers": headers, "body": body }));
        if sequence && failed {
            break;
        }
    }
    Ok(ApiResponse::json(200, &Value::Array(out)))
}

/// The room and the caller's permissions in it; `404` if it does not exist or the caller may
/// not see it, `403` if the caller is banned from it.
pub(crate) fn room_for(ctx: &Ctx<'_>, token: &str) -> Result<(Room, Perms), ApiError> {
    if !db::valid_token(token) {
        return Err(ApiError::NotFound);
    }
    let room = db::room_by_token(ctx.conn, token)?.ok_or(ApiError::NotFound)?;
    let perms = db::permissions(ctx.conn, &room, ctx.user_id(), ctx.now)?;
    if perms.banned {
        return Err(ApiError::Forbidden("Banned from this room"));
    }
    if !perms.accessible {
        return Err(ApiError::NotFound);
    }
    Ok((room, perms))
}

fn require_read(perms: &Perms) -> Result<(), ApiError> {
    if perms.read {
        Ok(())
    } else {
        Err(ApiError::Forbidden("This room requires read permission"))
    }
}

fn touch_room(ctx: &Ctx<'_>, room: &Room) -> Result<(), ApiError> {
    if let Some(user) = ctx.user_id() {
        ctx.conn.execute(
            "INSERT INTO room_users (room, user, last_active) VALUES (?1, ?2, ?3)
             ON CONFLICT (room, user) DO UPDATE SET last_active = ?3",
            params![room.id, user, ctx.now],
        )?;
    }
    Ok(())
}

fn active_users(ctx: &Ctx<'_>, room: &Room) -> Result<i64, ApiError> {
    #[allow(clippy::cast_precision_loss, reason = "a small constant")]
    let cutoff = ctx.now - ACTIVE_USERS_CUTOFF_S as f64;
    Ok(ctx.conn.query_row(
        "SELECT count(*) FROM room_users WHERE room = ?1 AND last_active > ?2",
        params![room.id, cutoff],
        |r| r.get(0),
    )?)
}

fn perm_flags(out: &mut Value, perms: &Perms) {
    set(out, "read", json!(perms.read));
    set(out, "write", json!(perms.write));
    set(out, "upload", json!(perms.upload));
    for (key, on) in [
        ("moderator", perms.moderator),
        ("admin", perms.admin),
        ("global_moderator", perms.global_moderator),
        ("global_admin", perms.global_admin),
    ] {
        if on {
            set(out, key, json!(true));
        }
    }
}

fn room_json(ctx: &Ctx<'_>, room: &Room, perms: &Perms) -> Result<Value, ApiError> {
    let (mods, admins, hidden_mods, hidden_admins) = db::room_moderators(ctx.conn, room.id)?;
    let pinned: Vec<Value> = {
        let mut stmt = ctx.conn.prepare_cached(
            "SELECT p.message, p.pinned_at, u.session_id FROM pinned_messages p
             JOIN users u ON u.id = p.pinned_by WHERE p.room = ?1 ORDER BY p.pinned_at",
        )?;
        let rows = stmt.query_map([room.id], |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "pinned_at": r.get::<_, f64>(1)?,
                "pinned_by": r.get::<_, String>(2)?,
            }))
        })?;
        rows.collect::<crate::store::Result<_>>()?
    };
    let mut out = json!({
        "token": room.token,
        "name": room.name,
        "info_updates": room.info_updates,
        "message_sequence": room.message_sequence,
        "created": room.created,
        "active_users": active_users(ctx, room)?,
        "active_users_cutoff": ACTIVE_USERS_CUTOFF_S,
        "pinned_messages": pinned,
        "moderators": mods,
        "admins": admins,
    });
    if let Some(d) = &room.description {
        set(&mut out, "description", json!(d));
    }
    if let Some(image) = room.image {
        set(&mut out, "image_id", json!(image));
    }
    if perms.moderator {
        set(&mut out, "hidden_moderators", json!(hidden_mods));
        set(&mut out, "hidden_admins", json!(hidden_admins));
        set(&mut out, "default_read", json!(room.read));
        set(&mut out, "default_accessible", json!(room.accessible));
        set(&mut out, "default_write", json!(room.write));
        set(&mut out, "default_upload", json!(room.upload));
    }
    perm_flags(&mut out, perms);
    Ok(out)
}

/// `PUT /room/{token}` (room admins): name, description, default permissions and image.
fn update_room(ctx: &Ctx<'_>, token: &str, body: &[u8]) -> Result<ApiResponse, ApiError> {
    let (room, perms) = room_for(ctx, token)?;
    require_admin(ctx, &perms)?;
    let obj = json_object(body)?;
    let mut changed = false;
    let text = |key: &str, max: usize| -> Result<Option<Option<String>>, ApiError> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s))
                if s.chars().count() <= max && !s.chars().any(char::is_control) =>
            {
                Ok(Some(Some(s.clone())))
            }
            Some(_) => Err(ApiError::BadRequest("Invalid room name or description")),
        }
    };
    if let Some(name) = text("name", 100)? {
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or(ApiError::BadRequest("Invalid room name"))?;
        ctx.conn.execute(
            "UPDATE rooms SET name = ?1 WHERE id = ?2",
            params![name, room.id],
        )?;
        changed = true;
    }
    if let Some(description) = text("description", 1000)? {
        ctx.conn.execute(
            "UPDATE rooms SET description = ?1 WHERE id = ?2",
            params![description, room.id],
        )?;
        changed = true;
    }
    for (key, column) in [
        ("default_read", "read"),
        ("default_accessible", "accessible"),
        ("default_write", "write"),
        ("default_upload", "upload"),
    ] {
        if let Some(v) = obj.get(key) {
            let v = v
                .as_bool()
                .ok_or(ApiError::BadRequest("Invalid default permission"))?;
            ctx.conn.execute(
                &format!("UPDATE rooms SET {column} = ?1 WHERE id = ?2"),
                params![v, room.id],
            )?;
            changed = true;
        }
    }
    if let Some(image) = obj.get("image") {
        let id = image
            .as_i64()
            .ok_or(ApiError::BadRequest("Invalid image file id"))?;
        // The image must be a file uploaded to this room; it no longer expires.
        let n = ctx.conn.execute(
            "UPDATE files SET expiry = NULL WHERE id = ?1 AND room = ?2",
            params![id, room.id],
        )?;
        if n == 0 {
            return Err(ApiError::NotFound);
        }
        ctx.conn.execute(
            "UPDATE rooms SET image = ?1 WHERE id = ?2",
            params![id, room.id],
        )?;
        changed = true;
    }
    if !changed {
        return Err(ApiError::BadRequest("Invalid request: nothing to change"));
    }
    let info_updates = bump_info(ctx, &room)?;
    Ok(ApiResponse::json(
        200,
        &json!({ "info_updates": info_updates }),
    ))
}

fn rooms(ctx: &Ctx<'_>) -> Result<ApiResponse, ApiError> {
    let mut out = Vec::new();
    for room in db::all_rooms(ctx.conn)? {
        let perms = db::permissions(ctx.conn, &room, ctx.user_id(), ctx.now)?;
        if perms.accessible && !perms.banned {
            out.push(room_json(ctx, &room, &perms)?);
        }
    }
    Ok(ApiResponse::json(200, &Value::Array(out)))
}

fn poll_info(ctx: &Ctx<'_>, token: &str, info_updates: i64) -> Result<ApiResponse, ApiError> {
    let (room, perms) = room_for(ctx, token)?;
    touch_room(ctx, &room)?;
    let mut out = json!({
        "token": room.token,
        "active_users": active_users(ctx, &room)?,
    });
    perm_flags(&mut out, &perms);
    if info_updates != room.info_updates {
        set(&mut out, "details", room_json(ctx, &room, &perms)?);
    }
    Ok(ApiResponse::json(200, &out))
}

/// Which messages a listing returns.
#[derive(Debug, Clone, Copy)]
enum Listing {
    Since(i64),
    Recent,
    Before(i64),
    Single(i64),
}

const MESSAGE_SELECT: &str = "SELECT m.id, u.session_id, m.posted, m.edited, m.seqno, \
     m.seqno_data, m.data, m.signature, w.session_id, m.whisper_mods \
     FROM messages m JOIN users u ON u.id = m.user LEFT JOIN users w ON w.id = m.whisper \
     WHERE m.room = :room AND ((m.whisper IS NULL AND NOT m.whisper_mods) \
       OR m.user = :user OR m.whisper = :user OR (:moderator AND m.whisper_mods))";

/// One message row.
struct MessageRow {
    id: i64,
    session_id: String,
    posted: f64,
    edited: Option<f64>,
    seqno: i64,
    seqno_data: i64,
    data: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    whisper_to: Option<String>,
    whisper_mods: bool,
}

fn message_row(r: &crate::store::Row) -> crate::store::Result<MessageRow> {
    Ok(MessageRow {
        id: r.get(0)?,
        session_id: r.get(1)?,
        posted: r.get(2)?,
        edited: r.get(3)?,
        seqno: r.get(4)?,
        seqno_data: r.get(5)?,
        data: r.get(6)?,
        signature: r.get(7)?,
        whisper_to: r.get(8)?,
        whisper_mods: r.get(9)?,
    })
}

fn reactions_json(ctx: &Ctx<'_>, message: i64, reactors: i64) -> Result<Value, ApiError> {
    let mut out = Map::new();
    let mut stmt = ctx.conn.prepare_cached(
        "SELECT reaction, count(*), max(CASE WHEN user = ?2 THEN 1 ELSE 0 END) FROM reactions WHERE message = ?1
         GROUP BY reaction ORDER BY min(at), reaction",
    )?;
    let rows = stmt
        .query_map(params![message, ctx.user_id().unwrap_or(-1)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?
        .collect::<crate::store::Result<Vec<_>>>()?;
    let mut who = ctx.conn.prepare_cached(
        "SELECT u.session_id FROM reactions r JOIN users u ON u.id = r.user
         WHERE r.message = ?1 AND r.reaction = ?2 ORDER BY r.at LIMIT ?3",
    )?;
    for (index, (reaction, count, you)) in rows.into_iter().enumerate() {
        let mut entry = json!({ "index": index, "count": count });
        if reactors > 0 {
            let list = who
                .query_map(params![message, reaction, reactors], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<crate::store::Result<Vec<_>>>()?;
            set(&mut entry, "reactors", json!(list));
        }
        if you {
            set(&mut entry, "you", json!(true));
        }
        out.insert(reaction, entry);
    }
    Ok(Value::Object(out))
}

fn message_json(ctx: &Ctx<'_>, m: &MessageRow, reactors: i64) -> Result<Value, ApiError> {
    let mut out = json!({
        "id": m.id,
        "session_id": m.session_id,
        "posted": m.posted,
        "seqno": m.seqno,
    });
    if let Some(edited) = m.edited {
        set(&mut out, "edited", json!(edited));
    }
    if m.whisper_to.is_some() || m.whisper_mods {
        set(&mut out, "whisper", json!(true));
        set(&mut out, "whisper_mods", json!(m.whisper_mods));
        if let Some(to) = &m.whisper_to {
            set(&mut out, "whisper_to", json!(to));
        }
    }
    match &m.data {
        Some(data) => {
            set(&mut out, "data", json!(STANDARD.encode(data)));
            if let Some(sig) = &m.signature {
                set(&mut out, "signature", json!(STANDARD.encode(sig)));
            }
        }
        None => {
            set(&mut out, "data", Value::Null);
            set(&mut out, "deleted", json!(true));
        }
    }
    set(&mut out, "reactions", reactions_json(ctx, m.id, reactors)?);
    Ok(out)
}

fn messages(
    ctx: &Ctx<'_>,
    token: &str,
    q: &Query,
    listing: Listing,
) -> Result<ApiResponse, ApiError> {
    let (room, perms) = room_for(ctx, token)?;
    require_read(&perms)?;
    touch_room(ctx, &room)?;
    let limit = q.int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let reactors = q.int("reactors", DEFAULT_REACTORS, 0, MAX_REACTORS)?;
    let with_reactions = q.get("t").is_some_and(|t| t.contains('r'));
    let user = ctx.user_id().unwrap_or(-1);
    let (tail, arg) = match listing {
        // Without `t=r`, only content changes count, and their counter is what is reported.
        Listing::Since(seqno) if with_reactions => {
            (" AND m.seqno > :arg ORDER BY m.seqno LIMIT :limit", seqno)
        }
        Listing::Since(seqno) => (
            " AND m.seqno_data > :arg ORDER BY m.seqno_data LIMIT :limit",
            seqno,
        ),
        Listing::Recent => (
            " AND m.data IS NOT NULL AND :arg = 0 ORDER BY m.id DESC LIMIT :limit",
            0,
        ),
        Listing::Before(id) => (
            " AND m.data IS NOT NULL AND m.id < :arg ORDER BY m.id DESC LIMIT :limit",
            id,
        ),
        Listing::Single(id) => (" AND m.data IS NOT NULL AND m.id = :arg LIMIT :limit", id),
    };
    let rows = {
        let mut stmt = ctx
            .conn
            .prepare_cached(&format!("{MESSAGE_SELECT}{tail}"))?;
        stmt.query_map(
            named_params! {
                ":room": room.id, ":user": user, ":moderator": perms.moderator,
                ":arg": arg, ":limit": limit,
            },
            message_row,
        )?
        .collect::<crate::store::Result<Vec<_>>>()?
    };
    let mut out = Vec::with_capacity(rows.len());
    for mut m in rows {
        match listing {
            Listing::Since(since) if with_reactions && m.seqno_data <= since => {
                out.push(json!({
                    "id": m.id,
                    "seqno": m.seqno,
                    "reactions": reactions_json(ctx, m.id, reactors)?,
                }));
            }
            Listing::Since(_) if !with_reactions => {
                m.seqno = m.seqno_data;
                out.push(message_json(ctx, &m, reactors)?);
            }
            _ => out.push(message_json(ctx, &m, reactors)?),
        }
    }
    if let Listing::Single(_) = listing {
        let one = out.into_iter().next().ok_or(ApiError::NotFound)?;
        return Ok(ApiResponse::json(200, &one));
    }
    Ok(ApiResponse::json(200, &Value::Array(out)))
}

/// The next value of the room's change counter.
fn bump_sequence(ctx: &Ctx<'_>, room: &Room) -> Result<i64, ApiError> {
    Ok(ctx.conn.query_row(
        "UPDATE rooms SET message_sequence = message_sequence + 1 WHERE id = ?1
         RETURNING message_sequence",
        [room.id],
        |r| r.get(0),
    )?)
}

fn bump_info(ctx: &Ctx<'_>, room: &Room) -> Result<i64, ApiError> {
    Ok(ctx.conn.query_row(
        "UPDATE rooms SET info_updates = info_updates + 1 WHERE id = ?1 RETURNING info_updates",
        [room.id],
        |r| r.get(0),
    )?)
}

pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::BadRequest(
            "Invalid request: expected a JSON object",
        )),
    }
}

fn b64_field(obj: &Map<String, Value>, key: &'static str) -> Result<Vec<u8>, ApiError> {
    let text = obj
        .get(key)
        .and_then(Value::as_str)
        .ok_or(ApiError::BadRequest("Missing or invalid base64 field"))?;
    STANDARD
        .decode(text)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('='))
        })
        .map_err(|_| ApiError::BadRequest("Missing or invalid base64 field"))
}

/// The post's `data` and `signature`, with the signature checked against the poster's key
/// (spec §4.5: Sotto refuses forgeries at the door). Unblinded posters may sign with the
/// XEd25519 form of their key (the same point with its sign bit cleared).
fn signed_data(user: &User, obj: &Map<String, Value>) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    let data = b64_field(obj, "data")?;
    let sig = b64_field(obj, "signature")?;
    if data.is_empty() {
        return Err(ApiError::BadRequest("Invalid request: empty message data"));
    }
    let signature = Signature::from_slice(&sig)
        .map_err(|_| ApiError::BadRequest("Invalid request: signature must be 64 bytes"))?;
    let mut keys = vec![user.key];
    if user.prefix == IdPrefix::Unblinded {
        let mut xed = user.key.0;
        if let Some(last) = xed.last_mut() {
            *last &= 0x7f;
        }
        keys.push(Ed25519PublicKey(xed));
    }
    if keys.iter().any(|k| k.verify(&data, &signature).is_ok()) {
        Ok((data, sig))
    } else {
        Err(ApiError::BadRequest(
            "Invalid request: message signature verification failed",
        ))
    }
}

fn file_ids(obj: &Map<String, Value>) -> Result<Vec<i64>, ApiError> {
    match obj.get("files") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_i64().ok_or(ApiError::BadRequest("Invalid files list")))
            .collect(),
        Some(_) => Err(ApiError::BadRequest("Invalid files list")),
    }
}

/// Attached files live as long as posts (15 days); unattached ones are already due sooner.
const ATTACHED_FILE_EXPIRY_S: f64 = 15.0 * 24.0 * 60.0 * 60.0;

fn attach_files(ctx: &Ctx<'_>, room: &Room, message: i64, files: &[i64]) -> Result<(), ApiError> {
    for id in files {
        ctx.conn.execute(
            "UPDATE files SET message = ?1, expiry = ?2
             WHERE id = ?3 AND room = ?4 AND message IS NULL",
            params![message, ctx.now + ATTACHED_FILE_EXPIRY_S, id, room.id],
        )?;
    }
    Ok(())
}

fn post_message(ctx: &Ctx<'_>, token: &str, body: &[u8]) -> Result<ApiResponse, ApiError> {
    let user = ctx.require_user()?;
    let (room, perms) = room_for(ctx, token)?;
    if !perms.write {
        return Err(ApiError::Forbidden("This room requires write permission"));
    }
    let obj = json_object(body)?;
    let (data, sig) = signed_data(user, &obj)?;
    let whisper_mods = obj
        .get("whisper_mods")
        .is_some_and(|v| v.as_bool().unwrap_or(false));
    let whisper_to = match obj.get("whisper_to") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let text = v
                .as_str()
                .ok_or(ApiError::BadRequest("Invalid whisper_to"))?;
            let id: PrefixedId = text
                .parse()
                .map_err(|_| ApiError::BadRequest("Invalid whisper_to"))?;
            if !matches!(
                id.prefix(),
                IdPrefix::Standard | IdPrefix::Blinded15 | IdPrefix::Blinded25
            ) {
                return Err(ApiError::BadRequest("Invalid whisper_to"));
            }
            Some(db::user_id(ctx.conn, &id.to_string(), ctx.now)?)
        }
    };
    if (whisper_mods || whisper_to.is_some()) && !perms.moderator {
        return Err(ApiError::Forbidden("Only moderators may send whispers"));
    }
    let files = file_ids(&obj)?;
    if !perms.moderator {
        let recent: i64 = ctx.conn.query_row(
            "SELECT count(*) FROM messages WHERE user = ?1 AND room = ?2 AND posted > ?3",
            params![user.id, room.id, ctx.now - RATE_LIMIT_WINDOW_S],
            |r| r.get(0),
        )?;
        if recent >= RATE_LIMIT_POSTS {
            return Err(ApiError::RateLimited);
        }
    }
    let seqno = bump_sequence(ctx, &room)?;
    let id: i64 = ctx.conn.query_row(
        "INSERT INTO messages (room, user, posted, seqno, seqno_data, data, signature, whisper,
                               whisper_mods)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![
            room.id,
            user.id,
            ctx.now,
            seqno,
            data,
            sig,
            whisper_to,
            whisper_mods
        ],
        |r| r.get(0),
    )?;
    attach_files(ctx, &room, id, &files)?;
    touch_room(ctx, &room)?;
    let row = ctx.conn.query_row(
        &format!("{MESSAGE_SELECT} AND m.id = :arg"),
        named_params! { ":room": room.id, ":user": user.id, ":moderator": true, ":arg": id },
        message_row,
    )?;
    Ok(ApiResponse::json(201, &message_json(ctx, &row, 0)?))
}

/// The author of a live (not deleted) message in the room; `404` if there is none.
fn live_message(ctx: &Ctx<'_>, room: &Room, id: i64) -> Result<(i64, bool), ApiError> {
    ctx.conn
        .query_row(
            "SELECT user, whisper IS NOT NULL OR whisper_mods FROM messages
             WHERE id = ?1 AND room = ?2 AND data IS NOT NULL",
            params![id, room.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or(ApiError::NotFound)
}

fn edit_message(ctx: &Ctx<'_>, token: &str, id: i64, body: &[u8]) -> Result<ApiResponse, ApiError> {
    let user = ctx.require_user()?;
    let (room, perms) = room_for(ctx, token)?;
    if !perms.write {
        return Err(ApiError::Forbidden("This room requires write permission"));
    }
    let (author, _) = live_message(ctx, &room, id)?;
    if author != user.id {
        return Err(ApiError::Forbidden("Only the author may edit a message"));
    }
    let obj = json_object(body)?;
    let (data, sig) = signed_data(user, &obj)?;
    let files = file_ids(&obj)?;
    let seqno = bump_sequence(ctx, &room)?;
    ctx.conn.execute(
        "UPDATE messages SET data = ?1, signature = ?2, edited = ?3, seqno = ?4, seqno_data = ?4
         WHERE id = ?5",
        params![data, sig, ctx.now, seqno, id],
    )?;
    attach_files(ctx, &room, id, &files)?;
    Ok(ApiResponse::json(200, &json!({})))
}

fn delete_message(ctx: &Ctx<'_>, token: &str, id: i64) -> Result<ApiResponse, ApiError> {
    let user = ctx.require_user()?;
    let (room, perms) = room_for(ctx, token)?;
    if !perms.write {
        return Err(ApiError::Forbidden("This room requires write permission"));
    }
    let (author, _) = live_message(ctx, &room, id)?;
    if author != user.id && !perms.moderator {
        return Err(ApiError::Forbidden(
            "Only the author or a moderator may delete a message",
        ));
    }
    let seqno = bump_sequence(ctx, &room)?;
    ctx.conn.execute(
        "UPDATE messages SET data = NULL, signature = NULL, seqno = ?1, seqno_data = ?1
         WHERE id = ?2",
        params![seqno, id],
    )?;
    ctx.conn
        .execute("DELETE FROM reactions WHERE message = ?1", [id])?;
    let unpinned = ctx
        .conn
        .execute("DELETE FROM pinned_messages WHERE message = ?1", [id])?;
    if unpinned > 0 {
        bump_info(ctx, &room)?;
    }
    Ok(ApiResponse::json(200, &json!({})))
}

fn require_admin(ctx: &Ctx<'_>, perms: &Perms) -> Result<(), ApiError> {
    ctx.require_user()?;
    if perms.admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "This endpoint requires admin room permissions",
        ))
    }
}

fn pin(ctx: &Ctx<'_>, token: &str, id: i64) -> Result<ApiResponse, ApiError> {
    let (room, perms) = room_for(ctx, token)?;
    require_admin(ctx, &perms)?;
    let (_, whisper) = live_message(ctx, &room, id)?;
    if whisper {
        return Err(ApiError::NotFound);
    }
    ctx.conn.execute(
        "INSERT INTO pinned_messages (room, message, pinned_by, pinned_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (room, message) DO UPDATE SET pinned_by = ?3, pinned_at = ?4",
        params![room.id, id, ctx.user_id(), ctx.now],
    )?;
    let info_updates = bump_info(ctx, &room)?;
    Ok(ApiResponse::json(
        200,
        &json!({ "info_updates": info_updates }),
    ))
}

fn unpin(ctx: &Ctx<'_>, token: &str, id: Option<i64>) -> Result<ApiResponse, ApiError> {
    let (room, perms) = room_for(ctx, token)?;
    require_admin(ctx, &perms)?;
    let unpinned = match id {
        Some(id) => ctx.conn.execute(
            "DELETE FROM pinned_messages WHERE room = ?1 AND message = ?2",
            params![room.id, id],
        )?,
        None => ctx
            .conn
            .execute("DELETE FROM pinned_messages WHERE room = ?1", [room.id])?,
    };
    let info_updates = if unpinned > 0 {
        bump_info(ctx, &room)?
    } else {
        room.info_updates
    };
    let mut out = json!({ "info_updates": info_updates });
    if id.is_none() {
        set(&mut out, "unpinned", json!(unpinned));
    }
    Ok(ApiResponse::json(200, &out))
}

fn valid_reaction(emoji: &str) -> Result<(), ApiError> {
    let n = emoji.chars().count();
    if (1..=MAX_REACTION_CHARS).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "Invalid reaction: must be 1 to 12 unicode characters",
        ))
    }
}

/// A live message the caller can see; `404` otherwise.
fn visible_message(ctx: &Ctx<'_>, room: &Room, perms: &Perms, id: i64) -> Result<(), ApiError> {
    let found = ctx
        .conn
        .query_row(
            &format!("{MESSAGE_SELECT} AND m.data IS NOT NULL AND m.id = :arg"),
            named_params! {
                ":room": room.id, ":user": ctx.user_id().unwrap_or(-1),
                ":moderator": perms.moderator, ":arg": id,
            },
            |r| r.get::<_, i64>(0),
        )
        .optional()?;
    found.map(|_| ()).ok_or(ApiError::NotFound)
}

fn message_seqno(ctx: &Ctx<'_>, id: i64) -> Result<i64, ApiError> {
    Ok(ctx
        .conn
        .query_row("SELECT seqno FROM messages WHERE id = ?1", [id], |r| {
            r.get(0)
        })?)
}

fn react(
    ctx: &Ctx<'_>,
    token: &str,
    id: i64,
    emoji: &str,
    add: bool,
) -> Result<ApiResponse, ApiError> {
    let user = ctx.require_user()?;
    let (room, perms) = room_for(ctx, token)?;
    require_read(&perms)?;
    valid_reaction(emoji)?;
    visible_message(ctx, &room, &perms, id)?;
    let changed = if add {
        ctx.conn.execute(
            "INSERT OR IGNORE INTO reactions (message, reaction, user, at) VALUES (?1, ?2, ?3, ?4)",
            params![id, emoji, user.id, ctx.now],
        )?
    } else {
        ctx.conn.execute(
            "DELETE FROM reactions WHERE message = ?1 AND reaction = ?2 AND user = ?3",
            params![id, emoji, user.id],
        )?
    };
    if changed > 0 {
        let seqno = bump_sequence(ctx, &room)?;
        ctx.conn.execute(
            "UPDATE messages SET seqno = ?1 WHERE id = ?2",
            params![seqno, id],
        )?;
    }
    touch_room(ctx, &room)?;
    let key = if add { "added" } else { "removed" };
    let mut out = json!({ "seqno": message_seqno(ctx, id)? });
    set(&mut out, key, json!(changed > 0));
    Ok(ApiResponse::json(200, &out))
}

fn delete_reactions(
    ctx: &Ctx<'_>,
    token: &str,
    id: i64,
    emoji: Option<&str>,
) -> Result<ApiResponse, ApiError> {
    ctx.require_user()?;
    let (room, perms) = room_for(ctx, token)?;
    if !perms.moderator {
        return Err(ApiError::Forbidden(
            "This endpoint requires moderator room permissions",
        ));
    }
    if let Some(e) = emoji {
        valid_reaction(e)?;
    }
    visible_message(ctx, &room, &perms, id)?;
    let removed = match emoji {
        Some(e) => ctx.conn.execute(
            "DELETE FROM reactions WHERE message = ?1 AND reaction = ?2",
            params![id, e],
        )?,
        None => ctx
            .conn
            .execute("DELETE FROM reactions WHERE message = ?1", [id])?,
    };
    if removed > 0 {
        let seqno = bump_sequence(ctx, &room)?;
        ctx.conn.execute(
            "UPDATE messages SET seqno = ?1 WHERE id = ?2",
            params![seqno, id],
        )?;
    }
    Ok(ApiResponse::json(
        200,
        &json!({ "removed": removed, "seqno": message_seqno(ctx, id)? }),
    ))
}

fn reactors(
    ctx: &Ctx<'_>,
    token: &str,
    id: i64,
    emoji: &str,
    q: &Query,
) -> Result<ApiResponse, ApiError> {
    let (room, perms) = room_for(ctx, token)?;
    require_read(&perms)?;
    valid_reaction(emoji)?;
    visible_message(ctx, &room, &perms, id)?;
    let limit = q.int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let mut stmt = ctx.conn.prepare_cached(
        "SELECT u.session_id, r.at FROM reactions r JOIN users u ON u.id = r.user
         WHERE r.message = ?1 AND r.reaction = ?2 ORDER BY r.at LIMIT ?3",
    )?;
    let list = stmt
        .query_map(params![id, emoji, limit], |r| {
            Ok(json!([r.get::<_, String>(0)?, r.get::<_, f64>(1)?]))
        })?
        .collect::<crate::store::Result<Vec<_>>>()?;
    Ok(ApiResponse::json(200, &Value::Array(list)))
}
