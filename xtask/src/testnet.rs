//! `cargo xtask testnet`: a local network of real processes, supervised in the foreground, with a
//! control socket so other terminals (and tests) can kill, stop, restart and add nodes.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sotto_testkit::net::{Testnet, TestnetConfig};

use crate::{root, run};

const USAGE: &str = "\
cargo xtask testnet [--nodes N] [--base-port P] [--dir DIR]
    Build sotto-node and sotto-directory, start a directory on 127.0.0.1:P and N nodes
    (default 14: two swarms of 7) on 127.0.0.11, 127.0.0.12, … port P+1, each with its own
    data directory under DIR (default target/testnet). Writes DIR/network.json for clients,
    prints what runs where, and stops everything on Ctrl-C.
cargo xtask testnet status|add|kill NODE|stop NODE|restart NODE [--dir DIR]
    Control a running testnet: NODE is a name such as node-03.";

struct Options {
    nodes: usize,
    port: u16,
    dir: PathBuf,
    command: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        nodes: 14,
        port: 22020,
        dir: root().join("target/testnet"),
        command: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{arg} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--nodes" => opts.nodes = value()?.parse().context("--nodes takes a number")?,
            "--base-port" => {
                opts.port = value()?
                    .parse()
                    .context("--base-port takes a port number")?
            }
            "--dir" => opts.dir = PathBuf::from(value()?),
            "-h" | "--help" => bail!("{USAGE}"),
            other => opts.command.push(other.to_owned()),
        }
    }
    if opts.nodes == 0 || opts.nodes > 200 {
        bail!("--nodes must be 1 to 200");
    }
    Ok(opts)
}

pub fn testnet(args: &[String]) -> Result<bool> {
    let opts = parse(args)?;
    if opts.command.is_empty() {
        supervise(&opts)
    } else {
        control(&opts)
    }
}

fn socket_path(dir: &Path) -> PathBuf {
    dir.join("control.sock")
}

fn control(opts: &Options) -> Result<bool> {
    let path = socket_path(&opts.dir);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "no testnet is running in {} (start one with `cargo xtask testnet`)",
            opts.dir.display()
        )
    })?;
    writeln!(stream, "{}", opts.command.join(" "))?;
    // The supervisor writes its whole reply (several lines for `status`), then closes.
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    print!("{reply}");
    Ok(reply.starts_with("ok"))
}

fn status(net: &mut Testnet) -> String {
    let listed = net.active_nodes().unwrap_or_default();
    let mut out = format!(
        "directory  {}  {}\n",
        net.directory.addr,
        hex(&net.directory.pubkey.0)
    );
    for node in &mut net.nodes {
        let key = hex(&node.pubkey.0);
        let swarm = listed
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("-".to_owned(), |(_, s)| format!("{s:016x}"));
        let state = if node.is_running() {
            "running"
        } else {
            "stopped"
        };
        out.push_str(&format!(
            "{}  {}  {}  swarm {swarm}  {state}  log {}\n",
            node.name,
            node.addr,
            &key[..16],
            node.log_path().display()
        ));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn node_index(net: &Testnet, name: Option<&str>) -> Result<usize, String> {
    let name = name.ok_or("which node? e.g. node-03")?;
    net.nodes
        .iter()
        .position(|n| n.name == name)
        .ok_or_else(|| format!("no node {name}"))
}

fn execute(net: &mut Testnet, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let result = match words.as_slice() {
        ["status"] => Ok(status(net)),
        ["add"] => net
            .add_node()
            .map(|i| {
                format!(
                    "added {}\n",
                    net.nodes.get(i).map_or("", |n| n.name.as_str())
                )
            })
            .map_err(|e| e.to_string()),
        [verb @ ("kill" | "stop" | "restart"), rest @ ..] => node_index(net, rest.first().copied())
            .and_then(|i| {
                let done = match *verb {
                    "kill" => net.kill(i),
                    "stop" => net.stop(i),
                    _ => net.restart(i),
                };
                done.map(|()| format!("{verb} {}\n", rest.first().unwrap_or(&"")))
                    .map_err(|e| e.to_string())
            }),
        _ => Err(format!(
            "unknown command {line:?}: status, add, kill NODE, stop NODE, restart NODE"
        )),
    };
    match result {
        Ok(text) => format!("ok {}", text.replace('\n', "\n   ").trim_end()) + "\n",
        Err(e) => format!("error {e}\n"),
    }
}

fn supervise(opts: &Options) -> Result<bool> {
    build(&["sotto-node", "sotto-directory"])?;
    let net = Supervisor::start(&opts.dir, opts.nodes, opts.port)?;
    println!(
        "control it from another terminal: cargo xtask testnet status|add|kill node-03|restart node-03"
    );
    println!("Ctrl-C stops everything.");
    net.wait_for_signal()?;
    net.stop();
    Ok(true)
}

/// Builds `packages` (debug, `--locked`) into the workspace's target directory.
pub(crate) fn build(packages: &[&str]) -> Result<()> {
    let mut args = vec!["build", "--locked"];
    for package in packages {
        args.extend(["-p", package]);
    }
    if !run("cargo", &args, &[])? {
        bail!("building {} failed", packages.join(", "));
    }
    Ok(())
}

/// The directory the debug binaries are built into: this xtask binary's own.
pub(crate) fn bin_dir() -> Result<PathBuf> {
    Ok(std::env::current_exe()?
        .parent()
        .map_or_else(|| root().join("target/debug"), Path::to_path_buf))
}

/// Whether a supervised testnet runs in `dir`: its control socket answers `status`.
pub(crate) fn is_running(dir: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket_path(dir)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reply = String::new();
    writeln!(stream, "status").is_ok()
        && BufReader::new(stream).read_line(&mut reply).is_ok()
        && reply.starts_with("ok")
}

/// A testnet this process started and supervises, with its control socket.
pub(crate) struct Supervisor {
    dir: PathBuf,
    /// `None` once stopped; the control thread answers from it meanwhile.
    net: Arc<Mutex<Option<Testnet>>>,
}

impl Supervisor {
    /// Clears `dir`, starts a directory and `nodes` nodes (built beforehand), waits until the
    /// directory lists them all, writes `dir/network.json`, prints what runs where and opens the
    /// control socket.
    pub(crate) fn start(dir: &Path, nodes: usize, port: u16) -> Result<Self> {
        if is_running(dir) {
            bail!(
                "a testnet is already running in {}; stop it with Ctrl-C in its terminal",
                dir.display()
            );
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir)?;
        let mut cfg = TestnetConfig::new(dir.to_owned(), bin_dir()?);
        cfg.nodes = nodes;
        cfg.port = port;
        println!(
            "starting a directory and {} nodes in {} …",
            cfg.nodes,
            dir.display()
        );
        let mut net = Testnet::start(cfg)?;
        if let Err(e) = net.wait_ready(Duration::from_secs(90)) {
            eprintln!("{}", net.logs_tail(15));
            bail!("the testnet did not come up: {e}");
        }
        let network_file = dir.join("network.json");
        std::fs::write(
            &network_file,
            serde_json::to_string_pretty(&net.network_file())? + "\n",
        )?;
        print!("{}", status(&mut net));
        println!("\nnetwork file: {}", network_file.display());

        let net = Arc::new(Mutex::new(Some(net)));
        let listener = UnixListener::bind(socket_path(dir))?;
        let shared = Arc::clone(&net);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_err() {
                    continue;
                }
                let reply = match shared.lock().as_deref_mut() {
                    Ok(Some(net)) => execute(net, line.trim()),
                    _ => "error the supervisor is shutting down\n".to_owned(),
                };
                let _ = (&stream).write_all(reply.as_bytes());
            }
        });
        Ok(Self {
            dir: dir.to_owned(),
            net,
        })
    }

    /// Blocks until Ctrl-C (or SIGTERM from a script).
    pub(crate) fn wait_for_signal(&self) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        })?;
        Ok(())
    }

    /// Stops every node gracefully, then the directory, and removes the control socket.
    pub(crate) fn stop(self) {
        println!("\nstopping …");
        let _ = std::fs::remove_file(socket_path(&self.dir));
        let taken = self.net.lock().ok().and_then(|mut net| net.take());
        if let Some(mut net) = taken {
            for i in 0..net.nodes.len() {
                let _ = net.stop(i);
            }
            // Dropping the network kills what is left: the directory.
            drop(net);
        }
    }
}
