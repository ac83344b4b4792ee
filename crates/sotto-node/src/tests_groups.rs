//! Group accounts (`03…`) on one node over a real store: the group's own key and members'
//! subaccounts (minted by `sotto-groups`) in namespaces 11–14 and −11, revocation by the group
//! key only, and refusals that leave the store unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use sotto_crypto::Ed25519SecretKey;
use sotto_groups::auth::member_flags;
use sotto_groups::{GroupAdmin, SubaccountAuth};
use sotto_identity::Account;
use sotto_rpc::request::{
    Delete, Lifetime, Retrieve, Revocation, Store as StoreReq, SubaccountRevocation, TimedAuth,
};
use sotto_rpc::response::{NodeOutcome, NodeResult, RetrieveResponse, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Request, Signer, to_sign};
use sotto_store::Store;
use sotto_swarm::{NodeListing, NodeVersion, SwarmId};
use sotto_transport::{HttpsClient, Response};

use crate::node::Node;
use crate::view::{NetworkView, NodeList};

const NOW: u64 = 1_750_000_000_000;
const DAY: u64 = 24 * 3600 * 1000;
/// The group namespaces: messages, keys, info, members, and the revoked-member notices.
const GROUP_NAMESPACES: [i16; 5] = [11, 12, 13, 14, -11];

struct Fixture {
    node: Arc<Node>,
    _dir: tempfile::TempDir,
}

/// A node alone in swarm 0, so that it holds every account, over a store at `path`.
fn node_at(path: &Path) -> Arc<Node> {
    let store = Store::open(path, 64 << 20).unwrap();
    let key = Ed25519SecretKey::from_seed(&[1; 32]);
    let node = Arc::new(Node::new(key.clone(), store, HttpsClient::new()).unwrap());
    let listing = NodeListing::new(
        key.public_key(),
        Ipv4Addr::new(127, 0, 0, 1),
        22021,
        SwarmId(0),
        NodeVersion::from([2, 8, 0]),
    )
    .unwrap();
    node.set_view(NetworkView::new(
        key.public_key(),
        NodeList {
            height: 3,
            block_hash: "00".repeat(32),
            nodes: vec![listing],
        },
    ));
    node
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Fixture {
        node: node_at(&dir.path().join("store.db")),
        _dir: dir,
    }
}

async fn send(node: &Arc<Node>, body: Vec<u8>) -> Response {
    let http = sotto_transport::Request {
        method: "POST".into(),
        path: "/storage_rpc/v1".into(),
        headers: Vec::new(),
        body: Bytes::from(body),
        peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 5555),
    };
    node.handle(http, NOW).await
}

async fn rpc(f: &Fixture, request: impl Into<Request>) -> Response {
    send(&f.node, request.into().to_http_body()).await
}

async fn stored(f: &Fixture) -> u64 {
    f.node.with_store(|s| s.usage()).await.unwrap().messages
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn admin() -> GroupAdmin {
    GroupAdmin::from_seed(&[0x47; 32]).unwrap()
}

fn group_of(admin: &GroupAdmin) -> AccountId {
    AccountId::from_bytes(&admin.group_id().to_bytes())
}

fn member() -> Account {
    Account::from_ed25519_seed(&[0x4d; 32])
}

fn unsigned_store(admin: &GroupAdmin, ns: i16, data: &[u8]) -> StoreReq {
    StoreReq::new(
        group_of(admin),
        Namespace::new(ns),
        data.to_vec(),
        NOW,
        Lifetime::Ttl(DAY),
    )
}

fn admin_store(admin: &GroupAdmin, ns: i16, data: &[u8]) -> StoreReq {
    unsigned_store(admin, ns, data).signed(&Signer::ed25519(admin.signing_key()), NOW)
}

fn admin_retrieve(admin: &GroupAdmin, ns: i16) -> Retrieve {
    Retrieve::new(group_of(admin), Namespace::new(ns))
        .signed(&Signer::ed25519(admin.signing_key()), NOW)
}

/// A store to `admin`'s group signed by `who` with its subaccount auth data.
fn member_store(
    admin: &GroupAdmin,
    who: &Account,
    auth: &SubaccountAuth,
    ns: i16,
    data: &[u8],
) -> StoreReq {
    let mut req = unsigned_store(admin, ns, data);
    req.sig_timestamp = Some(NOW);
    let sig = auth
        .sign(who.ed25519_secret(), &req.signed_message())
        .unwrap();
    req.auth = Some(sig.to_auth());
    req
}

fn member_retrieve(admin: &GroupAdmin, who: &Account, auth: &SubaccountAuth, ns: i16) -> Retrieve {
    let ns = Namespace::new(ns);
    let sig = auth
        .sign(who.ed25519_secret(), &to_sign::retrieve(ns, NOW))
        .unwrap();
    let mut req = Retrieve::new(group_of(admin), ns);
    req.auth = Some(TimedAuth {
        timestamp: NOW,
        auth: sig.to_auth(),
    });
    req
}

fn revocation(admin: &GroupAdmin, kind: Revocation, who: &Account, write: bool) -> Request {
    revocation_at(admin, kind, who, write, NOW)
}

/// [`revocation`] signed at `ts` (of two requests for a token, the newer one counts).
fn revocation_at(
    admin: &GroupAdmin,
    kind: Revocation,
    who: &Account,
    write: bool,
    ts: u64,
) -> Request {
    let token = admin
        .subaccount_token(&who.session_id(), member_flags(write, false))
        .unwrap();
    Request::Revocation(SubaccountRevocation::new(
        kind,
        group_of(admin),
        vec![token],
        ts,
        &Signer::ed25519(admin.signing_key()),
    ))
}

fn messages(resp: &Response) -> Vec<Vec<u8>> {
    assert_eq!(resp.status, 200, "{}", text(resp));
    RetrieveResponse::parse(&resp.body, Encoding::Json)
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.data)
        .collect()
}

#[tokio::test]
async fn the_group_key_stores_and_reads_every_group_namespace() {
    let f = fixture();
    let admin = admin();
    for ns in GROUP_NAMESPACES {
        let resp = rpc(&f, admin_store(&admin, ns, &[ns as u8; 8])).await;
        assert_eq!(resp.status, 200, "ns {ns}: {}", text(&resp));
    }
    for ns in GROUP_NAMESPACES {
        let got = messages(&rpc(&f, admin_retrieve(&admin, ns)).await);
        assert_eq!(got, vec![vec![ns as u8; 8]], "ns {ns}");
    }
    // Unsigned reads and writes of a group namespace are refused (only −10 and public
    // outboxes are readable without a signature; only public inboxes writable).
    for ns in GROUP_NAMESPACES {
        // (A namespace that needs a signature makes the parser expect one: 400 without.)
        let resp = rpc(&f, Retrieve::new(group_of(&admin), Namespace::new(ns))).await;
        assert!(matches!(resp.status, 400 | 401), "ns {ns}: {}", text(&resp));
        let resp = rpc(&f, unsigned_store(&admin, ns, b"anon")).await;
        assert_eq!(resp.status, 401, "ns {ns}: {}", text(&resp));
    }
    // Another key is not the group's.
    let mallory = GroupAdmin::from_seed(&[0x66; 32]).unwrap();
    let forged =
        unsigned_store(&admin, 11, b"forged").signed(&Signer::ed25519(mallory.signing_key()), NOW);
    assert_eq!(rpc(&f, forged).await.status, 401);
    assert_eq!(stored(&f).await, GROUP_NAMESPACES.len() as u64);
}

#[tokio::test]
async fn a_member_token_reads_and_writes_as_its_flags_allow() {
    let f = fixture();
    let (admin, bob) = (admin(), member());
    let writer = admin
        .make_subaccount(&bob.session_id(), member_flags(true, false))
        .unwrap();
    for ns in [11, 12, 13, 14] {
        let resp = rpc(&f, member_store(&admin, &bob, &writer, ns, b"from bob")).await;
        assert_eq!(resp.status, 200, "ns {ns}: {}", text(&resp));
        let got = messages(&rpc(&f, member_retrieve(&admin, &bob, &writer, ns)).await);
        assert_eq!(got, vec![b"from bob".to_vec()], "ns {ns}");
    }
    assert_eq!(stored(&f).await, 4);

    // A read-only token reads, but may not store.
    let reader = admin
        .make_subaccount(&bob.session_id(), member_flags(false, false))
        .unwrap();
    assert_eq!(
        messages(&rpc(&f, member_retrieve(&admin, &bob, &reader, 11)).await).len(),
        1
    );
    let resp = rpc(&f, member_store(&admin, &bob, &reader, 11, b"no")).await;
    assert_eq!(resp.status, 401, "{}", text(&resp));

    // Neither may delete without the delete flag; a token with it may.
    let hash = unsigned_store(&admin, 11, b"from bob").message_hash();
    let del = |auth: &SubaccountAuth| {
        let mut d = Delete::new(
            group_of(&admin),
            vec![hash],
            &Signer::ed25519(admin.signing_key()),
        );
        let sig = auth
            .sign(bob.ed25519_secret(), &d.signed_message())
            .unwrap();
        d.auth = sig.to_auth();
        d
    };
    assert_eq!(rpc(&f, Request::Delete(del(&writer))).await.status, 401);
    assert_eq!(stored(&f).await, 4);
    let deleter = admin
        .make_subaccount(&bob.session_id(), member_flags(true, true))
        .unwrap();
    let resp = rpc(&f, Request::Delete(del(&deleter))).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    assert_eq!(stored(&f).await, 3);

    // The key is bound to its member: another account using bob's auth data signs with the
    // wrong subaccount key.
    let carol = Account::from_ed25519_seed(&[0x43; 32]);
    let resp = rpc(&f, member_store(&admin, &carol, &writer, 11, b"carol")).await;
    assert_eq!(resp.status, 401, "{}", text(&resp));
    assert_eq!(stored(&f).await, 3);
}

#[tokio::test]
async fn a_token_of_another_group_is_refused() {
    let f = fixture();
    let (admin, bob) = (admin(), member());
    let other = GroupAdmin::from_seed(&[0x48; 32]).unwrap();
    let foreign = other
        .make_subaccount(&bob.session_id(), member_flags(true, true))
        .unwrap();
    // Signed as a member of `other`, sent to `admin`'s group.
    let mut req = unsigned_store(&admin, 11, b"x");
    req.sig_timestamp = Some(NOW);
    req.auth = Some(
        foreign
            .sign(bob.ed25519_secret(), &req.signed_message())
            .unwrap()
            .to_auth(),
    );
    let resp = rpc(&f, req).await;
    assert_eq!(resp.status, 401, "{}", text(&resp));
    let resp = rpc(&f, member_retrieve(&admin, &bob, &foreign, 11)).await;
    assert_eq!(resp.status, 401, "{}", text(&resp));
    assert_eq!(stored(&f).await, 0);
}

/// An edit of a request's JSON parameters.
type Edit = dyn Fn(&mut serde_json::Map<String, serde_json::Value>);

/// A revoked member: reads of −11 only; no write anywhere; nothing stored.
async fn refused_everywhere_but_minus_11(
    f: &Fixture,
    admin: &GroupAdmin,
    bob: &Account,
    auth: &SubaccountAuth,
) {
    for ns in GROUP_NAMESPACES {
        let read = rpc(f, member_retrieve(admin, bob, auth, ns)).await;
        if ns == -11 {
            assert_eq!(messages(&read), vec![b"before".to_vec()]);
        } else {
            assert_eq!(read.status, 401, "ns {ns}: {}", text(&read));
        }
        // Writing is refused everywhere, −11 included (only reads ignore revocation).
        let write = rpc(f, member_store(admin, bob, auth, ns, b"after")).await;
        assert_eq!(write.status, 401, "ns {ns}: {}", text(&write));
    }
    assert_eq!(stored(f).await, GROUP_NAMESPACES.len() as u64);
}

#[tokio::test]
async fn a_revoked_member_reads_only_the_unrevocable_namespace_until_unrevoked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let f = Fixture {
        node: node_at(&path),
        _dir: tempfile::tempdir().unwrap(),
    };
    let (admin, bob) = (admin(), member());
    let auth = admin
        .make_subaccount(&bob.session_id(), member_flags(true, false))
        .unwrap();
    for ns in GROUP_NAMESPACES {
        assert_eq!(
            rpc(&f, admin_store(&admin, ns, b"before")).await.status,
            200
        );
    }
    let resp = rpc(&f, revocation(&admin, Revocation::Revoke, &bob, true)).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    let swarm = SwarmResponse::parse(Method::RevokeSubaccount, &resp.body, Encoding::Json).unwrap();
    assert!(
        swarm
            .swarm
            .values()
            .all(|o| matches!(o, NodeOutcome::Ok(NodeResult::Revocation(_)))),
        "{swarm:?}"
    );

    refused_everywhere_but_minus_11(&f, &admin, &bob, &auth).await;

    // The revocation is in the database: a new node over the same file still refuses.
    drop(f);
    let f = Fixture {
        node: node_at(&path),
        _dir: tempfile::tempdir().unwrap(),
    };
    refused_everywhere_but_minus_11(&f, &admin, &bob, &auth).await;

    // A member's own subaccount cannot unrevoke itself (revocation is the group key's alone).
    let own = SubaccountRevocation::new(
        Revocation::Unrevoke,
        group_of(&admin),
        vec![
            admin
                .subaccount_token(&bob.session_id(), member_flags(true, false))
                .unwrap(),
        ],
        NOW,
        &Signer::ed25519(bob.ed25519_secret()),
    );
    assert_eq!(rpc(&f, Request::Revocation(own)).await.status, 401);
    refused_everywhere_but_minus_11(&f, &admin, &bob, &auth).await;

    let unrevoke = revocation_at(&admin, Revocation::Unrevoke, &bob, true, NOW + 1000);
    let resp = rpc(&f, unrevoke).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    let resp = rpc(&f, member_store(&admin, &bob, &auth, 11, b"after")).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    assert_eq!(
        messages(&rpc(&f, member_retrieve(&admin, &bob, &auth, 11)).await),
        vec![b"before".to_vec(), b"after".to_vec()]
    );
    drop(dir);
}

#[tokio::test]
async fn malformed_subaccount_parameters_change_nothing() {
    let f = fixture();
    let (admin, bob) = (admin(), member());
    let auth = admin
        .make_subaccount(&bob.session_id(), member_flags(true, false))
        .unwrap();
    let good = Request::from(member_store(&admin, &bob, &auth, 11, b"x")).params_json();
    let send_with = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut params = good.as_object().unwrap().clone();
        edit(&mut params);
        let body = serde_json::json!({"method": "store", "params": params});
        send(&f.node, serde_json::to_vec(&body).unwrap())
    };
    let cases: Vec<(&str, u16, Box<Edit>)> = vec![
        (
            "short token",
            400,
            Box::new(|p| {
                p.insert("subaccount".into(), "AAAA".into());
            }),
        ),
        (
            "token of 37 bytes in hex",
            400,
            Box::new(|p| {
                p.insert("subaccount".into(), "03".repeat(37).into());
            }),
        ),
        (
            "token without subaccount_sig",
            400,
            Box::new(|p| {
                p.remove("subaccount_sig");
            }),
        ),
        (
            "subaccount_sig not base64",
            400,
            Box::new(|p| {
                p.insert("subaccount_sig".into(), "!!".repeat(44).into());
            }),
        ),
        (
            "subaccount_sig of another token",
            401,
            Box::new(|p| {
                let sig = p["signature"].clone();
                p.insert("subaccount_sig".into(), sig);
            }),
        ),
        (
            "token with a flipped key byte",
            401,
            Box::new(|p| {
                let mut t = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    p["subaccount"].as_str().unwrap(),
                )
                .unwrap();
                t[10] ^= 1;
                p.insert("subaccount".into(), hex::encode(t).into());
            }),
        ),
        (
            "token claiming write+delete",
            401,
            Box::new(|p| {
                let mut t = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    p["subaccount"].as_str().unwrap(),
                )
                .unwrap();
                t[1] |= 0x04;
                p.insert("subaccount".into(), hex::encode(t).into());
            }),
        ),
    ];
    for (what, status, edit) in &cases {
        let resp = send_with(edit.as_ref()).await;
        assert_eq!(resp.status, *status, "{what}: {}", text(&resp));
        assert_eq!(stored(&f).await, 0, "{what}");
    }
    // The unedited request is accepted.
    let resp = send_with(&|_| {}).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    assert_eq!(stored(&f).await, 1);

    // A revocation listing a malformed token changes nothing either.
    let bad = serde_json::json!({"method": "revoke_subaccount", "params": {
        "pubkey": hex::encode(group_of(&admin).to_bytes()),
        "revoke": ["zz"], "timestamp": NOW, "signature": "A".repeat(86)}});
    let resp = send(&f.node, serde_json::to_vec(&bad).unwrap()).await;
    assert_eq!(resp.status, 400, "{}", text(&resp));
    assert_eq!(
        messages(&rpc(&f, member_retrieve(&admin, &bob, &auth, 11)).await).len(),
        1
    );
}
