//! What every request of `sotto app` goes through: the secret token (exchanged for an HttpOnly
//! SameSite=Strict cookie), the Host check against DNS rebinding, the Origin check against
//! cross-site requests, and the security headers of every answer.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};

/// The body type of every answer.
pub type Body = BoxBody<Bytes, Infallible>;

/// The name of the session cookie.
pub const COOKIE: &str = "sotto_app";

/// The Content-Security-Policy of every answer: only this origin's own scripts, styles,
/// images and media; no inline script or style, no framing, no form posts elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; media-src 'self'; connect-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The Host header is not this server's loopback address (DNS rebinding).
    Host,
    /// The Origin (or Sec-Fetch-Site) names another site.
    Origin,
    /// Neither the cookie nor the URL carries the token.
    Token,
}

impl Refusal {
    /// The status and the text of the refusal.
    pub fn response(self) -> Response<Body> {
        let (status, text) = match self {
            Self::Host => (
                StatusCode::MISDIRECTED_REQUEST,
                "refused: this server answers only at its loopback address",
            ),
            Self::Origin => (
                StatusCode::FORBIDDEN,
                "refused: requests from other sites are not accepted",
            ),
            Self::Token => (
                StatusCode::UNAUTHORIZED,
                "refused: open the address `sotto app` printed (it carries the access token)",
            ),
        };
        text_response(status, text)
    }
}

/// Compares in time independent of where the first difference is.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The hosts this server answers to.
pub fn allowed_hosts(port: u16) -> [String; 2] {
    [format!("127.0.0.1:{port}"), format!("localhost:{port}")]
}

/// Checks Host and Origin (and Sec-Fetch-Site). Unsafe methods must carry this origin.
pub fn check_site(method: &Method, headers: &HeaderMap, port: u16) -> Result<(), Refusal> {
    let hosts = allowed_hosts(port);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or(Refusal::Host)?;
    if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(Refusal::Host);
    }
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    match origin {
        Some(origin) => {
            let ok = hosts
                .iter()
                .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")));
            if !ok {
                return Err(Refusal::Origin);
            }
        }
        None if *method != Method::GET && *method != Method::HEAD => {
            return Err(Refusal::Origin);
        }
        None => {}
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return Err(Refusal::Origin);
    }
    Ok(())
}

/// The token the request's cookie carries.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The value of `name` in a query string or form body.
pub fn param(query: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(query)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Adds the headers every answer carries.
pub fn secure(mut response: Response<Body>) -> Response<Body> {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// An answer with `body` of `content_type`.
pub fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A plain-text answer.
pub fn text_response(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    response(status, "text/plain; charset=utf-8", text.into())
}

/// An HTML answer.
pub fn html(body: String) -> Response<Body> {
    response(StatusCode::OK, "text/html; charset=utf-8", body)
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    response(status, "application/json", value.to_string())
}

/// A redirect (303) to `location` on this origin.
pub fn redirect(location: &str) -> Response<Body> {
    let mut r = response(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The Set-Cookie value carrying `token`: HttpOnly, SameSite=Strict, for this origin's paths.
pub fn token_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn host_and_origin_checks() {
        let get = Method::GET;
        let post = Method::POST;
        let ok = headers(&[("host", "127.0.0.1:8080")]);
        assert_eq!(check_site(&get, &ok, 8080), Ok(()));
        assert_eq!(check_site(&post, &ok, 8080), Err(Refusal::Origin));
        let same = headers(&[
            ("host", "localhost:8080"),
            ("origin", "http://localhost:8080"),
        ]);
        assert_eq!(check_site(&post, &same, 8080), Ok(()));
        let rebinding = headers(&[("host", "evil.example:8080")]);
        assert_eq!(check_site(&get, &rebinding, 8080), Err(Refusal::Host));
        let port = headers(&[("host", "127.0.0.1:9999")]);
        assert_eq!(check_site(&get, &port, 8080), Err(Refusal::Host));
        assert_eq!(
            check_site(&get, &HeaderMap::new(), 8080),
            Err(Refusal::Host)
        );
        let foreign = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(check_site(&get, &foreign, 8080), Err(Refusal::Origin));
        assert_eq!(check_site(&post, &foreign, 8080), Err(Refusal::Origin));
        let cross = headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]);
        assert_eq!(check_site(&get, &cross, 8080), Err(Refusal::Origin));
    }

    #[test]
    fn cookies_and_secrets() {
        let h = headers(&[("cookie", "a=b; sotto_app=xyz; c=d")]);
        assert_eq!(cookie_token(&h), Some("xyz"));
        assert_eq!(cookie_token(&HeaderMap::new()), None);
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
        assert_eq!(
            param(b"c=05ab&text=hi%20there", "text").as_deref(),
            Some("hi there")
        );
    }
}
