//! A swarm member that is down while the group admin revokes a member learns the revocation
//! in catch-up when it comes back, even when the node that took the revoke is gone (so no
//! retry queue delivers it), and refuses the member from then on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{Net, ok_count, wait_until};
use sotto_groups::auth::member_flags;
use sotto_groups::{GroupAdmin, SubaccountAuth};
use sotto_identity::Account;
use sotto_rpc::request::{Lifetime, Retrieve, Revocation, Store, SubaccountRevocation, TimedAuth};
use sotto_rpc::response::SwarmResponse;
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Request, Signer, to_sign};

const NODES: usize = 3;

fn group_account(admin: &GroupAdmin) -> AccountId {
    AccountId::from_bytes(&admin.group_id().to_bytes())
}

fn admin_store(admin: &GroupAdmin, ns: i16, data: &[u8]) -> Store {
    let now = sotto_node::unix_now_ms();
    Store::new(
        group_account(admin),
        Namespace::new(ns),
        data.to_vec(),
        now,
        Lifetime::Ttl(3_600_000),
    )
    .signed(&Signer::ed25519(admin.signing_key()), now)
}

fn member_retrieve(admin: &GroupAdmin, who: &Account, auth: &SubaccountAuth, ns: i16) -> Retrieve {
    let (ns, now) = (Namespace::new(ns), sotto_node::unix_now_ms());
    let sig = auth
        .sign(who.ed25519_secret(), &to_sign::retrieve(ns, now))
        .unwrap();
    let mut req = Retrieve::new(group_account(admin), ns);
    req.auth = Some(TimedAuth {
        timestamp: now,
        auth: sig.to_auth(),
    });
    req
}

/// Node `node`'s status for a read of namespace `ns` by `who`, if it answers.
async fn read_status(
    net: &Net,
    node: usize,
    admin: &GroupAdmin,
    who: &Account,
    auth: &SubaccountAuth,
    ns: i16,
) -> Option<u16> {
    net.post(node, member_retrieve(admin, who, auth, ns))
        .await
        .map(|r| r.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_during_a_revoke_refuses_the_member_after_catch_up() {
    let mut net = Net::start(45, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    net.wait_converged(&all).await;
    let admin = GroupAdmin::from_seed(&[0x71; 32]).unwrap();
    let bob = Account::from_ed25519_seed(&[0x72; 32]);
    let auth = admin
        .make_subaccount(&bob.session_id(), member_flags(true, false))
        .unwrap();
    let resp = net
        .post(0, admin_store(&admin, 11, b"hello"))
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    for node in 0..NODES {
        assert_eq!(
            read_status(&net, node, &admin, &bob, &auth, 11).await,
            Some(200),
            "node {node}"
        );
    }

    // Node 2 is down while the admin revokes bob through node 0.
    net.tn.kill(2).unwrap();
    let token = admin
        .subaccount_token(&bob.session_id(), member_flags(true, false))
        .unwrap();
    let revoke = Request::Revocation(SubaccountRevocation::new(
        Revocation::Revoke,
        group_account(&admin),
        vec![token],
        sotto_node::unix_now_ms(),
        &Signer::ed25519(admin.signing_key()),
    ));
    let resp = net.post(0, revoke).await.unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let swarm = SwarmResponse::parse(Method::RevokeSubaccount, &resp.body, Encoding::Json).unwrap();
    assert_eq!(ok_count(&swarm), NODES - 1, "node 2 is down");
    assert_eq!(
        read_status(&net, 1, &admin, &bob, &auth, 11).await,
        Some(401)
    );

    // Node 0, the only one holding the revoke in a retry queue for node 2, goes away for
    // good; node 2 comes back and can learn the revocation only from node 1's catch-up.
    net.tn.kill(0).unwrap();
    net.tn.restart(2).unwrap();
    wait_until(
        "node 2 to refuse the revoked member after catch-up",
        Duration::from_secs(40),
        || async {
            (read_status(&net, 2, &admin, &bob, &auth, 11).await == Some(401)).then_some(())
        },
    )
    .await;
    // Revoked everywhere but reads of −11; a member that was not revoked still reads.
    assert_eq!(
        read_status(&net, 2, &admin, &bob, &auth, -11).await,
        Some(200)
    );
    let carol = Account::from_ed25519_seed(&[0x73; 32]);
    let carol_auth = admin
        .make_subaccount(&carol.session_id(), member_flags(true, false))
        .unwrap();
    assert_eq!(
        read_status(&net, 2, &admin, &carol, &carol_auth, 11).await,
        Some(200)
    );
}
