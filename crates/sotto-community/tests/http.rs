//! The real `sotto-community` binary on loopback, storing in a real SQLite file or a real
//! PostgreSQL server (every test runs on both), reached over plain HTTP and onion requests by
//! clients that sign their requests as Session apps do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers outside #[test] functions"
)]

#[macro_use]
mod common;

use common::*;

both_backends!(
    auth_failures_have_the_spec_codes_and_nonces_survive_restart,
    unblinded_keys_work_when_blinding_is_not_required,
    post_read_edit_delete_react_and_pin,
    moderation_bans_files_and_blinded_inbox,
    session_apps_reach_the_rooms_through_onion_requests,
);

async fn auth_failures_have_the_spec_codes_and_nonces_survive_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(backend, dir.path(), 1, "");
    server.ready().await;
    server.cli(&["room", "add", "@", "lobby", "Lobby"]);
    let mut alice = Client::new(1, Key::B15, &server);
    let addr = server.addr;

    // Capabilities need no auth; `blind` is there because blinded keys are required.
    let (status, caps) = alice.call("GET", "/capabilities", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        caps,
        json!({ "capabilities": ["blind", "reactions", "sogs"] })
    );
    let (status, body) = http(
        addr,
        "GET",
        "/capabilities?required=sogs,teleport",
        &[],
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(status, 412);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["missing"], json!(["teleport"]));

    // A good request, with a 15 and a 25 key.
    let (status, _) = alice.call("GET", "/room/lobby", None).await;
    assert_eq!(status, 200);
    let mut carol = Client::new(3, Key::B25, &server);
    assert_eq!(carol.call("GET", "/room/lobby", None).await.0, 200);

    // Some headers missing: 400.
    let mut partial = alice.headers("GET", "/room/lobby", &[], now());
    partial.retain(|(n, _)| n != "X-SOGS-Nonce");
    assert_eq!(
        http(addr, "GET", "/room/lobby", &partial, vec![])
            .await
            .unwrap()
            .0,
        400
    );
    // An unblinded key where blinding is required: 400.
    let mut plain = Client::new(4, Key::Unblinded, &server);
    assert_eq!(plain.call("GET", "/room/lobby", None).await.0, 400);
    // A 05 prefix is not an auth key: 400.
    let mut wrong_prefix = alice.headers("GET", "/room/lobby", &[], now());
    wrong_prefix[0].1.replace_range(0..2, "05");
    assert_eq!(
        http(addr, "GET", "/room/lobby", &wrong_prefix, vec![])
            .await
            .unwrap()
            .0,
        400
    );
    // A signature over another path: 401.
    let forged = alice.headers("GET", "/room/other", &[], now());
    assert_eq!(
        http(addr, "GET", "/room/lobby", &forged, vec![])
            .await
            .unwrap()
            .0,
        401
    );
    // A body that is not the one signed: 401.
    let signed_body = br#"{"a":1}"#.to_vec();
    let h = alice.headers("POST", "/room/lobby/message", &signed_body, now());
    assert_eq!(
        http(
            addr,
            "POST",
            "/room/lobby/message",
            &h,
            br#"{"a":2}"#.to_vec()
        )
        .await
        .unwrap()
        .0,
        401
    );
    // A timestamp more than 24 h away, either side: 425.
    for ts in [now() - 25 * 3600, now() + 25 * 3600] {
        let h = alice.headers("GET", "/room/lobby", &[], ts);
        assert_eq!(
            http(addr, "GET", "/room/lobby", &h, vec![])
                .await
                .unwrap()
                .0,
            425
        );
    }
    // A nonce used twice: 425, also after a restart.
    let nonce = [0x42; 16];
    let h = alice.headers_with_nonce("GET", "/room/lobby", &[], now(), nonce);
    assert_eq!(
        http(addr, "GET", "/room/lobby", &h, vec![])
            .await
            .unwrap()
            .0,
        200
    );
    let again = alice.headers_with_nonce("GET", "/room/lobby", &[], now(), nonce);
    assert_eq!(
        http(addr, "GET", "/room/lobby", &again, vec![])
            .await
            .unwrap()
            .0,
        425
    );
    server.kill();
    server.spawn();
    server.ready().await;
    assert_eq!(
        http(addr, "GET", "/room/lobby", &again, vec![])
            .await
            .unwrap()
            .0,
        425
    );
    // The same nonce is fine for another user.
    let carol_h = carol.headers_with_nonce("GET", "/room/lobby", &[], now(), nonce);
    assert_eq!(
        http(addr, "GET", "/room/lobby", &carol_h, vec![])
            .await
            .unwrap()
            .0,
        200
    );

    // A globally banned user: 403, even with a bad signature.
    server.sql(
        "UPDATE users SET banned = TRUE WHERE session_id = ?1",
        &carol.id(),
    );
    assert_eq!(carol.call("GET", "/room/lobby", None).await.0, 403);
    let forged = carol.headers("GET", "/room/other", &[], now());
    assert_eq!(
        http(addr, "GET", "/room/lobby", &forged, vec![])
            .await
            .unwrap()
            .0,
        403
    );
    // Others are unaffected.
    assert_eq!(alice.call("GET", "/room/lobby", None).await.0, 200);
}

async fn unblinded_keys_work_when_blinding_is_not_required(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path(), 2, "require_blind_keys = false");
    server.ready().await;
    server.cli(&["room", "add", "@", "open", "Open"]);
    let mut plain = Client::new(4, Key::Unblinded, &server);
    let (status, caps) = plain.call("GET", "/capabilities", None).await;
    assert_eq!(status, 200);
    assert_eq!(caps, json!({ "capabilities": ["reactions", "sogs"] }));
    let (status, msg) = plain.post("open", "hello").await;
    assert_eq!(status, 201, "{msg}");
    // The server records an unblinded poster under their 05 Session ID.
    assert_eq!(msg["session_id"], json!(plain.id()));
}

async fn post_read_edit_delete_react_and_pin(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path(), 3, "");
    server.ready().await;
    let link = server.cli(&["room", "add", "@", "lobby", "Lobby", "--description", "hi"]);
    assert_eq!(
        link.trim(),
        format!(
            "http://{}/lobby?public_key={}",
            server.addr,
            hex::encode(server.pk)
        )
    );
    let mut admin = Client::new(9, Key::B15, &server);
    let admin_sid = format!(
        "05{}",
        hex::encode(admin.account.x25519_public().as_bytes())
    );
    server.cli(&["user", "admin", "@", "--room", "lobby", &admin_sid]);
    let mut alice = Client::new(1, Key::B15, &server);
    let mut bob = Client::new(2, Key::B25, &server);

    // Unknown rooms, messages and routes: 404.
    assert_eq!(alice.call("GET", "/room/nowhere", None).await.0, 404);
    assert_eq!(
        alice.call("GET", "/room/lobby/message/99", None).await.0,
        404
    );
    assert_eq!(alice.call("GET", "/room/lobby/files", None).await.0, 404);
    assert_eq!(alice.call("GET", "/legacy/rooms", None).await.0, 404);

    // Posting needs a user; a forged post signature is refused and stores nothing.
    let (status, _) = http(
        server.addr,
        "POST",
        "/room/lobby/message",
        &[],
        b"{}".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 401);
    let (status, _) = alice
        .call(
            "POST",
            "/room/lobby/message",
            Some(json!({ "data": STANDARD.encode(b"x"), "signature": STANDARD.encode([0u8; 64]) })),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = alice
        .call(
            "POST",
            "/room/lobby/message",
            Some(json!({ "data": STANDARD.encode(b"x"), "signature": STANDARD.encode([0u8; 10]) })),
        )
        .await;
    assert_eq!(status, 400);

    let (status, m1) = alice.post("lobby", "one").await;
    assert_eq!(status, 201, "{m1}");
    assert_eq!(m1["session_id"], json!(alice.id()));
    assert_eq!(m1["seqno"], json!(1));
    assert_eq!(m1["reactions"], json!({}));
    let (status, m2) = bob.post("lobby", "two").await;
    assert_eq!(status, 201, "{m2}");
    assert_eq!(m2["session_id"], json!(bob.id()));
    let id1 = m1["id"].as_i64().unwrap();
    let id2 = m2["id"].as_i64().unwrap();

    let (status, since) = bob
        .call("GET", "/room/lobby/messages/since/0?t=r", None)
        .await;
    assert_eq!(status, 200);
    let texts: Vec<String> = since.as_array().unwrap().iter().map(data_of).collect();
    assert_eq!(texts, ["one", "two"]);
    let (_, since) = bob.call("GET", "/room/lobby/messages/since/1", None).await;
    assert_eq!(since.as_array().unwrap().len(), 1);
    let (_, recent) = bob
        .call("GET", "/room/lobby/messages/recent?limit=1", None)
        .await;
    assert_eq!(recent.as_array().unwrap().len(), 1);
    assert_eq!(data_of(&recent[0]), "two");
    let (_, before) = bob
        .call("GET", &format!("/room/lobby/messages/before/{id2}"), None)
        .await;
    assert_eq!(data_of(&before[0]), "one");
    let (status, single) = bob
        .call("GET", &format!("/room/lobby/message/{id1}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(data_of(&single), "one");
    // Anonymous readers may read a default room.
    let (status, _) = http(
        server.addr,
        "GET",
        "/room/lobby/messages/recent",
        &[],
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(status, 200);

    // Edit: only the author.
    let data = b"one (edited)".to_vec();
    let edit = json!({ "data": STANDARD.encode(&data), "signature": STANDARD.encode(alice.sign_data(&data)) });
    assert_eq!(
        bob.call(
            "PUT",
            &format!("/room/lobby/message/{id1}"),
            Some(edit.clone())
        )
        .await
        .0,
        403
    );
    let (status, body) = alice
        .call("PUT", &format!("/room/lobby/message/{id1}"), Some(edit))
        .await;
    assert_eq!((status, body), (200, json!({})));
    let (_, since) = bob
        .call("GET", "/room/lobby/messages/since/2?t=r", None)
        .await;
    assert_eq!(data_of(&since[0]), "one (edited)");
    assert!(since[0]["edited"].is_f64());
    assert_eq!(since[0]["seqno"], json!(3));

    // Reactions, raw emoji signed, percent-encoded on the wire.
    let url = format!("/room/lobby/reaction/{id2}/%F0%9F%91%8D");
    let signed = format!("/room/lobby/reaction/{id2}/👍");
    let (status, body) = alice.raw("PUT", &url, &signed, Vec::new()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "added": true, "seqno": 4 }));
    let (_, body) = alice.raw("PUT", &url, &signed, Vec::new()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["added"], json!(false));
    let (status, _) = bob.raw("PUT", &url, &signed, Vec::new()).await;
    assert_eq!(status, 200);
    // Too long a reaction: 400.
    let long = "a".repeat(13);
    assert_eq!(
        bob.call("PUT", &format!("/room/lobby/reaction/{id2}/{long}"), None)
            .await
            .0,
        400
    );
    // The reaction update shows with t=r, with reactors and `you`.
    let (_, since) = alice
        .call("GET", "/room/lobby/messages/since/3?t=r&reactors=5", None)
        .await;
    let update = &since.as_array().unwrap()[0];
    assert_eq!(update["id"], json!(id2));
    assert!(update.get("data").is_none(), "{update}");
    let r = &update["reactions"]["👍"];
    assert_eq!(r["count"], json!(2));
    assert_eq!(r["index"], json!(0));
    assert_eq!(r["you"], json!(true));
    assert_eq!(r["reactors"], json!([alice.id(), bob.id()]));
    // Without t=r a reaction is no update.
    let (_, since) = alice
        .call("GET", "/room/lobby/messages/since/3", None)
        .await;
    assert_eq!(since, json!([]));
    let (status, reactors) = alice
        .raw(
            "GET",
            &format!("/room/lobby/reactors/{id2}/%F0%9F%91%8D"),
            &format!("/room/lobby/reactors/{id2}/👍"),
            Vec::new(),
        )
        .await;
    assert_eq!(status, 200);
    let reactors: Value = serde_json::from_slice(&reactors).unwrap();
    assert_eq!(reactors[1][0], json!(bob.id()));
    let (_, body) = bob.raw("DELETE", &url, &signed, Vec::new()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["removed"], json!(true));
    // Clearing all reactions needs a moderator.
    assert_eq!(
        alice
            .call("DELETE", &format!("/room/lobby/reactions/{id2}"), None)
            .await
            .0,
        403
    );
    let (status, body) = admin
        .call("DELETE", &format!("/room/lobby/reactions/{id2}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["removed"], json!(1));

    // Pins: admins only; pollInfo shows the change in `details`.
    let (_, info) = alice.call("GET", "/room/lobby/pollInfo/0", None).await;
    let updates = info["details"]["info_updates"].as_i64().unwrap();
    assert_eq!(info["details"]["description"], json!("hi"));
    assert_eq!(
        alice
            .call("POST", &format!("/room/lobby/pin/{id1}"), Some(json!({})))
            .await
            .0,
        403
    );
    let (status, body) = admin
        .call("POST", &format!("/room/lobby/pin/{id1}"), Some(json!({})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["info_updates"], json!(updates + 1));
    let (_, info) = alice
        .call("GET", &format!("/room/lobby/pollInfo/{updates}"), None)
        .await;
    assert_eq!(info["details"]["pinned_messages"][0]["id"], json!(id1));
    assert_eq!(info["details"]["admins"], json!([admin.id()]));
    let (_, info) = alice
        .call(
            "GET",
            &format!("/room/lobby/pollInfo/{}", updates + 1),
            None,
        )
        .await;
    assert!(info.get("details").is_none());
    assert_eq!(info["write"], json!(true));
    let (_, body) = admin
        .call("POST", "/room/lobby/unpin/all", Some(json!({})))
        .await;
    assert_eq!(body["unpinned"], json!(1));

    // Delete: others may not, the author and moderators may; deleted messages show in since.
    assert_eq!(
        bob.call("DELETE", &format!("/room/lobby/message/{id1}"), None)
            .await
            .0,
        403
    );
    assert_eq!(
        alice
            .call("DELETE", &format!("/room/lobby/message/{id1}"), None)
            .await,
        (200, json!({}))
    );
    assert_eq!(
        alice
            .call("DELETE", &format!("/room/lobby/message/{id1}"), None)
            .await
            .0,
        404
    );
    assert_eq!(
        admin
            .call("DELETE", &format!("/room/lobby/message/{id2}"), None)
            .await
            .0,
        200
    );
    let (_, since) = bob
        .call("GET", "/room/lobby/messages/since/6?t=r", None)
        .await;
    let deleted: Vec<&Value> = since
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["deleted"] == json!(true))
        .collect();
    assert_eq!(deleted.len(), 2);
    assert!(deleted[0]["data"].is_null() && deleted[0].get("signature").is_none());
    let (_, recent) = bob.call("GET", "/room/lobby/messages/recent", None).await;
    assert_eq!(recent, json!([]));

    // Batch and sequence, under one signature.
    let batch = json!([
        { "method": "GET", "path": "/capabilities" },
        { "method": "GET", "path": "/room/nowhere" },
        { "method": "GET", "path": "/room/lobby/pollInfo/0" },
    ]);
    let (status, out) = bob.call("POST", "/batch", Some(batch.clone())).await;
    assert_eq!(status, 200);
    let codes: Vec<i64> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [200, 404, 200]);
    assert_eq!(out[2]["body"]["token"], json!("lobby"));
    assert_eq!(out[0]["headers"]["content-type"], json!("application/json"));
    let (_, out) = bob.call("POST", "/sequence", Some(batch)).await;
    assert_eq!(out.as_array().unwrap().len(), 2);
    assert_eq!(
        bob.call("POST", "/batch", Some(json!({"not": "a list"})))
            .await
            .0,
        400
    );

    // The posting rate limit: 5 per 16 s per user and room; moderators are exempt.
    // (Bob's earlier post may or may not still be inside the window.)
    let mut accepted = 0;
    loop {
        match bob.post("lobby", &format!("spam {accepted}")).await.0 {
            201 => accepted += 1,
            429 => break,
            other => panic!("unexpected status {other}"),
        }
        assert!(accepted <= 5, "the rate limit never applied");
    }
    assert!(accepted >= 4, "refused after {accepted} posts");
    for i in 0..6 {
        assert_eq!(
            admin.post("lobby", &format!("announcement {i}")).await.0,
            201
        );
    }

    // The room list shows the room with the caller's permissions.
    let (_, rooms) = alice.call("GET", "/rooms", None).await;
    assert_eq!(rooms[0]["token"], json!("lobby"));
    assert_eq!(rooms[0]["read"], json!(true));
    let (_, room) = admin.call("GET", "/room/lobby", None).await;
    assert_eq!(room["admin"], json!(true));
    assert_eq!(room["default_write"], json!(true));

    // Room edits: admins only; a read-only default stops ordinary posters at once.
    let edit = json!({ "name": "The Lobby", "description": null, "default_write": false });
    assert_eq!(
        alice.call("PUT", "/room/lobby", Some(edit.clone())).await.0,
        403
    );
    let (status, body) = admin.call("PUT", "/room/lobby", Some(edit)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["info_updates"],
        json!(room["info_updates"].as_i64().unwrap() + 1)
    );
    let (_, room) = alice.call("GET", "/room/lobby", None).await;
    assert_eq!(room["name"], json!("The Lobby"));
    assert!(room.get("description").is_none());
    assert_eq!(room["write"], json!(false));
    assert_eq!(alice.post("lobby", "read-only now").await.0, 403);
    assert_eq!(
        admin
            .call("PUT", "/room/lobby", Some(json!({ "name": 5 })))
            .await
            .0,
        400
    );
}

async fn moderation_bans_files_and_blinded_inbox(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path(), 4, "");
    server.ready().await;
    server.cli(&["room", "add", "@", "lobby", "Lobby"]);
    server.cli(&["room", "add", "@", "side", "Side"]);
    let mut admin = Client::new(9, Key::B15, &server);
    let admin_sid = format!(
        "05{}",
        hex::encode(admin.account.x25519_public().as_bytes())
    );
    server.cli(&["user", "admin", "@", &admin_sid]);
    let mut alice = Client::new(1, Key::B15, &server);
    let mut bob = Client::new(2, Key::B25, &server);
    let mut carol = Client::new(3, Key::B15, &server);
    // Everyone says hello (so the server knows their blinded ids).
    for c in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(c.post("lobby", "hello").await.0, 201);
    }
    assert_eq!(bob.post("side", "hello side").await.0, 201);

    // A global admin makes alice a hidden moderator of the lobby.
    let (status, body) = alice
        .call(
            "POST",
            &format!("/user/{}/moderator", carol.id()),
            Some(json!({ "rooms": ["lobby"], "moderator": true })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = admin
        .call(
            "POST",
            &format!("/user/{}/moderator", alice.id()),
            Some(json!({ "rooms": ["lobby"], "moderator": true, "visible": false })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["info_updates"]["lobby"].is_i64());
    let (_, room) = bob.call("GET", "/room/lobby", None).await;
    assert_eq!(room["moderators"], json!([]));
    assert!(room.get("hidden_moderators").is_none());
    let (_, room) = alice.call("GET", "/room/lobby", None).await;
    assert_eq!(room["moderator"], json!(true));
    assert_eq!(room["hidden_moderators"], json!([alice.id()]));

    // Alice bans carol from the lobby for an hour: her next post is refused, the side room
    // still works; alice may not ban in the side room.
    let (status, _) = alice
        .call(
            "POST",
            &format!("/user/{}/ban", carol.id()),
            Some(json!({ "rooms": ["lobby"], "timeout": 3600 })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(carol.post("lobby", "let me in").await.0, 403);
    assert_eq!(carol.post("side", "still here").await.0, 201);
    assert_eq!(
        alice
            .call(
                "POST",
                &format!("/user/{}/ban", carol.id()),
                Some(json!({ "rooms": ["side"] }))
            )
            .await
            .0,
        403
    );
    // Moderators cannot be banned.
    assert_eq!(
        alice
            .call(
                "POST",
                &format!("/user/{}/ban", admin.id()),
                Some(json!({ "rooms": ["lobby"] }))
            )
            .await
            .0,
        403
    );
    let (status, _) = alice
        .call(
            "POST",
            &format!("/user/{}/unban", carol.id()),
            Some(json!({ "rooms": ["lobby"] })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(carol.post("lobby", "back").await.0, 201);
    // A global ban (global moderators only) blocks every request with 403.
    assert_eq!(
        alice
            .call(
                "POST",
                &format!("/user/{}/ban", carol.id()),
                Some(json!({ "global": true }))
            )
            .await
            .0,
        403
    );
    assert_eq!(
        admin
            .call(
                "POST",
                &format!("/user/{}/ban", carol.id()),
                Some(json!({ "global": true }))
            )
            .await
            .0,
        200
    );
    assert_eq!(carol.call("GET", "/room/side", None).await.0, 403);
    assert_eq!(
        admin
            .call(
                "POST",
                &format!("/user/{}/unban", carol.id()),
                Some(json!({ "global": true }))
            )
            .await
            .0,
        200
    );
    assert_eq!(carol.call("GET", "/room/side", None).await.0, 200);

    // The operator bans by Session ID (resolved to the blinded ids) and lifts it.
    let carol_sid = format!(
        "05{}",
        hex::encode(carol.account.x25519_public().as_bytes())
    );
    server.cli(&["user", "ban", "@", "--room", "side", &carol_sid]);
    assert_eq!(carol.post("side", "muted?").await.0, 403);
    server.cli(&["user", "unban", "@", "--room", "side", &carol_sid]);
    assert_eq!(carol.post("side", "not muted").await.0, 201);

    // Delete-all: a moderator clears bob's posts in the lobby; everywhere clears the rest
    // only where the caller moderates.
    let (status, body) = alice
        .call("DELETE", &format!("/room/lobby/all/{}", bob.id()), None)
        .await;
    assert_eq!((status, body["total"].clone()), (200, json!(1)));
    let (_, body) = alice
        .call("DELETE", &format!("/rooms/all/{}", bob.id()), None)
        .await;
    assert_eq!(
        body["total"],
        json!(0),
        "alice does not moderate the side room"
    );
    let (_, body) = admin
        .call("DELETE", &format!("/rooms/all/{}", bob.id()), None)
        .await;
    assert_eq!(body, json!({ "total": 1, "rooms": { "side": 1 } }));

    // Files: upload (raw body), attach to a post, download with its name and expiry.
    let file = b"\x89PNG not really".to_vec();
    let mut headers = alice.headers("POST", "/room/lobby/file", &file, now());
    headers.push((
        "content-disposition".into(),
        "attachment; filename*=UTF-8''caf%C3%A9.png".into(),
    ));
    let (status, body) = http(
        server.addr,
        "POST",
        "/room/lobby/file",
        &headers,
        file.clone(),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let file_id = serde_json::from_slice::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, body) = bob
        .call("GET", &format!("/room/lobby/file/{file_id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        Value::String(String::from_utf8_lossy(&file).into_owned())
    );
    assert_eq!(
        bob.call("GET", &format!("/room/side/file/{file_id}"), None)
            .await
            .0,
        404
    );
    assert_eq!(bob.call("GET", "/room/lobby/file/999", None).await.0, 404);

    // Blinded DMs: bob writes to carol; carol reads her inbox, bob his outbox.
    let dm = STANDARD.encode(b"\x00ciphertext");
    let (status, sent) = bob
        .call(
            "POST",
            &format!("/inbox/{}", carol.id()),
            Some(json!({ "message": dm })),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["sender"], json!(bob.id()));
    let (status, inbox) = carol.call("GET", "/inbox", None).await;
    assert_eq!(status, 200);
    assert_eq!(inbox[0]["message"], json!(dm));
    assert_eq!(inbox[0]["recipient"], json!(carol.id()));
    let last = inbox[0]["id"].as_i64().unwrap();
    assert_eq!(
        carol
            .call("GET", &format!("/inbox/since/{last}"), None)
            .await
            .0,
        304
    );
    let (_, outbox) = bob.call("GET", "/outbox", None).await;
    assert_eq!(outbox[0]["id"], json!(last));
    // Unknown recipients: 404.
    let nobody = format!("15{}", "ab".repeat(32));
    assert_eq!(
        bob.call(
            "POST",
            &format!("/inbox/{nobody}"),
            Some(json!({ "message": dm }))
        )
        .await
        .0,
        404
    );
    let (_, body) = carol.call("DELETE", "/inbox", None).await;
    assert_eq!(body, json!({ "deleted": 1 }));
    assert_eq!(carol.call("GET", "/inbox", None).await.1, json!([]));
}

async fn session_apps_reach_the_rooms_through_onion_requests(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path(), 5, "");
    server.ready().await;
    server.cli(&["room", "add", "@", "lobby", "Lobby"]);
    let mut alice = Client::new(1, Key::B15, &server);
    let mut bob = Client::new(2, Key::B25, &server);

    let (code, caps) = alice.onion("GET", "/capabilities", None).await;
    assert_eq!(code, 200);
    assert!(
        caps["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("blind"))
    );
    let data = b"hello through three hops".to_vec();
    let signature = alice.sign_data(&data);
    let (code, posted) = alice
        .onion(
            "POST",
            "/room/lobby/message",
            Some(
                json!({ "data": STANDARD.encode(&data), "signature": STANDARD.encode(signature) }),
            ),
        )
        .await;
    assert_eq!(code, 201, "{posted}");
    let (code, recent) = bob.onion("GET", "/room/lobby/messages/recent", None).await;
    assert_eq!(code, 200);
    assert_eq!(data_of(&recent[0]), "hello through three hops");
    assert_eq!(recent[0]["session_id"], json!(alice.id()));
    // The same message over plain HTTP.
    let (code, plain) = bob.call("GET", "/room/lobby/messages/recent", None).await;
    assert_eq!((code, &plain), (200, &recent));
    // Inside the layer, the server's own answers: a 404 and a failed signature check.
    assert_eq!(bob.onion("GET", "/room/nowhere", None).await.0, 404);
    let (code, _) = bob
        .onion(
            "POST",
            "/room/lobby/message",
            Some(json!({ "data": STANDARD.encode(b"x"), "signature": STANDARD.encode([0u8; 64]) })),
        )
        .await;
    assert_eq!(code, 400);
    // A layer for another server's key does not open: a plain 400.
    let (status, _) = http(server.addr, "POST", "/oxen/v4/lsrpc", &[], vec![0; 200])
        .await
        .unwrap();
    assert_eq!(status, 400);
}
