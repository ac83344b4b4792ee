//! `groups`: closed groups (groups v2) with [`MEMBERS`] members, through `sotto-groups` and
//! real node processes. The admin's rekey for every member against the X25519 agreements it
//! cannot avoid (one per member); one group message (encrypt, store in namespace 11 with a
//! member's subaccount auth, retrieve and decrypt by another member) against a plain signed
//! store and retrieve of the same size; and the catch-up of a member that was offline for
//! [`CATCHUP`] messages (every page retrieved and every message decrypted) against decryption
//! alone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, ensure};
use sotto_crypto::{Ed25519PublicKey, X25519SecretKey, x25519};
use sotto_groups::auth::member_flags;
use sotto_groups::{GroupAdmin, GroupKeys, SubaccountAuth};
use sotto_identity::{Account, SessionId};
use sotto_rpc::request::{Lifetime, Retrieve, Store, TimedAuth};
use sotto_rpc::response::RetrieveResponse;
use sotto_rpc::{AccountId, Encoding, MessageHash, Namespace, Request, Signer, to_sign};
use sotto_testkit::net::{Testnet, TestnetConfig};
use sotto_transport::HttpsClient;

use crate::harness::{Report, per_second};
use crate::node::{bin_dir, now_ms};

/// Members of the group (the admin included): Session's limit.
const MEMBERS: usize = 100;
/// Group messages timed end to end.
const SEND_SAMPLES: usize = 40;
/// Messages a member missed while offline.
const CATCHUP: usize = 1000;
/// Plaintext bytes of each group message (a short text with its protobuf framing).
const MESSAGE_BYTES: usize = 200;
/// Nodes of the testnet (one swarm).
const NODES: usize = 3;
/// Second octet of the testnet's addresses.
const SUBNET: u8 = 46;
/// The directory's port; nodes listen on the next ones.
const PORT: u16 = 24_460;
/// Client addresses the requests rotate over (each has its own rate-limit bucket).
const CLIENT_ADDRS: u8 = 4;
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The group namespace of messages.
const NS_MESSAGES: i16 = 11;
/// The group namespace of keys.
const NS_KEYS: i16 = 12;

fn member(i: usize) -> Account {
    let mut seed = [0x5a; 32];
    for (slot, byte) in seed.iter_mut().zip(i.to_be_bytes()) {
        *slot = byte;
    }
    Account::from_ed25519_seed(&seed)
}

/// Writes `i` into the first bytes of `buf` (distinct nonces and data per message).
fn stamp(buf: &mut [u8], i: usize) {
    for (slot, byte) in buf.iter_mut().zip(i.to_le_bytes()) {
        *slot = byte;
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    let admin = GroupAdmin::from_seed(&[0x6a; 32])?;
    let members: Vec<Account> = (0..MEMBERS).map(member).collect();
    let ids: Vec<SessionId> = members.iter().map(Account::session_id).collect();

    // Rekey: one key encrypted for each member (an X25519 agreement each, then an AEAD and a
    // hash), against 100 bare agreements.
    let rekeys = per_second(|| admin.build_rekey(&ids, 1));
    let sk = X25519SecretKey::from_bytes(&[9; 32]);
    let peers: Vec<_> = members
        .iter()
        .map(|m| m.ed25519_secret().to_x25519().public_key())
        .collect();
    let agreements = per_second(|| {
        peers
            .iter()
            .map(|pk| x25519(&sk, pk).is_ok())
            .filter(|ok| *ok)
            .count()
    });
    report.figure("members", MEMBERS as f64, "members");
    report.figure("rekey_ms", 1e3 / rekeys, "ms");
    report.figure("x25519_x100_ms", 1e3 / agreements, "ms");
    report.ratio("rekey_ratio", 1e3 / rekeys, 1e3 / agreements);

    // Every member's keys: the admin's rekey, loaded (member 0 sends, member 1 reads).
    let rekey = admin.build_rekey(&ids, 0)?;
    let load = |who: &Account| -> anyhow::Result<GroupKeys> {
        let mut keys = GroupKeys::new(who.ed25519_secret(), admin.group_id())?;
        ensure!(
            keys.load_key_message("rekey-0", &rekey.message, i64::try_from(now_ms())?)?,
            "the rekey gave the member no key"
        );
        Ok(keys)
    };
    let (sender, reader) = (
        members.first().ok_or_else(|| anyhow!("no members"))?,
        members.get(1).ok_or_else(|| anyhow!("one member"))?,
    );
    let (sender_keys, reader_keys) = (load(sender)?, load(reader)?);
    let plaintext = vec![0x42u8; MESSAGE_BYTES];
    let sample =
        sender_keys.encrypt_message(sender.ed25519_secret(), &plaintext, true, &[1; 24])?;
    let encrypts = per_second(|| {
        sender_keys.encrypt_message(sender.ed25519_secret(), &plaintext, true, &[1; 24])
    });
    let decrypts = per_second(|| reader_keys.decrypt_message(&sample));
    report.figure("group_encrypt_us", 1e6 / encrypts, "µs");
    report.figure("group_decrypt_us", 1e6 / decrypts, "µs");

    let ctx = Ctx {
        admin: &admin,
        rekey: &rekey.message,
        sender,
        sender_keys: &sender_keys,
        sender_auth: admin.make_subaccount(&sender.session_id(), member_flags(true, false))?,
        reader,
        reader_keys: &reader_keys,
        reader_auth: admin.make_subaccount(&reader.session_id(), member_flags(false, false))?,
        plaintext: &plaintext,
    };
    network(report, &ctx, decrypts)
}

/// What the network phases share.
struct Ctx<'a> {
    admin: &'a GroupAdmin,
    rekey: &'a [u8],
    sender: &'a Account,
    sender_keys: &'a GroupKeys,
    sender_auth: SubaccountAuth,
    reader: &'a Account,
    reader_keys: &'a GroupKeys,
    reader_auth: SubaccountAuth,
    plaintext: &'a [u8],
}

impl Ctx<'_> {
    fn group(&self) -> AccountId {
        AccountId::from_bytes(&self.admin.group_id().to_bytes())
    }

    fn unsigned_store(&self, ns: i16, data: Vec<u8>) -> Store {
        Store::new(
            self.group(),
            Namespace::new(ns),
            data,
            now_ms(),
            Lifetime::Ttl(3_600_000),
        )
    }

    /// A store by the sender with its subaccount auth.
    fn member_store(&self, data: Vec<u8>) -> anyhow::Result<Store> {
        let mut req = self.unsigned_store(NS_MESSAGES, data);
        req.sig_timestamp = Some(req.timestamp);
        let sig = self
            .sender_auth
            .sign(self.sender.ed25519_secret(), &req.signed_message())?;
        req.auth = Some(sig.to_auth());
        Ok(req)
    }

    /// A store signed with the group's own key.
    fn admin_store(&self, ns: i16, data: Vec<u8>) -> Store {
        self.unsigned_store(ns, data)
            .signed(&Signer::ed25519(self.admin.signing_key()), now_ms())
    }

    /// A retrieve of namespace 11 by the reader with its subaccount auth, after `last`.
    fn member_retrieve(&self, last: Option<MessageHash>) -> anyhow::Result<Retrieve> {
        let (ns, now) = (Namespace::new(NS_MESSAGES), now_ms());
        let sig = self
            .reader_auth
            .sign(self.reader.ed25519_secret(), &to_sign::retrieve(ns, now))?;
        let mut req = Retrieve::new(self.group(), ns);
        req.last_hash = last;
        req.auth = Some(TimedAuth {
            timestamp: now,
            auth: sig.to_auth(),
        });
        Ok(req)
    }

    /// A retrieve signed with the group's own key, after `last`.
    fn admin_retrieve(&self, ns: i16, last: Option<MessageHash>) -> Retrieve {
        let mut req = Retrieve::new(self.group(), Namespace::new(ns));
        req.last_hash = last;
        req.signed(&Signer::ed25519(self.admin.signing_key()), now_ms())
    }
}

/// The network a bench run talks to: its nodes, and clients on several addresses.
struct Net {
    nodes: Vec<(SocketAddr, Ed25519PublicKey)>,
    clients: Vec<HttpsClient>,
    next: std::cell::Cell<usize>,
}

impl Net {
    /// Posts `request` to node `node` from the next client address; the answer must be 200.
    async fn post(&self, node: usize, request: impl Into<Request>) -> anyhow::Result<Vec<u8>> {
        let (addr, key) = self
            .nodes
            .get(node % self.nodes.len().max(1))
            .ok_or_else(|| anyhow!("no nodes"))?;
        let turn = self.next.get();
        self.next.set(turn.wrapping_add(1));
        let client = self
            .clients
            .get(turn % self.clients.len().max(1))
            .ok_or_else(|| anyhow!("no clients"))?;
        let json = [("content-type", "application/json")];
        let body = request.into().to_http_body();
        let resp = client
            .post(*addr, key, "/storage_rpc/v1", &json, body, TIMEOUT)
            .await?;
        ensure!(
            resp.status == 200,
            "status {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
        Ok(resp.body.to_vec())
    }

    /// Every message after `last` of one retrieve, and whether there are more.
    async fn page(
        &self,
        node: usize,
        request: Retrieve,
    ) -> anyhow::Result<(Vec<(MessageHash, Vec<u8>)>, bool)> {
        let body = self.post(node, request).await?;
        let page = RetrieveResponse::parse(&body, Encoding::Json)?;
        Ok((
            page.messages
                .into_iter()
                .map(|m| (m.hash, m.data))
                .collect(),
            page.more,
        ))
    }
}

fn network(report: &mut Report, ctx: &Ctx<'_>, decrypts: f64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating the testnet directory")?;
    let mut cfg = TestnetConfig::new(dir.path().to_owned(), bin_dir()?);
    cfg.nodes = NODES;
    cfg.subnet = SUBNET;
    cfg.port = PORT;
    cfg.decommission_after_s = 60;
    let mut testnet = Testnet::start(cfg)?;
    testnet.wait_ready(Duration::from_secs(40))?;
    let net = Net {
        nodes: testnet.nodes.iter().map(|n| (n.addr, n.pubkey)).collect(),
        clients: (1..=CLIENT_ADDRS)
            .map(|i| HttpsClient::with_local_addr(IpAddr::V4(Ipv4Addr::new(127, SUBNET, 1, i))))
            .collect(),
        next: std::cell::Cell::new(0),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    let result = runtime.block_on(measure(report, ctx, &net, decrypts));
    if result.is_err() {
        eprintln!("{}", testnet.logs_tail(20));
    }
    result
}

async fn measure(
    report: &mut Report,
    ctx: &Ctx<'_>,
    net: &Net,
    decrypts: f64,
) -> anyhow::Result<()> {
    // The admin stores the keys message (the swarm is ready when this succeeds everywhere).
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        match net
            .post(0, ctx.admin_store(NS_KEYS, ctx.rekey.to_vec()))
            .await
        {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the swarm: {e:#}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }

    // One message, end to end: the sender encrypts and stores through node 0; the reader
    // retrieves what is new through node 1 and decrypts it. Against the same store and
    // retrieve of a ciphertext-sized blob signed with the group key, without group crypto.
    let size = ctx
        .sender_keys
        .encrypt_message(ctx.sender.ed25519_secret(), ctx.plaintext, true, &[2; 24])?
        .len();
    let mut last: Option<MessageHash> = None;
    let mut group_ms = Vec::with_capacity(SEND_SAMPLES);
    for i in 0..SEND_SAMPLES + 3 {
        let start = Instant::now();
        let mut nonce = [0u8; 24];
        stamp(&mut nonce, i);
        let ct = ctx.sender_keys.encrypt_message(
            ctx.sender.ed25519_secret(),
            ctx.plaintext,
            true,
            &nonce,
        )?;
        net.post(0, ctx.member_store(ct)?).await?;
        let (messages, _) = net.page(1, ctx.member_retrieve(last)?).await?;
        let (hash, data) = messages
            .last()
            .ok_or_else(|| anyhow!("the reader got nothing"))?;
        let opened = ctx.reader_keys.decrypt_message(data)?;
        ensure!(
            opened.plaintext == ctx.plaintext,
            "the reader read another text"
        );
        last = Some(*hash);
        if i >= 3 {
            group_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut plain_last: Option<MessageHash> = None;
    let mut plain_ms = Vec::with_capacity(SEND_SAMPLES);
    for i in 0..SEND_SAMPLES + 3 {
        let start = Instant::now();
        let mut data = vec![0x17u8; size];
        stamp(&mut data, i);
        net.post(0, ctx.admin_store(NS_KEYS + 2, data)).await?;
        let (messages, _) = net
            .page(1, ctx.admin_retrieve(NS_KEYS + 2, plain_last))
            .await?;
        plain_last = Some(
            messages
                .last()
                .map(|m| m.0)
                .ok_or_else(|| anyhow!("the plain retrieve got nothing"))?,
        );
        if i >= 3 {
            plain_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let (group_p50, plain_p50) = (median(group_ms), median(plain_ms));
    report.figure("group_message_bytes", size as f64, "bytes");
    report.figure("group_send_p50_ms", group_p50, "ms");
    report.figure("plain_store_retrieve_p50_ms", plain_p50, "ms");
    report.ratio("group_send_over_plain", group_p50, plain_p50);

    // Catch-up: the reader was offline while CATCHUP messages were sent; it pages through
    // all of them (from where it was) and decrypts each.
    let offline_from = last;
    let stored_from = Instant::now();
    for i in 0..CATCHUP {
        let mut nonce = [0xccu8; 24];
        stamp(&mut nonce, i);
        let ct = ctx.sender_keys.encrypt_message(
            ctx.sender.ed25519_secret(),
            ctx.plaintext,
            true,
            &nonce,
        )?;
        net.post(i, ctx.member_store(ct)?).await?;
    }
    let store_secs = stored_from.elapsed().as_secs_f64();
    let start = Instant::now();
    let (mut read, mut pages, mut after) = (0usize, 0usize, offline_from);
    loop {
        let (messages, more) = net.page(1, ctx.member_retrieve(after)?).await?;
        pages += 1;
        for (_, data) in &messages {
            let opened = ctx.reader_keys.decrypt_message(data)?;
            ensure!(
                opened.plaintext == ctx.plaintext,
                "catch-up read another text"
            );
        }
        read += messages.len();
        after = messages.last().map(|m| m.0).or(after);
        if !more || messages.is_empty() {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    ensure!(read == CATCHUP, "caught up on {read} of {CATCHUP} messages");
    report.figure("catchup_messages", read as f64, "messages");
    report.figure("catchup_pages", pages as f64, "pages");
    report.figure("catchup_ms", secs * 1e3, "ms");
    report.figure("catchup_msgs_per_s", read as f64 / secs, "msg/s");
    report.figure("group_decrypts_per_s", decrypts, "msg/s");
    report.ratio("catchup_over_decrypt", read as f64 / secs, decrypts);
    report.figure(
        "member_stores_per_s",
        CATCHUP as f64 / store_secs,
        "stores/s",
    );
    Ok(())
}
