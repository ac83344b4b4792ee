//! `sotto app` refuses what a hostile page or network could send (plain HTTP requests, no
//! browser, no network needed): no token, a wrong token, a foreign Origin, a rebinding Host;
//! and its answers carry a strict Content-Security-Policy and an HttpOnly SameSite cookie.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod app_common;

use app_common::{AppProcess, request};

#[test]
fn requests_without_the_token_or_from_elsewhere_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let app = AppProcess::start(root.path(), &root.path().join("no-network.json"), "alice");
    let host = format!("127.0.0.1:{}", app.port);
    let origin = format!("http://{host}");
    let h = |extra: &[(&'static str, &str)]| {
        let mut v: Vec<(&str, String)> = vec![("Host", host.clone())];
        v.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        v
    };
    let send = |method: &str, path: &str, headers: Vec<(&str, String)>| {
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request(app.port, method, path, &refs, b"")
    };

    // No token: every path is refused, assets and the event stream included.
    for path in ["/", "/assets/app.js", "/events", "/frag/list", "/att/1/0"] {
        let a = send("GET", path, h(&[]));
        assert_eq!(a.status, 401, "{path}: {a:?}");
        assert!(a.header("content-security-policy").is_some(), "{path}");
    }
    // A wrong token, or a cookie with the wrong value.
    assert_eq!(send("GET", "/?token=00", h(&[])).status, 401);
    assert_eq!(
        send("GET", "/", h(&[("Cookie", "sotto_app=00")])).status,
        401
    );

    // The printed token is exchanged for an HttpOnly SameSite=Strict cookie.
    let a = send("GET", &format!("/?token={}", app.token), h(&[]));
    assert_eq!(a.status, 303, "{a:?}");
    assert_eq!(a.header("location"), Some("/"));
    let cookie = a.header("set-cookie").unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();

    // With the cookie: the onboarding page, with the strict policy.
    let a = send("GET", "/", h(&[("Cookie", &pair)]));
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("Create an account"), "{}", a.body);
    let csp = a.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(a.header("x-frame-options"), Some("DENY"));
    assert!(!a.body.contains("http://") || !a.body.contains("<script src=\"http"));

    // DNS rebinding: a foreign Host is refused even with the cookie (and the token).
    for bad_host in [
        "evil.example",
        "evil.example:80",
        &format!("evil.example:{}", app.port),
    ] {
        let headers = vec![("Host", bad_host.to_owned()), ("Cookie", pair.clone())];
        let a = send("GET", "/", headers);
        assert_eq!(a.status, 421, "{bad_host}: {a:?}");
        let headers = vec![("Host", bad_host.to_owned())];
        let a = send("GET", &format!("/?token={}", app.token), headers);
        assert_eq!(a.status, 421, "{bad_host} with the token: {a:?}");
    }

    // Cross-site: a foreign Origin is refused, for reads and for actions; an action
    // without any Origin is refused too; Sec-Fetch-Site cross-site as well.
    let foreign = h(&[("Cookie", &pair), ("Origin", "http://evil.example")]);
    assert_eq!(send("GET", "/events", foreign.clone()).status, 403);
    assert_eq!(send("POST", "/api/onboard/create", foreign).status, 403);
    let no_origin = h(&[("Cookie", &pair)]);
    assert_eq!(send("POST", "/api/onboard/create", no_origin).status, 403);
    let cross = h(&[("Cookie", &pair), ("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(send("GET", "/", cross).status, 403);
    // Nothing was created by the refused requests.
    assert!(!root.path().join("alice/account.json").exists());
    let a = send("GET", "/", h(&[("Cookie", &pair)]));
    assert!(a.body.contains("Create an account"), "{}", a.body);

    // The same action from this origin with the cookie goes through.
    let ok = h(&[("Cookie", &pair), ("Origin", &origin)]);
    let a = send("POST", "/api/onboard/create", ok);
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("\"ok\":true"), "{}", a.body);
    let a = send("GET", "/", h(&[("Cookie", &pair)]));
    assert!(a.body.contains("Recovery phrase"), "{}", a.body);
}
