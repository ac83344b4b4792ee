#![doc = include_str!("../README.md")]

mod attachment;
mod community;
mod config;
mod crypto;
mod delivery;
mod files;
mod groups;
mod harness;
mod messages;
mod node;
mod onion;
mod ratelimit;
mod rpc;

use std::process::ExitCode;

use harness::Report;

/// A benchmark: its name and what it measures.
type Bench = (
    &'static str,
    &'static str,
    fn(&mut Report) -> anyhow::Result<()>,
);

/// Every benchmark, by name.
const BENCHES: &[Bench] = &[
    (
        "community",
        "a community server on a 5-node testnet, SQLite then PostgreSQL: posts/s and polls/s of \
         sotto-client through 3-hop onions vs bare onion round trips; signed requests vs Ed25519",
        community::run,
    ),
    (
        "config",
        "merge of a 1,000-contact Contacts config with 10 concurrent diffs; config encryption \
         vs raw XChaCha20-Poly1305; a change on device A seen by device B over a 5-node testnet",
        config::run,
    ),
    (
        "crypto",
        "sealed-box opens vs X25519; secretstream vs raw XChaCha20-Poly1305",
        crypto::run,
    ),
    (
        "delivery",
        "1000 texts Alice → Bob through sotto-client over 3-hop onions on a 7-node testnet: store \
         ack and delivery p50/p99, throughput, crypto share, vs direct and onion stores",
        delivery::run,
    ),
    (
        "files",
        "a 10 MB attachment Alice → Bob through 3-hop onion paths and a file server: upload, \
         download and end-to-end MB/s vs attachment encryption; peak RSS; voice MP3 encoding speed",
        files::run,
    ),
    (
        "groups",
        "closed groups of 100 members on a 3-node testnet: rekey vs 100 X25519 agreements; one \
         message encrypted, stored with a member's subaccount and read back by another member \
         vs a plain store and retrieve; a member's catch-up of 1,000 messages vs decryption",
        groups::run,
    ),
    (
        "messages",
        "1:1 encrypt/decrypt of a 1 KiB Content vs X25519 and Ed25519; 10 MB attachments in both \
         formats vs raw XChaCha20-Poly1305 and AES-CBC",
        messages::run,
    ),
    (
        "node",
        "a 7-node loopback testnet: signed retrieves vs Ed25519, replicated stores vs SQLite \
         inserts, 3-hop onion requests vs X25519, onion store latency p50/p99",
        node::run,
    ),
    (
        "onion",
        "onion layer peels (1 KiB, per enc_type) vs X25519; 3-hop onion builds",
        onion::run,
    ),
    (
        "ratelimit",
        "per-address token buckets (sotto-transport, on governor) vs the hand-written table they \
         replaced and vs governor alone: one address, 10,000 addresses, a flood of new addresses; \
         table size vs the bound",
        ratelimit::run,
    ),
    (
        "rpc",
        "storage request parse + check (signed store, subaccount retrieve) vs Ed25519 verify",
        rpc::run,
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!("usage: sotto-bench NAME\n\nbenchmarks:");
        for (name, about, _) in BENCHES {
            eprintln!("  {name:<10} {about}");
        }
        return ExitCode::FAILURE;
    };
    let Some((_, _, run)) = BENCHES.iter().find(|(n, _, _)| n == name) else {
        let known: Vec<&str> = BENCHES.iter().map(|(n, _, _)| *n).collect();
        eprintln!("unknown benchmark {name:?}; known: {}", known.join(", "));
        return ExitCode::FAILURE;
    };
    let mut report = Report::new(name);
    match run(&mut report).and_then(|()| report.write()) {
        Ok(path) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
