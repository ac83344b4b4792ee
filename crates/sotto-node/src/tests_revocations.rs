//! Subaccount revocations kept as the group's signed requests and caught up between nodes:
//! an old revoke counts on the strength of its signature, a forged one (or anything that is
//! not the owner's revoke) is ignored, a stale unrevoke never lifts a later revoke, and what
//! one node serves on `/sn/revocations` makes another refuse the revoked member.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use sotto_crypto::Ed25519SecretKey;
use sotto_groups::auth::member_flags;
use sotto_groups::{GroupAdmin, SubaccountAuth};
use sotto_identity::Account;
use sotto_rpc::request::{Delete, Retrieve, Revocation, SubaccountRevocation, TimedAuth};
use sotto_rpc::{AccountId, Namespace, Request, Signer, to_sign};
use sotto_store::Store;
use sotto_swarm::{NodeListing, NodeVersion, SwarmId, swarm_space};
use sotto_transport::{HttpsClient, Response};

use crate::node::Node;
use crate::peer_auth;
use crate::rpc::delete_proof;
use crate::sync::{RevocationsPulled, Span};
use crate::view::{NetworkView, NodeList};
use crate::wire::{RevocationsAnswer, RevocationsQuery};

const NOW: u64 = 1_750_000_000_000;
const HOUR: u64 = 3600 * 1000;

fn listing(key: &Ed25519SecretKey, last_octet: u8) -> NodeListing {
    NodeListing::new(
        key.public_key(),
        Ipv4Addr::new(127, 0, 0, last_octet),
        22021,
        SwarmId(0),
        NodeVersion::from([2, 8, 0]),
    )
    .unwrap()
}

fn node_key() -> Ed25519SecretKey {
    Ed25519SecretKey::from_seed(&[1; 32])
}

fn peer_key() -> Ed25519SecretKey {
    Ed25519SecretKey::from_seed(&[3; 32])
}

/// A node (seed 1, 127.0.0.1) in swarm 0, alone or with its peer (seed 3, 127.0.0.3).
fn node_at(path: &Path, with_peer: bool) -> Arc<Node> {
    let store = Store::open(path, 64 << 20).unwrap();
    let node = Arc::new(Node::new(node_key(), store, HttpsClient::new()).unwrap());
    set_peers(&node, with_peer);
    node
}

fn set_peers(node: &Arc<Node>, with_peer: bool) {
    let mut nodes = vec![listing(&node_key(), 1)];
    if with_peer {
        nodes.push(listing(&peer_key(), 3));
    }
    node.set_view(NetworkView::new(
        node_key().public_key(),
        NodeList {
            height: 3,
            block_hash: "00".repeat(32),
            nodes,
        },
    ));
}

fn http(path: &str, body: Vec<u8>) -> sotto_transport::Request {
    sotto_transport::Request {
        method: "POST".into(),
        path: path.into(),
        headers: Vec::new(),
        body: Bytes::from(body),
        peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 5555),
    }
}

/// A node-to-node request from the peer.
fn from_peer(path: &str, body: Vec<u8>, now: u64) -> sotto_transport::Request {
    let mut req = http(path, body.clone());
    req.peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), 5555);
    req.headers = peer_auth::sign(&peer_key(), &node_key().public_key(), path, now, &body);
    req
}

async fn rpc(node: &Arc<Node>, request: impl Into<Request>) -> Response {
    node.handle(http("/storage_rpc/v1", request.into().to_http_body()), NOW)
        .await
}

fn admin() -> GroupAdmin {
    GroupAdmin::from_seed(&[0x47; 32]).unwrap()
}

fn group_of(admin: &GroupAdmin) -> AccountId {
    AccountId::from_bytes(&admin.group_id().to_bytes())
}

/// The piece of the whole space (a lone swarm asks in halves) holding the group.
fn span_of(node: &Node, admin: &GroupAdmin) -> Span {
    let range = node.view().my_range().unwrap();
    let space = swarm_space(group_of(admin).key());
    Span::pieces(&range)
        .into_iter()
        .find(|s| s.contains(space))
        .unwrap()
}

fn revocation(admin: &GroupAdmin, kind: Revocation, who: &Account, ts: u64) -> Request {
    revocation_by(admin, kind, who, ts, admin.signing_key())
}

fn revocation_by(
    admin: &GroupAdmin,
    kind: Revocation,
    who: &Account,
    ts: u64,
    signer: &Ed25519SecretKey,
) -> Request {
    let token = admin
        .subaccount_token(&who.session_id(), member_flags(true, false))
        .unwrap();
    Request::Revocation(SubaccountRevocation::new(
        kind,
        group_of(admin),
        vec![token],
        ts,
        &Signer::ed25519(signer),
    ))
}

/// Node `node`'s status for a read of namespace 11 by `who` (200, or 401 when revoked).
async fn member_read(node: &Arc<Node>, admin: &GroupAdmin, who: &Account) -> u16 {
    let auth: SubaccountAuth = admin
        .make_subaccount(&who.session_id(), member_flags(true, false))
        .unwrap();
    let ns = Namespace::new(11);
    let sig = auth
        .sign(who.ed25519_secret(), &to_sign::retrieve(ns, NOW))
        .unwrap();
    let mut req = Retrieve::new(group_of(admin), ns);
    req.auth = Some(TimedAuth {
        timestamp: NOW,
        auth: sig.to_auth(),
    });
    rpc(node, req).await.status
}

fn proof(request: &Request) -> Vec<u8> {
    delete_proof(request)
}

async fn pull(node: &Arc<Node>, admin: &GroupAdmin, proofs: Vec<Vec<u8>>) -> RevocationsPulled {
    let span = span_of(node, admin);
    node.apply_pulled_revocations(proofs, &span, NOW)
        .await
        .unwrap()
}

#[tokio::test]
async fn catch_up_takes_old_signed_revocations_in_time_order_and_ignores_forgeries() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_at(&dir.path().join("store.db"), false);
    let admin = admin();
    let bob = Account::from_ed25519_seed(&[0x4d; 32]);
    let carol = Account::from_ed25519_seed(&[0x4e; 32]);
    assert_eq!(member_read(&node, &admin, &bob).await, 200);

    // A revoke made three hours ago, far outside the 60 s window of a client request, counts
    // in catch-up on the strength of the group's signature.
    let old_revoke = proof(&revocation(
        &admin,
        Revocation::Revoke,
        &bob,
        NOW - 3 * HOUR,
    ));
    assert_eq!(
        rpc(
            &node,
            revocation(&admin, Revocation::Revoke, &bob, NOW - 3 * HOUR)
        )
        .await
        .status,
        406,
        "a client may not send it this late"
    );
    // In one page with an unrevoke older than it (listed after it): applied in time order,
    // so the revoke stands.
    let older_unrevoke = proof(&revocation(
        &admin,
        Revocation::Unrevoke,
        &bob,
        NOW - 4 * HOUR,
    ));
    let got = pull(
        &node,
        &admin,
        vec![old_revoke.clone(), older_unrevoke.clone()],
    )
    .await;
    assert_eq!(
        got,
        RevocationsPulled {
            applied: 2,
            stale: 0,
            ignored: 0
        }
    );
    assert_eq!(member_read(&node, &admin, &bob).await, 401);
    // Again, later, alone: still stale.
    let got = pull(&node, &admin, vec![older_unrevoke]).await;
    assert_eq!((got.applied, got.stale), (0, 1));
    assert_eq!(member_read(&node, &admin, &bob).await, 401);

    // Forgeries: a revoke of carol signed by another key, by carol herself, one with its
    // timestamp changed after signing, a revoke far ahead of the clock, a delete, and junk.
    let mallory = GroupAdmin::from_seed(&[0x66; 32]).unwrap();
    let by_mallory = revocation_by(
        &admin,
        Revocation::Revoke,
        &carol,
        NOW,
        mallory.signing_key(),
    );
    let by_carol = revocation_by(
        &admin,
        Revocation::Revoke,
        &carol,
        NOW,
        carol.ed25519_secret(),
    );
    let Request::Revocation(mut altered) = revocation(&admin, Revocation::Revoke, &carol, NOW)
    else {
        unreachable!()
    };
    altered.timestamp += 1;
    let ahead = revocation(&admin, Revocation::Revoke, &carol, NOW + HOUR);
    let delete = Request::Delete(Delete::new(
        group_of(&admin),
        vec![],
        &Signer::ed25519(admin.signing_key()),
    ));
    let forged = vec![
        proof(&by_mallory),
        proof(&by_carol),
        proof(&Request::Revocation(altered)),
        proof(&ahead),
        proof(&delete),
        b"junk".to_vec(),
    ];
    let got = pull(&node, &admin, forged).await;
    assert_eq!(
        got,
        RevocationsPulled {
            applied: 0,
            stale: 0,
            ignored: 6
        }
    );
    assert_eq!(member_read(&node, &admin, &carol).await, 200);
    // A forged unrevoke of bob (newer than his revoke) does not lift it either.
    let forged_lift = revocation_by(
        &admin,
        Revocation::Unrevoke,
        &bob,
        NOW,
        mallory.signing_key(),
    );
    assert_eq!(
        pull(&node, &admin, vec![proof(&forged_lift)]).await.ignored,
        1
    );
    assert_eq!(member_read(&node, &admin, &bob).await, 401);

    // A genuine unrevoke newer than the revoke lifts it.
    let lift = proof(&revocation(
        &admin,
        Revocation::Unrevoke,
        &bob,
        NOW - 2 * HOUR,
    ));
    assert_eq!(pull(&node, &admin, vec![lift]).await.applied, 1);
    assert_eq!(member_read(&node, &admin, &bob).await, 200);
    // The revoke that came first, seen again (another source, a replay): stale.
    assert_eq!(pull(&node, &admin, vec![old_revoke]).await.stale, 1);
    assert_eq!(member_read(&node, &admin, &bob).await, 200);
}

#[tokio::test]
async fn a_late_forwarded_revoke_counts_but_a_stale_unrevoke_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_at(&dir.path().join("store.db"), true);
    let admin = admin();
    let bob = Account::from_ed25519_seed(&[0x4d; 32]);
    let forward = |request: &Request| from_peer("/sn/storage_cc", proof(request), NOW);
    // A revoke a peer replays from its retry queue an hour after it was made.
    let revoke = revocation(&admin, Revocation::Revoke, &bob, NOW - HOUR);
    let resp = node.handle(forward(&revoke), NOW).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(member_read(&node, &admin, &bob).await, 401);
    // An unrevoke made before it, replayed after it: accepted as a request, but it lifts
    // nothing.
    let stale = revocation(&admin, Revocation::Unrevoke, &bob, NOW - 2 * HOUR);
    let resp = node.handle(forward(&stale), NOW).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(member_read(&node, &admin, &bob).await, 401);
    // A forwarded revoke signed by another key is refused.
    let mallory = GroupAdmin::from_seed(&[0x66; 32]).unwrap();
    let carol = Account::from_ed25519_seed(&[0x4e; 32]);
    let forged = revocation_by(
        &admin,
        Revocation::Revoke,
        &carol,
        NOW,
        mallory.signing_key(),
    );
    assert_eq!(node.handle(forward(&forged), NOW).await.status, 401);
    assert_eq!(member_read(&node, &admin, &carol).await, 200);
}

#[tokio::test]
async fn what_one_node_serves_makes_another_refuse_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let admin = admin();
    let bob = Account::from_ed25519_seed(&[0x4d; 32]);
    let carol = Account::from_ed25519_seed(&[0x4e; 32]);
    // The source takes a revoke of bob and carol, then an unrevoke of carol, from the admin
    // (alone in its swarm, so nothing is forwarded).
    let source = node_at(&dir.path().join("source.db"), false);
    for request in [
        revocation(&admin, Revocation::Revoke, &bob, NOW - 1000),
        revocation(&admin, Revocation::Revoke, &carol, NOW - 1000),
        revocation(&admin, Revocation::Unrevoke, &carol, NOW),
    ] {
        let resp = rpc(&source, request).await;
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    }
    assert_eq!(member_read(&source, &admin, &bob).await, 401);
    assert_eq!(member_read(&source, &admin, &carol).await, 200);
    set_peers(&source, true);

    // The peer asks for the group's half of the range, one page after another.
    let span = span_of(&source, &admin);
    let mut after = 0;
    let mut proofs = Vec::new();
    loop {
        let body = RevocationsQuery {
            lower: span.lower,
            upper: span.upper,
            after,
        }
        .to_json();
        let resp = source
            .handle(from_peer("/sn/revocations", body, NOW), NOW)
            .await;
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let page = RevocationsAnswer::parse(&resp.body).unwrap();
        if page.proofs.is_empty() {
            break;
        }
        assert!(page.next > after);
        after = page.next;
        proofs.extend(page.proofs);
    }
    // The revoke of carol is superseded: only the revoke and the unrevoke are served.
    assert_eq!(proofs.len(), 2);
    // The whole space, or an unsigned query, is refused.
    let whole = RevocationsQuery {
        lower: 5,
        upper: 5,
        after: 0,
    }
    .to_json();
    let resp = source
        .handle(from_peer("/sn/revocations", whole.clone(), NOW), NOW)
        .await;
    assert_eq!(resp.status, 403);
    assert_ne!(
        source
            .handle(http("/sn/revocations", whole), NOW)
            .await
            .status,
        200
    );

    // A node that missed all of it applies what was served: bob refused, carol not.
    let late = node_at(&dir.path().join("late.db"), false);
    assert_eq!(member_read(&late, &admin, &bob).await, 200);
    let got = pull(&late, &admin, proofs).await;
    assert_eq!((got.applied, got.ignored), (2, 0));
    assert_eq!(member_read(&late, &admin, &bob).await, 401);
    assert_eq!(member_read(&late, &admin, &carol).await, 200);
}
