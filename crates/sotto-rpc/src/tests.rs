//! Request parsing, node rules and responses: every bound just inside and just outside, and
//! round trips through both encodings.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature};
use sotto_identity::Account;

use crate::encoding::encode_base64_unpadded;
use crate::request::*;
use crate::response::*;
use crate::subaccount::MAX_REVOKED_TOKENS;
use crate::*;

const NOW: u64 = 1_700_000_000_000;
const DAY: u64 = 24 * 3600 * 1000;

fn owner() -> &'static Account {
    static OWNER: std::sync::OnceLock<Account> = std::sync::OnceLock::new();
    OWNER.get_or_init(|| Account::from_ed25519_seed(&[0x11; 32]))
}

fn owner_id() -> AccountId {
    AccountId::from(owner().session_id())
}

fn group_key() -> Ed25519SecretKey {
    Ed25519SecretKey::from_seed(&[0x33; 32])
}

fn group_id() -> AccountId {
    AccountId::new(GROUP_PREFIX, group_key().public_key().0)
}

fn member_key() -> Ed25519SecretKey {
    Ed25519SecretKey::from_seed(&[0x44; 32])
}

fn grant(flags: SubaccountFlags) -> SignedSubaccount {
    let token = SubaccountToken::new(GROUP_PREFIX, flags, &member_key().public_key());
    SignedSubaccount::grant(&group_key(), token)
}

fn hash(c: char) -> MessageHash {
    MessageHash::parse(c.to_string().repeat(43).as_bytes()).unwrap()
}

fn ctx() -> NodeContext<'static> {
    NodeContext {
        now_ms: NOW,
        revoked: &[],
        forwarded: false,
    }
}

fn at(now_ms: u64) -> NodeContext<'static> {
    NodeContext { now_ms, ..ctx() }
}

fn http(method: &str, params: Json) -> Result<Request, RpcError> {
    Request::from_http_body(
        json!({"method": method, "params": params})
            .to_string()
            .as_bytes(),
    )
}

fn parse_err(method: &str, params: Json) -> ParseError {
    match http(method, params) {
        Err(RpcError::Malformed(e)) => e,
        other => panic!("expected a parse error, got {other:?}"),
    }
}

fn sig_b64(padded: bool) -> String {
    let s = encode_base64_unpadded(&[7u8; 64]);
    if padded { format!("{s}==") } else { s }
}

fn store_params() -> Json {
    json!({
        "pubkey": owner_id().to_string(),
        "timestamp": NOW,
        "ttl": DAY,
        "data": "aGVsbG8=",
    })
}

fn with(mut base: Json, key: &str, value: Json) -> Json {
    base[key] = value;
    base
}

fn without(mut base: Json, key: &str) -> Json {
    base.as_object_mut().unwrap().remove(key);
    base
}

// ---------------------------------------------------------------- bodies and methods

#[test]
fn http_body_errors() {
    let e = Request::from_http_body(b"{nope").unwrap_err();
    assert_eq!((e.status(), e.message().as_str()), (400, "invalid json"));
    let e = Request::from_http_body(br#"{"params":{}}"#).unwrap_err();
    assert_eq!(e.message(), "invalid json: no `method` field");
    let e = Request::from_http_body(br#"{"method":"info","params":[]}"#).unwrap_err();
    assert_eq!(e.message(), "invalid json: no `params` field");
    let e = Request::from_http_body(br#"{"method":"nope","params":{}}"#).unwrap_err();
    assert_eq!((e.status(), e.message().as_str()), (400, "no method nope"));
    assert_eq!(
        Request::from_http_body(br#"{"method":"info","params":{"x":1}}"#),
        Ok(Request::Info)
    );
}

#[test]
fn body_size_limit() {
    let mut body = br#"{"method":"info","params":{}}"#.to_vec();
    body.resize(MAX_BODY_LEN, b' ');
    assert_eq!(Request::from_http_body(&body), Ok(Request::Info));
    assert_eq!(
        Request::from_command("info", &body),
        Ok((Request::Info, Encoding::Json))
    );
    body.push(b' ');
    let e = Request::from_http_body(&body).unwrap_err();
    assert_eq!(
        (e, 413),
        (RpcError::BodyTooLarge, RpcError::BodyTooLarge.status())
    );
    assert_eq!(
        Request::from_command("info", &body),
        Err(RpcError::BodyTooLarge)
    );
}

#[test]
fn command_bodies() {
    assert_eq!(
        Request::from_command("info", b""),
        Ok((Request::Info, Encoding::Json))
    );
    assert_eq!(
        Request::from_command("info", b"de"),
        Ok((Request::Info, Encoding::Bencode))
    );
    assert_eq!(
        Request::from_command("active_nodes_bin", b"{}"),
        Ok((Request::ActiveNodesBin, Encoding::Json))
    );
    for bad in [&b"d1:a"[..], b"d1:bi1e1:ai1ee", b"[1]", b"x"] {
        assert_eq!(
            Request::from_command("info", bad),
            Err(RpcError::Malformed(ParseError::Body)),
            "{bad:?}"
        );
    }
    assert_eq!(
        Request::from_command("nope", b""),
        Err(RpcError::UnknownMethod("nope".into()))
    );
    assert_eq!(
        Request::from_command("store", b""),
        Err(RpcError::Malformed(ParseError::Missing("timestamp")))
    );
}

#[test]
fn method_names_and_aliases() {
    for m in Method::ALL {
        assert_eq!(Method::from_name(m.name()), Some(m));
    }
    assert_eq!(
        Method::from_name("get_snodes_for_pubkey"),
        Some(Method::GetSwarm)
    );
    assert_eq!(Method::from_name("ifelse"), None);
    assert!(Method::Store.is_recursive() && !Method::Retrieve.is_recursive());
    let id = owner_id().to_string();
    let a = http("get_swarm", json!({"pubkey": id})).unwrap();
    assert_eq!(
        http("get_snodes_for_pubkey", json!({"pubKey": id})).unwrap(),
        a
    );
    assert_eq!(a.account(), Some(&owner_id()));
    assert_eq!(
        parse_err("get_swarm", json!({"pubkey": id, "pubKey": id})),
        ParseError::Both("pubkey", "pubKey")
    );
    assert_eq!(
        parse_err("get_swarm", json!({})),
        ParseError::Missing("pubkey")
    );
    assert_eq!(
        parse_err("get_swarm", json!({"pubkey": "05ab"})),
        ParseError::Pubkey
    );
    // Any prefix byte is an account.
    let other = AccountId::new(0x42, [1; 32]);
    assert_eq!(
        http("get_swarm", json!({"pubkey": other.to_string()})),
        Ok(Request::GetSwarm(GetSwarm { account: other }))
    );
}

// ---------------------------------------------------------------- store parsing

#[test]
fn store_timestamp_and_ttl_forms() {
    let Request::Store(s) = http("store", store_params()).unwrap() else {
        panic!()
    };
    assert_eq!(
        (s.timestamp, s.lifetime, s.data.as_slice()),
        (NOW, Lifetime::Ttl(DAY), &b"hello"[..])
    );
    assert!(s.auth.is_none());
    let strings = with(
        with(store_params(), "timestamp", json!(NOW.to_string())),
        "ttl",
        json!(DAY.to_string()),
    );
    assert_eq!(http("store", strings).unwrap(), Request::Store(s.clone()));
    let alias = with(
        without(store_params(), "pubkey"),
        "pubKey",
        json!(owner_id().to_string()),
    );
    assert_eq!(http("store", alias).unwrap(), Request::Store(s));
    for bad in [
        json!("-5"),
        json!("+5"),
        json!(" 5"),
        json!(""),
        json!(-5),
        json!(1.5),
    ] {
        assert!(
            matches!(
                parse_err("store", with(store_params(), "ttl", bad.clone())),
                ParseError::WrongType { .. }
            ),
            "{bad}"
        );
    }
    assert_eq!(
        parse_err("store", with(store_params(), "timestamp", json!(-1))),
        ParseError::OutOfRange("timestamp")
    );
    assert_eq!(
        parse_err("store", with(store_params(), "ttl", json!(u64::MAX))),
        ParseError::OutOfRange("ttl")
    );
    // store's timestamp takes small values (no milliseconds check), expiry does not.
    assert!(http("store", with(store_params(), "timestamp", json!(5))).is_ok());
    let exp = with(
        without(store_params(), "ttl"),
        "expiry",
        json!(999_999_999u64),
    );
    assert_eq!(
        parse_err("store", exp),
        ParseError::NotMilliseconds("expiry")
    );
    let exp = with(
        without(store_params(), "ttl"),
        "expiry",
        json!(1_000_000_000u64),
    );
    assert!(http("store", exp).is_ok());
    assert_eq!(
        parse_err("store", with(store_params(), "expiry", json!(NOW + DAY))),
        ParseError::Both("expiry", "ttl")
    );
    assert_eq!(
        parse_err("store", without(store_params(), "ttl")),
        ParseError::Neither("expiry", "ttl")
    );
    assert_eq!(
        parse_err("store", without(store_params(), "timestamp")),
        ParseError::Missing("timestamp")
    );
    assert_eq!(
        parse_err("store", without(store_params(), "data")),
        ParseError::Missing("data")
    );
}

#[test]
fn store_data_limits() {
    let b64 = |n: usize| crate::encoding::encode_base64(&vec![0xa5; n]);
    // 76,800 bytes = 102,400 characters: accepted; one byte more is not.
    let ok = with(store_params(), "data", json!(b64(MAX_DATA_LEN)));
    assert_eq!(b64(MAX_DATA_LEN).len(), 102_400);
    assert!(http("store", ok).is_ok());
    let over = with(store_params(), "data", json!(b64(MAX_DATA_LEN + 1)));
    assert_eq!(parse_err("store", over), ParseError::DataTooLarge);
    // Padded and unpadded base64 both work.
    let unpadded = with(store_params(), "data", json!("aGVsbG8"));
    let Request::Store(s) = http("store", unpadded).unwrap() else {
        panic!()
    };
    assert_eq!(s.data, b"hello");
    for bad in ["aGVsbG8=x", "a", "aGVs bG8=", "aGVsbG8==="] {
        assert_eq!(
            parse_err("store", with(store_params(), "data", json!(bad))),
            ParseError::DataNotBase64,
            "{bad}"
        );
    }
    // Bencoded data is raw bytes with the same byte limit.
    let store = Store::new(
        owner_id(),
        Namespace::DEFAULT,
        vec![1; MAX_DATA_LEN],
        NOW,
        Lifetime::Ttl(DAY),
    );
    let bt = Request::Store(store.clone()).params_bencoded();
    assert_eq!(
        Request::from_command("store", &bt).unwrap().0,
        Request::Store(store.clone())
    );
    let mut big = store;
    big.data.push(1);
    let bt = Request::Store(big).params_bencoded();
    assert_eq!(
        Request::from_command("store", &bt),
        Err(RpcError::Malformed(ParseError::DataTooLarge))
    );
}

#[test]
fn namespace_range() {
    for (ns, ok) in [
        (32767, true),
        (32768, false),
        (-32768, true),
        (-32769, false),
    ] {
        let r = http("store", with(store_params(), "namespace", json!(ns)));
        assert_eq!(r.is_ok(), ok, "{ns}");
        if !ok {
            assert_eq!(
                r,
                Err(RpcError::Malformed(ParseError::OutOfRange("namespace")))
            );
        }
    }
    assert!(matches!(
        parse_err("store", with(store_params(), "namespace", json!("all"))),
        ParseError::WrongType { .. }
    ));
}

#[test]
fn signature_forms() {
    let base = with(store_params(), "namespace", json!(3));
    for (sig, ok) in [
        (sig_b64(false), true),
        (sig_b64(true), true),
        (format!("{}=", sig_b64(false)), false),
        (format!("{}AA", sig_b64(false)), false),
        (sig_b64(false)[..85].to_owned(), false),
        (format!("{}!", &sig_b64(false)[..85]), false),
    ] {
        let r = http("store", with(base.clone(), "signature", json!(sig)));
        assert_eq!(r.is_ok(), ok, "{sig}");
        if !ok {
            assert_eq!(
                r,
                Err(RpcError::Malformed(ParseError::Signature("signature")))
            );
        }
    }
    // Bencode: exactly 64 raw bytes.
    let mut store = Store::new(
        owner_id(),
        Namespace::new(3),
        vec![],
        NOW,
        Lifetime::Ttl(DAY),
    );
    store = store.signed(&Signer::session(owner().ed25519_secret()), NOW);
    let bt = Request::Store(store.clone()).params_bencoded();
    assert_eq!(
        Request::from_command("store", &bt).unwrap().0,
        Request::Store(store)
    );
    let short = String::from_utf8_lossy(&bt).replace("9:signature64:", "9:signature63:");
    assert!(Request::from_command("store", short.as_bytes()).is_err());
}

#[test]
fn pubkey_ed25519_forms() {
    let ed = owner().ed25519_public().0;
    let base = with(
        with(store_params(), "namespace", json!(3)),
        "signature",
        json!(sig_b64(true)),
    );
    let r = http(
        "store",
        with(base.clone(), "pubkey_ed25519", json!(hex::encode(ed))),
    )
    .unwrap();
    let Request::Store(s) = r else { panic!() };
    assert_eq!(s.auth.unwrap().pubkey_ed25519, Some(Ed25519PublicKey(ed)));
    for bad in [
        hex::encode(&ed[..31]),
        format!("{}zz", &hex::encode(ed)[..62]),
    ] {
        assert_eq!(
            parse_err("store", with(base.clone(), "pubkey_ed25519", json!(bad))),
            ParseError::Ed25519Key
        );
    }
    let group = with(base.clone(), "pubkey", json!(group_id().to_string()));
    assert_eq!(
        parse_err(
            "store",
            with(group, "pubkey_ed25519", json!(hex::encode(ed)))
        ),
        ParseError::Ed25519NotSession
    );
    // Unsigned: pubkey_ed25519 is not even read, as the storage server does.
    let unsigned = with(store_params(), "pubkey_ed25519", json!("x"));
    assert!(http("store", unsigned).is_ok());
}

#[test]
fn subaccount_forms() {
    let g = grant(SubaccountFlags::READ);
    let base = json!({
        "pubkey": group_id().to_string(), "namespace": 11, "timestamp": NOW,
        "signature": sig_b64(false),
    });
    let b64 = with(
        with(base.clone(), "subaccount", json!(g.token.to_base64())),
        "subaccount_sig",
        json!(crate::encoding::encode_base64(&g.signature.0)),
    );
    let Request::Retrieve(r) = http("retrieve", b64.clone()).unwrap() else {
        panic!()
    };
    assert_eq!(r.auth.unwrap().auth.subaccount, Some(g));
    let hexed = with(
        b64.clone(),
        "subaccount",
        json!(hex::encode(g.token.as_bytes())),
    );
    assert_eq!(http("retrieve", hexed).unwrap(), Request::Retrieve(r));
    assert_eq!(
        parse_err("retrieve", without(b64.clone(), "subaccount_sig")),
        ParseError::SubaccountSigMissing
    );
    assert_eq!(
        parse_err("retrieve", with(b64.clone(), "subaccount", json!("AAAA"))),
        ParseError::Token("subaccount")
    );
    assert_eq!(
        parse_err(
            "retrieve",
            with(b64.clone(), "subaccount_sig", json!("AAAA"))
        ),
        ParseError::Signature("subaccount_sig")
    );
    // An empty token means no subaccount.
    let Request::Retrieve(r) = http("retrieve", with(b64, "subaccount", json!(""))).unwrap() else {
        panic!()
    };
    assert_eq!(r.auth.unwrap().auth.subaccount, None);
}

// ---------------------------------------------------------------- retrieve parsing

#[test]
fn retrieve_auth_triggers() {
    let id = owner_id().to_string();
    let Request::Retrieve(r) = http("retrieve", json!({"pubkey": id})).unwrap() else {
        panic!()
    };
    assert_eq!((r.namespace, r.auth), (Namespace::DEFAULT, None));
    // An explicit namespace that needs auth makes the signature a parse-time requirement.
    assert_eq!(
        parse_err("retrieve", json!({"pubkey": id, "namespace": 0})),
        ParseError::Missing("signature")
    );
    for ns in [-10, -1, -21] {
        assert!(
            http("retrieve", json!({"pubkey": id, "namespace": ns})).is_ok(),
            "{ns}"
        );
    }
    assert_eq!(
        parse_err("retrieve", json!({"pubkey": id, "timestamp": NOW})),
        ParseError::Missing("signature")
    );
    assert_eq!(
        parse_err(
            "retrieve",
            json!({"pubkey": id, "signature": sig_b64(true)})
        ),
        ParseError::Missing("timestamp")
    );
    assert_eq!(
        parse_err(
            "retrieve",
            json!({"pubkey": id, "signature": sig_b64(true), "timestamp": 999_999_999})
        ),
        ParseError::NotMilliseconds("timestamp")
    );
    let signed =
        json!({"pubKey": id, "signature": sig_b64(true), "timestamp": NOW, "max_count": 5});
    let Request::Retrieve(r) = http("retrieve", signed).unwrap() else {
        panic!()
    };
    assert_eq!(r.auth.unwrap().timestamp, NOW);
    assert_eq!(r.max_count, Some(5));
}

#[test]
fn retrieve_fields() {
    let id = owner_id().to_string();
    let h = hash('A').to_string();
    let q = |extra: Json| {
        let mut p = json!({"pubkey": id});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        http("retrieve", p)
    };
    let Ok(Request::Retrieve(r)) = q(json!({"lastHash": h})) else {
        panic!()
    };
    assert_eq!(r.last_hash, Some(hash('A')));
    let Ok(Request::Retrieve(r)) = q(json!({"last_hash": ""})) else {
        panic!()
    };
    assert_eq!(r.last_hash, None);
    assert_eq!(
        q(json!({"last_hash": &h[..42]})),
        Err(ParseError::LastHash.into())
    );
    assert_eq!(
        q(json!({"last_hash": format!("{}=", &h[..42])})),
        Err(ParseError::LastHash.into())
    );
    assert_eq!(
        q(json!({"last_hash": h, "lastHash": h})),
        Err(ParseError::Both("last_hash", "lastHash").into())
    );
    assert!(q(json!({"max_size": i32::MIN})).is_ok());
    assert_eq!(
        q(json!({"max_size": i64::from(i32::MAX) + 1})),
        Err(ParseError::OutOfRange("max_size").into())
    );
    assert!(matches!(
        q(json!({"max_count": "5"})),
        Err(RpcError::Malformed(ParseError::WrongType { .. }))
    ));
}

#[test]
fn retrieve_limits() {
    let mut r = Retrieve::new(owner_id(), Namespace::DEFAULT);
    let limits = |r: &Retrieve| r.limits();
    assert_eq!(
        limits(&r),
        RetrieveLimits {
            max_count: None,
            max_size: 1_560_000
        }
    );
    r.max_size = Some(0);
    r.max_count = Some(0);
    assert_eq!(limits(&r).max_size, 1_560_000);
    r.max_size = Some(-1);
    assert_eq!(limits(&r).max_size, RETRIEVE_MAX_SIZE);
    r.max_size = Some(7_800_000);
    assert_eq!(limits(&r).max_size, 7_800_000);
    r.max_size = Some(7_800_001);
    assert_eq!(limits(&r).max_size, 7_800_000);
    r.max_size = Some(i32::MIN);
    assert_eq!(limits(&r).max_size, 0);
    r.max_size = None;
    r.max_count = Some(3);
    assert_eq!(
        limits(&r),
        RetrieveLimits {
            max_count: Some(3),
            max_size: RETRIEVE_MAX_SIZE
        }
    );
    r.max_count = Some(-1);
    assert_eq!(
        limits(&r),
        RetrieveLimits {
            max_count: None,
            max_size: RETRIEVE_MAX_SIZE
        }
    );

    let cost = RetrieveLimits::message_cost(43, 300);
    assert_eq!(cost, 100 + 43 + 400);
    let l = RetrieveLimits {
        max_count: None,
        max_size: 2 * cost,
    };
    assert_eq!(l.take([300, 300, 300]), 2);
    assert_eq!(
        RetrieveLimits {
            max_size: 2 * cost - 1,
            ..l
        }
        .take([300, 300]),
        1
    );
    // At least one, however large.
    assert_eq!(RetrieveLimits { max_size: 0, ..l }.take([76_800]), 1);
    assert_eq!(
        RetrieveLimits {
            max_count: Some(1),
            ..l
        }
        .take([1, 1]),
        1
    );
    assert_eq!(l.take([]), 0);
}

// ---------------------------------------------------------------- the other methods

fn signed_params(extra: Json) -> Json {
    let mut p = json!({"pubkey": owner_id().to_string(), "signature": sig_b64(true)});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

#[test]
fn delete_and_expire_shapes() {
    let h = hash('A').to_string();
    assert_eq!(
        parse_err("delete", signed_params(json!({"messages": []}))),
        ParseError::Empty("messages")
    );
    assert_eq!(
        parse_err("delete", signed_params(json!({}))),
        ParseError::Missing("messages")
    );
    assert_eq!(
        parse_err("delete", signed_params(json!({"messages": ["x"]}))),
        ParseError::MessageHash("messages")
    );
    let Request::Delete(d) = http(
        "delete",
        signed_params(json!({"messages": h, "required": true})),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!((d.messages, d.required), (vec![hash('A')], true));
    assert_eq!(
        parse_err(
            "delete",
            json!({"pubkey": owner_id().to_string(), "messages": [h]})
        ),
        ParseError::Missing("signature")
    );
    // delete has no pubKey alias.
    assert_eq!(
        parse_err(
            "delete",
            json!({"pubKey": owner_id().to_string(), "messages": [h], "signature": sig_b64(true)})
        ),
        ParseError::Missing("pubkey")
    );

    let e = |extra: Json| http("expire", signed_params(extra));
    assert!(e(json!({"messages": [h], "expiry": NOW})).is_ok());
    assert!(e(json!({"messages": [h, h], "expiry": [NOW, NOW]})).is_ok());
    assert!(e(json!({"messages": [h, h], "expiry": [NOW]})).is_ok());
    assert_eq!(
        e(json!({"messages": [h, h, h], "expiry": [NOW, NOW]})),
        Err(ParseError::ExpiryCount.into())
    );
    assert_eq!(
        e(json!({"messages": [h], "expiry": []})),
        Err(ParseError::Empty("expiry").into())
    );
    assert_eq!(
        e(json!({"messages": [h], "expiry": NOW, "shorten": true, "extend": true})),
        Err(ParseError::Both("shorten", "extend").into())
    );
    assert!(matches!(
        e(json!({"messages": [h], "expiry": NOW, "shorten": 1})),
        Err(RpcError::Malformed(ParseError::WrongType { .. }))
    ));
    let Ok(Request::Expire(x)) = e(json!({"messages": [h], "expiry": NOW, "extend": true})) else {
        panic!()
    };
    assert_eq!(x.mode, ExpireMode::Extend);
}

#[test]
fn bulk_shapes() {
    for (method, key) in [
        ("delete_all", "timestamp"),
        ("delete_before", "before"),
        ("expire_all", "expiry"),
    ] {
        assert_eq!(
            parse_err(method, signed_params(json!({}))),
            ParseError::Missing(key)
        );
        assert_eq!(
            parse_err(method, signed_params(json!({key: 999_999_999}))),
            ParseError::NotMilliseconds(key)
        );
        let all = http(method, signed_params(json!({key: NOW, "namespace": "all"}))).unwrap();
        let def = http(method, signed_params(json!({key: NOW}))).unwrap();
        let five = http(method, signed_params(json!({key: NOW, "namespace": 5}))).unwrap();
        let (a, d, f) = match (all, def, five) {
            (Request::DeleteAll(a), Request::DeleteAll(d), Request::DeleteAll(f)) => {
                (a.namespaces, d.namespaces, f.namespaces)
            }
            (Request::DeleteBefore(a), Request::DeleteBefore(d), Request::DeleteBefore(f)) => {
                (a.namespaces, d.namespaces, f.namespaces)
            }
            (Request::ExpireAll(a), Request::ExpireAll(d), Request::ExpireAll(f)) => {
                (a.namespaces, d.namespaces, f.namespaces)
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (a, d, f),
            (
                Namespaces::All,
                Namespaces::default(),
                Namespaces::One(Namespace::new(5))
            )
        );
        assert!(matches!(
            parse_err(method, signed_params(json!({key: NOW, "namespace": "All"}))),
            ParseError::WrongType { .. }
        ));
    }
}

#[test]
fn revocation_shapes() {
    let t = SubaccountToken::from_bytes([3; 36]).to_base64();
    let tokens = |n: usize| json!(vec![t.clone(); n]);
    let r = |m: &str, key: &str, n: usize| {
        http(m, signed_params(json!({"timestamp": NOW, key: tokens(n)})))
    };
    assert!(r("revoke_subaccount", "revoke", MAX_REVOKED_TOKENS).is_ok());
    assert_eq!(
        r("revoke_subaccount", "revoke", MAX_REVOKED_TOKENS + 1),
        Err(ParseError::TooManyTokens.into())
    );
    assert!(r("unrevoke_subaccount", "unrevoke", MAX_REVOKED_TOKENS + 1).is_ok());
    assert_eq!(
        parse_err(
            "revoke_subaccount",
            signed_params(json!({"timestamp": NOW, "revoke": ["zz"]}))
        ),
        ParseError::Token("revoke")
    );
    let single = http(
        "revoke_subaccount",
        signed_params(json!({"timestamp": NOW, "revoke": t})),
    )
    .unwrap();
    let Request::Revocation(single) = single else {
        panic!()
    };
    assert_eq!((single.kind, single.tokens.len()), (Revocation::Revoke, 1));
    // A subaccount in a revocation request is ignored, as the storage server ignores it.
    let g = grant(SubaccountFlags::DELETE);
    let with_sub = signed_params(json!({"timestamp": NOW, "revoke": [t],
        "subaccount": g.token.to_base64(), "subaccount_sig": sig_b64(true)}));
    let Request::Revocation(r2) = http("revoke_subaccount", with_sub).unwrap() else {
        panic!()
    };
    assert_eq!(r2.auth.subaccount, None);
}

#[test]
fn batch_shapes() {
    let sub = json!({"method": "info", "params": {}});
    let b = |n: usize| http("batch", json!({"requests": vec![sub.clone(); n]}));
    assert!(b(MAX_BATCH).is_ok());
    assert_eq!(
        b(MAX_BATCH + 1),
        Err(ParseError::Batch("subrequest limit exceeded").into())
    );
    assert_eq!(
        b(0),
        Err(ParseError::Batch("empty \"requests\" list").into())
    );
    assert!(http("batch", json!({})).is_err());
    let nested = json!({"requests": [{"method": "sequence", "params": {"requests": [sub]}}]});
    assert_eq!(
        http("sequence", nested),
        Err(ParseError::Batch("subrequests may not contain meta-requests").into())
    );
    assert_eq!(
        http(
            "batch",
            json!({"requests": [{"method": "nope", "params": {}}]})
        ),
        Err(ParseError::BatchMethod.into())
    );
    assert!(http("batch", json!({"requests": [{"method": "info"}]})).is_err());
    assert!(http("batch", json!({"requests": [1]})).is_err());
    // A bad subrequest fails the whole batch.
    let bad = json!({"requests": [sub, {"method": "get_swarm", "params": {}}]});
    assert_eq!(
        http("batch", bad),
        Err(ParseError::Missing("pubkey").into())
    );
    // Bencoded batches.
    let req = Request::Batch(Batch {
        requests: vec![
            Request::Info,
            Request::GetSwarm(GetSwarm {
                account: owner_id(),
            }),
        ],
    });
    assert_eq!(
        Request::from_command("batch", &req.params_bencoded())
            .unwrap()
            .0,
        req
    );
}

#[test]
fn oxend_request_shapes() {
    let o = |p: Json| http("oxend_request", p);
    let Ok(Request::OxendRequest(r)) =
        o(json!({"endpoint": "get_service_nodes", "params": {"active_only": true}}))
    else {
        panic!()
    };
    assert_eq!(r.params, Some(json!({"active_only": true})));
    assert_eq!(
        o(json!({"endpoint": "get_info"})),
        Err(ParseError::OxendEndpoint.into())
    );
    assert_eq!(o(json!({})), Err(ParseError::Missing("endpoint").into()));
    let Ok(Request::OxendRequest(r)) = o(json!({"endpoint": "ons_resolve", "params": null})) else {
        panic!()
    };
    assert_eq!((r.endpoint, r.params), (OxendEndpoint::OnsResolve, None));
    // Bencoded params are a JSON string.
    let bt = b"d8:endpoint17:get_service_nodes6:params17:{\"active_only\":1}e";
    let (Request::OxendRequest(r), _) = Request::from_command("oxend_request", bt).unwrap() else {
        panic!()
    };
    assert_eq!(r.params, Some(json!({"active_only": 1})));
    let bt = b"d8:endpoint17:get_service_nodes6:params3:{x}e";
    assert_eq!(
        Request::from_command("oxend_request", bt),
        Err(RpcError::Malformed(ParseError::OxendParams))
    );
    let gsn = crate::nodes::GetServiceNodes::client_default().to_oxend_request();
    let req = Request::OxendRequest(gsn);
    assert_eq!(
        Request::from_command("oxend_request", &req.params_bencoded())
            .unwrap()
            .0,
        req
    );
    assert_eq!(Request::from_http_body(&req.to_http_body()).unwrap(), req);
}

#[test]
fn unknown_fields_are_ignored() {
    let p = with(
        with(store_params(), "foo", json!({"x": [1, 2]})),
        "reverse_direction",
        json!(true),
    );
    assert!(http("store", p).is_ok());
    let store = Store::new(
        owner_id(),
        Namespace::DEFAULT,
        vec![1],
        NOW,
        Lifetime::Ttl(DAY),
    );
    let mut bt = Request::Store(store.clone()).params_bencoded();
    bt.pop();
    bt.extend_from_slice(b"3:zzzi1ee");
    assert_eq!(
        Request::from_command("store", &bt).unwrap().0,
        Request::Store(store)
    );
}

// ---------------------------------------------------------------- node rules

fn store_at(namespace: i16, timestamp: u64, ttl: u64) -> Store {
    Store::new(
        owner_id(),
        Namespace::new(namespace),
        b"m".to_vec(),
        timestamp,
        Lifetime::Ttl(ttl),
    )
}

#[test]
fn store_ttl_bounds() {
    let ok = |s: &Store| s.check(&ctx());
    assert_eq!(ok(&store_at(0, NOW, TTL_MIN_MS)), Ok(()));
    assert_eq!(
        ok(&store_at(0, NOW, TTL_MIN_MS - 1)),
        Err(RpcError::InvalidTtl)
    );
    assert_eq!(ok(&store_at(0, NOW, TTL_MAX_PUBLIC_MS)), Ok(()));
    assert_eq!(
        ok(&store_at(0, NOW, TTL_MAX_PUBLIC_MS + 1)),
        Err(RpcError::InvalidTtl)
    );
    assert_eq!(RpcError::InvalidTtl.status(), 403);
    let signer = Signer::session(owner().ed25519_secret());
    let private = |ttl| store_at(3, NOW, ttl).signed(&signer, NOW);
    assert_eq!(ok(&private(TTL_MAX_PRIVATE_MS)), Ok(()));
    assert_eq!(
        ok(&private(TTL_MAX_PRIVATE_MS + 1)),
        Err(RpcError::InvalidTtl)
    );
    let mut before = store_at(0, NOW, 0);
    before.lifetime = Lifetime::Expiry(NOW - 1);
    assert_eq!(ok(&before), Err(RpcError::InvalidTtl));
    let mut huge = store_at(0, u64::MAX, 1);
    huge.lifetime = Lifetime::Ttl(u64::MAX);
    assert_eq!(ok(&huge), Err(RpcError::InvalidTtl));
}

#[test]
fn store_clock_bounds() {
    let c = |s: Store| s.check(&ctx());
    assert_eq!(c(store_at(0, NOW + STORE_TOLERANCE_MS, DAY)), Ok(()));
    assert_eq!(
        c(store_at(0, NOW + STORE_TOLERANCE_MS + 1, DAY)),
        Err(RpcError::ClockSkew)
    );
    // Expiry at now − 10 s is still accepted; 1 ms earlier is not.
    let expiry = NOW - STORE_TOLERANCE_MS;
    assert_eq!(c(store_at(0, expiry - TTL_MIN_MS, TTL_MIN_MS)), Ok(()));
    assert_eq!(
        c(store_at(0, expiry - 1 - TTL_MIN_MS, TTL_MIN_MS)),
        Err(RpcError::ClockSkew)
    );
    assert_eq!(RpcError::ClockSkew.status(), 406);
}

#[test]
fn store_signatures() {
    let signer = Signer::session(owner().ed25519_secret());
    let unsigned = store_at(3, NOW, DAY);
    let e = unsigned.check(&ctx()).unwrap_err();
    assert_eq!(
        (e.status(), e.message().as_str()),
        (401, "store: signature required to store to namespace 3")
    );
    // Signature timestamp ±60 s.
    for (ts, ok) in [
        (NOW - SIGNATURE_TOLERANCE_MS, true),
        (NOW + SIGNATURE_TOLERANCE_MS, true),
        (NOW - SIGNATURE_TOLERANCE_MS - 1, false),
        (NOW + SIGNATURE_TOLERANCE_MS + 1, false),
    ] {
        let r = store_at(3, NOW, DAY).signed(&signer, ts).check(&ctx());
        assert_eq!(r.is_ok(), ok, "{ts}");
        if !ok {
            assert_eq!(r, Err(RpcError::SignatureTimestamp(Method::Store)));
        }
    }
    // sig_timestamp defaults to timestamp.
    let mut s = store_at(3, NOW, DAY).signed(&signer, NOW);
    s.sig_timestamp = None;
    assert_eq!(s.check(&ctx()), Ok(()));
    // Another key.
    let mallory = Account::from_ed25519_seed(&[9; 32]);
    let forged = store_at(3, NOW, DAY).signed(&Signer::session(mallory.ed25519_secret()), NOW);
    assert_eq!(
        forged.check(&ctx()),
        Err(RpcError::Unauthorized {
            method: Method::Store,
            reason: AuthError::KeyMismatch
        })
    );
    // Public inbox: a bad signature is not even looked at.
    let mut public = store_at(0, NOW, DAY).signed(&signer, NOW);
    public.auth.as_mut().unwrap().signature = Signature([0; 64]);
    assert_eq!(public.check(&ctx()), Ok(()));
}

#[test]
fn store_subaccount_permissions() {
    let member = member_key();
    let s = |ns: i16, flags| {
        let mut st = store_at(ns, NOW, DAY);
        st.account = group_id();
        st.signed(&Signer::subaccount(&member, grant(flags)), NOW)
    };
    let rw = SubaccountFlags::READ | SubaccountFlags::WRITE;
    assert_eq!(s(11, rw).check(&ctx()), Ok(()));
    assert_eq!(
        s(11, SubaccountFlags::READ).check(&ctx()),
        Err(RpcError::Unauthorized {
            method: Method::Store,
            reason: AuthError::MissingPermissions
        })
    );
    // Public outbox: write is not enough, delete is needed too.
    assert_eq!(
        s(-1, rw).check(&ctx()),
        Err(RpcError::Unauthorized {
            method: Method::Store,
            reason: AuthError::MissingPermissions
        })
    );
    assert_eq!(s(-1, rw | SubaccountFlags::DELETE).check(&ctx()), Ok(()));
    // Revoked.
    let token = grant(rw).token;
    let revoked = [token];
    let c = NodeContext {
        revoked: &revoked,
        ..ctx()
    };
    assert_eq!(
        s(11, rw).check(&c),
        Err(RpcError::Unauthorized {
            method: Method::Store,
            reason: AuthError::Revoked
        })
    );
}

#[test]
fn retrieve_rules() {
    let signer = Signer::session(owner().ed25519_secret());
    let r = |ns: i16| Retrieve::new(owner_id(), Namespace::new(ns));
    assert_eq!(
        r(0).check(&ctx()),
        Err(RpcError::SignatureRequired {
            method: Method::Retrieve,
            namespace: Namespace::DEFAULT
        })
    );
    assert_eq!(r(0).check(&ctx()).unwrap_err().status(), 401);
    assert_eq!(r(-10).check(&ctx()), Ok(()));
    assert_eq!(r(-21).check(&ctx()), Ok(()));
    assert!(r(-20).check(&ctx()).is_err());
    for (ts, ok) in [
        (NOW - 60_000, true),
        (NOW + 60_000, true),
        (NOW - 60_001, false),
        (NOW + 60_001, false),
    ] {
        let res = r(0).signed(&signer, ts).check(&ctx());
        assert_eq!(res.is_ok(), ok, "{ts}");
        if !ok {
            assert_eq!(res, Err(RpcError::SignatureTimestamp(Method::Retrieve)));
        }
    }
    // A revoked subaccount may still read an unrevocable namespace (−11), not others.
    let member = member_key();
    let g = grant(SubaccountFlags::READ);
    let revoked = [g.token];
    let c = NodeContext {
        revoked: &revoked,
        ..ctx()
    };
    let sub = |ns: i16| {
        Retrieve::new(group_id(), Namespace::new(ns)).signed(&Signer::subaccount(&member, g), NOW)
    };
    assert_eq!(sub(-11).check(&c), Ok(()));
    assert_eq!(
        sub(11).check(&c),
        Err(RpcError::Unauthorized {
            method: Method::Retrieve,
            reason: AuthError::Revoked
        })
    );
    assert_eq!(sub(11).check(&ctx()), Ok(()));
}

#[test]
fn bulk_rules() {
    let signer = Signer::session(owner().ed25519_secret());
    let all = Namespaces::All;
    let da = |ts| Request::DeleteAll(DeleteAll::new(owner_id(), all, ts, &signer));
    for (ts, forwarded, ok) in [
        (NOW + 60_000, false, true),
        (NOW - 60_000, false, true),
        (NOW + 60_001, false, false),
        (NOW - 60_001, false, false),
        (NOW - 70_000, true, true),
        (NOW + 70_001, true, false),
    ] {
        let c = NodeContext { forwarded, ..ctx() };
        let res = da(ts).check(&c);
        assert_eq!(res.is_ok(), ok, "{ts} {forwarded}");
        if !ok {
            assert_eq!(res, Err(RpcError::SignatureTimestamp(Method::DeleteAll)));
        }
    }
    let db = |before| Request::DeleteBefore(DeleteBefore::new(owner_id(), all, before, &signer));
    assert_eq!(db(NOW + 60_000).check(&ctx()), Ok(()));
    assert_eq!(db(0).check(&ctx()), Ok(()));
    assert_eq!(
        db(NOW + 60_001).check(&ctx()),
        Err(RpcError::BeforeInFuture)
    );
    assert_eq!(RpcError::BeforeInFuture.status(), 401);
    let ea = |expiry| Request::ExpireAll(ExpireAll::new(owner_id(), all, expiry, &signer));
    assert_eq!(ea(NOW - 60_000).check(&ctx()), Ok(()));
    assert_eq!(
        ea(NOW - 60_001).check(&ctx()),
        Err(RpcError::ExpireAllInPast)
    );
    assert_eq!(RpcError::ExpireAllInPast.status(), 406);
    let fwd = NodeContext {
        forwarded: true,
        ..ctx()
    };
    assert_eq!(ea(NOW - 70_000).check(&fwd), Ok(()));
    assert_eq!(ea(NOW - 70_001).check(&fwd), Err(RpcError::ExpireAllInPast));
    // The signature covers the namespace: "all" signed, 0 sent.
    let Request::DeleteAll(mut tampered) = da(NOW) else {
        panic!()
    };
    tampered.namespaces = Namespaces::default();
    assert!(matches!(
        Request::DeleteAll(tampered).check(&ctx()),
        Err(RpcError::Unauthorized {
            reason: AuthError::BadSignature,
            ..
        })
    ));
    // A read/write subaccount may not bulk-delete.
    let member = member_key();
    let sub = Signer::subaccount(
        &member,
        grant(SubaccountFlags::READ | SubaccountFlags::WRITE),
    );
    let r = Request::DeleteAll(DeleteAll::new(group_id(), all, NOW, &sub));
    assert_eq!(
        r.check(&ctx()),
        Err(RpcError::Unauthorized {
            method: Method::DeleteAll,
            reason: AuthError::MissingPermissions
        })
    );
}

#[test]
fn expire_rules() {
    let signer = Signer::session(owner().ed25519_secret());
    let x = |expiry: Vec<u64>, mode| {
        Expire::new(
            owner_id(),
            vec![hash('A'), hash('B')],
            expiry,
            mode,
            &signer,
        )
    };
    assert_eq!(x(vec![NOW - 60_000], ExpireMode::Any).check(&ctx()), Ok(()));
    assert_eq!(
        x(vec![NOW - 60_001], ExpireMode::Any).check(&ctx()),
        Err(RpcError::ExpiryInPast)
    );
    assert_eq!(
        x(vec![NOW, NOW - 60_001], ExpireMode::Any).check(&ctx()),
        Err(RpcError::ExpiryInPast)
    );
    let far = NOW + 40 * DAY;
    assert_eq!(
        x(vec![far], ExpireMode::Any).applied_expiries(NOW),
        vec![NOW + 30 * DAY]
    );
    assert_eq!(
        x(vec![NOW + DAY], ExpireMode::Any).applied_expiries(NOW),
        vec![NOW + DAY]
    );
    assert!(!x(vec![NOW], ExpireMode::Any).extend_only());
    assert!(x(vec![NOW], ExpireMode::Extend).extend_only());

    let member = member_key();
    let rw = SubaccountFlags::READ | SubaccountFlags::WRITE;
    let sx = |flags, mode| {
        let sub = Signer::subaccount(&member, grant(flags));
        Expire::new(group_id(), vec![hash('A')], vec![NOW], mode, &sub)
    };
    assert_eq!(
        sx(rw, ExpireMode::Shorten).check(&ctx()),
        Err(RpcError::ShortenNotAllowed)
    );
    assert_eq!(RpcError::ShortenNotAllowed.status(), 400);
    assert_eq!(
        sx(rw | SubaccountFlags::DELETE, ExpireMode::Shorten).check(&ctx()),
        Ok(())
    );
    assert_eq!(sx(rw, ExpireMode::Extend).check(&ctx()), Ok(()));
    assert!(sx(rw, ExpireMode::Any).extend_only());
    assert!(!sx(rw | SubaccountFlags::DELETE, ExpireMode::Any).extend_only());
    assert!(matches!(
        sx(SubaccountFlags::READ, ExpireMode::Extend).check(&ctx()),
        Err(RpcError::Unauthorized {
            reason: AuthError::MissingPermissions,
            ..
        })
    ));
}

#[test]
fn get_expiries_and_revocation_rules() {
    let signer = Signer::session(owner().ed25519_secret());
    let ge = |ts| Request::GetExpiries(GetExpiries::new(owner_id(), vec![hash('A')], ts, &signer));
    assert_eq!(ge(NOW + 60_000).check(&ctx()), Ok(()));
    assert_eq!(
        ge(NOW + 60_001).check(&ctx()),
        Err(RpcError::SignatureTimestamp(Method::GetExpiries))
    );
    let tokens = vec![SubaccountToken::from_bytes([1; 36])];
    let rv = |kind, ts, s: &Signer<'_>| {
        Request::Revocation(SubaccountRevocation::new(
            kind,
            group_id(),
            tokens.clone(),
            ts,
            s,
        ))
    };
    let g = group_key();
    let owner_signer = Signer::ed25519(&g);
    assert_eq!(
        rv(Revocation::Revoke, NOW - 60_000, &owner_signer).check(&ctx()),
        Ok(())
    );
    assert_eq!(
        rv(Revocation::Unrevoke, NOW, &owner_signer).check(&ctx()),
        Ok(())
    );
    assert_eq!(
        rv(Revocation::Unrevoke, NOW - 60_001, &owner_signer).check(&ctx()),
        Err(RpcError::SignatureTimestamp(Method::UnrevokeSubaccount))
    );
    let member = member_key();
    let sub = Signer::subaccount(&member, grant(SubaccountFlags::DELETE));
    assert_eq!(
        rv(Revocation::Revoke, NOW, &sub).check(&ctx()),
        Err(RpcError::Unauthorized {
            method: Method::RevokeSubaccount,
            reason: AuthError::SubaccountNotAllowed
        })
    );
    // Delete needs the delete flag; no time bound at all.
    let d = |flags| {
        let sub = Signer::subaccount(&member, grant(flags));
        Request::Delete(Delete::new(group_id(), vec![hash('A')], &sub))
    };
    assert_eq!(d(SubaccountFlags::DELETE).check(&at(0)), Ok(()));
    assert!(d(SubaccountFlags::WRITE).check(&ctx()).is_err());
    for r in [
        Request::Info,
        Request::ActiveNodesBin,
        Request::GetSwarm(GetSwarm {
            account: owner_id(),
        }),
    ] {
        assert_eq!(r.check(&ctx()), Ok(()));
    }
}

// ---------------------------------------------------------------- responses

fn node_key() -> Ed25519SecretKey {
    Ed25519SecretKey::from_seed(&[0x77; 32])
}

#[test]
fn store_swarm_response() {
    let store = store_at(0, NOW, DAY);
    let node = node_key();
    let result = StoreResult::sign(&node, store.message_hash(), NOW + DAY, false);
    assert_eq!(result.verify(&node.public_key(), &store), Ok(()));
    let other = store_at(0, NOW, DAY + 1);
    let mut wrong = store.clone();
    wrong.data.push(0);
    assert_eq!(
        result.verify(&node.public_key(), &wrong),
        Err(ResponseError::Mismatch("message hash"))
    );
    assert_eq!(
        result.verify(&node_key_2().public_key(), &other),
        Err(ResponseError::BadSignature)
    );
    let mut swarm = BTreeMap::new();
    swarm.insert(
        node.public_key(),
        NodeOutcome::Ok(NodeResult::Store(result.clone())),
    );
    swarm.insert(
        node_key_2().public_key(),
        NodeOutcome::Failed(Failure {
            code: Some(401),
            reason: Some("no".into()),
            ..Failure::default()
        }),
    );
    let resp = SwarmResponse {
        method: Method::Store,
        swarm,
        hash: Some(result.hash),
        meta: Meta::new(NOW, [19, 3]),
    };
    assert_eq!(resp.status(), 200);
    for enc in [Encoding::Json, Encoding::Bencode] {
        let bytes = resp.encode(enc);
        assert_eq!(
            SwarmResponse::parse(Method::Store, &bytes, enc).unwrap(),
            resp,
            "{enc:?}"
        );
    }
    let json: Json = serde_json::from_slice(&resp.encode(Encoding::Json)).unwrap();
    let entry = &json["swarm"][hex::encode(node.public_key().0)];
    assert_eq!(entry["signature"].as_str().unwrap().len(), 88);
    assert_eq!(
        json["swarm"][hex::encode(node_key_2().public_key().0)]["code"],
        json!("401")
    );
    let mut failed = resp;
    failed.swarm.remove(&node.public_key());
    assert_eq!(failed.status(), 500);
}

fn node_key_2() -> Ed25519SecretKey {
    Ed25519SecretKey::from_seed(&[0x78; 32])
}

fn round_trip(method: Method, result: NodeResult) {
    for enc in [Encoding::Json, Encoding::Bencode] {
        let bytes = result.encode(method, enc);
        assert_eq!(
            NodeResult::parse(method, &bytes, enc).unwrap(),
            result,
            "{method:?} {enc:?}"
        );
    }
}

#[test]
fn node_results_sign_verify_and_round_trip() {
    let node = node_key();
    let pk = node.public_key();
    let signer = Signer::session(owner().ed25519_secret());

    let del = Delete::new(owner_id(), vec![hash('B'), hash('A')], &signer);
    let r = DeleteResult::sign(&node, &del, vec![hash('B'), hash('A')]);
    assert_eq!(r.deleted, vec![hash('A'), hash('B')]);
    assert_eq!(r.verify(&pk, &del), Ok(()));
    assert_eq!(
        r.verify(&node_key_2().public_key(), &del),
        Err(ResponseError::BadSignature)
    );
    round_trip(Method::Delete, NodeResult::Delete(r));

    let per_ns: BTreeMap<_, _> = [
        (Namespace::new(-10), vec![hash('C')]),
        (Namespace::new(3), vec![hash('B'), hash('A')]),
    ]
    .into_iter()
    .collect();
    let bulk = BulkResult::sign(&node, &owner_id(), NOW, Affected::PerNamespace(per_ns));
    assert_eq!(
        bulk.affected.sorted(),
        vec![hash('A'), hash('B'), hash('C')]
    );
    assert_eq!(bulk.verify(&pk, &owner_id(), NOW), Ok(()));
    assert_eq!(
        bulk.verify(&pk, &owner_id(), NOW + 1),
        Err(ResponseError::BadSignature)
    );
    round_trip(Method::DeleteAll, NodeResult::Bulk(bulk.clone()));
    round_trip(Method::ExpireAll, NodeResult::Bulk(bulk));
    let one = BulkResult::sign(&node, &owner_id(), NOW, Affected::One(vec![]));
    round_trip(Method::DeleteBefore, NodeResult::Bulk(one));

    for (expiry, mode) in [
        (vec![NOW + DAY], ExpireMode::Extend),
        (vec![NOW + DAY, NOW + 2 * DAY], ExpireMode::Any),
    ] {
        let req = Expire::new(
            owner_id(),
            vec![hash('A'), hash('B')],
            expiry,
            mode,
            &signer,
        );
        let unchanged: BTreeMap<_, _> = [(hash('B'), NOW + 5)].into_iter().collect();
        let r = ExpireResult::sign(&node, &req, NOW, vec![(hash('A'), NOW + DAY)], unchanged);
        assert_eq!(r.verify(&pk, &req), Ok(()));
        assert_eq!(r.unchanged.is_some(), mode != ExpireMode::Any);
        let mut tampered = r.clone();
        tampered.updated.clear();
        assert_eq!(tampered.verify(&pk, &req), Err(ResponseError::BadSignature));
        round_trip(Method::Expire, NodeResult::Expire(r));
    }

    let rev = SubaccountRevocation::new(
        Revocation::Unrevoke,
        owner_id(),
        vec![SubaccountToken::from_bytes([2; 36])],
        NOW,
        &signer,
    );
    let r = RevocationResult::sign(&node, &rev, Some(1));
    assert_eq!(r.verify(&pk, &rev), Ok(()));
    round_trip(Method::UnrevokeSubaccount, NodeResult::Revocation(r));

    let store = StoreResult::sign(&node, hash('Z'), NOW, true);
    round_trip(Method::Store, NodeResult::Store(store));
    assert!(NodeResult::parse(Method::Retrieve, b"{}", Encoding::Json).is_err());
}

#[test]
fn other_responses_round_trip() {
    let meta = Meta::new(NOW, [19, 3]);
    let retrieve = RetrieveResponse {
        messages: vec![RetrievedMessage {
            hash: hash('A'),
            timestamp: NOW,
            expiration: NOW + DAY,
            data: vec![0, 1, 255],
        }],
        more: true,
        meta,
    };
    let info = InfoResponse {
        version: [2, 11, 0],
        timestamp: NOW,
        meta,
    };
    let swarm = GetSwarmResponse {
        snodes: vec![SwarmNode {
            pubkey_ed25519: node_key().public_key(),
            pubkey_x25519: [9; 32],
            ip: std::net::Ipv4Addr::new(127, 0, 0, 5),
            port_https: 22021,
            port_omq: 22020,
        }],
        swarm_id: u64::MAX,
        meta,
    };
    let expiries = GetExpiriesResponse {
        expiries: [(hash('A'), NOW)].into_iter().collect(),
    };
    let oxend = OxendResponse {
        result: json!({"height": 5, "service_node_states": []}),
        meta: Meta::default(),
    };
    for enc in [Encoding::Json, Encoding::Bencode] {
        assert_eq!(
            RetrieveResponse::parse(&retrieve.encode(enc), enc).unwrap(),
            retrieve
        );
        assert_eq!(InfoResponse::parse(&info.encode(enc), enc).unwrap(), info);
        assert_eq!(
            GetSwarmResponse::parse(&swarm.encode(enc), enc).unwrap(),
            swarm
        );
        assert_eq!(
            GetExpiriesResponse::parse(&expiries.encode(enc), enc).unwrap(),
            expiries
        );
        assert_eq!(
            OxendResponse::parse(&oxend.encode(enc), enc).unwrap(),
            oxend
        );
    }
    let text = String::from_utf8(swarm.encode(Encoding::Json)).unwrap();
    assert!(text.contains("\"swarm\":\"ffffffffffffffff\""), "{text}");
    assert!(text.contains("\"port\":\"22021\""), "{text}");
    let text = String::from_utf8(retrieve.encode(Encoding::Json)).unwrap();
    assert!(
        text.contains("\"expiration\":") && text.contains("\"data\":\"AAH/\""),
        "{text}"
    );
    let batch = BatchResponse {
        results: vec![
            SubResponse {
                code: 200,
                body: json!({"ok": 1}),
            },
            SubResponse {
                code: 401,
                body: json!("retrieve signature verification failed"),
            },
        ],
    };
    assert_eq!(BatchResponse::parse_json(&batch.to_json()).unwrap(), batch);
    assert!(RetrieveResponse::parse(b"[]", Encoding::Json).is_err());
    assert!(RetrieveResponse::parse(b"le", Encoding::Bencode).is_err());
}

// ---------------------------------------------------------------- round trips (proptest)

mod props {
    use super::*;
    use proptest::prelude::*;

    fn account() -> impl Strategy<Value = AccountId> {
        (
            prop_oneof![Just(5u8), Just(3u8), any::<u8>()],
            any::<[u8; 32]>(),
        )
            .prop_map(|(p, k)| AccountId::new(p, k))
    }

    fn ms() -> impl Strategy<Value = u64> {
        1_000_000_000u64..=i64::MAX as u64
    }

    fn any_ms() -> impl Strategy<Value = u64> {
        0u64..=i64::MAX as u64
    }

    fn hashes() -> impl Strategy<Value = Vec<MessageHash>> {
        proptest::collection::vec(any::<[u8; 32]>(), 1..5).prop_map(|v| {
            v.into_iter()
                .map(|b| MessageHash::parse(encode_base64_unpadded(&b).as_bytes()).unwrap())
                .collect()
        })
    }

    fn auth(account: AccountId) -> impl Strategy<Value = Auth> {
        let ed = if account.is_session_id() {
            proptest::option::of(any::<[u8; 32]>().prop_map(Ed25519PublicKey)).boxed()
        } else {
            Just(None).boxed()
        };
        (
            any::<[u8; 64]>(),
            ed,
            proptest::option::of((any::<[u8; 36]>(), any::<[u8; 64]>())),
        )
            .prop_map(|(sig, pubkey_ed25519, sub)| Auth {
                signature: Signature(sig),
                pubkey_ed25519,
                subaccount: sub.map(|(t, s)| SignedSubaccount {
                    token: SubaccountToken::from_bytes(t),
                    signature: Signature(s),
                }),
            })
    }

    fn owner_auth(account: AccountId) -> impl Strategy<Value = Auth> {
        auth(account).prop_map(|mut a| {
            a.subaccount = None;
            a
        })
    }

    fn namespaces() -> impl Strategy<Value = Namespaces> {
        prop_oneof![
            Just(Namespaces::All),
            any::<i16>().prop_map(|n| Namespaces::One(Namespace::new(n)))
        ]
    }

    fn store() -> impl Strategy<Value = Request> {
        account().prop_flat_map(|a| {
            (
                any::<i16>(),
                any_ms(),
                prop_oneof![
                    any_ms().prop_map(Lifetime::Ttl),
                    ms().prop_map(Lifetime::Expiry)
                ],
                proptest::collection::vec(any::<u8>(), 0..64),
                proptest::option::of((auth(a), proptest::option::of(ms()))),
            )
                .prop_map(move |(ns, timestamp, lifetime, data, signed)| {
                    let (auth, sig_timestamp) = match signed {
                        Some((auth, ts)) => (Some(auth), ts),
                        None => (None, None),
                    };
                    Request::Store(Store {
                        account: a,
                        namespace: Namespace::new(ns),
                        timestamp,
                        lifetime,
                        data,
                        sig_timestamp,
                        auth,
                    })
                })
        })
    }

    fn retrieve() -> impl Strategy<Value = Request> {
        account().prop_flat_map(|a| {
            (
                proptest::option::of((auth(a), ms())),
                any::<i16>(),
                proptest::option::of(hashes().prop_map(|h| h[0])),
                proptest::option::of(any::<i32>()),
                proptest::option::of(any::<i32>()),
            )
                .prop_map(move |(signed, ns, last_hash, max_count, max_size)| {
                    let mut namespace = Namespace::new(ns);
                    // Unsigned requests only make sense where no signature is needed.
                    if signed.is_none() && !namespace.is_noauth_retrieve() {
                        namespace = Namespace::DEFAULT;
                    }
                    Request::Retrieve(Retrieve {
                        account: a,
                        namespace,
                        last_hash,
                        max_count,
                        max_size,
                        auth: signed.map(|(auth, timestamp)| TimedAuth { timestamp, auth }),
                    })
                })
        })
    }

    fn others() -> impl Strategy<Value = Request> {
        account().prop_flat_map(|a| {
            prop_oneof![
                (hashes(), any::<bool>(), auth(a)).prop_map(move |(messages, required, auth)| {
                    Request::Delete(Delete {
                        account: a,
                        messages,
                        required,
                        auth,
                    })
                }),
                (namespaces(), ms(), auth(a)).prop_map(move |(namespaces, timestamp, auth)| {
                    Request::DeleteAll(DeleteAll {
                        account: a,
                        namespaces,
                        timestamp,
                        auth,
                    })
                }),
                (namespaces(), ms(), auth(a)).prop_map(move |(namespaces, before, auth)| {
                    Request::DeleteBefore(DeleteBefore {
                        account: a,
                        namespaces,
                        before,
                        auth,
                    })
                }),
                (namespaces(), ms(), auth(a)).prop_map(move |(namespaces, expiry, auth)| {
                    Request::ExpireAll(ExpireAll {
                        account: a,
                        namespaces,
                        expiry,
                        auth,
                    })
                }),
                (hashes(), any::<bool>(), any_ms(), 0..3u8, auth(a)).prop_map(
                    move |(messages, multi, e, mode, auth)| {
                        let expiry = if multi && messages.len() > 1 {
                            (0..messages.len() as u64)
                                .map(|i| e.saturating_sub(i))
                                .collect()
                        } else {
                            vec![e]
                        };
                        let mode = [ExpireMode::Any, ExpireMode::Shorten, ExpireMode::Extend]
                            [usize::from(mode)];
                        Request::Expire(Expire {
                            account: a,
                            messages,
                            expiry,
                            mode,
                            auth,
                        })
                    }
                ),
                (hashes(), ms(), auth(a)).prop_map(move |(messages, timestamp, auth)| {
                    Request::GetExpiries(GetExpiries {
                        account: a,
                        messages,
                        timestamp,
                        auth,
                    })
                }),
                (
                    any::<bool>(),
                    proptest::collection::vec(any::<[u8; 36]>(), 0..5),
                    ms(),
                    owner_auth(a)
                )
                    .prop_map(move |(revoke, tokens, timestamp, auth)| {
                        Request::Revocation(SubaccountRevocation {
                            kind: if revoke {
                                Revocation::Revoke
                            } else {
                                Revocation::Unrevoke
                            },
                            account: a,
                            tokens: tokens
                                .into_iter()
                                .map(SubaccountToken::from_bytes)
                                .collect(),
                            timestamp,
                            auth,
                        })
                    }),
                Just(Request::GetSwarm(GetSwarm { account: a })),
                Just(Request::Info),
            ]
        })
    }

    fn request() -> impl Strategy<Value = Request> {
        let single = prop_oneof![store(), retrieve(), others()];
        prop_oneof![
            4 => single.clone(),
            1 => proptest::collection::vec(single, 1..4).prop_map(|requests| Request::Batch(Batch { requests })),
        ]
    }

    proptest! {
        #[test]
        fn json_round_trip(req in request()) {
            let back = Request::from_http_body(&req.to_http_body());
            prop_assert_eq!(back, Ok(req.clone()));
            let params = req.params_json().to_string();
            let (cmd, enc) = Request::from_command(req.method().name(), params.as_bytes()).unwrap();
            prop_assert_eq!(enc, Encoding::Json);
            prop_assert_eq!(cmd, req);
        }

        #[test]
        fn bencode_round_trip(req in request()) {
            let bytes = req.params_bencoded();
            let (back, enc) = Request::from_command(req.method().name(), &bytes).unwrap();
            prop_assert_eq!(enc, Encoding::Bencode);
            prop_assert_eq!(&back, &req);
            // Canonical: writing what was read gives the same bytes.
            prop_assert_eq!(back.params_bencoded(), bytes);
        }

        #[test]
        fn arbitrary_json_params_never_panic(text in "\\PC{0,200}") {
            for m in Method::ALL {
                let _ = Request::from_command(m.name(), text.as_bytes());
            }
        }
    }
}

#[test]
fn debug_never_shows_message_data() {
    let store = Store::new(
        owner_id(),
        Namespace::DEFAULT,
        b"secret body".to_vec(),
        NOW,
        Lifetime::Ttl(DAY),
    );
    let msg = RetrievedMessage {
        hash: hash('A'),
        timestamp: NOW,
        expiration: NOW,
        data: b"secret body".to_vec(),
    };
    let rep = crate::replication::ReplicatedMessage {
        account: owner_id(),
        hash: b"h".to_vec(),
        timestamp: NOW,
        expiry: NOW,
        data: b"secret body".to_vec(),
        namespace: Namespace::DEFAULT,
    };
    for shown in [
        format!("{store:?}"),
        format!("{msg:?}"),
        format!("{rep:?}"),
        format!("{:?}", Request::from(store.clone())),
    ] {
        assert!(
            !shown.contains("115, 101, 99") && !shown.contains("secret"),
            "{shown}"
        );
        assert!(shown.contains("data_len: 11"), "{shown}");
    }
}

#[test]
fn replica_bounds() {
    let ok = |ts, exp, len| check_replica_bounds(ts, exp, len, NOW);
    assert_eq!(ok(NOW, NOW + DAY, 10), Ok(()));
    // An old message whose expiry `expire` moved: still fine.
    assert_eq!(ok(NOW - 90 * DAY, NOW + 29 * DAY, 10), Ok(()));
    assert_eq!(
        ok(NOW, NOW + 30 * DAY + STORE_TOLERANCE_MS, MAX_DATA_LEN),
        Ok(())
    );
    assert_eq!(
        ok(NOW, NOW + 30 * DAY + STORE_TOLERANCE_MS + 1, 10),
        Err(RpcError::InvalidTtl)
    );
    assert_eq!(ok(NOW, u64::MAX, 10), Err(RpcError::InvalidTtl));
    assert_eq!(
        ok(NOW + STORE_TOLERANCE_MS + 1, NOW + DAY, 10),
        Err(RpcError::ClockSkew)
    );
    assert_eq!(
        ok(NOW, NOW + DAY, MAX_DATA_LEN + 1),
        Err(RpcError::Malformed(ParseError::DataTooLarge))
    );
    // A client's store: the namespace's TTL too.
    let public = Namespace::DEFAULT;
    assert_eq!(
        check_message_bounds(public, NOW, NOW + 14 * DAY, 1, NOW),
        Ok(())
    );
    assert_eq!(
        check_message_bounds(public, NOW, NOW + 15 * DAY, 1, NOW),
        Err(RpcError::InvalidTtl)
    );
    assert_eq!(
        check_message_bounds(Namespace::new(1), NOW, NOW + 30 * DAY, 1, NOW),
        Ok(())
    );
}
