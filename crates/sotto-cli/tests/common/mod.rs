//! A real testnet and the `sotto` binary run against it, shared by the CLI's network tests.
//! Each test file passes its own loopback subnet so that test files never collide.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use sotto_testkit::net::{Testnet, TestnetConfig, wait_until};

/// A running network, its network file and the profiles' root; the logs are printed if the
/// test fails (or with `SOTTO_TEST_LOGS` set).
pub struct Net {
    pub tn: Testnet,
    pub dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SOTTO_TEST_LOGS").is_some() {
            eprintln!("{}", self.tn.logs_tail(80));
        }
    }
}

impl Net {
    /// `nodes` nodes on `subnet`, plus a community server with the room `lobby` when
    /// `community` is set.
    pub fn start(subnet: u8, nodes: usize, community: bool) -> Self {
        let bin_dir = if community {
            sotto_testkit::net::community_binary().unwrap()
        } else {
            sotto_testkit::net::node_binaries().unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = TestnetConfig::new(dir.path().join("net"), bin_dir);
        cfg.nodes = nodes;
        cfg.subnet = subnet;
        cfg.port = 20_000 + u16::try_from(std::process::id() % 20_000).unwrap();
        cfg.proof_interval_s = 1;
        cfg.decommission_after_s = 60;
        let mut tn = Testnet::start(cfg).unwrap();
        if community {
            tn.start_community_server("").unwrap();
        }
        tn.wait_ready(Duration::from_secs(60)).unwrap();
        std::fs::write(
            dir.path().join("network.json"),
            tn.network_file().to_string(),
        )
        .unwrap();
        Self { tn, dir }
    }

    /// Where the profiles live (`--root`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, profile: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sotto"));
        for var in [
            "SOTTO_PASSPHRASE",
            "SOTTO_PROFILE",
            "SOTTO_DATA_DIR",
            "SOTTO_ROOT",
            "SOTTO_NETWORK",
        ] {
            cmd.env_remove(var);
        }
        cmd.arg("--root")
            .arg(self.root())
            .arg("--network")
            .arg(self.root().join("network.json"))
            .args(["--profile", profile])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// `sotto --root … --network … --profile PROFILE ARGS`.
    pub fn sotto(&self, profile: &str, args: &[&str]) -> Output {
        self.command(profile, args).output().expect("start sotto")
    }

    /// Starts `sotto --profile PROFILE ARGS` with its standard output piped.
    pub fn spawn(&self, profile: &str, args: &[&str]) -> Child {
        self.command(profile, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sotto")
    }

    /// What the command printed; it must succeed.
    pub fn ok(&self, profile: &str, args: &[&str]) -> String {
        let out = self.sotto(profile, args);
        assert!(
            out.status.success(),
            "`sotto --profile {profile} {}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The command's `--json` output; it must succeed.
    pub fn json(&self, profile: &str, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(profile, &args)).unwrap()
    }

    /// Runs `before` (when given), then `args` with `--json`, until `cond` holds for its
    /// output; returns that output.
    pub fn json_until(
        &self,
        profile: &str,
        before: Option<&[&str]>,
        args: &[&str],
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        let what = format!("`sotto --profile {profile} {}` to show it", args.join(" "));
        let done = wait_until(&what, Duration::from_secs(20), || {
            if let Some(before) = before {
                self.ok(profile, before);
            }
            last = self.json(profile, args);
            cond(&last)
        });
        assert!(done.is_ok(), "{what}: last output {last:#}");
        last
    }
}
