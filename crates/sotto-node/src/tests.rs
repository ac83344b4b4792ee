//! Request handling over a real store in a temporary directory: every refusal leaves the
//! store unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value as Json;
use sotto_crypto::{Ed25519SecretKey, OsRng};
use sotto_identity::Account;
use sotto_onion::{Destination, EncType, NodeKeys};
use sotto_rpc::request::{
    Delete, DeleteAll, Expire, ExpireMode, Lifetime, Retrieve, Store as StoreReq,
};
use sotto_rpc::response::{GetSwarmResponse, NodeOutcome, NodeResult, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Namespaces, Request, Signer};
use sotto_store::Store;
use sotto_swarm::{NodeListing, NodeVersion, SwarmId};
use sotto_transport::{HttpsClient, Response};

use crate::node::Node;
use crate::peer_auth;
use crate::view::{NetworkView, NodeList};
use crate::wire::{BatchAnswer, ForwardBatch, Forwarded, NEXT_ROW_HEADER, SyncRequest};

const NOW: u64 = 1_750_000_000_000;
const DAY: u64 = 24 * 3600 * 1000;
const OTHER_SWARM: u64 = 1 << 63;

struct Fixture {
    node: Arc<Node>,
    key: Ed25519SecretKey,
    other: Ed25519SecretKey,
    _dir: tempfile::TempDir,
}

fn listing(key: &Ed25519SecretKey, last_octet: u8, port: u16, swarm: u64) -> NodeListing {
    NodeListing::new(
        key.public_key(),
        Ipv4Addr::new(127, 0, 0, last_octet),
        port,
        SwarmId(swarm),
        NodeVersion::from([2, 8, 0]),
    )
    .unwrap()
}

/// A node in swarm 0 (alone) and another node in swarm 2^63.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.db"), 64 << 20).unwrap();
    let key = Ed25519SecretKey::from_seed(&[1; 32]);
    let other = Ed25519SecretKey::from_seed(&[2; 32]);
    let node = Arc::new(Node::new(key.clone(), store, HttpsClient::new()).unwrap());
    node.set_view(NetworkView::new(
        key.public_key(),
        NodeList {
            height: 3,
            block_hash: "00".repeat(32),
            nodes: vec![
                listing(&key, 1, 22021, 0),
                listing(&other, 2, 22021, OTHER_SWARM),
            ],
        },
    ));
    Fixture {
        node,
        key,
        other,
        _dir: dir,
    }
}

/// The fixture plus a swarm peer of the node (seed 3, at 127.0.0.3), returned as the third
/// key.
fn fixture_with_peer() -> (Fixture, Ed25519SecretKey) {
    let f = fixture();
    let peer = Ed25519SecretKey::from_seed(&[3; 32]);
    let mut list = f.node.view().list().clone();
    list.nodes.push(listing(&peer, 3, 22021, 0));
    f.node.set_view(NetworkView::new(f.key.public_key(), list));
    (f, peer)
}

/// A Session account whose messages live in swarm `swarm` of the fixture.
fn account_in(swarm: u64) -> Account {
    (0u8..=255)
        .map(|i| Account::from_ed25519_seed(&[i; 32]))
        .find(|a| {
            let id = AccountId::from(a.session_id());
            let ids: sotto_swarm::SwarmIds = [0, OTHER_SWARM].into_iter().map(SwarmId).collect();
            ids.pick(sotto_swarm::swarm_space(id.key())).unwrap() == SwarmId(swarm)
        })
        .unwrap()
}

fn http(path: &str, body: Vec<u8>, ip: u8) -> sotto_transport::Request {
    sotto_transport::Request {
        method: "POST".into(),
        path: path.into(),
        headers: Vec::new(),
        body: Bytes::from(body),
        peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, ip)), 5555),
    }
}

async fn rpc(f: &Fixture, request: &Request) -> Response {
    f.node
        .handle(http("/storage_rpc/v1", request.to_http_body(), 1), NOW)
        .await
}

async fn rpc_raw(f: &Fixture, body: &str) -> Response {
    f.node
        .handle(http("/storage_rpc/v1", body.as_bytes().to_vec(), 1), NOW)
        .await
}

async fn stored(f: &Fixture) -> u64 {
    f.node.with_store(|s| s.usage()).await.unwrap().messages
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn store_req(account: &Account, ns: Namespace, data: &[u8], ttl: u64) -> StoreReq {
    StoreReq::new(
        AccountId::from(account.session_id()),
        ns,
        data.to_vec(),
        NOW,
        Lifetime::Ttl(ttl),
    )
}

#[tokio::test]
async fn store_retrieve_with_signed_results() {
    let f = fixture();
    let alice = account_in(0);
    let req = store_req(&alice, Namespace::DEFAULT, b"hello", DAY);
    let resp = rpc(&f, &Request::from(req.clone())).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    let swarm = SwarmResponse::parse(Method::Store, &resp.body, Encoding::Json).unwrap();
    assert_eq!(swarm.hash, Some(req.message_hash()));
    let Some(NodeOutcome::Ok(NodeResult::Store(mine))) = swarm.swarm.get(&f.key.public_key())
    else {
        panic!("no result from this node: {swarm:?}");
    };
    mine.verify(&f.key.public_key(), &req).unwrap();
    assert!(!mine.already);
    // Storing again says "already".
    let again = rpc(&f, &Request::from(req.clone())).await;
    let again = SwarmResponse::parse(Method::Store, &again.body, Encoding::Json).unwrap();
    assert!(matches!(
        again.swarm.get(&f.key.public_key()),
        Some(NodeOutcome::Ok(NodeResult::Store(r))) if r.already
    ));

    let signer = Signer::session(alice.ed25519_secret());
    let get =
        Retrieve::new(AccountId::from(alice.session_id()), Namespace::DEFAULT).signed(&signer, NOW);
    let resp = rpc(&f, &Request::from(get)).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    let page = sotto_rpc::response::RetrieveResponse::parse(&resp.body, Encoding::Json).unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].data, b"hello");
    assert_eq!(page.messages[0].expiration, NOW + DAY);
    assert_eq!(page.meta.t, Some(NOW));
}

#[tokio::test]
async fn refusals_leave_the_store_unchanged() {
    let f = fixture();
    let alice = account_in(0);
    let signer = Signer::session(alice.ed25519_secret());
    let mallory = Account::from_ed25519_seed(&[0xee; 32]);
    let wrong_signer = Signer::session(mallory.ed25519_secret());
    let ns = Namespace::USER_PROFILE;

    let cases: Vec<(&str, Request, u16)> = vec![
        (
            "unsigned private namespace",
            store_req(&alice, ns, b"x", DAY).into(),
            401,
        ),
        (
            "bad signature",
            store_req(&alice, ns, b"x", DAY)
                .signed(&wrong_signer, NOW)
                .into(),
            401,
        ),
        (
            "stale signature timestamp",
            store_req(&alice, ns, b"x", DAY)
                .signed(&signer, NOW - 61_000)
                .into(),
            406,
        ),
        (
            "TTL below 10 s",
            store_req(&alice, Namespace::DEFAULT, b"x", 9_999).into(),
            403,
        ),
        (
            "TTL above 14 days in a public inbox",
            store_req(&alice, Namespace::DEFAULT, b"x", 15 * DAY).into(),
            403,
        ),
        (
            "timestamp from the future",
            StoreReq::new(
                AccountId::from(alice.session_id()),
                Namespace::DEFAULT,
                b"x".to_vec(),
                NOW + 11_000,
                Lifetime::Ttl(DAY),
            )
            .into(),
            406,
        ),
    ];
    for (what, request, status) in cases {
        let resp = rpc(&f, &request).await;
        assert_eq!(resp.status, status, "{what}: {}", text(&resp));
        assert_eq!(stored(&f).await, 0, "{what}");
    }

    // Oversize data: 76,801 bytes is refused, 76,800 accepted.
    let big = store_req(&alice, Namespace::DEFAULT, &vec![7u8; 76_801], DAY);
    let resp = rpc(&f, &Request::from(big)).await;
    assert_eq!(resp.status, 400, "{}", text(&resp));
    assert!(text(&resp).contains("76800"), "{}", text(&resp));
    assert_eq!(stored(&f).await, 0);
    let max = store_req(&alice, Namespace::DEFAULT, &vec![7u8; 76_800], DAY);
    assert_eq!(rpc(&f, &Request::from(max)).await.status, 200);
    assert_eq!(stored(&f).await, 1);

    // Malformed bodies.
    for (body, status) in [
        ("not json", 400),
        (r#"{"method":"nope","params":{}}"#, 400),
        (r#"{"method":"store","params":{"pubkey":"05"}}"#, 400),
    ] {
        let resp = rpc_raw(&f, body).await;
        assert_eq!(resp.status, status, "{body}: {}", text(&resp));
    }
    assert_eq!(stored(&f).await, 1);
}

#[tokio::test]
async fn wrong_swarm_is_421_with_the_right_swarm() {
    let f = fixture();
    let bob = account_in(OTHER_SWARM);
    let resp = rpc(&f, &store_req(&bob, Namespace::DEFAULT, b"x", DAY).into()).await;
    assert_eq!(resp.status, 421, "{}", text(&resp));
    let swarm = GetSwarmResponse::parse(&resp.body, Encoding::Json).unwrap();
    assert_eq!(swarm.swarm_id, OTHER_SWARM);
    assert_eq!(swarm.snodes.len(), 1);
    assert_eq!(swarm.snodes[0].pubkey_ed25519, f.other.public_key());
    assert_eq!(stored(&f).await, 0);
    // get_swarm answers for any account.
    let body = format!(
        r#"{{"method":"get_swarm","params":{{"pubkey":"{}"}}}}"#,
        AccountId::from(bob.session_id())
    );
    let resp = rpc_raw(&f, &body).await;
    assert_eq!(resp.status, 200);
    let swarm = GetSwarmResponse::parse(&resp.body, Encoding::Json).unwrap();
    assert_eq!(swarm.swarm_id, OTHER_SWARM);
}

#[tokio::test]
async fn not_ready_without_a_swarm() {
    let f = fixture();
    f.node.set_view(NetworkView::empty(f.key.public_key()));
    let alice = account_in(0);
    let resp = rpc(&f, &store_req(&alice, Namespace::DEFAULT, b"x", DAY).into()).await;
    assert_eq!(resp.status, 503, "{}", text(&resp));
    assert_eq!(stored(&f).await, 0);
    let info = rpc_raw(&f, r#"{"method":"info","params":{}}"#).await;
    assert_eq!(info.status, 200);
}

#[tokio::test]
async fn one_address_is_rate_limited_others_are_not() {
    let f = fixture();
    let body = br#"{"method":"info","params":{}}"#.to_vec();
    let mut statuses = Vec::new();
    for _ in 0..601 {
        let r = f
            .node
            .handle(http("/storage_rpc/v1", body.clone(), 7), NOW)
            .await;
        statuses.push(r.status);
    }
    assert!(statuses[..600].iter().all(|s| *s == 200));
    assert_eq!(statuses[600], 429);
    // A store from the flooded address is refused and leaves nothing behind.
    let alice = account_in(0);
    let store = Request::from(store_req(&alice, Namespace::DEFAULT, b"x", DAY));
    let r = f
        .node
        .handle(http("/storage_rpc/v1", store.to_http_body(), 7), NOW)
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(stored(&f).await, 0);
    // Another address is served.
    let r = f
        .node
        .handle(http("/storage_rpc/v1", body.clone(), 8), NOW)
        .await;
    assert_eq!(r.status, 200);
    // 100 ms later the flooded address has 30 tokens again.
    let r = f
        .node
        .handle(http("/storage_rpc/v1", body, 7), NOW + 100)
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_batch_and_its_bytes_cost_more_than_one_token() {
    let f = fixture();
    let info = r#"{"method":"info","params":{}}"#;
    // 20 subrequests: 20 tokens.
    let batch = format!(
        r#"{{"method":"batch","params":{{"requests":[{}]}}}}"#,
        vec![info; 20].join(",")
    );
    let r = f
        .node
        .handle(http("/storage_rpc/v1", batch.into_bytes(), 9), NOW)
        .await;
    assert_eq!(r.status, 200);
    // A 40 KiB body (padded with spaces): 1 + 10 tokens.
    let padded = format!("{info}{}", " ".repeat(40 * 1024));
    let r = f
        .node
        .handle(http("/storage_rpc/v1", padded.into_bytes(), 9), NOW)
        .await;
    assert_eq!(r.status, 200);
    let body = info.as_bytes().to_vec();
    let mut served = 0;
    while f
        .node
        .handle(http("/storage_rpc/v1", body.clone(), 9), NOW)
        .await
        .status
        == 200
    {
        served += 1;
        assert!(served <= 600, "requests are not charged by size");
    }
    assert_eq!(served, 600 - 20 - 11);
}

#[tokio::test]
async fn too_many_hashes_are_refused_before_the_store_is_touched() {
    let f = fixture();
    let alice = account_in(0);
    let account = AccountId::from(alice.session_id());
    let signer = Signer::session(alice.ed25519_secret());
    let hashes: Vec<sotto_rpc::MessageHash> = (0..=crate::rpc::MAX_HASHES_PER_REQUEST)
        .map(|i| sotto_rpc::MessageHash::parse(format!("{i:A>43}").as_bytes()).unwrap())
        .collect();
    let r = rpc(&f, &Request::Delete(Delete::new(account, hashes, &signer))).await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("Too many message hashes"));
}

#[tokio::test]
async fn delete_expire_and_batches() {
    let f = fixture();
    let alice = account_in(0);
    let account = AccountId::from(alice.session_id());
    let signer = Signer::session(alice.ed25519_secret());
    let a = store_req(&alice, Namespace::DEFAULT, b"a", DAY);
    let b = store_req(&alice, Namespace::DEFAULT, b"b", DAY);
    for r in [&a, &b] {
        assert_eq!(rpc(&f, &r.clone().into()).await.status, 200);
    }
    // expire (shorten) one message.
    let exp = Expire::new(
        account,
        vec![a.message_hash()],
        vec![NOW + 3_600_000],
        ExpireMode::Shorten,
        &signer,
    );
    let resp = rpc(&f, &Request::Expire(exp.clone())).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    let swarm = SwarmResponse::parse(Method::Expire, &resp.body, Encoding::Json).unwrap();
    let Some(NodeOutcome::Ok(NodeResult::Expire(r))) = swarm.swarm.get(&f.key.public_key()) else {
        panic!("{swarm:?}")
    };
    r.verify(&f.key.public_key(), &exp).unwrap();
    assert_eq!(r.updated, vec![a.message_hash()]);

    // delete with a bad signature: 401, nothing deleted.
    let mallory = Account::from_ed25519_seed(&[0xee; 32]);
    let forged = Delete::new(
        account,
        vec![a.message_hash()],
        &Signer::session(mallory.ed25519_secret()),
    );
    assert_eq!(rpc(&f, &Request::Delete(forged)).await.status, 401);
    assert_eq!(stored(&f).await, 2);
    let del = Delete::new(account, vec![a.message_hash()], &signer);
    let resp = rpc(&f, &Request::Delete(del.clone())).await;
    assert_eq!(resp.status, 200);
    let swarm = SwarmResponse::parse(Method::Delete, &resp.body, Encoding::Json).unwrap();
    let Some(NodeOutcome::Ok(NodeResult::Delete(r))) = swarm.swarm.get(&f.key.public_key()) else {
        panic!()
    };
    r.verify(&f.key.public_key(), &del).unwrap();
    assert_eq!(stored(&f).await, 1);
    // delete with `required` that deletes nothing: 404.
    let mut again = Delete::new(account, vec![a.message_hash()], &signer);
    again.required = true;
    assert_eq!(rpc(&f, &Request::Delete(again)).await.status, 404);

    // A sequence stops at the first failure; a batch runs everything.
    let stale = DeleteAll::new(account, Namespaces::All, NOW - 120_000, &signer);
    let good = DeleteAll::new(account, Namespaces::All, NOW, &signer);
    let seq = format!(
        r#"{{"method":"sequence","params":{{"requests":[{{"method":"delete_all","params":{}}},{{"method":"delete_all","params":{}}}]}}}}"#,
        Request::DeleteAll(stale.clone()).params_json(),
        Request::DeleteAll(good.clone()).params_json()
    );
    let resp = rpc_raw(&f, &seq).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    let results: Json = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(results["results"].as_array().unwrap().len(), 1);
    assert_eq!(results["results"][0]["code"], 406);
    assert_eq!(stored(&f).await, 1);
    let batch = seq.replace("\"sequence\"", "\"batch\"");
    let resp = rpc_raw(&f, &batch).await;
    let results: Json = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(results["results"][1]["code"], 200, "{results}");
    assert_eq!(stored(&f).await, 0);
}

fn signed_http(
    from: &Ed25519SecretKey,
    path: &str,
    body: Vec<u8>,
    now: u64,
) -> sotto_transport::Request {
    // Each fixture key calls from its listed address, 127.0.0.<seed>.
    let seed = (2u8..=3)
        .find(|i| Ed25519SecretKey::from_seed(&[*i; 32]).public_key() == from.public_key())
        .unwrap_or(9);
    let mut req = http(path, body.clone(), 2);
    req.peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, seed)), 5555);
    let to = Ed25519SecretKey::from_seed(&[1; 32]).public_key();
    req.headers = peer_auth::sign(from, &to, path, now, &body);
    req
}

#[tokio::test]
async fn forwarded_requests_need_a_listed_signer() {
    let (f, peer) = fixture_with_peer();
    let alice = account_in(0);
    let store = Request::from(store_req(&alice, Namespace::DEFAULT, b"fwd", DAY));
    let body = Forwarded {
        method: "store".into(),
        params: store.params_bencoded(),
    }
    .encode();
    // Unsigned: 400. Unlisted signer: 403. Bad signature: 401. Stale: 406.
    let r = f
        .node
        .handle(http("/sn/storage_cc", body.clone(), 2), NOW)
        .await;
    assert_eq!(r.status, 400, "{}", text(&r));
    let stranger = Ed25519SecretKey::from_seed(&[9; 32]);
    let r = f
        .node
        .handle(
            signed_http(&stranger, "/sn/storage_cc", body.clone(), NOW),
            NOW,
        )
        .await;
    assert_eq!(r.status, 403);
    // A listed node of another swarm: 403 (only swarm peers forward).
    let r = f
        .node
        .handle(
            signed_http(&f.other, "/sn/storage_cc", body.clone(), NOW),
            NOW,
        )
        .await;
    assert_eq!(r.status, 403, "{}", text(&r));
    // A listed peer calling from an address that is not its listed one: 403.
    let mut moved = signed_http(&peer, "/sn/storage_cc", body.clone(), NOW);
    moved.peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 5555);
    let r = f.node.handle(moved, NOW).await;
    assert_eq!(r.status, 403, "{}", text(&r));
    // Signed for another recipient: 401.
    let mut elsewhere = signed_http(&peer, "/sn/storage_cc", body.clone(), NOW);
    elsewhere.headers = peer_auth::sign(&peer, &f.other.public_key(), "/sn/storage_cc", NOW, &body);
    assert_eq!(f.node.handle(elsewhere, NOW).await.status, 401);
    let mut tampered = signed_http(&peer, "/sn/storage_cc", body.clone(), NOW);
    tampered.body = Bytes::from([&body[..], b" "].concat());
    assert_eq!(f.node.handle(tampered, NOW).await.status, 401);
    let stale = signed_http(&peer, "/sn/storage_cc", body.clone(), NOW - 61_000);
    assert_eq!(f.node.handle(stale, NOW).await.status, 406);
    assert_eq!(stored(&f).await, 0);
    // A listed peer's forwarded store runs here and answers this node's signed result.
    let r = f
        .node
        .handle(signed_http(&peer, "/sn/storage_cc", body, NOW), NOW)
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let result = NodeResult::parse(Method::Store, &r.body, Encoding::Bencode).unwrap();
    let (NodeResult::Store(s), Request::Store(req)) = (result, store) else {
        panic!()
    };
    s.verify(&f.key.public_key(), &req).unwrap();
    assert_eq!(stored(&f).await, 1);
    // A store for an account of the other swarm is refused, even from a peer.
    let bob = account_in(OTHER_SWARM);
    let foreign = Request::from(store_req(&bob, Namespace::DEFAULT, b"fwd", DAY));
    let body = Forwarded {
        method: "store".into(),
        params: foreign.params_bencoded(),
    }
    .encode();
    let r = f
        .node
        .handle(signed_http(&peer, "/sn/storage_cc", body, NOW), NOW)
        .await;
    assert_eq!(r.status, 403, "{}", text(&r));
    assert_eq!(stored(&f).await, 1);
    // A non-recursive method is refused.
    let body = Forwarded {
        method: "retrieve".into(),
        params: b"de".to_vec(),
    }
    .encode();
    let r = f
        .node
        .handle(signed_http(&peer, "/sn/storage_cc", body, NOW), NOW)
        .await;
    assert_eq!(r.status, 400);
}

/// `/sn/storage_batch`: only a swarm peer may send one; each request in it is checked and
/// executed in order and answered as `/sn/storage_cc` would answer it alone.
#[tokio::test]
async fn forwarded_batches_answer_each_request_in_order() {
    let (f, peer) = fixture_with_peer();
    let alice = account_in(0);
    let bob = account_in(OTHER_SWARM);
    let forwarded = |r: &Request| {
        Forwarded {
            method: r.method().name().into(),
            params: r.params_bencoded(),
        }
        .encode()
    };
    let first = Request::from(store_req(&alice, Namespace::DEFAULT, b"b1", DAY));
    let foreign = Request::from(store_req(&bob, Namespace::DEFAULT, b"b2", DAY));
    let second = Request::from(store_req(&alice, Namespace::DEFAULT, b"b3", DAY));
    let batch = ForwardBatch {
        items: vec![
            forwarded(&first),
            forwarded(&foreign),
            b"garbage".to_vec(),
            forwarded(&second),
            // The same store again: idempotent, answered as already stored.
            forwarded(&first),
        ],
    }
    .encode();
    // Not from a swarm peer: refused as a whole, nothing stored.
    let r = f
        .node
        .handle(
            signed_http(&f.other, "/sn/storage_batch", batch.clone(), NOW),
            NOW,
        )
        .await;
    assert_eq!(r.status, 403, "{}", text(&r));
    let r = f
        .node
        .handle(http("/sn/storage_batch", batch.clone(), 2), NOW)
        .await;
    assert_eq!(r.status, 400, "{}", text(&r));
    assert_eq!(stored(&f).await, 0);
    // Not a batch: 400.
    let r = f
        .node
        .handle(
            signed_http(&peer, "/sn/storage_batch", b"i1e".to_vec(), NOW),
            NOW,
        )
        .await;
    assert_eq!(r.status, 400, "{}", text(&r));

    let r = f
        .node
        .handle(signed_http(&peer, "/sn/storage_batch", batch, NOW), NOW)
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let answer = BatchAnswer::parse(&r.body).unwrap();
    let statuses: Vec<u16> = answer.items.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 403, 400, 200, 200]);
    for (i, req) in [(0, &first), (3, &second), (4, &first)] {
        let result =
            NodeResult::parse(Method::Store, &answer.items[i].body, Encoding::Bencode).unwrap();
        let (NodeResult::Store(s), Request::Store(req)) = (result, req) else {
            panic!()
        };
        s.verify(&f.key.public_key(), req).unwrap();
    }
    assert_eq!(stored(&f).await, 2);
}

#[tokio::test]
async fn sync_pages_resume() {
    let (f, peer) = fixture_with_peer();
    let alice = account_in(0);
    let now = sotto_node_now();
    for i in 0..5u8 {
        let s = StoreReq::new(
            AccountId::from(alice.session_id()),
            Namespace::new(i16::from(i) * 10),
            vec![i; 1000],
            now,
            Lifetime::Ttl(DAY),
        );
        assert_eq!(
            f.node
                .handle(
                    http("/storage_rpc/v1", Request::from(s).to_http_body(), 1),
                    now
                )
                .await
                .status,
            200
        );
    }
    let mut after = 0i64;
    let mut got = 0;
    for _ in 0..10 {
        let range = f.node.view().my_range().unwrap();
        let body = SyncRequest {
            lower: range.lower_exclusive(),
            upper: range.upper_inclusive(),
            after_row: after,
            max_bytes: 2500,
        }
        .to_json();
        let r = f
            .node
            .handle(signed_http(&peer, "/sn/sync", body, now), now)
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let msgs = sotto_rpc::replication::parse_blob(&r.body).unwrap();
        if msgs.is_empty() {
            break;
        }
        assert!(msgs.len() <= 2);
        got += msgs.len();
        after = crate::wire::parse_next_row(r.header(NEXT_ROW_HEADER).unwrap()).unwrap();
    }
    assert_eq!(got, 5);
    let bad = f
        .node
        .handle(signed_http(&peer, "/sn/sync", b"{}".to_vec(), now), now)
        .await;
    assert_eq!(bad.status, 400);
    // The whole space, a range of the other swarm, or a node of the other swarm asking for
    // its own range: 403, nothing served.
    let other = f.node.view().range_of(SwarmId(OTHER_SWARM)).unwrap();
    for (from, lower, upper) in [
        (&peer, 0, 0),
        (&peer, 5, 5),
        (&peer, other.lower_exclusive(), other.upper_inclusive()),
        (&f.other, other.lower_exclusive(), other.upper_inclusive()),
        (&f.other, 0, 0),
    ] {
        let body = SyncRequest {
            lower,
            upper,
            after_row: 0,
            max_bytes: 1 << 20,
        }
        .to_json();
        let r = f
            .node
            .handle(signed_http(from, "/sn/sync", body, now), now)
            .await;
        assert_eq!(r.status, 403, "{lower}..{upper}: {}", text(&r));
        assert!(sotto_rpc::replication::parse_blob(&r.body).is_err());
    }
}

fn sotto_node_now() -> u64 {
    crate::node::unix_now_ms()
}

#[tokio::test]
async fn ping_and_unknown_paths() {
    let f = fixture();
    let r = f
        .node
        .handle(http("/ping_test/v1", Vec::new(), 1), NOW)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-oxen-snode-pubkey").is_some());
    assert_eq!(
        f.node
            .handle(http("/nope", Vec::new(), 1), NOW)
            .await
            .status,
        404
    );
    let mut get = http("/storage_rpc/v1", Vec::new(), 1);
    get.method = "GET".into();
    assert_eq!(f.node.handle(get, NOW).await.status, 405);
}

#[tokio::test]
async fn onion_errors_are_plaintext_or_encrypted_as_specified() {
    let f = fixture();
    // Garbage: plaintext 400.
    let r = f
        .node
        .handle(http("/onion_req/v2", b"\x05\0\0\0abcde{}".to_vec(), 1), NOW)
        .await;
    assert_eq!(r.status, 400, "{}", text(&r));
    // A layer for another node does not decrypt: plaintext "Invalid ciphertext".
    let other = NodeKeys::from_ed25519(f.other.public_key()).unwrap();
    let me = NodeKeys::from_ed25519(f.key.public_key()).unwrap();
    let onion = sotto_onion::build(
        &[other],
        &Destination::Node {
            node: me,
            rpc: br#"{"method":"info","params":{}}"#,
        },
        EncType::XChaCha20,
        &mut OsRng,
    )
    .unwrap();
    let r = f
        .node
        .handle(http("/onion_req/v2", onion.body, 1), NOW)
        .await;
    assert_eq!((r.status, text(&r).as_str()), (400, "Invalid ciphertext"));
    // A relay to an unlisted node: a 502 whose text, naming the node, is sealed for the
    // client with this hop's key (never in plain text for the hops before it).
    let stranger =
        NodeKeys::from_ed25519(Ed25519SecretKey::from_seed(&[9; 32]).public_key()).unwrap();
    let onion = sotto_onion::build(
        &[me],
        &Destination::Node {
            node: stranger,
            rpc: b"{}",
        },
        EncType::AesGcm,
        &mut OsRng,
    )
    .unwrap();
    let r = f
        .node
        .handle(http("/onion_req/v2", onion.body, 1), NOW)
        .await;
    assert_eq!(r.status, 502);
    assert!(
        !text(&r).contains(&hex::encode(stranger.ed25519.0)),
        "{}",
        text(&r)
    );
    let (hop, error) = sotto_onion::relay_error::open(&onion.hop_keys, &r.body).unwrap();
    assert_eq!(hop, 0);
    assert_eq!(
        error.text,
        format!("Next node not found: {}", hex::encode(stranger.ed25519.0))
    );
}

/// A real HTTPS server for this node so an onion can be relayed to itself: path [me], and
/// the destination is me again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onion_to_self_serves_the_rpc_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let key = Ed25519SecretKey::from_seed(&[4; 32]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let store = Store::open(&dir.path().join("store.db"), 16 << 20).unwrap();
    let node = Arc::new(Node::new(key.clone(), store, HttpsClient::new()).unwrap());
    node.set_view(NetworkView::new(
        key.public_key(),
        NodeList {
            height: 1,
            block_hash: String::new(),
            nodes: vec![listing(&key, 1, port, 0)],
        },
    ));
    let tls = sotto_transport::TlsIdentity::new(&key).unwrap();
    let handler = {
        let node = Arc::clone(&node);
        move |req| {
            let node = Arc::clone(&node);
            async move { node.handle(req, crate::node::unix_now_ms()).await }
        }
    };
    let server = tokio::spawn(sotto_transport::serve(listener, tls, 1 << 20, handler));
    let me = NodeKeys::from_ed25519(key.public_key()).unwrap();
    let onion = sotto_onion::build(
        &[me],
        &Destination::Node {
            node: me,
            rpc: br#"{"method":"info","params":{}}"#,
        },
        EncType::AesGcm,
        &mut OsRng,
    )
    .unwrap();
    let r = node
        .handle(
            http("/onion_req/v2", onion.body, 1),
            crate::node::unix_now_ms(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let answer = onion.response_key.open_v3(&r.body).unwrap();
    assert_eq!(answer.status, 200);
    let info: Json = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(info["version"], serde_json::json!([2, 8, 0]));
    server.abort();
}

/// S-19: a list with a lower height than the one held is refused (a replayed or rolled-back
/// list keeps its valid signature); a higher one is installed.
#[tokio::test]
async fn an_older_list_is_refused() {
    let f = fixture();
    let generation = Arc::new(crate::sync::SyncGeneration::default());
    let held = f.node.view().list().clone();
    let older = NodeList {
        height: held.height - 1,
        block_hash: "11".repeat(32),
        nodes: vec![listing(&f.key, 1, 22021, 0)],
    };
    assert!(!crate::directory::apply_list(&f.node, older, &generation));
    assert_eq!(*f.node.view().list(), held);
    let newer = NodeList {
        height: held.height + 1,
        block_hash: "22".repeat(32),
        nodes: vec![listing(&f.key, 1, 22021, 0)],
    };
    assert!(crate::directory::apply_list(
        &f.node,
        newer.clone(),
        &generation
    ));
    assert_eq!(*f.node.view().list(), newer);
}

/// Client strings reach the debug log only truncated and escaped (S-14).
#[test]
fn untrusted_strings_are_truncated_and_escaped_for_logs() {
    let shown = crate::node::loggable("/x\n2026-12-07T00:00:00Z  INFO forged\u{1b}[0m");
    assert!(
        !shown.contains('\n') && !shown.contains('\u{1b}'),
        "{shown}"
    );
    let long = crate::node::loggable(&"a".repeat(1 << 20));
    assert!(long.chars().count() <= 161, "{} characters", long.len());
    assert_eq!(crate::node::loggable("no method x"), "no method x");
}
