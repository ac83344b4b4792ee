//! The file server's routes, shared by plain HTTP and onion requests: parsing of the method,
//! path and headers, and the mapping of every outcome to the spec's status codes in one place.

use crate::id::FileId;

/// One route of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /file`.
    Upload,
    /// `GET /file/<id>`.
    Download(FileId),
    /// `GET /file/<id>/info`.
    Info(FileId),
    /// `POST /file/<id>/extend`.
    Extend(FileId),
    /// `POST /oxen/v4/lsrpc` (plain HTTP only).
    Onion,
}

/// Why a request matches no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    /// No such path (or an id of the wrong form): 404.
    NotFound,
    /// The path exists but not with this method: 405.
    Method,
}

impl NoRoute {
    /// The status code.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Method => 405,
        }
    }
}

/// Matches `method` and `endpoint` (a path, with or without a query, which is ignored).
///
/// # Errors
/// [`NoRoute`] for anything that is not one of the routes.
pub fn route(method: &str, endpoint: &str) -> Result<Route, NoRoute> {
    let path = endpoint.split_once('?').map_or(endpoint, |(p, _)| p);
    let is = |m: &str| method.eq_ignore_ascii_case(m);
    let check = |want: &str, r: Route| {
        if is(want) {
            Ok(r)
        } else {
            Err(NoRoute::Method)
        }
    };
    if path == sotto_onion::V4_TARGET {
        return check("POST", Route::Onion);
    }
    if path == "/file" {
        return check("POST", Route::Upload);
    }
    let rest = path.strip_prefix("/file/").ok_or(NoRoute::NotFound)?;
    let mut parts = rest.split('/');
    let id = parts.next().ok_or(NoRoute::NotFound)?;
    let id = FileId::parse(id).map_err(|_| NoRoute::NotFound)?;
    match (parts.next(), parts.next()) {
        (None, _) => check("GET", Route::Download(id)),
        (Some("info"), None) => check("GET", Route::Info(id)),
        (Some("extend"), None) => check("POST", Route::Extend(id)),
        _ => Err(NoRoute::NotFound),
    }
}

/// A malformed `X-FS-TTL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTtl;

/// Reads `X-FS-TTL`: absent → `None`; otherwise an integer number of seconds in
/// `0..=max_ttl_s`, else [`BadTtl`] (answered 400).
///
/// # Errors
/// [`BadTtl`].
pub fn ttl_header(value: Option<&str>, max_ttl_s: u64) -> Result<Option<u64>, BadTtl> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadTtl);
    }
    let n: u64 = v.parse().map_err(|_| BadTtl)?;
    if n > max_ttl_s {
        return Err(BadTtl);
    }
    Ok(Some(n))
}

/// The first value of a header by case-insensitive name.
#[must_use]
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every error body: `{"status_code": N}`, with a `message` when the code alone does not say
/// enough (quota full).
#[must_use]
pub fn error_body(status: u16, message: Option<&str>) -> Vec<u8> {
    let mut v = serde_json::json!({ "status_code": status });
    if let (Some(m), Some(obj)) = (message, v.as_object_mut()) {
        obj.insert("message".into(), m.into());
    }
    v.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let id = "A".repeat(44);
        assert_eq!(route("POST", "/file"), Ok(Route::Upload));
        assert_eq!(route("GET", "/file"), Err(NoRoute::Method));
        assert!(matches!(
            route("GET", &format!("/file/{id}")),
            Ok(Route::Download(_))
        ));
        assert!(matches!(
            route("get", &format!("/file/{id}?x=1")),
            Ok(Route::Download(_))
        ));
        assert!(matches!(
            route("GET", &format!("/file/{id}/info")),
            Ok(Route::Info(_))
        ));
        assert!(matches!(
            route("POST", &format!("/file/{id}/extend")),
            Ok(Route::Extend(_))
        ));
        assert_eq!(route("POST", &format!("/file/{id}")), Err(NoRoute::Method));
        assert_eq!(route("GET", "/file/../x"), Err(NoRoute::NotFound));
        assert_eq!(route("GET", "/file/a/b/c"), Err(NoRoute::NotFound));
        assert_eq!(route("GET", "/file/"), Err(NoRoute::NotFound));
        assert_eq!(route("GET", "/files/1"), Err(NoRoute::NotFound));
        assert_eq!(route("POST", "/oxen/v4/lsrpc"), Ok(Route::Onion));
    }

    #[test]
    fn ttls() {
        assert_eq!(ttl_header(None, 10), Ok(None));
        assert_eq!(ttl_header(Some("10"), 10), Ok(Some(10)));
        assert_eq!(ttl_header(Some(" 0 "), 10), Ok(Some(0)));
        for bad in ["11", "-1", "1.5", "", "x", "99999999999999999999999"] {
            assert_eq!(ttl_header(Some(bad), 10), Err(BadTtl), "{bad}");
        }
    }
}
