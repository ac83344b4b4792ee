//! `rpc`: what a node spends on a storage request before it touches its database, against the
//! cryptography every signed request needs: one Ed25519 verification plus, for a Session ID
//! account, the Ed25519 → X25519 conversion of `pubkey_ed25519` (a point decompression and a
//! prime-order subgroup check, as libsodium does); two verifications for a subaccount.

use sotto_crypto::Ed25519SecretKey;
use sotto_identity::Account;
use sotto_rpc::request::{Lifetime, Retrieve, Store};
use sotto_rpc::{
    AccountId, MessageHash, Namespace, NodeContext, Request, SignedSubaccount, Signer,
    SubaccountFlags, SubaccountToken,
};

use crate::harness::{Report, per_second};

const NOW: u64 = 1_700_000_000_000;

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    let me = Account::from_ed25519_seed(&[1; 32]);
    let id = AccountId::from(me.session_id());
    let ctx = NodeContext {
        now_ms: NOW,
        revoked: &[],
        forwarded: false,
    };

    // The bound: one Ed25519 verification of a short message.
    let key = me.ed25519_secret();
    let msg = b"store31700000000000";
    let sig = key.sign(msg);
    let pk = key.public_key();
    let verify = per_second(|| pk.verify(msg, &sig));
    report.figure("ed25519_verify_per_s", verify, "op/s");
    let convert = per_second(|| pk.to_x25519());
    report.figure("ed25519_to_x25519_per_s", convert, "op/s");
    // Both, one after the other.
    let session_bound = 1.0 / (1.0 / verify + 1.0 / convert);
    report.figure("session_auth_bound_per_s", session_bound, "op/s");

    // A signed 1 KiB store to a private namespace, as a JSON body: parse, check (TTL, clock,
    // pubkey_ed25519 → X25519 conversion, signature), hash.
    let store = Store::new(
        id,
        Namespace::USER_PROFILE,
        vec![0x5a; 1024],
        NOW,
        Lifetime::Ttl(86_400_000),
    )
    .signed(&Signer::session(key), NOW);
    let body = Request::from(store).to_http_body();
    let store_rate = per_second(|| {
        let req = Request::from_http_body(&body)?;
        req.check(&ctx)?;
        match req {
            Request::Store(s) => Ok(s.message_hash()),
            _ => Err(anyhow::anyhow!("not a store")),
        }
    });
    report.figure("store_1k_parse_check_hash_per_s", store_rate, "op/s");
    report.ratio("store_ratio", store_rate, session_bound);

    // A subaccount retrieve from a group (two verifications): bound is half the verify rate.
    let group = Ed25519SecretKey::from_seed(&[3; 32]);
    let member = Ed25519SecretKey::from_seed(&[4; 32]);
    let token = SubaccountToken::new(3, SubaccountFlags::READ, &member.public_key());
    let grant = SignedSubaccount::grant(&group, token);
    let retrieve = Retrieve::new(
        AccountId::new(3, group.public_key().0),
        Namespace::GROUP_MESSAGES,
    )
    .signed(&Signer::subaccount(&member, grant), NOW);
    let body = Request::from(retrieve).to_http_body();
    let retrieve_rate = per_second(|| {
        let req = Request::from_http_body(&body)?;
        req.check(&ctx)?;
        Ok::<_, anyhow::Error>(req)
    });
    report.figure(
        "subaccount_retrieve_parse_check_per_s",
        retrieve_rate,
        "op/s",
    );
    report.ratio("subaccount_retrieve_ratio", retrieve_rate, verify / 2.0);

    // The message hash of a full 76,800-byte message.
    let data = vec![7u8; 76_800];
    let hash_rate = per_second(|| MessageHash::compute(&id, Namespace::DEFAULT, &data));
    report.figure("message_hash_76800_per_s", hash_rate, "op/s");
    Ok(())
}
