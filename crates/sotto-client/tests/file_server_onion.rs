//! A file upload and download through real onion paths (`sotto_testkit::net`, subnet 235, 5
//! nodes and a file server): client → guard → middle → exit → file server, with
//! `OnionNetwork::server_request`, the server found through the network file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use sotto_client::net::OnionServer;
use sotto_client::{NetworkFile, OnionConfig, OnionNetwork};
use sotto_onion::{V4Request, V4Response};
use sotto_testkit::net::{Testnet, TestnetConfig};

const SUBNET: u8 = 235;

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

fn json(resp: &V4Response) -> serde_json::Value {
    serde_json::from_slice(resp.body.as_deref().unwrap_or_default()).unwrap()
}

#[test]
fn upload_and_download_through_a_three_hop_onion_path() {
    let bin_dir = sotto_testkit::net::fileserver_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestnetConfig::new(dir.path().join("net"), bin_dir);
    cfg.nodes = 5;
    cfg.subnet = SUBNET;
    cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
    cfg.proof_interval_s = 1;
    cfg.decommission_after_s = 60;
    let mut tn = Testnet::start(cfg).unwrap();
    tn.start_file_server("").unwrap();
    tn.wait_ready(Duration::from_secs(60)).unwrap();
    let file_path = dir.path().join("network.json");
    std::fs::write(&file_path, tn.network_file().to_string()).unwrap();
    let fs_log = tn.file_server.as_ref().unwrap().log_path();
    let net = Net { tn, _dir: dir };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let id = rt.block_on(async {
        let file = NetworkFile::load(&file_path).unwrap();
        let server: OnionServer = file.file_server.as_ref().unwrap().onion_server().unwrap();
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        let upload = V4Request {
            method: "POST".into(),
            endpoint: "/file".into(),
            headers: vec![
                ("Content-Type".into(), "application/octet-stream".into()),
                ("X-FS-TTL".into(), "3600".into()),
            ],
            body: Some(data.clone()),
        };
        // Connect and upload until it goes through: the nodes may still be starting.
        let (network, id) = sotto_testkit::net::eventually(
            "an upload through an onion path",
            Duration::from_secs(60),
            || async {
                let network = OnionNetwork::connect(&file, OnionConfig::default())
                    .await
                    .ok()?;
                let resp = network
                    .server_request(&server, &upload, Duration::from_secs(30))
                    .await
                    .ok()?;
                assert_eq!(resp.code, 200, "{:?}", resp.body.map(String::from_utf8));
                let id = json(&resp)["id"].as_str()?.to_owned();
                Some((network, id))
            },
        )
        .await
        .unwrap();
        assert_eq!(id.len(), 44);
        let traces = network.take_traces();
        let last = traces.iter().rev().find(|t| t.method == "server").unwrap();
        assert_eq!(last.path.len(), 3);
        assert_eq!(last.status, Some(200));

        let download = V4Request {
            method: "GET".into(),
            endpoint: format!("/file/{id}"),
            headers: vec![],
            body: None,
        };
        let resp = network
            .server_request(&server, &download, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(resp.code, 200);
        assert_eq!(resp.body.as_deref(), Some(&data[..]));
        assert!(resp.headers.iter().any(|(n, _)| n == "expires"));

        let info = network
            .server_request(
                &server,
                &V4Request {
                    method: "GET".into(),
                    endpoint: format!("/file/{id}/info"),
                    headers: vec![],
                    body: None,
                },
                Duration::from_secs(30),
            )
            .await
            .unwrap();
        assert_eq!(json(&info)["size"].as_u64(), Some(2_000_000));

        // The server's own answers come back sealed, whatever their code.
        let missing = network
            .server_request(
                &server,
                &V4Request {
                    method: "GET".into(),
                    endpoint: format!("/file/{}", "Z".repeat(44)),
                    headers: vec![],
                    body: None,
                },
                Duration::from_secs(30),
            )
            .await
            .unwrap();
        assert_eq!(missing.code, 404);
        id
    });
    // The file server saw only exit nodes, and logged neither bodies nor whole ids.
    let log = std::fs::read_to_string(fs_log).unwrap();
    assert!(log.contains("file stored"), "{log}");
    assert!(!log.contains(&id), "{log}");
    drop(net);
}
