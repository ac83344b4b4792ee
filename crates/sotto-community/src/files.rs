//! Room files (spec groups.md §4.4, §4.7): upload as a raw body, download with
//! `Content-Disposition`, `Date` and `Expires`; unattached uploads expire after an hour,
//! attached ones with their post (15 days); expired files are removed by [`prune`].

use std::path::{Path, PathBuf};

use crate::store::{Db, OptionalExtension, params};
use serde_json::json;

use crate::api::{ApiError, ApiResponse, Ctx, room_for};

/// Largest upload, bytes.
pub const MAX_FILE_BYTES: usize = 10_000_000;
/// Unattached uploads expire after this long, seconds.
pub const UNATTACHED_EXPIRY_S: f64 = 60.0 * 60.0;
/// Longest filename kept (longer ones keep their first 40 and last 17 characters).
pub const MAX_FILENAME_CHARS: usize = 60;

/// Where file `id` lives on disk.
#[must_use]
pub fn file_path(uploads: &Path, id: i64) -> PathBuf {
    uploads.join(id.to_string())
}

/// The filename of a `Content-Disposition: attachment; filename*=UTF-8''…` (or `filename="…"`)
/// header, shortened as pysogs does; `None` when there is none.
#[must_use]
pub fn disposition_filename(value: &str) -> Option<String> {
    let mut name = None;
    for part in value.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=") {
            let v = v
                .strip_prefix("UTF-8''")
                .or_else(|| v.strip_prefix("utf-8''"))?;
            name = crate::auth::percent_decode(v);
            break;
        }
        if let Some(v) = part.strip_prefix("filename=") {
            name = Some(v.trim_matches('"').to_owned());
        }
    }
    let name: String = name?
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
        .collect();
    if name.is_empty() {
        return None;
    }
    let n = name.chars().count();
    if n <= MAX_FILENAME_CHARS {
        return Some(name);
    }
    let head: String = name.chars().take(40).collect();
    let tail: String = name.chars().skip(n - 17).collect();
    Some(format!("{head}...{tail}"))
}

/// Percent-encodes a filename for `filename*=UTF-8''…`.
fn encode_filename(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An HTTP date (`Tue, 08 Dec 2026 20:00:00 GMT`) for unix seconds.
#[must_use]
pub fn http_date(unix: f64) -> String {
    #[allow(clippy::cast_possible_truncation, reason = "unix seconds fit in i64")]
    let secs = unix.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = usize::try_from(days.rem_euclid(7))
        .ok()
        .and_then(|i| WEEKDAYS.get(i))
        .copied()
        .unwrap_or("Thu");
    let month_name = usize::try_from(month - 1)
        .ok()
        .and_then(|i| MONTHS.get(i))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `POST /room/{token}/file`.
pub(crate) fn upload(
    ctx: &Ctx<'_>,
    token: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<ApiResponse, ApiError> {
    let user = ctx.require_user()?;
    let (room, perms) = room_for(ctx, token)?;
    if !perms.upload {
        return Err(ApiError::Forbidden("This room requires upload permission"));
    }
    let uploads = ctx.uploads.ok_or(ApiError::NotFound)?;
    if body.is_empty() {
        return Err(ApiError::BadRequest("Invalid upload: empty file"));
    }
    if body.len() > MAX_FILE_BYTES {
        return Err(ApiError::TooLarge);
    }
    let filename = header(headers, "content-disposition").and_then(disposition_filename);
    let id: i64 = ctx.conn.query_row(
        "INSERT INTO files (room, uploader, size, uploaded, expiry, filename)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![
            room.id,
            user.id,
            i64::try_from(body.len()).unwrap_or(i64::MAX),
            ctx.now,
            ctx.now + UNATTACHED_EXPIRY_S,
            filename
        ],
        |r| r.get(0),
    )?;
    std::fs::create_dir_all(uploads).map_err(ApiError::Storage)?;
    std::fs::write(file_path(uploads, id), body).map_err(ApiError::Storage)?;
    Ok(ApiResponse::json(201, &json!({ "id": id })))
}

/// `GET /room/{token}/file/{id}[/{name}]`.
pub(crate) fn download(ctx: &Ctx<'_>, token: &str, id: i64) -> Result<ApiResponse, ApiError> {
    let (room, perms) = room_for(ctx, token)?;
    if !perms.read {
        return Err(ApiError::Forbidden("This room requires read permission"));
    }
    let uploads = ctx.uploads.ok_or(ApiError::NotFound)?;
    let row: Option<(Option<String>, Option<f64>, f64)> = ctx
        .conn
        .query_row(
            "SELECT filename, expiry, uploaded FROM files
             WHERE id = ?1 AND room = ?2 AND (expiry IS NULL OR expiry > ?3)",
            params![id, room.id, ctx.now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (filename, expiry, uploaded) = row.ok_or(ApiError::NotFound)?;
    let body = std::fs::read(file_path(uploads, id)).map_err(|_| ApiError::NotFound)?;
    let mut headers = vec![
        (
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
        ("content-length".to_owned(), body.len().to_string()),
        ("date".to_owned(), http_date(uploaded)),
    ];
    if let Some(name) = filename {
        headers.push((
            "content-disposition".to_owned(),
            format!("attachment; filename*=UTF-8''{}", encode_filename(&name)),
        ));
    }
    if let Some(e) = expiry {
        headers.push(("expires".to_owned(), http_date(e)));
    }
    Ok(ApiResponse {
        status: 200,
        headers,
        body,
    })
}

/// Removes expired files (rows and bytes on disk); the number removed.
pub fn prune(conn: &Db, uploads: Option<&Path>, now: f64) -> crate::store::Result<usize> {
    let ids: Vec<i64> = {
        let mut stmt =
            conn.prepare_cached("SELECT id FROM files WHERE expiry IS NOT NULL AND expiry <= ?1")?;
        stmt.query_map([now], |r| r.get(0))?
            .collect::<crate::store::Result<_>>()?
    };
    for id in &ids {
        conn.execute("DELETE FROM files WHERE id = ?1", [id])?;
        if let Some(dir) = uploads {
            let _ = std::fs::remove_file(file_path(dir, *id));
        }
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0.0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_700_000_000.5), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(951_782_400.0), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn filenames() {
        assert_eq!(
            disposition_filename("attachment; filename*=UTF-8''caf%C3%A9.png").as_deref(),
            Some("café.png")
        );
        assert_eq!(
            disposition_filename("attachment; filename=\"a/b.txt\"").as_deref(),
            Some("ab.txt")
        );
        assert_eq!(disposition_filename("attachment"), None);
        let long = format!("{}.png", "x".repeat(100));
        let short = disposition_filename(&format!("attachment; filename={long}")).unwrap();
        assert_eq!(short.chars().count(), 40 + 3 + 17);
        assert!(short.ends_with(".png"));
    }
}
