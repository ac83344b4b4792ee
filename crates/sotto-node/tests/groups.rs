//! Group accounts (`03…`) on a real swarm of three node processes: the group key and members'
//! subaccounts (minted by `sotto-groups`) in namespaces 11–14 and −11, and a revocation that
//! reaches every swarm member, survives a restart, and is lifted by an unrevoke.
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
use sotto_rpc::response::{RetrieveResponse, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Request, Signer, to_sign};

const NODES: usize = 3;

struct Group {
    admin: GroupAdmin,
    account: AccountId,
}

impl Group {
    fn new(seed: u8) -> Self {
        let admin = GroupAdmin::from_seed(&[seed; 32]).unwrap();
        let account = AccountId::from_bytes(&admin.group_id().to_bytes());
        Self { admin, account }
    }

    fn unsigned_store(&self, ns: i16, data: &[u8]) -> Store {
        Store::new(
            self.account,
            Namespace::new(ns),
            data.to_vec(),
            sotto_node::unix_now_ms(),
            Lifetime::Ttl(3_600_000),
        )
    }

    fn admin_store(&self, ns: i16, data: &[u8]) -> Store {
        self.unsigned_store(ns, data).signed(
            &Signer::ed25519(self.admin.signing_key()),
            sotto_node::unix_now_ms(),
        )
    }

    fn admin_retrieve(&self, ns: i16) -> Retrieve {
        Retrieve::new(self.account, Namespace::new(ns)).signed(
            &Signer::ed25519(self.admin.signing_key()),
            sotto_node::unix_now_ms(),
        )
    }

    fn member_store(&self, who: &Account, auth: &SubaccountAuth, ns: i16, data: &[u8]) -> Store {
        let mut req = self.unsigned_store(ns, data);
        req.sig_timestamp = Some(req.timestamp);
        let sig = auth
            .sign(who.ed25519_secret(), &req.signed_message())
            .unwrap();
        req.auth = Some(sig.to_auth());
        req
    }

    fn member_retrieve(&self, who: &Account, auth: &SubaccountAuth, ns: i16) -> Retrieve {
        let (ns, now) = (Namespace::new(ns), sotto_node::unix_now_ms());
        let sig = auth
            .sign(who.ed25519_secret(), &to_sign::retrieve(ns, now))
            .unwrap();
        let mut req = Retrieve::new(self.account, ns);
        req.auth = Some(TimedAuth {
            timestamp: now,
            auth: sig.to_auth(),
        });
        req
    }

    fn revocation(&self, kind: Revocation, who: &Account, write: bool) -> Request {
        let token = self
            .admin
            .subaccount_token(&who.session_id(), member_flags(write, false))
            .unwrap();
        Request::Revocation(SubaccountRevocation::new(
            kind,
            self.account,
            vec![token],
            sotto_node::unix_now_ms(),
            &Signer::ed25519(self.admin.signing_key()),
        ))
    }
}

/// The status of a request to node `node`, and the messages' data if it was a 200 retrieve.
async fn status(net: &Net, node: usize, req: impl Into<Request>) -> (u16, Vec<Vec<u8>>) {
    let resp = net.post(node, req).await.expect("the node answered");
    let data = RetrieveResponse::parse(&resp.body, Encoding::Json)
        .map(|p| p.messages.into_iter().map(|m| m.data).collect())
        .unwrap_or_default();
    (resp.status, data)
}

/// A recursive request through `node`: every running swarm member's acknowledgement count.
async fn recursive(net: &Net, node: usize, method: Method, req: impl Into<Request>) -> usize {
    let resp = net.post(node, req).await.expect("the node answered");
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    ok_count(&SwarmResponse::parse(method, &resp.body, Encoding::Json).unwrap())
}

/// Whether node `node` refuses the revoked `who` everywhere but reads of −11.
async fn refused(
    net: &Net,
    group: &Group,
    who: &Account,
    auth: &SubaccountAuth,
    node: usize,
) -> bool {
    status(net, node, group.member_retrieve(who, auth, 11))
        .await
        .0
        == 401
        && status(net, node, group.member_store(who, auth, 11, b"late"))
            .await
            .0
            == 401
        && status(net, node, group.member_retrieve(who, auth, -11)).await
            == (200, vec![b"admin".to_vec()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_accounts_subaccounts_and_revocation_on_a_swarm() {
    let mut net = Net::start(130, NODES);
    let all: Vec<usize> = (0..NODES).collect();
    net.wait_converged(&all).await;
    let group = Group::new(0x61);
    let bob = Account::from_ed25519_seed(&[0x62; 32]);
    let writer = group
        .admin
        .make_subaccount(&bob.session_id(), member_flags(true, false))
        .unwrap();

    // The admin stores in every group namespace through node 0; every node has it.
    for ns in [11, 12, 13, 14, -11] {
        let acks = recursive(&net, 0, Method::Store, group.admin_store(ns, b"admin")).await;
        assert_eq!(acks, NODES, "ns {ns}");
    }
    for node in 0..NODES {
        assert_eq!(
            status(&net, node, group.admin_retrieve(12)).await,
            (200, vec![b"admin".to_vec()]),
            "node {node}"
        );
    }

    // A member with a write token stores and reads in 11–14.
    for ns in [11, 12, 13, 14] {
        let acks = recursive(
            &net,
            1,
            Method::Store,
            group.member_store(&bob, &writer, ns, b"bob"),
        )
        .await;
        assert_eq!(acks, NODES, "ns {ns}");
        let (code, got) = status(&net, 2, group.member_retrieve(&bob, &writer, ns)).await;
        assert_eq!(
            (code, got),
            (200, vec![b"admin".to_vec(), b"bob".to_vec()]),
            "ns {ns}"
        );
    }
    // A read-only token may not store; another group's token is refused; nothing changes.
    let reader = group
        .admin
        .make_subaccount(&bob.session_id(), member_flags(false, false))
        .unwrap();
    assert_eq!(
        status(&net, 0, group.member_store(&bob, &reader, 11, b"ro"))
            .await
            .0,
        401
    );
    let other = Group::new(0x63);
    let foreign = other
        .admin
        .make_subaccount(&bob.session_id(), member_flags(true, true))
        .unwrap();
    assert_eq!(
        status(&net, 0, group.member_store(&bob, &foreign, 11, b"x"))
            .await
            .0,
        401
    );
    assert_eq!(
        status(&net, 0, group.member_retrieve(&bob, &foreign, 11))
            .await
            .0,
        401
    );
    // Malformed subaccount data: a short token is 400, a token whose key was altered 401.
    let mut params = Request::from(group.member_store(&bob, &writer, 11, b"bad")).params_json();
    params["subaccount"] = "AAAA".into();
    let body = serde_json::json!({"method": "store", "params": params.clone()});
    let resp = net
        .post_json(0, serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status, 400, "{}", String::from_utf8_lossy(&resp.body));
    let token = group
        .admin
        .subaccount_token(&bob.session_id(), member_flags(true, false))
        .unwrap();
    let mut altered = *token.as_bytes();
    altered[20] ^= 1;
    params["subaccount"] = hex::encode(altered).into();
    let body = serde_json::json!({"method": "store", "params": params});
    let resp = net
        .post_json(0, serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status, 401, "{}", String::from_utf8_lossy(&resp.body));
    for node in 0..NODES {
        assert_eq!(
            status(&net, node, group.admin_retrieve(11)).await.1.len(),
            2,
            "node {node}"
        );
    }

    // The admin revokes bob through node 0: every node refuses him except reads of −11.
    let acks = recursive(
        &net,
        0,
        Method::RevokeSubaccount,
        group.revocation(Revocation::Revoke, &bob, true),
    )
    .await;
    assert_eq!(acks, NODES);
    for node in 0..NODES {
        assert!(
            refused(&net, &group, &bob, &writer, node).await,
            "node {node}"
        );
    }

    // The revocation survives a restart (kill -9, then start with the same data).
    net.tn.kill(1).unwrap();
    net.tn.restart(1).unwrap();
    wait_until(
        "node 1 to answer again",
        Duration::from_secs(30),
        || async {
            net.post(1, group.admin_retrieve(11))
                .await
                .filter(|r| r.status == 200)
        },
    )
    .await;
    assert!(
        refused(&net, &group, &bob, &writer, 1).await,
        "node 1 after its restart"
    );

    // The admin unrevokes bob: every node accepts him again.
    let acks = recursive(
        &net,
        0,
        Method::UnrevokeSubaccount,
        group.revocation(Revocation::Unrevoke, &bob, true),
    )
    .await;
    assert_eq!(acks, NODES);
    for node in 0..NODES {
        assert_eq!(
            status(&net, node, group.member_retrieve(&bob, &writer, 11))
                .await
                .0,
            200,
            "node {node}"
        );
    }
    let acks = recursive(
        &net,
        2,
        Method::Store,
        group.member_store(&bob, &writer, 11, b"back"),
    )
    .await;
    assert_eq!(acks, NODES);
}
