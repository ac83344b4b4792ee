//! The per-user permission endpoints of spec groups.md §4.4 on the real binary, on both
//! storage backends: `GET /room/R/permissions[/SID]`, `GET /room/R/futurePermissions[/SID]`,
//! `POST /room/R/permissions/SID` and `POST /room/R/futurePermissions/SID`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

#[macro_use]
mod common;

use common::*;

both_backends!(
    permission_endpoints_need_a_moderator_and_bad_input_changes_nothing,
    scheduled_changes_apply_when_due_and_restore_room_defaults,
);

/// A room `lobby` with a moderator (seed 9), and alice (seed 1) and bob (seed 2) who posted.
async fn setup(backend: Backend, dir: &std::path::Path, host: u8) -> (Server, [Client; 3]) {
    let server = Server::start(backend, dir, host, "");
    server.ready().await;
    server.cli(&["room", "add", "@", "lobby", "Lobby"]);
    let mut moderator = Client::new(9, Key::B15, &server);
    let mut alice = Client::new(1, Key::B15, &server);
    let mut bob = Client::new(2, Key::B25, &server);
    server.cli(&["user", "moderator", "@", "--room", "lobby", &moderator.id()]);
    for c in [&mut moderator, &mut alice, &mut bob] {
        assert_eq!(c.post("lobby", "hello").await.0, 201);
    }
    (server, [moderator, alice, bob])
}

async fn permissions_of(moderator: &mut Client, who: &str) -> Value {
    let (status, body) = moderator
        .call("GET", &format!("/room/lobby/permissions/{who}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn futures_of(moderator: &mut Client, who: &str) -> Value {
    let (status, body) = moderator
        .call("GET", &format!("/room/lobby/futurePermissions/{who}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn permission_endpoints_need_a_moderator_and_bad_input_changes_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (server, [mut moderator, mut alice, mut bob]) = setup(backend, dir.path(), 11).await;
    let (a, b) = (alice.id(), bob.id());

    // Nobody but a moderator of the room: 401 without auth, 403 for a member, 404 for a room
    // that does not exist.
    let paths = [
        ("GET", "/room/lobby/permissions".to_owned(), None),
        ("GET", format!("/room/lobby/permissions/{b}"), None),
        ("GET", "/room/lobby/futurePermissions".to_owned(), None),
        ("GET", format!("/room/lobby/futurePermissions/{b}"), None),
        (
            "POST",
            format!("/room/lobby/permissions/{b}"),
            Some(json!({ "write": false })),
        ),
        (
            "POST",
            format!("/room/lobby/futurePermissions/{b}"),
            Some(json!({ "write": false, "in": 60 })),
        ),
    ];
    for (method, path, body) in &paths {
        let raw = body
            .as_ref()
            .map(|b| b.to_string().into_bytes())
            .unwrap_or_default();
        let (status, _) = http(server.addr, method, path, &[], raw).await.unwrap();
        assert_eq!(status, 401, "{method} {path} anonymous");
        let (status, _) = alice.call(method, path, body.clone()).await;
        assert_eq!(status, 403, "{method} {path} by a member");
        let nowhere = path.replace("/lobby/", "/nowhere/");
        let (status, _) = moderator.call(method, &nowhere, body.clone()).await;
        assert_eq!(status, 404, "{method} {nowhere}");
    }
    // None of those changed anything: bob has no override and no scheduled change.
    assert_eq!(permissions_of(&mut moderator, &b).await, json!({}));
    assert_eq!(futures_of(&mut moderator, &b).await, json!([]));
    // The room-wide list holds only the moderator's own appointment.
    let (_, all) = moderator.call("GET", "/room/lobby/permissions", None).await;
    assert_eq!(all, json!({ moderator.id(): { "moderator": true } }));

    // Mute alice: her override answers, she may no longer post, and the list shows her.
    let (status, body) = moderator
        .call(
            "POST",
            &format!("/room/lobby/permissions/{a}"),
            Some(json!({ "write": false })),
        )
        .await;
    assert_eq!((status, &body), (200, &json!({ "write": false })));
    assert_eq!(alice.post("lobby", "muted?").await.0, 403);
    let (_, all) = moderator.call("GET", "/room/lobby/permissions", None).await;
    assert_eq!(all[&a], json!({ "write": false }));
    assert_eq!(bob.post("lobby", "not muted").await.0, 201);

    // Bad requests: 400 each, and nothing changes.
    for bad in [
        json!({ "write": true, "default_write": true }),
        json!({}),
        json!({ "unschedule": false }),
        json!({ "write": "yes" }),
        json!({ "read": 1 }),
        json!({ "default_read": "true" }),
        json!({ "write": true, "unschedule": "no" }),
        json!([{ "write": true }]),
    ] {
        let (status, _) = moderator
            .call(
                "POST",
                &format!("/room/lobby/permissions/{a}"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = moderator
        .raw(
            "POST",
            &format!("/room/lobby/permissions/{a}"),
            &format!("/room/lobby/permissions/{a}"),
            b"not json".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    for bad in [
        json!({ "in": 60 }),
        json!({ "write": true }),
        json!({ "write": true, "in": 0 }),
        json!({ "write": true, "in": -5 }),
        json!({ "write": true, "in": 1_000_000_000 }),
        json!({ "write": true, "in": "60" }),
        json!({ "write": true, "in": true }),
        json!({ "write": "on", "in": 60 }),
        json!({ "accessible": true, "in": 60 }),
    ] {
        let (status, _) = moderator
            .call(
                "POST",
                &format!("/room/lobby/futurePermissions/{a}"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    // A user id that is not one: 404.
    let (status, _) = moderator
        .call(
            "POST",
            "/room/lobby/permissions/05zz",
            Some(json!({ "write": false })),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        permissions_of(&mut moderator, &a).await,
        json!({ "write": false })
    );
    assert_eq!(futures_of(&mut moderator, &a).await, json!([]));
    assert_eq!(alice.post("lobby", "still muted?").await.0, 403);

    // A temporary mute, as moderators send it: one sequence that sets the permission and
    // schedules its restoration in a day.
    let day = 86_400.0;
    let (status, body) = moderator
        .call(
            "POST",
            "/sequence",
            Some(json!([
                { "method": "POST", "path": format!("/room/lobby/permissions/{b}"),
                  "json": { "write": false, "upload": false } },
                { "method": "POST", "path": format!("/room/lobby/futurePermissions/{b}"),
                  "json": { "write": true, "upload": true, "in": day } },
            ])),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["code"], json!(200), "{body}");
    assert_eq!(body[1]["code"], json!(200), "{body}");
    assert_eq!(body[0]["body"], json!({ "write": false, "upload": false }));
    let scheduled = &body[1]["body"];
    assert_eq!(scheduled.as_array().unwrap().len(), 1, "{scheduled}");
    assert_eq!(scheduled[0]["write"], json!(true));
    assert_eq!(scheduled[0]["upload"], json!(true));
    assert!(scheduled[0].get("read").is_none());
    let at = scheduled[0]["at"].as_f64().unwrap();
    #[allow(clippy::cast_precision_loss, reason = "unix seconds")]
    let now_s = now() as f64;
    assert!((at - now_s - day).abs() < 60.0, "{at}");
    assert_eq!(bob.post("lobby", "muted for a day").await.0, 403);
    // The room-wide list names whom each change is for.
    let (_, all) = moderator
        .call("GET", "/room/lobby/futurePermissions", None)
        .await;
    assert_eq!(
        all,
        json!([{ "session_id": b, "at": at, "write": true, "upload": true }])
    );

    // Setting write again without `unschedule: false` drops the scheduled write change but
    // keeps the upload one; with it, a new scheduled change stays.
    let (status, _) = moderator
        .call(
            "POST",
            &format!("/room/lobby/permissions/{b}"),
            Some(json!({ "write": false })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        futures_of(&mut moderator, &b).await,
        json!([{ "at": at, "upload": true }])
    );
    let (status, _) = moderator
        .call(
            "POST",
            &format!("/room/lobby/futurePermissions/{b}"),
            Some(json!({ "write": true, "in": 60 })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = moderator
        .call(
            "POST",
            &format!("/room/lobby/permissions/{b}"),
            Some(json!({ "write": false, "unschedule": false })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        futures_of(&mut moderator, &b)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Setting upload clears the upload part; the row with nothing left goes.
    let (status, _) = moderator
        .call(
            "POST",
            &format!("/room/lobby/permissions/{b}"),
            Some(json!({ "upload": false })),
        )
        .await;
    assert_eq!(status, 200);
    let left = futures_of(&mut moderator, &b).await;
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["write"], json!(true));

    // `default_write` returns alice to the room's default: she may post again.
    let (status, body) = moderator
        .call(
            "POST",
            &format!("/room/lobby/permissions/{a}"),
            Some(json!({ "default_write": true })),
        )
        .await;
    assert_eq!((status, &body), (200, &json!({})));
    assert_eq!(alice.post("lobby", "back").await.0, 201);

    // Revoking read and access hides the room from alice.
    let (status, _) = moderator
        .call(
            "POST",
            &format!("/room/lobby/permissions/{a}"),
            Some(json!({ "read": false, "accessible": false })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(alice.call("GET", "/room/lobby", None).await.0, 404);
    assert_eq!(
        permissions_of(&mut moderator, &a).await,
        json!({ "read": false, "accessible": false })
    );

    // A timed ban shows in the override and, as its end, in the scheduled changes.
    let (status, _) = moderator
        .call(
            "POST",
            &format!("/user/{a}/ban"),
            Some(json!({ "rooms": ["lobby"], "timeout": 600 })),
        )
        .await;
    assert_eq!(status, 200);
    let p = permissions_of(&mut moderator, &a).await;
    assert_eq!(p["banned"], json!(true), "{p}");
    let f = futures_of(&mut moderator, &a).await;
    assert_eq!(f.as_array().unwrap().len(), 1, "{f}");
    assert_eq!(f[0]["banned"], json!(false));
}

async fn scheduled_changes_apply_when_due_and_restore_room_defaults(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (server, [mut moderator, mut alice, _bob]) = setup(backend, dir.path(), 12).await;
    let a = alice.id();

    // A mute due in one second takes effect by itself.
    let (status, body) = moderator
        .call(
            "POST",
            &format!("/room/lobby/futurePermissions/{a}"),
            Some(json!({ "write": false, "in": 1 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(alice.post("lobby", "before").await.0, 201);
    let srv = &server;
    let write_is = |want: bool| {
        sotto_testkit::net::eventually(
            "the scheduled change to apply",
            Duration::from_secs(15),
            move || {
                // A fresh client per poll: each signs with its own nonces.
                let mut alice = Client::new(1, Key::B15, srv);
                async move {
                    let (_, info) = alice.call("GET", "/room/lobby/pollInfo/0", None).await;
                    (info["write"] == json!(want)).then_some(())
                }
            },
        )
    };
    write_is(false).await.unwrap();
    assert_eq!(alice.post("lobby", "after").await.0, 403);
    assert_eq!(
        permissions_of(&mut moderator, &a).await,
        json!({ "write": false })
    );
    assert_eq!(futures_of(&mut moderator, &a).await, json!([]));

    // Restoring write (the room's default) clears the override rather than granting it.
    let (status, _) = moderator
        .call(
            "POST",
            &format!("/room/lobby/futurePermissions/{a}"),
            Some(json!({ "write": true, "in": 1 })),
        )
        .await;
    assert_eq!(status, 200);
    write_is(true).await.unwrap();
    assert_eq!(permissions_of(&mut moderator, &a).await, json!({}));
    assert_eq!(alice.post("lobby", "again").await.0, 201);
}
