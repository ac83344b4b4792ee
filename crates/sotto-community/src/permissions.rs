//! Per-user permission overrides and scheduled permission changes (spec groups.md §4.4):
//! `GET /room/{token}/permissions[/{sid}]`, `GET /room/{token}/futurePermissions[/{sid}]`,
//! `POST /room/{token}/permissions/{sid}` and `POST /room/{token}/futurePermissions/{sid}`.
//! Every one of them needs a moderator of the room.

use crate::store::{OptionalExtension, params};
use serde_json::{Map, Value, json};

use crate::api::{ApiError, ApiResponse, Ctx, json_object, room_for};
use crate::db::{self, Room};

/// The four per-user permission columns, in the order pysogs reads a request body.
const PERMS: [&str; 4] = ["accessible", "read", "write", "upload"];

/// The three permissions a scheduled change may set.
const FUTURE_PERMS: [&str; 3] = ["read", "write", "upload"];

/// A scheduled change must be due in less than this many seconds (pysogs: catches a unix
/// timestamp passed where a duration belongs).
const MAX_FUTURE_S: f64 = 1_000_000_000.0;

/// The room, after checking that the caller is one of its moderators (401 without a user, 403
/// for a non-moderator, 404 for a room the caller cannot see).
fn moderated_room(ctx: &Ctx<'_>, token: &str) -> Result<Room, ApiError> {
    ctx.require_user()?;
    let (room, perms) = room_for(ctx, token)?;
    if !perms.moderator {
        return Err(ApiError::Forbidden(
            "This endpoint requires moderator room permissions",
        ));
    }
    Ok(room)
}

/// The database id of the user a path names, if the server knows them (reads never create one).
fn known_user(ctx: &Ctx<'_>, sid: &str) -> Result<Option<i64>, ApiError> {
    let sid = crate::users::path_user(sid)?.to_string();
    Ok(ctx
        .conn
        .query_row("SELECT id FROM users WHERE session_id = ?1", [sid], |r| {
            r.get(0)
        })
        .optional()?)
}

/// One override row as stored.
struct OverrideRow {
    session_id: String,
    perms: [Option<bool>; 4],
    banned: bool,
    banned_until: Option<f64>,
    moderator: bool,
    admin: bool,
    visible_mod: bool,
}

fn override_rows(
    ctx: &Ctx<'_>,
    room: &Room,
    user: Option<i64>,
) -> Result<Vec<OverrideRow>, ApiError> {
    let mut stmt = ctx.conn.prepare_cached(
        "SELECT u.session_id, o.accessible, o.read, o.write, o.upload, o.banned,
                o.banned_until, o.moderator, o.admin, o.visible_mod
         FROM user_permission_overrides o JOIN users u ON u.id = o.user
         WHERE o.room = ?1 AND o.user = coalesce(?2, o.user)
         ORDER BY u.session_id",
    )?;
    let rows = stmt.query_map(params![room.id, user], |r| {
        Ok(OverrideRow {
            session_id: r.get(0)?,
            perms: [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?],
            banned: r.get(5)?,
            banned_until: r.get(6)?,
            moderator: r.get(7)?,
            admin: r.get(8)?,
            visible_mod: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<crate::store::Result<_>>()?)
}

/// The JSON form pysogs gives an override: the set permissions, then `moderator` or `admin`
/// (one, with `hidden` for a hidden one) and `banned` only when true.
fn override_json(ctx: &Ctx<'_>, row: &OverrideRow) -> Value {
    let mut out = Map::new();
    for (name, value) in PERMS.iter().zip(row.perms) {
        if let Some(v) = value {
            out.insert((*name).to_owned(), json!(v));
        }
    }
    if row.moderator || row.admin {
        out.insert(
            if row.admin { "admin" } else { "moderator" }.to_owned(),
            json!(true),
        );
        if !row.visible_mod {
            out.insert("hidden".to_owned(), json!(true));
        }
    }
    if row.banned && row.banned_until.is_none_or(|t| t > ctx.now) {
        out.insert("banned".to_owned(), json!(true));
    }
    Value::Object(out)
}

/// One scheduled change: `(session id, at, read, write, upload, banned)`.
type Future = (String, f64, [Option<bool>; 3], Option<bool>);

/// The scheduled changes of a room (or of one user in it), soonest first: the permission
/// futures, and the end of each timed ban as a `banned: false` change.
fn futures(ctx: &Ctx<'_>, room: &Room, user: Option<i64>) -> Result<Vec<Future>, ApiError> {
    let mut out: Vec<Future> = Vec::new();
    {
        let mut stmt = ctx.conn.prepare_cached(
            "SELECT u.session_id, f.at, f.read, f.write, f.upload
             FROM user_permission_futures f JOIN users u ON u.id = f.user
             WHERE f.room = ?1 AND f.user = coalesce(?2, f.user)
             ORDER BY f.at, f.id",
        )?;
        let rows = stmt.query_map(params![room.id, user], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                [r.get(2)?, r.get(3)?, r.get(4)?],
                None,
            ))
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    {
        let mut stmt = ctx.conn.prepare_cached(
            "SELECT u.session_id, o.banned_until
             FROM user_permission_overrides o JOIN users u ON u.id = o.user
             WHERE o.room = ?1 AND o.user = coalesce(?2, o.user)
               AND o.banned AND o.banned_until > ?3",
        )?;
        let rows = stmt.query_map(params![room.id, user, ctx.now], |r| {
            Ok((r.get(0)?, r.get(1)?, [None; 3], Some(false)))
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(out)
}

fn future_json(f: &Future, with_session_id: bool) -> Value {
    let (sid, at, perms, banned) = f;
    let mut out = Map::new();
    if with_session_id {
        out.insert("session_id".to_owned(), json!(sid));
    }
    out.insert("at".to_owned(), json!(at));
    for (name, value) in FUTURE_PERMS.iter().zip(perms) {
        if let Some(v) = value {
            out.insert((*name).to_owned(), json!(v));
        }
    }
    if let Some(b) = banned {
        out.insert("banned".to_owned(), json!(b));
    }
    Value::Object(out)
}

/// The override of one user as JSON (`{}` when there is none).
fn user_override(ctx: &Ctx<'_>, room: &Room, user: Option<i64>) -> Result<Value, ApiError> {
    Ok(match user {
        None => json!({}),
        Some(uid) => override_rows(ctx, room, Some(uid))?
            .first()
            .map_or_else(|| json!({}), |row| override_json(ctx, row)),
    })
}

fn user_futures(ctx: &Ctx<'_>, room: &Room, user: Option<i64>) -> Result<Value, ApiError> {
    let list = match user {
        None => Vec::new(),
        Some(uid) => futures(ctx, room, Some(uid))?
            .iter()
            .map(|f| future_json(f, false))
            .collect(),
    };
    Ok(Value::Array(list))
}

/// `GET /room/{token}/permissions`: `{session_id: override}` for every user with one.
pub(crate) fn list(ctx: &Ctx<'_>, token: &str) -> Result<ApiResponse, ApiError> {
    let room = moderated_room(ctx, token)?;
    let mut out = Map::new();
    for row in override_rows(ctx, &room, None)? {
        out.insert(row.session_id.clone(), override_json(ctx, &row));
    }
    Ok(ApiResponse::json(200, &Value::Object(out)))
}

/// `GET /room/{token}/permissions/{sid}`: the user's override (not the room defaults).
pub(crate) fn get(ctx: &Ctx<'_>, token: &str, sid: &str) -> Result<ApiResponse, ApiError> {
    let room = moderated_room(ctx, token)?;
    let user = known_user(ctx, sid)?;
    Ok(ApiResponse::json(200, &user_override(ctx, &room, user)?))
}

/// `GET /room/{token}/futurePermissions`: every scheduled change, soonest first.
pub(crate) fn list_futures(ctx: &Ctx<'_>, token: &str) -> Result<ApiResponse, ApiError> {
    let room = moderated_room(ctx, token)?;
    let list: Vec<Value> = futures(ctx, &room, None)?
        .iter()
        .map(|f| future_json(f, true))
        .collect();
    Ok(ApiResponse::json(200, &Value::Array(list)))
}

/// `GET /room/{token}/futurePermissions/{sid}`: one user's scheduled changes.
pub(crate) fn get_futures(ctx: &Ctx<'_>, token: &str, sid: &str) -> Result<ApiResponse, ApiError> {
    let room = moderated_room(ctx, token)?;
    let user = known_user(ctx, sid)?;
    Ok(ApiResponse::json(200, &user_futures(ctx, &room, user)?))
}

/// A permission value from a body: `Some(Some(b))` to set, `Some(None)` for `null`, `None`
/// when absent; any other JSON type is refused.
fn flag(obj: &Map<String, Value>, key: &str) -> Result<Option<Option<bool>>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Bool(b)) => Ok(Some(Some(*b))),
        Some(_) => Err(ApiError::BadRequest(
            "Invalid permission request: permissions must be true, false or null",
        )),
    }
}

/// `POST /room/{token}/permissions/{sid}`: `{accessible, read, write, upload}` each true or
/// false to set, `default_X: true` to return X to the room default, `unschedule: false` to keep
/// the scheduled changes of the permissions set. Answers with the user's new override.
pub(crate) fn set(
    ctx: &Ctx<'_>,
    token: &str,
    sid: &str,
    body: &[u8],
) -> Result<ApiResponse, ApiError> {
    let room = moderated_room(ctx, token)?;
    let target = crate::users::path_user(sid)?.to_string();
    let obj = json_object(body)?;
    // For each permission: `None` leaves it alone, `Some(None)` restores the room default.
    let mut changes: [Option<Option<bool>>; 4] = [None; 4];
    for (change, name) in changes.iter_mut().zip(PERMS) {
        let value = flag(&obj, name)?.flatten();
        let default = match obj.get(&format!("default_{name}")) {
            None | Some(Value::Null | Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => {
                return Err(ApiError::BadRequest(
                    "Invalid permission request: default_* must be true or false",
                ));
            }
        };
        *change = match (value, default) {
            (Some(_), true) => {
                return Err(ApiError::BadRequest(
                    "Invalid permission request: cannot give a permission with its default_",
                ));
            }
            (Some(v), false) => Some(Some(v)),
            (None, true) => Some(None),
            (None, false) => None,
        };
    }
    if changes.iter().all(Option::is_none) {
        return Err(ApiError::BadRequest(
            "Invalid permission request: give at least one of accessible, read, write, upload",
        ));
    }
    let unschedule = match obj.get("unschedule") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Invalid permission request: unschedule must be true or false",
            ));
        }
    };
    let uid = db::user_id(ctx.conn, &target, ctx.now)?;
    let [accessible, read, write, upload] = changes;
    if unschedule && (read.is_some() || write.is_some() || upload.is_some()) {
        ctx.conn.execute(
            "UPDATE user_permission_futures SET
               read = CASE WHEN ?3 THEN NULL ELSE read END,
               write = CASE WHEN ?4 THEN NULL ELSE write END,
               upload = CASE WHEN ?5 THEN NULL ELSE upload END
             WHERE room = ?1 AND user = ?2",
            params![
                room.id,
                uid,
                read.is_some(),
                write.is_some(),
                upload.is_some()
            ],
        )?;
        ctx.conn.execute(
            "DELETE FROM user_permission_futures WHERE room = ?1 AND user = ?2
               AND read IS NULL AND write IS NULL AND upload IS NULL",
            params![room.id, uid],
        )?;
    }
    // Each `(set?, value)` pair: a permission not given keeps its stored value.
    ctx.conn.execute(
        "INSERT INTO user_permission_overrides (room, user, accessible, read, write, upload)
         VALUES (?1, ?2, ?4, ?6, ?8, ?10)
         ON CONFLICT (room, user) DO UPDATE SET
           accessible = CASE WHEN ?3 THEN ?4 ELSE user_permission_overrides.accessible END,
           read = CASE WHEN ?5 THEN ?6 ELSE user_permission_overrides.read END,
           write = CASE WHEN ?7 THEN ?8 ELSE user_permission_overrides.write END,
           upload = CASE WHEN ?9 THEN ?10 ELSE user_permission_overrides.upload END",
        params![
            room.id,
            uid,
            accessible.is_some(),
            accessible.flatten(),
            read.is_some(),
            read.flatten(),
            write.is_some(),
            write.flatten(),
            upload.is_some(),
            upload.flatten(),
        ],
    )?;
    Ok(ApiResponse::json(
        200,
        &user_override(ctx, &room, Some(uid))?,
    ))
}

/// `POST /room/{token}/futurePermissions/{sid}`: `{read?, write?, upload?, in}` schedules the
/// given permissions `in` seconds from now; answers with the user's scheduled changes.
pub(crate) fn schedule(
    ctx: &Ctx<'_>,
    token: &str,
    sid: &str,
    body: &[u8],
) -> Result<ApiResponse, ApiError> {
    let room = moderated_room(ctx, token)?;
    let target = crate::users::path_user(sid)?.to_string();
    let obj = json_object(body)?;
    let mut values = [None; 3];
    for (value, name) in values.iter_mut().zip(FUTURE_PERMS) {
        *value = flag(&obj, name)?.flatten();
    }
    if values.iter().all(Option::is_none) {
        return Err(ApiError::BadRequest(
            "Invalid future permission request: give at least one of read, write, upload",
        ));
    }
    let delay = match obj.get("in") {
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    }
    .filter(|d| *d > 0.0 && *d < MAX_FUTURE_S)
    .ok_or(ApiError::BadRequest(
        "Invalid future permission request: `in` must be seconds, more than 0 and under 1e9",
    ))?;
    let uid = db::user_id(ctx.conn, &target, ctx.now)?;
    let [read, write, upload] = values;
    ctx.conn.execute(
        "INSERT INTO user_permission_futures (room, user, at, read, write, upload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![room.id, uid, ctx.now + delay, read, write, upload],
    )?;
    Ok(ApiResponse::json(
        200,
        &user_futures(ctx, &room, Some(uid))?,
    ))
}
