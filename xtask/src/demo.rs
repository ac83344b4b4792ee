//! `cargo xtask demo`: two people chat privately through a live local network, driven by the
//! real `sotto` binary, command by command, with each command's output.
//!
//! It starts the local testnet (or reuses the one `cargo xtask testnet` runs in `--dir`), creates
//! two fresh accounts, Alice and Bob, under `--root`, and plays the script: Alice writes to Bob
//! while he is offline, Bob finds her message request, accepts it and replies, they exchange a
//! reaction and a read receipt. Then it prints how to go on chatting and keeps the network up
//! until Ctrl-C (`--no-wait`: stops it and exits, for scripts and CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::root;
use crate::testnet::{Supervisor, bin_dir, build, is_running};

/// `cargo xtask demo`: its flags, as typed.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DemoArgs {
    /// The testnet's directory (default target/testnet); a testnet already running there
    /// (`cargo xtask testnet`) is reused.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Nodes to start when no testnet runs in DIR (1 to 200).
    #[arg(long, value_name = "N", default_value_t = 14,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=200))]
    pub nodes: usize,
    /// The directory's port; node i listens on 127.0.0.(10+i), port P+1.
    #[arg(long = "base-port", value_name = "P", default_value_t = 22020)]
    pub base_port: u16,
    /// Where the accounts alice and bob are made (default target/demo; both are replaced each
    /// run).
    #[arg(long, value_name = "ROOT")]
    pub root: Option<PathBuf>,
    /// Stop the network and exit after the chat (for scripts and CI).
    #[arg(long = "no-wait")]
    pub no_wait: bool,
}

struct Options {
    dir: PathBuf,
    nodes: usize,
    port: u16,
    root: PathBuf,
    wait: bool,
}

impl From<&DemoArgs> for Options {
    /// Relative paths are taken from the workspace root, like the defaults, so the commands the
    /// demo prints work from there.
    fn from(args: &DemoArgs) -> Self {
        let dir = args
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("target/testnet"));
        let accounts = args
            .root
            .clone()
            .unwrap_or_else(|| PathBuf::from("target/demo"));
        Self {
            dir: root().join(dir),
            nodes: args.nodes,
            port: args.base_port,
            root: root().join(accounts),
            wait: !args.no_wait,
        }
    }
}

/// Runs the demo.
pub fn demo(args: &DemoArgs) -> Result<bool> {
    let opts = Options::from(args);
    build(&[
        "sotto-cli",
        "sotto-node",
        "sotto-directory",
        "sotto-fileserver",
        "sotto-community",
    ])?;
    let started = if is_running(&opts.dir) {
        println!(
            "reusing the testnet running in {} (`cargo xtask testnet status{}` shows it)",
            opts.dir.display(),
            dir_option(&opts)
        );
        None
    } else {
        Some(Supervisor::start(&opts.dir, opts.nodes, opts.port)?)
    };
    let sotto = Sotto::new(&opts)?;
    let played = script(&sotto);
    if let Err(e) = &played {
        eprintln!("\ndemo stopped: {e:#}");
    }
    if played.is_ok() {
        print!("{}", next_steps(&opts, &sotto, started.is_some()));
    }
    if let Some(net) = started {
        if played.is_ok() && opts.wait {
            net.wait_for_signal()?;
        } else if played.is_err() {
            eprintln!("the logs stay in {}", opts.dir.display());
        }
        net.stop();
    }
    Ok(played.is_ok())
}

/// Runs the `sotto` binary for the demo's profiles.
struct Sotto {
    bin: PathBuf,
    root: PathBuf,
    network: PathBuf,
}

impl Sotto {
    /// Wipes the demo profiles (only those, only inside `--root`).
    fn new(opts: &Options) -> Result<Self> {
        for profile in ["alice", "bob"] {
            let dir = opts.root.join(profile);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing the old demo account {}", dir.display()))?;
            }
        }
        std::fs::create_dir_all(&opts.root)
            .with_context(|| format!("creating {}", opts.root.display()))?;
        Ok(Self {
            bin: bin_dir()?.join("sotto"),
            root: opts.root.clone(),
            network: opts.dir.join("network.json"),
        })
    }

    /// Runs `sotto --profile PROFILE ARGS…`, printing the command line and its output; fails
    /// with its error output when it fails. Returns what it printed.
    fn run(&self, profile: &str, args: &[&str]) -> Result<String> {
        let mut line = format!("$ sotto --profile {profile}");
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        println!("{line}");
        let output = Command::new(&self.bin)
            .arg("--profile")
            .arg(profile)
            .args(args)
            .env("SOTTO_ROOT", &self.root)
            .env("SOTTO_NETWORK", &self.network)
            .env_remove("SOTTO_DATA_DIR")
            .env_remove("SOTTO_PROFILE")
            .env_remove("SOTTO_PASSPHRASE")
            .stdin(Stdio::null())
            .current_dir(root())
            .output()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        print!("{stdout}");
        if !output.status.success() {
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            bail!(
                "`{}` failed ({}); its error is above",
                line.trim_start_matches("$ "),
                output.status
            );
        }
        println!();
        Ok(stdout)
    }
}

/// `arg` as a shell word.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=#@%+,".contains(c));
    if plain {
        arg.to_owned()
    } else if arg.contains(['"', '\\', '$', '`']) {
        format!("'{}'", arg.replace('\'', r"'\''"))
    } else {
        format!("\"{arg}\"")
    }
}

/// A comment line of the transcript.
fn say(text: &str) {
    println!("# {text}");
}

/// The chat. Every step is a real `sotto` command against the live network.
fn script(sotto: &Sotto) -> Result<()> {
    say("Two new accounts: a Session ID is a key pair, no phone number or email.");
    sotto.run("alice", &["account", "new", "--no-qr"])?;
    sotto.run("bob", &["account", "new", "--no-qr"])?;
    sotto.run("alice", &["profile", "set-name", "Alice"])?;
    sotto.run("bob", &["profile", "set-name", "Bob"])?;
    say("Read receipts are off by default; Alice turns hers on.");
    sotto.run("alice", &["settings", "read-receipts", "on"])?;

    say("Bob gives Alice his Session ID; she adds him as a contact.");
    let bob_id = sotto.run("bob", &["id"])?.trim().to_owned();
    if bob_id.len() != 66 || !bob_id.starts_with("05") {
        bail!("`sotto id` printed {bob_id:?}, not a Session ID");
    }
    sotto.run(
        "alice",
        &["contacts", "add", bob_id.as_str(), "--name", "bob"],
    )?;

    say("Bob is offline (no sotto process of his runs). Alice writes to him anyway:");
    say("each message goes through three onion hops into Bob's swarm, which keeps it.");
    sotto.run("alice", &["send", "bob", "Hi Bob!"])?;
    sotto.run(
        "alice",
        &[
            "send",
            "bob",
            "Are you around? This went through three hops; no node saw both of us.",
        ],
    )?;

    say("Bob comes online. Alice is not his contact yet, so her messages wait as a request.");
    sotto.run("bob", &["settings", "read-receipts", "on"])?;
    sotto.run("bob", &["requests"])?;
    sotto.run("bob", &["requests", "accept", "alice"])?;
    sotto.run(
        "bob",
        &["send", "alice", "Hi Alice! Got both, I was offline."],
    )?;

    say("Alice reads Bob's reply and reacts to it.");
    sotto.run("alice", &["read", "bob"])?;
    sotto.run("alice", &["react", "bob", "last", "👍"])?;

    say("Bob reads the conversation: he sees the reaction, and Alice gets a read receipt.");
    sotto.run("bob", &["read", "alice"])?;
    say("Alice's messages now show as read.");
    sotto.run("alice", &["read", "bob"])?;

    say("Alice sends a picture and a voice message: each file is encrypted on her machine and");
    say("uploaded to the file server through an onion path; the message carries its key.");
    let (picture, voice) = media_files(&sotto.root)?;
    let (picture, voice) = (picture.to_string_lossy(), voice.to_string_lossy());
    sotto.run(
        "alice",
        &[
            "send",
            "bob",
            "--image",
            &picture,
            "--caption",
            "the view from here",
        ],
    )?;
    sotto.run("alice", &["send", "bob", "--voice", &voice])?;
    say("Bob sees both, downloads them through onion paths, and checks them on his side.");
    sotto.run("bob", &["read", "alice"])?;
    let saved = sotto.root.join("bob-downloads");
    sotto.run(
        "bob",
        &["save", "alice", "last", "--out", &saved.to_string_lossy()],
    )?;
    Ok(())
}

/// A small picture (a PNG gradient) and a two-second voice message (a 440 Hz WAV, which
/// `sotto send --voice` turns into MP3) in `root`.
fn media_files(root: &Path) -> Result<(PathBuf, PathBuf)> {
    let picture = root.join("demo-picture.png");
    let image = image::RgbImage::from_fn(320, 200, |x, y| {
        image::Rgb([(x * 255 / 320) as u8, (y * 255 / 200) as u8, 160])
    });
    image
        .save(&picture)
        .with_context(|| format!("writing {}", picture.display()))?;
    let voice = root.join("demo-voice.wav");
    std::fs::write(&voice, sotto_testkit::media::sine_wav(440.0, 2.0, 16_000))
        .with_context(|| format!("writing {}", voice.display()))?;
    Ok((picture, voice))
}

/// The `--dir` option that names the demo's testnet, when it is not the default.
fn dir_option(opts: &Options) -> String {
    if opts.dir == root().join("target/testnet") {
        String::new()
    } else {
        format!(" --dir {}", quote(&opts.dir.display().to_string()))
    }
}

/// How to go on from here.
fn next_steps(opts: &Options, sotto: &Sotto, started: bool) -> String {
    let shown = |p: &Path| quote(&p.display().to_string());
    let default_dir = opts.dir == root().join("target/testnet");
    let mut text = format!(
        "\nDone: Alice and Bob chatted through the local network. Go on as either of them, in two \
         terminals:\n\n  export SOTTO_ROOT={}\n",
        shown(&opts.root)
    );
    if !default_dir {
        text.push_str(&format!(
            "  export SOTTO_NETWORK={}\n",
            shown(&opts.dir.join("network.json"))
        ));
    }
    let dir = dir_option(opts);
    text.push_str(&format!(
        "  alias sotto={}\n\n  \
         sotto --profile alice chat bob\n  \
         sotto --profile bob chat alice\n  \
         sotto --profile bob inbox        # also send, read, react, requests …: sotto --help\n\n\
         and disturb the network meanwhile (from {}):\n\n  \
         cargo xtask testnet status{dir}\n  \
         cargo xtask testnet kill node-03{dir}\n\n",
        shown(&sotto.bin),
        root().display(),
    ));
    text.push_str(if !started {
        "The network keeps running under the `cargo xtask testnet` that started it.\n"
    } else if opts.wait {
        "Ctrl-C here stops the network.\n"
    } else {
        "(--no-wait: the network stops now.)\n"
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(quote("bob"), "bob");
        assert_eq!(quote("Hi Bob!"), "\"Hi Bob!\"");
        assert_eq!(quote("it's $5"), r"'it'\''s $5'");
        assert_eq!(quote(""), "\"\"");
    }

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Demo {
            #[command(flatten)]
            args: DemoArgs,
        }
        let demo = Demo::try_parse_from(std::iter::once("demo").chain(args.iter().copied()))?;
        Ok(Options::from(&demo.args))
    }

    #[test]
    fn unknown_arguments_are_refused() {
        assert!(parse(&["--nodes", "0"]).is_err());
        assert!(parse(&["--nodes", "201"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        let opts = parse(&["--no-wait", "--root", "x"]).expect("valid");
        assert!(!opts.wait);
        assert_eq!(opts.root, root().join("x"));
        let defaults = parse(&[]).expect("valid");
        assert!(defaults.wait);
        assert_eq!(
            (defaults.nodes, defaults.port, defaults.dir, defaults.root),
            (
                14,
                22020,
                root().join("target/testnet"),
                root().join("target/demo")
            )
        );
    }
}
