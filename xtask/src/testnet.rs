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

/// `cargo xtask testnet`: its flags and control verbs, as typed.
#[derive(clap::Args, Debug, Clone)]
pub struct TestnetArgs {
    /// Nodes to start (1 to 200; default 14: two swarms of 7).
    #[arg(long, value_name = "N", default_value_t = 14,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=200))]
    pub nodes: usize,
    /// The directory's port; node i listens on 127.0.0.(10+i), port P+1.
    #[arg(long = "base-port", value_name = "P", default_value_t = 22020)]
    pub base_port: u16,
    /// The testnet's directory: data, logs, network.json and the control socket (default
    /// target/testnet).
    #[arg(long, value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// Control a running testnet instead of starting one.
    #[command(subcommand)]
    pub control: Option<Control>,
}

/// The verbs that control a running testnet from another terminal.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Control {
    /// Print every process: address, key, swarm, state and log file.
    Status,
    /// Start one more node.
    Add,
    /// Kill a node (SIGKILL), e.g. node-03.
    Kill {
        /// The node's name, such as node-03.
        node: String,
    },
    /// Stop a node gracefully.
    Stop {
        /// The node's name, such as node-03.
        node: String,
    },
    /// Restart a stopped or killed node with its data.
    Restart {
        /// The node's name, such as node-03.
        node: String,
    },
}

impl Control {
    /// The line the supervisor's control socket reads.
    pub(crate) fn line(&self) -> String {
        match self {
            Self::Status => "status".to_owned(),
            Self::Add => "add".to_owned(),
            Self::Kill { node } => format!("kill {node}"),
            Self::Stop { node } => format!("stop {node}"),
            Self::Restart { node } => format!("restart {node}"),
        }
    }
}

struct Options {
    nodes: usize,
    port: u16,
    dir: PathBuf,
}

/// Runs `cargo xtask testnet`: supervises a new network, or sends a control verb to a running one.
pub fn testnet(args: &TestnetArgs) -> Result<bool> {
    let opts = Options {
        nodes: args.nodes,
        port: args.base_port,
        dir: args
            .dir
            .clone()
            .unwrap_or_else(|| root().join("target/testnet")),
    };
    match &args.control {
        None => supervise(&opts),
        Some(verb) => control(&opts, verb),
    }
}

fn socket_path(dir: &Path) -> PathBuf {
    dir.join("control.sock")
}

fn control(opts: &Options, verb: &Control) -> Result<bool> {
    let path = socket_path(&opts.dir);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "no testnet is running in {} (start one with `cargo xtask testnet`)",
            opts.dir.display()
        )
    })?;
    writeln!(stream, "{}", verb.line())?;
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
    if let Some(fs) = &net.file_server {
        out.push_str(&format!(
            "fileserver  http://{}  {}  log {}\n",
            fs.addr,
            hex(&fs.pubkey.0),
            fs.log_path().display()
        ));
    }
    if let (Some(c), Some(link)) = (&net.community, &net.community_link) {
        out.push_str(&format!(
            "community  http://{}  log {}\n  join the room lobby: sotto community join '{link}'\n",
            c.addr,
            c.log_path().display()
        ));
    }
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
    build(&[
        "sotto-node",
        "sotto-directory",
        "sotto-fileserver",
        "sotto-community",
    ])?;
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
    /// directory lists them all, starts a file server, writes `dir/network.json` (naming the
    /// file server's URL and key), prints what runs where and opens the
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
        if let Err(e) = net.start_file_server("") {
            eprintln!("{}", net.logs_tail(15));
            bail!("the file server did not start: {e}");
        }
        if let Err(e) = net.start_community_server("") {
            eprintln!("{}", net.logs_tail(15));
            bail!("the community server did not start: {e}");
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
