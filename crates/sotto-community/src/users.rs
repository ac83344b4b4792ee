//! User endpoints: moderator and admin appointments, bans (room and global, with timeouts),
//! deleting all of a user's posts, and the blinded inbox/outbox (spec groups.md §4.4, §4.6).

use crate::store::{OptionalExtension, params};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sotto_identity::{IdPrefix, PrefixedId};

use crate::api::{ApiError, ApiResponse, Ctx, DEFAULT_LIMIT, MAX_LIMIT, Query, json_object};
use crate::db::{self, Room};

/// How long a blinded DM is kept (`DM_EXPIRY`, 15 days).
pub const DM_EXPIRY_S: f64 = 15.0 * 24.0 * 60.0 * 60.0;
/// Largest DM body, bytes (after base64 decoding).
pub const MAX_DM_BYTES: usize = 64 * 1024;

/// A user id from a path: a `05` Session ID or a `15`/`25` blinded id; `404` otherwise.
pub(crate) fn path_user(sid: &str) -> Result<PrefixedId, ApiError> {
    let id: PrefixedId = sid.parse().map_err(|_| ApiError::NotFound)?;
    match id.prefix() {
        IdPrefix::Standard | IdPrefix::Blinded15 | IdPrefix::Blinded25 => Ok(id),
        _ => Err(ApiError::NotFound),
    }
}

/// The rooms a moderation request names: `{"rooms": [...]}` (`["*"]`: every room where the
/// caller has the needed rank) or `{"global": true}` (`None`). Exactly one must be given.
fn target_rooms(
    ctx: &Ctx<'_>,
    obj: &Map<String, Value>,
    admin: bool,
) -> Result<Option<Vec<Room>>, ApiError> {
    let global = obj.get("global").and_then(Value::as_bool).unwrap_or(false);
    match (obj.get("rooms"), global) {
        (Some(_), true) | (None, false) => Err(ApiError::BadRequest(
            "Invalid request: give exactly one of `rooms` and `global`",
        )),
        (None, true) => Ok(None),
        (Some(list), false) => {
            let list = list
                .as_array()
                .filter(|l| !l.is_empty())
                .ok_or(ApiError::BadRequest(
                    "Invalid request: `rooms` must be a list",
                ))?;
            let tokens: Vec<&str> = list
                .iter()
                .map(|v| v.as_str().ok_or(ApiError::BadRequest("Invalid room token")))
                .collect::<Result<_, _>>()?;
            if tokens.len() > 1 && tokens.contains(&"*") {
                return Err(ApiError::BadRequest(
                    "Invalid request: room '*' must be the only rooms value",
                ));
            }
            let mut rooms = Vec::new();
            if tokens == ["*"] {
                for room in db::all_rooms(ctx.conn)? {
                    let perms = db::permissions(ctx.conn, &room, ctx.user_id(), ctx.now)?;
                    if (admin && perms.admin) || (!admin && perms.moderator) {
                        rooms.push(room);
                    }
                }
                if rooms.is_empty() {
                    return Err(ApiError::Forbidden(
                        "This endpoint requires room moderator or admin permissions",
                    ));
                }
                return Ok(Some(rooms));
            }
            for token in tokens {
                let room = db::room_by_token(ctx.conn, token)?.ok_or(ApiError::NotFound)?;
                let perms = db::permissions(ctx.conn, &room, ctx.user_id(), ctx.now)?;
                if !((admin && perms.admin) || (!admin && perms.moderator)) {
                    return Err(ApiError::Forbidden(
                        "This endpoint requires room moderator or admin permissions",
                    ));
                }
                rooms.push(room);
            }
            Ok(Some(rooms))
        }
    }
}

/// The caller's global rank: `(global moderator, global admin)`.
fn global_rank(ctx: &Ctx<'_>) -> Result<(bool, bool), ApiError> {
    let Some(user) = ctx.user_id() else {
        return Ok((false, false));
    };
    Ok(ctx
        .conn
        .query_row(
            "SELECT moderator OR admin, admin FROM users WHERE id = ?1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((false, false)))
}

/// `POST /user/{sid}/moderator`: `moderator`/`admin` each true (add), false (remove) or absent
/// (leave alone), as pysogs combines them; `visible` defaults to true for rooms, false globally.
pub(crate) fn set_moderator(
    ctx: &Ctx<'_>,
    sid: &str,
    body: &[u8],
) -> Result<ApiResponse, ApiError> {
    ctx.require_user()?;
    let target = path_user(sid)?;
    let obj = json_object(body)?;
    let flag = |k: &str| obj.get(k).and_then(Value::as_bool);
    // (moderator, admin, whether to set visibility) to write; `None` leaves a column alone.
    let (moderator, admin, sets_visibility) = match (flag("admin"), flag("moderator")) {
        (None, None) => {
            return Err(ApiError::BadRequest(
                "Invalid request: give `moderator` and/or `admin`",
            ));
        }
        (Some(true), Some(false)) => {
            return Err(ApiError::BadRequest(
                "Invalid request: an admin is always a moderator",
            ));
        }
        (Some(true), _) => (Some(true), Some(true), true),
        (None, Some(true)) => (Some(true), None, true),
        (None | Some(false), Some(false)) => (Some(false), Some(false), false),
        (Some(false), Some(true)) => (Some(true), Some(false), true),
        (Some(false), None) => (None, Some(false), false),
    };
    let rooms = target_rooms(ctx, &obj, true)?;
    let visible = sets_visibility.then(|| flag("visible").unwrap_or(rooms.is_some()));
    let uid = db::user_id(ctx.conn, &target.to_string(), ctx.now)?;
    let mut updates = Map::new();
    match rooms {
        None => {
            if !global_rank(ctx)?.1 {
                return Err(ApiError::Forbidden(
                    "This endpoint requires global admin permissions",
                ));
            }
            ctx.conn.execute(
                "UPDATE users SET moderator = coalesce(?2, moderator), admin = coalesce(?3, admin),
                 visible_mod = coalesce(?4, visible_mod) WHERE id = ?1",
                params![uid, moderator, admin, visible],
            )?;
            ctx.conn
                .execute("UPDATE rooms SET info_updates = info_updates + 1", ())?;
        }
        Some(rooms) => {
            for room in rooms {
                ctx.conn.execute(
                    "INSERT INTO user_permission_overrides (room, user, moderator, admin, visible_mod)
                     VALUES (?1, ?2, coalesce(?3, FALSE), coalesce(?4, FALSE), coalesce(?5, TRUE))
                     ON CONFLICT (room, user) DO UPDATE
                     SET moderator = coalesce(?3, user_permission_overrides.moderator),
                         admin = coalesce(?4, user_permission_overrides.admin),
                         visible_mod = coalesce(?5, user_permission_overrides.visible_mod)",
                    params![room.id, uid, moderator, admin, visible],
                )?;
                let n: i64 = ctx.conn.query_row(
                    "UPDATE rooms SET info_updates = info_updates + 1 WHERE id = ?1
                     RETURNING info_updates",
                    [room.id],
                    |r| r.get(0),
                )?;
                updates.insert(room.token, json!(n));
            }
        }
    }
    Ok(ApiResponse::json(200, &json!({ "info_updates": updates })))
}

/// `POST /user/{sid}/ban` and `/unban`.
pub(crate) fn ban(
    ctx: &Ctx<'_>,
    sid: &str,
    body: &[u8],
    banned: bool,
) -> Result<ApiResponse, ApiError> {
    ctx.require_user()?;
    let target = path_user(sid)?;
    let obj = json_object(body)?;
    let timeout = match obj.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_f64().filter(|t| t.is_finite() && *t > 0.0).ok_or(
            ApiError::BadRequest("Invalid request: `timeout` must be positive seconds"),
        )?),
    };
    let until = timeout.map(|t| ctx.now + t);
    let rooms = target_rooms(ctx, &obj, false)?;
    let uid = db::user_id(ctx.conn, &target.to_string(), ctx.now)?;
    if ctx.user_id() == Some(uid) {
        return Err(ApiError::BadRequest("Invalid request: cannot ban yourself"));
    }
    match rooms {
        None => {
            if !global_rank(ctx)?.0 {
                return Err(ApiError::Forbidden(
                    "This endpoint requires global moderator permissions",
                ));
            }
            let target_is_mod: bool = ctx.conn.query_row(
                "SELECT moderator OR admin FROM users WHERE id = ?1",
                [uid],
                |r| r.get(0),
            )?;
            if target_is_mod && banned {
                return Err(ApiError::Forbidden("Cannot ban a moderator"));
            }
            ctx.conn.execute(
                "UPDATE users SET banned = ?2, banned_until = ?3 WHERE id = ?1",
                params![uid, banned, until],
            )?;
        }
        Some(rooms) => {
            for room in rooms {
                let perms = db::permissions(ctx.conn, &room, Some(uid), ctx.now)?;
                if perms.moderator && banned {
                    return Err(ApiError::Forbidden("Cannot ban a moderator"));
                }
                ctx.conn.execute(
                    "INSERT INTO user_permission_overrides (room, user, banned, banned_until)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (room, user) DO UPDATE SET banned = ?3, banned_until = ?4",
                    params![room.id, uid, banned, until],
                )?;
            }
        }
    }
    Ok(ApiResponse::json(200, &json!({})))
}

/// Deletes every live post of `uid` in `room`; the number deleted.
fn delete_posts_of(ctx: &Ctx<'_>, room: &Room, uid: i64) -> Result<i64, ApiError> {
    let ids: Vec<i64> = {
        let mut stmt = ctx.conn.prepare_cached(
            "SELECT id FROM messages WHERE room = ?1 AND user = ?2 AND data IS NOT NULL ORDER BY id",
        )?;
        stmt.query_map(params![room.id, uid], |r| r.get(0))?
            .collect::<crate::store::Result<_>>()?
    };
    for id in &ids {
        let seqno: i64 = ctx.conn.query_row(
            "UPDATE rooms SET message_sequence = message_sequence + 1 WHERE id = ?1
             RETURNING message_sequence",
            [room.id],
            |r| r.get(0),
        )?;
        ctx.conn.execute(
            "UPDATE messages SET data = NULL, signature = NULL, seqno = ?1, seqno_data = ?1
             WHERE id = ?2",
            params![seqno, id],
        )?;
        ctx.conn
            .execute("DELETE FROM reactions WHERE message = ?1", [id])?;
        ctx.conn
            .execute("DELETE FROM pinned_messages WHERE message = ?1", [id])?;
    }
    Ok(i64::try_from(ids.len()).unwrap_or(i64::MAX))
}

fn existing_user(ctx: &Ctx<'_>, id: &PrefixedId) -> Result<Option<i64>, ApiError> {
    Ok(ctx
        .conn
        .query_row(
            "SELECT id FROM users WHERE session_id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?)
}

/// `DELETE /room/{token}/all/{sid}`.
pub(crate) fn delete_all_in_room(
    ctx: &Ctx<'_>,
    token: &str,
    sid: &str,
) -> Result<ApiResponse, ApiError> {
    ctx.require_user()?;
    let (room, perms) = crate::api::room_for(ctx, token)?;
    let target = path_user(sid)?;
    let own = existing_user(ctx, &target)?;
    if !perms.moderator && own != ctx.user_id() {
        return Err(ApiError::Forbidden(
            "This endpoint requires moderator room permissions",
        ));
    }
    let deleted = match own {
        Some(uid) => delete_posts_of(ctx, &room, uid)?,
        None => 0,
    };
    Ok(ApiResponse::json(200, &json!({ "total": deleted })))
}

/// `DELETE /rooms/all/{sid}`: in every room where the caller is a moderator.
pub(crate) fn delete_all_everywhere(ctx: &Ctx<'_>, sid: &str) -> Result<ApiResponse, ApiError> {
    ctx.require_user()?;
    let target = path_user(sid)?;
    let own = existing_user(ctx, &target)?;
    let mut total = 0;
    let mut per_room = Map::new();
    for room in db::all_rooms(ctx.conn)? {
        let perms = db::permissions(ctx.conn, &room, ctx.user_id(), ctx.now)?;
        if !perms.moderator && own != ctx.user_id() {
            continue;
        }
        if let Some(uid) = own {
            let n = delete_posts_of(ctx, &room, uid)?;
            if n > 0 {
                total += n;
                per_room.insert(room.token.clone(), json!(n));
            }
        }
    }
    Ok(ApiResponse::json(
        200,
        &json!({ "total": total, "rooms": per_room }),
    ))
}

/// The caller, who must use a blinded key for DMs.
fn blinded_caller(ctx: &Ctx<'_>) -> Result<i64, ApiError> {
    let user = ctx.require_user()?;
    if matches!(user.prefix, IdPrefix::Blinded15 | IdPrefix::Blinded25) {
        Ok(user.id)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// `GET /inbox[/since/{id}]` and `/outbox[/since/{id}]`.
pub(crate) fn list_dms(
    ctx: &Ctx<'_>,
    outbox: bool,
    since: Option<i64>,
    q: &Query,
) -> Result<ApiResponse, ApiError> {
    let me = blinded_caller(ctx)?;
    let limit = q.int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let mine = if outbox { "sender" } else { "recipient" };
    let sql = format!(
        "SELECT i.id, i.posted_at, i.expiry, s.session_id, r.session_id, i.body
         FROM inbox i JOIN users s ON s.id = i.sender JOIN users r ON r.id = i.recipient
         WHERE i.{mine} = ?1 AND i.expiry > ?2 AND i.id > ?3 ORDER BY i.id LIMIT ?4"
    );
    let list = {
        let mut stmt = ctx.conn.prepare_cached(&sql)?;
        stmt.query_map(params![me, ctx.now, since.unwrap_or(0), limit], |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "posted_at": r.get::<_, f64>(1)?,
                "expires_at": r.get::<_, f64>(2)?,
                "sender": r.get::<_, String>(3)?,
                "recipient": r.get::<_, String>(4)?,
                "message": STANDARD.encode(r.get::<_, Vec<u8>>(5)?),
            }))
        })?
        .collect::<crate::store::Result<Vec<_>>>()?
    };
    if since.is_some() && list.is_empty() {
        return Ok(ApiResponse {
            status: 304,
            headers: Vec::new(),
            body: Vec::new(),
        });
    }
    Ok(ApiResponse::json(200, &Value::Array(list)))
}

/// `POST /inbox/{sid}`.
pub(crate) fn send_dm(ctx: &Ctx<'_>, sid: &str, body: &[u8]) -> Result<ApiResponse, ApiError> {
    let me = blinded_caller(ctx)?;
    let target = path_user(sid)?;
    if !matches!(target.prefix(), IdPrefix::Blinded15 | IdPrefix::Blinded25) {
        return Err(ApiError::NotFound);
    }
    let obj = json_object(body)?;
    let message = obj
        .get("message")
        .and_then(Value::as_str)
        .and_then(|m| STANDARD.decode(m).ok())
        .filter(|m| !m.is_empty() && m.len() <= MAX_DM_BYTES)
        .ok_or(ApiError::BadRequest(
            "Invalid request: `message` must be base64",
        ))?;
    let recipient = existing_user(ctx, &target)?.ok_or(ApiError::NotFound)?;
    if db::globally_banned(ctx.conn, recipient, ctx.now)? {
        return Err(ApiError::NotFound);
    }
    let expiry = ctx.now + DM_EXPIRY_S;
    let id: i64 = ctx.conn.query_row(
        "INSERT INTO inbox (recipient, sender, body, posted_at, expiry)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        params![recipient, me, message, ctx.now, expiry],
        |r| r.get(0),
    )?;
    let sender: String =
        ctx.conn
            .query_row("SELECT session_id FROM users WHERE id = ?1", [me], |r| {
                r.get(0)
            })?;
    Ok(ApiResponse::json(
        201,
        &json!({
            "id": id,
            "posted_at": ctx.now,
            "expires_at": expiry,
            "sender": sender,
            "recipient": target.to_string(),
            "message": STANDARD.encode(&message),
        }),
    ))
}

/// `DELETE /inbox`.
pub(crate) fn clear_inbox(ctx: &Ctx<'_>) -> Result<ApiResponse, ApiError> {
    let me = blinded_caller(ctx)?;
    let deleted = ctx
        .conn
        .execute("DELETE FROM inbox WHERE recipient = ?1", [me])?;
    Ok(ApiResponse::json(200, &json!({ "deleted": deleted })))
}
