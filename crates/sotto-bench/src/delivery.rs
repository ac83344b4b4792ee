//! `delivery`: [`MESSAGES`] texts from Alice to Bob over a local testnet (real `sotto-node`
//! processes, one swarm of [`NODES`], started with `sotto_testkit::net`), both sides being
//! `sotto_client::Client<OnionNetwork>`: every store and retrieve goes through a 3-hop onion.
//! Alice sends with [`SENDERS`] messages in flight; Bob polls every [`POLL_INTERVAL`], fixed.
//!
//! Per message: "store acknowledged" (`send_text` returned: the recipient's copy and the sync
//! copy each stored through an onion) and "sent → decrypted by Bob" (from the `send_text` call
//! until Bob's poll returned it decrypted; the body carries the message's number). Then
//! throughput, lost messages (and whether Bob's swarm holds them, asked node by node), and the
//! share of time spent in crypto: the same messages are encrypted (both copies, with the signed
//! store request) and opened in-process, and a 3-hop onion is built for each store, after the
//! run. [`SOLO`] messages sent one at a time before the run split a store acknowledgement into
//! network (`OnionNetwork`'s traces), the client's local work (the same sends on an `Engine`
//! without network: crypto and SQLite) and the rest.
//!
//! Bounds, measured in the same run against the same nodes: direct HTTPS stores to one node and
//! 3-hop onion stores (built per request), each with [`IN_FLIGHT`] in flight, and the latency of
//! one onion store at a time.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use sotto_client::outgoing::{self, Outgoing, Tally};
use sotto_client::{
    Account, Client, Engine, Event, MessageState, NetworkFile, OnionNetwork, SessionId,
};
use sotto_crypto::{Ed25519PublicKey, OsRng};
use sotto_envelope::Message;
use sotto_onion::{Destination, EncType, NodeKeys};
use sotto_rpc::request::{Lifetime, Retrieve, Store};
use sotto_rpc::response::{NodeOutcome, RetrieveResponse, SwarmResponse};
use sotto_rpc::{AccountId, Encoding, Method, Namespace, Request, Signer};
use sotto_testkit::net::{Testnet, TestnetConfig};
use sotto_transport::HttpsClient;

use crate::harness::{Report, onion_client};
use crate::node::{IN_FLIGHT, bin_dir, now_ms, saturate};

/// Messages Alice sends.
const MESSAGES: usize = 1000;
/// Messages in flight (concurrent `send_text` calls).
const SENDERS: usize = 8;
/// Messages sent one at a time before the run, for an unloaded store acknowledgement time.
const SOLO: usize = 20;
/// Bob's poll interval, fixed.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long Bob keeps polling after Alice's last send before the rest counts as lost.
const DRAIN: Duration = Duration::from_secs(30);
/// Nodes: one swarm, so Alice and Bob share it and every node takes direct stores.
const NODES: usize = 7;
/// Second octet of every address (the node bench uses 77, client tests 60–69).
const SUBNET: u8 = 78;
/// The directory's port; nodes listen on the next one.
const PORT: u16 = 23_780;
/// Client addresses the bound phases rotate over (the nodes limit each address to 300/s).
const CLIENT_ADDRS: u8 = 64;
/// One-at-a-time onion store samples.
const SAMPLES: usize = 50;
/// Per-request timeout of the bound phases.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Body length of each text.
const BODY_LEN: usize = 64;

pub fn run(report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating the testnet directory")?;
    let mut cfg = TestnetConfig::new(dir.path().to_owned(), bin_dir()?);
    cfg.nodes = NODES;
    cfg.subnet = SUBNET;
    cfg.port = PORT;
    // Everything shares one core: uptime proofs may come late.
    cfg.decommission_after_s = 60;
    let mut net = Testnet::start(cfg)?;
    let result = measure(&mut net, report);
    if result.is_err() {
        eprintln!("{}", net.logs_tail(20));
    }
    result
}

/// The text of message `seq`: its number first, padded to [`BODY_LEN`].
fn body(seq: usize) -> String {
    format!("{seq:06} {}", "x".repeat(BODY_LEN - 7))
}

fn seq_of(body: &str) -> Option<usize> {
    body.split(' ').next()?.parse().ok()
}

/// The `p`th percentile of sorted `ms`.
fn pct(ms: &[f64], p: usize) -> f64 {
    ms.get((ms.len() * p / 100).min(ms.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the run recorded, per message.
#[derive(Default, Clone, Copy)]
struct Record {
    sent: Option<Instant>,
    acked_ms: Option<f64>,
    failed: bool,
    delivered: Option<Instant>,
}

fn measure(net: &mut Testnet, report: &mut Report) -> anyhow::Result<()> {
    net.wait_ready(Duration::from_secs(40))?;
    let file = NetworkFile::parse(&serde_json::to_vec(&net.network_file())?)?;
    let nodes: Vec<(SocketAddr, Ed25519PublicKey)> =
        net.nodes.iter().map(|n| (n.addr, n.pubkey)).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting tokio")?;
    runtime.block_on(async {
        let direct = Arc::new(Direct::new(nodes)?);

        let db = tempfile::tempdir().context("creating the client directory")?;
        let (alice_seed, bob_seed) = ([0xa1; 32], [0xb0; 32]);
        let connect = |seed: [u8; 32], name: &str| {
            onion_client(&file, db.path().join(format!("{name}.db")), seed)
        };
        let alice = Arc::new(connect(alice_seed, "alice").await?);
        let bob = Arc::new(connect(bob_seed, "bob").await?);
        let (alice_id, bob_id) = (alice.session_id(), bob.session_id());
        let now = now_ms();
        alice.with_engine(|e| e.add_contact(&bob_id, Some("bob"), now))?;
        bob.with_engine(|e| e.add_contact(&alice_id, Some("alice"), now))?;
        alice.set_display_name(Some("Alice"))?;

        // Messages one at a time first (the first also warms up paths and swarm lookups).
        let (mut solo_ack, mut solo_network) = solo(&alice, &bob, bob_id).await?;
        solo_ack.sort_by(f64::total_cmp);
        solo_network.sort_by(f64::total_cmp);

        let records = Arc::new(Mutex::new(vec![Record::default(); MESSAGES]));
        let (run_s, poll_errors) = exchange(&alice, &bob, bob_id, &records).await?;
        let records = lock(&records).clone();
        figures(report, &records, run_s, poll_errors);
        let lost: Vec<usize> = (0..MESSAGES)
            .filter(|&i| records.get(i).is_some_and(|r| r.delivered.is_none()))
            .collect();
        let mut on_swarm = 0;
        if !lost.is_empty() {
            // Lost by the network, or skipped by Bob's client? Ask every node directly.
            let bob_account = Account::from_ed25519_seed(&bob_seed);
            let mut on_nodes = vec![0usize; lost.len()];
            for node in 0..NODES {
                let held = direct.held(node, &bob_account).await?;
                for (count, seq) in on_nodes.iter_mut().zip(&lost) {
                    *count += usize::from(held.contains(seq));
                }
            }
            for (seq, n) in lost.iter().zip(&on_nodes) {
                println!("lost message {seq}: held by {n} of {NODES} nodes of Bob's swarm");
            }
            on_swarm = on_nodes.iter().filter(|&&n| n > 0).count();
        }
        report.figure("lost_but_on_swarm", on_swarm as f64, "messages");
        report.figure("store_ack_solo_p50_ms", pct(&solo_ack, 50), "ms");
        report.figure(
            "store_ack_solo_network_p50_ms",
            pct(&solo_network, 50),
            "ms",
        );

        let crypto_ms = crypto_per_message(alice_seed, bob_seed, &direct)?;
        let onion_p50 = direct.onion_store_p50(&bob_id).await?;
        let direct_rate = direct.store_rate(bob_id, false).await?;
        let onion_rate = direct.store_rate(bob_id, true).await?;
        bounds(
            report,
            &records,
            run_s,
            crypto_ms,
            onion_p50,
            direct_rate,
            onion_rate,
        );
        // A message alone is two onion stores (Bob's copy, then the sync copy) plus the
        // client's own work: ≈ 2 when the client adds little.
        report.ratio(
            "store_ack_solo_p50_ratio_onion_store",
            pct(&solo_ack, 50),
            onion_p50,
        );
        let local = local_per_message(db.path(), alice_seed)?;
        report.figure("client_local_ms_per_message", local, "ms");
        // Of a message sent alone, the share of the client's local work (crypto and its
        // SQLite writes, synchronous=FULL); with the network share below, the rest is
        // scheduling.
        report.ratio("local_share_of_solo_store_ack", local, pct(&solo_ack, 50));
        // Of a message sent alone, the share its stores spent in the network (traced by
        // OnionNetwork); the rest is the client: crypto, SQLite, scheduling.
        report.ratio(
            "network_share_of_solo_store_ack",
            pct(&solo_network, 50),
            pct(&solo_ack, 50),
        );
        Ok(())
    })
}

/// Alice sends [`SOLO`] messages one at a time (after one to warm up), then Bob polls until
/// they all arrived; returns, per message, its store acknowledgement time and the time its
/// stores spent in the network as `OnionNetwork`'s traces tell (request sent → answer opened),
/// ms.
async fn solo(
    alice: &Client<OnionNetwork>,
    bob: &Client<OnionNetwork>,
    bob_id: SessionId,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let (mut acked, mut network) = (Vec::with_capacity(SOLO), Vec::with_capacity(SOLO));
    for i in 0..=SOLO {
        drop(alice.network().take_traces());
        let t = Instant::now();
        let outcome = alice.send_text(&bob_id, &format!("solo {i}")).await?;
        let elapsed = ms(t.elapsed());
        ensure!(
            matches!(outcome.state, MessageState::Stored { .. }),
            "a message sent alone was not stored: {:?}",
            outcome.state
        );
        let traced: u64 = alice
            .network()
            .take_traces()
            .iter()
            .filter(|t| t.method == "store")
            .map(|t| t.elapsed_ms)
            .sum();
        if i > 0 {
            acked.push(elapsed);
            network.push(traced as f64);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut arrived = 0;
    while arrived <= SOLO {
        match bob.poll_once().await {
            Ok(events) => {
                arrived += events
                    .iter()
                    .filter(|e| matches!(e, Event::Message(_)))
                    .count();
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(anyhow!(e).context("polling for the first messages"));
            }
            Err(_) => {}
        }
        ensure!(
            Instant::now() < deadline,
            "{arrived} of {} messages sent one at a time arrived in 60 s",
            SOLO + 1
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Ok((acked, network))
}

/// Alice sends [`MESSAGES`] with [`SENDERS`] in flight while Bob polls every
/// [`POLL_INTERVAL`]; returns the run's length (first send to last delivery), s, and how many
/// of Bob's polls failed.
async fn exchange(
    alice: &Arc<Client<OnionNetwork>>,
    bob: &Arc<Client<OnionNetwork>>,
    bob_id: SessionId,
    records: &Arc<Mutex<Vec<Record>>>,
) -> anyhow::Result<(f64, usize)> {
    let start = Instant::now();
    let sends_done = Arc::new(Mutex::new(None::<Instant>));
    let poller = {
        let (bob, records, sends_done) = (
            Arc::clone(bob),
            Arc::clone(records),
            Arc::clone(&sends_done),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut delivered, mut errors, mut last) = (0usize, 0usize, start);
            loop {
                tick.tick().await;
                match bob.poll_once().await {
                    Ok(events) => {
                        let at = Instant::now();
                        let mut records = lock(&records);
                        for event in events {
                            let Event::Message(m) = event else { continue };
                            let seq = m.message.body.as_deref().and_then(seq_of);
                            if let Some(r) = seq.and_then(|s| records.get_mut(s))
                                && r.delivered.is_none()
                            {
                                r.delivered = Some(at);
                                delivered += 1;
                                last = at;
                            }
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("poll failed: {e}");
                    }
                }
                let done = *lock(&sends_done);
                if delivered == MESSAGES || done.is_some_and(|t| t.elapsed() >= DRAIN) {
                    return (last, errors);
                }
            }
        })
    };
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (alice, records, next) = (Arc::clone(alice), Arc::clone(records), Arc::clone(&next));
        senders.spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= MESSAGES {
                    return;
                }
                let t = Instant::now();
                if let Some(r) = lock(&records).get_mut(seq) {
                    r.sent = Some(t);
                }
                let outcome = alice.send_text(&bob_id, &body(seq)).await;
                let elapsed = ms(t.elapsed());
                let mut records = lock(&records);
                let Some(r) = records.get_mut(seq) else {
                    return;
                };
                match outcome {
                    Ok(o) if matches!(o.state, MessageState::Stored { .. }) => {
                        r.acked_ms = Some(elapsed);
                    }
                    Ok(_) => r.failed = true,
                    Err(e) => {
                        r.failed = true;
                        eprintln!("send {seq} failed: {e}");
                    }
                }
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done?;
    }
    let sent_s = start.elapsed().as_secs_f64();
    println!("sent {MESSAGES} messages in {sent_s:.2} s, {SENDERS} in flight");
    *lock(&sends_done) = Some(Instant::now());
    let (last, poll_errors) = poller.await?;
    Ok((last.duration_since(start).as_secs_f64(), poll_errors))
}

fn figures(report: &mut Report, records: &[Record], run_s: f64, poll_errors: usize) {
    let mut acked: Vec<f64> = records.iter().filter_map(|r| r.acked_ms).collect();
    let mut delivery: Vec<f64> = records
        .iter()
        .filter_map(|r| Some(ms(r.delivered?.checked_duration_since(r.sent?)?)))
        .collect();
    acked.sort_by(f64::total_cmp);
    delivery.sort_by(f64::total_cmp);
    let failed = records.iter().filter(|r| r.failed).count();
    report.figure("messages", MESSAGES as f64, "messages");
    report.figure("in_flight", SENDERS as f64, "messages");
    report.figure("poll_interval_ms", ms(POLL_INTERVAL), "ms");
    report.figure("lost", (MESSAGES - delivery.len()) as f64, "messages");
    report.figure("store_failed", failed as f64, "messages");
    report.figure("poll_errors", poll_errors as f64, "polls");
    report.figure("store_ack_p50_ms", pct(&acked, 50), "ms");
    report.figure("store_ack_p99_ms", pct(&acked, 99), "ms");
    report.figure("delivery_p50_ms", pct(&delivery, 50), "ms");
    report.figure("delivery_p99_ms", pct(&delivery, 99), "ms");
    report.figure("run_s", run_s, "s");
    report.figure(
        "messages_per_s",
        delivery.len() as f64 / run_s.max(1e-9),
        "msg/s",
    );
}

/// The client's crypto per message, ms, measured in-process on the same kind of messages:
/// encrypting both copies with their store requests (the sync copy's is signed), opening
/// Bob's copy, and building a 3-hop onion for each of the two stores.
fn crypto_per_message(
    alice_seed: [u8; 32],
    bob_seed: [u8; 32],
    direct: &Direct,
) -> anyhow::Result<f64> {
    let (alice, bob) = (
        Account::from_ed25519_seed(&alice_seed),
        Account::from_ed25519_seed(&bob_seed),
    );
    let bob_id = bob.session_id();
    let ctx = outgoing::Context {
        profile: Some(("Alice".to_owned(), Some(now_ms() / 1000))),
        ..outgoing::Context::default()
    };
    let (mut encrypt, mut open, mut onion) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for seq in 0..MESSAGES {
        let text = Outgoing::Text {
            body: body(seq),
            quote: None,
        };
        let t = Instant::now();
        let prepared = outgoing::prepare(&alice, &bob_id, &text, &ctx, now_ms(), &mut OsRng)?;
        let requests: Vec<Vec<u8>> = prepared
            .jobs
            .iter()
            .map(|job| Request::from(job.request(&alice, now_ms())).to_http_body())
            .collect();
        encrypt += t.elapsed();
        let recipient = prepared
            .jobs
            .first()
            .ok_or_else(|| anyhow!("a text without a recipient copy"))?;
        let t = Instant::now();
        let opened = sotto_client::open(&bob, &recipient.data)
            .map_err(|e| anyhow!("opening message {seq}: {e}"))?;
        open += t.elapsed();
        ensure!(opened.sender == alice.session_id(), "wrong sender");
        let t = Instant::now();
        for (i, rpc) in requests.iter().enumerate() {
            direct.onion(seq + i, rpc)?;
        }
        onion += t.elapsed();
    }
    let per = |d: Duration| ms(d) / MESSAGES as f64;
    println!(
        "crypto per message: encrypt {:.3} ms, open {:.3} ms, onion builds {:.3} ms",
        per(encrypt),
        per(open),
        per(onion)
    );
    Ok(per(encrypt) + per(open) + per(onion))
}

#[allow(clippy::too_many_arguments)]
fn bounds(
    report: &mut Report,
    records: &[Record],
    run_s: f64,
    crypto_ms: f64,
    onion_store_p50: f64,
    direct_rate: f64,
    onion_rate: f64,
) {
    let delivered = records.iter().filter(|r| r.delivered.is_some()).count() as f64;
    let rate = delivered / run_s.max(1e-9);
    let mut acked: Vec<f64> = records.iter().filter_map(|r| r.acked_ms).collect();
    acked.sort_by(f64::total_cmp);
    let mut delivery: Vec<f64> = records
        .iter()
        .filter_map(|r| Some(ms(r.delivered?.checked_duration_since(r.sent?)?)))
        .collect();
    delivery.sort_by(f64::total_cmp);
    report.figure("crypto_ms_per_message", crypto_ms, "ms");
    // Share of one message's delivery time spent in its crypto (the rest is the network:
    // onion hops, the nodes, waiting for the poll), and of the run's (single-core) time.
    report.ratio("crypto_share_of_delivery", crypto_ms, pct(&delivery, 50));
    report.ratio("crypto_share_of_run", delivered * crypto_ms, run_s * 1e3);
    report.figure("direct_store_per_s", direct_rate, "op/s");
    report.figure("onion_store_per_s", onion_rate, "op/s");
    report.figure("onion_store_p50_ms", onion_store_p50, "ms");
    report.figure("bound_in_flight", IN_FLIGHT as f64, "requests");
    // Each message is two onion stores (Bob's copy, Alice's sync copy) plus Bob's polls.
    report.ratio("messages_per_s_ratio_direct_store", rate, direct_rate);
    report.ratio("messages_per_s_ratio_onion_store", rate, onion_rate);
    report.ratio(
        "messages_per_s_ratio_crypto",
        rate,
        1e3 / crypto_ms.max(1e-9),
    );
    report.ratio(
        "store_ack_p50_ratio_onion_store",
        pct(&acked, 50),
        onion_store_p50,
    );
    // Unloaded, a delivery takes about one onion store plus half a poll interval.
    report.ratio(
        "delivery_p50_ratio_store_plus_half_poll",
        pct(&delivery, 50),
        onion_store_p50 + ms(POLL_INTERVAL) / 2.0,
    );
}

/// Direct access to the nodes, for the bounds.
struct Direct {
    nodes: Vec<(SocketAddr, Ed25519PublicKey)>,
    keys: Vec<NodeKeys>,
    clients: Vec<HttpsClient>,
    /// The length of a text's `data` in its store.
    data_len: usize,
}

impl Direct {
    fn new(nodes: Vec<(SocketAddr, Ed25519PublicKey)>) -> anyhow::Result<Self> {
        let keys = nodes
            .iter()
            .map(|(_, k)| NodeKeys::from_ed25519(*k))
            .collect::<Result<_, _>>()?;
        let clients = (1..=CLIENT_ADDRS)
            .map(|i| HttpsClient::with_local_addr(IpAddr::V4(Ipv4Addr::new(127, SUBNET, 1, i))))
            .collect();
        Ok(Self {
            nodes,
            keys,
            clients,
            data_len: store_data_len()?,
        })
    }

    fn node_keys(&self, i: usize) -> anyhow::Result<NodeKeys> {
        self.keys
            .get(i % self.keys.len().max(1))
            .copied()
            .ok_or_else(|| anyhow!("no nodes"))
    }

    /// A 3-hop onion (paths rotate with `i`) carrying `rpc` to the node after the exit:
    /// the guard's index, the body and its response key.
    fn onion(
        &self,
        i: usize,
        rpc: &[u8],
    ) -> anyhow::Result<(usize, Vec<u8>, sotto_onion::ResponseKey)> {
        let path = [
            self.node_keys(i)?,
            self.node_keys(i + 1)?,
            self.node_keys(i + 2)?,
        ];
        let node = self.node_keys(i + 3)?;
        let built = sotto_onion::build(
            &path,
            &Destination::Node { node, rpc },
            EncType::XChaCha20,
            &mut OsRng,
        )?;
        Ok((i, built.body, built.response_key))
    }

    async fn post(
        &self,
        i: usize,
        node: usize,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Vec<u8>> {
        let (addr, key) = self
            .nodes
            .get(node % self.nodes.len().max(1))
            .ok_or_else(|| anyhow!("no nodes"))?;
        let client = self
            .clients
            .get(i % self.clients.len().max(1))
            .ok_or_else(|| anyhow!("no clients"))?;
        let headers: &[(&str, &str)] = if path == "/storage_rpc/v1" {
            &[("content-type", "application/json")]
        } else {
            &[]
        };
        let resp = client
            .post(*addr, key, path, headers, body, TIMEOUT)
            .await?;
        ensure!(resp.status == 200, "{path}: status {}", resp.status);
        Ok(resp.body.to_vec())
    }

    /// Stores a message-sized blob for `to` directly (`onion` false) or through a 3-hop onion;
    /// returns how many swarm members acknowledged it.
    async fn store(&self, i: usize, to: &SessionId, onion: bool) -> anyhow::Result<usize> {
        let mut data = vec![0x5a; self.data_len];
        for (d, s) in data.iter_mut().zip(i.to_le_bytes()) {
            *d = s;
        }
        let rpc = Request::from(Store::new(
            AccountId::from(*to),
            Namespace::DEFAULT,
            data,
            now_ms(),
            Lifetime::Ttl(3_600_000),
        ))
        .to_http_body();
        let answer = if onion {
            let (guard, body, key) = self.onion(i, &rpc)?;
            let resp = self.post(i, guard, "/onion_req/v2", body).await?;
            let answer = key.open_v3(&resp)?;
            ensure!(
                answer.status == 200,
                "store: {}: {}",
                answer.status,
                answer.body
            );
            answer.body.into_bytes()
        } else {
            self.post(i, i, "/storage_rpc/v1", rpc).await?
        };
        let resp = SwarmResponse::parse(Method::Store, &answer, Encoding::Json)?;
        Ok(resp
            .swarm
            .values()
            .filter(|o| matches!(o, NodeOutcome::Ok(_)))
            .count())
    }

    /// The bench messages (their numbers) that node `node` holds for `account`: a signed
    /// retrieve of everything, paged on that node, each message opened.
    async fn held(&self, node: usize, account: &Account) -> anyhow::Result<HashSet<usize>> {
        let mut held = HashSet::new();
        let mut last_hash = None;
        loop {
            let mut retrieve =
                Retrieve::new(AccountId::from(account.session_id()), Namespace::DEFAULT);
            retrieve.last_hash = last_hash;
            let retrieve = retrieve.signed(&Signer::session(account.ed25519_secret()), now_ms());
            let body = Request::from(retrieve).to_http_body();
            let answer = self.post(node, node, "/storage_rpc/v1", body).await?;
            let page = RetrieveResponse::parse(&answer, Encoding::Json)?;
            for m in &page.messages {
                if let Ok(opened) = sotto_client::open(account, &m.data)
                    && let Message::Visible(v) = &opened.content.message
                    && let Some(seq) = v.body.as_deref().and_then(seq_of)
                {
                    held.insert(seq);
                }
            }
            match page.messages.last() {
                Some(m) if page.more => last_hash = Some(m.hash),
                _ => return Ok(held),
            }
        }
    }

    /// p50 of onion stores one at a time, ms.
    async fn onion_store_p50(&self, to: &SessionId) -> anyhow::Result<f64> {
        let mut samples = Vec::with_capacity(SAMPLES);
        for i in 0..SAMPLES {
            let t = Instant::now();
            self.store(i, to, true).await?;
            samples.push(ms(t.elapsed()));
        }
        samples.sort_by(f64::total_cmp);
        Ok(pct(&samples, 50))
    }

    /// Stores per second with [`IN_FLIGHT`] in flight, direct or through onions.
    async fn store_rate(self: &Arc<Self>, to: SessionId, onion: bool) -> anyhow::Result<f64> {
        let what = if onion { "onion store" } else { "direct store" };
        let direct = Arc::clone(self);
        saturate(what, 50_000, move |i| {
            let direct = Arc::clone(&direct);
            async move {
                let n = direct.store(i, &to, onion).await?;
                ensure!(n == NODES, "stored on {n} of {NODES} nodes");
                Ok(())
            }
        })
        .await
    }
}

/// The client's local work for one message sent alone, ms: what `send_text` does besides the
/// network (the texts encrypted, the message and its two stores written to SQLite, the two
/// outcomes recorded), on an `Engine` over a file in `dir`, for [`SOLO`] messages.
fn local_per_message(dir: &std::path::Path, alice_seed: [u8; 32]) -> anyhow::Result<f64> {
    let mut engine = Engine::open(
        &dir.join("local.db"),
        Account::from_ed25519_seed(&alice_seed),
    )?;
    let bob = Account::from_ed25519_seed(&[0xbb; 32]).session_id();
    engine.add_contact(&bob, Some("bob"), now_ms())?;
    let answered = Tally {
        stored: NODES as u32,
        nodes: NODES as u32,
    };
    let t = Instant::now();
    for seq in 0..SOLO {
        let sent = engine.send_text(&bob, &body(seq), None, now_ms(), &mut OsRng)?;
        for job in &sent.jobs {
            let _request = engine.store_request(job, now_ms());
            engine.record_store(job.id, Some(answered), now_ms())?;
        }
    }
    Ok(ms(t.elapsed()) / SOLO as f64)
}

/// The length of a text's `data` in its store: a real message prepared in-process.
fn store_data_len() -> anyhow::Result<usize> {
    let (alice, bob) = (
        Account::from_ed25519_seed(&[1; 32]),
        Account::from_ed25519_seed(&[2; 32]),
    );
    let text = Outgoing::Text {
        body: body(0),
        quote: None,
    };
    let prepared = outgoing::prepare(
        &alice,
        &bob.session_id(),
        &text,
        &outgoing::Context::default(),
        now_ms(),
        &mut OsRng,
    )?;
    prepared
        .jobs
        .first()
        .map(|j| j.data.len())
        .ok_or_else(|| anyhow!("a text without a recipient copy"))
}
