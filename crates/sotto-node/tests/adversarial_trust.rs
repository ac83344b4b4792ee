//! Node-to-node trust against a rogue *listed* node, over real processes (the shared harness
//! `sotto_testkit::net`). The test process plays the rogue: it loads a listed node's identity
//! key from that node's data directory (the harness makes every key up front) and calls from
//! that node's loopback address, or, with the node stopped, answers in its place on its
//! address with its TLS identity. Each test checks that nothing was lost, leaked or changed:
//!
//! - DUMP: a whole-space `/sn/sync`, a foreign range, or a node of another swarm asking for
//!   this swarm's data gets nothing; `/sn/deleted` tells a node of another swarm nothing.
//! - INJECT: `storage_cc` from a node outside the swarm, for an account of another swarm, with
//!   a far-future expiry or with oversize data is refused and the store is unchanged; pulled
//!   messages out of a store's bounds are refused during catch-up.
//! - WIPE: during a victim's catch-up, a rogue source claims every hash deleted (bare, and with
//!   forged or misapplied proofs): nothing is deleted, while a real owner-signed delete missed
//!   by the victim still reaches it.
//! - An unlisted sender, or a listed key from another address, is refused before the
//!   signature is looked at; a flood of `/sn/*` requests from one node gets 429 and other
//!   nodes are still served.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Net, ok_count, wait_until};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey};
use sotto_identity::Account;
use sotto_node::peer_auth;
use sotto_node::wire::{DeletedAnswer, Forwarded, Hashes, NEXT_ROW_HEADER, SyncRequest};
use sotto_rpc::replication::{BlobFormat, ReplicatedMessage, encode_blob, parse_blob};
use sotto_rpc::request::{Delete, Lifetime, Store};
use sotto_rpc::{AccountId, MessageHash, Namespace, Request, Signer};
use sotto_store::DeletionProofs;
use sotto_swarm::{SwarmId, SwarmIds, swarm_space};
use sotto_transport::{HttpsClient, Response, TlsIdentity};

const DAY: u64 = 24 * 3600 * 1000;

/// Node `i`'s identity key, as the harness wrote it.
fn node_key(net: &Net, i: usize) -> Ed25519SecretKey {
    sotto_node::identity::load(&sotto_node::identity::identity_path(
        &net.tn.nodes[i].data_dir,
    ))
    .unwrap()
}

fn node_ip(net: &Net, i: usize) -> IpAddr {
    net.tn.nodes[i].addr.ip()
}

/// How many messages node `i`'s database holds (read from its SQLite file).
fn stored_count(net: &Net, i: usize) -> u64 {
    let store =
        sotto_store::Store::open(&net.tn.nodes[i].data_dir.join("store.db"), 256 << 20).unwrap();
    store.usage().unwrap().messages
}

/// A caller that signs as `key` and connects from `from`.
struct Caller {
    key: Ed25519SecretKey,
    client: HttpsClient,
}

impl Caller {
    fn new(key: Ed25519SecretKey, from: IpAddr) -> Self {
        Self {
            key,
            client: HttpsClient::with_local_addr(from),
        }
    }

    /// POSTs a node-to-node request to node `to`, signed for it.
    async fn post(&self, net: &Net, to: usize, path: &str, body: Vec<u8>) -> Response {
        let n = &net.tn.nodes[to];
        let headers = peer_auth::sign(&self.key, &n.pubkey, path, sotto_node::unix_now_ms(), &body);
        self.post_with(n.addr, &n.pubkey, path, &headers, body)
            .await
    }

    async fn post_with(
        &self,
        addr: SocketAddr,
        pin: &Ed25519PublicKey,
        path: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Response {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.client
            .post(addr, pin, path, &headers, body, Duration::from_secs(20))
            .await
            .unwrap()
    }

    async fn sync(&self, net: &Net, to: usize, lower: u64, upper: u64) -> Response {
        let body = SyncRequest {
            lower,
            upper,
            after_row: 0,
            max_bytes: 4 << 20,
        }
        .to_json();
        self.post(net, to, "/sn/sync", body).await
    }
}

/// The messages in a `/sn/sync` answer (none unless it is a 200 with a blob).
fn served(resp: &Response) -> Vec<ReplicatedMessage> {
    if resp.status != 200 {
        return Vec::new();
    }
    parse_blob(&resp.body).unwrap()
}

fn text(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body).into_owned()
}

/// A `storage_cc` body for `request`.
fn forwarded(request: &Request) -> Vec<u8> {
    Forwarded {
        method: request.method().name().to_owned(),
        params: request.params_bencoded(),
    }
    .encode()
}

/// An account whose messages the swarm `want` owns.
fn account_in(ids: &SwarmIds, want: u64, tag: u8) -> Account {
    (0u8..=255)
        .map(|i| {
            Account::from_ed25519_seed(&[
                tag, i, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                7, 7, 7, 7, 7,
            ])
        })
        .find(|a| {
            let id = AccountId::from(a.session_id());
            ids.pick(swarm_space(id.key())).unwrap().0 == want
        })
        .unwrap()
}

/// Two swarms. A listed node of the victim's own swarm asks for the whole space and for the
/// other swarm's range; a listed node of the other swarm asks for the victim's range and for
/// its own; it also asks which of the victim's messages were deleted. Nothing of the victim's
/// account leaks (only the honest request of a swarm peer for its own range is served). Then
/// `storage_cc` injections — from outside the swarm, for an account of another swarm, with a
/// far-future expiry, with oversize data — are refused and the victim's store is unchanged;
/// an unlisted sender and a listed key calling from another address are refused before the
/// signature is checked; and a flood from one node gets 429 while another node is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_listed_node_can_neither_dump_nor_inject_and_floods_are_limited() {
    const NODES: usize = 14;
    let net = Net::start(150, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    let swarms = net.wait_converged(&all).await;
    let ids: SwarmIds = swarms.iter().map(|s| SwarmId(*s)).collect();
    assert_eq!(ids.len(), 2, "{swarms:?}");
    const VICTIM: usize = 0;
    let mine = swarms[VICTIM];
    let peer = (1..NODES).find(|i| swarms[*i] == mine).unwrap();
    let peer2 = (peer + 1..NODES).find(|i| swarms[*i] == mine).unwrap();
    let outsider = (1..NODES).find(|i| swarms[*i] != mine).unwrap();
    let my_range = ids.boundaries(SwarmId(mine)).unwrap();
    let their_range = ids.boundaries(SwarmId(swarms[outsider])).unwrap();

    let alice = account_in(&ids, mine, 0xa1);
    let alice_id = AccountId::from(alice.session_id());
    let mut sent = Vec::new();
    for k in 0..4u8 {
        let data = vec![b'a', k];
        let resp = net.store(VICTIM, &alice, &data).await;
        assert!(ok_count(&resp) >= 1, "{resp:?}");
        sent.push(data);
    }
    // One delete by the owner, so that there is a tombstone to ask about.
    let gone = MessageHash::compute(&alice_id, Namespace::DEFAULT, &sent[3]);
    let delete = Delete::new(
        alice_id,
        vec![gone],
        &Signer::session(alice.ed25519_secret()),
    );
    let resp = net.post(VICTIM, Request::Delete(delete)).await.unwrap();
    assert_eq!(resp.status, 200, "{}", text(&resp));
    sent.pop();
    let sorted = |mut v: Vec<Vec<u8>>| {
        v.sort();
        v
    };
    assert_eq!(sorted(net.retrieve(VICTIM, &alice).await.unwrap()), sent);
    let before = stored_count(&net, VICTIM);

    let rogue_peer = Caller::new(node_key(&net, peer), node_ip(&net, peer));
    let rogue_out = Caller::new(node_key(&net, outsider), node_ip(&net, outsider));
    let alice_leaked = |msgs: &[ReplicatedMessage]| msgs.iter().any(|m| m.account == alice_id);

    // DUMP. The whole space (lower == upper), from a swarm peer: refused.
    for point in [0, 5, my_range.upper_inclusive()] {
        let r = rogue_peer.sync(&net, VICTIM, point, point).await;
        assert_eq!(r.status, 403, "whole space at {point}: {}", text(&r));
        assert!(served(&r).is_empty());
    }
    // The other swarm's range, from a swarm peer: refused.
    let r = rogue_peer
        .sync(
            &net,
            VICTIM,
            their_range.lower_exclusive(),
            their_range.upper_inclusive(),
        )
        .await;
    assert_eq!(r.status, 403, "foreign range: {}", text(&r));
    // A node of the other swarm asks for the victim's range, then for its own: nothing of
    // alice's either way.
    let r = rogue_out
        .sync(
            &net,
            VICTIM,
            my_range.lower_exclusive(),
            my_range.upper_inclusive(),
        )
        .await;
    assert_eq!(r.status, 403, "victim's range to an outsider: {}", text(&r));
    let r = rogue_out
        .sync(
            &net,
            VICTIM,
            their_range.lower_exclusive(),
            their_range.upper_inclusive(),
        )
        .await;
    assert!(!alice_leaked(&served(&r)), "outsider's own range");
    // Which of alice's messages were deleted: an outsider learns nothing.
    let hashes: Vec<String> = sent
        .iter()
        .map(|d| MessageHash::compute(&alice_id, Namespace::DEFAULT, d).to_string())
        .chain([gone.to_string()])
        .collect();
    let query = Hashes {
        hashes: hashes.clone(),
    }
    .to_json();
    let r = rogue_out
        .post(&net, VICTIM, "/sn/deleted", query.clone())
        .await;
    assert!(
        r.status != 200 || DeletedAnswer::parse(&r.body).unwrap().is_empty(),
        "{}",
        text(&r)
    );
    // The honest requests of a swarm peer are served: its range, and the delete with its proof.
    let r = rogue_peer
        .sync(
            &net,
            VICTIM,
            my_range.lower_exclusive(),
            my_range.upper_inclusive(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(served(&r).len(), sent.len());
    let r = rogue_peer.post(&net, VICTIM, "/sn/deleted", query).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let proofs = DeletedAnswer::parse(&r.body).unwrap();
    assert_eq!(proofs.hashes, [(gone.to_string(), 0)]);

    // INJECT through storage_cc.
    let now = sotto_node::unix_now_ms();
    let store = |account: &Account, ns: Namespace, data: Vec<u8>, ttl: u64, signed: bool| {
        let s = Store::new(
            AccountId::from(account.session_id()),
            ns,
            data,
            now,
            Lifetime::Ttl(ttl),
        );
        let s = if signed {
            s.signed(&Signer::session(account.ed25519_secret()), now)
        } else {
            s
        };
        Request::from(s)
    };
    // From a listed node outside the swarm, for alice: refused.
    let r = rogue_out
        .post(
            &net,
            VICTIM,
            "/sn/storage_cc",
            forwarded(&store(
                &alice,
                Namespace::DEFAULT,
                b"injected".to_vec(),
                DAY,
                false,
            )),
        )
        .await;
    assert_eq!(r.status, 403, "from outside the swarm: {}", text(&r));
    // From a swarm peer, for an account of the other swarm: refused.
    let bob = account_in(&ids, swarms[outsider], 0xb0);
    let r = rogue_peer
        .post(
            &net,
            VICTIM,
            "/sn/storage_cc",
            forwarded(&store(
                &bob,
                Namespace::DEFAULT,
                b"not yours".to_vec(),
                DAY,
                false,
            )),
        )
        .await;
    assert_eq!(r.status, 403, "an account not owned: {}", text(&r));
    // A far-future expiry in a signature-protected namespace (signed by the owner): refused.
    let protected = Namespace::new(1);
    let r = rogue_peer
        .post(
            &net,
            VICTIM,
            "/sn/storage_cc",
            forwarded(&store(
                &alice,
                protected,
                b"forever".to_vec(),
                3650 * DAY,
                true,
            )),
        )
        .await;
    assert_eq!(r.status, 403, "far-future expiry: {}", text(&r));
    // Oversize data: the forwarded request does not parse.
    let r = rogue_peer
        .post(
            &net,
            VICTIM,
            "/sn/storage_cc",
            forwarded(&store(&alice, protected, vec![7; 76_801], DAY, true)),
        )
        .await;
    assert_eq!(r.status, 400, "oversize: {}", text(&r));
    assert_eq!(stored_count(&net, VICTIM), before, "the store changed");
    assert_eq!(sorted(net.retrieve(VICTIM, &alice).await.unwrap()), sent);
    assert_eq!(
        net.retrieve_ns(VICTIM, &alice, protected).await.unwrap(),
        Vec::<Vec<u8>>::new()
    );

    // An unlisted sender with a large body and a bad signature: refused as unlisted (403), not
    // as a bad signature (401), so the signature was never checked. The same for a listed key
    // calling from another address.
    let stranger = Caller::new(
        Ed25519SecretKey::from_seed(&[0x55; 32]),
        IpAddr::V4(Ipv4Addr::new(127, 150, 0, 251)),
    );
    let victim = &net.tn.nodes[VICTIM];
    // As large as a node-to-node body may be (bigger ones get 413 from the headers alone).
    let big = vec![b'x'; sotto_node::MAX_PEER_BODY];
    let mut forged = peer_auth::sign(&stranger.key, &victim.pubkey, "/sn/sync", now, b"other");
    let r = stranger
        .post_with(
            victim.addr,
            &victim.pubkey,
            "/sn/sync",
            &forged,
            big.clone(),
        )
        .await;
    assert_eq!(r.status, 403, "unlisted: {}", text(&r));
    assert!(text(&r).contains("not a listed"), "{}", text(&r));
    let elsewhere = Caller::new(
        node_key(&net, peer),
        IpAddr::V4(Ipv4Addr::new(127, 150, 0, 252)),
    );
    forged = peer_auth::sign(&elsewhere.key, &victim.pubkey, "/sn/sync", now, b"other");
    let r = elsewhere
        .post_with(victim.addr, &victim.pubkey, "/sn/sync", &forged, big)
        .await;
    assert_eq!(r.status, 403, "listed key, wrong address: {}", text(&r));
    assert!(text(&r).contains("listed address"), "{}", text(&r));

    // A flood of /sn/* from one node: 429 before long; another node is still served.
    let rogue_peer = Arc::new(rogue_peer);
    let limited = Arc::new(AtomicUsize::new(0));
    let net = Arc::new(net);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..48 {
        let (caller, limited, net) = (
            Arc::clone(&rogue_peer),
            Arc::clone(&limited),
            Arc::clone(&net),
        );
        tasks.spawn(async move {
            for _ in 0..400 {
                if limited.load(Ordering::Relaxed) > 0 {
                    return;
                }
                let body = Hashes { hashes: vec![] }.to_json();
                let r = caller.post(&net, VICTIM, "/sn/deleted", body).await;
                if r.status == 429 {
                    limited.fetch_add(1, Ordering::Relaxed);
                } else {
                    assert_eq!(r.status, 200, "{}", text(&r));
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    assert!(limited.load(Ordering::Relaxed) > 0, "no 429 during a flood");
    let honest = Caller::new(node_key(&net, peer2), node_ip(&net, peer2));
    let body = Hashes { hashes: vec![] }.to_json();
    let r = honest.post(&net, VICTIM, "/sn/deleted", body).await;
    assert_eq!(r.status, 200, "another node during the flood: {}", text(&r));
    assert_eq!(sorted(net.retrieve(VICTIM, &alice).await.unwrap()), sent);
    assert_eq!(stored_count(&net, VICTIM), before);
}

/// What the rogue source answered, and how often.
#[derive(Default)]
struct RogueLog {
    deleted_queries: AtomicUsize,
    sync_queries: AtomicUsize,
}

/// One swarm of three. The victim is stopped; meanwhile the owner deletes one message through
/// an honest node. Another member is stopped and the test answers in its place, with its key,
/// on its address. When the victim comes back and catches up, the rogue source serves injected
/// messages (a far-future expiry in a signature-protected namespace, oversize data, a timestamp
/// from the future) and claims every hash asked about was deleted: first as a bare list, then
/// with proofs that are forged (signed by another key) or real but for another message. The
/// victim keeps every message, takes none of the injected ones, and still applies the owner's
/// real delete that it missed (learned from the honest node).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_catch_up_source_can_neither_wipe_nor_inject() {
    const NODES: usize = 3;
    const HONEST: usize = 0;
    const ROGUE: usize = 1;
    const VICTIM: usize = 2;
    let mut net = Net::start(151, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    net.wait_converged(&all).await;
    let alice = Account::from_ed25519_seed(&[0xa1; 32]);
    let alice_id = AccountId::from(alice.session_id());
    let mallory = Account::from_ed25519_seed(&[0xee; 32]);
    let mut sent = Vec::new();
    for k in 0..5u8 {
        let data = vec![b'w', k];
        assert_eq!(ok_count(&net.store(HONEST, &alice, &data).await), NODES);
        sent.push(data);
    }
    let hash_of = |d: &[u8]| MessageHash::compute(&alice_id, Namespace::DEFAULT, d);
    // A real delete made while every node is up: its proof exists, for that message only.
    let signer = Signer::session(alice.ed25519_secret());
    let early = Delete::new(alice_id, vec![hash_of(&sent[4])], &signer);
    let resp = net
        .post(HONEST, Request::Delete(early.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", text(&resp));
    sent.pop();

    net.tn.stop(VICTIM).unwrap();
    // A real delete the victim misses.
    let missed = Delete::new(alice_id, vec![hash_of(&sent[3])], &signer);
    let resp = net.post(HONEST, Request::Delete(missed)).await.unwrap();
    assert_eq!(resp.status, 200, "{}", text(&resp));
    sent.pop();
    let kept = sent.clone();

    // The rogue takes the place of a stopped member.
    let rogue_key = node_key(&net, ROGUE);
    let rogue_addr = net.tn.nodes[ROGUE].addr;
    net.tn.stop(ROGUE).unwrap();
    let now = sotto_node::unix_now_ms();
    let protected = Namespace::new(1);
    let injected: Vec<ReplicatedMessage> = [
        (protected, b"forever".to_vec(), now, now + 3650 * DAY),
        (Namespace::DEFAULT, vec![1; 76_801], now, now + DAY),
        (
            Namespace::DEFAULT,
            b"from the future".to_vec(),
            now + DAY,
            now + 2 * DAY,
        ),
    ]
    .into_iter()
    .map(|(ns, data, timestamp, expiry)| ReplicatedMessage {
        account: alice_id,
        hash: MessageHash::compute(&alice_id, ns, &data)
            .to_string()
            .into_bytes(),
        timestamp,
        expiry,
        data,
        namespace: ns,
    })
    .collect();
    let forged_proof = Forwarded {
        method: "delete".into(),
        params: Request::Delete(Delete::new(
            alice_id,
            kept.iter().map(|d| hash_of(d)).collect(),
            &Signer::session(mallory.ed25519_secret()),
        ))
        .params_bencoded(),
    }
    .encode();
    let real_other_proof = forwarded(&Request::Delete(early));
    let log = Arc::new(RogueLog::default());
    let listener = tokio::net::TcpListener::bind(rogue_addr).await.unwrap();
    let server = {
        let log = Arc::clone(&log);
        let injected = encode_blob(&injected, BlobFormat::V1WithNamespace);
        tokio::spawn(sotto_transport::serve(
            listener,
            TlsIdentity::new(&rogue_key).unwrap(),
            10 << 20,
            move |req: sotto_transport::Request| {
                let log = Arc::clone(&log);
                let injected = injected.clone();
                let (forged_proof, real_other_proof) =
                    (forged_proof.clone(), real_other_proof.clone());
                async move {
                    match req.path.as_str() {
                        "/sn/sync" => {
                            let q = SyncRequest::parse(&req.body).unwrap();
                            log.sync_queries.fetch_add(1, Ordering::SeqCst);
                            let body = if q.after_row == 0 {
                                injected
                            } else {
                                encode_blob(&[], BlobFormat::V1WithNamespace)
                            };
                            let mut r = Response::bytes(200, "application/octet-stream", body);
                            r.headers.push((NEXT_ROW_HEADER.to_owned(), "1".to_owned()));
                            r
                        }
                        "/sn/deleted" => {
                            let q = Hashes::parse(&req.body).unwrap();
                            let n = log.deleted_queries.fetch_add(1, Ordering::SeqCst);
                            let body = if n == 0 {
                                // The bare claim: "all of them".
                                serde_json::json!({ "deleted": q.hashes })
                                    .to_string()
                                    .into_bytes()
                            } else {
                                // Proof 0 is forged (signed by another key), proof 1
                                // is real but deletes another message.
                                let found = DeletionProofs {
                                    hashes: q
                                        .hashes
                                        .iter()
                                        .enumerate()
                                        .map(|(i, h)| (h.clone(), i % 2))
                                        .collect(),
                                    proofs: vec![forged_proof.clone(), real_other_proof.clone()],
                                };
                                DeletedAnswer::new(&found).to_json()
                            };
                            Response::bytes(200, "application/json", body)
                        }
                        _ => Response::text(404, "no"),
                    }
                }
            },
        ))
    };

    // Only what the victim logs from now on counts.
    let victim_log = net.tn.nodes[VICTIM].log_path();
    let logged_before = std::fs::metadata(&victim_log).map_or(0, |m| m.len());
    net.tn.restart(VICTIM).unwrap();
    let short = |i: usize| hex::encode(&net.tn.nodes[i].pubkey.as_bytes()[..4]);
    let (rogue_short, honest_short) = (short(ROGUE), short(HONEST));
    wait_until(
        "the victim to finish catching up from both sources",
        Duration::from_secs(40),
        || async {
            let text = std::fs::read(&victim_log).unwrap_or_default();
            let text = String::from_utf8_lossy(text.get(logged_before as usize..).unwrap_or(&[]))
                .into_owned();
            let done = |who: &str| {
                text.lines()
                    .any(|l| l.contains("catch-up done") && l.contains(who))
            };
            (done(&rogue_short) && done(&honest_short)).then_some(())
        },
    )
    .await;
    // Nothing was lost: the victim keeps every message and still applied the owner's delete
    // it missed (proved by the honest node).
    let mut got = net.retrieve(VICTIM, &alice).await.unwrap();
    got.sort();
    assert_eq!(got, kept, "the victim after catching up");
    // The rogue tried both: the bare claim and the forged or misapplied proofs.
    assert!(log.deleted_queries.load(Ordering::SeqCst) >= 2);
    assert!(log.sync_queries.load(Ordering::SeqCst) >= 1);
    server.abort();

    // Nothing was lost anywhere, nothing injected was taken.
    for i in [HONEST, VICTIM] {
        let mut got = net.retrieve(i, &alice).await.unwrap();
        got.sort();
        assert_eq!(got, kept, "node {i}");
        assert_eq!(
            net.retrieve_ns(i, &alice, protected).await.unwrap(),
            Vec::<Vec<u8>>::new(),
            "node {i}"
        );
    }
    assert_eq!(stored_count(&net, VICTIM), kept.len() as u64);
}
