use std::borrow::Cow;

use serde_json::Value;
use sotto_crypto::{OsRng, X25519PublicKey, X25519SecretKey};
use sotto_onion::hop::legacy_cbc;
use sotto_onion::path::{
    self, Outcome, PathAction, PathNode, PathState, Reply, RequestAction, RequestInfo, RetryReason,
    SwarmInfo,
};
use sotto_onion::url::{ParsedUrl, is_target_allowed};
use sotto_onion::{
    Decision, EncType, HopKey, OnionRequest, V4Request, V4Response, X25519Keypair, layer,
};

use super::case::{eq, eq_hex};
use super::{Case, CaseResult, Handler};

pub(super) fn handler(group: &str) -> Option<Handler> {
    Some(match group {
        "hop_decrypt" => hop_decrypt,
        "hop_key_derivation" => hop_key_derivation,
        "request_parse" => request_parse,
        "inner_request_route" => inner_request_route,
        "url_target_filter" => url_target_filter,
        "channel_encryption_sizes" => channel_encryption_sizes,
        "v4_framing" => v4_framing,
        "sn_frames" => sn_frames,
        "client_url_parsing" => client_url_parsing,
        "client_error_handling" => client_error_handling,
        _ => return None,
    })
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn enc_type(case: &Case<'_>) -> Result<EncType, String> {
    case.str("enc_type")?.parse().map_err(err)
}

fn public(case: &Case<'_>, key: &str) -> Result<X25519PublicKey, String> {
    Ok(X25519PublicKey(case.hex_array(key)?))
}

/// The keypair from `<who>_x25519_sk_hex`, checked against `<who>_x25519_pk_hex`.
fn keypair(case: &Case<'_>, who: &str) -> Result<X25519Keypair, String> {
    let kp = X25519Keypair::new(X25519SecretKey::from_bytes(
        &case.hex_array(&format!("{who}_x25519_sk_hex"))?,
    ));
    let pk = public(case, &format!("{who}_x25519_pk_hex"))?;
    eq(&format!("{who} public key"), kp.public_key(), &pk)?;
    Ok(kp)
}

fn hop_decrypt(case: &Case<'_>) -> CaseResult {
    let enc = enc_type(case)?;
    let client = keypair(case, "client")?;
    let server = keypair(case, "server")?;
    let node_key = HopKey::for_server(enc, &server, client.public_key()).map_err(err)?;
    let client_key = HopKey::for_client(enc, &client, server.public_key()).map_err(err)?;
    eq("client and node keys agree", &client_key, &node_key)?;
    let result = node_key.decrypt(&case.hex("ciphertext_hex")?);
    if case.expects_error() {
        return match result {
            Err(sotto_onion::OnionError::Decrypt) => Ok(()),
            other => Err(format!("want an authentication failure, got {other:?}")),
        };
    }
    let plaintext = result.map_err(err)?;
    eq_hex(
        "plaintext",
        &plaintext,
        case.str("expected_plaintext_utf8")?.as_bytes(),
    )
}

fn hop_key_derivation(case: &Case<'_>) -> CaseResult {
    let client = keypair(case, "client")?;
    let server = public(case, "server_x25519_pk_hex")?;
    let shared = client.secret_key().diffie_hellman(&server).map_err(err)?;
    eq_hex(
        "shared secret",
        shared.expose(),
        &case.hex("expected_shared_secret_hex")?,
    )?;
    for (enc, key) in [
        (EncType::AesGcm, "expected_aes_gcm_key_hex"),
        (EncType::XChaCha20, "expected_xchacha20_key_hex"),
    ] {
        let derived = HopKey::derive(enc, &shared, client.public_key(), &server);
        eq_hex(key, derived.symmetric_key().expose(), &case.hex(key)?)?;
        let via_dh = HopKey::for_client(enc, &client, &server).map_err(err)?;
        eq("key from for_client", &via_dh, &derived)?;
    }
    Ok(())
}

fn request_parse(case: &Case<'_>) -> CaseResult {
    let server = keypair(case, "server")?;
    let client = keypair(case, "client")?;
    let bytes = case.hex("request_hex")?;
    let (blob, json) = layer::split(&bytes).map_err(err)?;
    eq(
        "length prefix",
        blob.len() as u64,
        case.u64("expected_len_prefix")?,
    )?;
    eq_hex("ciphertext", blob, &case.hex("expected_ciphertext_hex")?)?;
    eq_hex(
        "JSON suffix",
        json,
        case.str("expected_json_suffix_utf8")?.as_bytes(),
    )?;
    let request = OnionRequest::from_client_body(&bytes).map_err(err)?;
    eq_hex("parsed blob", &request.blob, blob)?;
    eq(
        "remote (ephemeral) key",
        request.ephemeral_key,
        public(case, "expected_remote_pubkey_hex")?,
    )?;
    eq(
        "ephemeral key is the client's",
        &request.ephemeral_key,
        client.public_key(),
    )?;
    let opened = server.open(&request).map_err(err)?;
    eq_hex(
        "payload",
        opened.plaintext(),
        case.str("expected_payload_utf8")?.as_bytes(),
    )?;
    let reply_text = case.str("reply_plaintext_utf8")?.as_bytes();
    let reply = opened
        .reply_key()
        .encrypt(reply_text, &mut OsRng)
        .map_err(err)?;
    eq(
        "reply length",
        reply.len() as u64,
        case.u64("expected_reply_len")?,
    )?;
    let client_key =
        HopKey::for_client(request.enc_type, &client, server.public_key()).map_err(err)?;
    eq_hex(
        "reply decrypted by the client",
        &client_key.decrypt(&reply).map_err(err)?,
        reply_text,
    )
}

fn inner_request_route(case: &Case<'_>) -> CaseResult {
    let plaintext = case.hex("plaintext_hex")?;
    let decision = Decision::parse(&plaintext, 1).map_err(err)?;
    let kind = case.str("expected_kind")?;
    match (kind, decision) {
        ("final_destination", Decision::FinalDestination(fin)) => {
            eq_hex("RPC body", fin.body, &case.hex("expected_blob_hex")?)?;
            eq("json option", fin.options.json, case.bool("expected_json")?)?;
            eq(
                "base64 option",
                fin.options.base64,
                case.bool("expected_base64")?,
            )
        }
        ("relay_to_server", Decision::RelayToServer(relay)) => {
            eq("host", &*relay.host, case.str("expected_host_utf8")?)?;
            eq("port", u64::from(relay.port), case.u64("expected_port")?)?;
            eq(
                "protocol",
                relay.protocol.as_str(),
                case.str("expected_protocol")?,
            )?;
            eq("target", &*relay.target, case.str("expected_target_utf8")?)?;
            eq_hex("payload", relay.payload, &case.hex("expected_payload_hex")?)?;
            eq_hex("payload is the whole plaintext", relay.payload, &plaintext)
        }
        ("relay_to_node", Decision::RelayToNode { next_node, request }) => {
            eq_hex("blob", &request.blob, &case.hex("expected_blob_hex")?)?;
            eq_hex(
                "next node",
                &next_node.0,
                &case.hex("expected_next_node_ed25519_hex")?,
            )?;
            eq_hex(
                "ephemeral key",
                &request.ephemeral_key.0,
                &case.hex("expected_ephemeral_key_hex")?,
            )?;
            eq(
                "enc_type",
                request.enc_type.as_str(),
                case.str("expected_enc_type")?,
            )?;
            eq("next hop number", request.hop_no, 1)
        }
        (kind, decision) => Err(format!("want {kind}, got {decision:?}")),
    }
}

fn url_target_filter(case: &Case<'_>) -> CaseResult {
    eq(
        "allowed",
        is_target_allowed(case.str("target_utf8")?),
        case.bool("expected_allowed")?,
    )
}

fn channel_encryption_sizes(case: &Case<'_>) -> CaseResult {
    let alice = keypair(case, "alice")?;
    let bob = keypair(case, "bob")?;
    let plaintext = case.str("plaintext_utf8")?.as_bytes();
    let want_len = case.u64("expected_ciphertext_len")?;
    if case.str("enc_type")? == "aes-cbc" {
        if EncType::parse("aes-cbc").is_ok() {
            return Err("aes-cbc must not be accepted as a layer encryption".into());
        }
        let shared = alice
            .secret_key()
            .diffie_hellman(bob.public_key())
            .map_err(err)?;
        let ct = legacy_cbc::encrypt(&shared, plaintext, &mut OsRng);
        eq("ciphertext length", ct.len() as u64, want_len)?;
        let bob_shared = bob
            .secret_key()
            .diffie_hellman(alice.public_key())
            .map_err(err)?;
        return eq_hex(
            "decrypted by bob",
            &legacy_cbc::decrypt(&bob_shared, &ct).map_err(err)?,
            plaintext,
        );
    }
    let enc = enc_type(case)?;
    let ct = HopKey::for_client(enc, &alice, bob.public_key())
        .and_then(|k| k.encrypt(plaintext, &mut OsRng))
        .map_err(err)?;
    eq("ciphertext length", ct.len() as u64, want_len)?;
    let bob_key = HopKey::for_server(enc, &bob, alice.public_key()).map_err(err)?;
    eq_hex(
        "decrypted by bob",
        &bob_key.decrypt(&ct).map_err(err)?,
        plaintext,
    )?;
    if enc == EncType::XChaCha20 {
        // Bob decrypting as if he were the client orders the keys the other way round.
        let shared = bob
            .secret_key()
            .diffie_hellman(alice.public_key())
            .map_err(err)?;
        let swapped = HopKey::derive(enc, &shared, bob.public_key(), alice.public_key());
        if swapped.decrypt(&ct).is_ok() {
            return Err("xchacha20 decrypted with the roles swapped".into());
        }
    }
    Ok(())
}

fn v4_framing(case: &Case<'_>) -> CaseResult {
    let meta = case.json("meta_json")?;
    let body = case.opt_str("body_utf8")?.map(|b| b.as_bytes().to_vec());
    let expected = case.str("expected_encoded_utf8")?.as_bytes();
    let (encoded, decoded_matches) = match case.str("kind")? {
        "request" => {
            let mut req: V4Request = serde_json::from_value(meta.clone()).map_err(err)?;
            req.body = body;
            let decoded = V4Request::decode(expected).map_err(err)?;
            (req.encode(), decoded == req)
        }
        "response" => {
            let mut resp: V4Response = serde_json::from_value(meta.clone()).map_err(err)?;
            resp.body = body;
            let decoded = V4Response::decode(expected).map_err(err)?;
            (resp.encode(), decoded == resp)
        }
        other => return Err(format!("unknown kind {other:?}")),
    };
    if !decoded_matches {
        return Err("decoding the expected bytes does not give meta_json and body".into());
    }
    eq(
        "encoding",
        String::from_utf8_lossy(&encoded),
        String::from_utf8_lossy(expected),
    )
}

fn sn_frames(case: &Case<'_>) -> CaseResult {
    let request = OnionRequest {
        blob: Cow::Owned(case.hex("blob_hex")?),
        ephemeral_key: public(case, "ephemeral_key_hex")?,
        enc_type: enc_type(case)?,
        hop_no: 0,
    };
    let expected = case.hex("expected_frame_hex")?;
    match case.str("frame")? {
        "inter_node" => {
            let request = OnionRequest {
                hop_no: case.u64("hop_no")?,
                ..request
            };
            eq_hex("frame", &request.to_node_frame(), &expected)?;
            eq(
                "decoded frame",
                OnionRequest::from_node_frame(&expected).map_err(err)?,
                request,
            )
        }
        "guard_outer" => {
            let body = request.to_client_body().map_err(err)?;
            if let Some(json) = case.intermediate_str("json_utf8")? {
                let (_, ours) = layer::split(&body).map_err(err)?;
                eq_hex("frame JSON", ours, json.as_bytes())?;
            }
            eq_hex("frame", &body, &expected)?;
            eq(
                "decoded frame",
                OnionRequest::from_client_body(&expected).map_err(err)?,
                request,
            )
        }
        other => Err(format!("unknown frame {other:?}")),
    }
}

fn client_url_parsing(case: &Case<'_>) -> CaseResult {
    let url = ParsedUrl::parse(case.str("url_utf8")?).map_err(err)?;
    eq(
        "protocol",
        url.protocol.as_str(),
        case.str("expected_protocol_utf8")?,
    )?;
    eq("host", url.host.as_str(), case.str("expected_host_utf8")?)?;
    let port = if case.has("expected_port") {
        Some(case.u64("expected_port")?)
    } else {
        None
    };
    eq("port", url.port.map(u64::from), port)?;
    eq(
        "path",
        url.path.as_deref(),
        case.opt_str("expected_path_utf8")?,
    )
}

/// The reply and request a `situation_utf8` describes, in the setting of libsession's test:
/// a three-node path whose nodes start at zero failures, a storage-RPC request with no swarm
/// key unless the situation says otherwise, and (as in that test, which passes a connection
/// object with no connection) a guard connection that is not open.
struct Situation {
    statuses: Vec<u16>,
    body: Option<String>,
    path_failures: u8,
    spare_node: bool,
    swarm: SwarmInfo,
}

fn parse_situation(text: &str, guard: &str, node2: &str) -> Result<Situation, String> {
    let mut s = Situation {
        statuses: Vec::new(),
        body: None,
        path_failures: 0,
        spare_node: false,
        swarm: SwarmInfo::None,
    };
    // A quoted body may contain anything; take it out before splitting the clauses.
    let mut rest = text.to_owned();
    if let Some((before, after)) = text.split_once("body '") {
        let (quoted, tail) = after.split_once('\'').ok_or("unterminated body quote")?;
        let body = quoted
            .replace("<guard ed25519 hex>", guard)
            .replace("<node2 ed25519 hex>", node2);
        if body.contains('<') {
            return Err(format!("unknown placeholder in body {body:?}"));
        }
        s.body = Some(body);
        rest = format!("{before}body{tail}");
    }
    for clause in rest.split(", ") {
        let clause = clause.split(" (").next().unwrap_or(clause);
        let number = |prefix: &str, suffix: &str| -> Option<Result<u64, String>> {
            clause
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(suffix))
                .map(|n| n.parse().map_err(|_| format!("bad number in {clause:?}")))
        };
        if let Some(list) = clause
            .strip_prefix("status in {")
            .and_then(|r| r.strip_suffix('}'))
        {
            for code in list.split(',') {
                s.statuses.push(
                    code.trim()
                        .parse()
                        .map_err(|_| format!("bad status {code:?}"))?,
                );
            }
        } else if let Some(code) = number("status ", "") {
            s.statuses.push(u16::try_from(code?).map_err(err)?);
        } else if let Some(n) = number("path failure_count ", " before") {
            s.path_failures = u8::try_from(n?).map_err(err)?;
        } else {
            match clause {
                "no body" | "body" | "first time" => {}
                "an unused node available" => s.spare_node = true,
                "request has no swarm pubkey" => s.swarm = SwarmInfo::None,
                "swarm cached for the request's x25519 pubkey" => {
                    s.swarm = SwarmInfo::Cached { other_node: true };
                }
                other => return Err(format!("unknown situation clause {other:?}")),
            }
        }
    }
    if s.statuses.is_empty() {
        return Err(format!("no status in situation {text:?}"));
    }
    Ok(s)
}

fn client_error_handling(case: &Case<'_>) -> CaseResult {
    let behavioural = case.bool("behavioural")?;
    let path_json = case.json("path")?;
    let key = |name: &str| {
        path_json
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("path.{name} missing"))
    };
    let (guard_hex, other_hex) = (
        key("guard_ed25519_pk_hex")?,
        key("node2_and_node3_ed25519_pk_hex")?,
    );
    let parse_key = |h: &str| -> Result<sotto_crypto::Ed25519PublicKey, String> {
        let mut k = [0u8; 32];
        hex::decode_to_slice(h, &mut k).map_err(err)?;
        Ok(sotto_crypto::Ed25519PublicKey(k))
    };
    let situation = parse_situation(case.str("situation_utf8")?, guard_hex, other_hex)?;
    let expected = case
        .json("expected")?
        .as_object()
        .ok_or("expected is not an object")?;
    let nodes = [guard_hex, other_hex, other_hex]
        .into_iter()
        .map(|h| {
            Ok(PathNode {
                ed25519: parse_key(h)?,
                failures: 0,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let state = PathState {
        nodes,
        failures: situation.path_failures,
        connection_open: false,
    };
    let request = RequestInfo {
        to_node: true,
        retry: None,
        swarm: situation.swarm,
    };
    for &status in &situation.statuses {
        let reply = Reply {
            status: Some(status),
            timeout: false,
            body: situation.body.as_deref(),
            decryption_failed: false,
        };
        let outcome = path::handle_error(&state, &request, &reply, situation.spare_node);
        check_outcome(&outcome, status, expected)
            .map_err(|e| format!("status {status}: {e} (outcome {outcome:?})"))?;
    }
    if !behavioural {
        return Err("client_error_handling cases are behavioural".into());
    }
    Ok(())
}

fn check_outcome(
    outcome: &Outcome,
    status: u16,
    expected: &serde_json::Map<String, Value>,
) -> CaseResult {
    let int = |key: &str| -> Result<u64, String> {
        expected
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("expected.{key} is not a number"))
    };
    let text = |key: &str| -> Result<&str, String> {
        expected
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("expected.{key} is not a string"))
    };
    let count = |i: usize| outcome.node_failures.get(i).copied().map(u64::from);
    let reported = match outcome.request {
        RequestAction::Report { status, timeout } => Some((status, timeout)),
        RequestAction::Retry { .. } => None,
    };
    for key in expected.keys() {
        match key.as_str() {
            "note" => {}
            "callback_status_utf8" => match text(key)? {
                "same code" => eq(key, reported.map(|r| r.0), Some(Some(status)))?,
                other => return Err(format!("unknown {key} {other:?}")),
            },
            "callback_status" => eq(
                key,
                reported.map(|r| r.0.map(u64::from)),
                Some(Some(int(key)?)),
            )?,
            "success" => {
                let want = expected.get(key).and_then(Value::as_bool);
                eq(key, want, Some(false))?;
                eq("reported to the caller", reported.is_some(), true)?;
            }
            "timeout" => eq(
                key,
                reported.map(|r| r.1),
                expected.get(key).and_then(Value::as_bool),
            )?,
            "node_failure_counts" => {
                let want: Vec<u64> = expected
                    .get(key)
                    .and_then(Value::as_array)
                    .ok_or("node_failure_counts is not a list")?
                    .iter()
                    .map(|v| v.as_u64().ok_or("not a number"))
                    .collect::<Result<_, _>>()?;
                let got: Vec<u64> = outcome
                    .node_failures
                    .iter()
                    .map(|&c| u64::from(c))
                    .collect();
                eq(key, got, want)?;
            }
            "path_failure_count" => {
                // A dropped path is gone, and so is its count.
                let got = if outcome.path == PathAction::Drop {
                    0
                } else {
                    u64::from(outcome.path_failures)
                };
                eq(key, got, int(key)?)?;
            }
            "guard_failure_count" => eq(key, count(0), Some(int(key)?))?,
            "node2_failure_count" => eq(key, count(1), Some(int(key)?))?,
            "node3_failure_count" => eq(key, count(2), Some(int(key)?))?,
            "other_nodes_failure_count" => {
                eq(
                    key,
                    (count(1), count(2)),
                    (Some(int(key)?), Some(int(key)?)),
                )?;
            }
            "path_action_utf8" => match text(key)? {
                "dropped (failure count reset)" => eq(key, outcome.path, PathAction::Drop)?,
                other => return Err(format!("unknown {key} {other:?}")),
            },
            "path_node_index1_utf8" => match text(key)? {
                "replaced by the unused node" => {
                    eq(key, outcome.path, PathAction::ReplaceNode { index: 1 })?;
                }
                other => return Err(format!("unknown {key} {other:?}")),
            },
            "action_utf8" => match text(key)? {
                "re-send the request to a different node of the cached swarm (retry_reason=redirect)" =>
                {
                    eq(
                        key,
                        outcome.request,
                        RequestAction::Retry {
                            reason: RetryReason::Redirect,
                            other_swarm_node: true,
                            refresh_node_cache: false,
                        },
                    )?;
                }
                other => return Err(format!("unknown {key} {other:?}")),
            },
            other => return Err(format!("unknown expectation {other:?}")),
        }
    }
    Ok(())
}
