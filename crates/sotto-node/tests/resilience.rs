//! Resilience and request checking over real processes (the shared harness
//! `sotto_testkit::net`): a swarm of 7 keeps every acknowledged store through two `kill -9`s and
//! the killed nodes catch up after a restart; a delete missed by a killed node reaches it when it
//! returns, and no node takes the deleted message back; wrong-swarm, badly signed, stale, oversize and
//! badly timed stores get the spec's status codes and change nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{Net, ok_count, wait_until};
use sotto_identity::Account;
use sotto_rpc::request::{Delete, Lifetime, Request, Store};
use sotto_rpc::response::{GetSwarmResponse, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, MessageHash, Method, Namespace, Signer};
use sotto_swarm::{SwarmId, SwarmIds, swarm_space};

/// Seven nodes form one swarm. Two are killed with `kill -9` part-way through a run of stores
/// sent to the survivors in turn: every store acknowledged by at least one node is on every
/// surviving node, and each killed node serves the whole acknowledged set after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_seven_killed_lose_no_acknowledged_store_and_catch_up() {
    const NODES: usize = 7;
    const KILLED: [usize; 2] = [5, 6];
    let mut net = Net::start(93, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    let swarms = net.wait_converged(&all).await;
    assert!(swarms.iter().all(|s| *s == swarms[0]), "{swarms:?}");
    let bob = Account::from_ed25519_seed(&[0xb0; 32]);

    let mut acknowledged: Vec<Vec<u8>> = Vec::new();
    for k in 0..24u8 {
        if k == 8 {
            for i in KILLED {
                net.tn.kill(i).unwrap();
            }
        }
        let data = vec![b's', k];
        let Some(resp) = net
            .post(usize::from(k) % 5, Net::store_req(&bob, &data))
            .await
        else {
            continue;
        };
        if resp.status != 200 {
            continue;
        }
        let parsed = SwarmResponse::parse(Method::Store, &resp.body, Encoding::Json).unwrap();
        if ok_count(&parsed) >= 1 {
            acknowledged.push(data);
        }
        if k >= 8 {
            // The killed nodes are not among the acknowledgers.
            assert_eq!(ok_count(&parsed), NODES - KILLED.len(), "{parsed:?}");
        }
    }
    // The survivors are a majority of the swarm: every store must have been acknowledged.
    assert_eq!(acknowledged.len(), 24);
    acknowledged.sort();

    let sorted = |mut m: Vec<Vec<u8>>| {
        m.sort();
        m
    };
    for i in 0..5 {
        let got = sorted(net.retrieve(i, &bob).await.unwrap());
        assert_eq!(got, acknowledged, "survivor {i}");
    }
    for i in KILLED {
        net.tn.restart(i).unwrap();
    }
    for i in KILLED {
        let got = wait_until(
            &format!("killed node {i} to catch up"),
            Duration::from_secs(30),
            || async {
                net.retrieve(i, &bob)
                    .await
                    .map(sorted)
                    .filter(|m| *m == acknowledged)
            },
        )
        .await;
        assert_eq!(got, acknowledged, "restarted node {i}");
    }
}

/// Seven nodes form one swarm and hold two messages. One node is killed, one message is deleted
/// through a survivor, and the node comes back: it drops the deleted message during catch-up,
/// and no survivor takes it back from the returning node (whose return makes them pull from it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_missed_by_a_killed_node_reaches_it_and_nothing_comes_back() {
    const NODES: usize = 7;
    const KILLED: usize = 6;
    let mut net = Net::start(96, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    net.wait_converged(&all).await;
    let carol = Account::from_ed25519_seed(&[0xca; 32]);
    let id = AccountId::from(carol.session_id());
    for data in [b"kept".as_slice(), b"deleted"] {
        assert_eq!(ok_count(&net.store(0, &carol, data).await), NODES);
    }
    net.tn.kill(KILLED).unwrap();
    let hash = MessageHash::compute(&id, Namespace::DEFAULT, b"deleted");
    let delete = Delete::new(id, vec![hash], &Signer::session(carol.ed25519_secret()));
    let resp = net.post(1, Request::Delete(delete)).await.unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let kept = vec![b"kept".to_vec()];
    for i in 0..NODES - 1 {
        assert_eq!(net.retrieve(i, &carol).await.unwrap(), kept, "survivor {i}");
    }

    net.tn.restart(KILLED).unwrap();
    wait_until(
        "the restarted node to drop the deleted message",
        Duration::from_secs(30),
        || async { net.retrieve(KILLED, &carol).await.filter(|m| *m == kept) },
    )
    .await;
    // The return changed the swarm's membership, so the survivors pulled from the returning
    // node too; let that settle (every node converged on the same list), then check all.
    net.wait_converged(&all).await;
    for i in all {
        assert_eq!(net.retrieve(i, &carol).await.unwrap(), kept, "node {i}");
    }
}

/// Fourteen nodes form two swarms of 7. A store sent to the other swarm gets 421 naming the
/// owner; a bad signature gets 401, a stale signature timestamp 406, oversize data 400
/// (sotto-rpc's `Malformed`: the limit is on the decoded `data`) and a TTL under 10 s 403; a
/// retrieve afterwards shows only the one good store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_stores_get_the_spec_codes_and_change_nothing() {
    const NODES: usize = 14;
    let net = Net::start(94, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    let swarms = net.wait_converged(&all).await;
    let ids: SwarmIds = swarms.iter().map(|s| SwarmId(*s)).collect();
    assert_eq!(ids.len(), 2, "{swarms:?}");

    let carol = Account::from_ed25519_seed(&[0xc0; 32]);
    let mallory = Account::from_ed25519_seed(&[0xee; 32]);
    let account = AccountId::from(carol.session_id());
    let owner = ids.pick(swarm_space(account.key())).unwrap().0;
    let home = (0..NODES).find(|i| swarms[*i] == owner).unwrap();
    let other = (0..NODES).find(|i| swarms[*i] != owner).unwrap();
    let members: Vec<usize> = (0..NODES).filter(|i| swarms[*i] == owner).collect();

    let resp = net.store(home, &carol, b"good").await;
    assert_eq!(ok_count(&resp), members.len(), "{resp:?}");
    let before = net.retrieve(home, &carol).await.unwrap();
    assert_eq!(before, vec![b"good".to_vec()]);

    // Wrong swarm: 421 with the owning swarm and its members.
    let resp = net
        .post(other, Net::store_req(&carol, b"wrong swarm"))
        .await
        .unwrap();
    assert_eq!(resp.status, 421, "{}", String::from_utf8_lossy(&resp.body));
    let named = GetSwarmResponse::parse(&resp.body, Encoding::Json).unwrap();
    assert_eq!(named.swarm_id, owner);
    let mut listed: Vec<_> = named.snodes.iter().map(|n| n.pubkey_ed25519).collect();
    let mut expected: Vec<_> = members.iter().map(|i| net.tn.nodes[*i].pubkey).collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);

    let now = sotto_node::unix_now_ms();
    let profile = |data: &[u8], timestamp: u64| {
        Store::new(
            account,
            Namespace::USER_PROFILE,
            data.to_vec(),
            timestamp,
            Lifetime::Ttl(3_600_000),
        )
    };
    let cases: Vec<(&str, Store, u16)> = vec![
        (
            "signed by another key",
            profile(b"forged", now).signed(&Signer::session(mallory.ed25519_secret()), now),
            401,
        ),
        (
            "signature timestamp 5 minutes old",
            profile(b"stale", now).signed(&Signer::session(carol.ed25519_secret()), now - 300_000),
            406,
        ),
        (
            "data over 76,800 bytes",
            Net::store_req(&carol, &vec![0x55; 76_801]),
            400,
        ),
        (
            "TTL of 1 s",
            Store::new(
                account,
                Namespace::DEFAULT,
                b"short".to_vec(),
                now,
                Lifetime::Ttl(1_000),
            ),
            403,
        ),
    ];
    for (what, store, code) in cases {
        let resp = net.post(home, store).await.unwrap();
        assert_eq!(
            resp.status,
            code,
            "{what}: {}",
            String::from_utf8_lossy(&resp.body)
        );
    }

    for &i in &members {
        assert_eq!(net.retrieve(i, &carol).await.unwrap(), before, "node {i}");
        assert_eq!(
            net.retrieve_ns(i, &carol, Namespace::USER_PROFILE)
                .await
                .unwrap(),
            Vec::<Vec<u8>>::new(),
            "node {i}"
        );
    }
}
