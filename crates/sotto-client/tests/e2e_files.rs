//! Files and voice messages end to end on a real testnet (subnet 120: a directory, 5 nodes and
//! a file server, as processes): Alice sends a 9.9 MB file and a voice message (a generated
//! sine wave, transcoded to MP3) to Bob while he is offline; Bob comes online and downloads
//! both through onion paths; the SHA-256 and the duration match. A 10,000,001-byte file is
//! refused before any upload; a tampered download is refused; a file server killed during an
//! upload gives a clear failure and the retry succeeds once it is back; an expired file is
//! reported as expired.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{STEP, TestNet, User, new_account, wait_for};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use sotto_attachment::AttachmentUrl;
use sotto_client::attachments::{
    AttachmentState, Downloaded, SendAs, TransferError, TransferPolicy, file_server_of,
    stage_bytes, stage_path,
};
use sotto_client::{MessageRecord, NetworkFile, SessionId};

const SUBNET: u8 = 120;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Generous bounds: 10 MB through three debug-build nodes on a loaded 2-core machine can take
/// over a minute (each onion attempt gets half of `request_timeout`).
fn fast_policy() -> TransferPolicy {
    TransferPolicy {
        request_timeout: Duration::from_secs(240),
        attempts: 3,
        backoff: Duration::from_millis(300),
    }
}

/// Server requests made through the network so far (drains the traces).
fn server_requests(user: &User) -> usize {
    user.onion()
        .take_traces()
        .iter()
        .filter(|t| t.method == "server")
        .count()
}

/// The newest message from `peer` with attachments in `user`'s history.
fn with_attachments(user: &User, peer: &SessionId, n: usize) -> Option<Vec<MessageRecord>> {
    let found: Vec<MessageRecord> = user
        .history(peer)
        .into_iter()
        .filter(|m| !m.outgoing && !user.client.attachments(m.id).unwrap().is_empty())
        .collect();
    (found.len() >= n).then_some(found)
}

/// Kills the file server (`kill -9`).
fn kill_file_server(net: &TestNet) {
    let pid = net.tn.file_server.as_ref().unwrap().pid().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_voice_messages_reach_an_offline_recipient_through_onion_paths() {
    sotto_testkit::net::fileserver_binary().unwrap();
    let mut net = TestNet::start(SUBNET, 5).await;
    let tn_fs = tokio::task::block_in_place(|| net.tn.start_file_server("").map(|_| ()));
    tn_fs.unwrap();
    net.file = NetworkFile::parse(net.tn.network_file().to_string().as_bytes()).unwrap();
    let server = file_server_of(net.file.file_server.as_ref().unwrap()).unwrap();
    let dir = net.dir.path().to_owned();

    let alice_account = new_account();
    let bob_account = new_account();
    let bob_id = bob_account.session_id();
    let alice = net.user("alice", &alice_account).await;

    // A 10,000,001-byte file fails at once, with the reason, and nothing goes up.
    let big = dir.join("too-big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(10_000_001)
        .unwrap();
    let before = server_requests(&alice);
    let err = stage_path(&big, SendAs::File).unwrap_err();
    assert!(matches!(err, TransferError::Limit(_)), "{err:?}");
    assert!(err.to_string().contains("cap of 10000000 bytes"), "{err}");
    assert_eq!(server_requests(&alice), before);
    assert_eq!(before, 0, "no upload was tried");

    // 9.9 MB of seeded random bytes, sent while Bob is offline.
    let seed = rand::random::<u64>();
    eprintln!("file seed {seed}");
    let mut data = vec![0u8; 9_900_000];
    rand_chacha::ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut data);
    let file_path = dir.join("report.bin");
    std::fs::write(&file_path, &data).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let started = std::time::Instant::now();
    let sent = alice
        .client
        .send_attachments(
            &bob_id,
            vec![stage_path(&file_path, SendAs::File).unwrap()],
            Some("the report"),
            None,
            &server,
            &fast_policy(),
            &Some(tx),
        )
        .await
        .unwrap();
    eprintln!("9.9 MB sent in {:?}", started.elapsed());
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert!(
        events.iter().any(|e| matches!(
            e,
            sotto_client::attachments::TransferEvent::Uploaded { bytes, .. } if *bytes > 9_900_000
        )),
        "{events:?}"
    );
    let mine = alice.client.attachments(sent.message).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].state, AttachmentState::Uploaded);
    let url = AttachmentUrl::parse(&mine[0].url).unwrap();
    assert!(url.is_deterministic(), "{}", mine[0].url);
    assert_eq!(url.server_key(), Some(server.ed25519()));

    // A voice message: 2 s of 440 Hz, WAV in, MP3 out.
    let wav = sotto_testkit::media::sine_wav(440.0, 2.0, 44_100);
    let voice = stage_bytes(wav, Some("note.wav"), SendAs::Voice).unwrap();
    assert_eq!(voice.meta.content_type().as_str(), "audio/mpeg");
    assert!(voice.meta.is_voice_message());
    let voice_sha = sha256(&voice.bytes);
    let voice_ms = voice.duration.unwrap().as_millis() as u64;
    assert!((1900..=2200).contains(&voice_ms), "{voice_ms}");
    alice
        .client
        .send_attachments(
            &bob_id,
            vec![voice],
            None,
            None,
            &server,
            &fast_policy(),
            &None,
        )
        .await
        .unwrap();

    // Bob comes online and downloads both through onion paths.
    let bob = net.user("bob", &bob_account).await;
    let alice_id = alice.id();
    let messages = wait_for("both attachment messages at Bob", STEP, || async {
        with_attachments(&bob, &alice_id, 2)
    })
    .await;
    let file_msg = messages
        .iter()
        .find(|m| m.body.as_deref() == Some("the report"))
        .unwrap();
    let voice_msg = messages.iter().find(|m| m.body.is_none()).unwrap();
    let listed = bob.client.attachments(file_msg.id).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, AttachmentState::Pending);
    assert_eq!(listed[0].size, 9_900_000);
    assert_eq!(listed[0].file_name.as_deref(), Some("report.bin"));

    let out = dir.join("bob-downloads");
    let _ = server_requests(&bob);
    let started = std::time::Instant::now();
    let Downloaded::Saved(path) = bob
        .client
        .download_attachment(file_msg.id, 0, &out, &fast_policy(), &None)
        .await
        .unwrap()
    else {
        panic!("expired");
    };
    eprintln!("9.9 MB downloaded in {:?}", started.elapsed());
    assert_eq!(sha256(&std::fs::read(&path).unwrap()), sha256(&data));
    let traces = bob.onion().take_traces();
    let download = traces.iter().rev().find(|t| t.method == "server").unwrap();
    assert_eq!(download.path.len(), 3, "a 3-hop onion path");

    let Downloaded::Saved(voice_path) = bob
        .client
        .download_attachment(voice_msg.id, 0, &out, &fast_policy(), &None)
        .await
        .unwrap()
    else {
        panic!("expired");
    };
    assert_eq!(sha256(&std::fs::read(&voice_path).unwrap()), voice_sha);
    let got = &bob.client.attachments(voice_msg.id).unwrap()[0];
    assert!(got.voice);
    assert_eq!(got.state, AttachmentState::Downloaded);
    let got_ms = got.duration_ms.unwrap();
    assert!(got_ms.abs_diff(voice_ms) <= 60, "{got_ms} vs {voice_ms}");

    // Tampering: one flipped byte in the stored file is refused, and nothing is saved.
    let id = AttachmentUrl::parse(&listed[0].url)
        .unwrap()
        .file_id()
        .to_owned();
    let fs_dir = net.tn.file_server.as_ref().unwrap().data_dir.clone();
    let stored = fs_dir.join("files").join(&id[..2]).join(&id);
    let mut blob = std::fs::read(&stored).unwrap();
    let mid = blob.len() / 2;
    blob[mid] ^= 0x01;
    std::fs::write(&stored, &blob).unwrap();
    let files_before = std::fs::read_dir(&out).unwrap().count();
    let err = bob
        .client
        .download_attachment(file_msg.id, 0, &out, &fast_policy(), &None)
        .await
        .unwrap_err();
    assert!(matches!(err, TransferError::Refused(_)), "{err:?}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), files_before);
    assert_eq!(
        bob.client.attachments(file_msg.id).unwrap()[0].state,
        AttachmentState::Refused
    );

    // The file server is killed (-9) before an upload: every attempt fails clearly, nothing is
    // sent; the retry after a restart goes through. (Killed on the first `Uploading` event
    // instead, a small upload could finish first: the test would race.) Files on the restarted
    // server live 2 s (for the expiry below).
    let small = stage_bytes(b"retry me".repeat(1000), Some("retry.txt"), SendAs::File).unwrap();
    let policy = TransferPolicy {
        request_timeout: Duration::from_secs(8),
        attempts: 2,
        backoff: Duration::from_millis(200),
    };
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let progress = Some(tx);
    kill_file_server(&net);
    let upload = alice.client.send_attachments(
        &bob_id,
        vec![small.clone()],
        None,
        None,
        &server,
        &policy,
        &progress,
    );
    let err = upload.await.unwrap_err();
    eprintln!("upload with the file server down: {err}");
    assert!(
        matches!(
            err,
            TransferError::Network { .. } | TransferError::Server { .. }
        ),
        "{err:?}"
    );
    tokio::task::block_in_place(|| net.tn.start_file_server("default_ttl_s = 2").map(|_| ()))
        .unwrap();
    let sent = alice
        .client
        .send_attachments(
            &bob_id,
            vec![small],
            Some("after the restart"),
            None,
            &server,
            &fast_policy(),
            &None,
        )
        .await
        .unwrap();
    assert_eq!(
        alice.client.attachments(sent.message).unwrap()[0].state,
        AttachmentState::Uploaded
    );

    // That file expires on the server after 2 s: Bob's download reports it as expired.
    let msg = bob.wait_message(&alice_id, "after the restart").await;
    let expired = wait_for("the file to expire", Duration::from_secs(30), || async {
        match bob
            .client
            .download_attachment(msg.id, 0, &out, &fast_policy(), &None)
            .await
        {
            Ok(Downloaded::Expired) => Some(()),
            Ok(Downloaded::Saved(p)) => {
                std::fs::remove_file(p).unwrap();
                None
            }
            Err(e) => panic!("{e}"),
        }
    })
    .await;
    let () = expired;
    assert_eq!(
        bob.client.attachments(msg.id).unwrap()[0].state,
        AttachmentState::Expired
    );
    drop(net);
}
