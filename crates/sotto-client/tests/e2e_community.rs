//! Communities end to end on a real testnet (`sotto_testkit::net`, subnet 244: 5 nodes and a
//! community server with the room `lobby`): three accounts join by the link the testnet
//! prints; they post, reply, react, edit and delete; a moderator appointed with the
//! operator command deletes a post and bans a member, whose next post is refused; two members
//! exchange blinded DMs both ways. Every request goes through a three-hop onion path, and the
//! community server's log never holds a client's address.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use sotto_client::community::{Communities, CommunityError, JoinLink};
use sotto_client::{Account, NetworkFile, OnionConfig, OnionNetwork};
use sotto_crypto::OsRng;
use sotto_testkit::net::{Testnet, TestnetConfig};

const SUBNET: u8 = 244;

struct Net {
    tn: Testnet,
    _dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SOTTO_TEST_LOGS").is_some() {
            eprintln!("{}", self.tn.logs_tail(60));
        }
    }
}

#[test]
fn three_members_post_react_edit_delete_get_banned_and_dm() {
    let bin_dir = sotto_testkit::net::community_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestnetConfig::new(dir.path().join("net"), bin_dir);
    cfg.nodes = 5;
    cfg.subnet = SUBNET;
    cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
    cfg.proof_interval_s = 1;
    cfg.decommission_after_s = 60;
    // The community server logs every request (and its transport every connection).
    cfg.log_filter = "info,sotto_community=debug,sotto_transport=debug".into();
    let mut tn = Testnet::start(cfg).unwrap();
    tn.start_community_server("").unwrap();
    tn.wait_ready(Duration::from_secs(60)).unwrap();
    let file_path = dir.path().join("network.json");
    let network_file = tn.network_file();
    std::fs::write(&file_path, network_file.to_string()).unwrap();
    // The network file names the lobby's join link.
    let link_text = network_file["community"]["lobby"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(Some(&link_text), tn.community_link.as_ref());
    let link = JoinLink::parse(&link_text).unwrap();
    let log_path = tn.community.as_ref().unwrap().log_path();
    let accounts: Vec<Account> = (0..3).map(|_| Account::generate(&mut OsRng)).collect();
    // Alice moderates the lobby (the operator command takes her Session ID).
    tn.community_cli(&[
        "user",
        "moderator",
        "--room",
        "lobby",
        &accounts[0].session_id().to_string(),
    ])
    .unwrap();
    let net = Net { tn, _dir: dir };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let file = NetworkFile::load(&file_path).unwrap();
        let network = sotto_testkit::net::eventually(
            "an onion path to the community server",
            Duration::from_secs(60),
            || async {
                let network = OnionNetwork::connect(&file, OnionConfig::default())
                    .await
                    .ok()?;
                let probe = Communities::in_memory(Account::generate(&mut OsRng), &network)
                    .unwrap();
                probe.server_rooms(&link).await.ok()?;
                Some(network)
            },
        )
        .await
        .unwrap();
        let open = |i: usize| {
            Communities::open(
                &db_dir.path().join(format!("client{i}.db")),
                accounts[i].clone(),
                &network,
            )
            .unwrap()
        };
        let (alice, bob, carol) = (open(0), open(1), open(2));
        let (room, _) = alice.join(&link).await.unwrap();
        assert_eq!(room.name.as_deref(), Some("Lobby"));
        assert!(room.moderator, "the operator made alice a moderator");
        let (room_b, _) = bob.join(&link).await.unwrap();
        let (room_c, _) = carol.join(&link).await.unwrap();
        assert!(!room_b.moderator);
        assert_eq!(alice.joined().unwrap().len(), 1);

        // Posts, a reply with a quote, a reaction.
        let hello = alice.post(&room, "hello lobby", None, Some("alice")).await.unwrap();
        let got = bob.poll(&room_b).await.unwrap();
        assert_eq!(got.new.len(), 1);
        assert_eq!(got.new[0].text.as_deref(), Some("hello lobby"));
        assert_eq!(got.new[0].display_name.as_deref(), Some("alice"));
        assert_eq!(got.new[0].sender, alice.blinded_id(&room).to_string());
        let reply = bob
            .post(&room_b, "hi alice", Some(hello.id), None)
            .await
            .unwrap();
        carol.poll(&room_c).await.unwrap();
        carol.react(&room_c, hello.id, "👍", false).await.unwrap();
        let carol_post = carol.post(&room_c, "carol was here", None, None).await.unwrap();

        // Alice sees the reply (quoting her), the reaction and carol's post; then edits.
        let got = alice.poll(&room).await.unwrap();
        assert_eq!(got.new.len(), 2, "{got:?}");
        let quoted = alice.message(&room, reply.id).unwrap();
        assert_eq!(
            quoted.quote.as_ref().map(|(_, a)| a.clone()),
            Some(alice.blinded_id(&room).to_string())
        );
        let mine = alice.message(&room, hello.id).unwrap();
        assert_eq!(mine.reactions["👍"].count, 1);
        assert!(!mine.reactions["👍"].you);
        alice
            .edit(&room, hello.id, "hello lobby (edited)", None)
            .await
            .unwrap();

        // Bob unsends his reply; the moderator deletes carol's post and bans carol.
        bob.delete(&room_b, reply.id).await.unwrap();
        // Carol may not delete alice's post.
        let refused = carol.delete(&room_c, hello.id).await.unwrap_err();
        assert!(refused.is_status(403), "{refused}");
        alice.delete(&room, carol_post.id).await.unwrap();
        alice
            .ban(&room, &accounts[2].session_id().to_string(), false, None)
            .await
            .unwrap();
        let banned = carol
            .post(&room_c, "am I still here?", None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&banned, CommunityError::Refused { status: 403, message } if message.contains("Banned")),
            "{banned}"
        );
        assert!(banned.to_string().contains("403"), "{banned}");

        // Bob's next poll applies the edit and both deletions.
        let got = bob.poll(&room_b).await.unwrap();
        assert!(got.changed >= 3, "{got:?}");
        let list = bob.messages(&room_b, 10).unwrap();
        let by_id = |id| list.iter().find(|m| m.id == id).unwrap();
        assert_eq!(by_id(hello.id).text.as_deref(), Some("hello lobby (edited)"));
        assert!(by_id(hello.id).edited_ms.is_some());
        assert!(by_id(reply.id).deleted);
        assert!(by_id(carol_post.id).deleted);
        assert_eq!(by_id(hello.id).reactions["👍"].count, 1);

        // Blinded DMs, both ways: bob writes to alice's blinded id as the room shows it.
        let to_alice = by_id(hello.id).sender.clone();
        bob.send_dm(&room_b, &to_alice, "psst, alice", None)
            .await
            .unwrap();
        let got = alice.poll(&room).await.unwrap();
        assert_eq!(got.dms.len(), 1, "{got:?}");
        let dm = &got.dms[0];
        assert_eq!(dm.text.as_deref(), Some("psst, alice"));
        assert_eq!(dm.peer, bob.blinded_id(&room_b).to_string());
        assert_eq!(
            dm.peer_session_id.as_deref(),
            Some(accounts[1].session_id().to_string().as_str())
        );
        alice
            .send_dm(&room, &dm.peer, "hi bob, got it", None)
            .await
            .unwrap();
        let got = bob.poll(&room_b).await.unwrap();
        let incoming: Vec<_> = got.dms.iter().filter(|d| !d.outgoing).collect();
        assert_eq!(incoming.len(), 1, "{got:?}");
        assert_eq!(incoming[0].text.as_deref(), Some("hi bob, got it"));
        let both = bob.dms(&room_b, 10).unwrap();
        assert_eq!(both.len(), 2);
        assert!(both[0].outgoing && !both[1].outgoing);

        // Leaving forgets the room here.
        assert!(carol.leave(&link).unwrap());
        assert!(carol.joined().unwrap().is_empty());

        // Every request went over three hops.
        let traces = network.take_traces();
        assert!(traces.iter().filter(|t| t.method == "server").all(|t| t.path.len() == 3));
    });
    // The server saw only exit nodes: its log (at debug) names no client address, no text.
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("request"), "{log}");
    assert!(!log.contains("127.0.0.1"), "{log}");
    assert!(!log.contains("hello lobby"), "{log}");
    assert!(!log.contains("psst"), "{log}");
    drop(net);
}
